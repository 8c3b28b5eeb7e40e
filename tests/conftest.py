"""Shared fixtures: the tiny study, run once per test session (tests that change files copy
it first). Tests marked ``slow`` run Snakemake end to end; `make test-fast` skips them."""

import pytest

from helpers import copy_project, tiny


@pytest.fixture(scope="session")
def tiny_study(tmp_path_factory):
    """A finished tiny study (tests/tiny.yaml) and the terminal output of its run. Read-only:
    copy it with ``copy_study`` before changing anything."""
    workdir = copy_project(tmp_path_factory.mktemp("tiny"))
    proc = tiny(workdir)
    (workdir / "terminal.txt").write_text(proc.stdout + proc.stderr)
    return workdir
