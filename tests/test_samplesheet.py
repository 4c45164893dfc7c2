"""Sample sheet loading/validation and ID sanitising."""

from __future__ import annotations

from pathlib import Path

import pytest

from cytomics.errors import SampleSheetError
from cytomics.samplesheet import load_samplesheet, sanitize_id

HEADER = "sample_id\tpatient_id\ttimepoint\ttube\tfcs\tspecimen\tdna_index\tetv6_runx1\tbcr_abl1\n"


def _sheet(tmp_path: Path, *rows: str, header: str = HEADER) -> Path:
    path = tmp_path / "samples.tsv"
    path.write_text(header + "".join(r + "\n" for r in rows), encoding="utf-8")
    return path


def test_valid_sheet_loads_with_types(tmp_path: Path) -> None:
    path = _sheet(
        tmp_path,
        "S1\tP1\tdx\talot\ta.fcs\tBM\t1.18\tyes\tno",
        "S2\tP1\td19\talot\tb.fcs\tPB\t\t\t",
    )
    rows = load_samplesheet(path, known_panels={"alot"})
    assert [r.sample_id for r in rows] == ["S1", "S2"]
    assert rows[0].dna_index == pytest.approx(1.18)
    assert rows[0].etv6_runx1 == "yes"
    assert rows[1].dna_index is None and rows[1].bcr_abl1 is None
    assert rows[0].is_diagnosis and not rows[1].is_diagnosis


@pytest.mark.parametrize(
    ("row", "fragment"),
    [
        ("S1\tP1\tday19\talot\ta.fcs\tBM\t\t\t", "column timepoint"),
        ("S1\tP1\tdx\talot\ta.fcs\tblood\t\t\t", "column specimen"),
        ("../etc\tP1\tdx\talot\ta.fcs\tBM\t\t\t", "column sample_id"),
        ("S1\tP1\tdx\talot\ta.fcs\tBM\tabc\t\t", "column dna_index"),
        ("S1\tP1\tdx\talot\ta.fcs\tBM\t\tmaybe\t", "column etv6_runx1"),
    ],
)
def test_invalid_rows_name_row_and_column(tmp_path: Path, row: str, fragment: str) -> None:
    path = _sheet(tmp_path, row)
    with pytest.raises(SampleSheetError) as info:
        load_samplesheet(path)
    assert "row 2" in str(info.value) and fragment in str(info.value)
    assert str(path) in str(info.value)


def test_duplicate_ids_and_unknown_panel(tmp_path: Path) -> None:
    dup = _sheet(tmp_path, "S1\tP1\tdx\talot\ta\tBM\t\t\t", "S1\tP2\tdx\talot\tb\tBM\t\t\t")
    with pytest.raises(SampleSheetError, match="duplicate sample_id 'S1'"):
        load_samplesheet(dup)
    unknown = _sheet(tmp_path, "S1\tP1\tdx\tnope\ta\tBM\t\t\t")
    with pytest.raises(SampleSheetError, match="unknown panel 'nope'"):
        load_samplesheet(unknown, known_panels={"alot"})


def test_missing_columns_and_empty_sheet(tmp_path: Path) -> None:
    with pytest.raises(SampleSheetError, match="missing column"):
        load_samplesheet(_sheet(tmp_path, "S1\tP1", header="sample_id\tpatient_id\n"))
    with pytest.raises(SampleSheetError, match="no rows"):
        load_samplesheet(_sheet(tmp_path))
    with pytest.raises(SampleSheetError, match="cannot read"):
        load_samplesheet(tmp_path / "absent.tsv")


@pytest.mark.parametrize(
    ("raw", "expected"),
    [("P-001", "P-001"), ("../../etc/passwd", "etc_passwd"), ("  ", "sample"), ("a b/c", "a_b_c")],
)
def test_sanitize_id(raw: str, expected: str) -> None:
    assert sanitize_id(raw) == expected
