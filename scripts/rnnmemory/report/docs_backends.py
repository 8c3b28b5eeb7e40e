"""docs/results.md's check that the default trainer changes no conclusion: the default study
trained by the other backend, compared run by run (paired) and by what its train jobs cost.
pandas only."""

from __future__ import annotations

import pandas as pd

from rnnmemory.analysis.inference import paired_comparisons
from rnnmemory.core.config import BASE
from rnnmemory.report.docs import Study, t50_text
from rnnmemory.report.docs_runs import cell_training_seconds, markdown_table, run_line


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
    solved, T50, and the paired verdict on the same (seq_len, seed) runs (McNemar, Holm)."""
    names = _labels(one, other)
    horizons = [s.tables["horizon"][s.tables["horizon"]["variant"] == BASE] for s in (one, other)]
    runs = [s.tables["runs"][s.tables["runs"]["variant"] == BASE] for s in (one, other)]
    paired = paired_comparisons(
        pd.concat([runs[0].assign(variant=BASE), runs[1].assign(variant="other")]),
        pairs=[("other", BASE)],
    ).set_index(["task", "arch"])
    rows = []
    for (task, arch), first in horizons[0].groupby(["task", "arch"], sort=True):
        second = horizons[1][(horizons[1]["task"] == task) & (horizons[1]["arch"] == arch)]
        if second.empty or (task, arch) not in paired.index:
            continue
        a, b, c = first.iloc[0], second.iloc[0], paired.loc[(task, arch)]
        rows.append(
            {
                "task": task,
                "arch": arch,
                f"solved ({names[0]})": f"{a['n_solved']:.0f} / {a['n_runs']:.0f}",
                f"solved ({names[1]})": f"{b['n_solved']:.0f} / {b['n_runs']:.0f}",
                "runs that changed label": int(c["gained"] + c["lost"]),
                f"T50 ({names[0]})": t50_text(a),
                f"T50 ({names[1]})": t50_text(b),
                f"{names[1]} vs {names[0]} (paired)": c["verdict"],
            }
        )
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
