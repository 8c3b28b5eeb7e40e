"""The report's first page, written from the tables: per task the headline figure (inline), one
sentence per architecture on its memory horizon T50, and links that open each figure in one
click. reStructuredText with raw HTML blocks (the Snakemake report renders both)."""

from __future__ import annotations

from urllib.parse import quote

import pandas as pd

from rnnmemory.core.archs import ARCH_RECORDS
from rnnmemory.core.config import BASE
from rnnmemory.core.figures import FIGURES
from rnnmemory.report.anchors import (
    anchors_intro,
    anchors_table,
    budget_sentences,
    failure_sentences,
    remedy_sentences,
)
from rnnmemory.report.docs import horizon_columns, t50_text
from rnnmemory.report.pages import html_table, inline_png


def _bound(value) -> str:
    return "open" if not pd.notna(value) or value in (0, float("inf")) else f"{value:.3g}"


FEW_SEEDS = 10  # below this many seeds per length, the first page says the estimate is rough


def horizon_claim(row) -> str:
    """What one horizon row says, in words that claim no more than the data (fit_note)."""
    note, low, high = row.get("fit_note", ""), row["t50_low"], row["t50_high"]
    if note == "all_solved":
        return (
            f"solves {row['task']} in all {int(row['n_runs'])} runs, up to T = "
            f"{row['longest']:g}: its T50 lies beyond the lengths studied (no upper "
            "estimate)"
        )
    if note == "none_solved":
        return f"solves {row['task']} in none of its runs, not even at T = {row['shortest']:g}"
    if note == "separated":
        return (
            f"solves {row['task']} in every run up to T = {low:g} and in none from "
            f"T = {high:g}: T50 lies between the two (no point estimate)"
        )
    if note == "flat":
        return (
            f"solves {row['task']} about as often at every length studied (or more often "
            "at longer ones): no horizon can be read off"
        )
    if row["censored"] == "above":
        return (
            f"the fit puts T50 on {row['task']} beyond the longest length studied, T = "
            f"{row['longest']:g}; the data rule out only T50 below {_bound(low)} "
            "(95%)"
        )
    if row["censored"] == "below":
        return (
            f"the fit puts T50 on {row['task']} below the shortest length studied, T = "
            f"{row['shortest']:g}; the data rule out only T50 above {_bound(high)} "
            "(95%)"
        )
    capped = (
        ("; the data cannot tell the curve from a step (the slope's bound is inside its interval)")
        if note == "slope_cap"
        else ""
    )
    return (
        f"half of its seeds still solve {row['task']} at T50 = {row['t50']:.3g} (95% CI "
        f"{_bound(low)} to {_bound(high)}){capped}"
    )


def horizon_sentence(row, cell: pd.Series | None) -> str:
    """'- **gru**: half of its seeds still solve adding at T50 = 63 (95% CI 41 to 95),
    fitted to 80 runs (20 seeds per length); at T = 40 it solves 17 of 20.' for one row."""
    sentence = f"- **{row['arch']}**: {horizon_claim(row)}, fitted to {int(row['n_runs'])} runs"
    if cell is not None:
        seeds = int(cell["n"])
        sentence += f" ({seeds} seeds per length)"
        if seeds < FEW_SEEDS:
            sentence += f" (**caution**: under {FEW_SEEDS} seeds per length, a rough estimate)"
        sentence += f"; at T = {cell['seq_len']:g} it solves {cell['n_solved']:g} of {seeds}"
    return sentence + "."


def figure_link(path: str, label: str) -> str:
    """An RST link that shows a report result (a figure) in one click."""
    key = quote(path)
    action = (
        f"javascript:app.showResultInfo('{key}');app.setView({{content:'img',"
        f"contentPath:results['{key}'].data_uri,resultPath:'{key}'}})"
    )
    return f"`{label} <{action}>`__"


def _raw(html: str) -> list[str]:
    return ["", ".. raw:: html", "", *("   " + line for line in html.split("\n")), ""]


def answer_lines(horizon: pd.DataFrame) -> list[str]:
    """The study's answer for the terminal, after `make study`: per task and arch of the base
    variant, its T50 with the interval, in the words of the tables ('> 40 (all 80 solved; no
    upper estimate)'), archs in the registry's order."""
    rank = {arch: i for i, arch in enumerate(ARCH_RECORDS)}
    base = horizon[horizon["variant"] == BASE].assign(rank=horizon["arch"].map(rank))
    width = max((len(a) for a in base["arch"]), default=0)
    lines = []
    for task, rows in base.sort_values(["task", "rank"], kind="stable").groupby("task"):
        lines.append(f"{task}:")
        lines += [f"  {r['arch']:<{width}}  T50 {t50_text(r)}" for _, r in rows.iterrows()]
    return lines


