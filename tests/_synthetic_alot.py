"""A small, independent ALOT-like event generator for gating tests.

This is deliberately *not* the project simulator (:mod:`cytomics.simulate`): it draws
display-scale events directly from a Gaussian mixture with its own population layout
(skewed, correlated clouds, random shifts of every population per case), so that the
gating is checked against a second, differently built model and is not tuned to one
simulator. Values are already on the display scale (logicle ~[0, 1] for fluorescence,
scatter divided by 262144); the raw ``Acquisition.events`` hold the same numbers.

Test data, not library code, so it lives in ``tests/`` (imported by the tests as
``_synthetic_alot``; ``benchmarks/gating_accuracy.py --synthetic`` puts ``tests/`` on
``sys.path`` to import it).
"""

from __future__ import annotations

import hashlib
from pathlib import Path

import numpy as np

from cytomics.fcs.model import Acquisition, Channel
from cytomics.populations import LABEL_CODES
from cytomics.preprocess.model import ChannelTransform, Events

CHANNELS = (
    ("FSC-A", None),
    ("FSC-H", None),
    ("SSC-A", None),
    ("FITC-A", "cyMPO"),
    ("PE-A", "cyCD79a"),
    ("PerCP-Cy5-5-A", "CD34"),
    ("PE-Cy7-A", "CD19"),
    ("APC-A", "CD7"),
    ("APC-H7-A", "smCD3"),
    ("HV450-A", "cyCD3"),
    ("HV500-A", "CD45"),
)
MARKERS = ("cyMPO", "cyCD79a", "CD34", "CD19", "CD7", "smCD3", "cyCD3")

NEG, DIM, POS, BRIGHT = 0.22, 0.42, 0.62, 0.75

# name: (FSC, SSC, CD45, {marker: level}) ; unspecified markers are NEG
_POPS: dict[str, tuple[float, float, float, dict[str, float]]] = {
    "lymphocytes_t": (0.28, 0.055, 0.80, {"smCD3": BRIGHT, "cyCD3": BRIGHT, "CD7": POS}),
    "lymphocytes_b": (0.28, 0.055, 0.78, {"CD19": POS, "cyCD79a": POS}),
    "lymphocytes_nk": (0.30, 0.065, 0.76, {"CD7": BRIGHT}),
    "monocytes": (0.45, 0.20, 0.71, {"cyMPO": DIM}),
    "granulocytes": (0.50, 0.46, 0.60, {"cyMPO": BRIGHT}),
    "eosinophils": (0.48, 0.62, 0.69, {"cyMPO": BRIGHT}),
    "cd45_negative": (0.22, 0.035, 0.14, {}),
    "b_precursors": (0.26, 0.05, 0.58, {"CD19": POS, "cyCD79a": POS, "CD34": DIM}),
    "myeloid_precursors": (0.36, 0.10, 0.52, {"CD34": POS, "cyMPO": DIM}),
}

_BLASTS = {
    "b": (0.30, 0.07, 0.48, {"CD19": POS, "cyCD79a": POS, "CD34": POS}),
    "t": (0.30, 0.065, 0.62, {"cyCD3": POS, "CD7": BRIGHT, "CD34": DIM}),
    "aml": (0.38, 0.12, 0.52, {"cyMPO": POS, "CD34": POS}),
    "aml_mono": (0.42, 0.17, 0.66, {"cyMPO": DIM, "CD34": NEG}),
}

_NORMAL_MIX = {
    "PB": {
        "lymphocytes_t": 0.22, "lymphocytes_b": 0.05, "lymphocytes_nk": 0.04, "monocytes": 0.07,
        "granulocytes": 0.58, "eosinophils": 0.03, "cd45_negative": 0.01,
    },
    "BM": {
        "lymphocytes_t": 0.10, "lymphocytes_b": 0.03, "lymphocytes_nk": 0.02, "monocytes": 0.06,
        "granulocytes": 0.55, "eosinophils": 0.03, "cd45_negative": 0.12,
        "b_precursors": 0.05, "myeloid_precursors": 0.015,
    },
}


