"""Shared test fixtures.

The real public FCS corpus lives beside the checkout in ``../shared/data/fcs`` (CI has it
there too). Tests that need it fail loudly when it is missing rather than skipping.
"""

from __future__ import annotations

import csv
from pathlib import Path

import pytest

REPO_ROOT = Path(__file__).resolve().parents[1]
CORPUS = (REPO_ROOT / ".." / "shared" / "data" / "fcs").resolve()


def corpus_rows() -> list[dict[str, str]]:
    """Rows of the corpus EXPECTED.tsv (empty list when the corpus is absent)."""
    expected = CORPUS / "EXPECTED.tsv"
    if not expected.is_file():
        return []
    with expected.open(newline="", encoding="utf-8") as fh:
        return list(csv.DictReader(fh, delimiter="\t"))


@pytest.fixture(scope="session")
def corpus() -> Path:
    """Path of the real FCS corpus; fails (not skips) when it is missing."""
    if not (CORPUS / "EXPECTED.tsv").is_file():
        pytest.fail(f"real FCS corpus not found at {CORPUS} (expected ../shared beside the checkout)")
    return CORPUS
