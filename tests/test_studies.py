"""Studies side by side in one checkout, and reruns that redo only what changed: one cell on
request, a new probe or a new figure without retraining anything."""

import hashlib

import pytest

from helpers import TINY, copy_study, job_counts, snakemake, tiny

pytestmark = pytest.mark.slow


def fingerprints(folder):
    """Every file under ``folder``: content hash and modification time."""
    return {
        path: (hashlib.sha256(path.read_bytes()).hexdigest(), path.stat().st_mtime_ns)
        for path in folder.rglob("*")
        if path.is_file()
    }


def test_two_studies_in_one_checkout_leave_each_other_alone(tiny_study, tmp_path):
    workdir = copy_study(tiny_study, tmp_path / "two")
    before = fingerprints(workdir / TINY)
    other = "results/other"
    tiny(
        workdir,
        "--config",
        f"results_dir={other}",
        "seeds=[3]",
        "archs=[rnn]",
        "tasks=[first_plus_last]",
    )
    assert fingerprints(workdir / TINY) == before  # the first study's files untouched
    assert sorted(p.name for p in (workdir / other / "runs/base/first_plus_last").iterdir()) == [
        "rnn"
    ]
    assert (workdir / other / "tables/runs.csv").exists()
    assert (workdir / other / "report/headline.rst").exists()
    # both are complete: neither plans any work
    for args in (
        [],
        ["--config", f"results_dir={other}", "seeds=[3]", "archs=[rnn]", "tasks=[first_plus_last]"],
    ):
        out = tiny(workdir, "-n", *args)
        assert "Nothing to be done" in out.stdout + out.stderr


def test_rerun_one_cell_retrains_that_cell_only(tiny_study):
    """The README's command: -f (--force) reruns the job of the given target only."""
    target = f"{TINY}/runs/base/first_plus_last/lstm/T8/metrics.json"
    counts = job_counts(tiny(tiny_study, "-n", "-f", target).stdout)
    assert counts == {"train_cell": 1, "total": 1}


def add_to_registry(workdir, old, new, module="registry"):
    registry = workdir / f"scripts/rnnmemory/core/{module}.py"
    text = registry.read_text()
    assert old in text
    registry.write_text(text.replace(old, new))


def test_a_new_probe_retrains_nothing(tiny_study, tmp_path):
    workdir = copy_study(tiny_study, tmp_path / "probe")
    add_to_registry(workdir, "PROBES = {\n", 'PROBES = {\n    "extra": Probe("a new probe"),\n')
    counts = job_counts(tiny(workdir, "-n").stdout)
    assert "train_cell" not in counts and "make_dataset" not in counts
    assert counts["probe_cells"] == 2 * 2  # every (task, arch) row is probed again


def test_a_new_figure_retrains_and_reprobes_nothing(tiny_study, tmp_path):
    workdir = copy_study(tiny_study, tmp_path / "figure")
    add_to_registry(
        workdir, "FIGURES = {\n", 'FIGURES = {\n    "extra": Figure("x", ("runs",)),\n', "figures"
    )
    counts = job_counts(tiny(workdir, "-n").stdout)
    assert set(counts) == {"plot_figures", "headline", "all", "total"}


def test_the_workflow_runs_from_another_directory(tiny_study, tmp_path):
    """snakemake -s <checkout>/Snakefile -d <elsewhere>: the project's config.yaml is found."""
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    out = snakemake(
        tiny_study, "-s", "Snakefile", "-d", str(elsewhere), "-n", "--config", "results_dir=study"
    )
    assert "train_cell" in job_counts(out.stdout)
