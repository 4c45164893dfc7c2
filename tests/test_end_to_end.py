"""End-to-end: `cytomics analyze` and the Snakemake workflow on a tiny simulated batch.

Simulated data only (generated here); the point is the contract: files written, exit codes,
rejected samples recorded without stopping the batch, idempotent re-runs, and gates.xml
reproducing the label counts in FlowKit.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

from cytomics.cli import main
from cytomics.populations import LABEL_CODES
from cytomics.simulate import simulate_case, write_case

REPO = Path(__file__).resolve().parents[1]
BIN = Path(sys.executable).parent


@pytest.fixture(scope="module")
def batch(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """Two small ALOT files, one truncated file, one missing file, and a sample sheet."""
    root = tmp_path_factory.mktemp("batch")
    data = root / "fcs"
    data.mkdir()
    write_case(simulate_case("t_all", seed=11, n_events=30_000, patient_id="PT1"), data / "t.fcs")
    write_case(
        simulate_case("normal_bm", seed=12, n_events=30_000, patient_id="PN1", variant="lyric"),
        data / "n.fcs",
    )
    raw = (data / "t.fcs").read_bytes()
    (data / "broken.fcs").write_bytes(raw[: len(raw) // 2])
    sheet = root / "samples.tsv"
    sheet.write_text(
        "sample_id\tpatient_id\ttimepoint\ttube\tfcs\tspecimen\n"
        f"T1\tPT1\tdx\talot\t{data / 't.fcs'}\tBM\n"
        f"N1\tPN1\tdx\talot\t{data / 'n.fcs'}\tBM\n"
        f"BAD\tPB1\tdx\talot\t{data / 'broken.fcs'}\tBM\n"
        f"GONE\tPG1\tdx\talot\t{data / 'absent.fcs'}\tPB\n"
    )
    (root / "config").mkdir()
    config = (REPO / "config" / "config.yaml").read_text()
    config = config.replace("samples: config/samples.tsv", f"samples: {sheet}")
    config = config.replace("panels_dir: panels", f"panels_dir: {REPO / 'panels'}")
    (root / "config" / "config.yaml").write_text(config)
    return root


def test_analyze_writes_contract_files_and_flowkit_reproduces_counts(
    batch: Path, tmp_path: Path
) -> None:
    out = tmp_path / "T1"
    code = main(["analyze", str(batch / "fcs" / "t.fcs"), "--panel", "alot", "--out", str(out)])
    assert code == 0
    result = json.loads((out / "result.json").read_text())
    assert result["schema"] == "cytomics.result/1"
    assert result["status"] in ("ok", "review")
    assert result["simulated"] is True
    assert result["acquisition"]["events_total"] == 30_000
    assert len(result["acquisition"]["sha256"]) == 64
    labels = np.load(out / "labels.npy")
    assert labels.dtype == np.uint8 and labels.shape == (30_000,)
    for name in ("nucleated", "leukocytes", "lymphocytes", "monocytes", "granulocytes"):
        assert name in result["populations"]
    assert result["populations"]["blasts"]["count"] == int((labels == LABEL_CODES["blasts"]).sum())
    assert sum(result["qc"]["removed"].values()) + result["qc"]["events_after_qc"] == 30_000
    assert sorted(p.name for p in (out / "plots").iterdir())

    import flowkit as fk

    strategy = fk.parse_gating_xml(str(out / "gates.xml"))
    report = strategy.gate_sample(fk.Sample(str(batch / "fcs" / "t.fcs"))).report
    counts = dict(zip(report["gate_name"], report["count"], strict=True))
    blasts_gate = [name for name in counts if name.endswith("blasts")]
    assert blasts_gate, "no blast gate exported"
    assert counts[blasts_gate[0]] == result["populations"]["blasts"]["count"]


def test_analyze_rejects_bad_input_with_exit_3(batch: Path, tmp_path: Path, capsys) -> None:
    out = tmp_path / "BAD"
    code = main(
        ["analyze", str(batch / "fcs" / "broken.fcs"), "--panel", "alot", "--out", str(out)]
    )
    assert code == 3
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "rejected"
    assert result["errors"][0]["code"] == "fcs_truncated"
    assert "broken.fcs" in result["errors"][0]["message"]
    assert "broken.fcs" in capsys.readouterr().err
    assert not (out / "labels.npy").exists()
    assert result["acquisition"]["file"] == "broken.fcs"
    assert len(result["acquisition"]["sha256"]) == 64


def test_ungated_tube_reports_no_population_percentages(batch: Path, tmp_path: Path) -> None:
    from cytomics.simulate import simulate_case, write_case

    fcs = write_case(
        simulate_case(
            "b_all_pro_b",
            seed=4,
            n_events=20_000,
            panel="bcp_all_mrd_tube1",
            timepoint="d33",
            blast_fraction=1e-3,
        ),
        tmp_path / "mrd.fcs",
    )
    out = tmp_path / "MRD"
    assert (
        main(
            [
                "analyze",
                str(fcs),
                "--panel",
                "bcp_all_mrd_tube1",
                "--out",
                str(out),
                "--timepoint",
                "d33",
                "--no-plots",
            ]
        )
        == 0
    )
    result = json.loads((out / "result.json").read_text())
    assert result["status"] == "review"
    assert set(result["populations"]) == {"nucleated"}  # no 0 % blasts for an ungated tube
    assert result["mrd"]["status"] == "not_evaluable"


def test_analyze_usage_error_exit_2(batch: Path) -> None:
    with pytest.raises(SystemExit) as info:
        main(["analyze", str(batch / "fcs" / "t.fcs")])  # --panel and --out missing
    assert info.value.code == 2


@pytest.mark.slow
def test_snakemake_batch_runs_every_sample_and_is_idempotent(batch: Path) -> None:
    env = dict(os.environ, PATH=f"{BIN}{os.pathsep}{os.environ.get('PATH', '')}")
    cmd = [
        str(BIN / "snakemake"),
        "--snakefile",
        str(REPO / "Snakefile"),
        "--directory",
        str(batch),
        "--cores",
        "2",
        "--keep-going",
    ]
    first = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=900)
    assert first.returncode == 0, first.stderr[-3000:]
    summary = (batch / "results" / "summary.tsv").read_text().splitlines()
    header = summary[0].split("\t")
    rows = {
        line.split("\t")[0]: dict(zip(header, line.split("\t"), strict=True))
        for line in summary[1:]
    }
    assert set(rows) == {"T1", "N1", "BAD", "GONE"}
    assert rows["BAD"]["status"] == "rejected" and "fcs_truncated" in rows["BAD"]["errors"]
    assert rows["GONE"]["status"] == "rejected" and "absent.fcs" in rows["GONE"]["errors"]
    assert rows["T1"]["status"] in ("ok", "review") and rows["N1"]["status"] in ("ok", "review")
    assert (batch / "results" / "summary.html").is_file()
    stamp = (batch / "results" / "samples" / "T1" / "result.json").stat().st_mtime_ns
    second = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=300)
    assert second.returncode == 0
    assert "Nothing to be done" in second.stdout + second.stderr
    assert (batch / "results" / "samples" / "T1" / "result.json").stat().st_mtime_ns == stamp
    shutil.rmtree(batch / "results")


def test_gating_flags_that_need_a_hematologist_make_the_result_review(
    batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """A missing internal T-cell control or a small ambiguous blast cluster is never
    released as a plain 'ok': the result goes to review with the flag as its reason."""
    from cytomics.config import load_config
    from cytomics.gating import alot
    from cytomics.pipeline import SampleRequest, analyze_sample

    real = alot.gate_alot

    def flagged(events, qc, **kw):
        res = real(events, qc, **kw)
        res.flags.extend(["lymphocyte_anchor_missing", "small_blast_cluster_review",
                          "population_absent:cd45_negative", "monocyte_expansion_review"])
        return res

    monkeypatch.setattr(alot, "gate_alot", flagged)
    config = load_config(batch / "config" / "config.yaml")
    req = SampleRequest(fcs=batch / "fcs" / "n.fcs", panel="alot", out_dir=tmp_path / "N1",
                        sample_id="N1", make_plots=False)
    result = analyze_sample(req, config)
    assert result["status"] == "review"
    reasons = {r["message"] for r in result["review_reasons"] if r["code"] == "gating"}
    assert {"lymphocyte_anchor_missing", "small_blast_cluster_review",
            "monocyte_expansion_review"} <= reasons
    # no nucleated red cells is normal (blood, lysed marrow): reported, not a review reason
    assert "population_absent:cd45_negative" in result["gating"]["flags"]
    assert "population_absent:cd45_negative" not in reasons


def test_every_review_flag_the_gating_can_raise_sends_to_review() -> None:
    """Each flag literal in the gating modules that names a review is recognised by the pipeline
    (a new flag cannot silently fail to reach the hematologist)."""
    import re

    import cytomics.gating.alot as alot
    from cytomics.pipeline import needs_review

    names = set()
    for module in Path(alot.__file__).parent.glob("*.py"):  # alot and its helper modules
        source = module.read_text(encoding="utf-8")
        names |= set(re.findall(r'"([a-z0-9_]*review[a-z0-9_]*)', source))
    assert len(names) >= 3
    assert all(needs_review(n) for n in names), sorted(n for n in names if not needs_review(n))
    assert not needs_review("population_absent:cd45_negative")
    assert not needs_review("blast_cluster_myeloid")


@pytest.mark.parametrize("specimen", ["PB", "BM", None])
def test_specimen_from_the_sample_sheet_reaches_the_gating(
    batch: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, specimen: str | None
) -> None:
    """Blood and marrow are gated by different rules (no hematogones in blood): the specimen
    the lab declared is what the gating sees, and the result records it."""
    from cytomics.config import load_config
    from cytomics.gating import alot
    from cytomics.pipeline import SampleRequest, analyze_sample

    real = alot.gate_alot
    seen, screen = [], []

    def spy(events, qc, **kw):
        seen.append(kw.get("specimen", "missing"))
        screen.append(kw.get("small_settings"))
        return real(events, qc, **kw)

    monkeypatch.setattr(alot, "gate_alot", spy)
    config = load_config(batch / "config" / "config.yaml")
    config["gating"] = {"small_clusters": {"mpo_review_fraction": 0.02}}  # a lab override
    req = SampleRequest(fcs=batch / "fcs" / "n.fcs", panel="alot", out_dir=tmp_path / "N1",
                        sample_id="N1", make_plots=False, specimen=specimen)
    result = analyze_sample(req, config)
    assert seen == [specimen]
    assert screen[0].mpo_review_fraction == 0.02
    assert result["sample"]["specimen"] == specimen
