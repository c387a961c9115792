"""Devices and array modules: the only file that imports cupy (besides the CUDA kernels it loads).

Every array op elsewhere goes through ``xp``, the array module (numpy or cupy) that owns the
array at hand, so the same code runs on both backends without ``if cupy:`` branches.
"""
from __future__ import annotations

import os

import numpy as np

from ._cpu_memory import keep_freed_memory
from .kernels import reference as reference_kernels

CPU_CACHING = keep_freed_memory()  # freed arrays' memory kept for reuse, not page-faulted in anew each step

try:  # cupy is optional: `pip install minigrad[cuda]`
    import cupy as _cupy
    import cupyx as _cupyx
except Exception as _import_error:  # ImportError, or a CUDA library failing to load
    _cupy = _cupyx = None
    _CUPY_IMPORT_ERROR: Exception | None = _import_error
else:
    _CUPY_IMPORT_ERROR = None

CUDA_INSTALL_HINT = "install CuPy for your CUDA version, e.g. `pip install minigrad[cuda]` (cupy-cuda12x)"


class Device:
    """Where a tensor's array lives: ``device(type='cpu')`` or ``device(type='cuda', index=0)``."""

    __slots__ = ("type", "index")

    def __init__(self, spec: str | Device = "cpu", index: int | None = None):
        if isinstance(spec, Device):
            spec, index = spec.type, spec.index if index is None else index
        if not isinstance(spec, str):
            raise TypeError(f"device must be a string like 'cpu' or 'cuda:0' or a Device, got {type(spec).__name__}")
        kind, _, number = spec.partition(":")
        if kind not in ("cpu", "cuda"):
            raise RuntimeError(f"Expected one of cpu, cuda device type at start of device string: {spec}")
        if number:
            if index is not None or not number.isdigit():
                raise RuntimeError(f"Invalid device string: '{spec}'")
            index = int(number)
        if kind == "cpu" and index not in (None, 0):
            raise RuntimeError(f"Invalid device '{spec}': the cpu device index must be 0, got {index}")
        self.type = kind
        self.index = (index or 0) if kind == "cuda" else None

    @property
    def xp(self):
        """The array module for this device: numpy, or cupy after checking it is usable."""
        if self.type == "cpu":
            return np
        require_cuda()
        return _cupy

    def __enter__(self):  # lets `with device:` select the GPU, as cupy.cuda.Device does
        if self.type == "cuda":
            self._cuda_device().__enter__()
        return self

    def __exit__(self, *exc):
        if self.type == "cuda":
            self._cuda_device().__exit__(*exc)

    def _cuda_device(self):
        return self.xp.cuda.Device(self.index)

    def __eq__(self, other):
        if isinstance(other, str):
            other = Device(other)
        return isinstance(other, Device) and (self.type, self.index) == (other.type, other.index)

    def __hash__(self):
        return hash((self.type, self.index))

    def __str__(self):
        return self.type if self.index is None else f"{self.type}:{self.index}"

    def __repr__(self):
        index = "" if self.index is None else f", index={self.index}"
        return f"device(type='{self.type}'{index})"


CPU = Device("cpu")


def device(spec: str | Device = "cpu", index: int | None = None) -> Device:
    """torch.device's twin: ``device('cuda:0')``, ``device('cpu')``."""
    return spec if isinstance(spec, Device) and index is None else Device(spec, index)


def unavailable_reason() -> str | None:
    """Why CUDA cannot be used here, or None when it can."""
    if _cupy is None:
        return f"CuPy is not installed ({_CUPY_IMPORT_ERROR}); {CUDA_INSTALL_HINT}"
    try:
        count = _cupy.cuda.runtime.getDeviceCount()
    except Exception as e:
        return f"CuPy is installed but found no usable NVIDIA GPU or driver ({e})"
    return None if count > 0 else "CuPy is installed but no NVIDIA GPU is visible"


def is_cuda_available() -> bool:
    return unavailable_reason() is None


def require_cuda() -> None:
    reason = unavailable_reason()
    if reason is not None:
        raise RuntimeError(f"Cannot use device 'cuda': {reason}")


