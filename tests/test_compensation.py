"""Compensation: spillover resolution, override CSVs, errors, and agreement with FlowKit.

Acquisitions are built from FlowKit's decode of each corpus file (``Sample(...).get_events(
source='raw')``, the events FlowKit compensates), so these tests check compensation only,
independently of the cytomics FCS reader.
"""

from __future__ import annotations

import warnings
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, corpus_rows
from cytomics.errors import CompensationError
from cytomics.fcs.model import Acquisition, Channel, Spillover
from cytomics.preprocess.compensation import (
    load_spillover_csv,
    match_detectors,
    resolve_spillover,
)
from cytomics.preprocess.pipeline import preprocess
from cytomics.preprocess.transforms import TransformSettings

SPILL_KEYWORDS = {"SPILL", "$SPILLOVER", "$SPILL", "SPILLOVER"}

#: corpus files with a spillover keyword that FlowKit 1.3.2 cannot load (asserted below).
FLOWKIT_UNREADABLE = {
    # spillover keyword lists 6 detectors but no values
    "fcsparser/fcsparser/tests/data/FlowCytometers/MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Add_Well_A1.001.fcs",
    "fcsparser/fcsparser/tests/data/FlowCytometers/MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Custom_Without_Add_Well_A1.001.fcs",
    "fcsparser/fcsparser/tests/data/FlowCytometers/MiltenyiBiotec/FCS3.1/EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs",
    # blank HEADER offsets
    "fcsparser/fcsparser/tests/data/FlowCytometers/fake_large_fcs/fake_large_fcs.fcs",
    # $TIMESTEP = xxxxxxxxx
    "flowio/data/fcs_files/variable_int_example.fcs",
    "flowkit/data/noncompliant/data_start_offset_discrepancy_example.fcs",
    "flowkit/data/noncompliant/data_stop_offset_discrepancy_example.fcs",
}

NONE_SETTINGS = TransformSettings.from_mapping(
    {"default": {"kind": "none"}, "scatter": {"kind": "none"}, "time": {"kind": "none"}}
)

SPILL_ROWS = [
    r
    for r in corpus_rows()
    if r["outcome"] == "ok" and set(r["spill_keyword"].split(",")) & SPILL_KEYWORDS
]


def _flowkit_sample(path: Path):
    """FlowKit's reading of ``path`` with the offset flags EXPECTED.tsv says are right."""
    import flowkit as fk

    use_header = "Accuri - C6" in path.name  # HEADER offsets are right there (EXPECTED.tsv)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        return fk.Sample(
            path,
            ignore_offset_error=True,
            ignore_offset_discrepancy=use_header,
            use_header_offsets=use_header,
        )


def _flowkit_own_compensation(path: Path) -> np.ndarray:
    """FlowKit alone: load and compensate with the file's own matrix."""
    sample = _flowkit_sample(path)
    md = sample.metadata
    sample.apply_compensation(md.get("spillover") or md["spill"])
    return sample.get_events(source="comp")


def _parse_spill(value: str, source: str) -> Spillover:
    tok = [t.strip() for t in value.split(",")]
    n = int(tok[0])
    return Spillover(
        tuple(tok[1 : n + 1]), np.array(tok[n + 1 :], dtype=float).reshape(n, n), source
    )


def _acquisition_from_flowkit(path: Path) -> tuple[Acquisition, object]:
    sample = _flowkit_sample(path)
    md = sample.metadata
    events = np.ascontiguousarray(sample.get_events(source="raw"), dtype=np.float32)
    channels = tuple(
        Channel(
            index=i,
            name=name,
            marker=(sample.pns_labels[i] or None),
            range=float(md.get(f"p{i + 1}r", 262144)),
            bits=int(md.get(f"p{i + 1}b", 32)),
        )
        for i, name in enumerate(sample.pnn_labels)
    )
    key = next((k for k in ("spillover", "spill") if k in md), None)
    spill = None if key is None else _parse_spill(md[key], key.upper())
    keywords = {f"${k.upper()}" if not k.startswith("$") else k.upper(): v for k, v in md.items()}
    acq = Acquisition(
        path=path,
        sha256="",
        fcs_version="3.0",
        keywords=keywords,
        channels=channels,
        events=events,
        spillover=spill,
    )
    return acq, sample


