"""Two runs of the same config on the CPU give identical runs tables, timing columns aside."""

import pytest

from helpers import TINY, copy_project, runs_without_timing, tiny

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("threads", [1, 2])
def test_same_config_same_numbers(threads, tiny_study, tmp_path):
    """1 thread: a second run against the shared tiny study; 2 threads: two runs of one task
    and the LSTM (the arch with the most ops per step). Only the tables are made (figures and
    report cannot change them)."""
    train = f"train={{threads: {threads}, epochs: 20, log_every: 5, eval_every: 5}}"
    one_row = ["tasks=[first_plus_last]", "archs=[lstm]"]
    override = ["--config", train] + ([] if threads == 1 else one_row)
    tables = [f"{TINY}/tables/runs.csv", f"{TINY}/tables/history.csv"]
    first = tiny_study if threads == 1 else copy_project(tmp_path / "first")
    if threads != 1:
        tiny(first, *override, targets=tables)
    second = copy_project(tmp_path / "second")
    tiny(second, *override, targets=tables)
    tables = [runs_without_timing(workdir) for workdir in (first, second)]
    assert (tables[0]["threads"] == threads).all()
    assert tables[0].equals(tables[1])
    for name in ["history", "gradients", "lengths", "predictions"]:  # probes' tables too
        written = [(w / TINY / f"tables/{name}.csv").read_bytes() for w in (first, second)]
        assert written[0] == written[1], name  # byte for byte
