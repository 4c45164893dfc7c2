"""Marker positivity thresholds of the ALOT gating (gating/thresholds.py)."""

from __future__ import annotations

import numpy as np
import pytest

from cytomics.gating.alot_settings import AlotGatingSettings
from cytomics.gating.thresholds import positivity_threshold


def _negatives(rng):
    # a negative population with a wide spread and a dim shoulder (e.g. granulocytes and
    # eosinophils on a cytoplasmic B marker)
    return np.r_[rng.normal(0.15, 0.05, 20000), rng.normal(-0.05, 0.12, 9000),
                 rng.normal(0.32, 0.05, 6000)]


def test_shoulder_of_the_negative_cells_is_not_a_positive_population():
    # the shoulder has no dip below it: the threshold stays above it (no positive cells)
    thr, neg = positivity_threshold(_negatives(np.random.default_rng(0)), AlotGatingSettings())
    assert 0.40 < thr < 0.50
    assert abs(neg - 0.15) < 0.02


def test_small_positive_bump_beside_the_shoulder_sets_the_valley():
    rng = np.random.default_rng(0)
    v = np.r_[_negatives(rng), rng.normal(0.57, 0.045, 1500)]
    thr, _ = positivity_threshold(v, AlotGatingSettings())
    assert 0.40 < thr < 0.50


def test_positive_bump_settings_are_read_from_config():
    s = AlotGatingSettings.from_mapping({"marker_positive_min_prominence": 0.05,
                                         "marker_positive_separation": 0.5})
    assert (s.marker_positive_min_prominence, s.marker_positive_separation) == (0.05, 0.5)


def test_flank_threshold_keeps_the_dim_flank_of_the_co_expressing_population():
    # cyCD79a on CD19+ events: B cells at 0.55 (SD 0.06); the 1-D valley against a wide
    # negative spread sat at 0.50, cutting off a fifth of them
    from cytomics.gating.thresholds import population_flank_threshold

    rng = np.random.default_rng(2)
    b = rng.normal(0.55, 0.06, 3000)
    t = population_flank_threshold(b, 0.50, 0.15, AlotGatingSettings())
    assert 0.33 < t < 0.40
    assert (b < t).mean() < 0.01


def test_flank_threshold_never_rises_nor_falls_past_halfway_to_the_negatives():
    from cytomics.gating.thresholds import population_flank_threshold

    rng = np.random.default_rng(3)
    s = AlotGatingSettings()
    wide = rng.normal(0.55, 0.15, 3000)  # a wide population: floor at halfway (0.325)
    assert population_flank_threshold(wide, 0.50, 0.15, s) == pytest.approx(0.325)
    narrow = rng.normal(0.80, 0.02, 3000)  # far above the threshold: unchanged
    assert population_flank_threshold(narrow, 0.50, 0.15, s) == 0.50
    negative = rng.normal(0.15, 0.05, 3000)  # mostly negative events: unchanged
    assert population_flank_threshold(negative, 0.50, 0.15, s) == 0.50
