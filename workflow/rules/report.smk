# The HTML report itself is built by `snakemake --report results/report.html` (the Makefile's
# study target does it); its captions live in workflow/report/. This rule writes its first page.


rule headline:
    """The report's first page: one sentence per task and arch, written from the tables."""
    input:
        critical=paths.TABLE.format(name="critical_length", ext="parquet"),
        summary=paths.TABLE.format(name="summary", ext="parquet"),
    output:
        paths.HEADLINE,
    log:
        paths.LOG.format(rule="tables", name="headline"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    script:
        "../../scripts/write_headline.py"
