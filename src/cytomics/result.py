"""The per-sample result contract (``result.json``, schema ``cytomics.result/1``, DESIGN §8).

Functions here build the JSON document from stage outputs; they do no analysis. Every
result, including a rejected one, has the same top-level keys so the lab system and the
batch summary can read any of them without special cases.
"""

from __future__ import annotations

import hashlib
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np

from cytomics import __version__
from cytomics.errors import CytomicsInputError
from cytomics.populations import AGGREGATES, LABEL_CODES, LABEL_NAMES

SCHEMA = "cytomics.result/1"
STATUSES = ("ok", "review", "rejected")


def file_sha256(path: str | Path) -> str:
    """Hex SHA-256 of a file, streamed in 1 MiB blocks."""
    digest = hashlib.sha256()
    with open(path, "rb") as fh:
        for block in iter(lambda: fh.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def new_result(sample_id: str) -> dict[str, Any]:
    """An empty result with every top-level key of the contract present."""
    return {
        "schema": SCHEMA,
        "sample_id": sample_id,
        "status": "ok",
        "errors": [],
        "simulated": False,
        "sample": {},
        "panel": None,
        "acquisition": None,
        "compensation": None,
        "qc": None,
        "populations": {},
        "label_codes": {str(k): v for k, v in LABEL_NAMES.items()},
        "gating": None,
        "phenotype": {},
        "lineage": None,
        "mrd": None,
        "risk": None,
        "provenance": {
            "software_version": __version__,
            "config_sha256": None,
            "panel_sha256": None,
            "created": datetime.now(UTC).isoformat(timespec="seconds"),
        },
    }


def mark_rejected(result: dict[str, Any], error: CytomicsInputError) -> dict[str, Any]:
    """Set ``status`` to ``rejected`` and record the typed error (code + message)."""
    result["status"] = "rejected"
    result["errors"].append({"code": error.code, "message": str(error)})
    return result


def add_review(result: dict[str, Any], code: str, message: str) -> None:
    """Record a reason for review; an ``ok`` result becomes ``review``."""
    if result["status"] == "ok":
        result["status"] = "review"
    result.setdefault("review_reasons", []).append({"code": code, "message": message})


def population_table(labels: np.ndarray) -> dict[str, dict[str, float | int]]:
    """Counts and percentages of every aggregate population from per-event labels.

    Parameters
    ----------
    labels
        uint8 per-event labels (codes of :data:`cytomics.populations.LABEL_NAMES`).

    Returns
    -------
    dict
        ``{name: {"count", "pct_of_nucleated", "pct_of_leukocytes"}}``; percentages are
        ``None`` when the denominator is zero, and ``pct_of_leukocytes`` is ``None`` for
        populations that are not a subset of the leukocytes (nucleated, CD45-negative).
    """
    counts = np.bincount(labels, minlength=max(LABEL_NAMES) + 1)
    by_name = {name: int(counts[code]) for name, code in LABEL_CODES.items()}
    totals = {agg: sum(by_name[n] for n in members) for agg, members in AGGREGATES.items()}
    nucleated = totals["nucleated"]
    leukocytes = totals["leukocytes"]
    leukocyte_labels = AGGREGATES["leukocytes"]
    table: dict[str, dict[str, float | int]] = {}
    for agg, count in totals.items():
        within_leukocytes = AGGREGATES[agg] <= leukocyte_labels
        table[agg] = {
            "count": count,
            "pct_of_nucleated": _pct(count, nucleated),
            "pct_of_leukocytes": _pct(count, leukocytes) if within_leukocytes else None,
        }
    return table


def _pct(num: int, den: int) -> float | None:
    return None if den == 0 else round(100.0 * num / den, 4)
