# The HTML report itself is built by `snakemake --report <results_dir>/report.html` (`make
# study` does it when a result is newer than the report); its captions live in workflow/report/.
# This rule writes its first page.


rule headline:
    """The report's first page: per task the headline figure, one sentence per arch on its
    memory horizon, links to every figure, and the horizon table."""
    input:
        horizon=P.table_file("horizon"),
        summary=P.table_file("summary"),
        runs=P.table_file("runs"),
        figures=expand(
            P.figure, variant="base", task=TASKS, figure="horizon", ext="png"
        ),
    output:
        P.headline,
    log:
        P.log.format(rule="tables", name="headline"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_of("write_headline.py"),
        tasks=TASKS,
        budgets=config["analysis"]["budget_variants"],
        # relative to the workflow (an absolute path would change with the checkout's place)
        budget_check=config["analysis"]["budget_check"],
        remedies_check=config["analysis"]["remedies_check"],
        anchors="workflow/report/anchors.yaml",
        figure_paths={
            task: {
                name: P.figure.format(
                    variant="base", task=task, figure=name, ext="png"
                )
                for name in FIGURES
            }
            for task in TASKS
        },
    script:
        "../../scripts/write_headline.py"
