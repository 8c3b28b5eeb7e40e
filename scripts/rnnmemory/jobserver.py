"""A job server: train and probe jobs that start with torch already imported.

Every train job is a process of its own: a stopped study keeps each finished cell, and a
cluster runs cells in parallel. But every process paid ``import torch``, about 2 s on the
2-core EPYC, 6% of the default study's train-job time and more than all of a job's other
overhead together; the time is torch's own Python modules (``-X importtime``), nothing a job
can leave out.

So a job hands itself over (``hand_over``, the first line of the job's script) to a server
that imported torch and the library once, and forks a worker for it (~25 ms). The worker
takes the job's working directory, environment, umask, arguments and standard streams and
runs the job's script from the top; the job's own process waits and exits with the worker's
status. Snakemake sees an ordinary job: its wall time, its outputs, its log.

- The worker is a fresh copy of a process that has only imported modules: the same numbers
  as a job in its own process (tests/test_determinism.py compares the two).
- A stopped job stops its worker: the server watches the job's connection and sends the
  worker SIGTERM when it closes (outputs are written atomically, as before).
- One server per (Python, library sources, environment read at import: thread counts,
  allocators, torch's switches). An edited source or another thread count starts a new one;
  a server exits after ``IDLE_SECONDS`` without a job.
- Where it cannot help it is off: on a SLURM node (each job may land on another node, and
  SLURM ends what a job leaves behind), with ``RNNMEMORY_JOB_SERVER=0``, or without pidfds
  (Linux < 5.3). A server that cannot be reached or started costs one line on stderr, and
  the job runs in its own process.
"""

from __future__ import annotations

import contextlib
import ctypes
import fcntl
import hashlib
import importlib
import json
import os
import runpy
import selectors
import signal
import socket
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path

SWITCH_ENV = "RNNMEMORY_JOB_SERVER"  # "0": every job imports torch in its own process
DIR_ENV = "RNNMEMORY_JOB_SERVER_DIR"  # the servers' sockets and logs (default: a temp dir)
IDLE_SECONDS = float(os.environ.get("RNNMEMORY_JOB_SERVER_IDLE", 60))
START_SECONDS = 180.0  # a new server's imports, on a machine busy with other jobs
# what the served scripts import (train_cell.py, probe_cells.py); not pandas: pyarrow starts
# a thread, and a fork keeps no threads
PRELOAD = ["torch", "numpy", "snakemake.iocontainers", "snakemake.logging",
           "rnnmemory.training", "rnnmemory.checkpoint", "rnnmemory.inits", "rnnmemory.io",
           "rnnmemory.runtime"]  # fmt: skip
# environment variables read while importing (a server's imports saw its first job's values)
IMPORT_ENV = ("OMP_", "KMP_", "MKL_", "OPENBLAS_", "GOTO_", "VECLIB_", "NUMEXPR_", "TORCH",
              "PYTORCH_", "CUDA_", "LD_", "PYTHON", "MALLOC_", "RNNMEMORY_")  # fmt: skip
LIBRARY = Path(__file__).resolve().parent
SERVED = False  # True in a server's worker: the job runs here


def wanted() -> bool:
    return (
        os.environ.get(SWITCH_ENV, "1") != "0"
        and "SLURM_JOB_ID" not in os.environ
        and hasattr(os, "pidfd_open")
    )


def server_key() -> str:
    """Which server may run this process's job: same Python, same library files (by size and
    modification time), same import-time environment."""
    digest = hashlib.sha256(os.path.realpath(sys.executable).encode())
    for path in sorted(LIBRARY.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            stat = path.stat()
            digest.update(f"\0{path}\0{stat.st_mtime_ns}\0{stat.st_size}".encode())
    for name, value in sorted(os.environ.items()):
        if name.startswith(IMPORT_ENV):
            digest.update(f"\0{name}={value}".encode())
    return digest.hexdigest()[:16]


def server_dir() -> Path:
    """Private to this user: whoever can connect runs code as this user."""
    path = Path(os.environ.get(DIR_ENV) or f"{tempfile.gettempdir()}/rnnmemory-{os.getuid()}")
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    stat = path.stat()
    if stat.st_uid != os.getuid() or stat.st_mode & 0o077:
        raise OSError(f"{path} is not private to this user")
    return path


def hand_over() -> None:
    """Run this job in a server's worker and exit with its status; return if the job runs
    in this process (it is the worker, or no server serves it)."""
    if SERVED or not wanted():
        return
    request = {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ),
               "umask": _umask()}  # fmt: skip
    try:
        conn = _connect(server_dir() / f"{server_key()}.sock")
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        started = conn.recv(1 << 16)  # the worker's pid once forked; nothing has run before
        if not started:
            raise OSError("the server closed the connection")
    except OSError as exc:
        print(f"job server unavailable ({exc}): this job imports torch itself", file=sys.stderr,
              flush=True)  # fmt: skip
        return
    try:
        reply = conn.recv(1 << 16)
    except KeyboardInterrupt:  # Ctrl-C: closing the connection stops the worker
        os._exit(130)
    if not reply:
        print("job server: the connection closed before the job ended", file=sys.stderr)
        os._exit(1)
    status = json.loads(reply)["status"]  # negative: killed by that signal
    os._exit(status if status >= 0 else 128 - status)


def _umask() -> int:
    mask = os.umask(0)
    os.umask(mask)
    return mask


def _dial(path: Path) -> socket.socket:
    conn = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    try:
        conn.connect(str(path))
    except OSError:
        conn.close()
        raise
    return conn


