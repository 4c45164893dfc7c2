"""``cytomics inspect FILE [--json] [--panel NAME|PANEL.yaml]``: what is in an FCS file.

Prints the FCS version, cytometer, events, parameters, every channel (``$PnN``, ``$PnS``,
range, voltage), the spillover source and, with ``--panel``, how each panel marker was
resolved to a channel. Without ``--panel`` it names the known panel the file looks like (by the
marker names in ``$PnS``), which catches tubes saved under the wrong tube name.
"""

from __future__ import annotations

import argparse
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:  # pragma: no cover
    from cytomics.fcs.model import Acquisition
    from cytomics.panel import PanelMatch, PanelScore

#: descriptive keywords shown when present (label, keyword).
_KEYWORDS = (
    ("Tube name", "TUBE NAME"),
    ("Sample", "$SMNO"),
    ("Date", "$DATE"),
    ("Original file", "$FIL"),
    ("Source", "$SRC"),
)


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``inspect`` subcommand."""
    p = subparsers.add_parser(
        "inspect",
        help="show the keywords, channels and panel match of one FCS file",
        description="Show FCS version, cytometer, events, channels ($PnN, $PnS, range) and "
        "spillover of FILE; with --panel, how each marker of the tube is found.",
    )
    p.add_argument("file", type=Path, metavar="FILE", help="FCS file")
    p.add_argument("--json", action="store_true", help="print one JSON object instead of text")
    p.add_argument(
        "--panel",
        metavar="NAME|PANEL.yaml",
        help="match the file against this panel (a name such as 'alot' or a lab YAML path)",
    )
    p.add_argument(
        "--data-set",
        type=int,
        default=None,
        metavar="N",
        help="0-based data set of a multi-data-set file (default: the highest-resolution one)",
    )
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Read the file, match the panel, print the summary."""
    import sys

    from cytomics.errors import PanelMismatchError
    from cytomics.fcs import read_fcs
    from cytomics.panel import best_panel, load_panel, match_panel, rank_panels

    acq = read_fcs(args.file, data_set=args.data_set)
    panel = load_panel(args.panel) if args.panel else None
    best = best_panel(acq)
    match = None
    mismatch: PanelMismatchError | None = None
    if panel is not None:
        try:
            match = match_panel(acq, panel)
        except PanelMismatchError as exc:
            mismatch = exc
    if args.json:
        if mismatch is not None:
            raise _with_hint(mismatch, best, panel.name)
        import json

        sys.stdout.write(json.dumps(summary(acq, match=match, best=best), indent=2) + "\n")
        return 0
    current = rank_panels(acq, [panel])[0] if panel is not None else None
    sys.stdout.write(
        render_text(acq, match=match, best=best, panel_name=args.panel, current=current)
    )
    if mismatch is not None:
        raise _with_hint(mismatch, best, panel.name)
    return 0


def _with_hint(exc: Exception, best: PanelScore | None, panel_name: str) -> Exception:
    """Append "this file looks like <panel>" to a mismatch error when another panel fits."""
    if best is None or best.panel == panel_name:
        return exc
    from cytomics.errors import PanelMismatchError

    hinted = PanelMismatchError(
        f"{exc.detail} | this file looks like {best.describe()}: wrong tube name?",
        path=exc.path,
    )
    hinted.missing = getattr(exc, "missing", [])  # type: ignore[attr-defined]
    hinted.conflicts = getattr(exc, "conflicts", [])  # type: ignore[attr-defined]
    return hinted


def _range(value: float) -> int | float:
    return int(value) if float(value).is_integer() else value


