"""Population phenotypes in compensated, logicle-transformed space.

Every marker level is given on the Gating-ML logicle scale used by the pipeline
(T=262144, W=0.5, M=4.5, A=0; 0.111 is zero, one decade is 0.222, 1.0 is 262144).
Rough landmarks: 0.13-0.25 negative (0-150), 0.40-0.50 dim (600-1600), 0.60-0.72 positive
(4k-14k), 0.78-0.88 bright (27k-75k).

A marker on a population is a :class:`Level` (unimodal, bimodal or smeared) or a
:class:`PathLevel` (a function of the cell's maturation stage ``t`` in [0, 1], shared by all
markers of the cell, which draws the continuous hematogone maturation curve of DOMAIN §5.3).
Scatter is linear (FSC-A, SSC-A log-normal, FSC-A/FSC-H ratio per cell type).
"""

from __future__ import annotations

from dataclasses import dataclass, field, replace

import numpy as np

#: logicle level of "no stain" for a cell without special autofluorescence.
NEG = 0.15


@dataclass(frozen=True, slots=True)
class Level:
    """Expression of one marker on one population (logicle units).

    ``frac`` of the cells draw from N(mean, sd); the others from N(alt, alt_sd) (bimodal /
    partial expression). ``smear`` > 0 adds a uniform [0, smear] term (heterogeneous, smeared
    expression, e.g. CD20 asynchronous on blasts).
    """

    mean: float
    sd: float = 0.04
    frac: float = 1.0
    alt: float = NEG
    alt_sd: float = 0.035
    smear: float = 0.0

    def shifted(self, delta: float, sd_scale: float = 1.0) -> Level:
        """Return this level moved by ``delta`` (positive mode only) with sd scaled."""
        return replace(self, mean=self.mean + delta, sd=self.sd * sd_scale)

    def sample(self, rng: np.random.Generator, n: int, t: np.ndarray | None = None) -> np.ndarray:
        """Draw ``n`` values (float64); ``t`` unused (uniform signature with PathLevel)."""
        y = rng.normal(self.mean, self.sd, n)
        if self.frac < 1.0:
            alt = rng.random(n) >= self.frac
            y[alt] = rng.normal(self.alt, self.alt_sd, int(alt.sum()))
        if self.smear > 0.0:
            y += rng.uniform(0.0, self.smear, n)
        return y

    def positive_fraction(self) -> float:
        """Fraction of cells drawn from the main mode (design truth)."""
        return self.frac


@dataclass(frozen=True, slots=True)
class PathLevel:
    """Marker level as a piecewise-linear function of maturation stage ``t`` plus noise."""

    anchors: tuple[tuple[float, float], ...]
    sd: float = 0.04

    def shifted(self, delta: float, sd_scale: float = 1.0) -> PathLevel:
        """Return the path moved by ``delta`` with sd scaled."""
        return PathLevel(tuple((a, b + delta) for a, b in self.anchors), self.sd * sd_scale)

    def sample(self, rng: np.random.Generator, n: int, t: np.ndarray | None = None) -> np.ndarray:
        """Draw ``n`` values along the path at stages ``t``."""
        if t is None:
            t = rng.random(n)
        xs = np.array([a for a, _ in self.anchors])
        ys = np.array([b for _, b in self.anchors])
        return np.interp(t, xs, ys) + rng.normal(0.0, self.sd, n)

    def positive_fraction(self) -> float:
        """Not defined for a continuum (returns NaN)."""
        return float("nan")


MarkerLevel = Level | PathLevel


@dataclass(frozen=True)
class PopSpec:
    """One cell population.

    Attributes
    ----------
    label
        Name from :data:`cytomics.populations.LABEL_NAMES`.
    markers
        Canonical marker -> level; markers not listed are at ``neg``.
    fsc, ssc
        (median, CV) of the linear FSC-A / SSC-A log-normal distributions.
    ah_ratio
        (mean, sd) of FSC-A / FSC-H for singlets of this type.
    neg
        Logicle level of unstained markers (autofluorescence).
    t_beta
        Beta(a, b) of the maturation stage ``t`` (used by :class:`PathLevel` markers).
    """

    label: str
    markers: dict[str, MarkerLevel] = field(default_factory=dict)
    fsc: tuple[float, float] = (55_000.0, 0.12)
    ssc: tuple[float, float] = (12_000.0, 0.20)
    ah_ratio: tuple[float, float] = (1.12, 0.035)
    neg: float = NEG
    t_beta: tuple[float, float] = (1.0, 1.0)

    def level(self, marker: str) -> MarkerLevel:
        """Level of ``marker`` (the autofluorescence level when not listed)."""
        lv = self.markers.get(marker)
        return lv if lv is not None else Level(self.neg, 0.035)