def device_of(array) -> Device:
    """The device that holds ``array``."""
    if isinstance(array, np.ndarray) or _cupy is None:
        return CPU
    if isinstance(array, _cupy.ndarray):
        return Device("cuda", array.device.id)
    return CPU


def get_array_module(array):
    """numpy or cupy, whichever owns ``array`` (DeZero's idiom)."""
    if _cupy is not None and isinstance(array, _cupy.ndarray):
        return _cupy
    return np


def to_numpy(array) -> np.ndarray:
    """A host copy (or the array itself, if it already lives on the host)."""
    return array if isinstance(array, np.ndarray) else (array.get() if hasattr(array, "get") else np.asarray(array))


def to_device(array, target: Device):
    """``array`` moved to ``target`` (no copy when it is already there)."""
    if target.type == "cpu":
        return to_numpy(array)
    xp = target.xp
    with xp.cuda.Device(target.index):
        return xp.asarray(array)


def synchronize(target: Device | str | None = None) -> None:
    """Wait for queued GPU work to finish; read clocks only after this."""
    if _cupy is not None and is_cuda_available():
        index = Device(target).index if target is not None else None
        if index is None:
            _cupy.cuda.Device().synchronize()
        else:
            _cupy.cuda.Device(index).synchronize()


def device_count() -> int:
    return _cupy.cuda.runtime.getDeviceCount() if is_cuda_available() else 0


def ieee_quiet():
    """IEEE results (inf for log(0), nan for sqrt(-1)) without numpy's warnings, as torch; cupy never warns."""
    return np.errstate(divide="ignore", invalid="ignore")


KERNELS_ENV = "MINIGRAD_KERNELS"  # auto (default) | numba | reference
KERNEL_CHOICES = ("auto", "numba", "reference")
_kernel_tables: dict = {}


def kernels(xp):
    """The hot-path kernels for this array module, chosen on first use: on numpy the numba twins when numba
    is installed (``pip install minigrad[fast]``), else the NumPy reference; on cupy the fused CUDA kernels.
    ``MINIGRAD_KERNELS=reference`` forces the reference everywhere, ``=numba`` insists on numba."""
    table = _kernel_tables.get(xp)
    if table is None:
        table = _kernel_tables[xp] = _load_kernels(xp)
    return table


def _load_kernels(xp):
    choice = os.environ.get(KERNELS_ENV, "auto").strip().lower() or "auto"
    if choice not in KERNEL_CHOICES:
        raise ValueError(f"{KERNELS_ENV}={choice!r} is not one of {', '.join(KERNEL_CHOICES)}")
    if choice == "reference" or getattr(xp, "records_graph", False):  # a recorded backward runs the reference
        return reference_kernels                                         # expressions on Tensors
    if xp is not np:
        from .kernels import cuda  # compiled on first use: building kernels needs a working GPU
        return cuda
    try:  # numba is imported here, not with minigrad: it alone takes longer to import than minigrad
        from .kernels import numba_cpu
    except ImportError as e:
        if choice == "numba":
            raise ImportError(f"{KERNELS_ENV}=numba but numba cannot be imported ({e}); "
                              "install it with `pip install minigrad[fast]`") from e
        return reference_kernels
    return numba_cpu


class Generator:
    """A seeded random stream (torch.Generator's twin). Draws happen on the host, then move to the device,
    so one seed gives the same numbers on every device."""

    def __init__(self, device: str | Device = "cpu"):
        self.device = Device(device)
        self._seed = 67280421310721  # torch's default seed
        self.numpy_rng = np.random.default_rng(self._seed)

    def manual_seed(self, seed: int) -> Generator:
        if not isinstance(seed, (int, np.integer)):
            raise TypeError(f"manual_seed expected an int, got {type(seed).__name__}")
        self._seed = int(seed)
        self.numpy_rng = np.random.default_rng(self._seed)
        return self

    def initial_seed(self) -> int:
        return self._seed

    def get_state(self) -> dict:
        return self.numpy_rng.bit_generator.state

    def set_state(self, state: dict) -> Generator:
        self.numpy_rng.bit_generator.state = state
        return self


default_generator = Generator()


def manual_seed(seed: int) -> Generator:
    """Seed the default generator, so every random draw after it is reproducible."""
    return default_generator.manual_seed(seed)
