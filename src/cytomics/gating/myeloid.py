"""Myeloid blast clusters that cross the normal CD45/SSC regions.

An expert reads a myeloid (CD34-negative or monocytic) blast population as *one discrete
cloud* on CD45 vs SSC that displaces the normal maturation pattern, wherever its edges fall
relative to the textbook lymphocyte / monocyte / granulocyte regions. The ALOT strategy
names every CD45/SSC bin by its position relative to internal-control anchors (T cells,
neutrophils); a blast cloud straddling those boundaries is then cut in pieces. The helper
here extrapolates the cloud from its uncut flanks, so the parts lying in the monocyte or
granulocyte regions can be gated as blasts too (where the cloud, not the normal monocytes
or neutrophils, makes up most of the events).
"""

from __future__ import annotations

import numpy as np

from cytomics.gating import density as dens

__all__ = ["dim_granular_cluster", "extrapolated_cluster", "residual_cd34_group"]


def _flank_sd(v: np.ndarray, centre: float) -> tuple[float, bool]:
    """Robust SD from the uncut flank of ``v`` around ``centre`` (half-normal: median
    distance = 0.6745 SD) and whether that flank is the lower one. A flank cut by a region
    line is truncated: the uncut one is the flank reaching further (90th percentile)."""
    lo, hi = centre - v[v < centre], v[v > centre] - centre
    sides = [(d, low) for d, low in ((lo, True), (hi, False)) if d.size >= 10]
    if not sides:
        return float("nan"), True
    d, low = max(sides, key=lambda t: float(np.quantile(t[0], 0.9)))
    return float(np.median(d)) / 0.6745, low


