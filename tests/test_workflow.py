"""The real Snakemake workflow, end to end, on the tiny config in a temporary directory."""

import pandas as pd
import pytest

from helpers import (
    TINY,
    copy_project,
    job_counts,
    load_yaml,
    runs_without_timing,
    snakemake,
    tiny,
)
from rnnmemory.core.figures import FIGURES
from rnnmemory.core.registry import PROBES, TABLES

pytestmark = pytest.mark.slow
RUN = ["variant", "task", "arch", "seq_len", "seed"]


DEFAULT = load_yaml("config.yaml")
TASKS, ARCHS, LENGTHS = (len(DEFAULT[key]) for key in ("tasks", "archs", "seq_lens"))


def test_dry_run_of_the_default_study_lists_one_job_per_cell(tmp_path):
    counts = job_counts(snakemake(copy_project(tmp_path), "-n").stdout)
    # one train job per (task, arch, T) cell; datasets per (task, T), probes per (task, arch)
    assert counts["train_cell"] == TASKS * ARCHS * LENGTHS
    assert counts["make_dataset"] == TASKS * LENGTHS
    assert counts["probe_cells"] == TASKS * ARCHS
    assert counts["plot_figures"] == TASKS


def test_tiny_study_tables(tiny_study):
    tables = tiny_study / TINY / "tables"
    runs = pd.read_csv(tables / "runs.csv")
    assert len(runs) == 2 * 2 * 2 * 2
    parameters = ["variant", "task", "arch", "seq_len", "seed", "hidden_size", "num_layers"]
    assert list(runs.columns[:7]) == parameters
    assert set(runs["arch"]) == {"rnn", "lstm"} and set(runs["seq_len"]) == {5, 8}
    assert runs[RUN].duplicated().sum() == 0
    assert (runs["epochs"] == 20).all() and (runs["n_train"] == 64).all()
    assert runs["final_test_loss"].gt(0).all()
    assert runs[["coef_remembered", "coef_recent", "fit_r2"]].notna().all().all()
    assert runs["lstm_forget_bias"].isna().all()  # unset: torch's own initialisation
    # each job measured its own memory and CPU time, and recorded the code it ran
    assert runs["code_hash"].str.fullmatch(r"[0-9a-f]{12}").all()
    assert (runs["job_peak_rss_mib"] > 100).all() and (runs["job_cpu_seconds"] > 0).all()
    assert (runs["normalised_test_loss"] == runs["final_test_loss"] / runs["baseline_loss"]).all()
    pd.testing.assert_frame_equal(runs, pd.read_parquet(tables / "runs.parquet"), check_dtype=False)
    for name in TABLES:
        assert (tables / f"{name}.csv").exists() and (tables / f"{name}.parquet").exists()

    summary = pd.read_csv(tables / "summary.csv")
    assert len(summary) == 2 * 2 * 2 and (summary["n"] == 2).all()
    horizon = pd.read_csv(tables / "horizon.csv", keep_default_na=False)
    assert len(horizon) == 2 * 2
    columns = "t50 t50_low t50_high slope lapse fit_note n_runs censored seed_sd seed_sd_high"
    for column in columns.split():
        assert column in horizon

    history = pd.read_csv(tables / "history.csv")
    assert set(history["epoch"]) == {1, 5, 10, 15, 20}
    assert len(history) == len(runs) * 5 and list(history.columns[:5]) == RUN

    gradients = pd.read_csv(tables / "gradients.csv")
    assert list(gradients.columns[:5]) == RUN
    per_run = gradients.groupby([*RUN, "phase"]).size().reset_index(name="rows")
    assert len(per_run) == 2 * len(runs) and (per_run["rows"] == per_run["seq_len"]).all()
    assert (gradients[["grad_h_norm", "grad_x_norm"]] > 0).all().all()

    # factors 0.5 and 2 (config default) and 1: T=5 -> 2 (too short for the control), 5, 10
    lengths = pd.read_csv(tables / "lengths.csv")
    made = lengths.groupby(["task", "seq_len"])["eval_len"].unique().map(sorted).to_dict()
    assert made[("first_plus_last", 5)] == [2, 5, 10] and made[("recent_plus_last", 5)] == [5, 10]
    trained = lengths[lengths["factor"] == 1].merge(runs, on=RUN)
    assert (trained["test_loss"] - trained["final_test_loss"]).abs().max() < 1e-5

    predictions = pd.read_csv(tables / "predictions.csv")
    assert len(predictions) == len(runs) * 32  # every test sequence (32 < 100) of every run
    assert (predictions["step"] == predictions["seq_len"] - 1).all()


def test_tiny_study_model_files_load_into_torch_nn(tiny_study):
    import torch

    state = torch.load(tiny_study / TINY / "runs/base/first_plus_last/lstm/T8/model.pt")
    assert state["seeds"] == [0, 1]
    lstm = torch.nn.LSTM(1, 10, 1, batch_first=True)
    lstm.load_state_dict(state["nets"][1]["rnn"])
    torch.nn.Linear(10, 1).load_state_dict(state["nets"][1]["head"])
    log = (tiny_study / TINY / "logs/train/base/first_plus_last/lstm/T8.log").read_text()
    assert "epoch     20/20 (100%" in log and "seed 1: test loss" in log


