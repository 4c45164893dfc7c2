"""Tests of the FCS reader against the real corpus (EXPECTED.tsv) and synthetic files."""

from __future__ import annotations

import hashlib
import math
import re
import shutil
import warnings
from functools import cache
from pathlib import Path

import numpy as np
import pytest

from conftest import CORPUS, corpus_rows
from cytomics.errors import (
    CompensationError,
    FCSDataError,
    FCSError,
    FCSHeaderError,
    FCSTextError,
    FCSTruncatedError,
    FCSUnsupportedError,
)
from cytomics.fcs.reader import (
    list_data_sets,
    read_fcs,
    read_fcs_header_text,
    read_fcs_metadata,
)
from cytomics.fcs.spillover import parse_spillover

ROWS = corpus_rows()
OK_ROWS = [r for r in ROWS if r["outcome"] == "ok"]
MULTI_ROWS = [r for r in ROWS if r["outcome"] == "ok-multi-dataset"]
REJECT_ROWS = [r for r in ROWS if r["outcome"] == "reject"]
#: quirks flowio 1.4.0 cannot read (EXPECTED.tsv notes); these get independent checks instead
FLOWIO_UNREADABLE = {"padded-keyword", "24-bit-int", "blank-header-offsets", "multi-dataset"}

pytestmark = pytest.mark.corpus


def _ids(rows: list[dict[str, str]]) -> list[str]:
    return [r["path"] for r in rows]


def _tags(row: dict[str, str]) -> set[str]:
    return set(row["quirk"].split(";"))


def _row(suffix: str) -> dict[str, str]:
    hits = [r for r in ROWS if r["path"].endswith(suffix)]
    assert len(hits) == 1, suffix
    return hits[0]


@cache
def _read(rel: str, data_set: int | None = None, linearize: bool = True):
    return read_fcs(CORPUS / rel, data_set=data_set, linearize=linearize)


def _next_pow2(x: float) -> int:
    return 1 << max(0, math.ceil(math.log2(x)))


def test_corpus_present(corpus: Path) -> None:
    assert len(OK_ROWS) == 80 and len(MULTI_ROWS) == 3 and len(REJECT_ROWS) == 2


# ------------------------------------------------------------------------ ok rows
@pytest.mark.parametrize("row", OK_ROWS + MULTI_ROWS, ids=_ids(OK_ROWS + MULTI_ROWS))
def test_ok_row_shape_version_cytometer(row: dict[str, str], corpus: Path) -> None:
    acq = _read(row["path"])
    assert acq.events.shape == (int(row["events"]), int(row["params"]))
    assert acq.events.dtype == np.float32 and acq.events.flags.c_contiguous
    assert acq.fcs_version == row["fcs_version"]
    assert (acq.cytometer or "-") == row["cytometer"]
    assert acq.n_channels == len(acq.channels)
    assert [c.index for c in acq.channels] == list(range(acq.n_channels))
    assert acq.sha256 == hashlib.sha256((corpus / row["path"]).read_bytes()).hexdigest()
    assert acq.path == corpus / row["path"]
    assert all(k == k.strip().upper() for k in acq.keywords)
    assert acq.timestep is None or acq.timestep > 0


