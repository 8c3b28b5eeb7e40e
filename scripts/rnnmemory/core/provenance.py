"""Where a timing or a table comes from: the commit, the machine and the wall time, as
docs/results.md and the README name them (study.json, the benchmarks' JSON records)."""

from __future__ import annotations

import os
import platform
import subprocess
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parents[3]


def machine() -> str:
    """'AMD EPYC, 2 cores, Linux x86_64': what a run's timings belong to."""
    model = platform.processor() or "unknown CPU"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                model = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    return f"{model}, {os.cpu_count()} cores, {platform.system()} {platform.machine()}"


def git(*args) -> str:
    proc = subprocess.run(["git", *args], cwd=ROOT, capture_output=True, text=True)
    return proc.stdout.strip() if proc.returncode == 0 else ""


def run_record(command: str, seconds: float) -> dict:
    """One run: its commit (and whether the work tree had uncommitted changes), machine,
    command, wall time and when it finished. RNNMEMORY_COMMIT, where set, names the commit
    instead, as ``git describe --always --dirty --abbrev=40`` prints it on the machine the work
    tree was copied from (a "-dirty" suffix: uncommitted changes): a copy sent to another
    machine (a lent GPU, say) may carry a stale .git, or none."""
    named = os.environ.get("RNNMEMORY_COMMIT")
    if named:
        commit, dirty = named.removesuffix("-dirty"), named.endswith("-dirty")
    else:
        commit = git("rev-parse", "HEAD")
        dirty = bool(git("status", "--porcelain", "--untracked-files=no"))
    return {
        "commit": commit,
        "dirty": dirty,
        "machine": machine(),
        "command": command,
        "wall_seconds": seconds,
        "finished": datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"),
    }
