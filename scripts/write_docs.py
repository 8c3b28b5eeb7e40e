"""`make docs`: docs/results.md, its figures, and the README's generated blocks, all written
from the tables of named runs (never typed by hand, so they cannot go stale).

    .venv/bin/python scripts/write_docs.py [--check]

Reads every study of STUDIES that has finished (its tables/horizon.parquet exists) and the
benchmarks of BENCHES that have run (results/benchmarks/<name>.md and .json, from `make
bench`); where no benchmark has run in this checkout, docs/benchmarks.md and the README's bench
block stay as they are (they name the run they come from). With --check it only says whether
the files on disk match what the tables give (exit 1 if not).
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
from pathlib import Path

import pandas as pd
import yaml

from rnnmemory.report.docs import Study, readme_blocks, replace_block, results_markdown
from rnnmemory.report.docs_backends import backend_section
from rnnmemory.report.docs_runs import (
    Bench,
    benchmarks_markdown,
    gpu_trainer_summary,
    read_train_jobs,
    trainer_summary,
)

ROOT = Path(__file__).resolve().parents[1]

# title, config file: the studies docs/results.md reports, in this order
STUDIES = [
    ("The default study", "config.yaml"),
    ("Does the training budget move the horizon?", "studies/budget.yaml"),
    ("Remedies: initialisations and gradient clipping", "studies/remedies.yaml"),
    ("A fourth architecture: IndRNN", "studies/archs.yaml"),
]
# the default study trained by torch's ops, next to the default trainer's run (same config)
BACKEND_CHECK = (
    "results/default-bptt",
    "make study ARGS='--config backend=bptt results_dir=results/default-bptt'",
)
# title, name (results/benchmarks/<name>.{md,json}, from benchmarks/<name>.py), and the
# README's short form of its CSV (None: the whole table)
BENCHES = [
    ("Trainer, per epoch", "trainer", trainer_summary),
    ("End to end through Snakemake", "end_to_end", None),
    ("Trainer on a GPU, per epoch", "trainer_cuda", gpu_trainer_summary),
]
FIGURES = ["horizon", "memory_curve", "learned_weights", "gradients"]  # copied into docs/
# a study's verdicts by the old overlap rule, kept so the page says which changed and why
OLD_VERDICTS = {
    "studies/remedies.yaml": "docs/data/remedies-verdicts-overlap-rule.csv",
    "studies/budget.yaml": "docs/data/budget-verdicts-overlap-rule.csv",
}
# a study's runs with the old streams (one network per seed at every T): the seed effect then
OLD_STREAMS = {"config.yaml": "docs/data/default-study-old-streams-runs.csv"}


def load_study(title: str, config_file: str, results_dir: str | None = None) -> Study | None:
    config = yaml.safe_load((ROOT / config_file).read_text())
    results = ROOT / (results_dir or config.get("results_dir", "results"))
    if not (results / "tables" / "horizon.parquet").exists():
        return None
    tables = {
        name: pd.read_parquet(results / "tables" / f"{name}.parquet")
        for name in ("horizon", "runs", "summary", "comparisons")
    }
    tables["jobs"] = read_train_jobs(results, tables["runs"])
    record_path = results / "benchmarks" / "study.json"
    record = json.loads(record_path.read_text()) if record_path.exists() else None
    kept = [read_kept(files.get(config_file)) for files in (OLD_VERDICTS, OLD_STREAMS)]
    return Study(title, config_file, config, results, record, tables, *kept)


def read_kept(path: str | None) -> pd.DataFrame | None:
    """A table kept under docs/data (its comment lines name the run it comes from)."""
    if path is None:
        return None
    frame = pd.read_csv(ROOT / path, comment="#")
    frame.attrs["source"] = path
    return frame


def load_bench(title: str, name: str, summary) -> Bench | None:
    md, record, csv = (
        ROOT / "results" / "benchmarks" / f"{name}.{e}" for e in ("md", "json", "csv")
    )
    if not (md.exists() and record.exists()):
        return None
    short = summary(pd.read_csv(csv)) if summary and csv.exists() else ""
    return Bench(title, md.read_text(), json.loads(record.read_text()), short)


def main(check: bool) -> int:
    studies = [s for s in (load_study(*entry) for entry in STUDIES) if s is not None]
    if not studies:
        print("no finished study: run `make study` first", file=sys.stderr)
        return 1
    benches = [b for b in (load_bench(*entry) for entry in BENCHES) if b is not None]
    anchors = yaml.safe_load((ROOT / "workflow/report/anchors.yaml").read_text())["anchors"]
    docs = ROOT / "docs"
    # the backend check is a second run of the default study: only next to that one
    check_run = load_study("backend check", "config.yaml", BACKEND_CHECK[0])
    default_ran = studies[0].config_file == "config.yaml"
    checks = []
    if check_run and default_ran:
        checks += backend_section(studies[0], check_run, BACKEND_CHECK[1])
    text = results_markdown(studies, anchors, FIGURES, checks)
    bench_text = benchmarks_markdown(benches)
    readme = ROOT / "README.md"
    new_readme = readme.read_text()
    # benchmarks not run in this checkout keep their pages: those name the run they come from
    blocks = (
        readme_blocks(studies, benches)
        if benches
        else {"results": readme_blocks(studies, benches)["results"]}
    )
    for name, block in blocks.items():
        new_readme = replace_block(new_readme, name, block)
    if check:
        pages = [(docs / "results.md", text), (readme, new_readme)]
        pages += [(docs / "benchmarks.md", bench_text)] if benches else []
        stale = [p for p, t in pages if not p.exists() or p.read_text() != t]
        print("stale: " + ", ".join(map(str, stale)) if stale else "docs are up to date")
        return 1 if stale else 0
    docs.mkdir(exist_ok=True)
    (docs / "results.md").write_text(text)
    if benches:
        (docs / "benchmarks.md").write_text(bench_text)
    readme.write_text(new_readme)
    for study in studies:
        for task in study.config.get("tasks", []):
            for figure in FIGURES:
                source = study.figure(task, figure)
                if source.exists():
                    shutil.copy(source, docs / study.doc_figure(task, figure))
    kept = "" if benches else "; no benchmark run here: docs/benchmarks.md and the bench block kept"
    print(f"wrote docs/results.md ({len(studies)} studies) and README blocks {list(blocks)}{kept}")
    return 0


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--check", action="store_true")
    sys.exit(main(parser.parse_args().check))
