"""numba kernels for compensation and display transforms.

Logicle follows Moore & Parks, "Update for the logicle data scale including operational
code implementations", Cytometry A 2012;81A:273 (the reference C code also used by
flowutils/FlowKit and the Gating-ML 2.0 ``flogicle`` definition): the biexponential
``B(x) = a e^{bx} - c e^{-dx} - f`` is inverted by Halley's method with a Taylor series
near data zero. Output is on the Gating-ML scale (``T`` maps to 1.0).

For speed, the per-event forward logicle evaluates a per-channel piecewise cubic: cells are
uniform in ``|v|`` below ``v0 = 2**e0`` and, above it, ``2**LOGICLE_CELL_BITS`` uniform cells
per binary octave ``[2**e, 2**(e+1))``. The cell and the position inside it come straight
from the float64 bit pattern (exponent and leading mantissa bits), so no logarithm is taken
per event. Each cell is the cubic Hermite interpolant of exact solutions (values and
derivatives ``1/B'(x)``) at its ends; its error is below 1e-10 on the [0, 1] scale (checked
in the tests against the exact solver and flowutils). Values beyond the table
(``|v| >= 2**e1``, at least ``LOGICLE_TABLE_SPAN * T``), NaN and inf fall back to the exact
Halley solver.

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
LOGICLE_CELL_BITS = 6  # 64 cells per octave
LOGICLE_CELLS_PER_OCTAVE = 1 << LOGICLE_CELL_BITS
LOGICLE_MAX_OCTAVES = 47
LOGICLE_TABLE_CELLS = LOGICLE_CELLS_PER_OCTAVE * (LOGICLE_MAX_OCTAVES + 1)
LOGICLE_TABLE_SPAN = 64.0  # the table covers at least |value| < LOGICLE_TABLE_SPAN * T
_FRAC_SHIFT = 52 - LOGICLE_CELL_BITS
_FRAC_MASK = (1 << _FRAC_SHIFT) - 1
_FRAC_SCALE = 1.0 / (1 << _FRAC_SHIFT)
_ABS_MASK = 0x7FFFFFFFFFFFFFFF

# indices into a logicle parameter vector
P_T, P_W, P_M, P_A = 0, 1, 2, 3
P_a, P_b, P_c, P_d, P_f = 4, 5, 6, 7, 8
P_w, P_x0, P_x1, P_x2, P_XTAYLOR = 9, 10, 11, 12, 13
P_E0, P_V0, P_KV0, P_NCELLS = 14, 15, 16, 17
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
def _dxdv(p: np.ndarray, x: float) -> float:
    """Slope of the logicle scale, ``1 / B'(x)`` (x >= x1)."""
    return 1.0 / (p[P_a] * p[P_b] * math.exp(p[P_b] * x) + p[P_c] * p[P_d] * math.exp(-p[P_d] * x))


