"""Tests of the density tools (histograms, peaks/valleys, basins, region -> polygon)."""

from __future__ import annotations

import numpy as np

from cytomics.gating import density as D


def _bimodal(rng, a=0.3, b=0.7, n=(4000, 2000), sd=0.05):
    return np.concatenate([rng.normal(a, sd, n[0]), rng.normal(b, sd, n[1])]).astype(np.float32)


def test_histograms_count_every_event_and_respect_mask():
    rng = np.random.default_rng(0)
    x = rng.normal(0.5, 0.3, 5000).astype(np.float32)
    y = rng.normal(0.5, 0.3, 5000).astype(np.float32)
    h = D.histogram_1d(x, lo=0.0, hi=1.0, bins=64)
    assert h.sum() == 5000  # outside values clipped into edge bins
    mask = x > 0.5
    h2 = D.histogram_2d(x, y, xrange=(0, 1), yrange=(0, 1), bins=(32, 16), mask=mask)
    assert h2.shape == (32, 16) and h2.sum() == mask.sum()
    assert np.allclose(h2.sum(axis=1), D.histogram_1d(x, lo=0, hi=1, bins=32, mask=mask))


def test_peaks_valley_and_degate_bimodal():
    rng = np.random.default_rng(1)
    d = D.density_1d(_bimodal(rng), lo=0.0, hi=1.0)
    peaks = D.find_peaks_1d(d)
    assert len(peaks) == 2
    assert abs(peaks[0].position - 0.3) < 0.03 and abs(peaks[1].position - 0.7) < 0.03
    assert abs(peaks[0].mass - 2 / 3) < 0.05
    cut = D.de_gate(d)
    assert 0.42 < cut < 0.58
    assert 0.42 < D.valley_between(d, 0.3, 0.7) < 0.58


def test_degate_single_peak_uses_the_tail():
    rng = np.random.default_rng(2)
    d = D.density_1d(rng.normal(0.3, 0.04, 5000), lo=0.0, hi=1.0)
    up = D.de_gate(d, upper=True)
    lo = D.de_gate(d, upper=False)
    assert 0.36 < up < 0.5 and 0.1 < lo < 0.24


def test_basins_split_two_clusters_and_merge_noise():
    rng = np.random.default_rng(3)
    x = _bimodal(rng)
    y = np.concatenate([rng.normal(0.2, 0.05, 4000), rng.normal(0.6, 0.05, 2000)])
    d2 = D.density_2d(x, y, xrange=(0, 1), yrange=(0, 1), bins=(64, 64))
    lab, info = D.basins_2d(d2)
    assert len(info) == 2
    assert abs(info[0]["x"] - 0.3) < 0.05 and abs(info[1]["y"] - 0.6) < 0.05
    bx, by = d2.bin_of(x, y)
    ev = lab[bx, by]
    assert (ev[:4000] == 0).mean() > 0.97 and (ev[4000:] == 1).mean() > 0.97
    # a single broad cloud stays one basin despite sampling noise
    z = rng.normal(0.5, 0.12, (3000, 2))
    d1 = D.density_2d(z[:, 0], z[:, 1], xrange=(0, 1), yrange=(0, 1), bins=(64, 64))
    assert len(D.basins_2d(d1)[1]) == 1


def test_region_to_polygon_covers_region_with_few_vertices():
    edges = np.linspace(0.0, 1.0, 65)
    yy, xx = np.meshgrid(np.arange(64), np.arange(64))
    region = (xx - 30) ** 2 / 15**2 + (yy - 20) ** 2 / 8**2 <= 1.0  # ellipse of bins
    region[30:45, 20:23] = True  # a protrusion: the polygon need not be convex
    poly = D.region_to_polygon(region, edges, edges, max_vertices=20)
    assert 3 <= len(poly) <= 20
    centers = (np.arange(64) + 0.5) / 64
    cx, cy = np.meshgrid(centers, centers, indexing="ij")
    inside = D.points_in_polygon(cx.ravel(), cy.ravel(), poly).reshape(64, 64)
    agree = (inside == region).mean()
    assert agree > 0.98
    assert D.region_to_polygon(np.zeros((8, 8), bool), edges[:9], edges[:9]).shape == (0, 2)


