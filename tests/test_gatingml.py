"""Gating-ML 2.0: ISAC compliance suite, export round trip through FlowKit, apply-gates CLI."""

from __future__ import annotations

import csv
import io
import json
import re
from pathlib import Path

import numpy as np
import pytest

from cytomics.errors import GatingMLError
from cytomics.fcs.model import Acquisition, Channel, Spillover
from cytomics.gating.apply import (
    apply_template,
    evaluate,
    evaluate_on_events,
    load_input,
    write_counts,
)
from cytomics.gating.gates import (
    BooleanGate,
    Dimension,
    EllipsoidGate,
    PolygonGate,
    RectangleGate,
)
from cytomics.gating.gatingml import (
    export_gatingml,
    gatingml_string,
    read_gatingml,
    sanitize_id,
    transform_table,
    write_gatingml,
)
from cytomics.preprocess.model import ChannelTransform, Events

pytestmark = pytest.mark.corpus

INVALID = "gml_range_gate_attr_testing.xml"
# FlowKit's tests map gate ids to Results_<id>.txt, with one exception
# (tests/gatingml_tests.py::test_parent_quadrant_rect_gate): ParRectangle1 -> ParQuadRect.
TRUTH_ALIASES = {"ParRectangle1": "ParQuadRect"}


def _gate_ref(corpus: Path) -> Path:
    return corpus / "flowkit" / "data" / "gate_ref"


def _gml_files(corpus: Path) -> list[Path]:
    return sorted((_gate_ref(corpus) / "gml").glob("*.xml"))


@pytest.fixture(scope="module")
def data1(corpus):
    return load_input(_gate_ref(corpus) / "data1.fcs")


@pytest.fixture(scope="module")
def truth(corpus) -> dict[str, np.ndarray]:
    # FlowKit's convention (tests/gatingml_tests.py::test_all_gates): Results_<gate id>.txt
    out = {}
    for p in (_gate_ref(corpus) / "truth").glob("Results_*.txt"):
        gid = re.fullmatch(r"Results_(.+)\.txt", p.name).group(1)
        out[gid] = np.loadtxt(p, dtype=np.int64).astype(bool)
    return out


def _compare(path: Path, data1, truth) -> tuple[int, int, list[str]]:
    strategy = read_gatingml(path)
    masks = evaluate(strategy, data1)
    passed, total, failed = 0, 0, []
    for gate_id, mask in masks.items():
        gid = TRUTH_ALIASES.get(gate_id, gate_id)
        if gid not in truth:
            continue
        total += 1
        if np.array_equal(mask, truth[gid]):
            passed += 1
        else:
            failed.append(f"{gid}: {int((mask != truth[gid]).sum())} events differ")
    return passed, total, failed


def test_suite_is_complete(corpus):
    names = {p.name for p in _gml_files(corpus)}
    assert len(names) == 47
    assert INVALID in names


@pytest.mark.parametrize("index", range(47))
def test_compliance_file(index, corpus, data1, truth):
    path = _gml_files(corpus)[index]
    if path.name == INVALID:
        with pytest.raises(GatingMLError) as err:
            read_gatingml(path)
        assert err.value.path == path and INVALID in str(err.value)
        return
    _passed, total, failed = _compare(path, data1, truth)
    assert not failed, f"{path.name}: {failed}"
    if total == 0:  # gml_ellipse2 has no truth vector (nor a FlowKit test): evaluates only
        masks = evaluate(read_gatingml(path), data1)
        assert masks and all(m.shape == (data1.n_events,) for m in masks.values())


def test_compliance_total(corpus, data1, truth):
    """Every truth vector is checked at least once and all 131 gate results match."""
    passed = total = 0
    seen: set[str] = set()
    for path in _gml_files(corpus):
        if path.name == INVALID:
            continue
        p, t, _ = _compare(path, data1, truth)
        passed += p
        total += t
        seen |= {TRUTH_ALIASES.get(g, g) for g in evaluate(read_gatingml(path), data1)} & set(truth)
    assert seen == set(truth)
    assert passed == total == 132


def test_same_result_with_flowkit_events(corpus, truth):
    """Scale values from FlowKit's reader give the same memberships as from ours."""
    inp = load_input(_gate_ref(corpus) / "data1.fcs", reader="flowkit")
    passed, total, failed = _compare(_gate_ref(corpus) / "gml" / "gml_all_gates.xml", inp, truth)
    assert not failed and passed == total == 49


