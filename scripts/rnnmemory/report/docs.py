"""docs/results.md, written from the tables of named runs (never typed by hand): per study its
memory horizons, the budget check, the remedies, and where each number comes from (commit,
machine, wall time). pandas only."""

from __future__ import annotations

import math
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnmemory.analysis.inference import (
    budget_convergence,
    ratio_text,
    seed_effect_table,
    slope_text,
)
from rnnmemory.core.config import BASE
from rnnmemory.report.docs_runs import (
    Bench,
    bench_block,
    job_overhead_line,
    markdown_table,
    run_line,
)


def interval(low, high) -> str:
    """'[41, 95]' with open ends written as such (0 and inf are the horizon table's open
    ends)."""
    return f"[{_number(low)}, {_number(high)}]"


def _number(value) -> str:
    """A bound of a horizon: 'open' where it is one (0, inf, NaN)."""
    return "open" if not _finite(value) or value == 0 else f"{value:.3g}"


def _finite(value) -> bool:
    return value is not None and not pd.isna(value) and math.isfinite(value)


def t50_text(row) -> str:
    """One horizon as text that says what the data say (``fit_note``, horizon.py): '63 [41,
    95]', '> 40 (95% lower bound 36)', '> 40 (all 80 solved; no upper estimate)', 'between 20
    and 40 (separated; no point estimate)', ..."""
    note, n = row.get("fit_note", ""), f"{row['n_runs']:.0f}"
    low, high = row["t50_low"], row["t50_high"]
    if note == "all_solved":
        return f"> {row['longest']:g} (all {n} solved; no upper estimate)"
    if note == "none_solved":
        return f"< {row['shortest']:g} (none of {n} solved; no estimate)"
    if note == "separated":
        return f"between {low:g} and {high:g} (separated; no point estimate)"
    if note == "flat":
        return f"no horizon (success does not fall with T) {interval(low, high)}"
    if row["censored"] == "above":
        return f"> {row['longest']:g} (95% lower bound {_number(low)})"
    if row["censored"] == "below":
        return f"< {row['shortest']:g} (95% upper bound {_number(high)})"
    capped = " (as steep as a step)" if note == "slope_cap" else ""
    return f"{row['t50']:.3g} {interval(low, high)}{capped}"


def seed_sd_text(row) -> str:
    """The seed effect as text: '0.4 [0, 1.9]'; 'not determined [0.5, open]' where the best
    fit is at the grid's bound; '-' where nothing varies (every run solved, or none)."""
    low, high = row.get("seed_sd_low"), row.get("seed_sd_high")
    if not _finite(low):
        return "-"
    span = f"[{low:.2g}, {'open' if not _finite(high) else f'{high:.2g}'}]"
    point = f"{row['seed_sd']:.2g}" if _finite(row.get("seed_sd")) else "not determined"
    return f"{point} {span}"


def horizon_columns(horizon: pd.DataFrame) -> pd.DataFrame:
    """task, arch, variant, 'T50 [95% CI]', solved runs, seed effect, in a reader's order."""
    rows = horizon.assign(
        T50=horizon.apply(t50_text, axis=1),
        solved=horizon["n_solved"].astype(int).astype(str)
        + " / "
        + horizon["n_runs"].astype(int).astype(str),
        seed=horizon.apply(seed_sd_text, axis=1),
        not_base=horizon["variant"] != BASE,
    ).sort_values(["task", "arch", "not_base", "variant"], kind="stable")
    return rows[["task", "arch", "variant", "T50", "solved", "seed"]].rename(
        columns={"T50": "T50 [95% CI]", "solved": "runs solved", "seed": "seed effect SD"}
    )


def budget_table(runs: pd.DataFrame, horizon: pd.DataFrame, budgets: dict) -> pd.DataFrame:
    """Per (task, arch): T50 at every budget (variant -> multiple of the base's updates) and
    the budget check (inference.budget_convergence): the ratio of the two largest budgets'
    T50s, whether it is inside the equivalence margin, and the slope in log budget."""
    budgets = {BASE: 1, **budgets}
    check = budget_convergence(runs, budgets).set_index(["task", "arch"])
    rows = []
    for (task, arch), group in horizon.groupby(["task", "arch"], sort=True):
        by_variant = {r["variant"]: r for _, r in group.iterrows()}
        row = {"task": task, "arch": arch}
        for variant, multiple in sorted(budgets.items(), key=lambda item: item[1]):
            if variant in by_variant:
                row[f"{multiple:g}x updates ({variant})"] = t50_text(by_variant[variant])
        if (task, arch) in check.index:
            c = check.loc[(task, arch)]
            row[f"T50 ratio {c['compared']}"] = ratio_text(
                c["ratio"], c["ratio_low"], c["ratio_high"]
            )
            row["converged"] = c["converged"]
            row["slope in log budget"] = slope_text(c["slope"], c["slope_low"], c["slope_high"])
        rows.append(row)
    return pd.DataFrame(rows)


