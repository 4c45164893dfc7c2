"""QC kernels (cytomics.qc_kernels) against plain-numpy references, and QC in place vs copy.

The kernels read scale values through a column spec ``(src, col, a, b, gain)`` (raw matrix,
or flin display values inverted on the fly) and run in parallel over event chunks; the
references below work on materialised columns, event by event semantics spelled out.
"""

from __future__ import annotations

import math
from pathlib import Path

import numpy as np
import pytest

from cytomics import qc_kernels as K
from cytomics.fcs.model import Acquisition, Channel
from cytomics.order_stats import bracket_select
from cytomics.order_stats import median as _median
from cytomics.order_stats import quantiles as _quantiles
from cytomics.preprocess.model import ChannelTransform, Events
from cytomics.qc import _NO_COLUMN, _peaks, run_qc, scale_column, scale_spec

N = 3 * K.CHUNK + 1234  # several parallel chunks and a ragged last one


# --------------------------------------------------------------------------------------
# data
# --------------------------------------------------------------------------------------
def _events(seed: int = 0, *, inplace: bool, gain: float = 1.0, n: int = N) -> Events:
    """Three scatter columns (with NaN/inf, ties at the extremes) + one signal + Time."""
    rng = np.random.default_rng(seed)
    T = 262144.0
    raw = np.empty((n, 5), dtype=np.float32)
    raw[:, 0] = rng.normal(60e3, 15e3, n)
    raw[:, 1] = raw[:, 0] * rng.normal(0.9, 0.05, n)
    raw[:, 2] = rng.lognormal(10.0, 0.8, n)
    raw[:, 3] = rng.normal(0.0, 1.0, n)
    raw[:, 4] = np.arange(n) * 0.5
    raw[rng.random(n) < 0.001, 0] = T - 1  # a pile at the max
    raw[rng.random(n) < 0.001, 0] = -5.0  # and at the min
    raw[rng.integers(0, n, 7), 0] = np.nan
    raw[rng.integers(0, n, 3), 0] = np.inf
    raw[rng.integers(0, n, 3), 0] = -np.inf
    raw[rng.integers(0, n, 5), 2] = np.nan
    chans = tuple(
        Channel(i, nm, None, T, 32, gain=gain if i < 3 else 1.0)
        for i, nm in enumerate(["FSC-A", "FSC-H", "SSC-A", "CD45", "Time"])
    )
    acq = Acquisition(Path("k.fcs"), "0" * 64, "3.1", {"$TIMESTEP": "1"}, chans, raw)
    transforms = tuple(
        ChannelTransform("linear", T=T) if i < 3 else ChannelTransform("none") for i in range(5)
    )
    values = np.empty_like(raw)
    for j in range(5):
        tr = transforms[j]
        x = raw[:, j].astype(np.float64)
        values[:, j] = x / tr.T if tr.kind == "linear" else x
    if inplace:
        acq.events[:] = values
        values = acq.events
    return Events(
        acquisition=acq,
        values=values,
        transforms=transforms,
        time_seconds=raw[:, 4].astype(np.float64),
        raw_overwritten=inplace,
    )


def _keep(seed: int, n: int = N) -> np.ndarray:
    return np.random.default_rng(seed + 100).random(n) > 0.2


def _ref_sample(x: np.ndarray, keep: np.ndarray, stride: int) -> np.ndarray:
    v = x[keep][::stride].astype(np.float64)
    return v[np.isfinite(v)]


def _ref_scan_stats(x: np.ndarray, keep: np.ndarray) -> np.ndarray:
    v = x[keep].astype(np.float64)
    f = v[np.isfinite(v)]
    lo, hi = (f.min(), f.max()) if len(f) else (np.nan, np.nan)
    return np.array(
        [
            lo,
            hi,
            len(f),
            np.sum(f == lo),
            np.sum(f == hi),
            np.sum(v == -np.inf),
            np.sum(v == np.inf),
            len(v),
        ],
        dtype=np.float64,
    )


