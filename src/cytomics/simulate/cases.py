"""Case kinds and the per-file simulation plan (what to draw, before any event is drawn).

A :class:`CasePlan` fixes, for one FCS file: the populations and their proportions among
nucleated cells, the leukemic blast phenotype (patient-specific, reproducible from the
patient ID across timepoints), the QC artefact rates, the instrument (channels, spillover,
voltages) and the case truth. :mod:`cytomics.simulate.engine` draws events from it in chunks.
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass, field, replace

import numpy as np

from cytomics.errors import ConfigError
from cytomics.simulate.instruments import Variant, file_spillover, get_tube, get_variant
from cytomics.simulate.phenotypes import COMPOSITIONS, NEG, Level, PopSpec, normal_populations

#: kind -> (truth lineage class, description).
CASE_KINDS: dict[str, tuple[str, str]] = {
    "normal_bm": ("no_abnormal_blasts", "normal (or regenerating, on MRD tubes) bone marrow"),
    "normal_pb": ("no_abnormal_blasts", "normal peripheral blood"),
    "hypocellular_bm": ("no_abnormal_blasts", "hypocellular, hemodiluted marrow, much debris"),
    "b_all_pro_b": ("b_all_pro_b", "BCP-ALL, CD34 on >=80% of blasts"),
    "b_all_pro_pre_b": ("b_all_pro_pre_b", "BCP-ALL, CD34 on 20-80% of blasts"),
    "b_all_pre_b": ("b_all_pre_b", "BCP-ALL, CD34 on <20% of blasts"),
    "t_all": ("t_all", "T-ALL: cyCD3+ CD7 bright, smCD3 neg/dim"),
    "aml_cd34pos": ("aml", "AML, MPO+ CD34+"),
    "aml_cd34neg": ("aml", "AML, MPO+ CD34-"),
    "mpal_b_myeloid": ("mpal", "MPAL B/myeloid: CD19+ cyCD79a+ and MPO > 50% of neutrophils"),
    "mpal_t_myeloid": ("mpal", "MPAL T/myeloid: strong cyCD3 and MPO"),
    "undetermined": ("undetermined", "CD7+ blasts without cyCD3, MPO or B markers"),
}

_B_ALL = ("b_all_pro_b", "b_all_pro_pre_b", "b_all_pre_b")
_TIMEPOINT = re.compile(r"^(dx|d\d{1,3}|other)$")


def _stable_int(*parts: object) -> int:
    text = "|".join(str(p) for p in parts)
    return int.from_bytes(hashlib.sha256(text.encode()).digest()[:8], "little")


def patient_rng(patient_id: str) -> np.random.Generator:
    """RNG of the patient-level parameters (same for every file of a patient)."""
    return np.random.default_rng(_stable_int("patient", patient_id))


@dataclass
class CasePlan:
    """Everything needed to draw the events of one file."""

    kind: str
    panel: str
    variant: Variant
    timepoint: str
    specimen: str
    patient_id: str
    seed: int
    n_events: int
    pops: list[tuple[str, PopSpec, float]]  # (key, spec, fraction of nucleated)
    blast_fraction: float  # requested fraction of nucleated
    debris: float  # fractions of all events
    doublets: float
    aggregates: float
    disturbances: list[tuple[int, int, float, float]]  # (start, stop, signal factor, rate factor)
    channels: list[tuple[str, tuple[str, ...] | None, str]]  # ($PnN, markers or None, slot)
    spillover: np.ndarray  # over the fluorescence channels, in channel order
    event_rate: float  # events per second
    debris_spec: PopSpec
    truth: dict = field(default_factory=dict)

    @property
    def fluor_channels(self) -> list[int]:
        """Indices (in :attr:`channels`) of fluorescence channels."""
        return [i for i, (_, m, _) in enumerate(self.channels) if m is not None]


def _blast_spec(kind: str, prng: np.random.Generator) -> tuple[PopSpec, dict]:
    """Patient-specific blast phenotype (and its design truth)."""
    u = prng.uniform
    design: dict = {}
    cd45 = L(u(0.22, 0.50), 0.05)
    ssc = (u(11_000, 22_000), 0.2)
    fsc = (u(55_000, 70_000), 0.11)
    m: dict = {"SYTO41": Level(0.64, 0.03), "CD45": cd45}
    if kind in _B_ALL or kind == "mpal_b_myeloid":
        cd34_frac = {"b_all_pro_b": u(0.90, 0.99), "b_all_pro_pre_b": u(0.35, 0.65),
                     "b_all_pre_b": u(0.0, 0.08), "mpal_b_myeloid": u(0.6, 0.95)}[kind]
        r = prng.random(8)
        cd10 = (Level(u(0.79, 0.86), 0.04) if r[0] < 0.75 else
                Level(u(0.62, 0.72), 0.05) if r[0] < 0.9 else Level(0.20, 0.04))
        cd20 = (Level(0.18, 0.04) if r[1] < 0.6 else
                Level(0.50, 0.06, frac=u(0.2, 0.5), alt=0.18) if r[1] < 0.9 else
                Level(0.16, 0.04, smear=0.35))
        m.update({
            "CD19": Level(u(0.53, 0.62), 0.045), "cyCD79a": Level(u(0.54, 0.64), 0.05),
            "CD34": Level(u(0.60, 0.70), 0.05, frac=cd34_frac, alt=0.18),
            "CD10": cd10, "CD20": cd20,
            "CD38": Level(u(0.36, 0.58), 0.06), "CD58": Level(u(0.56, 0.70), 0.05),
            "CD81": Level(u(0.40, 0.60), 0.05),
            "CD66c": Level(0.62, 0.06, frac=u(0.5, 1.0)) if r[2] < 0.4 else Level(NEG, 0.04),
            "CD123": Level(0.55, 0.06, frac=u(0.4, 1.0)) if r[3] < 0.3 else Level(NEG, 0.04),
            "CD73": Level(0.56, 0.06, frac=u(0.5, 1.0)) if r[4] < 0.5 else Level(NEG, 0.04),
            "CD304": Level(0.58, 0.06, frac=u(0.5, 1.0)) if r[5] < 0.4 else Level(0.20, 0.04),
        })
        if r[6] < 0.05:
            m["CD7"] = Level(0.48, 0.05, frac=0.3)
        design["cd34_positive_fraction"] = cd34_frac
        if kind == "mpal_b_myeloid":
            mpo_frac = u(0.35, 0.7)
            m["cyMPO"] = Level(0.73, 0.05, frac=mpo_frac, alt=0.2)
            design["mpo_positive_fraction"] = mpo_frac
    elif kind in ("t_all", "mpal_t_myeloid"):
        cd34_frac = u(0.0, 0.7)
        m.update({
            "cyCD3": Level(u(0.67, 0.74) if kind == "t_all" else u(0.73, 0.78), 0.045),
            "smCD3": (Level(0.45, 0.05, frac=0.3, alt=0.19) if prng.random() < 0.3
                      else Level(0.19, 0.04)),
            "CD7": Level(u(0.72, 0.82), 0.04), "CD34": Level(0.62, 0.05, frac=cd34_frac, alt=0.18),
            "CD10": Level(0.60, 0.06) if prng.random() < 0.3 else Level(NEG, 0.04),
            "CD38": Level(0.62, 0.05),
        })
        cd45 = Level(u(0.45, 0.62), 0.045)
        m["CD45"] = cd45
        ssc = (u(10_000, 16_000), 0.18)
        design["cd34_positive_fraction"] = cd34_frac
        if kind == "mpal_t_myeloid":
            mpo_frac = u(0.35, 0.7)
            m["cyMPO"] = Level(0.73, 0.05, frac=mpo_frac, alt=0.2)
            design["mpo_positive_fraction"] = mpo_frac
    elif kind in ("aml_cd34pos", "aml_cd34neg"):
        cd34_frac = u(0.75, 1.0) if kind == "aml_cd34pos" else u(0.0, 0.08)
        mpo_frac = u(0.3, 0.95)
        m.update({
            "cyMPO": Level(u(0.56, 0.68), 0.06, frac=mpo_frac, alt=0.2),
            "CD34": Level(u(0.62, 0.70), 0.05, frac=cd34_frac, alt=0.18),
            "CD38": Level(0.64, 0.05), "CD123": Level(0.5, 0.06), "CD58": Level(0.5, 0.05),
            "CD45": Level(u(0.42, 0.58), 0.045),
        })
        if prng.random() < 0.25:
            m["CD7"] = Level(0.55, 0.05, frac=u(0.2, 0.6))
        ssc = (u(18_000, 45_000), 0.22)
        fsc = (u(65_000, 85_000), 0.11)
        design.update(cd34_positive_fraction=cd34_frac, mpo_positive_fraction=mpo_frac)
    elif kind == "undetermined":
        cd34_frac = u(0.6, 1.0)
        m.update({
            "CD7": Level(u(0.66, 0.78), 0.045), "CD34": Level(0.64, 0.05, frac=cd34_frac),
            "CD45": Level(u(0.42, 0.56), 0.045), "CD38": Level(0.6, 0.05),
            "cyMPO": Level(0.2, 0.04), "cyCD3": Level(0.17, 0.035),
        })
        design["cd34_positive_fraction"] = cd34_frac
    else:  # pragma: no cover - guarded by CASE_KINDS
        raise ConfigError(f"kind {kind!r} has no blasts")
    # Patient-to-patient widths: some patients have broader, more heterogeneous blasts.
    sd_scale = u(0.9, 1.4)
    m = {k: (replace(v, sd=v.sd * sd_scale) if isinstance(v, Level) else v) for k, v in m.items()}
    design["cd45_level"] = round(m["CD45"].mean, 4)
    design["ssc_median"] = round(ssc[0], 1)
    return PopSpec("blasts", m, fsc=fsc, ssc=ssc, ah_ratio=(1.12, 0.035)), design


def L(mean: float, sd: float = 0.04) -> Level:
    """Shorthand for :class:`Level`."""
    return Level(mean, sd)


def _follow_up(spec: PopSpec) -> PopSpec:
    """Therapy-induced shifts of the diagnostic phenotype (LAIP drifts a little)."""
    m = dict(spec.markers)
    for key, delta in (("CD10", -0.03), ("CD45", 0.03), ("CD20", 0.02)):
        if key in m:
            m[key] = m[key].shifted(delta)
    if "CD34" in m and isinstance(m["CD34"], Level):
        m["CD34"] = replace(m["CD34"], frac=m["CD34"].frac * 0.9)
    return replace(spec, markers=m)


def _vary_normals(pops: dict[str, PopSpec], rng: np.random.Generator) -> dict[str, PopSpec]:
    """Sample-level variation: reagent/instrument shift per marker plus per-population jitter."""
    markers = sorted({k for p in pops.values() for k in p.markers})
    global_shift = {k: rng.normal(0.0, 0.015) for k in markers}
    out = {}
    for name, spec in pops.items():
        m = {k: v.shifted(global_shift[k] + rng.normal(0.0, 0.01), rng.uniform(0.9, 1.15))
             for k, v in spec.markers.items()}
        f = rng.uniform(0.95, 1.05)
        out[name] = replace(spec, markers=m, fsc=(spec.fsc[0] * f, spec.fsc[1]),
                            ssc=(spec.ssc[0] * rng.uniform(0.93, 1.07), spec.ssc[1]))
    return out


def _background(kind: str, panel: str, timepoint: str, specimen: str) -> str:
    if specimen == "PB" or kind == "normal_pb":
        return "pb"
    if kind == "hypocellular_bm":
        return "pb"  # hemodiluted: blood-like composition
    if timepoint == "dx":
        return "regenerating" if (kind == "normal_bm" and panel != "alot") else "bm"
    day = int(timepoint[1:]) if timepoint.startswith("d") else 33
    return "depleted" if day < 29 else "regenerating"


def default_blast_fraction(kind: str, timepoint: str, prng: np.random.Generator) -> float:
    """Patient-specific blast fraction of nucleated cells when none is requested."""
    if CASE_KINDS[kind][0] == "no_abnormal_blasts":
        return 0.0
    dx = float(prng.uniform(0.25, 0.9) if kind.startswith("aml") else prng.uniform(0.45, 0.95))
    if timepoint == "dx":
        return dx
    day = int(timepoint[1:]) if timepoint.startswith("d") else 33
    sub = np.random.default_rng(_stable_int("mrd", prng.integers(1 << 62), timepoint))
    exponent = sub.uniform(-3.5, -1.5) if day < 29 else sub.uniform(-5.5, -3.0)
    return float(10.0**exponent)


def build_plan(
    kind: str,
    *,
    seed: int,
    n_events: int,
    blast_fraction: float | None = None,
    variant: str = "canto_ii",
    panel: str = "alot",
    timepoint: str = "dx",
    patient_id: str | None = None,
    specimen: str | None = None,
    debris_fraction: float | None = None,
    doublet_fraction: float | None = None,
    disturbance: bool | None = None,
    genetics: dict | None = None,
) -> CasePlan:
    """Build the :class:`CasePlan` of one file.

    The one definition of a case's options and their defaults:
    :func:`~cytomics.simulate.simulate_case` and :func:`~cytomics.simulate.simulate_to_file`
    pass their keyword options through; their meaning is documented in
    :func:`~cytomics.simulate.simulate_case`.
    """
    if kind not in CASE_KINDS:
        raise ConfigError(f"unknown case kind {kind!r}; known: {sorted(CASE_KINDS)}")
    if not _TIMEPOINT.match(timepoint):
        raise ConfigError(f"timepoint {timepoint!r} is not dx, d<N> or other")
    if n_events < 1:
        raise ConfigError(f"n_events must be >= 1, got {n_events}")
    if blast_fraction is not None and not 0.0 <= blast_fraction <= 1.0:
        raise ConfigError(f"blast_fraction must be in [0, 1], got {blast_fraction}")
    var = get_variant(variant)
    tube = get_tube(panel)
    pid = patient_id or f"SIM{seed:06d}"
    spec_site = specimen or ("PB" if kind == "normal_pb" else "BM")
    if spec_site not in ("BM", "PB"):
        raise ConfigError(f"specimen must be BM or PB, got {spec_site!r}")
    prng = patient_rng(pid)
    frng = np.random.default_rng([seed, 1])

    lineage = CASE_KINDS[kind][0]
    drawn_genetics = {"dna_index": None, "etv6_runx1": None, "bcr_abl1": None}
    blast_design: dict = {}
    pops_lib = _vary_normals(normal_populations(), frng)
    debris_spec = pops_lib.pop("debris")
    bg = _background(kind, panel, timepoint, spec_site)
    comp = COMPOSITIONS[bg]
    alpha = np.array([comp[k] for k in comp]) * 150.0 + 1e-3
    weights = frng.dirichlet(alpha)
    normal = {k: float(w) for k, w in zip(comp, weights, strict=True)}
    if bg == "regenerating":  # hematogone load varies a lot between children
        normal["b_precursors"] *= float(frng.uniform(0.1, 2.0))
    pops_lib["b_precursors"] = replace(
        pops_lib["b_precursors"], t_beta=(1.1, 1.6) if bg == "regenerating" else (1.3, 1.5)
    )

    bf = 0.0
    if lineage != "no_abnormal_blasts":
        blast, blast_design = _blast_spec(kind, prng)
        if timepoint != "dx":
            blast = _follow_up(blast)
        bf = default_blast_fraction(kind, timepoint, prng) if blast_fraction is None else blast_fraction
        if kind in _B_ALL:
            di_hyper = prng.random() < 0.25
            drawn_genetics = {
                "dna_index": round(float(prng.uniform(1.16, 1.30)) if di_hyper else 1.0, 2),
                "etv6_runx1": "yes" if prng.random() < 0.25 and not di_hyper else "no",
                "bcr_abl1": "yes" if prng.random() < 0.03 else "no",
            }
            if di_hyper:
                blast = replace(blast, markers={**blast.markers, "SYTO41": Level(0.67, 0.03)})
    if genetics:
        unknown = set(genetics) - set(drawn_genetics)
        if unknown:
            raise ConfigError(f"unknown genetics keys {sorted(unknown)}")
        drawn_genetics = {**drawn_genetics, **genetics}
    if lineage == "no_abnormal_blasts" and blast_fraction:
        raise ConfigError(f"kind {kind!r} has no abnormal blasts; blast_fraction must be 0/None")
    total = sum(normal.values())
    pops: list[tuple[str, PopSpec, float]] = [
        (k, pops_lib[k], (1.0 - bf) * w / total) for k, w in normal.items() if w > 0
    ]
    if bf > 0:
        pops.append(("blasts", blast, bf))

    hypo = kind == "hypocellular_bm"
    debris = (debris_fraction if debris_fraction is not None else
              float(frng.uniform(0.35, 0.6)) if hypo else float(frng.uniform(0.03, 0.09)))
    doublets = doublet_fraction if doublet_fraction is not None else float(frng.uniform(0.015, 0.05))
    aggregates = float(frng.uniform(0.002, 0.008))
    disturbances: list[tuple[int, int, float, float]] = []
    if (disturbance is None and frng.random() < 0.4) or disturbance:
        width = max(1, int(n_events * frng.uniform(0.01, 0.03)))
        start = int(frng.uniform(0.2, 0.85) * n_events)
        disturbances.append((start, min(n_events, start + width), float(frng.uniform(0.55, 0.75)),
                             float(frng.uniform(2.5, 4.0))))

    # channels ($PnN, markers, slot) in the variant's order
    fl = [(var.slot_channels[slot], markers, slot) for slot, markers in tube]
    scatter = [(name, None, name[:3]) for name in var.scatter]
    time = [("Time", None, "Time")]
    channels = (time + scatter + fl) if var.time_first else (scatter + fl + time)
    spill = file_spillover(var, [slot for slot, _ in tube], np.random.default_rng([seed, 2]))

    truth = {
        "simulated": True,
        "note": "SIMULATED DATA - synthetic events from cytomics.simulate, not a patient sample",
        "kind": kind,
        "lineage_class": lineage,
        "patient_id": pid,
        "timepoint": timepoint,
        "specimen": spec_site,
        "seed": int(seed),
        "panel": panel,
        "instrument_variant": var.name,
        "background": bg,
        "requested_blast_fraction_of_nucleated": bf,
        "blast_design": {k: round(float(v), 4) for k, v in blast_design.items()},
        "genetics": drawn_genetics,
    }
    return CasePlan(
        kind=kind, panel=panel, variant=var, timepoint=timepoint, specimen=spec_site,
        patient_id=pid, seed=int(seed), n_events=int(n_events), pops=pops, blast_fraction=bf,
        debris=debris, doublets=doublets, aggregates=aggregates, disturbances=disturbances,
        channels=channels, spillover=spill, event_rate=float(frng.uniform(3_000, 9_000)),
        debris_spec=debris_spec,
        truth=truth,
    )
