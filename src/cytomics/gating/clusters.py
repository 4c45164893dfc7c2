"""Cluster geometry of the ALOT gating on CD45 / log SSC and CD45 / marker planes.

The dominant density cluster of a set of events, its robust core ellipse, point-in-region
tests, and the regions where blasts outnumber a reference population.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

import numpy as np

from cytomics.gating import density as dens
from cytomics.order_stats import robust_sd

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings

__all__ = ["blast_share_polygon", "closer_to_blasts", "cluster_basins", "core_ellipse",
           "ellipse_polygon", "in_ellipse", "in_polygon", "main_cluster", "robust_tail_above"]


def cluster_basins(
    x: np.ndarray, y: np.ndarray, s: AlotGatingSettings, *,
    xrange: tuple[float, float], yrange: tuple[float, float], min_mass: float,
) -> tuple[dens.Density2D, np.ndarray, list[dict]]:
    """Density basins of a set of events on one plane, at the cluster resolution
    (``cluster_bins``, ``cluster_sigma_bins``, ``cluster_floor_fraction``,
    ``cluster_rel_persistence``): the density, each bin's basin (-1: none), the basins."""
    d2 = dens.density_2d(x, y, xrange=xrange, yrange=yrange,
                         bins=(s.cluster_bins, s.cluster_bins), sigma_bins=s.cluster_sigma_bins)
    blab, info = dens.basins_2d(d2, floor_fraction=s.cluster_floor_fraction,
                                rel_persistence=s.cluster_rel_persistence, min_mass=min_mass)
    return d2, blab, info


def main_cluster(
    x45: np.ndarray, ssc: np.ndarray, s: AlotGatingSettings
) -> tuple[np.ndarray, tuple[float, float]]:
    """The dominant compact cluster of the blast-region events on CD45 / log SSC.

    A leukemic population is one dense cloud; normal CD45-dim cells (CD34+ myeloid
    precursors, basophils, plasma cells, monocyte tails) are small separate clouds. The
    events are split into density basins and the basin holding the most events is the
    cluster.

    Returns
    -------
    member, peak
        Bool mask over the given events (members of the main basin) and the (CD45, SSC)
        position of its density peak. Empty mask with fewer than ``min_population_events``.
    """
    member = np.zeros(x45.size, dtype=bool)
    if x45.size < max(s.min_population_events, 10):
        return member, (float("nan"), float("nan"))
    ly = np.log(np.maximum(ssc, 1e-4))
    xr = (float(x45.min()) - 0.03, float(x45.max()) + 0.03)
    yr = (float(ly.min()) - 0.1, float(ly.max()) + 0.1)
    d2, blab, info = cluster_basins(x45, ly, s, xrange=xr, yrange=yr, min_mass=0.02)
    if not info:
        return member, (float("nan"), float("nan"))
    bx, by = d2.bin_of(x45, ly)
    ev = blab[bx, by]
    counts = np.bincount(ev[ev >= 0], minlength=len(info))
    k = int(np.argmax(counts))
    member = ev == k
    return member, (float(info[k]["x"]), float(np.exp(info[k]["y"])))


def core_ellipse(
    x45: np.ndarray, ssc: np.ndarray, s: AlotGatingSettings
) -> tuple[float, float, float, float] | None:
    """Core of a cluster on CD45 / log SSC: (CD45 centre, log-SSC centre, CD45 radius,
    log-SSC radius) of the axis-aligned ellipse of ``cluster_core_sd_k`` robust SDs around
    the median; ``None`` with too few events."""
    if x45.size < s.min_population_events:
        return None
    ly = np.log(np.maximum(ssc.astype(np.float64), 1e-4))
    x45 = x45.astype(np.float64)
    k = s.cluster_core_sd_k
    return (float(np.median(x45)), float(np.median(ly)), k * max(robust_sd(x45), 1e-3),
            k * max(robust_sd(ly), 1e-3))


def in_ellipse(x45: np.ndarray, ssc: np.ndarray, e: tuple[float, float, float, float]) -> np.ndarray:
    """Whether each event (CD45, linear SSC) lies inside ellipse ``e`` of
    :func:`core_ellipse` (drawn on CD45 / log SSC)."""
    ly = np.log(np.maximum(ssc.astype(np.float64), 1e-4))
    return ((x45 - e[0]) / e[2]) ** 2 + ((ly - e[1]) / e[3]) ** 2 <= 1.0


def ellipse_polygon(e: tuple[float, float, float, float], n_vertices: int) -> np.ndarray:
    """Vertices (CD45, linear SSC) of the ellipse (curved in linear SSC, as drawn)."""
    t = np.linspace(0.0, 2.0 * np.pi, max(n_vertices, 8), endpoint=False)
    return np.column_stack([e[0] + e[2] * np.cos(t), np.exp(e[1] + e[3] * np.sin(t))])


def robust_tail_above(v: np.ndarray, cut: float) -> float:
    """Share of a normal with the median and MAD-based SD of ``v`` lying above ``cut``."""
    med = float(np.median(v))
    sd = max(robust_sd(v, med), 1e-3)
    return 0.5 * math.erfc((cut - med) / (sd * math.sqrt(2.0)))  # normal CDF, no scipy.special


