"""What every figure shares: the architectures' order and colours, the log axis of sequence
lengths, the median-and-seeds line, intervals clipped to the axis edges, and reference lines."""

from __future__ import annotations

import matplotlib.pyplot as plt
import numpy as np
import pandas as pd
import seaborn as sns

from rnnmemory.core.archs import ARCHS
from rnnmemory.core.config import BASE

ARCH_ORDER = list(ARCHS)
# seaborn's colour-blind palette, its vermillion (3) last: beside the orange (1) it reads as a
# second orange, so a fourth arch gets the pink (4)
COLORS = [sns.color_palette("colorblind", 10)[i] for i in (0, 1, 2, 4, 5, 6, 7, 8, 9, 3)]
ARCH_COLORS = dict(zip(ARCH_ORDER, COLORS, strict=False))
# room beyond the lengths studied on a log T axis: open ends and censored values sit at EDGE,
# inside the axis limit LIMIT so that their markers are not cut in half
EDGE, LIMIT = 1.7, 2.3


def archs(table: pd.DataFrame) -> list[str]:
    """The table's architectures, the known ones in their usual order."""
    present = list(table["arch"].unique())
    return [a for a in ARCH_ORDER if a in present] + sorted(set(present) - set(ARCH_ORDER))


def palette(names) -> dict:
    extra = COLORS[len(ARCHS) :]
    return {a: ARCH_COLORS.get(a, extra[i % len(extra)]) for i, a in enumerate(names)}


def name(runs: pd.DataFrame) -> str:
    """The task, and the variant when it is not the base config."""
    variants = [v for v in runs["variant"].unique() if v != BASE]
    return runs["task"].iloc[0] + (f" [{', '.join(variants)}]" if variants else "")


def lengths(table: pd.DataFrame) -> list:
    return sorted(table["seq_len"].unique())


def finite(value) -> bool:
    return value is not None and not pd.isna(value) and bool(np.isfinite(value))


def jitter(groups, step=0.04) -> dict:
    """Per-group x factors that set the groups' seed dots a little apart on a log axis."""
    return {g: 1 + step * (i - (len(groups) - 1) / 2) for i, g in enumerate(groups)}


def median_and_seeds(ax, table, column, groups, colors, by="arch", styles=None, dot_size=12):
    """Per group (an arch, or a variant) a line through the median over seeds at each seq_len
    (gid 'median:<group>', for tests) and every seed as a dot. The median, not the mean: on a log
    axis a mean follows its worst seed (3 seeds at 0.002 and 2 at 1 have a mean of 0.4)."""
    values = table[column].astype(float)
    rows_ok = table[np.isfinite(values)]
    spread = jitter(groups)
    for group in groups:
        rows = rows_ok[rows_ok[by] == group]
        median = rows.groupby("seq_len")[column].median()
        ls = (styles or {}).get(group, "-")
        (line,) = ax.plot(  # beside its dots, so that equal medians do not hide one another
            median.index * spread[group],
            median.values,
            ls=ls,
            marker="o",
            color=colors[group],
            lw=2,
            ms=4,
            label=str(group),
        )
        line.set_gid(f"median:{group}")
        ax.scatter(
            rows["seq_len"] * spread[group],
            rows[column],
            s=dot_size,
            color=colors[group],
            alpha=0.45,
            edgecolor="none",
        )


def seed_handles() -> list:
    """Legend entries that say what the lines and the dots of median_and_seeds are."""
    return [
        plt.Line2D([], [], color="0.3", marker="o", ms=4, lw=2, label="median over seeds"),
        plt.Line2D([], [], color="0.3", marker="o", ms=4, ls="", alpha=0.45, label="one seed"),
    ]


def arch_handles(names, colors) -> list:
    return [plt.Line2D([], [], color=colors[a], lw=2, label=a) for a in names]


def log_lengths(ax, seq_lens, which="x", open_ends=False) -> tuple[float, float]:
    """A log axis with ticks at the lengths studied. With ``open_ends`` it reaches beyond them,
    with ticks '< shortest' and '> longest' at the edges where ``interval`` puts what lies
    outside. Returns those edges."""
    seq_lens = list(seq_lens)
    edges = (seq_lens[0] / EDGE, seq_lens[-1] * EDGE)
    ticks, labels = seq_lens, [f"{t:g}" for t in seq_lens]
    if open_ends:
        ticks = [edges[0], *ticks, edges[1]]
        labels = [f"< {seq_lens[0]:g}", *labels, f"> {seq_lens[-1]:g}"]
    axis = ax.xaxis if which == "x" else ax.yaxis
    (ax.set_xscale if which == "x" else ax.set_yscale)("log")
    axis.set_ticks(ticks, labels)
    axis.set_minor_locator(plt.NullLocator())
    if open_ends:
        limits = (seq_lens[0] / LIMIT, seq_lens[-1] * LIMIT)
        (ax.set_xlim if which == "x" else ax.set_ylim)(*limits)
    return edges


