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

from cytomics.gating.b_hematogones import HEMATOGONE_FSC_GATE
from cytomics.gating.gates import Gate, PolygonGate, RectangleGate
from cytomics.populations import AGGREGATES, LABEL_CODES
from cytomics.preprocess.model import Events
from cytomics.report._layers import NO_GROUP, layer_histograms

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
    "t_cells": "#1f77b4",
    "b_cells": "#ff7f0e",
    "nk_cells": "#8c564b",
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
    # fixed margins (tight_layout would draw the figure an extra time)
    fig.subplots_adjust(left=0.15, right=0.97, bottom=0.11, top=0.93)
    return plt, fig, ax


def _tint(colour: str, towards: str, amount: float) -> tuple[float, float, float]:
    from matplotlib.colors import to_rgb

    a, b = np.asarray(to_rgb(colour)), np.asarray(to_rgb(towards))
    return tuple(float(v) for v in (1.0 - amount) * a + amount * b)


def _layer_rgba(counts: np.ndarray, low: tuple, high: tuple, alpha: float) -> np.ndarray:
    """RGBA image ``[y, x, 4]`` of one layer: log density from ``low`` to ``high``, transparent
    where empty (so sparse events stay visible, never white on white)."""
    present = counts.T > 0
    z = np.log1p(counts.T.astype(np.float64))
    zmax = float(z.max()) if present.any() else 0.0
    t = z / zmax if zmax > 0 else z
    rgba = np.empty((*present.shape, 4))
    for k in range(3):
        rgba[..., k] = low[k] + (high[k] - low[k]) * t
    rgba[..., 3] = np.where(present, alpha, 0.0)
    return rgba


def _composite(layers: Sequence[np.ndarray]) -> np.ndarray:
    """Alpha-blend RGBA layers over white, first at the bottom; one RGB image to draw."""
    img = np.ones((*layers[0].shape[:2], 3))
    for rgba in layers:
        a = rgba[..., 3:4]
        img = img * (1.0 - a) + rgba[..., :3] * a
    return img


def _display_vertices(
    events: Events, gate: Gate, cx: int, cy: int
) -> np.ndarray | None:
    """Outline of a 2-D polygon/rectangle gate on the plot's axes (display scale), or
    ``None`` when the gate is not drawn on these two channels.

    Gates on raw scale values (``transform=None``, e.g. the QC scatter gates, in ``$PnG``
    scale units as Gating-ML) are mapped through the column's display transform."""
    from cytomics.preprocess.transforms import apply_transform

    if isinstance(gate, PolygonGate):
        verts = np.asarray(gate.vertices, dtype=np.float64)
    elif isinstance(gate, RectangleGate) and len(gate.dimensions) == 2:
        lo = [-np.inf if v is None else v for v in gate.mins]
        hi = [np.inf if v is None else v for v in gate.maxs]
        verts = np.array([[lo[0], lo[1]], [hi[0], lo[1]], [hi[0], hi[1]], [lo[0], hi[1]]])
    else:
        return None
    cols = []
    for d in gate.dimensions:
        try:
            cols.append(events.acquisition.channel_index(d.channel))
        except KeyError:
            return None
    if cols != [cx, cy]:
        return None
    out = verts.copy()
    for k, (d, col) in enumerate(zip(gate.dimensions, cols, strict=True)):
        ct = events.transforms[col]
        if d.transform is None and ct.kind != "none":
            gain = events.acquisition.channels[col].gain
            scale = gain if gain not in (0.0, 1.0) and np.isfinite(gain) else 1.0
            finite = np.isfinite(out[:, k])
            out[finite, k] = apply_transform(out[finite, k] * scale, ct)
    return out


