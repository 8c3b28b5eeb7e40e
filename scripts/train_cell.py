"""Snakemake entry point: train every seed of one (task, arch, seq_len) cell in one process and
write each seed's run files: history, gradients through time, losses at other lengths, sample
predictions, the model, and metrics.json last."""

import pandas as pd
import torch

from rnnmemory.io import atomic_path, load_dataset, log_to, write_json
from rnnmemory.probes import length_generalisation
from rnnmemory.runtime import tune_cpu_runtime
from rnnmemory.training import TrainSettings, environment, resolve_device, run_metrics, train_cell

TRAIN_KEYS = ("epochs", "lr", "optimizer", "batch_size", "grad_clip")
smk = snakemake  # noqa: F821 (injected by Snakemake)
log = log_to(smk.log[0])


def say(line):
    print(line, file=log, flush=True)


runtime = tune_cpu_runtime()  # flush denormals, keep freed memory (see runtime.py)
torch.set_num_threads(smk.threads)
w, cfg, setup = smk.wildcards, smk.config, smk.params.setup  # setup: the variant's settings
seeds = list(smk.params.seeds)
device = resolve_device(cfg["device"])
datasets = [load_dataset(path) for path in smk.input.datasets]
settings = TrainSettings(**{k: v for k, v in setup["train"].items() if k != "threads"})
model_cfg = setup["model"]
say(f"cell {w.variant}/{w.task}/{w.arch}/T{w.seq_len}: seeds {seeds} on {device}, "
    f"{smk.threads} thread(s)")  # fmt: skip

result = train_cell(datasets, seeds, w.arch, model_cfg, settings, device=device, log=say)
say(f"hidden size {result.model.hidden_size}; trained in {result.wall_seconds:.1f} s")

env = {**environment(device), **runtime}
seq_len = int(w.seq_len)
lengths = pd.DataFrame(
    length_generalisation(result.model, w.task, seq_len, seeds, cfg["analysis"]["length_factors"],
                          setup["data"], smk.params.task_params)
)  # fmt: skip


def gradient_frame(k):
    """Seed k's gradient norms per step, at initialisation and after training."""
    frames = [
        pd.DataFrame(dict(phase=phase, step=range(seq_len), distance=range(seq_len - 1, -1, -1),
                          grad_h_norm=norms["grad_h"][k], grad_x_norm=norms["grad_x"][k]))
        for phase, norms in result.gradients.items()
    ]  # fmt: skip
    return pd.concat(frames, ignore_index=True)


def write_csv(frame, path):
    with atomic_path(path) as tmp:
        frame.to_csv(tmp, index=False)


for k, seed in enumerate(seeds):
    net = result.model.torch_net(k)
    params = {
        "variant": w.variant, "task": w.task, "arch": w.arch, "seq_len": seq_len, "seed": seed,
        "hidden_size": result.model.hidden_size,  # set by match_params when that is on
        **{key: model_cfg[key] for key in ("num_layers", "match_params")},
        "nonlinearity": model_cfg["nonlinearity"] if w.arch == "rnn" else None,
        "lstm_forget_bias": model_cfg["lstm_forget_bias"] if w.arch == "lstm" else None,
        "n_params": result.model.params_per_model(),
        **setup["data"],
        **{key: setup["train"][key] for key in TRAIN_KEYS},
        "task_params": smk.params.task_params,
    }  # fmt: skip
    metrics = {
        **params,
        **run_metrics(result, k, datasets[k], cfg["solved_below"]),
        **env,
        "time_cell_seconds": result.wall_seconds,
        "time_seed_seconds": result.wall_seconds / len(seeds),
    }
    history = pd.DataFrame([row for row in result.history if row["seed"] == seed])
    write_csv(history.drop(columns="seed"), smk.output.history[k])
    write_csv(gradient_frame(k), smk.output.gradients[k])
    write_csv(lengths[lengths["seed"] == seed].drop(columns="seed"), smk.output.lengths[k])
    write_csv(result.prediction_samples[k], smk.output.predictions[k])
    with atomic_path(smk.output.model[k]) as tmp:
        torch.save(
            {"params": params, "rnn": net.rnn.state_dict(), "head": net.head.state_dict()}, tmp
        )
    # metrics.json last: its presence marks a finished run
    write_json(metrics, smk.output.metrics[k])
    say(
        f"seed {seed}: test loss {metrics['final_test_loss']:.4g}, "
        f"normalised {metrics['normalised_test_loss']:.4g}, solved {metrics['solved']}"
    )