def _flowkit_comp(sample, spill: Spillover) -> tuple[np.ndarray, str]:
    """FlowKit's compensated events, or flowutils' when FlowKit refuses the labels."""
    from flowutils.compensate import compensate

    text = ",".join(
        [
            str(len(spill.detectors)),
            *spill.detectors,
            *(repr(float(v)) for v in spill.matrix.ravel()),
        ]
    )
    try:
        sample.apply_compensation(text)
        return sample.get_events(source="comp"), "flowkit"
    except ValueError:
        idx = [int(d) - 1 if d.isdigit() else sample.pnn_labels.index(d) for d in spill.detectors]
        return compensate(sample.get_events(source="raw"), spill.matrix, idx), "flowutils"


def _compensated(acq: Acquisition, **kw) -> np.ndarray:
    return preprocess(acq, settings=NONE_SETTINGS, **kw).values


def _assert_close_columns(ours: np.ndarray, ref: np.ndarray, cols: list[int]) -> None:
    for c in cols:
        scale = max(1.0, float(np.max(np.abs(ref[:, c]))))
        err = np.abs(ours[:, c].astype(np.float64) - ref[:, c])
        bound = 1e-5 * np.abs(ref[:, c]) + 1e-6 * scale
        assert np.all(err <= bound), f"column {c}: max error {err.max():.3g}"


def test_corpus_has_spill_rows() -> None:
    assert len(SPILL_ROWS) >= 30
    assert FLOWKIT_UNREADABLE <= {r["path"] for r in SPILL_ROWS}


@pytest.mark.parametrize("row", SPILL_ROWS, ids=[r["path"] for r in SPILL_ROWS])
def test_file_spillover_matches_flowkit(corpus: Path, row: dict[str, str]) -> None:
    path = corpus / row["path"]
    if row["path"] in FLOWKIT_UNREADABLE:
        from flowio.exceptions import DataOffsetDiscrepancyError

        with pytest.raises((ValueError, DataOffsetDiscrepancyError)):
            _flowkit_own_compensation(path)
        return
    acq, sample = _acquisition_from_flowkit(path)
    assert acq.spillover is not None
    assert acq.n_events == int(row["events"]) and acq.n_channels == int(row["params"])
    ref, _ = _flowkit_comp(sample, acq.spillover)
    ev = preprocess(acq, settings=NONE_SETTINGS)
    assert ev.spillover is not None
    cols = [acq.channel_index(d) for d in ev.spillover.detectors]
    _assert_close_columns(ev.values, ref, cols)
    others = [j for j in range(acq.n_channels) if j not in cols]
    np.testing.assert_array_equal(ev.values[:, others], acq.events[:, others])


def test_test_comp_example_npy_and_override(corpus: Path) -> None:
    fcs = corpus / "flowkit/data/test_comp_example.fcs"
    csv_path = corpus / "flowkit/data/comp_complete_example.csv"
    # test_comp_example.npy holds the events compensated with the file's own SPILL, which is
    # the identity (so they equal the raw events)
    truth = np.fromfile(corpus / "flowkit/data/test_comp_example.npy", dtype="<f8").reshape(-1, 18)
    acq, sample = _acquisition_from_flowkit(fcs)
    assert np.allclose(acq.spillover.matrix, np.eye(14))
    ev = preprocess(acq, settings=NONE_SETTINGS)
    cols = [acq.channel_index(d) for d in ev.spillover.detectors]
    assert len(cols) == 14
    _assert_close_columns(ev.values, truth, cols)
    # the lab override (FlowKit's comp_complete_example.csv) vs FlowKit applying the same CSV
    over = preprocess(acq, settings=NONE_SETTINGS, spillover_override=csv_path)
    assert over.spillover.source == str(csv_path)
    sample.apply_compensation(str(csv_path))
    ref = sample.get_events(source="comp")
    _assert_close_columns(over.values, ref, cols)
    assert np.max(np.abs(over.values[:, cols] - acq.events[:, cols])) > 100  # really changed