def closer_to_blasts(
    blast_xy: tuple[np.ndarray, np.ndarray],
    ref_xy: tuple[np.ndarray, np.ndarray],
    s: AlotGatingSettings,
    *,
    prior: float = 1.0,
) -> np.ndarray | None:
    """Polygon of the plane where ``prior`` times the blasts' (normalised, smoothed)
    density exceeds that of a reference population, e.g. blasts vs neutrophils on CD45 /
    MPO (``prior``: expected blasts per reference event there); ``None`` when either has
    too few events or the region is empty."""
    bx, by = blast_xy
    rx, ry = ref_xy
    if bx.size < s.min_control_events * 2 or rx.size < s.min_control_events * 2:
        return None
    allx, ally = np.concatenate([bx, rx]), np.concatenate([by, ry])
    xr = (float(np.quantile(allx, 0.001)) - 0.05, float(np.quantile(allx, 0.999)) + 0.05)
    yr = (float(np.quantile(ally, 0.001)) - 0.05, float(np.quantile(ally, 0.999)) + 0.05)
    kw = dict(xrange=xr, yrange=yr, bins=(s.cluster_bins, s.cluster_bins),
              sigma_bins=s.cluster_sigma_bins)
    db = dens.density_2d(bx.astype(np.float64), by.astype(np.float64), **kw)
    dr = dens.density_2d(rx.astype(np.float64), ry.astype(np.float64), **kw)
    fb = db.density / max(float(db.density.sum()), 1e-12)
    fr = dr.density / max(float(dr.density.sum()), 1e-12)
    region = (prior * fb > fr) & (fb >= s.cluster_floor_fraction * float(fb.max()))
    if not region.any():
        return None
    poly = dens.region_to_polygon(region, db.x_edges, db.y_edges, max_vertices=s.max_vertices)
    return poly if len(poly) >= 3 else None


def blast_share_polygon(
    ref_x: np.ndarray, ref_y: np.ndarray, mix_x: np.ndarray, mix_y: np.ndarray,
    s: AlotGatingSettings,
) -> tuple[np.ndarray | None, float]:
    """Where, on CD45 / log SSC, most events of a mixed population are blasts.

    ``ref`` are blasts of the cluster's defining phenotype (e.g. its MPO+ events); ``mix``
    the other events of the blast region (blasts lacking that marker, normal CD34+
    myeloid precursors, basophils, plasma cells, debris). Blasts without the marker share
    the blasts' CD45/SSC shape, so ``mix`` is read as ``a * f_ref + others``: ``a`` is the
    largest multiple of the reference density that fits under the mixture over the core
    of the blasts (a low quantile of the density ratio there, robust to other cells
    piled on top). The polygon is where this blast share reaches ``blast_share_min`` of
    the mixture (and the reference density ``cluster_floor_fraction`` of its peak).

    Returns
    -------
    polygon, a
        Polygon (CD45, linear SSC) or ``None`` (too few events / empty region), and the
        estimated number of blasts among ``mix``.
    """
    if ref_x.size < s.min_control_events * 2 or mix_x.size < s.min_control_events:
        return None, 0.0
    lr = np.log(np.maximum(ref_y.astype(np.float64), 1e-4))
    lm = np.log(np.maximum(mix_y.astype(np.float64), 1e-4))
    ax, ay = np.concatenate([ref_x, mix_x]).astype(np.float64), np.concatenate([lr, lm])
    xr = (float(np.quantile(ax, 0.001)) - 0.05, float(np.quantile(ax, 0.999)) + 0.05)
    yr = (float(np.quantile(ay, 0.001)) - 0.2, float(np.quantile(ay, 0.999)) + 0.2)
    kw = dict(xrange=xr, yrange=yr, bins=(s.cluster_bins, s.cluster_bins),
              sigma_bins=s.cluster_sigma_bins)
    db = dens.density_2d(ref_x.astype(np.float64), lr, **kw)
    dm = dens.density_2d(mix_x.astype(np.float64), lm, **kw)
    fb = db.density / max(float(db.density.sum()), 1e-12)
    core = fb >= s.blast_share_core * float(fb.max())
    ratio = dm.density[core] / np.maximum(fb[core], 1e-12)
    a = float(min(np.quantile(ratio, s.blast_share_quantile), mix_x.size)) if ratio.size else 0.0
    region = ((a * fb >= s.blast_share_min * dm.density)
              & (fb >= s.cluster_floor_fraction * float(fb.max())))
    if a < s.min_population_events or not region.any():
        return None, a
    poly = dens.region_to_polygon(region, db.x_edges, db.y_edges, max_vertices=s.max_vertices)
    if len(poly) < 3:
        return None, a
    return np.column_stack([poly[:, 0], np.exp(poly[:, 1])]), a


def in_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    """Whether each point (``x``, ``y``) lies inside polygon ``poly`` (vertices [k, 2]),
    by the same rule as a gating polygon gate."""
    from cytomics.gating.strategy import _polygon

    return _polygon(np.column_stack([x, y]).astype(np.float64), 0, 1, poly)

