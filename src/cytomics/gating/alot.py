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

Where the stages live: :mod:`cytomics.gating.alot_regions` (sample, thresholds, anchors,
CD45/SSC regions, phenotype gates), :mod:`cytomics.gating.alot_blasts` (the blast call),
this module (orchestration, terminal gates, labels); their helpers in
:mod:`~cytomics.gating.thresholds`, :mod:`~cytomics.gating.anchors`,
:mod:`~cytomics.gating.clusters`, :mod:`~cytomics.gating.b_lineage`,
:mod:`~cytomics.gating.myeloid`, :mod:`~cytomics.gating.small_clusters`,
:mod:`~cytomics.gating.sampling`; the settings in :mod:`~cytomics.gating.alot_settings`.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from typing import Any

import numpy as np

from cytomics.gating.alot_blasts import (
    BlastCall,
    BlastContext,
    blast_gate,
    blast_region_cluster,
    blasts_in_normal_regions,
    granulocyte_checks,
    monocytic_expansion,
    t_aberrant_blasts,
    unexplained_blast_picture,
)
from cytomics.gating.alot_regions import (
    GateSet,
    Phenotypes,
    Tube,
    lineage_thresholds,
    phenotype_gates,
    read_anchors,
    region_gates,
    region_map,
    sample_tube,
    split_cd45_low,
)
from cytomics.gating.alot_settings import AlotGatingSettings
from cytomics.gating.counting import label_counts
from cytomics.gating.gates import Gate
from cytomics.gating.program import compile_gates, label_events
from cytomics.gating.sampling import sample_rows
from cytomics.gating.small_clusters import SmallClusterSettings, normalize_specimen
from cytomics.gating.strategy import GateBuilder
from cytomics.gating.thresholds import (
    control_refined_threshold,
    marker_thresholds,
    positivity_threshold,
)
from cytomics.populations import AGGREGATES, LABEL_CODES, LABEL_NAMES
from cytomics.preprocess.model import Events

# re-exported: the settings and the public helpers stay importable from here
__all__ = ["AlotGatingSettings", "GatingResult", "control_refined_threshold", "gate_alot",
           "marker_thresholds", "positivity_threshold", "sample_rows"]


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
        Findings, e.g. ``population_missing:monocytes`` (a review reason: see
        :func:`cytomics.pipeline.needs_review`) or ``population_absent:cd45_negative``
        (reported only).
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


def _terminal_gates(
    gb: GateBuilder, parent: str | None, excl: Mapping[str, str], ph: Phenotypes,
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
        clean = (gb.boolean("alot_lymphocytes_clean", parent, "and",
                            [(in_lymph, False), *not_blast])
                 if not_blast else in_lymph)
        used: list[tuple[str, bool]] = []
        for gname, g in (("t", ph.t), ("b", ph.b), ("nk", ph.nk)):
            if g is None:
                continue
            gid = gb.boolean(f"alot_lymphocytes_{gname}", parent, "and",
                             [(clean, False), (g, False), *used])
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
    events: Events, qc: Any, tube: Tube, gates: list[Gate], terms: list[tuple[str, int]]
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
        ``"BM"`` (bone marrow), ``"PB"`` (peripheral blood), either in any case, or
        ``None`` (unknown). Used
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
    specimen = normalize_specimen(specimen)
    if specimen == "PB":
        # blood: no hematogone continuum in the blast region
        s = replace(s, b_abnormal_min_fraction=s.pb_b_abnormal_min_fraction)
    flags: list[str] = []
    landmarks: dict[str, tuple[float, float]] = {}

    # 1. the decision sample and each marker's positivity threshold ---------------------------
    tube = sample_tube(events, qc, s)
    thr, pos = lineage_thresholds(tube, s)
    # 2. anchors from internal controls -------------------------------------------------------
    a = read_anchors(tube, pos, s, flags=flags, landmarks=landmarks)
    # 3-4. CD45/SSC density basins, every bin named relative to the anchors -----------------
    rm = region_map(tube, a, pos, s)
    # 5. region polygons ----------------------------------------------------------------------
    gs = GateSet(tube.sample, tube.parent)
    region_gate, excl = region_gates(gs, rm, tube, s)
    # 6. phenotype gates (rectangles on the lineage markers); CD45-low split by lineage -------
    ph = phenotype_gates(gs, thr, events.markers, tube.parent)
    split_cd45_low(gs, excl, ph.linneg, tube.parent)

    # 7. the blast cluster and the lineage markers' overlap resolution -----------------------
    ctx = BlastContext(events=events, s=s, specimen=specimen, small_settings=small_settings,
                       tube=tube, thr=thr, pos=pos, a=a, rm=rm, gs=gs, ph=ph, excl=excl,
                       flags=flags, landmarks=landmarks)
    bc = BlastCall()
    blast_region_cluster(ctx, bc)
    t_aberrant_blasts(ctx, bc)
    blasts_in_normal_regions(ctx, bc)
    monocytic_expansion(ctx, bc)
    granulocyte_checks(ctx, bc)
    blasts_gid = blast_gate(gs, bc, tube.parent)
    unexplained_blast_picture(ctx, bc, blasts_gid)  # a review flag only: labels unchanged

    # 8. terminal gates (disjoint) ------------------------------------------------------------
    terms = _terminal_gates(gs.gb, tube.parent, excl, ph, blasts_gid, bc.precursor_terms,
                            t_aberrant="t_aberrant" in landmarks)
    # 9. labels of all events, from the gates, in one pass ---------------------------------
    labels, counts = _label_all_events(events, qc, tube, gs.gb.gates, terms)
    for name in ("lymphocytes", "monocytes", "granulocytes"):
        if counts[name] < s.min_population_events:
            flags.append(f"population_missing:{name}")
    if counts["cd45_negative"] < s.min_population_events:
        # no nucleated red cells: the normal finding in blood and many lysed marrows,
        # reported for the record, not a reason for review
        flags.append("population_absent:cd45_negative")
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
