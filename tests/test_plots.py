"""Gating plots: one-pass layer histograms, gates drawn on the plot's display scale."""

from __future__ import annotations

import numpy as np
import pytest
from matplotlib.path import Path as MplPath

from cytomics.gating.gates import PolygonGate, RectangleGate
from cytomics.report._layers import NO_GROUP, layer_histograms
from cytomics.report.plots import _display_vertices, _groups, plot_alot_overview


def _clipped_hist(x, y, xr, yr, bins):
    """numpy reference: values outside the range go into the edge bins."""
    ex = np.linspace(*xr, bins + 1)
    ey = np.linspace(*yr, bins + 1)
    cx = np.clip(x, ex[0], np.nextafter(ex[-1], -np.inf))
    cy = np.clip(y, ey[0], np.nextafter(ey[-1], -np.inf))
    return np.histogram2d(cx, cy, bins=(ex, ey))[0]


def test_layer_histograms_match_numpy_per_group():
    rng = np.random.default_rng(3)
    n = 50_000
    m = rng.normal(0.5, 0.3, size=(n, 3)).astype(np.float32)  # strided columns, as in a plot
    m[::997, 0] = np.nan
    base = rng.random(n) < 0.8
    group = rng.integers(0, 4, size=n).astype(np.uint8)
    group[group == 3] = NO_GROUP
    xr, yr = (0.0, 1.0), (-0.2, 1.1)
    h = layer_histograms(m[:, 0], m[:, 2], base=base, group=group, n_groups=3,
                         xrange=xr, yrange=yr, bins=40)
    ok = base & np.isfinite(m[:, 0])
    assert h.shape == (4, 40, 40)
    np.testing.assert_array_equal(h[0], _clipped_hist(m[ok, 0], m[ok, 2], xr, yr, 40))
    for g in range(3):
        sel = ok & (group == g)
        np.testing.assert_array_equal(h[g + 1], _clipped_hist(m[sel, 0], m[sel, 2], xr, yr, 40))
    with pytest.raises(ValueError, match="bad plot grid"):
        layer_histograms(m[:, 0], m[:, 2], base=base, group=group, n_groups=3,
                         xrange=(1.0, 1.0), yrange=yr, bins=40)


def test_groups_are_disjoint_aggregates():
    from cytomics.populations import LABEL_CODES

    labels = np.array([LABEL_CODES[k] for k in
                       ("blasts", "lymphocytes_t", "lymphocytes_b", "debris", "monocytes")],
                      dtype=np.uint8)
    g = _groups(labels, ("lymphocytes", "blasts"))
    assert g.tolist() == [1, 0, 0, NO_GROUP, NO_GROUP]


@pytest.fixture(scope="module")
def simulated_case(tmp_path_factory):
    from cytomics.fcs import read_fcs
    from cytomics.gating.alot import gate_alot
    from cytomics.panel import match_panel
    from cytomics.preprocess.pipeline import preprocess
    from cytomics.qc import run_qc
    from cytomics.simulate.api import simulate_case, write_case

    path = tmp_path_factory.mktemp("plots") / "case.fcs"
    write_case(simulate_case("aml_cd34pos", seed=5, n_events=20_000, blast_fraction=0.3), path)
    acq = read_fcs(path)
    events = preprocess(acq, markers=match_panel(acq, "alot").markers, inplace=True)
    qc = run_qc(events)
    return events, qc, gate_alot(events, qc)


def test_qc_gates_drawn_where_they_cut(simulated_case):
    """A raw-scale QC polygon mapped onto the display axes holds the same events as the gate
    evaluated on its own scale (the drawing is where the cut is)."""
    from cytomics.qc import scale_column

    events, qc, _ = simulated_case
    drawn = 0
    for gate in qc.gates:
        if not isinstance(gate, PolygonGate):
            continue
        cx, cy = (events.acquisition.channel_index(d.channel) for d in gate.dimensions)
        verts = _display_vertices(events, gate, cx, cy)
        assert verts is not None
        on_scale = MplPath(gate.vertices).contains_points(
            np.column_stack([scale_column(events, cx), scale_column(events, cy)]))
        on_plot = MplPath(verts).contains_points(events.values[:, [cx, cy]])
        assert on_scale.sum() > 0
        assert np.mean(on_scale != on_plot) < 1e-3
        assert _display_vertices(events, gate, cy, cx) is None  # other axes: not drawn
        drawn += 1
    assert drawn >= 1


def test_open_rectangle_outline():
    from types import SimpleNamespace

    from cytomics.gating.gates import Dimension
    from cytomics.preprocess.model import ChannelTransform

    chans = [SimpleNamespace(name=n, gain=1.0) for n in ("A", "B")]
    acq = SimpleNamespace(channels=chans, channel_index=lambda n: ["A", "B"].index(n))
    ev = SimpleNamespace(acquisition=acq, transforms=(ChannelTransform("none"),) * 2)
    gate = RectangleGate("r", None, dimensions=(Dimension("A"), Dimension("B")),
                         mins=(1.0, None), maxs=(2.0, 5.0))
    v = _display_vertices(ev, gate, 0, 1)
    assert v[:, 0].tolist() == [1.0, 2.0, 2.0, 1.0]
    assert v[:, 1].tolist() == [-np.inf, -np.inf, 5.0, 5.0]


def test_overview_plots_written(simulated_case, tmp_path):
    events, qc, gating = simulated_case
    paths = plot_alot_overview(events, qc, gating, tmp_path)
    assert [p.name[:2] for p in paths] == ["01", "02", "03", "04", "05", "06", "07"]
    for p in paths:
        assert p.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and p.stat().st_size > 5000


def test_hematogone_fsc_cut_and_b_cluster_edge_are_drawn(tmp_path):
    """Simulated 5 % pro/pre-B ALL (seed 17097) whose B call lost its small forward-scatter
    hematogones: the CD45 vs FSC panel is written with that polygon, and the CD34 vs CD45
    plot outlines the B cluster's CD45 vs CD34 polygon (defined on the swapped pair)."""
    import sys
    from pathlib import Path

    sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))
    from gating_accuracy import run_simulated

    from cytomics.report import plots

    _, _, gating, _, events, qc = run_simulated("b_all_pro_pre_b", 17097, 40_000, 0.05,
                                                "canto_ii", tmp_path, full=True)
    assert any(g.id == plots.FSC_HEMATOGONE_GATE for g in gating.gates)
    paths = plots.plot_alot_overview(events, qc, gating, tmp_path / "plots")
    assert paths[-1].name == "08_cd45_fsca_hematogones.png"
    assert paths[-1].read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
    cluster = next(g for g in gating.gates if g.id == "alot_b_blast_cluster")
    cd34, cd45 = events.markers["CD34"], events.markers["CD45"]
    assert _display_vertices(events, cluster, cd34, cd45) is None
    assert _display_vertices(events, cluster, cd45, cd34) is not None
