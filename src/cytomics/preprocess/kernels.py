"""numba kernels for compensation and display transforms.

Logicle follows Moore & Parks, "Update for the logicle data scale including operational
code implementations", Cytometry A 2012;81A:273 (the reference C code also used by
flowutils/FlowKit and the Gating-ML 2.0 ``flogicle`` definition): the biexponential
``B(x) = a e^{bx} - c e^{-dx} - f`` is inverted by Halley's method with a Taylor series
near data zero. Output is on the Gating-ML scale (``T`` maps to 1.0).

For speed, the per-event forward logicle uses a per-channel table of exact solutions on a
uniform grid of ``u = asinh(|v| / s)`` (``s`` chosen so that ``x`` is nearly linear in
``u``) and evaluates a cubic Hermite interpolant with exact node derivatives. Its error
is below 1e-10 on the [0, 1] scale (checked in the tests against the exact solver and
flowutils); values beyond the table (``|v| > LOGICLE_TABLE_SPAN * T``) fall back to the
exact Halley solver.

Parameter vectors (``float64[PARAM_LEN]``) hold, by kind:

- logicle: see the ``P_*`` indices below (built by :func:`logicle_params`);
- arcsinh: ``[0]`` pre-scale ``sinh(M ln10)/T``, ``[1]`` ``A ln10``, ``[2]`` ``(M+A) ln10``;
- linear: ``[0]`` ``A``, ``[1]`` ``T + A``.
"""

from __future__ import annotations

import math

import numba
import numpy as np

KIND_NONE = 0
KIND_LOGICLE = 1
KIND_ARCSINH = 2
KIND_LINEAR = 3

TAYLOR_LENGTH = 16
PARAM_LEN = 40
LOGICLE_TABLE_NODES = 1024
LOGICLE_TABLE_SPAN = 64.0  # table covers |value| <= LOGICLE_TABLE_SPAN * T

# indices into a logicle parameter vector
P_T, P_W, P_M, P_A = 0, 1, 2, 3
P_a, P_b, P_c, P_d, P_f = 4, 5, 6, 7, 8
P_w, P_x0, P_x1, P_x2, P_XTAYLOR = 9, 10, 11, 12, 13
P_S, P_INVH, P_UMAX = 14, 15, 16
P_TAYLOR = 20  # 16 coefficients: [20, 36)

_EPS = 2.220446049250313e-16
_LN10 = math.log(10.0)


@numba.njit(cache=True)
def _solve_d(b: float, w: float) -> float:
    """Solve ``2 (ln d - ln b) + w (b + d) = 0`` for ``d`` (RTSAFE, as the reference)."""
    if w == 0.0:
        return b
    tolerance = 2.0 * b * _EPS
    d_lo = 0.0
    d_hi = b
    d = (d_lo + d_hi) / 2.0
    last_delta = d_hi - d_lo
    f_b = -2.0 * math.log(b) + w * b
    f = 2.0 * math.log(d) + w * d + f_b
    last_f = np.nan
    for _ in range(1, 40):
        df = 2.0 / d + w
        if ((d - d_hi) * df - f) * ((d - d_lo) * df - f) >= 0.0 or abs(1.9 * f) > abs(
            last_delta * df
        ):
            delta = (d_hi - d_lo) / 2.0
            d = d_lo + delta
            if d == d_lo:
                return d
        else:
            delta = f / df
            t = d
            d -= delta
            if d == t:
                return d
        if abs(delta) < tolerance:
            return d
        last_delta = delta
        f = 2.0 * math.log(d) + w * d + f_b
        if f == 0.0 or f == last_f:
            return d
        last_f = f
        if f < 0.0:
            d_lo = d
        else:
            d_hi = d
    return d