def test_cytoexplorer_override_on_activation(corpus: Path) -> None:
    fcs = corpus / "cytoexplorerdata/inst/extdata/Activation/Activation_1.fcs"
    csv_path = corpus / "cytoexplorerdata/inst/extdata/Compensation-Spillover-Matrix.csv"
    spill = load_spillover_csv(csv_path)
    assert len(spill.detectors) == 11 and spill.detectors[0] == "Alexa Fluor 488-A"
    assert spill.matrix[0, 1] == pytest.approx(0.180901) and spill.matrix[9, 0] == pytest.approx(
        -0.000894
    )
    acq, sample = _acquisition_from_flowkit(fcs)
    ours = _compensated(acq, spillover_override=csv_path)
    ref, _ = _flowkit_comp(sample, spill)
    _assert_close_columns(ours, ref, [acq.channel_index(d) for d in spill.detectors])


def test_flowjo_style_csv_with_hash_header(corpus: Path) -> None:
    spill = load_spillover_csv(corpus / "flowkit/data/8_color_data_set/den_comp.csv")
    assert spill.detectors[0] == "TNFa FITC FLR-A" and len(spill.detectors) == 8
    assert spill.matrix.shape == (8, 8) and spill.matrix[0, 1] == pytest.approx(0.014139)


# ------------------------------------------------------------------------------------------
# CSV format variants, mapping rule, errors (synthetic)
# ------------------------------------------------------------------------------------------
def _acq(names: list[str], spill: Spillover | None = None, n: int = 50) -> Acquisition:
    rng = np.random.default_rng(3)
    return Acquisition(
        path=Path("/data/tube.fcs"),
        sha256="",
        fcs_version="3.1",
        keywords={},
        channels=tuple(Channel(i, nm, None, 262144.0, 32) for i, nm in enumerate(names)),
        events=rng.uniform(0, 5e4, (n, len(names))).astype(np.float32),
        spillover=spill,
    )


MATRIX = np.array([[1.0, 0.25, 0.0], [0.04, 1.0, 0.12], [0.0, 0.01, 1.0]])


@pytest.mark.parametrize(
    "text",
    [
        "FITC-A,PE-A,APC-A\n1,0.25,0\n0.04,1,0.12\n0,0.01,1\n",
        '"","FITC-A","PE-A","APC-A"\n"FITC-A",1,0.25,0\n"PE-A",0.04,1,0.12\n"APC-A",0,0.01,1\n',
        "FITC-A\tPE-A\tAPC-A\nFITC-A\t1\t0.25\t0\nPE-A\t0.04\t1\t0.12\nAPC-A\t0\t0.01\t1\n",
        "FITC-A;PE-A;APC-A\n1;0,25;0\n0,04;1;0,12\n0;0,01;1\n",
        # row names in another order are matched by name
        ",FITC-A,PE-A,APC-A\nAPC-A,0,0.01,1\nFITC-A,1,0.25,0\nPE-A,0.04,1,0.12\n",
        "Compensation matrix\nFITC-A,PE-A,APC-A\n1,0.25,0\n0.04,1,0.12\n0,0.01,1\n",
    ],
    ids=["plain", "rownames-quoted", "tab", "semicolon-decimal-comma", "reordered", "title-line"],
)
def test_csv_variants(tmp_path: Path, text: str) -> None:
    p = tmp_path / "m.csv"
    p.write_text(text)
    spill = load_spillover_csv(p)
    assert spill.detectors == ("FITC-A", "PE-A", "APC-A")
    np.testing.assert_array_equal(spill.matrix, MATRIX)


def test_detector_mapping_rule() -> None:
    chans = _acq(["FSC-A", "FITC-A", "FITC-H", "pe-a", "APC", "Time"]).channels
    # exact, case-insensitive, suffix-less matrix name -> "-A" channel, "-A" matrix name -> bare channel
    assert match_detectors(["FITC-A", "PE-A", "APC-A"], chans) == [1, 3, 4]
    assert match_detectors(["FITC", "Comp-PE-A", "apc :: CD34"], chans) == [1, 3, 4]
    assert match_detectors(["FITC-H"], chans) == [2]
    with pytest.raises(CompensationError, match="not a channel"):
        match_detectors(["PerCP-A"], chans, path="/data/tube.fcs")
    with pytest.raises(CompensationError, match="twice"):
        match_detectors(["FITC-A", "fitc"], chans)


