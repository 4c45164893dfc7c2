"""Density tools for data-driven gating: histograms, smoothing, peaks, valleys, basins.

Everything works on *display-scale* values (logicle fluorescence ~[0, 1], linearly scaled
scatter), the scale an expert reads a plot on. The tools mirror what a person does:

* 1-D: smoothed histogram -> peaks and the valley between two of them, as flowDensity's
  ``deGate`` (:func:`find_peaks_1d`, :func:`valley_between`, :func:`de_gate`);
* 2-D: smoothed histogram -> density peaks -> every bin assigned to the basin of one peak
  by flooding from the top, merging peaks whose separating saddle is shallow (persistence,
  as ToMATo) (:func:`density_2d`, :func:`basins_2d`);
* a set of bins -> a simple polygon with a bounded number of vertices
  (:func:`region_to_polygon`), so that gates stay readable and exportable (Gating-ML).

Binning and flooding are numba kernels (``cache=True``); smoothing and the region
operations are scipy.ndimage's, bit for bit, without importing it (:mod:`._ndi`).
"""

from __future__ import annotations

from dataclasses import dataclass

import numba as nb
import numpy as np

from cytomics.gating import _ndi
from cytomics.peaks import find_peaks

__all__ = [
    "Density1D",
    "Density2D",
    "Peak1D",
    "basins_2d",
    "de_gate",
    "density_1d",
    "density_2d",
    "find_peaks_1d",
    "histogram_1d",
    "histogram_2d",
    "points_in_polygon",
    "region_to_polygon",
    "simplify_polygon",
    "valley_between",
]


# --------------------------------------------------------------------------------------
# numba kernels
# --------------------------------------------------------------------------------------
@nb.njit(cache=True, nogil=True)
def _hist1d(x: np.ndarray, mask: np.ndarray, lo: float, hi: float, nbins: int) -> np.ndarray:
    out = np.zeros(nbins, dtype=np.float64)
    scale = nbins / (hi - lo)
    use_mask = mask.shape[0] == x.shape[0]
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            continue
        v = x[i]
        if not np.isfinite(v):
            continue
        b = int(np.floor((v - lo) * scale))
        if b < 0:
            b = 0
        elif b >= nbins:
            b = nbins - 1
        out[b] += 1.0
    return out


@nb.njit(cache=True, nogil=True)
def _hist2d(
    x: np.ndarray,
    y: np.ndarray,
    mask: np.ndarray,
    xlo: float,
    xhi: float,
    ylo: float,
    yhi: float,
    nx: int,
    ny: int,
) -> np.ndarray:
    out = np.zeros((nx, ny), dtype=np.float64)
    sx = nx / (xhi - xlo)
    sy = ny / (yhi - ylo)
    use_mask = mask.shape[0] == x.shape[0]
    for i in range(x.shape[0]):
        if use_mask and not mask[i]:
            continue
        vx = x[i]
        vy = y[i]
        if not (np.isfinite(vx) and np.isfinite(vy)):
            continue
        bx = int(np.floor((vx - xlo) * sx))
        by = int(np.floor((vy - ylo) * sy))
        if bx < 0:
            bx = 0
        elif bx >= nx:
            bx = nx - 1
        if by < 0:
            by = 0
        elif by >= ny:
            by = ny - 1
        out[bx, by] += 1.0
    return out


@nb.njit(cache=True)
def _find(parent: np.ndarray, i: int) -> int:
    root = i
    while parent[root] != root:
        root = parent[root]
    while parent[i] != root:
        nxt = parent[i]
        parent[i] = root
        i = nxt
    return root