# --------------------------------------------------------------------------------------
# column specs
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("inplace", [False, True])
@pytest.mark.parametrize("gain", [1.0, 3.0])
def test_scale_spec_reads_scale_column(inplace, gain):
    ev = _events(1, inplace=inplace, gain=gain)
    keep = np.ones(ev.n_events, dtype=np.bool_)
    labels = np.zeros(ev.n_events, dtype=np.uint8)
    for j in range(3):
        spec = scale_spec(ev, j)
        ref = scale_column(ev, j)
        assert spec.dtype == ref.dtype
        _, _, smp = K.scan(keep, labels, *_NO_COLUMN, -math.inf, math.inf, 0, *spec.spec, 1)
        np.testing.assert_array_equal(smp, _ref_sample(ref, keep, 1))
        if inplace:  # flin display values are read in place, never copied
            assert spec.src is ev.values


def test_scale_spec_nonlinear_inplace_materialises():
    ev = _events(2, inplace=True)
    ev.transforms = (ChannelTransform("arcsinh", T=262144.0, M=4.5), *ev.transforms[1:])
    spec = scale_spec(ev, 0)
    assert spec.a == 0.0 and spec.src.shape == (ev.n_events, 1)


# --------------------------------------------------------------------------------------
# kernels vs references
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("stride", [1, 3, 7])
def test_scan_stats_and_sample(stride):
    ev = _events(3, inplace=True)
    keep = _keep(3)
    labels = np.zeros(N, dtype=np.uint8)
    x = scale_column(ev, 0)
    spec = scale_spec(ev, 0)
    k0 = keep.copy()
    removed, stats, smp = K.scan(
        keep, labels, *_NO_COLUMN, -math.inf, math.inf, 9, *spec.spec, stride
    )
    assert removed == 0 and np.array_equal(keep, k0) and not labels.any()
    np.testing.assert_array_equal(stats, _ref_scan_stats(x, keep))
    np.testing.assert_array_equal(smp, _ref_sample(x, keep, stride))


def test_scan_removal_then_stats_of_next_column():
    ev = _events(4, inplace=False)
    keep = _keep(4)
    labels = np.full(N, 200, dtype=np.uint8)
    a, h = scale_column(ev, 0), scale_column(ev, 2)
    lo, hi = 20e3, 90e3
    outside = keep & ~((a >= lo) & (a < hi))  # NaN is outside
    want_keep = keep & ~outside
    removed, stats, smp = K.scan(
        keep, labels, *scale_spec(ev, 0).spec, lo, hi, 5, *scale_spec(ev, 2).spec, 4
    )
    assert removed == outside.sum()
    np.testing.assert_array_equal(keep, want_keep)
    np.testing.assert_array_equal(labels == 5, outside)
    np.testing.assert_array_equal(stats, _ref_scan_stats(h, want_keep))
    np.testing.assert_array_equal(smp, _ref_sample(h, want_keep, 4))


def test_scan_nothing_kept():
    ev = _events(5, inplace=False, n=1000)
    keep = np.zeros(1000, dtype=np.bool_)
    labels = np.zeros(1000, dtype=np.uint8)
    removed, stats, smp = K.scan(
        keep, labels, *_NO_COLUMN, -math.inf, math.inf, 0, *scale_spec(ev, 0).spec, 2
    )
    assert removed == 0 and len(smp) == 0
    assert np.isnan(stats[0]) and np.isnan(stats[1]) and stats[2] == 0 and stats[7] == 0


def test_band_values():
    ev = _events(6, inplace=True)
    keep = _keep(6)
    x = scale_column(ev, 0).astype(np.float64)
    b1, b2 = np.empty(500, np.float64), np.empty(10**6, np.float64)
    m1, m2 = K.band_values(keep, *scale_spec(ev, 0).spec, 50e3, 60e3, b1, -10.0, 30e3, b2)
    r1 = x[keep & (x >= 50e3) & (x < 60e3)]
    r2 = x[keep & (x >= -10.0) & (x < 30e3)]
    assert (m1, m2) == (len(r1), len(r2))
    np.testing.assert_array_equal(b1, r1[:500])
    np.testing.assert_array_equal(b2[:m2], r2)


