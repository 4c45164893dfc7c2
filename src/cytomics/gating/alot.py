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

import math
from collections.abc import Mapping
from dataclasses import dataclass, field, fields, replace
from typing import Any

import numpy as np

from cytomics.errors import ConfigError, PanelMismatchError
from cytomics.gating import density as dens
from cytomics.gating.counting import label_counts
from cytomics.gating.gates import Gate
from cytomics.gating.myeloid import dim_granular_cluster, extrapolated_cluster
from cytomics.gating.program import compile_gates, label_events
from cytomics.gating.small_clusters import SmallClusterSettings, screen_small_clusters
from cytomics.gating.strategy import GateBuilder, evaluate_gates
from cytomics.order_stats import median, quantiles
from cytomics.populations import AGGREGATES, LABEL_CODES, LABEL_NAMES
from cytomics.preprocess.model import Events

__all__ = ["AlotGatingSettings", "GatingResult", "gate_alot"]

LINEAGE_MARKERS = ("cyMPO", "cyCD79a", "CD34", "CD19", "CD7", "smCD3", "cyCD3")


@dataclass(frozen=True, slots=True)
class AlotGatingSettings:
    """Tunable parameters of the ALOT gating (display-scale units unless noted).

    Attributes
    ----------
    bins
        Bins per axis of the CD45/SSC density.
    sigma_bins
        Gaussian smoothing of the CD45/SSC density, in bins.
    rel_persistence
        Relative depth of the valley that keeps two CD45/SSC density peaks apart.
    floor_fraction
        Density (fraction of the maximum) below which a bin belongs to no basin.
    min_basin_mass
        Basins with fewer events than this fraction are merged into a neighbour.
    marker_bins, marker_sigma_bins
        1-D densities used for marker positivity thresholds.
    marker_min_height
        Smallest peak (fraction of the highest) taken as a marker population.
    marker_min_prominence
        A marker density peak must stand out by this fraction of the highest peak; lower
        bumps (e.g. the spread of a negative population after compensation) merge into
        their neighbour.
    marker_tail_fraction
        With a single (negative) peak, the threshold is where the density falls to this
        fraction of that peak on its upper side.
    marker_zero_margin
        Peaks more than this below the display value of a raw 0 are compensation spread.
    marker_positive_offset
        A marker whose lowest peak lies this far above the tube's unstained level has no
        visible negative peak (blasts positive and dominant).
    control_peak_separation
        smCD3 positivity is re-read off the mature T cells (see
        :func:`control_refined_threshold`): their peak must stand out by this fraction of
        its own height; ``control_cd45_sd_k``: CD45 distance (control's robust SDs) of the
        events it would move out of the positive gate.
    min_control_events
        Minimum events for an internal control (T cells, neutrophils) to anchor positions.
    anchor_min_peak_mass, anchor_window
        Mature T cells are the brightest CD45 peak (holding at least this share) of the
        smCD3+ cyCD3+ events; the anchor is their median within this CD45 window.
    default_lymph_cd45_offset
        Lymphocyte CD45 minus neutrophil CD45 assumed when one of the two anchors is missing.
    lymph_ssc_ratio_max
        Lymphocyte gate: SSC up to this multiple of the T-cell SSC (linear SSC).
    mono_ssc_ratio_min
        Monocytes: SSC at least this multiple of the T-cell SSC.
    gran_ssc_position
        Granulocytes: above this fraction of the way (log SSC) from lymphocytes to
        neutrophils.
    default_neutrophil_ssc_ratio
        Neutrophil SSC / lymphocyte SSC assumed when no neutrophils are present.
    lymph_cd45_position, mono_cd45_position
        Lowest CD45 (fraction of the way from neutrophil to lymphocyte CD45 peak) of
        lymphocytes / monocytes.
    cd45neg_position
        CD45-negative region: CD45 below this fraction of the way from the unstained level
        (negative peaks of the lineage markers) to the lymphocytes. Only lineage-negative
        events of that region are called CD45-negative; lineage-positive ones join the blasts.
    mono_cd45_position_min, mono_cd45_sd_k
        The monocyte gate reaches down to ``mono_cd45_sd_k`` robust SDs below the CD45
        peak of the monocytes (brightest CD45 peak at intermediate SSC), but not below
        ``mono_cd45_position_min`` nor above ``mono_cd45_position``.
    lymph_cd45_floor
        A lymphocyte or monocyte density basin may extend down to this CD45 position
        (0 neutrophils, 1 lymphocytes) when the density valley lies there.
    b_abnormal_min_fraction
        CD19+ cyCD79a+ events in the blast region (CD45 dim/negative, SSC low) are normal B
        precursors (hematogones) unless they reach this fraction of nucleated events.
    b_cluster_min_fraction, b_cluster_sd_k, hematogone_cd45_floor
        A smaller compact B cluster (at least ``b_cluster_min_fraction`` of nucleated) is
        abnormal when its CD45 peak lies below the earliest hematogones, i.e. more than
        ``hematogone_cd45_floor`` neutrophil-to-lymphocyte CD45 distances below the
        neutrophils. The cluster is the dimmest density basin of the B-like events on
        CD45 / log SSC (a polygon) when they split into several; otherwise it ends at the
        CD45 valley to the hematogones or ``b_cluster_sd_k`` robust SDs above its peak
        (hematogones above stay normal).
    b_compact_min_fraction, b_compact_sd_ratio
        Shape rule, independent of where the hematogones sit on CD45: hematogones are a
        maturation continuum spread along CD45, a leukemic B population a compact,
        homogeneous cluster. A B cluster holding at least ``b_compact_min_fraction`` of
        nucleated events whose CD45 robust SD is at most ``b_compact_sd_ratio`` times
        that of the neutrophils (a homogeneous normal population of the same tube: the
        instrument's spread) is abnormal however close its CD45 lies to the hematogones.
    b_cd34_merge_sd_k
        When a B cluster is called abnormal but does not split from the hematogones on
        CD45 / SSC, its edge is drawn on CD45 vs CD34 (hematogones: a stripe losing CD34
        as CD45 rises; blasts: one compact cloud at the dim end): the density basins of
        the B-like events whose CD45 peak lies within ``b_cd34_merge_sd_k`` robust CD45
        SDs of the main one (CD34+ and CD34- blast subsets at the same CD45), plus every
        CD34 level up to ``b_cd34_core_sd_k`` robust SDs above the main basin's CD45 median.
    b_continuum_rho_max, b_continuum_min_events
        Hematogone maturation continuum: CD34 is lost as CD45 rises, so across a normal B
        precursor population the rank correlation of CD45 and CD34 is strongly negative; a
        leukemic B cluster is homogeneous (CD34+ or CD34- or both at the same CD45: no such
        trend). A B cluster the rules above would call abnormal is kept as B precursors,
        with the review flag ``review_b_precursor_continuum``, when its Spearman correlation
        of CD45 and CD34 (over at least ``b_continuum_min_events`` events) is at most
        ``b_continuum_rho_max``.
    t_aberrant_cy_sd_k, t_aberrant_sm_sd_k, t_aberrant_min_events, t_aberrant_min_fraction
        T-lineage blasts are cyCD3 bright (as the mature T cells) but smCD3 negative/dim;
        no normal cell is (NK cells: cyCD3 dim). With the mature T cells (the CD45-brightest
        smCD3+ cyCD3+ events) as the internal control, events with cyCD3 above their median
        minus ``t_aberrant_cy_sd_k`` robust SDs and smCD3 below their median minus
        ``t_aberrant_sm_sd_k`` robust SDs are aberrant T cells. When at least
        ``t_aberrant_min_events`` and ``t_aberrant_min_fraction`` of nucleated events are,
        and no T-blast cluster was found otherwise, they are T blasts at any frequency
        (flag ``blast_cluster_t_aberrant``; below ``other_review_max_fraction``
        also ``small_blast_cluster_t_aberrant``).
    second_lineage_cd34_min_fraction
        Beside a lymphoid (B or T) blast population, CD34+ events of the blast region
        outside that lineage (and not B-like) holding at least this fraction of nucleated
        events are a second (bilineal) blast population; normal CD34+ myeloid precursors
        hold a few percent. They join the blasts with the review flag
        ``review_second_blast_lineage_cd34``.
    gran_ssc_sd_review, gran_review_min_fraction
        Granulocytes (granulocyte-gate events not called blasts) holding at least
        ``gran_review_min_fraction`` of nucleated events with a log-SSC robust SD of at
        least ``gran_ssc_sd_review`` (maturing neutrophils: ~0.19-0.21 in the simulated
        normal marrows and bloods used for tuning) raise
        ``review_granulocyte_ssc_atypical``: hypergranular CD34- blasts with the
        neutrophils' CD45, SSC and MPO are not separable on the ALOT markers.
    gran_dim_min_fraction, gran_dim_peak_mass, gran_dim_prominence
        Granulocyte-gate events (not already blasts) below the CD45 valley to a dimmer,
        separate CD45 peak (holding ``gran_dim_peak_mass`` of them and standing out by
        ``gran_dim_prominence`` of the highest peak) are hypergranular blasts when they
        hold at least ``gran_dim_min_fraction`` of nucleated events (flag
        ``granular_blast_cluster_review``; see
        :func:`cytomics.gating.myeloid.dim_granular_cluster`). 1.0 disables the rule.
        Not applied to bone marrow (``specimen="BM"``), where promyelocytes and myelocytes
        can pile up at the dim end of the maturation continuum; blood neutrophils are
        mature.
    pb_b_abnormal_min_fraction
        In peripheral blood (``specimen="PB"``) there is no hematogone continuum: B-like
        (CD19+ cyCD79a+) events of the CD45-dim blast region are abnormal from this
        fraction of nucleated events (replaces ``b_abnormal_min_fraction``). The non-B
        threshold is not lowered: blood basophils, monocyte tails and CD45-dim debris
        reach 1-2% (a 2% threshold called blasts in a normal blood).
    other_abnormal_min_fraction
        Non-B events of the blast region form an abnormal (non-B) blast population only
        when their *main cluster* (the density basin on CD45 / log SSC holding most of
        them) reaches this fraction of nucleated events. Normal CD45-dim cells (CD34+
        myeloid precursors, basophils, plasma cells) are small separate clouds, so their
        total may exceed what any one of them holds.
    other_review_max_fraction
        An abnormal non-B cluster smaller than this fraction of nucleated events gets the
        review flag ``small_blast_cluster_review`` (an expanded normal CD34+ myeloid
        precursor compartment has the same CD45/SSC position and ALOT phenotype).
    mono_abnormal_min_fraction
        A monocyte gate holding at least this fraction of nucleated events is a monocytic
        blast expansion (normal marrow and blood hold a few percent of monocytes): its
        events below the CD45 valley to a brighter (normal monocyte) peak, or all of them
        with one peak, are blasts (flag ``monocytic_expansion_called_blasts``; below
        ``mono_call_review_max_fraction`` also ``monocyte_expansion_review``: a moderate
        expansion may be a reactive monocytosis).
    mono_review_min_fraction
        Monocytes (monocyte-gate events not already called blasts) holding at least this
        fraction of nucleated events, but less than ``mono_abnormal_min_fraction``, raise
        ``monocyte_expansion_review``: beyond normal marrow/blood monocytes (monocytosis:
        more than 10% of leukocytes),
        and monocytic blasts are not separable from monocytes on the ALOT markers.
    cluster_lineage_positive_min, cluster_core_sd_k
        When at least ``cluster_lineage_positive_min`` of the main cluster is positive for
        a lineage marker (CD34, CD7, cyMPO, cyCD3), lineage-negative events count (and are
        gated) as blasts only inside the core of the lineage-positive ones on CD45 / log
        SSC (an ellipse of ``cluster_core_sd_k`` robust SDs around their median); the
        lineage-negative basophils, plasma cells and debris elsewhere in the region do not.
    cluster_cd7_min, cluster_mpo_max
        A cluster whose lineage-positive events are at least ``cluster_cd7_min`` CD7+ and
        less than ``cluster_mpo_max`` MPO+ is a CD7+ (non-myeloid) blast population:
        its CD7- events (normal CD34+ myeloid precursors) are not blasts.
    cluster_mpo_reference_min, blast_share_core, blast_share_quantile, blast_share_min
        A (non-B, non-CD7) cluster whose lineage-positive events are at least
        ``cluster_mpo_reference_min`` MPO+ is myeloid: its MPO+ events are the blasts'
        reference. Events of the blast region without MPO (CD34+ MPO- normal myeloid
        precursors, MPO- blasts, basophils, plasma cells) are blasts only where, on CD45 /
        log SSC, blasts with the reference's shape make up at least ``blast_share_min`` of
        them; the number of such blasts is the ``blast_share_quantile`` of the density
        ratio (others / reference) over the reference's core (density at least
        ``blast_share_core`` of its peak).
    cluster_mpo_sd_k
        MPO+ blasts are homogeneous: the reference (and the MPO+ events counted without
        the share test) are those within ``cluster_mpo_sd_k`` robust SDs (upper flank) of
        the brightest MPO peak of the cluster's MPO+ events, when that bound lies above the
        MPO threshold (the MPO-dim tail of normal precursors is judged like MPO- events).
    cluster_bins, cluster_sigma_bins, cluster_rel_persistence, cluster_floor_fraction
        Density (bins per axis, smoothing in bins) and basin split (valley depth, floor)
        used to find that main cluster.
    neutrophil_peak_min_mass, neutrophil_mpo_tie_sd
        The neutrophil anchor is one log-SSC density peak of the high-SSC MPO+ events
        (peaks holding at least ``neutrophil_peak_min_mass`` of them): the MPO-brightest
        one (neutrophils set the tube's MPO level), the largest of those within
        ``neutrophil_mpo_tie_sd`` robust SDs of it. MPO+ blasts reaching the granulocyte
        SSC (a lower, MPO-dimmer peak) and eosinophils (a higher one) stay out of it.
    extend_share_min, extend_sd_k
        A non-lymphoid blast cluster cut by the monocyte / granulocyte region lines is
        extrapolated from its uncut flanks (a 2-D normal on CD45 / log SSC, see
        :func:`cytomics.gating.myeloid.extrapolated_cluster`): monocyte- and
        granulocyte-gate events where that cloud makes up at least ``extend_share_min`` of
        all events, within ``extend_sd_k`` SDs of its peak, are blasts. The cloud's CD45
        centre is the nearest CD45/SSC density peak within ``extend_peak_sd_k`` SDs of the
        clipped part's own peak.
    max_vertices
        Vertex budget of every polygon gate.
    min_population_events
        Populations with fewer events are flagged ``population_missing:<name>``.
    sample_events
        Events sampled (deterministically) for per-basin statistics.
    """

    bins: int = 128
    sigma_bins: float = 2.0
    rel_persistence: float = 0.45
    floor_fraction: float = 0.002
    min_basin_mass: float = 0.002
    marker_bins: int = 256
    marker_sigma_bins: float = 3.0
    marker_min_height: float = 0.02
    marker_min_prominence: float = 0.1
    marker_tail_fraction: float = 0.02
    marker_zero_margin: float = 0.03
    marker_positive_offset: float = 0.2
    min_control_events: int = 25
    control_peak_separation: float = 0.7
    control_cd45_sd_k: float = 1.5
    anchor_min_peak_mass: float = 0.15
    anchor_window: float = 0.08
    default_lymph_cd45_offset: float = 0.2
    lymph_ssc_ratio_max: float = 2.2
    mono_ssc_ratio_min: float = 2.0
    gran_ssc_position: float = 0.72
    default_neutrophil_ssc_ratio: float = 9.0
    lymph_cd45_position: float = 0.62
    mono_cd45_position: float = 0.45
    mono_cd45_position_min: float = 0.2
    mono_cd45_sd_k: float = 2.5
    cd45neg_position: float = 0.3
    lymph_cd45_floor: float = 0.3
    b_abnormal_min_fraction: float = 0.25
    b_cluster_min_fraction: float = 0.02
    b_cluster_sd_k: float = 2.0
    hematogone_cd45_floor: float = 0.4
    b_compact_min_fraction: float = 0.08
    b_cd34_merge_sd_k: float = 2.0
    b_cd34_core_sd_k: float = 1.0
    b_compact_sd_ratio: float = 1.3
    b_continuum_rho_max: float = -0.5
    b_continuum_min_events: int = 100
    second_lineage_cd34_min_fraction: float = 0.08
    gran_ssc_sd_review: float = 0.22
    gran_review_min_fraction: float = 0.3
    t_aberrant_cy_sd_k: float = 3.0
    t_aberrant_sm_sd_k: float = 4.0
    t_aberrant_min_events: int = 30
    t_aberrant_min_fraction: float = 0.002
    gran_dim_min_fraction: float = 0.08
    pb_b_abnormal_min_fraction: float = 0.005
    gran_dim_peak_mass: float = 0.1
    gran_dim_prominence: float = 0.1
    other_abnormal_min_fraction: float = 0.035
    other_review_max_fraction: float = 0.10
    mono_abnormal_min_fraction: float = 0.18
    mono_call_review_max_fraction: float = 0.25
    mono_review_min_fraction: float = 0.10
    cluster_lineage_positive_min: float = 0.1
    cluster_core_sd_k: float = 2.0
    cluster_cd7_min: float = 0.5
    cluster_mpo_max: float = 0.2
    blast_share_core: float = 0.5
    blast_share_quantile: float = 0.25
    blast_share_min: float = 0.5
    cluster_mpo_reference_min: float = 0.25
    cluster_mpo_sd_k: float = 2.5
    cluster_bins: int = 64
    cluster_sigma_bins: float = 1.5
    cluster_rel_persistence: float = 0.3
    cluster_floor_fraction: float = 0.01
    neutrophil_peak_min_mass: float = 0.05
    neutrophil_mpo_tie_sd: float = 1.0
    extend_share_min: float = 0.5
    extend_peak_sd_k: float = 1.5
    extend_sd_k: float = 2.5
    max_vertices: int = 24
    min_population_events: int = 10
    sample_events: int = 200_000

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> AlotGatingSettings:
        """Build settings from a config mapping; unknown keys raise :class:`ConfigError`."""
        d = dict(d or {})
        names = {f.name: f for f in fields(cls)}
        unknown = sorted(set(d) - set(names))
        if unknown:
            raise ConfigError(f"gating: unknown setting(s) {unknown}; known: {sorted(names)}")
        kw: dict[str, Any] = {}
        for k, v in d.items():
            typ = int if names[k].type in ("int", int) else float
            try:
                kw[k] = typ(v)
            except (TypeError, ValueError):
                raise ConfigError(f"gating: setting {k}={v!r} is not a number") from None
        return cls(**kw)


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
    lo, hi = quantiles(v, [0.001, 0.999])
    pad = 0.05 * max(hi - lo, 1e-3)
    d = dens.density_1d(
        v, lo=float(lo - pad), hi=float(hi + pad), bins=settings.marker_bins,
        sigma_bins=settings.marker_sigma_bins,
    )
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
    lo, hi = quantiles(v, [0.001, 0.999])
    pad = 0.05 * max(hi - lo, 1e-3)
    d = dens.density_1d(v, lo=float(lo - pad), hi=float(hi + pad), bins=settings.marker_bins,
                        sigma_bins=settings.marker_sigma_bins)
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
            sd = max(float(np.median(np.abs(ctrl - med))) / 0.6745, 1e-3)
            if float(np.median(moved)) > med - settings.control_cd45_sd_k * sd:
                return threshold
        return new
    return threshold