def variant_comparison(comparisons: pd.DataFrame, horizon: pd.DataFrame) -> pd.DataFrame:
    """Per (task, arch, variant): both T50s, the discordant pairs and the paired verdict
    (``tables/comparisons``, inference.paired_comparisons)."""
    fits = horizon.set_index(["task", "arch", "variant"])
    rows = []
    for _, c in comparisons.iterrows():
        base, variant = (fits.loc[(c["task"], c["arch"], v)]
                         for v in (c["reference"], c["variant"]))  # fmt: skip
        rows.append({"task": c["task"], "arch": c["arch"], "base T50": t50_text(base),
                     "variant": c["variant"], "variant T50": t50_text(variant),
                     "solved only by the variant / only by the base":
                         f"{c['gained']:.0f} / {c['lost']:.0f} of {c['pairs']:.0f} pairs",
                     "vs base (paired, Holm)": c["verdict"]})  # fmt: skip
    return pd.DataFrame(rows)


def overlap_verdict(base, variant) -> str:
    """The old rule, kept only to say why a verdict changed: 'same' when the two 95% intervals
    overlap (open ends reach 0 or infinity), else 'longer' or 'shorter'."""
    lows = [r["t50_low"] if _finite(r["t50_low"]) else 0.0 for r in (base, variant)]
    highs = [r["t50_high"] if _finite(r["t50_high"]) else math.inf for r in (base, variant)]
    if max(lows) <= min(highs):
        return "same"
    return "longer" if variant["t50_low"] > base["t50_high"] else "shorter"


def verdict_changes(old: pd.DataFrame, comparisons: pd.DataFrame, horizon: pd.DataFrame):
    """Per (task, arch, variant) whose verdict changed: the old verdict (overlap rule, old
    runs), the overlap rule on the new runs and the paired verdict, and why it changed: the
    test (the old rule still says the old verdict on the new runs), the runs (the old rule on
    the new runs agrees with the paired test), or both."""
    fits = horizon.set_index(["task", "arch", "variant"])
    rows = []
    for _, c in comparisons.iterrows():
        key = (c["task"], c["arch"], c["variant"])
        before = old[(old["task"] == key[0]) & (old["arch"] == key[1]) & (old["variant"] == key[2])]
        if before.empty:
            continue
        was = before["verdict"].iloc[0]
        now = c["verdict"].split(" (")[0].replace("no detectable difference", "same")
        if now == was:
            continue
        rule_now = overlap_verdict(fits.loc[(*key[:2], c["reference"])], fits.loc[key])
        why = ("the paired test (the overlap rule still says so on the new runs)" if rule_now == was
               else "the new runs and intervals (the overlap rule on them agrees)"
               if rule_now == now else "both the new runs and the paired test")  # fmt: skip
        rows.append({"task": key[0], "arch": key[1], "variant": key[2], "before": was,
                     "overlap rule, new runs": rule_now, "now": c["verdict"],
                     "why": why})  # fmt: skip
    return pd.DataFrame(rows)


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
    lines += ["", "Memory horizon T50, the length at which half the seeds still solve the task",
              "(95% profile-likelihood interval; `>`/`<`: beyond the lengths studied), and the",
              "seed effect (SD of a seed's log-odds shared across lengths, 95% interval; 0:",
              "runs at different lengths are independent trials):", "", horizon, ""]  # fmt: skip
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
    old_verdicts: pd.DataFrame | None = None  # verdicts by the old overlap rule, if kept
    old_streams: pd.DataFrame | None = None  # runs of the same config with the old streams

    def figure(self, task: str, name: str) -> Path:
        return self.results / "figures" / BASE / task / f"{name}-{task}-{BASE}.png"

    def doc_figure(self, task: str, name: str) -> str:
        return f"{self.results.name}-{name}-{task}.png"

    @property
    def budgets(self) -> dict:
        return (self.config.get("analysis") or {}).get("budget_variants") or {}


