"""Figures of the probes of trained networks: what the answer depends on (learned weights), the
gradients through time, the loss at other lengths, and predicted vs true."""

from __future__ import annotations

import json

import matplotlib.pyplot as plt
import numpy as np

from rnnmemory.core.tasks import TASKS
from rnnmemory.report.plots.common import (
    arch_handles,
    archs,
    empty,
    lengths,
    log_lengths,
    median_and_seeds,
    name,
    palette,
    panels,
    references,
    seed_handles,
)

RUN = ["variant", "task", "arch", "seq_len", "seed"]


def _lag(runs) -> int:
    """The control task's lag, from the runs' task_params when the table has them."""
    lag = TASKS["recent_plus_last"].params["lag"]
    if "task_params" in runs and isinstance(runs["task_params"].iloc[0], str):
        lag = json.loads(runs["task_params"].iloc[0]).get("lag", lag)
    return lag


def learned_weights(tables, solved_below):
    """Least-squares weights of each run's test predictions on the two inputs its target sums:
    the remembered one (left) and the recent one (right); median over seeds and every seed."""
    runs = tables["runs"]
    columns = ["coef_remembered", "coef_recent"]
    if not all(c in runs for c in columns) or runs[columns].isna().all().all():
        return empty(
            f"{name(runs)}: what the answer depends on", "no learned-weights fit for this task"
        )
    task = runs["task"].iloc[0]
    remembered, recent = (n.format(lag=_lag(runs)) for n in TASKS[task].memory_names)
    names = archs(runs)
    colors = palette(names)
    fig, axes = plt.subplots(1, 2, figsize=(11, 4), sharey=True, layout="constrained")
    titles = [
        f"weight on the remembered input, {remembered}",
        f"weight on the recent input, {recent}",
    ]
    for ax, column, title in zip(axes, columns, titles, strict=True):
        median_and_seeds(ax, runs, column, names, colors)
        ax.axhline(1.0, color="0.3", ls="--", lw=1, label="needed to solve (1)")
        ax.axhline(0.0, color="0.3", ls=":", lw=1, label="ignored (0)")
        log_lengths(ax, lengths(runs))
        ax.set_xlabel("sequence length T")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("least-squares weight in the predictions")
    handles, _ = axes[0].get_legend_handles_labels()
    fig.legend(
        handles=handles[: len(names)] + seed_handles() + handles[len(names) :],
        loc="outside right upper",
        fontsize=8,
    )
    fig.suptitle(f"{name(runs)}: what the networks' answers depend on")
    return fig


