"""Train all seeds of one (task, arch, seq_len) cell together.

Each seed has its own dataset, its own initial weights and its own optimizer state: the seeds
are stacked only to share the cost of each operation. The summed loss has a block-diagonal
gradient and Adam is elementwise, so a seed trains as it would alone (see the tests for how
exactly that holds in floating point).
"""

from __future__ import annotations

import math
import os
import time
from dataclasses import dataclass

import torch

from rnnmemory.core.archs import ARCH_RECORDS, matched_hidden_size
from rnnmemory.core.tasks import TASKS, dataset_rng, run_seed
from rnnmemory.training.inits import apply_init
from rnnmemory.training.models import (
    StackedRecurrentNet,
    accuracy,
    per_model_loss,
    stack_data,
)
from rnnmemory.training.optim import OPTIMIZERS
from rnnmemory.training.reference import seeded_torch_net


@dataclass
class TrainSettings:
    epochs: int = 1000
    lr: float = 0.01
    optimizer: str = "adam"
    batch_size: int | None = None  # None: full batch, one update per epoch
    log_every: int = 100
    eval_every: int = 10
    grad_clip: float | None = None  # max gradient norm per seed; None: no clipping


def resolve_device(requested: str) -> torch.device:
    """``auto`` is CUDA when present, else the CPU; ``cuda`` without CUDA is an error."""
    if requested == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if requested == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("device: cuda was requested but torch sees no CUDA device")
    return torch.device(requested)


def clip_per_model(model: StackedRecurrentNet, max_norm: float):
    """Clip each seed's gradient to ``max_norm`` on its own (a joint norm would couple seeds)."""
    grads = [p.grad for p in model.parameters()]
    norms = torch.stack([g.flatten(1).pow(2).sum(1) for g in grads]).sum(0).sqrt()  # (K,)
    scale = (max_norm / (norms + 1e-6)).clamp(max=1.0)
    for g in grads:
        g.mul_(scale.view(-1, *[1] * (g.dim() - 1)))


def resolve_backend(backend: str, device) -> str:
    """``auto``: the fused C++ kernel on the CPU where it builds, else torch's ops (bptt)."""
    if backend == "fused" and torch.device(device).type != "cpu":
        raise ValueError(f"backend 'fused' is the CPU kernel, not for device {device}: use auto")
    if backend != "auto":
        return backend
    try:
        from rnnmemory.training.fused import default_backend
    except ImportError:
        return "bptt"
    return default_backend(device)


def model_shape(datasets: list[dict], arch: str, model_cfg: dict) -> dict:
    """Layer sizes of one cell's networks, from its data and the model settings."""
    first = datasets[0]
    shape = dict(
        input_size=first["x_train"].shape[2],
        output_size=first["n_classes"] or first["y_train"].shape[1],
        hidden_size=model_cfg["hidden_size"],
        num_layers=model_cfg["num_layers"],
    )
    if model_cfg.get("match_params"):  # equal parameters: as many as the reference arch has
        shape["hidden_size"] = matched_hidden_size(arch, model_cfg["match_params"], **shape)
    if "nonlinearity" in ARCH_RECORDS[arch].options:
        shape["nonlinearity"] = model_cfg.get("nonlinearity", "tanh")
    return shape


def run_seeds(datasets: list[dict], seeds: list[int]) -> list[int]:
    """The torch seed of every run of a cell (``tasks.run_seed``), from its datasets' keys."""
    return [run_seed(d["task"], int(d["seq_len"]), s) for d, s in zip(datasets, seeds, strict=True)]


def initial_model(datasets, seeds, arch, model_cfg, backend="bptt") -> StackedRecurrentNet:
    """Every seed's network as initialised before training: torch.nn's init under the run's
    seed (``tasks.run_seed``), then the config's remedies (LSTM forget bias, ``model.init``).
    Probes rebuild it."""
    shape = model_shape(datasets, arch, model_cfg)
    seq_len = datasets[0]["x_train"].shape[1]
    nets = []
    for seed in run_seeds(datasets, seeds):
        net = seeded_torch_net(seed, arch, model_cfg.get("lstm_forget_bias"), **shape)
        apply_init(net, arch, model_cfg.get("init", "default"), seed, seq_len)
        nets.append(net)
    return StackedRecurrentNet.from_torch_nets(nets, arch, backend)


