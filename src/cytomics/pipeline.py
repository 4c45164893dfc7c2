"""One sample end to end: ingest → preprocess → QC → gate → (classify / MRD) → outputs.

This is the only module that knows the order of the stages. Each stage is a pure function
in its own module; this one wires them, turns typed input errors into a ``rejected``
result, and writes the per-sample files of DESIGN §8 atomically (``result.json`` last, so
its presence means the sample is complete).
"""

from __future__ import annotations

import logging
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from cytomics import atomic
from cytomics.errors import ConfigError, CytomicsInputError, InsufficientEventsError
from cytomics.result import add_review, file_sha256, mark_rejected, new_result, population_table

log = logging.getLogger(__name__)

#: files this module writes into a sample's output directory (stale ones are removed).
OUTPUT_FILES = ("result.json", "labels.npy", "gates.xml")


@dataclass(slots=True)
class SampleRequest:
    """What to analyse and how (one sample-sheet row, or one CLI invocation)."""

    fcs: Path
    panel: str | Path
    out_dir: Path
    sample_id: str
    timepoint: str = "dx"
    specimen: str | None = None
    patient_id: str | None = None
    genetics: dict[str, Any] = field(default_factory=dict)
    diagnosis_dir: Path | None = None
    make_plots: bool = True


def resolve_config(config: dict[str, Any]) -> dict[str, Any]:
    """The configuration with every stage threshold written out.

    ``qc:`` and ``gating:`` in the config file list only what a laboratory overrides; the
    stage dataclasses (:class:`cytomics.qc.QCSettings`,
    :class:`cytomics.gating.alot.AlotGatingSettings`) hold the documented defaults. This
    returns a copy with both sections expanded to every field, so the effective
    configuration of a batch (``results/config.effective.json``) and the
    ``provenance.config_sha256`` of each result cover the thresholds actually applied,
    defaults included. Resolving a resolved configuration returns it unchanged.

    Parameters
    ----------
    config
        Validated configuration (:func:`cytomics.config.load_config`).

    Returns
    -------
    dict
        A new mapping; ``config`` is not modified.

    Raises
    ------
    ConfigError
        Unknown or invalid stage settings.
    """
    from dataclasses import asdict

    from cytomics.qc import QCSettings

    resolved = dict(config)
    resolved["qc"] = asdict(QCSettings.from_mapping(config.get("qc") or {}))
    alot, small = gating_settings(config)
    resolved["gating"] = {**asdict(alot), SMALL_CLUSTERS_KEY: asdict(small)}
    return resolved


#: subsection of ``gating:`` holding the small-cluster screen's thresholds
SMALL_CLUSTERS_KEY = "small_clusters"


def gating_settings(config: dict[str, Any]) -> tuple[Any, Any]:
    """The ALOT gating settings of a configuration.

    Parameters
    ----------
    config
        Configuration whose ``gating:`` section lists overrides of
        :class:`cytomics.gating.alot.AlotGatingSettings`, and in its ``small_clusters:``
        subsection overrides of :class:`cytomics.gating.small_clusters.SmallClusterSettings`.

    Returns
    -------
    tuple
        ``(AlotGatingSettings, SmallClusterSettings)``.

    Raises
    ------
    ConfigError
        Unknown or invalid settings.
    """
    from cytomics.gating.alot import AlotGatingSettings
    from cytomics.gating.small_clusters import SmallClusterSettings

    section = dict(config.get("gating") or {})
    small = section.pop(SMALL_CLUSTERS_KEY, None) or {}
    if not isinstance(small, dict):
        raise ConfigError(f"gating.{SMALL_CLUSTERS_KEY} must be a mapping, got {small!r}")
    return AlotGatingSettings.from_mapping(section), SmallClusterSettings.from_mapping(small)


