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
  as a job in its own process (tests/test_determinism.py compares the two). It takes the
  job's CPU affinity too, not its nice level, limits or cgroup (Snakemake sets none); a
  warning raised while importing goes to the server's log, once.
- A stopped job stops its worker: the server watches the job's connection, sends the worker
  SIGTERM when it closes (SIGKILL ``STOP_SECONDS`` later) and only then lets the job's
  process end. Outputs are written atomically, as before.
- One server per (Python and its packages, library sources, environment read at import:
  thread counts, allocators, locale, torch's switches). An edited source or another thread
  count starts a new one; a server exits after ``IDLE_SECONDS`` without a job. Its socket,
  pid and log are in ``$RNNMEMORY_JOB_SERVER_DIR``, else ``$XDG_RUNTIME_DIR/rnnmemory``, else
  a folder of the temp dir, private to the user.
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
import select
import selectors
import signal
import socket
import stat
import struct
import subprocess
import sys
import tempfile
import time
import traceback
from pathlib import Path
from typing import NoReturn

SWITCH_ENV = "RNNMEMORY_JOB_SERVER"  # "0": every job imports torch in its own process
DIR_ENV = "RNNMEMORY_JOB_SERVER_DIR"  # the servers' sockets and logs
IDLE_ENV = "RNNMEMORY_JOB_SERVER_IDLE"  # seconds without a job before a server exits
IDLE_SECONDS = float(os.environ.get(IDLE_ENV, 60))
START_SECONDS = 180.0  # a new server's imports, on a machine busy with other jobs
STOP_SECONDS = 10.0  # a stopped job's worker: from SIGTERM to SIGKILL
# what the served scripts import (train_cell.py, probe_cells.py); not pandas: pyarrow starts
# a thread, and a fork keeps no threads
PRELOAD = ["torch", "numpy", "snakemake.iocontainers", "snakemake.logging",
           "rnnmemory.training", "rnnmemory.checkpoint", "rnnmemory.inits", "rnnmemory.io",
           "rnnmemory.runtime"]  # fmt: skip
# environment variables read while importing (a server's imports saw its first job's values)
IMPORT_ENV = ("OMP_", "GOMP_", "KMP_", "MKL_", "OPENBLAS_", "GOTO_", "VECLIB_", "NUMEXPR_",
              "TORCH", "PYTORCH_", "CUDA_", "LD_", "GLIBC_", "MALLOC_", "PYTHON", "LANG", "LC_",
              "RNNMEMORY_")  # fmt: skip
LIBRARY = Path(__file__).resolve().parent
SERVED = False  # True in a server's worker: the job runs here


def wanted() -> bool:
    return (
        os.environ.get(SWITCH_ENV, "1") != "0"
        and "SLURM_JOB_ID" not in os.environ
        and hasattr(os, "pidfd_open")
    )


def server_key() -> str:
    """Which server may run this process's job: same Python and packages (prefix, search
    path), same library files (by size and modification time), same import-time environment."""
    parts = [sys.executable, sys.prefix, sys.version, *sys.path[1:]]  # [0]: the script's folder
    for path in sorted(LIBRARY.rglob("*")):
        if path.is_file() and "__pycache__" not in path.parts:
            info = path.stat()
            parts.append(f"{path}:{info.st_mtime_ns}:{info.st_size}")
    parts += [f"{k}={v}" for k, v in sorted(os.environ.items()) if k.startswith(IMPORT_ENV)]
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def server_dir() -> Path:
    """Private to this user, and no link: whoever can connect runs code as this user."""
    runtime = os.environ.get("XDG_RUNTIME_DIR")
    default = (
        f"{runtime}/rnnmemory" if runtime else f"{tempfile.gettempdir()}/rnnmemory-{os.getuid()}"
    )
    path = Path(os.environ.get(DIR_ENV) or default)
    path.mkdir(mode=0o700, parents=True, exist_ok=True)
    info = path.lstat()
    if not stat.S_ISDIR(info.st_mode) or info.st_uid != os.getuid() or info.st_mode & 0o077:
        raise OSError(f"{path} is not private to this user")
    return path


def hand_over() -> None:
    """Run this job in a server's worker and exit with its status; return if the job runs
    in this process (it is the worker, or no server serves it)."""
    if SERVED or not wanted():
        return
    request = {"argv": sys.argv, "cwd": os.getcwd(), "env": dict(os.environ), "path": sys.path,
               "umask": _umask(), "cpus": sorted(os.sched_getaffinity(0))}  # fmt: skip
    try:
        conn = _connect(server_dir() / f"{server_key()}.sock")
        socket.send_fds(conn, [json.dumps(request).encode()], [0, 1, 2])
        if not conn.recv(1 << 16):  # the worker's pid once forked; nothing ran before
            raise OSError("the server closed the connection")
    except OSError as exc:
        print(f"job server unavailable ({exc}): this job imports torch itself", file=sys.stderr,
              flush=True)  # fmt: skip
        return
    _wait(conn)


def _wait(conn: socket.socket) -> NoReturn:
    """Exit with the worker's status. A stop (Ctrl-C, Snakemake's kill) half-closes the
    connection: the server stops the worker and reports once it has ended, so this process,
    like a job in its own process, ends after the job's last write."""

    def stop(signum, frame):
        with contextlib.suppress(OSError):
            conn.shutdown(socket.SHUT_WR)
        signal.signal(signal.SIGALRM, lambda *_: os._exit(128 + signum))
        signal.alarm(int(2 * STOP_SECONDS))  # the server kills the worker before this

    for signum in (signal.SIGINT, signal.SIGTERM, signal.SIGHUP):
        signal.signal(signum, stop)
    reply = conn.recv(1 << 16)  # resumed after each signal's handler (PEP 475)
    if not reply:
        print("job server: the connection closed before the job ended", file=sys.stderr)
        os._exit(1)
    status = json.loads(reply)["status"]  # negative: killed by that signal
    os._exit(status if status >= 0 else 128 - status)


def _umask() -> int:  # (io.py has its own: io imports numpy, 0.1 s that a job's wait can skip)
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
    with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
        return _dial(path)
    with _start_lock(path):  # jobs that start together start one server
        with contextlib.suppress(FileNotFoundError, ConnectionRefusedError):
            return _dial(path)
        path.unlink(missing_ok=True)  # a dead server's socket
        log, (ready, ready_w) = path.with_suffix(".log"), os.pipe()
        env = {**os.environ, "PYTHONPATH": os.pathsep.join(
            [str(LIBRARY.parent), *filter(None, [os.environ.get("PYTHONPATH")])])}  # fmt: skip
        try:
            with open(log, "w") as out:  # it detaches: no pipe of Snakemake stays open
                subprocess.run(
                    [sys.executable, "-m", "rnnmemory.jobserver", str(path), str(ready_w)],
                    cwd="/", env=env, stdin=subprocess.DEVNULL, stdout=out,
                    stderr=subprocess.STDOUT, pass_fds=[ready_w], check=False,
                )  # fmt: skip
            os.close(ready_w)
            # "ready" once it listens; end of file if it died first
            if select.select([ready], [], [], START_SECONDS)[0] and os.read(ready, 8) == b"ready":
                return _dial(path)
        finally:
            os.close(ready)
        raise OSError(f"the server did not start, see {log}")


def serve(path: Path, ready: int) -> None:
    """The server: import, listen at ``path``, fork a worker per job; exit when idle."""
    for name in PRELOAD:
        try:
            importlib.import_module(name)
        except ImportError as exc:  # the job's own import will say it
            print(f"not preloaded: {name} ({exc})", flush=True)
    listener = socket.socket(socket.AF_UNIX, socket.SOCK_SEQPACKET)
    partial = path.with_suffix(f".{os.getpid()}.tmp")
    listener.bind(str(partial))
    listener.listen(64)
    os.replace(partial, path)
    inode = path.stat().st_ino
    path.with_suffix(".pid").write_text(f"{os.getpid()}\n")
    os.write(ready, b"ready")
    os.close(ready)
    print(f"{time.ctime()}: serving at {path}", flush=True)
    selector = selectors.DefaultSelector()
    selector.register(listener, selectors.EVENT_READ, None)
    jobs: dict[int, tuple[int, socket.socket]] = {}  # pidfd -> (worker pid, its job)
    stopping: dict[int, float] = {}  # worker pid -> when SIGKILL follows its SIGTERM
    last_job, closing = time.monotonic(), False
    while True:
        now = time.monotonic()
        if not jobs and (closing or now - last_job > IDLE_SECONDS):
            if not closing and not _leave(path, inode):
                last_job = now  # a job is starting a server: it may be about to connect here
                continue
            closing = True
            if not selector.select(0):  # serve the jobs already queued, then exit
                break
        timeout = None if jobs else max(0.0, last_job + IDLE_SECONDS - now)
        if stopping:
            timeout = max(0.0, min(stopping.values()) - now)
        for key, _ in selector.select(timeout):
            try:
                if key.fileobj is listener:
                    _start(listener.accept()[0], listener, selector, jobs)
                    last_job = time.monotonic()
                elif isinstance(key.fileobj, socket.socket):  # its job stopped (closed)
                    if selector.get_map().get(key.fd) is key:  # (the worker may have ended)
                        selector.unregister(key.fileobj)
                        os.kill(key.data, signal.SIGTERM)
                        stopping[key.data] = time.monotonic() + STOP_SECONDS
                else:
                    _ended(key.fileobj, selector, jobs, stopping)
                    last_job = time.monotonic()
            except Exception:  # one job's trouble never ends the server
                traceback.print_exc()
                sys.stdout.flush()
        for pid, deadline in list(stopping.items()):
            if time.monotonic() >= deadline:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGKILL)
                del stopping[pid]
    print(f"{time.ctime()}: idle, exiting", flush=True)


