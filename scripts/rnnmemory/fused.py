"""The fused CPU kernel of one recurrent layer (forward and backward through time in C++).

``csrc/`` runs a layer over blocks of one SIMD vector of samples, each through all T steps,
with the gate math in one pass of vector ops (``vecmath.h``: exp, sigmoid, tanh); forward keeps
a checkpoint of the state every 16 steps, and backward reruns each 16-step segment from it in
cache before walking back through it (``layer.h``); see the comments there. ``run_layer`` has
``bptt.run_layer``'s interface; ``StackedRecurrentNet`` uses it with ``backend="fused"``.

Build: once per machine with torch's own tooling (``torch.utils.cpp_extension``; a C++
compiler and ninja), into a cache directory keyed by the sources, the flags, torch, Python,
the compiler and the CPU's feature flags (``-march=native`` code dies with "illegal
instruction" on a CPU without the features it was built for, so a cache on a cluster's shared
disk keeps one build per kind of node). Default ``~/.cache/rnnmemory``, or
``$RNNMEMORY_KERNEL_CACHE``. A file lock makes parallel jobs wait for one build instead of
racing. If the build fails (no compiler, ...) ``load()`` logs one line and returns None, the
failure is remembered in the cache (delete the directory it names to retry) and the trainer
uses torch's ops (``default_backend``). Warm the cache before a study:

    PYTHONPATH=scripts python -m rnnmemory.fused

Flags: -O3 -march=native (AVX2 or AVX-512, what the CPU has); -ffp-contract=fast so a * b + c
is one FMA (torch compiles extensions in an ISO -std mode, where GCC turns contraction off);
-fno-trapping-math; -fopenmp so that at::parallel_for really runs on torch's threads (without
it ATen's header silently runs the loop serially; the extension then shares torch's libgomp).
No -ffast-math: its -ffinite-math-only lets the compiler assume NaN and Inf away, and a
diverging seed must give a NaN loss (tests/test_fused.py checks it); csrc/vecmath.h says why
that costs nothing here.
"""

from __future__ import annotations

import contextlib
import hashlib
import importlib.util
import logging
import os
import platform
import shutil
import subprocess
import sys
import sysconfig
import time
import warnings
from pathlib import Path

import torch
from torch.autograd.function import once_differentiable

from . import bptt

log = logging.getLogger(__name__)

NAME = "rnnmemory_fused"
CSRC = Path(__file__).with_name("csrc")
CFLAGS = ("-O3", "-march=native", "-ffp-contract=fast", "-fno-trapping-math", "-fopenmp")
LDFLAGS = ("-fopenmp",)
ARCH_CODES = {"rnn": 0, "gru": 1, "lstm": 2}
CACHE_ENV = "RNNMEMORY_KERNEL_CACHE"

_loaded: dict = {}  # "module": the extension or None once tried, "reason": why not


def cache_root() -> Path:
    return Path(os.environ.get(CACHE_ENV) or Path.home() / ".cache" / "rnnmemory")


def _compiler() -> str:
    """The compiler torch's build will call, with its version line ('missing' if absent)."""
    cxx = os.environ.get("CXX", "c++")
    try:
        out = subprocess.run([cxx, "--version"], capture_output=True, text=True, timeout=30)
        return f"{cxx}: {out.stdout.splitlines()[0] if out.stdout else out.returncode}"
    except (OSError, subprocess.SubprocessError):
        return f"{cxx}: missing"


def _cpu_flags() -> str:
    """The CPU's instruction-set flags: what -march=native code depends on."""
    with contextlib.suppress(OSError):
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith(("flags", "Features")):
                return line.split(":", 1)[1].strip()
    return f"{platform.machine()} {platform.processor()}"


def build_key() -> str:
    sources = sorted([*CSRC.glob("*.cpp"), *CSRC.glob("*.h")])  # every one: a new header counts
    parts = [f"{path.name}\n{path.read_text()}" for path in sources]
    parts += [" ".join(CFLAGS + LDFLAGS), torch.__version__, sys.version, _compiler(),
              sysconfig.get_config_var("EXT_SUFFIX") or "", _cpu_flags()]  # fmt: skip
    return hashlib.sha256("\0".join(parts).encode()).hexdigest()[:16]


def build_dir() -> Path:
    return cache_root() / f"fused-{build_key()}"


