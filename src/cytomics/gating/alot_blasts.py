"""The blast call of an ALOT tube: stage 7 of :func:`cytomics.gating.alot.gate_alot`.

An abnormal blast population is a dominant, compact, homogeneous cluster of the blast
region (B-lineage clusters told from hematogones, the main CD45 / log SSC cluster of the
rest counted by its phenotype); the lineage markers then pull the cluster's blasts out of
the lymphocyte, monocyte and granulocyte gates; a monocyte or granulocyte population
beyond normal is a monocytic or hypergranular blast population (or goes to review). Each
stage reads a :class:`BlastContext` (the results of the region stages) and builds up a
:class:`BlastCall`.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

import numpy as np

from cytomics.gating import density as dens
from cytomics.gating.alot_regions import (
    Anchors,
    GateSet,
    Phenotypes,
    RegionMap,
    Tube,
    marker_rectangle,
)
from cytomics.gating.anchors import brightest_peak, t_aberrant_bounds
from cytomics.gating.b_hematogones import (
    HEMATOGONE_FSC_GATE,
    fsc_column,
    hematogone_fsc_polygon,
)
from cytomics.gating.b_lineage import (
    b_blast_cluster,
    b_blast_cluster_2d,
    b_cluster_cd34_split,
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
from cytomics.gating.myeloid import (
    dim_granular_cluster,
    extrapolated_cluster,
    residual_cd34_group,
)
from cytomics.gating.small_clusters import SmallClusterSettings, screen_small_clusters
from cytomics.order_stats import robust_sd
from cytomics.populations import LABEL_CODES
from cytomics.preprocess.model import Events

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings

__all__ = ["BlastCall", "BlastContext", "blast_gate", "blast_region_cluster",
           "blasts_in_normal_regions", "current_blasts", "granulocyte_checks",
           "monocytic_expansion", "t_aberrant_blasts", "unexplained_blast_picture"]

@dataclass(frozen=True, slots=True)
class BlastContext:
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
    tube: Tube
    thr: dict[str, float]
    pos: dict[str, np.ndarray]
    a: Anchors
    rm: RegionMap
    gs: GateSet
    ph: Phenotypes
    excl: dict[str, str]
    flags: list[str]
    landmarks: dict[str, tuple[float, float]]


@dataclass(slots=True)
class BlastCall:
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


def current_blasts(gs: GateSet, parts: list[str], n: int) -> np.ndarray:
    """Sample events of the blast gates ``parts`` (evaluating any gate built since)."""
    gs.evaluate()
    return (np.logical_or.reduce([gs.masks[g] for g in parts]) if parts
            else np.zeros(n, bool))


def blast_gate(gs: GateSet, bc: BlastCall, parent: str | None) -> str | None:
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


@dataclass(frozen=True, slots=True)
class BCluster:
    """The leukemic B cluster candidate among the B-like events of the blast region.

    Attributes
    ----------
    abnormal
        Whether it is an abnormal (leukemic) cluster.
    cut
        Its CD45 upper limit (``inf`` without a cluster).
    n_events
        Its sampled events (0 when not abnormal).
    poly, ycol
        Its polygon on CD45 vs column ``ycol`` (SSC or CD34), or ``None``: then ``cut``
        bounds it.
    cd34_review
        A compact CD34+ B cluster apart from the hematogones on CD45 vs CD34 too small to
        call blasts (``b_split_review_fraction`` to ``b_split_min_fraction``): review when
        no blast population is called.
    """

    abnormal: bool
    cut: float
    n_events: int
    poly: np.ndarray | None
    ycol: int
    cd34_review: bool = False


def b_lineage_cluster(ctx: BlastContext, b_like: np.ndarray) -> BCluster:
    """The leukemic B cluster among the B-like (CD19+ cyCD79a+) events ``b_like``.

    Hematogones form a CD45 continuum from dim to the lymphocytes; a leukemic B cluster is
    a compact CD45 peak below it (or more B events than normal marrow holds), split from
    them on CD45 / SSC or, failing that, on CD45 vs CD34. A maturation continuum (CD34
    lost as CD45 rises) is hematogones however many (flagged for review).
    """
    events, s, data, cx, cy = ctx.events, ctx.s, ctx.tube.sample.values, ctx.tube.cx, ctx.tube.cy
    nucleated, mk, present = max(ctx.tube.sample.n_events, 1), ctx.tube.mk, list(ctx.tube.mk)
    neutro, neutro_sd, span45, flags = ctx.a.neutro, ctx.a.neutro_sd, ctx.a.span45, ctx.flags
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
    cd34_review = False
    if not b_abn and "CD34" in present and ctx.specimen != "PB":
        # no CD45 (/ SSC) peak of its own: a compact CD34+ cloud apart from the
        # hematogone stripe on CD45 vs CD34 (a small B-ALL overlapping them on CD45; blood
        # holds no hematogones, its B-like blast-region events are screened as a whole)
        sp_poly, sp_mem, sp_stats = b_cluster_cd34_split(
            data[b_like, cx], mk["CD34"][b_like], nucleated, s, ref_sd=neutro_sd)
        if sp_stats:
            ctx.landmarks["b_cd34_split"] = (sp_stats["fraction"], sp_stats["sd_ratio"])
            ctx.landmarks["b_cd34_split_shape"] = (sp_stats["rho"], sp_stats["cd34_peak"])
            ctx.landmarks["b_cd34_split_gap"] = (sp_stats["valley"], sp_stats["cd34_sep"])
        if sp_poly is not None and sp_stats["fraction"] < s.b_split_min_fraction:
            cd34_review = True  # too few to call blasts: review (unless blasts are called)
        elif sp_poly is not None:
            b_abn, b_poly, b_ycol, n_bcl = True, sp_poly, events.markers["CD34"], int(sp_mem.sum())
            if "review_b_precursor_continuum" in flags:
                flags.remove("review_b_precursor_continuum")
            flags.append("b_cluster_cd34_split")
    return BCluster(abnormal=b_abn, cut=b_cut, n_events=n_bcl, poly=b_poly, ycol=b_ycol,
                    cd34_review=cd34_review)


@dataclass(frozen=True, slots=True)
class MainCluster:
    """The main CD45 / log SSC cluster of the other (non-B) blast-region events.

    Attributes
    ----------
    clu
        Sample rows of the cluster.
    counted
        bool over ``clu``: its events counted as blasts by phenotype.
    peak
        (CD45, SSC) of its density peak.
    pheno
        How it was counted: ``"any"``, ``"lineage_positive"``, ``"cd7"`` or ``"myeloid"``.
    core
        Core ellipse of its lineage-positive events (:func:`core_ellipse`), or ``None``.
    share_poly
        Myeloid cluster: CD45/SSC polygon where most MPO-dim events are blasts, or ``None``.
    mpo_level
        MPO level of the myeloid blasts (the MPO threshold unless their peak is higher).
    cd34_residual_cut
        Myeloid cluster of CD34- blasts: CD34 level above which its separate small CD34+
        group (residual normal myeloblasts) lies, or ``None``.
    n_residual
        Events of that group taken out of ``counted`` (still part of the cluster's size
        when judging whether it is abnormal: the rule only relabels them).
    """

    clu: np.ndarray
    counted: np.ndarray
    peak: tuple[float, float]
    pheno: str
    core: tuple[float, float, float, float] | None
    share_poly: np.ndarray | None
    mpo_level: float
    cd34_residual_cut: float | None = None
    n_residual: int = 0


def main_blast_cluster(ctx: BlastContext, other_ev: np.ndarray) -> MainCluster:
    """The main cluster of the events ``other_ev`` and which of them count as blasts.

    A leukemic cluster is homogeneous: lineage-negative events (basophils, plasma cells,
    debris) count only inside the core of the lineage-positive ones; beside a CD7+ MPO-
    cluster, CD7- events are not counted; in a myeloid cluster the MPO-bright events are
    the reference and MPO-dim ones count where blasts of that shape make up most of them.
    """
    s, data, cx, cy = ctx.s, ctx.tube.sample.values, ctx.tube.cx, ctx.tube.cy
    n, mk, present = ctx.tube.sample.n_events, ctx.tube.mk, list(ctx.tube.mk)
    thr, pos = ctx.thr, ctx.pos

    def P(m: str) -> np.ndarray:
        return pos.get(m, np.zeros(n, dtype=bool))

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
    cd34_cut, n_residual = None, 0
    if (cluster_pheno == "myeloid" and "CD34" in present and ctx.specimen != "PB"
            and s.myeloid_cd34_residual_max_fraction > 0):
        # CD34- myeloid blasts with a separate small CD34+ group at the normal
        # myeloblast level: residual normal CD34+ myeloid precursors, not blasts
        res = residual_cd34_group(
            mk["CD34"][clu[counted]], float(thr.get("CD34", np.nan)), n,
            max_fraction=s.myeloid_cd34_residual_max_fraction,
            min_share=s.myeloid_cd34_residual_min_share,
            min_events=s.min_population_events,
            min_height=s.myeloid_cd34_residual_min_height,
            valley_ratio=s.myeloid_cd34_residual_valley_ratio)
        if res is not None:
            cd34_cut = res[0]
            keep = mk["CD34"][clu] < cd34_cut
            n_residual = int((counted & ~keep).sum())
            counted &= keep
            ctx.landmarks["myeloid_cd34_residual"] = (res[1], cd34_cut)
    return MainCluster(clu=clu, counted=counted, peak=peak, pheno=cluster_pheno, core=core,
                       share_poly=share_poly, mpo_level=mpo_level, cd34_residual_cut=cd34_cut,
                       n_residual=n_residual)



def _phenotype_term(ctx: BlastContext, mc: MainCluster,
                    g_res: str | None = None) -> tuple[str, bool] | None:
    """The gate (operand) restricting a non-lymphoid blast cluster to its phenotype.

    CD7+ MPO- cluster: its CD7+ events; myeloid cluster: MPO at the blasts' level or
    inside the blast-share polygon; lineage-positive cluster: lineage-negative events
    only inside the core ellipse of the lineage-positive ones (basophils, plasma cells,
    debris lie elsewhere). ``None`` when the cluster is counted whole. Appends the flag
    naming the phenotype. ``g_res``: gate of the myeloid cluster's residual normal CD34+
    myeloblasts (:attr:`MainCluster.cd34_residual_cut`), left out of the term.
    """
    s, events, thr, gb, flags = ctx.s, ctx.events, ctx.thr, ctx.gs.gb, ctx.flags
    parent, cx, cy = ctx.tube.parent, ctx.tube.cx, ctx.tube.cy
    g_7 = marker_rectangle(gb, "pheno_CD7", parent, {"CD7": (thr.get("CD7"), None)}, thr,
                           events.markers)
    if mc.pheno == "cd7" and g_7 is not None:
        flags.append("blast_cluster_cd7_positive")
        return g_7, False
    if mc.pheno == "myeloid" and ctx.ph.mpo is not None:
        g_lv = (ctx.ph.mpo if mc.mpo_level <= thr["cyMPO"] else gb.rectangle(
            "pheno_MPO_blast_level", parent, {events.markers["cyMPO"]: (mc.mpo_level, None)}))
        ops = [(g_lv, False)]
        if mc.share_poly is not None:
            ops.append((gb.polygon("alot_blast_share", parent, cx, cy, mc.share_poly), False))
        term = ((gb.boolean("alot_blast_mpo_or_share", parent, "or", ops), False)
                if len(ops) > 1 else (g_lv, False))
        flags.append("blast_cluster_myeloid")
        if g_res is not None:
            # the separate small CD34+ group: residual normal myeloblasts
            term = (gb.boolean("alot_blast_myeloid_cd34neg", parent, "and",
                               [term, (g_res, True)]), False)
            flags.append("blast_cluster_cd34_residual_excluded")
        return term
    if mc.pheno == "lineage_positive" and ctx.ph.linneg is not None and mc.core is not None:
        g_core = gb.polygon("alot_blast_core", parent, cx, cy,
                            ellipse_polygon(mc.core, s.max_vertices))
        g_keep = gb.boolean("alot_blast_core_or_lineage", parent, "or",
                            [(ctx.ph.linneg, True), (g_core, False)])
        flags.append("blast_cluster_lineage_positive")
        return g_keep, False
    return None


def _extend_blast_cloud(ctx: BlastContext, bc: BlastCall, mc: MainCluster) -> None:
    """Add the parts of a myeloid blast cloud beyond the region lines to the blasts.

    A myeloid blast cloud is one density basin on CD45/SSC: its parts beyond the textbook
    region lines (monocyte CD45, granulocyte SSC), extrapolated from its uncut flanks
    (:func:`cytomics.gating.myeloid.extrapolated_cluster`), are blasts too.
    """
    s, gb, parent, cx, cy = ctx.s, ctx.gs.gb, ctx.tube.parent, ctx.tube.cx, ctx.tube.cy
    x_s, y_s, clu = ctx.tube.x45, ctx.tube.ssc, mc.clu
    ext_poly, n_model = extrapolated_cluster(
        x_s[clu], y_s[clu], np.ones(clu.size, bool), mc.peak, x_s, y_s,
        bins=s.cluster_bins, sigma_bins=s.cluster_sigma_bins,
        share_min=s.extend_share_min, sd_k=s.extend_sd_k, max_vertices=s.max_vertices,
        peaks=[(b["x"], b["y"]) for b in ctx.rm.basins], peak_sd_k=s.extend_peak_sd_k)
    if ext_poly is None:
        return
    g_ext = gb.polygon("alot_blast_cloud", parent, cx, cy, ext_poly)
    for name in ("monocytes", "granulocytes"):
        reg = ctx.excl.get(name)
        if reg is None:
            continue
        bc.parts.append(gb.boolean(f"alot_blast_cloud_in_{name}", parent, "and",
                                   [(reg, False), (g_ext, False)]))
    ctx.landmarks["blast_cloud_model"] = (n_model / max(ctx.tube.sample.n_events, 1), 0.0)
    ctx.flags.append("blast_cluster_cloud_extended")


def _without_hematogones(ctx: BlastContext, b_like: np.ndarray, lo45: str) -> str:
    """The B cluster gate ``lo45`` less the small-FSC hematogones it swept in.

    Within the called B cluster (``b_like`` events inside ``lo45``), a separate CD45-
    brighter component at the lymphocytes' forward scatter beside larger blasts
    (:func:`cytomics.gating.b_hematogones.hematogone_fsc_polygon`) is normal B
    precursors: its CD45 vs FSC polygon is cut out of the cluster. Returns the gate to
    use in place of ``lo45``.
    """
    s, gb, parent, cx = ctx.s, ctx.gs.gb, ctx.tube.parent, ctx.tube.cx
    g_ly = ctx.excl.get("lymphocytes")
    fcol = fsc_column(ctx.events)
    if fcol is None or g_ly is None:
        return lo45
    masks = ctx.gs.evaluate()
    called = b_like & masks[lo45]
    data = ctx.tube.sample.values
    poly, stats = hematogone_fsc_polygon(data[called, cx], data[called, fcol],
                                         data[masks[g_ly], fcol], s)
    if stats:
        ctx.landmarks["b_fsc_split"] = (stats["ashman"], stats["weight"])
        ctx.landmarks["b_fsc_split_levels"] = (stats["small_sd"], stats["large_sd"])
    if poly is None:
        return lo45
    g_h = gb.polygon(HEMATOGONE_FSC_GATE, parent, cx, fcol, poly)
    ctx.flags.append("b_hematogones_fsc_removed")
    return gb.boolean("alot_b_blast_cluster_large", parent, "and", [(lo45, False), (g_h, True)])


def blast_region_cluster(ctx: BlastContext, bc: BlastCall) -> None:
    """The abnormal blast cluster of the blast region and its lineage.

    A leukemic B cluster is the dimmest compact CD45 (/ SSC, / CD34) cluster of the B-like
    events, apart from the hematogone continuum; otherwise the main CD45 / log SSC cluster of
    the other events, counted by its phenotype (lineage positive, CD7+, myeloid MPO level),
    is abnormal by its size (else the small-cluster screen). Sets ``bc`` (lineage, blast
    gates, precursor terminals, reference events), appends to flags and landmarks.
    """
    s, specimen, small_settings = ctx.s, ctx.specimen, ctx.small_settings
    parent, cx, x_s = ctx.tube.parent, ctx.tube.cx, ctx.tube.x45
    n, nucleated = ctx.tube.sample.n_events, max(ctx.tube.sample.n_events, 1)
    pos, neutro, span45 = ctx.pos, ctx.a.neutro, ctx.a.span45
    gb, masks, evaluate_new = ctx.gs.gb, ctx.gs.masks, ctx.gs.evaluate
    g_b, g_tbl, g_34 = ctx.ph.b, ctx.ph.tbl, ctx.ph.cd34
    excl, flags, landmarks = ctx.excl, ctx.flags, ctx.landmarks

    cand = excl.get("blast_region")
    if cand is not None:
        m_c = masks[cand]
        n_c = int(m_c.sum())
        b_like = m_c & masks[g_b] if g_b else np.zeros(n, bool)
        t_like = m_c & masks[g_tbl] if g_tbl else np.zeros(n, bool)
        bcl = b_lineage_cluster(ctx, b_like)
        b_abn, b_cut, n_bcl = bcl.abnormal, bcl.cut, bcl.n_events
        b_poly, b_ycol = bcl.poly, bcl.ycol
        other_ev = m_c & ~b_like
        mc = main_blast_cluster(ctx, other_ev)
        clu, counted, peak, cluster_pheno = mc.clu, mc.counted, mc.peak, mc.pheno
        # the cluster's size (residual normal myeloblasts included: the size decides
        # whether it is abnormal as before; they are only relabelled)
        frac_other = float(counted.sum() + mc.n_residual) / nucleated
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
        if bc.lineage == "none" and bcl.cd34_review:
            # a small compact CD34+ B cluster off the hematogone stripe: never silent
            flags.append("b_precursor_cd34_cluster_review")
        if bc.lineage == "none":  # small abnormal populations: labelled or flagged
            sc = screen_small_clusters(x45=x_s, cand=m_c, b_like=b_like, cd34_pos=pos.get("CD34"),
                                       mpo_pos=pos.get("cyMPO"), neutro45=neutro[0],
                                       span45=span45, nucleated=nucleated, specimen=specimen,
                                       settings=small_settings)
            flags.extend(sc.flags)
            landmarks.update(sc.stats)
            if sc.lineage == "b":
                bc.lineage, b_poly, b_cut, b_ycol = "b", None, sc.b_cut, cx
                if sc.b_dim_core and "CD34" in ctx.tube.mk:
                    # the screen's cut holds the cluster's CD45-dim core; its edge against
                    # the hematogones is drawn on CD45 vs CD34 from that core
                    poly, _ = b_cluster_cd45_cd34(ctx.tube.sample.values[b_like, cx],
                                                  ctx.tube.mk["CD34"][b_like], sc.b_cut, s,
                                                  edge45=float("inf"))
                    if poly is not None:
                        b_poly, b_ycol = poly, ctx.events.markers["CD34"]
            elif sc.lineage == "cd34" and g_34 is not None:
                bc.lineage = "cd34"
        elif (bc.lineage == "b" and n_bcl < s.b_review_max_fraction * nucleated
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
            lo45 = _without_hematogones(ctx, b_like, lo45)
            # inside the B blast cluster the blasts are its CD19+ events: a blast with
            # cyCD79a below the tube's threshold (partial expression) is still counted;
            # the lineage evidence (% cyCD79a+) is read on the call, not required per event
            g_19 = (marker_rectangle(gb, "pheno_CD19", parent,
                                     {"CD19": (ctx.thr.get("CD19"), None)}, ctx.thr,
                                     ctx.events.markers)
                    if s.b_blast_cd19_only else None) or g_b
            b_blast_gate = gb.boolean("pheno_B_blast", parent, "and",
                                      [(g_19, False), (lo45, False)])
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
            g_res = (marker_rectangle(gb, "pheno_CD34_residual_myeloblasts", parent,
                                      {"CD34": (mc.cd34_residual_cut, None)}, ctx.thr,
                                      ctx.events.markers)
                     if mc.cd34_residual_cut is not None and ctx.ph.mpo is not None else None)
            term = _phenotype_term(ctx, mc, g_res)
            if term is not None:
                excluded.append(term)
            if g_res is not None:
                ops = [(cand, False), (g_res, False)] + ([(g_b, True)] if g_b else [])
                gid = gb.boolean("alot_myeloid_precursors", parent, "and", ops)
                bc.precursor_terms.append((gid, LABEL_CODES["myeloid_precursors"]))
        t_blast_gate = g_tbl
        if bc.lineage == "t" and s.t_blast_cd7_smcd3neg and ctx.ph.nk is not None:
            # inside the blast region the T blasts are its cyCD3+ smCD3- or CD7+ smCD3-
            # events: blasts with partial or dim cyCD3 are still counted (NK cells, also
            # CD7+ smCD3-, sit at lymphocyte CD45, outside the region)
            t_blast_gate = gb.boolean("pheno_T_blast", parent, "or",
                                      [(g_tbl, False), (ctx.ph.nk, False)])
        lineage_gate = {"b": b_blast_gate, "t": t_blast_gate}.get(bc.lineage)
        if lineage_gate is not None:
            # lymphoid blasts carry their lineage marker: the rest of the region (monocyte
            # tails, myeloid precursors, basophils) stays out of the blast count
            excluded = [(cand, False), (lineage_gate, False)]
        if len(excluded) > 1:
            bc.parts.append(gb.boolean("alot_blast_region_other", parent, "and", excluded))
        else:
            bc.parts.append(cand)
        if bc.lineage == "other" and cluster_pheno != "cd7":
            _extend_blast_cloud(ctx, bc, mc)
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
            elif f_rest >= s.second_lineage_cd34_review_fraction:
                # an expanded normal CD34+ myeloid precursor compartment (regenerating
                # marrow) and a small bilineal second blast population share size, CD45/SSC
                # and the ALOT phenotype: left out of the blasts, sent to review
                landmarks["second_lineage_cd34"] = (f_rest, 0.0)
                flags.append("second_blast_lineage_cd34_indeterminate_review")


def t_aberrant_blasts(ctx: BlastContext, bc: BlastCall) -> None:
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
        ab = (mk["cyCD3"] >= cy_lo) & (mk["smCD3"] < sm_hi)
        n_ab = int(ab.sum())
        if n_ab >= s.t_aberrant_extend_min_fraction * nucleated:
            # a large aberrant T population is its own cloud: its cyCD3 lower edge is read
            # off its own peak and upper-flank spread, not off the mature T cells' (the
            # blasts may be dimmer: a cut through the cloud leaves its dim half as NK)
            pk = brightest_peak(mk["cyCD3"][ab], s)
            if pk is not None:
                lo2 = max(pk[0] - s.t_aberrant_extend_sd_k * pk[1],
                          float(ctx.thr.get("cyCD3", -np.inf)))
                if lo2 < cy_lo:
                    cy_lo = lo2
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


def blasts_in_normal_regions(ctx: BlastContext, bc: BlastCall) -> None:
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


def monocytic_expansion(ctx: BlastContext, bc: BlastCall) -> None:
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
        f_mono = float((mono_m & ~current_blasts(ctx.gs, bc.parts, n)).sum()) / nucleated
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


def granulocyte_checks(ctx: BlastContext, bc: BlastCall) -> None:
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
        gm = masks[g_gran] & ~current_blasts(ctx.gs, bc.parts, n)
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
        gm = masks[g_gran] & ~current_blasts(ctx.gs, bc.parts, n)
        if gm.sum() >= s.min_control_events:
            gi = np.flatnonzero(gm)
            lg = np.log(np.maximum(y_s[gi[:: max(1, gi.size // 20_000)]], 1e-6))
            sd_g = robust_sd(lg)
            f_g = float(gm.sum()) / nucleated
            landmarks["granulocyte_log_ssc_sd"] = (sd_g, f_g)
            if sd_g >= s.gran_ssc_sd_review and f_g >= s.gran_review_min_fraction:
                # maturing neutrophils have a characteristic SSC spread; a large
                # 'granulocyte' population spread far wider may hide hypergranular blasts
                # that share the neutrophils' CD45, SSC and MPO (not separable on ALOT)
                flags.append("review_granulocyte_ssc_atypical")



def unexplained_blast_picture(ctx: BlastContext, bc: BlastCall, blasts_gid: str | None) -> None:
    """Flag a large blast call that leaves much of the leukemia outside the blast gate.

    Review only: the labels are unchanged. On the decision sample, the events left
    unexplained by the call are (i) those of the blast region that are neither blasts
    nor a normal precursor terminal, and (ii) those anywhere outside the blasts whose
    phenotype and scatter match the called blasts: within ``incomplete_box_sd_k`` robust
    SDs of the called blasts' median on CD45, on every lineage marker of the panel and on
    log side scatter (its spread read on the lower flank: a cloud cut at a region line
    above it continues beyond the line). Normal lymphocytes, neutrophils and CD34-
    monocytes differ from most blasts on one of these; mature (smCD3+) T cells are never
    counted. When the call is at least
    ``incomplete_min_call_fraction`` of nucleated (smaller calls are judged by the
    small-cluster review) and the unexplained events reach ``incomplete_min_fraction`` of
    the nucleated events and ``incomplete_call_ratio`` times the called blasts (or, from
    ``incomplete_large_fraction`` of nucleated on, ``incomplete_large_call_ratio`` times),
    ``blast_call_incomplete_review`` is raised. The unexplained fraction and its ratio to
    the call are the landmark ``blast_call_unexplained``. A sample without a blast call is
    never judged.
    """
    if bc.lineage == "none" or blasts_gid is None:
        return
    gs, s, tube = ctx.gs, ctx.s, ctx.tube
    masks = gs.evaluate()
    blasts = masks[blasts_gid]
    n, n_blasts = blasts.size, int(blasts.sum())
    if n == 0 or n_blasts < s.min_population_events:
        return
    left = np.zeros(n, bool)
    region = ctx.excl.get("blast_region")
    if region is not None:
        left |= masks[region]
    box = np.ones(n, bool)
    bi = np.flatnonzero(blasts)
    bi = bi[:: max(1, bi.size // 20_000)]  # a median and its spread need no more events
    for v in (tube.x45, *tube.mk.values()):
        vb = v[bi]
        med = float(np.median(vb))
        sd = robust_sd(vb, med)
        box &= np.abs(v - med) <= s.incomplete_box_sd_k * max(sd, 1e-6)
    # side scatter: the cloud may be cut at a region line above it, so its spread is
    # read on its lower flank (log SSC below the median, mirrored)
    ly = np.log(np.maximum(tube.ssc, 1e-6))
    lb = ly[bi]
    med = float(np.median(lb))
    low = lb[lb <= med]
    sd = float(np.sqrt(np.mean((low - med) ** 2))) if low.size else 0.0
    box &= np.abs(ly - med) <= s.incomplete_box_sd_k * max(sd, 1e-6)
    left |= box
    left &= ~blasts
    if ctx.ph.t is not None:  # mature T cells (smCD3+) are never the leukemia left out
        left &= ~masks[ctx.ph.t]
    for gid, _code in bc.precursor_terms:
        left &= ~masks[gid]
    n_left = int(left.sum())
    f_left, ratio, f_call = n_left / n, n_left / n_blasts, n_blasts / n
    ctx.landmarks["blast_call_unexplained"] = (f_left, ratio)
    # a leftover of moderate size must be a large share of the call; a larger one less so
    need = (s.incomplete_large_call_ratio if f_left >= s.incomplete_large_fraction
            else s.incomplete_call_ratio)
    if (f_call >= s.incomplete_min_call_fraction and f_left >= s.incomplete_min_fraction
            and ratio >= need):
        ctx.flags.append("blast_call_incomplete_review")