def extrapolated_cluster(
    x45: np.ndarray,
    ssc: np.ndarray,
    member: np.ndarray,
    peak: tuple[float, float],
    all_x45: np.ndarray,
    all_ssc: np.ndarray,
    *,
    bins: int,
    sigma_bins: float,
    share_min: float,
    sd_k: float,
    max_vertices: int,
    peaks: list[tuple[float, float]] = (),
    peak_sd_k: float = 1.5,
) -> tuple[np.ndarray | None, float]:
    """Where a blast cloud cut by region lines continues, on CD45 / log SSC.

    The cluster (``member`` events of the blast region) is one homogeneous cloud, but the
    anchor-based region lines (monocyte CD45, granulocyte SSC) can cut off part of it. Its
    uncut flanks still show its shape: a 2-D normal on (CD45, log SSC) centred on its
    density ``peak`` with, per axis, the robust SD of the better-populated flank; its size
    is four times the events in the quadrant of those two flanks. The polygon is where the
    extrapolated cloud accounts for at least ``share_min`` of all events (``all_*``) and
    lies within ``sd_k`` SDs of the peak: normal monocytes or neutrophils piled on the
    cloud's tail keep their bins.

    Parameters
    ----------
    x45, ssc
        CD45 and linear SSC of the blast-region events.
    member
        bool mask over them: the cluster's events.
    peak
        (CD45, linear SSC) of the cluster's density peak.
    all_x45, all_ssc
        CD45 and linear SSC of every (sampled) nucleated event.
    bins, sigma_bins
        Grid and smoothing of the observed CD45 / log-SSC density.
    share_min, sd_k
        Blast share and ellipse radius (SDs) defining the polygon.
    max_vertices
        Vertex budget of the polygon.
    peaks
        (CD45, linear SSC) density peaks of all events (e.g. the CD45/SSC basins): the
        cluster's own peak, read off its clipped part, is biased away from the cut; the
        CD45 of the nearest of these within ``peak_sd_k`` SDs of it is the cloud's centre
        (its SSC, the mode of a linear-SSC density, lies below the log-SSC centre).

    Returns
    -------
    polygon, n_model
        Polygon (CD45, linear SSC) or ``None``, and the modelled size of the cloud (events).
    """
    idx = np.flatnonzero(member)
    step = max(1, idx.size // 20_000)  # shape statistics need no more events
    idx = idx[::step]
    xm = x45[idx].astype(np.float64)
    lm = np.log(np.maximum(ssc[idx].astype(np.float64), 1e-4))
    if xm.size < 50 or not np.all(np.isfinite(peak)) or peak[1] <= 0:
        return None, 0.0
    x0, l0 = float(peak[0]), float(np.log(peak[1]))
    sx, low_x = _flank_sd(xm, x0)
    sl, low_l = _flank_sd(lm, l0)
    if not (np.isfinite(sx) and np.isfinite(sl)) or sx <= 0 or sl <= 0:
        return None, 0.0
    best = peak_sd_k
    for px, py in peaks:
        if py <= 0:
            continue
        dist = float(np.hypot((px - x0) / sx, (np.log(py) - l0) / sl))
        if dist <= best:
            best, x1 = dist, float(px)
    if best < peak_sd_k:
        x0 = x1  # CD45 only: a linear-SSC density peak lies below the log-SSC centre
        sx, low_x = _flank_sd(xm, x0)
        if not np.isfinite(sx) or sx <= 0:
            return None, 0.0
    qx = (xm < x0) if low_x else (xm > x0)
    ql = (lm < l0) if low_l else (lm > l0)
    n_model = 4.0 * float((qx & ql).sum()) * step
    xr = (x0 - (sd_k + 1.0) * sx, x0 + (sd_k + 1.0) * sx)
    yr = (l0 - (sd_k + 1.0) * sl, l0 + (sd_k + 1.0) * sl)
    # only the events of the window (in linear SSC: no logarithm of every event)
    win = ((all_x45 >= xr[0]) & (all_x45 <= xr[1])
           & (all_ssc >= np.exp(yr[0])) & (all_ssc <= np.exp(yr[1])))
    ax = all_x45[win].astype(np.float64)
    al = np.log(all_ssc[win].astype(np.float64))
    d = dens.density_2d(ax, al, xrange=xr, yrange=yr, bins=(bins, bins), sigma_bins=sigma_bins)
    obs = d.density  # smoothed counts per bin (the Gaussian filter keeps the total)
    zx = (d.x_centers[:, None] - x0) / sx
    zl = (d.y_centers[None, :] - l0) / sl
    area = (d.x_edges[1] - d.x_edges[0]) * (d.y_edges[1] - d.y_edges[0])
    model = n_model * area / (2.0 * np.pi * sx * sl) * np.exp(-0.5 * (zx**2 + zl**2))
    region = (model >= share_min * obs) & (zx**2 + zl**2 <= sd_k**2) & (obs > 0)
    if not region.any():
        return None, n_model
    poly = dens.region_to_polygon(region, d.x_edges, d.y_edges, max_vertices=max_vertices)
    if len(poly) < 3:
        return None, n_model
    return np.column_stack([poly[:, 0], np.exp(poly[:, 1])]), n_model


def dim_granular_cluster(
    x45: np.ndarray, nucleated: int, *, min_fraction: float, min_peak_mass: float,
    min_prominence: float,
) -> tuple[float, float] | None:
    """CD45 edge of a discrete CD45-dim cluster among the granulocyte-gate events.

    Maturing neutrophils are a continuum: CD45 rises from the promyelocytes to the
    segmented neutrophils, so the CD45 density of the granulocyte gate has one main peak
    (the mature cells) with a dim tail. Hypergranular CD34- blasts (promyelocytic-like)
    share the neutrophils' SSC and MPO but form their own *peak* at dimmer CD45. The events
    below the valley between the dimmest and the next CD45 peak are that cluster when it
    holds at least ``min_fraction`` of the nucleated events.

    Parameters
    ----------
    x45
        CD45 of the granulocyte-gate events (not already called blasts).
    nucleated
        Nucleated events (denominator of the fraction).
    min_fraction
        Smallest cluster (fraction of nucleated events).
    min_peak_mass, min_prominence
        A CD45 peak must hold this share of the events and stand out by this fraction of
        the highest peak.

    Returns
    -------
    (cut, fraction) or None
        CD45 valley below which the cluster lies and its size (fraction of nucleated), or
        ``None`` without a second, dimmer peak of that size.
    """
    if x45.size < 100:
        return None
    d = dens.density_1d(x45, lo=float(x45.min()) - 0.05, hi=float(x45.max()) + 0.05,
                        bins=128, sigma_bins=2.0)
    pk = sorted((p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=min_prominence)
                 if p.mass >= min_peak_mass), key=lambda p: p.position)
    if len(pk) < 2:
        return None
    cut = dens.valley_between(d, pk[0].position, pk[1].position)
    frac = float((x45 < cut).sum()) / max(nucleated, 1)
    if frac < min_fraction:
        return None
    return float(cut), frac


