"""The one-pass gate program equals gate-by-gate evaluation, event for event."""

from __future__ import annotations

import numpy as np
import pytest

from cytomics.gating.gates import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    PolygonGate,
    RectangleGate,
)
from cytomics.gating.kernels import ellipsoid_mask, polygon_mask, rectangle_mask
from cytomics.gating.program import compile_gates, label_events

COLS = {"a": 0, "b": 1, "c": 2}  # channel name -> column


def _dim(name: str) -> Dimension:
    return Dimension(name)


def _reference(data, gates, root, root_id):
    """Gate-by-gate evaluation with the membership kernels (the FlowKit-checked path)."""
    masks = {root_id: root}
    for g in gates:
        cols = [COLS[d.channel] for d in getattr(g, "dimensions", ())]
        if isinstance(g, PolygonGate):
            own = polygon_mask(data, cols[0], cols[1], g.vertices)
        elif isinstance(g, RectangleGate):
            own = rectangle_mask(data, cols, list(g.mins), list(g.maxs))
        elif isinstance(g, EllipsoidGate):
            own = ellipsoid_mask(data, cols, g.mean, g.covariance, g.distance_square)
        else:
            ops = [~masks[i] if c else masks[i] for i, c in g.operands]
            own = {"and": np.logical_and.reduce, "or": np.logical_or.reduce}.get(
                g.op, lambda o: ~o[0])(ops)
        masks[g.id] = own & (root if g.parent in (None, root_id) else masks[g.parent])
    return masks


def _gates(rng):
    tri = rng.uniform(0.1, 0.9, (5, 2))  # may self-intersect: even-odd holes
    return [
        RectangleGate("r1", "qc", (_dim("a"), _dim("b")), (0.2, None), (None, 0.8)),
        PolygonGate("p1", "r1", (_dim("a"), _dim("b")), tri),
        PolygonGate("p2", None, (_dim("b"), _dim("c")),
                    np.array([[0.0, 0.0], [0.5, 0.0], [0.5, 0.5], [0.0, 0.5]])),
        EllipsoidGate("e1", "qc", (_dim("a"), _dim("c")), np.array([0.5, 0.5]),
                      np.array([[0.04, 0.01], [0.01, 0.02]]), 1.5),
        BooleanGate("b_and", "qc", "and", (("p1", False), ("p2", True))),
        BooleanGate("b_or", "qc", "or", (("e1", False), ("p2", False), ("qc", True))),
        BooleanGate("b_not", "r1", "not", (("e1", False),)),
        RectangleGate("r2", "b_or", (_dim("c"),), (0.3,), (0.6,)),
    ]


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_program_matches_gate_by_gate_evaluation(seed):
    rng = np.random.default_rng(seed)
    n = 40_000
    data = rng.uniform(-0.1, 1.1, (n, 3)).astype(np.float32)
    data[rng.integers(0, n, 50), rng.integers(0, 3, 50)] = np.nan
    # points exactly on polygon vertices / rectangle edges exercise the half-open rules
    data[:100, 1] = 0.5
    data[100:200, 0] = 0.2
    root = rng.random(n) < 0.9
    gates = _gates(rng)
    ref = _reference(data, gates, root, "qc")
    terminals = [("b_and", 5), ("r2", 6), ("b_not", 7), ("p2", 8)]
    expected = np.full(n, 3, dtype=np.uint8)
    expected[root] = 4
    for gid, code in terminals:  # later terminal wins
        expected[ref[gid]] = code

    program = compile_gates(gates, lambda d: COLS[d.channel], root_ids=("qc",))
    labels = np.full(n, 3, dtype=np.uint8)
    label_events(data, program, terminals, root=root, labels=labels, root_code=4)

    np.testing.assert_array_equal(labels, expected)
    assert (labels[~root] == 3).all()  # events outside the root keep their label


def test_program_rejects_forward_references():
    g = [BooleanGate("x", None, "and", (("y", False),)),
         RectangleGate("y", None, (_dim("a"),), (0.0,), (1.0,))]
    with pytest.raises(ValueError, match="'y'"):
        compile_gates(g, lambda d: COLS[d.channel])


def test_program_without_gates_labels_root_events():
    data = np.zeros((10, 3), dtype=np.float32)
    root = np.arange(10) % 2 == 0
    labels = np.zeros(10, dtype=np.uint8)
    program = compile_gates([], lambda d: 0)
    label_events(data, program, [], root=root, labels=labels, root_code=9)
    assert labels.tolist() == [9, 0] * 5