def _leave(path: Path, inode: int) -> bool:
    """Remove this server's files, unless a job holds the lock to start a server (whose files
    would have the same names)."""
    with _start_lock(path, wait=False) as held:
        if not held:
            return False
        with contextlib.suppress(FileNotFoundError):
            if path.stat().st_ino == inode:
                for suffix in (".sock", ".pid", ".log", ".lock"):
                    path.with_suffix(suffix).unlink(missing_ok=True)
    return True


@contextlib.contextmanager
def _start_lock(path: Path, wait: bool = True):
    """Held by the job that starts a server, and by a server that leaves; yields False if
    ``wait`` is off and another holds it. A lock file that a leaving server removed while a
    job waited on it is opened again: the job would hold a lock nobody else can see."""
    name = path.with_suffix(".lock")
    while True:
        with open(name, "a") as lock:
            try:
                fcntl.flock(lock, fcntl.LOCK_EX | (0 if wait else fcntl.LOCK_NB))
            except BlockingIOError:
                yield False
                return
            with contextlib.suppress(FileNotFoundError):
                if os.fstat(lock.fileno()).st_ino == name.stat().st_ino:
                    yield True
                    return


def _start(conn, listener, selector, jobs) -> None:
    """Receive a job (from this user only), fork its worker, watch both."""
    fds: list[int] = []
    try:
        conn.settimeout(5.0)  # a job stopped mid-request must not hold up the others
        uid = struct.unpack("3i", conn.getsockopt(socket.SOL_SOCKET, socket.SO_PEERCRED, 12))[1]
        if uid != os.getuid():
            raise ValueError(f"a job of user {uid}")
        data, fds, _, _ = socket.recv_fds(conn, 1 << 20, 3)
        request = json.loads(data)
        if len(fds) != 3:
            raise ValueError(f"{len(fds)} file descriptors, not 3")
        conn.settimeout(None)
    except (OSError, ValueError) as exc:
        print(f"{time.ctime()}: request refused: {exc}", flush=True)
        for fd in fds:
            os.close(fd)
        conn.close()
        return
    server = os.getpid()
    pid = os.fork()
    if pid == 0:
        selector.close()
        listener.close()
        for pidfd, (_, other) in jobs.items():
            os.close(pidfd)
            other.close()
        _run_worker(request, fds, conn, server)
    for fd in fds:
        os.close(fd)
    pidfd = os.pidfd_open(pid)
    jobs[pidfd] = (pid, conn)
    selector.register(pidfd, selectors.EVENT_READ, pid)
    selector.register(conn, selectors.EVENT_READ, pid)
    with contextlib.suppress(OSError):  # gone already: its closed connection stops the worker
        conn.send(json.dumps({"pid": pid}).encode())
    print(f"{time.ctime()}: worker {pid}: {' '.join(request['argv'])} in {request['cwd']}",
          flush=True)  # fmt: skip


