"""Figures of one task, drawn from the tidy tables. Registry: figure name -> function
(tables, solved_below) -> matplotlib Figure, where ``tables`` maps a table name (runs,
summary, critical_length, history, gradients, lengths, predictions) to that task's rows. Each
figure has a caption in ``workflow/report/figure.rst``."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import numpy as np  # noqa: E402
import pandas as pd  # noqa: E402
import seaborn as sns  # noqa: E402
from matplotlib.colors import LogNorm  # noqa: E402

from .config import BASE  # noqa: E402

ARCH_ORDER = ["rnn", "gru", "lstm"]
ARCH_COLORS = dict(zip(ARCH_ORDER, sns.color_palette("colorblind", 3), strict=True))


def _archs(table: pd.DataFrame) -> list[str]:
    present = list(table["arch"].unique())
    return [a for a in ARCH_ORDER if a in present] + sorted(set(present) - set(ARCH_ORDER))


def _name(runs: pd.DataFrame) -> str:
    """The task, and the variant when it is not the base config."""
    variants = [v for v in runs["variant"].unique() if v != BASE]
    return runs["task"].iloc[0] + (f" [{', '.join(variants)}]" if variants else "")


def _palette(archs):
    extra = sns.color_palette("colorblind", 10)[3:]
    return {a: ARCH_COLORS.get(a, extra[i % len(extra)]) for i, a in enumerate(archs)}


def _jitter(archs):
    """Per-arch x factors that set the seeds' dots of each arch a little apart on a log axis."""
    return {a: 1 + 0.04 * (i - (len(archs) - 1) / 2) for i, a in enumerate(archs)}


def _median_and_seeds(ax, table, column, archs, palette, dot_size=12):
    """A median line over seeds per arch against seq_len, with every seed as a dot."""
    jitter = _jitter(archs)
    for arch in archs:
        runs_a = table[(table["arch"] == arch) & np.isfinite(table[column].astype(float))]
        median = runs_a.groupby("seq_len")[column].median()
        color = palette[arch]
        ax.plot(median.index, median.values, "-o", color=color, lw=2, ms=4, label=arch)
        ax.scatter(runs_a["seq_len"] * jitter[arch], runs_a[column], s=dot_size, color=color,
                   alpha=0.5, edgecolor="none")  # fmt: skip


def _log_x_lengths(ax, seq_lens):
    ax.set_xscale("log")
    ax.set_xticks(seq_lens)
    ax.set_xticklabels([str(t) for t in seq_lens])
    ax.minorticks_off()


def memory_curve(tables, solved_below):
    """Normalised test loss vs sequence length: mean with 95% bootstrap band, one dot per seed,
    and reference lines for the memoryless baseline, predicting nothing and 'solved'."""
    runs, summary = tables["runs"], tables["summary"]
    archs, palette = _archs(runs), _palette(_archs(runs))
    seq_lens = sorted(runs["seq_len"].unique())
    fig, ax = plt.subplots(figsize=(7, 4.5), layout="constrained")
    finite = runs[np.isfinite(runs["normalised_test_loss"])]
    jitter = _jitter(archs)
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
    ax.set_title(f"{_name(runs)}: how far back each architecture remembers")
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


def fraction_solved(tables, solved_below):
    """Fraction of seeds solved vs sequence length with Wilson 95% intervals."""
    runs, summary = tables["runs"], tables["summary"]
    archs, palette = _archs(runs), _palette(_archs(runs))
    seq_lens = sorted(runs["seq_len"].unique())
    fig, ax = plt.subplots(figsize=(7, 4.2), layout="constrained")
    jitter = _jitter(archs)
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
    ax.set_title(f"{_name(runs)}: runs solved ({n} seeds per point, Wilson 95% CI)")
    ax.legend(fontsize=8)
    return fig


def learning_curves(tables, solved_below):
    """Test loss / baseline vs epoch, one panel per sequence length, one line per seed."""
    runs, history = tables["runs"], tables["history"]
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
    fig.suptitle(f"{_name(runs)}: learning curves (one line per seed)")
    return fig


def heatmap(tables, solved_below):
    """Median normalised test loss per arch x sequence length, annotated with seeds solved."""
    runs, summary = tables["runs"], tables["summary"]
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
    ax.set_title(f"{_name(runs)}: median loss ratio, seeds solved", loc="left")
    fig.tight_layout()
    return fig


