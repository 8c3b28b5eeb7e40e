rule collect_tables:
    """Tidy tables: runs (one row per run), summary (per cell), history (learning curves)."""
    input:
        metrics=all_runs("metrics"),
        history=all_runs("history"),
        gradients=all_runs("gradients"),
        lengths=all_runs("lengths"),
        predictions=all_runs("predictions"),
    output:
        runs=table_paths("runs"),
        summary_csv=report(
            paths.TABLE.format(name="summary", ext="csv"),
            caption="../report/summary.rst",
            category="Tables",
        ),
        summary_parquet=paths.TABLE.format(name="summary", ext="parquet"),
        history=table_paths("history"),
        gradients=table_paths("gradients"),
        lengths=table_paths("lengths"),
        predictions=table_paths("predictions"),
        critical_csv=report(
            paths.TABLE.format(name="critical_length", ext="csv"),
            caption="../report/critical_length.rst",
            category="Tables",
        ),
        critical_parquet=paths.TABLE.format(name="critical_length", ext="parquet"),
    log:
        paths.LOG.format(rule="tables", name="collect"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=2000,
        runtime=10,
    params:
        solved_below=config["solved_below"],
        outcomes=config["outcomes"],
        stems={
            name: paths.TABLE.format(name=name, ext="")[:-1]
            for name in paths.TABLE_NAMES
        },
    script:
        "../../scripts/collect_tables.py"
