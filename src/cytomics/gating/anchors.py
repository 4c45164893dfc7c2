"""Internal-control landmarks of the ALOT gating.

Positions and spreads read off normal populations that every sample holds (mature T cells,
neutrophils, monocytes); the CD45/SSC regions and the aberrant-T gate are placed relative
to them, never at fixed coordinates.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import TYPE_CHECKING

import numpy as np

from cytomics.gating import density as dens
from cytomics.order_stats import robust_sd

if TYPE_CHECKING:
    from cytomics.gating.alot_settings import AlotGatingSettings

__all__ = ["brightest_peak", "neutrophil_events", "t_aberrant_bounds", "t_cell_anchor"]


def t_cell_anchor(
    x: np.ndarray, y: np.ndarray, t_cells: np.ndarray, s: AlotGatingSettings
) -> tuple[float, float] | None:
    """(CD45, SSC) of the mature T cells, or ``None`` when too few are present.

    Events passing the smCD3/cyCD3 thresholds can include T-lineage blasts (smCD3 dim),
    which sit at lower CD45; mature T cells are the brightest CD45 peak of these events.
    """
    if t_cells.sum() < s.min_control_events:
        return None
    xt, yt = x[t_cells], y[t_cells]
    lo, hi = float(xt.min()) - 0.05, float(xt.max()) + 0.05
    d = dens.density_1d(xt, lo=lo, hi=hi, bins=128, sigma_bins=2.0)
    peaks = [p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=0.1)
             if p.mass >= s.anchor_min_peak_mass]
    if not peaks:
        return float(np.median(xt)), float(np.median(yt))
    top = max(peaks, key=lambda p: p.position)
    near = np.abs(xt - top.position) <= s.anchor_window
    if near.sum() < s.min_control_events:
        return float(np.median(xt)), float(np.median(yt))
    return float(np.median(xt[near])), float(np.median(yt[near]))


def t_aberrant_bounds(
    x45: np.ndarray, t_cells: np.ndarray, mk: Mapping[str, np.ndarray], lymph45: float,
    s: AlotGatingSettings,
) -> tuple[float, float] | None:
    """(lowest cyCD3, highest smCD3) of aberrant T cells (cyCD3 bright, smCD3 negative),
    read off the mature T cells: the smCD3+ cyCD3+ events within ``anchor_window`` of the
    T-cell CD45 anchor. ``None`` without both markers or enough mature T cells."""
    if "cyCD3" not in mk or "smCD3" not in mk:
        return None
    ti = np.flatnonzero(t_cells)
    ti = ti[np.abs(x45[ti] - lymph45) <= s.anchor_window]
    if ti.size < s.min_control_events:
        return None
    ti = ti[:: max(1, ti.size // 5000)]  # medians need no more events

    def med_sd(v: np.ndarray) -> tuple[float, float]:
        med = float(np.median(v))
        return med, max(robust_sd(v, med), 1e-3)

    cy_m, cy_sd = med_sd(mk["cyCD3"][ti])
    sm_m, sm_sd = med_sd(mk["smCD3"][ti])
    return cy_m - s.t_aberrant_cy_sd_k * cy_sd, sm_m - s.t_aberrant_sm_sd_k * sm_sd


def brightest_peak(x: np.ndarray, s: AlotGatingSettings) -> tuple[float, float] | None:
    """Position and robust SD (from its upper flank) of the highest-valued density peak of
    ``x`` holding at least ``anchor_min_peak_mass``; ``None`` with too few events."""
    if x.size < s.min_control_events:
        return None
    d = dens.density_1d(x, lo=float(x.min()) - 0.05, hi=float(x.max()) + 0.05, bins=128,
                        sigma_bins=2.0)
    peaks = [p for p in dens.find_peaks_1d(d, min_height=0.05, min_prominence=0.1)
             if p.mass >= s.anchor_min_peak_mass]
    if not peaks:
        return None
    top = max(peaks, key=lambda p: p.position).position
    upper = x[x > top] - top
    if upper.size < s.min_control_events:
        return None
    return top, float(np.median(upper) / 0.6745)  # half-normal: median = 0.6745 SD


def neutrophil_events(
    ssc: np.ndarray, mpo: np.ndarray, cand: np.ndarray, s: AlotGatingSettings
) -> np.ndarray:
    """The neutrophils among high-SSC MPO+ events (``cand``): one density peak on log SSC.

    MPO+ myeloid blasts can reach far into the granulocyte SSC range (and outnumber the
    neutrophils); eosinophils lie above the neutrophils. When the candidates split into
    several log-SSC peaks (each holding ``neutrophil_peak_min_mass`` of them), the
    neutrophils are the peak with the brightest cyMPO (they set the tube's MPO level;
    myeloblasts and eosinophils are dimmer); peaks whose MPO median lies within
    ``neutrophil_mpo_tie_sd`` robust SDs of it tie, and the one holding most events wins.
    The neutrophils are the events between that peak's valleys to its neighbours. With a
    single peak, all candidates are the neutrophils.
    """
    if cand.sum() < 2 * s.min_control_events:
        return cand
    idx = np.flatnonzero(cand)
    ly = np.log(np.maximum(ssc[idx], 1e-6))
    d = dens.density_1d(ly, lo=float(ly.min()) - 0.1, hi=float(ly.max()) + 0.1,
                        bins=128, sigma_bins=2.0)
    pk = sorted((p for p in dens.find_peaks_1d(d, min_height=0.02, min_prominence=0.02)
                 if p.mass >= s.neutrophil_peak_min_mass), key=lambda p: p.position)
    if len(pk) < 2:
        return cand
    cuts = [-np.inf] + [dens.valley_between(d, pk[i].position, pk[i + 1].position)
                        for i in range(len(pk) - 1)] + [np.inf]
    sel = [(ly >= cuts[i]) & (ly < cuts[i + 1]) for i in range(len(pk))]
    mv = mpo[idx]
    med = [float(np.median(mv[m])) if m.any() else -np.inf for m in sel]
    top = int(np.argmax(med))
    sd = robust_sd(mv[sel[top]], med[top])
    tied = [i for i in range(len(pk)) if med[i] >= med[top] - s.neutrophil_mpo_tie_sd * sd]
    k = max(tied, key=lambda i: int(sel[i].sum()))
    if sel[k].sum() < s.min_control_events:
        return cand
    out = np.zeros_like(cand)
    out[idx[sel[k]]] = True
    return out