def test_quadrants_partition(corpus, data1):
    strategy = read_gatingml(_gate_ref(corpus) / "gml" / "gml_quadrant1_gate.xml")
    masks = evaluate(strategy, data1)
    stacked = np.vstack(list(masks.values()))
    assert stacked.shape[0] == 4
    assert np.all(stacked.sum(axis=0) == 1)  # every event in exactly one quadrant


def test_bad_documents(tmp_path):
    with pytest.raises(GatingMLError):
        read_gatingml(tmp_path / "missing.xml")
    bad = tmp_path / "bad.xml"
    bad.write_text("<not-xml")
    with pytest.raises(GatingMLError) as err:
        read_gatingml(bad)
    assert err.value.path == bad
    ref = tmp_path / "ref.xml"
    ref.write_text(
        '<?xml version="1.0"?><gating:Gating-ML '
        'xmlns:gating="http://www.isac-net.org/std/Gating-ML/v2.0/gating" '
        'xmlns:data-type="http://www.isac-net.org/std/Gating-ML/v2.0/datatypes">'
        '<gating:RectangleGate gating:id="R1" gating:parent_id="Nope">'
        '<gating:dimension gating:min="1"><data-type:fcs-dimension data-type:name="FSC-H"/>'
        "</gating:dimension></gating:RectangleGate></gating:Gating-ML>"
    )
    with pytest.raises(GatingMLError):
        read_gatingml(ref)


# --------------------------------------------------------------------------------------
# export round trip
# --------------------------------------------------------------------------------------
def _display_events(corpus) -> tuple[Events, np.ndarray]:
    """Events of test_comp_example.fcs: compensated with its own spillover, logicle on the
    fluorescence channels (flowutils as reference), float32 like the pipeline."""
    import flowutils.transforms as fut

    inp = load_input(corpus / "flowkit" / "data" / "test_comp_example.fcs")
    assert inp.spillover is not None
    spill = inp.spillover
    det = [inp.channels.index(d) for d in spill.detectors]
    comp = np.asarray(inp.data, dtype=np.float64).copy()
    comp[:, det] = comp[:, det] @ np.linalg.inv(spill.matrix)
    xf = ChannelTransform("logicle", T=262144.0, W=0.5, M=4.5, A=0.0)
    transforms = []
    values = comp.copy()
    for j, name in enumerate(inp.channels):
        if name in spill.detectors:
            values[:, j] = fut.logicle(comp[:, [j]], None, t=xf.T, w=xf.W, m=xf.M, a=xf.A)[:, 0]
            transforms.append(xf)
        else:
            transforms.append(ChannelTransform("none"))
    channels = tuple(
        Channel(index=j, name=n, marker=m, range=262144.0, bits=32)
        for j, (n, m) in enumerate(zip(inp.channels, inp.markers, strict=True))
    )
    acq = Acquisition(
        path=inp.path,
        sha256="",
        fcs_version="3.0",
        keywords={},
        channels=channels,
        events=np.asarray(inp.data, dtype=np.float32),
        spillover=spill,
    )
    ev = Events(
        acquisition=acq,
        values=np.ascontiguousarray(values, dtype=np.float32),
        transforms=tuple(transforms),
        spillover=spill,
    )
    return ev, values


def _round_trip_gates(values: np.ndarray, ev: Events) -> list:
    col = ev.acquisition.channel_index
    fsc, ssc = values[:, col("FSC-A")], values[:, col("SSC-A")]
    cd3, cd4 = values[:, col("PE-Cy7-A")], values[:, col("PacBlu-A")]
    # coordinates rounded as a person or the ALOT strategy would place them: a vertex
    # sitting exactly on an event value would make that event's membership depend on
    # ~1e-11 differences between logicle implementations (ours vs flowutils)
    lo_f, hi_f = np.round(np.percentile(fsc, [5, 95]))
    lo_s, hi_s = np.round(np.percentile(ssc, [2, 90]))
    d_cd3 = Dimension("PE-Cy7-A", compensated=True, transform="logicle_PE-Cy7-A")
    d_cd4 = Dimension("PacBlu-A", compensated=True, transform="logicle_PacBlu-A")
    x0, x1 = np.round(np.percentile(cd3, [30, 99]), 3)
    y0, y1 = np.round(np.percentile(cd4, [10, 95]), 3)
    poly = np.array(
        [[x0, y0], [x1, y0 + 0.02], [x1 - 0.05, y1], [(x0 + x1) / 2, y1 + 0.01], [x0, y1]]
    )
    sel = np.column_stack([cd3, cd4])
    mean = np.round(sel.mean(axis=0), 4)
    cov = np.round(np.cov(sel.T), 5)
    return [
        RectangleGate(
            id="Cells 1",  # not an XML id: must be sanitised on export
            parent=None,
            dimensions=(Dimension("FSC-A"), Dimension("SSC-A")),
            mins=(float(lo_f), float(lo_s)),
            maxs=(float(hi_f), float(hi_s)),
        ),
        PolygonGate(id="cd3_cd4", parent="Cells 1", dimensions=(d_cd3, d_cd4), vertices=poly),
        EllipsoidGate(
            id="core",
            parent="Cells 1",
            dimensions=(d_cd3, d_cd4),
            mean=mean,
            covariance=cov,
            distance_square=2.0,
        ),
        RectangleGate(
            id="cd3_pos", parent=None, dimensions=(d_cd3,), mins=(float(x0),), maxs=(None,)
        ),
        BooleanGate(
            id="poly_not_core",
            parent="Cells 1",
            op="and",
            operands=(("cd3_cd4", False), ("core", True)),
        ),
        BooleanGate(id="not_cd3", parent=None, op="not", operands=(("cd3_pos", False),)),
    ]


