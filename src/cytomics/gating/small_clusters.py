"""Screen for small abnormal populations the main blast-cluster rules leave unnamed.

The ALOT gating (:mod:`cytomics.gating.alot`) calls a blast population abnormal when it
is a dominant cluster of the CD45-dim / low-SSC region. A small leukemic population
(1-7 % of nucleated cells) next to normal CD45-dim cells (CD34+ myeloid precursors,
hematogones, basophils) is not dominant, and would be reported as "no abnormal blast
cluster". An expert does not miss it, because it breaks what normal marrow and blood
look like on the ALOT markers:

* **CD34+ cells without B phenotype.** Blood holds essentially none (< 0.05 % of
  leukocytes): any discrete CD34+ population is abnormal. Marrow holds ~0.5-2 % normal
  CD34+ myeloid precursors; beyond that the compartment is expanded.
* **B-lineage (CD19+ cyCD79a+) cells dimmer on CD45 than the earliest hematogones.**
  Normal B precursors run from CD45 dim (CD34+) to the mature B cells; events well below
  the CD45 level of the neutrophils are off that path. In blood, any B-lineage cluster
  in the blast region (no hematogones circulate) is abnormal.
* **MPO+ cells with the CD45 and SSC of blasts.** Maturing myeloid cells gain SSC as
  they gain MPO; normal marrow and blood hold about 1 % or less MPO+ events in the blast
  region, CD34- myeloid and monocytic blasts add to them (review only: the count is
  not specific).
* **Blood: events in the blast region at all.** Normal blood holds there little more than
  basophils and the tails of monocytes and NK cells (review only).

Each finding either labels blasts (expressed as gates by the caller, through the same
gates the ALOT strategy uses for B clusters and CD34+ cells) together with a review flag
(small counts are always worth a second look), or raises a review flag only when the
evidence is weaker (e.g. a modest CD34+ excess in marrow). Never silent.

The screen works on the sample of events the ALOT strategy already drew (the decisions
need no more), so it adds no pass over the whole tube.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

from cytomics.errors import ConfigError
from cytomics.gating._numeric_settings import numeric_settings

__all__ = ["SmallClusterFinding", "SmallClusterSettings", "normalize_specimen",
           "screen_small_clusters"]

SPECIMENS = ("BM", "PB")


@dataclass(frozen=True, slots=True)
class SmallClusterSettings:
    """Thresholds of the small-cluster screen (fractions of nucleated events).

    Attributes
    ----------
    enabled
        0 switches the screen off.
    min_events
        A finding needs at least this many sampled events.
    pb_cd34_blast_fraction, pb_cd34_review_fraction
        Blood: CD34+ non-B events of the blast region reaching the first fraction are
        blasts; from the second they raise ``cd34_precursor_excess_review`` (normal blood:
        < 0.05 %).
    bm_cd34_blast_fraction, bm_cd34_review_fraction
        Marrow (or unknown specimen): the same for marrow, whose normal CD34+ myeloid
        precursors hold ~0.5-2 %, up to ~3 % when regenerating (CD34+ hematogones are
        B-like and not counted): a count alone labels blasts only well beyond that.
    pb_b_blast_fraction
        Blood: B-lineage events of the blast region reaching this fraction are B blasts
        (hematogones do not circulate).
    b_dim_detect_z
        B-lineage events of the blast region with CD45 more than this many
        neutrophil-to-lymphocyte CD45 distances below the neutrophils are dimmer than the
        earliest hematogones (normal marrow: < 0.1 % of nucleated events).
    b_dim_blast_fraction, b_dim_review_fraction
        Such events reaching the first fraction are B blasts (up to the CD45 valley above
        them, never above ``b_dim_cut_max_z`` distances below the neutrophils); from the
        second they raise ``b_precursor_cd45_dim_review``.
    b_dim_cut_max_z
        See ``b_dim_blast_fraction``.
    pb_other_review_fraction
        Blood: non-B events of the blast region reaching this fraction raise
        ``blood_blast_region_events_review`` (normal blood: basophils and a few monocyte /
        NK tails).
    mpo_review_fraction
        Non-B cyMPO+ events of the blast region reaching this fraction raise
        ``blast_region_mpo_excess_review`` (normal marrow and blood: <= ~1 %; CD34-
        myeloid and monocytic blasts are MPO+ with the blasts' CD45 and SSC).
    review_max_fraction
        A labelled finding smaller than this also raises ``small_blast_cluster_review``.
    """

    enabled: int = 1
    min_events: int = 40
    pb_cd34_blast_fraction: float = 0.002
    pb_cd34_review_fraction: float = 0.001
    bm_cd34_blast_fraction: float = 0.04
    bm_cd34_review_fraction: float = 0.025
    pb_b_blast_fraction: float = 0.003
    b_dim_detect_z: float = 1.2
    b_dim_cut_max_z: float = 0.8
    b_dim_blast_fraction: float = 0.0025
    b_dim_review_fraction: float = 0.0015
    pb_other_review_fraction: float = 0.025
    mpo_review_fraction: float = 0.013
    review_max_fraction: float = 0.10

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> SmallClusterSettings:
        """Build settings from a config mapping; unknown keys raise :class:`ConfigError`."""
        return numeric_settings(cls, d, section="gating.small_clusters")


@dataclass(slots=True)
class SmallClusterFinding:
    """Outcome of the screen.

    Attributes
    ----------
    lineage
        ``"none"`` (nothing to label), ``"b"`` (B-lineage blasts: B-like events of the
        blast region with CD45 below ``b_cut``) or ``"cd34"`` (CD34+ non-B events of the
        blast region).
    b_cut
        CD45 upper limit of the B blasts (``lineage == "b"``).
    b_dim_core
        ``b_cut`` bounds only the CD45-dim core of a marrow B cluster (the part clear of
        the hematogones), not the cluster's own edge, which the gating draws from there.
    n_events
        Sampled events of the finding.
    fraction
        ``n_events`` over nucleated sampled events.
    flags
        Flags to add to the gating result (review flags end in ``_review``).
    stats
        Measured quantities (for landmarks / diagnostics): name -> (value, value).
    """

    lineage: str = "none"
    b_cut: float = float("nan")
    b_dim_core: bool = False
    n_events: int = 0
    fraction: float = 0.0
    flags: list[str] = field(default_factory=list)
    stats: dict[str, tuple[float, float]] = field(default_factory=dict)


def normalize_specimen(specimen: str | None) -> str | None:
    """The specimen type in upper case (``"BM"``, ``"PB"``) or ``None`` (unknown).

    Raises
    ------
    ConfigError
        For any other value.
    """
    if specimen is None:
        return None
    sp = str(specimen).upper()
    if sp not in SPECIMENS:
        raise ConfigError(f"gating: specimen must be one of {SPECIMENS} or None, "
                          f"got {specimen!r}")
    return sp


def screen_small_clusters(
    *,
    x45: np.ndarray,
    cand: np.ndarray,
    b_like: np.ndarray,
    cd34_pos: np.ndarray | None,
    mpo_pos: np.ndarray | None = None,
    neutro45: float,
    span45: float,
    nucleated: int,
    specimen: str | None,
    settings: SmallClusterSettings | None = None,
) -> SmallClusterFinding:
    """Look for a small abnormal population in a sample judged to hold none.

    Parameters
    ----------
    x45
        CD45 (display scale) of the sampled events.
    cand
        Bool mask: events of the blast region (CD45 dim / negative lineage-positive, SSC
        low-intermediate).
    b_like
        Bool mask: CD19+ cyCD79a+ events.
    cd34_pos
        Bool mask: CD34+ events (``None`` without CD34 in the panel).
    mpo_pos
        Bool mask: cyMPO+ events (``None`` without cyMPO in the panel).
    neutro45, span45
        CD45 of the neutrophils and the neutrophil-to-lymphocyte CD45 distance.
    nucleated
        Number of sampled nucleated events (the denominator of every fraction).
    specimen
        ``"BM"``, ``"PB"`` or ``None`` (unknown: judged as marrow, the stricter normal).
    settings
        Thresholds; defaults when ``None``.

    Returns
    -------
    SmallClusterFinding
        At most one labelled finding (B blasts take precedence over CD34+ cells: a B-ALL
        is CD34+ and B-like) and any review flags.

    Raises
    ------
    ConfigError
        For an unknown specimen type.
    """
    s = settings or SmallClusterSettings()
    sp = normalize_specimen(specimen)
    out = SmallClusterFinding()
    if not s.enabled:
        return out
    nuc = max(int(nucleated), 1)
    blood = sp == "PB"

    # B-lineage cells of the blast region ------------------------------------------------
    b_reg = cand & b_like
    n_b = int(b_reg.sum())
    span = max(float(span45), 1e-3)
    zb = (x45[b_reg] - neutro45) / span  # 0 neutrophils, 1 lymphocytes
    n_bdim = int((zb < -s.b_dim_detect_z).sum())
    out.stats["small_b_region"] = (n_b / nuc, float(n_b))
    out.stats["small_b_dim"] = (n_bdim / nuc, float(neutro45 - s.b_dim_detect_z * span))
    n_other = int((cand & ~b_like).sum())
    out.stats["small_other"] = (n_other / nuc, float(n_other))
    if cd34_pos is not None:
        c34 = cand & cd34_pos & ~b_like
        n34 = int(c34.sum())
        out.stats["small_cd34"] = (n34 / nuc, float(n34))
    else:
        c34, n34 = None, 0
    if blood and n_b >= s.min_events and n_b >= s.pb_b_blast_fraction * nuc:
        cut = float(np.max(x45[b_reg])) + 1e-3
        _label(out, "b", n_b, nuc, s, "small_b_cluster_blood", b_cut=cut)
        return out
    if n_bdim >= s.min_events and n_bdim >= s.b_dim_blast_fraction * nuc:
        cut = _b_dim_cut(x45[b_reg], zb, neutro45, span, s)
        n_cut = int((x45[b_reg] < cut).sum())
        _label(out, "b", n_cut, nuc, s, "small_b_cluster_cd45_dim", b_cut=cut)
        out.b_dim_core = True
        return out
    if n_bdim >= s.min_events and n_bdim >= s.b_dim_review_fraction * nuc:
        out.flags.append("b_precursor_cd45_dim_review")

    # CD34+ cells without B phenotype -------------------------------------------------------
    if c34 is not None and n34 >= s.min_events:
        lim = s.pb_cd34_blast_fraction if blood else s.bm_cd34_blast_fraction
        rev = s.pb_cd34_review_fraction if blood else s.bm_cd34_review_fraction
        if n34 >= lim * nuc:
            _label(out, "cd34", n34, nuc, s,
                   "small_cd34_cluster_blood" if blood else "small_cd34_cluster_marrow")
            return out
        if n34 >= rev * nuc:
            out.flags.append("cd34_precursor_excess_review")

    # MPO+ events of the blast region (CD45 dim, low SSC): normal marrow and blood hold
    # few (maturing myeloid cells have more SSC); CD34- myeloid blasts are MPO+
    if mpo_pos is not None:
        n_mpo = int((cand & mpo_pos & ~b_like).sum())
        out.stats["small_mpo"] = (n_mpo / nuc, float(n_mpo))
        if n_mpo >= s.min_events and n_mpo >= s.mpo_review_fraction * nuc:
            out.flags.append("blast_region_mpo_excess_review")

    # blood: the blast region of normal blood is nearly empty --------------------------------
    if blood and n_other >= s.min_events and n_other >= s.pb_other_review_fraction * nuc:
        out.flags.append("blood_blast_region_events_review")
    return out


def _b_dim_cut(xb: np.ndarray, zb: np.ndarray, neutro45: float, span: float,
               s: SmallClusterSettings) -> float:
    """CD45 upper edge of a B cluster dimmer than the hematogones: the density valley
    between the dim cluster's CD45 peak (the one nearest the dim events' median) and the
    next peak of the B-like events above it, never above ``b_dim_cut_max_z`` (the
    hematogones' own CD45 range)."""
    from cytomics.gating import density as dens

    hi_cut = neutro45 - s.b_dim_cut_max_z * span
    dim = xb[zb < -s.b_dim_detect_z]
    if dim.size == 0 or xb.size < 10:
        return float(hi_cut)
    d = dens.density_1d(xb.astype(np.float64), lo=float(xb.min()) - 0.05,
                        hi=float(xb.max()) + 0.05, bins=128, sigma_bins=2.0)
    m_dim = float(np.median(dim))
    peaks = sorted(p.position for p in dens.find_peaks_1d(d, min_height=0.02,
                                                          min_prominence=0.1))
    if not peaks:
        return float(hi_cut)
    own = peaks[int(np.argmin([abs(p - m_dim) for p in peaks]))]  # the dim cluster's peak
    floor45 = neutro45 - s.b_dim_detect_z * span
    above = [p for p in peaks if p > max(own, floor45)]  # hematogones
    cut = dens.valley_between(d, own, min(above)) if above else hi_cut
    return float(min(cut, hi_cut))


def _label(out: SmallClusterFinding, lineage: str, n: int, nuc: int, s: SmallClusterSettings,
           flag: str, *, b_cut: float = float("nan")) -> None:
    out.lineage, out.n_events, out.fraction, out.b_cut = lineage, n, n / nuc, b_cut
    out.flags.append(flag)
    if out.fraction < s.review_max_fraction:
        out.flags.append("small_blast_cluster_review")
