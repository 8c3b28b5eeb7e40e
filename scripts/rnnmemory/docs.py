"""docs/results.md, written from the tables of named runs (never typed by hand): per study its
memory horizons, the budget check, the remedies, and where each number comes from (commit,
machine, wall time). pandas only."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from .config import BASE
from .docs_runs import (
    Bench,
    bench_block,
    cell_training_seconds,
    job_overhead_line,
    markdown_table,
    run_line,
)
from .tables import CELL


def interval(low, high) -> str:
    """'[41, 95]' with open ends written as such (0 and inf are the horizon table's open
    ends)."""
    lo = "open" if not _finite(low) or low == 0 else f"{low:.3g}"
    hi = "open" if not _finite(high) else f"{high:.3g}"
    return f"[{lo}, {hi}]"


def _finite(value) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(value)


def t50_text(row) -> str:
    """One horizon as text: '63 [41, 95]', '> 200 [150, open]' or '< 5 [open, 7.1]'."""
    if row["censored"] == "above":
        return f"> {row['longest']:g} {interval(row['t50_low'], row['t50_high'])}"
    if row["censored"] == "below":
        return f"< {row['shortest']:g} {interval(row['t50_low'], row['t50_high'])}"
    return f"{row['t50']:.3g} {interval(row['t50_low'], row['t50_high'])}"


def horizon_columns(horizon: pd.DataFrame) -> pd.DataFrame:
    """task, arch, variant, 'T50 [95% CI]', solved runs, in a reader's order."""
    rows = horizon.assign(
        T50=horizon.apply(t50_text, axis=1),
        solved=horizon["n_solved"].astype(int).astype(str)
        + " / "
        + horizon["n_runs"].astype(int).astype(str),
        not_base=horizon["variant"] != BASE,
    ).sort_values(["task", "arch", "not_base", "variant"], kind="stable")
    return rows[["task", "arch", "variant", "T50", "solved"]].rename(
        columns={"T50": "T50 [95% CI]", "solved": "runs solved"}
    )


def overlap(a, b) -> bool:
    """Whether two horizons' 95% intervals overlap (open ends reach 0 or infinity)."""
    lows = [0.0 if not _finite(r["t50_low"]) else r["t50_low"] for r in (a, b)]
    highs = [math.inf if not _finite(r["t50_high"]) else r["t50_high"] for r in (a, b)]
    return max(lows) <= min(highs)


def budget_convergence(horizon: pd.DataFrame, budgets: dict) -> pd.DataFrame:
    """Per (task, arch): the horizon at every budget (variant -> multiple of the base
    updates, base is 1) and whether it is budget-converged: the intervals at the two largest
    budgets overlap."""
    budgets = {BASE: 1, **budgets}
    order = sorted((m, v) for v, m in budgets.items() if v in set(horizon["variant"]))
    rows = []
    for (task, arch), group in horizon.groupby(["task", "arch"], sort=True):
        by_variant = {r["variant"]: r for _, r in group.iterrows()}
        row = {"task": task, "arch": arch}
        for multiple, variant in order:
            if variant in by_variant:
                row[f"{multiple:g}x updates ({variant})"] = t50_text(by_variant[variant])
        (_, second), (_, largest) = order[-2], order[-1]
        both = second in by_variant and largest in by_variant
        row["converged"] = (
            ("yes" if overlap(by_variant[second], by_variant[largest]) else "no") if both else "?"
        )
        rows.append(row)
    return pd.DataFrame(rows)


def variant_comparison(horizon: pd.DataFrame) -> pd.DataFrame:
    """Per (task, arch): T50 of the base and of every variant, and per variant whether its 95%
    interval separates from the base's ('longer', 'shorter') or overlaps it ('same')."""
    rows = []
    for (task, arch), group in horizon.groupby(["task", "arch"], sort=True):
        by_variant = {r["variant"]: r for _, r in group.iterrows()}
        if BASE not in by_variant:
            continue
        base = by_variant[BASE]
        for variant, row in by_variant.items():
            if variant == BASE:
                continue
            verdict = "same" if overlap(base, row) else (
                "longer" if _centre(row) > _centre(base) else "shorter")  # fmt: skip
            rows.append({"task": task, "arch": arch, "base T50": t50_text(base),
                         "variant": variant, "variant T50": t50_text(row),
                         "vs base (95% CIs)": verdict})  # fmt: skip
    return pd.DataFrame(rows)


def _centre(row) -> float:
    """Where a horizon sits, censored ones at their inner bound."""
    if row["censored"] == "above":
        return math.inf
    if row["censored"] == "below":
        return 0.0
    return row["t50"]