def test_tiny_study_figures_and_report(tiny_study):
    for task in ["first_plus_last", "recent_plus_last"]:
        for figure in FIGURES:
            png = tiny_study / TINY / f"figures/base/{task}/{figure}-{task}-base.png"
            assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n"
            assert png.stat().st_size > 10_000
            assert "<svg" in png.with_suffix(".svg").read_text()[:2000]
    tiny(tiny_study, "--report", f"{TINY}/report.html")
    report = (tiny_study / TINY / "report.html").read_text()
    for needle in [
        "memory_curve",
        "heatmap",
        "summary.html",
        "What the tables say",
        "data:image/png;base64",
        "01 memory horizon T50",
    ]:
        assert needle in report


def test_terminal_is_quiet_and_says_what_each_train_job_found(tiny_study):
    lines = (tiny_study / "terminal.txt").read_text().splitlines()
    assert max(len(line) for line in lines) <= 300
    jobs = int(next(line.split()[1] for line in lines if line.startswith("total ")))
    assert len(lines) < 6 * jobs + 20  # Snakemake's own few lines per job (25 jobs: 152 lines)
    found = [line for line in lines if line.startswith("trained base/")]
    assert len(found) == 8  # one line per train job: its cell, seeds solved, time
    assert all(" seeds solved, " in line for line in found)


def test_variants_run_side_by_side(tiny_study, tmp_path):
    """Two variants next to the base config: equal parameters (the RNN widened to an LSTM's
    count, the GRU too) and the LSTM forget-gate bias; the base runs equal the tiny study's."""
    workdir = copy_project(tmp_path)
    variants = "{equal_params: {model: {match_params: lstm}}, fb1: {model: {lstm_forget_bias: 1}}}"
    checked = [
        f"{TINY}/tables/runs.csv",
        f"{TINY}/figures/variants/variants-first_plus_last.png",
        f"{TINY}/report/headline.rst",
    ]  # and what they need; not every variant's figures
    tiny(
        workdir,
        "--config",
        "tasks=[first_plus_last]",
        "archs=[rnn, gru]",
        "seq_lens=[5]",
        f"variants={variants}",
        targets=checked,
    )
    runs = runs_without_timing(workdir)
    assert list(runs.columns[:2]) == ["variant", "task"] and len(runs) == 3 * 2 * 2
    cells = runs.groupby(["variant", "arch"])[["hidden_size", "n_params"]].first()
    assert cells.loc[("equal_params", "rnn")].tolist() == [21, 526]  # an LSTM of 10 has 531
    assert cells.loc[("equal_params", "gru")].tolist() == [12, 553]
    assert cells.loc[("base", "rnn")].tolist() == [10, 141]
    base = runs[(runs["variant"] == "base") & (runs["arch"] == "rnn")].reset_index(drop=True)
    reference = runs_without_timing(tiny_study)
    reference = reference[
        (reference["arch"] == "rnn")
        & (reference["seq_len"] == 5)
        & (reference["task"] == "first_plus_last")
    ]
    pd.testing.assert_frame_equal(
        base,
        reference.reset_index(drop=True),
        check_dtype=False,  # match_params: strings in this table, all empty in the tiny one
    )
    horizon = pd.read_csv(workdir / TINY / "tables/horizon.csv")
    assert set(horizon["variant"]) == {"base", "equal_params", "fb1"}
    png = workdir / TINY / "figures/variants/variants-first_plus_last.png"
    assert png.read_bytes()[:8] == b"\x89PNG\r\n\x1a\n" and png.stat().st_size > 10_000
    headline = (workdir / TINY / "report/headline.rst").read_text()
    assert "Variant ``equal_params``:" in headline


def test_rerun_has_nothing_to_do(tiny_study):
    out = tiny(tiny_study, "-n")
    assert "Nothing to be done" in out.stdout + out.stderr


def test_slurm_profile_dry_run_needs_no_cluster(tmp_path):
    out = snakemake(copy_project(tmp_path), "--profile", "profiles/slurm", "-n").stdout
    assert job_counts(out)["train_cell"] == TASKS * ARCHS * LENGTHS


def test_every_probe_has_a_table_or_feeds_the_runs_table():
    assert set(PROBES) - set(TABLES) == {"weights"}  # weights become columns of runs


def test_another_figure_format_is_one_word_in_the_registry(tmp_path):
    """figures.FIGURE_FORMATS decides the figures' files: 'pdf' added there, the plan and the
    plot job write every figure as PDF too (one task's figures drawn, from a 1-seed study)."""
    workdir = copy_project(tmp_path)
    registry = workdir / "scripts/rnnmemory/core/figures.py"
    text = registry.read_text().replace(
        'FIGURE_FORMATS = ("png", "svg")', 'FIGURE_FORMATS = ("png", "svg", "pdf")'
    )
    registry.write_text(text)
    pdf = f"{TINY}/figures/base/first_plus_last/horizon-first_plus_last-base.pdf"
    tiny(
        workdir,
        "--config",
        "seeds=[0]",
        "archs=[rnn]",
        "seq_lens=[5]",
        "tasks=[first_plus_last]",
        targets=[pdf],
    )
    assert (workdir / pdf).read_bytes()[:5] == b"%PDF-"
