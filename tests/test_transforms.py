"""Transforms: logicle / arcsinh / linear against flowutils and FlowKit; fused kernel; settings."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import numpy as np
import pytest

from cytomics.errors import ConfigError
from cytomics.fcs.model import Acquisition, Channel, Spillover
from cytomics.preprocess import kernels as K
from cytomics.preprocess.model import ChannelTransform
from cytomics.preprocess.pipeline import compensate_transform, preprocess
from cytomics.preprocess.transforms import (
    TransformSettings,
    apply_transform,
    arcsinh_cofactor,
    arcsinh_cofactor_inverse,
    default_T,
    fasinh,
    fasinh_inverse,
    flin,
    flin_inverse,
    inverse_transform,
    logicle,
    logicle_inverse,
    resolve_transforms,
)

LOGICLE_PARAMS = [
    (262144.0, 0.5, 4.5, 0.0),
    (262144.0, 1.0, 4.5, 1.0),
    (262144.0, 0.0, 4.5, 0.0),
    (262144.0, 2.0, 4.5, -1.0),
    (10000.0, 0.5, 4.0, 0.0),
    (1024.0, 0.2, 3.0, 0.5),
    (1.0e6, 1.5, 5.5, 0.3),
]


def _grid(T: float) -> np.ndarray:
    """Dense grid from -1000 to T plus log-spaced magnitudes around zero."""
    small = np.geomspace(1e-3, 1000.0, 400)
    return np.concatenate([np.linspace(-1000.0, T, 20001), small, -small, [0.0, T]])


@pytest.mark.parametrize(("T", "W", "M", "A"), LOGICLE_PARAMS)
def test_logicle_matches_flowutils_and_flowkit(T: float, W: float, M: float, A: float) -> None:
    from flowkit import transforms as fkt

    LogicleTransform = fkt.LogicleTransform
    from flowutils import transforms as fu

    x = _grid(T)
    ours = logicle(x, T=T, W=W, M=M, A=A)
    ref_fu = fu.logicle(x, None, t=T, m=M, w=W, a=A)
    ref_fk = LogicleTransform(param_t=T, param_w=W, param_m=M, param_a=A).apply(x.reshape(-1, 1))[
        :, 0
    ]
    assert np.max(np.abs(ours - ref_fu)) < 1e-6
    assert np.max(np.abs(ours - ref_fk)) < 1e-6
    assert ours[-1] == pytest.approx(1.0, abs=1e-9)  # T maps to 1


@pytest.mark.parametrize(("T", "W", "M", "A"), LOGICLE_PARAMS)
def test_logicle_inverse_matches_flowutils_and_flowkit(
    T: float, W: float, M: float, A: float
) -> None:
    from flowkit import transforms as fkt

    LogicleTransform = fkt.LogicleTransform
    from flowutils import transforms as fu

    x = _grid(T)
    y = fu.logicle(x, None, t=T, m=M, w=W, a=A)
    ours = logicle_inverse(y, T=T, W=W, M=M, A=A)
    ref_fu = fu.logicle_inverse(y, None, t=T, m=M, w=W, a=A)
    ref_fk = LogicleTransform(param_t=T, param_w=W, param_m=M, param_a=A).inverse(y.reshape(-1, 1))[
        :, 0
    ]
    scale = np.maximum(np.abs(ref_fu), 1.0)  # relative, absolute near 0
    assert np.max(np.abs(ours - ref_fu) / scale) < 1e-6
    assert np.max(np.abs(ours - ref_fk) / scale) < 1e-6
    # and it really inverts: back to the grid
    assert np.max(np.abs(ours - x) / np.maximum(np.abs(x), 1.0)) < 1e-6


def test_logicle_round_trip_and_scalar_forms() -> None:
    x = np.array([-5e4, -1000.0, -1.0, 0.0, 1e-6, 3.0, 150.0, 12345.6, 262144.0, 1e6])
    y = logicle(x)
    back = logicle_inverse(y)
    np.testing.assert_allclose(back, x, rtol=1e-9, atol=1e-9)
    assert isinstance(logicle(100.0), float)
    assert logicle(100.0) == logicle(np.array([100.0]))[0]
    assert logicle(0.0) == pytest.approx(0.5 / 4.5)  # x1 = W / (M + A)
    assert logicle_inverse(logicle(-300.0)) == pytest.approx(-300.0, rel=1e-9)
    assert np.all(np.diff(logicle(np.linspace(-2000, 3e5, 5000))) > 0)  # monotone
    assert np.isnan(logicle(float("nan")))
    assert logicle(np.zeros((2, 3))).shape == (2, 3)


def test_logicle_far_outside_table_uses_exact_solver() -> None:
    from flowutils import transforms as fu

    x = np.array([-4.69e6, -1e8, 64.5 * 262144.0, 1e9])  # beyond the Hermite table
    np.testing.assert_allclose(logicle(x), fu.logicle(x, None), rtol=0, atol=1e-9)


def test_hermite_table_agrees_with_exact_solver() -> None:
    p = K.logicle_params(262144.0, 0.5, 4.5, 0.0)
    table = K.logicle_table(p)
    rng = np.random.default_rng(1)
    v = np.concatenate([rng.normal(0, 300, 2000), rng.uniform(-1e4, 262144 * 10, 2000)])
    fast = np.array([K.logicle_fast(p, table, float(a)) for a in v])
    exact = np.array([K.logicle_exact(p, float(a)) for a in v])
    assert np.max(np.abs(fast - exact)) < 1e-10


@pytest.mark.parametrize(
    ("T", "M", "A"), [(262144.0, 4.5, 0.0), (262144.0, 4.0, 1.0), (1000.0, 2.0, 0.5)]
)
def test_fasinh_matches_flowkit(T: float, M: float, A: float) -> None:
    from flowkit import transforms as fkt

    AsinhTransform = fkt.AsinhTransform

    x = _grid(T)
    ref = AsinhTransform(param_t=T, param_m=M, param_a=A).apply(x.reshape(-1, 1))[:, 0]
    ours = fasinh(x, T=T, M=M, A=A)
    assert np.max(np.abs(ours - ref)) < 1e-9
    np.testing.assert_allclose(fasinh_inverse(ours, T=T, M=M, A=A), x, rtol=1e-7, atol=1e-6)


@pytest.mark.parametrize(("T", "A"), [(262144.0, 0.0), (1024.0, 10.0)])
def test_flin_matches_flowkit(T: float, A: float) -> None:
    from flowkit import transforms as fkt

    LinearTransform = fkt.LinearTransform

    x = _grid(T)
    ref = LinearTransform(param_t=T, param_a=A).apply(x.reshape(-1, 1))[:, 0]
    ours = flin(x, T=T, A=A)
    np.testing.assert_allclose(ours, ref, rtol=1e-12, atol=1e-12)
    assert flin(T, T=T, A=A) == pytest.approx(1.0)
    np.testing.assert_allclose(flin_inverse(ours, T=T, A=A), x, rtol=1e-9, atol=1e-6)


def test_arcsinh_cofactor() -> None:
    x = np.array([-1000.0, 0.0, 150.0, 1e5])
    np.testing.assert_allclose(arcsinh_cofactor(x, 150.0), np.arcsinh(x / 150.0))
    np.testing.assert_allclose(
        arcsinh_cofactor_inverse(arcsinh_cofactor(x, 5.0), 5.0), x, rtol=1e-12
    )
    with pytest.raises(ConfigError):
        arcsinh_cofactor(x, 0.0)


def test_none_transform_is_identity() -> None:
    ct = ChannelTransform("none")
    x = np.array([-3.0, 0.0, 1e7])
    np.testing.assert_array_equal(apply_transform(x, ct), x)
    np.testing.assert_array_equal(inverse_transform(x, ct), x)


@pytest.mark.parametrize(
    "bad",
    [
        ChannelTransform("logicle", T=-1.0),
        ChannelTransform("logicle", W=3.0, M=4.5),
        ChannelTransform("logicle", W=0.5, M=4.5, A=-1.0),
        ChannelTransform("arcsinh", M=0.0),
        ChannelTransform("linear", T=10.0, A=20.0),
        ChannelTransform("spline"),  # type: ignore[arg-type]
    ],
)
def test_invalid_parameters_raise_config_error(bad: ChannelTransform) -> None:
    with pytest.raises(ConfigError):
        apply_transform(1.0, bad)


# ------------------------------------------------------------------------------------------
# settings
# ------------------------------------------------------------------------------------------
def _acquisition(
    events: np.ndarray, names: list[str], markers: list[str | None], **kw
) -> Acquisition:
    chans = tuple(
        Channel(index=i, name=n, marker=m, range=kw.get("ranges", {}).get(n, 262144.0), bits=32)
        for i, (n, m) in enumerate(zip(names, markers, strict=True))
    )
    return Acquisition(
        path=Path("synthetic.fcs"),
        sha256="0" * 64,
        fcs_version="3.0",
        keywords=kw.get("keywords", {"$TIMESTEP": "0.01"}),
        channels=chans,
        events=np.ascontiguousarray(events, dtype=np.float32),
        spillover=kw.get("spillover"),
    )


NAMES = ["FSC-A", "SSC-A", "FITC-A", "PE-A", "APC-A", "Time"]
MARKERS: list[str | None] = [None, None, "CD45", "CD19", "CD34", None]


def test_default_settings_per_channel_class() -> None:
    acq = _acquisition(np.zeros((1, 6)), NAMES, MARKERS, ranges={"PE-A": 100000.0})
    tr = resolve_transforms(acq)
    assert [t.kind for t in tr] == ["linear", "linear", "logicle", "logicle", "logicle", "none"]
    assert tr[0].T == 262144.0 and tr[3].T == 100000.0
    assert (tr[2].W, tr[2].M, tr[2].A) == (0.5, 4.5, 0.0)


def test_settings_from_mapping_overrides() -> None:
    s = TransformSettings.from_mapping(
        {
            "default": {"kind": "logicle", "W": 0.8},
            "scatter": {"kind": "linear", "T": 200000},
            "channels": {"cd19": {"kind": "arcsinh", "M": 4.0}, "APC-A": {"W": 1.2, "A": 0.5}},
        }
    )
    acq = _acquisition(np.zeros((1, 6)), NAMES, MARKERS)
    tr = resolve_transforms(acq, s)
    assert tr[0] == ChannelTransform("linear", T=200000.0, W=0.5, M=4.5, A=0.0)
    assert tr[2].kind == "logicle" and tr[2].W == 0.8
    assert tr[3].kind == "arcsinh" and tr[3].M == 4.0  # matched by $PnS, case-insensitive
    assert tr[4] == ChannelTransform("logicle", T=262144.0, W=1.2, M=4.5, A=0.5)
    # a canonical panel marker name works as a key too
    s2 = TransformSettings.from_mapping({"channels": {"cyCD79a": {"kind": "linear"}}})
    tr2 = resolve_transforms(acq, s2, markers={"cyCD79a": 4})
    assert tr2[4].kind == "linear"


@pytest.mark.parametrize(
    "mapping",
    [
        {"defaults": {}},
        {"default": {"kind": "logicle", "Q": 1}},
        {"default": {"kind": "hyperlog"}},
        {"default": {"W": "wide"}},
        {"default": {"W": 4.0}},
        {"channels": {"FITC-A": {"W": -1.0}}},
        {"channels": ["FITC-A"]},
    ],
)
def test_settings_from_mapping_rejects_bad_config(mapping: dict) -> None:
    with pytest.raises(ConfigError):
        TransformSettings.from_mapping(mapping)


def test_default_T_log_amplified_and_missing_range() -> None:
    assert default_T(Channel(0, "FL1", None, 1024.0, 16, log_decades=4.0, log_offset=0.0)) == 1e4
    assert default_T(Channel(0, "FL1", None, 0.0, 16)) == 262144.0
    assert default_T(Channel(0, "FL1", None, 1024.0, 10)) == 1024.0


# ------------------------------------------------------------------------------------------
# fused kernel
# ------------------------------------------------------------------------------------------
def _random_events(n: int, seed: int = 7) -> np.ndarray:
    rng = np.random.default_rng(seed)
    ev = np.empty((n, 6), dtype=np.float32)
    ev[:, 0] = rng.uniform(0, 262143, n)
    ev[:, 1] = rng.uniform(0, 262143, n)
    ev[:, 2:5] = rng.lognormal(6, 2, (n, 3)) - 200.0
    ev[:, 5] = np.sort(rng.uniform(0, 30000, n))
    return ev


def test_fused_kernel_equals_numpy_reference() -> None:
    from flowutils import transforms as fu

    raw = _random_events(5000)
    spill = np.array([[1.0, 0.2, 0.01], [0.05, 1.0, 0.1], [0.0, 0.03, 1.0]])
    transforms = (
        ChannelTransform("linear", T=262144.0),
        ChannelTransform("linear", T=262144.0, A=100.0),
        ChannelTransform("logicle", T=262144.0, W=0.5, M=4.5, A=0.0),
        ChannelTransform("logicle", T=262144.0, W=1.0, M=4.5, A=1.0),
        ChannelTransform("arcsinh", T=262144.0, M=4.5, A=0.5),
        ChannelTransform("none"),
    )
    out = compensate_transform(
        raw, transforms, spillover_columns=[2, 3, 4], inverse=np.linalg.inv(spill)
    )
    assert out.dtype == np.float32 and out.shape == raw.shape and out.flags.c_contiguous

    ref = raw.astype(np.float64)
    ref[:, 2:5] = ref[:, 2:5] @ np.linalg.inv(spill)
    expected = np.empty_like(ref)
    expected[:, 0] = ref[:, 0] / 262144.0
    expected[:, 1] = (ref[:, 1] + 100.0) / (262144.0 + 100.0)
    expected[:, 2] = fu.logicle(ref[:, 2], None, t=262144.0, m=4.5, w=0.5, a=0.0)
    expected[:, 3] = fu.logicle(ref[:, 3], None, t=262144.0, m=4.5, w=1.0, a=1.0)
    expected[:, 4] = fu.asinh(ref[:, 4], None, t=262144.0, m=4.5, a=0.5)
    expected[:, 5] = ref[:, 5]
    np.testing.assert_allclose(out, expected, rtol=2e-7, atol=1e-7)


def test_preprocess_end_to_end_synthetic() -> None:
    raw = _random_events(3000)
    spill = Spillover(("FITC-A", "PE-A"), np.array([[1.0, 0.15], [0.02, 1.0]]), "SPILL")
    acq = _acquisition(raw, NAMES, MARKERS, spillover=spill)
    ev = preprocess(acq, markers={"CD45": 2})
    assert ev.values.shape == raw.shape and ev.values.dtype == np.float32
    assert ev.spillover is not None and ev.is_compensated(2) and not ev.is_compensated(4)
    assert ev.markers == {"CD45": 2}
    np.testing.assert_allclose(ev.time_seconds, raw[:, 5].astype(np.float64) * 0.01)
    comp = raw[:, 2:4].astype(np.float64) @ np.linalg.inv(spill.matrix)
    np.testing.assert_allclose(ev.values[:, 2], logicle(comp[:, 0]), atol=1e-6)
    np.testing.assert_allclose(ev.values[:, 4], logicle(raw[:, 4].astype(np.float64)), atol=1e-6)
    np.testing.assert_allclose(ev.values[:, 0], raw[:, 0] / 262144.0, rtol=1e-6)
    np.testing.assert_array_equal(ev.values[:, 5], raw[:, 5])
    # the raw events are untouched
    np.testing.assert_array_equal(acq.events, raw)


def test_preprocess_without_spillover_warns_and_bad_timestep() -> None:
    raw = _random_events(100)
    acq = _acquisition(raw, NAMES, MARKERS, keywords={"$TIMESTEP": "xxxxxxxxx"})
    ev = preprocess(acq)
    assert ev.spillover is None
    assert any("not compensated" in w for w in acq.warnings)
    assert any("$TIMESTEP" in w for w in acq.warnings)
    np.testing.assert_array_equal(ev.time_seconds, raw[:, 5].astype(np.float64))
    ev2 = preprocess(acq, compensate=False)
    np.testing.assert_array_equal(ev2.values, ev.values)



@pytest.mark.parametrize("inplace", [False, True])
def test_time_seconds_read_in_the_fused_pass_bitwise(inplace: bool) -> None:
    """The Time column read by the fused kernel equals time_in_seconds bit for bit (also
    when the pass overwrites the raw events, and for float64 events via the fallback)."""
    from cytomics.preprocess.pipeline import time_in_seconds

    raw = _random_events(5000)
    raw[:, 5] = np.cumsum(np.abs(raw[:, 5])).astype(np.float32) + np.float32(0.1)
    raw[7, 5] = np.nan
    for step in ("0.0137", "1e-5", None):
        kw = {} if step is None else {"$TIMESTEP": step}
        acq = _acquisition(raw.copy(), NAMES, MARKERS, keywords=kw)
        expected = time_in_seconds(_acquisition(raw.copy(), NAMES, MARKERS, keywords=kw))
        ev = preprocess(acq, inplace=inplace)
        assert ev.time_seconds.dtype == np.float64
        assert ev.time_seconds.tobytes() == expected.tobytes()
    acq64 = dataclasses.replace(acq, events=raw.astype(np.float64), keywords={"$TIMESTEP": "0.01"})
    ev64 = preprocess(acq64)
    assert ev64.time_seconds.tobytes() == (raw[:, 5].astype(np.float64) * 0.01).tobytes()


def _logicle_per_value(v: np.ndarray, p: np.ndarray, coef: np.ndarray) -> np.ndarray:
    """The table lookup value by value (the reference the block kernel must equal)."""
    K_ = K.LOGICLE_CELLS_PER_OCTAVE
    base = K_ * (1 - int(p[K.P_E0])) - K_ * 1023
    out = np.empty_like(v)
    for i, x in enumerate(v):
        ax = abs(x)
        if ax < p[K.P_V0]:
            tt = ax * p[K.P_KV0]
            c = int(tt)
            fr = tt - c
        else:
            bits = int(np.float64(x).view(np.int64)) & 0x7FFFFFFFFFFFFFFF
            c = base + K_ * (bits >> 52) + ((bits >> (52 - K.LOGICLE_CELL_BITS)) & (K_ - 1))
            fr = (bits & ((1 << (52 - K.LOGICLE_CELL_BITS)) - 1)) / (1 << (52 - K.LOGICLE_CELL_BITS))
            if c >= int(p[K.P_NCELLS]):
                out[i] = K.logicle_exact(p, x)
                continue
        y = coef[c, 0] + fr * (coef[c, 1] + fr * (coef[c, 2] + fr * coef[c, 3]))
        out[i] = 2.0 * p[K.P_x1] - y if x < 0.0 else y
    return out


@pytest.mark.parametrize("specials", [False, True])
def test_logicle_block_equals_per_value_lookup_bit_for_bit(specials: bool) -> None:
    """Blocks of in-table values take a branch-free loop, blocks with a value beyond the
    table, inf or NaN the per-value loop: both equal the per-value lookup exactly."""
    rng = np.random.default_rng(5)
    p = K.logicle_params(262144.0, 0.5, 4.5, 0.0)
    coef = K.logicle_table(p)
    v = np.concatenate([rng.normal(0, 50, 600), rng.normal(2000, 30000, 600),
                        rng.uniform(-1e-3, 1e-3, 200), [0.0, -0.0, p[K.P_V0], -p[K.P_V0],
                        np.nextafter(p[K.P_V0], 0), 262144.0, -262144.0]])
    if specials:
        v[[3, 500, 900]] = [np.nan, np.inf, 1e9]
    expected = _logicle_per_value(v, p, coef)
    got = v.copy()
    K.logicle_block(got, got.size, p, coef)
    np.testing.assert_array_equal(got.view(np.int64), expected.view(np.int64))
