"""The normal-population map of an ALOT tube: stages 1-2 and 5 of
:func:`cytomics.gating.alot.gate_alot`.

On a sample of the QC survivors: each lineage marker's positivity threshold, the
internal-control anchors (mature T cells, neutrophils, monocytes), the CD45/SSC plane cut
into density basins and named by position relative to the anchors, one polygon gate per
region, and the phenotype gates (rectangles on the lineage markers). Every decision is a
gate built in a :class:`GateSet`, whose sample events are evaluated once.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from cytomics.errors import PanelMismatchError
from cytomics.gating import density as dens
from cytomics.gating.anchors import brightest_peak, neutrophil_events, t_cell_anchor
from cytomics.gating.sampling import sample_events, sample_rows
from cytomics.gating.strategy import GateBuilder, evaluate_gates
from cytomics.gating.thresholds import (
    control_refined_threshold,
    marker_thresholds,
    population_flank_threshold,
)
from cytomics.order_stats import median, quantiles, robust_sd
from cytomics.preprocess.model import Events

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings

__all__ = ["LINEAGE_MARKERS", "REGION_NAMES", "REGION_PART", "Anchors", "GateSet", "Phenotypes",
           "RegionMap", "Tube", "lineage_thresholds", "marker_rectangle", "phenotype_gates", "read_anchors",
           "region_gates", "region_map", "sample_tube", "scatter_column", "split_cd45_low",
           "ssc_column"]

LINEAGE_MARKERS = ("cyMPO", "cyCD79a", "CD34", "CD19", "CD7", "smCD3", "cyCD3")


def scatter_column(events: Events, names: tuple[str, ...], prefixes: tuple[str, ...]) -> int | None:
    """Column of a scatter channel: the first of ``names`` present, else the first channel
    whose name starts with one of ``prefixes`` (case-insensitive); ``None`` without one."""
    for name in names:
        try:
            return events.acquisition.channel_index(name)
        except KeyError:
            continue
    for ch in events.acquisition.channels:
        if ch.name.upper().startswith(prefixes):
            return ch.index
    return None


def ssc_column(events: Events) -> int:
    """Column of the side-scatter channel (area preferred)."""
    col = scatter_column(events, ("SSC-A", "SSC-H", "SSC", "SS", "SS INT LIN", "SS-A"),
                         ("SSC", "SS"))
    if col is not None:
        return col
    raise PanelMismatchError(
        "ALOT gating needs a side-scatter channel (SSC-A); none found",
        path=events.acquisition.path,
    )


@dataclass(frozen=True, slots=True)
class Tube:
    """The sample of nucleated events every decision is taken on.

    Attributes
    ----------
    sample
        The sampled events (their own :class:`Events`).
    keep
        bool ``[n_events]`` of the whole tube: the QC survivors (labelled at the end).
    parent
        Id of the last QC gate (parent of every ALOT gate), ``None`` without QC gates.
    cx, cy
        Columns of CD45 and side scatter.
    x45, ssc
        float64 CD45 and SSC of the sampled events.
    mk
        Lineage marker -> float64 values of the sampled events (markers of the panel only,
        in :data:`LINEAGE_MARKERS` order).
    """

    sample: Events
    keep: np.ndarray
    parent: str | None
    cx: int
    cy: int
    x45: np.ndarray
    ssc: np.ndarray
    mk: dict[str, np.ndarray]


def sample_tube(events: Events, qc: Any, s: AlotGatingSettings) -> Tube:
    """Draw the decision sample of the QC survivors (``sample_events`` of them).

    Every decision is taken on a sample of the nucleated events (densities, peaks and
    fractions need no more); the labels of all events are then computed from the gates in
    a single pass (:func:`cytomics.gating.program.label_events`).

    Raises
    ------
    PanelMismatchError
        When CD45 or a side-scatter channel is missing.
    """
    if "CD45" not in events.markers:
        raise PanelMismatchError(
            "ALOT gating needs the CD45 marker; the panel maps none",
            path=events.acquisition.path,
        )
    cx = events.markers["CD45"]
    cy = ssc_column(events)
    keep = np.asarray(qc.keep, dtype=bool)
    qc_gates = list(getattr(qc, "gates", []) or [])
    parent = qc_gates[-1].id if qc_gates else None
    sample = sample_events(events, sample_rows(keep, s.sample_events, seed=0))
    data = sample.values
    present = [m for m in LINEAGE_MARKERS if m in events.markers]
    return Tube(
        sample=sample, keep=keep, parent=parent, cx=cx, cy=cy,
        x45=data[:, cx].astype(np.float64), ssc=data[:, cy].astype(np.float64),
        mk={m: data[:, events.markers[m]].astype(np.float64) for m in present},
    )


def lineage_thresholds(
    tube: Tube, s: AlotGatingSettings
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Positivity threshold of every lineage marker and its positive sample events.

    Each threshold comes from the marker's own density (:func:`marker_thresholds`); smCD3's
    positive (mature T) gate is then set on the mature T cells among the cyCD3+ events, not
    on the spread tail of a dominant smCD3-negative T-blast population, and cyCD79a's never
    cuts into the lower flank of the CD19+ cells' own cyCD79a population
    (:func:`population_flank_threshold`).
    """
    mk = tube.mk
    thr, negs, _ = marker_thresholds(tube.sample, mk, s)
    if {"smCD3", "cyCD3"} <= set(mk):
        cy_pos = mk["cyCD3"] >= thr["cyCD3"]
        thr["smCD3"] = control_refined_threshold(mk["smCD3"][cy_pos], thr["smCD3"], s,
                                                 x45=tube.x45[cy_pos])
    if {"CD19", "cyCD79a"} <= set(mk):
        # cyCD79a on the CD19+ events is the B cells' own population: a wide negative
        # spread must not cut off its dim flank (B blasts dimmer than the normal B cells)
        b19 = mk["CD19"] >= thr["CD19"]
        thr["cyCD79a"] = population_flank_threshold(mk["cyCD79a"][b19], thr["cyCD79a"],
                                                    negs["cyCD79a"], s)
    return thr, {m: mk[m] >= thr[m] for m in mk}


