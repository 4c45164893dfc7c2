# Batch summary: every sample-sheet row, including rejected samples and why.


rule summary:
    input:
        expand(RESULTS / "samples" / "{sample}" / "result.json", sample=sorted(SAMPLES)),
    output:
        tsv=RESULTS / "summary.tsv",
        html=report(
            RESULTS / "summary.html",
            caption="../report/summary.rst",
            category="Batch",
        ),
    log:
        RESULTS / "logs" / "summary.log",
    shell:
        "{CYTOMICS} summary {input:q} --out {output.tsv:q} --html {output.html:q} > {log:q} 2>&1"