@nb.njit(cache=True)
def _tomato(
    dens: np.ndarray, floor: float, rel_persistence: float, abs_persistence: float
) -> np.ndarray:
    """Flood a 2-D density from the top; returns the root bin (flat index) of every bin.

    Bins below ``floor`` get -1. Two basins meeting at a saddle ``s`` are merged when the
    lower peak ``p`` satisfies ``p - s < max(rel_persistence * p, abs_persistence)``.
    """
    nx, ny = dens.shape
    n = nx * ny
    flat = dens.ravel()
    order = np.argsort(-flat, kind="mergesort")
    parent = np.full(n, -1, dtype=np.int64)
    peak = np.zeros(n, dtype=np.float64)
    for k in range(n):
        i = order[k]
        v = flat[i]
        if v < floor:
            break
        ix = i // ny
        iy = i % ny
        # steepest already-processed neighbour
        best = -1
        best_v = -1.0
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                if dx == 0 and dy == 0:
                    continue
                jx = ix + dx
                jy = iy + dy
                if jx < 0 or jx >= nx or jy < 0 or jy >= ny:
                    continue
                j = jx * ny + jy
                if parent[j] < 0:
                    continue
                if flat[j] > best_v:
                    best_v = flat[j]
                    best = j
        if best < 0:
            parent[i] = i
            peak[i] = v
            continue
        r = _find(parent, best)
        parent[i] = r
        # merge other neighbouring basins whose peak is not persistent above this saddle
        for dx in range(-1, 2):
            for dy in range(-1, 2):
                if dx == 0 and dy == 0:
                    continue
                jx = ix + dx
                jy = iy + dy
                if jx < 0 or jx >= nx or jy < 0 or jy >= ny:
                    continue
                j = jx * ny + jy
                if parent[j] < 0:
                    continue
                rj = _find(parent, j)
                ri = _find(parent, i)
                if rj == ri:
                    continue
                lo_root = rj if peak[rj] < peak[ri] else ri
                hi_root = ri if lo_root == rj else rj
                p = peak[lo_root]
                thr = rel_persistence * p
                if abs_persistence > thr:
                    thr = abs_persistence
                if p - v < thr:
                    parent[lo_root] = hi_root
    out = np.full(n, -1, dtype=np.int64)
    for i in range(n):
        if parent[i] >= 0:
            out[i] = _find(parent, i)
    return out.reshape((nx, ny))


@nb.njit(cache=True, nogil=True)
def _pip(x: np.ndarray, y: np.ndarray, vx: np.ndarray, vy: np.ndarray) -> np.ndarray:
    """Even-odd point-in-polygon (crossing number), same rule as Gating-ML 2.0."""
    n = x.shape[0]
    m = vx.shape[0]
    out = np.zeros(n, dtype=np.bool_)
    xmin = vx.min()
    xmax = vx.max()
    ymin = vy.min()
    ymax = vy.max()
    for i in range(n):
        px = x[i]
        py = y[i]
        if px < xmin or px > xmax or py < ymin or py > ymax:
            continue
        inside = False
        j = m - 1
        for k in range(m):
            if (vy[k] > py) != (vy[j] > py):
                xc = vx[k] + (py - vy[k]) * (vx[j] - vx[k]) / (vy[j] - vy[k])
                if px < xc:
                    inside = not inside
            j = k
        out[i] = inside
    return out


# --------------------------------------------------------------------------------------
# 1-D
# --------------------------------------------------------------------------------------
def _as_f32(a: np.ndarray) -> np.ndarray:
    return np.ascontiguousarray(a, dtype=np.float32)


def _mask_or_empty(mask: np.ndarray | None) -> np.ndarray:
    if mask is None:
        return np.zeros(0, dtype=np.bool_)
    return np.ascontiguousarray(mask, dtype=np.bool_)


def histogram_1d(
    x: np.ndarray, *, lo: float, hi: float, bins: int, mask: np.ndarray | None = None
) -> np.ndarray:
    """Counts of ``x`` in ``bins`` equal bins over ``[lo, hi)``; values outside are clipped
    into the edge bins, NaN is ignored. ``mask`` (bool [n]) selects events."""
    if not hi > lo or bins < 2:
        raise ValueError(f"bad histogram range/bins: lo={lo} hi={hi} bins={bins}")
    return _hist1d(_as_f32(x), _mask_or_empty(mask), float(lo), float(hi), int(bins))