def interval(ax, pos, point, low, high, censored, edges, color, vertical, size=8, label=None):
    """A value on a log T axis with its interval, across the axis at ``pos``. What lies beyond the
    axis (open ends: low 0, high inf; values off the lengths studied) is clipped to the edge and
    marked by a triangle pointing out; a NaN bound draws no interval on its side. A censored
    value (NaN when its table could not place it) is itself such a triangle, with ``label``
    beside it. Draws nothing for a value that is NaN and not censored."""
    lo_edge, hi_edge = edges
    if not finite(point):
        point = {"above": hi_edge, "below": lo_edge}.get(censored)
        if point is None:
            return
    point = min(max(point, lo_edge), hi_edge)
    low = point if pd.isna(low) else lo_edge if low <= lo_edge else min(low, point)  # NaN: none
    high = point if pd.isna(high) else hi_edge if high >= hi_edge else max(high, point)
    out = {True: ("v", "^"), False: ("<", ">")}[vertical]  # pointing to low, high

    def at(t, p=pos):
        return (p, t) if vertical else (t, p)

    ax.plot(*zip(at(low), at(high), strict=True), color=color, lw=1.8, solid_capstyle="butt")
    for end, marker in ((low, out[0]), (high, out[1])):
        if end == point:  # no interval on this side
            continue
        if end in edges:  # an open end: an arrow head at the edge
            ax.plot(*at(end), marker=marker, ms=size * 0.7, color=color, clip_on=False)
        else:
            ax.plot(*at(end), marker="|" if not vertical else "_", ms=size, color=color, mew=1.5)
    pointing = {"above": out[1], "below": out[0]}.get(censored, "o")
    ax.plot(
        *at(point),
        marker=pointing,
        ms=size * 1.3 if pointing != "o" else size,
        color=color,
        mec="white",
        mew=0.8,
        clip_on=False,
        zorder=5,
    )
    if label:
        inward = -1 if point >= hi_edge else 1
        ax.annotate(
            label,
            at(point),
            xytext=(8 * inward, 6) if not vertical else (8, 0),
            textcoords="offset points",
            color=color,
            fontsize=8,
            va="bottom",
            ha="left" if inward > 0 or vertical else "right",
            bbox=dict(fc="white", ec="none", alpha=0.8, pad=1),
        )  # readable over data


def references(ax, solved_below, null_level=None, lw=1.0, labels=True):
    """The memoryless baseline (= 1), 'solved' and, where it differs from 1, predicting nothing."""
    ax.axhline(
        1.0, color="0.3", ls="--", lw=lw, label="memoryless baseline (= 1)" if labels else None
    )
    if null_level is not None and not np.isclose(null_level, 1.0):
        ax.axhline(
            null_level,
            color="0.3",
            ls=":",
            lw=lw,
            label=f"predict nothing ({null_level:.3g})" if labels else None,
        )
    ax.axhline(
        solved_below,
        color="tab:green",
        ls="-.",
        lw=lw,
        label=f"solved (< {solved_below:g})" if labels else None,
    )


def panels(n_panels, rows=None, cols=None, width=3.2, height=2.9, sharey=True):
    """A grid of panels, by default up to 5 a row, wide enough for a legend at the right."""
    cols = cols or min(n_panels, 5)
    rows = rows or -(-n_panels // cols)
    return plt.subplots(
        rows,
        cols,
        figsize=(max(width * cols + 1.2, 9), height * rows),
        sharey=sharey,
        squeeze=False,
        layout="constrained",
    )


def empty(title: str, note: str):
    """A figure that says why it has nothing to show, so the report keeps its place."""
    fig, ax = plt.subplots(figsize=(7, 3), layout="constrained")
    ax.axis("off")
    ax.text(
        0.5, 0.5, note, ha="center", va="center", fontsize=12, color="0.3", transform=ax.transAxes
    )
    ax.set_title(title)
    return fig
