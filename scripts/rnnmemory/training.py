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

import numpy as np
import torch

from .analysis import learned_weights
from .archs import matched_hidden_size
from .models import StackedRecurrentNet, accuracy, per_model_loss, stack_data
from .probes import gradients_through_time, prediction_samples

OPTIMIZERS = {"adam": torch.optim.Adam, "sgd": torch.optim.SGD, "rmsprop": torch.optim.RMSprop}


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


@dataclass
class CellResult:
    """What training one cell produces, per seed k: final numbers, history and weights."""

    model: StackedRecurrentNet
    final: dict  # name -> list of K floats
    history: list[dict]  # rows: seed, epoch, train_loss, test_loss
    diverged_epoch: list  # K entries, None where the run stayed finite
    wall_seconds: float
    test_predictions: np.ndarray  # (K, N, O), after training
    gradients: dict  # phase (init, trained) -> {"grad_h", "grad_x"}: (K, T) on the test set
    prediction_samples: list  # K frames: predicted vs true on the first test sequences


def train_cell(
    datasets: list[dict],
    seeds: list[int],
    arch: str,
    model_cfg: dict,
    settings: TrainSettings,
    device="cpu",
    dtype=torch.float32,
    log=print,
    backend="bptt",
) -> CellResult:
    """Train one network per seed on its own dataset; all seeds share each operation."""
    start = time.perf_counter()
    loss_kind = datasets[0]["loss"]
    x_train, y_train = stack_data(datasets, "train", device, dtype)
    x_test, y_test = stack_data(datasets, "test", device, dtype)
    output_size = datasets[0]["n_classes"] or datasets[0]["y_train"].shape[1]
    shape = dict(
        input_size=x_train.shape[1], output_size=output_size,
        hidden_size=model_cfg["hidden_size"], num_layers=model_cfg["num_layers"],
    )  # fmt: skip
    if model_cfg.get("match_params"):  # equal parameters: as many as the reference arch has
        shape["hidden_size"] = matched_hidden_size(arch, model_cfg["match_params"], **shape)
    if arch == "rnn":
        shape["nonlinearity"] = model_cfg.get("nonlinearity", "tanh")
    forget_bias = model_cfg.get("lstm_forget_bias")
    model = StackedRecurrentNet.from_seeds(seeds, arch, backend, forget_bias, **shape)
    model = model.to(device=device, dtype=dtype)
    extra = {"fused": True} if settings.optimizer in ("adam",) else {}
    gradients = {"init": gradients_through_time(model, x_test, y_test, loss_kind)}
    optimizer = OPTIMIZERS[settings.optimizer](model.parameters(), lr=settings.lr, **extra)

    n_models, n_train = len(seeds), x_train.shape[3]
    batch_size = settings.batch_size or n_train
    generators = [torch.Generator().manual_seed(s) for s in seeds]  # one shuffle stream per seed
    active = torch.ones(n_models, dtype=torch.bool, device=device)
    diverged_epoch: list = [None] * n_models
    history: list[dict] = []

    def evaluate():
        with torch.no_grad():
            return per_model_loss(model(x_test), y_test, loss_kind)

    for epoch in range(1, settings.epochs + 1):
        epoch_losses = []
        for idx in _batches(generators, n_train, batch_size, device):
            xb, yb = (x_train, y_train) if idx is None else _take(x_train, y_train, idx)
            losses = per_model_loss(model(xb), yb, loss_kind)  # (K,)
            epoch_losses.append(losses.detach())
            optimizer.zero_grad(set_to_none=False)
            # a diverged seed gets a zero gradient: its NaNs stay in its own slice
            torch.where(active, losses, torch.zeros_like(losses)).sum().backward()
            if settings.grad_clip:
                clip_per_model(model, settings.grad_clip)
            optimizer.step()
        train_loss = torch.stack(epoch_losses).mean(0)  # (K,) mean over the epoch's batches
        newly = active & ~torch.isfinite(train_loss)
        if newly.any():
            for k in newly.nonzero().flatten().tolist():
                diverged_epoch[k] = epoch
                log(f"seed {seeds[k]}: loss not finite at epoch {epoch}; run marked diverged")
            active &= ~newly
        last = epoch == settings.epochs
        if epoch % settings.eval_every == 0 or last or epoch == 1:
            test_loss = evaluate()
            for k in range(n_models):
                history.append(
                    dict(seed=seeds[k], epoch=epoch, train_loss=float(train_loss[k]),
                         test_loss=float(test_loss[k]))
                )  # fmt: skip
            if epoch % settings.log_every == 0 or last or epoch == 1:
                log(
                    f"epoch {epoch:>6}/{settings.epochs}  train "
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
    predictions = test_out.detach().cpu().numpy()
    gradients["trained"] = gradients_through_time(model, x_test, y_test, loss_kind)
    samples = prediction_samples(model, x_test, y_test, loss_kind)
    wall = time.perf_counter() - start
    return CellResult(model, final, history, diverged_epoch, wall, predictions, gradients, samples)


def _batches(generators, n_train, batch_size, device):
    """Yield per-seed index tensors (K, B) for one epoch, or a single None for full batch."""
    if batch_size >= n_train:
        yield None
        return
    perms = torch.stack([torch.randperm(n_train, generator=g) for g in generators]).to(device)
    for start in range(0, n_train, batch_size):
        yield perms[:, start : start + batch_size]


def _take(x, y, idx):
    """Select each seed's minibatch: x (K, I, T, N), y (K, N, ...), idx (K, B)."""
    xb = torch.take_along_dim(x, idx[:, None, None, :], dim=3)  # (K, I, T, B)
    yb = torch.take_along_dim(y, idx.view(*idx.shape, *[1] * (y.dim() - 2)), dim=1)
    return xb, yb


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
        "outcome": "diverged"
        if diverged
        else ("solved" if normalised < solved_below else "unsolved"),
        "diverged": diverged,
        "diverged_epoch": result.diverged_epoch[k],
    }
    for name in ("train_accuracy", "test_accuracy"):
        if name in result.final:
            metrics[name] = result.final[name][k]
    if dataset["loss"] == "mse":  # what the network's answers depend on
        metrics.update(learned_weights(dataset["x_test"], result.test_predictions[k]))
    return metrics


def environment(device) -> dict:
    return {
        "device": str(device),
        "torch_version": torch.__version__,
        "threads": torch.get_num_threads(),
        "cpu_count": os.cpu_count(),
    }