def critical_length(tables, solved_below):
    """T* per arch with its bootstrap interval; triangles mark T* outside the lengths studied."""
    runs, table = tables["runs"], tables["critical_length"]
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
    ax.set_title(f"{_name(runs)}: T* (95% bootstrap CI, {n} seeds)", fontsize=11)
    return fig


def learned_weights(tables, solved_below):
    """Weight of x[0] (and of x[T-1]) in a least-squares fit of each run's test predictions."""
    runs = tables["runs"]
    archs, palette = _archs(runs), _palette(_archs(runs))
    seq_lens = sorted(runs["seq_len"].unique())
    fig, axes = plt.subplots(1, 2, figsize=(10, 4), sharey=True, layout="constrained")
    for ax, column, title in zip(
        axes, ["coef_first", "coef_last"], ["weight on x[0]", "weight on x[T-1]"], strict=True
    ):
        _median_and_seeds(ax, runs, column, archs, palette)
        ax.axhline(1.0, color="0.3", ls="--", lw=1)
        ax.axhline(0.0, color="0.3", ls=":", lw=1)
        _log_x_lengths(ax, seq_lens)
        ax.set_xlabel("sequence length T")
        ax.set_title(title, fontsize=10)
    axes[0].set_ylabel("least-squares weight in the predictions")
    axes[0].legend(fontsize=8)
    fig.suptitle(f"{_name(runs)}: what the networks' answers depend on (median, seeds)")
    return fig


def _panels(n_panels, rows=1, width=3.2, height=2.9, sharey=True):
    cols = min(n_panels, 5)
    fig, axes = plt.subplots(
        rows, cols, figsize=(max(width * cols + 1.2, 9), height * rows), sharey=sharey,
        squeeze=False,
        layout="constrained",
    )  # fmt: skip
    return fig, axes


def gradients(tables, solved_below):
    """Vanishing gradients: mean per-sample ||dL/dh_t|| (top row) and ||dL/dx_t|| (bottom row)
    relative to their value at the last step, against how many steps back t lies; median over
    seeds, dashed at initialisation, solid after training; one column per sequence length."""
    runs, grads = tables["runs"], tables["gradients"]
    archs, palette = _archs(grads), _palette(_archs(grads))
    seq_lens = sorted(grads["seq_len"].unique())
    run = ["arch", "seq_len", "seed", "phase"]
    last = grads.loc[grads["distance"] == 0, [*run, "grad_h_norm", "grad_x_norm"]]
    relative = grads.merge(last, on=run, suffixes=("", "_last"))
    relative["grad_h"] = relative["grad_h_norm"] / relative["grad_h_norm_last"]
    relative["grad_x"] = relative["grad_x_norm"] / relative["grad_x_norm_last"]
    fig, axes = _panels(len(seq_lens), rows=2)
    for col, seq_len in enumerate(seq_lens):
        panel = relative[relative["seq_len"] == seq_len]
        for row, (column, label) in enumerate(
            [("grad_h", "||dL/dh_t|| / ||dL/dh_T-1||"), ("grad_x", "||dL/dx_t|| / ||dL/dx_T-1||")]
        ):
            ax = axes[row, col]
            for arch in archs:
                for phase, style in (("init", "--"), ("trained", "-")):
                    lines = panel[(panel["arch"] == arch) & (panel["phase"] == phase)]
                    median = lines.groupby("distance")[column].median()
                    median = median[np.isfinite(median) & (median > 0)]
                    ax.plot(median.index, median.values, style, color=palette[arch], lw=1.6)
            ax.set_yscale("log")
            ax.set_xlabel("steps back from the end (T-1-t)" if row else "")
            if col == 0:
                ax.set_ylabel(label)
            if row == 0:
                ax.set_title(f"T = {seq_len}", fontsize=10)
    handles = [plt.Line2D([], [], color=palette[a], lw=2, label=a) for a in archs]
    handles += [plt.Line2D([], [], color="0.3", ls="--", label="at initialisation"),
                plt.Line2D([], [], color="0.3", ls="-", label="after training")]  # fmt: skip
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    fig.suptitle(f"{_name(runs)}: error signal reaching each step back (median, seeds)")
    return fig