def residual_cd34_group(
    cd34: np.ndarray, threshold: float, nucleated: int, *, max_fraction: float,
    min_share: float, min_events: int, min_height: float, valley_ratio: float,
) -> tuple[float, float] | None:
    """CD34 cut below a small CD34+ group beside a CD34-negative myeloid blast cluster.

    On CD34, a CD34-negative blast population with a separate small CD34+ group at the
    normal myeloblast level is leukemic CD34- blasts plus residual normal CD34+ myeloid
    precursors; a blast population partly CD34+ as one smeared cloud (no valley) is not
    split. The CD34 density of the blast call must have its largest peak (by mass) below
    the CD34 ``threshold`` and a peak above it, standing at least ``min_height`` of the
    highest, separated by a valley no higher than ``valley_ratio`` times that minor
    peak's height; the events above the valley must be at least ``min_events``, fewer
    than the events below it, and at most ``max_fraction`` of the normal nucleated events
    (``nucleated`` minus the CD34- blasts below the valley): the normal CD34+ myeloid
    precursor compartment of the marrow left beside the blasts, diluted as the blasts
    grow (a larger CD34+ group beside many blasts is CD34+ blasts). The group must also
    make up at least ``min_share`` of the blast call: beside a large CD34- blast
    population a CD34+ group of a few percent of it is as likely a CD34+ blast subclone
    (and the normal myeloblasts, diluted, barely change the count).

    Parameters
    ----------
    cd34
        CD34 of the myeloid blast call's events.
    threshold
        CD34 positivity threshold of the tube.
    nucleated
        Nucleated events (denominator of the fraction).
    max_fraction, min_share, min_events, min_height, valley_ratio
        See above.

    Returns
    -------
    (cut, fraction) or None
        CD34 valley above which the residual group lies and its size (fraction of the
        normal nucleated events), or ``None`` when CD34 is not bimodal that way.
    """
    cd34 = cd34[np.isfinite(cd34)]
    if cd34.size < 2 * min_events or not np.isfinite(threshold):
        return None
    d = dens.density_1d(cd34, lo=float(cd34.min()) - 0.05, hi=float(cd34.max()) + 0.05,
                        bins=128, sigma_bins=2.0)
    pk = dens.find_peaks_1d(d, min_height=min_height, min_prominence=min_height)
    if len(pk) < 2:
        return None
    major = max(pk, key=lambda p: p.mass)
    minor = [p for p in pk if p.position >= threshold]
    if major.position >= threshold or not minor:
        return None
    top = max(minor, key=lambda p: p.mass)
    cut = dens.valley_between(d, major.position, top.position)
    if float(d.density[d.index(cut)]) > valley_ratio * top.height:
        return None  # one smeared population: no clear valley
    n_pos = int((cd34 >= cut).sum())
    frac = n_pos / max(nucleated - (cd34.size - n_pos), 1)
    if (n_pos < min_events or 2 * n_pos >= cd34.size or frac > max_fraction
            or n_pos < min_share * cd34.size):
        return None
    return float(cut), frac