@pytest.mark.filterwarnings("ignore:FCS file test_comp_example.fcs reported incorrect data offset")
@pytest.mark.parametrize("compensation", ["matrix", "FCS"])
def test_export_round_trip_flowkit(corpus, tmp_path, compensation):
    import flowkit

    ev, values = _display_events(corpus)
    gates = _round_trip_gates(values, ev)
    table = transform_table([c.name for c in ev.acquisition.channels], ev.transforms)
    xml = tmp_path / "gates.xml"
    ids = write_gatingml(
        gates, xml, transforms=table, spillover=ev.spillover, compensation=compensation
    )
    # the pipeline entry point writes the same document from the Events alone
    assert export_gatingml(gates, ev, compensation=compensation) == xml.read_text()
    assert ids["Cells 1"] == "Cells_1"
    assert all(re.fullmatch(r"[A-Za-z_][\w.\-]*", v) for v in ids.values())

    fcs = corpus / "flowkit" / "data" / "test_comp_example.fcs"
    gs = flowkit.parse_gating_xml(str(xml))
    res = gs.gate_sample(flowkit.Sample(str(fcs), ignore_offset_error=True))
    fk_counts = {}
    for gid, xid in ids.items():
        paths = gs.find_matching_gate_paths(xid)
        assert len(paths) == 1
        fk_counts[gid] = int(res.get_gate_count(xid, gate_path=paths[0]))

    # (1) our evaluator on the exported document = FlowKit, event for event
    ours = evaluate(read_gatingml(xml), load_input(fcs))
    for gid, xid in ids.items():
        assert int(ours[xid].sum()) == fk_counts[gid], gid
        fk_mask = res.get_gate_membership(xid, gate_path=gs.find_matching_gate_paths(xid)[0])
        assert np.array_equal(ours[xid], fk_mask), gid

    # (2) gates evaluated on the float32 display-scale Events agree within 0.5 %
    direct = evaluate_on_events(gates, ev)
    for g in gates:
        n_fk, n_ev = fk_counts[g.id], int(direct[g.id].sum())
        assert n_fk > 20, f"{g.id}: degenerate test gate ({n_fk} events)"
        assert abs(n_ev - n_fk) <= max(1, 0.005 * n_fk), (g.id, n_ev, n_fk)
    # a dimension that does not describe its Events column is a caller bug
    wrong = RectangleGate(
        id="w", parent=None, dimensions=(Dimension("PE-Cy7-A"),), mins=(0.1,), maxs=(None,)
    )
    with pytest.raises(ValueError, match="does not describe"):
        evaluate_on_events([wrong], ev)
    # parents hold: children are subsets
    assert not np.any(direct["cd3_cd4"] & ~direct["Cells 1"])
    assert np.array_equal(direct["not_cd3"], ~direct["cd3_pos"])


def test_export_requires_spillover_for_compensated_dims():
    g = RectangleGate(
        id="r",
        parent=None,
        dimensions=(Dimension("FL1-H", compensated=True),),
        mins=(1.0,),
        maxs=(None,),
    )
    with pytest.raises(ValueError, match="spillover"):
        gatingml_string([g])
    text, _ = gatingml_string([g], compensation="FCS")
    assert 'compensation-ref="FCS"' in text