@pytest.mark.parametrize("row", OK_ROWS, ids=_ids(OK_ROWS))
def test_ok_row_values(row: dict[str, str], corpus: Path) -> None:
    """Finite values; masked integer data below the next power of two of $PnR;
    values equal flowio 1.4.0 (raw) and the log linearisation formula."""
    raw = _read(row["path"], linearize=False)
    lin = _read(row["path"])
    assert np.isfinite(lin.events).all()
    integer = raw.keywords["$DATATYPE"].upper() == "I"
    if integer:
        for ch in raw.channels:
            top = np.float32(_next_pow2(ch.range) - 1)  # float32 rounds above 2**24
            assert raw.events[:, ch.index].max(initial=0) <= top, ch.name
            assert raw.events[:, ch.index].min(initial=0) >= 0
    expected = raw.events.astype(np.float64)
    for ch in raw.channels:
        if integer and ch.log_decades > 0:
            f2 = ch.log_offset if ch.log_offset > 0 else 1.0
            expected[:, ch.index] = 10.0 ** (ch.log_decades * expected[:, ch.index] / ch.range) * f2
    np.testing.assert_allclose(lin.events, expected.astype(np.float32), rtol=1e-6, atol=0)
    if _tags(row) & FLOWIO_UNREADABLE:
        return
    import flowio

    kwargs = {"ignore_offset_error": True}
    if "header-text-offset-discrepancy" in _tags(row):
        if "HEADER is right" in row["note"]:
            kwargs["use_header_offsets"] = True
        else:
            kwargs["ignore_offset_discrepancy"] = True
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = flowio.FlowData(str(corpus / row["path"]), **kwargs).as_array(preprocess=False)
    np.testing.assert_array_equal(raw.events, ref.astype(np.float32))


_TEXT_ROWS = [r for r in OK_ROWS if not _tags(r) & (
    FLOWIO_UNREADABLE | {"empty-value", "delimiter-not-terminal"})]


@pytest.mark.parametrize("row", _TEXT_ROWS, ids=_ids(_TEXT_ROWS))
def test_keywords_match_flowio(row: dict[str, str], corpus: Path) -> None:
    """Where flowio's TEXT parser is right (no empty values), every keyword agrees."""
    import flowio

    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        ref = flowio.FlowData(str(corpus / row["path"]), only_text=True,
                              ignore_offset_error=True, ignore_offset_discrepancy=True).text
    _, ours = read_fcs_header_text(corpus / row["path"])
    normalised = {k.replace("$", "").lower(): v for k, v in ours.items()}  # flowio drops "$"
    for key, value in ref.items():
        assert normalised.get(key) == value.strip(), key


def _header_data_start(path: Path) -> int:
    return int(path.read_bytes()[26:34])


@pytest.mark.parametrize(
    "row", [r for r in OK_ROWS if "24-bit-int" in _tags(r)],
    ids=_ids([r for r in OK_ROWS if "24-bit-int" in _tags(r)]),
)
def test_24bit_matches_direct_decode(row: dict[str, str], corpus: Path) -> None:
    path = corpus / row["path"]
    acq = _read(row["path"], linearize=False)
    n, p = acq.events.shape
    start = _header_data_start(path)
    b = np.frombuffer(path.read_bytes(), dtype=np.uint8, count=n * p * 3, offset=start)
    b = b.reshape(n, p, 3).astype(np.int64)
    direct = (b[..., 0] << 16) | (b[..., 1] << 8) | b[..., 2]  # big-endian
    np.testing.assert_array_equal(acq.events, direct.astype(np.float32))
    ten_bit = [c.index for c in acq.channels if c.range == 1024]
    assert ten_bit and acq.events[:, ten_bit].max() <= 1023
    time = acq.events[:, acq.time_channel()]
    assert np.all(np.diff(time) >= 0)


def test_padded_keyword_partec(corpus: Path) -> None:
    row = _row("Partec - CyFlow v2.9.fcs")
    _, kw = read_fcs_header_text(corpus / row["path"])
    assert kw["$DATATYPE"] == "I"
    acq = _read(row["path"], linearize=False)
    path = corpus / row["path"]
    n, p = acq.events.shape
    direct = np.frombuffer(path.read_bytes(), dtype="<u2", count=n * p,
                           offset=_header_data_start(path)).reshape(n, p)
    np.testing.assert_array_equal(acq.events, (direct & 0x7FFF).astype(np.float32))