def _ended(pidfd: int, selector, jobs, stopping) -> None:
    """A worker ended: report its status to its job, if the job still listens."""
    pid, conn = jobs.pop(pidfd)
    selector.unregister(pidfd)
    os.close(pidfd)
    stopping.pop(pid, None)
    status = os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1])
    if selector.get_map().get(conn.fileno()) is not None:
        selector.unregister(conn)
    with contextlib.suppress(OSError):  # a stopped job half-closed: it waits for this
        conn.send(json.dumps({"status": status}).encode())
    conn.close()
    print(f"{time.ctime()}: worker {pid} ended, status {status}", flush=True)


def _run_worker(request: dict, fds: list[int], conn: socket.socket, server: int) -> NoReturn:
    """In the forked worker: become the job's process, run its script, exit."""
    global SERVED
    SERVED = True
    conn.close()  # the server reports the status; the job sees EOF if the server dies
    ctypes.CDLL(None).prctl(1, signal.SIGTERM)  # PR_SET_PDEATHSIG: end with the server
    if os.getppid() != server:  # it ended before that: its job runs the job itself
        os._exit(1)
    signal.signal(signal.SIGINT, signal.default_int_handler)
    for target, fd in enumerate(fds):
        os.dup2(fd, target)
        os.close(fd)
    unbuffered = bool(request["env"].get("PYTHONUNBUFFERED"))
    encoding = sys.__stdout__.encoding  # as Python chose it for the server (same locale)
    sys.stdin = open(0, closefd=False, encoding=encoding)
    sys.stdout = open(1, "w", closefd=False, encoding=encoding,
                      buffering=1 if os.isatty(1) or unbuffered else -1)  # fmt: skip
    sys.stderr = open(2, "w", closefd=False, buffering=1, encoding=encoding,
                      errors="backslashreplace")  # fmt: skip
    os.chdir(request["cwd"])
    os.environ.clear()
    os.environ.update(request["env"])
    os.umask(request["umask"])
    with contextlib.suppress(OSError):
        os.sched_setaffinity(0, request["cpus"])
    tempfile.tempdir = None  # read again from TMPDIR
    sys.argv, sys.path[:] = list(request["argv"]), request["path"]
    code = 0
    try:
        runpy.run_path(sys.argv[0], run_name="__main__")
    except SystemExit as exc:
        code = exc.code if isinstance(exc.code, int) else int(exc.code is not None)
        if not isinstance(exc.code, int | None):
            print(exc.code, file=sys.stderr)
    except BaseException:
        traceback.print_exc()
        code = 1
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(code)


def main(path: str, ready: str) -> None:
    """Detach (fork, new session: the starter exits at once), then serve."""
    if os.fork():
        return
    os.setsid()
    try:
        serve(Path(path), int(ready))
    except BaseException:
        traceback.print_exc()
        sys.stdout.flush()
        os._exit(1)
    os._exit(0)


if __name__ == "__main__":
    from rnnmemory import jobserver  # the module, not __main__: workers read its SERVED

    jobserver.main(*sys.argv[1:])