def length_generalisation(tables, solved_below):
    """Loss at other lengths: normalised test loss of networks trained at T (x axis) when the
    test sequences have length factor x T, one panel per factor (1 is the trained length)."""
    runs, lengths = tables["runs"], tables["lengths"]
    archs, palette = _archs(lengths), _palette(_archs(lengths))
    factors = sorted(lengths["factor"].unique())
    seq_lens = sorted(lengths["seq_len"].unique())
    fig, axes = _panels(len(factors), width=3.6, height=3.4)
    for ax, factor in zip(axes.flat, factors, strict=False):
        panel = lengths[lengths["factor"] == factor]
        _median_and_seeds(ax, panel, "normalised_test_loss", archs, palette, dot_size=10)
        ax.axhline(1.0, color="0.3", ls="--", lw=1)
        ax.axhline(solved_below, color="tab:green", ls="-.", lw=1)
        ax.set_yscale("log")
        _log_x_lengths(ax, seq_lens)
        ax.set_xlabel("trained at length T")
        ax.set_title("tested at T (trained length)" if factor == 1 else f"tested at {factor:g} T",
                     fontsize=10)  # fmt: skip
    axes[0, 0].set_ylabel("test loss / memoryless baseline")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{_name(runs)}: length generalisation (median and seeds)")
    return fig


def predictions(tables, solved_below):
    """Predicted vs true on the first test sequences: a scatter per arch x sequence length for
    regression (every seed, every output channel), per-step accuracy for characters."""
    runs, samples = tables["runs"], tables["predictions"]
    if runs["test_accuracy"].notna().any():  # a classification task
        return _step_accuracy(runs, samples)
    archs, palette = _archs(samples), _palette(_archs(samples))
    seq_lens = sorted(samples["seq_len"].unique())
    cols = min(len(seq_lens), 5)
    fig, axes = plt.subplots(
        len(archs), cols, figsize=(2.5 * cols + 0.8, 2.5 * len(archs) + 0.6), squeeze=False,
        layout="constrained", sharex=True, sharey=True,
    )  # fmt: skip
    finite = samples[np.isfinite(samples["predicted"])]
    low, high = np.nanpercentile(finite[["target", "predicted"]].to_numpy(), [0.5, 99.5])
    for row, arch in enumerate(archs):
        for col, seq_len in enumerate(seq_lens[:cols]):
            ax = axes[row, col]
            cell = finite[(finite["arch"] == arch) & (finite["seq_len"] == seq_len)]
            ax.plot([low, high], [low, high], color="0.3", ls="--", lw=0.8)
            ax.scatter(cell["target"], cell["predicted"], s=5, alpha=0.35, color=palette[arch],
                       edgecolor="none")  # fmt: skip
            if len(cell) > 1:
                r2 = 1 - ((cell["predicted"] - cell["target"]) ** 2).sum() / (
                    (cell["target"] - cell["target"].mean()) ** 2
                ).sum()  # fmt: skip
                ax.text(0.04, 0.92, f"R² {r2:.2f}", transform=ax.transAxes, fontsize=8)
            ax.set_xlim(low, high)
            ax.set_ylim(low, high)
            if row == 0:
                ax.set_title(f"T = {seq_len}", fontsize=10)
            if col == 0:
                ax.set_ylabel(f"{arch}\npredicted")
            if row == len(archs) - 1:
                ax.set_xlabel("true")
    n_seeds = samples["seed"].nunique()
    fig.suptitle(f"{_name(runs)}: predicted vs true, first test sequences of "
                 f"{n_seeds} seed(s)")  # fmt: skip
    return fig


def _step_accuracy(runs, samples):
    """Accuracy of the next-character prediction after each step, per arch, one panel per T;
    the dotted line always guesses the most common next character of the sample."""
    archs, palette = _archs(samples), _palette(_archs(samples))
    seq_lens = sorted(samples["seq_len"].unique())
    fig, axes = _panels(len(seq_lens))
    for ax, seq_len in zip(axes.flat, seq_lens, strict=False):
        cell = samples[samples["seq_len"] == seq_len]
        for arch in archs:
            runs_a = cell[cell["arch"] == arch]
            accuracy = (runs_a["predicted"] == runs_a["target"]).groupby(runs_a["step"]).mean()
            ax.plot(accuracy.index + 1, accuracy.values, "-", color=palette[arch], lw=1.8,
                    label=arch)  # fmt: skip
        common = cell.groupby("step")["target"].agg(lambda t: t.value_counts(normalize=True).max())
        ax.plot(common.index + 1, common.values, ":", color="0.3", lw=1, label="most common")
        ax.set_ylim(0, 1)
        ax.set_xlabel("characters read")
        ax.set_title(f"trained at T = {seq_len}", fontsize=10)
    axes[0, 0].set_ylabel("next-character accuracy")
    axes[0, 0].legend(fontsize=8)
    fig.suptitle(f"{_name(runs)}: accuracy after each step (first test sequences)")
    return fig


