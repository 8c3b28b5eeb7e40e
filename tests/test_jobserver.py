"""The job server (rnnmemory/jobserver.py): a served job behaves as the job's own process
would (streams, status, directory, environment), stops when its process is stopped, and runs
in its own process where the server is off or unreachable. Real servers, real processes."""

import contextlib
import os
import signal
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
    import os, sys, time
    from rnnmemory import jobserver
    jobserver.hand_over()
    preloaded = "torch" in sys.modules
    print(f"served={jobserver.SERVED} preloaded={preloaded} pid={os.getpid()}"
          f" server={os.getppid()} cwd={os.getcwd()} x={os.environ.get('X')}"
          f" umask={os.umask(0):o} argv={sys.argv[1:]}")
    print("to stderr", file=sys.stderr)
    if sys.argv[1] == "sleep":
        open("worker.pid", "w").write(str(os.getpid()))
        time.sleep(60)
    if sys.argv[1] == "raise":
        raise RuntimeError("the job failed")
    sys.exit(int(sys.argv[1]))
""")


@pytest.fixture(scope="module")
def server_dir():
    """Short (a socket path has at most 107 bytes) and private to these tests."""
    with tempfile.TemporaryDirectory(prefix="rnnmemory-js-") as path:
        yield Path(path) / "servers"
        for pid_file in (Path(path) / "servers").glob("*.pid"):  # leave no server behind
            with contextlib.suppress(ProcessLookupError, ValueError):
                os.kill(int(pid_file.read_text()), signal.SIGTERM)


def run_job(tmp_path, server_dir, *args, wait=True, **env):
    script = tmp_path / "job.py"
    script.write_text(JOB)
    base = {k: v for k, v in os.environ.items() if k != "SLURM_JOB_ID"}
    env = {**base, "PYTHONPATH": str(ROOT / "scripts"), jobserver.DIR_ENV: str(server_dir),
           "X": "seen", **env}  # fmt: skip
    cmd = [sys.executable, str(script), *args]
    kwargs = dict(cwd=tmp_path, env=env, text=True, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                  preexec_fn=lambda: os.umask(0o027))  # fmt: skip
    if not wait:
        return subprocess.Popen(cmd, **kwargs)
    return subprocess.run(cmd, timeout=300, **kwargs)


def fields(stdout: str) -> dict:
    return dict(item.split("=", 1) for item in stdout.split("\n")[0].split(" "))


def gone(pid, seconds=5.0):
    for _ in range(int(seconds / 0.05)):
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


pytestmark = pytest.mark.skipif(not jobserver.wanted(), reason="job server off here")


@pytest.mark.slow
def test_a_served_job_is_the_job_itself(tmp_path, server_dir):
    runs = [run_job(tmp_path, server_dir, code) for code in ("3", "0")]
    first, second = (fields(run.stdout) for run in runs)
    assert [run.returncode for run in runs] == [3, 0]
    assert first["served"] == "True" and first["preloaded"] == "True"  # torch came loaded
    assert first["cwd"] == str(tmp_path) and first["x"] == "seen" and first["umask"] == "27"
    assert first["argv"] == "['3']" and runs[0].stderr == "to stderr\n"
    assert first["server"] == second["server"] and first["pid"] != second["pid"]  # one server

    failed = run_job(tmp_path, server_dir, "raise")
    assert failed.returncode == 1
    assert failed.stderr.splitlines()[-1] == "RuntimeError: the job failed"


@pytest.mark.slow
def test_stopping_a_job_stops_its_worker_and_a_lost_server_fails_the_job(tmp_path, server_dir):
    def started():
        job = run_job(tmp_path, server_dir, "sleep", wait=False)
        pid_file = tmp_path / "worker.pid"
        for _ in range(600):
            if pid_file.exists() and pid_file.read_text():
                break
            time.sleep(0.1)
        worker = int(pid_file.read_text())
        pid_file.unlink()
        return job, worker

    for stop in (signal.SIGTERM, signal.SIGINT):  # Snakemake's kill, Ctrl-C
        job, worker = started()
        job.send_signal(stop)
        assert job.wait(timeout=30) != 0
        assert gone(worker)

    job, worker = started()
    server = int(next(server_dir.glob("*.pid")).read_text())
    os.kill(server, signal.SIGKILL)
    assert job.wait(timeout=30) == 1
    assert "the connection closed before the job ended" in job.stderr.read()
    assert gone(worker)  # it ends with its server


@pytest.mark.slow
def test_off_switch_slurm_and_an_unusable_directory_run_the_job_in_its_own_process(
    tmp_path, server_dir
):
    for env in ({jobserver.SWITCH_ENV: "0"}, {"SLURM_JOB_ID": "7"}):
        run = run_job(tmp_path, server_dir, "0", **env)
        assert fields(run.stdout)["served"] == "False" and run.stderr == "to stderr\n"
    shared = tmp_path / "shared"
    shared.mkdir(mode=0o755)
    shared.chmod(0o755)
    run = run_job(tmp_path, shared, "0")
    assert run.returncode == 0 and fields(run.stdout)["served"] == "False"
    assert run.stderr.splitlines()[0] == (
        f"job server unavailable ({shared} is not private to this user): this job imports "
        "torch itself"
    )


@pytest.mark.slow
def test_an_idle_server_exits_and_the_next_job_starts_another(tmp_path, server_dir):
    idle = {"RNNMEMORY_JOB_SERVER_IDLE": "1"}
    first = fields(run_job(tmp_path, server_dir, "0", **idle).stdout)
    assert gone(int(first["server"]), seconds=20)
    second = fields(run_job(tmp_path, server_dir, "0", **idle).stdout)
    assert first["served"] == second["served"] == "True" and first["server"] != second["server"]


def test_the_server_key_follows_the_library_and_the_import_environment(monkeypatch, tmp_path):
    (tmp_path / "module.py").write_text("x = 1\n")
    monkeypatch.setattr(jobserver, "LIBRARY", tmp_path)
    keys = [jobserver.server_key()]
    os.utime(tmp_path / "module.py", ns=(1, 1))  # an edit
    keys.append(jobserver.server_key())
    monkeypatch.setenv("OMP_NUM_THREADS", "7")  # read when torch loads
    keys.append(jobserver.server_key())
    monkeypatch.setenv("UNRELATED", "1")
    keys.append(jobserver.server_key())
    assert len(set(keys)) == 3 and keys[2] == keys[3]