@contextlib.contextmanager
def _locked(path: Path):
    """An exclusive lock on ``path`` (jobs that start together wait for one build)."""
    try:
        import fcntl
    except ImportError:  # not POSIX: no lock
        yield
        return
    with open(path, "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _import(so: Path):
    spec = importlib.util.spec_from_file_location(NAME, so)
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def _build(directory: Path):
    from torch.utils import cpp_extension

    quiet = logging.getLogger(cpp_extension.__name__)  # its compiler warnings: our one line says it
    level = quiet.level
    quiet.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            return cpp_extension.load(  # (it appends to the flag lists it gets: copies)
                NAME, [str(CSRC / "fused.cpp")], extra_cflags=list(CFLAGS),
                extra_ldflags=list(LDFLAGS),
                extra_include_paths=[str(CSRC)], build_directory=str(directory), verbose=False,
            )  # fmt: skip
    finally:
        quiet.setLevel(level)


def _check_tools():
    """Fail fast, and without remembering it, when the tools are missing."""
    from torch.utils import cpp_extension

    cxx = os.environ.get("CXX", "c++")
    if shutil.which(cxx) is None:
        raise RuntimeError(f"no C++ compiler: {cxx!r} not found")
    if not cpp_extension.is_ninja_available():
        raise RuntimeError("ninja not found (pip install ninja)")


def _first_error(exc) -> str:
    """The compiler's first error line, else the exception's first line."""
    lines = str(exc).splitlines() or [type(exc).__name__]
    return next((line.strip() for line in lines if "error" in line.lower()), lines[0])[:200]


def load():
    """The compiled extension, built on first use; None (after one log line) if it cannot be
    built here. Tried once per process."""
    if "module" in _loaded:
        return _loaded["module"]
    module = None
    try:
        directory = build_dir()
        failed, done = directory / "FAILED", directory / "BUILT"
        if not done.exists():  # (a built kernel skips it: it imports setuptools, 0.2 s a job)
            _check_tools()
        directory.mkdir(parents=True, exist_ok=True)
        with _locked(directory / "build.lock"):
            if failed.exists():
                raise RuntimeError(f"an earlier build failed, see {failed} (delete to retry)")
            if done.exists():
                module = _import(directory / f"{NAME}.so")
            else:
                try:
                    module = _build(directory)
                except Exception as exc:
                    failed.write_text(f"{type(exc).__name__}: {exc}\n")
                    raise RuntimeError(f"build failed: {_first_error(exc)}; see {failed}") from exc
                done.write_text(f"{time.ctime()}\n")
        _loaded["dir"] = directory
    except Exception as exc:  # any failure: fall back to torch's ops
        reason = str(exc).splitlines()[0] if str(exc) else type(exc).__name__
        log.warning("fused CPU kernel unavailable (%s); training uses torch ops", reason)
        _loaded["reason"] = reason
    _loaded["module"] = module
    return module


def available() -> bool:
    return load() is not None


def unavailable_reason() -> str | None:
    """Why ``load()`` returned None (None if it did not, or was not called)."""
    return _loaded.get("reason")


def default_backend(device) -> str:
    """``fused`` on a CPU where the kernel builds, else ``bptt`` (CUDA keeps torch's ops).
    It is faster than torch's ops on the AVX2 and the AVX-512 CPUs it was measured on, full
    batch and minibatches, 1 and 2 threads (``make bench``; README, *Trainer speed*); other
    CPUs (ARM, x86 without AVX2) are unmeasured: ``make bench`` there says which to force."""
    if torch.device(device).type != "cpu":
        return "bptt"
    return "fused" if available() else "bptt"


class FusedLayer(torch.autograd.Function):
    """One layer through the extension: x (K, I, T, N) -> all states (K, H, T, N) or the last
    (K, H, N). Keeps the inputs, weights and the kernel's checkpoints for backward."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, arch, relu, all_states, train):
        ctx.code, ctx.relu, ctx.all_states = ARCH_CODES[arch], relu, all_states
        out, ckpt_h, ckpt_c = load().forward(
            ctx.code, x, w_ih, w_hh, b_ih, b_hh, relu, all_states, train
        )  # out: (K, H, T, N) or (K, H, N)
        if train:
            ctx.save_for_backward(x, w_ih, w_hh, b_ih, b_hh, ckpt_h, ckpt_c)
        return out

    @staticmethod
    def backward(ctx, grad):
        x, w_ih, w_hh, b_ih, b_hh, ckpt_h, ckpt_c = ctx.saved_tensors
        need_x = ctx.needs_input_grad[0]
        dx, dw_ih, dw_hh, db_ih, db_hh = load().backward(
            ctx.code, x, w_ih, w_hh, b_ih, b_hh, ctx.relu, ckpt_h, ckpt_c, grad, ctx.all_states,
            need_x,
        )  # fmt: skip
        return dx if need_x else None, dw_ih, dw_hh, db_ih, db_hh, None, None, None, None


class FusedLastState(torch.autograd.Function):
    """Each seed's mean squared error L_k (K,) of a linear head on a top layer's last state, with
    every gradient, from one kernel call (``train_last`` in csrc/fused.cpp). Under a squared
    error the gradient of the last state is affine in it, dL_k/dh_T = A h_T + C (A = s W^T W,
    C = s W^T (b - y), s = 2 / (N O)), known before the forward pass ends: the kernel walks each
    block of samples back through time right after its forward pass, while the block's steps
    are still in cache (``train_tasks`` in csrc/layer.h). The head's gradients are closed-form
    (dW = s R h_T^T, db = s R 1, R = W h_T + b - y; csrc/head.h). Backward only scales seed k's
    gradients by the gradient its L_k receives (any use of the losses, a sum or masking
    diverged seeds, gets exact gradients). One autograd node and one call: in minibatch training
    each op's dispatch from Python counts (the head in torch ops took 0.4 ms of a 3 ms step)."""

    @staticmethod
    def forward(ctx, x, w_ih, w_hh, b_ih, b_hh, head_w, head_b, y, arch, relu, kept):
        losses, dx, *grads = train_last(
            arch, x, w_ih, w_hh, b_ih, b_hh, relu, head_w, head_b, y, ctx.needs_input_grad[0], kept
        )
        ctx.save_for_backward(dx, *grads)  # (freed after backward, unlike an attribute)
        return losses  # (K,)

    @staticmethod
    @once_differentiable
    def backward(ctx, grad_losses):
        dx, *grads = ctx.saved_tensors
        scaled = [g * grad_losses.view(-1, *[1] * (g.dim() - 1)) for g in grads]
        dx = dx * grad_losses.view(-1, 1, 1, 1) if ctx.needs_input_grad[0] else None
        return dx, *scaled, None, None, None, None


def train_last(
    arch, x, w_ih, w_hh, b_ih, b_hh, relu, head_w, head_b, y, need_dx, kept=-1, pack=True
):
    """The kernel's one pass (``train_last`` in csrc/fused.cpp), no autograd: [losses (K,), dx
    (or empty), dw_ih, dw_hh, db_ih, db_hh, dhead_w, dhead_b]. The load must have succeeded.
    ``pack``: the seeds' part-filled last blocks share vectors (csrc/pack.h; False: each its
    own, the same numbers)."""
    return load().train_last(
        ARCH_CODES[arch], x, w_ih, w_hh, b_ih, b_hh, relu, head_w, head_b, y.to(head_w.dtype),
        need_dx, kept, pack,
    )  # fmt: skip


def last_state_loss(arch, x, w_ih, w_hh, b_ih, b_hh, relu, head_w, head_b, y, kept=-1):
    """``FusedLastState`` (see there): inputs x (K, I, T, N) of the top layer, its weights, the
    head (head_w (K, O, H), head_b (K, O)) and targets y (K, N, O) -> each seed's mean squared
    error (K,). ``kept``: 16-step segments kept whole per block (the others are rerun from
    checkpoints in backward); -1: as many as fit the kernel's cache budget."""
    if load() is None:
        raise RuntimeError(f"fused kernel unavailable: {unavailable_reason()}")
    return FusedLastState.apply(x, w_ih, w_hh, b_ih, b_hh, head_w, head_b, y, arch, relu, kept)


def run_layer(arch, x, w_ih, w_hh, b_ih, b_hh, relu=False, all_states=True, workspace=None):
    """``bptt.run_layer`` through the fused kernel (CPU float32/float64; other devices and
    dtypes go to ``bptt``). Raises if the kernel is unavailable: ``default_backend`` decides.
    The kernel needs no workspace (it keeps only a checkpoint every few steps)."""
    if x.device.type != "cpu" or x.dtype not in (torch.float32, torch.float64):
        return bptt.run_layer(arch, x, w_ih, w_hh, b_ih, b_hh, relu, all_states, workspace)
    if load() is None:
        raise RuntimeError(f"fused kernel unavailable: {unavailable_reason()}")
    # whether a backward pass can follow; not ctx.needs_input_grad, which is True under no_grad
    tensors = (x, w_ih, w_hh, b_ih, b_hh)
    train = torch.is_grad_enabled() and any(t.requires_grad for t in tensors)
    return FusedLayer.apply(*tensors, arch, relu, all_states, train)


def main() -> int:
    """Build (or find) the kernel and say where, in one line."""
    logging.basicConfig(format="%(message)s")
    start = time.perf_counter()
    module = load()
    if module is None:
        return 1
    print(f"fused kernel ready in {_loaded['dir']} ({time.perf_counter() - start:.1f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
