rule plot_figure:
    """One figure of one task and variant, PNG (report) and SVG (print)."""
    input:
        **figure_tables(),
    output:
        png=report(
            paths.FIGURE.format(
                variant="{variant}", task="{task}", figure="{figure}", ext="png"
            ),
            caption="../report/figure.rst",
            category="{task}",
            subcategory="{figure}",
            labels={"figure": "{figure}", "variant": "{variant}"},
        ),
        svg=paths.FIGURE.format(
            variant="{variant}", task="{task}", figure="{figure}", ext="svg"
        ),
    log:
        paths.LOG.format(rule="figures", name="{variant}/{task}/{figure}"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/plot_figure.py"


rule plot_variants:
    """Every variant of one task side by side (drawn when the config has variants)."""
    input:
        **figure_tables(),
    output:
        png=report(
            paths.COMPARISON.format(task="{task}", ext="png"),
            caption="../report/variants.rst",
            category="{task}",
            subcategory="variants",
            labels={"figure": "variants", "variant": "all"},
        ),
        svg=paths.COMPARISON.format(task="{task}", ext="svg"),
    log:
        paths.LOG.format(rule="figures", name="variants/{task}"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    script:
        "../../scripts/plot_figure.py"
