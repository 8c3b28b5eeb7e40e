rule train_cell:
    """Train every seed of one (variant, task, arch, seq_len) cell in one process, batched.
    Writes the model, learning curves and metrics only: probes are jobs of their own. One job
    per cell: a stopped study keeps each finished cell, a cluster runs cells in parallel.
    """
    input:
        dataset=dataset_of,
    output:
        **{kind: P.run_file(kind) for kind in TRAIN_FILES},
    log:
        P.log.format(rule="train", name=P.cell_name),
    benchmark:
        P.job_benchmark.format(rule="train", name=P.cell_name)
    priority: train_priority
    conda:
        "../envs/study.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=2000,
        runtime=train_runtime_minutes,
    params:
        code=code_of("train_cell.py"),
        setup=setup_of,
        task_params=params_of,
    script:
        "../../scripts/train_cell.py"


rule probe_cells:
    """Every probe of registry.PROBES on the trained networks of one (variant, task, arch),
    all lengths: reads the models and datasets, never trains."""
    input:
        models=row_models,
        datasets=row_datasets,
    output:
        **{
            name: P.probe.format(
                variant="{variant}", task="{task}", arch="{arch}", probe=name
            )
            for name in PROBES
        },
    log:
        P.log.format(rule="probe", name="{variant}/{task}/{arch}"),
    benchmark:
        P.job_benchmark.format(rule="probe", name="{variant}/{task}/{arch}")
    conda:
        "../envs/study.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=2000,
        runtime=30,
    params:
        code=code_of("probe_cells.py"),
        setup=setup_of,
        task_params=params_of,
        seq_lens=SEQ_LENS,
    script:
        "../../scripts/probe_cells.py"
