"""Snakemake entry point: draw one (variant, task, seq_len, seed) dataset and save it."""

from rnnmemory.io import log_to, save_dataset
from rnnmemory.tasks import make_dataset

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
w = smk.wildcards
dataset = make_dataset(
    w.task, int(w.seq_len), int(w.seed), smk.params.data["n_train"], smk.params.data["n_test"],
    smk.params.task_params,
)  # fmt: skip
save_dataset(dataset, smk.output[0])
print(
    f"{w.variant}: {w.task} T={w.seq_len} seed={w.seed}: x_train {dataset['x_train'].shape}, "
    f"y_train {dataset['y_train'].shape}, baseline loss {dataset['baseline_loss']:.4g}, "
    f"null loss {dataset['null_loss']:.4g}",
    file=log,
)