def _display_zero(events: Events, column: int) -> float | None:
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
) -> tuple[dict[str, float], float | None]:
    """Positivity threshold of every lineage marker and the tube's unstained level.

    The unstained level is the median of the markers' negative peaks (autofluorescence is
    similar across the channels of a logicle-scaled tube); a marker whose lowest peak lies
    far above it is re-thresholded against it (see :func:`positivity_threshold`).
    """
    cache: dict[Any, float | None] = {}
    zeros = {}
    for m in mk:
        t = events.transforms[events.markers[m]]
        if t not in cache:
            cache[t] = _display_zero(events, events.markers[m])
        zeros[m] = cache[t]
    first = {m: positivity_threshold(mk[m], settings, zero=zeros[m]) for m in mk}
    negs = [p for _, p in first.values() if np.isfinite(p)]
    if len(negs) < 3:
        return {m: t for m, (t, _) in first.items()}, None
    unstained = float(np.median(negs))
    out = {}
    for m, (t, p) in first.items():
        if np.isfinite(p) and p > unstained + settings.marker_positive_offset:
            t = positivity_threshold(mk[m], settings, zero=zeros[m], unstained=unstained)[0]
        out[m] = t
    return out, unstained


def _t_cell_anchor(
    x: np.ndarray, y: np.ndarray, t_cells: np.ndarray, s: AlotGatingSettings
) -> tuple[float, float] | None:
    """(CD45, SSC) of the mature T cells, or ``None`` when too few are present.

    Events passing the smCD3/cyCD3 thresholds can include T-lineage blasts (smCD3 dim),
    which sit at lower CD45; mature T cells are the brightest CD45 peak of these events.
    """
    if t_cells.sum() < s.min_control_events:
        return None
    xt, yt = x[t_cells], y[t_cells]
    lo, hi = float(xt.min()) - 0.05, float(xt.max()) + 0.05
    d = dens.density_1d(xt, lo=lo, hi=hi, bins=128, sigma_bins=2.0)
    peaks = [p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=0.1)
             if p.mass >= s.anchor_min_peak_mass]
    if not peaks:
        return float(np.median(xt)), float(np.median(yt))
    top = max(peaks, key=lambda p: p.position)
    near = np.abs(xt - top.position) <= s.anchor_window
    if near.sum() < s.min_control_events:
        return float(np.median(xt)), float(np.median(yt))
    return float(np.median(xt[near])), float(np.median(yt[near]))


