"""Display transforms (Gating-ML 2.0 scales) and per-channel transform settings.

Scales (all follow Gating-ML 2.0, so gates drawn on them export unchanged):

- ``logicle`` — ``flogicle(x, T, W, M, A)`` (Parks/Moore), ``T`` maps to 1.0; identical to
  ``flowutils.transforms.logicle`` and FlowKit ``LogicleTransform.apply``.
- ``arcsinh`` — ``fasinh(x, T, M, A) = (asinh(x sinh(M ln10) / T) + A ln10) / ((M + A) ln10)``.
- ``linear`` — ``flin(x, T, A) = (x + A) / (T + A)``.
- ``none`` — identity (raw values).

The plain ML-style ``asinh(x / cofactor)`` is available as :func:`arcsinh_cofactor`.

Default per-channel choice (:class:`TransformSettings`): fluorescence logicle with
``T = $PnR`` (or 262144 when absent/invalid; for log-amplified channels ``T = f2 * 10**f1``,
the top of the linearised range), ``W = 0.5, M = 4.5, A = 0``; scatter linear with
``T = $PnR``; Time ``none``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, replace
from typing import Any

import numpy as np

from cytomics.errors import ConfigError
from cytomics.fcs.model import Acquisition, Channel
from cytomics.preprocess import kernels as K
from cytomics.preprocess.model import ChannelTransform

DEFAULT_T = 262144.0
_KINDS = {
    "logicle": K.KIND_LOGICLE,
    "arcsinh": K.KIND_ARCSINH,
    "linear": K.KIND_LINEAR,
    "none": K.KIND_NONE,
}
_LN10 = math.log(10.0)

__all__ = [
    "TransformSettings",
    "TransformSpec",
    "apply_transform",
    "arcsinh_cofactor",
    "arcsinh_cofactor_inverse",
    "compile_transforms",
    "compile_transforms_shared",
    "default_T",
    "fasinh",
    "fasinh_inverse",
    "flin",
    "flin_inverse",
    "inverse_transform",
    "logicle",
    "logicle_inverse",
    "resolve_transforms",
    "validate_transform",
]


# --------------------------------------------------------------------------------------
# parameter checks and compilation to kernel arrays
# --------------------------------------------------------------------------------------
def validate_transform(ct: ChannelTransform, *, where: str = "transform") -> ChannelTransform:
    """Check Gating-ML 2.0 parameter constraints; return ``ct`` unchanged.

    logicle: ``T > 0, M > 0, 0 <= W <= M/2, -W <= A <= M - 2W``; arcsinh: ``T > 0, M > 0,
    0 <= A <= M``; linear: ``T > 0, 0 <= A <= T``.

    Raises
    ------
    ConfigError
        Unknown kind or parameters outside their domain (message names ``where``).
    """
    if ct.kind not in _KINDS:
        raise ConfigError(
            f"{where}: unknown transform kind {ct.kind!r} (use one of {sorted(_KINDS)})"
        )
    T, W, M, A = float(ct.T), float(ct.W), float(ct.M), float(ct.A)
    if not all(math.isfinite(v) for v in (T, W, M, A)):
        raise ConfigError(
            f"{where}: transform parameters must be finite (T={T}, W={W}, M={M}, A={A})"
        )
    if ct.kind == "none":
        return ct
    if T <= 0:
        raise ConfigError(f"{where}: T must be > 0 (got {T})")
    if ct.kind == "logicle":
        if M <= 0:
            raise ConfigError(f"{where}: logicle M must be > 0 (got {M})")
        if W < 0 or 2 * W > M:
            raise ConfigError(f"{where}: logicle W must satisfy 0 <= W <= M/2 (W={W}, M={M})")
        if A < -W or A > M - 2 * W:
            raise ConfigError(
                f"{where}: logicle A must satisfy -W <= A <= M - 2W (W={W}, M={M}, A={A})"
            )
    elif ct.kind == "arcsinh":
        if M <= 0:
            raise ConfigError(f"{where}: arcsinh M must be > 0 (got {M})")
        if A < 0 or A > M:
            raise ConfigError(f"{where}: arcsinh A must satisfy 0 <= A <= M (M={M}, A={A})")
    elif ct.kind == "linear" and (A < 0 or A > T):
        raise ConfigError(f"{where}: linear A must satisfy 0 <= A <= T (T={T}, A={A})")
    return ct


def _param_vector(ct: ChannelTransform) -> tuple[np.ndarray, np.ndarray | None]:
    """Kernel parameter vector (and logicle table) of one transform."""
    p = np.zeros(K.PARAM_LEN, dtype=np.float64)
    if ct.kind == "logicle":
        p = K.logicle_params(float(ct.T), float(ct.W), float(ct.M), float(ct.A))
        table = K.logicle_table(p)
        return p, table
    if ct.kind == "arcsinh":
        p[0] = math.sinh(ct.M * _LN10) / ct.T
        p[1] = ct.A * _LN10
        p[2] = (ct.M + ct.A) * _LN10
    elif ct.kind == "linear":
        p[0] = ct.A
        p[1] = ct.T + ct.A
    return p, None


def compile_transforms(
    transforms: tuple[ChannelTransform, ...] | list[ChannelTransform],
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Turn transforms into kernel arrays ``(kinds int64[p], params float64[p, L], tables float64[p, cells, 4])``.

    Identical logicle parameter sets share one table computation.
    """
    kinds, params, distinct, table_of = compile_transforms_shared(transforms)
    return kinds, params, np.ascontiguousarray(distinct[table_of])


