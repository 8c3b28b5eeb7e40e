"""Shared fixtures: the tiny study, run once per test session (tests that change files copy
it first), and the fused kernel (built once, or the test skips). Tests marked ``slow`` run
Snakemake end to end; `make test-fast` skips them. `make test` runs two pytest-xdist
workers: the first to ask builds the tiny study, the other waits for it and reads the same
copy."""

import fcntl
import os

import pytest

from helpers import copy_project, tiny
from rnnmemory.training import fused


@pytest.fixture(scope="session")
def kernel():
    """The fused kernel's extension (tests/test_fused.py, tests/test_one_pass.py)."""
    if fused.load() is None:
        pytest.skip(f"fused kernel unavailable: {fused.unavailable_reason()}")
    return fused.load()


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """A finished tiny study (tests/tiny.yaml) and the terminal output of its run. Read-only:
    copy it with ``copy_study`` before changing anything."""
    if "PYTEST_XDIST_WORKER" not in os.environ:
        return build_tiny_study(tmp_path_factory.mktemp("tiny"))
    shared = tmp_path_factory.getbasetemp().parent  # this session's, shared by its workers
    with open(shared / "tiny.lock", "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # released when the file closes
        workdir = shared / "tiny"
        if not (workdir / "terminal.txt").exists():
            build_tiny_study(workdir)
    return workdir


def build_tiny_study(workdir):
    copy_project(workdir)
    proc = tiny(workdir)
    (workdir / "terminal.txt").write_text(proc.stdout + proc.stderr)  # written last: finished
    return workdir


def pytest_collection_modifyitems(items):
    """Slow (end-to-end) tests first, the SLURM ones (mostly waiting for the cluster's status
    polls) before all: `make test`'s workers start the long files at once and fill the gaps
    with the unit tests at the end. A stable sort: file order otherwise."""
    items.sort(
        key=lambda item: (
            item.get_closest_marker("slow") is None,
            item.path.name != "test_slurm.py",
        )
    )
