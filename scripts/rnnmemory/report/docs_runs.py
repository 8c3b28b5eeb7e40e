"""Where the docs' numbers come from, as text: a run's line (commits, machine, wall time), the
benchmarks' blocks, and what the train jobs cost beyond training (Snakemake's benchmark
files). pandas only; rnnmemory.report.docs builds the pages from these."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from rnnmemory.analysis.tables import CELL
from rnnmemory.core.paths import StudyPaths


def markdown_table(frame: pd.DataFrame) -> str:
    head = "| " + " | ".join(map(str, frame.columns)) + " |"
    rule = "| " + " | ".join("---" for _ in frame.columns) + " |"
    rows = ["| " + " | ".join(str(v) for v in row) + " |" for row in frame.itertuples(index=False)]
    return "\n".join([head, rule, *rows])


def _state(record: dict) -> str:
    return "with uncommitted changes" if record.get("dirty") else "clean"


def _wall(record: dict) -> str:
    minutes, seconds = divmod(round(record.get("wall_seconds", 0)), 60)
    return f"{minutes} min {seconds} s"


def run_line(record: dict) -> str:
    """Where a study's numbers come from: its commits, machine and wall time, all invocations."""
    commits = record.get("commits") or [record.get("commit", "?")[:10]]
    runs = record.get("invocations", 1)
    return (
        f"commit{'s' if len(commits) > 1 else ''} {', '.join(f'`{c}`' for c in commits)} "
        f"(last {_state(record)}), {record.get('machine', '?')}, {runs} invocation"
        f"{'s' if runs > 1 else ''} of `scripts/study.py` took {_wall(record)} in "
        f"all, the last `{record.get('command', '?')}` (finished "
        f"{record.get('finished', '?')})"
    )


def read_train_jobs(results: Path, runs: pd.DataFrame) -> pd.DataFrame:
    """Each trained cell's job wall time, peak RSS and CPU time, from Snakemake's benchmark
    file (the path StudyPaths gives); cells without one (a run copied from elsewhere) are left
    out. Where the runs measured their job themselves (job_* columns, exact where the
    benchmark samples), memory and CPU come from there. Runs trained before the job server was
    removed record ``job_server``: its worker was invisible to the benchmark, which then saw
    only the job's waiting process (its CPU time is added)."""
    paths = StudyPaths(str(results))
    measured = {"job_cpu_seconds", "job_peak_rss_mib", "job_server"} <= set(runs)
    first = runs.groupby(CELL).first()
    rows = []
    for cell in runs[CELL].drop_duplicates().to_dict("records"):
        name = paths.cell_name.format(**cell)
        path = Path(paths.job_benchmark.format(rule="train", name=name))
        if not path.exists():
            continue
        bench = pd.read_csv(path, sep="\t").iloc[-1]
        row = dict(
            cell,
            job_seconds=bench["s"],
            max_rss_mib=bench["max_rss"],
            cpu_seconds=bench.get("cpu_time", float("nan")),
            cpu_in_job=False,
        )
        job = first.loc[tuple(cell.values())]
        if measured and pd.notna(job["job_cpu_seconds"]):
            waiting = row["cpu_seconds"] if bool(job["job_server"]) else 0.0
            row.update(
                max_rss_mib=max(row["max_rss_mib"], job["job_peak_rss_mib"]),
                cpu_seconds=job["job_cpu_seconds"] + waiting,
                cpu_in_job=True,
            )
        rows.append(row)
    return pd.DataFrame(
        rows, columns=[*CELL, "job_seconds", "max_rss_mib", "cpu_seconds", "cpu_in_job"]
    )


def cell_training_seconds(runs: pd.DataFrame) -> pd.Series:
    """Each trained cell's training time (its seeds' rows repeat it), indexed by CELL."""
    return runs.groupby(CELL)["time_cell_seconds"].first()