def histogram_2d(
    x: np.ndarray,
    y: np.ndarray,
    *,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    bins: tuple[int, int],
    mask: np.ndarray | None = None,
) -> np.ndarray:
    """Counts ``[bins_x, bins_y]`` of the pairs ``(x, y)``; out-of-range values are clipped
    into the edge bins. ``mask`` (bool [n]) selects events."""
    (xlo, xhi), (ylo, yhi) = xrange, yrange
    if not (xhi > xlo and yhi > ylo) or min(bins) < 2:
        raise ValueError(f"bad 2-D histogram range/bins: {xrange} {yrange} {bins}")
    return _hist2d(
        _as_f32(x), _as_f32(y), _mask_or_empty(mask),
        float(xlo), float(xhi), float(ylo), float(yhi), int(bins[0]), int(bins[1]),
    )


@dataclass(frozen=True, slots=True)
class Density1D:
    """A smoothed 1-D density.

    Attributes
    ----------
    centers
        Bin centres (display scale).
    density
        Smoothed counts per bin (same length), normalised to sum 1 (0 when empty).
    n
        Number of events that went in.
    """

    centers: np.ndarray
    density: np.ndarray
    n: int

    @property
    def step(self) -> float:
        """Bin width."""
        return float(self.centers[1] - self.centers[0])

    def index(self, value: float) -> int:
        """Bin index of ``value`` (clipped)."""
        i = int(np.floor((value - self.centers[0]) / self.step + 0.5))
        return min(max(i, 0), len(self.centers) - 1)


@dataclass(frozen=True, slots=True)
class Peak1D:
    """A density peak: ``position`` (display scale), ``height`` (density at the peak),
    ``prominence`` and ``mass`` (fraction of events in its basin between the flanking
    minima)."""

    position: float
    height: float
    prominence: float
    mass: float
    index: int


def density_1d(
    x: np.ndarray,
    *,
    lo: float,
    hi: float,
    bins: int = 256,
    sigma_bins: float = 2.0,
    mask: np.ndarray | None = None,
) -> Density1D:
    """Smoothed, normalised histogram of ``x`` on ``[lo, hi)``.

    Parameters
    ----------
    x
        Display-scale values.
    lo, hi, bins
        Histogram range and number of bins.
    sigma_bins
        Gaussian smoothing width in bins.
    mask
        Optional event selection.
    """
    h = histogram_1d(x, lo=lo, hi=hi, bins=bins, mask=mask)
    n = int(h.sum())
    if sigma_bins > 0:
        h = _ndi.gaussian_filter1d(h, sigma_bins)
    s = h.sum()
    d = h / s if s > 0 else h
    edges = np.linspace(lo, hi, bins + 1)
    return Density1D(centers=0.5 * (edges[:-1] + edges[1:]), density=d, n=n)


def find_peaks_1d(
    dens: Density1D, *, min_height: float = 0.05, min_prominence: float = 0.03
) -> list[Peak1D]:
    """Peaks of a 1-D density, highest first.

    Parameters
    ----------
    dens
        The density.
    min_height, min_prominence
        Fractions of the highest density value a peak must reach / stand out by (as
        flowDensity's ``tinypeak.removal``).

    Returns
    -------
    list of Peak1D
        Sorted by decreasing height. Empty for an empty density.
    """
    d = dens.density
    top = float(d.max()) if d.size else 0.0
    if top <= 0:
        return []
    padded = np.concatenate([[0.0], d, [0.0]])
    idx, prominences = find_peaks(
        padded, height=min_height * top, prominence=min_prominence * top
    )
    peaks = []
    bounds = [0, *idx.tolist(), len(padded) - 1]
    for k, i in enumerate(idx):
        # mass between the minima that separate this peak from its neighbouring peaks
        left, right = bounds[k], bounds[k + 2]
        lo_i = left + int(np.argmin(padded[left : i + 1]))
        hi_i = i + int(np.argmin(padded[i : right + 1]))
        mass = float(padded[lo_i : hi_i + 1].sum())
        peaks.append(
            Peak1D(
                position=float(dens.centers[i - 1]),
                height=float(d[i - 1]),
                prominence=float(prominences[k]),
                mass=mass,
                index=int(i - 1),
            )
        )
    peaks.sort(key=lambda p: -p.height)
    return peaks


