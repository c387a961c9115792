"""CPU memory reuse across training steps: glibc's malloc told to keep what a step frees for the next one,
as torch's caching allocator does on the GPU.

A training step frees and allocates the same large arrays every step. glibc serves a block above its mmap
threshold (128 KB, raised as such blocks are freed, up to 32 MB) with a fresh mapping, and hands heap it
finds free at the top, past its trim threshold, back to the OS; either way the next step page-faults the
memory in again. The MNIST CNN step did so 1576 times, a tenth of its time. With both thresholds raised,
freed blocks stay in the heap and are reused. The price is the GPU caching allocator's: memory freed
stays with the process (reused by later arrays) instead of going back to the OS.

Only on glibc (Linux), and only once, at import. ``MINIGRAD_CPU_CACHING=0`` leaves malloc as it is.
"""
from __future__ import annotations

import ctypes
import os

_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters (malloc.h)
KEEP_BYTES = 1 << 30  # blocks up to this size come from the heap; free heap up to this size is kept


def keep_freed_memory() -> bool:
    """Set glibc's thresholds (unless MINIGRAD_CPU_CACHING=0); False where there is no glibc or it refused."""
    if os.environ.get("MINIGRAD_CPU_CACHING", "1") == "0":
        return False
    try:
        mallopt = ctypes.CDLL(None).mallopt
    except (OSError, AttributeError):  # not glibc (macOS, Windows, musl): nothing to tune
        return False
    mallopt.argtypes, mallopt.restype = (ctypes.c_int, ctypes.c_int), ctypes.c_int
    return bool(mallopt(_M_MMAP_THRESHOLD, KEEP_BYTES)) & bool(mallopt(_M_TRIM_THRESHOLD, KEEP_BYTES))
