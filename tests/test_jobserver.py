"""The job server (rnnmemory/jobserver.py): a served job behaves as the job's own process
would (streams, status, directory, environment, search path), a stopped job's worker ends
before the job does, one server starts for jobs that start together and survives a job that
vanishes mid-request, and jobs run in their own processes where the server is off or
unusable. Real servers, real processes."""

import contextlib
import json
import os
import signal
import socket
import subprocess
import sys
import tempfile
import textwrap
import time
from pathlib import Path

import pytest

from helpers import ROOT
from rnnmemory import jobserver

JOB = textwrap.dedent("""
    import json, os, sys, tempfile, time
    from rnnmemory import jobserver
    jobserver.hand_over()
    seen = {"served": jobserver.SERVED, "preloaded": "torch" in sys.modules, "pid": os.getpid(),
            "server": os.getppid(), "cwd": os.getcwd(), "x": os.environ.get("X"),
            "umask": os.umask(0), "argv": sys.argv, "path": sys.path, "tmp": tempfile.gettempdir(),
            "encoding": sys.stdout.encoding, "cpus": sorted(os.sched_getaffinity(0))}
    print(json.dumps(seen))
    print("to stderr", file=sys.stderr)
    if sys.argv[1] == "sleep":
        open("worker.pid", "w").write(str(os.getpid()))
        time.sleep(60)
    if sys.argv[1] == "raise":
        raise RuntimeError("the job failed")
    sys.exit(int(sys.argv[1]))
""")
NOT_THE_SAME = ["served", "preloaded", "pid", "server"]  # what differs from an own process


@pytest.fixture
def server_dir():
    """Short (a socket path has at most 107 bytes) and private to the test; its servers are
    stopped at the end."""
    with tempfile.TemporaryDirectory(prefix="rnnmemory-js-") as path:
        yield Path(path) / "servers"
        for pid_file in (Path(path) / "servers").glob("*.pid"):
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def run_job(tmp_path, server_dir, *args, wait=True, **env):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    base = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    env = {**base, "PYTHONPATH": str(ROOT / "scripts"), jobserver.DIR_ENV: str(server_dir),
           "TMPDIR": str(tmp_path), "X": "seen", **env}  # fmt: skip
    cmd = [sys.executable, str(script), *args]
    kwargs = dict(cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  preexec_fn=lambda: os.umask(0o027))  # fmt: skip
    if not wait:
        return subprocess.Popen(cmd, **kwargs)
    return subprocess.run(cmd, timeout=300, **kwargs)


def seen(run) -> dict:
    out = run.stdout if isinstance(run.stdout, str) else run.stdout.read()
    return json.loads(out.splitlines()[0])


def gone(pid, seconds=5.0):
    for _ in range(int(seconds / 0.05) + 1):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def started_sleeper(tmp_path, server_dir):
    job = run_job(tmp_path, server_dir, "sleep", wait=False)
    pid_file = tmp_path / "worker.pid"
    for _ in range(1200):
        if pid_file.exists() and pid_file.read_text():
            break
        time.sleep(0.05)
    worker = int(pid_file.read_text())
    pid_file.unlink()
    return job, worker


pytestmark = pytest.mark.skipif(not jobserver.wanted(), reason="job server off here")


@pytest.mark.slow
def test_a_served_job_is_its_own_process_twin(tmp_path, server_dir):
    runs = [run_job(tmp_path, server_dir, code) for code in ("3", "0")]
    own = run_job(tmp_path, server_dir, "3", **{jobserver.SWITCH_ENV: "0"})
    first, second, twin = (seen(run) for run in (*runs, own))
    assert [run.returncode for run in (*runs, own)] == [3, 0, 3]
    assert first["served"] and first["preloaded"] and not twin["served"] | twin["preloaded"]
    assert {k: v for k, v in first.items() if k not in NOT_THE_SAME} == {
        k: v for k, v in twin.items() if k not in NOT_THE_SAME
    }  # directory, environment, umask, argv, search path, temp dir, encoding, CPUs
    assert first["x"] == "seen" and first["umask"] == 0o027 and first["tmp"] == str(tmp_path)
    assert runs[0].stderr == own.stderr == "to stderr\n"
    assert first["server"] == second["server"] and first["pid"] != second["pid"]  # one server

    failed = run_job(tmp_path, server_dir, "raise")
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == "RuntimeError: the job failed"


