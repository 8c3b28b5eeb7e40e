"""Reruns that follow the code (codehash.py): every rule's params carry a hash of its script and
the library code it imports, so an edit reruns exactly the jobs it affects; runs record the
hash, and a study whose runs mix code versions or backends says so on its first page."""

import json
import os
import shutil
from pathlib import Path

import pandas as pd
import pytest

from helpers import ROOT, TINY, copy_study, job_counts, read_runs, tiny
from rnnmemory.core.codehash import code_hash, dependencies
from rnnmemory.report.headline import mixed_runs_warning
from rnnmemory.training.kernelcache import CACHE_ENV, FAILED

SCRIPTS = ROOT / "scripts"


def names(script):
    return {p.relative_to(SCRIPTS).as_posix() for p in dependencies(SCRIPTS / script)}


def test_training_depends_on_the_trainer_and_the_kernel_not_on_the_plots():
    train = names("train_cell.py")
    for module in ("models", "trainer", "bptt", "fused", "inits", "optim"):
        assert f"rnnmemory/training/{module}.py" in train
    assert {"rnnmemory/core/tasks.py", "rnnmemory/core/archs.py"} <= train
    csrc = {"rnnmemory/training/csrc/fused.cpp", "rnnmemory/training/csrc/cells.h"}
    assert csrc <= train  # fused.py names "csrc"
    assert "rnnmemory/core/corpus.txt" in train  # the chars task's text, named by tasks.py
    assert not any(name.startswith("rnnmemory/report/") for name in train)
    plots = names("plot_figures.py")
    assert {"rnnmemory/report/plots/__init__.py", "rnnmemory/report/plots/common.py"} <= plots
    assert not any(name.startswith("rnnmemory/training/") for name in plots)


def test_an_edit_changes_the_hash_of_the_scripts_that_import_it(tmp_path):
    scripts = tmp_path / "scripts"
    shutil.copytree(SCRIPTS, scripts, ignore=shutil.ignore_patterns("__pycache__"))
    library = scripts / "rnnmemory"

    def hashes():
        return {s: code_hash(scripts / s, library) for s in ("train_cell.py", "plot_figures.py")}

    before = hashes()
    assert before == {s: code_hash(SCRIPTS / s) for s in before}  # independent of the place
    cells = library / "training" / "csrc" / "cells.h"
    cells.write_text(cells.read_text() + "// an edit\n")
    after_kernel = hashes()
    assert after_kernel["train_cell.py"] != before["train_cell.py"]
    assert after_kernel["plot_figures.py"] == before["plot_figures.py"]
    common = library / "report" / "plots" / "common.py"
    common.write_text(common.read_text() + "# an edit\n")
    after_plot = hashes()
    assert after_plot["plot_figures.py"] != after_kernel["plot_figures.py"]
    assert after_plot["train_cell.py"] == after_kernel["train_cell.py"]


def _edit(workdir, module):
    path = Path(workdir) / "scripts" / "rnnmemory" / module
    path.write_text(path.read_text() + "\n# an edit\n")


@pytest.mark.slow
def test_an_edit_to_a_training_module_plans_every_train_job(tiny_study, tmp_path):
    workdir = copy_study(tiny_study, tmp_path / "study")
    _edit(workdir, "training/trainer.py")
    counts = job_counts(tiny(workdir, "-n").stdout)
    assert counts["train_cell"] == len(read_runs(tiny_study)) // 2  # every cell (2 seeds each)
    assert "make_dataset" not in counts  # the data generator did not change


@pytest.mark.slow
def test_an_edit_to_a_plot_module_plans_only_figures(tiny_study, tmp_path):
    workdir = copy_study(tiny_study, tmp_path / "study")
    _edit(workdir, "report/plots/common.py")
    counts = job_counts(tiny(workdir, "-n").stdout)
    # the figures, and the first page that embeds the horizon figure: nothing retrained
    assert set(counts) - {"all", "total"} == {"plot_figures", "headline"}


@pytest.mark.slow
def test_runs_of_another_backend_are_flagged_on_the_first_page(kernel, tiny_study, tmp_path):
    """One cell retrained with torch's ops while the others used the kernel (as a failed
    kernel build once caused): the runs table shows both, the first page warns."""
    workdir = copy_study(tiny_study, tmp_path / "study")
    cell = f"{TINY}/runs/base/first_plus_last/rnn/T5/metrics.json"
    headline = f"{TINY}/report/headline.rst"
    # and a kernel build that failed in an earlier invocation: this one clears the marker
    failed = tmp_path / "cache" / "fused-0123" / FAILED
    failed.parent.mkdir(parents=True)
    failed.write_text("MemoryError\n")
    env = {**os.environ, CACHE_ENV: str(tmp_path / "cache")}
    tiny(workdir, "--forcerun", cell, "--config", "backend=bptt", targets=[cell, headline], env=env)
    assert not failed.exists()
    runs = read_runs(workdir)
    assert json.loads((workdir / cell).read_text())["runs"][0]["backend"] == "bptt"
    assert set(runs["backend"]) == {"bptt", "fused"}
    assert runs["code_hash"].nunique() == 1
    text = (workdir / headline).read_text()
    assert text.startswith(".. warning::") and "different training backends" in text


def test_the_warning_names_each_value_with_its_count():
    runs = pd.DataFrame({"code_hash": ["a1", "a1", None], "backend": ["fused"] * 3})
    lines = mixed_runs_warning(runs)
    assert lines[0] == ".. warning::"
    assert "different code versions (codehash.py): a1 (2 runs), not recorded (1 runs)" in lines[2]
    assert not any("backends" in line for line in lines)
    assert mixed_runs_warning(runs.iloc[:2]) == [] and mixed_runs_warning(None) == []
