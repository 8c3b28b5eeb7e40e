"""Tidy tables: one row per run, and a summary per (task, arch, seq_len) with intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .io import atomic_path

# parameter columns first, then results, then where it ran, then timing (set timing aside
# to compare two runs of the same config)
PARAMETER_COLUMNS = [
    "task", "arch", "seq_len", "seed", "hidden_size", "num_layers", "nonlinearity", "n_params",
    "n_train", "n_test", "epochs", "lr", "optimizer", "batch_size", "grad_clip", "task_params",
]  # fmt: skip
METRIC_COLUMNS = [
    "final_train_loss", "final_test_loss", "baseline_loss", "null_loss",
    "normalised_test_loss", "solved", "outcome", "diverged", "diverged_epoch", "train_accuracy",
    "test_accuracy",
]  # fmt: skip
ENVIRONMENT_COLUMNS = [
    "device", "torch_version", "threads", "cpu_count", "flush_denormal", "malloc_tuned",
]  # fmt: skip
TIMING_COLUMNS = ["time_cell_seconds", "time_seed_seconds"]
CELL = ["task", "arch", "seq_len"]


def runs_table(metrics: list[dict]) -> pd.DataFrame:
    """One row per run from the runs' metrics.json dicts, in the documented column order."""
    runs = pd.DataFrame(metrics)
    for column in PARAMETER_COLUMNS + METRIC_COLUMNS:
        if column not in runs:
            runs[column] = np.nan
    runs["task_params"] = runs["task_params"].map(
        lambda p: p if isinstance(p, str) else json.dumps(p, sort_keys=True)
    )
    # optional numbers (None when unset) get one dtype whatever the mix of values
    for column, dtype in {
        "batch_size": "Int64",
        "diverged_epoch": "Int64",
        "grad_clip": float,
    }.items():
        runs[column] = pd.to_numeric(runs[column]).astype(dtype)
    known = PARAMETER_COLUMNS + METRIC_COLUMNS + ENVIRONMENT_COLUMNS + TIMING_COLUMNS
    columns = [c for c in known if c in runs] + sorted(set(runs) - set(known))
    return runs[columns].sort_values(["task", "arch", "seq_len", "seed"], ignore_index=True)


def bootstrap_ci(values, level=0.95, n_resamples=2000, seed=0) -> tuple[float, float]:
    """Percentile bootstrap interval of the mean (deterministic: fixed resampling seed)."""
    values = np.asarray(values, dtype=float)
    if len(values) == 0:
        return np.nan, np.nan
    if len(values) == 1:
        return float(values[0]), float(values[0])
    rng = np.random.default_rng(seed)
    means = values[rng.integers(0, len(values), size=(n_resamples, len(values)))].mean(axis=1)
    alpha = (1 - level) / 2
    low, high = np.quantile(means, [alpha, 1 - alpha])
    return float(low), float(high)


def wilson_ci(successes: int, n: int, z: float = 1.959963984540054) -> tuple[float, float]:
    """Wilson score interval of a proportion (95% by default)."""
    if n == 0:
        return np.nan, np.nan
    p = successes / n
    centre = (p + z**2 / (2 * n)) / (1 + z**2 / n)
    half = z / (1 + z**2 / n) * np.sqrt(p * (1 - p) / n + z**2 / (4 * n**2))
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (task, arch, seq_len): statistics of the normalised test loss over finished runs and
    the fraction solved over all runs (a diverged run counts as not solved)."""
    rows = []
    for (task, arch, seq_len), cell in runs.groupby(CELL, sort=True):
        loss = cell["normalised_test_loss"].to_numpy(dtype=float)
        finite = loss[np.isfinite(loss)]
        n, solved = len(cell), int(cell["solved"].astype(bool).sum())
        ci_low, ci_high = bootstrap_ci(finite)
        solved_low, solved_high = wilson_ci(solved, n)
        rows.append(
            dict(
                task=task, arch=arch, seq_len=seq_len, n=n,
                n_diverged=int(cell["diverged"].astype(bool).sum()),
                mean=finite.mean() if len(finite) else np.nan,
                median=np.median(finite) if len(finite) else np.nan,
                std=finite.std(ddof=1) if len(finite) > 1 else np.nan,
                ci_low=ci_low, ci_high=ci_high, n_solved=solved, solved_fraction=solved / n,
                solved_ci_low=solved_low, solved_ci_high=solved_high,
                baseline_loss=cell["baseline_loss"].iloc[0],
                null_over_baseline=(cell["null_loss"] / cell["baseline_loss"]).iloc[0],
            )
        )  # fmt: skip
    return pd.DataFrame(rows)


def history_table(histories: list[pd.DataFrame], keys: list[dict]) -> pd.DataFrame:
    """Learning curves of every run in one long table: cell keys first, then epoch and losses."""
    frames = [h.assign(**key) for h, key in zip(histories, keys, strict=True)]
    table = pd.concat(frames, ignore_index=True)
    first = [*CELL, "seed", "epoch"]
    return table[first + [c for c in table if c not in first]]


def write_table(table: pd.DataFrame, stem: str | Path) -> None:
    """Write ``stem``.csv and ``stem``.parquet, each appearing atomically."""
    with atomic_path(f"{stem}.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(f"{stem}.parquet") as tmp:
        table.to_parquet(tmp, index=False)