def synthetic_alot(
    *,
    lineage: str = "b",
    blast_fraction: float = 0.5,
    specimen: str = "BM",
    n_events: int = 30_000,
    seed: int = 0,
    drop: tuple[str, ...] = (),
) -> tuple[Events, np.ndarray]:
    """Draw one ALOT-like case on the display scale.

    Parameters
    ----------
    lineage
        Blast lineage: ``"b"``, ``"t"``, ``"aml"`` or ``"aml_mono"`` (monocytic blasts
        overlapping the monocytes).
    blast_fraction
        Fraction of blasts among all events (0 gives a normal sample).
    specimen
        ``"PB"`` or ``"BM"`` normal background.
    n_events
        Number of events.
    seed
        Random seed (population positions jitter per seed).
    drop
        Normal populations to leave out (missing-population cases).

    Returns
    -------
    events, truth
        :class:`Events` (display scale; markers mapped) and uint8 truth labels.
    """
    rng = np.random.default_rng(seed)
    mix = {k: v for k, v in _NORMAL_MIX[specimen].items() if k not in drop}
    total = sum(mix.values())
    names = [*mix, "blasts"]
    fracs = [(1.0 - blast_fraction) * mix[k] / total for k in mix] + [blast_fraction]
    counts = rng.multinomial(n_events, np.asarray(fracs) / np.sum(fracs))
    cols = {name: j for j, (name, _) in enumerate(CHANNELS)}
    mcols = {m: j for j, (_, m) in enumerate(CHANNELS) if m is not None}
    blocks = []
    truth = []
    shift45 = rng.normal(0.0, 0.02)
    for name, n in zip(names, counts, strict=True):
        if n == 0:
            continue
        fsc, ssc, cd45, lv = _BLASTS[lineage] if name == "blasts" else _POPS[name]
        cd45 = cd45 + shift45 + rng.normal(0.0, 0.015)
        ssc = ssc * rng.uniform(0.85, 1.15)
        block = np.empty((n, len(CHANNELS)), dtype=np.float32)
        z = rng.normal(size=n)
        block[:, cols["FSC-A"]] = fsc * (1.0 + 0.12 * rng.normal(size=n))
        block[:, cols["FSC-H"]] = block[:, cols["FSC-A"]] * (0.85 + 0.02 * rng.normal(size=n))
        ssc_sd = 0.18 if name in ("granulocytes", "eosinophils") else 0.22
        block[:, cols["SSC-A"]] = ssc * np.exp(ssc_sd * (0.6 * z + 0.8 * rng.normal(size=n)))
        block[:, cols["HV500-A"]] = cd45 + 0.035 * (0.4 * z + rng.normal(size=n))
        for m in MARKERS:
            level = lv.get(m, NEG) + rng.normal(0.0, 0.015)
            sd = 0.05 if level < 0.3 else 0.06
            block[:, mcols[m]] = level + sd * rng.normal(size=n)
        blocks.append(block)
        truth.append(np.full(n, LABEL_CODES[name], dtype=np.uint8))
    values = np.concatenate(blocks)
    lab = np.concatenate(truth)
    order = rng.permutation(len(values))
    values = np.ascontiguousarray(values[order])
    lab = lab[order]
    channels = tuple(
        Channel(index=j, name=name, marker=m, range=262144.0, bits=32)
        for j, (name, m) in enumerate(CHANNELS)
    )
    acq = Acquisition(
        path=Path(f"synthetic_{lineage}_{seed}.fcs"),
        sha256=hashlib.sha256(values.tobytes()).hexdigest(),
        fcs_version="3.1",
        keywords={"$CYT": "synthetic"},
        channels=channels,
        events=values,
    )
    transforms = tuple(
        ChannelTransform("linear", T=1.0, A=0.0) if m is None else ChannelTransform("logicle")
        for _, m in CHANNELS
    )
    return Events(acquisition=acq, values=values, transforms=transforms, markers=mcols), lab