def test_blank_header_offsets_fall_back_to_text(corpus: Path) -> None:
    big = _read(_row("fake_large_fcs.fcs")["path"])
    ref = _read(_row("FCS_3.0_Fortessa_PBS_Specimen_001_A1_A01.fcs")["path"])
    np.testing.assert_array_equal(big.events, ref.events)


# --------------------------------------------------------------------- multi data set
def _other_shape(note: str) -> tuple[int, int]:
    m = re.search(r"Data set 1 = FCS2\.0 (\d+)x(\d+)", note) or re.search(
        r"both (\d+)x(\d+)", note)
    assert m, note
    return int(m.group(1)), int(m.group(2))


@pytest.mark.parametrize("row", MULTI_ROWS, ids=_ids(MULTI_ROWS))
def test_multi_dataset(row: dict[str, str], corpus: Path) -> None:
    default = _read(row["path"])
    assert default.data_set == 1
    assert any("data set 0" in w for w in default.warnings)
    assert [d.fcs_version for d in list_data_sets(corpus / row["path"])] == ["2.0", "3.0"]
    first = _read(row["path"], data_set=0, linearize=False)
    assert first.data_set == 0 and first.fcs_version == "2.0"
    assert first.events.shape == _other_shape(row["note"])
    masked = _read(row["path"], data_set=1, linearize=False)
    np.testing.assert_array_equal(masked.events, default.events)
    for name in ("FS", "SS"):
        i1 = next(c.index for c in first.channels if c.name.upper().startswith(name))
        i2 = next(c.index for c in masked.channels if c.name.upper().startswith(name))
        np.testing.assert_array_equal(first.events[:, i1],
                                      np.floor(masked.events[:, i2] / 1024))
    for ch in masked.channels:  # bitmask-junk: masked to $PnR
        assert masked.events[:, ch.index].max() <= _next_pow2(ch.range) - 1
    with pytest.raises(FCSError, match="data set 2"):
        read_fcs(corpus / row["path"], data_set=2)
    version, _ = read_fcs_header_text(corpus / row["path"])
    assert version == "3.0"
    assert read_fcs_header_text(corpus / row["path"], data_set=0)[0] == "2.0"


def test_multi_dataset_matches_flowio(corpus: Path) -> None:
    import flowio

    for suffix in ("coulter.lmd", "Gallios.LMD"):
        row = _row(suffix)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            sets = flowio.read_multiple_data_sets(str(corpus / row["path"]),
                                                  ignore_offset_error=True)
        for k, fd in enumerate(sets):
            ours = _read(row["path"], data_set=k, linearize=False)
            np.testing.assert_array_equal(ours.events,
                                          fd.as_array(preprocess=False).astype(np.float32))


# ------------------------------------------------------------------------- rejects
_REJECT_ERRORS = {"not-fcs": FCSHeaderError, "truncated": FCSTruncatedError}


@pytest.mark.parametrize("row", REJECT_ROWS, ids=_ids(REJECT_ROWS))
def test_reject_rows(row: dict[str, str], corpus: Path) -> None:
    (tag,) = _tags(row) & set(_REJECT_ERRORS)
    path = corpus / row["path"]
    with pytest.raises(_REJECT_ERRORS[tag]) as info:
        read_fcs(path)
    assert info.value.path == path
    assert path.name in str(info.value)


# --------------------------------------------------------------------- named quirks
@pytest.mark.parametrize("suffix", ["0877408774.B08", "0877408774.E07", "0877408774.F06"])
def test_empty_values_keep_following_keyword(suffix: str) -> None:
    acq = _read(_row(suffix)["path"])
    assert acq.keywords["$P6N"] == "FL1-A"
    assert acq.keywords["$P3S"] == ""
    assert acq.channels[5].name == "FL1-A"


def test_attune_empty_values() -> None:
    acq = _read(_row("Applied Biosystems - Attune.fcs")["path"])
    assert acq.keywords["$INST"] == ""
    assert acq.keywords["$COM"] == ""


