"""Run the registered probes (``registry.PROBES``) on the trained networks of one
(variant, task, arch): load each cell's ``model.pt`` and datasets, rebuild the initial networks
where a probe compares with them, and return one tidy frame per probe whose rows carry
seq_len and seed. Training never runs here."""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd
import torch

from rnnmemory.core.registry import PROBES
from rnnmemory.probing import probes
from rnnmemory.probing.weights import learned_weights
from rnnmemory.training.models import StackedRecurrentNet, stack_data
from rnnmemory.training.trainer import initial_model


@dataclass
class Cell:
    """One trained cell, as the probes see it."""

    task: str
    seq_len: int
    seeds: list[int]
    datasets: list[dict]
    model: StackedRecurrentNet  # trained
    model_cfg: dict
    task_params: dict
    data_cfg: dict
    length_factors: list


def _weights(cell: Cell) -> pd.DataFrame:
    x, _ = stack_data(cell.datasets, "test", "cpu", torch.float32)
    with torch.no_grad():
        predictions = cell.model(x).numpy()  # (K, N, O)
    rows = [
        dict(
            seed=seed,
            **learned_weights(cell.task, data["x_test"], predictions[k], cell.task_params),
        )
        for k, (seed, data) in enumerate(zip(cell.seeds, cell.datasets, strict=True))
    ]
    return pd.DataFrame(rows)


def _gradients(cell: Cell) -> pd.DataFrame:
    x, y = stack_data(cell.datasets, "test", "cpu", torch.float32)
    loss = cell.datasets[0]["loss"]
    init = initial_model(cell.datasets, cell.seeds, cell.model.arch, cell.model_cfg)
    frames = []
    for phase, model in (("init", init), ("trained", cell.model)):
        norms = probes.gradients_through_time(model, x, y, loss)
        for k, seed in enumerate(cell.seeds):
            frame = pd.DataFrame({f"{name}_norm": values[k] for name, values in norms.items()})
            frame.insert(0, "distance", range(cell.seq_len - 1, -1, -1))
            frame.insert(0, "step", range(cell.seq_len))
            frames.append(frame.assign(seed=seed, phase=phase))
    return pd.concat(frames, ignore_index=True)


def _lengths(cell: Cell) -> pd.DataFrame:
    rows = probes.length_generalisation(
        cell.model,
        cell.task,
        cell.seq_len,
        cell.seeds,
        cell.length_factors,
        cell.data_cfg,
        cell.task_params,
    )
    return pd.DataFrame(rows)


def _predictions(cell: Cell) -> pd.DataFrame:
    x, y = stack_data(cell.datasets, "test", "cpu", torch.float32)
    frames = probes.prediction_samples(cell.model, x, y, cell.datasets[0]["loss"])
    return pd.concat(
        [f.assign(seed=seed) for f, seed in zip(frames, cell.seeds, strict=True)],
        ignore_index=True,
    )


RUNNERS = {
    "weights": _weights,
    "gradients": _gradients,
    "lengths": _lengths,
    "predictions": _predictions,
}
assert set(RUNNERS) == set(PROBES), "every registered probe needs a runner, and no other"


def probe_cells(cells: list[Cell]) -> dict[str, pd.DataFrame]:
    """Every probe over every cell: probe name -> one frame, seq_len and seed first."""
    out = {}
    for name, run in RUNNERS.items():
        frames = [run(cell).assign(seq_len=cell.seq_len) for cell in cells]
        frame = pd.concat(frames, ignore_index=True)
        first = ["seq_len", "seed"]
        out[name] = frame[first + [c for c in frame if c not in first]]
    return out
