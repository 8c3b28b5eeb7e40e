rule make_dataset:
    """Draw one (task, seq_len, seed) dataset with numpy; every arch trains on the same file."""
    output:
        paths.DATASET,
    log:
        paths.LOG.format(rule="data", name="{task}/T{seq_len}/seed{seed}"),
    conda:
        "../envs/study.yaml"
    threads: 1
    resources:
        mem_mb=1000,
        runtime=5,
    params:
        n_train=config["data"]["n_train"],
        n_test=config["data"]["n_test"],
        task_params=params_of,
    script:
        "../../scripts/make_dataset.py"
