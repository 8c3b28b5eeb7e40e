"""The kernel build cannot hang or silently degrade (kernelcache.py, fused.load): a killed
build's torch lock is removed, a job waits for another's build only so long, a failed build
is remembered within one invocation and retried by the next, and the cache key does not
depend on the compiler being there."""

import os
import subprocess
import sys

import pytest

from helpers import ROOT
from rnnmemory.training import fused
from rnnmemory.training.kernelcache import (
    BUILT,
    CACHE_ENV,
    FAILED,
    LOCK,
    LOCK_WAIT_ENV,
    TORCH_LOCK,
    LockTimeout,
    build_lock,
    clear_failed_builds,
)

HOLD = """
import fcntl, sys, time
handle = open(sys.argv[1], "w")
fcntl.flock(handle, fcntl.LOCK_EX)
print("held", flush=True)
time.sleep(60)
"""


@pytest.fixture
def holder(tmp_path):
    """Another process holding the build lock of tmp_path/'build' (a build in progress)."""
    directory = tmp_path / "build"
    directory.mkdir()
    proc = subprocess.Popen(
        [sys.executable, "-c", HOLD, str(directory / LOCK)], stdout=subprocess.PIPE, text=True
    )
    assert proc.stdout.readline().strip() == "held"
    yield directory
    proc.kill()
    proc.wait()


def test_a_killed_builds_torch_lock_is_removed_by_the_next_build(tmp_path):
    """torch's FileBaton leaves `lock` behind when its build is killed; the next build would
    wait on it forever. Whoever holds build.lock builds, so a torch lock found then is stale."""
    (tmp_path / TORCH_LOCK).write_text("")
    with build_lock(tmp_path):
        assert not (tmp_path / TORCH_LOCK).exists()


def test_waiting_for_another_build_gives_up_after_the_limit(holder):
    (holder / TORCH_LOCK).write_text("")  # the running build's own torch lock
    with pytest.raises(LockTimeout, match="waited 1 s for another job's kernel build"):
        with build_lock(holder, wait=1):
            pass
    assert (holder / TORCH_LOCK).exists()  # a job without build.lock touches nothing


def test_a_job_that_cannot_get_the_lock_trains_with_torch_ops(holder, tmp_path):
    """fused.load() in a fresh process whose build folder is locked by a build that does not
    finish: after RNNMEMORY_KERNEL_LOCK_WAIT seconds it says why and returns None."""
    code = (
        "from pathlib import Path; import shutil\n"
        "from rnnmemory.training import fused\n"
        "target = fused.build_dir(); target.parent.mkdir(parents=True, exist_ok=True)\n"
        f"shutil.move({str(holder)!r}, target)\n"  # the held lock file moves with its folder
        "print(fused.load() is None, fused.unavailable_reason())\n"
    )
    env = {CACHE_ENV: str(tmp_path / "cache"), LOCK_WAIT_ENV: "1"}
    proc = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "PYTHONPATH": str(ROOT / "scripts"), **env},
    )
    assert proc.returncode == 0, proc.stderr
    assert proc.stdout.startswith("True waited 1 s for another job's kernel build")


def test_a_failed_build_is_remembered_in_the_invocation_and_retried_by_the_next(
    kernel, tmp_path, monkeypatch
):
    """A build that fails (here: out of memory) makes the jobs after it in the same study run
    use torch's ops at once, without building again; the next invocation (the Snakefile's
    onstart clears the markers) builds again and gets the kernel."""
    monkeypatch.setenv(CACHE_ENV, str(tmp_path))
    builds = []

    def build(directory, fail):
        builds.append(directory)
        if fail:
            raise MemoryError("cc1plus: out of memory")
        return kernel

    def load_fresh(fail):
        monkeypatch.setattr(fused, "_loaded", {})  # a new job's process
        monkeypatch.setattr(fused, "_build", lambda directory: build(directory, fail))
        return fused.load()

    assert load_fresh(fail=True) is None
    assert "build failed: cc1plus: out of memory" in fused.unavailable_reason()
    assert (fused.build_dir() / FAILED).exists()
    assert load_fresh(fail=False) is None and len(builds) == 1  # not tried again
    assert "failed in this study run" in fused.unavailable_reason()
    assert clear_failed_builds() == [fused.build_dir() / FAILED]  # the next invocation
    assert load_fresh(fail=False) is kernel and len(builds) == 2
    assert (fused.build_dir() / BUILT).read_text().count("\n") == 2  # when, and the compiler


def test_the_cache_key_does_not_depend_on_the_compiler(monkeypatch):
    """A compute node without a compiler finds the kernel a login node with the same CPU built."""
    key = fused.build_key()
    monkeypatch.setenv("CXX", "/no/such/c++")
    assert fused.build_key() == key