def test_resolve_prefers_override_and_renames_to_file_channels(tmp_path: Path) -> None:
    own = Spillover(("FITC-A", "PE-A"), np.eye(2), "$SPILLOVER")
    acq = _acq(["FSC-A", "fitc-a", "PE-A", "APC-A"], own)
    assert resolve_spillover(acq).source == "$SPILLOVER"
    p = tmp_path / "lab.csv"
    p.write_text("FITC,PE,APC\n1,0.25,0\n0.04,1,0.12\n0,0.01,1\n")
    spill = resolve_spillover(acq, override=p)
    assert spill.detectors == ("fitc-a", "PE-A", "APC-A") and spill.source == str(p)
    assert resolve_spillover(_acq(["FSC-A", "FITC-A"])) is None


@pytest.mark.parametrize(
    ("text", "match"),
    [
        ("FITC-A,PE-A\n1,1\n1,1\n", "singular"),
        ("FITC-A,PE-A,APC-A\n1,0.2,0\n0,1,0\n", "not square"),
        ("FITC-A,PE-A\n1,0.2\n0,1,0\n", "not square"),
        ("FITC-A,PE-A\n1,nan\n0,1\n", "NaN"),
        ("FITC-A,PE-A\n1,abc\n0,1\n", "non-numeric"),
        ("FITC-A,PerCP-A\n1,0.1\n0,1\n", "not a channel"),
        ("FITC-A,FITC-A\n1,0.1\n0,1\n", "repeats"),
        ("FITC-A,PE-A\n", "header row"),
    ],
)
def test_override_errors_name_the_files(tmp_path: Path, text: str, match: str) -> None:
    p = tmp_path / "bad.csv"
    p.write_text(text)
    acq = _acq(["FSC-A", "FITC-A", "PE-A"])
    with pytest.raises(CompensationError, match=match) as info:
        resolve_spillover(acq, override=p)
    assert info.value.code == "compensation"
    assert "bad.csv" in str(info.value)


def test_file_spillover_errors_name_the_fcs_file() -> None:
    bad = Spillover(("FITC-A", "PE-A"), np.array([[1.0, np.nan], [0.0, 1.0]]), "SPILL")
    with pytest.raises(CompensationError, match="NaN") as info:
        resolve_spillover(_acq(["FITC-A", "PE-A"], bad))
    assert info.value.path == Path("/data/tube.fcs")
    missing = Spillover(("FITC-A", "BV421-A"), np.eye(2), "SPILL")
    with pytest.raises(CompensationError, match="BV421-A"):
        preprocess(_acq(["FITC-A", "PE-A"], missing))
    singular = Spillover(("FITC-A", "PE-A"), np.ones((2, 2)), "SPILL")
    with pytest.raises(CompensationError, match="singular"):
        preprocess(_acq(["FITC-A", "PE-A"], singular))
    nonsquare = Spillover(("FITC-A", "PE-A"), np.ones((2, 3)), "SPILL")
    with pytest.raises(CompensationError, match="not square"):
        preprocess(_acq(["FITC-A", "PE-A"], nonsquare))


def test_missing_override_file(tmp_path: Path) -> None:
    with pytest.raises(CompensationError, match="cannot read"):
        load_spillover_csv(tmp_path / "nope.csv")


def test_compensation_numpy_reference_and_no_matrix_warning() -> None:
    spill = Spillover(("FITC-A", "PE-A", "APC-A"), MATRIX, "SPILL")
    acq = _acq(["FSC-A", "FITC-A", "PE-A", "APC-A", "Time"], spill)
    ours = _compensated(acq)
    ref = acq.events.astype(np.float64)
    ref[:, 1:4] = ref[:, 1:4] @ np.linalg.inv(MATRIX)
    _assert_close_columns(ours, ref, [1, 2, 3])
    plain = _acq(["FSC-A", "FITC-A"])
    ev = preprocess(plain, settings=NONE_SETTINGS)
    assert ev.spillover is None and not ev.is_compensated(1)
    np.testing.assert_array_equal(ev.values, plain.events)
    assert any("not compensated" in w for w in plain.warnings)


def test_corpus_constant_points_to_fixture(corpus: Path) -> None:
    assert corpus == CORPUS