@numba.njit(cache=True)
def logicle_table(p: np.ndarray) -> np.ndarray:
    """Fill the table constants of ``p`` (in place); return cubic coefficients ``[cells, 4]``.

    Cell ``c`` maps ``t`` in [0, 1) to ``c0 + t (c1 + t (c2 + t c3))``.
    """
    K = LOGICLE_CELLS_PER_OCTAVE
    s = p[P_TAYLOR] / p[P_b]  # width of the quasi-linear region around zero
    e1 = int(math.ceil(math.log2(LOGICLE_TABLE_SPAN * p[P_T])))  # noqa: RUF046 (numba)
    e0 = int(math.floor(math.log2(s))) - 1  # noqa: RUF046 (numba)
    if e1 - e0 > LOGICLE_MAX_OCTAVES:
        e0 = e1 - LOGICLE_MAX_OCTAVES
    v0 = 2.0**e0
    n_cells = K * (1 + e1 - e0)
    p[P_E0] = e0
    p[P_V0] = v0
    p[P_KV0] = K / v0
    p[P_NCELLS] = n_cells
    coef = np.zeros((LOGICLE_TABLE_CELLS, 4), dtype=np.float64)
    for c in range(n_cells):
        if c < K:
            va = v0 * c / K
            vb = v0 * (c + 1) / K
        else:
            octave = 2.0 ** (e0 + (c - K) // K)
            sub = (c - K) % K
            va = octave * (1.0 + sub / K)
            vb = octave * (1.0 + (sub + 1) / K)
        xa = logicle_exact(p, va)
        xb = logicle_exact(p, vb)
        da = _dxdv(p, xa) * (vb - va)
        db = _dxdv(p, xb) * (vb - va)
        coef[c, 0] = xa
        coef[c, 1] = da
        coef[c, 2] = 3.0 * (xb - xa) - 2.0 * da - db
        coef[c, 3] = 2.0 * (xa - xb) + da + db
    return coef


@numba.njit(cache=True)
def logicle_block(vbuf: np.ndarray, m: int, p: np.ndarray, coef: np.ndarray) -> None:
    """Replace ``vbuf[:m]`` (float64 linear values) by their logicle, using the table.

    A block whose values all lie in the table (the usual case) is done by a branch-free
    loop the compiler vectorises (both cell formulas computed, one selected); a block with
    a value beyond the table, inf or NaN takes the per-value loop with the exact
    fallback. Both compute the same cubic, so the results are identical.
    """
    ibuf = vbuf.view(np.int64)
    K = LOGICLE_CELLS_PER_OCTAVE
    kv0 = p[P_KV0]
    base = K * (1 - int(p[P_E0])) - K * 1023
    n_cells = int(p[P_NCELLS])
    x1 = p[P_x1]
    v0 = p[P_V0]
    n_out = 0
    for i in range(m):
        bits = ibuf[i] & _ABS_MASK
        c_big = base + K * (bits >> 52) + ((bits >> _FRAC_SHIFT) & (K - 1))
        n_out += (abs(vbuf[i]) >= v0) & (c_big >= n_cells)
        n_out += vbuf[i] != vbuf[i]
    if n_out == 0:
        two_x1 = 2.0 * x1
        for i in range(m):
            v = vbuf[i]
            av = abs(v)
            small = av < v0
            tt = min(av, v0) * kv0
            c_small = int(tt)
            fr_small = tt - c_small
            bits = ibuf[i] & _ABS_MASK
            c_big = base + K * (bits >> 52) + ((bits >> _FRAC_SHIFT) & (K - 1))
            fr_big = (bits & _FRAC_MASK) * _FRAC_SCALE
            c = c_small if small else c_big
            fr = fr_small if small else fr_big
            y = coef[c, 0] + fr * (coef[c, 1] + fr * (coef[c, 2] + fr * coef[c, 3]))
            vbuf[i] = two_x1 - y if v < 0.0 else y
        return
    for i in range(m):
        v = vbuf[i]
        av = abs(v)
        if av < v0:
            tt = av * kv0
            c = int(tt)
            fr = tt - c
        else:
            bits = ibuf[i] & _ABS_MASK
            c = base + K * (bits >> 52) + ((bits >> _FRAC_SHIFT) & (K - 1))
            fr = (bits & _FRAC_MASK) * _FRAC_SCALE
            if c >= n_cells:  # beyond the table, inf or NaN
                vbuf[i] = logicle_exact(p, v)
                continue
        y = coef[c, 0] + fr * (coef[c, 1] + fr * (coef[c, 2] + fr * coef[c, 3]))
        vbuf[i] = 2.0 * x1 - y if v < 0.0 else y


@numba.njit(cache=True)
def logicle_fast(p: np.ndarray, coef: np.ndarray, value: float) -> float:
    """Logicle of one value via the table (exact fallback outside it)."""
    buf = np.empty(1, dtype=np.float64)
    buf[0] = value
    logicle_block(buf, 1, p, coef)
    return buf[0]


@numba.njit(cache=True)
def _simple_block(vbuf: np.ndarray, m: int, kind: int, p: np.ndarray) -> None:
    """Arcsinh / linear / none on ``vbuf[:m]`` in place."""
    if kind == KIND_ARCSINH:
        p0 = p[0]
        p1 = p[1]
        p2 = p[2]
        for i in range(m):
            vbuf[i] = (math.asinh(vbuf[i] * p0) + p1) / p2
    elif kind == KIND_LINEAR:
        p0 = p[0]
        p1 = p[1]
        for i in range(m):
            vbuf[i] = (vbuf[i] + p0) / p1


@numba.njit(cache=True)
def inverse_one(kind: int, p: np.ndarray, y: float) -> float:
    """Inverse of one transformed value."""
    if kind == KIND_LOGICLE:
        return logicle_inverse_one(p, y)
    if kind == KIND_ARCSINH:
        return math.sinh(y * p[2] - p[1]) / p[0]
    if kind == KIND_LINEAR:
        return y * p[1] - p[0]
    return y


#: rows per parallel work item (a block of raw rows stays in L2)
BLOCK_ROWS = 2048


@numba.njit(parallel=True, cache=True)
def transform_array(
    values: np.ndarray, kind: int, p: np.ndarray, coef: np.ndarray, out: np.ndarray
) -> None:
    """Apply one transform to a flat float64 array (``out`` may alias ``values``)."""
    n = values.shape[0]
    n_blocks = (n + BLOCK_ROWS - 1) // BLOCK_ROWS
    for b in numba.prange(n_blocks):
        r0 = b * BLOCK_ROWS
        m = min(n, r0 + BLOCK_ROWS) - r0
        vbuf = np.empty(BLOCK_ROWS, dtype=np.float64)
        for i in range(m):
            vbuf[i] = values[r0 + i]
        if kind == KIND_LOGICLE:
            logicle_block(vbuf, m, p, coef)
        else:
            _simple_block(vbuf, m, kind, p)
        for i in range(m):
            out[r0 + i] = vbuf[i]


@numba.njit(parallel=True, cache=True)
def inverse_array(values: np.ndarray, kind: int, p: np.ndarray, out: np.ndarray) -> None:
    """Apply one inverse transform to a flat float64 array."""
    for i in numba.prange(values.shape[0]):
        out[i] = inverse_one(kind, p, values[i])


#: rows per block of the fused kernel: the block's raw rows, detector columns and
#: compensated columns (float64) stay in L1
FUSED_BLOCK_ROWS = 256
#: blocks per parallel work item (its buffers are allocated once per item)
FUSED_GROUP_BLOCKS = 16


@numba.njit(parallel=True, cache=True)
def fused_compensate_transform(
    raw: np.ndarray,
    det_cols: np.ndarray,
    comp_pos: np.ndarray,
    inv_s: np.ndarray,
    kinds: np.ndarray,
    params: np.ndarray,
    tables: np.ndarray,
    table_of: np.ndarray,
    out: np.ndarray,
    time_col: int,
    time_step: float,
    scale_time: bool,
    time_out: np.ndarray,
) -> None:
    """Compensate and transform every event in one pass.

    Rows are processed in independent blocks of :data:`FUSED_BLOCK_ROWS` (``prange`` over
    groups of :data:`FUSED_GROUP_BLOCKS` blocks sharing one set of buffers); a block's
    rows are copied row by row (float64) into column buffers, each compensated column is
    accumulated over the detectors in matrix order (``0.0 + t_0 w_0 + t_1 w_1 + ...``,
    zero weights skipped; up to four detectors per pass over the block, the same
    additions in the same order), every column is transformed in its float64 buffer and
    the block is written back row by row to ``out`` as float32.

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
        float64 ``[u, LOGICLE_TABLE_CELLS, 4]`` distinct logicle tables.
    table_of
        int64 ``[p]``: the table of each column (any valid index for other kinds).
    out
        float32 ``[n, p]`` output, written in place (may alias ``raw``: a block's values
        are all read before any of them is written).
    time_col, time_step, scale_time, time_out
        When ``time_col >= 0`` (else -1, with an empty ``time_out``): ``time_out``
        (float64 ``[n]``) receives the raw values of that column as float64, times
        ``time_step`` when ``scale_time`` (the same float64 product as
        ``raw[:, time_col].astype(float64) * time_step``), read before the block is
        written: no separate strided pass over the matrix for the Time column.
    """
    n = raw.shape[0]
    ncol = raw.shape[1]
    k = det_cols.shape[0]
    R = FUSED_BLOCK_ROWS
    n_blocks = (n + R - 1) // R
    G = FUSED_GROUP_BLOCKS
    # per compensated column: the detectors with a non-zero weight, in matrix order
    nzq = np.empty((k, max(k, 1)), dtype=np.int64)
    nzn = np.zeros(k, dtype=np.int64)
    for pos in range(k):
        for q in range(k):
            if inv_s[q, pos] != 0.0:
                nzq[pos, nzn[pos]] = q
                nzn[pos] += 1
    for g in numba.prange((n_blocks + G - 1) // G):
        xbuf = np.empty((ncol, R), dtype=np.float64)
        cbuf = np.empty((k, R), dtype=np.float64)
        for b in range(g * G, min(n_blocks, (g + 1) * G)):
            r0 = b * R
            m = min(n, r0 + R) - r0
            for i in range(m):
                for j in range(ncol):
                    xbuf[j, i] = np.float64(raw[r0 + i, j])
            if time_col >= 0:
                tcol = xbuf[time_col]
                if scale_time:
                    for i in range(m):
                        time_out[r0 + i] = tcol[i] * time_step
                else:
                    for i in range(m):
                        time_out[r0 + i] = tcol[i]
            for pos in range(k):
                acc = cbuf[pos]
                cnt = nzn[pos]
                if cnt == 0:
                    for i in range(m):
                        acc[i] = 0.0
                    continue
                q0 = nzq[pos, 0]
                t0 = xbuf[det_cols[q0]]
                w0 = inv_s[q0, pos]
                for i in range(m):
                    acc[i] = 0.0 + t0[i] * w0
                u = 1
                while u + 3 < cnt:
                    qa = nzq[pos, u]
                    qb = nzq[pos, u + 1]
                    qc = nzq[pos, u + 2]
                    qd = nzq[pos, u + 3]
                    ta = xbuf[det_cols[qa]]
                    tb = xbuf[det_cols[qb]]
                    tc = xbuf[det_cols[qc]]
                    td = xbuf[det_cols[qd]]
                    wa = inv_s[qa, pos]
                    wb = inv_s[qb, pos]
                    wc = inv_s[qc, pos]
                    wd = inv_s[qd, pos]
                    for i in range(m):
                        acc[i] = (((acc[i] + ta[i] * wa) + tb[i] * wb) + tc[i] * wc) + td[i] * wd
                    u += 4
                while u + 1 < cnt:
                    qa = nzq[pos, u]
                    qb = nzq[pos, u + 1]
                    ta = xbuf[det_cols[qa]]
                    tb = xbuf[det_cols[qb]]
                    wa = inv_s[qa, pos]
                    wb = inv_s[qb, pos]
                    for i in range(m):
                        acc[i] = (acc[i] + ta[i] * wa) + tb[i] * wb
                    u += 2
                if u < cnt:
                    qa = nzq[pos, u]
                    ta = xbuf[det_cols[qa]]
                    wa = inv_s[qa, pos]
                    for i in range(m):
                        acc[i] += ta[i] * wa
            for j in range(ncol):
                pos = comp_pos[j]
                col = xbuf[j]
                if pos >= 0:
                    src = cbuf[pos]
                    for i in range(m):
                        col[i] = src[i]
                kind = kinds[j]
                if kind == KIND_LOGICLE:
                    logicle_block(col, m, params[j], tables[table_of[j]])
                else:
                    _simple_block(col, m, kind, params[j])
            for i in range(m):
                for j in range(ncol):
                    out[r0 + i, j] = np.float32(xbuf[j, i])