# what must be one value across a study's runs for its tables to describe one experiment
UNIFORM = {"code_hash": "code versions (codehash.py)", "backend": "training backends"}


def mixed_runs_warning(runs: pd.DataFrame | None) -> list[str]:
    """A warning at the top of the first page when the study's runs were trained by different
    code or backends (a run trained before the code was recorded counts as 'not recorded'):
    the tables would otherwise mix them silently."""
    found = []
    for column, what in UNIFORM.items():
        if runs is None or column not in runs:
            continue
        counts = runs[column].astype("string").fillna("not recorded").value_counts()
        if len(counts) > 1:
            listed = ", ".join(f"{value} ({n} runs)" for value, n in counts.items())
            found.append(f"the runs were trained with different {what}: {listed}.")
    if not found:
        return []
    advice = (
        "Rerun the study: Snakemake's params trigger retrains the runs of older code; "
        "a backend forced in the config trains every run the same way."
    )
    return [
        ".. warning::",
        "",
        *[f"   {line[0].upper()}{line[1:]}" for line in found],
        f"   {advice}",
        "",
    ]


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
    budget check (``convergence``, inference.budget_convergence), the remedies
    (``remedies``, docs.variant_comparison), what the failed ``runs`` learned,
    and this study next to the published ``anchors``."""
    lines = [*mixed_runs_warning(runs)]
    lines += [
        "**What the tables say.** The memory horizon T50 is the sequence length at which half "
        "the seeds still solve the task: a logistic fit in log T to every run (each run one "
        "independent trial; a lapse term for runs that fail whatever T is), with a 95% "
        "interval.",
        "",
    ]
    # archs in the registry's order (rnn, gru, lstm), the base variant first in each task
    rank = {arch: i for i, arch in enumerate(ARCH_RECORDS)}
    order = horizon.assign(not_base=horizon["variant"] != BASE, arch_rank=horizon["arch"].map(rank))
    order = order.sort_values(["task", "not_base", "variant", "arch_rank"], kind="stable")
    for task, task_rows in order.groupby("task", sort=False):
        lines += [f"``{task}``", "~" * (len(task) + 4), ""]
        png, paths = figures.get(task, (None, {}))
        for variant, rows in task_rows.groupby("variant", sort=False):
            if variant != BASE:
                lines += [f"Variant ``{variant}``:", ""]
            for _, row in rows.iterrows():
                cells = summary[
                    (summary["variant"] == variant)
                    & (summary["task"] == task)
                    & (summary["arch"] == row["arch"])
                ]
                last = cells.sort_values("seq_len").iloc[-1] if len(cells) else None
                lines.append(horizon_sentence(row, last))
            lines.append("")
        if png is not None:  # the answer in words first, then the figure
            lines += _raw(inline_png(png, f"memory horizon of {task}", width="760px"))
        if paths:
            links = [figure_link(path, FIGURES[name].title) for name, path in paths.items()]
            lines += ["Figures: " + " · ".join(links), ""]
    lines += [
        "**Memory horizon per task, architecture and variant** (``tables/horizon.csv``; "
        "seed effect: SD of a seed's log-odds shared across lengths, 0 when runs at "
        "different lengths are independent trials):",
        "",
    ]
    lines += _raw(html_table(horizon_columns(horizon)))
    lines += [
        "**Does the training budget move T50?** (budget-converged: the 95% interval of "
        "the T50 ratio of the two largest budgets lies inside [0.8, 1.25])",
        "",
    ]
    lines += [f"- {s}." for s in budget_sentences(convergence, budget_source)] + [""]
    lines += [
        "**Do the remedies move T50?** (each init or clipping against the base config, "
        "paired by seed and length: McNemar's exact test, Holm-corrected)",
        "",
    ]
    lines += [f"- {s}." for s in remedy_sentences(remedies, remedies_source)] + [""]
    if runs is not None and "outcome" in runs:
        lines += [
            "**What the failed runs learned instead** (outcome rules: README, *What the "
            "pipeline does*, Outcome):",
            "",
        ]
        lines += [f"- {s}." for s in failure_sentences(runs)] + [""]
    if anchors:
        lines += [
            "**This study next to the published anchors.** "
            + anchors_intro(convergence, budget_source)
            + " (``workflow/report/anchors.yaml``):",
            "",
        ]
        lines += _raw(html_table(anchors_table(anchors, horizon)))
    return "\n".join(lines) + "\n"
