# cytomics workflow entry point: configuration, rule files, target.
# Run: snakemake --cores all   (or `make run` on a fresh machine)
from snakemake.utils import min_version

min_version("9.0")


configfile: "config/config.yaml"


include: "workflow/rules/common.smk"
include: "workflow/rules/analyze.smk"
include: "workflow/rules/summary.smk"


rule all:
    input:
        RESULTS / "summary.tsv",
        RESULTS / "summary.html",
    default_target: True
