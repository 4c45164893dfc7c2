"""ALOT gating specificity: false blasts and review on normal samples of three generators.

The accuracy benchmarks score leukemias; this one asks the other clinical question: how
often does a normal sample get blasts, or go to review? Each case runs the real chain
(simulate -> FCS -> read -> panel -> preprocess -> QC -> gate_alot with the specimen) and
counts the events labelled blasts and the review flags (``pipeline.needs_review``).

Blocks, cycled case by case (``--cases`` per block):

- ``ours_bm`` / ``ours_pb``: our simulator, normal marrow / blood at diagnosis;
- ``ours_regen``: our simulator, regenerating marrow (``timepoint="d78"``: hematogones
  and normal precursors expanded, the hardest normal for a blast gate);
- ``c_bm`` / ``c_pb``: generator C (``benchmarks/_generator_c.py``);
- ``test_bm`` / ``test_pb``: the independent test generator (``tests/_synthetic_alot.py``).

    .venv/bin/python benchmarks/normal_specificity.py --seed0 40000 --cases 30

Simulated data only: a measure of the method, not of real-sample specificity.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from collections import Counter
from pathlib import Path
from types import SimpleNamespace

import numpy as np

HERE = Path(__file__).resolve().parent
BLOCKS = ("ours_bm", "ours_pb", "ours_regen", "c_bm", "c_pb", "test_bm", "test_pb")


def _gate_file(path: Path, specimen: str):
    sys.path.insert(0, str(HERE))
    from gating_accuracy_c import run_pipeline

    return run_pipeline(path, specimen=specimen)[2]


def gate_normal(block: str, seed: int, n_events: int, tmp: Path):
    """Gating result of one normal case of ``block`` (see the module docstring)."""
    specimen = "PB" if block.endswith("_pb") else "BM"
    if block.startswith("ours"):
        from cytomics.simulate.api import simulate_case, write_case

        kw = {"timepoint": "d78"} if block == "ours_regen" else {}
        case = simulate_case("normal_pb" if specimen == "PB" else "normal_bm", seed=seed,
                             n_events=n_events, variant=("canto_ii", "canto_ii_pacb")[seed % 2],
                             **kw)
        path = tmp / f"{block}_{seed}.fcs"
        write_case(case, path)
        return _gate_file(path, specimen)
    if block.startswith("c_"):
        sys.path.insert(0, str(HERE))
        from _generator_c import INSTRUMENTS, make_case, write_case

        inst = tuple(INSTRUMENTS)[seed % len(INSTRUMENTS)]
        case = make_case("normal_pb" if specimen == "PB" else "normal_bm", seed, n_events, 0.0,
                         inst)
        path = tmp / f"{block}_{seed}.fcs"
        write_case(path, case, inst)
        return _gate_file(path, specimen)
    tests_dir = str(HERE.parent / "tests")
    if tests_dir not in sys.path:
        sys.path.insert(0, tests_dir)
    from _synthetic_alot import synthetic_alot  # test-data generator, not library
    from cytomics.gating.alot import gate_alot

    ev, _ = synthetic_alot(lineage="b", blast_fraction=0.0, seed=seed, specimen=specimen,
                           n_events=n_events)
    qc = SimpleNamespace(keep=np.ones(ev.n_events, bool),
                         labels=np.full(ev.n_events, 4, np.uint8), gates=[])
    return gate_alot(ev, qc, specimen=specimen)


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed0", type=int, default=40000)
    ap.add_argument("--cases", type=int, default=30, help="cases per block")
    ap.add_argument("--events", type=int, default=40000)
    ap.add_argument("--blocks", default=",".join(BLOCKS))
    args = ap.parse_args(argv)
    from cytomics.pipeline import needs_review
    from cytomics.populations import AGGREGATES, LABEL_CODES, codes_of

    blocks = [b for b in args.blocks.split(",") if b]
    unknown = [b for b in blocks if b not in BLOCKS]
    if unknown:
        ap.error(f"unknown block(s) {unknown}; choose from {BLOCKS}")
    blast = LABEL_CODES["blasts"]
    nuc_codes = codes_of(AGGREGATES["nucleated"])
    t0 = time.time()
    stats = {b: Counter() for b in blocks}
    flags = {b: Counter() for b in blocks}
    with tempfile.TemporaryDirectory() as td:
        for i in range(args.cases):
            for block in blocks:
                seed = args.seed0 + i
                g = gate_normal(block, seed, args.events, Path(td))
                n_bl = int(np.count_nonzero(g.labels == blast))
                nucleated = int(np.count_nonzero(np.isin(g.labels, nuc_codes)))
                frac = n_bl / max(nucleated, 1)
                review = sorted({f for f in g.flags if needs_review(f)})
                stats[block]["n"] += 1
                stats[block]["blasts"] += n_bl > 0
                stats[block]["blasts_0.5"] += frac > 0.005
                stats[block]["review"] += bool(review)
                flags[block].update(review)
                if n_bl or review:
                    print(f"{block:11s} seed={seed:6d} blasts={n_bl:6d} ({100 * frac:4.1f} %) "
                          f"review={','.join(review) or '-'}", flush=True)
    print(f"\n{'block':11s} {'n':>4s} {'any blasts':>11s} {'> 0.5 %':>8s} {'review':>7s}  "
          "review flags")
    for block in blocks:
        s = stats[block]
        top = ", ".join(f"{k} {v}" for k, v in flags[block].most_common(4))
        print(f"{block:11s} {s['n']:4d} {s['blasts']:11d} {s['blasts_0.5']:8d} "
              f"{s['review']:7d}  {top}")
    print(f"{sum(s['n'] for s in stats.values())} normal cases, {time.time() - t0:.0f} s "
          "(simulated data)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
