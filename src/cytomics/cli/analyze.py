"""``cytomics analyze FCS --panel NAME --out DIR``: one sample end to end (DESIGN §8)."""

from __future__ import annotations

import argparse
from pathlib import Path


def register(subparsers: argparse._SubParsersAction) -> None:
    """Add the ``analyze`` subcommand."""
    p = subparsers.add_parser(
        "analyze",
        help="analyse one FCS file (QC, gating, lineage/MRD) into an output directory",
        description="Analyse one FCS file and write result.json, labels.npy, gates.xml and "
        "plots/ into --out. Exit 0 ok/review, 3 rejected (result.json still written).",
    )
    p.add_argument("fcs", type=Path, help="FCS file (never modified)")
    p.add_argument("--panel", required=True, help="panel name (e.g. alot) or path to a panel YAML")
    p.add_argument("--out", required=True, type=Path, help="output directory for this sample")
    p.add_argument("--sample-id", help="lab sample ID (default: the FCS file name stem, sanitised)")
    p.add_argument("--timepoint", default="dx", help="dx, d<N> (e.g. d19, d33) or other")
    p.add_argument("--specimen", choices=["BM", "PB"], help="specimen source")
    p.add_argument("--patient-id", help="pseudonymous patient ID (links follow-up to diagnosis)")
    p.add_argument("--diagnosis", type=Path, help="diagnosis result directory (MRD follow-up)")
    p.add_argument("--config", type=Path, help="configuration YAML (default: config/config.yaml)")
    p.add_argument("--no-plots", action="store_true", help="skip the gating plots")
    p.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Run the analysis; exit code from the result status."""
    import logging
    import re
    import sys

    from cytomics.cli import EXIT_OK, EXIT_REJECTED, EXIT_USAGE
    from cytomics.config import load_config
    from cytomics.pipeline import SampleRequest, analyze_sample
    from cytomics.samplesheet import sanitize_id

    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    if not re.fullmatch(r"dx|d\d{1,3}|other", args.timepoint):
        print(f"cytomics analyze: invalid --timepoint {args.timepoint!r}", file=sys.stderr)
        return EXIT_USAGE
    sample_id = sanitize_id(args.sample_id or args.fcs.name.rsplit(".", 1)[0])
    config = load_config(args.config)
    request = SampleRequest(
        fcs=args.fcs,
        panel=args.panel,
        out_dir=args.out,
        sample_id=sample_id,
        timepoint=args.timepoint,
        specimen=args.specimen,
        patient_id=args.patient_id,
        diagnosis_dir=args.diagnosis,
        make_plots=not args.no_plots,
    )
    result = analyze_sample(request, config)
    status = result["status"]
    if status == "rejected":
        for err in result["errors"]:
            print(f"cytomics analyze: rejected: [{err['code']}] {err['message']}", file=sys.stderr)
        return EXIT_REJECTED
    print(f"{sample_id}: {status} -> {args.out / 'result.json'}")
    return EXIT_OK
