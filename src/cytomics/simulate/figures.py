"""Overview figures of simulated tubes (docs/img): 2-D histograms on logicle-scaled axes.

Only used for documentation; matplotlib is imported inside the functions.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cytomics.simulate.api import SimulatedCase

_PLOTS = {
    "alot": [
        ("CD45", "SSC-A"),
        ("cyMPO", "cyCD3"),
        ("cyCD79a", "CD19"),
        ("CD45", "CD34"),
        ("smCD3", "CD7"),
        ("FSC-A", "FSC-H"),
    ],
    "bcp_all_mrd_tube1": [
        ("CD45", "SSC-A"),
        ("CD19", "SSC-A"),
        ("CD20", "CD10"),
        ("CD38", "CD34"),
        ("CD81", "CD10"),
        ("CD66c+CD123", "CD34"),
    ],
    "bcp_all_mrd_tube2": [
        ("CD45", "SSC-A"),
        ("CD19", "SSC-A"),
        ("CD20", "CD10"),
        ("CD38", "CD34"),
        ("CD58", "CD10"),
        ("CD73+CD304", "CD34"),
    ],
    "bfm_bcp_mrd": [
        ("CD45", "SSC-A"),
        ("CD19", "SSC-A"),
        ("CD20", "CD10"),
        ("CD38", "CD34"),
        ("SYTO41", "FSC-A"),
        ("FSC-A", "FSC-W"),
    ],
}


def display_values(case: SimulatedCase) -> tuple[np.ndarray, dict[str, int]]:
    """Compensate (raw · inv(S)) and logicle-transform fluorescence; scale scatter to [0, 1].

    Returns
    -------
    values, columns
        float32 ``[n, p]`` display values and a map canonical-marker/$PnN -> column.
    """
    from cytomics.preprocess.transforms import logicle
    from cytomics.simulate.instruments import get_tube

    ev = case.events.astype(np.float64)
    names = [c.name for c in case.channels]
    dets, s = case.spillover
    idx = [names.index(d) for d in dets]
    ev[:, idx] = ev[:, idx] @ np.linalg.inv(s)
    ev[:, idx] = logicle(ev[:, idx], T=262144.0, W=0.5, M=4.5, A=0.0)
    cols = {n: i for i, n in enumerate(names)}
    for i, n in enumerate(names):
        if n != "Time" and i not in idx:
            ev[:, i] = ev[:, i] / 262144.0
    tube = get_tube(case.truth["panel"])
    for (_slot, markers), det in zip(tube, dets, strict=True):
        cols["+".join(markers)] = names.index(det)
    return ev.astype(np.float32), cols


def overview(
    case: SimulatedCase,
    path: str | Path,
    *,
    title: str | None = None,
    drop_qc: bool = True,
    highlight: str | None = "blasts",
) -> Path:
    """Write a PNG with the panel's textbook plots (2-D histograms, blasts outlined in red).

    Parameters
    ----------
    case
        The simulated tube.
    path
        PNG path.
    title
        Figure title (default: kind, panel, timepoint, blast %).
    drop_qc
        Hide margin/time/doublet/debris events on the marker plots (as after QC gating).
    highlight
        Label name overlaid as red dots (``None`` for none).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.colors import LogNorm

    from cytomics.populations import LABEL_CODES, QC_REMOVED

    vals, cols = display_values(case)
    qc = np.isin(case.labels, [LABEL_CODES[n] for n in QC_REMOVED])
    plots = _PLOTS[case.truth["panel"]]
    fig, axes = plt.subplots(2, 3, figsize=(10.5, 6.8), dpi=72)
    hl = case.labels == LABEL_CODES[highlight] if highlight else np.zeros(len(case.labels), bool)
    for ax, (xm, ym) in zip(axes.ravel(), plots, strict=False):
        scatter_plot = xm.startswith(("FSC", "SSC")) and ym.startswith(("FSC", "SSC"))
        keep = np.ones_like(qc) if (scatter_plot or not drop_qc) else ~qc
        gated = ""
        if "CD19" in cols and case.truth["panel"] != "alot" and not scatter_plot:
            if "SSC-A" not in (xm, ym) and "FSC-A" not in (xm, ym):
                keep = keep & (vals[:, cols["CD19"]] > 0.45)  # B-cell gate (CD19+)
                gated = " [CD19+]"
        x, y = vals[keep, cols[xm]], vals[keep, cols[ym]]
        ax.hist2d(x, y, bins=160, range=[[-0.05, 1], [-0.05, 1]], norm=LogNorm(), cmap="viridis")
        if highlight and not scatter_plot:
            sel = keep & hl
            if sel.sum() > 3000:
                sel &= np.random.default_rng(0).random(sel.shape[0]) < 3000 / sel.sum()
            ax.scatter(
                vals[sel, cols[xm]], vals[sel, cols[ym]], s=0.6, c="red", alpha=0.35, linewidths=0
            )
        ax.set_xlabel(xm + ("" if xm.startswith(("FSC", "SSC")) else " (logicle)"))
        ax.set_ylabel(ym + ("" if ym.startswith(("FSC", "SSC")) else " (logicle)"))
        ax.set_xlim(-0.05, 1.0)
        ax.set_ylim(-0.05, 1.0)
        if gated:
            ax.set_title(f"CD19+ events{gated}", fontsize=8)
        ax.set_facecolor("white")
    t = case.truth
    if title is None:
        title = (
            f"SIMULATED {t['kind']} | {t['panel']} | {t['timepoint']} | {t['instrument_variant']}"
            f" | blasts {t['blast_percent_of_nucleated']:.3g}% of nucleated (red)"
        )
    fig.suptitle(title, fontsize=10)
    fig.tight_layout()
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path)
    plt.close(fig)
    return path