def job_overhead_line(runs: pd.DataFrame, jobs: pd.DataFrame) -> str:
    """What the train jobs cost beyond training: their wall time against the training time
    each measured inside (the runs' time_cell_seconds), the part of it that was ``import
    torch`` and how many jobs a job server ran, where the runs record them, and the largest
    peak memory."""
    cells = jobs.set_index(CELL).join(cell_training_seconds(runs), how="inner")
    job, train = cells["job_seconds"].sum(), cells["time_cell_seconds"].sum()
    per_cell = runs.groupby(CELL).first()
    parts = ""
    if "time_import_torch_seconds" in runs and runs["time_import_torch_seconds"].notna().all():
        seconds = per_cell.loc[cells.index, "time_import_torch_seconds"]
        parts += (
            f", `import torch` alone {100 * seconds.sum() / job:.1f}% ({seconds.mean():.1f} s a "
            f"job, {seconds.min():.1f}-{seconds.max():.1f} s)"
        )
    if "job_server" in runs and runs["job_server"].notna().all():
        served = per_cell.loc[cells.index, "job_server"].astype(bool)
        parts += f"; {served.sum()} of {len(served)} run by the job server"
    return (
        f"Train jobs: {len(cells)}, {job:.0f} s of job wall time, {train:.0f} s of it "
        f"training: {100 * (job - train) / job:.1f}% job overhead (start, imports, reading "
        f"and writing files){parts}; largest peak RSS {cells['max_rss_mib'].max():.0f} MiB."
    )


@dataclass
class Bench:
    """A finished benchmark: its tables as markdown (written by the benchmark from its CSV),
    its run record (commit, machine, wall time) and the README's short form of its tables."""

    title: str
    markdown: str
    record: dict
    summary: str = ""


def trainer_summary(table: pd.DataFrame) -> str:
    """The README's rows of the trainer benchmark: 1 thread, 5 seeds, T = 100, every batch
    size, in µs per sample processed per seed; empty if the run has no such rows."""
    needed = [
        "reference_us_per_sample",
        "bptt_us_per_sample",
        "fused_us_per_sample",
        "fused_speedup",
        "fused_over_floor",
    ]
    rows = table[(table["threads"] == 1) & (table["seeds"] == 5) & (table["seq_len"] == 100)]
    if rows.empty or any(c not in rows for c in needed):
        return ""
    out = pd.DataFrame(
        {
            "arch": rows["arch"],
            "batch": rows["batch"],
            "tutorials' loop": rows["reference_us_per_sample"],
            "bptt": rows["bptt_us_per_sample"],
            "fused": rows["fused_us_per_sample"],
            "fused speed-up": rows["fused_speedup"],
            "fused / floor": rows["fused_over_floor"],
        }
    )
    out = out.round(2).sort_values("batch", ascending=False, kind="stable")  # archs as run
    batches = " and ".join(str(b) for b in out["batch"].unique())
    return (
        f"1 thread, 5 seeds, T = 100, batches of {batches}: µs per sample processed "
        f"(per seed)\n\n" + markdown_table(out)
    )


def gpu_trainer_summary(table: pd.DataFrame) -> str:
    """The README's rows of the trainer benchmark on a GPU (``--device cuda``): T = 100, one
    row per arch and batch size, torch's ops (bptt) at each number of seeds, in µs per sample
    processed per seed; empty without such rows."""
    rows = table[table["seq_len"] == 100]
    if rows.empty or "bptt_us_per_sample" not in rows:
        return ""
    keys = ["arch", "batch"]
    out = (
        rows.groupby(keys, sort=False)["reference_us_per_sample"]
        .first()
        .rename("tutorials' loop")
        .to_frame()
    )
    for k, by_seeds in rows.groupby("seeds"):
        out[f"bptt, {k} seeds"] = by_seeds.set_index(keys)["bptt_us_per_sample"]
    out = out.reset_index().round(2).sort_values("batch", ascending=False, kind="stable")
    return (
        "T = 100: µs per sample processed (per seed); the tutorials' loop runs cuDNN's "
        "fused layers\n\n" + markdown_table(out)
    )


def bench_block(benches: list[Bench], short: bool = False) -> str:
    """Each benchmark's tables under the run that made them (short: the README's form)."""
    if not benches:
        return "(run `make bench`)"
    parts = []
    for bench in benches:
        record = bench.record
        text = bench.summary if short and bench.summary else bench.markdown
        parts += [
            f"**{bench.title}** (`{record.get('command', '?')}`, commit "
            f"`{record.get('commit', '?')[:10]}` ({_state(record)}), "
            f"{record.get('machine', '?')}, {_wall(record)}):",
            "",
            text.strip(),
            "",
        ]
    if short:
        parts.append(
            "Every row (each thread count, length and number of seeds), with the "
            "roofline floor: [docs/benchmarks.md](docs/benchmarks.md)."
        )
    return "\n".join(parts)


def benchmarks_markdown(benches: list[Bench]) -> str:
    """docs/benchmarks.md: every benchmark's full tables."""
    head = [
        "# Benchmarks",
        "",
        "_Written by `make docs` from the benchmarks' tables; rerun",
        "`make bench`, do not edit this file._",
        "",
        "",
    ]
    return "\n".join(head) + bench_block(benches).rstrip() + "\n"
