rule collect_tables:
    """The tidy tables of registry.TABLES, from every cell's training and probe files."""
    input:
        **{name: all_probes([name]) for name in PROBES},
        metrics=per_cell(P.run_file("metrics")),
        history=per_cell(P.run_file("history")),
    output:
        expand(P.table, name=TABLES, ext=TABLE_FORMATS),
    log:
        P.log.format(rule="tables", name="collect"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=4000,
        runtime=10,
    params:
        code=code_of("collect_tables.py"),
        solved_below=config["solved_below"],
        outcomes=config["outcomes"],
        stems={name: P.table.format(name=name, ext="")[:-1] for name in TABLES},
    script:
        "../../scripts/collect_tables.py"


rule table_html:
    """A table as an HTML page for the report (sortable in the browser, CSV to download)."""
    input:
        P.table.format(name="{name}", ext="csv"),
    output:
        report(
            P.table_html,
            caption="../report/table.rst",
            category="Tables",
            subcategory="{name}",
            labels={"table": "{name}"},
        ),
    log:
        P.log.format(rule="tables", name="html_{name}"),
    localrule: True
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_of("table_html.py"),
        description=lambda w: TABLES[w.name].description,
    script:
        "../../scripts/table_html.py"