def compile_transforms_shared(
    transforms: tuple[ChannelTransform, ...] | list[ChannelTransform],
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """As :func:`compile_transforms`, with one table per distinct logicle parameter set.

    Returns
    -------
    tuple
        ``kinds`` int64 ``[p]``, ``params`` float64 ``[p, L]``, ``tables`` float64
        ``[u, cells, 4]`` (``u >= 1``; a zero table when no column is logicle) and
        ``table_of`` int64 ``[p]`` (the table of each column, 0 for other kinds).
    """
    n = len(transforms)
    kinds = np.zeros(n, dtype=np.int64)
    params = np.zeros((n, K.PARAM_LEN), dtype=np.float64)
    table_of = np.zeros(n, dtype=np.int64)
    distinct: list[np.ndarray] = []
    cache: dict[tuple, tuple[np.ndarray, int]] = {}
    for j, ct in enumerate(transforms):
        validate_transform(ct, where=f"column {j}")
        kinds[j] = _KINDS[ct.kind]
        key = (ct.kind, float(ct.T), float(ct.W), float(ct.M), float(ct.A))
        if key not in cache:
            p, table = _param_vector(ct)
            if table is not None:
                distinct.append(table)
            cache[key] = (p, len(distinct) - 1 if table is not None else 0)
        p, t = cache[key]
        params[j] = p
        table_of[j] = t
    if distinct:
        tables = np.ascontiguousarray(np.stack(distinct))
    else:
        tables = np.zeros((1, K.LOGICLE_TABLE_CELLS, 4), dtype=np.float64)
    return kinds, params, tables, table_of


# --------------------------------------------------------------------------------------
# scalar / array functions
# --------------------------------------------------------------------------------------
def _apply(x: Any, ct: ChannelTransform, *, inverse: bool) -> Any:
    validate_transform(ct)
    scalar = np.ndim(x) == 0
    arr = np.asarray(x, dtype=np.float64)
    flat = np.ascontiguousarray(arr.reshape(-1))
    out = np.empty_like(flat)
    kinds, params, tables = compile_transforms((ct,))
    if inverse:
        K.inverse_array(flat, int(kinds[0]), params[0], out)
    else:
        K.transform_array(flat, int(kinds[0]), params[0], tables[0], out)
    if scalar:
        return float(out[0])
    return out.reshape(arr.shape)


def apply_transform(x: Any, ct: ChannelTransform) -> Any:
    """Apply ``ct`` to a scalar (returns float) or array (returns float64 array of the same shape)."""
    return _apply(x, ct, inverse=False)


def inverse_transform(y: Any, ct: ChannelTransform) -> Any:
    """Inverse of :func:`apply_transform`."""
    return _apply(y, ct, inverse=True)


def logicle(x: Any, *, T: float = DEFAULT_T, W: float = 0.5, M: float = 4.5, A: float = 0.0) -> Any:
    """Gating-ML ``flogicle`` (``T`` maps to 1.0), scalar or array.

    Examples
    --------
    >>> round(logicle(262144.0), 12)
    1.0
    """
    return apply_transform(x, ChannelTransform("logicle", T, W, M, A))


def logicle_inverse(
    y: Any, *, T: float = DEFAULT_T, W: float = 0.5, M: float = 4.5, A: float = 0.0
) -> Any:
    """Inverse of :func:`logicle` (closed-form biexponential)."""
    return inverse_transform(y, ChannelTransform("logicle", T, W, M, A))


def fasinh(x: Any, *, T: float = DEFAULT_T, M: float = 4.5, A: float = 0.0) -> Any:
    """Gating-ML ``fasinh``: ``(asinh(x sinh(M ln10)/T) + A ln10) / ((M + A) ln10)``."""
    return apply_transform(x, ChannelTransform("arcsinh", T, 0.0, M, A))


def fasinh_inverse(y: Any, *, T: float = DEFAULT_T, M: float = 4.5, A: float = 0.0) -> Any:
    """Inverse of :func:`fasinh`."""
    return inverse_transform(y, ChannelTransform("arcsinh", T, 0.0, M, A))


def flin(x: Any, *, T: float = DEFAULT_T, A: float = 0.0) -> Any:
    """Gating-ML ``flin``: ``(x + A) / (T + A)``."""
    return apply_transform(x, ChannelTransform("linear", T, 0.0, 0.0, A))


def flin_inverse(y: Any, *, T: float = DEFAULT_T, A: float = 0.0) -> Any:
    """Inverse of :func:`flin`."""
    return inverse_transform(y, ChannelTransform("linear", T, 0.0, 0.0, A))


def arcsinh_cofactor(x: Any, cofactor: float = 150.0) -> Any:
    """Plain ``arcsinh(x / cofactor)`` (common ML scale; not a Gating-ML scale)."""
    if not cofactor > 0:
        raise ConfigError(f"arcsinh cofactor must be > 0 (got {cofactor})")
    out = np.arcsinh(np.asarray(x, dtype=np.float64) / cofactor)
    return float(out) if np.ndim(out) == 0 else out


def arcsinh_cofactor_inverse(y: Any, cofactor: float = 150.0) -> Any:
    """Inverse of :func:`arcsinh_cofactor`."""
    if not cofactor > 0:
        raise ConfigError(f"arcsinh cofactor must be > 0 (got {cofactor})")
    out = np.sinh(np.asarray(y, dtype=np.float64)) * cofactor
    return float(out) if np.ndim(out) == 0 else out


# --------------------------------------------------------------------------------------
# settings
# --------------------------------------------------------------------------------------
_SPEC_KEYS = {"kind", "T", "W", "M", "A"}


@dataclass(frozen=True, slots=True)
class TransformSpec:
    """A partial transform description; ``None`` fields inherit (``T=None``: from the channel)."""

    kind: str | None = None
    T: float | None = None
    W: float | None = None
    M: float | None = None
    A: float | None = None

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None, *, where: str) -> TransformSpec:
        """Build from ``{kind, T, W, M, A}`` (any subset); :class:`ConfigError` on bad keys/values."""
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ConfigError(
                f"{where}: expected a mapping like {{kind: logicle, W: 0.5}}, got {d!r}"
            )
        unknown = set(d) - _SPEC_KEYS
        if unknown:
            raise ConfigError(
                f"{where}: unknown key(s) {sorted(unknown)} (allowed: {sorted(_SPEC_KEYS)})"
            )
        kind = d.get("kind")
        if kind is not None and kind not in _KINDS:
            raise ConfigError(
                f"{where}: unknown transform kind {kind!r} (use one of {sorted(_KINDS)})"
            )
        values: dict[str, float | None] = {}
        for key in ("T", "W", "M", "A"):
            raw = d.get(key)
            if raw is None:
                values[key] = None
                continue
            if isinstance(raw, bool):
                raise ConfigError(f"{where}: {key} must be a number (got {raw!r})")
            try:
                values[key] = float(raw)
            except (TypeError, ValueError):
                raise ConfigError(f"{where}: {key} must be a number (got {raw!r})") from None
        return cls(kind=kind, **values)

    def over(self, base: TransformSpec) -> TransformSpec:
        """This spec with unset fields taken from ``base``."""
        return TransformSpec(
            kind=self.kind if self.kind is not None else base.kind,
            T=self.T if self.T is not None else base.T,
            W=self.W if self.W is not None else base.W,
            M=self.M if self.M is not None else base.M,
            A=self.A if self.A is not None else base.A,
        )


