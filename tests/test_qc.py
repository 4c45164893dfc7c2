"""Tests of cytomics.qc: margins, time stability, doublets, debris, gates == keep."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cytomics.errors import ConfigError
from cytomics.fcs.model import Acquisition, Channel
from cytomics.gating.gates import BooleanGate, PolygonGate, RectangleGate
from cytomics.populations import LABEL_CODES
from cytomics.preprocess.model import ChannelTransform, Events
from cytomics.qc import QCSettings, find_debris_valley, find_scatter, find_valley, run_qc

R = 262144.0
QC_CODES = {LABEL_CODES[k] for k in ("margin", "time_unstable", "doublet", "debris")}
KEPT = LABEL_CODES["unclassified"]


# --------------------------------------------------------------------------------------
# builders
# --------------------------------------------------------------------------------------
def make_acquisition(
    cols: dict[str, np.ndarray],
    *,
    ranges: dict[str, float] | None = None,
    keywords: dict[str, str] | None = None,
    log_decades: dict[str, float] | None = None,
) -> Acquisition:
    names = list(cols)
    ranges = ranges or {}
    log_decades = log_decades or {}
    chans = tuple(
        Channel(
            index=i,
            name=nm,
            marker=None,
            range=float(ranges.get(nm, R)),
            bits=32,
            log_decades=float(log_decades.get(nm, 0.0)),
            log_offset=1.0 if nm in log_decades else 0.0,
        )
        for i, nm in enumerate(names)
    )
    ev = np.ascontiguousarray(np.column_stack([cols[nm] for nm in names]).astype(np.float32))
    kw = {"$TIMESTEP": "0.01", "$DATATYPE": "F"}
    kw.update(keywords or {})
    return Acquisition(
        path=Path("synthetic.fcs"),
        sha256="0" * 64,
        fcs_version="3.1",
        keywords=kw,
        channels=chans,
        events=ev,
    )


def to_events(acq: Acquisition, *, time_seconds: bool = True) -> Events:
    """Display scale as the preprocess stage makes it: scatter raw/R, fluorescence arcsinh
    scaled to ~[0, 1], Time untransformed."""
    vals = np.empty_like(acq.events)
    transforms = []
    tcol = acq.time_channel()
    for ch in acq.channels:
        x = acq.events[:, ch.index].astype(np.float64)
        if ch.index == tcol:
            vals[:, ch.index] = x
            transforms.append(ChannelTransform("none"))
        elif ch.is_scatter:
            vals[:, ch.index] = x / ch.range
            transforms.append(ChannelTransform("linear", T=ch.range))
        else:
            vals[:, ch.index] = np.arcsinh(x / 150.0) / np.arcsinh(ch.range / 150.0)
            transforms.append(ChannelTransform("logicle", T=ch.range))
    ts = None
    if time_seconds and tcol is not None:
        ts = acq.events[:, tcol].astype(np.float64) * (acq.timestep or 1.0)
    return Events(acquisition=acq, values=vals, transforms=tuple(transforms), time_seconds=ts)


def synthetic(seed: int = 1, *, n_cells: int = 24000, debris: bool = True, width: bool = False):
    """Events with known margin, time-disturbance, doublet and debris events.

    Returns (events, truth) where truth is a uint8 label vector (first-step semantics).
    """
    rng = np.random.default_rng(seed)
    n_dbl, n_deb = 1500, (2500 if debris else 0)
    n_mfsc, n_mssc, n_neg = 200, 60, 23
    kind = np.concatenate(
        [
            np.zeros(n_cells, np.int8),
            np.full(n_dbl, 1, np.int8),
            np.full(n_deb, 2, np.int8),
            np.full(n_mfsc, 3, np.int8),
            np.full(n_mssc, 4, np.int8),
            np.full(n_neg, 5, np.int8),
        ]
    )
    n = len(kind)
    gran = rng.random(n) < 0.5
    fsc_h = np.where(gran, rng.normal(90e3, 9e3, n), rng.normal(50e3, 5e3, n))
    ssc = np.where(gran, rng.normal(120e3, 18e3, n), rng.normal(20e3, 4e3, n))
    fsc_a = fsc_h * rng.normal(1.05, 0.03, n)
    d = kind == 1
    fsc_a[d] = fsc_h[d] * rng.normal(2.0, 0.12, d.sum())
    d = kind == 2
    fsc_a[d] = np.exp(rng.normal(np.log(8e3), 0.35, d.sum()))
    fsc_h[d] = fsc_a[d] / rng.normal(1.05, 0.03, d.sum())
    ssc[d] = np.exp(rng.normal(np.log(4e3), 0.5, d.sum()))
    fsc_a[kind == 3] = R - 1
    ssc[kind == 4] = R - 1
    fsc_a[kind == 5] = -rng.uniform(1.0, 4.7, n_neg) * 1e6
    fitc = np.exp(rng.normal(np.log(800), 0.8, n))
    pe = np.exp(rng.normal(np.log(2000), 1.0, n))
    # acquisition over 100 s; a disturbance [40, 46) s with 3x the flow rate and FITC x4
    base = rng.uniform(0.0, 100.0, n)
    extra = rng.random(n) < (12.0 / 100.0)  # ~12% of events go into the window
    base[extra] = rng.uniform(40.0, 46.0, extra.sum())
    order = np.argsort(base, kind="stable")
    tsec = base[order]
    cols = {
        "FSC-A": fsc_a[order],
        "FSC-H": np.maximum(fsc_h[order], 10.0),
        "SSC-A": ssc[order],
        "FITC-A": fitc[order],
        "PE-A": pe[order],
        "Time": tsec / 0.01,
    }
    kind = kind[order]
    window = (tsec >= 40.0) & (tsec < 46.0)
    cols["FITC-A"][window] *= 4.0
    if width:
        cols["FSC-W"] = cols["FSC-A"] / cols["FSC-H"] * 65536.0
        del cols["FSC-H"]
    truth = np.full(n, KEPT, np.uint8)
    truth[kind == 2] = LABEL_CODES["debris"]
    truth[kind == 1] = LABEL_CODES["doublet"]
    truth[window] = LABEL_CODES["time_unstable"]
    truth[kind >= 3] = LABEL_CODES["margin"]
    return to_events(make_acquisition(cols)), truth


# --------------------------------------------------------------------------------------
# a tiny independent gate evaluator (Gating-ML semantics on raw float64 values)
# --------------------------------------------------------------------------------------
def _in_polygon(x: np.ndarray, y: np.ndarray, v: np.ndarray) -> np.ndarray:
    inside = np.zeros(len(x), dtype=bool)
    m = len(v)
    for i in range(m):
        x1, y1 = v[i]
        x2, y2 = v[(i + 1) % m]
        cond = (y1 > y) != (y2 > y)
        with np.errstate(divide="ignore", invalid="ignore"):
            xc = x1 + (y - y1) * (x2 - x1) / (y2 - y1)
        inside ^= cond & (x < xc)
    return inside


def scale_values(acq: Acquisition) -> np.ndarray:
    """FlowKit/flowio pre-processed values: linear channels / $PnG, Time x $TIMESTEP."""
    raw = acq.events.astype(np.float64)
    tcol = acq.time_channel()
    for ch in acq.channels:
        if ch.index == tcol:
            raw[:, ch.index] *= acq.timestep or 1.0
        elif ch.gain not in (0.0, 1.0):
            raw[:, ch.index] /= ch.gain
    return raw


def evaluate_gates(gates, acq: Acquisition) -> dict[str, np.ndarray]:
    raw = scale_values(acq)
    col = {c.name: c.index for c in acq.channels}
    out: dict[str, np.ndarray] = {}
    for g in gates:
        parent = np.ones(len(raw), bool) if g.parent is None else out[g.parent]
        if isinstance(g, RectangleGate):
            m = np.ones(len(raw), bool)
            for d, lo, hi in zip(g.dimensions, g.mins, g.maxs, strict=True):
                assert d.transform is None and not d.compensated
                assert lo is not None or hi is not None
                x = raw[:, col[d.channel]]
                if lo is not None:
                    m &= x >= lo
                if hi is not None:
                    m &= x < hi
        elif isinstance(g, PolygonGate):
            dx, dy = g.dimensions
            m = _in_polygon(raw[:, col[dx.channel]], raw[:, col[dy.channel]], g.vertices)
        elif isinstance(g, BooleanGate):
            ops = [out[i] if not comp else ~out[i] for i, comp in g.operands]
            if g.op == "or":
                m = np.logical_or.reduce(ops)
            elif g.op == "and":
                m = np.logical_and.reduce(ops)
            else:
                m = ~ops[0]
        else:  # pragma: no cover
            raise AssertionError(type(g))
        out[g.id] = parent & m
    return out


def check_invariants(res, acq: Acquisition) -> None:
    n = acq.n_events
    assert res.keep.shape == (n,) and res.keep.dtype == np.bool_
    assert res.labels.shape == (n,) and res.labels.dtype == np.uint8
    assert set(np.unique(res.labels)) <= QC_CODES | {KEPT}
    np.testing.assert_array_equal(res.keep, res.labels == KEPT)
    codes = {
        "margins": "margin",
        "time": "time_unstable",
        "doublets": "doublet",
        "debris": "debris",
    }
    for step, name in codes.items():
        assert res.removed[step] == int(np.sum(res.labels == LABEL_CODES[name])), step
    assert res.events_total == n
    assert res.events_after_qc == int(res.keep.sum()) == n - sum(res.removed.values())
    assert len(set(res.flags)) == len(res.flags)
    assert all(f in res.messages for f in res.flags)
    ids = [g.id for g in res.gates]
    assert len(set(ids)) == len(ids)
    if res.gates:
        final = evaluate_gates(res.gates, acq)[res.final_gate_id]
        mism = int(np.sum(final != res.keep))
        assert mism == 0, f"{mism} events differ between gates and keep"
    else:
        assert res.keep.all()


def prec_recall(removed: np.ndarray, truth: np.ndarray) -> tuple[float, float]:
    tp = np.sum(removed & truth)
    return tp / max(removed.sum(), 1), tp / max(truth.sum(), 1)


# --------------------------------------------------------------------------------------
# synthetic data
# --------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def synth():
    ev, truth = synthetic()
    return ev, truth, run_qc(ev)


def test_invariants_and_gate_chain(synth):
    ev, _, res = synth
    check_invariants(res, ev.acquisition)
    assert res.gates[0].id == "qc_margins"
    assert res.final_gate_id == "qc_nondebris"
    assert res.gates[-1].parent is not None


def test_margins_exact(synth):
    _, truth, res = synth
    m = LABEL_CODES["margin"]
    np.testing.assert_array_equal(res.labels == m, truth == m)


@pytest.mark.parametrize(
    ("name", "p_min", "r_min"),
    [("time_unstable", 0.97, 0.95), ("doublet", 0.9, 0.85), ("debris", 0.9, 0.9)],
)
def test_step_precision_recall(synth, name, p_min, r_min):
    _, truth, res = synth
    c = LABEL_CODES[name]
    p, r = prec_recall(res.labels == c, truth == c)
    assert p >= p_min and r >= r_min, (name, p, r)


def test_time_intervals_exclude_disturbance(synth):
    _, _, res = synth
    assert len(res.time_intervals) == 2
    (a0, a1), (b0, b1) = res.time_intervals
    assert a0 <= 1.0 and 39.5 <= a1 <= 40.1 and 45.9 <= b0 <= 46.5 and b1 >= 99.0
    assert res.details["time"]["boundaries_refined"] == 1
    assert isinstance(next(g for g in res.gates if g.id == "qc_time"), BooleanGate)


def test_no_flags_on_clean_synthetic(synth):
    _, _, res = synth
    assert not {"debris_threshold_fallback", "high_doublet_fraction"} & set(res.flags)


def test_width_doublets():
    ev, truth = synthetic(seed=3, width=True)
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    assert "doublets_by_width" in res.flags
    c = LABEL_CODES["doublet"]
    p, r = prec_recall(res.labels == c, truth == c)
    assert p >= 0.9 and r >= 0.85


def test_nmad_configurable():
    ev, _ = synthetic(seed=4)
    strict = run_qc(ev, settings=QCSettings(doublet_nmad=2.0))
    loose = run_qc(ev, settings=QCSettings(doublet_nmad=8.0))
    assert strict.removed["doublets"] > loose.removed["doublets"]
    check_invariants(strict, ev.acquisition)
    assert strict.details["doublets"]["ratio_max"] < loose.details["doublets"]["ratio_max"]


def test_lower_ratio_limit_polygon_exact():
    ev, _ = synthetic(seed=5)
    res = run_qc(ev, settings=QCSettings(doublet_lower_nmad=3.0))
    check_invariants(res, ev.acquisition)
    assert res.details["doublets"]["ratio_min"] is not None


def test_debris_fallback_without_debris():
    ev, _ = synthetic(seed=6, debris=False)
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    assert "debris_threshold_fallback" in res.flags
    assert res.details["debris"]["method"] == "fallback_cell_peak"
    # the fallback sits well below the smallest cells: (almost) no cell is lost
    frac = res.removed["debris"] / (res.events_after_qc + res.removed["debris"])
    assert frac < 0.002


def test_find_valley():
    x = np.linspace(0, 1, 200)
    bimodal = 0.5 * np.exp(-(((x - 0.05) / 0.03) ** 2)) + np.exp(-(((x - 0.5) / 0.08) ** 2))
    v = find_valley(bimodal, min_peak_fraction=0.02, peak_max_position=0.35, valley_max_ratio=0.6)
    assert v is not None and 0.08 < x[v] < 0.35
    # two cell peaks (lymphocytes/granulocytes) without debris: no debris valley
    cells = np.exp(-(((x - 0.3) / 0.05) ** 2)) + np.exp(-(((x - 0.6) / 0.05) ** 2))
    assert (
        find_valley(cells, min_peak_fraction=0.02, peak_max_position=0.35, valley_max_ratio=0.6)
        is None
    )


def test_find_debris_valley_first_not_deepest():
    x = np.linspace(0, 260e3, 256)
    g = lambda m, sd, h: h * np.exp(-0.5 * ((x - m) / sd) ** 2)  # noqa: E731
    # debris pile near 0, lymphocytes at 50k, granulocytes at 100k; the lymphocyte |
    # granulocyte valley is deeper than the debris | lymphocyte one
    dens = g(5e3, 6e3, 90) + g(50e3, 6e3, 640) + g(100e3, 10e3, 680) + 8.0 * (x < 30e3)
    res = find_debris_valley(
        dens,
        positions=x,
        min_peak_fraction=0.02,
        cell_peak_fraction=0.1,
        peak_max_position=0.35,
        valley_max_ratio=0.6,
    )
    assert res.debris_peak is not None and x[res.debris_peak] < 10e3
    assert 40e3 < x[res.cell_peak] < 60e3
    assert res.valley is not None and 10e3 < x[res.valley] < 35e3


def test_debris_shallow_valley_capped():
    """A shallow valley that would remove more than debris_cap_fraction is not trusted."""
    ev, _ = synthetic(seed=14)
    res = run_qc(ev, settings=QCSettings(debris_cap_fraction=0.05, debris_clear_valley_ratio=0.0))
    check_invariants(res, ev.acquisition)
    assert "debris_capped" in res.flags and res.details["debris"]["method"] == "capped"
    kept_before = res.events_after_qc + res.removed["debris"]
    assert res.removed["debris"] <= 0.051 * kept_before


def test_debris_spares_high_ssc_events():
    """Low-FSC events with granulocyte SSC are not debris (FSC-A AND SSC-A rule)."""
    ev, truth = synthetic(seed=15)
    acq = ev.acquisition
    fsc, ssc = acq.events[:, 0], acq.events[:, 2]
    pick = np.flatnonzero((truth == KEPT) & (ssc > 80e3))
    cells = np.random.default_rng(0).choice(pick, 200, replace=False)
    fsc[cells] = 6e3  # debris-sized, but granulocyte SSC
    res = run_qc(to_events(acq))
    check_invariants(res, acq)
    assert res.details["debris"]["fsc_a_min"] > 6e3
    assert np.all(res.labels[cells] == KEPT)
    c = LABEL_CODES["debris"]
    p, r = prec_recall(res.labels == c, truth == c)
    assert p > 0.9 and r > 0.9


# --------------------------------------------------------------------------------------
# margins on pnr-nominal / integer data
# --------------------------------------------------------------------------------------
def _scatter_only(fsc_a, ssc_a, fsc_h, rng_r, **kw):
    acq = make_acquisition(
        {"FSC-A": fsc_a, "SSC-A": ssc_a, "FSC-H": fsc_h},
        ranges=dict.fromkeys(("FSC-A", "SSC-A", "FSC-H"), rng_r),
        **kw,
    )
    return to_events(acq)


def test_pnr_nominal_no_false_margin_and_pile_detected():
    rng = np.random.default_rng(7)
    n = 10000
    fsc = np.exp(rng.normal(np.log(400), 0.6, n))  # nominal $PnR 1000, values up to ~9x
    ssc = np.exp(rng.normal(np.log(300), 0.8, n))
    ev = _scatter_only(fsc, ssc, fsc / 1.05, 1000.0)
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    assert (ev.acquisition.events[:, 0] > 1000).sum() > 100
    assert res.removed["margins"] == 0
    # the same data with a saturation pile at a value far above $PnR
    top = np.float32(fsc.max() * 1.01)
    fsc2 = fsc.copy()
    fsc2[:40] = top
    ev2 = _scatter_only(fsc2, ssc, fsc / 1.05, 1000.0)
    res2 = run_qc(ev2)
    check_invariants(res2, ev2.acquisition)
    assert res2.removed["margins"] == 40
    assert "pile_at_max" in res2.details["margins"]["FSC-A"]["rules"]


def test_integer_levels_not_a_pile():
    rng = np.random.default_rng(8)
    n = 20000
    fsc = np.clip(np.round(rng.normal(500, 90, n)), 0, 1023)
    ssc = np.clip(np.round(rng.normal(300, 80, n)), 0, 1023)
    ev = _scatter_only(fsc, ssc, np.round(fsc / 1.05), 1024.0, keywords={"$DATATYPE": "I"})
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    assert res.removed["margins"] == 0
    fsc[:300] = 1023  # saturation at the top channel
    ev = _scatter_only(fsc, ssc, np.round(fsc / 1.05), 1024.0, keywords={"$DATATYPE": "I"})
    res = run_qc(ev)
    assert res.removed["margins"] >= 300
    check_invariants(res, ev.acquisition)


def test_fluorescence_margins_optional():
    ev, _ = synthetic(seed=9)
    acq = ev.acquisition
    acq.events[:50, 3] = R - 1  # FITC-A saturation
    off = run_qc(to_events(acq))
    on = run_qc(to_events(acq), settings=QCSettings(margin_fluorescence=True))
    check_invariants(on, acq)
    assert on.removed["margins"] >= off.removed["margins"] + 40


# --------------------------------------------------------------------------------------
# robustness: time absent / constant / out of order, no scatter, few events
# --------------------------------------------------------------------------------------
def test_time_absent_constant_unordered():
    ev, _ = synthetic(seed=10)
    res = run_qc(to_events(ev.acquisition, time_seconds=False))
    assert "time_qc_skipped_no_time" in res.flags and res.removed["time"] == 0
    check_invariants(res, ev.acquisition)

    acq = ev.acquisition
    tcol = acq.time_channel()
    saved = acq.events[:, tcol].copy()
    acq.events[:, tcol] = 0.0
    res = run_qc(to_events(acq))
    assert "time_qc_skipped_constant_time" in res.flags and res.removed["time"] == 0
    check_invariants(res, acq)

    acq.events[:, tcol] = np.random.default_rng(0).permutation(saved)
    res = run_qc(to_events(acq))
    assert "time_qc_skipped_not_monotonic" in res.flags and res.removed["time"] == 0
    check_invariants(res, acq)


def test_stable_time_removes_nothing():
    rng = np.random.default_rng(11)
    n = 30000
    h = rng.normal(60e3, 8e3, n)
    cols = {
        "FSC-A": h * rng.normal(1.05, 0.03, n),
        "FSC-H": h,
        "SSC-A": rng.normal(50e3, 10e3, n),
        "FITC-A": np.exp(rng.normal(6, 1, n)),
        "Time": np.sort(rng.uniform(0, 5000, n)),
    }
    ev = to_events(make_acquisition(cols))
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    assert res.removed["time"] == 0
    assert len(res.time_intervals) == 1
    assert not any(g.id.startswith("qc_time") for g in res.gates)


def test_no_scatter_and_tiny_inputs():
    rng = np.random.default_rng(12)
    cols = {f"Yb{170 + i}Di": np.exp(rng.normal(3, 1, 800)) for i in range(5)}
    cols["Time"] = np.sort(rng.uniform(0, 1e5, 800))
    ev = to_events(make_acquisition(cols))
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    for f in (
        "margins_skipped_no_scatter",
        "doublets_skipped_no_fsc_pair",
        "debris_skipped_no_fsc",
    ):
        assert f in res.flags
    assert res.keep.all() and res.gates == []

    empty = to_events(make_acquisition({"FSC-A": np.zeros(0), "FSC-H": np.zeros(0)}))
    res = run_qc(empty)
    assert res.events_total == 0 and "no_events" in res.flags


def test_nan_scatter_is_margin():
    ev, _ = synthetic(seed=13)
    acq = ev.acquisition
    acq.events[5, 0] = np.nan
    res = run_qc(to_events(acq))
    assert res.labels[5] == LABEL_CODES["margin"]
    check_invariants(res, acq)


def test_find_scatter_names():
    acq = make_acquisition(
        {
            "FS INT": np.ones(3),
            "FS PEAK": np.ones(3),
            "SS INT": np.ones(3),
            "FL1 INT": np.ones(3),
            "TIME": np.ones(3),
        }
    )
    assert find_scatter(acq) == {"fsc_a": 0, "fsc_h": 1, "ssc_a": 2}


def test_settings_from_mapping():
    s = QCSettings.from_mapping({"doublet_nmad": 5, "margin_fluorescence": True})
    assert s.doublet_nmad == 5 and s.margin_fluorescence is True
    assert QCSettings.from_mapping(None) == QCSettings()
    with pytest.raises(ConfigError):
        QCSettings.from_mapping({"doublet_mad": 4})
    with pytest.raises(ConfigError):
        QCSettings.from_mapping({"doublet_nmad": "four"})
    with pytest.raises(ConfigError):
        QCSettings.from_mapping({"margin_fluorescence": 1})
    with pytest.raises(ConfigError):
        QCSettings.from_mapping({"doublet_nmad": -1.0})


# --------------------------------------------------------------------------------------
# real corpus
# --------------------------------------------------------------------------------------
def read_corpus(path: Path) -> Events:
    from cytomics.fcs import read_fcs

    acq = read_fcs(path)
    return to_events(acq)


@pytest.mark.corpus
def test_corpus_unstained_artefact_removed(corpus):
    ev = read_corpus(
        corpus / "cytoexplorerdata/inst/extdata/Compensation/Compensation-Unstained.fcs"
    )
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    fsc = ev.acquisition.events[:, ev.acquisition.channel_index("FSC-A")]
    art = fsc < -R
    assert art.sum() == 23
    assert np.all(res.labels[art] == LABEL_CODES["margin"])
    assert res.removed["margins"] < 0.05 * res.events_total
    assert res.events_after_qc > 0.5 * res.events_total


@pytest.mark.corpus
@pytest.mark.parametrize(
    ("rel", "flag"),
    [
        ("cytoflow/docs/examples-basic/data/Saeys_11.fcs", "time_qc_skipped_not_monotonic"),
        (
            "cytoflow/cytoflow/tests/data/instruments/Partec - CyFlow v2.9.fcs",
            "time_qc_skipped_constant_time",
        ),
        ("cytonorm/inst/extdata/Gates_PTLG021_Unstim_Control_1.fcs", "margins_skipped_no_scatter"),
        ("flowcal/test/Data002.fcs", "doublets_skipped_no_fsc_pair"),
        ("peacoqc/inst/extdata/111.fcs", None),
        ("cytoflow/cytoflow/tests/data/module_examples/stabilize.fcs", None),
    ],
)
def test_corpus_robust(corpus, rel, flag):
    ev = read_corpus(corpus / rel)
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    if flag is not None:
        assert flag in res.flags
    assert res.events_after_qc > 0.3 * res.events_total


@pytest.mark.corpus
def test_corpus_flowkit_reproduces_keep(corpus):
    """The QC gates, exported as Gating-ML 2.0, give FlowKit the same counts at every step."""
    import io

    import flowkit as fk

    from cytomics.gating.gatingml import gatingml_string

    for rel in (
        "cytoexplorerdata/inst/extdata/Compensation/Compensation-Unstained.fcs",
        "cytoexplorerdata/inst/extdata/Activation/Activation_1.fcs",
    ):
        ev = read_corpus(corpus / rel)
        res = run_qc(ev)
        assert res.removed["time"] > 0 and res.removed["doublets"] > 0  # every gate type used
        xml, ids = gatingml_string(res.gates)
        strategy = fk.parse_gating_xml(io.BytesIO(xml.encode()))
        report = strategy.gate_sample(fk.Sample(str(corpus / rel))).report
        counts = dict(zip(report["gate_name"], report["count"], strict=True))
        ours = evaluate_gates(res.gates, ev.acquisition)
        for g in res.gates:
            assert counts[ids[g.id]] == int(ours[g.id].sum()), g.id
        assert counts[ids[res.final_gate_id]] == res.events_after_qc


# --------------------------------------------------------------------------------------
# simulator (real chain: simulate -> FCS -> read -> preprocess -> QC)
# --------------------------------------------------------------------------------------
LYMPHOCYTES = [LABEL_CODES[k] for k in ("lymphocytes_t", "lymphocytes_b", "lymphocytes_nk")]


def simulated_qc(tmp_path: Path, kind: str, seed: int, n_events: int = 30_000, **kw):
    from cytomics.fcs import read_fcs
    from cytomics.panel import match_panel
    from cytomics.preprocess.pipeline import preprocess
    from cytomics.simulate.api import simulate_case, write_case

    case = simulate_case(kind, seed=seed, n_events=n_events, **kw)
    path = write_case(case, tmp_path / f"{kind}_{seed}.fcs", truth_dir=tmp_path)
    acq = read_fcs(path)
    events = preprocess(acq, markers=match_panel(acq, "alot").markers)
    res = run_qc(events)
    check_invariants(res, acq)
    return res, np.asarray(case.labels)


@pytest.mark.parametrize("seed", [21, 22, 23])
def test_debris_spares_lymphocytes_normal_bm(tmp_path, seed):
    """Regression: the deepest FSC-A valley (lymphocytes | granulocytes) is not the debris
    boundary; the first valley above the debris mode is."""
    res, truth = simulated_qc(tmp_path, "normal_bm", seed)
    deb = res.labels == LABEL_CODES["debris"]
    lym = np.isin(truth, LYMPHOCYTES)
    nucleated = ~np.isin(truth, sorted(QC_CODES))
    assert (deb & lym).sum() < 0.01 * lym.sum()
    assert (deb & nucleated).sum() < 0.01 * nucleated.sum()
    p, r = prec_recall(deb, truth == LABEL_CODES["debris"])
    assert p > 0.95 and r > 0.75, (p, r)
    assert res.details["debris"]["method"] == "valley"
    assert isinstance(res.gates[-1], PolygonGate)


def test_debris_heavy_sample_flagged_not_capped(tmp_path):
    """Hypocellular marrow with ~50% debris: the deep valley is trusted beyond the cap and
    flagged; cells are still spared."""
    res, truth = simulated_qc(tmp_path, "hypocellular_bm", 4)
    deb = res.labels == LABEL_CODES["debris"]
    nucleated = ~np.isin(truth, sorted(QC_CODES))
    assert {"debris_above_cap", "high_debris_fraction"} <= set(res.flags)
    assert (deb & nucleated).sum() < 0.01 * nucleated.sum()
    p, r = prec_recall(deb, truth == LABEL_CODES["debris"])
    assert p > 0.95 and r > 0.85, (p, r)


def test_time_refined_boundaries_whole_bins_without(tmp_path):
    """Sub-bin boundary search raises precision over whole-bin removal (factor 1)."""
    ev, truth = synthetic(seed=16)
    c = LABEL_CODES["time_unstable"]
    fine = run_qc(ev)
    coarse = run_qc(ev, settings=QCSettings(time_refine_factor=1))
    check_invariants(fine, ev.acquisition)
    check_invariants(coarse, ev.acquisition)
    pf, rf = prec_recall(fine.labels == c, truth == c)
    pc, rc = prec_recall(coarse.labels == c, truth == c)
    assert pf > pc and pf > 0.97 and rf > 0.95, (pf, rf, pc, rc)


@pytest.mark.parametrize("seed", [3, 8])
def test_time_simulated_disturbance(tmp_path, seed):
    res, truth = simulated_qc(tmp_path, "normal_bm", seed, disturbance=True)
    c = LABEL_CODES["time_unstable"]
    p, r = prec_recall(res.labels == c, truth == c)
    assert p > 0.8 and r > 0.9, (p, r)


@pytest.mark.parametrize(("kind", "seed"), [("normal_pb", 1), ("t_all", 2), ("aml_cd34neg", 5)])
def test_time_no_disturbance_removes_nothing(tmp_path, kind, seed):
    res, truth = simulated_qc(tmp_path, kind, seed, disturbance=False)
    assert not (truth == LABEL_CODES["time_unstable"]).any()
    assert res.removed["time"] <= 0.001 * res.events_total
    nucleated = ~np.isin(truth, sorted(QC_CODES))
    assert (np.isin(res.labels, sorted(QC_CODES)) & nucleated).sum() < 0.02 * nucleated.sum()


# --------------------------------------------------------------------------------------
# debris cut below a minority of small cells (lymphocytes next to dominant large blasts)
# --------------------------------------------------------------------------------------
#: the rule before the log-axis valley and minor-peak search (plain linear-density valley)
LINEAR_VALLEY = {"debris_log_axis_valley": 0.0, "debris_minor_peak_prominence": 0.0}


def minority_lymphocytes(seed: int):
    """95 % large blasts, ~1 % lymphocytes with NRBC and B precursors just below them, and
    ~9 % log-normal debris (the FSC-A/SSC-A layout of simulated AML case 8032).

    Returns (events, kind) with kind 0 debris, 1 lymphocytes, 2 blasts, 3 granulocytes,
    4 NRBC, 5 B precursors."""
    rng = np.random.default_rng(seed)
    spec = [  # kind, n, FSC-A (mean, sd) or log-normal (median, sigma), SSC-A likewise
        (0, 3600, ("log", 13.5e3, 0.55), ("log", 6.2e3, 0.7)),
        (1, 270, (48.7e3, 5e3), (10.5e3, 2e3)),
        (4, 210, (38e3, 5.5e3), (7.5e3, 2e3)),
        (5, 115, (44e3, 4.5e3), (9.4e3, 1.8e3)),
        (2, 33000, (82.5e3, 9e3), (44e3, 10e3)),
        (3, 1000, (98e3, 10e3), (99e3, 16e3)),
    ]

    def draw(p, n):
        if p[0] == "log":
            return np.exp(rng.normal(np.log(p[1]), p[2], n))
        return rng.normal(p[0], p[1], n)

    kind = np.concatenate([np.full(n, k, np.int8) for k, n, _, _ in spec])
    fsc = np.clip(np.concatenate([draw(f, n) for _, n, f, _ in spec]), 100.0, R - 2)
    ssc = np.clip(np.concatenate([draw(s, n) for _, n, _, s in spec]), 10.0, R - 2)
    fsc_h = fsc / rng.normal(1.05, 0.02, len(fsc))
    return to_events(make_acquisition({"FSC-A": fsc, "FSC-H": fsc_h, "SSC-A": ssc})), kind


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_debris_cut_below_minority_lymphocytes(seed):
    """The cut sits below 1 % lymphocytes next to 95 % large blasts; the plain valley (the
    dip just below the blasts) removed most of them."""
    ev, kind = minority_lymphocytes(seed)
    deb = LABEL_CODES["debris"]
    old = run_qc(ev, settings=QCSettings(**LINEAR_VALLEY))
    res = run_qc(ev)
    check_invariants(res, ev.acquisition)
    lym = kind == 1
    assert (old.labels[lym] == deb).mean() > 0.5  # the failure this rule fixes
    assert (res.labels[lym] == deb).mean() < 0.02
    assert (res.labels[kind > 0] == deb).mean() < 0.005
    assert res.details["debris"]["method"] == "valley"
    assert res.details["debris"]["fsc_a_min"] < old.details["debris"]["fsc_a_min"]
    p, r = prec_recall(res.labels == deb, kind == 0)
    assert p > 0.98 and r > 0.85, (p, r)


def test_find_debris_valley_minor_peak():
    """A minor peak (log axis) between the debris mode and a dominant large-cell peak ends
    the valley search; without it the dip just below the big peak is taken, on the linear
    and on the log axis alike."""
    x = np.linspace(1e3, 200e3, 256)
    g = lambda m, sd, h: h * np.exp(-0.5 * ((x - m) / sd) ** 2)  # noqa: E731
    dens = g(10e3, 6e3, 90) + 16.0 * np.exp(-x / 25e3) + g(45e3, 5e3, 10) + g(110e3, 8e3, 1500)
    kw = dict(
        positions=x,
        min_peak_fraction=0.02,
        cell_peak_fraction=0.1,
        peak_max_position=0.35,
        valley_max_ratio=0.6,
    )
    plain = find_debris_valley(dens, **kw)
    assert 60e3 < x[plain.valley] < 90e3 and not plain.minor_peak
    log_only = find_debris_valley(dens, log_axis=1.0, **kw)
    assert 60e3 < x[log_only.valley] < 90e3
    res = find_debris_valley(dens, log_axis=1.0, minor_peak_prominence=0.15, **kw)
    assert res.minor_peak and 40e3 < x[res.cell_peak] < 50e3
    assert 20e3 < x[res.valley] < 38e3
    # noise: a bump that is not 4 SDs above its base is no population
    noisy = find_debris_valley(
        dens,
        log_axis=1.0,
        minor_peak_prominence=0.15,
        minor_peak_nsd=4.0,
        variance=np.full_like(dens, 100.0),
        **kw,
    )
    assert not noisy.minor_peak
    # a lower cut only through a thin valley floor (max_shift_fraction)
    kept = find_debris_valley(
        dens, log_axis=1.0, minor_peak_prominence=0.15, max_shift_fraction=1e-4, **kw
    )
    assert kept.valley == plain.valley and not kept.minor_peak


def test_simulated_minority_lymphocytes_kept(tmp_path):
    """Benchmark case 8032 (95 % CD34- AML blasts, <1 % T cells): QC kept the T cells."""
    res, truth = simulated_qc(
        tmp_path,
        "aml_cd34neg",
        8032,
        n_events=40_000,
        blast_fraction=0.95,
        variant="canto_ii_pacb",
    )
    deb = res.labels == LABEL_CODES["debris"]
    t = truth == LABEL_CODES["lymphocytes_t"]
    assert t.sum() > 50
    assert (deb & t).sum() <= 0.02 * t.sum()
    nucleated = ~np.isin(truth, sorted(QC_CODES))
    assert (deb & nucleated).sum() < 0.005 * nucleated.sum()


@pytest.mark.corpus
@pytest.mark.parametrize(
    "rel",
    [
        "cytoexplorerdata/inst/extdata/Activation/Activation_1.fcs",
        "cytoexplorerdata/inst/extdata/Compensation/Compensation-Unstained.fcs",
    ],
)
def test_corpus_plateau_not_lowered(corpus, rel):
    """Mouse splenocytes: a broad low-FSC plateau (~20 % of events) below the lymphocytes
    stays below the cut; the log-axis valley would keep it (max_shift_fraction)."""
    ev = read_corpus(corpus / rel)
    res = run_qc(ev)
    plain = run_qc(ev, settings=QCSettings(**LINEAR_VALLEY))
    unguarded = run_qc(ev, settings=QCSettings(debris_valley_max_shift=1.0))
    assert res.removed["debris"] == plain.removed["debris"]
    assert unguarded.removed["debris"] < 0.7 * plain.removed["debris"]


def _time_bin_levels_reference(t, keep, edges, values, cols, los, his, nlev):
    """The per-event rule of ``qc_kernels.time_bin_levels``, written plainly."""
    nbins = len(edges) - 1
    counts = np.zeros(nbins, dtype=np.int64)
    levsum = np.zeros((nbins, len(cols)), dtype=np.int64)
    nfinite = np.zeros((nbins, len(cols)), dtype=np.int64)
    for i in np.flatnonzero(keep):
        ti = float(t[i])
        if not np.isfinite(ti):
            continue
        b = int(np.searchsorted(edges[1:-1], ti, side="right"))
        counts[b] += 1
        for jj, j in enumerate(cols):
            v = float(values[i, j])
            if not np.isfinite(v):
                continue
            nfinite[b, jj] += 1
            if v > los[jj]:
                span = his[jj] - los[jj]
                u = (v - los[jj]) * (nlev / span if span > 0 else 0.0)
                levsum[b, jj] += nlev - 1 if u >= nlev else int(u)
    return counts, levsum, nfinite


@pytest.mark.parametrize("n", [0, 7, 3000, 140_000])
def test_time_bin_levels_kernel_equals_per_event_rule(n):
    """Per-bin counts and level sums (runs of one bin, branch-free column sums) equal the
    event-by-event rule, with NaN/inf values, NaN/out-of-range times and unkept events."""
    from cytomics import qc_kernels as K

    rng = np.random.default_rng(n)
    t = np.sort(rng.uniform(0.0, 50.0, n))
    if n > 10:
        t[rng.integers(0, n, n // 40)] = np.nan
        t[:3] = [-5.0, 1e9, np.inf]
    keep = rng.random(n) < 0.9
    values = rng.normal(0.5, 0.3, (n, 5)).astype(np.float32)
    for special in (np.nan, np.inf, -np.inf, 1e30):
        values[rng.random((n, 5)) < 0.01] = special
    cols = np.array([0, 2, 4], dtype=np.int64)
    los = np.array([0.0, 0.1, 0.5])
    his = np.array([1.0, 0.9, 0.5])  # an empty range: every level 0
    for nbins in (1, 3, 97):
        edges = np.linspace(0.0, 50.0, nbins + 1)
        got = K.time_bin_levels(t, keep, edges, values, cols, los, his, 128)
        ref = _time_bin_levels_reference(t, keep, edges, values, cols, los, his, 128)
        for g, r in zip(got, ref, strict=True):
            np.testing.assert_array_equal(g, r)