def gradients(tables, solved_below):
    """Vanishing gradients: ||dL/dx_t|| (top row) and ||dL/ds_t|| (bottom row; s = h, for the
    LSTM (h, c)) relative to the last step, against how many steps back t lies; medians over the
    solved runs (thick) and the failed ones (thin) apart, dashed at initialisation, solid after
    training; one column per sequence length."""
    runs, grads = tables["runs"], tables["gradients"]
    grads = grads.merge(runs[[*RUN, "solved"]], on=RUN, how="left")
    grads["solved"] = grads["solved"].astype("boolean").fillna(False).astype(bool)
    last = grads.loc[grads["distance"] == 0, [*RUN, "phase", "grad_h_norm", "grad_x_norm"]]
    relative = grads.merge(last, on=[*RUN, "phase"], suffixes=("", "_last"))
    relative["grad_x"] = relative["grad_x_norm"] / relative["grad_x_norm_last"]
    relative["grad_h"] = relative["grad_h_norm"] / relative["grad_h_norm_last"]
    names = archs(grads)
    colors, seq_lens = palette(names), lengths(grads)
    fig, axes = panels(
        len(seq_lens), rows=2, cols=len(seq_lens), width=min(3.2, 16 / len(seq_lens))
    )
    measures = [
        ("grad_x", "||dL/dx_t|| / ||dL/dx_T-1||"),
        ("grad_h", "||dL/ds_t|| / ||dL/ds_T-1||\n(s = h; LSTM: (h, c))"),
    ]
    for col, seq_len in enumerate(seq_lens):
        panel = relative[relative["seq_len"] == seq_len]
        for row, (column, label) in enumerate(measures):
            ax = axes[row, col]
            groups = panel.groupby(["arch", "phase", "solved"])
            for (arch, phase, solved), lines in groups:
                median = lines.groupby("distance")[column].median()
                median = median[np.isfinite(median) & (median > 0)]
                (line,) = ax.plot(
                    median.index,
                    median.values,
                    "--" if phase == "init" else "-",
                    color=colors[arch],
                    lw=2.6 if solved else 1.1,
                )
                line.set_gid(f"{'solved' if solved else 'failed'}:{arch}:{phase}")
            ax.set_yscale("log")
            ax.set_xlabel("steps back from the end (T-1-t)" if row else "")
            if col == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(f"T = {seq_len}", fontsize=10)
    handles = arch_handles(names, colors) + [
        plt.Line2D([], [], color="0.3", lw=2.6, label="solved runs (median)"),
        plt.Line2D([], [], color="0.3", lw=1.1, label="failed runs (median)"),
        plt.Line2D([], [], color="0.3", ls="--", lw=1.4, label="at initialisation"),
        plt.Line2D([], [], color="0.3", ls="-", lw=1.4, label="after training"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"{name(runs)}: error signal reaching each step back")
    return fig


def length_generalisation(tables, solved_below):
    """Loss at other lengths: normalised test loss of networks trained at T (x axis) when the
    test sequences have length factor x T, one panel per factor (1 is the trained length)."""
    runs, table = tables["runs"], tables["lengths"]
    names = archs(table)
    colors = palette(names)
    factors = sorted(table["factor"].unique())
    fig, axes = panels(len(factors), width=3.6, height=3.4)
    for ax, factor in zip(axes.flat, factors, strict=False):
        median_and_seeds(
            ax, table[table["factor"] == factor], "normalised_test_loss", names, colors, dot_size=10
        )
        references(ax, solved_below)
        ax.set_yscale("log")
        log_lengths(ax, lengths(table))
        ax.set_xlabel("trained at length T")
        ax.set_title(
            "tested at T (trained length)" if factor == 1 else f"tested at {factor:g} T",
            fontsize=10,
        )
    for ax in axes.flat[len(factors) :]:
        ax.axis("off")
    axes[0, 0].set_ylabel("test loss / memoryless baseline")
    handles, _ = axes[0, 0].get_legend_handles_labels()
    fig.legend(
        handles=handles[: len(names)] + seed_handles() + handles[len(names) :],
        loc="outside right upper",
        fontsize=8,
    )
    fig.suptitle(f"{name(runs)}: length generalisation")
    return fig


def predictions(tables, solved_below):
    """Predicted vs true on the first test sequences: a scatter per arch x sequence length for
    regression (every seed, every output channel), per-step accuracy for characters."""
    runs, samples = tables["runs"], tables["predictions"]
    if "test_accuracy" in runs and runs["test_accuracy"].notna().any():  # classification
        return _step_accuracy(runs, samples)
    finite = samples[np.isfinite(samples["predicted"])]
    if finite.empty:
        return empty(f"{name(runs)}: predicted vs true", "no finite prediction (runs diverged)")
    names = archs(samples)
    colors, seq_lens = palette(names), lengths(samples)[:5]  # the first five lengths
    fig, axes = plt.subplots(
        len(names),
        len(seq_lens),
        figsize=(2.5 * len(seq_lens) + 0.8, 2.5 * len(names) + 0.6),
        squeeze=False,
        layout="constrained",
        sharex=True,
        sharey=True,
    )
    low, high = np.nanpercentile(finite[["target", "predicted"]].to_numpy(), [0.5, 99.5])
    for row, arch in enumerate(names):
        for col, seq_len in enumerate(seq_lens):
            ax = axes[row, col]
            cell = finite[(finite["arch"] == arch) & (finite["seq_len"] == seq_len)]
            ax.plot([low, high], [low, high], color="0.3", ls="--", lw=0.8)
            ax.scatter(
                cell["target"],
                cell["predicted"],
                s=5,
                alpha=0.35,
                color=colors[arch],
                edgecolor="none",
            )
            spread = ((cell["target"] - cell["target"].mean()) ** 2).sum()
            if len(cell) > 1 and spread > 0:
                r2 = 1 - ((cell["predicted"] - cell["target"]) ** 2).sum() / spread
                ax.text(0.04, 0.9, f"R² {r2:.2f}", transform=ax.transAxes, fontsize=8)
            ax.set_xlim(low, high)
            ax.set_ylim(low, high)
            if row == 0:
                ax.set_title(f"T = {seq_len}", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{arch}\npredicted")
            if row == len(names) - 1:
                ax.set_xlabel("true")
    n_seeds = samples["seed"].nunique()
    seeds = f"{n_seeds} seed" + ("s" if n_seeds != 1 else "")
    fig.suptitle(f"{name(runs)}: predicted vs true, first test sequences of {seeds}")
    return fig


def _step_accuracy(runs, samples):
    """Accuracy of the next-character prediction after each step, per arch, one panel per T;
    the dotted line always guesses the most common next character of the sample."""
    names = archs(samples)
    colors, seq_lens = palette(names), lengths(samples)
    fig, axes = panels(len(seq_lens))
    for ax, seq_len in zip(axes.flat, seq_lens, strict=False):
        cell = samples[samples["seq_len"] == seq_len]
        for arch in names:
            runs_a = cell[cell["arch"] == arch]
            accuracy = (runs_a["predicted"] == runs_a["target"]).groupby(runs_a["step"]).mean()
            ax.plot(
                accuracy.index + 1,
                accuracy.values,
                "-",
                color=colors[arch],
                lw=1.8,
                label=f"{arch} (mean over seeds)",
            )
        common = cell.groupby("step")["target"].agg(lambda t: t.value_counts(normalize=True).max())
        ax.plot(common.index + 1, common.values, ":", color="0.3", lw=1, label="most common")
        ax.set_ylim(0, 1)
        ax.set_xlabel("characters read")
        ax.set_title(f"trained at T = {seq_len}", fontsize=10)
    for ax in axes.flat[len(seq_lens) :]:
        ax.axis("off")
    axes[0, 0].set_ylabel("next-character accuracy")
    fig.legend(*axes[0, 0].get_legend_handles_labels(), loc="outside right upper", fontsize=8)
    fig.suptitle(f"{name(runs)}: accuracy after each step (first test sequences)")
    return fig
