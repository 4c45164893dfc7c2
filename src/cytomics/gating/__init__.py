"""Gating: gate geometry, numba membership kernels, ALOT strategy, Gating-ML 2.0 I/O."""
