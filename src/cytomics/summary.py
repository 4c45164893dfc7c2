"""Batch summary: one row per sample (including rejected ones and why)."""

from __future__ import annotations

import html as htmlmod
import json
from collections.abc import Iterable
from pathlib import Path
from typing import Any

from cytomics import atomic

COLUMNS = (
    "sample_id",
    "status",
    "timepoint",
    "panel",
    "file",
    "events_total",
    "events_after_qc",
    "blasts_pct_of_nucleated",
    "lineage_call",
    "mrd_status",
    "mrd_percent",
    "risk_group",
    "qc_flags",
    "review_reasons",
    "errors",
    "simulated",
)


def summary_row(result: dict[str, Any]) -> dict[str, str]:
    """Flatten one ``result.json`` document into a summary row (strings)."""
    pops = result.get("populations") or {}
    blasts = (pops.get("blasts") or {}).get("pct_of_nucleated")
    acq = result.get("acquisition") or {}
    qc = result.get("qc") or {}
    lineage = result.get("lineage") or {}
    mrd = result.get("mrd") or {}
    risk = result.get("risk") or {}
    row = {
        "sample_id": result.get("sample_id", ""),
        "status": result.get("status", ""),
        "timepoint": (result.get("sample") or {}).get("timepoint") or "",
        "panel": (result.get("panel") or {}).get("name") or "",
        "file": acq.get("file") or "",
        "events_total": acq.get("events_total"),
        "events_after_qc": qc.get("events_after_qc"),
        "blasts_pct_of_nucleated": blasts,
        "lineage_call": lineage.get("call"),
        "mrd_status": mrd.get("status"),
        "mrd_percent": mrd.get("percent"),
        "risk_group": risk.get("group"),
        "qc_flags": ";".join(str(f) for f in qc.get("flags") or []),
        "review_reasons": ";".join(r.get("code", "") for r in result.get("review_reasons") or []),
        "errors": ";".join(f"[{e.get('code')}] {e.get('message')}" for e in result.get("errors") or []),
        "simulated": "yes" if result.get("simulated") else "no",
    }
    return {k: ("" if v is None else str(v)).replace("\t", " ").replace("\n", " ") for k, v in row.items()}


def summarize(
    result_files: Iterable[Path], *, tsv: Path, html: Path | None = None
) -> list[dict[str, str]]:
    """Write the batch summary TSV (and optionally HTML) from ``result.json`` files.

    Parameters
    ----------
    result_files
        Per-sample ``result.json`` paths. An unreadable one becomes a row with status
        ``error`` naming the file, so the summary never silently drops a sample.
    tsv
        Output TSV path (written atomically).
    html
        Optional HTML output path.

    Returns
    -------
    list of dict
        The rows written.
    """
    rows: list[dict[str, str]] = []
    for path in sorted(Path(p) for p in result_files):
        try:
            result = json.loads(path.read_text(encoding="utf-8"))
            rows.append(summary_row(result))
        except (OSError, ValueError) as exc:
            rows.append({c: "" for c in COLUMNS} | {"sample_id": path.parent.name, "status": "error", "errors": f"unreadable {path}: {exc}"})
    lines = ["\t".join(COLUMNS)] + ["\t".join(r[c] for c in COLUMNS) for r in rows]
    atomic.write_text(tsv, "\n".join(lines) + "\n")
    if html is not None:
        atomic.write_text(html, _html(rows))
    return rows


def _html(rows: list[dict[str, str]]) -> str:
    head = "".join(f"<th>{htmlmod.escape(c)}</th>" for c in COLUMNS)
    body = "".join(
        f"<tr class='{htmlmod.escape(r['status'])}'>" + "".join(f"<td>{htmlmod.escape(r[c])}</td>" for c in COLUMNS) + "</tr>"
        for r in rows
    )
    simulated = any(r["simulated"] == "yes" for r in rows)
    notice = "<p class='sim'>SIMULATED DATA in this batch — not for clinical use.</p>" if simulated else ""
    counts = {s: sum(r["status"] == s for r in rows) for s in ("ok", "review", "rejected", "error")}
    return (
        "<!doctype html><html><head><meta charset='utf-8'><title>cytomics batch summary</title>"
        "<style>body{font-family:sans-serif}table{border-collapse:collapse;font-size:12px}"
        "td,th{border:1px solid #ccc;padding:3px 6px}tr.rejected,tr.error{background:#fdd}"
        "tr.review{background:#ffd}.sim{color:#b00;font-weight:bold}</style></head><body>"
        f"<h1>Batch summary</h1>{notice}<p>{len(rows)} samples: "
        + ", ".join(f"{k} {v}" for k, v in counts.items())
        + f"</p><table><tr>{head}</tr>{body}</table></body></html>\n"
    )
