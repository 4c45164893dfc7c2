"""Process-level runtime settings applied by entry points (CLI, benchmarks), not on import.

NumPy asks the kernel for transparent huge pages on large allocations. With the common
``defrag=madvise`` setting, a first touch of a fresh 240 MB event matrix then stalls on
direct memory compaction: measured on the project machine (2 cores) at 0.03–0.52 s for a
5M x 12 float32 array, against a steady 0.08 s with ordinary pages. The pipeline allocates a
few such matrices per process and never reuses them, so predictable ordinary pages win.
"""

from __future__ import annotations


def configure_numpy_allocation() -> None:
    """Turn off NumPy's huge-page ``madvise`` for this process (see module docstring)."""
    try:
        from numpy._core.multiarray import _set_madvise_hugepage
    except ImportError:  # pragma: no cover - other NumPy layouts
        return
    _set_madvise_hugepage(False)
