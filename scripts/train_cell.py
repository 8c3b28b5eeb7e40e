"""Snakemake entry point: train every seed of one (variant, task, arch, seq_len) cell in one
process and write the model, the learning curves and one metrics record per seed (metrics
last). Probes run in jobs of their own. Prints one line when done."""

import csv
import sys
import time

started = time.perf_counter()
import torch  # timed: about 2 s of every job

import_torch_seconds = time.perf_counter() - started
from rnnmemory.core.archs import ARCH_RECORDS
from rnnmemory.core.io import atomic_path, load_cell_datasets, log_to, write_json
from rnnmemory.training.checkpoint import save_model
from rnnmemory.training.inits import applied_init
from rnnmemory.training.runtime import end_job, job_usage, tune_cpu_runtime
from rnnmemory.training.trainer import (
    TrainSettings,
    environment,
    resolve_device,
    run_metrics,
    train_cell,
)

TRAIN_KEYS = ("epochs", "lr", "optimizer", "batch_size", "grad_clip")
smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])
w, cfg, setup = smk.wildcards, smk.config, smk.params.setup  # setup: the variant's settings
cell = f"{w.variant}/{w.task}/{w.arch}/T{w.seq_len}"


def say(line):
    print(line, file=log, flush=True)


runtime = tune_cpu_runtime()  # flush denormals, keep freed memory (see runtime.py)
torch.set_num_threads(smk.threads)
device = resolve_device(cfg["device"])
seeds, datasets = load_cell_datasets(smk.input.dataset)
settings = TrainSettings(**{k: v for k, v in setup["train"].items() if k != "threads"})
model_cfg = setup["model"]
say(f"cell {cell}: seeds {seeds} on {device}, {smk.threads} thread(s)")

fresh = {"task": w.task, "params": smk.params.task_params}
fresh = fresh if setup["data"]["fresh_each_epoch"] else None
result = train_cell(
    datasets,
    seeds,
    w.arch,
    model_cfg,
    settings,
    device=device,
    log=say,
    backend=cfg["backend"],
    fresh=fresh,
)
say(
    f"hidden size {result.model.hidden_size}, {result.backend}; trained in "
    f"{result.wall_seconds:.1f} s"
)

# code_hash: the train rule's param over this script and the library it imports (codehash.py)
env = {"code_hash": smk.params.code, **environment(device), **runtime, "backend": result.backend}
usage = job_usage()  # peak RSS and CPU time so far, measured in the job itself
records = []
for k, seed in enumerate(seeds):
    params = {
        "variant": w.variant,
        "task": w.task,
        "arch": w.arch,
        "seq_len": int(w.seq_len),
        "seed": seed,
        "hidden_size": result.model.hidden_size,  # match_params may set it
        **{key: model_cfg[key] for key in ("num_layers", "match_params")},
        # the settings that do not apply to this arch are recorded as None
        **{
            key: model_cfg[key] if key in ARCH_RECORDS[w.arch].options else None
            for key in ("nonlinearity", "lstm_forget_bias")
        },
        "init": applied_init(model_cfg["init"], w.arch),
        "n_params": result.model.params_per_model(),
        **setup["data"],
        **{key: setup["train"][key] for key in TRAIN_KEYS},
        "task_params": smk.params.task_params,
    }
    records.append(
        {
            **params,
            **run_metrics(result, k, datasets[k], cfg["solved_below"]),
            **env,
            "time_cell_seconds": result.wall_seconds,
            "time_seed_seconds": result.wall_seconds / len(seeds),
            "time_import_torch_seconds": import_torch_seconds,
            **usage,
        }
    )
    say(
        f"seed {seed}: test loss {records[-1]['final_test_loss']:.4g}, normalised "
        f"{records[-1]['normalised_test_loss']:.4g}, solved {records[-1]['solved']}"
    )

with atomic_path(smk.output.history) as tmp, open(tmp, "w", newline="") as f:
    keys = {"variant": w.variant, "task": w.task, "arch": w.arch, "seq_len": int(w.seq_len)}
    writer = csv.DictWriter(f, fieldnames=[*keys, "seed", "epoch", "train_loss", "test_loss"])
    writer.writeheader()
    writer.writerows({**keys, **row} for row in result.history)
save_model(result.model, seeds, smk.output.model)
write_json({"runs": records}, smk.output.metrics)  # last: its presence marks a finished cell
solved = sum(r["solved"] for r in records)
diverged = sum(r["diverged"] for r in records)
line = (
    f"trained {cell}: {solved}/{len(seeds)} seeds solved"
    + (f", {diverged} diverged" if diverged else "")
    + f", {result.wall_seconds:.0f} s\n"
)
# one write of the whole line (print() writes the newline apart, and unbuffered, as Snakemake
# runs jobs, two jobs' lines could interleave); a pipe keeps a write under 4 KiB whole
sys.stdout.write(line)
sys.stdout.flush()
end_job()  # skips the 0.7 s teardown of torch's objects