def _population_plot(
    events: Events,
    cx: int,
    cy: int,
    base: np.ndarray,
    group: np.ndarray,
    names: Sequence[str],
    out: Path,
    *,
    title: str,
    gates: Sequence[Gate] = (),
    lines: Sequence[tuple[str, float]] = (),
    either_orientation: bool = False,
) -> Path:
    """One density plot: all ``base`` events in grey, group ``g`` (``group == g``) of
    ``names[g]`` in its colour on top, later groups drawn over earlier ones. ``gates`` on
    the plot's two channels are outlined (with ``either_orientation`` also those defined on
    the swapped pair)."""
    from matplotlib.lines import Line2D

    x = events.values[:, cx]
    y = events.values[:, cy]
    xr = _limits(x, base)
    yr = _limits(y, base)
    counts = layer_histograms(x, y, base=base, group=group, n_groups=len(names),
                              xrange=xr, yrange=yr, bins=BINS)
    layers = [_layer_rgba(counts[0], (0.82, 0.82, 0.82), (0.25, 0.25, 0.25), 0.9)]
    handles = []
    total = max(int(counts[0].sum()), 1)
    for g, name in enumerate(names):
        k = int(counts[g + 1].sum())
        if k == 0:
            continue
        colour = COLOURS.get(name, "#ff7f0e")
        layers.append(_layer_rgba(counts[g + 1], _tint(colour, "#ffffff", 0.55),
                                  _tint(colour, "#000000", 0.35), 0.9))
        handles.append(
            Line2D([], [], marker="s", ls="", color=colour,
                   label=f"{name.replace('_', ' ')}: {k:,} ({100.0 * k / total:.1f}%)")
        )
    plt, fig, ax = _figure()
    ax.imshow(_composite(layers), origin="lower", extent=(*xr, *yr), aspect="auto",
              interpolation="nearest")
    for gate in gates:
        v = _display_vertices(events, gate, cx, cy)
        if v is None and either_orientation:
            # a gate drawn on (y, x): its outline with the coordinates swapped
            v = _display_vertices(events, gate, cy, cx)
            v = None if v is None else v[:, ::-1]
        if v is None:
            continue
        v = np.vstack([v, v[:1]])
        v[:, 0] = np.clip(v[:, 0], *xr)
        v[:, 1] = np.clip(v[:, 1], *yr)
        ax.plot(v[:, 0], v[:, 1], lw=1.0, color="black")
        if either_orientation:  # a gate of a sub-population: name it (gates.xml id)
            handles.append(Line2D([], [], color="black", lw=1.0, label=f"gate {gate.id}"))
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
    fig.savefig(out)
    plt.close(fig)
    return out


def _groups(labels: np.ndarray, names: Sequence[str]) -> np.ndarray:
    """uint8 group index per event: ``g`` for the labels of aggregate ``names[g]``, else
    :data:`NO_GROUP` (the aggregates drawn together are disjoint)."""
    lut = np.full(256, NO_GROUP, dtype=np.uint8)
    for g, name in enumerate(names):
        lut[[LABEL_CODES[m] for m in AGGREGATES[name]]] = g
    return lut[np.asarray(labels)]


def _col(events: Events, *names: str) -> int | None:
    for nm in names:
        if nm in events.markers:
            return events.markers[nm]
        try:
            return events.acquisition.channel_index(nm)
        except KeyError:
            continue
    return None


#: QC labels of events removed before the debris step (not shown on the debris plot).
_BEFORE_DEBRIS = ("margin", "time_unstable", "doublet")
#: populations on the CD45/SSC plot, drawn in this order (later on top).
CD45_SSC_GROUPS = ("cd45_negative", "granulocytes", "monocytes", "lymphocytes", "b_precursors",
                   "myeloid_precursors", "blasts")
#: populations on the lineage plots: the internal normal controls, then the blasts on top.
LINEAGE_GROUPS = ("granulocytes", "monocytes", "t_cells", "b_cells", "nk_cells", "blasts")


def plot_singlets(events: Events, qc: Any, out: Path) -> Path | None:
    """FSC-A vs FSC-H: singlets and doublets, with the QC singlet gate drawn."""
    cx, cy = _col(events, "FSC-A"), _col(events, "FSC-H")
    if cx is None or cy is None:
        return None
    lab = np.asarray(qc.labels)
    base = lab != LABEL_CODES["margin"]
    group = np.where(lab == LABEL_CODES["doublet"], 1, 0).astype(np.uint8)
    return _population_plot(events, cx, cy, base, group, ("singlets", "doublets"), out,
                            title="Singlets (FSC-A vs FSC-H)", gates=qc.gates)


