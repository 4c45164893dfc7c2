"""Exact order statistics of long float64 arrays without a full partition.

:func:`quantiles` and :func:`median` return ``np.quantile`` (method 'linear') and
``np.median`` values bit for bit: a strided subset brackets each needed order statistic,
one pass (:func:`bracket_select`) counts the values below each bracket and collects those
inside, the statistic is selected among those few, and numpy's own interpolation
arithmetic is applied. Short, non-float64 or NaN-holding input, or a bracket that misses,
goes to numpy. QC and gating take their large medians and tail quantiles from here.
"""

from __future__ import annotations

import math

import numba as nb
import numpy as np

__all__ = ["bracket_select", "median", "order_stats", "quantiles", "robust_sd"]


@nb.njit(cache=True, nogil=True)
def bracket_select(v, lo, hi, cap):  # pragma: no cover - compiled
    """Events below and inside each bracket ``[lo[q], hi[q]]`` of ``v`` (one pass).

    Returns ``(n_below, n_inside, inside)``: per bracket the number of values ``< lo[q]``,
    the number in the bracket and, when that is at most ``cap``, those values
    (``inside[q, :n_inside[q]]``, file order; not filled otherwise). Branch-free loops:
    about half the values lie below a bracket, in random order.
    """
    nb_ = lo.shape[0]
    below = np.zeros(nb_, dtype=np.int64)
    cnt = np.zeros(nb_, dtype=np.int64)
    out = np.empty((nb_, cap + 1), dtype=np.float64)
    for q in range(nb_):
        lq = lo[q]
        hq = hi[q]
        nbq = np.int64(0)
        c = np.int64(0)
        for i in range(v.shape[0]):  # branch-free counts (vectorised)
            x = v[i]
            nbq += np.int64(x < lq)
            c += np.int64(x >= lq) & np.int64(x <= hq)
        below[q] = nbq
        cnt[q] = c
        if c > cap:
            continue
        c = 0
        for i in range(v.shape[0]):
            x = v[i]
            out[q, c] = x  # branch-free compaction (slot ``cap`` is scratch)
            c += np.int64(x >= lq) & np.int64(x <= hq)
    return below, cnt, out


def order_stats(v: np.ndarray, ranks: list[int]) -> dict[int, float] | None:
    """The values of rank ``ranks`` (0-based, sorted order) of float64 NaN-free ``v``.

    A strided subset brackets each order statistic; one pass (:func:`bracket_select`)
    counts the values below each bracket and collects those inside, and the statistic is
    selected among them. ``None`` when a bracket misses its order statistic.
    """
    n = v.size
    step = 16
    sub = v[::step]
    m = sub.size
    w = 16 + int(4.0 * math.sqrt(m))  # bracket half-width in ranks of the subset
    groups: list[list[int]] = []  # adjacent ranks share one bracket
    for r in sorted(set(ranks)):
        if groups and r == groups[-1][-1] + 1:
            groups[-1].append(r)
        else:
            groups.append([r])
    bounds = []
    for g in groups:
        c0, c1 = g[0] * m // n, g[-1] * m // n
        bounds.append((max(0, c0 - w), min(m - 1, c1 + w)))
    part = np.partition(sub, sorted({p for ab in bounds for p in ab}))
    lo = np.asarray([part[a] for a, _ in bounds], dtype=np.float64)
    hi = np.asarray([part[b] for _, b in bounds], dtype=np.float64)
    cap = 4 * (2 * w + 1) * step + 64
    below, cnt, inside = bracket_select(v, lo, hi, cap)
    got: dict[int, float] = {}
    for gi, g in enumerate(groups):
        nb_ = int(below[gi])
        if cnt[gi] > cap or g[0] < nb_ or g[-1] - nb_ >= cnt[gi]:
            return None
        sel = np.partition(inside[gi, : int(cnt[gi])], [r - nb_ for r in g])
        got.update((r, sel[r - nb_]) for r in g)
    return got


def _fast_ok(v: np.ndarray) -> bool:
    """Input :func:`order_stats` takes: long 1-d float64 without NaN."""
    return v.ndim == 1 and v.dtype == np.float64 and v.size >= 20_000 and not np.isnan(v).any()


def quantiles(values: np.ndarray, qs: list[float]) -> np.ndarray:
    """``np.quantile(values, qs)`` (method 'linear'), bit for bit, without a full partition.

    The order statistics come from :func:`order_stats`; the interpolation is numpy's own
    arithmetic (``(n - 1) q``, floor, and its two-sided ``lerp``). Short, non-float64 or
    NaN-holding input, a quantile outside ``[0, 1)`` or a bracket that misses its order
    statistic goes to ``np.quantile``.
    """
    v = values
    n = v.size
    if any(not 0.0 <= q < 1.0 for q in qs) or not _fast_ok(v):
        return np.quantile(v, qs)
    idx = []
    for q in qs:
        vi = (n - 1) * q
        prev = math.floor(vi)
        if prev + 1 > n - 1:
            return np.quantile(v, qs)
        idx.append((prev, prev + 1, vi - prev))
    got = order_stats(v, [r for a, _, _ in idx for r in (a, a + 1)])
    if got is None:
        return np.quantile(v, qs)
    out = np.empty(len(qs), dtype=np.float64)
    for j, (a, b, t) in enumerate(idx):
        lo_v, hi_v = got[a], got[b]
        d = hi_v - lo_v
        out[j] = hi_v - d * (1.0 - t) if t >= 0.5 else lo_v + d * t
    return out


def median(x: np.ndarray, *, overwrite_input: bool = False) -> float:
    """``float(np.median(x))``, bit for bit (the middle value, or ``(a + b) / 2`` of the
    two middle ones as numpy's mean of two), from :func:`order_stats` for long input.

    ``overwrite_input`` lets the fallback to ``np.median`` reorder ``x`` in place (for a
    temporary array); the fast path never modifies ``x``."""
    n = x.size
    if _fast_ok(x):
        k = n // 2
        ranks = [k] if n % 2 else [k - 1, k]
        got = order_stats(x, ranks)
        if got is not None:
            if n % 2:
                return float(got[k])
            return float((np.float64(got[k - 1]) + np.float64(got[k])) / 2.0)
    return float(np.median(x, overwrite_input=overwrite_input))


def robust_sd(x: np.ndarray, center: float | None = None) -> float:
    """Normal-consistent robust SD of ``x``: its median absolute deviation from ``center``
    (its median when ``None``) over 0.6745 (the MAD of a normal is 0.6745 SD)."""
    c = float(np.median(x)) if center is None else center
    return float(np.median(np.abs(x - c))) / 0.6745
