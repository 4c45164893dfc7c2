"""Residual normal CD34+ myeloblasts beside CD34-negative myeloid blasts."""

from __future__ import annotations

import numpy as np

from cytomics.gating.myeloid import residual_cd34_group

KW = dict(max_fraction=0.03, min_share=0.05, min_events=10, min_height=0.03, valley_ratio=0.3)


def _cd34(n_neg, n_pos, *, seed=0, smear=0):
    rng = np.random.default_rng(seed)
    return np.concatenate([rng.normal(0.18, 0.05, n_neg), rng.normal(0.66, 0.045, n_pos),
                           rng.uniform(0.18, 0.66, smear)])


def test_separate_small_cd34_group_is_cut_at_the_valley():
    """2,000 CD34- blasts and a separate group of 400 CD34+ events (1 % of 40,000
    nucleated, the normal myeloblast compartment): the cut lies in the valley between."""
    res = residual_cd34_group(_cd34(2000, 400), 0.4, 40_000, **KW)
    assert res is not None
    cut, frac = res
    assert 0.35 < cut < 0.56
    assert 0.008 < frac < 0.012


def test_no_split_without_a_valley_or_beyond_normal_precursor_numbers():
    """A partly CD34+ blast population smeared between the two levels (no valley), a
    CD34+ group beyond the normal myeloblast compartment (5 % of nucleated), a CD34+
    majority, a CD34- population alone and a CD34+ group of a few percent of a large
    blast call are never split."""
    assert residual_cd34_group(_cd34(2000, 400, smear=1500), 0.4, 40_000, **KW) is None
    assert residual_cd34_group(_cd34(8000, 2000), 0.4, 40_000, **KW) is None
    assert residual_cd34_group(_cd34(300, 2000), 0.4, 40_000, **KW) is None
    assert residual_cd34_group(_cd34(2000, 0), 0.4, 40_000, **KW) is None
    # a CD34+ group of 3 % beside 20,000 CD34- blasts: as likely a CD34+ blast subclone
    assert residual_cd34_group(_cd34(20_000, 600), 0.4, 40_000, **KW) is None