def summary(
    acq: Acquisition, *, match: PanelMatch | None = None, best: PanelScore | None = None
) -> dict[str, Any]:
    """JSON-ready description of an acquisition (the ``--json`` output)."""
    spill = acq.spillover
    out: dict[str, Any] = {
        "path": str(acq.path),
        "sha256": acq.sha256,
        "fcs_version": acq.fcs_version,
        "cytometer": acq.cytometer,
        "events": acq.n_events,
        "parameters": acq.n_channels,
        "data_set": acq.data_set,
        "keywords": {kw: acq.keywords[kw] for _, kw in _KEYWORDS if acq.keywords.get(kw)},
        "channels": [
            {
                "index": ch.index,
                "name": ch.name,
                "marker": ch.marker,
                "range": _range(ch.range),
                "voltage": ch.voltage,
            }
            for ch in acq.channels
        ],
        "spillover": None
        if spill is None
        else {
            "source": spill.source,
            "channels": list(spill.detectors),
            "matrix": [[float(v) for v in row] for row in spill.matrix],
        },
        "warnings": list(acq.warnings),
        "best_panel": None
        if best is None
        else {
            "panel": best.panel,
            "markers_by_name": best.by_name,
            "markers": best.total,
            "complete": best.complete,
        },
    }
    if match is not None:
        out["panel_match"] = match.to_dict()
    return out


def _table(headers: list[str], rows: list[list[str]], indent: str = "  ") -> list[str]:
    widths = [
        max(len(h), *(len(r[i]) for r in rows)) if rows else len(h) for i, h in enumerate(headers)
    ]
    fmt = indent + "  ".join(f"{{:<{w}}}" for w in widths)
    lines = [fmt.format(*headers).rstrip(), fmt.format(*("-" * w for w in widths)).rstrip()]
    lines += [fmt.format(*r).rstrip() for r in rows]
    return lines


def render_text(
    acq: Acquisition,
    *,
    match: PanelMatch | None = None,
    best: PanelScore | None = None,
    panel_name: str | None = None,
    current: PanelScore | None = None,
) -> str:
    """Human-readable summary: aligned key/value block, channel table, panel match."""
    spill = acq.spillover
    info: list[tuple[str, str]] = [
        ("File", str(acq.path)),
        ("FCS version", acq.fcs_version),
        ("Cytometer", acq.cytometer or "(not recorded)"),
        ("Events", f"{acq.n_events:,}"),
        ("Parameters", str(acq.n_channels)),
    ]
    if acq.data_set:
        info.append(("Data set", str(acq.data_set)))
    info += [(label, acq.keywords[kw]) for label, kw in _KEYWORDS if acq.keywords.get(kw)]
    info.append(
        (
            "Spillover",
            "none in file (data will not be compensated unless the lab supplies a matrix)"
            if spill is None
            else f"{spill.source} ({len(spill.detectors)} channels: {', '.join(spill.detectors)})",
        )
    )
    width = max(len(k) for k, _ in info)
    lines = [f"{k:<{width}}  {v}" for k, v in info]
    for w in acq.warnings:
        lines.append(f"{'Note':<{width}}  {w}")
    lines.append("")
    lines.append("Channels")
    rows = [
        [
            str(ch.index + 1),
            ch.name,
            ch.marker or "",
            f"{_range(ch.range)}",
            "" if ch.voltage is None else f"{ch.voltage:g}",
        ]
        for ch in acq.channels
    ]
    lines += _table(["#", "$PnN (channel)", "$PnS (marker)", "Range", "Voltage"], rows)
    lines.append("")
    if match is not None:
        p = match.panel
        lines.append(f"Panel {p.name} v{p.version} ({p.source})")
        rows = [[r.marker, r.channel_name, r.pns or "", r.method] for r in match.records.values()]
        lines += _table(["Marker", "Channel", "$PnS", "Matched by"], rows)
        scatter = ", ".join(f"{k}={acq.channels[v].name}" for k, v in match.scatter.items())
        lines.append(f"  Scatter: {scatter}")
        lines.append(
            "  Time: " + ("(none)" if match.time is None else acq.channels[match.time].name)
        )
        if match.missing_optional:
            lines.append("  Optional markers not found: " + ", ".join(match.missing_optional))
        for w in match.warnings:
            lines.append(f"  Warning: {w}")
        if (
            best is not None
            and current is not None
            and best.panel != p.name
            and best.score > current.score
        ):
            lines.append(f"  Note: this file looks more like {best.describe()}")
    elif panel_name is None:
        lines.append(
            "Looks like: "
            + (
                best.describe()
                if best is not None
                else "no known panel (fewer than half of any panel's markers are named in $PnS)"
            )
        )
    return "\n".join(lines).rstrip() + "\n"
