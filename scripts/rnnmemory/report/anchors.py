"""This study next to the published anchors (workflow/report/anchors.yaml), and why the answers
differ, from this study's own measurements: what the failed runs learned (memorised, kept only
the recent input, ...) and whether the budget check moved T50. pandas only."""

from __future__ import annotations

import pandas as pd

from rnnmemory.analysis.inference import ratio_text, slope_text
from rnnmemory.core.config import BASE
from rnnmemory.report.docs import t50_text

ANCHOR_COLUMNS = [
    "published",
    "their task",
    "what they solved",
    "this study: T50 per arch",
    "where the settings differ",
]


def _t50s(horizon: pd.DataFrame, task: str) -> str:
    rows = horizon[(horizon["variant"] == BASE) & (horizon["task"] == task)]
    if rows.empty:
        return "task not in this study"
    return f"{task}: " + "; ".join(f"{r['arch']} {t50_text(r)}" for _, r in rows.iterrows())


def anchors_table(anchors: list[dict], horizon: pd.DataFrame) -> pd.DataFrame:
    """One row per anchor: source, its task, its result, this study's T50 on the task it is
    compared with (``our_task``), and where the settings differ."""
    rows = [
        {
            "published": a["source"].split(",")[0],
            "their task": a["task"],
            "what they solved": a["result"],
            "this study: T50 per arch": _t50s(horizon, a["our_task"])
            if a.get("our_task")
            else "no comparable task",
            "where the settings differ": a["differs"],
        }
        for a in anchors
    ]
    return pd.DataFrame(rows, columns=ANCHOR_COLUMNS)


def failure_sentences(runs: pd.DataFrame) -> list[str]:
    """Per (task, arch) of the base variant with failed runs: what they learned instead, as
    shares of its failures ('lstm on adding: 31 of 80 runs failed; 20 memorised, ...')."""
    base = runs[runs["variant"] == BASE]
    lines = []
    for (task, arch), group in base.groupby(["task", "arch"], sort=True):
        failed = group[group["outcome"] != "solved"]
        if failed.empty:
            continue
        counts = failed["outcome"].value_counts()
        parts = ", ".join(f"{n} {label.replace('_', ' ')}" for label, n in counts.items())
        lines.append(f"{arch} on {task}: {len(failed)} of {len(group)} runs failed ({parts})")
    return lines


def remedy_sentences(comparison: pd.DataFrame | None, source: str) -> list[str]:
    """Per (task, arch): the remedies that moved T50 by the paired test (docs.variant_comparison)
    and those with no detectable difference; a neutral note when the study has not run."""
    if comparison is None or comparison.empty:
        return [f"not measured in this checkout: {source} ({REMEDIES_HINT})"]
    verdict_column = "vs base (paired, Holm)"
    lines = []
    for (task, arch), group in comparison.groupby(["task", "arch"], sort=True):
        moved = group[~group[verdict_column].str.startswith("no detectable")]
        parts = [f"{r['variant']} {r[verdict_column]}" for _, r in moved.iterrows()]
        same = ", ".join(group.loc[~group.index.isin(moved.index), "variant"])
        text = "; ".join(parts) if parts else "no remedy moved T50 detectably"
        lines.append(
            f"{arch} on {task} (base T50 {group['base T50'].iloc[0]}): {text}"
            + (f"; no detectable difference: {same}" if same else "")
        )
    return lines


REMEDIES_HINT = 'make study ARGS="--configfile studies/remedies.yaml" adds it'
BUDGET_HINT = 'make study ARGS="--configfile studies/budget.yaml" adds it'


def budget_effect(row) -> str:
    """What the budget check measured for one arch, in words."""
    if row["converged"] == "yes":
        return "budget-converged"
    if row["slope_low"] > 0:
        return "T50 grows with the budget"
    if row["slope_high"] < 0:
        return "T50 shrinks with the budget"
    return "no detectable trend in the budget (equivalence not shown)"


def budget_sentences(convergence: pd.DataFrame | None, source: str) -> list[str]:
    """Per (task, arch) of the budget check (inference.budget_convergence): converged or not
    shown, with the T50 ratio and the slope in log budget; a neutral note when not run."""
    if convergence is None or convergence.empty:
        return [f"not measured in this checkout: {source} ({BUDGET_HINT})"]
    lines = []
    for _, row in convergence.iterrows():
        ratio = ratio_text(row["ratio"], row["ratio_low"], row["ratio_high"])
        lines.append(
            f"{row['arch']} on {row['task']}: {budget_effect(row)} (T50 ratio "
            f"{row['compared']} {ratio}, converged: {row['converged']}; slope of log "
            f"T50 in log budget {_slope(row)})"
        )
    return lines


def _slope(row) -> str:
    return slope_text(row["slope"], row["slope_low"], row["slope_high"])


def anchors_intro(convergence: pd.DataFrame | None, source: str) -> str:
    """The sentence before the anchors' table: what this study's budget check measured (not
    what one would expect), since every anchor trains far longer."""
    longer = "Every anchor trains far longer than this study (5e3 to 5e6 updates)"
    if convergence is None or convergence.empty:
        return (
            f"{longer}; whether that explains a difference is not measured in this "
            f"checkout (no budget study: {source})"
        )
    effects = {}
    for _, row in convergence.iterrows():
        effects.setdefault(budget_effect(row), []).append(f"{row['arch']} ({_slope(row)})")
    parts = [f"{effect} for {', '.join(archs)}" for effect, archs in effects.items()]
    return (
        f"{longer}. The budget check above measured (slope of log T50 in log budget): "
        + "; ".join(parts)
        + ". Where T50 grows with the budget, longer training may "
        "explain part of a difference; where it does not, it cannot"
    )
