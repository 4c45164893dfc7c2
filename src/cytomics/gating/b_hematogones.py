"""Normal B precursors (hematogones) swept into a small B blast call, told apart on forward
scatter.

A small B-ALL beside a regenerating marrow: the leukemic cluster's CD45 / SSC / CD34 edge
may take in the CD34+ CD45-dim stage I hematogones, which share the blasts' phenotype on
the ALOT tube. Hematogones are small lymphoid cells (the forward scatter of the mature
lymphocytes); B blasts are usually larger. Within the called B cluster a two-component
Gaussian mixture on CD45 vs log FSC finds such a subset; it is removed only when it is
clearly a separate, small-cell, CD45-brighter population (continuous with the maturation
path towards the lymphocytes) beside larger blasts. The FSC scale is read off the sample's
own lymphocytes, so no generator's absolute scatter level enters the rule.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numba
import numpy as np

from cytomics.gating import density as dens
from cytomics.gating.alot_regions import scatter_column
from cytomics.order_stats import robust_sd

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings
    from cytomics.preprocess.model import Events

__all__ = ["HEMATOGONE_FSC_GATE", "fsc_column", "hematogone_fsc_polygon"]

#: Gate id of the small forward-scatter hematogones cut out of a B blast call (CD45 vs FSC).
HEMATOGONE_FSC_GATE = "alot_b_hematogones_fsc"


def fsc_column(events: Events) -> int | None:
    """Column of the forward-scatter channel (area preferred), ``None`` without one."""
    return scatter_column(events, ("FSC-A", "FSC-H", "FSC", "FS", "FS INT LIN", "FS-A"),
                          ("FSC", "FS "))


def hematogone_fsc_polygon(
    x45: np.ndarray, fsc: np.ndarray, lymph_fsc: np.ndarray, s: AlotGatingSettings,
) -> tuple[np.ndarray | None, dict[str, float]]:
    """Polygon (CD45, linear FSC) of hematogones inside a called B blast cluster.

    A two-component full-covariance Gaussian mixture is fitted to the called events on
    CD45 vs log FSC. The smaller-FSC component is hematogones when (i) the two components
    are separated on log FSC (Ashman's D at least ``b_fsc_ashman_min``: two modes, not one
    skewed cloud), (ii) its FSC is that of small lymphoid cells (mean within
    ``b_fsc_small_sd_k`` robust SDs of the lymphocytes' median log FSC) while the other
    component's lies at least ``b_fsc_large_sd_k`` such SDs above it (blasts as small as
    lymphocytes cannot be told from hematogones on FSC), (iii) it is brighter on CD45 by
    at least ``b_fsc_cd45_sep_min`` pooled component SDs (the direction of B maturation),
    and (iv) the larger component keeps at least ``b_fsc_keep_min`` of the events. The
    polygon is where the hematogone component is the more probable one and within its
    own Mahalanobis distance² ``b_fsc_mahal_sq``.

    Parameters
    ----------
    x45, fsc
        CD45 and forward scatter (display scale) of the called B events.
    lymph_fsc
        Forward scatter of the lymphocyte-region events (the small-cell reference).

    Returns
    -------
    polygon, stats
        Polygon (``None`` without a hematogone component) and the measured quantities
        (``ashman``, ``small_sd``, ``large_sd``, ``cd45_sep``, ``weight``).
    """
    stats: dict[str, float] = {}
    if x45.size < s.b_fsc_min_events or lymph_fsc.size < s.b_fsc_min_events:
        return None, stats
    ll = np.log(np.maximum(lymph_fsc.astype(np.float64), 1e-4))
    ref, rsd = float(np.median(ll)), max(robust_sd(ll), 1e-3)
    # a two-component mixture in 2-D needs no more than a few thousand events
    step = max(1, -(-x45.size // s.b_fsc_fit_events))
    z = np.column_stack([x45[::step].astype(np.float64),
                         np.log(np.maximum(fsc[::step].astype(np.float64), 1e-4))])
    w, mu, cov = _two_gaussians(z)
    h = int(np.argmin(mu[:, 1]))
    a = 1 - h
    ashman = float((mu[a, 1] - mu[h, 1]) / np.sqrt(0.5 * (cov[a, 1, 1] + cov[h, 1, 1])))
    cd45_sep = float((mu[h, 0] - mu[a, 0]) / np.sqrt(0.5 * (cov[a, 0, 0] + cov[h, 0, 0])))
    stats = {"ashman": ashman, "small_sd": float((mu[h, 1] - ref) / rsd),
             "large_sd": float((mu[a, 1] - ref) / rsd), "cd45_sep": cd45_sep,
             "weight": float(w[h])}
    if not (ashman >= s.b_fsc_ashman_min
            and abs(stats["small_sd"]) <= s.b_fsc_small_sd_k
            and stats["large_sd"] >= s.b_fsc_large_sd_k
            and cd45_sep >= s.b_fsc_cd45_sep_min
            and 1.0 - stats["weight"] >= s.b_fsc_keep_min):
        return None, stats
    # grid over the called events; the hematogone region: component h more probable and
    # within its own Mahalanobis distance
    lo = np.quantile(z, 0.001, axis=0) - 0.05
    hi = np.quantile(z, 0.999, axis=0) + 0.05
    nb = 96
    xe, ye = np.linspace(lo[0], hi[0], nb + 1), np.linspace(lo[1], hi[1], nb + 1)
    xc, yc = 0.5 * (xe[1:] + xe[:-1]), 0.5 * (ye[1:] + ye[:-1])
    g = np.column_stack([np.repeat(xc, nb), np.tile(yc, nb)])
    lp = _log_densities(g, w, mu, cov)
    post = np.exp(lp[:, h] - np.logaddexp(lp[:, 0], lp[:, 1]))
    d = g - mu[h]
    m2 = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov[h]), d)
    region = ((post > 0.5) & (m2 <= s.b_fsc_mahal_sq)).reshape(nb, nb)
    if not region.any():
        return None, stats
    poly = dens.region_to_polygon(region, xe, ye, max_vertices=s.max_vertices)
    if len(poly) < 3:
        return None, stats
    return np.column_stack([poly[:, 0], np.exp(poly[:, 1])]), stats


def _log_densities(z: np.ndarray, w: np.ndarray, mu: np.ndarray, cov: np.ndarray) -> np.ndarray:
    """log(weight x Gaussian density) of each point ``z [n, 2]`` under each component."""
    out = np.empty((z.shape[0], w.size))
    for k in range(w.size):
        d = z - mu[k]
        m2 = np.einsum("ij,jk,ik->i", d, np.linalg.inv(cov[k]), d)
        out[:, k] = (np.log(max(w[k], 1e-300)) - 0.5 * m2
                     - 0.5 * np.log(np.linalg.det(cov[k])) - np.log(2.0 * np.pi))
    return out


def _two_gaussians(
    z: np.ndarray, *, max_iter: int = 100, tol: float = 1e-7, reg: float = 1e-6,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Maximum-likelihood two-component full-covariance Gaussian mixture of ``z [n, 2]``
    by EM, started from the split at the median of the second column (deterministic).
    Two separate components converge within ``max_iter`` (measured: identical fits at
    100 and 300 iterations on the cases where hematogones are removed); a single cloud
    only wanders, and is rejected by the bimodality test whatever its last step.

    Returns weights ``[2]``, means ``[2, 2]`` and covariances ``[2, 2, 2]``.
    """
    z = np.ascontiguousarray(z, dtype=np.float64)
    hi = z[:, 1] > np.median(z[:, 1])
    return _em_two_gaussians_2d(z, hi, max_iter, tol, reg)


