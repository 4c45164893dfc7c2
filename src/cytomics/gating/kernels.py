"""numba kernels for gate membership, per-population statistics and 1-D/2-D binning.

Every kernel reads the event matrix ``data`` (float32 or float64, ``[n_events, n_cols]``)
in place through column indices, so no per-gate copy of the events is made. Membership
semantics follow Gating-ML 2.0 exactly as implemented by FlowKit/flowutils (the reference
that passes the ISAC compliance suite):

* rectangle: ``min <= x < max`` per dimension (inclusive minimum, exclusive maximum); an
  open side is given as NaN; NaN event values are outside any bounded side;
* polygon: crossing parity of Dan Sunday's winding-number test (edges half-open in y:
  an upward edge counts when ``y_a <= y < y_b`` and the point is strictly left of it, a
  downward edge when ``y_b <= y < y_a`` and the point is strictly right). The parity of the
  winding number is the even-odd rule, so self-intersecting polygons have holes. Points
  exactly on an edge are decided by that half-open rule (left/bottom edges in, right/top
  edges out for an axis-aligned rectangle); points outside the vertices' bounding box are
  always outside;
* ellipsoid: ``(x - mean)^T inv(cov) (x - mean) <= distance_square`` (boundary inclusive).

Public wrappers validate shapes and dtypes; the ``_kernels`` are jitted with
``cache=True`` and ``parallel=True`` with ``prange`` over independent events.
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = [
    "OP_AND",
    "OP_NOT",
    "OP_OR",
    "combine_masks",
    "ellipsoid_mask",
    "histogram1d",
    "histogram2d",
    "linear_combination",
    "polygon_mask",
    "population_stats",
    "rectangle_mask",
]

OP_AND = 0
OP_OR = 1
OP_NOT = 2

#: below this many events, float32 data are given to the polygon kernel as a float64 copy
#: of the two columns (identical result; the float64 kernel is then the only one loaded)
_SMALL_COPY_EVENTS = 1_000_000
#: cells per axis of a polygon's membership raster
RASTER = 256
#: from this many events on, polygon membership goes through a raster of the polygon
_RASTER_MIN_EVENTS = 2048


# --------------------------------------------------------------------------------------
# membership kernels
# --------------------------------------------------------------------------------------
@nb.njit(parallel=True, cache=True)
def _rectangle_kernel(data, cols, mins, maxs, out):
    n = data.shape[0]
    k = cols.shape[0]
    for i in nb.prange(n):
        inside = True
        for d in range(k):
            v = np.float64(data[i, cols[d]])
            lo = mins[d]
            hi = maxs[d]
            if lo == lo and not (v >= lo):
                inside = False
                break
            if hi == hi and not (v < hi):
                inside = False
                break
        out[i] = inside


@nb.njit(cache=True, inline="always")
def _winding_number(px, py, vx, vy):
    m = vx.shape[0]
    wind = 0
    for j in range(m):
        ax = vx[j]
        ay = vy[j]
        if j == m - 1:
            bx = vx[0]
            by = vy[0]
        else:
            bx = vx[j + 1]
            by = vy[j + 1]
        if ay <= py:
            if py < by:
                is_left = (bx - ax) * (py - ay) - (px - ax) * (by - ay)
                if is_left > 0.0:
                    wind += 1
        elif by <= py:
            is_left = (bx - ax) * (py - ay) - (px - ax) * (by - ay)
            if is_left < 0.0:
                wind -= 1
    return wind


@nb.njit(parallel=True, cache=True)
def _polygon_kernel(data, cx, cy, vx, vy, out):
    n = data.shape[0]
    min_x = vx.min()
    max_x = vx.max()
    min_y = vy.min()
    max_y = vy.max()
    for i in nb.prange(n):
        px = np.float64(data[i, cx])
        py = np.float64(data[i, cy])
        if px < min_x or px > max_x or py < min_y or py > max_y or px != px or py != py:
            out[i] = False
        else:
            out[i] = (_winding_number(px, py, vx, vy) % 2) != 0


@nb.njit(cache=True)
def _segment_hits_box(ax, ay, bx, by, x0, x1, y0, y1):
    """Whether segment a-b meets the closed box [x0, x1] x [y0, y1] (Liang-Barsky)."""
    t0 = 0.0
    t1 = 1.0
    dx = bx - ax
    dy = by - ay
    for k in range(4):
        if k == 0:
            p, q = -dx, ax - x0
        elif k == 1:
            p, q = dx, x1 - ax
        elif k == 2:
            p, q = -dy, ay - y0
        else:
            p, q = dy, y1 - ay
        if p == 0.0:
            if q < 0.0:
                return False
        else:
            r = q / p
            if p < 0.0:
                if r > t1:
                    return False
                if r > t0:
                    t0 = r
            else:
                if r < t0:
                    return False
                if r < t1:
                    t1 = r
    return True


@nb.njit(cache=True)
def _polygon_raster(vx, vy, x0, x1, y0, y1, size):
    """Membership raster of a polygon over its bounding box (see :class:`GateProgram`).

    A cell that no edge comes near (within a margin far above rounding error) lies wholly
    on one side of the boundary, so the exact test at its centre decides all its points.
    """
    out = np.zeros((size, size), dtype=np.uint8)
    wx = (x1 - x0) / size
    wy = (y1 - y0) / size
    if not (wx > 0.0 and wy > 0.0):
        out[:, :] = 2
        return out
    ex = 1e-7 * (x1 - x0) + 1e-12
    ey = 1e-7 * (y1 - y0) + 1e-12
    m = vx.shape[0]
    for j in range(m):
        ax = vx[j]
        ay = vy[j]
        bx = vx[(j + 1) % m]
        by = vy[(j + 1) % m]
        i0 = max(0, int(np.floor((min(ax, bx) - ex - x0) / wx)))
        i1 = min(size - 1, int(np.floor((max(ax, bx) + ex - x0) / wx)))
        j0 = max(0, int(np.floor((min(ay, by) - ey - y0) / wy)))
        j1 = min(size - 1, int(np.floor((max(ay, by) + ey - y0) / wy)))
        for ix in range(i0, i1 + 1):
            for iy in range(j0, j1 + 1):
                if out[ix, iy] == 2:
                    continue
                if _segment_hits_box(ax, ay, bx, by, x0 + ix * wx - ex, x0 + (ix + 1) * wx + ex,
                                     y0 + iy * wy - ey, y0 + (iy + 1) * wy + ey):
                    out[ix, iy] = 2
    # cells no edge meets: the exact test at the centre of the first cell of each run of
    # such cells along a raster column; its neighbours in the run share the segment
    # between their centres with no edge near it, hence the same side of the boundary
    for ix in range(size):
        known = False
        status = np.uint8(0)
        for iy in range(size):
            if out[ix, iy] == 2:
                known = False
                continue
            if not known:
                px = x0 + (ix + 0.5) * wx
                py = y0 + (iy + 0.5) * wy
                status = np.uint8(1 if (_winding_number(px, py, vx, vy) % 2) != 0 else 0)
                known = True
            out[ix, iy] = status
    return out


@nb.njit(parallel=True, cache=True)
def _polygon_raster_kernel(data, cx, cy, vx, vy, raster, x0, x1, y0, y1, rx, ry, out):
    """:func:`_polygon_kernel` with a membership raster (see :func:`_polygon_raster`):
    the exact test only for events in cells an edge crosses."""
    n = data.shape[0]
    size = raster.shape[0]
    for i in nb.prange(n):
        px = np.float64(data[i, cx])
        py = np.float64(data[i, cy])
        if px != px or py != py or px < x0 or px > x1 or py < y0 or py > y1:
            out[i] = False
            continue
        cell = raster[min(int((px - x0) * rx), size - 1), min(int((py - y0) * ry), size - 1)]
        if cell != 2:
            out[i] = cell == 1
        else:
            out[i] = (_winding_number(px, py, vx, vy) % 2) != 0


@nb.njit(parallel=True, cache=True)
def _ellipsoid_kernel(data, cols, mean, inv_cov, dist2, out, n_chunks):
    n = data.shape[0]
    k = cols.shape[0]
    step = (n + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        diff = np.empty(k, dtype=np.float64)  # one scratch buffer per chunk
        for i in range(c * step, min(n, (c + 1) * step)):
            for a in range(k):
                diff[a] = np.float64(data[i, cols[a]]) - mean[a]
            total = 0.0
            for b in range(k):
                acc = 0.0
                for a in range(k):
                    acc += diff[a] * inv_cov[a, b]
                total += acc * diff[b]
            out[i] = total <= dist2


@nb.njit(parallel=True, cache=True)
def _combine_kernel(masks, complement, op, out):
    k = masks.shape[0]
    n = masks.shape[1]
    for i in nb.prange(n):
        if op == 2:  # NOT: complement of the single operand
            out[i] = not (masks[0, i] != complement[0])
        elif op == 0:  # AND
            r = True
            for j in range(k):
                if masks[j, i] == complement[j]:
                    r = False
                    break
            out[i] = r
        else:  # OR
            r = False
            for j in range(k):
                if masks[j, i] != complement[j]:
                    r = True
                    break
            out[i] = r


@nb.njit(parallel=True, cache=True)
def _linear_combination_kernel(data, cols, coef, out):
    n = data.shape[0]
    k = cols.shape[0]
    for i in nb.prange(n):
        acc = 0.0
        for j in range(k):
            acc += np.float64(data[i, cols[j]]) * coef[j]
        out[i] = acc


# --------------------------------------------------------------------------------------
# statistics
# --------------------------------------------------------------------------------------
@nb.njit(cache=True)
def _stats_kernel(data, cols, mask):
    n = data.shape[0]
    k = cols.shape[0]
    count = 0
    for i in range(n):
        if mask[i]:
            count += 1
    means = np.full(k, np.nan, dtype=np.float64)
    medians = np.full(k, np.nan, dtype=np.float64)
    if count == 0:
        return count, means, medians
    buf = np.empty(count, dtype=np.float64)
    for d in range(k):
        c = cols[d]
        m = 0
        s = 0.0
        for i in range(n):
            if mask[i]:
                v = np.float64(data[i, c])
                buf[m] = v
                s += v
                m += 1
        means[d] = s / count
        medians[d] = np.median(buf)
    return count, means, medians


# --------------------------------------------------------------------------------------
# binning
# --------------------------------------------------------------------------------------
@nb.njit(cache=True, inline="always")
def _bin_index(v, edges, uniform, lo, width):
    """numpy.histogram bin of ``v``: [e_j, e_j+1) except the last bin, closed; -1 outside."""
    nb_ = edges.shape[0] - 1
    if not (v >= edges[0]) or not (v <= edges[nb_]):
        return -1
    if v == edges[nb_]:
        return nb_ - 1
    if uniform:
        j = int((v - lo) / width)
        if j >= nb_:
            j = nb_ - 1
        # correct floating-point rounding against the actual edges
        while j > 0 and v < edges[j]:
            j -= 1
        while j < nb_ - 1 and v >= edges[j + 1]:
            j += 1
        return j
    return np.searchsorted(edges, v, side="right") - 1


@nb.njit(parallel=True, cache=True)
def _hist1d_kernel(x, edges, mask, use_mask, uniform, n_chunks):
    n = x.shape[0]
    nbins = edges.shape[0] - 1
    lo = edges[0]
    width = (edges[nbins] - edges[0]) / nbins
    partial = np.zeros((n_chunks, nbins), dtype=np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        start = c * step
        stop = min(n, start + step)
        for i in range(start, stop):
            if use_mask and not mask[i]:
                continue
            j = _bin_index(np.float64(x[i]), edges, uniform, lo, width)
            if j >= 0:
                partial[c, j] += 1
    return partial.sum(axis=0)


@nb.njit(parallel=True, cache=True)
def _hist2d_kernel(x, y, x_edges, y_edges, mask, use_mask, ux, uy, n_chunks):
    n = x.shape[0]
    nx = x_edges.shape[0] - 1
    ny = y_edges.shape[0] - 1
    lox = x_edges[0]
    wx = (x_edges[nx] - x_edges[0]) / nx
    loy = y_edges[0]
    wy = (y_edges[ny] - y_edges[0]) / ny
    partial = np.zeros((n_chunks, nx, ny), dtype=np.int64)
    step = (n + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        start = c * step
        stop = min(n, start + step)
        for i in range(start, stop):
            if use_mask and not mask[i]:
                continue
            jx = _bin_index(np.float64(x[i]), x_edges, ux, lox, wx)
            if jx < 0:
                continue
            jy = _bin_index(np.float64(y[i]), y_edges, uy, loy, wy)
            if jy < 0:
                continue
            partial[c, jx, jy] += 1
    out = np.zeros((nx, ny), dtype=np.int64)
    for c in range(n_chunks):
        out += partial[c]
    return out


# --------------------------------------------------------------------------------------
# public wrappers
# --------------------------------------------------------------------------------------
def _as_data(data: np.ndarray) -> np.ndarray:
    arr = np.asarray(data)
    if arr.ndim == 1:
        arr = arr.reshape(-1, 1)
    if arr.ndim != 2:
        raise ValueError(f"event data must be 2-D [n_events, n_cols], got shape {arr.shape}")
    if arr.dtype not in (np.float32, np.float64):
        arr = arr.astype(np.float64)
    return arr


def _as_cols(cols, n_cols: int) -> np.ndarray:
    c = np.atleast_1d(np.asarray(cols, dtype=np.int64))
    if c.ndim != 1 or (c.size and (c.min() < 0 or c.max() >= n_cols)):
        raise ValueError(f"column indices {c.tolist()} out of range for {n_cols} columns")
    return c


def rectangle_mask(data: np.ndarray, cols, mins, maxs) -> np.ndarray:
    """Hyper-rectangle membership: ``mins[d] <= data[:, cols[d]] < maxs[d]`` for every d.

    Parameters
    ----------
    data
        Events ``[n_events, n_cols]`` (float32/float64); a 1-D array is one column.
    cols
        Column index of each gate dimension.
    mins, maxs
        Bounds per dimension; ``None`` or NaN leaves that side open.

    Returns
    -------
    numpy.ndarray
        bool ``[n_events]``.
    """
    arr = _as_data(data)
    c = _as_cols(cols, arr.shape[1])
    lo = np.array([np.nan if v is None else float(v) for v in mins], dtype=np.float64)
    hi = np.array([np.nan if v is None else float(v) for v in maxs], dtype=np.float64)
    if lo.shape != c.shape or hi.shape != c.shape:
        raise ValueError("mins/maxs must have one entry per dimension")
    out = np.empty(arr.shape[0], dtype=np.bool_)
    _rectangle_kernel(arr, c, lo, hi, out)
    return out


def polygon_mask(data: np.ndarray, col_x: int, col_y: int, vertices) -> np.ndarray:
    """2-D polygon membership (even-odd parity of the winding number, see module notes).

    Parameters
    ----------
    data
        Events ``[n_events, n_cols]``.
    col_x, col_y
        Columns of the polygon's x and y dimensions.
    vertices
        ``[m, 2]`` vertex coordinates (m >= 3), implicitly closed.

    Returns
    -------
    numpy.ndarray
        bool ``[n_events]``.
    """
    arr = _as_data(data)
    c = _as_cols([col_x, col_y], arr.shape[1])
    v = np.asarray(vertices, dtype=np.float64)
    if v.ndim != 2 or v.shape[1] != 2 or v.shape[0] < 3:
        raise ValueError(f"polygon needs >= 3 vertices of 2 coordinates, got shape {v.shape}")
    vx = np.ascontiguousarray(v[:, 0])
    vy = np.ascontiguousarray(v[:, 1])
    out = np.empty(arr.shape[0], dtype=np.bool_)
    cx, cy = int(c[0]), int(c[1])
    if arr.dtype != np.float64 and arr.shape[0] < _SMALL_COPY_EVENTS:
        # the kernel reads values as float64: a float64 copy of the two columns gives the
        # same result and lets one compiled signature serve both dtypes (one cache load)
        pair = np.empty((arr.shape[0], 2), dtype=np.float64)
        pair[:, 0] = arr[:, cx]
        pair[:, 1] = arr[:, cy]
        arr, cx, cy = pair, 0, 1
    if arr.shape[0] < _RASTER_MIN_EVENTS:
        _polygon_kernel(arr, cx, cy, vx, vy, out)
        return out
    # cells off the edges are decided once (see _polygon_raster), the others exactly
    box = (float(vx.min()), float(vx.max()), float(vy.min()), float(vy.max()))
    raster = _polygon_raster(vx, vy, *box, RASTER)
    width = (box[1] - box[0], box[3] - box[2])
    rx, ry = (RASTER / w if w > 0 else 0.0 for w in width)
    _polygon_raster_kernel(arr, cx, cy, vx, vy, raster, *box, rx, ry, out)
    return out


def ellipsoid_mask(data: np.ndarray, cols, mean, covariance, distance_square: float) -> np.ndarray:
    """Ellipsoid membership: Mahalanobis distance square ``<= distance_square``.

    Parameters
    ----------
    data
        Events ``[n_events, n_cols]``.
    cols
        Column of each dimension (k >= 1).
    mean
        Centre ``[k]``.
    covariance
        ``[k, k]`` covariance matrix (inverted here, must be non-singular).
    distance_square
        Squared Mahalanobis radius.

    Returns
    -------
    numpy.ndarray
        bool ``[n_events]``.
    """
    arr = _as_data(data)
    c = _as_cols(cols, arr.shape[1])
    mu = np.asarray(mean, dtype=np.float64).reshape(-1)
    cov = np.asarray(covariance, dtype=np.float64)
    if mu.shape != c.shape or cov.shape != (c.size, c.size):
        raise ValueError("mean/covariance do not match the number of dimensions")
    inv = np.ascontiguousarray(np.linalg.inv(cov))
    out = np.empty(arr.shape[0], dtype=np.bool_)
    _ellipsoid_kernel(arr, c, mu, inv, float(distance_square), out, _n_chunks(arr.shape[0]))
    return out


def combine_masks(masks, op: str | int, complement=None) -> np.ndarray:
    """Boolean combination of membership masks (Gating-ML Boolean gate).

    Parameters
    ----------
    masks
        Sequence of bool ``[n_events]`` arrays (or a ``[k, n_events]`` array).
    op
        ``"and"``, ``"or"``, ``"not"`` (or :data:`OP_AND`/:data:`OP_OR`/:data:`OP_NOT`);
        ``"not"`` takes exactly one operand.
    complement
        Per operand, whether to use its complement (``use-as-complement``).

    Returns
    -------
    numpy.ndarray
        bool ``[n_events]``.
    """
    stack = np.ascontiguousarray(np.asarray(masks, dtype=np.bool_))
    if stack.ndim == 1:
        stack = stack.reshape(1, -1)
    codes = {"and": OP_AND, "or": OP_OR, "not": OP_NOT}
    code = codes.get(op.lower(), -1) if isinstance(op, str) else int(op)
    if code not in (OP_AND, OP_OR, OP_NOT):
        raise ValueError(f"unknown boolean operation {op!r}")
    if stack.shape[0] == 0 or (code == OP_NOT and stack.shape[0] != 1):
        raise ValueError(f"boolean {op!r} got {stack.shape[0]} operands")
    comp = (
        np.zeros(stack.shape[0], dtype=np.bool_)
        if complement is None
        else np.asarray(complement, dtype=np.bool_).reshape(-1)
    )
    if comp.shape[0] != stack.shape[0]:
        raise ValueError("one complement flag per operand is required")
    out = np.empty(stack.shape[1], dtype=np.bool_)
    _combine_kernel(stack, comp, code, out)
    return out


def linear_combination(data: np.ndarray, cols, coefficients) -> np.ndarray:
    """float64 ``data[:, cols] @ coefficients`` without copying the selected columns.

    Used for one compensated column at a time: ``raw[:, detectors] @ inv(S)[:, j]``.
    """
    arr = _as_data(data)
    c = _as_cols(cols, arr.shape[1])
    coef = np.asarray(coefficients, dtype=np.float64).reshape(-1)
    if coef.shape != c.shape:
        raise ValueError("one coefficient per column is required")
    out = np.empty(arr.shape[0], dtype=np.float64)
    _linear_combination_kernel(arr, c, coef, out)
    return out


def population_stats(data: np.ndarray, cols, mask) -> tuple[int, np.ndarray, np.ndarray]:
    """Count, per-column mean and median of the events in ``mask``.

    Returns
    -------
    tuple
        ``(count, means[k], medians[k])``; means/medians are NaN when the count is 0.
    """
    arr = _as_data(data)
    c = _as_cols(cols, arr.shape[1])
    m = np.asarray(mask, dtype=np.bool_).reshape(-1)
    if m.shape[0] != arr.shape[0]:
        raise ValueError("mask length differs from the number of events")
    count, means, medians = _stats_kernel(arr, c, m)
    return int(count), means, medians


def _edges(edges) -> tuple[np.ndarray, bool]:
    e = np.ascontiguousarray(np.asarray(edges, dtype=np.float64).reshape(-1))
    if e.size < 2 or not np.all(np.diff(e) > 0):
        raise ValueError("bin edges must be >= 2 strictly increasing values")
    d = np.diff(e)
    uniform = bool(np.allclose(d, d[0], rtol=1e-9, atol=0.0))
    return e, uniform


def _n_chunks(n: int) -> int:
    return max(1, min(nb.get_num_threads() * 4, n // 65536 + 1))


def histogram1d(x, edges, *, mask=None) -> np.ndarray:
    """Event counts per bin, same bins as :func:`numpy.histogram` (last bin closed).

    Parameters
    ----------
    x
        float32/float64 values ``[n]``.
    edges
        Strictly increasing bin edges ``[nbins + 1]``.
    mask
        Optional bool ``[n]``: count only these events.

    Returns
    -------
    numpy.ndarray
        int64 ``[nbins]``.
    """
    xv = _as_data(x)[:, 0] if np.asarray(x).ndim != 1 else np.asarray(x)
    if xv.dtype not in (np.float32, np.float64):
        xv = xv.astype(np.float64)
    e, uni = _edges(edges)
    use = mask is not None
    m = np.asarray(mask, dtype=np.bool_) if use else np.zeros(1, dtype=np.bool_)
    if use and m.shape[0] != xv.shape[0]:
        raise ValueError("mask length differs from the number of events")
    return _hist1d_kernel(xv, e, m, use, uni, _n_chunks(xv.shape[0]))


def histogram2d(x, y, x_edges, y_edges, *, mask=None) -> np.ndarray:
    """2-D event counts, same bins as :func:`numpy.histogram2d` (``[nx, ny]``, x first).

    Parameters
    ----------
    x, y
        float32/float64 values ``[n]`` (e.g. two columns of an event matrix).
    x_edges, y_edges
        Strictly increasing bin edges.
    mask
        Optional bool ``[n]``: count only these events.

    Returns
    -------
    numpy.ndarray
        int64 ``[len(x_edges) - 1, len(y_edges) - 1]``.
    """
    xv = np.asarray(x)
    yv = np.asarray(y)
    if xv.ndim != 1 or yv.shape != xv.shape:
        raise ValueError("x and y must be 1-D arrays of equal length")
    if xv.dtype not in (np.float32, np.float64):
        xv = xv.astype(np.float64)
    if yv.dtype not in (np.float32, np.float64):
        yv = yv.astype(np.float64)
    ex, ux = _edges(x_edges)
    ey, uy = _edges(y_edges)
    use = mask is not None
    m = np.asarray(mask, dtype=np.bool_) if use else np.zeros(1, dtype=np.bool_)
    if use and m.shape[0] != xv.shape[0]:
        raise ValueError("mask length differs from the number of events")
    return _hist2d_kernel(xv, yv, ex, ey, m, use, ux, uy, _n_chunks(xv.shape[0]))
