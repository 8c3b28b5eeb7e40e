"""Snakemake entry point: run every registered probe on the trained networks of one
(variant, task, arch), over all its sequence lengths, and write one CSV per probe."""

import torch

from rnnmemory.core.io import atomic_path, load_cell_datasets, log_to
from rnnmemory.probing.runner import Cell, probe_cells
from rnnmemory.training.checkpoint import load_model
from rnnmemory.training.runtime import end_job, tune_cpu_runtime

smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
tune_cpu_runtime()
torch.set_num_threads(smk.threads)
w, setup = smk.wildcards, smk.params.setup
cells = []
for seq_len, model_path, data_path in zip(
    smk.params.seq_lens, smk.input.models, smk.input.datasets, strict=True
):
    seeds, model = load_model(model_path)
    data_seeds, datasets = load_cell_datasets(data_path)
    assert seeds == data_seeds, f"{model_path}: seeds {seeds} differ from {data_path}'s"
    cells.append(
        Cell(
            w.task,
            seq_len,
            seeds,
            datasets,
            model,
            setup["model"],
            smk.params.task_params,
            setup["data"],
            smk.config["analysis"]["length_factors"],
        )
    )
for name, frame in probe_cells(cells).items():
    frame.insert(0, "arch", w.arch)
    frame.insert(0, "task", w.task)
    frame.insert(0, "variant", w.variant)
    with atomic_path(smk.output[name]) as tmp:
        frame.to_csv(tmp, index=False)
    print(f"{name}: {len(frame)} rows", file=log)
end_job()  # skips the 0.7 s teardown of torch's objects
