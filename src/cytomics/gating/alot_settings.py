"""Settings of the ALOT gating (:func:`cytomics.gating.alot.gate_alot`).

One frozen dataclass of documented, tunable thresholds; built from a config mapping with
:meth:`AlotGatingSettings.from_mapping`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from cytomics.gating._numeric_settings import numeric_settings

__all__ = ["AlotGatingSettings"]


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
    flank_sd_k
        cyCD79a on the CD19+ events is the B cells' own population: its positivity
        threshold is lowered (never raised) to this many SDs (half width at half maximum
        of the lower flank) below that population's mode, but no lower than halfway from
        the negative peak, so a wide negative spread does not cut off B blasts dimmer than
        the normal B cells.
    marker_positive_min_prominence, marker_positive_separation
        With a single peak at ``marker_min_prominence``, a lower positive bump above it
        (prominence at least ``marker_positive_min_prominence`` of the highest peak and
        ``marker_positive_separation`` of its own height, holding at least 3% of the
        events: e.g. a few percent of B cells on cyCD79a beside a wide negative peak) is
        still a positive population, and the threshold is the valley below the brightest
        such bump. A shoulder of the negative cells has no dip below it and stays negative.
    marker_zero_margin
        Peaks more than this below the display value of a raw 0 are compensation spread.
    marker_positive_offset
        A marker whose lowest peak lies this far above the tube's unstained level has no
        visible negative peak (blasts positive and dominant).
    control_peak_separation
        smCD3 positivity is re-read off the mature T cells (see
        :func:`control_refined_threshold`): their peak must stand out by this fraction of
        its own height (0.4: a dip to 60 % of the peak, two populations to the eye; the
        CD45 test below keeps a dimmer subset of the same cells positive);
        ``control_cd45_sd_k``: CD45 distance (control's robust SDs) of the events it would
        move out of the positive gate.
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
    b_cd34_hematogone_sd_k
        On that CD45 vs CD34 edge, a basin whose peak is both brighter on CD45 and dimmer on
        CD34 than the main basin's, each by at least this many robust SDs of the main
        basin (CD45 and CD34 respectively), lies along the hematogone maturation direction
        (CD34 lost as CD45 rises) and is never merged into the cluster, however close its
        CD45; a discrete leukemic cluster with hematogones beside it keeps its own edge.
    b_cd34_stage1_cd45_sd_k
        On the same edge, a basin brighter on CD34 than the main basin (by
        ``b_cd34_hematogone_sd_k`` robust CD34 SDs) whose CD45 peak lies at least this
        many robust CD45 SDs above the main one is the CD34+ stage I hematogones beside a
        CD34- cluster, not a CD34+ blast subset (which sits at the blasts' own CD45): it is
        never merged, and the cluster then ends at its 1-D CD45 edge.
    b_continuum_rho_max, b_continuum_min_events
        Hematogone maturation continuum: CD34 is lost as CD45 rises, so across a normal B
        precursor population the rank correlation of CD45 and CD34 is strongly negative; a
        leukemic B cluster is homogeneous (CD34+ or CD34- or both at the same CD45: no such
        trend). A B cluster the rules above would call abnormal is kept as B precursors,
        with the review flag ``review_b_precursor_continuum``, when its Spearman correlation
        of CD45 and CD34 (over at least ``b_continuum_min_events`` events) is at most
        ``b_continuum_rho_max``.
    b_split_min_fraction, b_split_rho_min, b_split_cd34_sd_k
        A small B cluster whose CD45 overlaps the hematogones (no CD45 or CD45 / SSC peak of
        its own) is still seen on CD45 vs CD34: the B-like events' density basin with the
        brightest CD34 peak is a leukemic cluster when that peak lies ``b_split_cd34_sd_k``
        of its robust CD34 SDs above the other B-like events' median CD34 and is no brighter
        on CD45 than they are, it holds at least ``b_split_min_fraction`` of
        nucleated events, its CD45 robust SD is at most ``b_compact_sd_ratio`` times the
        neutrophils', and CD34 does not fall with CD45 inside it (Spearman correlation above
        ``b_split_rho_min``; a slice of the hematogone stripe does). Called blasts with
        ``small_blast_cluster_review`` below ``other_review_max_fraction``.
    b_fsc_min_events, b_fsc_ashman_min, b_fsc_small_sd_k, b_fsc_large_sd_k
        Hematogones inside a called B cluster (:mod:`cytomics.gating.b_hematogones`): from
        ``b_fsc_min_events`` called B events (and lymphocyte-region events), a
        two-component mixture on CD45 vs log FSC; its smaller-FSC component is removed
        from the blasts when the components are two modes on log FSC (Ashman's D >=
        ``b_fsc_ashman_min``; 2 is the textbook bimodality limit), it lies within
        ``b_fsc_small_sd_k`` robust log-FSC SDs of the lymphocytes' median (small lymphoid
        cells) and the other component at least ``b_fsc_large_sd_k`` such SDs above it.
    b_fsc_cd45_sep_min, b_fsc_keep_min, b_fsc_mahal_sq, b_fsc_fit_events
        ... and the small-FSC component is CD45-brighter than the other by at least
        ``b_fsc_cd45_sep_min`` pooled SDs (towards the lymphocytes, as B cells mature),
        the larger component keeps at least ``b_fsc_keep_min`` of the called events, and
        the removed region (drawn on CD45 vs FSC) is where the hematogone component is
        the more probable one within Mahalanobis distance² ``b_fsc_mahal_sq`` of it
        (9.21: 99 % of a 2-D Gaussian). The mixture is fitted on at most about
        ``b_fsc_fit_events`` (strided) of the called events.
    b_split_review_fraction
        Such a CD34+ B cluster holding at least this fraction of nucleated events but less
        than ``b_split_min_fraction`` is not called blasts (too few to tell from an expanded
        stage I hematogone compartment) but raises ``b_precursor_cd34_cluster_review``.
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
    t_aberrant_extend_min_fraction, t_aberrant_extend_sd_k
        When the aberrant T events hold at least ``t_aberrant_extend_min_fraction`` of the
        nucleated events they are a blast cloud of their own: its cyCD3 lower edge is then
        its own (brightest) cyCD3 peak minus ``t_aberrant_extend_sd_k`` SDs of its upper
        flank, when that is lower than the mature-T-based edge (never below the cyCD3
        positivity threshold). T blasts dimmer than the mature T cells were otherwise cut
        in half, the dim half left as NK cells (generator C tuning 8439: F1 0.67 -> 0.96).
    b_blast_cd19_only
        Inside the B blast cluster (CD45 below the hematogones, or its CD45 vs CD34
        polygon) the blasts are the CD19+ events, cyCD79a not required per event: B blasts
        with partial or dim cyCD79a belong to the call (the classification reads % cyCD79a+
        on it). 0: CD19+ and cyCD79a+ per event.
    t_blast_cd7_smcd3neg
        A T blast population (blast-region cluster called T) counts the region's CD7+
        smCD3- events besides its cyCD3+ smCD3- ones: T blasts with partial or dim cyCD3.
        0: cyCD3+ smCD3- only.
    second_lineage_cd34_min_fraction
        Beside a lymphoid (B or T) blast population, CD34+ events of the blast region
        outside that lineage (and not B-like) holding at least this fraction of nucleated
        events are a second (bilineal) blast population; normal CD34+ myeloid precursors
        hold a few percent. They join the blasts with the review flag
        ``review_second_blast_lineage_cd34``.
    second_lineage_cd34_review_fraction
        Below ``second_lineage_cd34_min_fraction``, such CD34+ events holding at least this
        fraction of nucleated events stay out of the blasts but raise
        ``second_blast_lineage_cd34_indeterminate_review``: an expanded normal CD34+ myeloid
        precursor compartment (up to ~5 % in the simulated B-ALL marrows used for tuning)
        and a small bilineal second blast population (4-6 % in generator C MPAL) share
        size, CD45/SSC position and ALOT phenotype; a myeloid tube decides.
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
    b_review_max_fraction
        A B blast cluster smaller than this fraction of nucleated events gets
        ``small_blast_cluster_review``: its edge against the hematogones is uncertain,
        and a cluster that swept in hematogones counts above its own size (a 5% B-ALL
        with its stage I/II hematogones counted 10.2%).
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
    myeloid_cd34_residual_max_fraction, myeloid_cd34_residual_min_share, \
    myeloid_cd34_residual_min_height, myeloid_cd34_residual_valley_ratio
        Residual normal myeloblasts beside CD34- myeloid blasts (marrow only): when the
        CD34 density of a myeloid blast call has its main peak CD34- and a separate CD34+
        peak (at least ``myeloid_cd34_residual_min_height`` of the highest, the valley
        between them at most ``myeloid_cd34_residual_valley_ratio`` of its height) whose
        events are fewer than the CD34- ones and at most
        ``myeloid_cd34_residual_max_fraction`` of the nucleated events other than those
        blasts (the normal CD34+ myeloid precursor compartment, about 1-2 % of normal
        marrow) and at least ``myeloid_cd34_residual_min_share`` of the call (beside a
        large blast population a CD34+ group of a few percent of it is as likely a CD34+
        blast subclone), the CD34+ group is normal myeloid precursors, not blasts
        (:func:`cytomics.gating.myeloid.residual_cd34_group`); the cluster's size still
        decides whether it is abnormal. A partly CD34+ blast population without a valley
        is not split. 0 disables.
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
    incomplete_box_sd_k, incomplete_min_fraction, incomplete_call_ratio,
    incomplete_large_fraction, incomplete_large_call_ratio, incomplete_min_call_fraction
        A blast call of at least ``incomplete_min_call_fraction`` of the nucleated events
        is flagged ``blast_call_incomplete_review`` (labels unchanged) when the events it
        leaves unexplained (blast-region events that are neither blasts nor normal
        precursors, and events outside the blasts within ``incomplete_box_sd_k`` robust
        SDs of the called blasts on CD45, every lineage marker and log SSC, its spread read
        on the lower flank) reach ``incomplete_min_fraction`` of the nucleated events and
        ``incomplete_call_ratio`` times the call, or ``incomplete_large_fraction`` and
        ``incomplete_large_call_ratio`` times the call. Tuned on generator C seeds
        8000-8119 and 4000-4119: complete calls leave < 0.045 of nucleated at a ratio
        >= 0.35 and < 0.08 at a ratio >= 0.18 (the leftover is mostly normal precursors,
        basophils and CD45- events of the region); the flagged ones are under-calls (blast F1 0.62-0.82: an
        MPAL's cyCD3-dim CD7+ CD34+ part left in the blast region, monocytic clouds cut at
        the granulocyte SSC line, T blasts below the aberrant-T cyCD3 cut left as NK).
    max_vertices
        Vertex budget of every polygon gate.
    region_piece_min_fraction
        A CD45/SSC region whose bins fall into separate pieces is drawn as the OR of one
        polygon per piece: the piece holding the most events and every other piece holding
        at least this fraction of the sampled events (one polygon had kept only the piece
        with the most bins, and the others' events belonged to no region).
    min_population_events
        Populations with fewer events are flagged ``population_missing:<name>`` (a review
        reason), except CD45-negative cells, whose absence is normal:
        ``population_absent:cd45_negative`` (reported only).
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
    marker_positive_min_prominence: float = 0.04
    marker_positive_separation: float = 0.35
    flank_sd_k: float = 3.0
    marker_zero_margin: float = 0.03
    marker_positive_offset: float = 0.2
    min_control_events: int = 25
    control_peak_separation: float = 0.4
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
    b_cd34_hematogone_sd_k: float = 1.0
    b_cd34_stage1_cd45_sd_k: float = 0.5
    b_compact_sd_ratio: float = 1.3
    b_continuum_rho_max: float = -0.5
    b_continuum_min_events: int = 100
    b_split_min_fraction: float = 0.02
    b_split_rho_min: float = -0.1
    b_split_cd34_sd_k: float = 2.0
    b_split_review_fraction: float = 0.012
    b_blast_cd19_only: int = 1
    t_blast_cd7_smcd3neg: int = 1
    b_fsc_min_events: int = 200
    b_fsc_fit_events: int = 3000
    b_fsc_ashman_min: float = 2.0
    b_fsc_small_sd_k: float = 1.5
    b_fsc_large_sd_k: float = 1.5
    b_fsc_cd45_sep_min: float = 0.5
    b_fsc_keep_min: float = 0.2
    b_fsc_mahal_sq: float = 9.21
    second_lineage_cd34_min_fraction: float = 0.08
    second_lineage_cd34_review_fraction: float = 0.04
    gran_ssc_sd_review: float = 0.22
    gran_review_min_fraction: float = 0.3
    t_aberrant_cy_sd_k: float = 3.0
    t_aberrant_sm_sd_k: float = 4.0
    t_aberrant_min_events: int = 30
    t_aberrant_min_fraction: float = 0.002
    t_aberrant_extend_min_fraction: float = 0.05
    t_aberrant_extend_sd_k: float = 2.5
    gran_dim_min_fraction: float = 0.08
    pb_b_abnormal_min_fraction: float = 0.005
    gran_dim_peak_mass: float = 0.1
    gran_dim_prominence: float = 0.1
    other_abnormal_min_fraction: float = 0.035
    other_review_max_fraction: float = 0.10
    b_review_max_fraction: float = 0.15
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
    myeloid_cd34_residual_max_fraction: float = 0.03
    myeloid_cd34_residual_min_share: float = 0.05
    myeloid_cd34_residual_min_height: float = 0.03
    myeloid_cd34_residual_valley_ratio: float = 0.3
    cluster_bins: int = 64
    cluster_sigma_bins: float = 1.5
    cluster_rel_persistence: float = 0.3
    cluster_floor_fraction: float = 0.01
    neutrophil_peak_min_mass: float = 0.05
    neutrophil_mpo_tie_sd: float = 1.0
    extend_share_min: float = 0.5
    extend_peak_sd_k: float = 1.5
    extend_sd_k: float = 2.5
    incomplete_box_sd_k: float = 2.0
    incomplete_min_fraction: float = 0.045
    incomplete_call_ratio: float = 0.35
    incomplete_large_fraction: float = 0.08
    incomplete_large_call_ratio: float = 0.18
    incomplete_min_call_fraction: float = 0.10
    max_vertices: int = 24
    region_piece_min_fraction: float = 0.005
    min_population_events: int = 10
    sample_events: int = 200_000

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> AlotGatingSettings:
        """Build settings from a config mapping; unknown keys raise :class:`ConfigError`."""
        return numeric_settings(cls, d, section="gating")

