"""``cytomics sheet DIR``: draft a sample sheet from a folder of FCS files."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``sheet`` subcommand."""
    p = subparsers.add_parser(
        "sheet",
        help="draft a sample sheet (TSV) from a folder of FCS files",
        description="Read the keywords of every FCS file in DIR ($FIL, TUBE NAME, $SRC, markers) "
        "and draft config/samples.tsv rows; fields it cannot infer are left for the lab to fill.",
    )
    p.add_argument("directory", type=Path, help="folder with FCS files")
    p.add_argument("--out", type=Path, help="write the sheet here (default: stdout)")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Draft the sheet."""
    import sys

    from cytomics import atomic
    from cytomics.sheet_draft import draft_samplesheet

    text = draft_samplesheet(args.directory)
    if args.out:
        atomic.write_text(args.out, text)
    else:
        sys.stdout.write(text)
    return 0
