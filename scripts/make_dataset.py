"""Snakemake entry point: draw every seed's dataset of one (variant, task, seq_len), each from
its own seeded stream, and save them in one file that every arch trains on."""

from rnnmemory.core.io import log_to, save_cell_datasets
from rnnmemory.core.tasks import make_dataset

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
w, data, seeds = smk.wildcards, smk.params.data, smk.params.seeds
datasets = [
    make_dataset(
        w.task, int(w.seq_len), seed, data["n_train"], data["n_test"], smk.params.task_params
    )
    for seed in seeds
]
save_cell_datasets(datasets, seeds, smk.output[0])
first = datasets[0]
print(
    f"{w.variant}: {w.task} T={w.seq_len} seeds {seeds}: x_train {first['x_train'].shape} each, "
    f"baseline loss {first['baseline_loss']:.4g}, null loss {first['null_loss']:.4g}",
    file=log,
)