@pytest.mark.parametrize("inplace", [False, True])
def test_ratio_scan_and_band_removal(inplace):
    ev = _events(7, inplace=inplace, gain=2.0)
    keep = _keep(7)
    a, h = scale_column(ev, 0).astype(np.float64), scale_column(ev, 1).astype(np.float64)
    sa, sh = scale_spec(ev, 0), scale_spec(ev, 1)
    off = 1.0
    smp, ext = K.ratio_scan(keep, *sa.spec, *sh.spec, off, 3)
    ka, kh = a[keep][::3], h[keep][::3] + off
    ok = (kh > 0) & np.isfinite(ka) & np.isfinite(kh)
    np.testing.assert_array_equal(smp, ka[ok] / kh[ok])
    fa, fh = a[keep][np.isfinite(a[keep])], h[keep][np.isfinite(h[keep])]
    np.testing.assert_array_equal(ext, [fa.min(), fa.max(), fh.min(), fh.max()])
    labels = np.zeros(N, dtype=np.uint8)
    for c_lo in (math.nan, 0.8):
        kk = keep.copy()
        inside = a < 1.1 * (h + off)
        if not math.isnan(c_lo):
            inside &= a >= c_lo * (h + off)
        out = kk & ~inside
        r = K.remove_outside_band(kk, labels, *sa.spec, *sh.spec, 1.1, c_lo, off, 3)
        assert r == out.sum()
        np.testing.assert_array_equal(kk, keep & inside)


@pytest.mark.parametrize("log_scale", [False, True])
def test_kept_histogram(log_scale):
    ev = _events(8, inplace=True)
    keep = _keep(8)
    x = scale_column(ev, 2).astype(np.float64)[keep]
    lo, hi, nb = (3.0, 5.5, 64) if log_scale else (1e3, 1e5, 100)
    hist = K.kept_histogram(keep, *scale_spec(ev, 2).spec, lo, hi, nb, log_scale)
    with np.errstate(invalid="ignore", divide="ignore"):
        v = np.log10(np.where(x > 0, x, np.nan)) if log_scale else x
    v = v[np.isfinite(v) & (v >= lo) & (v <= hi)]
    b = np.minimum(((v - lo) * (nb / (hi - lo))).astype(np.int64), nb - 1)
    np.testing.assert_array_equal(hist, np.bincount(b, minlength=nb).astype(np.float64))


def test_sample_below_and_remove_in_box():
    ev = _events(9, inplace=True)
    keep = _keep(9)
    x, y = scale_column(ev, 0).astype(np.float64), scale_column(ev, 2).astype(np.float64)
    sx, sy = scale_spec(ev, 0), scale_spec(ev, 2)
    low = K.sample_below(keep, *sy.spec, *sx.spec, 45e3, 2, N)
    sel = y[keep & (x < 45e3)][::2]
    np.testing.assert_array_equal(low, sel[np.isfinite(sel)])
    labels = np.zeros(N, dtype=np.uint8)
    kk = keep.copy()
    box = keep & (x < 45e3) & (y < 3e4)
    r, ext = K.remove_in_box(kk, labels, *sx.spec, *sy.spec, 45e3, 3e4, 4)
    assert r == box.sum()
    np.testing.assert_array_equal(kk, keep & ~box)
    np.testing.assert_array_equal(labels == 4, box)
    fx, fy = x[kk][np.isfinite(x[kk])], y[kk][np.isfinite(y[kk])]
    np.testing.assert_array_equal(ext, [fx.min(), fx.max(), fy.min(), fy.max()])


def test_rows_sample_and_time_bin_levels():
    ev = _events(10, inplace=False)
    keep = _keep(10)
    vals = ev.values
    vals[np.random.default_rng(1).integers(0, N, 9), 3] = np.nan
    cols = np.array([0, 3], dtype=np.int64)
    rows = K.rows_sample(vals, cols, keep, 6, N)
    np.testing.assert_array_equal(rows, vals[keep][::6][:, cols].astype(np.float64))
    t = ev.time_seconds.copy()
    t[5] = np.nan
    t[1000:1010] = t[1000:1010][::-1]  # not quite in order
    edges = np.linspace(0.0, t[-1], 41)
    los, his, nlev = np.array([0.1, -2.0]), np.array([0.4, 2.0]), 128
    counts, levsum, nfin = K.time_bin_levels(t, keep, edges, vals, cols, los, his, nlev)
    ok = keep & np.isfinite(t)
    b = np.clip(np.searchsorted(edges, t[ok], side="right") - 1, 0, len(edges) - 2)
    np.testing.assert_array_equal(counts, np.bincount(b, minlength=40))
    for jj, j in enumerate(cols):
        v = vals[ok, j].astype(np.float64)
        fin = np.isfinite(v)
        lev = np.where(v > los[jj], ((v - los[jj]) * (nlev / (his[jj] - los[jj]))), 0.0)
        lev = np.clip(np.where(fin, lev, 0).astype(np.int64), 0, nlev - 1)
        np.testing.assert_array_equal(levsum[:, jj], np.bincount(b[fin], lev[fin], 40))
        np.testing.assert_array_equal(nfin[:, jj], np.bincount(b[fin], minlength=40))


