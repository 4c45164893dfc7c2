"""ALOT gating accuracy on generator C (an independent, physically modelled simulator).

For each case: simulate (benchmarks/_generator_c.py), write FCS to a temporary folder, then
read_fcs -> match_panel(acq, "alot") -> preprocess -> run_qc -> gate_alot, and score
per-event F1 against the truth for the aggregate populations of
:data:`cytomics.populations.AGGREGATES` (over all events of the file: QC-removed events keep
their truth label, so a population removed by QC counts as missed).

F1 convention (Flowformer): no true and no predicted events -> F1 = 1.

Usage::

    .venv/bin/python benchmarks/gating_accuracy_c.py --seed0 100 --cases 60 --events 40000
    .venv/bin/python benchmarks/gating_accuracy_c.py --cases 6 --plots /tmp/gc_plots
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))

from _generator_c import INSTRUMENTS, KINDS, draw_blast_fraction, make_case, write_case

from cytomics.pipeline import needs_review
from cytomics.populations import AGGREGATES, LABEL_CODES, codes_of

SCORED = ("lymphocytes", "monocytes", "granulocytes", "blasts", "cd45_negative")
_INSTRUMENT_CYCLE = tuple(INSTRUMENTS)


def f1(truth: np.ndarray, pred: np.ndarray) -> float:
    """Per-event F1 of two boolean masks (1.0 when both are empty)."""
    tp = int(np.count_nonzero(truth & pred))
    nt, npred = int(truth.sum()), int(pred.sum())
    if nt == 0 and npred == 0:
        return 1.0
    return 2.0 * tp / (nt + npred)


def case_plan(seed0: int, n_cases: int) -> list[tuple[str, int, float, str, bool]]:
    """(kind, seed, blast fraction, instrument, blood) for each case, cycling the kinds."""
    plan = []
    for i in range(n_cases):
        seed = seed0 + i
        kind = KINDS[i % len(KINDS)]
        rng = np.random.default_rng([seed, 4242])
        bf = 0.0 if kind.startswith("normal") else draw_blast_fraction(rng)
        blood = kind == "normal_pb" or (not kind.startswith("normal") and rng.random() < 0.2)
        inst = _INSTRUMENT_CYCLE[(i // len(KINDS) + i) % len(_INSTRUMENT_CYCLE)]
        plan.append((kind, seed, bf, inst, blood))
    return plan


def run_pipeline(path: Path, *, specimen: str | None = None):
    """read -> match_panel -> preprocess -> run_qc -> gate_alot (``specimen``: "BM"/"PB");
    returns (events, qc, gating)."""
    from cytomics.fcs import read_fcs
    from cytomics.gating.alot import gate_alot
    from cytomics.panel import match_panel
    from cytomics.preprocess.pipeline import preprocess
    from cytomics.qc import run_qc

    acq = read_fcs(path)
    match = match_panel(acq, "alot")
    events = preprocess(acq, markers=dict(match.markers))
    qc = run_qc(events)
    gating = gate_alot(events, qc, specimen=specimen)
    return events, qc, gating


def score(truth: np.ndarray, labels: np.ndarray) -> dict[str, float]:
    """F1 per scored aggregate population."""
    out = {}
    for name in SCORED:
        codes = codes_of(AGGREGATES[name])
        out[name] = f1(np.isin(truth, codes), np.isin(labels, codes))
    return out


def plot_case(path: Path, events, colour: np.ndarray, title: str, *, palette=None) -> None:
    """Four textbook ALOT plots (display scale) coloured by label codes."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    cmap = palette or {
        LABEL_CODES["blasts"]: "red", LABEL_CODES["lymphocytes_t"]: "tab:blue",
        LABEL_CODES["lymphocytes_b"]: "tab:cyan", LABEL_CODES["lymphocytes_nk"]: "navy",
        LABEL_CODES["lymphocytes_other"]: "steelblue",
        LABEL_CODES["monocytes"]: "tab:green", LABEL_CODES["granulocytes"]: "tab:orange",
        LABEL_CODES["eosinophils"]: "gold", LABEL_CODES["basophils"]: "olive",
        LABEL_CODES["cd45_negative"]: "purple", LABEL_CODES["b_precursors"]: "magenta",
        LABEL_CODES["myeloid_precursors"]: "brown", LABEL_CODES["plasma_cells"]: "pink",
        LABEL_CODES["debris"]: "lightgrey", LABEL_CODES["doublet"]: "black",
        LABEL_CODES["margin"]: "grey", LABEL_CODES["unclassified"]: "silver",
        LABEL_CODES["time_unstable"]: "grey",
    }
    v = events.values
    col = events.column
    ssc = events.acquisition.channel_index("SSC-A")
    fsca = events.acquisition.channel_index("FSC-A")
    fsch = events.acquisition.channel_index("FSC-H")
    pairs = [(col("CD45"), ssc, "CD45", "SSC-A"), (col("CD19"), col("cyCD79a"), "CD19", "cyCD79a"),
             (col("cyMPO"), col("cyCD3"), "cyMPO", "cyCD3"), (fsca, fsch, "FSC-A", "FSC-H"),
             (col("CD34"), col("CD45"), "CD34", "CD45"), (col("CD7"), col("smCD3"), "CD7", "smCD3")]
    fig, axes = plt.subplots(2, 3, figsize=(13.5, 8.5))
    colours = np.array([cmap.get(int(c), "silver") for c in range(256)], dtype=object)
    order = np.random.default_rng(0).permutation(v.shape[0])
    c = colours[colour[order]]
    for ax, (x, y, xl, yl) in zip(axes.ravel(), pairs, strict=True):
        ax.scatter(v[order, x], v[order, y], s=0.6, c=list(c), linewidths=0, rasterized=True)
        ax.set_xlabel(xl)
        ax.set_ylabel(yl)
    present = sorted(set(np.unique(colour).tolist()))
    from cytomics.populations import LABEL_NAMES

    handles = [plt.Line2D([], [], ls="", marker="o", color=cmap.get(k, "silver"),
                          label=LABEL_NAMES.get(k, str(k))) for k in present]
    fig.legend(handles=handles, loc="lower center", ncol=min(len(handles), 9), fontsize=8)
    fig.suptitle(title)
    fig.tight_layout(rect=(0, 0.05, 1, 1))
    fig.savefig(path, dpi=80)
    plt.close(fig)


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark and print one line per case and a summary."""
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--seed0", type=int, default=100)
    ap.add_argument("--cases", type=int, default=18)
    ap.add_argument("--events", type=int, default=40000)
    ap.add_argument("--plots", type=Path, default=None,
                    help="folder for truth-coloured and gating-coloured plots of every case")
    ap.add_argument("--only", type=int, nargs="*", default=None,
                    help="run only these seeds of the plan (same case as in the full run)")
    args = ap.parse_args(argv)

    rows = []
    t_start = time.perf_counter()
    t_pipe = 0.0
    with tempfile.TemporaryDirectory(prefix="gating_c_") as tmp:
        for kind, seed, bf, inst, blood in case_plan(args.seed0, args.cases):
            if args.only is not None and seed not in args.only:
                continue
            case = make_case(kind, seed, args.events, bf, inst, blood=blood)
            path = write_case(Path(tmp) / f"{kind}_{seed}.fcs", case, inst)
            t0 = time.perf_counter()
            events, _qc, gating = run_pipeline(path, specimen="PB" if blood else "BM")
            t_pipe += time.perf_counter() - t0
            s = score(case.truth, gating.labels)
            nuc = np.isin(case.truth, codes_of(AGGREGATES["nucleated"]))
            true_bf = float((case.truth[nuc] == LABEL_CODES["blasts"]).mean())
            pred_b = gating.labels == LABEL_CODES["blasts"]
            pred_bf = float(pred_b[nuc].sum() / max(int(nuc.sum()), 1))
            review = [f for f in gating.flags if needs_review(f)]  # as the pipeline decides
            tag = f"{kind}{'(PB)' if blood and kind != 'normal_pb' else ''}"
            rows.append(dict(kind=kind, tag=tag, seed=seed, inst=inst, bf=true_bf, pbf=pred_bf,
                             f1=s, flags=list(gating.flags), review=bool(review)))
            print(f"{tag:20s} {inst:9s} seed={seed:<5d} blasts {100 * true_bf:5.1f}% "
                  f"pred {100 * pred_bf:5.1f}% | "
                  + " ".join(f"{k[:5]}={v:.3f}" for k, v in s.items())
                  + f" | {','.join(gating.flags) or '-'}", flush=True)
            if args.plots is not None:
                args.plots.mkdir(parents=True, exist_ok=True)
                stem = f"{seed}_{kind}_{inst}"
                plot_case(args.plots / f"{stem}_truth.png", events, case.truth,
                          f"{tag} {inst} seed {seed}: TRUTH (blasts {100 * true_bf:.1f}%)")
                plot_case(args.plots / f"{stem}_gated.png", events, gating.labels,
                          f"{tag} {inst} seed {seed}: GATING (pred blasts {100 * pred_bf:.1f}%)")
    total = time.perf_counter() - t_start

    print(f"\n{len(rows)} cases, {args.events} events: total {total:.1f} s "
          f"(pipeline {t_pipe:.1f} s, generation+write {total - t_pipe:.1f} s)")
    print(f"{'population':14s} {'median':>7s} {'min':>7s}  (blasts: leukemia cases only)")
    for name in SCORED:
        vals = [r["f1"][name] for r in rows
                if not (name == "blasts" and r["kind"].startswith("normal"))]
        if vals:
            print(f"{name:14s} {np.median(vals):7.3f} {np.min(vals):7.3f}")
    low = [r for r in rows if not r["kind"].startswith("normal") and r["f1"]["blasts"] < 0.85]
    print(f"leukemia cases with blast F1 < 0.85: {len(low)}/"
          f"{sum(not r['kind'].startswith('normal') for r in rows)}"
          + "".join(f"\n  {r['tag']} seed {r['seed']} ({100 * r['bf']:.1f}% blasts) "
                    f"F1 {r['f1']['blasts']:.3f}{'' if r['review'] else '  (silent: not sent to review)'}"
                    for r in low))
    silent = [r for r in low if not r["review"]]
    print(f"  of which silent (result not sent to review): {len(silent)}")
    normals = [r for r in rows if r["kind"].startswith("normal")]
    fb = [r for r in normals if r["pbf"] > 0.005]
    print(f"normal samples with > 0.5% false blasts: {len(fb)}/{len(normals)}"
          + "".join(f"\n  {r['tag']} seed {r['seed']} {100 * r['pbf']:.2f}%" for r in fb))
    rev = [r for r in rows if r["review"]]
    print(f"cases sent to review (pipeline.needs_review on the gating flags): "
          f"{len(rev)}/{len(rows)}")
    by_kind = {}
    for r in rows:
        by_kind.setdefault(r["kind"], []).append(r["f1"]["blasts"])
    print("median blast F1 by class: " + ", ".join(
        f"{k} {np.median(v):.3f}" for k, v in by_kind.items() if not k.startswith("normal")))
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