def plot_debris(events: Events, qc: Any, out: Path) -> Path | None:
    """FSC-A vs SSC-A: debris and kept events, with the QC non-debris gate drawn."""
    cx, cy = _col(events, "FSC-A"), _col(events, "SSC-A")
    if cx is None or cy is None:
        return None
    lab = np.asarray(qc.labels)
    lut = np.ones(256, dtype=bool)
    lut[[LABEL_CODES[m] for m in _BEFORE_DEBRIS]] = False
    base = lut[lab]
    group = np.full(lab.shape, NO_GROUP, dtype=np.uint8)
    group[lab == LABEL_CODES["debris"]] = 0
    group[np.asarray(qc.keep, bool)] = 1
    return _population_plot(events, cx, cy, base, group, ("debris", "nucleated"), out,
                            title="Debris (FSC-A vs SSC-A)", gates=qc.gates)


def plot_cd45_ssc(events: Events, qc: Any, gating: Any, out: Path) -> Path:
    """CD45 vs SSC with populations coloured and the population gates drawn."""
    cx, cy = gating.axes["cd45"], gating.axes["ssc"]
    from cytomics.gating.alot_regions import REGION_PART

    region = tuple(gating.region_gates.values())
    pieces = tuple(f"{r}{REGION_PART}" for r in region)  # a region in pieces: its polygons
    gates = [g for g in gating.gates if g.id in region or g.id.startswith(pieces)]
    return _population_plot(
        events, cx, cy, np.asarray(qc.keep, bool), _groups(gating.labels, CD45_SSC_GROUPS),
        CD45_SSC_GROUPS, out, title="Nucleated cells: CD45 vs SSC", gates=gates,
    )


def plot_lineage(
    events: Events, qc: Any, gating: Any, mx: str, my: str, out: Path
) -> Path | None:
    """Two lineage markers: all nucleated in grey, the internal normal controls coloured,
    blasts in red on top, positivity thresholds dashed."""
    cx, cy = _col(events, mx), _col(events, my)
    if cx is None or cy is None:
        return None
    lines = [("x", gating.thresholds.get(mx, float("nan"))),
             ("y", gating.thresholds.get(my, float("nan")))]
    # the data-driven polygons drawn on these markers (e.g. the B blast cluster's CD45 vs
    # CD34 edge, applied to the CD19+ events; named in the legend); the phenotype
    # rectangles are the dashed thresholds already
    polygons = [g for g in gating.gates if isinstance(g, PolygonGate)]
    return _population_plot(
        events, cx, cy, np.asarray(qc.keep, bool), _groups(gating.labels, LINEAGE_GROUPS),
        LINEAGE_GROUPS, out, title=f"{mx} vs {my} (blasts in red)", lines=lines,
        gates=polygons, either_orientation=True,
    )


#: gate of the small forward-scatter hematogones cut out of a small B blast call
FSC_HEMATOGONE_GATE = HEMATOGONE_FSC_GATE


def plot_cd45_fsc_hematogones(events: Events, qc: Any, gating: Any, out: Path) -> Path | None:
    """CD45 vs FSC-A when small forward-scatter hematogones were cut out of the B blast
    call: blasts and normal B precursors coloured, the hematogone polygon drawn. ``None``
    when no such cut was made."""
    gate = next((g for g in gating.gates if g.id == FSC_HEMATOGONE_GATE), None)
    if gate is None:
        return None
    cx, cy = (events.acquisition.channel_index(d.channel) for d in gate.dimensions)
    names = ("lymphocytes", "b_precursors", "blasts")
    return _population_plot(
        events, cx, cy, np.asarray(qc.keep, bool), _groups(gating.labels, names), names, out,
        title="B cluster: small-FSC hematogones left out of the blasts (CD45 vs FSC)",
        gates=[gate],
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
    paths.append(plot_cd45_fsc_hematogones(events, qc, gating,
                                           out_dir / "08_cd45_fsca_hematogones.png"))
    return [p for p in paths if p is not None]