def test_peaks_match_scipy():
    from scipy.signal import find_peaks

    rng = np.random.default_rng(0)
    for k in range(200):
        y = np.convolve(rng.random(120), np.ones(k % 7 + 1), mode="same")
        if k % 3 == 0:
            y = np.round(y, 1)  # plateaus
        prom = float(rng.uniform(0.0, 0.5))
        pk, _ = find_peaks(np.concatenate([[-1.0], y, [-1.0]]), prominence=prom)
        assert _peaks(y, prom) == [int(i) - 1 for i in pk]


# --------------------------------------------------------------------------------------
# QC in place == QC on a copy
# --------------------------------------------------------------------------------------
def test_qc_identical_in_place_and_copy_simulated(tmp_path):
    from cytomics.fcs import read_fcs
    from cytomics.panel import match_panel
    from cytomics.preprocess.pipeline import preprocess
    from cytomics.simulate.api import simulate_case, write_case

    path = write_case(
        simulate_case("normal_bm", seed=3, n_events=40_000, disturbance=True),
        tmp_path / "t.fcs",
    )
    results = []
    for inplace in (False, True):
        acq = read_fcs(path)
        ev = preprocess(acq, markers=match_panel(acq, "alot").markers, inplace=inplace)
        assert ev.raw_overwritten is inplace
        results.append(run_qc(ev))
    copy, inplace = results
    assert copy.removed["time"] > 0 and copy.removed["doublets"] > 0
    np.testing.assert_array_equal(inplace.labels, copy.labels)
    assert inplace.removed == copy.removed and inplace.flags == copy.flags
    assert repr(inplace.gates) == repr(copy.gates)
    assert repr(inplace.details) == repr(copy.details)


# --------------------------------------------------------------------------------------
# fused margin pass == channel-by-channel passes
# --------------------------------------------------------------------------------------
def _with_saturation(ev: Events) -> Events:
    """Events saturated in several scatter channels at once (an extreme removed by an
    earlier channel) and piles at the minimum."""
    raw = ev.acquisition.events
    rng = np.random.default_rng(5)
    both = rng.integers(0, ev.n_events, 300)
    raw[both, 0] = raw[both, 2] = 262143.0
    raw[both[:100], 1] = 262143.0
    raw[rng.integers(0, ev.n_events, 50), 2] = 0.0
    return ev


@pytest.mark.parametrize("gain", [1.0, 3.0])
@pytest.mark.parametrize("mode", ["cap1", "cap8", "sequential"])
def test_margins_fused_equals_sequential(monkeypatch, mode, gain):
    import cytomics.qc as Q

    ev = _with_saturation(_events(11, inplace=gain == 1.0, gain=gain))
    ref = run_qc(ev)
    fused_calls: list[int] = []
    orig = Q._margins_fused

    def spy(*args):
        done = orig(*args)
        fused_calls.append(done)
        return done

    monkeypatch.setattr(Q, "_margins_fused", spy)
    assert run_qc(ev).removed == ref.removed
    assert fused_calls and fused_calls[0] > 0  # the fused pass did channels itself
    if mode == "sequential":
        monkeypatch.setattr(Q, "_margins_fused", lambda *a: 0)
    else:
        monkeypatch.setattr(Q, "MARGIN_CANDIDATE_CAP", int(mode[3:]))
    other = run_qc(ev)
    assert ref.removed["margins"] > 300
    np.testing.assert_array_equal(other.labels, ref.labels)
    assert repr(other.details["margins"]) == repr(ref.details["margins"])
    assert repr(other.gates) == repr(ref.gates)


