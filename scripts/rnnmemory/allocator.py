"""Keep freed memory in the process instead of returning it to the OS after every step.

Training allocates and frees the same few large buffers every epoch. glibc hands blocks above
its mmap threshold back to the kernel at once, so each epoch pays page faults on fresh pages
again; measured here, that made nn.LSTM at T=100 1.8x slower. The settings below equal
MALLOC_MMAP_THRESHOLD_=1 GiB, MALLOC_TRIM_THRESHOLD_=2 GiB, MALLOC_TOP_PAD_=256 MiB.
"""

import ctypes
import ctypes.util

M_TRIM_THRESHOLD, M_TOP_PAD, M_MMAP_THRESHOLD = -1, -2, -3


def keep_freed_memory() -> bool:
    """Apply the settings through mallopt; False where the C library is not glibc."""
    try:
        libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6")
        mallopt = libc.mallopt
    except (OSError, AttributeError):
        return False
    ok = mallopt(M_MMAP_THRESHOLD, 1 << 30)
    ok &= mallopt(M_TRIM_THRESHOLD, (1 << 31) - 1)
    ok &= mallopt(M_TOP_PAD, 1 << 28)
    return bool(ok)
