"""Two runs of the same config on the CPU give identical runs tables, timing columns aside."""

import pytest

from helpers import TINY, copy_project, runs_without_timing, tiny

pytestmark = pytest.mark.slow


@pytest.mark.parametrize("threads", [1, 2])
def test_same_config_same_numbers(threads, tiny_study, tmp_path):
    """1 thread: a second run against the shared tiny study; 2 threads: two runs."""
    train = f"train={{threads: {threads}, epochs: 20, log_every: 5, eval_every: 5}}"
    override = ["--config", train]
    first = tiny_study if threads == 1 else copy_project(tmp_path / "first")
    if threads != 1:
        tiny(first, *override)
    second = copy_project(tmp_path / "second")
    tiny(second, *override)
    tables = [runs_without_timing(workdir) for workdir in (first, second)]
    assert (tables[0]["threads"] == threads).all()
    assert tables[0].equals(tables[1])
    history = [(w / TINY / "tables/history.csv").read_bytes() for w in (first, second)]
    assert history[0] == history[1]  # byte for byte
