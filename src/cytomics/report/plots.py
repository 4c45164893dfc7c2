"""Gating plots for the hematologist (matplotlib, Agg, PNG).

Every plot is a density-coloured 2-D histogram (never a scatter of millions of points):
grey density of all events in the plot, populations overlaid in their colours, gates drawn
as outlines, blasts highlighted in red. Axis labels carry marker and fluorochrome/channel.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np

from cytomics.gating.density import histogram_2d
from cytomics.gating.gates import PolygonGate
from cytomics.populations import AGGREGATES, LABEL_CODES
from cytomics.preprocess.model import Events

__all__ = [
    "plot_alot_overview",
    "plot_cd45_ssc",
    "plot_debris",
    "plot_lineage",
    "plot_singlets",
]

COLOURS = {
    "singlets": "#1f77b4",
    "doublets": "#d62728",
    "nucleated": "#1f77b4",
    "debris": "#d62728",
    "lymphocytes": "#1f77b4",
    "monocytes": "#2ca02c",
    "granulocytes": "#9467bd",
    "eosinophils": "#e377c2",
    "cd45_negative": "#7f7f7f",
    "b_precursors": "#17becf",
    "myeloid_precursors": "#bcbd22",
    "blasts": "#d62728",
}
BINS = 200


def _axis_label(events: Events, col: int) -> str:
    ch = events.acquisition.channels[col]
    marker = next((m for m, c in events.markers.items() if c == col), None) or ch.marker
    return f"{marker} ({ch.name})" if marker and marker != ch.name else ch.name


#: events used to place the axis limits (a strided subsample; limits are percentiles).
LIMIT_SAMPLE = 200_000


def _limits(v: np.ndarray, mask: np.ndarray | None = None) -> tuple[float, float]:
    if mask is not None:
        step = max(1, v.size // LIMIT_SAMPLE)
        v = v[::step][mask[::step]]
    if v.size == 0:
        return 0.0, 1.0
    lo, hi = np.quantile(v, [0.001, 0.999])
    pad = 0.04 * max(hi - lo, 1e-3)
    return float(lo - pad), float(hi + pad)


def _figure():
    import matplotlib

    matplotlib.use("Agg", force=False)
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.6, 5.0), dpi=110)
    return plt, fig, ax


def _density_layer(ax, x, y, xr, yr, mask, cmap, alpha=1.0, log=True):
    h = histogram_2d(x, y, xrange=xr, yrange=yr, bins=(BINS, BINS), mask=mask)
    if h.sum() == 0:
        return
    z = np.log1p(h) if log else h
    z = np.ma.masked_where(h <= 0, z)
    ax.imshow(z.T, origin="lower", extent=(*xr, *yr), aspect="auto", cmap=cmap,
              alpha=alpha, interpolation="nearest")


def _population_plot(
    events: Events,
    cx: int,
    cy: int,
    base: np.ndarray,
    groups: Sequence[tuple[str, np.ndarray]],
    out: Path,
    *,
    title: str,
    gates: Sequence[PolygonGate] = (),
    lines: Sequence[tuple[str, float]] = (),
) -> Path:
    from matplotlib.colors import LinearSegmentedColormap
    from matplotlib.lines import Line2D

    plt, fig, ax = _figure()
    x = events.values[:, cx]
    y = events.values[:, cy]
    xr = _limits(x, base)
    yr = _limits(y, base)
    _density_layer(ax, x, y, xr, yr, base, "Greys", alpha=0.55)
    handles = []
    total = max(int(np.count_nonzero(base)), 1)
    scratch = np.empty(base.shape, dtype=bool)  # one reused buffer, no per-group copies
    for name, mask in groups:
        m = np.logical_and(mask, base, out=scratch)
        k = int(np.count_nonzero(m))
        if k == 0:
            continue
        colour = COLOURS.get(name, "#ff7f0e")
        cmap = LinearSegmentedColormap.from_list(name, ["#ffffff", colour])
        _density_layer(ax, x, y, xr, yr, m, cmap, alpha=0.85)
        handles.append(
            Line2D([], [], marker="s", ls="", color=colour,
                   label=f"{name.replace('_', ' ')}: {k:,} ({100.0 * k / total:.1f}%)")
        )
    for g in gates:
        v = np.vstack([g.vertices, g.vertices[:1]])
        ax.plot(v[:, 0], v[:, 1], lw=1.0, color="black")
    for axis, val in lines:
        if np.isfinite(val):
            (ax.axvline if axis == "x" else ax.axhline)(val, lw=0.8, ls="--", color="black")
    ax.set_xlim(xr)
    ax.set_ylim(yr)
    ax.set_xlabel(_axis_label(events, cx))
    ax.set_ylabel(_axis_label(events, cy))
    ax.set_title(title, fontsize=10)
    if handles:
        ax.legend(handles=handles, fontsize=7, loc="upper left", framealpha=0.8)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    fig.savefig(out)
    plt.close(fig)
    return out


def _masks(labels: np.ndarray) -> dict[str, np.ndarray]:
    names = ("lymphocytes", "monocytes", "granulocytes", "cd45_negative", "b_precursors",
             "myeloid_precursors", "blasts")
    out = {}
    for n in names:
        lut = np.zeros(256, dtype=bool)
        lut[[LABEL_CODES[m] for m in AGGREGATES[n]]] = True
        out[n] = lut[labels]
    return out


def _col(events: Events, *names: str) -> int | None:
    for nm in names:
        if nm in events.markers:
            return events.markers[nm]
        try:
            return events.acquisition.channel_index(nm)
        except KeyError:
            continue
    return None


def plot_singlets(events: Events, qc: Any, out: Path) -> Path | None:
    """FSC-A vs FSC-H with singlets and doublets."""
    cx, cy = _col(events, "FSC-A"), _col(events, "FSC-H")
    if cx is None or cy is None:
        return None
    lab = np.asarray(qc.labels)
    base = lab != LABEL_CODES["margin"]
    groups = [("doublets", lab == LABEL_CODES["doublet"]), ("singlets", lab != LABEL_CODES["doublet"])]
    return _population_plot(events, cx, cy, base, groups, out, title="Singlets (FSC-A vs FSC-H)")


def plot_debris(events: Events, qc: Any, out: Path) -> Path | None:
    """FSC-A vs SSC-A with debris and kept events."""
    cx, cy = _col(events, "FSC-A"), _col(events, "SSC-A")
    if cx is None or cy is None:
        return None
    lab = np.asarray(qc.labels)
    base = ~np.isin(lab, [LABEL_CODES["margin"], LABEL_CODES["doublet"]])
    groups = [("debris", lab == LABEL_CODES["debris"]), ("nucleated", np.asarray(qc.keep, bool))]
    return _population_plot(events, cx, cy, base, groups, out, title="Debris (FSC-A vs SSC-A)")


def plot_cd45_ssc(events: Events, qc: Any, gating: Any, out: Path) -> Path:
    """CD45 vs SSC with populations coloured and the population gates drawn."""
    cx, cy = gating.axes["cd45"], gating.axes["ssc"]
    masks = _masks(gating.labels)
    gates = [g for g in gating.gates if isinstance(g, PolygonGate)
             and g.id in set(gating.region_gates.values())]
    return _population_plot(
        events, cx, cy, np.asarray(qc.keep, bool), list(masks.items()), out,
        title="Nucleated cells: CD45 vs SSC", gates=gates,
    )


def plot_lineage(
    events: Events, qc: Any, gating: Any, mx: str, my: str, out: Path
) -> Path | None:
    """Two lineage markers: all nucleated in grey, blasts in red, normal controls coloured,
    positivity thresholds dashed."""
    cx, cy = _col(events, mx), _col(events, my)
    if cx is None or cy is None:
        return None
    masks = _masks(gating.labels)
    groups = [(k, masks[k]) for k in ("lymphocytes", "granulocytes", "monocytes", "blasts")]
    lines = [("x", gating.thresholds.get(mx, float("nan"))),
             ("y", gating.thresholds.get(my, float("nan")))]
    return _population_plot(
        events, cx, cy, np.asarray(qc.keep, bool), groups, out,
        title=f"{mx} vs {my} (blasts in red)", lines=lines,
    )


def plot_alot_overview(events: Events, qc: Any, gating: Any, out_dir: str | Path) -> list[Path]:
    """Write the ALOT plot set into ``out_dir``; returns the PNG paths written."""
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    paths = [
        plot_singlets(events, qc, out_dir / "01_singlets_fsca_fsch.png"),
        plot_debris(events, qc, out_dir / "02_debris_fsca_ssca.png"),
        plot_cd45_ssc(events, qc, gating, out_dir / "03_cd45_ssc.png"),
    ]
    for k, (a, b) in enumerate(
        (("cyCD3", "cyMPO"), ("CD19", "cyCD79a"), ("CD34", "CD45"), ("CD7", "smCD3")), start=4
    ):
        paths.append(plot_lineage(events, qc, gating, a, b, out_dir / f"{k:02d}_{a}_{b}.png"))
    return [p for p in paths if p is not None]
