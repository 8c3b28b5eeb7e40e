"""Probes of trained (or freshly initialised) networks: gradients through time, outputs at every
step, and the loss at sequence lengths other than the one trained on.

Each probe takes a ``StackedRecurrentNet`` of K seeds and returns one result per seed; none
changes the model or its gradients.
"""

from __future__ import annotations

import copy

import numpy as np
import pandas as pd
import torch

from rnnmemory.core.tasks import make_dataset
from rnnmemory.training.models import (
    StackedRecurrentNet,
    accuracy,
    per_model_loss,
    per_sample_loss,
    stack_data,
)


def gradients_through_time(model: StackedRecurrentNet, x, y, loss_kind: str) -> dict:
    """How strongly each step's state and input move the loss: for every step t, the mean over
    samples of ||d loss_n / d s_t|| with s_t the top layer's state (h_t; for the LSTM the pair
    (h_t, c_t), so the path through the cell state counts) and of ||d loss_n / d x_t||.

    Seed 001's BPTT: d loss / d s_t is d loss / d s_{T-1} carried back through T-1-t Jacobians;
    when those shrink it, the early steps get no learning signal (vanishing gradients). Computed
    in float64 on a copy, so a gradient that vanishes shows its true size instead of underflowing
    float32. x (K, I, T, N) -> {"grad_h": (K, T), "grad_x": (K, T)} as numpy arrays."""
    probe = copy.deepcopy(model).to(torch.float64)
    x = x.detach().to(torch.float64).requires_grad_(True)  # (K, I, T, N)
    y = y.to(torch.float64) if y.is_floating_point() else y
    out, states, cells = probe(x, return_cells=True)  # (K, N, O), T x (K, H, N), [] or T x ...
    # the summed per-sample loss: its gradient at sample n's h_t is d loss_n / d h_t
    total = per_sample_loss(out, y, loss_kind).sum()
    grads = torch.autograd.grad(total, [x, *states, *cells], allow_unused=True)
    grad_x = grads[0].norm(dim=1).mean(dim=2)  # (K, T)
    steps = len(states)
    state = torch.stack(grads[1 : 1 + steps], dim=2)  # (K, H, T, N)
    if cells:  # the LSTM's state is (h_t, c_t); c_{T-1} reaches the loss only through h_{T-1}
        cell = [
            g if g is not None else torch.zeros_like(c)
            for g, c in zip(grads[1 + steps :], cells, strict=True)
        ]
        state = torch.cat([state, torch.stack(cell, dim=2)], dim=1)  # (K, 2H, T, N)
    grad_h = state.norm(dim=1).mean(dim=2)  # (K, T)
    return {"grad_h": grad_h.detach().numpy(), "grad_x": grad_x.detach().numpy()}


def stepwise_outputs(model: StackedRecurrentNet, x) -> torch.Tensor:
    """The head applied to the hidden state after every step, as if the sequence ended there
    (seed 004's 'hihell' -> 'ihello' reads one prediction per step): x (K, I, T, N) ->
    (K, N, T, O)."""
    with torch.no_grad():
        _, states = model(x, return_states=True)  # T x (K, H, N)
        n_models, _, batch = states[0].shape
        hidden = torch.stack(states, dim=2).flatten(2)  # (K, H, T*N)
        out = torch.baddbmm(model.head_bias.unsqueeze(-1), model.head_weight, hidden)
        return out.view(n_models, -1, len(states), batch).permute(0, 3, 2, 1)  # (K, N, T, O)


def prediction_samples(model: StackedRecurrentNet, x, y, loss_kind: str, n_samples=100):
    """Predicted vs true on the first ``n_samples`` test sequences, one tidy frame per seed with
    columns sample, step, output, target, predicted.

    Regression: the final prediction (step T-1), one row per output channel. Classification
    (chars): the predicted class after every step t, whose target is the next character, i.e.
    the input at t+1 and the label at the last step, so per-step accuracy shows how accuracy
    grows with the context read."""
    x, y = x[..., :n_samples], y[:, :n_samples]  # (K, I, T, n), (K, n, ...)
    n_models, _, steps, batch = x.shape
    if loss_kind == "mse":
        with torch.no_grad():
            predicted = model(x).cpu().numpy()  # (K, n, O)
        target = y.cpu().numpy()
        sample, output = np.meshgrid(np.arange(batch), np.arange(target.shape[2]), indexing="ij")
        columns = dict(sample=sample.ravel(), step=steps - 1, output=output.ravel())
        return [
            pd.DataFrame(dict(columns, target=target[k].ravel(), predicted=predicted[k].ravel()))
            for k in range(n_models)
        ]
    predicted = stepwise_outputs(model, x).argmax(dim=3).cpu().numpy()  # (K, n, T)
    following = x.argmax(dim=1)[:, 1:].transpose(1, 2)  # (K, n, T-1): the next input
    target = torch.cat([following, y[:, :, None]], dim=2).cpu().numpy()  # (K, n, T)
    sample, step = np.meshgrid(np.arange(batch), np.arange(steps), indexing="ij")
    columns = dict(sample=sample.ravel(), step=step.ravel(), output=0)
    return [
        pd.DataFrame(dict(columns, target=target[k].ravel(), predicted=predicted[k].ravel()))
        for k in range(n_models)
    ]


def length_generalisation(
    model: StackedRecurrentNet,
    task: str,
    seq_len: int,
    seeds: list[int],
    factors,
    data: dict,
    task_params: dict | None = None,
) -> list[dict]:
    """Each seed's network on test sequences of length round(factor * seq_len), for every factor
    (1 included: the trained length). The sequences are the test split of the study's dataset of
    that length and seed, so a loss here compares directly with a network trained there.
    Lengths that the task cannot make (too short) are left out. Rows: seed, factor, eval_len,
    test_loss, baseline_loss, normalised_test_loss (and test_accuracy for classification)."""
    param = next(model.parameters())
    rows = []
    lengths = {}
    # the trained length first: where another factor rounds to it too, the row is factor 1's
    for factor in [1.0, *sorted(set(map(float, factors)) - {1.0})]:
        lengths.setdefault(max(1, round(factor * seq_len)), factor)
    for length, factor in lengths.items():
        try:
            datasets = [
                make_dataset(task, length, s, data["n_train"], data["n_test"], task_params)
                for s in seeds
            ]
        except ValueError:  # shorter than the task allows
            continue
        x, y = stack_data(datasets, "test", param.device, param.dtype)
        with torch.no_grad():
            out = model(x)  # (K, N, O)
            losses = per_model_loss(out, y, datasets[0]["loss"]).tolist()
            correct = None if y.is_floating_point() else accuracy(out, y).tolist()
        for k, seed in enumerate(seeds):
            baseline = datasets[k]["baseline_loss"]
            row = dict(
                seed=seed,
                factor=factor,
                eval_len=length,
                test_loss=losses[k],
                baseline_loss=baseline,
                normalised_test_loss=losses[k] / baseline,
            )
            if correct is not None:
                row["test_accuracy"] = correct[k]
            rows.append(row)
    return rows
