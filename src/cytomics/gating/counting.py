"""Per-code event counts of a label vector (one parallel pass, no int64 copy)."""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["label_counts"]

_CHUNKS = 8  # work items of the parallel pass (each keeps its own histograms)


@nb.njit(parallel=True, cache=True, nogil=True)
def _label_counts_kernel(labels: np.ndarray) -> np.ndarray:
    n = labels.shape[0]
    part = np.zeros((_CHUNKS, 4, 256), dtype=np.int64)
    for c in nb.prange(_CHUNKS):
        a = c * n // _CHUNKS
        b = (c + 1) * n // _CHUNKS
        i = a
        # four interleaved histograms: consecutive equal codes do not serialise on one counter
        while i + 4 <= b:
            part[c, 0, labels[i]] += 1
            part[c, 1, labels[i + 1]] += 1
            part[c, 2, labels[i + 2]] += 1
            part[c, 3, labels[i + 3]] += 1
            i += 4
        while i < b:
            part[c, 0, labels[i]] += 1
            i += 1
    out = np.zeros(256, dtype=np.int64)
    for c in range(_CHUNKS):
        for k in range(4):
            for j in range(256):
                out[j] += part[c, k, j]
    return out


def label_counts(labels: np.ndarray) -> np.ndarray:
    """Number of events of every uint8 label code.

    Parameters
    ----------
    labels
        uint8 ``[n]`` label codes.

    Returns
    -------
    numpy.ndarray
        int64 ``[256]``, equal to ``np.bincount(labels, minlength=256)`` (which first
        copies the labels to int64: 40 MB and ~10 ms at 5 M events).
    """
    lab = np.ascontiguousarray(labels)
    if lab.dtype != np.uint8 or lab.ndim != 1:
        return np.bincount(np.asarray(labels, dtype=np.int64).ravel(), minlength=256)
    return _label_counts_kernel(lab)