@pytest.mark.slow
def test_a_stopped_job_ends_after_its_worker_and_a_lost_server_fails_the_job(tmp_path, server_dir):
    for stop in (signal.SIGTERM, signal.SIGINT):  # Snakemake's kill, Ctrl-C
        job, worker = started_sleeper(tmp_path, server_dir)
        job.send_signal(stop)
        assert job.wait(timeout=30) == 128 + signal.SIGTERM  # the worker got SIGTERM
        assert gone(worker, seconds=0)  # already when its job ended

    job, worker = started_sleeper(tmp_path, server_dir)
    os.kill(int(next(server_dir.glob("*.pid")).read_text()), signal.SIGKILL)
    assert job.wait(timeout=30) == 1
    assert "the connection closed before the job ended" in job.stderr.read()
    assert gone(worker)  # it ends with its server


@pytest.mark.slow
def test_jobs_that_start_together_start_one_server_which_outlives_a_vanished_job(
    tmp_path, server_dir
):
    jobs = [run_job(tmp_path, server_dir, "0", wait=False) for _ in range(3)]
    servers = {seen(job)["server"] for job in jobs}
    assert [job.wait(timeout=300) for job in jobs] == [0, 0, 0]
    assert len(servers) == 1 and len(list(server_dir.glob("*.pid"))) == 1

    # a job killed between its request and the server's answer
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    conn.connect(str(next(server_dir.glob("*.sock"))))
    request = dict(
        argv=[str(tmp_path / "job.py"), "sleep"],
        cwd=str(tmp_path),
        umask=0o22,
        env={"PYTHONPATH": str(ROOT / "scripts")},
        path=sys.path,
        cpus=[0],
    )
    socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
    conn.close()
    assert seen(run_job(tmp_path, server_dir, "0"))["server"] in servers


@pytest.mark.slow
def test_off_switch_slurm_and_an_unusable_directory_run_the_job_in_its_own_process(
    tmp_path, server_dir
):
    for env in ({jobserver.SWITCH_ENV: "0"}, {"SLURM_JOB_ID": "7"}):
        run = run_job(tmp_path, server_dir, "0", **env)
        assert not seen(run)["served"] and run.stderr == "to stderr\n"
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    linked = tmp_path / "linked"
    linked.symlink_to(server_dir.parent)  # private, but a link: someone could move it
    for unusable in (shared, linked):
        run = run_job(tmp_path, unusable, "0")
        assert run.returncode == 0 and not seen(run)["served"]
        assert run.stderr.splitlines()[0] == (
            f"job server unavailable ({unusable} is not private to this user): this job imports "
            "torch itself"
        )


@pytest.mark.slow
def test_an_idle_server_exits_and_the_next_job_starts_another(tmp_path, server_dir):
    idle = {jobserver.IDLE_ENV: "1"}
    first = seen(run_job(tmp_path, server_dir, "0", **idle))
    assert gone(first["server"], seconds=30)
    assert not list(server_dir.iterdir())  # its socket, pid, log and lock
    second = seen(run_job(tmp_path, server_dir, "0", **idle))
    assert first["served"] and second["served"] and first["server"] != second["server"]


def test_the_server_key_follows_the_library_and_the_import_environment(monkeypatch, tmp_path):
    (tmp_path / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(jobserver, "LIBRARY", tmp_path)
    keys = [jobserver.server_key()]
    os.utime(tmp_path / "module.py", ns=(1, 1))  # an edit
    keys.append(jobserver.server_key())
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # read when torch loads
    keys.append(jobserver.server_key())
    monkeypatch.setattr(sys, "prefix", "/another/venv")  # same interpreter, other packages
    keys.append(jobserver.server_key())
    monkeypatch.setenv("UNRELATED", "1")
    keys.append(jobserver.server_key())
    assert len(set(keys)) == 4 and keys[3] == keys[4]
