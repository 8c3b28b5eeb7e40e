"""The report's first page, written from the tables: per task the headline figure (inline), one
sentence per architecture on its memory horizon T50, and links that open each figure in one
click. reStructuredText with raw HTML blocks (the Snakemake report renders both)."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd

from .anchors import anchors_table, budget_sentences, failure_sentences, remedy_sentences
from .archs import ARCH_RECORDS
from .config import BASE
from .registry import FIGURES
from .report_pages import html_table, inline_png

HORIZON_COLUMNS = ["variant", "task", "arch", "t50", "t50_low", "t50_high", "censored",
                   "n_solved", "n_runs"]  # fmt: skip


def _bound(value) -> str:
    return "open" if not pd.notna(value) or value in (0, float("inf")) else f"{value:.3g}"


def horizon_sentence(row, cell: pd.Series | None) -> str:
    """'gru remembers up to T50 = 63 (95% CI 41 to 95) ...' for one horizon row."""
    low, high = row["t50_low"], row["t50_high"]
    if row["censored"] == "above":
        claim = (f"remembers beyond the longest length studied: T50 > {row['longest']:g} "
                 f"(95% CI lower bound {_bound(low)})")  # fmt: skip
    elif row["censored"] == "below":
        claim = (f"does not remember even the shortest length studied: T50 < "
                 f"{row['shortest']:g} (95% CI upper bound {_bound(high)})")  # fmt: skip
    else:
        interval = f"{_bound(low)} to {_bound(high)}"
        claim = f"remembers up to T50 = {row['t50']:.3g} (95% CI {interval})"
    sentence = f"- **{row['arch']}** {claim}, fitted to {int(row['n_runs'])} runs"
    if cell is not None:
        sentence += (f"; at T = {cell['seq_len']:g} it solves {cell['n_solved']:g} of "
                     f"{cell['n']:g} seeds")  # fmt: skip
    return sentence + "."


def figure_link(path: str, label: str) -> str:
    """An RST link that shows a report result (a figure) in one click."""
    key = quote(path)
    action = (f"javascript:app.showResultInfo('{key}');app.setView({{content:'img',"
              f"contentPath:results['{key}'].data_uri,resultPath:'{key}'}})")  # fmt: skip
    return f"`{label} <{action}>`__"


def _raw(html: str) -> list[str]:
    return ["", ".. raw:: html", "", *("   " + line for line in html.split("\n")), ""]


def headline_rst(
    horizon: pd.DataFrame,
    summary: pd.DataFrame,
    figures: dict,
    runs: pd.DataFrame | None = None,
    convergence: pd.DataFrame | None = None,
    budget_source: str = "",
    anchors: list | None = None,
    remedies: pd.DataFrame | None = None,
    remedies_source: str = "",
) -> str:
    """``figures``: task -> (headline PNG bytes, {figure name: report path}) of the base
    variant. Variants other than base get their own sentences after the base ones. Then the
    budget check (``convergence``, docs.budget_convergence), what the failed ``runs`` learned,
    and this study next to the published ``anchors``."""
    lines = [
        "**What the tables say.** The memory horizon T50 is the sequence length at which a "
        "logistic fit in log T to every run says half the seeds solve the task.",
        "",
    ]
    # archs in the registry's order (rnn, gru, lstm), the base variant first in each task
    rank = {arch: i for i, arch in enumerate(ARCH_RECORDS)}
    order = horizon.assign(not_base=horizon["variant"] != BASE,
                           arch_rank=horizon["arch"].map(rank))  # fmt: skip
    order = order.sort_values(["task", "not_base", "variant", "arch_rank"], kind="stable")
    for task, task_rows in order.groupby("task", sort=False):
        lines += [f"``{task}``", "~" * (len(task) + 4), ""]
        png, paths = figures.get(task, (None, {}))
        if png is not None:
            lines += _raw(inline_png(png, f"memory horizon of {task}", width="760px"))
        for variant, rows in task_rows.groupby("variant", sort=False):
            if variant != BASE:
                lines += [f"Variant ``{variant}``:", ""]
            for _, row in rows.iterrows():
                cells = summary[(summary["variant"] == variant) & (summary["task"] == task)
                                & (summary["arch"] == row["arch"])]  # fmt: skip
                last = cells.sort_values("seq_len").iloc[-1] if len(cells) else None
                lines.append(horizon_sentence(row, last))
            lines.append("")
        if paths:
            links = [figure_link(path, FIGURES[name].title) for name, path in paths.items()]
            lines += ["Figures: " + " · ".join(links), ""]
    table = horizon[[c for c in HORIZON_COLUMNS if c in horizon]]
    lines += ["**Memory horizon per task, architecture and variant** (``tables/horizon.csv``; "
              "0 or inf: an open end of the interval):", ""]  # fmt: skip
    lines += _raw(html_table(table))
    lines += ["**Does the training budget move T50?** (budget-converged: its 95% intervals at "
              "the two largest budgets overlap)", ""]  # fmt: skip
    lines += [f"- {s}." for s in budget_sentences(convergence, budget_source)] + [""]
    if remedies_source:
        lines += ["**Do the remedies move T50?** (each init or clipping against the base config; "
                  "longer or shorter: the 95% intervals do not overlap)", ""]  # fmt: skip
        lines += [f"- {s}." for s in remedy_sentences(remedies, remedies_source)] + [""]
    if runs is not None and "outcome" in runs:
        lines += ["**What the failed runs learned instead** (outcome rules: README, *What each "
                  "run learned*):", ""]  # fmt: skip
        lines += [f"- {s}." for s in failure_sentences(runs)] + [""]
    if anchors:
        lines += [
            "**This study next to the published anchors.** No anchor uses this study's "
            "criterion or budget; every one trains far longer (5e3 to 5e6 updates), so a "
            "shorter horizon here is expected (``workflow/report/anchors.yaml``):",
            "",
        ]
        lines += _raw(html_table(anchors_table(anchors, horizon)))
    return "\n".join(lines) + "\n"
