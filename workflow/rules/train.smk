rule train_cell:
    """Train every seed of one (variant, task, arch, seq_len) cell in one process, batched."""
    input:
        datasets=cell_datasets,
    output:
        metrics=cell_outputs("metrics"),
        history=cell_outputs("history"),
        gradients=cell_outputs("gradients"),
        lengths=cell_outputs("lengths"),
        predictions=cell_outputs("predictions"),
        model=cell_outputs("model"),
    log:
        paths.LOG.format(rule="train", name="{variant}/{task}/{arch}/T{seq_len}"),
    benchmark:
        paths.JOB_BENCHMARK.format(
            rule="train", name="{variant}/{task}/{arch}/T{seq_len}"
        )
    conda:
        "../envs/study.yaml"
    threads: config["train"]["threads"]
    resources:
        mem_mb=2000,
        runtime=train_runtime_minutes,
    params:
        seeds=SEEDS,
        setup=setup_of,
        task_params=params_of,
    script:
        "../../scripts/train_cell.py"
