"""``cytomics apply-gates TEMPLATE.xml FCS... [--out counts.tsv] [--labels-dir DIR]``.

Applies a lab's Gating-ML 2.0 template to a batch of FCS files with the numba gate kernels
and writes counts per gate (TSV: file, gate_id, parent, count, pct_of_parent,
pct_of_total, status, error). A bad template rejects the run (exit 3, message names the
file); a bad FCS file yields a ``rejected`` row with its error code and the batch goes on.
"""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``apply-gates`` subcommand."""
    p = subparsers.add_parser(
        "apply-gates",
        help="apply a Gating-ML 2.0 template to FCS files and write counts per gate",
        description="Apply a Gating-ML 2.0 template (compensation and transforms included) to "
        "each FCS file and write one TSV row per file and gate. Files that cannot be read or "
        "lack a channel of the template are listed as rejected with their error code. Exit 0 "
        "when at least one file was gated, 3 when the template is invalid or every file was "
        "rejected.",
    )
    p.add_argument("template", type=Path, help="Gating-ML 2.0 XML template")
    p.add_argument("fcs", type=Path, nargs="+", help="FCS files (never modified)")
    p.add_argument("--out", type=Path, help="counts TSV to write (default: standard output)")
    p.add_argument(
        "--labels-dir",
        type=Path,
        help="write <stem>.labels.npy (uint8 leaf-gate code per event) and "
        "<stem>.label_codes.json per file into this directory",
    )
    p.add_argument(
        "--reader",
        choices=["auto", "cytomics", "flowkit"],
        default="auto",
        help="FCS reader (default: cytomics)",
    )
    p.add_argument("--quiet", action="store_true", help="no progress on standard error")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Apply the template; write counts; exit code per the module docstring."""
    import sys

    from cytomics.cli import EXIT_OK, EXIT_REJECTED
    from cytomics.gating.apply import apply_template, write_counts
    from cytomics.gating.gatingml import read_gatingml

    strategy = read_gatingml(args.template)  # GatingMLError -> exit 3 via the dispatcher
    total = len(args.fcs)

    def progress(path: Path) -> None:
        if not args.quiet:
            done = progress.count  # type: ignore[attr-defined]
            print(f"[{done + 1}/{total}] {path}", file=sys.stderr)
            progress.count = done + 1  # type: ignore[attr-defined]

    progress.count = 0  # type: ignore[attr-defined]
    rows = apply_template(
        strategy, args.fcs, labels_dir=args.labels_dir, reader=args.reader, progress=progress
    )
    text = write_counts(rows, args.out)
    if args.out is None:
        sys.stdout.write(text)
    rejected = [r for r in rows if r["status"] == "rejected"]
    for r in rejected:
        print(f"cytomics apply-gates: rejected {r['file']}: {r['error']}", file=sys.stderr)
    return EXIT_REJECTED if len(rejected) == total else EXIT_OK
