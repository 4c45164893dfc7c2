"""cytomics.peaks equals scipy.signal.find_peaks on the conditions it supports."""

from __future__ import annotations

import numpy as np
import pytest
from scipy import signal

from cytomics.peaks import find_peaks


@pytest.mark.parametrize("seed", range(30))
def test_find_peaks_matches_scipy(seed):
    rng = np.random.default_rng(seed)
    x = rng.random(rng.integers(3, 300))
    if seed % 3 == 0:  # plateaus and ties
        x = np.round(x * 4) / 4
    if seed % 5 == 0:
        x = np.convolve(x, np.ones(7) / 7, mode="same")
    height = None if seed % 2 else float(np.quantile(x, 0.3))
    prominence = None if seed % 4 == 1 else float(0.2 * (x.max() - x.min()))
    kw = {k: v for k, v in (("height", height), ("prominence", prominence)) if v is not None}
    ref_idx, props = signal.find_peaks(x, **kw)
    idx, prom = find_peaks(x, height=height, prominence=prominence)
    np.testing.assert_array_equal(idx, ref_idx)
    ref_prom = props["prominences"] if "prominences" in props else signal.peak_prominences(
        x, ref_idx)[0]
    np.testing.assert_allclose(prom, ref_prom, rtol=0, atol=1e-12)


def test_flat_and_tiny_inputs_have_no_peaks():
    for x in (np.zeros(10), np.ones(1), np.array([1.0, 2.0])):
        assert find_peaks(x)[0].size == 0


@pytest.mark.parametrize("seed", range(20))
def test_prominence_bases_match_scipy(seed):
    from cytomics.peaks import prominence_and_bases

    rng = np.random.default_rng(100 + seed)
    x = rng.random(rng.integers(5, 300))
    if seed % 2 == 0:  # plateaus and tied minima
        x = np.round(x * 3) / 3
    ref_idx, props = signal.find_peaks(x, prominence=0.0)
    assert ref_idx.size > 0
    for k, p in enumerate(ref_idx):
        prom, lb, rb = prominence_and_bases(x, int(p))
        assert prom == pytest.approx(props["prominences"][k], abs=1e-12)
        assert (lb, rb) == (props["left_bases"][k], props["right_bases"][k])


def test_gating_does_not_import_scipy_signal():
    """scipy.signal (with scipy.stats) costs ~0.35 s of start-up in every sample process."""
    import subprocess
    import sys

    code = ("import sys, cytomics.gating.alot, cytomics.qc, cytomics.pipeline; "
            "print(sorted(m for m in sys.modules if m.startswith(('scipy.signal', 'scipy.stats'))))")
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "[]"
