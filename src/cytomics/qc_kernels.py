"""numba kernels of the QC stage (:mod:`cytomics.qc`).

All kernels are O(n), single pass, and allocate at most per-bin arrays: the per-event state
is the caller's boolean ``keep`` mask and ``uint8`` ``labels`` vector, updated in place.
Comparisons are done in float64 on float32 inputs, exactly as a Gating-ML evaluator does on
the same raw values, so that the exported gates reproduce the masks.

A *removal* kernel clears ``keep[i]`` and sets ``labels[i] = code`` for every event that is
still kept and falls outside the step's region; it returns the number of events removed.
NaN values are outside every region (all comparisons with NaN are false).
"""

from __future__ import annotations

import numba as nb
import numpy as np


@nb.njit(cache=True, nogil=True)
def kept_extremes(x, keep):  # pragma: no cover - compiled
    """Min and max of ``x[keep]`` over finite values, and the count of finite kept values.

    Parameters
    ----------
    x : float32[:]
    keep : bool[:]

    Returns
    -------
    (float64, float64, int64)
        ``(min, max, n_finite)``; ``(nan, nan, 0)`` when nothing is finite.
    """
    lo = np.inf
    hi = -np.inf
    n = np.int64(0)
    for i in range(x.shape[0]):
        if keep[i]:
            v = np.float64(x[i])
            if np.isfinite(v):
                n += 1
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
    if n == 0:
        return np.nan, np.nan, n
    return lo, hi, n


@nb.njit(cache=True, nogil=True)
def count_in_range(x, keep, lo, hi):  # pragma: no cover - compiled
    """Number of kept events with ``lo <= x < hi`` (float64 comparison)."""
    c = np.int64(0)
    for i in range(x.shape[0]):
        if keep[i]:
            v = np.float64(x[i])
            if v >= lo and v < hi:
                c += 1
    return c


@nb.njit(cache=True, nogil=True)
def values_in_range(x, keep, lo, hi, out):  # pragma: no cover - compiled
    """Copy kept values with ``lo <= x < hi`` into ``out`` (sized by the caller); return count."""
    c = 0
    m = out.shape[0]
    for i in range(x.shape[0]):
        if keep[i]:
            v = np.float64(x[i])
            if v >= lo and v < hi:
                if c < m:
                    out[c] = v
                c += 1
    return c


@nb.njit(cache=True, nogil=True)
def remove_outside_range(x, keep, labels, lo, hi, code):  # pragma: no cover - compiled
    """Remove kept events not satisfying ``lo <= x < hi`` (inclusive min, exclusive max).

    ``lo = -inf`` / ``hi = +inf`` leave a side open. Returns the number removed.
    """
    r = np.int64(0)
    for i in range(x.shape[0]):
        if keep[i]:
            v = np.float64(x[i])
            if not (v >= lo and v < hi):
                keep[i] = False
                labels[i] = code
                r += 1
    return r


@nb.njit(cache=True, nogil=True)
def time_bin_of(t, edges):  # pragma: no cover - compiled
    """Bin of time value ``t``: the ``b`` with ``edges[b] <= t < edges[b + 1]``.

    The first bin is open below and the last open above (``edges[0]`` and ``edges[-1]``
    are only used for the initial guess). NaN maps to -1.
    """
    nbins = edges.shape[0] - 1
    if not np.isfinite(t):
        return -1
    w = (edges[nbins] - edges[0]) / nbins
    g = (t - edges[0]) / w if w > 0 else 0.0
    if g < 0.0:
        b = 0
    elif g >= nbins:
        b = nbins - 1
    else:
        b = int(g)
    while b > 0 and t < edges[b]:
        b -= 1
    while b < nbins - 1 and t >= edges[b + 1]:
        b += 1
    return b


