"""The fused kernel's build cache, torch-free (the workflow clears failed builds at its start).

One folder per build key under ``cache_root()``; in it the build, and the markers:
``BUILT`` (the build finished; it names the compiler that made it), ``FAILED`` (the last
build failed: later jobs of the same Snakemake invocation train with torch's ops at once
instead of each failing again; the next invocation retries, see ``clear_failed_builds``).

Jobs that start together wait for one build on ``build.lock`` (flock: the kernel releases it
when its holder dies, so it never goes stale), but never forever: after ``LOCK_WAIT_ENV``
seconds (default 900) a job gives up and trains with torch's ops. Torch's own ``lock`` file
in the build folder (its FileBaton) is left behind when a build is killed and would make the
next build wait forever; only a holder of ``build.lock`` builds, so one found while holding
it has no owner and is removed.
"""

from __future__ import annotations

import contextlib
import os
import time
from pathlib import Path

CACHE_ENV = "RNNMEMORY_KERNEL_CACHE"
LOCK_WAIT_ENV = "RNNMEMORY_KERNEL_LOCK_WAIT"
LOCK_WAIT_SECONDS = 900.0  # a build takes about a minute; a busy node several
BUILT, FAILED, LOCK, TORCH_LOCK = "BUILT", "FAILED", "build.lock", "lock"


class LockTimeout(RuntimeError):
    pass


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnnmemory")


def lock_wait_seconds() -> float:
    return float(os.environ.get(LOCK_WAIT_ENV) or LOCK_WAIT_SECONDS)


@contextlib.contextmanager
def build_lock(directory: Path, wait: float | None = None):
    """Hold ``directory/build.lock`` exclusively, waiting at most ``wait`` seconds (default
    ``lock_wait_seconds()``; LockTimeout after that); then remove a torch lock left by a killed
    build."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    wait = lock_wait_seconds() if wait is None else wait
    deadline = time.monotonic() + wait
    with open(directory / LOCK, "w") as handle:
        while True:
            try:
                fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
                break
            except BlockingIOError:
                if time.monotonic() >= deadline:
                    raise LockTimeout(
                        f"waited {wait:.0f} s for another job's kernel build ({directory / LOCK}; "
                        f"{LOCK_WAIT_ENV} sets the limit)"
                    ) from None
                time.sleep(0.2)
        try:
            (directory / TORCH_LOCK).unlink(missing_ok=True)  # no owner: we hold build.lock
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def clear_failed_builds(root: Path | None = None) -> list[Path]:
    """Remove every FAILED marker under the cache (the start of a Snakemake invocation, and an
    explicit build): a build that failed for a passing reason (memory, a full disk) is tried
    again. Returns the markers removed."""
    root = cache_root() if root is None else root
    removed = []
    if root.is_dir():
        for marker in root.glob(f"*/{FAILED}"):
            with contextlib.suppress(OSError):
                marker.unlink()
                removed.append(marker)
    return removed
