"""Small-cluster screen: small leukemic populations are labelled or flagged, never silent;
normal marrow and blood gain neither blasts nor review flags."""

from __future__ import annotations

from types import SimpleNamespace

import numpy as np
import pytest

from _synthetic_alot import synthetic_alot
from cytomics.errors import ConfigError
from cytomics.gating.alot import gate_alot
from cytomics.gating.small_clusters import SmallClusterSettings, screen_small_clusters
from cytomics.gating.strategy import evaluate_gates
from cytomics.pipeline import needs_review
from cytomics.populations import LABEL_CODES

BLAST = LABEL_CODES["blasts"]
SEED = 21000  # a tuning seed


def _qc(n):
    return SimpleNamespace(keep=np.ones(n, bool), labels=np.full(n, 4, np.uint8), gates=[])


def _gate(lineage, bf, specimen, *, seed=SEED, gate_specimen="same"):
    ev, truth = synthetic_alot(lineage=lineage, blast_fraction=bf, seed=seed,
                               specimen=specimen, n_events=30_000)
    qc = _qc(ev.n_events)
    res = gate_alot(ev, qc, specimen=specimen if gate_specimen == "same" else gate_specimen)
    return ev, qc, res, truth


def _f1(res, truth):
    t, p = truth == BLAST, res.labels == BLAST
    return 2.0 * (t & p).sum() / max(t.sum() + p.sum(), 1)


def _labels_from_gates(ev, qc, res):
    masks = evaluate_gates(res.gates, ev, root_mask=np.asarray(qc.keep, bool), external={})
    stack = np.array([masks[g] for g, _ in res.terminals])
    assert stack.sum(axis=0).max() <= 1, "terminal gates overlap"
    rebuilt = np.asarray(qc.labels, np.uint8).copy()
    rebuilt[np.asarray(qc.keep, bool)] = LABEL_CODES["unclassified"]
    for g, code in res.terminals:
        rebuilt[masks[g]] = code
    assert np.array_equal(rebuilt, res.labels)


# --- the screen on constructed arrays -------------------------------------------------------
def _arrays(n=20_000, n_cand=1_000, n34=400, n_bdim=0, seed=0):
    rng = np.random.default_rng(seed)
    x45 = rng.normal(0.7, 0.03, n)  # neutrophils at 0.6, lymphocytes at 0.8 (span 0.2)
    cand = np.zeros(n, bool)
    cand[:n_cand] = True
    x45[:n_cand] = rng.normal(0.5, 0.03, n_cand)
    cd34 = np.zeros(n, bool)
    cd34[:n34] = True
    b_like = np.zeros(n, bool)
    b_like[n_cand - n_bdim:n_cand] = True
    x45[n_cand - n_bdim:n_cand] = rng.normal(0.3, 0.02, n_bdim)  # far below hematogones
    return dict(x45=x45, cand=cand, b_like=b_like, cd34_pos=cd34, neutro45=0.6, span45=0.2,
                nucleated=n)


def test_cd34_cluster_is_blasts_in_blood_but_only_review_in_marrow():
    a = _arrays(n34=600)  # 3 % CD34+ non-B cells: abnormal in blood, high for marrow
    pb = screen_small_clusters(**a, specimen="PB")
    assert pb.lineage == "cd34" and pb.n_events == 600
    assert any(needs_review(f) for f in pb.flags)
    bm = screen_small_clusters(**a, specimen="BM")
    assert bm.lineage == "none"
    assert "cd34_precursor_excess_review" in bm.flags
    # unknown specimen is judged as marrow (the stricter normal)
    assert screen_small_clusters(**a, specimen=None).lineage == "none"
    # far beyond normal marrow precursors: blasts in marrow too (and reviewed)
    big = screen_small_clusters(**_arrays(n34=1000), specimen="BM")
    assert big.lineage == "cd34" and "small_blast_cluster_review" in big.flags
    # normal CD34+ precursors raise nothing: 1.5 % in marrow, 0.05 % in blood
    assert not screen_small_clusters(**_arrays(n34=300), specimen="BM").flags
    normal_pb = screen_small_clusters(**_arrays(n_cand=150, n34=10), specimen="PB")
    assert normal_pb.lineage == "none" and not normal_pb.flags


def test_cd45_dim_b_cluster_is_cut_below_the_hematogones():
    a = _arrays(n34=0, n_bdim=200)  # 1 % B-like events at CD45 0.3 (neutrophils 0.6)
    out = screen_small_clusters(**a, specimen="BM")
    assert out.lineage == "b"
    assert out.b_cut <= 0.6 - SmallClusterSettings().b_dim_cut_max_z * 0.2 + 1e-9
    assert out.b_cut > 0.35  # the whole dim cluster lies below the cut
    assert "small_blast_cluster_review" in out.flags


def test_settings_and_specimen_are_validated():
    with pytest.raises(ConfigError):
        SmallClusterSettings.from_mapping({"no_such_threshold": 1})
    with pytest.raises(ConfigError):
        SmallClusterSettings.from_mapping({"min_events": "many"})
    assert SmallClusterSettings.from_mapping({"min_events": "12"}).min_events == 12
    with pytest.raises(ConfigError):
        screen_small_clusters(**_arrays(), specimen="CSF")
    off = SmallClusterSettings(enabled=0)
    assert screen_small_clusters(**_arrays(), specimen="PB", settings=off).lineage == "none"


# --- through gate_alot on simulated tubes -------------------------------------------------
@pytest.mark.parametrize("lineage", ["aml", "b"])
def test_small_blood_cluster_is_labelled_and_reviewed(lineage):
    ev, qc, res, truth = _gate(lineage, 0.02, "PB")
    assert _f1(res, truth) >= 0.85
    assert any(needs_review(f) for f in res.flags)
    assert "no_abnormal_blast_cluster" not in res.flags
    _labels_from_gates(ev, qc, res)


@pytest.mark.parametrize("specimen", ["PB", "BM"])
def test_normal_samples_gain_no_blasts_and_no_review(specimen):
    res = _gate("aml", 0.0, specimen)[2]
    assert (res.labels == BLAST).mean() <= 0.005
    assert not any(needs_review(f) for f in res.flags)
    assert "no_abnormal_blast_cluster" in res.flags


def test_mpo_excess_in_blast_region_is_flagged_not_labelled():
    a = _arrays(n34=0)
    mpo = np.zeros(a["x45"].size, bool)
    mpo[:400] = True  # 2 % MPO+ events with the CD45 / SSC of blasts
    out = screen_small_clusters(**a, mpo_pos=mpo, specimen="BM")
    assert out.lineage == "none" and "blast_region_mpo_excess_review" in out.flags
    mpo[100:] = False  # 0.5 %: normal
    assert not screen_small_clusters(**a, mpo_pos=mpo, specimen="BM").flags
