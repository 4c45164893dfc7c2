"""ALOT gating accuracy against simulator truth: F1 per population over many varied cases.

Each case goes through the real chain: simulate -> write FCS -> read -> panel match ->
preprocess -> QC -> gate_alot, and is scored against the simulator's per-event truth.

    .venv/bin/python benchmarks/gating_accuracy.py --seed0 1000 --cases 60 --events 40000

Tune on seeds 0-159; report on 1000-1059 (held out) and confirm on a fresh set (2000+). Add ``--synthetic`` to score the independent
synthetic generator (``tests/_synthetic_alot.py``) instead.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

from cytomics.populations import AGGREGATES, LABEL_CODES

POPS = ("lymphocytes", "monocytes", "granulocytes", "blasts", "cd45_negative")
KINDS = ("b_all_pro_b", "b_all_pro_pre_b", "b_all_pre_b", "t_all", "aml_cd34pos",
         "aml_cd34neg", "mpal_b_myeloid", "mpal_t_myeloid", "undetermined")
VARIANTS = ("canto_ii", "canto_ii_pacb")


def f1(pred: np.ndarray, truth: np.ndarray, name: str) -> float:
    """F1 of one aggregate population (NaN when absent in both)."""
    codes = [LABEL_CODES[m] for m in AGGREGATES[name]]
    p = np.isin(pred, codes)
    t = np.isin(truth, codes)
    denom = int(p.sum() + t.sum())
    return float("nan") if denom == 0 else 2.0 * int((p & t).sum()) / denom


def run_simulated(kind: str, seed: int, n_events: int, bf: float | None, variant: str,
                  tmp: Path, *, full: bool = False, specimen: str | None = None):
    """Simulate one case through the whole chain; returns (labels, truth, gating), plus
    (fcs path, events, qc) when ``full``."""
    from cytomics.fcs import read_fcs
    from cytomics.gating.alot import gate_alot
    from cytomics.panel import match_panel
    from cytomics.preprocess.pipeline import preprocess
    from cytomics.qc import run_qc
    from cytomics.simulate.api import simulate_case, write_case

    case = simulate_case(kind, seed=seed, n_events=n_events, blast_fraction=bf, variant=variant,
                         specimen=specimen)
    path = tmp / f"{kind}_{seed}.fcs"
    write_case(case, path)
    acq = read_fcs(path)
    match = match_panel(acq, "alot")
    events = preprocess(acq, markers=match.markers)
    qc = run_qc(events)
    gating = gate_alot(events, qc, specimen=specimen or ("PB" if kind == "normal_pb" else "BM"))
    if full:
        return gating.labels, np.asarray(case.labels), gating, path, events, qc
    return gating.labels, np.asarray(case.labels), gating


def flowkit_deviation(path: Path, events, qc, gating) -> tuple[float, int]:
    """Export ``qc.gates + gating.gates`` as Gating-ML, apply them with FlowKit to the FCS
    file and compare every terminal population count with ours.

    Returns
    -------
    max_rel, max_abs
        Largest relative deviation (|FlowKit - ours| / max(ours, 1)) and largest absolute
        deviation (events) over the terminal gates.
    """
    import flowkit as fk

    from cytomics.gating.gatingml import export_gatingml
    from cytomics.gating.strategy import evaluate_gates

    xml = export_gatingml(list(qc.gates) + list(gating.gates), events)
    gx = path.with_suffix(".gates.xml")
    gx.write_text(xml)
    report = fk.parse_gating_xml(str(gx)).gate_sample(fk.Sample(str(path))).report
    theirs = dict(zip(report["gate_name"], report["count"], strict=True))
    keep = np.asarray(qc.keep, bool)
    ext = {qc.gates[-1].id: keep} if qc.gates else {}
    masks = evaluate_gates(gating.gates, events, root_mask=keep, external=ext)
    rel, dev = 0.0, 0
    for gid, _code in gating.terminals:
        ours = int(masks[gid].sum())
        d = abs(int(theirs[gid]) - ours)
        dev = max(dev, d)
        rel = max(rel, d / max(ours, 1))
    return rel, dev


def plan(n_cases: int, seed0: int) -> list[tuple[str, int, float | None, str]]:
    """Varied cases: every lineage class, both channel-naming variants, 5-95% blasts,
    plus normal BM/PB."""
    rng = np.random.default_rng(seed0)
    out = []
    for i in range(n_cases):
        seed = seed0 + i
        if i % 10 == 9:
            out.append(("normal_bm" if i % 20 == 9 else "normal_pb", seed, None, VARIANTS[i % 2]))
            continue
        kind = KINDS[i % len(KINDS)]
        bf = float(rng.choice([0.05, 0.1, 0.2, 0.35, 0.5, 0.7, 0.85, 0.95]))
        out.append((kind, seed, bf, VARIANTS[(i // len(KINDS)) % 2]))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--seed0", type=int, default=1000)
    ap.add_argument("--cases", type=int, default=60)
    ap.add_argument("--events", type=int, default=40_000)
    ap.add_argument("--synthetic", action="store_true")
    ap.add_argument("--flowkit", type=int, default=0,
                    help="check FlowKit reproduction of the exported gates on the first N cases")
    args = ap.parse_args(argv)
    from cytomics.pipeline import needs_review

    rows = []
    fk_dev: list[tuple[float, int]] = []
    t0 = time.time()
    with tempfile.TemporaryDirectory() as td:
        for kind, seed, bf, variant in plan(args.cases, args.seed0):
            if args.synthetic:
                from types import SimpleNamespace

                from cytomics.gating.alot import gate_alot

                tests_dir = str(Path(__file__).resolve().parents[1] / "tests")
                if tests_dir not in sys.path:
                    sys.path.insert(0, tests_dir)
                from _synthetic_alot import synthetic_alot  # test-data generator, not library

                lin = {"t_all": "t", "aml_cd34pos": "aml", "aml_cd34neg": "aml_mono"}.get(kind, "b")
                spec = "PB" if kind == "normal_pb" else "BM"
                ev, truth = synthetic_alot(lineage=lin, blast_fraction=bf or 0.0, seed=seed,
                                           specimen=spec, n_events=args.events)
                qc = SimpleNamespace(keep=np.ones(ev.n_events, bool),
                                     labels=np.full(ev.n_events, 4, np.uint8), gates=[])
                g = gate_alot(ev, qc, specimen=spec)
                labels = g.labels
            else:
                labels, truth, g, path, ev, qc = run_simulated(
                    kind, seed, args.events, bf, variant, Path(td), full=True)
                if len(fk_dev) < args.flowkit:
                    fk_dev.append(flowkit_deviation(path, ev, qc, g))
                path.unlink()
            scores = {p: f1(labels, truth, p) for p in POPS}
            nb = int((truth == LABEL_CODES["blasts"]).sum())
            nucl = int(np.isin(truth, [LABEL_CODES[m] for m in AGGREGATES["nucleated"]]).sum())
            rows.append((kind, seed, variant, nb / max(nucl, 1), scores,
                         int((labels == LABEL_CODES["blasts"]).sum()), nb))
            review = [f for f in g.flags if needs_review(f)]  # as the pipeline decides
            print(f"{kind:16s} seed={seed:5d} {variant:14s} blasts={100 * nb / max(nucl, 1):5.1f}% "
                  + " ".join(f"{p[:5]}={scores[p]:.3f}" for p in POPS)
                  + (f" review:{','.join(review)}" if review else ""), flush=True)
    print(f"\n{len(rows)} cases, {time.time() - t0:.0f} s\n")
    if fk_dev:
        print(f"FlowKit reproduction on {len(fk_dev)} cases: max relative deviation "
              f"{max(r for r, _ in fk_dev):.2e}, max absolute {max(d for _, d in fk_dev)} events\n")
    print(f"{'population':15s} {'median':>7s} {'min':>7s} {'n':>4s}")
    for p in POPS:
        v = np.array([r[4][p] for r in rows if np.isfinite(r[4][p])])
        if v.size:
            print(f"{p:15s} {np.median(v):7.3f} {v.min():7.3f} {v.size:4d}")
    print(f"\n{'class':16s} " + " ".join(f"{p[:6]:>7s}" for p in POPS) + "  (median F1)")
    for kind in sorted({r[0] for r in rows}):
        sub = [r for r in rows if r[0] == kind]
        meds = []
        for p in POPS:
            v = np.array([r[4][p] for r in sub if np.isfinite(r[4][p])])
            meds.append(f"{np.median(v):7.3f}" if v.size else f"{'-':>7s}")
        print(f"{kind:16s} " + " ".join(meds))
    normals = [r for r in rows if r[0].startswith("normal")]
    for r in normals:
        print(f"normal {r[0]} seed={r[1]}: {r[5]} events called blasts")
    worst = sorted((r for r in rows if np.isfinite(r[4]["blasts"]) and r[6] > 0),
                   key=lambda r: r[4]["blasts"])[:5]
    print("\nworst blast F1:", ", ".join(f"{r[0]}/{r[1]}={r[4]['blasts']:.3f}" for r in worst))
    return 0


if __name__ == "__main__":
    sys.exit(main())