def test_export_reimport_preserves_geometry(tmp_path):
    spill = Spillover(
        detectors=("FL1-H", "FL2-H"),
        matrix=np.array([[1.0, 0.1], [0.05, 1.0]]),
        source="$SPILLOVER",
    )
    d1 = Dimension("FL1-H", compensated=True, transform="logicle_FL1-H")
    d2 = Dimension("FL2-H", compensated=True, transform="logicle_FL2-H")
    lg = ChannelTransform("logicle", T=10000.0, W=0.5, M=4.5, A=0.0)
    verts = np.array([[0.1, 0.2], [0.7, 0.25], [0.5, 0.9]], dtype=np.float32)
    gates = [
        PolygonGate(id="p", parent=None, dimensions=(d1, d2), vertices=verts),
        RectangleGate(
            id="r", parent="p", dimensions=(Dimension("SSC-H"),), mins=(None,), maxs=(512.5,)
        ),
    ]
    path = tmp_path / "g.xml"
    write_gatingml(
        gates, path, transforms={"logicle_FL1-H": lg, "logicle_FL2-H": lg}, spillover=spill
    )
    s = read_gatingml(path)
    assert s.gate_ids == ("p", "r")
    p = s.gate("p")
    assert np.array_equal(p.vertices, verts.astype(np.float64))  # float32 coordinates exact
    assert s.compensation["p"] == ("Spillover", "Spillover")
    assert (
        s.transforms["logicle_FL1-H"].kind == "logicle"
        and s.transforms["logicle_FL1-H"].T == 10000.0
    )
    assert np.array_equal(s.matrices["Spillover"].matrix, spill.matrix)
    r = s.gate("r")
    assert r.parent == "p" and r.mins == (None,) and r.maxs == (512.5,)


def test_sanitize_id():
    assert sanitize_id("CD3+ T cells") == "CD3__T_cells"
    assert sanitize_id("1st") == "_1st"
    assert sanitize_id("ok-id.2") == "ok-id.2"


# --------------------------------------------------------------------------------------
# batch application + CLI
# --------------------------------------------------------------------------------------
def test_apply_template_batch(corpus, tmp_path):
    ref = _gate_ref(corpus)
    bad = tmp_path / "broken.fcs"
    bad.write_bytes(b"FCS3.0    garbage")
    rows = apply_template(
        ref / "gml" / "gml_parent_rect1_rect_par1_gate.xml",
        [ref / "data1.fcs", bad, corpus / "flowkit" / "data" / "test_comp_example.fcs"],
        labels_dir=tmp_path / "labels",
    )
    by_file: dict[str, list[dict]] = {}
    for r in rows:
        by_file.setdefault(Path(r["file"]).name, []).append(r)
    ok = {r["gate_id"]: r for r in by_file["data1.fcs"]}
    assert set(ok) == {"ScaleRect1", "ScalePar1"}
    assert ok["ScalePar1"]["parent"] == "ScaleRect1"
    truth = np.loadtxt(ref / "truth" / "Results_ScalePar1.txt", dtype=np.int64)
    assert int(ok["ScalePar1"]["count"]) == int(truth.sum())
    pct = 100.0 * int(ok["ScalePar1"]["count"]) / int(ok["ScaleRect1"]["count"])
    assert abs(float(ok["ScalePar1"]["pct_of_parent"]) - pct) < 1e-3
    [b] = by_file["broken.fcs"]
    assert b["status"] == "rejected" and b["error"].startswith("fcs")
    [m] = by_file["test_comp_example.fcs"]  # lacks FL1-H etc.: rejected, not a crash
    assert m["status"] == "rejected" and m["error"].startswith("panel_mismatch")
    labels = np.load(tmp_path / "labels" / "data1.labels.npy")
    codes = json.loads((tmp_path / "labels" / "data1.label_codes.json").read_text())
    assert labels.dtype == np.uint8 and labels.shape == truth.shape
    leaf = {v: int(k) for k, v in codes.items()}["ScalePar1"]
    assert np.array_equal(labels == leaf, truth.astype(bool))


def test_cli_apply_gates(corpus, tmp_path, capsys):
    from cytomics.cli import main

    ref = _gate_ref(corpus)
    out = tmp_path / "counts.tsv"
    rc = main(
        [
            "apply-gates",
            str(ref / "gml" / "gml_quadrant2_gate.xml"),
            str(ref / "data1.fcs"),
            "--out",
            str(out),
            "--quiet",
        ]
    )
    assert rc == 0
    rows = list(csv.DictReader(out.open(), delimiter="\t"))
    assert {r["gate_id"] for r in rows} == {
        "FSCN-SSCN",
        "FSCD-SSCN-FL1N",
        "FSCP-SSCN-FL1N",
        "FSCD-FL1P",
        "FSCN-SSCP-FL1P",
    }
    for r in rows:
        truth = np.loadtxt(ref / "truth" / f"Results_{r['gate_id']}.txt", dtype=np.int64)
        assert int(r["count"]) == int(truth.sum())
    rc = main(["apply-gates", str(ref / "gml" / INVALID), str(ref / "data1.fcs")])
    assert rc == 3
    assert INVALID in capsys.readouterr().err


