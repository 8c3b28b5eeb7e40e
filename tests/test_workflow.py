"""The real Snakemake workflow, end to end, on the tiny config in a temporary directory."""

import json
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from rnnmemory.tables import TIMING_COLUMNS

ROOT = Path(__file__).resolve().parents[1]
FIGURE_NAMES = [
    "memory_curve", "fraction_solved", "learning_curves", "heatmap", "critical_length",
    "learned_weights", "gradients", "length_generalisation", "predictions",
]  # fmt: skip
PROJECT_FILES = ["Snakefile", "config.yaml", "workflow", "scripts", "profiles", "tests/tiny.yaml"]


def copy_project(dest: Path) -> Path:
    for name in PROJECT_FILES:
        src, dst = ROOT / name, dest / name
        dst.parent.mkdir(parents=True, exist_ok=True)
        if src.is_dir():
            shutil.copytree(src, dst, ignore=shutil.ignore_patterns("__pycache__"))
        else:
            shutil.copy(src, dst)
    return dest


def snakemake(workdir, *args, check=True, env=None):
    cmd = [sys.executable, "-m", "snakemake", "--cores", "2", *args]
    proc = subprocess.run(cmd, cwd=workdir, capture_output=True, text=True, timeout=900, env=env)
    if check and proc.returncode != 0:
        raise AssertionError(
            f"{' '.join(cmd)} failed:\n{proc.stdout[-4000:]}\n{proc.stderr[-4000:]}"
        )
    return proc


def runs_without_timing(workdir) -> pd.DataFrame:
    """The runs table with the columns that measure the machine (time_*) set aside."""
    return pd.read_csv(workdir / "results/tables/runs.csv").drop(columns=TIMING_COLUMNS)


def assert_same_runs_as_a_local_run(workdir, tmp_path, *args):
    """The runs table of ``workdir`` equals that of a fresh, uninterrupted local run."""
    reference = copy_project(tmp_path / "reference")
    snakemake(reference, "--configfile", "tests/tiny.yaml", *args)
    pd.testing.assert_frame_equal(
        runs_without_timing(workdir), runs_without_timing(reference), check_exact=True
    )


def job_counts(output: str) -> dict:
    """Rule -> job count from Snakemake's 'Job stats' table."""
    table = output.split("Job stats:")[1]
    return {m[1]: int(m[2]) for m in re.finditer(r"^(\w+)\s+(\d+)\s*$", table, re.M)}


@pytest.fixture(scope="module")
def tiny_study(tmp_path_factory):
    workdir = copy_project(tmp_path_factory.mktemp("study"))
    snakemake(workdir, "--configfile", "tests/tiny.yaml")
    return workdir


def test_dry_run_of_the_default_study_lists_one_train_job_per_cell(tmp_path):
    workdir = copy_project(tmp_path)
    out = snakemake(workdir, "-n").stdout
    counts = job_counts(out)
    # default config: 2 tasks x 3 archs x 5 lengths cells, x 5 seeds datasets
    assert counts["train_cell"] == 2 * 3 * 5
    assert counts["make_dataset"] == 2 * 5 * 5
    assert counts["plot_figure"] == 2 * len(FIGURE_NAMES)