def analyze_sample(request: SampleRequest, config: dict[str, Any]) -> dict[str, Any]:
    """Analyse one FCS file and write its outputs.

    Parameters
    ----------
    request
        The sample and where to write.
    config
        Validated configuration (:func:`cytomics.config.load_config`).

    Returns
    -------
    dict
        The ``result.json`` document (also written to ``request.out_dir``). Bad input gives
        ``status == "rejected"`` with a typed error; bugs raise.
    """
    from cytomics.config import config_sha256

    config = resolve_config(config)
    out_dir = Path(request.out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    result = new_result(request.sample_id)
    result["sample"] = {
        "timepoint": request.timepoint,
        "specimen": request.specimen,
        "patient_id": request.patient_id,
        "genetics": request.genetics,
    }
    result["provenance"]["config_sha256"] = config_sha256(config)
    written: set[str] = set()
    try:
        written = _run_stages(request, config, result, out_dir)
    except CytomicsInputError as exc:
        log.warning("sample %s rejected: [%s] %s", request.sample_id, exc.code, exc)
        mark_rejected(result, exc)
        record = result.get("acquisition") or {"file": Path(request.fcs).name}
        if "sha256" not in record and Path(request.fcs).is_file():
            record["sha256"] = file_sha256(request.fcs)  # traceability of the rejected input
        result["acquisition"] = record
    _remove_stale(out_dir, keep=written | {"result.json"})
    atomic.write_json(out_dir / "result.json", result)
    return result


def _run_stages(
    request: SampleRequest, config: dict[str, Any], result: dict[str, Any], out_dir: Path
) -> set[str]:
    from cytomics.fcs import read_fcs
    from cytomics.panel import load_panel, match_panel
    from cytomics.preprocess.pipeline import preprocess
    from cytomics.preprocess.transforms import TransformSettings
    from cytomics.qc import QCSettings, run_qc

    written: set[str] = set()
    panel = load_panel(request.panel)
    result["panel"] = {
        "name": panel.name,
        "version": panel.version,
        "family": getattr(panel, "family", None),
    }
    result["provenance"]["panel_sha256"] = getattr(panel, "sha256", None)

    fcs = Path(request.fcs)
    result["acquisition"] = {"file": fcs.name}  # named before reading: rejected files too
    acquisition = read_fcs(fcs)
    result["acquisition"] = _acquisition_record(acquisition, fcs)
    result["simulated"] = "SIMULATED" in acquisition.keywords.get("$COM", "").upper()

    min_events = config.get("min_events", {})
    if acquisition.n_events < int(min_events.get("acquired", 1000)):
        raise InsufficientEventsError(
            f"only {acquisition.n_events} events acquired "
            f"(minimum {min_events.get('acquired', 1000)})",
            path=fcs,
        )

    match = match_panel(acquisition, panel)
    override = _spillover_override(config, request)
    events = preprocess(
        acquisition,
        settings=TransformSettings.from_mapping(config.get("transforms", {})),
        spillover_override=override,
        markers=dict(match.markers),
        inplace=True,  # one event matrix per process: 4-10 M-event MRD tubes fit comfortably
    )
    result["compensation"] = {
        "applied": events.spillover is not None,
        "source": None if events.spillover is None else events.spillover.source,
        "detectors": [] if events.spillover is None else list(events.spillover.detectors),
    }
    if events.spillover is None:
        add_review(result, "no_compensation", "no spillover matrix: data not compensated")

    qc = run_qc(events, settings=QCSettings.from_mapping(config.get("qc", {})))
    result["qc"] = _qc_record(qc)
    if qc.events_after_qc < int(min_events.get("after_qc", 500)):
        raise InsufficientEventsError(
            f"only {qc.events_after_qc} events left after QC "
            f"(minimum {min_events.get('after_qc', 500)})",
            path=fcs,
        )

    labels = qc.labels
    gates = list(qc.gates)
    gating = None
    if _panel_family(panel) == "alot":
        from cytomics.gating.alot import gate_alot

        alot_settings, small_settings = gating_settings(config)
        gating = gate_alot(
            events,
            qc,
            settings=alot_settings,
            small_settings=small_settings,
            specimen=request.specimen,
        )
        labels = gating.labels
        gates.extend(gating.gates)
        result["gating"] = {"strategy": "alot", "flags": list(gating.flags)}
        for flag in gating.flags:
            if needs_review(flag):
                add_review(result, "gating", flag)
    else:
        add_review(
            result,
            "mrd_not_evaluated",
            f"panel {panel.name}: automated MRD gating is not implemented yet; "
            "QC and nucleated-cell counts only",
        )
        result["mrd"] = {"status": "not_evaluable", "reason": "MRD quantification not implemented"}

    table = population_table(labels)
    # without population gating only the QC-level count is measured: never print a 0 % for
    # populations that were not looked for
    result["populations"] = table if gating is not None else {"nucleated": table["nucleated"]}
    atomic.write_npy(out_dir / "labels.npy", labels)
    written.add("labels.npy")

    from cytomics.gating.gatingml import export_gatingml

    atomic.write_text(out_dir / "gates.xml", export_gatingml(gates, events))
    written.add("gates.xml")

    if request.make_plots and gating is not None:
        from cytomics.report.plots import plot_alot_overview

        plots_dir = out_dir / "plots"
        paths = plot_alot_overview(events, qc, gating, plots_dir)
        result["plots"] = [str(Path(p).relative_to(out_dir)) for p in paths]
        written.add("plots")
    return written


#: gating flags that make a hematologist look at the plots before the result is released:
#: a population not found, the internal T-cell control missing (positions are then read
#: from other landmarks), and the strategy's own review flags
REVIEW_GATING_FLAGS = ("population_missing", "review", "lymphocyte_anchor", "small_blast_cluster")


def needs_review(flag: str) -> bool:
    """Whether a gating flag sends the result to ``review``: it starts with one of
    :data:`REVIEW_GATING_FLAGS` or ends in ``_review``. Other flags (``blast_cluster_*``,
    ``population_absent:*`` for a population whose absence is normal) are reported only."""
    return flag.startswith(REVIEW_GATING_FLAGS) or flag.endswith("_review")


def _panel_family(panel: Any) -> str:
    family = getattr(panel, "family", None) or ""
    return "alot" if (family == "alot" or panel.name == "alot") else family


def _spillover_override(config: dict[str, Any], request: SampleRequest) -> Path | None:
    overrides = config.get("spillover_overrides") or {}
    panel_name = Path(str(request.panel)).stem
    chosen = overrides.get(request.sample_id) or overrides.get(panel_name)
    return Path(chosen) if chosen else None


def _acquisition_record(acquisition: Any, fcs: Path) -> dict[str, Any]:
    kw = acquisition.keywords
    return {
        "file": fcs.name,
        "sha256": acquisition.sha256 or file_sha256(fcs),
        "fcs_version": acquisition.fcs_version,
        "cytometer": acquisition.cytometer,
        "cytometer_serial": kw.get("$CYTSN"),
        "events_total": acquisition.n_events,
        "parameters": acquisition.n_channels,
        "date": kw.get("$DATE"),
        "begin_time": kw.get("$BTIM"),
        "end_time": kw.get("$ETIM"),
        "tube_name": kw.get("TUBE NAME"),
        "voltages": {ch.name: ch.voltage for ch in acquisition.channels if ch.voltage is not None},
        "warnings": list(acquisition.warnings),
    }


def _qc_record(qc: Any) -> dict[str, Any]:
    return {
        "events_total": int(qc.events_total),
        "events_after_qc": int(qc.events_after_qc),
        "removed": {k: int(v) for k, v in qc.removed.items()},
        "removed_pct": {
            k: (round(100.0 * v / qc.events_total, 3) if qc.events_total else None)
            for k, v in qc.removed.items()
        },
        "flags": list(qc.flags),
    }


def _remove_stale(out_dir: Path, *, keep: set[str]) -> None:
    for name in (*OUTPUT_FILES, "plots", "report.html", "report.pdf"):
        if name in keep:
            continue
        target = out_dir / name
        if target.is_dir():
            shutil.rmtree(target)
        elif target.exists():
            target.unlink()
