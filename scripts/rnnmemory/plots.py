"""Figures of one task, drawn from the tidy tables. Registry: figure name -> function
(runs, summary, history, solved_below) -> matplotlib Figure. Each figure also needs a caption
file ``workflow/report/<name>.rst``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from .tables import critical_length_table  # noqa: E402

ARCH_ORDER = ["rnn", "gru", "lstm"]
ARCH_COLORS = dict(zip(ARCH_ORDER, sns.color_palette("colorblind", 3), strict=True))


def _archs(table: pd.DataFrame) -> list[str]:
    present = list(table["arch"].unique())
    return [a for a in ARCH_ORDER if a in present] + sorted(set(present) - set(ARCH_ORDER))


def _palette(archs):
    extra = sns.color_palette("colorblind", 10)[3:]
    return {a: ARCH_COLORS.get(a, extra[i % len(extra)]) for i, a in enumerate(archs)}


def _log_x_lengths(ax, seq_lens):
    ax.set_xscale("log")
    ax.set_xticks(seq_lens)
    ax.set_xticklabels([str(t) for t in seq_lens])
    ax.minorticks_off()


def memory_curve(runs, summary, history, solved_below):
    """Normalised test loss vs sequence length: mean with 95% bootstrap band, one dot per seed,
    and reference lines for the memoryless baseline, predicting nothing and 'solved'."""
    archs, palette = _archs(runs), _palette(_archs(runs))
    seq_lens = sorted(runs["seq_len"].unique())
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    finite = runs[np.isfinite(runs["normalised_test_loss"])]
    jitter = {a: 1 + 0.04 * (i - (len(archs) - 1) / 2) for i, a in enumerate(archs)}
    for arch in archs:
        cell = summary[summary["arch"] == arch].sort_values("seq_len")
        color = palette[arch]
        ax.plot(cell["seq_len"], cell["mean"], "-o", color=color, label=arch, lw=2, ms=4)
        ax.fill_between(cell["seq_len"], cell["ci_low"], cell["ci_high"], color=color, alpha=0.2)
        seeds = finite[finite["arch"] == arch]
        ax.scatter(
            seeds["seq_len"] * jitter[arch], seeds["normalised_test_loss"], s=12,
            color=color, alpha=0.5, edgecolor="none",
        )  # fmt: skip
    _mark_diverged(ax, summary, palette, jitter)
    null_level = float(summary["null_over_baseline"].iloc[0])
    ax.axhline(1.0, color="0.3", ls="--", lw=1, label="memoryless baseline (= 1)")
    if not np.isclose(null_level, 1.0):
        ax.axhline(
            null_level, color="0.3", ls=":", lw=1, label=f"predict nothing ({null_level:.3g})"
        )
    ax.axhline(solved_below, color="tab:green", ls="-.", lw=1, label=f"solved (< {solved_below})")
    ax.set_yscale("log")
    _log_x_lengths(ax, seq_lens)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("test loss / memoryless baseline")
    ax.set_title(f"{runs['task'].iloc[0]}: how far back each architecture remembers")
    ax.legend(fontsize=8, loc="best")
    return fig


def _mark_diverged(ax, summary, palette, jitter):
    """Diverged runs have no loss to plot: show them as crosses along the top, with counts."""
    diverged = summary[summary["n_diverged"] > 0]
    if diverged.empty:
        return
    top = ax.get_ylim()[1] if ax.has_data() else 1.0
    for _, cell in diverged.iterrows():
        x = cell["seq_len"] * jitter.get(cell["arch"], 1)
        ax.scatter(x, top, marker="x", s=40, color=palette[cell["arch"]], clip_on=False, zorder=5)
        ax.annotate(f"{int(cell['n_diverged'])}", (x, top), textcoords="offset points",
                    xytext=(4, 2), fontsize=7, color=palette[cell["arch"]])  # fmt: skip
    ax.scatter([], [], marker="x", color="0.3", label="diverged runs (count)")


def fraction_solved(runs, summary, history, solved_below):
    """Fraction of seeds solved vs sequence length with Wilson 95% intervals."""
    archs, palette = _archs(runs), _palette(_archs(runs))
    seq_lens = sorted(runs["seq_len"].unique())
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    jitter = {a: 1 + 0.04 * (i - (len(archs) - 1) / 2) for i, a in enumerate(archs)}
    for arch in archs:
        cell = summary[summary["arch"] == arch].sort_values("seq_len")
        frac = cell["solved_fraction"]
        err = [frac - cell["solved_ci_low"], cell["solved_ci_high"] - frac]
        ax.errorbar(
            cell["seq_len"] * jitter[arch], frac, yerr=err, fmt="-o", color=palette[arch],
            label=arch, capsize=3, lw=2, ms=4,
        )  # fmt: skip
    _log_x_lengths(ax, seq_lens)
    ax.set_ylim(-0.03, 1.03)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel(f"fraction of seeds solved (loss ratio < {solved_below})")
    n = int(summary["n"].max())
    ax.set_title(f"{runs['task'].iloc[0]}: runs solved ({n} seeds per point, Wilson 95% CI)")
    ax.legend(fontsize=8)
    return fig


def learning_curves(runs, summary, history, solved_below):
    """Test loss / baseline vs epoch, one panel per sequence length, one line per seed."""
    archs, palette = _archs(history), _palette(_archs(history))
    curves = history.merge(runs[["task", "arch", "seq_len", "seed", "baseline_loss"]])
    curves = curves.assign(normalised=curves["test_loss"] / curves["baseline_loss"])
    seq_lens = sorted(curves["seq_len"].unique())
    cols = min(len(seq_lens), 4)
    rows = int(np.ceil(len(seq_lens) / cols))
    fig, axes = plt.subplots(
        rows, cols, figsize=(3.2 * cols, 2.8 * rows), sharey=True, squeeze=False,
        layout="constrained",
    )  # fmt: skip
    for ax, seq_len in zip(axes.flat, seq_lens, strict=False):
        panel = curves[curves["seq_len"] == seq_len]
        for (arch, _seed), run in panel.groupby(["arch", "seed"]):
            ax.plot(run["epoch"], run["normalised"], color=palette[arch], lw=0.9, alpha=0.7)
        ax.axhline(1.0, color="0.3", ls="--", lw=0.8)
        ax.axhline(solved_below, color="tab:green", ls="-.", lw=0.8)
        ax.set_yscale("log")
        ax.set_title(f"T = {seq_len}", fontsize=10)
        ax.set_xlabel("epoch")
    for ax in axes.flat[len(seq_lens) :]:
        ax.axis("off")
    for ax in axes[:, 0]:
        ax.set_ylabel("test loss / baseline")
    handles = [plt.Line2D([], [], color=palette[a], lw=2, label=a) for a in archs]
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"{runs['task'].iloc[0]}: learning curves (one line per seed)")
    return fig


def heatmap(runs, summary, history, solved_below):
    """Median normalised test loss per arch x sequence length, annotated with seeds solved."""
    archs = _archs(summary)
    median = summary.pivot(index="arch", columns="seq_len", values="median").reindex(archs)
    solved = summary.pivot(index="arch", columns="seq_len", values="n_solved").reindex(archs)
    total = summary.pivot(index="arch", columns="seq_len", values="n").reindex(archs)
    labels = median.map(lambda v: f"{v:.2g}" if np.isfinite(v) else "—")
    labels = labels + "\n" + solved.astype(int).astype(str) + "/" + total.astype(int).astype(str)
    diverged = summary.pivot(index="arch", columns="seq_len", values="n_diverged").reindex(archs)
    labels = labels + diverged.map(lambda d: f"\n{int(d)} diverged" if d > 0 else "")
    fig, ax = plt.subplots(figsize=(1.1 * median.shape[1] + 2.5, 0.8 * len(archs) + 1.6))
    positive = median.to_numpy()[np.isfinite(median.to_numpy()) & (median.to_numpy() > 0)]
    positive = positive if positive.size else np.array([solved_below, 2.0])  # all diverged
    norm = LogNorm(vmin=min(positive.min(), solved_below), vmax=max(positive.max(), 2.0))
    sns.heatmap(
        median, annot=labels, fmt="", cmap="viridis_r", norm=norm, ax=ax, linewidths=0.5,
        cbar_kws={"label": "median test loss / baseline"}, annot_kws={"fontsize": 8},
    )  # fmt: skip
    ax.set_facecolor("0.85")  # cells without a finite loss (every run diverged) stay grey
    ax.grid(False)
    for i, j in zip(*np.where(~np.isfinite(median.to_numpy())), strict=True):
        ax.text(j + 0.5, i + 0.5, labels.iat[i, j], ha="center", va="center", fontsize=8)
    ax.set_xlabel("sequence length T")
    ax.set_ylabel("")
    ax.set_title(f"{runs['task'].iloc[0]}: median loss ratio, seeds solved", loc="left")
    fig.tight_layout()
    return fig


def critical_length(runs, summary, history, solved_below):
    """T* per arch with its bootstrap interval; triangles mark T* outside the lengths studied."""
    table = critical_length_table(runs.assign(solved=runs["solved"].astype(bool)))
    archs, palette = _archs(table), _palette(_archs(table))
    table = table.set_index("arch").loc[archs]
    seq_lens = sorted(runs["seq_len"].unique())
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    for x, (arch, row) in enumerate(table.iterrows()):
        color = palette[arch]
        if row["censored"] == "below":
            ax.scatter(x, row["shortest"], marker="v", s=90, color=color)
            ax.annotate("below the shortest T", (x, row["shortest"]), textcoords="offset points",
                        xytext=(0, -16), ha="center", fontsize=8, color=color)  # fmt: skip
            continue
        marker = "^" if row["censored"] == "above" else "o"
        low, high = row["ci_low"], row["ci_high"]
        err = [[row["critical_length"] - low], [high - row["critical_length"]]]
        ax.errorbar(x, row["critical_length"], yerr=err, fmt=marker, ms=9, capsize=5, color=color)
    ax.set_yscale("log")
    ax.set_yticks(seq_lens)
    ax.set_yticklabels([str(t) for t in seq_lens])
    ax.minorticks_off()
    ax.set_xticks(range(len(archs)))
    ax.set_xticklabels(archs)
    ax.set_xlim(-0.6, len(archs) - 0.4)
    ax.set_ylabel("critical length T* (half the seeds solve)")
    n = int(table["n_seeds"].max())
    ax.set_title(f"{runs['task'].iloc[0]}: T* with 95% bootstrap CI over {n} seeds")
    return fig


def learned_weights(runs, summary, history, solved_below):
    """Weight of x[0] (and of x[T-1]) in a least-squares fit of each run's test predictions."""
    archs, palette = _archs(runs), _palette(_archs(runs))
    seq_lens = sorted(runs["seq_len"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
    jitter = {a: 1 + 0.04 * (i - (len(archs) - 1) / 2) for i, a in enumerate(archs)}
    for ax, column, title in zip(
        axes, ["coef_first", "coef_last"], ["weight on x[0]", "weight on x[T-1]"], strict=True
    ):
        for arch in archs:
            runs_a = runs[(runs["arch"] == arch) & np.isfinite(runs[column].astype(float))]
            median = runs_a.groupby("seq_len")[column].median()
            color = palette[arch]
            ax.plot(median.index, median.values, "-o", color=color, lw=2, ms=4, label=arch)
            ax.scatter(runs_a["seq_len"] * jitter[arch], runs_a[column], s=12, color=color,
                       alpha=0.5, edgecolor="none")  # fmt: skip
        ax.axhline(1.0, color="0.3", ls="--", lw=1)
        ax.axhline(0.0, color="0.3", ls=":", lw=1)
        _log_x_lengths(ax, seq_lens)
        ax.set_xlabel("sequence length T")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("least-squares weight in the predictions")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{runs['task'].iloc[0]}: what the networks' answers depend on (median, seeds)")
    return fig


FIGURES = {
    "memory_curve": memory_curve,
    "fraction_solved": fraction_solved,
    "learning_curves": learning_curves,
    "heatmap": heatmap,
    "critical_length": critical_length,
    "learned_weights": learned_weights,
}


def draw(name, runs, summary, history, solved_below):
    """Draw figure ``name`` for the task(s) in the given tables."""
    with sns.axes_style("whitegrid"):
        return FIGURES[name](runs, summary, history, solved_below)