def test_write_counts_text():
    text = write_counts([{"file": "a.fcs", "gate_id": "g", "count": "3", "status": "ok"}], None)
    header, line = text.splitlines()
    assert header.split("\t")[:4] == ["file", "gate_id", "parent", "count"]
    assert line.split("\t")[0] == "a.fcs"


@pytest.mark.filterwarnings("ignore:FCS file .* reported incorrect data offset")
@pytest.mark.parametrize(
    "relpath",
    [
        "flowkit/data/test_comp_example.fcs",
        "cytoexplorerdata/inst/extdata/Activation/Activation_1.fcs",
    ],
)
def test_pipeline_events_export_counts_match_flowkit(corpus, relpath):
    """Gates drawn on real cytomics Events (read_fcs + preprocess, float32) -> gates.xml
    -> FlowKit counts within 0.5 % of ours (FlowKit recomputes everything in float64)."""
    import flowkit

    from cytomics.fcs import read_fcs
    from cytomics.preprocess.pipeline import preprocess

    fcs = corpus / relpath
    ev = preprocess(read_fcs(fcs))
    assert ev.spillover is not None
    acq = ev.acquisition
    fl = [c.index for c in acq.channels if ev.is_compensated(c.index)][:3]
    sc = [c.index for c in acq.channels if c.is_scatter][:2]

    def dim(j):
        t = ev.transforms[j]
        key = None if t.kind == "none" else f"{t.kind}_{acq.channels[j].name}"
        return Dimension(acq.channels[j].name, compensated=ev.is_compensated(j), transform=key)

    v = ev.values
    q = lambda j, p: float(np.percentile(v[:, j], p))  # noqa: E731
    a, b, c = fl
    poly = np.array(
        [[q(a, 20), q(b, 20)], [q(a, 90), q(b, 15)], [q(a, 95), q(b, 85)], [q(a, 40), q(b, 95)]]
    )
    sel = v[:, [b, c]].astype(np.float64)
    gates = [
        RectangleGate(
            id="scatter",
            parent=None,
            dimensions=(dim(sc[0]), dim(sc[1])),
            mins=(q(sc[0], 3), q(sc[1], 1)),
            maxs=(q(sc[0], 97), q(sc[1], 95)),
        ),
        PolygonGate(id="poly", parent="scatter", dimensions=(dim(a), dim(b)), vertices=poly),
        EllipsoidGate(
            id="ell",
            parent="scatter",
            dimensions=(dim(b), dim(c)),
            mean=sel.mean(axis=0),
            covariance=np.cov(sel.T),
            distance_square=1.5,
        ),
        BooleanGate(id="either", parent=None, op="or", operands=(("poly", False), ("ell", False))),
    ]
    ours = {g: int(m.sum()) for g, m in evaluate_on_events(gates, ev).items()}
    xml = export_gatingml(gates, ev)
    gs = flowkit.parse_gating_xml(io.BytesIO(xml.encode()))
    res = gs.gate_sample(flowkit.Sample(str(fcs), ignore_offset_error=True))
    for g in gates:
        fk = int(res.get_gate_count(g.id, gate_path=gs.find_matching_gate_paths(g.id)[0]))
        assert fk > 20, (g.id, fk)
        assert abs(ours[g.id] - fk) <= max(2, 0.005 * fk), (g.id, ours[g.id], fk)


@pytest.mark.filterwarnings("ignore:FCS file .* reported incorrect data offset")
def test_load_input_scale_values_without_matrix_copy(corpus):
    """Scale values equal FlowKit's 'raw' events (gain, Time x $TIMESTEP) while the float32
    event matrix of the reader is used in place (no whole-matrix float64 copy)."""
    fcs = corpus / "flowkit" / "data" / "test_comp_example.fcs"
    ours = load_input(fcs, reader="cytomics")
    ref = load_input(fcs, reader="flowkit")
    assert ours.data.dtype == np.float32
    assert ours.channels == ref.channels
    time_col = ours.channels.index("Time")
    assert ours.is_scaled(time_col)
    for j in range(len(ours.channels)):
        np.testing.assert_allclose(ours.column(j), ref.data[:, j], rtol=1e-7)