@pytest.mark.parametrize("seed", [3, 4])
def test_polygon_raster_shortcut_is_exact_on_edges_and_vertices(seed):
    """Points on a lattice through the vertices, on the edges and next to them (one float32
    ulp away) get the exact half-open membership of the per-event winding test."""
    rng = np.random.default_rng(seed)
    ang = np.sort(rng.uniform(0, 2 * np.pi, 24))
    rad = rng.uniform(0.1, 0.45, 24)
    verts = np.c_[0.5 + rad * np.cos(ang), 0.5 + rad * np.sin(ang)].astype(np.float32)
    verts = verts.astype(np.float64)  # vertices representable in float32: exact hits
    t = rng.uniform(0, 1, (24, 200))
    on_edges = (verts[:, None, :] * (1 - t[..., None])
                + np.roll(verts, -1, axis=0)[:, None, :] * t[..., None]).reshape(-1, 2)
    lattice = np.stack(np.meshgrid(verts[:, 0], verts[:, 1]), -1).reshape(-1, 2)
    pts = np.vstack([on_edges, lattice, verts, rng.uniform(0, 1, (20000, 2))]).astype(np.float32)
    pts = np.vstack([pts, np.nextafter(pts, np.float32(2)), np.nextafter(pts, np.float32(-1))])
    data = np.ascontiguousarray(pts)
    gate = PolygonGate("p", None, (_dim("a"), _dim("b")), verts)
    program = compile_gates([gate], lambda d: COLS[d.channel])
    labels = np.zeros(len(data), np.uint8)
    label_events(data, program, [("p", 1)], root=np.ones(len(data), bool), labels=labels,
                 root_code=0)
    np.testing.assert_array_equal(labels == 1, polygon_mask(data, 0, 1, verts))
    cells = np.bincount(program.raster, minlength=3) / program.raster.size
    assert cells[0] > 0.1 and cells[1] > 0.1 and cells[2] < 0.2  # the shortcut is used


def test_large_program_uses_the_general_path_with_same_result():
    """More gates than fit one state word (63): the general kernel gives the same labels."""
    rng = np.random.default_rng(8)
    n = 20_000
    data = rng.uniform(0, 1, (n, 3)).astype(np.float32)
    root = rng.random(n) < 0.8
    gates = []
    for k in range(40):
        lo = rng.uniform(0, 0.6)
        gates.append(RectangleGate(f"r{k}", "qc", (_dim("abc"[k % 3]),), (lo,), (lo + 0.4,)))
    for k in range(30):
        a, b = rng.choice(40, 2, replace=False)
        gates.append(BooleanGate(f"b{k}", f"r{k}", ("and", "or")[k % 2],
                                 ((f"r{a}", bool(k % 3 == 0)), (f"r{b}", False))))
    ref = _reference(data, gates, root, "qc")
    terminals = [(f"b{k}", k + 1) for k in range(30)]
    expected = np.zeros(n, np.uint8)
    expected[root] = 200
    for gid, code in terminals:
        expected[ref[gid]] = code
    program = compile_gates(gates, lambda d: COLS[d.channel], root_ids=("qc",))
    assert len(program.ids) > 63
    labels = np.zeros(n, np.uint8)
    label_events(data, program, terminals, root=root, labels=labels, root_code=200)
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_shared_polygon_rasters_match_gate_by_gate(dtype):
    """Root-level polygons on one column pair share a raster (at most 8 per group; the
    others take the per-gate path); overlapping, nested and disjoint polygons, points on
    vertices and NaN give the labels of gate-by-gate evaluation."""
    rng = np.random.default_rng(11)
    n = 30_000
    data = rng.uniform(-0.2, 1.2, (n, 3)).astype(dtype)
    data[rng.integers(0, n, 40), rng.integers(0, 3, 40)] = np.nan
    gates = []
    for k in range(11):  # 11 on (a, b): one group of 8 + 3 on their own
        c = rng.uniform(0.2, 0.8, 2)
        ang = np.sort(rng.uniform(0, 2 * np.pi, 7))
        rad = rng.uniform(0.02, 0.3 if k else 0.6, 7)
        verts = np.c_[c[0] + rad * np.cos(ang), c[1] + rad * np.sin(ang)]
        gates.append(PolygonGate(f"p{k}", None, (_dim("a"), _dim("b")), verts))
    data[:7, 0], data[:7, 1] = gates[3].vertices[:, 0], gates[3].vertices[:, 1]
    gates.append(PolygonGate("q", "qc", (_dim("c"), _dim("a")),
                             np.array([[0.1, 0.1], [0.9, 0.2], [0.5, 0.9]])))
    gates.append(BooleanGate("x", None, "and", (("p0", False), ("p1", True), ("q", False))))
    gates.append(BooleanGate("y", None, "or", (("p9", False), ("p10", False))))
    root = rng.random(n) < 0.95
    ref = _reference(data, gates, root, "qc")
    terminals = [(g.id, 10 + k) for k, g in enumerate(gates)]
    expected = np.full(n, 1, dtype=np.uint8)
    expected[root] = 2
    for gid, code in terminals:
        expected[ref[gid]] = code
    program = compile_gates(gates, lambda d: COLS[d.channel], root_ids=("qc",))
    assert program.pre.sum() == 9  # 8 of (a, b) and 1 of (c, a) share rasters
    labels = np.full(n, 1, dtype=np.uint8)
    label_events(data, program, terminals, root=root, labels=labels, root_code=2)
    np.testing.assert_array_equal(labels, expected)