def budget_section(study: Study) -> list[str]:
    table = budget_table(study.tables["runs"], study.tables["horizon"], study.budgets)
    lines = ["Budget check: T50 at each multiple of the base run's updates. **Converged** only",
             "when the 95% interval of the T50 ratio of the two largest budgets lies inside",
             "[0.8, 1.25] (an equivalence margin), else **not shown**; and the slope of log T50",
             "against log budget (0: the budget does not matter), with its 95% interval.", "",
             markdown_table(table), ""]  # fmt: skip
    if study.old_verdicts is not None and "converged" in table:
        old = study.old_verdicts.set_index(["task", "arch"])["verdict"]
        now = table.set_index(["task", "arch"])
        rows = [{"task": task, "arch": arch, "before (intervals overlap)": old[(task, arch)],
                 "now": now.loc[(task, arch), "converged"]}
                for task, arch in now.index if (task, arch) in old.index
                and old[(task, arch)] != now.loc[(task, arch), "converged"]]  # fmt: skip
        lines += ["Verdicts that changed since the overlap rule (the run of the old ones is named",
                  f"in `{study.old_verdicts.attrs.get('source', '?')}`): the old rule could not",
                  "fail (an interval with an open end overlaps everything), and the study was",
                  "redesigned and retrained since.", "",
                  markdown_table(pd.DataFrame(rows)) if rows else "None.", ""]  # fmt: skip
    return lines


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


def seed_effect_section(study: Study) -> list[str]:
    """The seed effect of this study's runs next to that of the same config trained with the
    old streams (one initial network per seed at every T), both measured by
    inference.seed_effect_table: what made the runs independent (docs/statistics.md)."""
    old = seed_effect_table(study.old_streams).set_index(["task", "arch"])
    new = study.tables["horizon"].set_index(["variant", "task", "arch"]).loc[BASE]
    rows = [{"task": task, "arch": arch,
             "old streams (one network per seed)": seed_sd_text(old.loc[(task, arch)]),
             "own stream per (task, T, seed)": seed_sd_text(row)}
            for (task, arch), row in new.iterrows() if (task, arch) in old.index]  # fmt: skip
    return ["Seed effect (SD of a seed's log-odds shared across lengths, 95% interval) of these",
            "runs and of the same config trained with the old streams (runs in",
            f"`{study.old_streams.attrs.get('source', '?')}`, which names their commit):", "",
            markdown_table(pd.DataFrame(rows)), ""]  # fmt: skip


def comparison_section(study: Study) -> list[str]:
    """Every variant against the base (paired), and which verdicts changed since the old rule
    where the study keeps its old verdicts."""
    comparisons = study.tables["comparisons"]
    lines = ["Each variant against the base config, on the runs they share (same dataset and",
             "initial stream per (task, T, seed)): McNemar's exact test on the pairs where one",
             "solved and the other did not, Holm-corrected over the comparisons that can reach",
             "p < 0.05; **longer** / **shorter** at p < 0.05, with the T50 ratio (variant /",
             "base) and its 95% interval (no point estimate where an arm has none). The test",
             "asks whether the variant solves more runs, the ratio where half the seeds solve;",
             "where the ratio's interval excludes 1 without the test, the verdict says so",
             "(docs/statistics.md).", "",
             markdown_table(variant_comparison(comparisons, study.tables["horizon"])),
             ""]  # fmt: skip
    if study.old_verdicts is not None and "variant" in study.old_verdicts:
        changes = verdict_changes(study.old_verdicts, comparisons, study.tables["horizon"])
        lines += ["Verdicts that changed since the overlap rule (the run of the old verdicts is",
                  f"named in `{study.old_verdicts.attrs.get('source', '?')}`; the runs were",
                  "retrained since, with their own streams per (task, T, seed)):", "",
                  markdown_table(changes) if len(changes) else "None.", ""]  # fmt: skip
    return lines


def results_markdown(
    studies: list[Study],
    anchors: list[dict],
    figures: list[str],
    checks: list[str] | None = None,
) -> str:
    """The page; ``checks``: more sections before the anchors (docs_backends.backend_section:
    the default study trained by the other backend)."""
    lines = ["# Results", "",
             "_Written by `make docs` from the tables of the runs named below; change the code",
             "or rerun the studies, not this file._", ""]  # fmt: skip
    for study in studies:
        lines += study_section(study.title, study.config_file, study.record, study.tables)
        if study.old_streams is not None and "seed_sd" in study.tables["horizon"]:
            lines += seed_effect_section(study)
        if study.budgets:
            lines += budget_section(study)
        if (study.tables["horizon"]["variant"] != BASE).any():
            lines += comparison_section(study)
        for task in study.config.get("tasks", []):
            present = [f for f in figures if study.figure(task, f).exists()]
            lines += [f"![{f} {task}]({study.doc_figure(task, f)})" for f in present[:1]]
        lines.append("")
    lines += checks or []
    lines += anchors_section(anchors)
    return "\n".join(lines).rstrip() + "\n"


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