def outcome_counts(runs: pd.DataFrame) -> pd.DataFrame:
    """Runs per outcome label and arch (base variant): what the failures learned."""
    base = runs[runs["variant"] == BASE]
    counts = base.groupby(["task", "arch", "outcome"]).size().unstack(fill_value=0)
    return counts.reset_index()


def study_section(title: str, config_file: str, record: dict | None, tables: dict) -> list[str]:
    """One study's part of docs/results.md: where the numbers come from, its horizons and what
    its failed runs learned."""
    lines = [f"## {title}", "", f"Config `{config_file}`."]
    lines.append(f"Run: {run_line(record)}." if record else "Run: no record (study.json).")
    horizon = markdown_table(horizon_columns(tables["horizon"]))
    lines += ["", "Memory horizon T50 (95% profile-likelihood interval; `>`/`<`: beyond the",
              "lengths studied):", "", horizon, ""]  # fmt: skip
    if "runs" in tables and "outcome" in tables["runs"]:
        lines += ["Outcomes of the base variant's runs (rules in the README):", "",
                  markdown_table(outcome_counts(tables["runs"])), ""]  # fmt: skip
    if len(tables.get("jobs", ())) and "time_cell_seconds" in tables["runs"]:
        lines += [job_overhead_line(tables["runs"], tables["jobs"]), ""]
    return lines


@dataclass
class Study:
    """A finished study as docs/results.md reads it."""

    title: str
    config_file: str
    config: dict
    results: Path
    record: dict | None
    tables: dict

    def figure(self, task: str, name: str) -> Path:
        return self.results / "figures" / BASE / task / f"{name}-{task}-{BASE}.png"

    def doc_figure(self, task: str, name: str) -> str:
        return f"{self.results.name}-{name}-{task}.png"

    @property
    def budgets(self) -> dict:
        return (self.config.get("analysis") or {}).get("budget_variants") or {}


def budget_section(study: Study) -> list[str]:
    table = budget_convergence(study.tables["horizon"], study.budgets)
    return ["Budget check: T50 at each multiple of the base run's updates; **converged** when",
            "the 95% intervals at the two largest budgets overlap.", "",
            markdown_table(table), ""]  # fmt: skip


def backends(study: Study) -> str:
    """The backends that trained a study's runs ('?' where a run did not record one)."""
    runs = study.tables["runs"]
    names = runs["backend"].fillna("?") if "backend" in runs else pd.Series(["?"])
    return ", ".join(sorted(names.astype(str).unique()))


def _labels(one: Study, other: Study) -> list[str]:
    """Column labels of the two runs: their backends, or by role where those are the same."""
    names = [backends(one), backends(other)]
    return names if names[0] != names[1] else [f"{names[0]}, above", f"{names[1]}, check"]


def backend_comparison(one: Study, other: Study) -> pd.DataFrame:
    """The same study trained by two backends, per (task, arch) of the base variant: runs
    solved, T50 and whether the 95% intervals overlap, and how many seeds changed label."""
    names = _labels(one, other)
    keys = ["task", "arch"]
    horizons = [s.tables["horizon"][s.tables["horizon"]["variant"] == BASE] for s in (one, other)]
    runs = [s.tables["runs"][s.tables["runs"]["variant"] == BASE] for s in (one, other)]
    labels = runs[0].merge(runs[1], on=[*CELL, "seed"], suffixes=("_1", "_2"))
    flips = (labels["solved_1"] != labels["solved_2"]).groupby([labels[k] for k in keys]).sum()
    rows = []
    for (task, arch), first in horizons[0].groupby(keys, sort=True):
        second = horizons[1][(horizons[1]["task"] == task) & (horizons[1]["arch"] == arch)]
        if second.empty:
            continue
        a, b = first.iloc[0], second.iloc[0]
        rows.append({"task": task, "arch": arch,
                     f"solved ({names[0]})": f"{a['n_solved']:.0f} / {a['n_runs']:.0f}",
                     f"solved ({names[1]})": f"{b['n_solved']:.0f} / {b['n_runs']:.0f}",
                     "runs that changed label": int(flips.get((task, arch), 0)),
                     f"T50 ({names[0]})": t50_text(a), f"T50 ({names[1]})": t50_text(b),
                     "95% CIs overlap": "yes" if overlap(a, b) else "no"})  # fmt: skip
    return pd.DataFrame(rows)


def backend_section(one: Study, other: Study, command: str) -> list[str]:
    """docs/results.md's check that the default trainer changes no conclusion."""
    names = _labels(one, other)
    return [
        f"## The default study trained by {names[1]} ({names[0]} above)",
        "",
        f"`{command}`; run: {run_line(other.record) if other.record else 'no record'}.",
        "Single runs near the transition flip with float rounding, so the backends are",
        "compared on aggregates: solved runs and T50 intervals per (task, arch).",
        "",
        markdown_table(backend_comparison(one, other)),
        "",
        _cost_line(one, other, names),
        "",
    ]


