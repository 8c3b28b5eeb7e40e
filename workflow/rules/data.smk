rule make_dataset:
    """Draw every seed's dataset of one (variant, task, seq_len) with numpy; all archs train
    on it."""
    output:
        P.dataset,
    log:
        P.log.format(rule="data", name="{variant}/{task}/T{seq_len}"),
    priority: data_priority
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        code=code_of("make_dataset.py"),
        data=data_of,
        task_params=params_of,
        seeds=SEEDS,
    script:
        "../../scripts/make_dataset.py"