def _t_aberrant_bounds(
    x45: np.ndarray, t_cells: np.ndarray, mk: Mapping[str, np.ndarray], lymph45: float,
    s: AlotGatingSettings,
) -> tuple[float, float] | None:
    """(lowest cyCD3, highest smCD3) of aberrant T cells (cyCD3 bright, smCD3 negative),
    read off the mature T cells: the smCD3+ cyCD3+ events within ``anchor_window`` of the
    T-cell CD45 anchor. ``None`` without both markers or enough mature T cells."""
    if "cyCD3" not in mk or "smCD3" not in mk:
        return None
    ti = np.flatnonzero(t_cells)
    ti = ti[np.abs(x45[ti] - lymph45) <= s.anchor_window]
    if ti.size < s.min_control_events:
        return None
    ti = ti[:: max(1, ti.size // 5000)]  # medians need no more events

    def med_sd(v: np.ndarray) -> tuple[float, float]:
        med = float(np.median(v))
        return med, max(float(np.median(np.abs(v - med))) / 0.6745, 1e-3)

    cy_m, cy_sd = med_sd(mk["cyCD3"][ti])
    sm_m, sm_sd = med_sd(mk["smCD3"][ti])
    return cy_m - s.t_aberrant_cy_sd_k * cy_sd, sm_m - s.t_aberrant_sm_sd_k * sm_sd


def _brightest_peak(x: np.ndarray, s: AlotGatingSettings) -> tuple[float, float] | None:
    """Position and robust SD (from its upper flank) of the highest-valued density peak of
    ``x`` holding at least ``anchor_min_peak_mass``; ``None`` with too few events."""
    if x.size < s.min_control_events:
        return None
    d = dens.density_1d(x, lo=float(x.min()) - 0.05, hi=float(x.max()) + 0.05, bins=128,
                        sigma_bins=2.0)
    peaks = [p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=0.1)
             if p.mass >= s.anchor_min_peak_mass]
    if not peaks:
        return None
    top = max(peaks, key=lambda p: p.position).position
    upper = x[x > top] - top
    if upper.size < s.min_control_events:
        return None
    return top, float(np.median(upper) / 0.6745)  # half-normal: median = 0.6745 SD


def _neutrophil_events(
    ssc: np.ndarray, mpo: np.ndarray, cand: np.ndarray, s: AlotGatingSettings
) -> np.ndarray:
    """The neutrophils among high-SSC MPO+ events (``cand``): one density peak on log SSC.

    MPO+ myeloid blasts can reach far into the granulocyte SSC range (and outnumber the
    neutrophils); eosinophils lie above the neutrophils. When the candidates split into
    several log-SSC peaks (each holding ``neutrophil_peak_min_mass`` of them), the
    neutrophils are the peak with the brightest cyMPO (they set the tube's MPO level;
    myeloblasts and eosinophils are dimmer); peaks whose MPO median lies within
    ``neutrophil_mpo_tie_sd`` robust SDs of it tie, and the one holding most events wins.
    The neutrophils are the events between that peak's valleys to its neighbours. With a
    single peak, all candidates are the neutrophils.
    """
    if cand.sum() < 2 * s.min_control_events:
        return cand
    idx = np.flatnonzero(cand)
    ly = np.log(np.maximum(ssc[idx], 1e-6))
    d = dens.density_1d(ly, lo=float(ly.min()) - 0.1, hi=float(ly.max()) + 0.1,
                        bins=128, sigma_bins=2.0)
    pk = sorted((p for p in dens.find_peaks_1d(d, min_height=0.02, min_prominence=0.02)
                 if p.mass >= s.neutrophil_peak_min_mass), key=lambda p: p.position)
    if len(pk) < 2:
        return cand
    cuts = [-np.inf] + [dens.valley_between(d, pk[i].position, pk[i + 1].position)
                        for i in range(len(pk) - 1)] + [np.inf]
    sel = [(ly >= cuts[i]) & (ly < cuts[i + 1]) for i in range(len(pk))]
    mv = mpo[idx]
    med = [float(np.median(mv[m])) if m.any() else -np.inf for m in sel]
    top = int(np.argmax(med))
    sd = float(np.median(np.abs(mv[sel[top]] - med[top]))) / 0.6745
    tied = [i for i in range(len(pk)) if med[i] >= med[top] - s.neutrophil_mpo_tie_sd * sd]
    k = max(tied, key=lambda i: int(sel[i].sum()))
    if sel[k].sum() < s.min_control_events:
        return cand
    out = np.zeros_like(cand)
    out[idx[sel[k]]] = True
    return out


def _b_blast_cluster(
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


def _maturation_continuum(x45: np.ndarray, cd34: np.ndarray, s: AlotGatingSettings) -> bool:
    """Whether B-like events form a hematogone maturation continuum: CD34 falls as CD45
    rises (Spearman correlation at most ``b_continuum_rho_max``)."""
    if x45.size < s.b_continuum_min_events:
        return False
    step = max(1, x45.size // 5000)  # a rank correlation needs no more events
    rx = np.argsort(np.argsort(x45[::step])).astype(np.float64)
    ry = np.argsort(np.argsort(cd34[::step])).astype(np.float64)
    if rx.std() == 0 or ry.std() == 0:
        return False
    rho = float(np.corrcoef(rx, ry)[0, 1])
    return bool(np.isfinite(rho) and rho <= s.b_continuum_rho_max)


def _main_cluster(
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
    d2 = dens.density_2d(x45, ly, xrange=xr, yrange=yr,
                         bins=(s.cluster_bins, s.cluster_bins), sigma_bins=s.cluster_sigma_bins)
    blab, info = dens.basins_2d(d2, floor_fraction=s.cluster_floor_fraction,
                                rel_persistence=s.cluster_rel_persistence, min_mass=0.02)
    if not info:
        return member, (float("nan"), float("nan"))
    bx, by = d2.bin_of(x45, ly)
    ev = blab[bx, by]
    counts = np.bincount(ev[ev >= 0], minlength=len(info))
    k = int(np.argmax(counts))
    member = ev == k
    return member, (float(info[k]["x"]), float(np.exp(info[k]["y"])))


def _core_ellipse(
    x45: np.ndarray, ssc: np.ndarray, s: AlotGatingSettings
) -> tuple[float, float, float, float] | None:
    """Core of a cluster on CD45 / log SSC: (CD45 centre, log-SSC centre, CD45 radius,
    log-SSC radius) of the axis-aligned ellipse of ``cluster_core_sd_k`` robust SDs around
    the median; ``None`` with too few events."""
    if x45.size < s.min_population_events:
        return None
    ly = np.log(np.maximum(ssc.astype(np.float64), 1e-4))
    x45 = x45.astype(np.float64)

    def mad_sd(v: np.ndarray) -> float:
        return max(float(np.median(np.abs(v - np.median(v)))) / 0.6745, 1e-3)

    k = s.cluster_core_sd_k
    return float(np.median(x45)), float(np.median(ly)), k * mad_sd(x45), k * mad_sd(ly)


def _in_ellipse(x45: np.ndarray, ssc: np.ndarray, e: tuple[float, float, float, float]) -> np.ndarray:
    ly = np.log(np.maximum(ssc.astype(np.float64), 1e-4))
    return ((x45 - e[0]) / e[2]) ** 2 + ((ly - e[1]) / e[3]) ** 2 <= 1.0


def _ellipse_polygon(e: tuple[float, float, float, float], n_vertices: int) -> np.ndarray:
    """Vertices (CD45, linear SSC) of the ellipse (curved in linear SSC, as drawn)."""
    t = np.linspace(0.0, 2.0 * np.pi, max(n_vertices, 8), endpoint=False)
    return np.column_stack([e[0] + e[2] * np.cos(t), np.exp(e[1] + e[3] * np.sin(t))])


def _robust_tail_above(v: np.ndarray, cut: float) -> float:
    """Share of a normal with the median and MAD-based SD of ``v`` lying above ``cut``."""
    med = float(np.median(v))
    sd = max(float(np.median(np.abs(v - med))) / 0.6745, 1e-3)
    return 0.5 * math.erfc((cut - med) / (sd * math.sqrt(2.0)))  # normal CDF, no scipy.special


def _closer_to_blasts(
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


def _blast_share_polygon(
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


def _in_polygon(x: np.ndarray, y: np.ndarray, poly: np.ndarray) -> np.ndarray:
    from cytomics.gating.strategy import _polygon

    return _polygon(np.column_stack([x, y]).astype(np.float64), 0, 1, poly)


def _b_blast_cluster_2d(
    x45: np.ndarray, ssc: np.ndarray, neutro45: float, span45: float, nucleated: int,
    s: AlotGatingSettings, *, ref_sd: float = float("nan"),
) -> tuple[np.ndarray | None, np.ndarray, bool]:
    """Leukemic B cluster among B-like events of the blast region on CD45 / log SSC.

    Hematogones are a low-SSC stripe running along CD45 towards the lymphocytes; leukemic
    B blasts a separate, compact cloud with dimmer CD45 and usually higher SSC. When the
    events split into two or more density basins, the basin with the dimmest CD45 peak
    is the candidate cluster; it is abnormal by the same size / dimness rules as
    :func:`_b_blast_cluster`.

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
    d2 = dens.density_2d(x45, ly, xrange=xr, yrange=yr,
                         bins=(s.cluster_bins, s.cluster_bins), sigma_bins=s.cluster_sigma_bins)
    blab, info = dens.basins_2d(d2, floor_fraction=s.cluster_floor_fraction,
                                rel_persistence=s.cluster_rel_persistence, min_mass=0.1)
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
    sd = float(np.median(np.abs(xm - np.median(xm)))) / 0.6745 if xm.size else float("inf")
    compact = bool(np.isfinite(ref_sd)) and sd <= s.b_compact_sd_ratio * ref_sd
    abnormal = (frac >= s.b_abnormal_min_fraction
                or (frac >= s.b_cluster_min_fraction and dim)
                or (frac >= s.b_compact_min_fraction and compact))
    return poly, member, bool(abnormal)


def _b_cluster_cd45_cd34(
    x45: np.ndarray, cd34: np.ndarray, cut45: float, s: AlotGatingSettings
) -> tuple[np.ndarray | None, np.ndarray]:
    """Edge of a leukemic B cluster against the hematogones on CD45 vs CD34.

    Hematogones run as a stripe from CD34+ CD45-dim to CD34- CD45-brighter; B blasts are
    one compact cloud at the dim CD45 end (CD34 homogeneous, or CD34+ and CD34- subsets at
    the same CD45). The B-like events are split into density basins; the cluster's main
    basin is the one holding most events below ``cut45`` (the 1-D CD45 edge of the cluster
    already called abnormal), and the cluster is the basins whose CD45 peaks lie no more
    than ``b_cd34_merge_sd_k`` robust CD45 SDs (of the main basin) above the main one,
    with the sparse bins (outside every basin) dimmer than ``cut45``. Used only for the boundary of a cluster already called abnormal.

    Returns
    -------
    polygon, member
        Polygon (CD45, CD34) of the cluster's basins, ``None`` without a split, and the
        members among the given events.
    """
    member = np.zeros(x45.size, dtype=bool)
    if x45.size < max(s.min_population_events, 50):
        return None, member
    x45 = x45.astype(np.float64)
    y = cd34.astype(np.float64)
    xr = (float(np.quantile(x45, 0.001)) - 0.05, float(np.quantile(x45, 0.999)) + 0.05)
    yr = (float(np.quantile(y, 0.001)) - 0.05, float(np.quantile(y, 0.999)) + 0.05)
    d2 = dens.density_2d(x45, y, xrange=xr, yrange=yr,
                         bins=(s.cluster_bins, s.cluster_bins), sigma_bins=s.cluster_sigma_bins)
    blab, info = dens.basins_2d(d2, floor_fraction=s.cluster_floor_fraction,
                                rel_persistence=s.cluster_rel_persistence, min_mass=0.1)
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
    sd = max(float(np.median(np.abs(xm - np.median(xm)))) / 0.6745, 1e-3)
    ks = [k for k, b in enumerate(info) if b["x"] <= info[k0]["x"] + s.b_cd34_merge_sd_k * sd]
    if len(ks) == len(info):
        return None, member
    # the cluster's sparse flanks (bins outside every basin) on the dim side of cut45, and
    # a CD34 subset of the blasts at their CD45 (as dim as the main basin's core)
    core45 = float(np.median(xm)) + s.b_cd34_core_sd_k * sd
    tail = ((blab < 0) & (d2.x_centers[:, None] < cut45)) | (d2.x_centers[:, None] < core45)
    region = np.isin(blab, ks) | tail
    poly = dens.region_to_polygon(region, d2.x_edges, d2.y_edges, max_vertices=s.max_vertices)
    if len(poly) < 3:
        return None, member
    return poly, _in_polygon(x45, y, poly)


def sample_rows(keep: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``k`` events drawn at random among those where ``keep`` holds (all
    of them when there are no more than ``k``); deterministic per seed.

    A stratified random sample: the tube is cut into equal strata along acquisition order,
    one event is drawn at random in each, those outside ``keep`` are dropped and the rest
    thinned evenly to ``k``. Every event has (to within one event per stratum) the same
    chance to be drawn, the sample covers the whole acquisition, and no index array of all
    kept events (40 MB at 5 M events) nor a sort is needed.
    """
    n = keep.size
    n_keep = int(np.count_nonzero(keep))
    if n_keep <= k:
        return np.flatnonzero(keep)
    rng = np.random.default_rng(seed)
    m = min(n, int(1.1 * k * n / n_keep) + 1000)
    edges = (np.arange(m + 1, dtype=np.int64) * n) // m  # m disjoint strata, >= 1 event
    cand = edges[:-1] + (rng.random(m) * np.diff(edges)).astype(np.int64)
    cand = cand[keep[cand]]
    if cand.size < k:  # pathological: kept events bunched in a few strata
        cand = np.flatnonzero(keep)
    return cand[np.linspace(0, cand.size - 1, k).astype(np.int64)]


def _sample_events(events: Events, rows: np.ndarray) -> Events:
    """The events of ``rows`` as their own :class:`Events` (a copy of those rows only)."""
    values = np.take(events.values, rows, axis=0)  # same rows as fancy indexing, ~3x faster
    acq = events.acquisition
    return Events(
        acquisition=replace(acq, events=values),
        values=values,
        transforms=events.transforms,
        spillover=events.spillover,
        markers=dict(events.markers),
        time_seconds=None,
        raw_overwritten=True,
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
    flags: list[str] = []

    # Every decision is taken on a sample of the nucleated events (densities, peaks and
    # fractions need no more); the labels of all events are then computed from the gates
    # in a single pass (:func:`cytomics.gating.program.label_events`).
    samp = sample_rows(keep, s.sample_events, seed=0)
    sample = _sample_events(events, samp)
    data = sample.values
    n = sample.n_events
    in_sample = np.ones(n, dtype=bool)
    ext = {parent: in_sample} if parent is not None else {}  # the QC chain's events
    x_s = data[:, cx].astype(np.float64)
    y_s = data[:, cy].astype(np.float64)
    present = [m for m in LINEAGE_MARKERS if m in events.markers]
    mk = {m: data[:, events.markers[m]].astype(np.float64) for m in present}


    # 1. marker thresholds from the marker's own density ---------------------------------
    thr, _unstained = marker_thresholds(sample, mk, s)
    if {"smCD3", "cyCD3"} <= set(present):
        # smCD3: the positive (mature T) gate is set on the mature T cells among the cyCD3+
        # events, not on the spread tail of a dominant smCD3-negative T-blast population
        cy_pos = mk["cyCD3"] >= thr["cyCD3"]
        thr["smCD3"] = control_refined_threshold(mk["smCD3"][cy_pos], thr["smCD3"], s,
                                                 x45=x_s[cy_pos])
    pos = {m: mk[m] >= thr[m] for m in present}
    zeros = np.zeros(n, dtype=bool)

    def P(m: str) -> np.ndarray:
        return pos.get(m, zeros)

    # 2. anchors from internal controls ---------------------------------------------------
    t_cells = P("smCD3") & P("cyCD3") if {"smCD3", "cyCD3"} <= set(present) else P("smCD3")
    landmarks: dict[str, tuple[float, float]] = {}
    lymph = _t_cell_anchor(x_s, y_s, t_cells, s)
    mpo_pos = P("cyMPO") if "cyMPO" in present else np.ones(n, dtype=bool)
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
    neut = (_neutrophil_events(y_s, mk["cyMPO"], high_ssc & mpo_pos, s) if "cyMPO" in mk
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
    mono_anchor = _brightest_peak(x_s[band], s)
    if mono_anchor is not None:
        peak, sd = mono_anchor
        low = (peak - s.mono_cd45_sd_k * sd - neutro[0]) / span45
        mono_pos = float(np.clip(low, s.mono_cd45_position_min, s.mono_cd45_position))
        landmarks["monocytes_cd45"] = (peak, sd)

    # 3. CD45/SSC density basins ------------------------------------------------------------
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
    ev_basin = blab[bx, by]

    # 4. name every bin by its position relative to the anchors --------------------------
    # (per bin rather than per basin: basins decide *where* the boundary runs in dense
    # areas, the anchor geometry decides which population a region belongs to.)
    xc = d2.x_centers[:, None]
    yc = d2.y_centers[None, :]
    shape = d2.density.shape
    c45 = np.broadcast_to((xc - neutro[0]) / span45, shape)  # 0 neutrophils, 1 lymphocytes
    lr = np.broadcast_to(np.log(np.maximum(yc, 1e-6) / ylo) / lr_g, shape)  # 0 lymph, 1 neutro
    region_names = ("lymphocytes", "monocytes", "granulocytes", "eosinophils",
                    "cd45_negative", "blast_region")
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
    ev_region = grid[bx, by]
    del ev_basin

    # 5. polygons -----------------------------------------------------------------------------
    gb = GateBuilder(sample)
    masks: dict[str, np.ndarray] = dict(ext)

    def evaluate_new() -> dict[str, np.ndarray]:
        # incremental: each gate is evaluated once, over the whole matrix, without copies
        new = [g for g in gb.gates if g.id not in masks]
        masks.update(evaluate_gates(new, sample, root_mask=in_sample, external=masks))
        return masks

    region_gate: dict[str, str] = {}
    order = (0, 1, 4, 3, 2, 5)  # priority when simplified polygons overlap
    for r in order:
        name = region_names[r]
        region = grid == r
        if (ev_region == r).sum() < max(3, s.min_population_events // 2):
            continue
        poly = dens.region_to_polygon(region, d2.x_edges, d2.y_edges, max_vertices=s.max_vertices)
        if len(poly) < 3:
            continue
        region_gate[name] = gb.polygon(f"alot_{name}_region", parent, cx, cy, poly)
    masks = evaluate_new()
    excl: dict[str, str] = {}
    earlier: list[str] = []
    for r in order:
        name = region_names[r]
        gid = region_gate.get(name)
        if gid is None:
            continue
        if earlier:
            ops = [(gid, False)] + [(e, True) for e in earlier]
            excl[name] = gb.boolean(f"alot_{name}_excl", parent, "and", ops)
        else:
            excl[name] = gid
        earlier.append(gid)
    masks = evaluate_new()

    # 6. phenotype gates (rectangles on the lineage markers) --------------------------------
    def rect(gid: str, bounds: dict[str, tuple[float | None, float | None]]) -> str | None:
        b = {}
        for m, (lo, hi) in bounds.items():
            if m not in present or not np.isfinite(thr[m]):
                return None
            b[events.markers[m]] = (lo, hi)
        return gb.rectangle(gid, parent, b)

    T = thr
    g_t = rect("pheno_T", {"smCD3": (T.get("smCD3"), None), "cyCD3": (T.get("cyCD3"), None)}
               if "cyCD3" in present else {"smCD3": (T.get("smCD3"), None)})
    g_b = rect("pheno_B", {"CD19": (T.get("CD19"), None), "cyCD79a": (T.get("cyCD79a"), None)})
    g_nk = rect("pheno_NK", {"CD7": (T.get("CD7"), None), "smCD3": (None, T.get("smCD3"))})
    g_tbl = rect("pheno_cyCD3_smCD3neg",
                 {"cyCD3": (T.get("cyCD3"), None), "smCD3": (None, T.get("smCD3"))})
    g_34 = rect("pheno_CD34", {"CD34": (T.get("CD34"), None)})
    g_mpo = rect("pheno_MPO", {"cyMPO": (T.get("cyMPO"), None)})
    lin_neg_markers = [m for m in ("CD19", "cyCD79a", "CD34", "cyCD3", "cyMPO", "CD7")
                       if m in present and np.isfinite(thr[m])]
    g_linneg = (
        gb.rectangle("pheno_lineage_negative", parent,
                     {events.markers[m]: (None, thr[m]) for m in lin_neg_markers})
        if lin_neg_markers else None
    )
    # CD45-low events: lineage negative -> CD45-negative (nucleated red cells etc.);
    # lineage positive -> CD45-negative blasts.
    low = excl.pop("cd45_negative", None)
    low_pos = None
    if low is not None and g_linneg is not None:
        excl["cd45_negative"] = gb.boolean(
            "alot_cd45_negative", parent, "and", [(low, False), (g_linneg, False)])
        low_pos = gb.boolean(
            "alot_cd45_low_lineage_pos", parent, "and", [(low, False), (g_linneg, True)])
    elif low is not None:
        excl["cd45_negative"] = low
    if low_pos is not None:
        region = excl.get("blast_region")
        excl["blast_region"] = (
            gb.boolean("alot_blast_candidates", parent, "or", [(region, False), (low_pos, False)])
            if region is not None else low_pos
        )
    masks = evaluate_new()

    # 7. the abnormal blast cluster -----------------------------------------------------------
    nucleated = max(n, 1)
    cand = excl.get("blast_region")
    blast_parts: list[str] = []
    precursor_terms: list[tuple[str, int]] = []
    blast_lineage = "none"
    blast_ref: np.ndarray | None = None
    if cand is not None:
        m_c = masks[cand]
        n_c = int(m_c.sum())
        b_like = m_c & masks[g_b] if g_b else np.zeros(n, bool)
        t_like = m_c & masks[g_tbl] if g_tbl else np.zeros(n, bool)
        # hematogones form a CD45 continuum from dim to the lymphocytes; a leukemic B cluster
        # is a compact CD45 peak below it (or more B events than normal marrow holds)
        b_cut, b_abn = _b_blast_cluster(data[b_like, cx], neutro[0], span45, nucleated, s,
                                        ref_sd=neutro_sd)
        n_bcl = int((data[b_like, cx] < b_cut).sum()) if b_abn else 0
        b_poly, b_mem, b_abn2 = _b_blast_cluster_2d(data[b_like, cx], data[b_like, cy],
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
                b_poly, b_mem = _b_cluster_cd45_cd34(data[b_like, cx],
                                                     mk["CD34"][b_like], b_cut, s)
                if b_poly is not None:
                    b_ycol, n_bcl = events.markers["CD34"], int(b_mem.sum())
        if b_abn and "CD34" in present:
            # a maturation continuum (CD34 lost as CD45 rises) is hematogones, however many
            bi = np.flatnonzero(b_like)
            mem = b_mem if b_poly is not None else data[bi, cx] < b_cut
            if _maturation_continuum(data[bi[mem], cx].astype(np.float64),
                                     mk["CD34"][bi[mem]], s):
                b_abn, b_poly, n_bcl = False, None, 0
                flags.append("review_b_precursor_continuum")
        other_ev = m_c & ~b_like
        main, peak = _main_cluster(data[other_ev, cx].astype(np.float64),
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
            core = _core_ellipse(data[clu[linpos], cx], data[clu[linpos], cy], s)
        if core is not None:
            counted = linpos | _in_ellipse(data[clu, cx], data[clu, cy], core)
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
            pk = _brightest_peak(mpo_v[clu[pos["cyMPO"][clu]]], s)
            if pk is not None and pk[0] - s.cluster_mpo_sd_k * pk[1] > thr["cyMPO"]:
                mpo_level = float(pk[0] - s.cluster_mpo_sd_k * pk[1])
            mpo_bl = mpo_v >= mpo_level
            ref = clu[mpo_bl[clu]]
            mix = np.flatnonzero(other_ev & ~mpo_bl)
            share_poly, _ = _blast_share_polygon(data[ref, cx], data[ref, cy],
                                                 data[mix, cx], data[mix, cy], s)
            counted = mpo_bl[clu].copy()
            if share_poly is not None:
                counted |= _in_polygon(data[clu, cx], data[clu, cy], share_poly)
            cluster_pheno = "myeloid"
        frac_other = float(counted.sum()) / nucleated
        blast_ref = clu[counted] if counted.sum() >= s.min_population_events else None
        landmarks["blast_cluster"] = peak
        landmarks["blast_cluster_fraction"] = (frac_other, float(other_ev.sum()) / nucleated)
        if b_abn:
            landmarks["b_cluster_cd45_cut"] = (b_cut, n_bcl / nucleated)
        if b_abn and n_bcl >= 0.4 * (n_c - (int(b_like.sum()) - n_bcl)):
            blast_lineage = "b"
        elif frac_other >= s.other_abnormal_min_fraction:
            blast_lineage = "t" if t_like.sum() >= 0.2 * (n_c - b_like.sum()) else "other"
        elif b_abn:
            blast_lineage = "b"
        if blast_lineage == "none":  # small abnormal populations: labelled or flagged
            sc = screen_small_clusters(x45=x_s, cand=m_c, b_like=b_like, cd34_pos=pos.get("CD34"),
                                       mpo_pos=pos.get("cyMPO"), neutro45=neutro[0],
                                       span45=span45, nucleated=nucleated, specimen=specimen,
                                       settings=small_settings)
            flags.extend(sc.flags)
            landmarks.update(sc.stats)
            if sc.lineage == "b":
                blast_lineage, b_poly, b_cut, b_ycol = "b", None, sc.b_cut, cx
            elif sc.lineage == "cd34" and g_34 is not None:
                blast_lineage = "cd34"
        elif (blast_lineage == "b" and n_bcl < s.other_review_max_fraction * nucleated
              and "small_blast_cluster_review" not in flags):
            # a small B cluster beside hematogones: its edge against them is uncertain
            flags.append("small_blast_cluster_review")
        excluded: list[tuple[str, bool]] = [(cand, False)]
        if g_b is not None and blast_lineage != "b":
            gid = gb.boolean("alot_b_precursors", parent, "and", [(cand, False), (g_b, False)])
            precursor_terms.append((gid, LABEL_CODES["b_precursors"]))
            excluded.append((g_b, True))
        b_blast_gate = g_b
        if blast_lineage == "b" and (b_poly is not None or np.isfinite(b_cut)):
            lo45 = (gb.polygon("alot_b_blast_cluster", parent, cx, b_ycol, b_poly)
                    if b_poly is not None else
                    gb.rectangle("pheno_CD45_below_hematogones", parent, {cx: (None, b_cut)}))
            b_blast_gate = gb.boolean("pheno_B_blast", parent, "and", [(g_b, False), (lo45, False)])
            gid = gb.boolean("alot_b_precursors", parent, "and",
                             [(cand, False), (g_b, False), (lo45, True)])
            precursor_terms.append((gid, LABEL_CODES["b_precursors"]))
        if g_34 is not None and blast_lineage == "none":
            ops = [(cand, False), (g_34, False)] + ([(g_b, True)] if g_b else [])
            gid = gb.boolean("alot_myeloid_precursors", parent, "and", ops)
            precursor_terms.append((gid, LABEL_CODES["myeloid_precursors"]))
            excluded.append((g_34, True))
        if blast_lineage == "cd34":  # small CD34+ non-B cluster (small_clusters)
            excluded.append((g_34, False))
        if blast_lineage == "none":
            flags.append("no_abnormal_blast_cluster")
        elif blast_lineage == "other" and frac_other < s.other_review_max_fraction:
            # a small CD34+ myeloid cluster may be an expanded normal precursor
            # compartment (regenerating marrow): same CD45/SSC and ALOT phenotype
            flags.append("small_blast_cluster_review")
        if blast_lineage == "other":
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
                                    _ellipse_polygon(core, s.max_vertices))
                g_keep = gb.boolean("alot_blast_core_or_lineage", parent, "or",
                                    [(g_linneg, True), (g_core, False)])
                excluded.append((g_keep, False))
                flags.append("blast_cluster_lineage_positive")
        lineage_gate = {"b": b_blast_gate, "t": g_tbl}.get(blast_lineage)
        if lineage_gate is not None:
            # lymphoid blasts carry their lineage marker: the rest of the region (monocyte
            # tails, myeloid precursors, basophils) stays out of the blast count
            excluded = [(cand, False), (lineage_gate, False)]
        if len(excluded) > 1:
            blast_parts.append(gb.boolean("alot_blast_region_other", parent, "and", excluded))
        else:
            blast_parts.append(cand)
        if blast_lineage == "other" and cluster_pheno != "cd7":
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
                    blast_parts.append(gb.boolean(f"alot_blast_cloud_in_{name}", parent, "and",
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
                blast_parts.append(gb.boolean("alot_blasts_second_lineage_cd34", parent,
                                              "and", ops))
                landmarks["second_lineage_cd34"] = (f_rest, 0.0)
                flags.append("review_second_blast_lineage_cd34")
                masks = evaluate_new()
    # T-lineage blasts are an aberrant phenotype at any frequency: cyCD3 as bright as the
    # mature T cells (the internal control) without their smCD3; NK cells are cyCD3 dim
    t_ab = _t_aberrant_bounds(x_s, t_cells, mk, lymph[0], s) if blast_lineage != "t" else None
    if t_ab is not None:
        cy_lo, sm_hi = t_ab
        n_ab = int(((mk["cyCD3"] >= cy_lo) & (mk["smCD3"] < sm_hi)).sum())
        if n_ab >= max(s.t_aberrant_min_events, s.t_aberrant_min_fraction * nucleated):
            g_tab = gb.rectangle("pheno_T_aberrant", parent,
                                 {events.markers["cyCD3"]: (cy_lo, None),
                                  events.markers["smCD3"]: (None, sm_hi)})
            if blast_lineage == "none":  # the blast region holds normal cells only
                blast_parts = []
                blast_lineage = "t_aberrant"
            blast_parts.append(g_tab)
            if "no_abnormal_blast_cluster" in flags:
                flags.remove("no_abnormal_blast_cluster")
            flags.append("blast_cluster_t_aberrant")
            if n_ab < s.other_review_max_fraction * nucleated:
                flags.append("small_blast_cluster_t_aberrant")
            landmarks["t_aberrant"] = (float(n_ab) / nucleated, float(cy_lo))
            masks = evaluate_new()
    # phenotype of the blast cluster -> blasts hiding in the lymphocyte / monocyte gates
    blast_cluster = (
        np.logical_or.reduce([masks[g] for g in blast_parts]) if blast_parts else np.zeros(n, bool)
    )
    n_blasts_core = int(blast_cluster.sum())
    in_lymph = excl.get("lymphocytes")
    in_mono = excl.get("monocytes")
    if blast_lineage != "none" and n_blasts_core >= s.min_population_events:
        def frac_pos(g: str | None) -> float:
            if g is None:
                return 0.0
            return float((masks[g] & blast_cluster).sum()) / n_blasts_core

        if (in_lymph is not None and g_tbl is not None and blast_lineage != "t_aberrant"
                and frac_pos(g_tbl) >= 0.3):
            blast_parts.append(gb.boolean(
                "alot_tblasts_in_lymph", parent, "and", [(in_lymph, False), (g_tbl, False)]))
            flags.append("blasts_overlap_lymphocytes_resolved_by_lineage")
        in_gran = excl.get("granulocytes")
        if g_34 is not None and frac_pos(g_34) >= 0.3:
            # normal lymphocytes, monocytes and neutrophils are CD34-negative
            for reg, tag in ((in_lymph, "lymph"), (in_mono, "mono"), (in_gran, "gran")):
                if reg is None:
                    continue
                blast_parts.append(gb.boolean(
                    f"alot_cd34_blasts_in_{tag}", parent, "and", [(reg, False), (g_34, False)]))
        def add_blastlike(region: str, m_region: np.ndarray, normal: np.ndarray, mcol: int,
                          p_beyond: float, enough: bool, gate_id: str, bool_id: str,
                          flag: str) -> None:
            # blasts expected in ``region`` (``p_beyond`` of the blasts' own spread lies
            # there); on CD45 vs MPO, the blast density weighted by that expectation must
            # beat the density of the region's ``normal`` events
            n_expect = blast_ref.size * p_beyond / max(1.0 - p_beyond, 1e-3)
            if not (n_expect >= s.min_population_events and enough):
                return
            poly = _closer_to_blasts((data[blast_ref, cx], data[blast_ref, mcol]),
                                     (data[normal, cx], data[normal, mcol]), s,
                                     prior=n_expect / float(m_region.sum()))
            if poly is None:
                return
            g = gb.polygon(gate_id, parent, cx, mcol, poly)
            blast_parts.append(gb.boolean(bool_id, parent, "and", [(region, False), (g, False)]))
            flags.append(flag)

        in_gran = excl.get("granulocytes")
        if (blast_lineage == "other" and in_gran is not None and "cyMPO" in present
                and blast_ref is not None):
            # myeloid blasts whose SSC reaches the granulocytes: on CD45 vs MPO they stay
            # apart from the neutrophils (dimmer CD45, MPO below the neutrophil level)
            mcol = events.markers["cyMPO"]
            g_in = masks[in_gran]
            ref = g_in & (y_s >= neutro[1])
            # expected blasts above the granulocyte SSC boundary, from the blasts' own
            # log-SSC spread (log-normal), per granulocyte-gate event
            lb = np.log(np.maximum(y_s[blast_ref], 1e-6))
            p_hi = _robust_tail_above(lb, float(np.log(ylo) + s.gran_ssc_position * lr_g))
            add_blastlike(in_gran, g_in, ref, mcol, p_hi, g_in.any(), "pheno_CD45_MPO_blastlike",
                          "alot_blasts_in_gran", "blasts_overlap_granulocytes_resolved_by_cd45_mpo")
        if (in_mono is not None and g_mpo is not None and frac_pos(g_mpo) >= 0.3
                and blast_ref is not None):
            # MPO+ blasts overlapping monocytes (also MPO+): expected only as far as the
            # blasts' own CD45 / SSC spread reaches the monocyte gate; there, on CD45 vs
            # MPO, the blasts' density (times that expectation) must beat the monocytes'
            mcol = events.markers["cyMPO"]
            m_in = masks[in_mono]
            xb = data[blast_ref, cx].astype(np.float64)
            lb = np.log(np.maximum(y_s[blast_ref], 1e-6))
            p_in = (_robust_tail_above(xb, neutro[0] + mono_pos * span45)
                    * _robust_tail_above(lb, float(np.log(ylo * s.mono_ssc_ratio_min))))
            add_blastlike(in_mono, m_in, m_in, mcol, p_in, m_in.sum() > 20,
                          "pheno_CD45_MPO_blastlike_mono", "alot_mpo_blasts_in_mono",
                          "blasts_overlap_monocytes_resolved_by_lineage")
    # monocytic blasts overlapping the monocytes: normal marrow / blood holds a few percent
    # of monocytes; a monocyte-gate population this large is a monocytic blast expansion
    # (flagged). Normal monocytes, if separate, are the brighter CD45 peak above it.
    def blast_cluster_now() -> np.ndarray:
        masks.update(evaluate_new())
        return (np.logical_or.reduce([masks[g] for g in blast_parts]) if blast_parts
                else np.zeros(n, bool))

    if in_mono is not None:
        mono_m = masks[in_mono]
        f_mono = float((mono_m & ~blast_cluster_now()).sum()) / nucleated
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
            if blast_lineage == "none":
                blast_parts = []
                flags.remove("no_abnormal_blast_cluster")
                blast_lineage = "monocytic"
            if len(pk) >= 2:
                cut = dens.valley_between(d, pk[-2].position, pk[-1].position)
                g = gb.rectangle("pheno_CD45_below_monocytes", parent, {cx: (None, cut)})
                blast_parts.append(gb.boolean(
                    "alot_monocytic_blasts", parent, "and", [(in_mono, False), (g, False)]))
            else:
                # the whole gate, as its own gate: a region gate that is also an operand of
                # other terminals is not used as a terminal itself
                g = gb.rectangle("pheno_CD45_below_monocytes", parent,
                                 {cx: (None, float(x_m.max()) + 1.0)})
                blast_parts.append(gb.boolean(
                    "alot_monocytic_blasts", parent, "and", [(in_mono, False), (g, False)]))
            flags.append("monocytic_expansion_called_blasts")
            if (float(mono_m.sum()) / nucleated < s.mono_call_review_max_fraction
                    and "monocyte_expansion_review" not in flags):
                # a moderate expansion may still be a reactive monocytosis
                flags.append("monocyte_expansion_review")
    g_gran = excl.get("granulocytes")
    if g_gran is not None and s.gran_dim_min_fraction < 1.0 and specimen != "BM":
        # hypergranular CD34- blasts: neutrophil SSC and MPO, but their own CD45-dim peak
        # (maturing neutrophils are a continuum with one peak at the mature end)
        gm = masks[g_gran] & ~blast_cluster_now()
        dim = dim_granular_cluster(x_s[gm], nucleated, min_fraction=s.gran_dim_min_fraction,
                                   min_peak_mass=s.gran_dim_peak_mass,
                                   min_prominence=s.gran_dim_prominence)
        if dim is not None:
            if blast_lineage == "none":
                blast_parts = []
                flags.remove("no_abnormal_blast_cluster")
                blast_lineage = "granular"
            g = gb.rectangle("pheno_CD45_below_neutrophils", parent, {cx: (None, dim[0])})
            blast_parts.append(gb.boolean("alot_granular_blasts", parent, "and",
                                          [(g_gran, False), (g, False)]))
            landmarks["granular_blast_cluster"] = (dim[1], dim[0])
            flags.append("granular_blast_cluster_review")
    if g_gran is not None:
        gm = masks[g_gran] & ~blast_cluster_now()
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
    if blast_lineage == "none":
        blasts_gid = None
        # a normal sample: what is left in the blast region is other normal cells
    else:
        if len(blast_parts) > 1:
            blasts_gid = gb.boolean("alot_blasts", parent, "or", [(g, False) for g in blast_parts])
        else:
            blasts_gid = blast_parts[0] if blast_parts else None
    masks = evaluate_new()

    # 8. terminal gates (disjoint) ------------------------------------------------------------
    terms: list[tuple[str, int]] = []
    not_blast = [(blasts_gid, True)] if blasts_gid else []
    if in_lymph is not None:
        clean = gb.boolean("alot_lymphocytes_clean", parent, "and", [(in_lymph, False), *not_blast]) \
            if not_blast else in_lymph
        used: list[tuple[str, bool]] = []
        for gname, g in (("t", g_t), ("b", g_b), ("nk", g_nk)):
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
        if not_blast and "t_aberrant" in landmarks:
            # aberrant T blasts are gated on their phenotype anywhere; terminals stay disjoint
            gid = gb.boolean(f"{gid}_final", parent, "and", [(gid, False), *not_blast])
        terms.append((gid, code))
    if blasts_gid is not None:
        terms.append((blasts_gid, LABEL_CODES["blasts"]))

    # 9. labels of all events, from the gates, in one pass ---------------------------------
    labels = np.asarray(qc.labels, dtype=np.uint8).copy()
    program = compile_gates(
        _gates_needed(gb.gates, [g for g, _ in terms]),
        lambda dim: events.acquisition.channel_index(dim.channel),
        root_ids=() if parent is None else (parent,),
    )
    label_events(events.values, program, terms, root=keep, labels=labels,
                 root_code=LABEL_CODES["unclassified"])
    per_code = label_counts(labels)
    counts = {
        name: int(sum(per_code[LABEL_CODES[m]] for m in members))
        for name, members in AGGREGATES.items()
    }
    for name in ("lymphocytes", "monocytes", "granulocytes", "cd45_negative"):
        if counts[name] < s.min_population_events:
            flags.append(f"population_missing:{name}")
    if "neutrophils" not in landmarks:
        flags.append("neutrophil_anchor_missing")
    return GatingResult(
        labels=labels,
        gates=gb.gates,
        counts=counts,
        flags=flags,
        terminals=terms,
        region_gates=region_gate,
        thresholds={m: float(v) for m, v in thr.items()},
        landmarks=landmarks,
        axes={"cd45": cx, "ssc": cy},
    )


def label_name(code: int) -> str:
    """Name of a label code."""
    return LABEL_NAMES[int(code)]
