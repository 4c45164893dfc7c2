"""Per-population 2-D histograms of one plot in a single pass (numba).

A plot overlays several populations on the grey density of all its events. Rather than one
masked pass over millions of events per population, :func:`layer_histograms` bins every
event once: layer 0 counts all events of the plot, layer ``g + 1`` the events of group
``g``.
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: group code of events that belong to no overlaid population.
NO_GROUP = 255


@nb.njit(cache=True, nogil=True)
def _layers(x, y, base, group, n_groups, xlo, xhi, ylo, yhi, nbins):  # pragma: no cover - numba
    out = np.zeros((n_groups + 1, nbins, nbins), dtype=np.int64)
    sx = nbins / (xhi - xlo)
    sy = nbins / (yhi - ylo)
    for i in range(x.shape[0]):
        if not base[i]:
            continue
        vx = x[i]
        vy = y[i]
        if not (np.isfinite(vx) and np.isfinite(vy)):
            continue
        bx = int(np.floor((vx - xlo) * sx))
        by = int(np.floor((vy - ylo) * sy))
        bx = min(max(bx, 0), nbins - 1)
        by = min(max(by, 0), nbins - 1)
        out[0, bx, by] += 1
        g = group[i]
        if g < n_groups:
            out[g + 1, bx, by] += 1
    return out


def layer_histograms(
    x: np.ndarray,
    y: np.ndarray,
    *,
    base: np.ndarray,
    group: np.ndarray,
    n_groups: int,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    bins: int,
) -> np.ndarray:
    """Counts of all events and of each group on one ``bins`` x ``bins`` grid.

    Parameters
    ----------
    x, y
        float32 display values (views of the event matrix are read in place).
    base
        bool ``[n]``: events shown in the plot at all.
    group
        uint8 ``[n]``: group index of each event (``< n_groups``), or :data:`NO_GROUP`.
    n_groups
        Number of overlaid groups (at most 255).
    xrange, yrange
        Plot limits; events outside are clipped into the edge bins, non-finite ones dropped.
    bins
        Bins per axis.

    Returns
    -------
    numpy.ndarray
        int64 ``[n_groups + 1, bins, bins]`` indexed ``[layer, x bin, y bin]``; layer 0 is
        every event of ``base``, layer ``g + 1`` the events of group ``g`` within ``base``.
    """
    (xlo, xhi), (ylo, yhi) = xrange, yrange
    if not (xhi > xlo and yhi > ylo) or bins < 2 or not 0 <= n_groups < NO_GROUP:
        raise ValueError(f"bad plot grid: {xrange} {yrange} bins={bins} groups={n_groups}")
    if not (x.shape == y.shape == base.shape == group.shape):
        raise ValueError("x, y, base and group must have the same length")
    return _layers(
        x, y, base, group.astype(np.uint8, copy=False), int(n_groups),
        float(xlo), float(xhi), float(ylo), float(yhi), int(bins),
    )