def variants(tables, solved_below):
    """Every variant side by side: T* per arch and variant (left), then per arch the median
    normalised test loss vs T with one line per variant; the legend gives each variant's
    parameter counts."""
    runs, summary, critical = tables["runs"], tables["summary"], tables["critical_length"]
    names = list(dict.fromkeys([BASE, *sorted(runs["variant"].unique())]))
    names = [v for v in names if v in set(runs["variant"])]
    archs = _archs(runs)
    colors = dict(zip(names, sns.color_palette("dark", len(names)), strict=True))
    styles = {v: ["-", "--", ":", "-."][i % 4] for i, v in enumerate(names)}  # overlaps show
    seq_lens = sorted(runs["seq_len"].unique())
    fig, axes = plt.subplots(1, 1 + len(archs), figsize=(3.6 * (1 + len(archs)) + 1.5, 3.8),
                             layout="constrained")  # fmt: skip
    ax = axes[0]
    width = 0.8 / len(names)
    for i, variant in enumerate(names):
        rows = critical[critical["variant"] == variant].set_index("arch").reindex(archs)
        x = np.arange(len(archs)) - 0.4 + width * (i + 0.5)
        point = rows["critical_length"].fillna(rows["shortest"] / 2)  # below: under the axis
        err = [(point - rows["ci_low"]).fillna(0), (rows["ci_high"] - point).fillna(0)]
        ax.errorbar(x, point, yerr=err, fmt="o", color=colors[variant], capsize=3, ms=6)
        above = rows["censored"] == "above"
        ax.scatter(x[above.to_numpy()], point[above], marker="^", s=70, color=colors[variant])
    ax.set_yscale("log")
    ax.set_yticks([min(seq_lens) / 2, *seq_lens])
    ax.set_yticklabels([f"< {min(seq_lens)}", *map(str, seq_lens)])
    ax.minorticks_off()
    ax.set_ylim(min(seq_lens) / 2.5, max(seq_lens) * 1.6)
    ax.set_xticks(range(len(archs)))
    ax.set_xticklabels(archs)
    ax.set_title("critical length T* (95% CI)", fontsize=10)
    for ax, arch in zip(axes[1:], archs, strict=True):
        for variant in names:
            cell = summary[(summary["arch"] == arch) & (summary["variant"] == variant)]
            cell = cell.sort_values("seq_len")
            ax.plot(cell["seq_len"], cell["median"], marker="o", ls=styles[variant],
                    color=colors[variant], lw=2, ms=4)  # fmt: skip
        ax.axhline(1.0, color="0.3", ls="--", lw=1)
        ax.axhline(solved_below, color="tab:green", ls="-.", lw=1)
        ax.set_yscale("log")
        _log_x_lengths(ax, seq_lens)
        ax.set_xlabel("sequence length T")
        ax.set_title(f"{arch}: median loss / baseline", fontsize=10)
    counts = runs.groupby(["variant", "arch"])["n_params"].first()
    sizes = runs.groupby(["variant", "arch"])["hidden_size"].first()
    labels = {
        v: f"{v}: " + ", ".join(
            f"{a} H={sizes[v, a]} ({counts[v, a]} params)" for a in archs if (v, a) in counts
        )
        for v in names
    }  # fmt: skip
    handles = [
        plt.Line2D([], [], color=colors[v], marker="o", ls=styles[v], lw=2, label=labels[v])
        for v in names
    ]
    fig.legend(handles=handles, loc="outside lower center", fontsize=8, ncols=1)
    fig.suptitle(f"{runs['task'].iloc[0]}: variants side by side ({runs['seed'].nunique()} seeds)")
    return fig


FIGURES = {
    "memory_curve": memory_curve,
    "fraction_solved": fraction_solved,
    "learning_curves": learning_curves,
    "heatmap": heatmap,
    "critical_length": critical_length,
    "learned_weights": learned_weights,
    "gradients": gradients,
    "length_generalisation": length_generalisation,
    "predictions": predictions,
}


COMPARISONS = {"variants": variants}  # figures across variants, drawn when there are several


def draw(name, tables: dict, solved_below):
    """Draw figure ``name`` from one task's tables."""
    with sns.axes_style("whitegrid"):
        return {**FIGURES, **COMPARISONS}[name](tables, solved_below)