def valley_between(dens: Density1D, a: float, b: float) -> float:
    """Position of the density minimum between positions ``a`` and ``b`` (the middle of a
    flat minimum)."""
    i, j = sorted((dens.index(a), dens.index(b)))
    if j - i < 2:
        return float(0.5 * (a + b))
    seg = dens.density[i : j + 1]
    m = seg.min()
    where = np.flatnonzero(seg <= m + 1e-12 * max(1.0, m))
    k = int(where[len(where) // 2])
    return float(dens.centers[i + k])


def de_gate(
    dens: Density1D,
    *,
    min_height: float = 0.05,
    min_prominence: float = 0.03,
    upper: bool | None = None,
    tail_fraction: float = 0.05,
) -> float:
    """A 1-D threshold as flowDensity's ``deGate``.

    With two or more peaks: the valley between the two most prominent peaks. With one
    peak: the point on its ``upper`` (True) or lower (False) side where the density falls
    to ``tail_fraction`` of the peak height (``upper=None``: the side with the longer tail).

    Returns
    -------
    float
        The threshold (display scale). For an empty density, the middle of the range.
    """
    peaks = find_peaks_1d(dens, min_height=min_height, min_prominence=min_prominence)
    if not peaks:
        return float(0.5 * (dens.centers[0] + dens.centers[-1]))
    if len(peaks) >= 2:
        two = sorted(peaks, key=lambda p: -p.prominence)[:2]
        return valley_between(dens, two[0].position, two[1].position)
    p = peaks[0]
    d = dens.density
    level = tail_fraction * p.height
    above = np.flatnonzero(d[p.index :] < level)
    below = np.flatnonzero(d[: p.index + 1][::-1] < level)
    up_i = p.index + int(above[0]) if above.size else len(d) - 1
    lo_i = p.index - int(below[0]) if below.size else 0
    if upper is None:
        upper = (up_i - p.index) >= (p.index - lo_i)
    return float(dens.centers[up_i if upper else lo_i])


# --------------------------------------------------------------------------------------
# 2-D
# --------------------------------------------------------------------------------------
@dataclass(frozen=True, slots=True)
class Density2D:
    """A smoothed 2-D density on a regular grid.

    Attributes
    ----------
    x_edges, y_edges
        Bin edges (display scale), lengths ``nx + 1`` and ``ny + 1``.
    counts
        Raw counts ``[nx, ny]``.
    density
        Smoothed counts ``[nx, ny]`` (same total).
    """

    x_edges: np.ndarray
    y_edges: np.ndarray
    counts: np.ndarray
    density: np.ndarray

    @property
    def x_centers(self) -> np.ndarray:
        """Bin centres along x."""
        return 0.5 * (self.x_edges[:-1] + self.x_edges[1:])

    @property
    def y_centers(self) -> np.ndarray:
        """Bin centres along y."""
        return 0.5 * (self.y_edges[:-1] + self.y_edges[1:])

    def bin_of(self, x: np.ndarray, y: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """Bin indices (clipped) of points."""
        nx = len(self.x_edges) - 1
        ny = len(self.y_edges) - 1
        bx = np.floor((np.asarray(x) - self.x_edges[0]) / (self.x_edges[1] - self.x_edges[0]))
        by = np.floor((np.asarray(y) - self.y_edges[0]) / (self.y_edges[1] - self.y_edges[0]))
        return (
            np.clip(bx, 0, nx - 1).astype(np.int64),
            np.clip(by, 0, ny - 1).astype(np.int64),
        )


def density_2d(
    x: np.ndarray,
    y: np.ndarray,
    *,
    xrange: tuple[float, float],
    yrange: tuple[float, float],
    bins: tuple[int, int] = (128, 128),
    sigma_bins: float | tuple[float, float] = 1.5,
    mask: np.ndarray | None = None,
) -> Density2D:
    """Gaussian-smoothed 2-D histogram (see :func:`histogram_2d`)."""
    counts = histogram_2d(x, y, xrange=xrange, yrange=yrange, bins=bins, mask=mask)
    dens = _ndi.gaussian_filter(counts, sigma_bins)
    return Density2D(
        x_edges=np.linspace(xrange[0], xrange[1], bins[0] + 1),
        y_edges=np.linspace(yrange[0], yrange[1], bins[1] + 1),
        counts=counts,
        density=dens,
    )


def basins_2d(
    dens: Density2D,
    *,
    floor_fraction: float = 0.002,
    rel_persistence: float = 0.5,
    min_mass: float = 0.002,
) -> tuple[np.ndarray, list[dict[str, float]]]:
    """Split a 2-D density into basins (one per persistent peak).

    Bins are flooded from the densest down; each joins the basin of its densest flooded
    neighbour. Two basins meeting at a saddle merge unless the lower peak stands out by
    more than ``rel_persistence`` of its height (so noise bumps in one population do not
    split it, while two populations separated by a valley stay apart).

    Parameters
    ----------
    dens
        The density.
    floor_fraction
        Bins with density below this fraction of the maximum belong to no basin (-1).
    rel_persistence
        Relative depth a valley must have, below the lower peak, to keep two basins apart.
    min_mass
        Basins holding less than this fraction of the events are merged into the
        neighbouring basin they touch most (or dropped to -1 when isolated).

    Returns
    -------
    labels
        int ``[nx, ny]``: basin number 0..k-1 (ordered by decreasing peak height) or -1.
    info
        One dict per basin: ``x``, ``y`` (peak position), ``height``, ``mass``.
    """
    d = dens.density
    top = float(d.max()) if d.size else 0.0
    if top <= 0:
        return np.full(d.shape, -1, dtype=np.int64), []
    roots = _tomato(
        np.ascontiguousarray(d, dtype=np.float64), floor_fraction * top, rel_persistence, 0.0
    )
    total = float(d.sum())
    flat_d = d.ravel()
    lab = roots.copy()
    # merge tiny basins into the neighbour they share the longest border with
    for _ in range(8):
        uniq = np.unique(lab[lab >= 0])
        masses = {int(r): float(d[lab == r].sum()) / total for r in uniq}
        small = [r for r, m in masses.items() if m < min_mass]
        if not small:
            break
        for r in small:
            region = lab == r
            ring = _ndi.binary_dilation_3x3(region) & ~region
            neigh = lab[ring]
            neigh = neigh[(neigh >= 0) & (neigh != r)]
            if neigh.size:
                vals, cnt = np.unique(neigh, return_counts=True)
                lab[region] = vals[np.argmax(cnt)]
            else:
                lab[region] = -1
    uniq = np.unique(lab[lab >= 0])
    heights = [(float(flat_d[lab.ravel() == r].max()), int(r)) for r in uniq]
    heights.sort(reverse=True)
    out = np.full(d.shape, -1, dtype=np.int64)
    info = []
    xc, yc = dens.x_centers, dens.y_centers
    for k, (_h, r) in enumerate(heights):
        region = lab == r
        out[region] = k
        sub = np.where(region, d, -1.0)
        ix, iy = np.unravel_index(int(np.argmax(sub)), d.shape)
        info.append(
            {
                "x": float(xc[ix]),
                "y": float(yc[iy]),
                "height": float(d[ix, iy]),
                "mass": float(d[region].sum()) / total,
            }
        )
    return out, info


# --------------------------------------------------------------------------------------
# regions -> polygons
# --------------------------------------------------------------------------------------
def _trace_boundary(mask: np.ndarray) -> np.ndarray:
    """Outer boundary of a filled 4-connected region as grid-corner coordinates
    (ix, iy), counter-clockwise, without repeating the first vertex."""
    nx, ny = mask.shape
    m = np.zeros((nx + 2, ny + 2), dtype=bool)
    m[1:-1, 1:-1] = mask
    # directed edges with the region on the left: map start corner -> list of end corners
    edges: dict[tuple[int, int], list[tuple[int, int]]] = {}
    inner = m[1:-1, 1:-1]
    # the four sides of the region's cells that face a cell outside; cell (i, j) spans
    # grid corners (i..i+1, j..j+1). A corner has at most two outgoing edges (a pinch
    # point), in opposite directions, so the order of each list does not matter below.
    sides = (
        (inner & ~m[1:-1, :-2], (0, 0), (1, 0)),  # bottom side, left -> right
        (inner & ~m[2:, 1:-1], (1, 0), (1, 1)),  # right side, bottom -> top
        (inner & ~m[1:-1, 2:], (1, 1), (0, 1)),  # top side, right -> left
        (inner & ~m[:-2, 1:-1], (0, 1), (0, 0)),  # left side, top -> bottom
    )
    for side, (sx, sy), (ex, ey) in sides:
        xs, ys = np.nonzero(side)
        for i, j in zip(xs.tolist(), ys.tolist(), strict=True):
            edges.setdefault((i + sx, j + sy), []).append((i + ex, j + ey))
    if not edges:
        return np.zeros((0, 2))
    start = min(edges)  # lowest-left corner lies on the outer boundary
    path = [start]
    cur = start
    prev_dir = (1, 0)
    while True:
        outs = edges.get(cur)
        if not outs:
            break
        if len(outs) == 1:
            nxt = outs.pop()
        else:  # pinch point: take the leftmost turn to stay on one loop
            px, py = prev_dir
            cx, cy = cur
            outs.sort(key=lambda e: -(px * (e[1] - cy) - py * (e[0] - cx)))
            nxt = outs.pop(0)
        prev_dir = (nxt[0] - cur[0], nxt[1] - cur[1])
        cur = nxt
        if cur == start:
            break
        path.append(cur)
    return np.asarray(path, dtype=np.float64)


_RDP_SCALAR_SPAN = 48  # spans up to this many vertices are measured in plain Python


def _rdp(points: np.ndarray, eps: float) -> np.ndarray:
    """Ramer-Douglas-Peucker on an open polyline.

    Splits at the farthest vertex of each span (first on ties) while it lies more than
    ``eps`` from the span's chord; kept vertices are collected by index (an explicit stack
    instead of recursion and array stacking; the same distances, so the same vertices).
    """
    if len(points) < 3:
        return points
    xs = points[:, 0].tolist()
    ys = points[:, 1].tolist()
    keep = [0]
    stack = [(0, len(points) - 1)]
    while stack:
        lo, hi = stack.pop()
        if hi - lo < 2:
            keep.append(hi)
            continue
        ab = points[hi] - points[lo]
        norm = float(np.hypot(*ab))
        if norm != 0 and hi - lo <= _RDP_SCALAR_SPAN:
            # short span: the same float64 operations per vertex, without array overhead
            ax, ay = xs[lo], ys[lo]
            bx, by = float(ab[0]), float(ab[1])
            k, best = 0, -1.0
            for t in range(hi - lo + 1):
                dt = abs(bx * (ys[lo + t] - ay) - by * (xs[lo + t] - ax)) / norm
                if dt > best:  # first maximum, as np.argmax
                    k, best = t, dt
            split = best > eps
        else:
            seg = points[lo : hi + 1]
            rel = seg - seg[0]
            if norm == 0:
                dist = np.hypot(rel[:, 0], rel[:, 1])
            else:
                dist = np.abs(ab[0] * rel[:, 1] - ab[1] * rel[:, 0]) / norm
            k = int(np.argmax(dist))
            split = dist[k] > eps
        if split:
            stack.append((lo + k, hi))  # right half after the left one
            stack.append((lo, lo + k))
        else:
            keep.append(hi)
    return points[keep]


def simplify_polygon(vertices: np.ndarray, *, max_vertices: int = 24) -> np.ndarray:
    """Simplify a closed polygon (RDP, increasing tolerance) to at most ``max_vertices``.

    Vertices are in any units; the tolerance grows from 0.25% of the bounding-box size.
    """
    v = np.asarray(vertices, dtype=np.float64)
    if len(v) <= max_vertices:
        return v
    # split the ring at the two mutually farthest-apart vertices (first and its opposite)
    span = float(np.ptp(v, axis=0).max()) or 1.0
    i0 = 0
    i1 = int(np.argmax(np.hypot(*(v - v[i0]).T)))
    ring1 = np.vstack([v[i0 : i1 + 1]])
    ring2 = np.vstack([v[i1:], v[:1]])
    eps = 0.0025 * span
    out = v
    for _ in range(40):
        s1 = _rdp(ring1, eps)
        s2 = _rdp(ring2, eps)
        out = np.vstack([s1[:-1], s2[:-1]])
        if len(out) <= max_vertices:
            break
        eps *= 1.35
    return out


def region_to_polygon(
    region: np.ndarray,
    x_edges: np.ndarray,
    y_edges: np.ndarray,
    *,
    max_vertices: int = 24,
    fill_holes: bool = True,
    keep: str = "largest",
) -> np.ndarray:
    """Turn a set of histogram bins into one polygon (display-scale vertices ``[k, 2]``).

    Parameters
    ----------
    region
        bool ``[nx, ny]`` bins of the region.
    x_edges, y_edges
        Bin edges of the grid.
    max_vertices
        Upper bound of the vertex count after simplification.
    fill_holes
        Fill holes inside the region first (a gate has no holes).
    keep
        ``"largest"``: keep the largest 4-connected component only.

    Returns
    -------
    numpy.ndarray
        ``[k, 2]`` float64 vertices (counter-clockwise), empty ``[0, 2]`` for an empty region.
    """
    reg = np.asarray(region, dtype=bool)
    if not reg.any():
        return np.zeros((0, 2))
    lab, n = _ndi.label(reg)
    if n > 1 and keep == "largest":
        sizes = np.bincount(lab.ravel(), minlength=n + 1)[1:]  # cells per component
        reg = lab == (1 + int(np.argmax(sizes)))
    if fill_holes:
        reg = _ndi.fill_holes(reg)
    corners = _trace_boundary(reg)
    # drop collinear corners before the RDP pass
    if len(corners) > 3:
        prev = np.roll(corners, 1, axis=0)
        nxt = np.roll(corners, -1, axis=0)
        cross = (corners[:, 0] - prev[:, 0]) * (nxt[:, 1] - corners[:, 1]) - (
            corners[:, 1] - prev[:, 1]
        ) * (nxt[:, 0] - corners[:, 0])
        corners = corners[cross != 0]
    simple = simplify_polygon(corners, max_vertices=max_vertices)
    dx = float(x_edges[1] - x_edges[0])
    dy = float(y_edges[1] - y_edges[0])
    out = np.empty_like(simple)
    out[:, 0] = x_edges[0] + simple[:, 0] * dx
    out[:, 1] = y_edges[0] + simple[:, 1] * dy
    return out


def points_in_polygon(x: np.ndarray, y: np.ndarray, vertices: np.ndarray) -> np.ndarray:
    """bool [n]: which points lie inside the polygon (even-odd rule)."""
    v = np.asarray(vertices, dtype=np.float64)
    if len(v) < 3:
        return np.zeros(len(x), dtype=bool)
    return _pip(
        np.ascontiguousarray(x, dtype=np.float64) if np.asarray(x).dtype != np.float32
        else np.ascontiguousarray(x),
        np.ascontiguousarray(y, dtype=np.float64) if np.asarray(y).dtype != np.float32
        else np.ascontiguousarray(y),
        np.ascontiguousarray(v[:, 0]),
        np.ascontiguousarray(v[:, 1]),
    )
