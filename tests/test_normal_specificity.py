"""benchmarks/normal_specificity.py runs on every block and rejects unknown ones."""

from __future__ import annotations

import sys
from pathlib import Path

import pytest

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "benchmarks"))

import normal_specificity


def test_every_block_runs_and_is_tabulated(capsys):
    assert normal_specificity.main(["--seed0", "43000", "--cases", "1", "--events", "8000"]) == 0
    out = capsys.readouterr().out
    for block in normal_specificity.BLOCKS:
        assert f"\n{block} " in out
    assert "7 normal cases" in out


def test_unknown_block_is_an_error():
    with pytest.raises(SystemExit):
        normal_specificity.main(["--blocks", "ours_bm,csf"])
