"""Automated, explainable gating of the EuroFlow ALOT tube.

What an expert does on the CD45 vs SSC plot, written down:

1. **Internal controls first.** Each lineage marker gets a positivity threshold from its
   own 1-D density (the valley above the negative peak, flowDensity ``deGate`` style).
   Mature T cells (smCD3+ cyCD3+) then mark where lymphocytes sit on CD45/SSC; MPO-bright
   high-SSC cells mark the neutrophils. Positions are read relative to these anchors, never
   as fixed coordinates.
2. **Density basins.** The CD45/SSC plane is smoothed and split into basins of density
   peaks (flooding from the top, shallow saddles merged). Each basin is named by where its
   peak lies relative to the anchors (lymphocytes: CD45 as bright as T cells, SSC low;
   monocytes: CD45 bright, SSC intermediate; granulocytes: SSC high; eosinophils: SSC above
   the neutrophils with brighter CD45; CD45-negative: CD45 far below the lymphocytes and
   lineage negative; the rest of the CD45-dim, SSC low–intermediate plane: the blast region).
3. **An abnormal blast population is a dominant, compact, homogeneous cluster.** "Abnormal"
   is decided on the *main* density cluster of the blast region (CD45 / log SSC), not on
   the region's total: normal CD45-dim cells (basophils, CD34+ myeloid precursors, plasma
   cells) are small separate clouds. Lineage-negative events count as blasts only inside
   the core of the lineage-positive ones; beside a CD7+ MPO- cluster, CD7- (myeloid
   precursor) events are not blasts. A leukemic B cluster is the dimmest CD45/SSC basin
   of the B-like events, apart from the hematogone stripe. "No abnormal blast cluster" is
   an explicit outcome (flag).
4. **Lineage markers resolve overlaps.** The abnormal blast cluster's phenotype (CD34,
   cyCD3 without smCD3, CD19 with cyCD79a, MPO) is learned in the blast region and used to
   pull blasts out of the lymphocyte, monocyte and granulocyte gates (T-blasts with bright
   CD45, CD34+ blasts anywhere, MPO+ blasts overlapping monocytes, myeloid blasts with
   granulocyte SSC told from neutrophils on CD45 vs MPO). A monocyte gate far larger than
   normal is a monocytic blast expansion (normal monocytes: a brighter CD45 peak).
   A myeloid blast cloud cut by the monocyte / granulocyte region lines is extrapolated
   from its uncut flanks (:mod:`cytomics.gating.myeloid`): where it, not the normal
   monocytes or neutrophils, makes up most events, those gates' events are blasts.
   Outside marrow, a discrete CD45-dim peak of the granulocyte gate is a hypergranular
   blast cluster (maturing neutrophils are a continuum); in blood (``specimen="PB"``) the
   CD45-dim region holds no hematogones, so smaller B clusters are abnormal. What ALOT cannot
   separate (blasts with the neutrophils' CD45/SSC/MPO, monocytosis) goes to review.
5. **Gates, then labels.** Every decision becomes a gate (polygons on CD45/SSC, rectangles
   on lineage markers, Boolean combinations) in :mod:`cytomics.gating.gates`, and the
   per-event labels are *computed by evaluating these gates*, so exporting them to
   Gating-ML reproduces the counts.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cytomics.errors import ConfigError, PanelMismatchError
from cytomics.gating import density as dens
from cytomics.gating.alot_settings import AlotGatingSettings
from cytomics.gating.anchors import (
    brightest_peak,
    neutrophil_events,
    t_aberrant_bounds,
    t_cell_anchor,
)
from cytomics.gating.b_lineage import (
    b_blast_cluster,
    b_blast_cluster_2d,
    b_cluster_cd45_cd34,
    maturation_continuum,
)
from cytomics.gating.clusters import (
    blast_share_polygon,
    closer_to_blasts,
    core_ellipse,
    ellipse_polygon,
    in_ellipse,
    in_polygon,
    main_cluster,
    robust_tail_above,
)
from cytomics.gating.counting import label_counts
from cytomics.gating.gates import Gate
from cytomics.gating.myeloid import dim_granular_cluster, extrapolated_cluster
from cytomics.gating.program import compile_gates, label_events
from cytomics.gating.sampling import sample_events, sample_rows
from cytomics.gating.small_clusters import SmallClusterSettings, screen_small_clusters
from cytomics.gating.strategy import GateBuilder, evaluate_gates
from cytomics.gating.thresholds import (
    control_refined_threshold,
    marker_thresholds,
    positivity_threshold,
)
from cytomics.order_stats import median, quantiles
from cytomics.populations import AGGREGATES, LABEL_CODES, LABEL_NAMES
from cytomics.preprocess.model import Events

# re-exported: the settings and the public helpers stay importable from here
__all__ = ["AlotGatingSettings", "GatingResult", "control_refined_threshold", "gate_alot",
           "marker_thresholds", "positivity_threshold", "sample_rows"]

LINEAGE_MARKERS = ("cyMPO", "cyCD79a", "CD34", "CD19", "CD7", "smCD3", "cyCD3")


@dataclass(slots=True)
class GatingResult:
    """Outcome of automated gating.

    Attributes
    ----------
    labels
        uint8 ``[n_events]``: QC labels kept, survivors labelled with a population code.
    gates
        Gates (parents before children) from which every non-QC label is computed.
    counts
        Aggregate population name (:data:`cytomics.populations.AGGREGATES`) -> events.
    flags
        Review flags, e.g. ``population_missing:monocytes``.
    terminals
        (gate id, label code) pairs: each label is the events of its terminal gate.
    region_gates
        Population name -> id of its CD45/SSC polygon (for plots).
    thresholds
        Lineage marker -> positivity threshold (display scale).
    landmarks
        Anchor positions used (``lymphocytes``, ``neutrophils``: (CD45, SSC)).
    axes
        Column indices used: ``cd45``, ``ssc``.
    """

    labels: np.ndarray
    gates: list[Gate]
    counts: dict[str, int]
    flags: list[str]
    terminals: list[tuple[str, int]] = field(default_factory=list)
    region_gates: dict[str, str] = field(default_factory=dict)
    thresholds: dict[str, float] = field(default_factory=dict)
    landmarks: dict[str, tuple[float, float]] = field(default_factory=dict)
    axes: dict[str, int] = field(default_factory=dict)


# --------------------------------------------------------------------------------------
# helpers
# --------------------------------------------------------------------------------------
def _ssc_column(events: Events) -> int:
    for name in ("SSC-A", "SSC-H", "SSC", "SS", "SS INT LIN", "SS-A"):
        try:
            return events.acquisition.channel_index(name)
        except KeyError:
            continue
    for ch in events.acquisition.channels:
        if ch.name.upper().startswith(("SSC", "SS")):
            return ch.index
    raise PanelMismatchError(
        "ALOT gating needs a side-scatter channel (SSC-A); none found",
        path=events.acquisition.path,
    )


def _gates_needed(gates: list[Gate], ids: list[str]) -> list[Gate]:
    """The gates (in their order) that the gates ``ids`` depend on, themselves included:
    parents and Boolean operands, transitively. Gates outside (decisions taken on the
    sample only) need not be evaluated over all events: the label pass costs per gate."""
    need = set(ids)
    for g in reversed(gates):  # parents and operands come before their children
        if g.id not in need:
            continue
        if g.parent is not None:
            need.add(g.parent)
        for ref, _complement in getattr(g, "operands", ()):
            need.add(ref)
    return [g for g in gates if g.id in need]


# --------------------------------------------------------------------------------------
# the strategy
# --------------------------------------------------------------------------------------
# --------------------------------------------------------------------------------------
# stages of the strategy
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class _Tube:
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


def _sample_tube(events: Events, qc: Any, s: AlotGatingSettings) -> _Tube:
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
    cy = _ssc_column(events)
    keep = np.asarray(qc.keep, dtype=bool)
    qc_gates = list(getattr(qc, "gates", []) or [])
    parent = qc_gates[-1].id if qc_gates else None
    sample = sample_events(events, sample_rows(keep, s.sample_events, seed=0))
    data = sample.values
    present = [m for m in LINEAGE_MARKERS if m in events.markers]
    return _Tube(
        sample=sample, keep=keep, parent=parent, cx=cx, cy=cy,
        x45=data[:, cx].astype(np.float64), ssc=data[:, cy].astype(np.float64),
        mk={m: data[:, events.markers[m]].astype(np.float64) for m in present},
    )


def _lineage_thresholds(
    tube: _Tube, s: AlotGatingSettings
) -> tuple[dict[str, float], dict[str, np.ndarray]]:
    """Positivity threshold of every lineage marker and its positive sample events.

    Each threshold comes from the marker's own density (:func:`marker_thresholds`); smCD3's
    positive (mature T) gate is then set on the mature T cells among the cyCD3+ events, not
    on the spread tail of a dominant smCD3-negative T-blast population.
    """
    mk = tube.mk
    thr, _unstained = marker_thresholds(tube.sample, mk, s)
    if {"smCD3", "cyCD3"} <= set(mk):
        cy_pos = mk["cyCD3"] >= thr["cyCD3"]
        thr["smCD3"] = control_refined_threshold(mk["smCD3"][cy_pos], thr["smCD3"], s,
                                                 x45=tube.x45[cy_pos])
    return thr, {m: mk[m] >= thr[m] for m in mk}


@dataclass(frozen=True, slots=True)
class _Anchors:
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


def _read_anchors(
    tube: _Tube, pos: Mapping[str, np.ndarray], s: AlotGatingSettings, *,
    flags: list[str], landmarks: dict[str, tuple[float, float]],
) -> _Anchors:
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
        neutro_sd = float(np.median(np.abs(xn - neutro[0]))) / 0.6745
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
    return _Anchors(t_cells=t_cells, lymph=lymph, neutro=neutro, neutro_sd=neutro_sd,
                    span45=span45, ylo=ylo, lr_g=float(lr_g), mono_pos=mono_pos)


_REGION_NAMES = ("lymphocytes", "monocytes", "granulocytes", "eosinophils",
                 "cd45_negative", "blast_region")


@dataclass(frozen=True, slots=True)
class _RegionMap:
    """The CD45/SSC plane cut into named regions.

    Attributes
    ----------
    density
        The smoothed CD45/SSC density of the sample.
    grid
        int ``[bins, bins]``: index into :data:`_REGION_NAMES` of each bin, -1 empty.
    ev_region
        Region index of each sampled event.
    basins
        Density basins (``dens.basins_2d`` info: peak ``x``, ``y`` per basin).
    """

    density: dens.Density2D
    grid: np.ndarray
    ev_region: np.ndarray
    basins: list[dict[str, Any]]


def _region_map(
    tube: _Tube, a: _Anchors, pos: Mapping[str, np.ndarray], s: AlotGatingSettings
) -> _RegionMap:
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
    return _RegionMap(density=d2, grid=grid, ev_region=grid[bx, by], basins=info)


class _GateSet:
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


def _region_gates(
    gs: _GateSet, rm: _RegionMap, tube: _Tube, s: AlotGatingSettings
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
    for r in order:
        name = _REGION_NAMES[r]
        region = grid == r
        if (rm.ev_region == r).sum() < max(3, s.min_population_events // 2):
            continue
        poly = dens.region_to_polygon(region, d2.x_edges, d2.y_edges, max_vertices=s.max_vertices)
        if len(poly) < 3:
            continue
        region_gate[name] = gb.polygon(f"alot_{name}_region", parent, tube.cx, tube.cy, poly)
    gs.evaluate()
    excl: dict[str, str] = {}
    earlier: list[str] = []
    for r in order:
        name = _REGION_NAMES[r]
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


def _marker_rectangle(
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
class _Phenotypes:
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


def _phenotype_gates(
    gs: _GateSet, thr: Mapping[str, float], markers: Mapping[str, int], parent: str | None,
) -> _Phenotypes:
    """Phenotype gates from the positivity thresholds."""
    T = thr

    def rect(gid: str, bounds: dict[str, tuple[float | None, float | None]]) -> str | None:
        return _marker_rectangle(gs.gb, gid, parent, bounds, thr, markers)

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
    return _Phenotypes(t=g_t, b=g_b, nk=g_nk, tbl=g_tbl, cd34=g_34, mpo=g_mpo, linneg=g_linneg)


def _split_cd45_low(
    gs: _GateSet, excl: dict[str, str], linneg: str | None, parent: str | None
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


def _terminal_gates(
    gb: GateBuilder, parent: str | None, excl: Mapping[str, str], ph: _Phenotypes,
    blasts_gid: str | None, precursor_terms: list[tuple[str, int]], *, t_aberrant: bool,
) -> list[tuple[str, int]]:
    """Disjoint terminal gates and their label codes.

    Lymphocytes (minus blasts) split into T, B, NK and other; monocytes, granulocytes,
    eosinophils and CD45-negative minus blasts; the precursor terminals (minus the blasts
    when aberrant T blasts, gated on phenotype anywhere, were found); the blasts.
    """
    terms: list[tuple[str, int]] = []
    not_blast = [(blasts_gid, True)] if blasts_gid else []
    in_lymph = excl.get("lymphocytes")
    if in_lymph is not None:
        clean = gb.boolean("alot_lymphocytes_clean", parent, "and", [(in_lymph, False), *not_blast]) \
            if not_blast else in_lymph
        used: list[tuple[str, bool]] = []
        for gname, g in (("t", ph.t), ("b", ph.b), ("nk", ph.nk)):
            if g is None:
                continue
            gid = gb.boolean(f"alot_lymphocytes_{gname}", parent, "and", [(clean, False), (g, False), *used])
            terms.append((gid, LABEL_CODES[f"lymphocytes_{gname}"]))
            used.append((g, True))
        other = gb.boolean("alot_lymphocytes_other", parent, "and", [(clean, False), *used]) \
            if used else clean
        terms.append((other, LABEL_CODES["lymphocytes_other"]))
    for name in ("monocytes", "granulocytes", "eosinophils", "cd45_negative"):
        g = excl.get(name)
        if g is None:
            continue
        if not_blast:
            g = gb.boolean(f"alot_{name}_final", parent, "and", [(g, False), *not_blast])
        terms.append((g, LABEL_CODES[name]))
    for gid, code in precursor_terms:
        if not_blast and t_aberrant:
            # aberrant T blasts are gated on their phenotype anywhere; terminals stay disjoint
            gid = gb.boolean(f"{gid}_final", parent, "and", [(gid, False), *not_blast])
        terms.append((gid, code))
    if blasts_gid is not None:
        terms.append((blasts_gid, LABEL_CODES["blasts"]))
    return terms


def _label_all_events(
    events: Events, qc: Any, tube: _Tube, gates: list[Gate], terms: list[tuple[str, int]]
) -> tuple[np.ndarray, dict[str, int]]:
    """Labels of all events, computed from the gates in one pass, and the aggregate counts.

    QC labels are kept; QC survivors outside every terminal are ``unclassified``.
    """
    labels = np.asarray(qc.labels, dtype=np.uint8).copy()
    parent = tube.parent
    program = compile_gates(
        _gates_needed(gates, [g for g, _ in terms]),
        lambda dim: events.acquisition.channel_index(dim.channel),
        root_ids=() if parent is None else (parent,),
    )
    label_events(events.values, program, terms, root=tube.keep, labels=labels,
                 root_code=LABEL_CODES["unclassified"])
    per_code = label_counts(labels)
    counts = {
        name: int(sum(per_code[LABEL_CODES[m]] for m in members))
        for name, members in AGGREGATES.items()
    }
    return labels, counts


@dataclass(frozen=True, slots=True)
class _Gating:
    """What the earlier stages established, read by the blast-cluster stages.

    The settings and the specimen, the decision sample, the positivity thresholds and
    positive events, the anchors, the CD45/SSC region map, the gates built so far (with
    the exclusive region gates ``excl`` and the phenotype gates ``ph``). ``flags`` and
    ``landmarks`` are the result's lists, appended to by every stage.
    """

    events: Events
    s: AlotGatingSettings
    specimen: str | None
    small_settings: SmallClusterSettings | None
    tube: _Tube
    thr: dict[str, float]
    pos: dict[str, np.ndarray]
    a: _Anchors
    rm: _RegionMap
    gs: _GateSet
    ph: _Phenotypes
    excl: dict[str, str]
    flags: list[str]
    landmarks: dict[str, tuple[float, float]]


@dataclass(slots=True)
class _BlastCall:
    """The blast call, built up stage by stage.

    Attributes
    ----------
    lineage
        ``"none"`` (no abnormal cluster), ``"b"``, ``"t"``, ``"other"``, ``"cd34"``,
        ``"t_aberrant"``, ``"monocytic"`` or ``"granular"``.
    parts
        Ids of the gates whose union is the blasts.
    ref
        Sample rows of the blast cluster's counted events (reference for overlaps), or
        ``None``.
    precursor_terms
        (gate id, label code) terminals of the normal precursors of the blast region.
    """

    lineage: str = "none"
    parts: list[str] = field(default_factory=list)
    ref: np.ndarray | None = None
    precursor_terms: list[tuple[str, int]] = field(default_factory=list)


def _current_blasts(gs: _GateSet, parts: list[str], n: int) -> np.ndarray:
    """Sample events of the blast gates ``parts`` (evaluating any gate built since)."""
    gs.evaluate()
    return (np.logical_or.reduce([gs.masks[g] for g in parts]) if parts
            else np.zeros(n, bool))


def _blast_gate(gs: _GateSet, bc: _BlastCall, parent: str | None) -> str | None:
    """Id of the gate of all blasts (the union of ``bc.parts``); ``None`` in a normal
    sample (what is left in the blast region is other normal cells)."""
    if bc.lineage == "none":
        blasts_gid = None
    elif len(bc.parts) > 1:
        blasts_gid = gs.gb.boolean("alot_blasts", parent, "or", [(g, False) for g in bc.parts])
    else:
        blasts_gid = bc.parts[0] if bc.parts else None
    gs.evaluate()
    return blasts_gid


def _blast_region_cluster(ctx: _Gating, bc: _BlastCall) -> None:
    """The abnormal blast cluster of the blast region and its lineage.

    A leukemic B cluster is the dimmest compact CD45 (/ SSC, / CD34) cluster of the B-like
    events, apart from the hematogone continuum; otherwise the main CD45 / log SSC cluster of
    the other events, counted by its phenotype (lineage positive, CD7+, myeloid MPO level),
    is abnormal by its size (else the small-cluster screen). Sets ``bc`` (lineage, blast
    gates, precursor terminals, reference events), appends to flags and landmarks.
    """
    events, s, specimen, small_settings = ctx.events, ctx.s, ctx.specimen, ctx.small_settings
    data, parent, cx, cy = ctx.tube.sample.values, ctx.tube.parent, ctx.tube.cx, ctx.tube.cy
    n, nucleated, x_s = ctx.tube.sample.n_events, max(ctx.tube.sample.n_events, 1), ctx.tube.x45
    y_s, mk, present, thr, T = ctx.tube.ssc, ctx.tube.mk, list(ctx.tube.mk), ctx.thr, ctx.thr
    pos, neutro, neutro_sd, span45 = ctx.pos, ctx.a.neutro, ctx.a.neutro_sd, ctx.a.span45
    info, gb, masks, evaluate_new = ctx.rm.basins, ctx.gs.gb, ctx.gs.masks, ctx.gs.evaluate
    g_b, g_tbl, g_34, g_mpo = ctx.ph.b, ctx.ph.tbl, ctx.ph.cd34, ctx.ph.mpo
    g_linneg, excl, flags, landmarks = ctx.ph.linneg, ctx.excl, ctx.flags, ctx.landmarks

    def P(m: str) -> np.ndarray:
        return pos.get(m, np.zeros(n, dtype=bool))

    def rect(gid: str, bounds: dict[str, tuple[float | None, float | None]]) -> str | None:
        return _marker_rectangle(gb, gid, parent, bounds, thr, events.markers)

    cand = excl.get("blast_region")
    if cand is not None:
        m_c = masks[cand]
        n_c = int(m_c.sum())
        b_like = m_c & masks[g_b] if g_b else np.zeros(n, bool)
        t_like = m_c & masks[g_tbl] if g_tbl else np.zeros(n, bool)
        # hematogones form a CD45 continuum from dim to the lymphocytes; a leukemic B cluster
        # is a compact CD45 peak below it (or more B events than normal marrow holds)
        b_cut, b_abn = b_blast_cluster(data[b_like, cx], neutro[0], span45, nucleated, s,
                                        ref_sd=neutro_sd)
        n_bcl = int((data[b_like, cx] < b_cut).sum()) if b_abn else 0
        b_poly, b_mem, b_abn2 = b_blast_cluster_2d(data[b_like, cx], data[b_like, cy],
                                                    neutro[0], span45, nucleated, s,
                                                    ref_sd=neutro_sd)
        b_ycol = cy
        if b_poly is not None and b_abn2:
            b_abn, n_bcl = True, int(b_mem.sum())
        else:
            b_poly = None
            if b_abn and "CD34" in present:
                # no split on CD45/SSC: the leukemic cluster's edge against the hematogones
                # on CD45 vs CD34 (blasts: one homogeneous CD34 level; hematogones: a
                # stripe, CD34 lost as CD45 rises)
                b_poly, b_mem = b_cluster_cd45_cd34(data[b_like, cx],
                                                     mk["CD34"][b_like], b_cut, s)
                if b_poly is not None:
                    b_ycol, n_bcl = events.markers["CD34"], int(b_mem.sum())
        if b_abn and "CD34" in present:
            # a maturation continuum (CD34 lost as CD45 rises) is hematogones, however many
            bi = np.flatnonzero(b_like)
            mem = b_mem if b_poly is not None else data[bi, cx] < b_cut
            if maturation_continuum(data[bi[mem], cx].astype(np.float64),
                                     mk["CD34"][bi[mem]], s):
                b_abn, b_poly, n_bcl = False, None, 0
                flags.append("review_b_precursor_continuum")
        other_ev = m_c & ~b_like
        main, peak = main_cluster(data[other_ev, cx].astype(np.float64),
                                   data[other_ev, cy].astype(np.float64), s)
        # phenotype of the main cluster: a leukemic cluster is homogeneous; lineage-negative
        # events (basophils, plasma cells, debris) or CD7- CD34+ myeloid precursors next to
        # a lineage-positive / CD7+ cluster are other (normal) cells and are not counted
        clu = np.flatnonzero(other_ev)[main]
        lin_m = [m for m in ("CD34", "CD7", "cyMPO", "cyCD3")
                 if m in present and np.isfinite(thr[m])]
        linpos = (np.logical_or.reduce([pos[m][clu] for m in lin_m]) if lin_m
                  else np.zeros(clu.size, bool))
        counted = np.ones(clu.size, dtype=bool)
        lp = float(linpos.mean()) if clu.size else 0.0
        cluster_pheno = "any"
        core = None
        if lp >= s.cluster_lineage_positive_min:
            core = core_ellipse(data[clu[linpos], cx], data[clu[linpos], cy], s)
        if core is not None:
            counted = linpos | in_ellipse(data[clu, cx], data[clu, cy], core)
            cluster_pheno = "lineage_positive"
        if "CD7" in lin_m and linpos.sum() >= s.min_population_events:
            f7 = float(pos["CD7"][clu][linpos].mean())
            fmpo = float(P("cyMPO")[clu][linpos].mean())
            if f7 >= s.cluster_cd7_min and fmpo < s.cluster_mpo_max:
                counted &= pos["CD7"][clu]
                cluster_pheno = "cd7"
        share_poly = None
        mpo_level = float(thr.get("cyMPO", np.nan))
        if (cluster_pheno == "lineage_positive" and "cyMPO" in lin_m
                and float(pos["cyMPO"][clu][linpos].mean()) >= s.cluster_mpo_reference_min):
            # myeloid cluster: its MPO+ events are the blasts' reference on CD45 / SSC;
            # MPO- events (CD34+ normal precursors, MPO- blasts, basophils, plasma cells)
            # count only where blasts of that shape make up most of them
            # MPO+ blasts are homogeneous: MPO within a few SDs of their own peak; dimmer
            # MPO+ events (normal precursors' MPO-dim tail) are judged like MPO- ones
            mpo_v = mk["cyMPO"]
            pk = brightest_peak(mpo_v[clu[pos["cyMPO"][clu]]], s)
            if pk is not None and pk[0] - s.cluster_mpo_sd_k * pk[1] > thr["cyMPO"]:
                mpo_level = float(pk[0] - s.cluster_mpo_sd_k * pk[1])
            mpo_bl = mpo_v >= mpo_level
            ref = clu[mpo_bl[clu]]
            mix = np.flatnonzero(other_ev & ~mpo_bl)
            share_poly, _ = blast_share_polygon(data[ref, cx], data[ref, cy],
                                                 data[mix, cx], data[mix, cy], s)
            counted = mpo_bl[clu].copy()
            if share_poly is not None:
                counted |= in_polygon(data[clu, cx], data[clu, cy], share_poly)
            cluster_pheno = "myeloid"
        frac_other = float(counted.sum()) / nucleated
        bc.ref = clu[counted] if counted.sum() >= s.min_population_events else None
        landmarks["blast_cluster"] = peak
        landmarks["blast_cluster_fraction"] = (frac_other, float(other_ev.sum()) / nucleated)
        if b_abn:
            landmarks["b_cluster_cd45_cut"] = (b_cut, n_bcl / nucleated)
        if b_abn and n_bcl >= 0.4 * (n_c - (int(b_like.sum()) - n_bcl)):
            bc.lineage = "b"
        elif frac_other >= s.other_abnormal_min_fraction:
            bc.lineage = "t" if t_like.sum() >= 0.2 * (n_c - b_like.sum()) else "other"
        elif b_abn:
            bc.lineage = "b"
        if bc.lineage == "none":  # small abnormal populations: labelled or flagged
            sc = screen_small_clusters(x45=x_s, cand=m_c, b_like=b_like, cd34_pos=pos.get("CD34"),
                                       mpo_pos=pos.get("cyMPO"), neutro45=neutro[0],
                                       span45=span45, nucleated=nucleated, specimen=specimen,
                                       settings=small_settings)
            flags.extend(sc.flags)
            landmarks.update(sc.stats)
            if sc.lineage == "b":
                bc.lineage, b_poly, b_cut, b_ycol = "b", None, sc.b_cut, cx
            elif sc.lineage == "cd34" and g_34 is not None:
                bc.lineage = "cd34"
        elif (bc.lineage == "b" and n_bcl < s.other_review_max_fraction * nucleated
              and "small_blast_cluster_review" not in flags):
            # a small B cluster beside hematogones: its edge against them is uncertain
            flags.append("small_blast_cluster_review")
        excluded: list[tuple[str, bool]] = [(cand, False)]
        if g_b is not None and bc.lineage != "b":
            gid = gb.boolean("alot_b_precursors", parent, "and", [(cand, False), (g_b, False)])
            bc.precursor_terms.append((gid, LABEL_CODES["b_precursors"]))
            excluded.append((g_b, True))
        b_blast_gate = g_b
        if bc.lineage == "b" and (b_poly is not None or np.isfinite(b_cut)):
            lo45 = (gb.polygon("alot_b_blast_cluster", parent, cx, b_ycol, b_poly)
                    if b_poly is not None else
                    gb.rectangle("pheno_CD45_below_hematogones", parent, {cx: (None, b_cut)}))
            b_blast_gate = gb.boolean("pheno_B_blast", parent, "and", [(g_b, False), (lo45, False)])
            gid = gb.boolean("alot_b_precursors", parent, "and",
                             [(cand, False), (g_b, False), (lo45, True)])
            bc.precursor_terms.append((gid, LABEL_CODES["b_precursors"]))
        if g_34 is not None and bc.lineage == "none":
            ops = [(cand, False), (g_34, False)] + ([(g_b, True)] if g_b else [])
            gid = gb.boolean("alot_myeloid_precursors", parent, "and", ops)
            bc.precursor_terms.append((gid, LABEL_CODES["myeloid_precursors"]))
            excluded.append((g_34, True))
        if bc.lineage == "cd34":  # small CD34+ non-B cluster (small_clusters)
            excluded.append((g_34, False))
        if bc.lineage == "none":
            flags.append("no_abnormal_blast_cluster")
        elif bc.lineage == "other" and frac_other < s.other_review_max_fraction:
            # a small CD34+ myeloid cluster may be an expanded normal precursor
            # compartment (regenerating marrow): same CD45/SSC and ALOT phenotype
            flags.append("small_blast_cluster_review")
        if bc.lineage == "other":
            g_7 = rect("pheno_CD7", {"CD7": (T.get("CD7"), None)})
            if cluster_pheno == "cd7" and g_7 is not None:
                excluded.append((g_7, False))
                flags.append("blast_cluster_cd7_positive")
            elif cluster_pheno == "myeloid" and g_mpo is not None:
                g_lv = (g_mpo if mpo_level <= thr["cyMPO"] else gb.rectangle(
                    "pheno_MPO_blast_level", parent, {events.markers["cyMPO"]: (mpo_level, None)}))
                ops = [(g_lv, False)]
                if share_poly is not None:
                    ops.append((gb.polygon("alot_blast_share", parent, cx, cy, share_poly), False))
                excluded.append((gb.boolean("alot_blast_mpo_or_share", parent, "or", ops), False)
                            if len(ops) > 1 else (g_lv, False))
                flags.append("blast_cluster_myeloid")
            elif cluster_pheno == "lineage_positive" and g_linneg is not None and core is not None:
                # lineage-negative events are blasts only where the lineage-positive
                # blasts sit on CD45/SSC (basophils, plasma cells, debris lie elsewhere)
                g_core = gb.polygon("alot_blast_core", parent, cx, cy,
                                    ellipse_polygon(core, s.max_vertices))
                g_keep = gb.boolean("alot_blast_core_or_lineage", parent, "or",
                                    [(g_linneg, True), (g_core, False)])
                excluded.append((g_keep, False))
                flags.append("blast_cluster_lineage_positive")
        lineage_gate = {"b": b_blast_gate, "t": g_tbl}.get(bc.lineage)
        if lineage_gate is not None:
            # lymphoid blasts carry their lineage marker: the rest of the region (monocyte
            # tails, myeloid precursors, basophils) stays out of the blast count
            excluded = [(cand, False), (lineage_gate, False)]
        if len(excluded) > 1:
            bc.parts.append(gb.boolean("alot_blast_region_other", parent, "and", excluded))
        else:
            bc.parts.append(cand)
        if bc.lineage == "other" and cluster_pheno != "cd7":
            # a myeloid blast cloud is one density basin on CD45/SSC: its parts beyond the
            # textbook region lines (monocyte CD45, granulocyte SSC) are blasts too
            ext_poly, n_model = extrapolated_cluster(
                x_s[clu], y_s[clu], np.ones(clu.size, bool), peak, x_s, y_s,
                bins=s.cluster_bins, sigma_bins=s.cluster_sigma_bins,
                share_min=s.extend_share_min, sd_k=s.extend_sd_k, max_vertices=s.max_vertices,
                peaks=[(b["x"], b["y"]) for b in info], peak_sd_k=s.extend_peak_sd_k)
            if ext_poly is not None:
                g_ext = gb.polygon("alot_blast_cloud", parent, cx, cy, ext_poly)
                for name in ("monocytes", "granulocytes"):
                    reg = excl.get(name)
                    if reg is None:
                        continue
                    bc.parts.append(gb.boolean(f"alot_blast_cloud_in_{name}", parent, "and",
                                                  [(reg, False), (g_ext, False)]))
                landmarks["blast_cloud_model"] = (n_model / nucleated, 0.0)
                flags.append("blast_cluster_cloud_extended")
        masks = evaluate_new()
        if lineage_gate is not None and g_34 is not None:
            # bilineal leukemia: beside lymphoid blasts, CD34+ events without that lineage
            # far beyond the normal CD34+ myeloid precursors are a second blast population
            rest = m_c & ~masks[lineage_gate] & masks[g_34] & ~b_like & ~t_like
            f_rest = float(rest.sum()) / nucleated
            if f_rest >= s.second_lineage_cd34_min_fraction:
                ops = [(cand, False), (g_34, False)] + ([(g_b, True)] if g_b else [])
                bc.parts.append(gb.boolean("alot_blasts_second_lineage_cd34", parent,
                                              "and", ops))
                landmarks["second_lineage_cd34"] = (f_rest, 0.0)
                flags.append("review_second_blast_lineage_cd34")
                masks = evaluate_new()


def _t_aberrant_blasts(ctx: _Gating, bc: _BlastCall) -> None:
    """T-lineage blasts, an aberrant phenotype at any frequency.

    cyCD3 as bright as the mature T cells (the internal control) without their smCD3;
    NK cells are cyCD3 dim. Gated on phenotype anywhere on CD45/SSC.
    """
    events, s, parent = ctx.events, ctx.s, ctx.tube.parent
    nucleated, x_s, mk = max(ctx.tube.sample.n_events, 1), ctx.tube.x45, ctx.tube.mk
    lymph, t_cells, gb, evaluate_new = ctx.a.lymph, ctx.a.t_cells, ctx.gs.gb, ctx.gs.evaluate
    flags, landmarks = ctx.flags, ctx.landmarks

    t_ab = t_aberrant_bounds(x_s, t_cells, mk, lymph[0], s) if bc.lineage != "t" else None
    if t_ab is not None:
        cy_lo, sm_hi = t_ab
        n_ab = int(((mk["cyCD3"] >= cy_lo) & (mk["smCD3"] < sm_hi)).sum())
        if n_ab >= max(s.t_aberrant_min_events, s.t_aberrant_min_fraction * nucleated):
            g_tab = gb.rectangle("pheno_T_aberrant", parent,
                                 {events.markers["cyCD3"]: (cy_lo, None),
                                  events.markers["smCD3"]: (None, sm_hi)})
            if bc.lineage == "none":  # the blast region holds normal cells only
                bc.parts = []
                bc.lineage = "t_aberrant"
            bc.parts.append(g_tab)
            if "no_abnormal_blast_cluster" in flags:
                flags.remove("no_abnormal_blast_cluster")
            flags.append("blast_cluster_t_aberrant")
            if n_ab < s.other_review_max_fraction * nucleated:
                flags.append("small_blast_cluster_t_aberrant")
            landmarks["t_aberrant"] = (float(n_ab) / nucleated, float(cy_lo))
            evaluate_new()


def _blasts_in_normal_regions(ctx: _Gating, bc: _BlastCall) -> None:
    """Blasts hiding in the lymphocyte, monocyte and granulocyte gates.

    The blast cluster's phenotype (cyCD3 without smCD3, CD34, MPO on CD45 vs MPO where
    the blasts' own spread reaches) pulls its events out of the normal regions.
    """
    events, s, data, parent = ctx.events, ctx.s, ctx.tube.sample.values, ctx.tube.parent
    cx, n, y_s, present = ctx.tube.cx, ctx.tube.sample.n_events, ctx.tube.ssc, list(ctx.tube.mk)
    neutro, span45, ylo, lr_g = ctx.a.neutro, ctx.a.span45, ctx.a.ylo, ctx.a.lr_g
    mono_pos, gb, masks, g_tbl = ctx.a.mono_pos, ctx.gs.gb, ctx.gs.masks, ctx.ph.tbl
    g_34, g_mpo, excl, flags = ctx.ph.cd34, ctx.ph.mpo, ctx.excl, ctx.flags

    # phenotype of the blast cluster -> blasts hiding in the lymphocyte / monocyte gates
    blast_cluster = (
        np.logical_or.reduce([masks[g] for g in bc.parts]) if bc.parts else np.zeros(n, bool)
    )
    n_blasts_core = int(blast_cluster.sum())
    in_lymph = excl.get("lymphocytes")
    in_mono = excl.get("monocytes")
    if bc.lineage != "none" and n_blasts_core >= s.min_population_events:
        def frac_pos(g: str | None) -> float:
            if g is None:
                return 0.0
            return float((masks[g] & blast_cluster).sum()) / n_blasts_core

        if (in_lymph is not None and g_tbl is not None and bc.lineage != "t_aberrant"
                and frac_pos(g_tbl) >= 0.3):
            bc.parts.append(gb.boolean(
                "alot_tblasts_in_lymph", parent, "and", [(in_lymph, False), (g_tbl, False)]))
            flags.append("blasts_overlap_lymphocytes_resolved_by_lineage")
        in_gran = excl.get("granulocytes")
        if g_34 is not None and frac_pos(g_34) >= 0.3:
            # normal lymphocytes, monocytes and neutrophils are CD34-negative
            for reg, tag in ((in_lymph, "lymph"), (in_mono, "mono"), (in_gran, "gran")):
                if reg is None:
                    continue
                bc.parts.append(gb.boolean(
                    f"alot_cd34_blasts_in_{tag}", parent, "and", [(reg, False), (g_34, False)]))
        def add_blastlike(region: str, m_region: np.ndarray, normal: np.ndarray, mcol: int,
                          p_beyond: float, enough: bool, gate_id: str, bool_id: str,
                          flag: str) -> None:
            # blasts expected in ``region`` (``p_beyond`` of the blasts' own spread lies
            # there); on CD45 vs MPO, the blast density weighted by that expectation must
            # beat the density of the region's ``normal`` events
            n_expect = bc.ref.size * p_beyond / max(1.0 - p_beyond, 1e-3)
            if not (n_expect >= s.min_population_events and enough):
                return
            poly = closer_to_blasts((data[bc.ref, cx], data[bc.ref, mcol]),
                                     (data[normal, cx], data[normal, mcol]), s,
                                     prior=n_expect / float(m_region.sum()))
            if poly is None:
                return
            g = gb.polygon(gate_id, parent, cx, mcol, poly)
            bc.parts.append(gb.boolean(bool_id, parent, "and", [(region, False), (g, False)]))
            flags.append(flag)

        in_gran = excl.get("granulocytes")
        if (bc.lineage == "other" and in_gran is not None and "cyMPO" in present
                and bc.ref is not None):
            # myeloid blasts whose SSC reaches the granulocytes: on CD45 vs MPO they stay
            # apart from the neutrophils (dimmer CD45, MPO below the neutrophil level)
            mcol = events.markers["cyMPO"]
            g_in = masks[in_gran]
            ref = g_in & (y_s >= neutro[1])
            # expected blasts above the granulocyte SSC boundary, from the blasts' own
            # log-SSC spread (log-normal), per granulocyte-gate event
            lb = np.log(np.maximum(y_s[bc.ref], 1e-6))
            p_hi = robust_tail_above(lb, float(np.log(ylo) + s.gran_ssc_position * lr_g))
            add_blastlike(in_gran, g_in, ref, mcol, p_hi, g_in.any(), "pheno_CD45_MPO_blastlike",
                          "alot_blasts_in_gran", "blasts_overlap_granulocytes_resolved_by_cd45_mpo")
        if (in_mono is not None and g_mpo is not None and frac_pos(g_mpo) >= 0.3
                and bc.ref is not None):
            # MPO+ blasts overlapping monocytes (also MPO+): expected only as far as the
            # blasts' own CD45 / SSC spread reaches the monocyte gate; there, on CD45 vs
            # MPO, the blasts' density (times that expectation) must beat the monocytes'
            mcol = events.markers["cyMPO"]
            m_in = masks[in_mono]
            xb = data[bc.ref, cx].astype(np.float64)
            lb = np.log(np.maximum(y_s[bc.ref], 1e-6))
            p_in = (robust_tail_above(xb, neutro[0] + mono_pos * span45)
                    * robust_tail_above(lb, float(np.log(ylo * s.mono_ssc_ratio_min))))
            add_blastlike(in_mono, m_in, m_in, mcol, p_in, m_in.sum() > 20,
                          "pheno_CD45_MPO_blastlike_mono", "alot_mpo_blasts_in_mono",
                          "blasts_overlap_monocytes_resolved_by_lineage")


def _monocytic_expansion(ctx: _Gating, bc: _BlastCall) -> None:
    """A monocyte gate far larger than normal: a monocytic blast expansion.

    Normal marrow / blood holds a few percent of monocytes; a larger monocyte-gate population
    is called blasts (flagged for review when moderate); normal monocytes, if separate, are
    the brighter CD45 peak above it.
    """
    s, data, parent, cx = ctx.s, ctx.tube.sample.values, ctx.tube.parent, ctx.tube.cx
    n, nucleated, gb = ctx.tube.sample.n_events, max(ctx.tube.sample.n_events, 1), ctx.gs.gb
    masks, flags, landmarks = ctx.gs.masks, ctx.flags, ctx.landmarks
    in_mono = ctx.excl.get("monocytes")

    if in_mono is not None:
        mono_m = masks[in_mono]
        f_mono = float((mono_m & ~_current_blasts(ctx.gs, bc.parts, n)).sum()) / nucleated
        landmarks["monocyte_fraction"] = (f_mono, float(mono_m.sum()) / nucleated)
        if s.mono_review_min_fraction <= f_mono < s.mono_abnormal_min_fraction:
            # monocytosis beyond normal marrow/blood: monocytic blasts share the monocytes'
            # CD45/SSC and ALOT phenotype (MPO dim, CD34-), so ALOT cannot tell them apart
            flags.append("monocyte_expansion_review")
        if float(mono_m.sum()) / nucleated >= s.mono_abnormal_min_fraction:
            x_m = data[mono_m, cx].astype(np.float64)
            d = dens.density_1d(x_m, lo=float(x_m.min()) - 0.05, hi=float(x_m.max()) + 0.05,
                                bins=128, sigma_bins=2.0)
            pk = sorted((p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=0.1)
                         if p.mass >= 0.05), key=lambda p: p.position)
            if bc.lineage == "none":
                bc.parts = []
                flags.remove("no_abnormal_blast_cluster")
                bc.lineage = "monocytic"
            if len(pk) >= 2:
                cut = dens.valley_between(d, pk[-2].position, pk[-1].position)
                g = gb.rectangle("pheno_CD45_below_monocytes", parent, {cx: (None, cut)})
                bc.parts.append(gb.boolean(
                    "alot_monocytic_blasts", parent, "and", [(in_mono, False), (g, False)]))
            else:
                # the whole gate, as its own gate: a region gate that is also an operand of
                # other terminals is not used as a terminal itself
                g = gb.rectangle("pheno_CD45_below_monocytes", parent,
                                 {cx: (None, float(x_m.max()) + 1.0)})
                bc.parts.append(gb.boolean(
                    "alot_monocytic_blasts", parent, "and", [(in_mono, False), (g, False)]))
            flags.append("monocytic_expansion_called_blasts")
            if (float(mono_m.sum()) / nucleated < s.mono_call_review_max_fraction
                    and "monocyte_expansion_review" not in flags):
                # a moderate expansion may still be a reactive monocytosis
                flags.append("monocyte_expansion_review")


def _granulocyte_checks(ctx: _Gating, bc: _BlastCall) -> None:
    """Hypergranular blasts and an atypical granulocyte SSC spread.

    Outside marrow, a discrete CD45-dim peak of the granulocyte gate is a hypergranular blast
    cluster (maturing neutrophils are a continuum); a granulocyte population spread far wider
    on SSC than maturing neutrophils goes to review.
    """
    s, specimen, parent, cx = ctx.s, ctx.specimen, ctx.tube.parent, ctx.tube.cx
    n, nucleated, x_s = ctx.tube.sample.n_events, max(ctx.tube.sample.n_events, 1), ctx.tube.x45
    y_s, gb, masks, excl, flags = ctx.tube.ssc, ctx.gs.gb, ctx.gs.masks, ctx.excl, ctx.flags
    landmarks = ctx.landmarks

    g_gran = excl.get("granulocytes")
    if g_gran is not None and s.gran_dim_min_fraction < 1.0 and specimen != "BM":
        # hypergranular CD34- blasts: neutrophil SSC and MPO, but their own CD45-dim peak
        # (maturing neutrophils are a continuum with one peak at the mature end)
        gm = masks[g_gran] & ~_current_blasts(ctx.gs, bc.parts, n)
        dim = dim_granular_cluster(x_s[gm], nucleated, min_fraction=s.gran_dim_min_fraction,
                                   min_peak_mass=s.gran_dim_peak_mass,
                                   min_prominence=s.gran_dim_prominence)
        if dim is not None:
            if bc.lineage == "none":
                bc.parts = []
                flags.remove("no_abnormal_blast_cluster")
                bc.lineage = "granular"
            g = gb.rectangle("pheno_CD45_below_neutrophils", parent, {cx: (None, dim[0])})
            bc.parts.append(gb.boolean("alot_granular_blasts", parent, "and",
                                          [(g_gran, False), (g, False)]))
            landmarks["granular_blast_cluster"] = (dim[1], dim[0])
            flags.append("granular_blast_cluster_review")
    if g_gran is not None:
        gm = masks[g_gran] & ~_current_blasts(ctx.gs, bc.parts, n)
        if gm.sum() >= s.min_control_events:
            gi = np.flatnonzero(gm)
            lg = np.log(np.maximum(y_s[gi[:: max(1, gi.size // 20_000)]], 1e-6))
            sd_g = float(np.median(np.abs(lg - np.median(lg)))) / 0.6745
            f_g = float(gm.sum()) / nucleated
            landmarks["granulocyte_log_ssc_sd"] = (sd_g, f_g)
            if sd_g >= s.gran_ssc_sd_review and f_g >= s.gran_review_min_fraction:
                # maturing neutrophils have a characteristic SSC spread; a large
                # 'granulocyte' population spread far wider may hide hypergranular blasts
                # that share the neutrophils' CD45, SSC and MPO (not separable on ALOT)
                flags.append("review_granulocyte_ssc_atypical")


def gate_alot(
    events: Events, qc: Any, *, settings: AlotGatingSettings | None = None,
    specimen: str | None = None, small_settings: SmallClusterSettings | None = None,
) -> GatingResult:
    """Gate an ALOT tube: CD45/SSC populations, lymphocyte subsets and the blast cluster.

    Parameters
    ----------
    events
        Pre-processed events (display scale) with the ALOT markers mapped
        (``CD45`` required; the lineage markers are used when present).
    qc
        QC result with ``keep`` (bool [n]: nucleated survivors), ``labels`` (uint8 [n])
        and ``gates`` (their last gate is the parent of the ALOT gates; may be empty).
    settings
        Parameters; defaults when ``None``.
    specimen
        ``"BM"`` (bone marrow), ``"PB"`` (peripheral blood) or ``None`` (unknown). Used
        only where the biology differs: blood holds no myeloid/B precursors, so a
        CD45-dim cluster there is judged without the marrow's normal precursor allowance
        (here and in the small-cluster screen, :mod:`cytomics.gating.small_clusters`,
        which judges an unknown specimen as marrow).
    small_settings
        Thresholds of the small-cluster screen; defaults when ``None``.

    Returns
    -------
    GatingResult
        Labels computed from the returned gates, counts and review flags.

    Raises
    ------
    PanelMismatchError
        When CD45 or a side-scatter channel is missing.
    ConfigError
        When ``specimen`` is not ``"BM"``, ``"PB"`` or ``None``.
    """
    s = settings or AlotGatingSettings()
    if specimen is not None and specimen not in ("BM", "PB"):
        raise ConfigError(f"gating: specimen must be 'BM', 'PB' or None, got {specimen!r}")
    if specimen == "PB":
        # blood: no hematogone continuum in the blast region
        s = replace(s, b_abnormal_min_fraction=s.pb_b_abnormal_min_fraction)
    flags: list[str] = []
    landmarks: dict[str, tuple[float, float]] = {}

    # 1. the decision sample and each marker's positivity threshold ---------------------------
    tube = _sample_tube(events, qc, s)
    thr, pos = _lineage_thresholds(tube, s)
    # 2. anchors from internal controls -------------------------------------------------------
    a = _read_anchors(tube, pos, s, flags=flags, landmarks=landmarks)
    # 3-4. CD45/SSC density basins, every bin named relative to the anchors -----------------
    rm = _region_map(tube, a, pos, s)
    # 5. region polygons ----------------------------------------------------------------------
    gs = _GateSet(tube.sample, tube.parent)
    region_gate, excl = _region_gates(gs, rm, tube, s)
    # 6. phenotype gates (rectangles on the lineage markers); CD45-low split by lineage -------
    ph = _phenotype_gates(gs, thr, events.markers, tube.parent)
    _split_cd45_low(gs, excl, ph.linneg, tube.parent)

    # 7. the blast cluster and the lineage markers' overlap resolution -----------------------
    ctx = _Gating(events=events, s=s, specimen=specimen, small_settings=small_settings, tube=tube,
                thr=thr, pos=pos, a=a, rm=rm, gs=gs, ph=ph, excl=excl, flags=flags,
                landmarks=landmarks)
    bc = _BlastCall()
    _blast_region_cluster(ctx, bc)
    _t_aberrant_blasts(ctx, bc)
    _blasts_in_normal_regions(ctx, bc)
    _monocytic_expansion(ctx, bc)
    _granulocyte_checks(ctx, bc)
    blasts_gid = _blast_gate(gs, bc, tube.parent)

    # 8. terminal gates (disjoint) ------------------------------------------------------------
    terms = _terminal_gates(gs.gb, tube.parent, excl, ph, blasts_gid, bc.precursor_terms,
                            t_aberrant="t_aberrant" in landmarks)
    # 9. labels of all events, from the gates, in one pass ---------------------------------
    labels, counts = _label_all_events(events, qc, tube, gs.gb.gates, terms)
    for name in ("lymphocytes", "monocytes", "granulocytes", "cd45_negative"):
        if counts[name] < s.min_population_events:
            flags.append(f"population_missing:{name}")
    if "neutrophils" not in landmarks:
        flags.append("neutrophil_anchor_missing")
    return GatingResult(
        labels=labels,
        gates=gs.gb.gates,
        counts=counts,
        flags=flags,
        terminals=terms,
        region_gates=region_gate,
        thresholds={m: float(v) for m, v in thr.items()},
        landmarks=landmarks,
        axes={"cd45": tube.cx, "ssc": tube.cy},
    )


def label_name(code: int) -> str:
    """Name of a label code."""
    return LABEL_NAMES[int(code)]