@nb.njit(cache=True, nogil=True)
def time_bin_stats(t, keep, edges, values, cols, los, his, nlev):  # pragma: no cover - compiled
    """Per-bin event counts and per-bin histograms of signal channels.

    Parameters
    ----------
    t : float64[:]
        Time in seconds (``Events.time_seconds``).
    keep : bool[:]
        Events taken into account.
    edges : float64[nbins + 1]
        Bin edges (see :func:`time_bin_of`).
    values : float32[:, :]
        Display-scale event matrix.
    cols : int64[k]
        Signal columns of ``values``.
    los, his : float64[k]
        Histogram range of each signal column (values are clipped into it).
    nlev : int
        Histogram levels per column.

    Returns
    -------
    counts : int64[nbins]
    hist : int32[nbins, k, nlev]
    """
    nbins = edges.shape[0] - 1
    k = cols.shape[0]
    counts = np.zeros(nbins, dtype=np.int64)
    hist = np.zeros((nbins, k, nlev), dtype=np.int32)
    scale = np.empty(k, dtype=np.float64)
    for j in range(k):
        span = his[j] - los[j]
        scale[j] = nlev / span if span > 0 else 0.0
    for i in range(t.shape[0]):
        if not keep[i]:
            continue
        b = time_bin_of(np.float64(t[i]), edges)
        if b < 0:
            continue
        counts[b] += 1
        for j in range(k):
            v = np.float64(values[i, cols[j]])
            if not np.isfinite(v):
                continue
            lev = int((v - los[j]) * scale[j]) if v > los[j] else 0
            if lev >= nlev:
                lev = nlev - 1
            elif lev < 0:
                lev = 0
            hist[b, j, lev] += 1
    return counts, hist


@nb.njit(cache=True, nogil=True)
def remove_bad_time_bins(t, keep, labels, edges, bad, code):  # pragma: no cover - compiled
    """Remove kept events whose time bin is flagged in ``bad`` (NaN time is removed too)."""
    r = np.int64(0)
    for i in range(t.shape[0]):
        if keep[i]:
            b = time_bin_of(np.float64(t[i]), edges)
            if b < 0 or bad[b]:
                keep[i] = False
                labels[i] = code
                r += 1
    return r


@nb.njit(cache=True, nogil=True)
def count_non_decreasing(t):  # pragma: no cover - compiled
    """Number of consecutive steps with ``t[i + 1] >= t[i]``."""
    c = np.int64(0)
    for i in range(t.shape[0] - 1):
        if t[i + 1] >= t[i]:
            c += 1
    return c


@nb.njit(cache=True, nogil=True)
def ratio_sample(a, h, keep, offset, stride):  # pragma: no cover - compiled
    """``a / (h + offset)`` of every ``stride``-th kept event with ``h + offset > 0``.

    Returns a float64 array (length ~ n_kept / stride) for robust statistics.
    """
    n = 0
    for i in range(a.shape[0]):
        if keep[i]:
            n += 1
    m = n // stride + 1
    out = np.empty(m, dtype=np.float64)
    c = 0
    seen = 0
    for i in range(a.shape[0]):
        if keep[i]:
            if seen % stride == 0:
                d = np.float64(h[i]) + offset
                v = np.float64(a[i])
                if d > 0.0 and np.isfinite(v) and np.isfinite(d) and c < m:
                    out[c] = v / d
                    c += 1
            seen += 1
    return out[:c]


@nb.njit(cache=True, nogil=True)
def remove_outside_band(a, h, keep, labels, c_hi, c_lo, offset, code):  # pragma: no cover
    """Remove kept events outside ``c_lo * (h + offset) <= a < c_hi * (h + offset)``.

    ``c_lo`` NaN leaves the lower side open. Returns the number removed.
    """
    r = np.int64(0)
    has_lo = np.isfinite(c_lo)
    for i in range(a.shape[0]):
        if keep[i]:
            d = np.float64(h[i]) + offset
            v = np.float64(a[i])
            inside = v < c_hi * d
            if has_lo:
                inside = inside and v >= c_lo * d
            if not inside:
                keep[i] = False
                labels[i] = code
                r += 1
    return r


@nb.njit(cache=True, nogil=True)
def kept_sample(x, keep, stride):  # pragma: no cover - compiled
    """Finite values of every ``stride``-th kept event, as float64."""
    n = 0
    for i in range(x.shape[0]):
        if keep[i]:
            n += 1
    m = n // stride + 1
    out = np.empty(m, dtype=np.float64)
    c = 0
    seen = 0
    for i in range(x.shape[0]):
        if keep[i]:
            if seen % stride == 0:
                v = np.float64(x[i])
                if np.isfinite(v) and c < m:
                    out[c] = v
                    c += 1
            seen += 1
    return out[:c]


