"""What the numbers were measured on: CPU, BLAS, library versions, threads, GPU, environment."""
from __future__ import annotations

import contextlib
import ctypes
import io
import os
import platform
import re
import subprocess
import sys
import time
from datetime import datetime, timezone

# Recorded, never changed: thread counts and BLAS kernel choices move the numbers.
ENV_PATTERN = re.compile(r"^(OPENBLAS|GOTO|OMP|MKL|KMP|NVPL|BLIS|VECLIB|CUDA_VISIBLE|CUPY|PYTORCH)")
OPENBLAS_VARS = ("OPENBLAS_CORETYPE", "OPENBLAS_L2_SIZE", "OPENBLAS_NUM_THREADS")


def cpu_model() -> str:
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or platform.machine()


def _openblas_runtime() -> dict:
    """Ask the OpenBLAS numpy loaded which kernel it picked and how many threads it uses
    (what threadpoolctl does, without depending on it)."""
    try:
        with open("/proc/self/maps") as f:
            libs = sorted({line.split()[-1] for line in f if "openblas" in line.lower() and "/" in line})
    except OSError:
        return {}
    for path in libs:
        try:
            lib = ctypes.CDLL(path)
        except OSError:
            continue
        out = {"library": path}
        for prefix in ("scipy_", ""):
            for suffix in ("64_", ""):
                for key, fn, restype in (("corename", "openblas_get_corename", ctypes.c_char_p),
                                         ("config", "openblas_get_config", ctypes.c_char_p),
                                         ("num_threads", "openblas_get_num_threads", ctypes.c_int)):
                    f = getattr(lib, f"{prefix}{fn}{suffix}", None)
                    if f is not None and key not in out:
                        f.restype = restype
                        v = f()
                        out[key] = v.decode() if isinstance(v, bytes) else v
        return out
    return {}


def numpy_info() -> dict:
    import numpy as np
    info = {"version": np.__version__}
    try:
        cfg = np.show_config(mode="dicts")
        deps = cfg.get("Build Dependencies", {})
        info["blas"] = deps.get("blas")
        info["lapack"] = deps.get("lapack")
        info["simd"] = cfg.get("SIMD Extensions")
    except TypeError:  # numpy < 1.26: no mode= argument
        buf = io.StringIO()
        with contextlib.redirect_stdout(buf):
            np.show_config()
        info["show_config"] = buf.getvalue()
    info["openblas_runtime"] = _openblas_runtime()
    try:
        import threadpoolctl
        info["threadpoolctl"] = threadpoolctl.threadpool_info()
    except ImportError:
        info["threadpoolctl"] = "not installed"
    blas = info.get("blas") or {}
    rt = info["openblas_runtime"]
    info["blas_summary"] = " ".join(str(x) for x in (
        blas.get("name", "?"), blas.get("version", ""),
        f"core {rt['corename']}" if rt.get("corename") else "",
        f"{rt['num_threads']} threads" if rt.get("num_threads") else "") if x)
    return info


def torch_info() -> dict:
    try:
        import torch
    except ImportError as e:
        return {"error": f"{type(e).__name__}: {e}"}
    info = {"version": torch.__version__, "num_threads": torch.get_num_threads(),
            "num_interop_threads": torch.get_num_interop_threads(),
            "mkl": torch.backends.mkl.is_available(), "mkldnn": torch.backends.mkldnn.is_available(),
            "cuda_available": torch.cuda.is_available(), "cuda_version": torch.version.cuda}
    with contextlib.suppress(Exception):
        info["parallel_info"] = torch.__config__.parallel_info()
    if torch.cuda.is_available():
        info["gpu"] = torch.cuda.get_device_name(0)
    return info


def minigrad_info() -> dict:
    try:
        import minigrad
    except Exception as e:
        return {"error": f"{type(e).__name__}: {e}"}
    info = {"version": getattr(minigrad, "__version__", None), "file": getattr(minigrad, "__file__", None)}
    if info["version"] is None:
        with contextlib.suppress(Exception):
            from importlib.metadata import version
            info["version"] = version("minigrad")
    with contextlib.suppress(Exception):
        info["cuda_available"] = bool(minigrad.cuda.is_available())
    with contextlib.suppress(Exception):
        import cupy
        info["cupy"] = cupy.__version__
        if info.get("cuda_available"):
            props = cupy.cuda.runtime.getDeviceProperties(0)
            info["gpu"] = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    return info


def git_info(root: str) -> dict:
    def git(*args):
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=10)
    try:
        head = git("rev-parse", "HEAD")
        status = git("status", "--porcelain")
    except (OSError, subprocess.SubprocessError):
        return {}
    return {"commit": head.stdout.strip() if head.returncode == 0 else None,
            "dirty": bool(status.stdout.strip()) if status.returncode == 0 else None}


def machine_info() -> dict:
    root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
    try:
        affinity = len(os.sched_getaffinity(0))
    except AttributeError:
        affinity = None
    torch = torch_info()
    mg = minigrad_info()
    return {
        "timestamp": datetime.now(timezone.utc).isoformat(timespec="seconds"),
        "platform": platform.platform(),
        "python": sys.version.split()[0],
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "cpu_affinity": affinity,
        "numpy": numpy_info(),
        "torch": torch,
        "minigrad": mg,
        "gpu": torch.get("gpu") or mg.get("gpu"),
        "openblas_env": {k: os.environ.get(k) for k in OPENBLAS_VARS},
        "env": {k: v for k, v in sorted(os.environ.items()) if ENV_PATTERN.match(k)},
        "git": git_info(root),
    }


class CpuMonitor:
    """How busy the rest of the machine was while we measured: CPU time used by other processes
    (from /proc/stat, minus this process's own CPU time, all threads), as a fraction of
    wall time x CPUs, plus hypervisor steal and the load average. A fraction well above 0
    means the timings competed with something else and are noisier (and slower) than they
    would be on an idle machine."""

    def __init__(self):
        self._tick = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
        self._start = self._sample()

    def _sample(self):
        try:
            with open("/proc/stat") as f:
                v = [int(x) for x in f.readline().split()[1:]]
        except (OSError, ValueError):
            return None
        user, nice, system, idle, iowait, irq, softirq = v[:7]
        steal = v[7] if len(v) > 7 else 0
        t = os.times()
        return {"busy": (user + nice + system + irq + softirq + steal) / self._tick,
                "steal": steal / self._tick, "own": t.user + t.system, "wall": time.monotonic()}

    def stop(self) -> dict:
        end, start = self._sample(), self._start
        out = {"loadavg": list(os.getloadavg()) if hasattr(os, "getloadavg") else None}
        if start is None or end is None:
            return out
        wall = end["wall"] - start["wall"]
        if wall < 1.0:  # /proc/stat and os.times() count in 10 ms ticks: too coarse for less
            return out
        capacity = wall * (os.cpu_count() or 1)
        other = (end["busy"] - start["busy"]) - (end["own"] - start["own"])
        out["other_cpu_frac"] = round(min(1.0, max(0.0, other / capacity)), 3)
        out["steal_frac"] = round(min(1.0, max(0.0, (end["steal"] - start["steal"]) / capacity)), 3)
        return out