@numba.njit(cache=True)
def logicle_params(T: float, W: float, M: float, A: float) -> np.ndarray:
    """Derived logicle constants (a, b, c, d, f, x0..x2, Taylor series) as ``float64[PARAM_LEN]``."""
    p = np.zeros(PARAM_LEN, dtype=np.float64)
    p[P_T] = T
    p[P_W] = W
    p[P_M] = M
    p[P_A] = A
    w = W / (M + A)
    x2 = A / (M + A)
    x1 = x2 + w
    x0 = x2 + 2.0 * w
    b = (M + A) * _LN10
    d = _solve_d(b, w)
    c_a = math.exp(x0 * (b + d))
    mf_a = math.exp(b * x1) - c_a / math.exp(d * x1)
    a = T / ((math.exp(b) - mf_a) - c_a / math.exp(d))
    p[P_a] = a
    p[P_b] = b
    p[P_c] = c_a * a
    p[P_d] = d
    p[P_f] = -mf_a * a
    p[P_w] = w
    p[P_x0] = x0
    p[P_x1] = x1
    p[P_x2] = x2
    p[P_XTAYLOR] = x1 + w / 4.0
    pos = a * math.exp(b * x1)
    neg = -p[P_c] / math.exp(d * x1)
    for i in range(TAYLOR_LENGTH):
        pos *= b / (i + 1)
        neg *= -d / (i + 1)
        p[P_TAYLOR + i] = pos + neg
    p[P_TAYLOR + 1] = 0.0  # exact by the logicle condition
    return p


@numba.njit(cache=True)
def _series(p: np.ndarray, scale: float) -> float:
    x = scale - p[P_x1]
    s = p[P_TAYLOR + TAYLOR_LENGTH - 1] * x
    for i in range(TAYLOR_LENGTH - 2, 1, -1):
        s = (s + p[P_TAYLOR + i]) * x
    return (s * x + p[P_TAYLOR]) * x


@numba.njit(cache=True)
def logicle_exact(p: np.ndarray, value: float) -> float:
    """Exact logicle of one value (Halley iteration of the reference implementation)."""
    if value == 0.0:
        return p[P_x1]
    if value != value:
        return np.nan
    if math.isinf(value):
        return value
    negative = value < 0.0
    if negative:
        value = -value
    a = p[P_a]
    b = p[P_b]
    c = p[P_c]
    d = p[P_d]
    f = p[P_f]
    if value < f:
        x = p[P_x1] + value / p[P_TAYLOR]
    else:
        x = math.log(value / a) / b
    tolerance = 3.0 * _EPS
    if x > 1.0:
        tolerance = 3.0 * x * _EPS
    for _ in range(40):
        ae2bx = a * math.exp(b * x)
        ce2mdx = c / math.exp(d * x)
        if x < p[P_XTAYLOR]:
            y = _series(p, x) - value
        else:
            y = (ae2bx + f) - (ce2mdx + value)
        abe2bx = b * ae2bx
        cde2mdx = d * ce2mdx
        dy = abe2bx + cde2mdx
        ddy = b * abe2bx - d * cde2mdx
        delta = y / (dy * (1.0 - y * ddy / (2.0 * dy * dy)))
        x -= delta
        if abs(delta) < tolerance:
            break
    if negative:
        return 2.0 * p[P_x1] - x
    return x


@numba.njit(cache=True)
def logicle_inverse_one(p: np.ndarray, scale: float) -> float:
    """Inverse logicle (closed-form biexponential) of one scale value."""
    if scale != scale:
        return np.nan
    x1 = p[P_x1]
    negative = scale < x1
    if negative:
        scale = 2.0 * x1 - scale
    if scale < p[P_XTAYLOR]:
        inv = _series(p, scale)
    else:
        inv = (p[P_a] * math.exp(p[P_b] * scale) + p[P_f]) - p[P_c] / math.exp(p[P_d] * scale)
    return -inv if negative else inv


@numba.njit(cache=True)
def logicle_table(p: np.ndarray, n_nodes: int) -> np.ndarray:
    """Fill the interpolation constants of ``p`` (in place) and return ``float64[n_nodes, 2]``.

    Column 0 is the exact logicle ``x`` at ``v_k = s sinh(k h)``, column 1 is ``dx/du``.
    """
    b = p[P_b]
    s = p[P_TAYLOR] / b  # slope-matched: x ~ x1 + u / b at both ends
    umax = math.asinh(LOGICLE_TABLE_SPAN * p[P_T] / s)
    h = umax / (n_nodes - 1)
    p[P_S] = s
    p[P_INVH] = 1.0 / h
    p[P_UMAX] = umax
    table = np.empty((n_nodes, 2), dtype=np.float64)
    for k in range(n_nodes):
        u = k * h
        v = s * math.sinh(u)
        x = logicle_exact(p, v)
        dvdx = p[P_a] * b * math.exp(b * x) + p[P_c] * p[P_d] * math.exp(-p[P_d] * x)
        table[k, 0] = x
        table[k, 1] = s * math.cosh(u) / dvdx
    return table


