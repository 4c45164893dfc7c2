"""The few ``scipy.ndimage`` operations the density module needs, without importing it.

``import scipy.ndimage`` costs ~0.2 s per process (it loads scipy's array-API layer).
Each function here gives the same array as its scipy counterpart, bit for bit:

* :func:`gaussian_filter1d` / :func:`gaussian_filter` (``mode="constant"``, ``cval=0``,
  ``truncate=4``): the same kernel weights (``_gaussian_kernel1d``) and the same
  summation order as scipy's symmetric-kernel correlation (centre product first, then
  the outermost pair inwards, each pair summed before its weight is applied);
* :func:`binary_dilation_3x3`, :func:`label` (4-connectivity, labels numbered in
  raster order of their first cell), :func:`fill_holes` (4-connected background
  reaching the border stays background).
"""

from __future__ import annotations

import numba as nb
import numpy as np

__all__ = ["binary_dilation_3x3", "fill_holes", "gaussian_filter", "gaussian_filter1d", "label"]


def _weights(sigma: float, truncate: float = 4.0) -> np.ndarray:
    sd = float(sigma)
    radius = int(truncate * sd + 0.5)
    sigma2 = sigma * sigma
    x = np.arange(-radius, radius + 1)
    phi_x = np.exp(-0.5 / sigma2 * x**2)
    phi_x = phi_x / phi_x.sum()
    return phi_x[::-1]


def _filter_axis(a: np.ndarray, sigma: float, axis: int) -> np.ndarray:
    w = _weights(sigma)
    r = w.size // 2
    x = np.moveaxis(np.asarray(a, dtype=np.float64), axis, -1)
    n = x.shape[-1]
    pad = [(0, 0)] * (x.ndim - 1) + [(r, r)]
    xp = np.pad(x, pad)
    out = xp[..., r : r + n] * w[r]
    for j in range(r, 0, -1):
        out = out + (xp[..., r - j : r - j + n] + xp[..., r + j : r + j + n]) * w[r - j]
    return np.moveaxis(out, -1, axis)


def gaussian_filter1d(a: np.ndarray, sigma: float) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter1d(a, sigma, mode="constant")`` of a 1-D array."""
    return _filter_axis(a, sigma, 0)


def gaussian_filter(a: np.ndarray, sigma: float | tuple[float, ...]) -> np.ndarray:
    """``scipy.ndimage.gaussian_filter(a, sigma, mode="constant")`` (float64 input)."""
    out = np.asarray(a, dtype=np.float64)
    sig = [float(sigma)] * out.ndim if np.ndim(sigma) == 0 else [float(s) for s in sigma]
    done = False
    for axis, s in enumerate(sig):
        if s > 1e-15:
            out = _filter_axis(out, s, axis)
            done = True
    return out if done else out.copy()


def binary_dilation_3x3(region: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.binary_dilation(region, structure=np.ones((3, 3), bool))``."""
    r = np.asarray(region, dtype=bool)
    p = np.zeros((r.shape[0] + 2, r.shape[1] + 2), dtype=bool)
    p[1:-1, 1:-1] = r
    out = np.zeros_like(r)
    nx, ny = r.shape
    for dx in range(3):
        for dy in range(3):
            out |= p[dx : dx + nx, dy : dy + ny]
    return out


@nb.njit(cache=True, nogil=True)
def _label4(mask: np.ndarray) -> tuple[np.ndarray, int]:
    nx, ny = mask.shape
    lab = np.zeros((nx, ny), dtype=np.int32)
    stack = np.empty(nx * ny, dtype=np.int64)
    n = 0
    for i0 in range(nx):
        for j0 in range(ny):
            if not mask[i0, j0] or lab[i0, j0] != 0:
                continue
            n += 1
            lab[i0, j0] = n
            top = 0
            stack[top] = i0 * ny + j0
            top += 1
            while top > 0:
                top -= 1
                i = stack[top] // ny
                j = stack[top] % ny
                if i > 0 and mask[i - 1, j] and lab[i - 1, j] == 0:
                    lab[i - 1, j] = n
                    stack[top] = (i - 1) * ny + j
                    top += 1
                if i + 1 < nx and mask[i + 1, j] and lab[i + 1, j] == 0:
                    lab[i + 1, j] = n
                    stack[top] = (i + 1) * ny + j
                    top += 1
                if j > 0 and mask[i, j - 1] and lab[i, j - 1] == 0:
                    lab[i, j - 1] = n
                    stack[top] = i * ny + j - 1
                    top += 1
                if j + 1 < ny and mask[i, j + 1] and lab[i, j + 1] == 0:
                    lab[i, j + 1] = n
                    stack[top] = i * ny + j + 1
                    top += 1
    return lab, n


def label(mask: np.ndarray) -> tuple[np.ndarray, int]:
    """``scipy.ndimage.label(mask)`` of a 2-D mask (4-connectivity): labels int32, count."""
    return _label4(np.ascontiguousarray(mask, dtype=np.bool_))


def fill_holes(mask: np.ndarray) -> np.ndarray:
    """``scipy.ndimage.binary_fill_holes(mask)`` of a 2-D mask."""
    m = np.asarray(mask, dtype=bool)
    p = np.ones((m.shape[0] + 2, m.shape[1] + 2), dtype=bool)  # background frame
    p[1:-1, 1:-1] = ~m
    lab, _ = _label4(p)
    outside = lab == lab[0, 0]  # the padded frame is background connected to the border
    return ~outside[1:-1, 1:-1]