def test_non_terminal_delimiter(corpus: Path) -> None:
    _, kw = read_fcs_header_text(corpus / _row("Cytek NL-2000.fcs")["path"])
    assert list(kw.values())[-1] == "20200722"


def test_bitmask_files_within_range() -> None:
    for row in ROWS:
        if "bitmask-junk" not in _tags(row):
            continue
        acq = _read(row["path"], linearize=False)
        for ch in acq.channels:
            assert acq.events[:, ch.index].max() <= ch.range, (row["path"], ch.name)
    fill = _read(_row("fcs1_cleaned.lmd")["path"], linearize=False)
    assert np.all(fill.events == 528)


def test_gate_ref_truth_raw_and_linear(corpus: Path) -> None:
    row = _row("gate_ref/data1.fcs")
    truth = np.load(corpus / "flowio/data/truth/data1_original_events.npy")
    raw = _read(row["path"], linearize=False)
    np.testing.assert_array_equal(raw.events, truth.astype(np.float32))
    assert any("linearize=False" in w for w in raw.warnings)
    lin = _read(row["path"])
    logs = [c.index for c in lin.channels if c.log_decades > 0]
    assert logs, "data1.fcs has log-amplified channels"
    for j in logs:
        np.testing.assert_allclose(lin.events[:, j], 10 ** (4 * truth[:, j] / 1024), rtol=1e-6)
    lins = [c.index for c in lin.channels if c.log_decades == 0]
    np.testing.assert_array_equal(lin.events[:, lins], truth[:, lins].astype(np.float32))


def test_log_pne_on_float_not_applied() -> None:
    acq = _read(_row("itn_02.fcs")["path"])
    raw = _read(_row("itn_02.fcs")["path"], linearize=False)
    assert any(c.log_decades > 0 for c in acq.channels)
    np.testing.assert_array_equal(acq.events, raw.events)
    assert acq.events.max() > 1024  # already linear, above $PnR
    assert any("float data" in w for w in acq.warnings)


def test_offset_discrepancies_pick_sane_span() -> None:
    accuri = _read(_row("Accuri - C6.fcs")["path"])
    time = accuri.events[:, accuri.time_channel()]
    assert np.all(np.diff(time) >= 0)
    assert any("TEXT" in w and "overlaps" in w for w in accuri.warnings)
    cyan = _read(_row("Beckman Coulter - Cyan.fcs")["path"], linearize=False)
    counter = next(c.index for c in cyan.channels if "count" in c.name.lower())
    np.testing.assert_array_equal(np.diff(cyan.events[:, counter]), 1)
    ref = _read(_row("variable_int_example.fcs")["path"])
    for name in ("data_start_offset_discrepancy_example.fcs",
                 "data_stop_offset_discrepancy_example.fcs"):
        np.testing.assert_array_equal(_read(_row(name)["path"]).events, ref.events)


def test_duplicate_keywords_warn_and_keep_first() -> None:
    acq = _read(_row("SG_2014-09-26_Duplicate_Names.fcs")["path"])
    assert any("$VOL" in w for w in acq.warnings)
    diva = _read(_row("diva/124500.fcs")["path"])
    assert any("FCSVERSION" in w for w in diva.warnings)


def test_supplemental_text_merged(corpus: Path) -> None:
    row = _row("EY_2013-07-19_PBS_FCS_3.1_Custom_Add_Well_A1.001.fcs")
    path = corpus / row["path"]
    acq = _read(row["path"])
    primary_end = int(path.read_bytes()[18:26])
    primary = path.read_bytes()[:primary_end + 1].decode("latin-1").upper()
    only_supplemental = [k for k in acq.keywords if k not in primary]
    assert only_supplemental, "custom keywords of the supplemental TEXT are merged"


def test_non_utf8_text_decoded() -> None:
    acq = _read(_row("Sample_Well_A02.fcs")["path"])
    assert any("UTF-8" in w for w in acq.warnings)
    assert acq.keywords["$CYT"] == "FACSCalibur"


