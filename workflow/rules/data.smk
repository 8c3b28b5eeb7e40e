rule make_dataset:
    """Draw one (variant, task, seq_len, seed) dataset with numpy; every arch trains on it."""
    output:
        paths.DATASET,
    log:
        paths.LOG.format(rule="data", name="{variant}/{task}/T{seq_len}/seed{seed}"),
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        data=data_of,
        task_params=params_of,
    script:
        "../../scripts/make_dataset.py"
