rule plot_figure:
    """One figure of one task, PNG (report) and SVG (print)."""
    input:
        runs=paths.TABLE.format(name="runs", ext="parquet"),
        summary=paths.TABLE.format(name="summary", ext="parquet"),
        history=paths.TABLE.format(name="history", ext="parquet"),
        gradients=paths.TABLE.format(name="gradients", ext="parquet"),
        lengths=paths.TABLE.format(name="lengths", ext="parquet"),
        predictions=paths.TABLE.format(name="predictions", ext="parquet"),
    output:
        png=report(
            paths.FIGURE.format(task="{task}", figure="{figure}", ext="png"),
            caption="../report/figure.rst",
            category="{task}",
            subcategory="{figure}",
            labels={"task": "{task}", "figure": "{figure}"},
        ),
        svg=paths.FIGURE.format(task="{task}", figure="{figure}", ext="svg"),
    log:
        paths.LOG.format(rule="figures", name="{task}/{figure}"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/plot_figure.py"