@nb.njit(cache=True, nogil=True)
def kept_histogram(x, keep, lo, hi, nbins, log_scale):  # pragma: no cover - compiled
    """Histogram of kept finite values on ``[lo, hi]`` (``log10`` of x when ``log_scale``;
    values outside the range are ignored)."""
    counts = np.zeros(nbins, dtype=np.float64)
    span = hi - lo
    if span <= 0:
        return counts
    scale = nbins / span
    for i in range(x.shape[0]):
        if keep[i]:
            v = np.float64(x[i])
            if log_scale:
                if v <= 0:
                    continue
                v = np.log10(v)
            if not np.isfinite(v) or v < lo or v > hi:
                continue
            b = int((v - lo) * scale)
            if b >= nbins:
                b = nbins - 1
            counts[b] += 1.0
    return counts


@nb.njit(cache=True, nogil=True)
def kept_sample_below(y, x, keep, x_max, stride):  # pragma: no cover - compiled
    """Finite ``y`` of every ``stride``-th kept event with ``x < x_max``, as float64."""
    n = 0
    for i in range(x.shape[0]):
        if keep[i] and np.float64(x[i]) < x_max:
            n += 1
    m = n // stride + 1
    out = np.empty(m, dtype=np.float64)
    c = 0
    seen = 0
    for i in range(x.shape[0]):
        if keep[i] and np.float64(x[i]) < x_max:
            if seen % stride == 0:
                v = np.float64(y[i])
                if np.isfinite(v) and c < m:
                    out[c] = v
                    c += 1
            seen += 1
    return out[:c]


@nb.njit(cache=True, nogil=True)
def remove_in_box(x, y, keep, labels, x_max, y_max, code):  # pragma: no cover - compiled
    """Remove kept events with ``x < x_max`` and ``y < y_max`` (NaN is never inside).

    Returns the number removed.
    """
    r = np.int64(0)
    for i in range(x.shape[0]):
        if keep[i]:
            if np.float64(x[i]) < x_max and np.float64(y[i]) < y_max:
                keep[i] = False
                labels[i] = code
                r += 1
    return r


@nb.njit(cache=True, nogil=True)
def time_bin_sums(t, keep, edges, values, cols, los, his):  # pragma: no cover - compiled
    """Per-bin event counts and sums of clipped signals over ``edges[0] <= t <= edges[-1]``.

    Parameters
    ----------
    t : float64[:]
    keep : bool[:]
    edges : float64[nbins + 1]
        Increasing bin edges; events outside ``[edges[0], edges[-1]]`` are ignored.
    values : float32[:, :]
    cols : int64[k]
    los, his : float64[k]
        Each signal is clipped into ``[lo, hi]`` before summing.

    Returns
    -------
    counts : int64[nbins]
    sums : float64[nbins, k]
    """
    nbins = edges.shape[0] - 1
    k = cols.shape[0]
    counts = np.zeros(nbins, dtype=np.int64)
    sums = np.zeros((nbins, k), dtype=np.float64)
    t0 = edges[0]
    t1 = edges[nbins]
    for i in range(t.shape[0]):
        if not keep[i]:
            continue
        ti = np.float64(t[i])
        if not (ti >= t0 and ti <= t1):
            continue
        b = time_bin_of(ti, edges)
        counts[b] += 1
        for j in range(k):
            v = np.float64(values[i, cols[j]])
            if not np.isfinite(v):
                v = los[j]
            if v < los[j]:
                v = los[j]
            elif v > his[j]:
                v = his[j]
            sums[b, j] += v
    return counts, sums


@nb.njit(cache=True, nogil=True)
def remove_in_intervals(t, keep, labels, starts, stops, code, apply):  # pragma: no cover
    """Kept events with ``starts[k] <= t < stops[k]`` for some ``k`` (NaN time counts too:
    it lies in no kept Time range).

    Removes them when ``apply``; returns their number either way.
    """
    r = np.int64(0)
    m = starts.shape[0]
    for i in range(t.shape[0]):
        if keep[i]:
            ti = np.float64(t[i])
            inside = ti != ti
            for k in range(m):
                if ti >= starts[k] and ti < stops[k]:
                    inside = True
                    break
            if inside:
                r += 1
                if apply:
                    keep[i] = False
                    labels[i] = code
    return r