@numba.njit(cache=True, nogil=True)
def _em_two_gaussians_2d(z, hi, max_iter, tol, reg):  # pragma: no cover - numba
    """EM of a two-component full-covariance Gaussian mixture in 2-D (one pass over the
    events per M and E step; the 2x2 inverses are closed-form)."""
    n = z.shape[0]
    resp = np.zeros((n, 2))
    for i in range(n):
        resp[i, 1 if hi[i] else 0] = 1.0
    w = np.zeros(2)
    mu = np.zeros((2, 2))
    cov = np.zeros((2, 2, 2))
    prev = -np.inf
    log2pi = np.log(2.0 * np.pi)
    for _ in range(max_iter):
        nk = np.zeros(2)
        sx = np.zeros((2, 2))
        for i in range(n):
            for k in range(2):
                r = resp[i, k]
                nk[k] += r
                sx[k, 0] += r * z[i, 0]
                sx[k, 1] += r * z[i, 1]
        tot_n = nk[0] + nk[1] + 2e-12
        for k in range(2):
            nk[k] += 1e-12
            w[k] = nk[k] / tot_n
            mu[k, 0] = sx[k, 0] / nk[k]
            mu[k, 1] = sx[k, 1] / nk[k]
        sxx = np.zeros((2, 3))
        for i in range(n):
            for k in range(2):
                d0 = z[i, 0] - mu[k, 0]
                d1 = z[i, 1] - mu[k, 1]
                r = resp[i, k]
                sxx[k, 0] += r * d0 * d0
                sxx[k, 1] += r * d0 * d1
                sxx[k, 2] += r * d1 * d1
        ia = np.zeros(2)
        ib = np.zeros(2)
        ic = np.zeros(2)
        const = np.zeros(2)
        for k in range(2):
            a = sxx[k, 0] / nk[k] + reg
            b = sxx[k, 1] / nk[k]
            c = sxx[k, 2] / nk[k] + reg
            cov[k, 0, 0], cov[k, 0, 1], cov[k, 1, 0], cov[k, 1, 1] = a, b, b, c
            det = a * c - b * b
            ia[k], ib[k], ic[k] = c / det, -b / det, a / det
            const[k] = np.log(max(w[k], 1e-300)) - 0.5 * np.log(det) - log2pi
        ll = 0.0
        for i in range(n):
            lp = np.empty(2)
            for k in range(2):
                d0 = z[i, 0] - mu[k, 0]
                d1 = z[i, 1] - mu[k, 1]
                m2 = ia[k] * d0 * d0 + 2.0 * ib[k] * d0 * d1 + ic[k] * d1 * d1
                lp[k] = const[k] - 0.5 * m2
            # two components: the responsibilities are a logistic of the log ratio
            e = np.exp(-abs(lp[1] - lp[0]))
            if lp[1] > lp[0]:
                resp[i, 1] = 1.0 / (1.0 + e)
                resp[i, 0] = e / (1.0 + e)
                ll += lp[1] + np.log1p(e)
            else:
                resp[i, 0] = 1.0 / (1.0 + e)
                resp[i, 1] = e / (1.0 + e)
                ll += lp[0] + np.log1p(e)
        ll /= n
        if ll - prev < tol:
            break
        prev = ll
    return w, mu, cov