@dataclass
class CellResult:
    """What training one cell produces, per seed k: final numbers and the learning curves."""

    model: StackedRecurrentNet
    final: dict  # name -> list of K floats
    history: list[dict]  # rows: seed, epoch, train_loss, test_loss
    diverged_epoch: list  # K entries, None where the run stayed finite
    wall_seconds: float
    backend: str


def train_cell(
    datasets: list[dict],
    seeds: list[int],
    arch: str,
    model_cfg: dict,
    settings: TrainSettings,
    device="cpu",
    dtype=torch.float32,
    log=print,
    backend="auto",
    fresh: dict | None = None,
) -> CellResult:
    """Train one network per seed on its own dataset; all seeds share each operation.
    ``fresh`` ({"task", "params"}): from the second epoch on, every epoch trains on new
    sequences from a stream of each seed's own (no sequence is seen twice)."""
    start = time.perf_counter()
    backend = resolve_backend(backend, device)
    loss_kind = datasets[0]["loss"]
    x_train, y_train = stack_data(datasets, "train", device, dtype)
    x_test, y_test = stack_data(datasets, "test", device, dtype)
    model = initial_model(datasets, seeds, arch, model_cfg, backend)
    model = model.to(device=device, dtype=dtype)
    optimizer = OPTIMIZERS[settings.optimizer](model.parameters(), lr=settings.lr)

    n_models, n_train = len(seeds), x_train.shape[3]
    batch_size = settings.batch_size or n_train
    # one shuffle stream per run
    generators = [torch.Generator().manual_seed(s) for s in run_seeds(datasets, seeds)]
    active = torch.ones(n_models, dtype=torch.bool, device=device)
    diverged_epoch: list = [None] * n_models
    history: list[dict] = []

    def evaluate():
        with torch.no_grad():
            return per_model_loss(model(x_test), y_test, loss_kind)

    new_sets = _fresh_sets(fresh, datasets, seeds) if fresh else None
    for epoch in range(1, settings.epochs + 1):
        if new_sets is not None and epoch > 1:
            x_train, y_train = stack_data(next(new_sets), "train", device, dtype)
        epoch_losses = []
        for xb, yb in minibatches(x_train, y_train, generators, batch_size):
            epoch_losses.append(
                train_step(
                    model, optimizer, xb, yb, loss_kind, active, grad_clip=settings.grad_clip
                )
            )
        train_loss = torch.stack(epoch_losses).mean(0)  # (K,) mean over the epoch's batches
        newly = active & ~torch.isfinite(train_loss)
        if newly.any():
            for k in newly.nonzero().flatten().tolist():
                diverged_epoch[k] = epoch
                log(f"seed {seeds[k]}: loss not finite at epoch {epoch}; run marked diverged")
            active &= ~newly
        last = epoch == settings.epochs
        record = epoch % settings.eval_every == 0 or last or epoch == 1
        report = epoch % settings.log_every == 0 or last or epoch == 1
        if record or report:
            test_loss = evaluate()
        if record:
            for k in range(n_models):
                history.append(
                    dict(
                        seed=seeds[k],
                        epoch=epoch,
                        train_loss=float(train_loss[k]),
                        test_loss=float(test_loss[k]),
                    )
                )
        if report:
            elapsed = time.perf_counter() - start
            left = elapsed / epoch * (settings.epochs - epoch)
            log(
                f"epoch {epoch:>6}/{settings.epochs} ({100 * epoch // settings.epochs:>3}%, "
                f"{elapsed:.0f} s, ~{left:.0f} s left)  train "
                + " ".join(f"{v:.4g}" for v in train_loss.tolist())
                + "  test "
                + " ".join(f"{v:.4g}" for v in test_loss.tolist())
            )
        if not active.any():
            log(f"every seed diverged; stopping at epoch {epoch}")
            break

    with torch.no_grad():
        train_out, test_out = model(x_train), model(x_test)
        final = {
            "train_loss": per_model_loss(train_out, y_train, loss_kind).tolist(),
            "test_loss": per_model_loss(test_out, y_test, loss_kind).tolist(),
        }
        if loss_kind == "cross_entropy":
            final["train_accuracy"] = accuracy(train_out, y_train).tolist()
            final["test_accuracy"] = accuracy(test_out, y_test).tolist()
    for k, loss in enumerate(final["train_loss"]):  # the last update can blow up too
        if diverged_epoch[k] is None and not math.isfinite(loss):
            diverged_epoch[k] = epoch
            log(f"seed {seeds[k]}: loss not finite after the last epoch; run marked diverged")
    wall = time.perf_counter() - start
    return CellResult(model, final, history, diverged_epoch, wall, backend)