@numba.njit(cache=True)
def logicle_fast(p: np.ndarray, table: np.ndarray, value: float) -> float:
    """Logicle of one value via the Hermite table (exact fallback outside it)."""
    if value != value:
        return np.nan
    av = abs(value)
    z = av / p[P_S]
    u = math.log(z + math.sqrt(z * z + 1.0))
    t = u * p[P_INVH]
    n_int = table.shape[0] - 1
    if not t < n_int:
        return logicle_exact(p, value)
    k = int(t)
    fr = t - k
    h = 1.0 / p[P_INVH]
    fr2 = fr * fr
    fr3 = fr2 * fr
    h00 = 2.0 * fr3 - 3.0 * fr2 + 1.0
    h10 = fr3 - 2.0 * fr2 + fr
    h01 = -2.0 * fr3 + 3.0 * fr2
    h11 = fr3 - fr2
    x = (
        h00 * table[k, 0]
        + h10 * h * table[k, 1]
        + h01 * table[k + 1, 0]
        + h11 * h * table[k + 1, 1]
    )
    if value < 0.0:
        return 2.0 * p[P_x1] - x
    return x


@numba.njit(cache=True)
def transform_one(kind: int, p: np.ndarray, table: np.ndarray, v: float) -> float:
    """Apply one channel transform (``KIND_*``) to one value."""
    if kind == KIND_LOGICLE:
        return logicle_fast(p, table, v)
    if kind == KIND_ARCSINH:
        z = v * p[0]
        return (math.asinh(z) + p[1]) / p[2]
    if kind == KIND_LINEAR:
        return (v + p[0]) / p[1]
    return v


@numba.njit(cache=True)
def inverse_one(kind: int, p: np.ndarray, y: float) -> float:
    """Inverse of :func:`transform_one`."""
    if kind == KIND_LOGICLE:
        return logicle_inverse_one(p, y)
    if kind == KIND_ARCSINH:
        return math.sinh(y * p[2] - p[1]) / p[0]
    if kind == KIND_LINEAR:
        return y * p[1] - p[0]
    return y


@numba.njit(parallel=True, cache=True)
def transform_array(
    values: np.ndarray, kind: int, p: np.ndarray, table: np.ndarray, out: np.ndarray
) -> None:
    """Apply one transform to a flat float64 array (``out`` may alias ``values``)."""
    for i in numba.prange(values.shape[0]):
        out[i] = transform_one(kind, p, table, values[i])


@numba.njit(parallel=True, cache=True)
def inverse_array(values: np.ndarray, kind: int, p: np.ndarray, out: np.ndarray) -> None:
    """Apply one inverse transform to a flat float64 array."""
    for i in numba.prange(values.shape[0]):
        out[i] = inverse_one(kind, p, values[i])


@numba.njit(parallel=True, cache=True)
def fused_compensate_transform(
    raw: np.ndarray,
    det_cols: np.ndarray,
    comp_pos: np.ndarray,
    inv_s: np.ndarray,
    kinds: np.ndarray,
    params: np.ndarray,
    tables: np.ndarray,
    out: np.ndarray,
) -> None:
    """Compensate and transform every event in one pass.

    Parameters
    ----------
    raw
        float32 ``[n, p]`` C-contiguous raw events.
    det_cols
        int64 ``[k]``: column of each spillover detector (matrix order).
    comp_pos
        int64 ``[p]``: position of column ``j`` in ``det_cols``, or -1 if not compensated.
    inv_s
        float64 ``[k, k]``: ``inv(S)``; compensated row = raw[det_cols] @ inv_s.
    kinds
        int64 ``[p]``: ``KIND_*`` per column.
    params
        float64 ``[p, PARAM_LEN]`` parameter vectors.
    tables
        float64 ``[p, nodes, 2]`` logicle tables (unused rows for other kinds).
    out
        float32 ``[n, p]`` output, written in place.
    """
    n = raw.shape[0]
    ncol = raw.shape[1]
    k = det_cols.shape[0]
    for i in numba.prange(n):
        for j in range(ncol):
            pos = comp_pos[j]
            if pos >= 0:
                v = 0.0
                for q in range(k):
                    v += np.float64(raw[i, det_cols[q]]) * inv_s[q, pos]
            else:
                v = np.float64(raw[i, j])
            out[i, j] = np.float32(transform_one(kinds[j], params[j], tables[j], v))