def test_bad_timestep_does_not_crash() -> None:
    acq = _read(_row("variable_int_example.fcs")["path"])
    assert acq.keywords["$TIMESTEP"] == "xxxxxxxxx"
    assert acq.timestep is None
    diva = _read(_row("Activation_1.fcs")["path"])
    assert diva.timestep == pytest.approx(float(diva.keywords["$TIMESTEP"]))


def test_spillover_from_files() -> None:
    act = _read(_row("Activation_1.fcs")["path"])
    assert act.spillover is not None and act.spillover.source == "SPILL"
    names = {c.name for c in act.channels}
    assert set(act.spillover.detectors) <= names
    k = len(act.spillover.detectors)
    assert act.spillover.matrix.shape == (k, k) and act.spillover.matrix.dtype == np.float64
    np.testing.assert_allclose(np.diag(act.spillover.matrix), 1.0)
    accuri = _read(_row("Accuri - C6.fcs")["path"])  # detectors given as parameter numbers
    assert accuri.spillover is not None
    assert set(accuri.spillover.detectors) <= {c.name for c in accuri.channels}
    macs = _read(_row("EY_2013-07-19_PBS_FCS_3.1_Well_A1.001.fcs")["path"])
    assert macs.spillover is None  # $SPILLOVER lists detectors without values
    assert any("spillover" in w for w in macs.warnings)
    assert _read(_row("Data002.fcs")["path"]).spillover is None


def test_header_text_matches_full_read(corpus: Path) -> None:
    row = _row("Activation_1.fcs")
    version, kw = read_fcs_header_text(corpus / row["path"])
    acq = _read(row["path"])
    assert version == acq.fcs_version and kw == acq.keywords


def test_metadata_without_data(corpus: Path) -> None:
    meta = read_fcs_metadata(corpus / _row("Gallios.LMD")["path"])
    assert (meta.data_set, meta.n_events, meta.n_params) == (1, 26383, 5)
    assert meta.channel_names() == ["FS-A", "SS-A", "FL1-A", "FL2-A", "TIME"]
    assert meta.cytometer == "Gallios" and len(meta.data_sets) == 2
    flowcore = read_fcs_metadata(corpus / _row("0877408774.B08")["path"])
    assert flowcore.channel_names()[5] == "FL1-A" and flowcore.markers()[2] is None
    truncated = corpus / _row("sample_header.fcs")["path"]  # DATA missing, TEXT intact
    assert read_fcs_metadata(truncated).keywords["$CYT"] == "Aurora"


# ------------------------------------------------------------------------ spillover
def test_parse_spillover_ok_and_malformed() -> None:
    sp = parse_spillover("2, FITC-A,PE-A, 1,0.1, 0.02,1", source="SPILL", path="x.fcs")
    assert sp.detectors == ("FITC-A", "PE-A") and sp.source == "SPILL"
    np.testing.assert_array_equal(sp.matrix, [[1, 0.1], [0.02, 1]])
    for bad in ("", "x,a,b", "2,A,B,1,0,0", "2,A,A,1,0,0,1", "2,A,B,1,0,zz,1", "0",
                "1,A,nan"):
        with pytest.raises(CompensationError) as info:
            parse_spillover(bad, source="SPILL", path="x.fcs")
        assert "x.fcs" in str(info.value)


