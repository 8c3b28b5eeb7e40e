"""Tidy tables: one row per run, and a summary per (task, arch, seq_len) with intervals."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd

from .config import BASE
from .io import atomic_path

# parameter columns first, then results, then where it ran, then timing (set timing aside
# to compare two runs of the same config)
PARAMETER_COLUMNS = [
    "variant", "task", "arch", "seq_len", "seed", "hidden_size", "num_layers", "match_params",
    "nonlinearity",
    "lstm_forget_bias", "n_params",
    "n_train", "n_test", "epochs", "lr", "optimizer", "batch_size", "grad_clip", "task_params",
]  # fmt: skip
METRIC_COLUMNS = [
    "final_train_loss", "final_test_loss", "baseline_loss", "null_loss",
    "normalised_test_loss", "solved", "outcome", "diverged", "diverged_epoch", "train_accuracy",
    "test_accuracy", "coef_first", "coef_last", "coef_recent", "coef_intercept", "fit_r2",
]  # fmt: skip
ENVIRONMENT_COLUMNS = [
    "device", "torch_version", "threads", "cpu_count", "flush_denormal", "malloc_tuned",
]  # fmt: skip
TIMING_COLUMNS = ["time_cell_seconds", "time_seed_seconds"]
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
    return float(max(0.0, centre - half)), float(min(1.0, centre + half))


OUTCOMES = ("solved", "partial", "last_only", "nothing", "other", "diverged")


def classify_outcomes(
    runs: pd.DataFrame, solved_below: float, last_only_band=0.25, nothing_band=0.25
) -> pd.Series:
    """What each run learned, from r = test loss / memoryless baseline:
    solved (r < solved_below), last_only (|r - 1| <= last_only_band: as good as a model that sees
    only the recent input), nothing (|r - r_null| <= nothing_band r_null: as good as predicting
    nothing), partial (between solved and last_only: remembers some of the early value), other,
    or diverged. Where predicting nothing *is* the memoryless baseline (r_null = 1, the adding
    problem) such a run is 'nothing'."""
    ratio = runs["normalised_test_loss"].astype(float)
    null_ratio = (runs["null_loss"] / runs["baseline_loss"]).astype(float)
    outcome = pd.Series("other", index=runs.index, dtype=object)
    near_null = (ratio - null_ratio).abs() <= nothing_band * null_ratio
    near_last = (ratio - 1).abs() <= last_only_band
    outcome[near_null] = "nothing"
    outcome[near_last & ~np.isclose(null_ratio, 1.0)] = "last_only"
    outcome[(ratio >= solved_below) & (ratio < 1 - last_only_band)] = "partial"
    outcome[ratio < solved_below] = "solved"
    outcome[runs["diverged"].astype(bool) | ~np.isfinite(ratio)] = "diverged"
    return outcome


def critical_length_table(runs: pd.DataFrame, n_resamples=2000, seed=0) -> pd.DataFrame:
    """Critical length T* per (variant, task, arch): the largest seq_len at which at least half
    of the seeds solve the task, with a 95% bootstrap interval from resampling seeds (one
    resample of seeds serves every length, as a seed's runs at different lengths belong
    together).
    T* is NaN when no length is solved by half the seeds; ``censored`` says 'below' then, and
    'above' when the longest length studied is solved (T* is at least that)."""
    rng = np.random.default_rng(seed)
    rows = []
    for (variant, task, arch), group in runs.groupby(CELL[:3], sort=True):
        solved = group.pivot(index="seed", columns="seq_len", values="solved").astype(float)
        lengths = solved.columns.to_numpy()
        matrix = solved.to_numpy()  # (seeds, lengths), NaN where a run is missing
        draws = rng.integers(0, len(matrix), size=(n_resamples, len(matrix)))
        boot = [_critical(np.nanmean(matrix[d], axis=0), lengths) for d in draws]
        point = _critical(np.nanmean(matrix, axis=0), lengths)
        low, high = np.nanquantile(np.array(boot, dtype=float), [0.025, 0.975]) if not all(
            np.isnan(boot)
        ) else (np.nan, np.nan)  # fmt: skip
        censored = "below" if np.isnan(point) else ("above" if point == lengths.max() else "")
        rows.append(
            dict(variant=variant, task=task, arch=arch, critical_length=point, ci_low=low,
                 ci_high=high, n_seeds=len(matrix), shortest=lengths.min(),
                 longest=lengths.max(), censored=censored)
        )  # fmt: skip
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
                variant=variant, task=task, arch=arch, seq_len=seq_len, n=n,
                n_diverged=int(cell["diverged"].astype(bool).sum()),
                mean=finite.mean() if len(finite) else np.nan,
                median=np.median(finite) if len(finite) else np.nan,
                std=finite.std(ddof=1) if len(finite) > 1 else np.nan,
                ci_low=ci_low, ci_high=ci_high, n_solved=solved, solved_fraction=solved / n,
                solved_ci_low=solved_low, solved_ci_high=solved_high,
                baseline_loss=cell["baseline_loss"].iloc[0],
                null_over_baseline=(cell["null_loss"] / cell["baseline_loss"]).iloc[0],
                **_outcome_counts(cell),
            )
        )  # fmt: skip
    return pd.DataFrame(rows)


def per_run_table(frames: list[pd.DataFrame], keys: list[dict]) -> pd.DataFrame:
    """Per-run frames (learning curve, gradients, ...) in one long table: cell keys and seed
    first, then the frame's own columns."""
    table = pd.concat([f.assign(**key) for f, key in zip(frames, keys, strict=True)],
                      ignore_index=True)  # fmt: skip
    first = [*CELL, "seed"]
    return table[first + [c for c in table if c not in first]]


def write_table(table: pd.DataFrame, stem: str | Path) -> None:
    """Write ``stem``.csv and ``stem``.parquet, each appearing atomically."""
    with atomic_path(f"{stem}.csv") as tmp:
        table.to_csv(tmp, index=False)
    with atomic_path(f"{stem}.parquet") as tmp:
        table.to_parquet(tmp, index=False)


def headline_rst(critical: pd.DataFrame, summary: pd.DataFrame) -> str:
    """One sentence per (variant, task, arch) on how far back it remembers, as
    reStructuredText; variants other than 'base' are named."""
    lines = ["**What the tables say.**", ""]
    order = critical.assign(not_base=critical["variant"] != BASE)  # base first, per task
    order = order.sort_values(["task", "not_base", "variant"], kind="stable")
    for (task, variant), rows in order.groupby(["task", "variant"], sort=False):
        lines.append(f"``{task}``:" if variant == BASE else f"``{task}``, variant ``{variant}``:")
        lines.append("")
        for _, row in rows.iterrows():
            cells = summary[
                (summary["variant"] == variant) & (summary["task"] == task)
                & (summary["arch"] == row["arch"])
            ]  # fmt: skip
            best = cells.sort_values("seq_len").iloc[-1]
            if row["censored"] == "below":
                claim = f"no length from {row['shortest']:g} up is solved by half of the seeds"
            elif row["censored"] == "above":
                claim = (
                    f"still remembers at the longest length studied: T* >= {row['longest']:g} "
                    "(half the seeds or more solve it)"
                )
            else:
                claim = (
                    f"remembers up to T* = {row['critical_length']:g} "
                    f"(95% CI {row['ci_low']:g} to {row['ci_high']:g})"
                )
            lines.append(
                f"- **{row['arch']}** {claim}; at T = {best['seq_len']:g} it solves "
                f"{best['n_solved']:g} of {best['n']:g} seeds."
            )
        lines.append("")
    return "\n".join(lines) + "\n"
