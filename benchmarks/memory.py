"""Peak-memory probes, run in a separate un-timed pass after a workload's timing blocks.

What each number means (all are *transient* peaks of a warmed-up contender, so persistent state
created on the first iterations, e.g. momentum buffers or NumPy scratch buffers, is excluded):

* ``peak_rss_delta``: growth of the process's resident set over a few iterations. Before the
  pass, glibc's ``malloc_trim(0)`` hands cached free memory back to the kernel and writing ``5``
  to ``/proc/self/clear_refs`` resets the kernel's high-water mark (VmHWM) to the current RSS;
  after it, ``VmHWM - VmRSS(before)``. Works for every CPU contender, torch included. Where
  clear_refs is unavailable it falls back to a ``getrusage`` ru_maxrss delta, which only sees
  growth above the process's all-time peak (a lower bound; reported with the method name).
* ``peak_traced``: tracemalloc's peak over the pass, minus what was traced at its start: the
  Python heap plus NumPy's array data (NumPy reports its buffers to tracemalloc). Only for
  numpy and minigrad on CPU: torch's CPU allocator is invisible to tracemalloc.
* ``cuda_peak``: torch's ``max_memory_allocated`` after ``reset_peak_memory_stats``, minus the
  allocation before; for CuPy, a MemoryHook summing pool allocations minus frees (peak net
  growth of memory handed to arrays).
"""
from __future__ import annotations

import ctypes
import gc
import os
import re
import resource
import tracemalloc

_STATUS = "/proc/self/status"
_CLEAR_REFS = "/proc/self/clear_refs"


def _status_kib(field: str) -> int | None:
    try:
        with open(_STATUS) as f:
            m = re.search(rf"^{field}:\s+(\d+) kB", f.read(), re.M)
        return int(m.group(1)) if m else None
    except OSError:
        return None


def _malloc_trim() -> None:
    try:
        ctypes.CDLL("libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):
        pass


def _reset_hwm() -> bool:
    try:
        with open(_CLEAR_REFS, "w") as f:
            f.write("5")
        return True
    except OSError:
        return False


def rss_method() -> str:
    return "VmHWM-after-clear_refs" if (_status_kib("VmHWM") is not None and os.access(_CLEAR_REFS, os.W_OK)) \
        else "ru_maxrss-delta(lower-bound)"


def peak_rss_delta(run) -> tuple[int, str]:
    """Bytes the resident set grew, at its peak, while `run()` ran; and the method used."""
    gc.collect()
    _malloc_trim()
    if _reset_hwm():
        before = _status_kib("VmRSS")
        run()
        return max(0, _status_kib("VmHWM") - before) * 1024, "VmHWM-after-clear_refs"
    before = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    run()
    return max(0, resource.getrusage(resource.RUSAGE_SELF).ru_maxrss - before) * 1024, \
        "ru_maxrss-delta(lower-bound)"


def peak_traced(run) -> int:
    """tracemalloc's peak while `run()` ran, above what was traced when it started."""
    gc.collect()
    tracemalloc.start()
    try:
        start = tracemalloc.get_traced_memory()[0]
        run()
        return max(0, tracemalloc.get_traced_memory()[1] - start)
    finally:
        tracemalloc.stop()


def torch_cuda_peak(run) -> int:
    import torch
    torch.cuda.synchronize()
    torch.cuda.reset_peak_memory_stats()
    base = torch.cuda.memory_allocated()
    run()
    torch.cuda.synchronize()
    return max(0, torch.cuda.max_memory_allocated() - base)


def cupy_peak(run) -> int:
    import cupy
    from cupy.cuda import memory_hook

    class PeakHook(memory_hook.MemoryHook):
        name = "MinigradBenchPeakHook"

        def __init__(self):
            self.current = self.peak = 0

        @staticmethod
        def _size(args, kwargs, position):
            return kwargs["mem_size"] if "mem_size" in kwargs else args[position]

        def malloc_postprocess(self, *args, **kwargs):  # (device_id, size, mem_size, mem_ptr, pmem_id)
            self.current += self._size(args, kwargs, 2)
            self.peak = max(self.peak, self.current)

        def free_postprocess(self, *args, **kwargs):    # (device_id, mem_size, mem_ptr, pmem_id)
            self.current -= self._size(args, kwargs, 1)

    cupy.cuda.Device().synchronize()
    hook = PeakHook()
    with hook:
        run()
        cupy.cuda.Device().synchronize()
    return hook.peak


def measure(framework: str, device: str, run) -> dict:
    """All the probes that apply to one contender; `run` runs a few of its iterations."""
    out = {}
    try:
        out["peak_rss_delta"], out["rss_method"] = peak_rss_delta(run)
        if device == "cpu" and framework in ("numpy", "minigrad"):
            out["peak_traced"] = peak_traced(run)
        if device == "cuda":
            out["cuda_peak"] = torch_cuda_peak(run) if framework == "torch" else cupy_peak(run)
    except Exception as e:  # memory numbers are extras: never lose the timings over them
        out["error"] = f"{type(e).__name__}: {e}"
    return out
