"""`make study`'s terminal (scripts/study.py): the job counter knows the plan's size from the
first line on, the resume hint is a command to copy, and only invocations that ran jobs are
recorded as runs of the study."""

import io
import subprocess
import sys

import pytest
from study import Terminal, resume_command

from helpers import TINY, copy_project

PLAN = ["Job stats:", "job            count", "-----------  -------", "train_cell         3",
        "total              3"]  # fmt: skip


def shown(lines):
    out = io.StringIO()
    terminal = Terminal(out)
    for line in lines:
        terminal.line(line)
    return out.getvalue().splitlines(), terminal


def test_the_counter_counts_against_the_plan_from_the_first_job_on():
    """A resumed study's first train job ends before Snakemake's first 'steps done' line: it
    used to read [1/0]."""
    lines, terminal = shown([*PLAN, "trained base/adding/rnn/T5: 2/2 seeds solved, 3 s",
                             "1 of 3 steps (33%) done"])  # fmt: skip
    assert "[1/3] trained base/adding/rnn/T5: 2/2 seeds solved, 3 s" in lines
    assert terminal.ran_jobs


def test_a_run_without_a_finished_or_failed_job_ran_nothing():
    _, planned_only = shown(PLAN)
    _, failed = shown([*PLAN, "Error in rule train_cell:"])
    assert not planned_only.ran_jobs and failed.ran_jobs


@pytest.mark.parametrize(
    "args,command",
    [
        (["--cores", "2"], "make study"),
        (["--cores", "2", "--configfile", "studies/budget.yaml"],
         'make study ARGS="--configfile studies/budget.yaml"'),
        (["--cores", "2", "--config", "seeds=[0,1,2]", "results_dir=results/three"],
         "make study ARGS=\"--config 'seeds=[0,1,2]' results_dir=results/three\""),
    ],
)  # fmt: skip
def test_the_resume_hint_is_a_plain_command_without_the_makefiles_cores(args, command):
    assert resume_command(args) == command


@pytest.mark.slow
def test_a_rejected_config_is_not_recorded_as_a_run(tmp_path):
    """`make study ARGS="--configfile bad.yaml"` runs no job: nothing may claim it did."""
    copy_project(tmp_path)
    (tmp_path / "bad.yaml").write_text("seeds: [-1]\narchs: [transformer]\n")
    proc = subprocess.run(
        [sys.executable, "scripts/study.py", "--configfile", "tests/tiny.yaml", "--configfile",
         "bad.yaml"], cwd=tmp_path, capture_output=True, text=True, timeout=300,
    )  # fmt: skip
    assert proc.returncode != 0 and "transformer" in proc.stdout + proc.stderr
    assert not (tmp_path / TINY / "benchmarks" / "study.json").exists()
    assert not (tmp_path / "results" / "benchmarks" / "study.json").exists()
