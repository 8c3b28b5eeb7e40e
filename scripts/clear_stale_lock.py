"""Remove Snakemake's directory lock when the run that left it is gone.

A run killed hard (SIGKILL, a lost node, a power cut) leaves `.snakemake/locks/` behind, and
the next run refuses to start until `snakemake --unlock`. `make study` calls this first: the
lock is removed only if no live process whose command line mentions snakemake has this
directory as its working directory, so a run in progress is never unlocked. Linux only (/proc).
"""

import sys
from pathlib import Path


def live_snakemake_here(workdir: Path) -> list[int]:
    pids = []
    for proc in Path("/proc").glob("[0-9]*"):
        try:
            cmdline = (proc / "cmdline").read_bytes().replace(b"\0", b" ").decode()
            cwd = (proc / "cwd").resolve()
        except OSError:
            continue  # gone, or not ours to read
        if "snakemake" in cmdline and "clear_stale_lock" not in cmdline and cwd == workdir:
            pids.append(int(proc.name))
    return pids


def main(workdir: Path) -> int:
    locks = sorted((workdir / ".snakemake" / "locks").glob("*.lock"))
    if not locks:
        return 0
    running = live_snakemake_here(workdir)
    if running:
        print(f"Snakemake is running in {workdir} (pid {', '.join(map(str, running))}); lock kept")
        return 0
    for lock in locks:
        lock.unlink()
    print(f"removed a stale lock left by an interrupted run in {workdir}/.snakemake/locks")
    return 0


if __name__ == "__main__":
    sys.exit(main(Path(sys.argv[1] if len(sys.argv) > 1 else ".").resolve()))
