"""Interrupt the tiny study at several moments (SIGKILL of the whole process group, and Ctrl-C),
rerun the README's study command, and check that it finishes, keeps what was done and ends
with the same tables as an uninterrupted run."""

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from base64 import urlsafe_b64encode

import pandas as pd
import pytest

from helpers import ROOT, TINY, copy_project, runs_without_timing
from rnnmemory.core.figures import FIGURES

pytestmark = pytest.mark.slow


def study(workdir):
    """`make study` (the README command) on the tiny config, in its own process group."""
    cmd = [
        "make",
        "study",
        f"VENV={ROOT / '.venv'}",
        "CORES=2",
        "ARGS=--configfile tests/tiny.yaml",
    ]
    log = open(workdir / "make.log", "a")
    # make starts with Ctrl-C's default action, as from a terminal: a test run started in the
    # background by a shell inherits an ignored SIGINT (POSIX), and the study's Python would
    # then get no KeyboardInterrupt (a handled signal is reset on exec, an ignored one is not)
    previous = signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return subprocess.Popen(cmd, cwd=workdir, stdout=log, stderr=log, start_new_session=True)
    finally:
        signal.signal(signal.SIGINT, previous)


def interrupt_when(proc, condition, sig, timeout=120):
    """Send ``sig`` to the study's process group once ``condition()`` holds; wait for the end."""
    deadline = time.monotonic() + timeout
    while not condition():
        assert proc.poll() is None, "the study ended before the moment to interrupt it"
        assert time.monotonic() < deadline, "the moment to interrupt never came"
        time.sleep(0.02)
    os.killpg(proc.pid, sig)
    proc.wait(timeout=120)
    if sig == signal.SIGINT:  # Snakemake's Ctrl-C handling lets running jobs end first
        try:
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass


def count(workdir, pattern):
    return len(list((workdir / TINY).glob(pattern)))


def finished_runs(workdir):
    """metrics.json files of jobs that completed: Snakemake drops its 'incomplete' marker for
    an output only when the job that makes it has finished (a job killed after writing some of
    its files is, rightly, run again)."""
    finished = {}
    for path in (workdir / TINY / "runs").rglob("metrics.json"):
        rel = str(path.relative_to(workdir))
        marker = workdir / ".snakemake/incomplete" / urlsafe_b64encode(rel.encode()).decode()
        if not marker.exists():
            finished[path] = path.stat().st_mtime_ns
    return finished


def test_kill_and_resume(tmp_path, tiny_study):
    workdir = copy_project(tmp_path / "interrupted")
    shutil.copy2(ROOT / "Makefile", workdir)
    for name in ("requirements.txt", "requirements-dev.txt"):
        shutil.copy2(ROOT / name, workdir)  # keeps its mtime: no reinstall

    # 1. SIGKILL while datasets are being drawn
    interrupt_when(study(workdir), lambda: count(workdir, "data/*/*/*.npz") >= 1, signal.SIGKILL)
    # 2. SIGKILL while cells are training, some finished
    proc = study(workdir)
    interrupt_when(proc, lambda: len(finished_runs(workdir)) >= 2, signal.SIGKILL)
    done_before = finished_runs(workdir)
    assert 2 <= len(done_before) < 8
    # 3. Ctrl-C while the rest trains, once this run has finished a cell (not on a metrics.json
    # that the killed run wrote before Snakemake saw its job end: incomplete, to be rerun)
    proc = study(workdir)
    interrupt_when(proc, lambda: len(finished_runs(workdir)) > len(done_before), signal.SIGINT)
    # 4. SIGKILL while figures are drawn
    proc = study(workdir)
    interrupt_when(proc, lambda: count(workdir, "figures/*/*/*.png") >= 1, signal.SIGKILL)
    # the README command finishes the rest
    assert study(workdir).wait(timeout=600) == 0, (workdir / "make.log").read_text()[-3000:]

    after = finished_runs(workdir)
    assert len(after) == 8
    for path, mtime in done_before.items():  # finished runs were not retrained
        assert after[path] == mtime, f"{path} was rewritten"
    for path in after:  # every run file is whole
        json.loads(path.read_text())
    assert count(workdir, "figures/*/*/*.png") == 2 * len(FIGURES)
    assert (workdir / TINY / "report.html").exists()
    log = (workdir / "make.log").read_text()
    assert "stopped; finished cells are kept. Resume with: make study" in log  # the Ctrl-C
    # the finished study ends with its answer, a line per (task, arch), then the report
    answer = log[log.rindex("memory horizon T50, 95% interval") :].splitlines()
    assert answer[1:7:3] == ["  first_plus_last:", "  recent_plus_last:"]
    assert all(line.startswith(("    rnn   T50 ", "    lstm  T50 ")) for line in answer[2:4])
    assert f"report: {TINY}/report.html" in answer  # (under `make test`, make's own lines follow)
    assert "Traceback" not in log

    # the same runs as the uninterrupted tiny study (same config)
    pd.testing.assert_frame_equal(
        runs_without_timing(workdir), runs_without_timing(tiny_study), check_exact=True
    )


def test_a_dry_run_shows_the_plan_and_builds_no_report(tmp_path):
    """`make study ARGS=-n` on a fresh folder: the plan, exit 0, and nothing written (it used
    to go on to build the report of files that do not exist, and fail)."""
    copy_project(tmp_path)
    proc = subprocess.run(
        [sys.executable, "scripts/study.py", "-n", "--configfile", "tests/tiny.yaml"],
        cwd=tmp_path,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
    assert "train_cell" in proc.stdout  # the plan's job table
    assert not (tmp_path / TINY).exists()
