"""Two runs of the same config on the CPU give identical runs tables, timing columns aside."""

import pandas as pd
import pytest

from test_workflow import copy_project, runs_without_timing, snakemake


@pytest.mark.parametrize("threads", [1, 2])
def test_same_config_same_numbers(threads, tmp_path):
    tables = []
    for name in ("first", "second"):
        workdir = copy_project(tmp_path / name)
        snakemake(
            workdir,
            "--configfile",
            "tests/tiny.yaml",
            "--config",
            f"train={{threads: {threads}, epochs: 20, log_every: 5, eval_every: 5}}",
        )
        tables.append(runs_without_timing(workdir))
        history = (workdir / "results/tables/history.csv").read_bytes()
        tables[-1].attrs["history"] = history
    first, second = tables
    assert (first["threads"] == threads).all()
    pd.testing.assert_frame_equal(first, second, check_exact=True)
    assert first.attrs["history"] == second.attrs["history"]  # byte for byte