# ------------------------------------------------------------------- synthetic files
def _fcs(pairs: list[tuple[str, str]], data: bytes, *, version: str = "3.0",
         delim: str = "/", header_data: bool = True, terminal: bool = True) -> bytes:
    """Build a small FCS file (keywords written verbatim; values must pre-escape)."""
    def build(begin: int, end: int) -> bytes:
        items = [*pairs]
        if version != "2.0":
            items += [("$BEGINDATA", str(begin)), ("$ENDDATA", str(end)),
                      ("$BEGINANALYSIS", "0"), ("$ENDANALYSIS", "0"), ("$NEXTDATA", "0")]
        body = delim + delim.join(f"{k}{delim}{v}" for k, v in items)
        return (body + (delim if terminal else "")).encode("latin-1")

    text = build(10**12, 10**12)  # widest numbers, then pad the real TEXT to that length
    begin = 58 + len(text)
    text = build(begin, begin + len(data) - 1).ljust(len(text), b" ")
    d0, d1 = (begin, begin + len(data) - 1) if header_data else (0, 0)
    if d1 > 99_999_999:  # FCS 3.x: offsets that do not fit the HEADER are written as 0
        d0 = d1 = 0
    header = f"FCS{version}    {58:8d}{57 + len(text):8d}{d0:8d}{d1:8d}{0:8d}{0:8d}"
    return header.encode("ascii") + text + data


def _params(p: int, bits: int, rng: str = "1024") -> list[tuple[str, str]]:
    out = []
    for i in range(1, p + 1):
        out += [(f"$P{i}N", f"CH{i}"), (f"$P{i}B", str(bits)), (f"$P{i}R", rng),
                (f"$P{i}E", "0,0")]
    return out


def test_synthetic_datatypes_and_orders(tmp_path: Path) -> None:
    values = np.arange(12, dtype=np.float64).reshape(4, 3) * 1.5
    cases = [
        ("D", 64, "1,2,3,4,5,6,7,8", values.astype("<f8").tobytes(), values),
        ("D", 64, "8,7,6,5,4,3,2,1", values.astype(">f8").tobytes(), values),
        ("F", 32, "4,3,2,1", values.astype(">f4").tobytes(), values),
        ("I", 8, "1,2,3,4", values.astype("u1").tobytes(), values.astype(int)),
        ("I", 16, "2,1", values.astype(">u2").tobytes(), values.astype(int)),
        ("I", 16, "1,2", values.astype("<u2").tobytes(), values.astype(int)),
        ("I", 32, "4,3,2,1", values.astype(">u4").tobytes(), values.astype(int)),
    ]
    for k, (dt, bits, order, data, expected) in enumerate(cases):
        pairs = [("$BYTEORD", order), ("$DATATYPE", dt), ("$MODE", "L"), ("$PAR", "3"),
                 ("$TOT", "4"), *_params(3, bits)]
        path = tmp_path / f"s{k}.fcs"
        path.write_bytes(_fcs(pairs, data, version="2.0" if bits == 16 else "3.1"))
        acq = read_fcs(path)
        assert acq.events.dtype == np.float32 and acq.events.flags.owndata
        np.testing.assert_array_equal(acq.events, np.asarray(expected, dtype=np.float32))


def test_synthetic_text_rules(tmp_path: Path) -> None:
    pairs = [("$BYTEORD", "1,2,3,4"), ("$DATATYPE", "F"), ("$MODE", "L"), ("$PAR", "1"),
             ("$TOT", "2"), ("$COM", "a//b"), ("$EMPTY", ""), ("  $PADDED", "v "),
             ("$DUP", "first"), ("$DUP", "second"), *_params(1, 32)]
    data = np.array([1.0, 2.0], dtype="<f4").tobytes()
    path = tmp_path / "t.fcs"
    path.write_bytes(_fcs(pairs, data, header_data=False, terminal=False))
    acq = read_fcs(path)
    assert acq.keywords["$COM"] == "a/b"
    assert acq.keywords["$EMPTY"] == ""
    assert acq.keywords["$PADDED"] == "v"
    assert acq.keywords["$DUP"] == "first"
    assert any("$DUP" in w for w in acq.warnings)
    np.testing.assert_array_equal(acq.events[:, 0], [1.0, 2.0])


