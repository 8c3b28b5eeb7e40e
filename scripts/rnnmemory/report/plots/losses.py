"""Figures of the test loss: the memory curve, the fraction of seeds solved, the arch x length
heatmap and the learning curves."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns
from matplotlib.colors import LogNorm

from rnnmemory.report.plots.common import (
    arch_handles,
    archs,
    jitter,
    lengths,
    log_lengths,
    median_and_seeds,
    name,
    palette,
    references,
    seed_handles,
)


def memory_curve(tables, solved_below):
    """Normalised test loss vs sequence length: the median over seeds (line), every seed (dots),
    diverged runs counted along the top, and the reference levels."""
    runs, summary = tables["runs"], tables["summary"]
    names = archs(runs)
    colors = palette(names)
    fig, ax = plt.subplots(figsize=(9, 4.5), layout="constrained")
    median_and_seeds(ax, runs, "normalised_test_loss", names, colors)
    references(ax, solved_below, float(summary["null_over_baseline"].iloc[0]))
    ax.set_yscale("log")
    _mark_diverged(ax, summary, colors, jitter(names))
    log_lengths(ax, lengths(runs))
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test loss / memoryless baseline")
    ax.set_title(f"{name(runs)}: how far back each architecture remembers")
    handles, _ = ax.get_legend_handles_labels()
    fig.legend(
        handles=handles[: len(names)] + seed_handles() + handles[len(names) :],
        loc="outside right upper",
        fontsize=8,
    )
    return fig


def _mark_diverged(ax, summary, colors, spread):
    """Diverged runs have no loss to plot: crosses along the top, with their counts."""
    diverged = summary[summary["n_diverged"] > 0]
    if diverged.empty:
        return
    top = ax.get_ylim()[1]
    for _, cell in diverged.iterrows():
        x = cell["seq_len"] * spread.get(cell["arch"], 1)
        color = colors.get(cell["arch"], "0.3")
        ax.scatter(x, top, marker="x", s=40, color=color, clip_on=False, zorder=5)
        ax.annotate(
            f"{int(cell['n_diverged'])}",
            (x, top),
            textcoords="offset points",
            xytext=(4, 2),
            fontsize=7,
            color=color,
        )
    ax.set_ylim(top=top)
    ax.scatter([], [], marker="x", color="0.3", label="diverged runs (count)")


def fraction_solved(tables, solved_below):
    """Fraction of seeds solved vs sequence length with Wilson 95% intervals."""
    runs, summary = tables["runs"], tables["summary"]
    names = archs(runs)
    colors, spread = palette(names), jitter(names, step=0.08)
    fig, ax = plt.subplots(figsize=(7.5, 4.2), layout="constrained")
    for arch in names:
        cell = summary[summary["arch"] == arch].sort_values("seq_len")
        frac = cell["solved_fraction"]
        err = [frac - cell["solved_ci_low"], cell["solved_ci_high"] - frac]
        ax.errorbar(
            cell["seq_len"] * spread[arch],
            frac,
            yerr=err,
            fmt="-o",
            color=colors[arch],
            label=arch,
            capsize=3,
            lw=2,
            ms=4,
        )
    log_lengths(ax, lengths(runs))
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(f"fraction of seeds solved (loss ratio < {solved_below:g})")
    n = int(summary["n"].max())
    ax.set_title(f"{name(runs)}: runs solved ({n} seeds per point, Wilson 95% CI)")
    fig.legend(loc="outside right upper", fontsize=8)
    return fig


def heatmap(tables, solved_below):
    """Median normalised test loss per arch x sequence length (light = low = good), annotated
    with the seeds solved and the runs diverged."""
    runs, summary = tables["runs"], tables["summary"]
    names = archs(summary)

    def pivot(column):
        return summary.pivot(index="arch", columns="seq_len", values=column).reindex(names)

    median, solved, total, diverged = map(pivot, ["median", "n_solved", "n", "n_diverged"])
    labels = median.map(lambda v: f"{v:.2g}" if np.isfinite(v) else "—")
    labels = labels + "\n" + solved.astype(int).astype(str) + "/" + total.astype(int).astype(str)
    labels = labels + diverged.map(lambda d: f"\n{int(d)} diverged" if d > 0 else "")
    values = median.to_numpy()
    positive = values[np.isfinite(values) & (values > 0)]
    positive = positive if positive.size else np.array([solved_below, 2.0])  # all diverged
    # the colour range always spans 'solved' to above the baseline, so colours compare by task
    norm = LogNorm(vmin=min(positive.min(), solved_below), vmax=max(positive.max(), 2.0))
    fig, ax = plt.subplots(
        figsize=(1.1 * median.shape[1] + 3, 0.8 * len(names) + 1.6), layout="constrained"
    )
    sns.heatmap(
        median,
        annot=labels,
        fmt="",
        cmap="viridis_r",
        norm=norm,
        ax=ax,
        linewidths=0.5,
        cbar_kws={"label": "median loss ratio (light = better)"},
        annot_kws={"fontsize": 8},
    )
    ax.set_facecolor("0.85")  # cells without a finite loss (every run diverged) stay grey
    ax.grid(False)
    for i, j in zip(*np.where(~np.isfinite(values)), strict=True):
        ax.text(j + 0.5, i + 0.5, labels.iat[i, j], ha="center", va="center", fontsize=8)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("")
    ax.set_title(f"{name(runs)}: median loss / baseline, seeds solved", loc="left", fontsize=10)
    return fig


def learning_curves(tables, solved_below):
    """Test loss / baseline vs epoch, one panel per sequence length, one line per seed."""
    runs, history = tables["runs"], tables["history"]
    names = archs(history)
    colors = palette(names)
    keys = ["variant", "task", "arch", "seq_len", "seed"]
    curves = history.merge(runs[[*keys, "baseline_loss"]], on=keys)
    curves = curves.assign(normalised=curves["test_loss"] / curves["baseline_loss"])
    seq_lens = lengths(curves)
    cols = min(len(seq_lens), 4)
    rows = int(np.ceil(len(seq_lens) / cols))
    fig, axes = plt.subplots(
        rows,
        cols,
        figsize=(3.2 * cols + 1, 2.8 * rows),
        sharey=True,
        squeeze=False,
        layout="constrained",
    )
    for ax, seq_len in zip(axes.flat, seq_lens, strict=False):
        panel = curves[curves["seq_len"] == seq_len]
        for (arch, _seed), run in panel.groupby(["arch", "seed"]):
            ax.plot(run["epoch"], run["normalised"], color=colors[arch], lw=0.9, alpha=0.7)
        references(ax, solved_below, lw=0.8, labels=False)
        ax.set_yscale("log")
        ax.set_title(f"T = {seq_len}", fontsize=10)
        ax.set_xlabel("epoch")
    for ax in axes.flat[len(seq_lens) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("test loss / baseline")
    handles = arch_handles(names, colors) + [
        plt.Line2D([], [], color="0.3", ls="--", lw=0.8, label="baseline (= 1)"),
        plt.Line2D([], [], color="tab:green", ls="-.", lw=0.8, label="solved"),
    ]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"{name(runs)}: learning curves (one line per seed)")
    return fig