@dataclass(frozen=True, slots=True)
class Anchors:
    """Internal-control positions on CD45/SSC that every region is placed against.

    Attributes
    ----------
    t_cells
        bool over the sample: events passing the mature-T (smCD3, cyCD3) thresholds.
    lymph, neutro
        (CD45, SSC) of the lymphocytes and the neutrophils.
    neutro_sd
        Robust CD45 SD of the neutrophils (NaN without them).
    span45
        CD45 distance neutrophils -> lymphocytes (at least 0.08).
    ylo
        Lymphocyte SSC (> 0): SSC positions are ratios to it.
    lr_g
        log SSC ratio of the neutrophils to the lymphocytes (at least log 1.5).
    mono_pos
        Lower CD45 edge of the monocyte region (0 neutrophils, 1 lymphocytes).
    """

    t_cells: np.ndarray
    lymph: tuple[float, float]
    neutro: tuple[float, float]
    neutro_sd: float
    span45: float
    ylo: float
    lr_g: float
    mono_pos: float


def read_anchors(
    tube: Tube, pos: Mapping[str, np.ndarray], s: AlotGatingSettings, *,
    flags: list[str], landmarks: dict[str, tuple[float, float]],
) -> Anchors:
    """Place lymphocytes, neutrophils and the monocyte CD45 edge from internal controls.

    Mature T cells mark the lymphocytes (without them: the neutrophils, then CD45 alone,
    flagged); MPO+ high-SSC cells the neutrophils; the brightest CD45 peak of the
    intermediate-SSC band the monocytes. Appends to ``flags`` and ``landmarks``.
    """
    x_s, y_s, mk = tube.x45, tube.ssc, tube.mk
    n = x_s.size
    zeros = np.zeros(n, dtype=bool)

    def P(m: str) -> np.ndarray:
        return pos.get(m, zeros)

    t_cells = P("smCD3") & P("cyCD3") if {"smCD3", "cyCD3"} <= set(mk) else P("smCD3")
    lymph = t_cell_anchor(x_s, y_s, t_cells, s)
    mpo_pos = P("cyMPO") if "cyMPO" in mk else np.ones(n, dtype=bool)
    if lymph is None:
        # no T cells (e.g. lymphocytes lost upstream): place the lymphocytes relative to
        # the neutrophils (MPO+, the high-SSC half of the MPO+ events) and flag it
        cand_n = mpo_pos & (y_s >= np.quantile(y_s[mpo_pos], 0.5)) if mpo_pos.any() else mpo_pos
        if mpo_pos.sum() >= s.min_control_events:
            # MPO+ blasts can outnumber the neutrophils: these are the highest-SSC peak of
            # the MPO+ events (log SSC), however small
            ly = np.log(np.maximum(y_s[mpo_pos], 1e-4))
            d = dens.density_1d(ly, lo=float(ly.min()) - 0.1, hi=float(ly.max()) + 0.1,
                                bins=128, sigma_bins=2.0)
            pk = [p for p in dens.find_peaks_1d(d, min_height=0.02, min_prominence=0.02)
                  if p.mass >= 0.02]
            if len(pk) >= 2:
                top = max(pk, key=lambda p: p.position)
                below = max(p.position for p in pk if p is not top)
                cut = np.exp(dens.valley_between(d, below, top.position))
                cand_n = mpo_pos & (y_s >= cut)
        if cand_n.sum() >= s.min_control_events:
            nx, ny = float(np.median(x_s[cand_n])), float(np.median(y_s[cand_n]))
            lymph = (nx + s.default_lymph_cd45_offset, ny / s.default_neutrophil_ssc_ratio)
            flags.append("lymphocyte_anchor_missing")
        else:
            bright = x_s >= np.quantile(x_s, 0.9) if x_s.size else zeros
            lymph = (float(np.median(x_s[bright])), float(np.quantile(y_s[bright], 0.3)))
            flags.append("lymphocyte_anchor_from_cd45_only")
    landmarks["lymphocytes"] = lymph
    ylo = max(lymph[1], 1e-6)
    ssc_ratio = y_s / ylo
    high_ssc = ssc_ratio >= 0.5 * (s.mono_ssc_ratio_min + s.default_neutrophil_ssc_ratio)
    neut = (neutrophil_events(y_s, mk["cyMPO"], high_ssc & mpo_pos, s) if "cyMPO" in mk
            else high_ssc & mpo_pos)
    neutro_sd = float("nan")  # CD45 spread of a homogeneous normal population
    if neut.sum() >= s.min_control_events:
        neutro = (median(x_s[neut]), median(y_s[neut]))
        landmarks["neutrophils"] = neutro
        xn = x_s[neut]
        neutro_sd = robust_sd(xn, neutro[0])
    else:
        neutro = (lymph[0] - s.default_lymph_cd45_offset, lymph[1] * s.default_neutrophil_ssc_ratio)
    if "neutrophils" in landmarks and (neutro[0] >= lymph[0] or neutro[1] < 1.5 * lymph[1]):
        # neutrophils are CD45-dimmer and far more granular than lymphocytes in every normal
        # leukocyte sample: anchors breaking that were read off the wrong populations, and
        # every position derived from them is suspect
        flags.append("review_anchor_geometry")
    span45 = max(lymph[0] - neutro[0], 0.08)
    lr_g = np.log(max(neutro[1] / ylo, 1.5))
    # monocytes: the brightest CD45 peak of the intermediate-SSC band; their gate reaches
    # down to a few robust SDs below that peak (never below mono_cd45_position_min)
    lr_ev = np.log(np.maximum(y_s, 1e-6) / ylo) / lr_g
    band = (ssc_ratio >= s.mono_ssc_ratio_min) & (lr_ev < s.gran_ssc_position)
    mono_pos = s.mono_cd45_position
    mono_anchor = brightest_peak(x_s[band], s)
    if mono_anchor is not None:
        peak, sd = mono_anchor
        low = (peak - s.mono_cd45_sd_k * sd - neutro[0]) / span45
        mono_pos = float(np.clip(low, s.mono_cd45_position_min, s.mono_cd45_position))
        landmarks["monocytes_cd45"] = (peak, sd)
    return Anchors(t_cells=t_cells, lymph=lymph, neutro=neutro, neutro_sd=neutro_sd,
                    span45=span45, ylo=ylo, lr_g=float(lr_g), mono_pos=mono_pos)


