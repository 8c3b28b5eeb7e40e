"""Tidy tables: one row per run, and a summary per (task, arch, seq_len) with intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from rnnmemory.core.io import atomic_path

# parameter columns first, then results, then where it ran, then timing (set timing aside
# to compare two runs of the same config)
PARAMETER_COLUMNS = [
    "variant",
    "task",
    "arch",
    "seq_len",
    "seed",
    "hidden_size",
    "num_layers",
    "match_params",
    "nonlinearity",
    "init",
    "lstm_forget_bias",
    "n_params",
    "n_train",
    "n_test",
    "epochs",
    "lr",
    "optimizer",
    "batch_size",
    "grad_clip",
    "task_params",
]
METRIC_COLUMNS = [
    "final_train_loss",
    "final_test_loss",
    "baseline_loss",
    "null_loss",
    "normalised_test_loss",
    "solved",
    "outcome",
    "diverged",
    "diverged_epoch",
    "train_accuracy",
    "test_accuracy",
    "coef_remembered",
    "coef_recent",
    "coef_intercept",
    "fit_r2",
]
ENVIRONMENT_COLUMNS = [
    "code_hash",
    "device",
    "backend",
    "torch_version",
    "threads",
    "cpu_count",
    "flush_denormal",
    "malloc_tuned",
]
# what the run measured of the machine; time_import_torch_seconds: the train job's `import
# torch` (about 2 s); job_*: the whole job's
TIMING_COLUMNS = [
    "time_cell_seconds",
    "time_seed_seconds",
    "time_import_torch_seconds",
    "job_peak_rss_mib",
    "job_cpu_seconds",
]
CELL = ["variant", "task", "arch", "seq_len"]


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
        "lstm_forget_bias": float,
    }.items():
        runs[column] = pd.to_numeric(runs[column]).astype(dtype)
    for column in runs:  # an empty column is NaN in Parquet too, as CSV reads it back
        if runs[column].isna().all():
            runs[column] = runs[column].astype(float)
    known = PARAMETER_COLUMNS + METRIC_COLUMNS + ENVIRONMENT_COLUMNS + TIMING_COLUMNS
    columns = [c for c in known if c in runs] + sorted(set(runs) - set(known))
    return runs[columns].sort_values([*CELL, "seed"], ignore_index=True)


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
    # exact ends: centre + half is 1 when every trial succeeds, but rounds to just below it
    low = 0.0 if successes == 0 else max(0.0, centre - half)
    high = 1.0 if successes == n else min(1.0, centre + half)
    return float(low), float(high)


OUTCOMES = ("solved", "partial", "last_only", "memorised", "nothing", "other", "diverged")


def classify_outcomes(
    runs: pd.DataFrame,
    solved_below: float,
    remembered_below=0.1,
    recent_within=0.2,
    memorised_train_below=0.5,
    memorised_test_above=0.9,
    partial_below=0.75,
) -> pd.Series:
    """What each run learned, first rule that applies, from r = test loss / memoryless baseline,
    the train ratio r_train, and the weights of its answer on the remembered and the recent input
    (coef_remembered, coef_recent; NaN for tasks without them):

    diverged (a non-finite loss), solved (r < solved_below), memorised (r_train <
    memorised_train_below while r >= memorised_test_above: fits its training set, not the task),
    last_only (|coef_remembered| < remembered_below and |coef_recent - 1| < recent_within: kept
    only the recent input), nothing (both weights near 0: predicts a constant), partial
    (r < partial_below: remembers some of the early value), other."""
    ratio = runs["normalised_test_loss"].astype(float)
    train_ratio = (runs["final_train_loss"] / runs["baseline_loss"]).astype(float)
    remembered = runs["coef_remembered"].astype(float).abs()
    recent = runs["coef_recent"].astype(float)
    rules = [  # (label, condition), the first that holds wins
        ("diverged", runs["diverged"].astype(bool) | ~np.isfinite(ratio)),
        ("solved", ratio < solved_below),
        ("memorised", (train_ratio < memorised_train_below) & (ratio >= memorised_test_above)),
        ("last_only", (remembered < remembered_below) & ((recent - 1).abs() < recent_within)),
        ("nothing", (remembered < remembered_below) & (recent.abs() < recent_within)),
        ("partial", ratio < partial_below),
    ]
    outcome = pd.Series("other", index=runs.index, dtype=object)
    for label, condition in reversed(rules):
        outcome[condition.to_numpy()] = label
    return outcome


def critical_length_table(runs: pd.DataFrame, n_resamples=2000, seed=0) -> pd.DataFrame:
    """Critical length T* per (variant, task, arch): the largest seq_len at which at least half
    of the seeds solve the task, with a 95% bootstrap interval from resampling seeds (one
    resample of seeds serves every length, as a seed's runs at different lengths belong
    together).
    T* is NaN when no length is solved by half the seeds; ``censored`` says 'below' then, and
    'above' when the longest length studied is solved (T* is at least that). Every resample
    counts: one with no length solved is below the shortest (ci_low 0, an open end)."""
    rng = np.random.default_rng(seed)
    rows = []
    for (variant, task, arch), group in runs.groupby(CELL[:3], sort=True):
        solved = group.pivot(index="seed", columns="seq_len", values="solved").astype(float)
        lengths = solved.columns.to_numpy()
        matrix = solved.to_numpy()  # (seeds, lengths), NaN where a run is missing
        draws = rng.integers(0, len(matrix), size=(n_resamples, len(matrix)))
        # a resample in which no length is solved by half the seeds has T* below the shortest:
        # it counts as 0 (an open lower end), never dropped
        boot = [_critical(np.nanmean(matrix[d], axis=0), lengths) for d in draws]
        low, high = np.quantile(np.nan_to_num(boot, nan=0.0), [0.025, 0.975])
        point = _critical(np.nanmean(matrix, axis=0), lengths)
        censored = "below" if np.isnan(point) else ("above" if point == lengths.max() else "")
        rows.append(
            dict(
                variant=variant,
                task=task,
                arch=arch,
                critical_length=point,
                ci_low=low,
                ci_high=high,
                n_seeds=len(matrix),
                shortest=lengths.min(),
                longest=lengths.max(),
                censored=censored,
            )
        )
    return pd.DataFrame(rows)


def _outcome_counts(cell):
    """Runs per outcome label besides solved and diverged (counted on their own)."""
    if "outcome" not in cell:
        return {}
    return {f"n_{o}": int((cell["outcome"] == o).sum()) for o in OUTCOMES[1:-1]}


def _critical(fraction_solved, lengths):
    ok = lengths[np.asarray(fraction_solved) >= 0.5]
    return float(ok.max()) if len(ok) else np.nan


def summary_table(runs: pd.DataFrame) -> pd.DataFrame:
    """Per (variant, task, arch, seq_len): statistics of the normalised test loss over finished
    runs and the fraction solved over all runs (a diverged run counts as not solved)."""
    rows = []
    for (variant, task, arch, seq_len), cell in runs.groupby(CELL, sort=True):
        loss = cell["normalised_test_loss"].to_numpy(dtype=float)
        finite = loss[np.isfinite(loss)]
        n, solved = len(cell), int(cell["solved"].astype(bool).sum())
        ci_low, ci_high = bootstrap_ci(finite)
        solved_low, solved_high = wilson_ci(solved, n)
        rows.append(
            dict(
                variant=variant,
                task=task,
                arch=arch,
                seq_len=seq_len,
                n=n,
                n_diverged=int(cell["diverged"].astype(bool).sum()),
                mean=finite.mean() if len(finite) else np.nan,
                median=np.median(finite) if len(finite) else np.nan,
                std=finite.std(ddof=1) if len(finite) > 1 else np.nan,
                ci_low=ci_low,
                ci_high=ci_high,
                n_solved=solved,
                solved_fraction=solved / n,
                solved_ci_low=solved_low,
                solved_ci_high=solved_high,
                baseline_loss=cell["baseline_loss"].iloc[0],
                null_over_baseline=(cell["null_loss"] / cell["baseline_loss"]).iloc[0],
                **_outcome_counts(cell),
            )
        )
    return pd.DataFrame(rows)


def write_table(table: pd.DataFrame, stem: str | Path) -> None:
    """Write ``stem``.csv and ``stem``.parquet, each appearing atomically."""
    with atomic_path(f"{stem}.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(f"{stem}.parquet") as tmp:
        table.to_parquet(tmp, index=False)