def test_tiny_study_tables(tiny_study):
    runs = pd.read_csv(tiny_study / "results/tables/runs.csv")
    assert len(runs) == 2 * 2 * 2 * 2
    parameters = ["variant", "task", "arch", "seq_len", "seed", "hidden_size", "num_layers"]
    assert list(runs.columns[:7]) == parameters
    assert set(runs["arch"]) == {"rnn", "lstm"} and set(runs["seq_len"]) == {5, 8}
    assert runs[["task", "arch", "seq_len", "seed"]].duplicated().sum() == 0
    assert (runs["epochs"] == 20).all() and (runs["n_train"] == 64).all()
    assert runs["final_test_loss"].gt(0).all()
    assert runs[["coef_first", "coef_last", "fit_r2"]].notna().all().all()
    assert runs["coef_recent"].notna().sum() == 8  # T = 8 only: at T = 5, x[T-5] is x[0]
    assert runs["lstm_forget_bias"].isna().all()  # unset: torch's own initialisation
    assert set(runs["outcome"]) <= {"solved", "partial", "last_only", "nothing", "other"}
    assert (runs["normalised_test_loss"] == runs["final_test_loss"] / runs["baseline_loss"]).all()
    parquet = pd.read_parquet(tiny_study / "results/tables/runs.parquet")
    pd.testing.assert_frame_equal(runs, parquet, check_dtype=False)

    summary = pd.read_csv(tiny_study / "results/tables/summary.csv")
    assert len(summary) == 2 * 2 * 2 and (summary["n"] == 2).all()
    for col in ["mean", "median", "std", "ci_low", "ci_high", "solved_fraction", "solved_ci_low"]:
        assert col in summary

    history = pd.read_csv(tiny_study / "results/tables/history.csv")
    assert set(history["epoch"]) == {1, 5, 10, 15, 20}
    assert len(history) == len(runs) * 5

    run = ["variant", "task", "arch", "seq_len", "seed"]
    gradients = pd.read_csv(tiny_study / "results/tables/gradients.csv")
    assert list(gradients.columns[:5]) == run
    per_run = gradients.groupby([*run, "phase"]).size().reset_index(name="rows")
    assert len(per_run) == 2 * len(runs) and (per_run["rows"] == per_run["seq_len"]).all()
    assert (gradients[["grad_h_norm", "grad_x_norm"]] > 0).all().all()

    # factors 0.5 and 2 (config default) and 1: T=5 -> 2 (too short for the control), 5, 10
    lengths = pd.read_csv(tiny_study / "results/tables/lengths.csv")
    made = lengths.groupby(["task", "seq_len"])["eval_len"].unique().map(sorted).to_dict()
    assert made[("first_plus_last", 5)] == [2, 5, 10] and made[("recent_plus_last", 5)] == [5, 10]
    trained = lengths[lengths["factor"] == 1].merge(runs, on=run)
    assert (trained["test_loss"] - trained["final_test_loss"]).abs().max() < 1e-5

    predictions = pd.read_csv(tiny_study / "results/tables/predictions.csv")
    assert len(predictions) == len(runs) * 32  # every test sequence (32 < 100) of every run
    assert (predictions["step"] == predictions["seq_len"] - 1).all()


def test_tiny_study_run_files_and_logs(tiny_study):
    import torch

    run = tiny_study / "results/runs/base/first_plus_last/lstm/T8/seed1"
    state = torch.load(run / "model.pt")
    lstm = torch.nn.LSTM(1, 10, 1, batch_first=True)
    lstm.load_state_dict(state["rnn"])  # loads into plain torch.nn
    head = torch.nn.Linear(10, 1)
    head.load_state_dict(state["head"])
    log = (tiny_study / "results/logs/train/base/first_plus_last/lstm/T8.log").read_text()
    assert "epoch     20/20" in log and "seed 1: test loss" in log


def test_tiny_study_figures_and_report(tiny_study):
    for task in ["first_plus_last", "recent_plus_last"]:
        for figure in FIGURE_NAMES:
            png = tiny_study / f"results/figures/base/{task}/{figure}.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert png.stat().st_size > 10_000
            assert "<svg" in (png.with_suffix(".svg")).read_text()[:2000]
    snakemake(tiny_study, "--configfile", "tests/tiny.yaml", "--report", "results/report.html")
    report = (tiny_study / "results/report.html").read_text()
    for needle in ["memory_curve", "heatmap", "summary.csv", "How far back", "What the tables say"]:
        assert needle in report


def test_variants_run_side_by_side(tiny_study, tmp_path):
    """Two variants next to the base config: equal parameters (the RNN widened to an LSTM's
    count, the GRU too) and the LSTM forget-gate bias; the base runs equal the tiny study's."""
    workdir = copy_project(tmp_path)
    variants = "{equal_params: {model: {match_params: lstm}}, fb1: {model: {lstm_forget_bias: 1}}}"
    snakemake(
        workdir, "--configfile", "tests/tiny.yaml", "--config", "tasks=[first_plus_last]",
        "archs=[rnn, gru]", "seq_lens=[5]", f"variants={variants}",
    )  # fmt: skip
    runs = runs_without_timing(workdir)
    assert list(runs.columns[:2]) == ["variant", "task"] and len(runs) == 3 * 2 * 2
    cells = runs.groupby(["variant", "arch"])[["hidden_size", "n_params"]].first()
    assert cells.loc[("equal_params", "rnn")].tolist() == [21, 526]  # an LSTM of 10 has 531
    assert cells.loc[("equal_params", "gru")].tolist() == [12, 553]
    assert cells.loc[("base", "rnn")].tolist() == [10, 141]
    base = runs[runs["variant"] == "base"].reset_index(drop=True)
    tiny = runs_without_timing(tiny_study)
    tiny = tiny[
        (tiny["arch"] == "rnn") & (tiny["seq_len"] == 5) & (tiny["task"] == base["task"][0])
    ]
    pd.testing.assert_frame_equal(
        base[base["arch"] == "rnn"].reset_index(drop=True),
        tiny.reset_index(drop=True),
        check_dtype=False,  # match_params: strings in this table, all empty in the tiny one
    )
    critical = pd.read_csv(workdir / "results/tables/critical_length.csv")
    assert set(critical["variant"]) == {"base", "equal_params", "fb1"}
    png = workdir / "results/figures/variants/first_plus_last.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    headline = (workdir / "results/report/headline.rst").read_text()
    assert "``first_plus_last``, variant ``equal_params``:" in headline