def L(mean: float, sd: float = 0.04, **kw: float) -> Level:
    """Shorthand constructor used in the phenotype tables."""
    return Level(mean, sd, **kw)


# --- normal reference populations (DOMAIN §3.3, §5.3) ---------------------------------
def normal_populations() -> dict[str, PopSpec]:
    """Return the normal BM/PB populations keyed by a short name.

    The keys are simulator names (several may share one label, e.g. mature B cells and
    plasma cells); :attr:`PopSpec.label` is the shared vocabulary label.
    """
    hgone_t = (1.3, 1.5)
    return {
        "t_cells": PopSpec(
            "lymphocytes_t",
            {"cyCD3": L(0.76, 0.035), "smCD3": L(0.70, 0.04), "CD7": L(0.68, 0.045, frac=0.9),
             "CD45": L(0.84, 0.03), "CD38": L(0.32, 0.06), "CD58": L(0.42, 0.05),
             "CD81": L(0.40, 0.06), "SYTO41": L(0.62, 0.03)},
            fsc=(50_000, 0.10), ssc=(11_000, 0.18),
        ),
        "b_cells": PopSpec(
            "lymphocytes_b",
            {"CD19": L(0.63, 0.04), "cyCD79a": L(0.63, 0.04), "CD20": L(0.78, 0.04),
             "CD45": L(0.80, 0.03), "CD38": L(0.36, 0.06), "CD81": L(0.52, 0.05),
             "CD58": L(0.40, 0.05), "CD73": L(0.40, 0.08, frac=0.5), "SYTO41": L(0.62, 0.03)},
            fsc=(50_000, 0.10), ssc=(10_500, 0.18),
        ),
        "nk_cells": PopSpec(
            "lymphocytes_nk",
            {"CD7": L(0.66, 0.05), "CD45": L(0.80, 0.03), "CD38": L(0.55, 0.06),
             "CD58": L(0.48, 0.05), "SYTO41": L(0.62, 0.03)},
            fsc=(53_000, 0.10), ssc=(14_000, 0.20),
        ),
        "monocytes": PopSpec(
            "monocytes",
            {"CD45": L(0.74, 0.03), "cyMPO": L(0.50, 0.05), "CD38": L(0.50, 0.05),
             "CD123": L(0.40, 0.06), "CD58": L(0.52, 0.05), "CD81": L(0.38, 0.06),
             "CD7": L(0.18, 0.04), "SYTO41": L(0.63, 0.03)},
            fsc=(88_000, 0.10), ssc=(38_000, 0.20), ah_ratio=(1.15, 0.04), neg=0.20,
        ),
        "neutrophils": PopSpec(
            "granulocytes",
            {"CD45": L(0.63, 0.035), "cyMPO": L(0.79, 0.04), "CD66c": L(0.74, 0.05),
             "CD10": L(0.58, 0.08, frac=0.8, alt=0.22), "CD38": L(0.30, 0.05),
             "CD58": L(0.46, 0.05), "SYTO41": L(0.63, 0.03)},
            fsc=(98_000, 0.10), ssc=(100_000, 0.16), ah_ratio=(1.17, 0.04), neg=0.20,
        ),
        "eosinophils": PopSpec(
            "eosinophils",
            {"CD45": L(0.76, 0.03), "cyMPO": L(0.62, 0.05), "CD66c": L(0.55, 0.06),
             "CD38": L(0.35, 0.05), "SYTO41": L(0.63, 0.03)},
            fsc=(92_000, 0.10), ssc=(165_000, 0.10), ah_ratio=(1.16, 0.04), neg=0.33,
        ),
        "basophils": PopSpec(
            "basophils",
            {"CD45": L(0.60, 0.03), "CD123": L(0.72, 0.04), "CD38": L(0.62, 0.05),
             "CD58": L(0.40, 0.05), "SYTO41": L(0.63, 0.03)},
            fsc=(60_000, 0.10), ssc=(16_000, 0.20),
        ),
        "nrbc": PopSpec(
            "cd45_negative",
            {"CD45": L(0.14, 0.04), "CD38": L(0.28, 0.06), "CD58": L(0.35, 0.06),
             "SYTO41": L(0.58, 0.04)},
            fsc=(38_000, 0.15), ssc=(7_500, 0.25), ah_ratio=(1.08, 0.03),
        ),
        "myeloid_precursors": PopSpec(
            "myeloid_precursors",
            {"CD34": L(0.66, 0.045), "CD45": L(0.52, 0.035), "cyMPO": L(0.45, 0.06, frac=0.4),
             "CD7": L(0.42, 0.05, frac=0.12), "CD38": L(0.74, 0.04), "CD123": L(0.45, 0.06),
             "CD58": L(0.50, 0.05), "CD81": L(0.55, 0.05), "CD66c": L(NEG, 0.04),
             "SYTO41": L(0.64, 0.03)},
            fsc=(66_000, 0.10), ssc=(24_000, 0.22),
        ),
        # Hematogones: one continuous path from stage I (t=0) to stage II and mature B (t=1).
        "b_precursors": PopSpec(
            "b_precursors",
            {"CD34": PathLevel(((0.0, 0.64), (0.28, 0.62), (0.40, 0.22), (1.0, 0.17)), 0.04),
             "CD10": PathLevel(((0.0, 0.79), (0.35, 0.74), (0.80, 0.56), (1.0, 0.42)), 0.035),
             "CD20": PathLevel(((0.0, 0.17), (0.30, 0.20), (0.65, 0.50), (1.0, 0.70)), 0.045),
             "CD45": PathLevel(((0.0, 0.50), (0.40, 0.62), (1.0, 0.74)), 0.03),
             "CD38": PathLevel(((0.0, 0.80), (0.60, 0.76), (1.0, 0.68)), 0.035),
             "CD19": L(0.60, 0.04), "cyCD79a": L(0.60, 0.045), "CD81": L(0.74, 0.035),
             "CD58": L(0.45, 0.045), "CD304": L(0.20, 0.04),
             "CD73": PathLevel(((0.0, 0.17), (0.7, 0.18), (1.0, 0.32)), 0.05),
             "SYTO41": L(0.63, 0.03)},
            fsc=(47_000, 0.10), ssc=(9_500, 0.18), t_beta=hgone_t,
        ),
        "plasma_cells": PopSpec(
            "plasma_cells",
            {"CD38": L(0.90, 0.03), "CD45": L(0.48, 0.06), "CD19": L(0.45, 0.07),
             "cyCD79a": L(0.55, 0.05), "CD81": L(0.62, 0.05), "CD58": L(0.52, 0.05),
             "SYTO41": L(0.64, 0.03)},
            fsc=(72_000, 0.12), ssc=(20_000, 0.22),
        ),
        "debris": PopSpec(
            "debris",
            {"CD45": L(0.18, 0.08, frac=0.7, alt=0.38, alt_sd=0.08), "SYTO41": L(0.22, 0.10),
             "cyMPO": L(0.22, 0.08), "CD38": L(0.20, 0.07)},
            fsc=(14_000, 0.55), ssc=(6_500, 0.70), ah_ratio=(1.02, 0.12), neg=0.17,
        ),
    }


