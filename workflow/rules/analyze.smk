# One job per sample: ingest -> QC -> gating -> classification/MRD -> per-sample files.
# A rejected sample (exit code 3) still writes result.json and does not fail the batch.


rule effective_config:
    output:
        RESULTS / "config.effective.json",
    params:
        config=config,
    log:
        RESULTS / "logs" / "effective_config.log",
    run:
        # every threshold written out (stage defaults included), so the batch is auditable
        from cytomics.atomic import write_json
        from cytomics.pipeline import resolve_config

        write_json(output[0], resolve_config(params.config))


rule analyze:
    input:
        fcs=fcs_input,
        config=RESULTS / "config.effective.json",
        diagnosis=diagnosis_input,
    output:
        result=RESULTS / "samples" / "{sample}" / "result.json",
    params:
        fcs=lambda wc: SAMPLES[wc.sample].fcs,
        panel=lambda wc: str(PANELS_DIR / f"{SAMPLES[wc.sample].tube}.yaml"),
        timepoint=lambda wc: SAMPLES[wc.sample].timepoint,
        outdir=lambda wc: str(sample_dir(wc.sample)),
        extra=analyze_args,
    log:
        RESULTS / "logs" / "analyze" / "{sample}.log",
    # numba kernels use this many threads (NUMBA_NUM_THREADS); Snakemake runs
    # cores // threads samples at once, so kernels never oversubscribe the machine.
    # Override with --set-threads analyze=N.
    threads: 2
    resources:
        mem_mb=lambda wc, input: max(2000, int(8 * input.size_mb)),
    shell:
        "rc=0; NUMBA_NUM_THREADS={threads} {CYTOMICS} analyze {params.fcs:q} --panel {params.panel:q} --out {params.outdir:q}"
        " --sample-id {wildcards.sample} --timepoint {params.timepoint} {params.extra}"
        " --config {input.config:q} > {log:q} 2>&1 || rc=$?;"
        " if [ $rc -ne 0 ] && [ $rc -ne 3 ]; then exit $rc; fi"
