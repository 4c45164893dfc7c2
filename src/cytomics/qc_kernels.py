"""numba kernels of the QC stage (:mod:`cytomics.qc`).

All kernels are O(n) single passes over the event matrix and allocate at most per-bin or
per-sample arrays: the per-event state is the caller's boolean ``keep`` mask and ``uint8``
``labels`` vector, updated in place. Several steps are fused into one pass (a removal and
the statistics of the next step; a sample and the extremes of the same columns).

Columns are read straight from a float32 event matrix through a *column spec*
``(src, col, a, b, gain)`` (see :func:`raw_value`): ``a == 0`` when ``src`` holds the raw
values, else the inverse of the linear display scale (``flin``) recovers them after in-place
pre-processing, ``float32(y * a - b)`` exactly as ``Events.raw_column``; ``gain`` != 1
divides by ``$PnG`` in float64 (FlowKit scale values). No full-length column is materialised
for linear (default) scatter scales.

Comparisons are done in float64, exactly as a Gating-ML evaluator does on the same raw
values, so that the exported gates reproduce the masks. A *removal* clears ``keep[i]`` and
sets ``labels[i] = code`` for every event still kept that falls outside the step's region.
NaN values are outside every region (all comparisons with NaN are false).

*Strided samples* hold the finite value of every ``stride``-th kept event (counting kept
events in file order, finite or not), at most ``m`` values (``m >= n_kept // stride + 1``).
"""

from __future__ import annotations

import numba as nb
import numpy as np

#: events per work item of the parallel kernels
CHUNK = 65536


@nb.njit(cache=True, nogil=True, inline="always")
def raw_value(src, i, col, a, b, gain):  # pragma: no cover - compiled
    """Gating-ML scale value (float64) of event ``i`` in column ``col`` of ``src``.

    ``a != 0``: ``src`` holds ``flin`` display values ``y``; the raw value is
    ``float32(y * a - b)`` (``a = T + A``, ``b = A``; as ``Events.raw_column``).
    ``gain != 1``: divided by ``$PnG``.
    """
    v = np.float64(src[i, col])
    if a != 0.0:
        v = np.float64(np.float32(v * a - b))
    if gain != 1.0:
        v = v / gain
    return v


@nb.njit(cache=True, nogil=True, parallel=True)
def time_scan(t, keep):  # pragma: no cover - compiled
    """One pass over Time: the order check and the kept extremes.

    Parameters
    ----------
    t : float64[:]
    keep : bool[:]

    Returns
    -------
    (int64, float64, float64, int64)
        ``(n_non_decreasing, min, max, n_finite)``: the number of consecutive steps with
        ``t[i + 1] >= t[i]`` (all events), and the min, max and count of the finite values
        of ``t[keep]`` (``nan, nan, 0`` when none is finite). Parallel over chunks.
    """
    n = t.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    part_lo = np.full(nch, np.inf)
    part_hi = np.full(nch, -np.inf)
    part_nf = np.zeros(nch, dtype=np.int64)
    part_nd = np.zeros(nch, dtype=np.int64)
    for c in nb.prange(nch):
        lo = np.inf
        hi = -np.inf
        nf = 0
        nd = 0
        stop = min(n, (c + 1) * CHUNK)
        for i in range(c * CHUNK, stop):
            v = np.float64(t[i])
            if i + 1 < n and t[i + 1] >= v:
                nd += 1
            if keep[i] and np.isfinite(v):
                nf += 1
                if v < lo:
                    lo = v
                if v > hi:
                    hi = v
        part_lo[c] = lo
        part_hi[c] = hi
        part_nf[c] = nf
        part_nd[c] = nd
    lo = np.inf
    hi = -np.inf
    nf = np.int64(0)
    nd = np.int64(0)
    for c in range(nch):
        lo = min(lo, part_lo[c])
        hi = max(hi, part_hi[c])
        nf += part_nf[c]
        nd += part_nd[c]
    if nf == 0:
        return nd, np.nan, np.nan, nf
    return nd, lo, hi, nf


@nb.njit(cache=True, nogil=True, inline="always")
def _first_countdown(seen, stride):  # pragma: no cover - compiled
    """Kept events to skip before the next sampled one, after ``seen`` kept events."""
    r = seen % stride
    return 0 if r == 0 else stride - r