def test_synthetic_mixed_widths_and_log(tmp_path: Path) -> None:
    n = 5
    a = np.arange(n, dtype=np.uint32) + 0xF000  # junk above the 10-bit range
    b = np.arange(n, dtype=np.uint32) * 100
    c = np.arange(n, dtype=np.uint32) * 3
    rows = b"".join(
        int(a[i]).to_bytes(2, "big") + int(b[i]).to_bytes(4, "big") + int(c[i]).to_bytes(3, "big")
        for i in range(n))
    pairs = [("$BYTEORD", "4,3,2,1"), ("$DATATYPE", "I"), ("$PAR", "3"), ("$TOT", str(n)),
             ("$P1N", "FSC"), ("$P1B", "16"), ("$P1R", "1024"),
             ("$P2N", "FL1"), ("$P2B", "32"), ("$P2R", "1000"), ("$P2E", "4,0"),
             ("$P3N", "FL2"), ("$P3B", "24"), ("$P3R", "1024"), ("$P3E", "2,1.5")]
    path = tmp_path / "m.fcs"
    path.write_bytes(_fcs(pairs, rows))
    raw = read_fcs(path, linearize=False).events
    np.testing.assert_array_equal(raw[:, 0], a & 1023)
    np.testing.assert_array_equal(raw[:, 1], b & 1023)  # $PnR 1000 -> 10-bit mask
    np.testing.assert_array_equal(raw[:, 2], c)
    lin = read_fcs(path).events
    np.testing.assert_allclose(lin[:, 1], 10 ** (4 * (b & 1023) / 1000.0), rtol=1e-6)
    np.testing.assert_allclose(lin[:, 2], 10 ** (2 * c / 1024.0) * 1.5, rtol=1e-6)


def _copy(corpus: Path, suffix: str, tmp_path: Path) -> tuple[Path, bytes]:
    src = corpus / _row(suffix)["path"]
    dst = tmp_path / src.name
    shutil.copyfile(src, dst)
    return dst, dst.read_bytes()


