"""``cytomics inspect``: text and JSON output, panel match, exit codes (in-process and subprocess)."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import numpy as np
import pytest

from conftest import REPO_ROOT, corpus_rows
from cytomics.cli import main
from cytomics.fcs import read_fcs

CANTO = "flowworkspacedata/inst/extdata/diva/124500.fcs"  # FACSCanto II, FACSDiva, SPILL
CLI = REPO_ROOT / ".venv" / "bin" / "cytomics"

ALOT = [
    ("FITC-A", "cyMPO"),
    ("PE-A", "Cy79a"),
    ("PerCP-Cy5-5-A", "CD34"),
    ("PE-Cy7-A", "CD19"),
    ("APC-A", "CD7"),
    ("APC-H7-A", "CD3"),
    ("HV450-A", "CyCD3"),
    ("HV500-A", "CD45"),
]
TUBE2 = [
    ("FITC-A", "CD58"),
    ("PE-A", "CD73 CD304"),
    ("PerCP-Cy5-5-A", "CD34"),
    ("PE-Cy7-A", "CD19"),
    ("APC-A", "CD10"),
    ("APC-H7-A", "CD38"),
    ("PacB-A", "CD20"),
    ("PacO-A", "CD45"),
]


def _expected(path: str) -> dict[str, str]:
    return next(r for r in corpus_rows() if r["path"] == path)


def _write(tmp_path: Path, name: str, fluor: list[tuple[str, str | None]]) -> Path:
    from cytomics.fcs.writer import write_fcs

    chans = [("Time", None), ("FSC-A", None), ("FSC-H", None), ("SSC-A", None), *fluor]
    rng = np.random.default_rng(7)
    events = rng.uniform(0, 1000, size=(200, len(chans))).astype(np.float32)
    events[:, 0] = np.arange(200)
    specs = [{"name": n, "marker": m, "range": 262144.0} for n, m in chans]
    return write_fcs(
        tmp_path / name, events, specs, {"$CYT": "FACSCanto II", "TUBE NAME": "ALOT"}, version="3.0"
    )


def test_text_output_on_canto_file(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / CANTO
    exp = _expected(CANTO)
    assert main(["inspect", str(path)]) == 0
    out = capsys.readouterr().out
    acq = read_fcs(path)
    assert f"{int(exp['events']):,}" in out
    assert exp["cytometer"] in out
    assert "FCS version    3.0" in out
    assert "SPILL (8 channels" in out
    # every channel appears with its $PnN and $PnS on one aligned row
    rows = [line for line in out.splitlines() if line.startswith("  ") and "262144" in line]
    assert len(rows) == acq.n_channels == int(exp["params"])
    for ch, row in zip(acq.channels, rows, strict=True):
        assert ch.name in row and (ch.marker or "") in row
    columns = {row.index("262144") for row in rows}
    assert len(columns) == 1  # the range column is aligned
    assert "Looks like: no known panel" in out  # CD3/CD44/CD8 labels are no EuroFlow tube


def test_json_output_on_canto_file(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = corpus / CANTO
    exp = _expected(CANTO)
    assert main(["inspect", str(path), "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    assert data["events"] == int(exp["events"])
    assert data["parameters"] == int(exp["params"]) == len(data["channels"])
    assert data["fcs_version"] == exp["fcs_version"]
    assert data["cytometer"] == exp["cytometer"]
    assert {"name": "PE-A", "marker": "CD3", "range": 262144}.items() <= data["channels"][8].items()
    assert data["channels"][0]["marker"] is None
    spill = data["spillover"]
    assert spill["source"] == exp["spill_keyword"] == "SPILL"
    matrix = np.asarray(spill["matrix"])
    assert matrix.shape == (8, 8) and np.allclose(np.diag(matrix), 1.0)
    assert spill["channels"][6] == "Bd Horizon V450-A"
    assert "panel_match" not in data
    assert data["best_panel"] is None


def test_panel_mismatch_is_rejected(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(corpus / CANTO), "--panel", "alot"]) == 3
    err = capsys.readouterr().err
    assert "rejected: [panel_mismatch]" in err and "124500.fcs" in err
    assert "'Bd Horizon V450-A' is labelled 'CD44'" in err  # cyCD3's channel carries CD44


def test_panel_match_text_and_json(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "alot_case.fcs", ALOT)
    assert main(["inspect", str(path), "--panel", "alot"]) == 0
    out = capsys.readouterr().out
    assert "Panel alot v1.0.0" in out
    row = next(line for line in out.splitlines() if line.strip().startswith("cyCD79a"))
    assert "PE-A" in row and "Cy79a" in row and "PnS" in row
    smcd3 = next(line for line in out.splitlines() if line.strip().startswith("smCD3"))
    assert "APC-H7-A" in smcd3
    assert main(["inspect", str(path), "--panel", "alot", "--json"]) == 0
    data = json.loads(capsys.readouterr().out)
    got = {m["marker"]: (m["channel"], m["method"]) for m in data["panel_match"]["markers"]}
    assert got["cyCD3"] == ("HV450-A", "PnS") and got["smCD3"] == ("APC-H7-A", "PnS")
    assert data["panel_match"]["scatter"] == {"FSC-A": 1, "FSC-H": 2, "SSC-A": 3}
    assert data["best_panel"]["panel"] == "alot"
    assert data["spillover"] is None


def test_wrong_tube_name_is_named(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "saved_as_tube1.fcs", TUBE2)
    assert main(["inspect", str(path)]) == 0
    assert "Looks like: bcp_all_mrd_tube2 (8/8" in capsys.readouterr().out
    assert main(["inspect", str(path), "--panel", "bcp_all_mrd_tube1"]) == 3
    err = capsys.readouterr().err
    assert "saved_as_tube1.fcs" in err and "looks like bcp_all_mrd_tube2" in err


def test_lab_panel_yaml_path(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    path = _write(tmp_path, "t2.fcs", TUBE2)
    panel = REPO_ROOT / "panels" / "bcp_all_mrd_tube2.yaml"
    assert main(["inspect", str(path), "--panel", str(panel)]) == 0
    assert "Panel bcp_all_mrd_tube2" in capsys.readouterr().out
    assert main(["inspect", str(path), "--panel", "no_such_tube"]) == 3
    assert "[panel_invalid]" in capsys.readouterr().err


@pytest.mark.parametrize(
    "row", [r for r in corpus_rows() if r["outcome"] == "reject"], ids=lambda r: r["path"]
)
def test_reject_files_exit_3(
    corpus: Path, row: dict[str, str], capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["inspect", str(corpus / row["path"])]) == 3
    err = capsys.readouterr().err
    assert "rejected:" in err and Path(row["path"]).name in err


def test_missing_file_exit_3(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["inspect", str(tmp_path / "absent.fcs")]) == 3
    assert "absent.fcs" in capsys.readouterr().err


def test_usage_errors_exit_2(capsys: pytest.CaptureFixture[str]) -> None:
    with pytest.raises(SystemExit) as info:
        main(["inspect"])
    assert info.value.code == 2
    assert "FILE" in capsys.readouterr().err


def test_console_script_subprocess(corpus: Path, tmp_path: Path) -> None:
    path = corpus / CANTO
    text = subprocess.run(
        [str(CLI), "inspect", str(path)], capture_output=True, text=True, cwd=tmp_path
    )
    assert text.returncode == 0, text.stderr
    assert "FACSCantoII" in text.stdout and "Pacific Orange-A" in text.stdout
    js = subprocess.run(
        [str(CLI), "inspect", str(path), "--json", "--panel", "alot"],
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert js.returncode == 3 and js.stdout == ""
    assert "124500.fcs" in js.stderr
    ok = subprocess.run(
        [str(CLI), "inspect", str(_write(tmp_path, "a.fcs", ALOT)), "--json", "--panel", "alot"],
        capture_output=True,
        text=True,
        cwd=tmp_path,  # bare panel name resolves from anywhere
    )
    assert ok.returncode == 0, ok.stderr
    assert json.loads(ok.stdout)["panel_match"]["panel"] == "alot"
    bad = subprocess.run([str(CLI), "inspect"], capture_output=True, text=True, cwd=tmp_path)
    assert bad.returncode == 2


def test_data_set_option(corpus: Path, capsys: pytest.CaptureFixture[str]) -> None:
    rel = "cytoflow/cytoflow/tests/data/instruments/Beckman Coulter - Gallios.LMD"
    exp = _expected(rel)
    assert main(["inspect", str(corpus / rel), "--json"]) == 0
    default = json.loads(capsys.readouterr().out)
    assert (default["events"], default["parameters"]) == (int(exp["events"]), int(exp["params"]))
    assert main(["inspect", str(corpus / rel), "--json", "--data-set", "0"]) == 0
    first = json.loads(capsys.readouterr().out)
    assert first["data_set"] == 0 and first["fcs_version"] == "2.0"
    assert first["parameters"] != default["parameters"]
    assert main(["inspect", str(corpus / rel), "--data-set", "9"]) == 3
    assert "Gallios.LMD" in capsys.readouterr().err
