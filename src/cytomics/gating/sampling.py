"""Event sampling for the ALOT gating: decisions are taken on a sample of the events."""

from __future__ import annotations

from dataclasses import replace

import numpy as np

from cytomics.preprocess.model import Events

__all__ = ["sample_events", "sample_rows"]


def sample_rows(keep: np.ndarray, k: int, *, seed: int = 0) -> np.ndarray:
    """Sorted indices of ``k`` events drawn at random among those where ``keep`` holds (all
    of them when there are no more than ``k``); deterministic per seed.

    A stratified random sample: the tube is cut into equal strata along acquisition order,
    one event is drawn at random in each, those outside ``keep`` are dropped and the rest
    thinned evenly to ``k``. Every event has (to within one event per stratum) the same
    chance to be drawn, the sample covers the whole acquisition, and no index array of all
    kept events (40 MB at 5 M events) nor a sort is needed.
    """
    n = keep.size
    n_keep = int(np.count_nonzero(keep))
    if n_keep <= k:
        return np.flatnonzero(keep)
    rng = np.random.default_rng(seed)
    m = min(n, int(1.1 * k * n / n_keep) + 1000)
    edges = (np.arange(m + 1, dtype=np.int64) * n) // m  # m disjoint strata, >= 1 event
    cand = edges[:-1] + (rng.random(m) * np.diff(edges)).astype(np.int64)
    cand = cand[keep[cand]]
    if cand.size < k:  # pathological: kept events bunched in a few strata
        cand = np.flatnonzero(keep)
    return cand[np.linspace(0, cand.size - 1, k).astype(np.int64)]


def sample_events(events: Events, rows: np.ndarray) -> Events:
    """The events of ``rows`` as their own :class:`Events` (a copy of those rows only)."""
    values = np.take(events.values, rows, axis=0)  # same rows as fancy indexing, ~3x faster
    acq = events.acquisition
    return Events(
        acquisition=replace(acq, events=values),
        values=values,
        transforms=events.transforms,
        spillover=events.spillover,
        markers=dict(events.markers),
        time_seconds=None,
        raw_overwritten=True,
    )

