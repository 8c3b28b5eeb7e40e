rule plot_figures:
    """Every registered figure of one task and variant, PNG (report) and SVG (print)."""
    input:
        **tables_of(FIGURES),
    output:
        **figure_outputs(FIGURES, P.figure, variant="{variant}", task="{task}"),
    log:
        P.log.format(rule="figures", name="{variant}/{task}"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code_of("plot_figures.py"),
        figures=list(FIGURES),
        solved_below=config["solved_below"],
    script:
        "../../scripts/plot_figures.py"


rule plot_comparisons:
    """Every variant of one task side by side (drawn when the config has variants)."""
    input:
        **tables_of(COMPARISONS),
    output:
        **figure_outputs(COMPARISONS, P.comparison, task="{task}"),
    log:
        P.log.format(rule="figures", name="variants/{task}"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        code=code_of("plot_figures.py"),
        figures=list(COMPARISONS),
        solved_below=config["solved_below"],
    script:
        "../../scripts/plot_figures.py"
