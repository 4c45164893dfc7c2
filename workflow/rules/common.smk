# Sample sheet + configuration loading and validation (shared by all rules).
import shlex
import sys
from pathlib import Path

from snakemake.utils import validate

from cytomics.samplesheet import load_samplesheet

validate(config, schema="../schemas/config.schema.yaml")

# The CLI through the interpreter running Snakemake: works without an activated venv.
CYTOMICS = f"{shlex.quote(sys.executable)} -m cytomics.cli"
RESULTS = Path(config["results"])
PANELS_DIR = Path(config.get("panels_dir", "panels"))
KNOWN_PANELS = {p.stem for p in PANELS_DIR.glob("*.yaml")}
SAMPLES = {row.sample_id: row for row in load_samplesheet(config["samples"], known_panels=KNOWN_PANELS)}


wildcard_constraints:
    sample="|".join(sorted(SAMPLES)),


def sample_dir(sample):
    return RESULTS / "samples" / sample


def fcs_input(wildcards):
    """The FCS file as an input only when it exists: a missing file still yields a
    rejected result (and a summary row) instead of stopping the whole batch."""
    path = Path(SAMPLES[wildcards.sample].fcs)
    return [path] if path.is_file() else []


def diagnosis_sample(sample):
    """The diagnosis sample (same patient and tube, timepoint dx) of a follow-up sample."""
    row = SAMPLES[sample]
    if row.timepoint == "dx":
        return None
    for other in SAMPLES.values():
        if other.patient_id == row.patient_id and other.timepoint == "dx" and other.tube == row.tube:
            return other.sample_id
    return None


def diagnosis_input(wildcards):
    dx = diagnosis_sample(wildcards.sample)
    return [] if dx is None else [sample_dir(dx) / "result.json"]


def analyze_args(wildcards):
    """Optional CLI arguments of `cytomics analyze` for one sample (shell-quoted)."""
    row = SAMPLES[wildcards.sample]
    args = ["--specimen", row.specimen, "--patient-id", row.patient_id]
    dx = diagnosis_sample(wildcards.sample)
    if dx is not None:
        args += ["--diagnosis", str(sample_dir(dx))]
    return " ".join(shlex.quote(a) for a in args)