_FLUOR_DEFAULT = TransformSpec(kind="logicle", T=None, W=0.5, M=4.5, A=0.0)
_SCATTER_DEFAULT = TransformSpec(kind="linear", T=None, W=0.5, M=4.5, A=0.0)
_TIME_DEFAULT = TransformSpec(kind="none")


@dataclass(frozen=True, slots=True)
class TransformSettings:
    """Which transform each column gets.

    Attributes
    ----------
    default
        Fluorescence channels. Default logicle ``W=0.5, M=4.5, A=0``, ``T`` from the channel
        (``$PnR``; see :func:`default_T`).
    scatter
        FSC/SSC channels. Default ``linear`` (Gating-ML flin) with ``T=$PnR, A=0``, so
        scatter ends on [0, 1].
    time
        The Time channel. Default ``none`` (raw Time units kept in ``Events.values``;
        seconds are in ``Events.time_seconds``).
    channels
        Per-channel overrides as ``(key, spec)`` pairs; ``key`` is a ``$PnN`` (exact, then
        case-insensitive), a ``$PnS`` marker (case-insensitive) or a canonical panel marker.
        An override inherits unset fields from the channel's class default (above). Keys
        that match no column of a file are ignored for that file.
    """

    default: TransformSpec = _FLUOR_DEFAULT
    scatter: TransformSpec = _SCATTER_DEFAULT
    time: TransformSpec = _TIME_DEFAULT
    channels: tuple[tuple[str, TransformSpec], ...] = ()

    @classmethod
    def from_mapping(cls, d: Mapping[str, Any] | None) -> TransformSettings:
        """Build from the ``transforms:`` section of the config.

        Keys: ``default``, ``scatter``, ``time`` (each ``{kind, T, W, M, A}``, any subset,
        merged over the built-in default) and ``channels`` (``{name: {...}}``).

        Raises
        ------
        ConfigError
            Unknown keys, unknown kinds, non-numeric or out-of-domain parameters.
        """
        if d is None:
            return cls()
        if not isinstance(d, Mapping):
            raise ConfigError(f"transforms: expected a mapping, got {type(d).__name__}")
        unknown = set(d) - {"default", "scatter", "time", "channels"}
        if unknown:
            raise ConfigError(
                f"transforms: unknown key(s) {sorted(unknown)} (allowed: channels, default, scatter, time)"
            )
        default = TransformSpec.from_mapping(d.get("default"), where="transforms.default").over(
            _FLUOR_DEFAULT
        )
        scatter = TransformSpec.from_mapping(d.get("scatter"), where="transforms.scatter").over(
            _SCATTER_DEFAULT
        )
        time = TransformSpec.from_mapping(d.get("time"), where="transforms.time").over(
            _TIME_DEFAULT
        )
        raw_channels = d.get("channels") or {}
        if not isinstance(raw_channels, Mapping):
            raise ConfigError("transforms.channels: expected a mapping {name: {kind, T, W, M, A}}")
        channels = tuple(
            (str(name), TransformSpec.from_mapping(spec, where=f"transforms.channels[{name!r}]"))
            for name, spec in raw_channels.items()
        )
        settings = cls(default=default, scatter=scatter, time=time, channels=channels)
        # validate what can be validated without a file (T may come from $PnR later)
        for where, spec in (("default", default), ("scatter", scatter), ("time", time)):
            validate_transform(_concrete(spec, DEFAULT_T), where=f"transforms.{where}")
        for name, spec in channels:
            validate_transform(
                _concrete(spec.over(default), DEFAULT_T), where=f"transforms.channels[{name!r}]"
            )
        return settings

    def for_channel(
        self, channel: Channel, *, markers: Mapping[str, int] | None = None
    ) -> ChannelTransform:
        """The concrete transform of one channel (``T`` filled from the channel when unset)."""
        if channel.is_time:
            base = self.time
        elif channel.is_scatter:
            base = self.scatter
        else:
            base = self.default
        spec = base
        override = self._override(channel, markers)
        if override is not None:
            spec = override.over(base)
        return validate_transform(
            _concrete(spec, default_T(channel)), where=f"transform of channel {channel.name!r}"
        )

    def _override(
        self, channel: Channel, markers: Mapping[str, int] | None
    ) -> TransformSpec | None:
        if not self.channels:
            return None
        by_key = dict(self.channels)
        if channel.name in by_key:
            return by_key[channel.name]
        folded = {k.casefold(): v for k, v in self.channels}
        if channel.name.casefold() in folded:
            return folded[channel.name.casefold()]
        if channel.marker and channel.marker.casefold() in folded:
            return folded[channel.marker.casefold()]
        if markers:
            for marker, col in markers.items():
                if col == channel.index and marker.casefold() in folded:
                    return folded[marker.casefold()]
        return None


