"""Failures the study survives: diverging runs are recorded and the rest goes on; a damaged
file is named in its job's log and on the terminal, and rebuilt once deleted."""

import json

import pandas as pd
import pytest

from helpers import TINY, copy_project, tiny

pytestmark = pytest.mark.slow


def test_diverging_runs_are_recorded_and_the_study_goes_on(tmp_path):
    """SGD at lr 2 makes half the runs of the tiny study (one task) blow up within 20 epochs
    (lr 1: 2 of 8, lr 3: all 8), not all."""
    workdir = copy_project(tmp_path)
    tiny(workdir, "--config", "train={optimizer: sgd, lr: 2}", "tasks=[first_plus_last]")
    runs = pd.read_csv(workdir / TINY / "tables/runs.csv")
    assert len(runs) == 8
    diverged = runs[runs["outcome"] == "diverged"]
    assert 2 <= len(diverged) < 8
    assert diverged["diverged_epoch"].between(1, 20).all() and diverged["diverged"].all()
    assert runs.loc[runs["outcome"] != "diverged", "diverged_epoch"].isna().all()
    summary = pd.read_csv(workdir / TINY / "tables/summary.csv")
    assert summary["n_diverged"].sum() == len(diverged) and summary["n"].sum() == 8
    assert (summary["n_solved"] <= summary["n"] - summary["n_diverged"]).all()
    cell = diverged.iloc[0]
    log = workdir / TINY / f"logs/train/base/{cell.task}/{cell.arch}/T{cell.seq_len}.log"
    assert (
        f"seed {cell.seed}: loss not finite at epoch {int(cell.diverged_epoch)}" in log.read_text()
    )
    figures = workdir / TINY / f"figures/base/{cell.task}"
    for figure in ["memory_curve", "heatmap"]:
        assert (figures / f"{figure}-{cell.task}-base.png").stat().st_size > 10_000


ONE_CELL = ["--config", "tasks=[first_plus_last]", "archs=[rnn]", "seq_lens=[5]", "seeds=[0]"]


DAMAGES = [  # file, damage, the log of the job that reads it, what the message says
    (
        "data/base/first_plus_last/T5.npz",
        lambda b: b[:500],
        "train/base/first_plus_last/rnn/T5",
        "unreadable dataset",
    ),
    (
        "runs/base/first_plus_last/rnn/T5/metrics.json",
        lambda b: b[:40],
        "tables/collect",
        "corrupt JSON",
    ),
]


def test_damaged_files_are_named_and_rebuilt_after_deletion(tmp_path):
    """Each damage in turn on one study: the run stops naming the file, in the job's log and
    on the terminal; once the file is deleted, a rerun rebuilds it and what needs it."""
    workdir = copy_project(tmp_path)
    # the tables read every run's files: figures and report cannot add to what is checked
    tables = [f"{TINY}/tables/runs.csv"]
    tiny(workdir, *ONE_CELL, targets=tables)
    for damaged, damage, log, message in DAMAGES:
        path = workdir / TINY / damaged
        path.write_bytes(damage(path.read_bytes()))
        proc = tiny(workdir, *ONE_CELL, targets=tables, check=False)
        assert proc.returncode != 0, damaged
        log_text = (workdir / TINY / f"logs/{log}.log").read_text()
        assert f"{TINY}/{damaged}: {message}" in log_text  # the message names the file
        # the terminal names the failed job's log and its error (quiet hides Snakemake's)
        assert f"log {TINY}/logs/{log}.log: " in proc.stderr
        assert message in proc.stderr
        path.unlink()
        tiny(workdir, *ONE_CELL)  # the whole study: every file that needs the deleted one
    metrics = json.loads(
        (workdir / TINY / "runs/base/first_plus_last/rnn/T5/metrics.json").read_text()
    )
    assert [run["seed"] for run in metrics["runs"]] == [0]
