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
