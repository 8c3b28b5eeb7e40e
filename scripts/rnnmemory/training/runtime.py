"""Process settings that make small-RNN training on the CPU several times faster, applied once
at the start of a train job (and of the benchmark, for every variant alike).

- Flush denormals to zero. Gradients that vanish through time pass through the denormal range
  (below 1.2e-38 in float32), where x86 arithmetic is ~100x slower: measured here, the backward
  pass of an RNN at T=400 ran 7x slower per step than at T=100 until denormals were flushed.
  Values that small do not change a float32 update, so results stay the same in practice.
- Keep freed memory in the process. Training allocates and frees the same large buffers every
  epoch; glibc returns big blocks to the kernel at once, and every epoch then pays page faults
  on fresh pages (nn.LSTM at T=100 1.8x slower here). The settings equal
  MALLOC_MMAP_THRESHOLD_=1 GiB, MALLOC_TRIM_THRESHOLD_=2 GiB, MALLOC_TOP_PAD_=256 MiB.

And one for the end of a job (``end_job``): exit without the interpreter's teardown.
"""

import ctypes
import ctypes.util
import os
import resource
import sys
from typing import NoReturn

import torch

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Apply the allocator settings through mallopt; False where the C library is not glibc."""
    try:
        mallopt = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(M_MMAP_THRESHOLD, 1 << 30)
    ok &= mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1)
    ok &= mallopt(M_TOP_PAD, 1 << 28)
    return bool(ok)


def tune_cpu_runtime() -> dict:
    """Both settings; returns what was applied (recorded with each run)."""
    return {"flush_denormal": torch.set_flush_denormal(True), "malloc_tuned": keep_freed_memory()}


def job_usage() -> dict:
    """This process's peak RSS and CPU time so far, its finished children's (a kernel build)
    included. Measured in the job itself: exact where Snakemake's benchmark samples."""
    own, children = (
        resource.getrusage(resource.RUSAGE_SELF),
        resource.getrusage(resource.RUSAGE_CHILDREN),
    )
    return {
        "job_peak_rss_mib": max(own.ru_maxrss, children.ru_maxrss) / 1024,  # KiB on Linux
        "job_cpu_seconds": sum(u.ru_utime + u.ru_stime for u in (own, children)),
    }


def end_job() -> NoReturn:
    """Exit now, with status 0: call it once every output of the job is written (and closed).
    Flushes the standard streams, then skips the interpreter's teardown: after ``import torch``
    that is a last garbage collection over torch's objects, 0.7-0.8 s of every torch job
    (measured on the 2-core EPYC: 0.03 s with this), and a finished job has nothing to release."""
    sys.stdout.flush()
    sys.stderr.flush()
    os._exit(0)
