"""``cytomics simulate``: write synthetic FCS files with per-event truth (SIMULATED DATA).

Examples
--------
``cytomics simulate case b_all_pro_b --seed 7 --n-events 100000 --out P07_alot_dx.fcs``
``cytomics simulate case b_all_pro_b --patient-id P07 --panel bcp_all_mrd_tube1 --timepoint d33
--blast-fraction 1e-4 --n-events 4000000 --out P07_mrd_d33.fcs``
``cytomics simulate demo-batch --out data/sample_fcs --seed 20250 --sheet config/samples.tsv``
``cytomics simulate kinds``
"""

from __future__ import annotations

import argparse


def register(subparsers) -> None:
    """Add the ``simulate`` subcommand (cheap imports only)."""
    p = subparsers.add_parser(
        "simulate", help="write synthetic (SIMULATED DATA) FCS files with truth sidecars",
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    sub = p.add_subparsers(dest="sim_command", metavar="WHAT")
    sub.required = True

    c = sub.add_parser("case", help="simulate one FCS file")
    c.add_argument("kind", help="case kind (see `cytomics simulate kinds`)")
    c.add_argument("--out", required=True, help="output FCS path")
    c.add_argument("--seed", type=int, required=True)
    c.add_argument("--n-events", type=int, default=100_000)
    c.add_argument("--blast-fraction", type=float, default=None,
                   help="blasts as a fraction of nucleated cells (default: patient-specific)")
    c.add_argument("--variant", default="canto_ii", help="canto_ii | canto_ii_pacb | lyric")
    c.add_argument("--panel", default="alot")
    c.add_argument("--timepoint", default="dx", help="dx | d<N> | other")
    c.add_argument("--patient-id", default=None)
    c.add_argument("--specimen", default=None, choices=["BM", "PB"])
    c.add_argument("--truth-dir", default=None, help="folder of the truth sidecars (default: beside the FCS)")
    c.set_defaults(run=run)

    d = sub.add_parser("demo-batch", help="write the bundled demo batch (data/sample_fcs)")
    d.add_argument("--out", required=True, help="output folder")
    d.add_argument("--seed", type=int, default=20250)
    d.add_argument("--sheet", default=None, help="also write the sample sheet here (e.g. config/samples.tsv)")
    d.add_argument("--root", default=".", help="repository root the sheet's fcs paths are relative to")
    d.set_defaults(run=run)

    k = sub.add_parser("kinds", help="list case kinds, panels and instrument variants")
    k.set_defaults(run=run)


def run(args: argparse.Namespace) -> int:
    """Execute ``cytomics simulate``."""
    from cytomics import simulate

    if args.sim_command == "kinds":
        for kind, (lineage, text) in simulate.CASE_KINDS.items():
            print(f"{kind:18s} {lineage:20s} {text}")
        print("panels:   " + ", ".join(simulate.PANELS))
        print("variants: " + ", ".join(simulate.VARIANTS))
        return 0
    if args.sim_command == "demo-batch":
        rows = simulate.write_demo_batch(args.out, seed=args.seed, sheet=args.sheet, root=args.root)
        print(f"wrote {len(rows)} demo files to {args.out}")
        return 0
    truth = simulate.simulate_to_file(
        args.kind, args.out, seed=args.seed, n_events=args.n_events,
        blast_fraction=args.blast_fraction, variant=args.variant, panel=args.panel,
        timepoint=args.timepoint, patient_id=args.patient_id, specimen=args.specimen,
        truth_dir=args.truth_dir,
    )
    print(f"{args.out}: {truth['n_events']} events, {truth['lineage_class']}, "
          f"blasts {truth['blast_percent_of_nucleated']:.4g}% of nucleated (SIMULATED DATA)")
    return 0