def _cost_line(one: Study, other: Study, names: list[str]) -> str:
    """What the two runs' train jobs cost: their CPU time where both runs measured it the
    same way (in each job, or from Snakemake's benchmark files, which sample it and miss a
    job's last seconds; wall times also count the waits of jobs that shared a core, so they
    compare runs made with different --cores badly), else the training wall time."""
    jobs = [s.tables.get("jobs", pd.DataFrame()) for s in (one, other)]
    # where each run's CPU times come from: {True} in the jobs, {False} the benchmark files
    sources = [set(j["cpu_in_job"]) if "cpu_in_job" in j else {False} for j in jobs]
    cpu = [j.get("cpu_seconds") for j in jobs]
    if all(c is not None and len(c) and c.notna().all() for c in cpu) and (
        sources[0] == sources[1] and len(sources[0]) == 1
    ):
        how = "measured in each job" if True in sources[0] else "Snakemake's benchmark files"
        what, times = f"CPU time of the train jobs ({how})", [c.sum() for c in cpu]
    else:
        what = "Training time of the train jobs (wall)"
        times = [cell_training_seconds(s.tables["runs"]).sum() for s in (one, other)]
    if not times[0] > 0:
        return f"{what}: none recorded."
    return (
        f"{what}, summed: {times[0]:.0f} s ({names[0]}) against {times[1]:.0f} s "
        f"({names[1]}): {names[1]} took {times[1] / times[0]:.2f}x as long."
    )


def anchors_section(anchors: list[dict]) -> list[str]:
    keys = ["source", "task", "archs", "setting", "criterion", "result", "differs"]
    frame = pd.DataFrame([{k: _flat(a.get(k, "")) for k in keys} for a in anchors])
    return ["## Published anchors", "",
            "What the literature solved, in its own settings (`workflow/report/anchors.yaml`,",
            "each checked against the paper):", "", markdown_table(frame), ""]  # fmt: skip


def _flat(value) -> str:
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_flat(v)}" for k, v in value.items())
    if isinstance(value, list):
        return ", ".join(map(_flat, value))
    return str(value).replace("|", "/").replace("\n", " ")


def results_markdown(
    studies: list[Study],
    anchors: list[dict],
    figures: list[str],
    backend_check: tuple[Study, str] | None = None,
) -> str:
    """The page; backend_check: the default study (studies[0]) trained by the other backend,
    and the command that ran it."""
    lines = ["# Results", "",
             "_Written by `make docs` from the tables of the runs named below; change the code",
             "or rerun the studies, not this file._", ""]  # fmt: skip
    for study in studies:
        lines += study_section(study.title, study.config_file, study.record, study.tables)
        if study.budgets:
            lines += budget_section(study)
        elif (study.tables["horizon"]["variant"] != BASE).any():
            lines += ["Each variant against the base config: **longer** or **shorter** when the",
                      "95% intervals do not overlap, **same** when they do.", "",
                      markdown_table(variant_comparison(study.tables["horizon"])), ""]  # fmt: skip
        for task in study.config.get("tasks", []):
            present = [f for f in figures if study.figure(task, f).exists()]
            lines += [f"![{f} {task}]({study.doc_figure(task, f)})" for f in present[:1]]
        lines.append("")
    if backend_check:
        lines += backend_section(studies[0], *backend_check)
    lines += anchors_section(anchors)
    return "\n".join(lines).rstrip() + "\n"


README_BLOCKS = ("results", "bench")


def replace_block(text: str, name: str, block: str) -> str:
    """Put ``block`` between the README's <!-- name:start --> and <!-- name:end --> lines."""
    start, end = f"<!-- {name}:start -->", f"<!-- {name}:end -->"
    if start not in text or end not in text:
        raise ValueError(f"README.md has no {start} ... {end} block")
    head, rest = text.split(start, 1)
    _, tail = rest.split(end, 1)
    return f"{head}{start}\n{block.rstrip()}\n{end}{tail}"


def readme_blocks(studies: list[Study], benches: list[Bench]) -> dict[str, str]:
    default = studies[0]
    horizon = horizon_columns(default.tables["horizon"])
    horizon = horizon[horizon["variant"] == BASE].drop(columns="variant")
    run = run_line(default.record) if default.record else "no record"
    more = "More, with the budget check and the remedies: [docs/results.md](docs/results.md)."
    results = [f"Default study ({run}):", "", markdown_table(horizon), "", more]
    return {"results": "\n".join(results), "bench": bench_block(benches, short=True)}