def test_truncated_corpus_file(corpus: Path, tmp_path: Path) -> None:
    path, blob = _copy(corpus, "Activation_1.fcs", tmp_path)
    for cut, where in ((len(blob) // 2, "DATA"), (1000, "TEXT"), (30, "HEADER")):
        path.write_bytes(blob[:cut])
        with pytest.raises(FCSTruncatedError, match=where) as info:
            read_fcs(path)
        assert info.value.path == path and path.name in str(info.value)


def test_keyword_defects(corpus: Path, tmp_path: Path) -> None:
    path, blob = _copy(corpus, "Activation_1.fcs", tmp_path)
    cases = [
        (b"|$MODE|L|", b"|$MODE|C|", FCSUnsupportedError, "MODE"),
        (b"|$PAR|", b"|$PAX|", FCSTextError, r"\$PAR"),
        (b"|$DATATYPE|F|", b"|$DATATYPE|A|", FCSUnsupportedError, "DATATYPE"),
        (b"|$TOT|50000|", b"|$TOT|40000|", FCSDataError, "TOT"),
        (b"|$P3B|32|", b"|$P3B|xx|", None, None),  # ignored for float data (warning)
    ]
    assert blob[58:59] == b"|"
    for old, new, exc, match in cases:
        assert blob.count(old) == 1, old
        path.write_bytes(blob.replace(old, new))
        if exc is None:
            acq = read_fcs(path)
            assert any("$P3B" in w for w in acq.warnings)
            continue
        with pytest.raises(exc, match=match) as info:
            read_fcs(path)
        assert info.value.path == path


def test_not_fcs_inputs(tmp_path: Path) -> None:
    garbage = tmp_path / "garbage.fcs"
    garbage.write_bytes(np.random.default_rng(0).integers(0, 256, 4000, dtype=np.uint8).tobytes())
    empty = tmp_path / "empty.fcs"
    empty.write_bytes(b"")
    for path, exc, match in (
        (garbage, FCSHeaderError, "not an FCS file"),
        (empty, FCSHeaderError, "empty"),
        (tmp_path, FCSError, "directory"),
        (tmp_path / "missing.fcs", FCSError, "not found"),
    ):
        with pytest.raises(exc, match=match) as info:
            read_fcs(path)
        assert info.value.path == path
        with pytest.raises(exc):
            read_fcs_header_text(path)


def test_corrupted_bytes_never_crash(corpus: Path, tmp_path: Path) -> None:
    """Random byte damage in HEADER/TEXT (and random cuts) gives data or a typed FCSError."""
    rng = np.random.default_rng(7)
    sources = [corpus / _row(s)["path"] for s in (
        "gate_ref/data1.fcs", "variable_int_example.fcs", "Gallios.LMD", "cyflow_cube_8.fcs")]
    blobs = [p.read_bytes() for p in sources]
    path = tmp_path / "damaged.fcs"
    specials = np.frombuffer(b"/\\|09 ", dtype=np.uint8)
    for _ in range(300):
        blob = bytearray(blobs[rng.integers(len(blobs))])
        text_end = int(blob[18:26])
        for _ in range(rng.integers(1, 7)):
            i = int(rng.integers(0, text_end + 1))
            blob[i] = int(rng.choice(specials)) if rng.random() < 0.5 else int(rng.integers(256))
        if rng.random() < 0.2:
            blob = blob[: int(rng.integers(len(blob)))]
        path.write_bytes(bytes(blob))
        try:
            acq = read_fcs(path)
        except FCSError as exc:
            assert exc.path == path
        else:
            assert acq.events.dtype == np.float32
            assert acq.events.shape == (int(float(acq.keywords["$TOT"])), len(acq.channels))


@pytest.mark.parametrize("tap_bytes", [40, 42])
def test_streamed_checksum_equals_file_sha256(tmp_path: Path, monkeypatch, tap_bytes: int) -> None:
    """Large files hash the DATA bytes from the event buffer as they are read (no second
    read); forced here on small files of every datatype and byte order, with bytes after
    DATA, in several read chunks (also chunks that split a value): the digest is the whole
    file's SHA-256 and the values are unchanged (big-endian float buffers are swapped part
    by part, each part only after it is hashed)."""
    import cytomics.fcs._data as data_mod
    import cytomics.fcs.reader as reader_mod

    monkeypatch.setattr(reader_mod, "_HASH_INLINE_MAX", 0)
    monkeypatch.setattr(data_mod, "_TAP_BYTES", tap_bytes)  # many chunks
    values = np.arange(300, dtype=np.float64).reshape(100, 3) % 251
    cases = [
        ("F", 32, "4,3,2,1", values.astype(">f4").tobytes()),
        ("F", 32, "1,2,3,4", values.astype("<f4").tobytes()),
        ("I", 16, "2,1", values.astype(">u2").tobytes()),
        ("I", 8, "1,2,3,4", values.astype("u1").tobytes()),
        ("D", 64, "1,2,3,4,5,6,7,8", values.astype("<f8").tobytes()),  # file hash path
    ]
    for k, (dt, bits, order, data) in enumerate(cases):
        pairs = [("$BYTEORD", order), ("$DATATYPE", dt), ("$MODE", "L"), ("$PAR", "3"),
                 ("$TOT", "100"), *_params(3, bits, rng="1024")]
        path = tmp_path / f"h{k}.fcs"
        path.write_bytes(_fcs(pairs, data) + b"trailing analysis bytes " * 3)
        acq = read_fcs(path)
        assert acq.sha256 == hashlib.sha256(path.read_bytes()).hexdigest(), dt
        np.testing.assert_array_equal(acq.events, values.astype(np.float32))
        path.write_bytes(_fcs(pairs, data)[:-50])  # truncated DATA: typed error, no hang
        with pytest.raises(FCSTruncatedError):
            read_fcs(path)