def _fresh_sets(fresh: dict, datasets: list[dict], seeds: list[int]):
    """Endless new training sets, one per seed per epoch, each seed from its own stream
    (independent of the one that drew its dataset, which continues no further)."""
    task = TASKS[fresh["task"]]
    seq_len, n_train = datasets[0]["x_train"].shape[1], datasets[0]["x_train"].shape[0]
    streams = [dataset_rng(fresh["task"], seq_len, seed, stream=1) for seed in seeds]
    dtype = datasets[0]["x_train"].dtype
    while True:
        sets = []
        for rng in streams:
            x, y = task.generate(seq_len, n_train, rng, **fresh["params"])
            sets.append(
                {"x_train": x.astype(dtype), "y_train": y.astype(datasets[0]["y_train"].dtype)}
            )
        yield sets


def train_step(model, optimizer, x, y, loss_kind, active, grad_clip=None, direct=None):
    """One update of every seed on a batch x (K, I, T, B), y; returns the losses (K,). A
    diverged seed (``active`` False) has its loss masked out: its NaNs stay in its own slice of
    every stacked parameter (its gradient is NaN times zero), so the others train on. Where
    ``model.can_step_directly`` (``direct`` None; True or False forces a path), losses and
    gradients come from one kernel call without autograd (``models.mse_gradients``), the mask
    as a scale on each seed's gradients."""
    if direct is None:
        direct = model.can_step_directly(x, loss_kind)
    if direct:
        scale = None if bool(active.all()) else active.to(x.dtype)  # (a CPU tensor: no sync)
        losses = model.mse_gradients(x, y, scale)
    else:
        losses = model.losses(x, y, loss_kind)  # (K,)
        optimizer.zero_grad()
        torch.where(active, losses, torch.zeros_like(losses)).sum().backward()
    if grad_clip:
        clip_per_model(model, grad_clip)
    optimizer.step()
    return losses.detach()


def minibatches(x, y, generators, batch_size):
    """One epoch's minibatches (xb (K, I, T, B), yb (K, B, ...)): each seed's training set in
    the order of its own shuffle (one ``randperm`` per seed and epoch, from its generator), cut
    into batches of ``batch_size``; full batch: (x, y) itself. The whole set is permuted once
    per epoch: gathering each batch's scattered samples from the full tensor instead took
    2.4x as long (0.54 against 0.23 ms a batch, 5 seeds, B = 50, T = 100, measured here)."""
    n_models, inputs, steps, n_train = x.shape
    if batch_size >= n_train:
        yield x, y
        return
    perms = torch.stack([torch.randperm(n_train, generator=g) for g in generators]).to(x.device)
    x_idx = perms[:, None, None, :].expand(n_models, inputs, steps, -1)
    y_idx = perms.view(*perms.shape, *[1] * (y.dim() - 2)).expand(-1, -1, *y.shape[2:])
    xp, yp = torch.gather(x, 3, x_idx), torch.gather(y, 1, y_idx)  # (K, I, T, N), (K, N, ...)
    for start in range(0, n_train, batch_size):
        batch = slice(start, start + batch_size)
        yield xp[..., batch].contiguous(), yp[:, batch].contiguous()


def run_metrics(result: CellResult, k: int, dataset: dict, solved_below: float) -> dict:
    """Seed k's final numbers, normalised by its task's memoryless baseline."""
    test_loss = result.final["test_loss"][k]
    normalised = test_loss / dataset["baseline_loss"]
    diverged = result.diverged_epoch[k] is not None
    metrics = {
        "final_train_loss": result.final["train_loss"][k],
        "final_test_loss": test_loss,
        "baseline_loss": dataset["baseline_loss"],
        "null_loss": dataset["null_loss"],
        "normalised_test_loss": normalised,
        "solved": bool(not diverged and normalised < solved_below),
        "diverged": diverged,
        "diverged_epoch": result.diverged_epoch[k],
    }
    for name in ("train_accuracy", "test_accuracy"):
        if name in result.final:
            metrics[name] = result.final[name][k]
    return metrics


def environment(device) -> dict:
    return {
        "device": str(device),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