@nb.njit(cache=True, nogil=True)
def _compact(out):  # pragma: no cover - compiled
    """``out`` without its NaN slots (order kept), in place; returns the prefix."""
    c = 0
    for q in range(out.shape[0]):
        v = out[q]
        if v == v:
            out[c] = v
            c += 1
    return out[:c]


@nb.njit(cache=True, nogil=True, parallel=True)
def scan(
    keep, labels, rsrc, rcol, ra, rb, rgain, rlo, rhi, code, ssrc, scol, sa, sb, sgain, stride
):  # pragma: no cover - compiled
    """Optional removal on one column, then statistics and a strided sample of another.

    For each kept event: when ``rcol >= 0`` it is removed (``labels = code``) unless
    ``rlo <= r < rhi`` (``r`` its raw value in column ``rcol``); when still kept and
    ``scol >= 0`` its value ``x`` in column ``scol`` enters the statistics. Parallel over
    chunks of events: a first pass removes and counts, a second one (reading only the
    sampled rows) fills the sample at the positions the kept counts before each chunk give.

    Returns
    -------
    removed : int64
    stats : float64[8]
        ``min, max, n_finite, n_at_min, n_at_max, n_minus_inf, n_plus_inf, n_kept`` of
        ``x`` over the events kept after the removal (min/max over finite values; NaN when
        none).
    sample : float64[:]
        Strided sample of ``x`` (finite values of every ``stride``-th kept event).
    """
    n = keep.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    part = np.zeros((nch, 9), dtype=np.float64)  # lo hi nf nlo nhi nni npi kept removed
    for c in nb.prange(nch):
        lo = np.inf
        hi = -np.inf
        nf = 0
        nlo = 0
        nhi = 0
        nni = 0
        npi = 0
        kept = 0
        removed = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not keep[i]:
                continue
            if rcol >= 0:
                r = raw_value(rsrc, i, rcol, ra, rb, rgain)
                if not (r >= rlo and r < rhi):
                    keep[i] = False
                    labels[i] = code
                    removed += 1
                    continue
            kept += 1
            if scol < 0:
                continue
            x = raw_value(ssrc, i, scol, sa, sb, sgain)
            if np.isfinite(x):
                nf += 1
                if x < lo:
                    lo = x
                    nlo = 1
                elif x == lo:
                    nlo += 1
                if x > hi:
                    hi = x
                    nhi = 1
                elif x == hi:
                    nhi += 1
            elif x > 0:
                npi += 1
            elif x < 0:
                nni += 1
        part[c, 0] = lo
        part[c, 1] = hi
        part[c, 2] = nf
        part[c, 3] = nlo
        part[c, 4] = nhi
        part[c, 5] = nni
        part[c, 6] = npi
        part[c, 7] = kept
        part[c, 8] = removed
    stats = np.zeros(8, dtype=np.float64)
    stats[0] = np.inf
    stats[1] = -np.inf
    removed_all = np.int64(0)
    before = np.empty(nch, dtype=np.int64)  # kept events before each chunk
    for c in range(nch):
        before[c] = np.int64(stats[7])
        if part[c, 0] < stats[0]:
            stats[0] = part[c, 0]
            stats[3] = part[c, 3]
        elif part[c, 0] == stats[0]:
            stats[3] += part[c, 3]
        if part[c, 1] > stats[1]:
            stats[1] = part[c, 1]
            stats[4] = part[c, 4]
        elif part[c, 1] == stats[1]:
            stats[4] += part[c, 4]
        for q in (2, 5, 6, 7):
            stats[q] += part[c, q]
        removed_all += np.int64(part[c, 8])
    if stats[2] == 0:
        stats[0] = np.nan
        stats[1] = np.nan
        stats[3] = 0.0
        stats[4] = 0.0
    if scol < 0:
        return removed_all, stats, np.empty(0, dtype=np.float64)
    total = np.int64(stats[7])
    out = np.empty((total + stride - 1) // stride, dtype=np.float64)
    for c in nb.prange(nch):
        seen = before[c]
        cd = _first_countdown(seen, stride)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not keep[i]:
                continue
            if cd == 0:
                x = raw_value(ssrc, i, scol, sa, sb, sgain)
                out[seen // stride] = x if np.isfinite(x) else np.nan
                cd = stride - 1
            else:
                cd -= 1
            seen += 1
    return removed_all, stats, _compact(out)


@nb.njit(cache=True, nogil=True, parallel=True)
def _kept_per_chunk(keep, nch):  # pragma: no cover - compiled
    """Kept events in each :data:`CHUNK` of ``keep``: int64 ``[nch]``."""
    n = keep.shape[0]
    kept = np.zeros(nch, dtype=np.int64)
    for c in nb.prange(nch):
        q = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if keep[i]:
                q += 1
        kept[c] = q
    return kept


@nb.njit(cache=True, nogil=True)
def _exclusive_prefix(counts):  # pragma: no cover - compiled
    """Counts before each chunk (int64 ``[nch]``) and their total: each chunk's offset."""
    before = np.empty(counts.shape[0], dtype=np.int64)
    total = np.int64(0)
    for c in range(counts.shape[0]):
        before[c] = total
        total += counts[c]
    return before, total


@nb.njit(cache=True, nogil=True, parallel=True)
def margin_pass(keep, src, cols, a, b, gain, thr_lo, thr_hi, stride, n_kept, cap, copy):  # pragma: no cover
    """Extremes, strided samples and removal candidates of several margin columns at once.

    One pass over the kept events reads every column ``cols[j]`` of ``src`` (spec
    ``(a[j], b[j], gain[j])``, see :func:`raw_value`). An event with a non-finite value or
    a value ``< thr_lo[j]`` or ``>= thr_hi[j]`` in any column is a *candidate* (listed by
    index); the extremes (and the events at them) are taken over the other, *clean*,
    events. With the candidates' values read by index, the caller has the statistics of
    the kept events after removing any subset of candidates, and every event a margin
    bound can remove (beyond the range thresholds, non-finite, at an extreme) is listed.

    ``copy`` (float32 ``[n, kc]``, ``kc <= k``; ``[0, 0]`` for none) receives the raw values
    (before ``gain``) of the first ``kc`` columns of the kept events: a compact copy that
    later passes read instead of the whole event matrix.

    Parallel over chunks of events: one pass takes the per-chunk extremes, counts,
    samples and the copy, and notes the indices of the candidates and of the events at
    the chunk's running extremes at the chunk's own offset in scratch arrays (only their
    touched pages are ever mapped); the merge copies them to their exact positions.

    Returns
    -------
    clean : float64[k, 4]
        ``min, max, n_at_min, n_at_max`` over the clean events (``inf, -inf, 0, 0`` when
        none).
    clean_min, clean_max : int64[k, cap]
        Indices of the clean events at the minimum / maximum (the first ``cap``).
    cand : int64[:]
        Candidate indices in event order (complete when ``n_cand <= cap``).
    n_cand : int64
    n_seen : int64
        Kept events.
    sample : float32[k, m]
        Raw values (before ``gain``) of every ``stride``-th kept event.
    """
    n = keep.shape[0]
    k = cols.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    kc = copy.shape[1] if copy.shape[0] == n else 0
    m = (n_kept + stride - 1) // stride
    sample = np.empty((k, m), dtype=np.float32)
    before, seen_all = _exclusive_prefix(_kept_per_chunk(keep, nch))
    clo = np.full((nch, k), np.inf)
    chi = np.full((nch, k), -np.inf)
    cnlo = np.zeros((nch, k), dtype=np.int64)
    cnhi = np.zeros((nch, k), dtype=np.int64)
    ncand = np.zeros(nch, dtype=np.int64)
    # indices, written at each chunk's own offset (only the touched pages are mapped):
    # the candidates and the clean events at the chunk's running extremes
    cbuf = np.empty(n, dtype=np.int64)
    lbuf = np.empty((k, n), dtype=np.int64)
    hbuf = np.empty((k, n), dtype=np.int64)
    for c in nb.prange(nch):
        xs = np.empty(k, dtype=np.float64)
        seen = before[c]
        cd = _first_countdown(seen, stride)
        c0 = c * CHUNK
        for i in range(c0, min(n, c0 + CHUNK)):
            if not keep[i]:
                continue
            is_cand = False
            for j in range(k):
                x = raw_value(src, i, cols[j], a[j], b[j], 1.0)
                r32 = np.float32(x)  # exact: raw values are float32
                if j < kc:
                    copy[i, j] = r32
                if cd == 0:
                    sample[j, seen // stride] = r32
                if gain[j] != 1.0:
                    x = x / gain[j]
                xs[j] = x
                if not (x >= thr_lo[j] and x < thr_hi[j] and np.isfinite(x)):
                    is_cand = True
            cd = stride - 1 if cd == 0 else cd - 1
            seen += 1
            if is_cand:
                cbuf[c0 + ncand[c]] = i
                ncand[c] += 1
                continue
            for j in range(k):
                x = xs[j]
                if x <= clo[c, j]:
                    if x < clo[c, j]:
                        clo[c, j] = x
                        cnlo[c, j] = 0
                    lbuf[j, c0 + cnlo[c, j]] = i
                    cnlo[c, j] += 1
                if x >= chi[c, j]:
                    if x > chi[c, j]:
                        chi[c, j] = x
                        cnhi[c, j] = 0
                    hbuf[j, c0 + cnhi[c, j]] = i
                    cnhi[c, j] += 1
    # merge: global clean extremes and where each chunk writes its indices
    clean = np.empty((k, 4), dtype=np.float64)
    off_lo = np.zeros((nch, k), dtype=np.int64)
    off_hi = np.zeros((nch, k), dtype=np.int64)
    off_c = np.zeros(nch, dtype=np.int64)
    for j in range(k):
        glo = np.inf
        ghi = -np.inf
        for c in range(nch):
            glo = min(glo, clo[c, j])
            ghi = max(ghi, chi[c, j])
        tlo = 0
        thi = 0
        for c in range(nch):
            off_lo[c, j] = tlo
            off_hi[c, j] = thi
            if cnlo[c, j] > 0 and clo[c, j] == glo:
                tlo += cnlo[c, j]
            else:
                cnlo[c, j] = 0
            if cnhi[c, j] > 0 and chi[c, j] == ghi:
                thi += cnhi[c, j]
            else:
                cnhi[c, j] = 0
        clean[j, 0] = glo
        clean[j, 1] = ghi
        clean[j, 2] = tlo
        clean[j, 3] = thi
    n_cand = np.int64(0)
    for c in range(nch):
        off_c[c] = n_cand
        n_cand += ncand[c]
    cl_min = np.empty((k, cap), dtype=np.int64)
    cl_max = np.empty((k, cap), dtype=np.int64)
    cand = np.empty(cap, dtype=np.int64)
    for c in nb.prange(nch):
        c0 = c * CHUNK
        for q in range(min(ncand[c], cap - off_c[c])):
            cand[off_c[c] + q] = cbuf[c0 + q]
        for j in range(k):
            for q in range(min(cnlo[c, j], cap - off_lo[c, j])):
                cl_min[j, off_lo[c, j] + q] = lbuf[j, c0 + q]
            for q in range(min(cnhi[c, j], cap - off_hi[c, j])):
                cl_max[j, off_hi[c, j] + q] = hbuf[j, c0 + q]
    return clean, cl_min, cl_max, cand[: min(n_cand, cap)], n_cand, seen_all, sample


@nb.njit(cache=True, nogil=True)
def values_at(idx, src, col, a, b, gain):  # pragma: no cover - compiled
    """:func:`raw_value` of the events ``idx``."""
    out = np.empty(idx.shape[0], dtype=np.float64)
    for q in range(idx.shape[0]):
        out[q] = raw_value(src, idx[q], col, a, b, gain)
    return out


@nb.njit(cache=True, nogil=True)
def band_values(keep, src, col, a, b, gain, lo1, hi1, out1, lo2, hi2, out2):  # pragma: no cover
    """Values of kept events in ``[lo1, hi1)`` and in ``[lo2, hi2)`` (the first of each, in
    event order, up to the buffers' sizes); returns the two full counts."""
    c1 = np.int64(0)
    c2 = np.int64(0)
    m1 = out1.shape[0]
    m2 = out2.shape[0]
    for i in range(keep.shape[0]):
        if keep[i]:
            v = raw_value(src, i, col, a, b, gain)
            if v >= lo1 and v < hi1:
                if c1 < m1:
                    out1[c1] = v
                c1 += 1
            if v >= lo2 and v < hi2:
                if c2 < m2:
                    out2[c2] = v
                c2 += 1
    return c1, c2


@nb.njit(cache=True, nogil=True, parallel=True)
def rows_sample(values, cols, keep, stride, m):  # pragma: no cover - compiled
    """Columns ``cols`` of every ``stride``-th kept event: float64 ``[<= m, k]`` (NaN kept).

    Parallel over chunks: the kept counts before each chunk give each sampled row's slot.
    """
    k = cols.shape[0]
    n = keep.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    before, total = _exclusive_prefix(_kept_per_chunk(keep, nch))
    rows = min(m, (total + stride - 1) // stride)
    out = np.empty((rows, k), dtype=np.float64)
    for c in nb.prange(nch):
        seen = before[c]
        if seen >= rows * stride:
            continue
        cd = _first_countdown(seen, stride)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not keep[i]:
                continue
            if cd == 0:
                r = seen // stride
                if r >= rows:
                    break
                for j in range(k):
                    out[r, j] = np.float64(values[i, cols[j]])
                cd = stride - 1
            else:
                cd -= 1
            seen += 1
    return out


@nb.njit(cache=True, nogil=True, inline="always")
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


#: events per run of :func:`time_bin_levels` (its signal columns stay in L1)
TIME_RUN = 1024


@nb.njit(cache=True, nogil=True, parallel=True)
def time_bin_levels(t, keep, edges, values, cols, los, his, nlev):  # pragma: no cover
    """Per-bin event counts and sums of quantised signal levels.

    Each signal ``v`` of a kept event is quantised to ``lev = floor((v - lo) * nlev /
    (hi - lo))`` clipped to ``[0, nlev - 1]`` (the per-bin histogram level); the bin's mean
    of level centres is ``lo + width * (levsum / nfinite + 0.5)``.

    Parameters
    ----------
    t : float64[:]
        Time in seconds (``Events.time_seconds``).
    keep : bool[:]
    edges : float64[nbins + 1]
        Bin edges (see :func:`time_bin_of`).
    values : float32[:, :]
        Display-scale event matrix.
    cols : int64[k]
    los, his : float64[k]
        Quantisation range of each signal column.
    nlev : int
        Levels per column.

    Returns
    -------
    counts : int64[nbins]
        Kept events per bin (NaN time excluded).
    levsum : int64[nbins, k]
        Sum of levels of the finite values.
    nfinite : int64[nbins, k]
        Finite values per bin and column.
    """
    nbins = edges.shape[0] - 1
    k = cols.shape[0]
    n = t.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    scale = np.empty(k, dtype=np.float64)
    for j in range(k):
        span = his[j] - los[j]
        scale[j] = nlev / span if span > 0 else 0.0
    top = np.float64(nlev - 1)
    cnt = np.zeros((nch, nbins), dtype=np.int64)
    lsum = np.zeros((nch, nbins, k), dtype=np.int64)
    nbad = np.zeros((nch, nbins, k), dtype=np.int64)  # non-finite values
    for c in nb.prange(nch):
        c0 = c * CHUNK
        c1 = min(n, c0 + CHUNK)
        # the bin of each event of the chunk (-1: not kept, or no bin)
        bins = np.empty(c1 - c0, dtype=np.int32)
        prev = -1
        for i in range(c0, c1):
            b = -1
            if keep[i]:
                ti = np.float64(t[i])
                # events are (nearly) in time order: try the previous event's bin first
                b = prev
                if not (
                    b >= 0
                    and ti == ti
                    and (b == 0 or ti >= edges[b])
                    and (b == nbins - 1 or ti < edges[b + 1])
                ):
                    b = time_bin_of(ti, edges)
                if b >= 0:
                    prev = b
            bins[i - c0] = b
        # runs of one bin, at most TIME_RUN events: the signal columns copied row by row
        # into float64 buffers, then each summed by a branch-free loop (integer sums: the
        # totals do not depend on the order)
        buf = np.empty((k, TIME_RUN), dtype=np.float64)
        s0 = c0
        while s0 < c1:
            b = bins[s0 - c0]
            e = s0 + 1
            while e < c1 and e - s0 < TIME_RUN and bins[e - c0] == b:
                e += 1
            if b >= 0:
                cnt[c, b] += e - s0
                for i in range(s0, e):
                    for j in range(k):
                        buf[j, i - s0] = np.float64(values[i, cols[j]])
                for j in range(k):
                    bj = buf[j]
                    lo = los[j]
                    sc = scale[j]
                    acc = np.int64(0)
                    bad = np.int64(0)
                    for i in range(e - s0):
                        v = bj[i]
                        bad += not np.isfinite(v)
                        ok = (v > lo) & (v < np.inf)  # finite and above lo
                        # level min(floor(u), nlev - 1), u >= 0: as "top if u >= nlev
                        # else int(u)"; u from lo itself when not ok (no NaN/inf cast)
                        u = ((v if ok else lo) - lo) * sc
                        acc += np.int64(min(u, top)) if ok else 0
                    lsum[c, b, j] += acc
                    nbad[c, b, j] += bad
            s0 = e
    counts = np.zeros(nbins, dtype=np.int64)
    levsum = np.zeros((nbins, k), dtype=np.int64)
    nfinite = np.zeros((nbins, k), dtype=np.int64)
    for c in range(nch):
        for b in range(nbins):
            counts[b] += cnt[c, b]
            for j in range(k):
                levsum[b, j] += lsum[c, b, j]
                nfinite[b, j] -= nbad[c, b, j]
    for b in range(nbins):
        for j in range(k):
            nfinite[b, j] += counts[b]
    return counts, levsum, nfinite


@nb.njit(cache=True, nogil=True)
def _combine_extremes(part):  # pragma: no cover - compiled
    """(min x, max x, min y, max y) over per-chunk rows of ``part``; NaN pairs when no
    finite value was seen."""
    ext = np.empty(4, dtype=np.float64)
    ext[0] = np.inf
    ext[1] = -np.inf
    ext[2] = np.inf
    ext[3] = -np.inf
    for c in range(part.shape[0]):
        ext[0] = min(ext[0], part[c, 0])
        ext[1] = max(ext[1], part[c, 1])
        ext[2] = min(ext[2], part[c, 2])
        ext[3] = max(ext[3], part[c, 3])
    for q in (0, 2):
        if ext[q] > ext[q + 1]:
            ext[q] = np.nan
            ext[q + 1] = np.nan
    return ext

@nb.njit(cache=True, nogil=True, parallel=True)
def ratio_scan(
    keep, asrc, acol, aa, ab, again, hsrc, hcol, ha, hb, hgain, offset, stride
):  # pragma: no cover - compiled
    """Strided sample of ``a / (h + offset)`` and the extremes of ``a`` and ``h``.

    The sample takes every ``stride``-th kept event with ``h + offset > 0`` and finite
    ``a``, ``h + offset``. Returns ``(sample, ext)`` with ``ext = [amin, amax, hmin, hmax]``
    over finite kept values (NaN when none). Parallel over chunks (two passes, the second
    reading only the sampled rows).
    """
    n = keep.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    part = np.empty((nch, 4), dtype=np.float64)
    kept = np.zeros(nch, dtype=np.int64)
    for c in nb.prange(nch):
        amin = np.inf
        amax = -np.inf
        hmin = np.inf
        hmax = -np.inf
        k = 0
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not keep[i]:
                continue
            k += 1
            a = raw_value(asrc, i, acol, aa, ab, again)
            h = raw_value(hsrc, i, hcol, ha, hb, hgain)
            if np.isfinite(a):
                amin = min(amin, a)
                amax = max(amax, a)
            if np.isfinite(h):
                hmin = min(hmin, h)
                hmax = max(hmax, h)
        part[c, 0] = amin
        part[c, 1] = amax
        part[c, 2] = hmin
        part[c, 3] = hmax
        kept[c] = k
    ext = _combine_extremes(part)
    before, total = _exclusive_prefix(kept)
    out = np.empty((total + stride - 1) // stride, dtype=np.float64)
    for c in nb.prange(nch):
        seen = before[c]
        cd = _first_countdown(seen, stride)
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if not keep[i]:
                continue
            if cd == 0:
                a = raw_value(asrc, i, acol, aa, ab, again)
                d = raw_value(hsrc, i, hcol, ha, hb, hgain) + offset
                ok = d > 0.0 and np.isfinite(a) and np.isfinite(d)
                out[seen // stride] = a / d if ok else np.nan
                cd = stride - 1
            else:
                cd -= 1
            seen += 1
    return _compact(out), ext


@nb.njit(cache=True, nogil=True, parallel=True)
def remove_outside_band(
    keep, labels, asrc, acol, aa, ab, again, hsrc, hcol, ha, hb, hgain, c_hi, c_lo, offset, code
):  # pragma: no cover - compiled
    """Remove kept events outside ``c_lo * (h + offset) <= a < c_hi * (h + offset)``.

    ``c_lo`` NaN leaves the lower side open. Returns the number removed.
    """
    n = keep.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    has_lo = np.isfinite(c_lo)
    r = np.zeros(nch, dtype=np.int64)
    for c in nb.prange(nch):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if keep[i]:
                d = raw_value(hsrc, i, hcol, ha, hb, hgain) + offset
                v = raw_value(asrc, i, acol, aa, ab, again)
                inside = v < c_hi * d
                if has_lo:
                    inside = inside and v >= c_lo * d
                if not inside:
                    keep[i] = False
                    labels[i] = code
                    r[c] += 1
    return r.sum()


@nb.njit(cache=True, nogil=True, parallel=True)
def kept_histogram(keep, src, col, a, b, gain, lo, hi, nbins, log_scale):  # pragma: no cover
    """Histogram of kept finite values on ``[lo, hi]`` (``log10`` of x when ``log_scale``;
    values outside the range are ignored). float64 counts."""
    n = keep.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    part = np.zeros((nch, nbins), dtype=np.int64)
    counts = np.zeros(nbins, dtype=np.float64)
    span = hi - lo
    if span <= 0:
        return counts
    scale = nbins / span
    for c in nb.prange(nch):
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if keep[i]:
                v = raw_value(src, i, col, a, b, gain)
                if log_scale:
                    if v <= 0:
                        continue
                    v = np.log10(v)
                if not np.isfinite(v) or v < lo or v > hi:
                    continue
                q = int((v - lo) * scale)
                if q >= nbins:
                    q = nbins - 1
                part[c, q] += 1
    for c in range(nch):
        for q in range(nbins):
            counts[q] += part[c, q]
    return counts


@nb.njit(cache=True, nogil=True)
def sample_below(
    keep, ysrc, ycol, ya, yb, ygain, xsrc, xcol, xa, xb, xgain, x_max, stride, m
):  # pragma: no cover
    """Finite ``y`` of every ``stride``-th kept event with ``x < x_max`` (at most ``m``)."""
    out = np.empty(m, dtype=np.float64)
    c = 0
    seen = np.int64(0)
    cd = np.int64(0)  # countdown to the next sampled event (no modulo)
    for i in range(keep.shape[0]):
        if keep[i] and raw_value(xsrc, i, xcol, xa, xb, xgain) < x_max:
            if cd == 0:
                v = raw_value(ysrc, i, ycol, ya, yb, ygain)
                if np.isfinite(v) and c < m:
                    out[c] = v
                    c += 1
            seen += 1
            cd = stride - 1 if cd == 0 else cd - 1
    return out[:c]


@nb.njit(cache=True, nogil=True, parallel=True)
def remove_in_box(
    keep, labels, xsrc, xcol, xa, xb, xgain, ysrc, ycol, ya, yb, ygain, x_max, y_max, code
):  # pragma: no cover - compiled
    """Remove kept events with ``x < x_max`` and ``y < y_max`` (NaN is never inside).

    Returns ``(removed, ext)``, ``ext = [xmin, xmax, ymin, ymax]`` over the finite values
    of the events still kept afterwards (NaN when none).
    """
    n = keep.shape[0]
    nch = (n + CHUNK - 1) // CHUNK
    r = np.zeros(nch, dtype=np.int64)
    ex = np.empty((nch, 4), dtype=np.float64)
    for c in nb.prange(nch):
        xmin = np.inf
        xmax = -np.inf
        ymin = np.inf
        ymax = -np.inf
        for i in range(c * CHUNK, min(n, (c + 1) * CHUNK)):
            if keep[i]:
                x = raw_value(xsrc, i, xcol, xa, xb, xgain)
                y = raw_value(ysrc, i, ycol, ya, yb, ygain)
                if x < x_max and y < y_max:
                    keep[i] = False
                    labels[i] = code
                    r[c] += 1
                    continue
                if np.isfinite(x):
                    xmin = min(xmin, x)
                    xmax = max(xmax, x)
                if np.isfinite(y):
                    ymin = min(ymin, y)
                    ymax = max(ymax, y)
        ex[c, 0] = xmin
        ex[c, 1] = xmax
        ex[c, 2] = ymin
        ex[c, 3] = ymax
    return r.sum(), _combine_extremes(ex)


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