REGION_NAMES = ("lymphocytes", "monocytes", "granulocytes", "eosinophils",
                 "cd45_negative", "blast_region")
#: Suffix of the polygon ids of a region drawn in several pieces (``alot_<name>_region``
#: is then their OR).
REGION_PART = "_part"


@dataclass(frozen=True, slots=True)
class RegionMap:
    """The CD45/SSC plane cut into named regions.

    Attributes
    ----------
    density
        The smoothed CD45/SSC density of the sample.
    grid
        int ``[bins, bins]``: index into :data:`REGION_NAMES` of each bin, -1 empty.
    ev_region
        Region index of each sampled event.
    basins
        Density basins (``dens.basins_2d`` info: peak ``x``, ``y`` per basin).
    """

    density: dens.Density2D
    grid: np.ndarray
    ev_region: np.ndarray
    basins: list[dict[str, Any]]


def region_map(
    tube: Tube, a: Anchors, pos: Mapping[str, np.ndarray], s: AlotGatingSettings
) -> RegionMap:
    """Split the CD45/SSC plane into density basins and name every bin by its position
    relative to the anchors.

    Per bin rather than per basin: basins decide *where* a boundary runs in dense areas,
    the anchor geometry decides which population a region belongs to.
    """
    x_s, y_s, mk = tube.x45, tube.ssc, tube.mk
    present = list(mk)
    lymph, neutro, span45, ylo, lr_g = a.lymph, a.neutro, a.span45, a.ylo, a.lr_g
    mono_pos = a.mono_pos
    qx = quantiles(x_s, [0.0005, 0.9995])
    qy = quantiles(y_s, [0.0005, 0.998])
    xr = (float(qx[0]) - 0.03, float(qx[1]) + 0.03)
    yr = (min(0.0, float(qy[0])), float(qy[1]) * 1.08)
    d2 = dens.density_2d(
        x_s, y_s, xrange=xr, yrange=yr, bins=(s.bins, s.bins), sigma_bins=s.sigma_bins
    )
    blab, info = dens.basins_2d(
        d2, floor_fraction=s.floor_fraction, rel_persistence=s.rel_persistence,
        min_mass=s.min_basin_mass,
    )
    bx, by = d2.bin_of(x_s, y_s)

    xc = d2.x_centers[:, None]
    yc = d2.y_centers[None, :]
    shape = d2.density.shape
    c45 = np.broadcast_to((xc - neutro[0]) / span45, shape)  # 0 neutrophils, 1 lymphocytes
    lr = np.broadcast_to(np.log(np.maximum(yc, 1e-6) / ylo) / lr_g, shape)  # 0 lymph, 1 neutro
    grid = np.full(d2.density.shape, -1, dtype=np.int64)
    is_gran = lr >= s.gran_ssc_position
    is_eos = is_gran & (lr >= 1.12) & (c45 >= 0.55)
    ratio_grid = np.broadcast_to(np.maximum(yc, 1e-6) / ylo, grid.shape)
    is_mono = ~is_gran & (ratio_grid >= s.mono_ssc_ratio_min) & (c45 >= mono_pos)
    is_lymph = ~is_gran & (ratio_grid < s.lymph_ssc_ratio_max) & (c45 >= s.lymph_cd45_position)
    is_lymph = is_lymph & ~is_mono
    # CD45 negative: closer to the unstained level (negative peaks of the lineage markers)
    # than to the lymphocytes.
    negs = {m: ~pos[m] for m in present}
    unstained = [median(mk[m][negs[m]]) for m in present if np.count_nonzero(negs[m]) > 20]
    neg_level = float(np.median(unstained)) if unstained else float(np.quantile(x_s, 0.001))
    cd45_cut = neg_level + s.cd45neg_position * (lymph[0] - neg_level)
    xg = np.broadcast_to(xc, shape)
    is_neg = ~is_gran & (xg < cd45_cut) & (ratio_grid < s.mono_ssc_ratio_min)
    grid[is_gran] = 2
    grid[is_eos] = 3
    grid[is_mono] = 1
    grid[is_lymph] = 0
    grid[is_neg] = 4
    grid[(grid < 0)] = 5
    # basins refine the boundaries: a basin whose peak is named X takes its bins that are
    # named as a neighbouring *density-wise* population (lymph/blast/mono boundary follows
    # the valley, not a fixed line).
    core = (np.abs(c45 - 1.0) <= 0.2) & (ratio_grid < s.lymph_ssc_ratio_max)
    for k, b in enumerate(info):
        ix, iy = (int(v[0]) for v in d2.bin_of(np.array([b["x"]]), np.array([b["y"]])))
        name = int(grid[ix, iy])
        members = blab == k
        if name == 5:
            grid[members & (grid == 0) & ~core] = 5
        elif name == 0:
            grid[members & (grid == 5) & (c45 >= s.lymph_cd45_floor)] = 0
        elif name == 1:
            grid[members & (grid == 5) & (c45 >= s.lymph_cd45_floor)] = 1
    grid[d2.density < s.floor_fraction * d2.density.max() * 0.25] = -1
    return RegionMap(density=d2, grid=grid, ev_region=grid[bx, by], basins=info)