def _concrete(spec: TransformSpec, T: float) -> ChannelTransform:
    return ChannelTransform(
        kind=spec.kind or "logicle",  # type: ignore[arg-type]
        T=float(spec.T if spec.T is not None else T),
        W=float(spec.W if spec.W is not None else 0.5),
        M=float(spec.M if spec.M is not None else 4.5),
        A=float(spec.A if spec.A is not None else 0.0),
    )


def default_T(channel: Channel) -> float:
    """Top of scale for a channel: ``f2 * 10**f1`` for log-amplified (``$PnE``) channels,
    else ``$PnR`` when positive and finite, else 262144."""
    if channel.log_decades > 0:
        offset = channel.log_offset if channel.log_offset > 0 else 1.0
        return float(offset * 10.0**channel.log_decades)
    if math.isfinite(channel.range) and channel.range > 0:
        return float(channel.range)
    return DEFAULT_T


def resolve_transforms(
    acquisition: Acquisition,
    settings: TransformSettings | None = None,
    *,
    markers: Mapping[str, int] | None = None,
) -> tuple[ChannelTransform, ...]:
    """One :class:`ChannelTransform` per column of ``acquisition.events``."""
    settings = settings or TransformSettings()
    return tuple(settings.for_channel(ch, markers=markers) for ch in acquisition.channels)


def with_T(ct: ChannelTransform, T: float) -> ChannelTransform:
    """Copy of ``ct`` with another top of scale."""
    return replace(ct, T=float(T))
