"""Leukemic B cluster against the hematogones (gating/b_lineage.py) on synthetic point clouds."""

from __future__ import annotations

import numpy as np

from cytomics.gating.alot_settings import AlotGatingSettings
from cytomics.gating.b_lineage import b_cluster_cd45_cd34


def _cloud(rng, n, x, y, sx=0.05, sy=0.04):
    return np.column_stack([rng.normal(x, sx, n), rng.normal(y, sy, n)])


def _stage2_stripe(rng, n):
    t = rng.uniform(0.4, 1.0, n)  # CD34- hematogones, CD45 rising towards the lymphocytes
    return np.column_stack([0.5 + 0.24 * t + rng.normal(0, 0.03, n),
                            0.2 + rng.normal(0, 0.04, n)])


def test_stage1_hematogones_beside_cd34neg_cluster_are_not_merged():
    # CD34- B blasts at CD45 0.45; CD34+ stage I hematogones one robust SD brighter on CD45:
    # within the CD45 merge distance, but not a CD34+ subset of the blasts
    rng = np.random.default_rng(0)
    blasts, stage1 = _cloud(rng, 2000, 0.45, 0.20), _cloud(rng, 500, 0.52, 0.62, sx=0.03)
    ev = np.vstack([blasts, stage1, _stage2_stripe(rng, 1000)])
    poly, member = b_cluster_cd45_cd34(ev[:, 0], ev[:, 1], 0.6, AlotGatingSettings())
    assert poly is not None
    assert member[:2000].mean() > 0.97
    assert member[2000:2500].mean() < 0.05
    assert member[2500:].mean() < 0.08


def test_cd34pos_blast_subset_at_the_blasts_cd45_stays_in_the_cluster():
    # partial CD34 (CD34+ and CD34- blasts at one CD45 level) is one leukemic cluster
    rng = np.random.default_rng(1)
    ev = np.vstack([_cloud(rng, 2000, 0.45, 0.20), _cloud(rng, 1000, 0.45, 0.62),
                    _stage2_stripe(rng, 1000)])
    poly, member = b_cluster_cd45_cd34(ev[:, 0], ev[:, 1], 0.6, AlotGatingSettings())
    assert poly is not None
    assert member[:3000].mean() > 0.97
    assert member[3000:].mean() < 0.08


def test_stage1_rule_is_a_setting():
    rng = np.random.default_rng(0)
    ev = np.vstack([_cloud(rng, 2000, 0.45, 0.20), _cloud(rng, 500, 0.52, 0.62, sx=0.03),
                    _stage2_stripe(rng, 1000)])
    s = AlotGatingSettings.from_mapping({"b_cd34_stage1_cd45_sd_k": 5.0})
    _, member = b_cluster_cd45_cd34(ev[:, 0], ev[:, 1], 0.6, s)
    assert member[2000:2500].mean() > 0.9  # a CD45 offset this large is required: merged


# --- hematogones inside a called B cluster, told apart on forward scatter (b_hematogones) ---

def _fsc_cloud(rng, n, x45, fsc, s45=0.05, cv=0.12):
    return np.column_stack([rng.normal(x45, s45, n), fsc * np.exp(rng.normal(0.0, cv, n))])


def _lymph_fsc(rng, n=3000, fsc=0.18):
    return fsc * np.exp(rng.normal(0.0, 0.10, n))


def test_small_cd45_brighter_hematogones_are_cut_out_of_a_b_call():
    # a small B-ALL call (blasts CD45 0.45, FSC 1.4x the lymphocytes) that swept in stage I
    # hematogones (CD45 0.55, the lymphocytes' FSC): the hematogones' polygon on CD45 vs
    # FSC holds them and leaves the blasts
    from cytomics.gating.b_hematogones import hematogone_fsc_polygon
    from cytomics.gating.clusters import in_polygon

    rng = np.random.default_rng(3)
    ev = np.vstack([_fsc_cloud(rng, 1800, 0.45, 0.25), _fsc_cloud(rng, 1100, 0.55, 0.185, 0.04)])
    poly, stats = hematogone_fsc_polygon(ev[:, 0], ev[:, 1], _lymph_fsc(rng), AlotGatingSettings())
    assert poly is not None, stats
    inside = in_polygon(ev[:, 0], ev[:, 1], poly)
    assert inside[:1800].mean() < 0.08
    assert inside[1800:].mean() > 0.85


def test_blasts_as_small_as_lymphocytes_or_one_cloud_are_left_whole():
    from cytomics.gating.b_hematogones import hematogone_fsc_polygon

    rng = np.random.default_rng(4)
    s = AlotGatingSettings()
    # blasts as small as the lymphocytes: FSC cannot tell hematogones from them
    ev = np.vstack([_fsc_cloud(rng, 1800, 0.45, 0.19), _fsc_cloud(rng, 1100, 0.55, 0.185, 0.04)])
    assert hematogone_fsc_polygon(ev[:, 0], ev[:, 1], _lymph_fsc(rng), s)[0] is None
    # one skewed blast cloud (log-FSC tail towards the small cells), no hematogones
    one = _fsc_cloud(rng, 3000, 0.45, 0.25, cv=0.2)
    assert hematogone_fsc_polygon(one[:, 0], one[:, 1], _lymph_fsc(rng), s)[0] is None
    # the small-FSC component CD45-dimmer than the rest is not on the maturation path
    ev = np.vstack([_fsc_cloud(rng, 1800, 0.55, 0.25), _fsc_cloud(rng, 1100, 0.45, 0.185, 0.04)])
    assert hematogone_fsc_polygon(ev[:, 0], ev[:, 1], _lymph_fsc(rng), s)[0] is None
