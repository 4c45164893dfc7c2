"""Result contract helpers, atomic writes and the batch summary."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest

from cytomics import atomic
from cytomics.errors import FCSHeaderError
from cytomics.populations import LABEL_CODES
from cytomics.result import add_review, mark_rejected, new_result, population_table
from cytomics.summary import summarize


def test_population_table_aggregates() -> None:
    names = ["lymphocytes_t"] * 30 + ["lymphocytes_b"] * 10 + ["blasts"] * 40
    names += ["cd45_negative"] * 20 + ["doublet"] * 50 + ["granulocytes"] * 0
    labels = np.array([LABEL_CODES[n] for n in names], dtype=np.uint8)
    table = population_table(labels)
    assert table["nucleated"]["count"] == 100
    assert table["leukocytes"]["count"] == 80
    assert table["lymphocytes"]["count"] == 40
    assert table["blasts"]["pct_of_nucleated"] == pytest.approx(40.0)
    assert table["blasts"]["pct_of_leukocytes"] == pytest.approx(50.0)
    assert table["granulocytes"]["count"] == 0
    assert table["nucleated"]["pct_of_leukocytes"] is None
    assert table["cd45_negative"]["pct_of_leukocytes"] is None


def test_population_table_empty_has_no_division_by_zero() -> None:
    table = population_table(np.array([LABEL_CODES["debris"]] * 5, dtype=np.uint8))
    assert table["nucleated"]["count"] == 0
    assert table["blasts"]["pct_of_nucleated"] is None


def test_status_transitions() -> None:
    result = new_result("S1")
    add_review(result, "x", "needs a look")
    assert result["status"] == "review"
    mark_rejected(result, FCSHeaderError("not an FCS file", path="bad.fcs"))
    assert result["status"] == "rejected"
    assert result["errors"][0]["code"] == "fcs_header"
    assert "bad.fcs" in result["errors"][0]["message"]


def test_atomic_write_leaves_no_temp_and_replaces(tmp_path: Path) -> None:
    target = tmp_path / "sub" / "result.json"
    atomic.write_json(target, {"a": 1})
    atomic.write_json(target, {"a": np.int64(2), "b": np.float32(0.5)})
    assert json.loads(target.read_text()) == {"a": 2, "b": 0.5}
    assert [p.name for p in target.parent.iterdir()] == ["result.json"]


def test_atomic_write_failure_keeps_previous(tmp_path: Path) -> None:
    target = tmp_path / "x.json"
    atomic.write_json(target, {"ok": True})
    with pytest.raises(ValueError):
        atomic.write_json(target, {"bad": float("nan")})
    assert json.loads(target.read_text()) == {"ok": True}
    assert len(list(tmp_path.iterdir())) == 1


def test_summary_lists_every_sample_including_unreadable(tmp_path: Path) -> None:
    ok = new_result("A")
    ok["acquisition"] = {"file": "a.fcs", "events_total": 1000}
    rej = mark_rejected(new_result("B"), FCSHeaderError("not an FCS file", path="b.fcs"))
    files = []
    for res in (ok, rej):
        path = tmp_path / res["sample_id"] / "result.json"
        atomic.write_json(path, res)
        files.append(path)
    broken = tmp_path / "C" / "result.json"
    broken.parent.mkdir()
    broken.write_text("{not json")
    files.append(broken)
    rows = summarize(files, tsv=tmp_path / "summary.tsv", html=tmp_path / "summary.html")
    assert [r["status"] for r in rows] == ["ok", "rejected", "error"]
    lines = (tmp_path / "summary.tsv").read_text().splitlines()
    assert len(lines) == 4 and "fcs_header" in lines[2]
    assert "rejected 1" in (tmp_path / "summary.html").read_text()
