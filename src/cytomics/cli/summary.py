"""``cytomics summary RESULT.json... --out summary.tsv``: the batch summary."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``summary`` subcommand."""
    p = subparsers.add_parser(
        "summary",
        help="batch summary (TSV + HTML) of per-sample result.json files",
        description="Collect result.json files into one TSV (and HTML) listing every sample, "
        "including the rejected ones and why.",
    )
    p.add_argument("results", nargs="+", type=Path, help="result.json files")
    p.add_argument("--out", required=True, type=Path, help="summary TSV to write")
    p.add_argument("--html", type=Path, help="also write an HTML summary here")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Write the summary files."""
    from cytomics.summary import summarize

    summarize(args.results, tsv=args.out, html=args.html)
    return 0
