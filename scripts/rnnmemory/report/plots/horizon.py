"""How far back each architecture remembers, as one number per arch: the memory horizon T50 (the
headline), the critical length T* (secondary), and T50 across the config's variants."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import seaborn as sns

from rnnmemory.analysis.tables import wilson_ci
from rnnmemory.core.config import BASE
from rnnmemory.report.docs import t50_text
from rnnmemory.report.plots.common import (
    archs,
    finite,
    interval,
    jitter,
    lengths,
    log_lengths,
    median_and_seeds,
    name,
    palette,
    references,
    seed_handles,
)


def logistic(seq_len, t50, slope, lapse=0.0):
    """The horizon table's fit (horizon.py): P(solved | T) = (1 - lapse) sigmoid(slope (log T -
    log t50) + d), d = log(0.5 / (0.5 - lapse)), so that P(t50) = 1/2."""
    z = slope * (np.log(seq_len) - np.log(t50)) + np.log(0.5 / (0.5 - lapse))
    return (1 - lapse) / (1 + np.exp(-z))


def solved_fractions(runs):
    """Per (arch, seq_len): runs, runs solved (a diverged run is not), fraction, Wilson 95%."""
    cells = runs.groupby(["arch", "seq_len"])["solved"].agg(
        n="size", k=lambda s: s.astype(bool).sum()
    )
    cells["fraction"] = cells["k"] / cells["n"]
    cells[["low", "high"]] = [wilson_ci(k, n) for k, n in zip(cells["k"], cells["n"], strict=True)]
    return cells.reset_index()


def _with_ends(row, seq_lens):
    """A horizon row with the lengths studied, which its text names when it is censored."""
    return {**row, "shortest": seq_lens[0], "longest": seq_lens[-1]}


def horizon(tables, solved_below):
    """Fraction of seeds solved vs T per arch (dots, Wilson 95%) and the logistic fit in log T
    (line), whose T50 sits on the 0.5 line that defines it; below, in a strip of one row per
    arch, T50 with its 95% interval (censored horizons: triangles at the axis edge)."""
    runs, table = tables["runs"], tables["horizon"]
    names = archs(runs)
    colors, spread, seq_lens = palette(names), jitter(names, step=0.08), lengths(runs)
    fig, (ax, strip) = plt.subplots(
        2, 1, figsize=(9.5, 4.6 + 0.25 * len(names)), sharex=True, layout="constrained",
        gridspec_kw={"height_ratios": [4.2, 0.5 + 0.3 * len(names)]},
    )  # fmt: skip
    edges = log_lengths(ax, seq_lens, open_ends=True)
    ax.axhline(0.5, color="0.6", lw=0.8, zorder=0)
    strip.set_ylim(len(names) - 0.4, -0.6)  # the first arch on top, as in the legend
    strip.set_yticks(range(len(names)), names)
    strip.grid(axis="y", visible=False)
    cells = solved_fractions(runs)
    grid = np.geomspace(*ax.get_xlim(), 200)
    rows = table.set_index("arch")
    handles = []
    for i, arch in enumerate(names):
        color, cell = colors[arch], cells[cells["arch"] == arch]
        err = [cell["fraction"] - cell["low"], cell["high"] - cell["fraction"]]
        ax.errorbar(
            cell["seq_len"] * spread[arch],
            cell["fraction"],
            yerr=err,
            fmt="o",
            color=color,
            capsize=3,
            ms=5,
            alpha=0.8,
        )
        if arch not in rows.index:
            handles.append(plt.Line2D([], [], color=color, lw=2, label=f"{arch}: no fit"))
            continue
        row = rows.loc[arch]
        if finite(row["t50"]) and finite(row["slope"]):
            fit = logistic(grid, row["t50"], row["slope"], row.get("lapse", 0.0))
            (line,) = ax.plot(grid, fit, color=color, lw=2)
            line.set_gid(f"fit:{arch}")
        if finite(row["t50"]) and edges[0] <= row["t50"] <= edges[1]:  # where the fit is 0.5
            ax.plot(row["t50"], 0.5, "o", color=color, ms=8, mec="white", mew=0.8, zorder=5)
        censored = row["censored"] if row["censored"] in ("above", "below") else ""
        text = t50_text(_with_ends(row, seq_lens))  # words where there is no estimate
        label = f"T50 {text.split(' (')[0]}" if censored else None  # 'T50 > 200'
        interval(
            strip,
            i,
            row["t50"],
            row["t50_low"],
            row["t50_high"],
            censored,
            edges,
            color,
            vertical=False,
            label=label,
        )
        handles.append(
            plt.Line2D([], [], color=color, lw=2, marker="o", label=f"{arch}: T50 {text}")
        )
    handles += [
        plt.Line2D([], [], color="0.3", marker="o", ls="", label="fraction solved (Wilson 95%)"),
        plt.Line2D([], [], color="0.3", lw=2, label="logistic fit in log T"),
        plt.Line2D([], [], color="0.3", lw=1.8, marker="|", ms=8, label="T50, 95% CI"),
        plt.Line2D([], [], color="0.3", marker=">", ls="", label="beyond the lengths studied"),
    ]
    ax.set_ylim(-0.04, 1.04)
    strip.set_xlabel("sequence length T")
    strip.set_title("T50, 95% CI", fontsize=9, loc="left")
    ax.set_ylabel(f"fraction of seeds solved (loss ratio < {solved_below:g})")
    n = runs["seed"].nunique()
    ax.set_title(f"{name(runs)}: memory horizon T50 (95% CI, {n} seeds)")
    fig.legend(handles=handles, loc="outside right upper", fontsize=8)
    return fig


def critical_length(tables, solved_below):
    """T* per arch with its bootstrap interval; a bound beyond the lengths studied (ci_low 0:
    below the shortest) sits at the axis edge as a triangle pointing out."""
    runs, table = tables["runs"], tables["critical_length"]
    names = archs(table)
    colors = palette(names)
    table = table.set_index("arch").loc[names]
    fig, ax = plt.subplots(figsize=(6, 4), layout="constrained")
    edges = log_lengths(ax, lengths(runs), which="y", open_ends=True)
    for x, (arch, row) in enumerate(table.iterrows()):
        interval(
            ax,
            x,
            row["critical_length"],
            row["ci_low"],
            row["ci_high"],
            row["censored"],
            edges,
            colors[arch],
            vertical=True,
            size=9,
        )
    ax.set_xticks(range(len(names)), names)
    ax.set_xlim(-0.6, len(names) - 0.4)
    ax.set_ylabel("critical length T* (half the seeds solve)")
    n = int(table["n_seeds"].max())
    ax.set_title(f"{name(runs)}: T* (95% bootstrap CI, {n} seeds)", fontsize=11)
    return fig


def variants(tables, solved_below):
    """Every variant side by side: T50 per arch and variant (left), then per arch the median
    normalised test loss vs T with one line per variant (dots: seeds); the legend gives each
    variant's hidden sizes and parameter counts."""
    runs, horizons = tables["runs"], tables["horizon"]
    names = [
        v
        for v in dict.fromkeys([BASE, *sorted(runs["variant"].unique())])
        if v in set(runs["variant"])
    ]
    arch_names, seq_lens = archs(runs), lengths(runs)
    colors = dict(zip(names, sns.color_palette("dark", len(names)), strict=True))
    styles = {v: ["-", "--", ":", "-."][i % 4] for i, v in enumerate(names)}  # overlaps show
    fig, axes = plt.subplots(
        1, 1 + len(arch_names), figsize=(3.6 * (1 + len(arch_names)) + 1, 4), layout="constrained"
    )
    ax = axes[0]
    edges = log_lengths(ax, seq_lens, which="y", open_ends=True)
    width = 0.8 / len(names)
    for i, variant in enumerate(names):
        rows = horizons[horizons["variant"] == variant].set_index("arch")
        for x, arch in enumerate(arch_names):
            if arch in rows.index:
                row = rows.loc[arch]
                interval(
                    ax,
                    x - 0.4 + width * (i + 0.5),
                    row["t50"],
                    row["t50_low"],
                    row["t50_high"],
                    row["censored"],
                    edges,
                    colors[variant],
                    vertical=True,
                    size=6,
                )
    ax.set_xticks(range(len(arch_names)), arch_names)
    ax.set_xlim(-0.5, len(arch_names) - 0.5)
    ax.set_title("memory horizon T50 (95% CI)", fontsize=10)
    ax.set_ylabel("T50 (half the seeds solve)")
    for ax, arch in zip(axes[1:], arch_names, strict=True):
        median_and_seeds(
            ax,
            runs[runs["arch"] == arch],
            "normalised_test_loss",
            names,
            colors,
            by="variant",
            styles=styles,
            dot_size=8,
        )
        references(ax, solved_below)
        ax.set_yscale("log")
        log_lengths(ax, seq_lens)
        ax.set_xlabel("sequence length T")
        ax.set_title(f"{arch}: loss / baseline", fontsize=10)
    counts = runs.groupby(["variant", "arch"])["n_params"].first()
    sizes = runs.groupby(["variant", "arch"])["hidden_size"].first()

    def described(v):
        parts = [
            f"{a} H={int(sizes[v, a])} ({int(counts[v, a])} params)"
            for a in arch_names
            if (v, a) in counts
        ]
        return f"{v}: " + ", ".join(parts)

    handles = [
        plt.Line2D([], [], color=colors[v], marker="o", ls=styles[v], lw=2, label=described(v))
        for v in names
    ]
    axes[1].set_ylabel("median test loss / baseline")
    lines = axes[1].get_legend_handles_labels()[0][len(names) :]  # the reference levels
    fig.legend(
        handles=handles + seed_handles() + lines, loc="outside lower center", fontsize=8, ncols=2
    )
    fig.suptitle(f"{runs['task'].iloc[0]}: variants side by side ({runs['seed'].nunique()} seeds)")
    return fig
