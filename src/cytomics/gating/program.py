"""Evaluate a whole gate hierarchy in one pass over the events and write labels.

An automated strategy decides its gates on a sample of events; the labels of *all* events
are then computed from those gates. Evaluating gate after gate over millions of events
costs one full-length bool mask per gate (memory) and one pass per gate (time). Here the
gates are compiled into flat arrays (a small "gate program") and a single numba pass
evaluates, event by event, every gate in order (parents before children) into a scratch
buffer of a few bytes, then writes the event's label from the terminal gates.

Membership semantics are those of :mod:`cytomics.gating.kernels` (Gating-ML 2.0 as
FlowKit implements it), so labels equal :func:`cytomics.gating.strategy.evaluate_gates`
followed by :func:`cytomics.gating.strategy.assign_labels`, event for event.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass

import numba as nb
import numpy as np

from cytomics.gating.gates import BooleanGate, EllipsoidGate, Gate, PolygonGate, RectangleGate
from cytomics.gating.kernels import RASTER, _polygon_raster, _winding_number

__all__ = ["GateProgram", "compile_gates", "label_events"]

_POLYGON, _RECTANGLE, _ELLIPSOID, _AND, _OR, _NOT = range(6)
_ROOT = -1  # parent index meaning "the root mask"
GROUP_SIZE = 8  # polygons per shared raster (one byte of inside bits, one of edge bits)
GROUP_RASTER = 256  # cells per axis of a group's shared raster


@dataclass(frozen=True, slots=True)
class GateProgram:
    """Gates flattened into arrays for :func:`label_events` (see :func:`compile_gates`).

    Attributes
    ----------
    ids
        Gate ids in evaluation order.
    kind, parent
        int32 per gate: gate kind code and index of the parent gate (-1: root mask).
    cols, lo, hi
        Per gate, slice ``[start[g], start[g+1])`` of these flat arrays: event columns and
        bounds (rectangles: min/max, NaN open; polygons: the x and y column with the
        vertices' bounding box; ellipsoids: columns, with the mean in ``lo``).
    start
        int64 ``[n_gates + 1]`` offsets into ``cols``/``lo``/``hi``.
    vx, vy, vstart
        Polygon vertices, flat, with offsets per gate (empty slice for other kinds).
    mat, mstart, dist2
        Ellipsoid inverse covariances, flat row-major, with offsets; distance squared.
    ops, comp, ostart
        Boolean operands (gate indices), complement flags and offsets per gate.
    raster, rstart, rinv
        Per polygon, a ``RASTER x RASTER`` grid over its bounding box, flat uint8 with
        offsets: 0 cell wholly outside, 1 wholly inside, 2 crossed by an edge (exact test
        needed); ``rinv`` holds the inverse cell widths (x, y) per gate.
    gcols, gbox, ginv, graster, glut, gmembers, pre
        Polygon groups: root-level polygons (parent = root mask) on the same two columns,
        at most :data:`GROUP_SIZE` per group, share one ``GROUP_RASTER`` square uint16
        raster over the union of their bounding boxes (low byte: bit ``j`` set when the
        cell lies wholly inside member ``j``; high byte: member ``j``'s edge crosses the
        cell). One lookup per event then decides every member away from its edges;
        ``glut[group, inside_byte]`` is the matching set of gate bits and ``gmembers``
        the gate index of each member (-1 pad). ``gcols`` int64 ``[n_groups, 2]``,
        ``gbox`` ``[n_groups, 4]`` (x0, x1, y0, y1), ``ginv`` inverse cell widths;
        ``pre`` bool per gate: evaluated by its group before the gate loop.
    """

    ids: tuple[str, ...]
    kind: np.ndarray
    parent: np.ndarray
    cols: np.ndarray
    lo: np.ndarray
    hi: np.ndarray
    start: np.ndarray
    vx: np.ndarray
    vy: np.ndarray
    vstart: np.ndarray
    mat: np.ndarray
    mstart: np.ndarray
    dist2: np.ndarray
    ops: np.ndarray
    comp: np.ndarray
    ostart: np.ndarray
    raster: np.ndarray
    rstart: np.ndarray
    rinv: np.ndarray
    gcols: np.ndarray
    gbox: np.ndarray
    ginv: np.ndarray
    graster: np.ndarray
    glut: np.ndarray
    gmembers: np.ndarray
    pre: np.ndarray


def compile_gates(
    gates: Sequence[Gate],
    column_of: Callable[[object], int],
    *,
    root_ids: Collection[str] = (),
) -> GateProgram:
    """Flatten ``gates`` (parents before children) into a :class:`GateProgram`.

    Parameters
    ----------
    gates
        Gates in evaluation order.
    column_of
        Maps a gate :class:`~cytomics.gating.gates.Dimension` to its event column.
    root_ids
        Ids of gates evaluated elsewhere whose mask *is* the root mask (e.g. the last QC
        gate when the root mask is the QC survivors). Gates whose parent is ``None`` or
        one of these take the root mask as parent; Boolean operands may name them too.

    Raises
    ------
    ValueError
        When a gate references an unknown gate (a programming error of the strategy).
    """
    index: dict[str, int] = {}
    kind, parent = [], []
    cols: list[int] = []
    lo: list[float] = []
    hi: list[float] = []
    start = [0]
    vx: list[float] = []
    vy: list[float] = []
    vstart = [0]
    mat: list[float] = []
    mstart = [0]
    dist2: list[float] = []
    ops: list[int] = []
    comp: list[bool] = []
    ostart = [0]
    rasters: list[np.ndarray] = []
    rstart = [0]
    rinv: list[float] = []
    roots = set(root_ids)

    def ref(gid: str, owner: str) -> int:
        if gid in roots:
            return _ROOT
        if gid not in index:
            raise ValueError(f"gate {owner!r} references {gid!r}, not defined before it")
        return index[gid]

    nan = float("nan")
    for g in gates:
        parent.append(_ROOT if g.parent is None else ref(g.parent, g.id))
        d2 = 0.0
        if isinstance(g, PolygonGate):
            kind.append(_POLYGON)
            cols += [column_of(g.dimensions[0]), column_of(g.dimensions[1])]
            v = np.asarray(g.vertices, dtype=np.float64)
            box = (float(v[:, 0].min()), float(v[:, 0].max()),
                   float(v[:, 1].min()), float(v[:, 1].max()))
            lo += [box[0], box[2]]  # bounding box
            hi += [box[1], box[3]]
            vx += v[:, 0].tolist()
            vy += v[:, 1].tolist()
            vxa, vya = np.ascontiguousarray(v[:, 0]), np.ascontiguousarray(v[:, 1])
            rasters.append(_polygon_raster(vxa, vya, *box, RASTER).ravel())
            width = (box[1] - box[0], box[3] - box[2])
            inv = [RASTER / w if w > 0 else 0.0 for w in width]
        elif isinstance(g, RectangleGate):
            kind.append(_RECTANGLE)
            for dim, a, b in zip(g.dimensions, g.mins, g.maxs, strict=True):
                cols.append(column_of(dim))
                lo.append(nan if a is None else float(a))
                hi.append(nan if b is None else float(b))
        elif isinstance(g, EllipsoidGate):
            kind.append(_ELLIPSOID)
            for dim, m in zip(g.dimensions, np.asarray(g.mean, dtype=np.float64), strict=True):
                cols.append(column_of(dim))
                lo.append(float(m))
                hi.append(nan)
            mat += np.linalg.inv(np.asarray(g.covariance, dtype=np.float64)).ravel().tolist()
            d2 = float(g.distance_square)
        elif isinstance(g, BooleanGate):
            codes = {"and": _AND, "or": _OR, "not": _NOT}
            if g.op not in codes:
                raise ValueError(f"unknown boolean op {g.op!r} in gate {g.id}")
            kind.append(codes[g.op])
            for gid, complement in g.operands:
                ops.append(ref(gid, g.id))
                comp.append(bool(complement))
        else:  # pragma: no cover - programming error
            raise TypeError(f"unsupported gate type {type(g).__name__}")
        if not isinstance(g, PolygonGate):
            inv = [0.0, 0.0]
        rinv += inv
        rstart.append(rstart[-1] + (RASTER * RASTER if isinstance(g, PolygonGate) else 0))
        start.append(len(cols))
        vstart.append(len(vx))
        mstart.append(len(mat))
        ostart.append(len(ops))
        dist2.append(d2)
        index[g.id] = len(kind) - 1

    def arr(x, dtype):
        return np.asarray(x, dtype=dtype)

    groups = _polygon_groups(kind, parent, cols, start, vx, vy, vstart, lo, hi)
    return GateProgram(
        ids=tuple(g.id for g in gates),
        kind=arr(kind, np.int32), parent=arr(parent, np.int32),
        cols=arr(cols, np.int64), lo=arr(lo, np.float64), hi=arr(hi, np.float64),
        start=arr(start, np.int64),
        vx=arr(vx, np.float64), vy=arr(vy, np.float64), vstart=arr(vstart, np.int64),
        mat=arr(mat, np.float64), mstart=arr(mstart, np.int64), dist2=arr(dist2, np.float64),
        ops=arr(ops, np.int64), comp=arr(comp, np.bool_), ostart=arr(ostart, np.int64),
        raster=np.concatenate(rasters) if rasters else np.zeros(0, np.uint8),
        rstart=arr(rstart, np.int64), rinv=arr(rinv, np.float64),
        **groups,
    )


def _polygon_groups(kind, parent, cols, start, vx, vy, vstart, lo, hi) -> dict[str, np.ndarray]:
    """Shared rasters of root-level polygons on the same columns (see :class:`GateProgram`)."""
    by_cols: dict[tuple[int, int], list[int]] = {}
    for g, (k, p) in enumerate(zip(kind, parent, strict=True)):
        if k == _POLYGON and p == _ROOT:
            key = (cols[start[g]], cols[start[g] + 1])
            members = by_cols.setdefault(key, [])
            if len(members) < GROUP_SIZE:
                members.append(g)
    n_groups = len(by_cols)
    size = GROUP_RASTER
    gcols = np.zeros((n_groups, 2), dtype=np.int64)
    gbox = np.zeros((n_groups, 4), dtype=np.float64)
    ginv = np.zeros((n_groups, 2), dtype=np.float64)
    graster = np.zeros(n_groups * size * size, dtype=np.uint16)
    glut = np.zeros((n_groups, 256), dtype=np.uint64)
    gmembers = np.full((n_groups, GROUP_SIZE), -1, dtype=np.int64)
    pre = np.zeros(len(kind), dtype=np.bool_)
    byte = np.arange(256, dtype=np.uint64)
    for q, (key, members) in enumerate(by_cols.items()):
        s0 = [start[g] for g in members]
        box = (min(lo[s] for s in s0), max(hi[s] for s in s0),
               min(lo[s + 1] for s in s0), max(hi[s + 1] for s in s0))
        gcols[q] = key
        gbox[q] = box
        width = (box[1] - box[0], box[3] - box[2])
        ginv[q] = [size / w if w > 0 else 0.0 for w in width]
        cells = graster[q * size * size:(q + 1) * size * size]
        for j, g in enumerate(members):
            a, b = vstart[g], vstart[g + 1]
            r = _polygon_raster(np.asarray(vx[a:b], dtype=np.float64),
                                np.asarray(vy[a:b], dtype=np.float64), *box, size).ravel()
            cells |= ((r == 1).astype(np.uint16) << np.uint16(j)) | (
                (r == 2).astype(np.uint16) << np.uint16(8 + j))
            glut[q] |= ((byte >> np.uint64(j)) & np.uint64(1)) << np.uint64(g)
            gmembers[q, j] = g
            pre[g] = True
    return {"gcols": gcols, "gbox": gbox, "ginv": ginv, "graster": graster, "glut": glut,
            "gmembers": gmembers, "pre": pre}


@nb.njit(cache=True, inline="always")
def _gate_member(g, i, data, kind, cols, lo, hi, start, vx, vy, vstart, raster, rstart, rinv,
                 mat, mstart, dist2, ops, comp, ostart, state, root_i):
    k = kind[g]
    if k == 0:  # polygon
        px = np.float64(data[i, cols[start[g]]])
        py = np.float64(data[i, cols[start[g] + 1]])
        return _polygon_member(px, py, start[g], g, lo, hi, vx, vy, vstart, raster, rstart,
                               rinv)
    if k == 1:  # rectangle
        for d in range(start[g], start[g + 1]):
            v = np.float64(data[i, cols[d]])
            if lo[d] == lo[d] and not (v >= lo[d]):
                return False
            if hi[d] == hi[d] and not (v < hi[d]):
                return False
        return True
    if k == 2:  # ellipsoid
        m = start[g + 1] - start[g]
        total = 0.0
        for r in range(m):
            acc = 0.0
            for c in range(m):
                dc = np.float64(data[i, cols[start[g] + c]]) - lo[start[g] + c]
                acc += mat[mstart[g] + r * m + c] * dc
            total += acc * (np.float64(data[i, cols[start[g] + r]]) - lo[start[g] + r])
        return total <= dist2[g]
    # boolean
    a, b = ostart[g], ostart[g + 1]
    if k == 5:  # not
        o = ops[a]
        v = root_i if o < 0 else state[o]
        return not (v != comp[a])
    if k == 3:  # and
        for j in range(a, b):
            o = ops[j]
            v = root_i if o < 0 else state[o]
            if v == comp[j]:
                return False
        return True
    for j in range(a, b):  # or
        o = ops[j]
        v = root_i if o < 0 else state[o]
        if v != comp[j]:
            return True
    return False


@nb.njit(parallel=True, cache=True)
def _label_kernel(data, root, kind, parent, cols, lo, hi, start, vx, vy, vstart, raster,
                  rstart, rinv, mat, mstart, dist2, ops, comp, ostart, term_gate, term_code,
                  root_code, labels, n_chunks):
    n = data.shape[0]
    n_gates = kind.shape[0]
    step = (n + n_chunks - 1) // n_chunks
    for c in nb.prange(n_chunks):
        state = np.zeros(n_gates, dtype=np.bool_)
        for i in range(c * step, min(n, (c + 1) * step)):
            if not root[i]:
                continue
            for g in range(n_gates):
                p = parent[g]
                if p >= 0 and not state[p]:
                    state[g] = False
                    continue
                state[g] = _gate_member(g, i, data, kind, cols, lo, hi, start, vx, vy,
                                        vstart, raster, rstart, rinv, mat, mstart, dist2,
                                        ops, comp, ostart, state, True)
            lab = root_code
            for t in range(term_gate.shape[0]):
                if state[term_gate[t]]:
                    lab = term_code[t]
            labels[i] = lab


_ROOT_BIT = 63  # bit of the root mask in the one-word state of small programs


def _bit_masks(program: GateProgram) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Per gate: the state bit of its parent, and its Boolean operands and complement
    flags as one-word bit masks (root references use bit :data:`_ROOT_BIT`)."""
    n = len(program.ids)
    pbit = np.array([_ROOT_BIT if p < 0 else p for p in program.parent], dtype=np.uint64)
    opmask = np.zeros(n, dtype=np.uint64)
    compmask = np.zeros(n, dtype=np.uint64)
    for g in range(n):
        for j in range(program.ostart[g], program.ostart[g + 1]):
            o = int(program.ops[j])
            bit = np.uint64(1) << np.uint64(_ROOT_BIT if o < 0 else o)
            opmask[g] |= bit
            if program.comp[j]:
                compmask[g] |= bit
    return pbit, opmask, compmask


def _has_conflicting_operands(program: GateProgram) -> bool:
    """True when a Boolean gate names one operand both plainly and complemented
    (``A and not A``): one state bit per operand cannot hold both, so such programs take
    the event-by-event kernel."""
    for g in range(len(program.ids)):
        seen: dict[int, bool] = {}
        for j in range(program.ostart[g], program.ostart[g + 1]):
            o, c = int(program.ops[j]), bool(program.comp[j])
            if seen.setdefault(o, c) != c:
                return True
    return False


#: events per block of the block-wise label kernel (its column and state buffers stay in L1/L2)
BLOCK = 512


@nb.njit(cache=True, inline="always")
def _polygon_member(px, py, s, g, lo, hi, vx, vy, vstart, raster, rstart, rinv):
    """Polygon membership of one point (NaN, bounding box, raster, exact test)."""
    if px != px or py != py or px < lo[s] or px > hi[s] or py < lo[s + 1] or py > hi[s + 1]:
        return False
    ix = min(int((px - lo[s]) * rinv[2 * g]), RASTER - 1)
    iy = min(int((py - lo[s + 1]) * rinv[2 * g + 1]), RASTER - 1)
    cell = raster[rstart[g] + ix * RASTER + iy]
    if cell != 2:
        return cell == 1
    a, b = vstart[g], vstart[g + 1]
    return (_winding_number(px, py, vx[a:b], vy[a:b]) % 2) != 0


@nb.njit(parallel=True, cache=True)
def _label_kernel_bits(data, root, kind, pbit, cols, lo, hi, start, vx, vy, vstart, raster,
                       rstart, rinv, mat, mstart, dist2, opmask, compmask, used_cols,
                       gcols, gbox, ginv, graster, glut, gmembers, pre,
                       term_gate, term_code, root_code, labels, n_chunks):
    """:func:`_label_kernel` for programs of at most 63 gates, block-wise.

    The state of an event is one 64-bit word (bit ``g``: inside gate ``g``; bit 63: the
    root mask). Events are taken in blocks of :data:`BLOCK`: the columns the gates read
    are copied into float64 column buffers, then each gate is evaluated over the whole
    block (a tight loop the compiler vectorises for rectangles and Boolean gates), and
    the block's labels are written. A gate whose parent bit is clear is not entered, so
    its bit stays clear, exactly as in the event-by-event kernel.
    """
    n = data.shape[0]
    ncol = data.shape[1]
    n_gates = kind.shape[0]
    step = (n + n_chunks - 1) // n_chunks
    one = np.uint64(1)
    zero = np.uint64(0)
    root_bit = one << np.uint64(63)
    for c in nb.prange(n_chunks):
        colbuf = np.zeros((ncol, BLOCK), dtype=np.float64)
        bits = np.empty(BLOCK, dtype=np.uint64)
        acc = np.empty(BLOCK, dtype=np.uint64)
        lab = np.empty(BLOCK, dtype=np.uint8)
        cbuf = np.empty(BLOCK, dtype=np.uint8)
        diff = np.empty(max(1, ncol), dtype=np.float64)
        c_end = min(n, (c + 1) * step)
        for b0 in range(c * step, c_end, BLOCK):
            m = min(BLOCK, c_end - b0)
            for i in range(m):
                for u in range(used_cols.shape[0]):
                    q = used_cols[u]
                    colbuf[q, i] = np.float64(data[b0 + i, q])
            for i in range(m):
                bits[i] = root_bit
            for q in range(gcols.shape[0]):  # polygon groups: one raster lookup per event
                xs = colbuf[gcols[q, 0]]
                ys = colbuf[gcols[q, 1]]
                lx = gbox[q, 0]
                hx = gbox[q, 1]
                ly = gbox[q, 2]
                hy = gbox[q, 3]
                rx = ginv[q, 0]
                ry = ginv[q, 1]
                base = q * GROUP_RASTER * GROUP_RASTER
                n_edge = 0
                for i in range(m):
                    px = xs[i]
                    py = ys[i]
                    inb = px >= lx and px <= hx and py >= ly and py <= hy
                    tx = (px - lx) * rx if inb else 0.0
                    ty = (py - ly) * ry if inb else 0.0
                    ix = int(min(tx, GROUP_RASTER - 1.0))
                    iy = int(min(ty, GROUP_RASTER - 1.0))
                    cell = graster[base + ix * GROUP_RASTER + iy] if inb else np.uint16(0)
                    bits[i] |= glut[q, cell & np.uint16(255)]
                    edge = np.uint8(cell >> np.uint16(8))
                    cbuf[i] = edge
                    n_edge += edge != 0
                if n_edge:
                    for i in range(m):
                        edge = cbuf[i]
                        if edge == 0:
                            continue
                        for j in range(GROUP_SIZE):
                            if (edge >> j) & 1:
                                g = gmembers[q, j]
                                if _polygon_member(xs[i], ys[i], start[g], g, lo, hi, vx, vy,
                                                   vstart, raster, rstart, rinv):
                                    bits[i] |= one << np.uint64(g)
            for g in range(n_gates):
                if pre[g]:
                    continue
                k = kind[g]
                pb = np.uint64(pbit[g])
                gb = np.uint64(g)
                if k == 1:  # rectangle: parent bit AND every bounded side
                    for i in range(m):
                        acc[i] = (bits[i] >> pb) & one
                    for d in range(start[g], start[g + 1]):
                        col = colbuf[cols[d]]
                        lo_d = lo[d]
                        hi_d = hi[d]
                        if lo_d == lo_d:
                            for i in range(m):
                                acc[i] &= np.uint64(col[i] >= lo_d)
                        if hi_d == hi_d:
                            for i in range(m):
                                acc[i] &= np.uint64(col[i] < hi_d)
                    for i in range(m):
                        bits[i] |= acc[i] << gb
                elif k >= 3:  # Boolean: two bit operations on the state word
                    om = opmask[g]
                    cm = compmask[g]
                    for i in range(m):
                        x = (bits[i] ^ cm) & om
                        if k == 3:
                            inside = x == om
                        elif k == 4:
                            inside = x != zero
                        else:
                            inside = x == zero
                        bits[i] |= (np.uint64(inside) & (bits[i] >> pb)) << gb
                elif k == 0:  # polygon: raster cell of every event, exact test on edges
                    s = start[g]
                    xs = colbuf[cols[s]]
                    ys = colbuf[cols[s + 1]]
                    lx = lo[s]
                    hx = hi[s]
                    ly = lo[s + 1]
                    hy = hi[s + 1]
                    rx = rinv[2 * g]
                    ry = rinv[2 * g + 1]
                    base = rstart[g]
                    n_edge = 0
                    for i in range(m):
                        px = xs[i]
                        py = ys[i]
                        inb = ((bits[i] >> pb) & one != zero) and (
                            px >= lx and px <= hx and py >= ly and py <= hy)
                        tx = (px - lx) * rx if inb else 0.0
                        ty = (py - ly) * ry if inb else 0.0
                        ix = int(min(tx, RASTER - 1.0))
                        iy = int(min(ty, RASTER - 1.0))
                        cell = raster[base + ix * RASTER + iy] if inb else np.uint8(0)
                        cbuf[i] = cell
                        n_edge += cell == 2
                        bits[i] |= np.uint64(cell == 1) << gb
                    if n_edge:
                        a, b = vstart[g], vstart[g + 1]
                        for i in range(m):
                            if cbuf[i] == 2 and (
                                    _winding_number(xs[i], ys[i], vx[a:b], vy[a:b]) % 2) != 0:
                                bits[i] |= one << gb
                elif k == 2:  # ellipsoid
                    s = start[g]
                    dm = start[g + 1] - s
                    for i in range(m):
                        if (bits[i] >> pb) & one == zero:
                            continue
                        for r in range(dm):
                            diff[r] = colbuf[cols[s + r], i] - lo[s + r]
                        total = 0.0
                        for r in range(dm):
                            a = 0.0
                            for cc in range(dm):
                                a += mat[mstart[g] + r * dm + cc] * diff[cc]
                            total += a * diff[r]
                        if total <= dist2[g]:
                            bits[i] |= one << gb
            for i in range(m):
                lab[i] = root_code
            for t in range(term_gate.shape[0]):
                tb = np.uint64(term_gate[t])
                code = term_code[t]
                for i in range(m):
                    if (bits[i] >> tb) & one != zero:
                        lab[i] = code
            for i in range(m):
                if root[b0 + i]:
                    labels[b0 + i] = lab[i]


def label_events(
    data: np.ndarray,
    program: GateProgram,
    terminals: Sequence[tuple[str, int]],
    *,
    root: np.ndarray,
    labels: np.ndarray,
    root_code: int,
) -> None:
    """Label every root event from the program's terminal gates, in place, in one pass.

    Parameters
    ----------
    data
        Event matrix ``[n_events, n_cols]`` (float32 or float64), read in place.
    program
        Compiled gates (:func:`compile_gates`).
    terminals
        (gate id, label code) pairs; an event takes the code of the *last* terminal gate
        containing it (as :func:`cytomics.gating.strategy.assign_labels`).
    root
        bool ``[n_events]``: events the hierarchy applies to; the others keep their label.
    labels
        uint8 ``[n_events]``, modified in place: root events get ``root_code`` unless a
        terminal gate contains them.
    root_code
        Label of root events outside every terminal gate.
    """
    if data.ndim != 2 or data.shape[0] != labels.shape[0] or root.shape[0] != labels.shape[0]:
        raise ValueError("data, root and labels must describe the same events")
    if labels.dtype != np.uint8:
        raise ValueError("labels must be uint8")
    pos = {gid: k for k, gid in enumerate(program.ids)}
    term_gate = np.array([pos[g] for g, _ in terminals], dtype=np.int64)
    term_code = np.array([c for _, c in terminals], dtype=np.uint8)
    n = data.shape[0]
    n_chunks = max(1, min(64, n // 16384 + 1))
    root = np.ascontiguousarray(root, dtype=np.bool_)
    p = program
    geometry = (p.cols, p.lo, p.hi, p.start, p.vx, p.vy, p.vstart, p.raster, p.rstart, p.rinv,
                p.mat, p.mstart, p.dist2, p.ops, p.comp, p.ostart)
    tail = (term_gate, term_code, np.uint8(root_code), labels, n_chunks)
    if 0 < len(p.ids) < _ROOT_BIT and not _has_conflicting_operands(p):
        pbit, opmask, compmask = _bit_masks(p)
        used = np.unique(p.cols).astype(np.int64)
        _label_kernel_bits(data, root, p.kind, pbit, *geometry[:13], opmask, compmask, used,
                           p.gcols, p.gbox, p.ginv, p.graster, p.glut, p.gmembers, p.pre,
                           *tail)
    elif len(p.ids):
        _label_kernel(data, root, p.kind, p.parent, *geometry, *tail)
    else:
        labels[root] = np.uint8(root_code)