def test_qc_threads():
    import cytomics.qc as Q

    assert Q._qc_threads(Q.PARALLEL_MIN_EVENTS - 1, 4) == 1
    assert Q._qc_threads(Q.PARALLEL_MIN_EVENTS, 4) == 4
    assert Q._qc_threads(Q.PARALLEL_MIN_EVENTS, 1) == 1


def test_time_scan_order_check_and_kept_extremes():
    rng = np.random.default_rng(7)
    t = np.sort(rng.uniform(0, 100, N))
    t[rng.integers(0, N, 500)] = rng.uniform(0, 100, 500)  # out-of-order steps
    t[K.CHUNK - 1 : K.CHUNK + 1] = (50.0, 49.0)  # a decrease across a chunk boundary
    t[[3, 77]] = (np.nan, np.inf)
    keep = rng.random(N) < 0.7
    keep[[3, 77]] = True
    nd, lo, hi, nf = K.time_scan(t, keep)
    assert nd == int(np.sum(t[1:] >= t[:-1]))
    kept = t[keep][np.isfinite(t[keep])]
    assert (lo, hi, nf) == (kept.min(), kept.max(), len(kept))
    nd0, lo0, hi0, nf0 = K.time_scan(t, np.zeros(N, dtype=np.bool_))
    assert nd0 == nd and nf0 == 0 and math.isnan(lo0) and math.isnan(hi0)


def test_bracket_select_counts_below_and_inside():
    rng = np.random.default_rng(3)
    v = rng.standard_normal(5000)
    lo = np.array([-1.0, -0.2, 0.1, 0.1])
    hi = np.array([-0.5, 0.3, 0.2, 2.0])
    below, cnt, inside = bracket_select(v, lo, hi, 4000)
    for q in range(len(lo)):
        assert below[q] == np.count_nonzero(v < lo[q])
        want = v[(v >= lo[q]) & (v <= hi[q])]
        assert cnt[q] == len(want)
        np.testing.assert_array_equal(inside[q, : cnt[q]], want)


@pytest.mark.parametrize("kind", ["normal", "sorted", "lognormal", "ties", "reversed"])
def test_quantiles_bitwise_equal_numpy(kind):
    rng = np.random.default_rng(11)
    n = 60_001
    v = {
        "normal": rng.standard_normal(n),
        "sorted": np.sort(rng.standard_normal(n)),
        "lognormal": np.round(rng.lognormal(8.0, 1.0, n), 1),
        "ties": rng.integers(0, 40, n).astype(np.float64),
        "reversed": np.sort(rng.exponential(size=n))[::-1].copy(),
    }[kind]
    for qs in ([0.005, 0.995], [0.001, 0.995, 0.4, 0.01], [0.0, 0.5, 0.25, 0.9999]):
        got = _quantiles(v.copy(), qs)
        want = np.quantile(v, qs)
        assert got.tobytes() == want.tobytes(), (kind, qs, got, want)
    with_nan = v.copy()
    with_nan[7] = np.nan
    np.testing.assert_array_equal(_quantiles(with_nan, [0.1]), np.quantile(with_nan, [0.1]))


@pytest.mark.parametrize("stride", [1, 5, 64])
def test_rows_sample_across_chunks(stride):
    rng = np.random.default_rng(4)
    n = 3 * K.CHUNK + 123
    vals = rng.standard_normal((n, 4)).astype(np.float32)
    vals[rng.integers(0, n, 50), 2] = np.nan
    keep = rng.random(n) < 0.7
    cols = np.array([3, 2], dtype=np.int64)
    want = vals[np.flatnonzero(keep)[::stride]][:, cols].astype(np.float64)
    got = K.rows_sample(vals, cols, keep, stride, len(want))
    assert got.tobytes() == want.tobytes()
    np.testing.assert_array_equal(K.rows_sample(vals, cols, keep, stride, 5), want[:5])


@pytest.mark.parametrize("n", [20_000, 60_001])
def test_median_bitwise_equal_numpy(n):
    rng = np.random.default_rng(n)
    for v in (
        1.0 + 0.05 * rng.standard_normal(n),
        np.sort(rng.exponential(size=n)),
        rng.integers(0, 30, n).astype(np.float64),
    ):
        got = _median(v.copy())
        want = float(np.median(v))
        assert np.float64(got).tobytes() == np.float64(want).tobytes()