def test_points_in_polygon_square():
    sq = np.array([[0.0, 0.0], [1.0, 0.0], [1.0, 1.0], [0.0, 1.0]])
    x = np.array([0.5, 1.5, -0.1, 0.99], dtype=np.float32)
    y = np.array([0.5, 0.5, 0.5, 0.01], dtype=np.float32)
    assert D.points_in_polygon(x, y, sq).tolist() == [True, False, False, True]


def test_region_to_polygon_boundary_and_rdp_unchanged_reference():
    # vectorised boundary edges + stack RDP give the recursive reference's vertices
    from cytomics.gating.density import _rdp, _trace_boundary

    def rdp_ref(points, eps):
        if len(points) < 3:
            return points
        a, b = points[0], points[-1]
        ab = b - a
        norm = float(np.hypot(*ab))
        rel = points - a
        dist = (np.hypot(rel[:, 0], rel[:, 1]) if norm == 0
                else np.abs(ab[0] * rel[:, 1] - ab[1] * rel[:, 0]) / norm)
        k = int(np.argmax(dist))
        if dist[k] > eps:
            return np.vstack([rdp_ref(points[: k + 1], eps)[:-1], rdp_ref(points[k:], eps)])
        return np.vstack([a, b])

    rng = np.random.default_rng(5)
    for _ in range(200):
        pts = np.cumsum(rng.integers(-1, 2, (int(rng.integers(1, 120)), 2)), axis=0).astype(float)
        for eps in (0.3, 1.5):
            assert np.array_equal(_rdp(pts, eps), rdp_ref(pts, eps))
    # a square touching a cell at one corner (pinch point): the trace turns left there
    # and stays on the square's loop, counter-clockwise from the lowest-left corner
    m = np.zeros((4, 4), bool)
    m[0:2, 0:2] = True
    m[2, 2] = True
    assert _trace_boundary(m).tolist() == [[0, 0], [1, 0], [2, 0], [2, 1], [2, 2], [1, 2],
                                           [0, 2], [0, 1]]


def test_ndi_equals_scipy_ndimage_bitwise():
    # the density module's smoothing and region operations are scipy.ndimage's, bit for bit
    from scipy import ndimage

    from cytomics.gating import _ndi

    rng = np.random.default_rng(21)
    for _ in range(40):
        h = rng.poisson(rng.uniform(0.1, 40), int(rng.integers(5, 260))).astype(float)
        for s in (0.3, 1.5, 2.0, 3.0):
            assert np.array_equal(_ndi.gaussian_filter1d(h, s),
                                  ndimage.gaussian_filter1d(h, s, mode="constant"))
        nx, ny = (int(v) for v in rng.integers(2, 90, 2))
        c = rng.poisson(rng.uniform(0.05, 20), (nx, ny)).astype(float)
        for s in (1.5, (1.0, 2.5)):
            assert np.array_equal(_ndi.gaussian_filter(c, s),
                                  ndimage.gaussian_filter(c, s, mode="constant"))
        m = rng.random((nx, ny)) < rng.uniform(0.2, 0.9)
        assert np.array_equal(_ndi.binary_dilation_3x3(m),
                              ndimage.binary_dilation(m, structure=np.ones((3, 3), bool)))
        lab, n = _ndi.label(m)
        ref, n_ref = ndimage.label(m)
        assert n == n_ref and np.array_equal(lab, ref)
        assert np.array_equal(_ndi.fill_holes(m), ndimage.binary_fill_holes(m))


def test_gating_does_not_import_scipy_ndimage():
    import subprocess
    import sys

    code = "import sys, cytomics.gating.alot; print('scipy.ndimage' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == "False"
