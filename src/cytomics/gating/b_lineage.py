"""B-lineage blast clusters of the ALOT gating.

Leukemic B blasts (CD19+ cyCD79a+) against the normal B precursors (hematogones): a compact
CD45-dim cluster versus a maturation continuum, on CD45, CD45 / log SSC and CD45 / CD34.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np

from cytomics.gating import density as dens
from cytomics.gating.clusters import cluster_basins, in_polygon
from cytomics.order_stats import robust_sd

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings

__all__ = ["b_blast_cluster", "b_blast_cluster_2d", "b_cluster_cd34_split", "b_cluster_cd45_cd34",
           "maturation_continuum"]


def b_blast_cluster(
    x45: np.ndarray, neutro45: float, span45: float, nucleated: int, s: AlotGatingSettings,
    *, ref_sd: float = float("nan"),
) -> tuple[float, bool]:
    """CD45 upper limit of a leukemic B cluster among B-like (CD19+ cyCD79a+) events of the
    blast region, and whether the cluster is abnormal.

    The cluster is the lowest CD45 density peak of these events; it ends at the valley to
    the next peak (the hematogone continuum) or ``b_cluster_sd_k`` robust SDs above its
    peak. It is abnormal when it holds ``b_abnormal_min_fraction`` of the nucleated
    events, or ``b_cluster_min_fraction`` with a peak clearly dimmer than the earliest
    hematogones (``hematogone_cd45_floor``, in units of the neutrophil-to-lymphocyte CD45
    distance below the neutrophils), or ``b_compact_min_fraction`` with a CD45 spread
    (robust SD of the peak's lower flank) no wider than ``b_compact_sd_ratio`` times
    ``ref_sd`` (the neutrophils' CD45 robust SD): a compact cluster, not a continuum.
    """
    if x45.size < s.min_population_events:
        return float("inf"), False
    d = dens.density_1d(x45, lo=float(x45.min()) - 0.05, hi=float(x45.max()) + 0.05,
                        bins=128, sigma_bins=2.0)
    peaks = sorted((p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=0.1)
                    if p.mass >= 0.1), key=lambda p: p.position)
    if not peaks:
        return float("inf"), False
    low = peaks[0]
    below = low.position - x45[x45 < low.position]
    sd = float(np.median(below) / 0.6745) if below.size >= 10 else 0.05
    cut = low.position + s.b_cluster_sd_k * sd
    if len(peaks) >= 2:
        cut = min(cut, dens.valley_between(d, low.position, peaks[1].position))
    frac = float((x45 < cut).sum()) / max(nucleated, 1)
    dim = low.position <= neutro45 - s.hematogone_cd45_floor * span45
    compact = bool(np.isfinite(ref_sd)) and sd <= s.b_compact_sd_ratio * ref_sd
    abnormal = (frac >= s.b_abnormal_min_fraction
                or (frac >= s.b_cluster_min_fraction and dim)
                or (frac >= s.b_compact_min_fraction and compact))
    return float(cut), bool(abnormal)


def maturation_continuum(x45: np.ndarray, cd34: np.ndarray, s: AlotGatingSettings) -> bool:
    """Whether B-like events form a hematogone maturation continuum: CD34 falls as CD45
    rises (Spearman correlation at most ``b_continuum_rho_max``)."""
    if x45.size < s.b_continuum_min_events:
        return False
    rho = _rank_correlation(x45, cd34)
    return bool(np.isfinite(rho) and rho <= s.b_continuum_rho_max)


def _rank_correlation(x: np.ndarray, y: np.ndarray) -> float:
    """Spearman correlation of ``x`` and ``y`` on at most ~5,000 strided events (NaN when
    either is constant)."""
    step = max(1, x.size // 5000)  # a rank correlation needs no more events
    rx = np.argsort(np.argsort(x[::step])).astype(np.float64)
    ry = np.argsort(np.argsort(y[::step])).astype(np.float64)
    if rx.std() == 0 or ry.std() == 0:
        return float("nan")
    return float(np.corrcoef(rx, ry)[0, 1])


def b_blast_cluster_2d(
    x45: np.ndarray, ssc: np.ndarray, neutro45: float, span45: float, nucleated: int,
    s: AlotGatingSettings, *, ref_sd: float = float("nan"),
) -> tuple[np.ndarray | None, np.ndarray, bool]:
    """Leukemic B cluster among B-like events of the blast region on CD45 / log SSC.

    Hematogones are a low-SSC stripe running along CD45 towards the lymphocytes; leukemic
    B blasts a separate, compact cloud with dimmer CD45 and usually higher SSC. When the
    events split into two or more density basins, the basin with the dimmest CD45 peak
    is the candidate cluster; it is abnormal by the same size / dimness rules as
    :func:`b_blast_cluster`.

    Returns
    -------
    polygon, member, abnormal
        Polygon (CD45, linear SSC) of the cluster's basin (``None`` without a split),
        members among the given events, and whether the cluster is abnormal.
    """
    member = np.zeros(x45.size, dtype=bool)
    if x45.size < max(s.min_population_events, 50):
        return None, member, False
    ly = np.log(np.maximum(ssc.astype(np.float64), 1e-4))
    x45 = x45.astype(np.float64)
    xr = (float(x45.min()) - 0.05, float(x45.max()) + 0.05)
    yr = (float(ly.min()) - 0.2, float(ly.max()) + 0.2)
    d2, blab, info = cluster_basins(x45, ly, s, xrange=xr, yrange=yr, min_mass=0.1)
    if len(info) < 2:
        return None, member, False
    k = int(np.argmin([b["x"] for b in info]))
    bx, by = d2.bin_of(x45, ly)
    member = blab[bx, by] == k
    region = blab == k
    poly = dens.region_to_polygon(region, d2.x_edges, d2.y_edges, max_vertices=s.max_vertices)
    if len(poly) < 3:
        return None, np.zeros(x45.size, dtype=bool), False
    poly = np.column_stack([poly[:, 0], np.exp(poly[:, 1])])
    frac = float(member.sum()) / max(nucleated, 1)
    dim = info[k]["x"] <= neutro45 - s.hematogone_cd45_floor * span45
    xm = x45[member]
    sd = robust_sd(xm) if xm.size else float("inf")
    compact = bool(np.isfinite(ref_sd)) and sd <= s.b_compact_sd_ratio * ref_sd
    abnormal = (frac >= s.b_abnormal_min_fraction
                or (frac >= s.b_cluster_min_fraction and dim)
                or (frac >= s.b_compact_min_fraction and compact))
    return poly, member, bool(abnormal)


def b_cluster_cd45_cd34(
    x45: np.ndarray, cd34: np.ndarray, cut45: float, s: AlotGatingSettings,
    *, edge45: float | None = None,
) -> tuple[np.ndarray | None, np.ndarray]:
    """Edge of a leukemic B cluster against the hematogones on CD45 vs CD34.

    Hematogones run as a stripe from CD34+ CD45-dim to CD34- CD45-brighter; B blasts are
    one compact cloud at the dim CD45 end (CD34 homogeneous, or CD34+ and CD34- subsets at
    the same CD45). The B-like events are split into density basins; the cluster's main
    basin is the one holding most events below ``cut45`` (the 1-D CD45 edge of the cluster
    already called abnormal), and the cluster is the basins whose CD45 peaks lie no more
    than ``b_cd34_merge_sd_k`` robust CD45 SDs (of the main basin) above the main one,
    except basins along the hematogone maturation direction (CD45 brighter and CD34
    dimmer than the main basin, each by ``b_cd34_hematogone_sd_k`` robust SDs of the
    main basin) and CD34+ stage I hematogones beside a CD34- cluster (a basin brighter on
    CD34 by ``b_cd34_hematogone_sd_k`` robust CD34 SDs whose CD45 peak lies at least
    ``b_cd34_stage1_cd45_sd_k`` robust CD45 SDs above the main one: a CD34+ blast subset
    sits at the blasts' own CD45), with the sparse bins (outside every basin) dimmer than
    ``cut45``. With stage I hematogones beside it the cluster also ends at ``cut45``:
    their CD34- stage II then runs on from a CD34- cluster within one basin. Used only
    for the boundary of a cluster already called abnormal.

    Parameters
    ----------
    edge45
        CD45 limit of the cluster beside stage I hematogones, when not ``cut45``: pass
        ``inf`` when ``cut45`` bounds only the cluster's dim core (the small-cluster
        screen), so the basins alone draw its bright edge.

    Returns
    -------
    polygon, member
        Polygon (CD45, CD34) of the cluster's basins, ``None`` without a split, and the
        members among the given events.
    """
    member = np.zeros(x45.size, dtype=bool)
    if x45.size < max(s.min_population_events, 50):
        return None, member
    x45, y, d2, blab, info = _cd45_cd34_basins(x45, cd34, s)
    if len(info) < 2:
        return None, member
    bx, by = d2.bin_of(x45, y)
    ev = blab[bx, by]
    inside = (ev >= 0) & (x45 < cut45)
    if not inside.any():
        return None, member
    k0 = int(np.argmax(np.bincount(ev[inside], minlength=len(info))))
    xm = x45[ev == k0]
    if xm.size < s.min_population_events:
        return None, member
    sd = max(robust_sd(xm), 1e-3)
    # robust CD34 SD of the main basin: a basin brighter on CD45 and dimmer on CD34 than
    # the main one (the hematogones' maturation direction) is never merged into it
    ym = y[ev == k0]
    sd34 = max(robust_sd(ym), 1e-3)
    hk, ik = s.b_cd34_hematogone_sd_k, s.b_cd34_stage1_cd45_sd_k
    x0, y0 = info[k0]["x"], info[k0]["y"]

    def maturing(b: dict) -> bool:  # along the hematogone direction from the main basin
        return b["x"] >= x0 + hk * sd and b["y"] <= y0 - hk * sd34

    def stage1(b: dict) -> bool:  # CD34+ stage I hematogones beside a CD34- cluster
        return b["y"] >= y0 + hk * sd34 and b["x"] >= x0 + ik * sd

    ks = [k for k, b in enumerate(info)
          if b["x"] <= x0 + s.b_cd34_merge_sd_k * sd and not maturing(b) and not stage1(b)]
    if len(ks) == len(info):
        return None, member
    # the cluster's sparse flanks (bins outside every basin) on the dim side of cut45, and
    # a CD34 subset of the blasts at their CD45 (as dim as the main basin's core)
    core45 = float(np.median(xm)) + s.b_cd34_core_sd_k * sd
    # (never bins of a hematogone basin at or above the main peak's CD45: the dimmer bins
    # of one along the maturation direction hold a CD34- blast subset at the blasts' CD45)
    hgone = [k for k, b in enumerate(info) if k not in ks and (maturing(b) or stage1(b))]
    xc = d2.x_centers[:, None]
    tail = (((blab < 0) & (xc < cut45))
            | ((xc < core45) & ~(np.isin(blab, hgone) & (xc >= x0))))
    region = np.isin(blab, ks) | tail
    if any(stage1(info[k]) for k in hgone):
        # stage I hematogones beside the cluster: their CD34- stage II runs on from a CD34-
        # cluster in the same basin, so the cluster ends at its 1-D CD45 edge
        region &= xc < (cut45 if edge45 is None else edge45)
    poly = dens.region_to_polygon(region, d2.x_edges, d2.y_edges, max_vertices=s.max_vertices)
    if len(poly) < 3:
        return None, member
    return poly, in_polygon(x45, y, poly)



def b_cluster_cd34_split(
    x45: np.ndarray, cd34: np.ndarray, nucleated: int,
    s: AlotGatingSettings, *, ref_sd: float = float("nan"),
) -> tuple[np.ndarray | None, np.ndarray, dict[str, float]]:
    """A compact CD34+ B cluster apart from the hematogones on CD45 vs CD34.

    A small B-ALL whose CD45 overlaps the hematogones forms no CD45 (or CD45 / SSC) peak
    of its own, but an expert still sees it on CD45 vs CD34: one compact, homogeneous
    CD34+ cloud separated by a density gap from the hematogones, which run as a stripe
    (CD34 lost as CD45 rises). The B-like events are split into density basins; the
    candidate is the basin with the brightest CD34 peak. It is a leukemic cluster when its
    CD34 peak lies at least ``b_split_cd34_sd_k`` of its own robust CD34 SDs above the
    median CD34 of the other B-like events (in basins) and its CD45 peak is no brighter
    than their median CD45, it holds at least ``b_split_review_fraction`` of the nucleated
    events (the caller calls it blasts from ``b_split_min_fraction``, below that it only
    goes to review), its CD45 spread (robust SD) is at most ``b_compact_sd_ratio`` times ``ref_sd``
    (the neutrophils' CD45 robust SD), and CD34 does not fall with CD45 inside it (Spearman
    correlation above ``b_split_rho_min``: a slice of a maturation stripe is not one
    cloud).

    Returns
    -------
    polygon, member, stats
        Polygon (CD45, CD34) of the candidate basin (``None`` when it is not a leukemic
        cluster), members among the given events, and the measured quantities
        (``fraction``, ``sd_ratio``, ``rho``, ``cd34_peak``, ``cd34_sep`` and ``valley``:
        the lowest density between the candidate's peak and the largest other basin's,
        relative to the candidate's peak; reported only).
    """
    member = np.zeros(x45.size, dtype=bool)
    stats: dict[str, float] = {}
    if x45.size < max(s.min_population_events, 50):
        return None, member, stats
    x45, y, d2, blab, info = _cd45_cd34_basins(x45, cd34, s)
    if len(info) < 2:
        return None, member, stats
    k = int(np.argmax([b["y"] for b in info]))
    bx, by = d2.bin_of(x45, y)
    ev = blab[bx, by]
    mem = ev == k
    rest = (ev >= 0) & ~mem
    if mem.sum() < s.min_population_events or rest.sum() < s.min_population_events:
        return None, member, stats
    xm, ym = x45[mem], y[mem]
    sd = robust_sd(xm)
    sd34 = max(robust_sd(ym), 1e-3)
    sep34 = (float(info[k]["y"]) - float(np.median(y[rest]))) / sd34
    rho = _rank_correlation(xm, ym)
    rho = rho if np.isfinite(rho) else 0.0
    frac = float(mem.sum()) / max(nucleated, 1)
    # density along the segment from the candidate's peak to the main other basin's peak,
    # relative to the candidate's peak: low between two clouds, high along a continuum
    others = [j for j in range(len(info)) if j != k]
    j = max(others, key=lambda i: info[i]["mass"])
    tt = np.linspace(0.0, 1.0, 41)
    sx, sy = d2.bin_of(info[k]["x"] + tt * (info[j]["x"] - info[k]["x"]),
                       info[k]["y"] + tt * (info[j]["y"] - info[k]["y"]))
    valley = float(d2.density[sx, sy].min()) / max(float(info[k]["height"]), 1e-12)
    ratio = sd / ref_sd if np.isfinite(ref_sd) and ref_sd > 0 else float("inf")
    rest45 = float(np.median(x45[rest]))
    stats = {"fraction": frac, "sd_ratio": ratio, "rho": rho, "cd34_peak": float(info[k]["y"]),
             "cd34_sep": sep34, "valley": valley}
    leukemic = (sep34 >= s.b_split_cd34_sd_k
                and info[k]["x"] <= rest45
                and frac >= min(s.b_split_min_fraction, s.b_split_review_fraction)
                and ratio <= s.b_compact_sd_ratio
                and rho > s.b_split_rho_min)
    if not leukemic:
        return None, member, stats
    poly = dens.region_to_polygon(blab == k, d2.x_edges, d2.y_edges,
                                  max_vertices=s.max_vertices)
    if len(poly) < 3:
        return None, member, stats
    return poly, in_polygon(x45, y, poly), stats


def _cd45_cd34_basins(x45: np.ndarray, cd34: np.ndarray, s: AlotGatingSettings):
    """Density basins of B-like events on CD45 vs CD34 (range: 0.1-99.9% quantiles
    padded by 0.05): float64 copies of both, the density, basin labels per bin, basins."""
    x45 = x45.astype(np.float64)
    y = cd34.astype(np.float64)
    xr = (float(np.quantile(x45, 0.001)) - 0.05, float(np.quantile(x45, 0.999)) + 0.05)
    yr = (float(np.quantile(y, 0.001)) - 0.05, float(np.quantile(y, 0.999)) + 0.05)
    d2, blab, info = cluster_basins(x45, y, s, xrange=xr, yrange=yr, min_mass=0.1)
    return x45, y, d2, blab, info
