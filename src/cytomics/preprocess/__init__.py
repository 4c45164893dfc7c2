"""Pre-processing: compensation and transforms (numba kernels)."""