@pytest.mark.parametrize("seed", [21, 22])
def test_polygon_raster_runs_equal_the_centre_test_of_every_cell(seed):
    """Cells off the edges take the exact test of the first cell of their run: every such
    cell equals the exact test at its own centre (self-intersecting polygons included)."""
    from cytomics.gating.program import _polygon_raster

    rng = np.random.default_rng(seed)
    for k in range(6):
        v = rng.uniform(0, 1, (int(rng.integers(3, 30)), 2))
        vx, vy = np.ascontiguousarray(v[:, 0]), np.ascontiguousarray(v[:, 1])
        box = (vx.min() - 0.1 * k, vx.max(), vy.min(), vy.max() + 0.05 * k)
        size = 64
        r = _polygon_raster(vx, vy, *box, size)
        wx, wy = (box[1] - box[0]) / size, (box[3] - box[2]) / size
        ix, iy = np.meshgrid(np.arange(size), np.arange(size), indexing="ij")
        centres = np.c_[(box[0] + (ix + 0.5) * wx).ravel(), (box[2] + (iy + 0.5) * wy).ravel()]
        inside = polygon_mask(centres, 0, 1, v).reshape(size, size)
        off = r != 2
        assert off.sum() > size * size // 2
        np.testing.assert_array_equal(r[off], inside[off].astype(np.uint8))


@pytest.mark.parametrize("op", ["and", "or"])
def test_operand_named_plainly_and_complemented(op):
    # `A and not A` is never true, `A or not A` always (within the parent): one state bit
    # per operand cannot represent both, so the program must not collapse them
    rng = np.random.default_rng(3)
    n = 5_000
    data = rng.uniform(0.0, 1.0, (n, 3)).astype(np.float32)
    root = rng.random(n) < 0.9
    gates = [
        RectangleGate("r", "qc", (_dim("a"),), (0.2,), (0.7,)),
        BooleanGate("x", "qc", op, (("r", False), ("r", True), ("r", False))),
    ]
    ref = _reference(data, gates, root, "qc")
    assert ref["x"].sum() == (0 if op == "and" else root.sum())
    program = compile_gates(gates, lambda d: COLS[d.channel], root_ids=("qc",))
    labels = np.zeros(n, dtype=np.uint8)
    label_events(data, program, [("x", 5)], root=root, labels=labels, root_code=4)
    np.testing.assert_array_equal(labels == 5, ref["x"])


def _random_hierarchy(rng, n_gates):
    """Random gates: any kind, parents and Boolean operands among earlier gates or the root;
    operands may repeat and be complemented."""
    gates, ids = [], []
    names = list(COLS)
    for k in range(n_gates):
        gid = f"g{k}"
        parent = "qc" if not ids or rng.random() < 0.4 else ids[rng.integers(len(ids))]
        kind = int(rng.integers(4)) if ids else int(rng.integers(3))
        a, b = rng.choice(names, 2, replace=False)
        if kind == 0:
            g = PolygonGate(gid, parent, (_dim(a), _dim(b)),
                            rng.uniform(0, 1, (int(rng.integers(3, 8)), 2)))
        elif kind == 1:
            lo = rng.uniform(0, 0.6)
            g = RectangleGate(gid, parent, (_dim(a),), (lo,), (lo + rng.uniform(0.1, 0.6),))
        elif kind == 2:
            g = EllipsoidGate(gid, parent, (_dim(a), _dim(b)), rng.uniform(0.3, 0.7, 2),
                              np.array([[0.03, 0.005], [0.005, 0.02]]), 1.0)
        else:
            op = ("and", "or", "not")[int(rng.integers(3))]
            n_ops = 1 if op == "not" else int(rng.integers(1, 4))
            ops = tuple((ids[rng.integers(len(ids))], op != "not" and bool(rng.random() < 0.3))
                        for _ in range(n_ops))
            g = BooleanGate(gid, parent, op, ops)
        gates.append(g)
        ids.append(gid)
    return gates, ids


@pytest.mark.parametrize("seed", range(40))
def test_random_hierarchies_match_gate_by_gate_evaluation(seed):
    rng = np.random.default_rng([seed, 77])
    n = 3_000
    data = rng.uniform(-0.1, 1.1, (n, 3)).astype(np.float32)
    root = rng.random(n) < 0.9
    gates, ids = _random_hierarchy(rng, int(rng.integers(3, 40)))
    ref = _reference(data, gates, root, "qc")
    terminals = [(ids[rng.integers(len(ids))], int(rng.integers(5, 20)))
                 for _ in range(int(rng.integers(1, 8)))]
    expected = np.full(n, 3, dtype=np.uint8)
    expected[root] = 4
    for gid, code in terminals:
        expected[ref[gid]] = code
    program = compile_gates(gates, lambda d: COLS[d.channel], root_ids=("qc",))
    labels = np.full(n, 3, dtype=np.uint8)
    label_events(data, program, terminals, root=root, labels=labels, root_code=4)
    np.testing.assert_array_equal(labels, expected)