def _connect(path: Path) -> socket.socket:
    """A connection to the server at ``path``, started first if none answers there."""
    try:
        return _dial(path)
    except (FileNotFoundError, ConnectionRefusedError):
        pass
    with open(path.with_suffix(".lock"), "w") as lock:
        fcntl.flock(lock, fcntl.LOCK_EX)  # jobs that start together start one server
        try:
            return _dial(path)
        except (FileNotFoundError, ConnectionRefusedError):
            pass
        path.unlink(missing_ok=True)  # a dead server's socket
        log = path.with_suffix(".log")
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(LIBRARY.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}  # fmt: skip
        with open(log, "w") as out:  # the server detaches: no pipe of Snakemake stays open
            starter = subprocess.run(
                [sys.executable, "-m", "rnnmemory.jobserver", str(path)], cwd="/", env=env,
                stdin=subprocess.DEVNULL, stdout=out, stderr=subprocess.STDOUT,
            )  # fmt: skip
        if starter.returncode != 0:
            raise OSError(f"the server did not start, see {log}")
        pid, deadline = int(path.with_suffix(".pid").read_text()), time.monotonic() + START_SECONDS
        while True:
            try:
                return _dial(path)
            except (FileNotFoundError, ConnectionRefusedError):
                if not _alive(pid) or time.monotonic() > deadline:
                    raise OSError(f"the server did not start, see {log}") from None
                time.sleep(0.05)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    return True


def serve(path: Path) -> None:
    """The server: import, listen at ``path``, fork a worker per job; exit when idle."""
    for name in PRELOAD:
        importlib.import_module(name)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    listener.bind(str(partial))
    listener.listen(64)
    os.replace(partial, path)  # jobs see the socket only now, imports done
    inode = path.stat().st_ino
    print(f"{time.ctime()}: serving at {path}", flush=True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    jobs: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (pid, connection)
    last_job, closing = time.monotonic(), False
    while True:
        if not jobs and (closing or time.monotonic() - last_job > IDLE_SECONDS):
            if not closing and _ours(path, inode):
                path.unlink()  # no new jobs; serve those already queued, then exit
            closing = True
            if not selector.select(0):
                break
        for key, _ in selector.select(None if jobs else max(0.0, IDLE_SECONDS / 4)):
            if key.fileobj is listener:
                conn, _ = listener.accept()
                _start(conn, listener, selector, jobs)
                last_job = time.monotonic()
            elif isinstance(key.fileobj, socket.socket):  # a job's process went away
                if selector.get_map().get(key.fd) is key:  # (its worker may have ended)
                    selector.unregister(key.fileobj)
                    with contextlib.suppress(ProcessLookupError):
                        os.kill(key.data, signal.SIGTERM)
            else:  # a worker ended
                pid, conn = jobs.pop(key.fileobj)
                selector.unregister(key.fileobj)
                os.close(key.fileobj)
                status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
                if conn.fileno() in selector.get_map():
                    selector.unregister(conn)
                    with contextlib.suppress(OSError):
                        conn.send(json.dumps({"status": status}).encode())
                conn.close()
                print(f"{time.ctime()}: worker {pid} ended, status {status}", flush=True)
                last_job = time.monotonic()
    listener.close()
    print(f"{time.ctime()}: idle, exiting", flush=True)
    for suffix in (".log", ".pid"):  # (the lock stays: a job may hold it)
        path.with_suffix(suffix).unlink(missing_ok=True)


def _ours(path: Path, inode: int) -> bool:
    try:
        return path.stat().st_ino == inode
    except FileNotFoundError:
        return False


def _start(conn, listener, selector, jobs) -> None:
    """Receive a job, fork its worker, watch both."""
    try:
        data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        request = json.loads(data)
        if len(fds) != 3:
            raise ValueError(f"{len(fds)} file descriptors, not 3")
    except (OSError, ValueError) as exc:
        print(f"{time.ctime()}: bad request: {exc}", flush=True)
        conn.close()
        return
    sys.stdout.flush()
    pid = os.fork()
    if pid == 0:
        selector.close()
        listener.close()
        for pidfd, (_, other) in jobs.items():
            os.close(pidfd)
            other.close()
        _run_worker(request, fds, conn)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    jobs[pidfd] = (pid, conn)
    selector.register(pidfd, selectors.EVENT_READ, pid)
    selector.register(conn, selectors.EVENT_READ, pid)
    conn.send(json.dumps({"pid": pid}).encode())
    print(f"{time.ctime()}: worker {pid}: {' '.join(request['argv'])} in {request['cwd']}",
          flush=True)  # fmt: skip


def _run_worker(request: dict, fds: list[int], conn: socket.socket):
    """In the forked worker: become the job's process, run its script, exit."""
    global SERVED
    SERVED = True
    conn.close()  # the server reports the status; the job sees EOF if the server dies
    libc = ctypes.CDLL(None)
    libc.prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: a worker ends with its server
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))
    sys.stdin = open(0, closefd=False)
    sys.stdout = open(1, "w", closefd=False, buffering=1 if os.isatty(1) or unbuffered else -1)
    sys.stderr = open(2, "w", closefd=False, buffering=1, errors="backslashreplace")
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    script = request["argv"][0]
    sys.argv = list(request["argv"])
    sys.path[0] = os.path.dirname(os.path.abspath(script))  # as `python script` sets it
    code = 0
    try:
        runpy.run_path(script, run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else (exc.code is not None)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(int(code))


def main(path: str) -> None:
    """Detach (fork, new session; the starter exits at once), record the pid, serve."""
    pid = os.fork()
    if pid:
        Path(path).with_suffix(".pid").write_text(str(pid))  # before the starter exits
        return
    os.setsid()
    try:
        serve(Path(path))
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    from rnnmemory import jobserver  # the module, not __main__: workers read its SERVED

    jobserver.main(sys.argv[1])