class GateSet:
    """Gates under construction on the sample, with the sample events of each.

    ``masks`` maps gate id -> bool over the sample (the QC parent: every sampled event);
    :meth:`evaluate` adds the gates built since the last call, each evaluated once over
    the whole matrix, without copies.
    """

    def __init__(self, sample: Events, parent: str | None) -> None:
        self.sample = sample
        self.parent = parent
        self.gb = GateBuilder(sample)
        self.in_sample = np.ones(sample.n_events, dtype=bool)
        self.masks: dict[str, np.ndarray] = (
            {parent: self.in_sample} if parent is not None else {}  # the QC chain's events
        )

    def evaluate(self) -> dict[str, np.ndarray]:
        """Evaluate the new gates; returns :attr:`masks` (updated in place)."""
        new = [g for g in self.gb.gates if g.id not in self.masks]
        self.masks.update(evaluate_gates(new, self.sample, root_mask=self.in_sample,
                                         external=self.masks))
        return self.masks


def region_gates(
    gs: GateSet, rm: RegionMap, tube: Tube, s: AlotGatingSettings
) -> tuple[dict[str, str], dict[str, str]]:
    """One CD45/SSC polygon per named region and its exclusive version.

    Returns
    -------
    region_gate, excl
        Region name -> id of its polygon gate; region name -> id of the gate holding its
        events outside every earlier region (priority lymphocytes, monocytes,
        CD45-negative, eosinophils, granulocytes, blast region: simplified polygons may
        overlap).
    """
    gb, parent, d2, grid = gs.gb, tube.parent, rm.density, rm.grid
    region_gate: dict[str, str] = {}
    order = (0, 1, 4, 3, 2, 5)  # priority when simplified polygons overlap
    n = max(tube.sample.n_events, 1)
    mass = d2.density / max(float(d2.density.sum()), 1e-12) * n  # events per bin (smoothed)
    for r in order:
        name = REGION_NAMES[r]
        if (rm.ev_region == r).sum() < max(3, s.min_population_events // 2):
            continue
        polys = [p for p in _component_polygons(grid == r, mass, d2, s, n) if len(p) >= 3]
        gid = f"alot_{name}_region"
        if len(polys) == 1:
            region_gate[name] = gb.polygon(gid, parent, tube.cx, tube.cy, polys[0])
        elif polys:  # a region in separate pieces (e.g. a blast cloud beside the CD45- one)
            parts = [(gb.polygon(f"{gid}{REGION_PART}{j}", parent, tube.cx, tube.cy, p), False)
                     for j, p in enumerate(polys)]
            region_gate[name] = gb.boolean(gid, parent, "or", parts)
    gs.evaluate()
    excl: dict[str, str] = {}
    earlier: list[str] = []
    for r in order:
        name = REGION_NAMES[r]
        gid = region_gate.get(name)
        if gid is None:
            continue
        if earlier:
            ops = [(gid, False)] + [(e, True) for e in earlier]
            excl[name] = gb.boolean(f"alot_{name}_excl", parent, "and", ops)
        else:
            excl[name] = gid
        earlier.append(gid)
    gs.evaluate()
    return region_gate, excl


def _component_polygons(
    region: np.ndarray, mass: np.ndarray, d2: dens.Density2D, s: AlotGatingSettings, n: int
) -> list[np.ndarray]:
    """Polygons of a region's pieces (4-connected bins): the largest piece, and every
    other piece holding at least ``region_piece_min_fraction`` of the sampled events (a
    single polygon would drop their events from every region)."""
    from cytomics.gating import _ndi

    if not region.any():
        return []
    lab, k = _ndi.label(region)
    ev = np.bincount(lab.ravel(), weights=mass.ravel(), minlength=k + 1)[1:]
    main = int(np.argmax(np.bincount(lab.ravel(), minlength=k + 1)[1:]))  # most bins
    keep = [main] + [i for i in range(k)
                     if i != main and ev[i] >= s.region_piece_min_fraction * n]
    return [dens.region_to_polygon(lab == i + 1, d2.x_edges, d2.y_edges,
                                   max_vertices=s.max_vertices) for i in keep]


def marker_rectangle(
    gb: GateBuilder, gid: str, parent: str | None, bounds: Mapping[str, tuple[Any, Any]],
    thr: Mapping[str, float], markers: Mapping[str, int],
) -> str | None:
    """Rectangle gate ``gid`` on lineage markers (marker -> (low, high), ``None`` open);
    ``None`` when a marker is absent or has no finite threshold."""
    b = {}
    for m, (lo, hi) in bounds.items():
        if m not in thr or not np.isfinite(thr[m]):
            return None
        b[markers[m]] = (lo, hi)
    return gb.rectangle(gid, parent, b)


@dataclass(frozen=True, slots=True)
class Phenotypes:
    """Ids of the phenotype gates (rectangles on the lineage markers), ``None`` when a
    marker is missing: mature T, B (CD19+ cyCD79a+), NK (CD7+ smCD3-), cyCD3+ smCD3-,
    CD34+, MPO+, lineage negative."""

    t: str | None
    b: str | None
    nk: str | None
    tbl: str | None
    cd34: str | None
    mpo: str | None
    linneg: str | None


def phenotype_gates(
    gs: GateSet, thr: Mapping[str, float], markers: Mapping[str, int], parent: str | None,
) -> Phenotypes:
    """Phenotype gates from the positivity thresholds."""
    T = thr

    def rect(gid: str, bounds: dict[str, tuple[float | None, float | None]]) -> str | None:
        return marker_rectangle(gs.gb, gid, parent, bounds, thr, markers)

    g_t = rect("pheno_T", {"smCD3": (T.get("smCD3"), None), "cyCD3": (T.get("cyCD3"), None)}
               if "cyCD3" in thr else {"smCD3": (T.get("smCD3"), None)})
    g_b = rect("pheno_B", {"CD19": (T.get("CD19"), None), "cyCD79a": (T.get("cyCD79a"), None)})
    g_nk = rect("pheno_NK", {"CD7": (T.get("CD7"), None), "smCD3": (None, T.get("smCD3"))})
    g_tbl = rect("pheno_cyCD3_smCD3neg",
                 {"cyCD3": (T.get("cyCD3"), None), "smCD3": (None, T.get("smCD3"))})
    g_34 = rect("pheno_CD34", {"CD34": (T.get("CD34"), None)})
    g_mpo = rect("pheno_MPO", {"cyMPO": (T.get("cyMPO"), None)})
    lin_neg_markers = [m for m in ("CD19", "cyCD79a", "CD34", "cyCD3", "cyMPO", "CD7")
                       if m in thr and np.isfinite(thr[m])]
    g_linneg = (
        gs.gb.rectangle("pheno_lineage_negative", parent,
                        {markers[m]: (None, thr[m]) for m in lin_neg_markers})
        if lin_neg_markers else None
    )
    return Phenotypes(t=g_t, b=g_b, nk=g_nk, tbl=g_tbl, cd34=g_34, mpo=g_mpo, linneg=g_linneg)


def split_cd45_low(
    gs: GateSet, excl: dict[str, str], linneg: str | None, parent: str | None
) -> None:
    """Split the CD45-low region by lineage (``excl`` updated in place).

    Lineage-negative CD45-low events are CD45-negative cells (nucleated red cells etc.);
    lineage-positive ones are CD45-negative blasts and join the blast candidates.
    """
    gb = gs.gb
    low = excl.pop("cd45_negative", None)
    low_pos = None
    if low is not None and linneg is not None:
        excl["cd45_negative"] = gb.boolean(
            "alot_cd45_negative", parent, "and", [(low, False), (linneg, False)])
        low_pos = gb.boolean(
            "alot_cd45_low_lineage_pos", parent, "and", [(low, False), (linneg, True)])
    elif low is not None:
        excl["cd45_negative"] = low
    if low_pos is not None:
        region = excl.get("blast_region")
        excl["blast_region"] = (
            gb.boolean("alot_blast_candidates", parent, "or", [(region, False), (low_pos, False)])
            if region is not None else low_pos
        )
    gs.evaluate()

