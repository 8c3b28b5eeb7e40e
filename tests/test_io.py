"""Files appear whole or not at all, with the permissions of a plainly written file."""

import os
import stat
import subprocess
import sys

import pytest

from helpers import ROOT
from rnnmemory.core.io import atomic_path


def test_a_failed_write_leaves_nothing(tmp_path):
    target = tmp_path / "out.csv"
    with pytest.raises(RuntimeError), atomic_path(target) as tmp:
        with open(tmp, "w") as f:
            f.write("half")
        raise RuntimeError("killed mid-write")
    assert list(tmp_path.iterdir()) == []


def test_a_finished_file_has_the_umask_permissions(tmp_path):
    old = os.umask(0o022)
    try:
        with atomic_path(tmp_path / "table.csv") as tmp:
            open(tmp, "w").write("a,b\n")
        plain = tmp_path / "plain.csv"
        plain.write_text("a,b\n")
    finally:
        os.umask(old)
    mode = stat.S_IMODE((tmp_path / "table.csv").stat().st_mode)
    assert mode == stat.S_IMODE(plain.stat().st_mode) == 0o644


def test_end_job_exits_zero_with_every_line_written(tmp_path):
    """A job's last call skips the interpreter's teardown (os._exit): what it printed to its
    stdout (a pipe, block-buffered) and its log (the redirected stderr) must still arrive."""
    log = tmp_path / "job.log"
    code = (
        "import sys\n"
        "from rnnmemory.core.io import log_to\n"
        "from rnnmemory.training.runtime import end_job\n"
        f"log = log_to({str(log)!r})\n"
        "print('to the log', file=log)\n"
        "sys.stderr.write('a warning, unterminated')\n"
        "print('trained: 2/2 seeds solved')\n"
        "end_job()\n"
        "print('never')\n"
    )
    env = {k: v for k, v in os.environ.items() if k != "PYTHONUNBUFFERED"}  # buffered, as usual
    done = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        env={**env, "PYTHONPATH": str(ROOT / "scripts")},
    )
    assert done.returncode == 0
    assert done.stdout == "trained: 2/2 seeds solved\n"
    assert log.read_text() == "to the log\na warning, unterminated"
