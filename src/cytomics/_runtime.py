"""Process-level runtime settings applied by entry points (CLI, benchmarks), not on import.

NumPy asks the kernel for transparent huge pages on large allocations. With the common
``defrag=madvise`` setting, a first touch of a fresh 240 MB event matrix then stalls on
direct memory compaction: measured on the project machine (2 cores) at 0.03–0.52 s for a
5M x 12 float32 array, against a steady 0.08 s with ordinary pages. The pipeline allocates a
few such matrices per process and never reuses them, so predictable ordinary pages win.

numba's OpenMP threading layer (GNU libgomp) lets idle worker threads spin between parallel
regions by default. The pipeline alternates short parallel kernels with serial Python/NumPy
work, so the spinning workers burn a core the serial work, other sample jobs and the
background checksum could use: ``OMP_WAIT_POLICY=PASSIVE`` (workers sleep) cut the CPU time
of QC + gating on a 5M-event tube by ~0.09 s with the same wall time on a quiet 2-core
machine, and the wall time of the chain from 1.42 s to 1.08 s on a loaded one. It must be
set before numba starts its thread pool (the first parallel kernel), hence here.
"""

from __future__ import annotations

import os


def configure_numpy_allocation() -> None:
    """Apply the process settings (see module docstring): NumPy's huge-page ``madvise``
    off, and sleeping (not spinning) OpenMP workers unless ``OMP_WAIT_POLICY`` is set."""
    os.environ.setdefault("OMP_WAIT_POLICY", "PASSIVE")
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - other NumPy layouts
        return
    _set_madvise_hugepage(False)