def test_rerun_has_nothing_to_do(tiny_study):
    out = snakemake(tiny_study, "--configfile", "tests/tiny.yaml", "-n")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_diverging_runs_are_recorded_and_the_study_goes_on(tmp_path):
    """SGD at lr 3 makes most runs of the tiny study blow up within 20 epochs, not all."""
    workdir = copy_project(tmp_path)
    snakemake(
        workdir, "--configfile", "tests/tiny.yaml", "--config", "train={optimizer: sgd, lr: 3}"
    )
    runs = pd.read_csv(workdir / "results/tables/runs.csv")
    assert len(runs) == 16
    diverged = runs[runs["outcome"] == "diverged"]
    assert 4 <= len(diverged) < 16
    assert diverged["diverged_epoch"].between(1, 20).all() and diverged["diverged"].all()
    assert runs.loc[runs["outcome"] != "diverged", "diverged_epoch"].isna().all()
    summary = pd.read_csv(workdir / "results/tables/summary.csv")
    assert summary["n_diverged"].sum() == len(diverged) and summary["n"].sum() == 16
    assert (summary["n_solved"] <= summary["n"] - summary["n_diverged"]).all()
    cell = diverged.iloc[0]
    log = workdir / f"results/logs/train/base/{cell.task}/{cell.arch}/T{cell.seq_len}.log"
    assert (
        f"seed {cell.seed}: loss not finite at epoch {int(cell.diverged_epoch)}" in log.read_text()
    )
    for figure in ["memory_curve", "heatmap"]:
        assert (workdir / f"results/figures/base/{cell.task}/{figure}.png").stat().st_size > 10_000


ONE_CELL = ["--config", "tasks=[first_plus_last]", "archs=[rnn]", "seq_lens=[5]", "seeds=[0]"]


@pytest.mark.parametrize(
    "damaged,damage,log,message",
    [
        ("data/base/first_plus_last/T5/seed0.npz", lambda b: b[:500],
         "train/base/first_plus_last/rnn/T5", "unreadable dataset"),
        ("runs/base/first_plus_last/rnn/T5/seed0/metrics.json", lambda b: b[:40], "tables/collect",
         "corrupt JSON"),
    ],
    ids=["truncated dataset", "corrupt metrics"],
)  # fmt: skip
def test_damaged_file_is_named_and_rebuilt_after_deletion(tmp_path, damaged, damage, log, message):
    workdir = copy_project(tmp_path)
    args = ["--configfile", "tests/tiny.yaml", *ONE_CELL]
    snakemake(workdir, *args)
    path = workdir / "results" / damaged
    path.write_bytes(damage(path.read_bytes()))
    proc = snakemake(workdir, *args, check=False)
    assert proc.returncode != 0
    log_text = (workdir / f"results/logs/{log}.log").read_text()
    assert f"results/{damaged}: {message}" in log_text  # the message names the file
    path.unlink()
    snakemake(workdir, *args)
    assert path.exists()
    assert (
        json.loads(
            (workdir / "results/runs/base/first_plus_last/rnn/T5/seed0/metrics.json").read_text()
        )["seed"]
        == 0
    )


def test_slurm_profile_dry_run_needs_no_cluster(tmp_path):
    workdir = copy_project(tmp_path)
    out = snakemake(workdir, "--profile", "profiles/slurm", "-n").stdout
    assert job_counts(out)["train_cell"] == 2 * 3 * 5