#: Normal composition (fractions of nucleated cells) by background.
COMPOSITIONS: dict[str, dict[str, float]] = {
    # pediatric normal bone marrow
    "bm": {"neutrophils": 0.50, "eosinophils": 0.035, "basophils": 0.005, "monocytes": 0.06,
           "t_cells": 0.11, "b_cells": 0.035, "nk_cells": 0.02, "nrbc": 0.13,
           "b_precursors": 0.06, "myeloid_precursors": 0.012, "plasma_cells": 0.003},
    "pb": {"neutrophils": 0.55, "eosinophils": 0.03, "basophils": 0.006, "monocytes": 0.07,
           "t_cells": 0.25, "b_cells": 0.055, "nk_cells": 0.045, "nrbc": 0.0005,
           "b_precursors": 0.0003, "myeloid_precursors": 0.0005, "plasma_cells": 0.0002},
    # induction day 8-19: steroid-depleted B precursors, relative T-cell excess
    "depleted": {"neutrophils": 0.40, "eosinophils": 0.04, "basophils": 0.004, "monocytes": 0.07,
                 "t_cells": 0.25, "b_cells": 0.006, "nk_cells": 0.05, "nrbc": 0.17,
                 "b_precursors": 0.0003, "myeloid_precursors": 0.006, "plasma_cells": 0.004},
    # end of induction and later: regenerating marrow, hematogones can be plentiful
    "regenerating": {"neutrophils": 0.45, "eosinophils": 0.03, "basophils": 0.005,
                     "monocytes": 0.08, "t_cells": 0.10, "b_cells": 0.02, "nk_cells": 0.025,
                     "nrbc": 0.14, "b_precursors": 0.10, "myeloid_precursors": 0.02,
                     "plasma_cells": 0.004},
}
