"""Generator C: an independent, physically modelled ALOT-tube simulator for gating evaluation.

Written from the domain description only (DOMAIN.md §1-§4), deliberately *not* from the
project simulator or the gating code, so that it can serve as an outside check.

Model (all in the raw, linear detector space an FCS file stores)
-----------------------------------------------------------------
* Each cell carries a number of fluorochrome-equivalents per marker, drawn log-normally
  (median, CV) per population; maturing lineages are continua over a maturation variable
  ``t`` (neutrophil series promyelocyte -> segmented, hematogone stage I -> II, NRBC CD45
  -> 0), not a mixture of blobs.
* Per-cell shared factors: a staining/size factor common to all markers and a
  permeabilisation factor common to the cytoplasmic markers (cyMPO, cyCD79a, cyCD3).
* Per-population autofluorescence (granulocytes and eosinophils bright in FITC/PE/violet).
* Fluorochrome spillover is applied in raw space (``detector = dye @ S``); ``S`` is written to
  the file (``$SPILLOVER`` for FCS 3.1, ``SPILL`` for FACSDiva FCS 3.0) so the pipeline
  compensates it back. Detector noise is photon-counting (variance proportional to the
  *total* detector signal, spillover included) plus electronic baseline noise, so spreading
  error and negative values after compensation arise from physics, not from a chosen width.
* Scatter: FSC-A/SSC-A areas on the instrument range, FSC-H from a Gaussian pulse model
  (wider pulses for larger cells); doublets are two pulses at a random separation (area
  adds, height is the maximum of the summed pulse), so some doublets are indistinguishable
  from singlets, as on a real cytometer. Values above the ADC range saturate (margin events).
* A Time channel with Poisson arrivals (``$TIMESTEP`` 0.01 s).

Truth labels use :data:`cytomics.populations.LABEL_CODES`: saturated events are ``margin``,
doublets ``doublet``, debris ``debris`` (whatever the gating does with them), leukemic cells
``blasts``.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import NamedTuple

import numpy as np

from cytomics.fcs.writer import ChannelSpec, write_fcs
from cytomics.populations import LABEL_CODES

__all__ = [
    "INSTRUMENTS",
    "KINDS",
    "Case",
    "draw_blast_fraction",
    "make_case",
    "write_case",
]

#: fluorochrome order of the internal dye matrix, and the ALOT marker each one carries
DYES = ("FITC", "PE", "PerCP-Cy5.5", "PE-Cy7", "APC", "APC-H7", "V450", "V500")
MARKERS = ("cyMPO", "cyCD79a", "CD34", "CD19", "CD7", "smCD3", "cyCD3", "CD45")
_M = {m: i for i, m in enumerate(MARKERS)}
_CYTO = np.array([m.startswith("cy") for m in MARKERS])

KINDS = (
    "normal_bm",
    "normal_pb",
    "ball_cd34pos",
    "ball_cd34neg",
    "tall",
    "aml_cd34pos",
    "aml_cd34neg",
    "aml_mono",
    "mpal",
)


@dataclass(frozen=True)
class Instrument:
    """How one cytometer/software exports the ALOT tube."""

    cytometer: str
    version: str  # FCS version
    byteorder: str
    spill_keyword: str
    dye_channel: dict[str, str]  # dye -> $PnN
    dye_order: tuple[str, ...]  # column order of the fluorescence channels
    marker_text: dict[str, str]  # marker -> $PnS as this lab writes it
    scatter: tuple[str, ...]  # scatter columns written
    fl_gain: float  # overall fluorescence scale vs the Canto reference
    fsc_gain: float
    ssc_gain: float
    range: float = 262144.0


_CANTO_MARKERS = {m: m for m in MARKERS}
INSTRUMENTS: dict[str, Instrument] = {
    # FACSCanto II, FACSDiva FCS 3.0, current EuroFlow names (DOMAIN §1.1)
    "canto": Instrument(
        cytometer="FACSCanto II",
        version="3.0",
        byteorder="big",
        spill_keyword="SPILL",
        dye_channel={"FITC": "FITC-A", "PE": "PE-A", "PerCP-Cy5.5": "PerCP-Cy5-5-A",
                     "PE-Cy7": "PE-Cy7-A", "APC": "APC-A", "APC-H7": "APC-H7-A",
                     "V450": "HV450-A", "V500": "HV500-A"},
        dye_order=DYES,
        marker_text=_CANTO_MARKERS,
        scatter=("FSC-A", "FSC-H", "SSC-A"),
        fl_gain=1.0,
        fsc_gain=1.0,
        ssc_gain=1.0,
    ),
    # older files of the same lab: PacB/PacO names and marker-name drift (DOMAIN §1.1)
    "canto_old": Instrument(
        cytometer="FACSCanto II",
        version="3.0",
        byteorder="big",
        spill_keyword="SPILL",
        dye_channel={"FITC": "FITC-A", "PE": "PE-A", "PerCP-Cy5.5": "PerCP-Cy5-5-A",
                     "PE-Cy7": "PE-Cy7-A", "APC": "APC-A", "APC-H7": "APC-H7-A",
                     "V450": "PacB-A", "V500": "PacO-A"},
        dye_order=DYES,
        marker_text={**_CANTO_MARKERS, "cyCD3": "CyCD3", "cyCD79a": "Cy79a",
                     "cyMPO": "MPO", "smCD3": "CD3"},
        scatter=("FSC-A", "FSC-H", "SSC-A"),
        fl_gain=0.8,
        fsc_gain=0.9,
        ssc_gain=1.1,
    ),
    # FACSLyric / FACSuite, FCS 3.1 with $SPILLOVER, laser-ordered V450/V500-C names
    "lyric": Instrument(
        cytometer="BD FACSLyric",
        version="3.1",
        byteorder="little",
        spill_keyword="$SPILLOVER",
        dye_channel={"FITC": "FITC-A", "PE": "PE-A", "PerCP-Cy5.5": "PerCP-Cy5.5-A",
                     "PE-Cy7": "PE-Cy7-A", "APC": "APC-A", "APC-H7": "APC-H7-A",
                     "V450": "V450-A", "V500": "V500-C-A"},
        dye_order=("V450", "V500", "FITC", "PE", "PerCP-Cy5.5", "PE-Cy7", "APC", "APC-H7"),
        marker_text=_CANTO_MARKERS,
        scatter=("FSC-A", "FSC-H", "SSC-A", "SSC-H"),
        fl_gain=1.4,
        fsc_gain=0.85,
        ssc_gain=0.9,
    ),
}

# Typical spillover (rows: emitting dye, columns: receiving detector), Canto II 4-2-2 layout.
_SPILL_BASE = {
    ("FITC", "PE"): 0.20, ("FITC", "PerCP-Cy5.5"): 0.04, ("FITC", "PE-Cy7"): 0.006,
    ("PE", "FITC"): 0.012, ("PE", "PerCP-Cy5.5"): 0.22, ("PE", "PE-Cy7"): 0.035,
    ("PerCP-Cy5.5", "PE-Cy7"): 0.40, ("PerCP-Cy5.5", "APC"): 0.06, ("PerCP-Cy5.5", "APC-H7"): 0.05,
    ("PerCP-Cy5.5", "PE"): 0.01,
    ("PE-Cy7", "PerCP-Cy5.5"): 0.03, ("PE-Cy7", "APC-H7"): 0.03, ("PE-Cy7", "PE"): 0.012,
    ("APC", "APC-H7"): 0.15, ("APC", "PerCP-Cy5.5"): 0.01,
    ("APC-H7", "APC"): 0.025, ("APC-H7", "PE-Cy7"): 0.08,
    ("V450", "V500"): 0.25, ("V450", "FITC"): 0.006,
    ("V500", "FITC"): 0.08, ("V500", "V450"): 0.01, ("V500", "PE"): 0.02,
}
# channel units per photoelectron (photon-counting variance) and electronic noise SD
_Q = np.array([12.0, 8.0, 20.0, 25.0, 12.0, 35.0, 18.0, 30.0])
_E_SD = np.array([30.0, 25.0, 30.0, 35.0, 25.0, 35.0, 40.0, 45.0])


class Case(NamedTuple):
    """One simulated tube: raw events, channels, spillover and per-event truth."""

    events: np.ndarray  # float32 [n, p], raw linear, uncompensated
    channels: list[ChannelSpec]  # $PnN / $PnS / $PnR per column
    spillover: tuple[tuple[str, ...], np.ndarray]  # (detector $PnN names, S)
    truth: np.ndarray  # uint8 [n], cytomics.populations codes


# ----------------------------------------------------------------------------------------
# helpers


def _ln(rng: np.random.Generator, median, cv: float, n: int) -> np.ndarray:
    """Log-normal draws with the given median(s) and coefficient of variation."""
    sigma = np.sqrt(np.log1p(cv * cv))
    return np.asarray(median, dtype=np.float64) * np.exp(sigma * rng.standard_normal(n))


def _sig(x, x0: float, k: float) -> np.ndarray:
    return 1.0 / (1.0 + np.exp(-(np.asarray(x) - x0) / k))


def _geo(a: float, b: float, t: np.ndarray) -> np.ndarray:
    """Geometric interpolation a -> b over t in [0, 1] (linear in log intensity)."""
    return a * (b / a) ** t


class _Pop(NamedTuple):
    dye: np.ndarray  # [n, 8] fluorochrome amount (channel units), before autofluorescence
    af: np.ndarray  # [8] autofluorescence medians
    fsc: np.ndarray
    ssc: np.ndarray
    label: int


_AF_LYM = np.array([120.0, 60.0, 40.0, 20.0, 20.0, 15.0, 150.0, 120.0])
_AF_GRAN = _AF_LYM * np.array([3.0, 2.5, 2.0, 1.5, 1.2, 1.2, 2.0, 2.0])
_AF_EOS = _AF_LYM * np.array([12.0, 8.0, 4.0, 2.0, 1.5, 1.5, 6.0, 5.0])
_AF_MONO = _AF_LYM * np.array([1.8, 1.6, 1.4, 1.2, 1.1, 1.1, 1.8, 1.6])


def _zeros(n: int) -> np.ndarray:
    return np.zeros((n, len(MARKERS)))


def _set(d: np.ndarray, marker: str, values) -> None:
    d[:, _M[marker]] = values


def _partial(rng, n, frac, pos_med, cv, neg_med=0.0):
    """A marker expressed on a fraction of the cells (continuous, not two spikes)."""
    pos = rng.random(n) < frac
    out = _ln(rng, neg_med if neg_med > 0 else 1.0, 0.8, n) * (neg_med > 0)
    out[pos] = _ln(rng, pos_med, cv, int(pos.sum()))
    return out


# ----------------------------------------------------------------------------------------
# normal populations (Canto II reference scale; lymphocyte FSC-A ~55k, SSC-A ~12k)


def _t_cells(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 22000, 0.25, n))
    _set(d, "smCD3", _ln(rng, 9000, 0.35, n))
    _set(d, "cyCD3", _ln(rng, 16000, 0.35, n))
    cd7 = _ln(rng, 9000, 0.45, n)
    cd7[rng.random(n) < 0.12] = 30.0  # CD7- T-cell subset
    _set(d, "CD7", cd7)
    return _Pop(d, _AF_LYM, _ln(rng, 55000, 0.10, n), _ln(rng, 15000, 0.22, n),
                LABEL_CODES["lymphocytes_t"])


def _nk_cells(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 20000, 0.25, n))
    _set(d, "CD7", _ln(rng, 20000, 0.40, n))
    _set(d, "cyCD3", _ln(rng, 700, 0.6, n))  # cytoplasmic CD3 epsilon, dim
    return _Pop(d, _AF_LYM, _ln(rng, 58000, 0.10, n), _ln(rng, 20000, 0.25, n),
                LABEL_CODES["lymphocytes_nk"])


def _b_cells(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 18000, 0.25, n))
    _set(d, "CD19", _ln(rng, 9000, 0.35, n))
    _set(d, "cyCD79a", _ln(rng, 7000, 0.35, n))
    return _Pop(d, _AF_LYM, _ln(rng, 54000, 0.10, n), _ln(rng, 14000, 0.22, n),
                LABEL_CODES["lymphocytes_b"])


def _hematogones(rng, n):
    """B-cell precursor continuum: stage I (CD34+, CD45 dim) -> stage II (CD34-, CD45 int)."""
    t = rng.beta(1.6, 1.3, n)  # more stage II than stage I
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, _geo(900, 12000, t), 0.25, n))
    _set(d, "CD34", _ln(rng, 9000, 0.40, n) * (1 - _sig(t, 0.32, 0.05)) + 10)
    _set(d, "CD19", _ln(rng, _geo(6000, 9000, t), 0.30, n))
    _set(d, "cyCD79a", _ln(rng, 6000, 0.35, n))
    fsc = _ln(rng, _geo(64000, 53000, t), 0.09, n)
    return _Pop(d, _AF_LYM, fsc, _ln(rng, 13000, 0.22, n), LABEL_CODES["b_precursors"])


def _neutrophil_series(rng, n, blood: bool):
    """Promyelocyte -> myelocyte -> metamyelocyte -> band -> segmented, one continuum."""
    t = rng.beta(8.0, 1.2, n) if blood else rng.beta(1.5, 0.9, n)
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, _geo(1000, 7500, t), 0.28, n))
    _set(d, "cyMPO", _ln(rng, _geo(60000, 28000, t), 0.40, n))
    _set(d, "CD34", 0.0)
    ssc = _ln(rng, 135000 - 30000 * t, 0.18, n)
    fsc = _ln(rng, _geo(112000, 98000, t), 0.10, n)
    return _Pop(d, _AF_GRAN, fsc, ssc, LABEL_CODES["granulocytes"])


def _eosinophils(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 11000, 0.25, n))
    _set(d, "cyMPO", _ln(rng, 1500, 0.6, n))  # EPO, not MPO: weak cross-reaction only
    return _Pop(d, _AF_EOS, _ln(rng, 100000, 0.10, n), _ln(rng, 175000, 0.16, n),
                LABEL_CODES["eosinophils"])


def _basophils(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 3500, 0.3, n))
    return _Pop(d, _AF_LYM * 1.3, _ln(rng, 62000, 0.10, n), _ln(rng, 20000, 0.3, n),
                LABEL_CODES["basophils"])


def _monocytes(rng, n, blood: bool):
    """Monocytes with the wide CD45 spread of maturation (promonocyte -> monocyte)."""
    t = rng.beta(4.0, 1.5, n) if not blood else rng.beta(7.0, 1.2, n)
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, _geo(5000, 14000, t), 0.30, n))
    _set(d, "cyMPO", _ln(rng, 2800, 0.6, n))
    return _Pop(d, _AF_MONO, _ln(rng, 92000, 0.12, n), _ln(rng, 45000, 0.28, n),
                LABEL_CODES["monocytes"])


def _myeloid_progenitors(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 1800, 0.35, n))
    _set(d, "CD34", _ln(rng, 10000, 0.45, n))
    _set(d, "cyMPO", _partial(rng, n, 0.35, 2500, 0.7))
    _set(d, "CD7", _partial(rng, n, 0.10, 2000, 0.6))
    return _Pop(d, _AF_LYM, _ln(rng, 72000, 0.10, n), _ln(rng, 22000, 0.30, n),
                LABEL_CODES["myeloid_precursors"])


def _nrbc(rng, n):
    """Erythroblasts: CD45 fades from dim (pro-/basophilic) to negative (orthochromatic)."""
    t = rng.beta(3.0, 1.2, n)
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, _geo(900, 25, t), 0.5, n))
    return _Pop(d, _AF_LYM * 0.7, _ln(rng, _geo(60000, 36000, t), 0.12, n),
                _ln(rng, 9000, 0.30, n), LABEL_CODES["cd45_negative"])


def _plasma(rng, n):
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, 2000, 0.6, n))
    _set(d, "cyCD79a", _ln(rng, 3000, 0.5, n))
    _set(d, "CD19", _partial(rng, n, 0.3, 1500, 0.6))
    return _Pop(d, _AF_LYM * 1.5, _ln(rng, 85000, 0.12, n), _ln(rng, 26000, 0.3, n),
                LABEL_CODES["plasma_cells"])


def _debris(rng, n):
    """Cell fragments, lysed-RBC ghosts, platelet clumps: low FSC, some CD45 fragments."""
    d = _zeros(n)
    frag = rng.random(n) < 0.3
    cd45 = np.zeros(n)
    cd45[frag] = _ln(rng, 1500, 0.9, int(frag.sum()))
    _set(d, "CD45", cd45)
    fsc = np.exp(rng.uniform(np.log(2500), np.log(26000), n))
    ssc = np.exp(rng.uniform(np.log(800), np.log(30000), n))
    return _Pop(d, _AF_LYM * 0.5, fsc, ssc, LABEL_CODES["debris"])


# ----------------------------------------------------------------------------------------
# leukemic blasts: one phenotype drawn per case, then per-cell variation


def _blasts(rng, n, kind: str, ph: dict) -> _Pop:
    d = _zeros(n)
    _set(d, "CD45", _ln(rng, ph["cd45"], 0.45, n))
    _set(d, "CD34", _partial(rng, n, ph["cd34_frac"], ph["cd34"], 0.5))
    if ph.get("cd19"):
        _set(d, "CD19", _ln(rng, ph["cd19"], 0.4, n))
        _set(d, "cyCD79a", _partial(rng, n, ph["cd79a_frac"], ph["cd79a"], 0.45))
    if ph.get("cycd3"):
        _set(d, "cyCD3", _partial(rng, n, ph["cycd3_frac"], ph["cycd3"], 0.7))
        _set(d, "smCD3", _partial(rng, n, ph["smcd3_frac"], 600.0, 0.6))
    if ph.get("cd7"):
        _set(d, "CD7", _partial(rng, n, ph["cd7_frac"], ph["cd7"], 0.5))
    if ph.get("mpo"):
        _set(d, "cyMPO", _partial(rng, n, ph["mpo_frac"], ph["mpo"], 0.6))
    af = _AF_MONO if kind in ("aml_mono", "aml_cd34neg") else _AF_LYM * 1.2
    return _Pop(d, af, _ln(rng, ph["fsc"], 0.12, n), _ln(rng, ph["ssc"], ph["ssc_cv"], n),
                LABEL_CODES["blasts"])


def _blast_phenotype(rng, kind: str) -> dict:
    u = rng.uniform
    lg = lambda a, b: float(np.exp(u(np.log(a), np.log(b))))  # noqa: E731
    if kind in ("ball_cd34pos", "ball_cd34neg"):
        ph = dict(cd45=lg(60, 3000), cd19=lg(3000, 20000), cd79a=lg(2500, 12000),
                  cd79a_frac=u(0.9, 1.0), fsc=u(58000, 72000), ssc=u(12000, 21000), ssc_cv=0.25)
        ph.update(cd34=lg(4000, 25000), cd34_frac=u(0.8, 1.0) if kind == "ball_cd34pos"
                  else u(0.0, 0.12))
        if rng.random() < 0.1:  # occasional aberrant myeloid-associated... none in ALOT; CD7 rare
            ph.update(cd7=lg(1500, 5000), cd7_frac=u(0.2, 0.5))
        return ph
    if kind == "tall":
        return dict(cd45=lg(2500, 12000), cycd3=lg(4000, 25000), cycd3_frac=u(0.92, 1.0),
                    smcd3_frac=u(0.0, 0.25), cd7=lg(8000, 40000), cd7_frac=u(0.9, 1.0),
                    cd34=lg(3000, 15000), cd34_frac=u(0.0, 0.6) if rng.random() < 0.4 else 0.0,
                    fsc=u(55000, 72000), ssc=u(12000, 20000), ssc_cv=0.25)
    if kind == "aml_cd34pos":
        ph = dict(cd45=lg(900, 5000), cd34=lg(5000, 30000), cd34_frac=u(0.6, 1.0),
                  mpo=lg(2500, 20000), mpo_frac=u(0.12, 0.9),
                  fsc=u(68000, 88000), ssc=u(18000, 40000), ssc_cv=0.32)
        if rng.random() < 0.3:  # aberrant CD7
            ph.update(cd7=lg(1500, 8000), cd7_frac=u(0.2, 0.8))
        return ph
    if kind == "aml_cd34neg":
        if rng.random() < 0.3:  # promyelocytic-like: hypergranular, MPO very bright
            return dict(cd45=lg(900, 3000), cd34=5000.0, cd34_frac=u(0.0, 0.05),
                        mpo=lg(30000, 90000), mpo_frac=u(0.9, 1.0),
                        fsc=u(85000, 105000), ssc=u(70000, 130000), ssc_cv=0.30)
        return dict(cd45=lg(1200, 6000), cd34=5000.0, cd34_frac=u(0.0, 0.1),
                    mpo=lg(5000, 40000), mpo_frac=u(0.4, 1.0),
                    fsc=u(75000, 95000), ssc=u(25000, 60000), ssc_cv=0.35)
    if kind == "aml_mono":
        return dict(cd45=lg(5000, 13000), cd34=5000.0, cd34_frac=u(0.0, 0.1),
                    mpo=lg(1500, 8000), mpo_frac=u(0.1, 0.7),
                    fsc=u(88000, 105000), ssc=u(35000, 65000), ssc_cv=0.30)
    if kind == "mpal":
        ph = dict(cd45=lg(300, 4000), cd34=lg(5000, 25000), cd34_frac=u(0.5, 1.0),
                  mpo=lg(4000, 25000), mpo_frac=u(0.2, 0.7),
                  fsc=u(62000, 80000), ssc=u(12000, 28000), ssc_cv=0.30)
        if rng.random() < 0.6:  # B/myeloid
            ph.update(cd19=lg(4000, 15000), cd79a=lg(3000, 10000), cd79a_frac=u(0.85, 1.0))
        else:  # T/myeloid
            ph.update(cycd3=lg(6000, 20000), cycd3_frac=u(0.5, 1.0), smcd3_frac=0.05,
                      cd7=lg(5000, 30000), cd7_frac=u(0.7, 1.0))
        return ph
    raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")


def _composition(rng, blood: bool) -> dict[str, float]:
    """Fractions of nucleated cells (pediatric; jittered per sample)."""
    if blood:
        lym = rng.uniform(0.25, 0.6)
        base = {"neut": (1 - lym) * 0.82, "mono": (1 - lym) * 0.11, "eos": (1 - lym) * 0.05,
                "baso": (1 - lym) * 0.01, "t": lym * 0.72, "b": lym * 0.16, "nk": lym * 0.12,
                "hg": 0.0, "myp": 0.0003, "nrbc": 0.0, "plasma": 0.0}
    else:
        base = {"neut": rng.uniform(0.35, 0.6), "mono": rng.uniform(0.03, 0.08),
                "eos": rng.uniform(0.01, 0.05), "baso": 0.003,
                "t": rng.uniform(0.06, 0.15), "b": rng.uniform(0.01, 0.05),
                "nk": rng.uniform(0.01, 0.03), "hg": rng.uniform(0.01, 0.15),
                "myp": rng.uniform(0.004, 0.015), "nrbc": rng.uniform(0.03, 0.2),
                "plasma": 0.003}
    tot = sum(base.values())
    return {k: v / tot for k, v in base.items()}


def _normal_pops(rng, counts: dict[str, int], blood: bool) -> list[_Pop]:
    makers = {
        "neut": lambda k: _neutrophil_series(rng, k, blood),
        "mono": lambda k: _monocytes(rng, k, blood),
        "eos": lambda k: _eosinophils(rng, k),
        "baso": lambda k: _basophils(rng, k),
        "t": lambda k: _t_cells(rng, k),
        "b": lambda k: _b_cells(rng, k),
        "nk": lambda k: _nk_cells(rng, k),
        "hg": lambda k: _hematogones(rng, k),
        "myp": lambda k: _myeloid_progenitors(rng, k),
        "nrbc": lambda k: _nrbc(rng, k),
        "plasma": lambda k: _plasma(rng, k),
    }
    return [makers[k](c) for k, c in counts.items() if c > 0]


def _alloc(total: int, fractions: dict[str, float]) -> dict[str, int]:
    """Largest-remainder allocation of ``total`` events."""
    keys = list(fractions)
    raw = np.array([fractions[k] for k in keys]) * total
    out = np.floor(raw).astype(int)
    rest = total - int(out.sum())
    if rest > 0:
        out[np.argsort(-(raw - out))[:rest]] += 1
    return dict(zip(keys, out.tolist(), strict=True))


def _cells(rng, n: int, comp: dict[str, float], n_blast: int, blood: bool, kind: str,
           ph: dict | None) -> list[_Pop]:
    pops = _normal_pops(rng, _alloc(n - n_blast, comp), blood)
    if n_blast > 0 and ph is not None:
        if ph.get("bilineal") is not None:
            k1 = n_blast // 2
            pops.append(_blasts(rng, k1, kind, ph))
            pops.append(_blasts(rng, n_blast - k1, kind, ph["bilineal"]))
        else:
            pops.append(_blasts(rng, n_blast, kind, ph))
    return pops


def _stack(pops: Sequence[_Pop]):
    dye = np.concatenate([p.dye for p in pops])
    af = np.concatenate([np.broadcast_to(p.af, p.dye.shape) for p in pops])
    fsc = np.concatenate([p.fsc for p in pops])
    ssc = np.concatenate([p.ssc for p in pops])
    lab = np.concatenate([np.full(len(p.fsc), p.label, np.uint8) for p in pops])
    return dye, af, fsc, ssc, lab


def _spillover(rng) -> np.ndarray:
    s = np.eye(len(DYES))
    idx = {d: i for i, d in enumerate(DYES)}
    for (a, b), v in _SPILL_BASE.items():
        s[idx[a], idx[b]] = v * rng.uniform(0.8, 1.2)
    return s


def _pulse_height(area1, w1, area2, w2, sep):
    """Peak of the sum of two Gaussian pulses (areas, widths), centres ``sep`` apart."""
    grid = np.linspace(-0.5, 1.5, 41)[None, :] * sep[:, None]
    h1 = (area1 / w1)[:, None] * np.exp(-0.5 * (grid / w1[:, None]) ** 2)
    h2 = (area2 / w2)[:, None] * np.exp(-0.5 * ((grid - sep[:, None]) / w2[:, None]) ** 2)
    return (h1 + h2).max(axis=1)


# ----------------------------------------------------------------------------------------
# public API


def draw_blast_fraction(rng: np.random.Generator) -> float:
    """A diagnostic blast fraction: 25 % of cases low (1-20 %, log-uniform), else 20-95 %."""
    if rng.random() < 0.25:
        return float(np.exp(rng.uniform(np.log(0.01), np.log(0.20))))
    return float(rng.uniform(0.20, 0.95))


def make_case(kind: str, seed: int, n_events: int, blast_fraction: float,
              instrument: str = "canto", *, blood: bool | None = None) -> Case:
    """Simulate one ALOT tube.

    Parameters
    ----------
    kind
        One of :data:`KINDS`. ``normal_*`` ignore ``blast_fraction``.
    seed
        RNG seed (the case is a pure function of its arguments).
    n_events
        Total events in the file (nucleated singlets + doublets + debris + margin).
    blast_fraction
        Leukemic blasts as a fraction of nucleated singlet events (truth labels not in QC).
    instrument
        Key of :data:`INSTRUMENTS`.
    blood
        Peripheral blood instead of bone marrow; default: ``normal_pb`` only.

    Returns
    -------
    Case
        ``(events, channels, spillover, truth)``.
    """
    if kind not in KINDS:
        raise ValueError(f"unknown kind {kind!r}; expected one of {KINDS}")
    inst = INSTRUMENTS[instrument]
    rng = np.random.default_rng([int(seed), KINDS.index(kind), 7919])
    if blood is None:
        blood = kind == "normal_pb"
    normal = kind.startswith("normal")
    ph = None if normal else _blast_phenotype(rng, kind)
    if ph is not None and kind == "mpal" and rng.random() < 0.3:
        # bilineal MPAL: a second, separate myeloid blast population
        ph2 = _blast_phenotype(rng, "aml_cd34pos")
        ph = {k: v for k, v in ph.items() if k in ("cd45", "cd34", "cd34_frac", "fsc", "ssc",
                                                    "ssc_cv", "cd19", "cd79a", "cd79a_frac",
                                                    "cycd3", "cycd3_frac", "smcd3_frac", "cd7",
                                                    "cd7_frac")}
        ph["bilineal"] = ph2

    f_debris = rng.uniform(0.02, 0.10)
    f_doublet = rng.uniform(0.02, 0.06)
    n_debris = round(n_events * f_debris)
    n_doublet = round(n_events * f_doublet)
    n_nuc = n_events - n_debris - n_doublet
    comp = _composition(rng, blood)
    bf = 0.0 if normal else float(np.clip(blast_fraction, 0.0, 1.0))
    n_blast = round(bf * n_nuc)

    singles = _cells(rng, n_nuc, comp, n_blast, blood, kind, ph)
    partners = _cells(rng, 2 * n_doublet, comp, round(bf * 2 * n_doublet), blood, kind, ph)
    dye, af, fsc, ssc, lab = _stack([*singles, _debris(rng, n_debris)])
    dye2, af2, fsc2, ssc2, _ = _stack(partners)

    # per-cell staining (all markers) and permeabilisation (cytoplasmic markers) factors
    def finish(dye, af):
        m = dye.shape[0]
        stain = _ln(rng, 1.0, 0.12, m)[:, None]
        perm = np.where(_CYTO[None, :], _ln(rng, 1.0, 0.15, m)[:, None], 1.0)
        return dye * stain * perm + af * _ln(rng, 1.0, 0.30, m * len(DYES)).reshape(m, -1)

    sig = finish(dye, af)
    sig2 = finish(dye2, af2)

    # pulse widths grow with cell size (FSC); singlet height = area / width
    def width(f):
        return 0.92 * (f / 60000.0) ** 0.25 * _ln(rng, 1.0, 0.04, len(f))

    w = width(fsc)
    fsc_h = fsc / w
    # doublets: pair consecutive partners
    a1, a2 = fsc2[0::2], fsc2[1::2]
    w1, w2 = width(a1), width(a2)
    sep = rng.uniform(0.0, 4.0, n_doublet) * np.maximum(w1, w2)
    d_h = _pulse_height(a1, w1, a2, w2, np.maximum(sep, 1e-6))
    d_sig = sig2[0::2] + sig2[1::2]
    d_ssc = ssc2[0::2] + ssc2[1::2]

    sig = np.concatenate([sig, d_sig])
    fsc_a = np.concatenate([fsc, a1 + a2]) * inst.fsc_gain
    fsc_h = np.concatenate([fsc_h, d_h]) * inst.fsc_gain
    ssc_a = np.concatenate([ssc, d_ssc]) * inst.ssc_gain
    truth = np.concatenate([lab, np.full(n_doublet, LABEL_CODES["doublet"], np.uint8)])

    # spillover in raw space, then photon-counting + electronic noise per detector
    spill = _spillover(rng)
    det = (sig * inst.fl_gain) @ spill
    noise_var = np.maximum(det, 0.0) * _Q[None, :] + _E_SD[None, :] ** 2
    det = det + np.sqrt(noise_var) * rng.standard_normal(det.shape)
    scat_noise = lambda x: x + np.sqrt(np.maximum(x, 0) * 2.0 + 400.0) * rng.standard_normal(len(x))  # noqa: E731
    fsc_a, fsc_h, ssc_a = scat_noise(fsc_a), scat_noise(fsc_h), scat_noise(ssc_a)
    ssc_h = ssc_a / _ln(rng, 1.05, 0.05, len(ssc_a))

    top = inst.range - 1.0
    sat = (fsc_a >= top) | (ssc_a >= top) | (fsc_h >= top)
    truth[sat & (truth != LABEL_CODES["doublet"])] = LABEL_CODES["margin"]
    det = np.clip(det, -inst.range, top)
    scatter = {"FSC-A": fsc_a, "FSC-H": fsc_h, "SSC-A": ssc_a, "SSC-H": ssc_h}
    for k in scatter:
        scatter[k] = np.clip(scatter[k], 0.0, top)

    # acquisition order and Time (Poisson arrivals over 60-150 s, $TIMESTEP 0.01)
    n = len(truth)
    order = rng.permutation(n)
    duration = rng.uniform(60.0, 150.0)
    time = np.sort(rng.uniform(0.0, duration, n)) / 0.01

    cols: list[np.ndarray] = [time]
    channels = [ChannelSpec("Time", None, range=262144.0)]
    for s in inst.scatter:
        cols.append(scatter[s][order])
        channels.append(ChannelSpec(s, None, range=inst.range))
    dyeidx = {d: i for i, d in enumerate(DYES)}
    for dname in inst.dye_order:
        i = dyeidx[dname]
        cols.append(det[order, i])
        channels.append(ChannelSpec(inst.dye_channel[dname], inst.marker_text[MARKERS[i]],
                                    range=inst.range))
    events = np.column_stack(cols).astype(np.float32)
    dets = tuple(inst.dye_channel[d] for d in DYES)
    return Case(events, channels, (dets, spill), truth[order].astype(np.uint8))


def write_case(path: str | Path, case: Case, instrument: str = "canto", *,
               comment: str = "") -> Path:
    """Write a :class:`Case` as the instrument's FCS flavour (3.0 SPILL or 3.1 $SPILLOVER)."""
    inst = INSTRUMENTS[instrument]
    keywords = {
        "$CYT": inst.cytometer,
        "$TIMESTEP": "0.01",
        "TUBE NAME": "ALOT",
        "$SRC": "generator C",
        "$COM": f"SIMULATED generator C {comment}".strip(),
    }
    return write_fcs(path, case.events, case.channels, keywords, version=inst.version,
                     byteorder=inst.byteorder, spillover=case.spillover,
                     spill_keyword=inst.spill_keyword)
