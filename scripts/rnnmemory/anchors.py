"""This study next to the published anchors (workflow/report/anchors.yaml), and why the answers
differ, from this study's own measurements: what the failed runs learned (memorised, kept only
the recent input, ...) and whether the budget check moved T50. pandas only."""

from __future__ import annotations

import pandas as pd

from .config import BASE
from .docs import t50_text

ANCHOR_COLUMNS = ["published", "their task", "what they solved", "this study: T50 per arch",
                  "where the settings differ"]  # fmt: skip


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
            "this study: T50 per arch": _t50s(horizon, a["our_task"]) if a.get("our_task")
            else "no comparable task",
            "where the settings differ": a["differs"],
        }
        for a in anchors
    ]  # fmt: skip
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
    """Per (task, arch): the remedies that moved T50 (docs.variant_comparison), and how many
    did not; a note when the remedies study was not run."""
    if comparison is None or comparison.empty:
        return [f"no remedies study found ({source})"]
    lines = []
    for (task, arch), group in comparison.groupby(["task", "arch"], sort=True):
        verdict = group["vs base (95% CIs)"]
        moved = group[verdict != "same"]
        parts = [f"{r['variant']} {r['vs base (95% CIs)']} ({r['variant T50']})"
                 for _, r in moved.iterrows()]  # fmt: skip
        same = ", ".join(group.loc[verdict == "same", "variant"])
        text = "; ".join(parts) if parts else "no remedy moved T50"
        lines.append(f"{arch} on {task} (base T50 {group['base T50'].iloc[0]}): {text}"
                     + (f"; within the base's interval: {same}" if same else ""))  # fmt: skip
    return lines


def budget_sentences(convergence: pd.DataFrame | None, source: str) -> list[str]:
    """Per (task, arch) of the budget check: whether T50 is budget-converged, with its T50 at
    every budget; a note when no budget check was run."""
    if convergence is None or convergence.empty:
        return [f"no budget check found ({source}): whether T50 moves with more updates is "
                "not measured for this study"]  # fmt: skip
    lines = []
    for _, row in convergence.iterrows():
        budgets = [f"{c.split(' (')[0]} {row[c]}" for c in convergence.columns
                   if c.endswith(")") and pd.notna(row[c])]  # fmt: skip
        verdict = {"yes": "budget-converged", "no": "NOT budget-converged"}.get(
            row["converged"], "budget convergence undecided"
        )
        lines.append(f"{row['arch']} on {row['task']}: {verdict} ({'; '.join(budgets)})")
    return lines
