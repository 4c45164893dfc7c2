"""Unit tests of the gate membership / statistics / binning kernels against references
(numpy, matplotlib.path, flowutils — the Gating-ML reference implementation)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from cytomics.gating import kernels as K

RNG = np.random.default_rng(20261122)


def _flowutils_polygon(vertices, points):
    from flowutils import gating

    return gating.points_in_polygon(
        np.asarray(vertices, dtype=np.float64), np.ascontiguousarray(points, dtype=np.float64)
    )


# --------------------------------------------------------------------------------------
# rectangle
# --------------------------------------------------------------------------------------
def test_rectangle_inclusive_min_exclusive_max():
    data = np.array([[1.0, 5.0], [2.0, 5.0], [1.5, 4.0], [0.999, 4.5], [1.5, 6.0], [np.nan, 5.0]])
    mask = K.rectangle_mask(data, [0, 1], [1.0, 4.0], [2.0, 6.0])
    assert mask.tolist() == [True, False, True, False, False, False]


def test_rectangle_open_sides_and_reference():
    data = RNG.normal(size=(50_000, 4)).astype(np.float32)
    mins = [None, -0.5, 0.1, None]
    maxs = [0.3, None, 1.2, None]
    ref = (data[:, 0] < 0.3) & (data[:, 1] >= -0.5) & (data[:, 2] >= 0.1) & (data[:, 2] < 1.2)
    assert np.array_equal(K.rectangle_mask(data, [0, 1, 2, 3], mins, maxs), ref)
    # NaN is an open side too; a 1-D array is one column
    assert np.array_equal(K.rectangle_mask(data[:, 1], [0], [np.nan], [0.0]), data[:, 1] < 0.0)


def test_rectangle_bad_arguments():
    with pytest.raises(ValueError):
        K.rectangle_mask(np.zeros((3, 2)), [0, 2], [0, 0], [1, 1])
    with pytest.raises(ValueError):
        K.rectangle_mask(np.zeros((3, 2)), [0, 1], [0], [1, 1])


# --------------------------------------------------------------------------------------
# polygon
# --------------------------------------------------------------------------------------
SQUARE = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
# non-simple: pentagram (even-odd leaves the central pentagon out)
PENTAGRAM = np.array([[np.cos(a), np.sin(a)] for a in np.pi / 2 + np.arange(5) * 4 * np.pi / 5])
# the ISAC Polygon3NS shape: a polygon whose boundary overlaps itself
POLY3NS = np.array(
    [[10, 10], [500, 10], [500, 390], [100, 390], [100, 180], [200, 180], [200, 300], [10, 300]],
    dtype=np.float64,
)


def _edge_distance(pts, verts):
    a = verts
    b = np.roll(verts, -1, axis=0)
    ab = b - a
    t = np.clip(((pts[:, None, :] - a) * ab).sum(-1) / (ab * ab).sum(-1), 0.0, 1.0)
    closest = a + t[..., None] * ab
    return np.sqrt(((pts[:, None, :] - closest) ** 2).sum(-1)).min(axis=1)


def test_polygon_matches_matplotlib_away_from_edges():
    from matplotlib.path import Path as MplPath

    for verts, scale in ((SQUARE, 1.2), (PENTAGRAM, 1.2), (POLY3NS, 520.0)):
        pts = RNG.uniform(-scale * 0.1, scale, size=(20_000, 2))
        ours = K.polygon_mask(pts, 0, 1, verts)
        mpl = MplPath(verts).contains_points(pts)  # even-odd crossing test
        # away from the boundary (where conventions differ) both agree exactly
        far = _edge_distance(pts, verts) > 1e-9 * scale
        assert far.mean() > 0.99
        assert np.array_equal(ours[far], mpl[far])
        assert np.array_equal(ours, _flowutils_polygon(verts, pts))


def test_pentagram_has_a_hole():
    inside_tip = np.array([[0.0, 0.8]])
    centre = np.array([[0.0, 0.0]])
    assert K.polygon_mask(inside_tip, 0, 1, PENTAGRAM)[0]
    assert not K.polygon_mask(centre, 0, 1, PENTAGRAM)[0]


def test_polygon_edge_and_vertex_semantics_match_flowutils():
    # points exactly on edges, on vertices, at edge midpoints and just off them
    pts = []
    for verts in (SQUARE, POLY3NS):
        closed = np.vstack([verts, verts[:1]])
        for a, b in itertools.pairwise(closed):
            for t in (0.0, 0.25, 0.5, 1.0):
                p = a + t * (b - a)
                pts.extend([p, p + 1e-9, p - 1e-9])
    pts = np.array(pts)
    for verts in (SQUARE, POLY3NS):
        assert np.array_equal(K.polygon_mask(pts, 0, 1, verts), _flowutils_polygon(verts, pts))
    # explicit half-open rule on the unit square: left/bottom in, right/top out
    edge = np.array([[0.0, 0.5], [0.5, 0.0], [1.0, 0.5], [0.5, 1.0], [0.0, 0.0], [1.0, 1.0]])
    assert K.polygon_mask(edge, 0, 1, SQUARE).tolist() == [True, True, False, False, True, False]


def test_polygon_float32_and_nan():
    pts = RNG.uniform(-0.2, 1.2, size=(10_000, 2)).astype(np.float32)
    pts[::97] = np.nan
    ours = K.polygon_mask(pts, 0, 1, SQUARE)
    ref = _flowutils_polygon(SQUARE, pts.astype(np.float64))
    assert np.array_equal(ours, ref & ~np.isnan(pts).any(axis=1))
    assert not ours[::97].any()


def test_polygon_columns_are_selected():
    data = np.zeros((4, 5))
    data[:, 3] = [0.5, 2.0, 0.5, 0.5]
    data[:, 1] = [0.5, 0.5, 2.0, 0.5]
    assert K.polygon_mask(data, 3, 1, SQUARE).tolist() == [True, False, False, True]
    with pytest.raises(ValueError):
        K.polygon_mask(data, 0, 1, SQUARE[:2])


# --------------------------------------------------------------------------------------
# ellipsoid
# --------------------------------------------------------------------------------------
@pytest.mark.parametrize("k", [2, 3])
def test_ellipsoid_matches_mahalanobis(k):
    data = RNG.normal(size=(30_000, k + 1)) * 3.0
    a = RNG.normal(size=(k, k))
    cov = a @ a.T + np.eye(k)
    mean = RNG.normal(size=k)
    cols = list(range(1, k + 1))
    d = data[:, cols] - mean
    d2 = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov), d)
    ours = K.ellipsoid_mask(data, cols, mean, cov, 2.5)
    assert np.array_equal(ours, d2 <= 2.5)
    assert 0 < ours.sum() < len(ours)


def test_ellipsoid_boundary_inclusive():
    pts = np.array([[2.0, 0.0], [0.0, 1.0], [2.0001, 0.0]])
    assert K.ellipsoid_mask(pts, [0, 1], [0, 0], [[4.0, 0.0], [0.0, 1.0]], 1.0).tolist() == [
        True,
        True,
        False,
    ]


# --------------------------------------------------------------------------------------
# boolean
# --------------------------------------------------------------------------------------
def test_combine_masks():
    a, b, c = (RNG.random(10_000) < p for p in (0.3, 0.5, 0.7))
    assert np.array_equal(K.combine_masks([a, b, c], "and"), a & b & c)
    assert np.array_equal(K.combine_masks([a, b, c], "or", [False, True, False]), a | ~b | c)
    assert np.array_equal(K.combine_masks([a, b], "AND", [True, False]), ~a & b)
    assert np.array_equal(K.combine_masks([a], "not"), ~a)
    assert np.array_equal(K.combine_masks([a], "not", [True]), a)
    with pytest.raises(ValueError):
        K.combine_masks([a, b], "not")
    with pytest.raises(ValueError):
        K.combine_masks([a, b], "xor")


# --------------------------------------------------------------------------------------
# statistics and binning
# --------------------------------------------------------------------------------------
def test_population_stats():
    data = RNG.normal(size=(20_001, 3)).astype(np.float32)
    mask = data[:, 0] > 0.2
    count, means, medians = K.population_stats(data, [2, 1], mask)
    sel = data[mask][:, [2, 1]].astype(np.float64)
    assert count == int(mask.sum())
    np.testing.assert_allclose(means, sel.mean(axis=0), rtol=1e-12, atol=1e-12)
    np.testing.assert_array_equal(medians, np.median(sel, axis=0))
    count, means, medians = K.population_stats(data, [0], np.zeros(len(data), bool))
    assert count == 0 and np.isnan(means[0]) and np.isnan(medians[0])


def test_linear_combination():
    data = RNG.normal(size=(1000, 4)).astype(np.float32)
    coef = np.array([0.5, -1.5, 2.0])
    np.testing.assert_allclose(
        K.linear_combination(data, [3, 0, 1], coef), data[:, [3, 0, 1]].astype(np.float64) @ coef
    )


@pytest.mark.parametrize("uniform", [True, False])
def test_histogram1d_matches_numpy(uniform):
    x = RNG.normal(size=100_000)
    x[:50] = 1.0  # values exactly on an inner edge
    x[50:60] = 3.0  # exactly the last edge (closed)
    edges = np.linspace(-3, 3, 61) if uniform else np.sort(RNG.uniform(-3, 3, 40))
    if not uniform:
        edges[[0, -1]] = -3.0, 3.0
    np.testing.assert_array_equal(K.histogram1d(x, edges), np.histogram(x, edges)[0])
    m = x > 0
    np.testing.assert_array_equal(K.histogram1d(x, edges, mask=m), np.histogram(x[m], edges)[0])
    np.testing.assert_array_equal(
        K.histogram1d(x.astype(np.float32), edges), np.histogram(x.astype(np.float32), edges)[0]
    )


def test_histogram2d_matches_numpy():
    x = RNG.normal(size=200_000).astype(np.float32)
    y = RNG.uniform(0, 1, size=200_000).astype(np.float32)
    ex = np.linspace(-2.5, 2.5, 129)
    ey = np.array([0.0, 0.1, 0.35, 0.5, 0.9, 1.0])
    ref = np.histogram2d(x, y, [ex, ey])[0].astype(np.int64)
    out = K.histogram2d(x, y, ex, ey)
    assert out.shape == (128, 5) and out.dtype == np.int64
    np.testing.assert_array_equal(out, ref)
    m = y > 0.5
    np.testing.assert_array_equal(
        K.histogram2d(x, y, ex, ey, mask=m), np.histogram2d(x[m], y[m], [ex, ey])[0]
    )
    with pytest.raises(ValueError):
        K.histogram2d(x, y, ex, ey[::-1])


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_polygon_raster_path_equals_direct_winding_test(dtype):
    """From 2048 events on, polygon_mask decides cells off the edges from a raster: the
    result equals the per-event winding test exactly (points on vertices and edges, one
    ulp beside them, NaN, self-intersecting polygons, a degenerate polygon)."""
    from cytomics.gating.kernels import _polygon_kernel

    rng = np.random.default_rng(31)
    polys = [rng.uniform(0, 1, (9, 2)),  # self-intersecting
             np.c_[0.5 + 0.4 * np.cos(np.linspace(0, 6, 20)),
                   0.5 + 0.3 * np.sin(np.linspace(0, 6, 20))],
             np.array([[0.2, 0.5], [0.8, 0.5], [0.5, 0.5]])]  # zero height
    for v in polys:
        v = v.astype(np.float32).astype(np.float64)
        t = rng.uniform(0, 1, (len(v), 50))
        on_edges = (v[:, None, :] * (1 - t[..., None])
                    + np.roll(v, -1, axis=0)[:, None, :] * t[..., None]).reshape(-1, 2)
        pts = np.vstack([on_edges, v, rng.uniform(-0.1, 1.1, (6000, 2))]).astype(dtype)
        pts = np.vstack([pts, np.nextafter(pts, dtype(2)), np.nextafter(pts, dtype(-1))])
        pts[:5, 0] = np.nan
        data = np.ascontiguousarray(np.c_[pts[:, 1], np.zeros(len(pts), dtype), pts[:, 0]])
        expected = np.empty(len(data), dtype=np.bool_)
        _polygon_kernel(data, 2, 0, np.ascontiguousarray(v[:, 0]), np.ascontiguousarray(v[:, 1]),
                        expected)
        np.testing.assert_array_equal(K.polygon_mask(data, 2, 0, v), expected)
