"""Marker positivity thresholds of the ALOT gating.

Each lineage marker's threshold is read off its own 1-D density (the valley above the
negative peak, flowDensity ``deGate`` style), refined on an internal control where a
dominant population's spread would pull it into itself.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING, Any

import numpy as np

from cytomics.gating import density as dens
from cytomics.order_stats import quantiles, robust_sd

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings
    from cytomics.preprocess.model import Events

__all__ = ["control_refined_threshold", "display_zero", "marker_thresholds",
           "population_flank_threshold", "positivity_threshold"]


def _marker_density(v: np.ndarray, settings: AlotGatingSettings) -> dens.Density1D:
    """1-D density of a marker's finite values over their 0.1-99.9 % range padded by 5 %,
    at the marker resolution (``marker_bins``, ``marker_sigma_bins``)."""
    lo, hi = quantiles(v, [0.001, 0.999])
    pad = 0.05 * max(hi - lo, 1e-3)
    return dens.density_1d(v, lo=float(lo - pad), hi=float(hi + pad), bins=settings.marker_bins,
                           sigma_bins=settings.marker_sigma_bins)


def positivity_threshold(
    values: np.ndarray,
    settings: AlotGatingSettings,
    *,
    zero: float | None = None,
    unstained: float | None = None,
) -> tuple[float, float]:
    """Threshold between the negative population of a marker and its positive cells.

    The negative population is the lowest density peak holding a real share of events;
    the threshold is the valley between it and the next peak above, or, with one peak,
    where that peak's upper flank falls to ``marker_tail_fraction`` of its height.

    Parameters
    ----------
    values
        Display-scale values of the marker.
    settings
        Gating settings.
    zero
        Display value of a raw 0 (compensation spreads negative events below it; a peak
        clearly below it is spread, never a population).
    unstained
        Shared unstained level (display scale) of the tube. When the lowest peak lies
        well above it (the blasts are positive and outnumber every negative cell), the
        threshold is the valley between that level and the positive peak.

    Returns
    -------
    threshold, negative_peak
        Positivity threshold and the position of the lowest (negative) peak.
    """
    v = values[np.isfinite(values)]
    if v.size < 10:
        return float("nan"), float("nan")
    d = _marker_density(v, settings)
    peaks = dens.find_peaks_1d(
        d, min_height=settings.marker_min_height,
        min_prominence=settings.marker_min_prominence,
    )
    peaks = [p for p in peaks if p.mass >= 0.03] or peaks
    if zero is not None:
        peaks = [p for p in peaks if p.position >= zero - settings.marker_zero_margin] or peaks
    if not peaks:
        return float(np.quantile(v, 0.5)), float("nan")
    peaks.sort(key=lambda p: p.position)
    neg = peaks[0]
    if unstained is not None and neg.position > unstained + settings.marker_positive_offset:
        # every visible peak is positive: the negative cells are the few near unstained
        return dens.valley_between(d, unstained, neg.position), float(unstained)
    if len(peaks) >= 2:
        return dens.valley_between(d, neg.position, peaks[1].position), neg.position
    # a lower positive bump above the one peak (a few percent of positive cells beside a
    # wide negative peak) is still a population when a real dip lies below it (not a
    # shoulder of the negative cells): the threshold is the valley below the brightest
    low = [p for p in dens.find_peaks_1d(d, min_height=settings.marker_min_height,
                                         min_prominence=settings.marker_positive_min_prominence)
           if p.position > neg.position and p.mass >= 0.03
           and p.prominence >= settings.marker_positive_separation * p.height]
    if low:
        top = max(low, key=lambda p: p.position)
        return dens.valley_between(d, neg.position, top.position), neg.position
    level = settings.marker_tail_fraction * neg.height
    above = np.flatnonzero(d.density[neg.index :] < level)
    i = neg.index + int(above[0]) if above.size else len(d.density) - 1
    return float(d.centers[i]), neg.position


def control_refined_threshold(
    values: np.ndarray, threshold: float, settings: AlotGatingSettings,
    *, x45: np.ndarray | None = None,
) -> float:
    """Threshold moved up to the valley below the brightest well-separated population.

    The internal control (e.g. mature T cells for smCD3) is the brightest population of a
    marker. A dominant population whose spread (compensation spreading error) reaches far
    above its peak can pull the 1-D threshold (its tail) into itself; the expert then sets
    the gate on the control. The brightest density peak standing out by at least
    ``control_peak_separation`` of its own height and holding ``min_control_events`` is the
    control; when the valley below it lies more than ``marker_positive_offset`` above
    ``threshold`` and (given ``x45``, CD45 of the same events) the events between the two
    have a median CD45 at least ``control_cd45_sd_k`` robust SDs (of the control's CD45)
    below the control's (blasts, not a dimmer subset of the control cells), that valley is
    the threshold.
    """
    from cytomics.peaks import find_peaks, prominence_and_bases

    v = values[np.isfinite(values)]
    if v.size < 2 * settings.min_control_events or not np.isfinite(threshold):
        return threshold
    d = _marker_density(v, settings)
    y = np.concatenate([[0.0], d.density, [0.0]])
    idx, prominences = find_peaks(y, prominence=0.0)
    if idx.size < 2:
        return threshold
    sep = prominences >= settings.control_peak_separation * y[idx]
    n_per = v.size / max(float(d.density.sum()), 1e-12)
    for k in range(idx.size - 1, 0, -1):  # brightest first
        if not sep[k]:
            continue
        i = idx[k]
        _, lb, rb = prominence_and_bases(y, int(i))
        mass = float(y[lb : rb + 1].sum()) * n_per
        if mass < settings.min_control_events:
            continue
        j = idx[int(np.argmax(y[idx[:k]]))]  # main population below the control
        new = dens.valley_between(d, float(d.centers[j - 1]), float(d.centers[i - 1]))
        if new <= threshold + settings.marker_positive_offset:
            return threshold
        if x45 is not None:
            # the events moved out of the positive gate are CD45-dimmer than the control
            # (blasts), not a dimmer subset of the same cells
            w = x45[np.isfinite(values)]
            ctrl, moved = w[v >= new], w[(v >= threshold) & (v < new)]
            if ctrl.size < settings.min_control_events or moved.size == 0:
                return threshold
            med = float(np.median(ctrl))
            sd = max(robust_sd(ctrl, med), 1e-3)
            if float(np.median(moved)) > med - settings.control_cd45_sd_k * sd:
                return threshold
        return new
    return threshold


def population_flank_threshold(
    values: np.ndarray, threshold: float, negative_peak: float, settings: AlotGatingSettings,
) -> float:
    """Threshold lowered to the lower flank of the positive population itself.

    ``values`` are the marker's values on the events of a co-expressed marker's positive
    gate (cyCD79a on the CD19+ events): nearly all positive cells. Where the negative
    cells' spread pushed the 1-D valley (``threshold``) into that population, its dim
    part was cut off. The population's mode and the half width at half maximum of its
    lower flank give its spread; the threshold becomes ``flank_sd_k`` SDs below the
    mode, but never above ``threshold`` nor below the midpoint between
    ``negative_peak`` and ``threshold``.
    """
    v = values[np.isfinite(values)]
    if (v.size < settings.min_control_events or not np.isfinite(threshold)
            or not np.isfinite(negative_peak)):
        return threshold
    d = _marker_density(v, settings)
    i = int(np.argmax(d.density))
    mode = float(d.centers[i])
    if mode <= threshold:  # the co-expressing events are mostly negative: nothing to do
        return threshold
    below = np.flatnonzero(d.density[: i + 1] < 0.5 * d.density[i])
    if below.size == 0:
        return threshold
    sd = (mode - float(d.centers[int(below[-1])])) / 1.1774  # HWHM of a normal flank
    floor = negative_peak + 0.5 * (threshold - negative_peak)
    return float(min(threshold, max(mode - settings.flank_sd_k * sd, floor)))


def display_zero(events: Events, column: int) -> float | None:
    """Display value of a raw 0 on ``column`` (``None`` when the transform is unknown or
    the value not finite): compensation spreads negative events below it."""
    ct = events.transforms[column]
    if getattr(ct, "kind", None) == "logicle":
        # the logicle of 0 is x1 = x2 + w exactly (the table's first cell starts there):
        # computed as in ``kernels.logicle_params``, without loading the array kernels
        try:
            from cytomics.preprocess.transforms import validate_transform

            validate_transform(ct)
            m_a = float(ct.M) + float(ct.A)
            z = float(ct.A) / m_a + float(ct.W) / m_a
        except (ValueError, TypeError, KeyError, ZeroDivisionError):
            z = float("nan")
        return z if np.isfinite(z) else None
    try:
        from cytomics.preprocess.transforms import apply_transform

        z = float(np.asarray(apply_transform(np.zeros(1), events.transforms[column]))[0])
    except (ValueError, TypeError, KeyError):  # unknown transform: no zero cut
        return None
    return z if np.isfinite(z) else None


def marker_thresholds(
    events: Events, mk: Mapping[str, np.ndarray], settings: AlotGatingSettings
) -> tuple[dict[str, float], dict[str, float], float | None]:
    """Positivity threshold and negative peak of every lineage marker, and the tube's
    unstained level.

    The unstained level is the median of the markers' negative peaks (autofluorescence is
    similar across the channels of a logicle-scaled tube); a marker whose lowest peak lies
    far above it is re-thresholded against it (see :func:`positivity_threshold`).

    Returns
    -------
    thresholds, negative_peaks, unstained
        Per marker; ``unstained`` is ``None`` with fewer than 3 negative peaks.
    """
    cache: dict[Any, float | None] = {}
    zeros = {}
    for m in mk:
        t = events.transforms[events.markers[m]]
        if t not in cache:
            cache[t] = display_zero(events, events.markers[m])
        zeros[m] = cache[t]
    first = {m: positivity_threshold(mk[m], settings, zero=zeros[m]) for m in mk}
    peaks = {m: p for m, (_, p) in first.items()}
    negs = [p for p in peaks.values() if np.isfinite(p)]
    if len(negs) < 3:
        return {m: t for m, (t, _) in first.items()}, peaks, None
    unstained = float(np.median(negs))
    out = {}
    for m, (t, p) in first.items():
        if np.isfinite(p) and p > unstained + settings.marker_positive_offset:
            t = positivity_threshold(mk[m], settings, zero=zeros[m], unstained=unstained)[0]
        out[m] = t
    return out, peaks, unstained
