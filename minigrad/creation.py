"""Factories: tensor(), zeros/ones/full/arange, and seeded random draws (made on the host, then moved)."""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .backend import Device, default_generator, get_array_module, to_device
from .tensor import Tensor, _dims


def _finish(array, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is not None:
        array = array.astype(dtypes.as_numpy_dtype(dtype), copy=False)
    if device is not None:
        array = to_device(array, Device(device))
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad = True  # validates: only floating point tensors may require grad
    return t


def _infer_array(data):
    """A host array from Python data with torch's dtypes: floats -> float32, ints -> int64, bools -> bool."""
    if isinstance(data, Tensor):
        return data.array.copy()
    xp = get_array_module(data)
    if isinstance(data, (np.ndarray, np.generic)) or xp is not np:
        return xp.array(data)  # numpy data keeps its dtype, as torch.tensor(ndarray) does
    if isinstance(data, (list, tuple)) and any(isinstance(x, Tensor) for x in data):
        data = [x.tolist() if isinstance(x, Tensor) else x for x in data]
    array = np.array(data)
    if array.dtype.kind not in "biuf":
        raise TypeError(f"Could not infer dtype of {type(data).__name__}: expected numbers, nested lists of "
                        f"numbers or a numpy array, got elements of numpy kind {array.dtype}")
    return array.astype(dtypes.default_for(array.dtype), copy=False)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    return _finish(_infer_array(data), dtype, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory with a Tensor or numpy array when no conversion is needed."""
    if isinstance(data, Tensor):
        return data.to(*(x for x in (device, dtype) if x is not None))
    if isinstance(data, np.ndarray) or get_array_module(data) is not np:
        return _finish(data, dtype, device)
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.from_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def _filled(size, fill, dtype, device, requires_grad) -> Tensor:
    np_dtype = dtypes.as_numpy_dtype(dtype) if dtype is not None else dtypes.DEFAULT_FLOAT
    xp = Device(device).xp if device is not None else np
    return _finish(xp.full(_dims(size), fill, dtype=np_dtype), None, None, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad)


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype, device, requires_grad)


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad)


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if dtype is None:  # torch infers the dtype from the fill value
        dtype = dtypes.default_for(np.asarray(fill_value).dtype)
    return _filled((size,) if isinstance(size, numbers.Integral) else size, fill_value, dtype, device, requires_grad)


def _like(t: Tensor, fill, dtype, device, requires_grad) -> Tensor:
    return _filled(t.shape, fill, dtype or t.dtype, device or t.device, requires_grad)


def zeros_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(t, 0, dtype, device, requires_grad)


def ones_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(t, 1, dtype, device, requires_grad)


def empty_like(t: Tensor, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(t, 0, dtype, device, requires_grad)


def full_like(t: Tensor, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _like(t, fill_value, dtype, device, requires_grad)


def arange(start, end=None, step=1, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if end is None:
        start, end = 0, start
    if step == 0:
        raise RuntimeError("arange: step must be nonzero")
    is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    default = dtypes.DEFAULT_INT if is_int else dtypes.DEFAULT_FLOAT
    array = np.arange(start, end, step, dtype=np.float64 if not is_int else np.int64).astype(default)
    return _finish(array, dtype, device, requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    array = np.linspace(start, end, steps).astype(dtypes.DEFAULT_FLOAT)
    return _finish(array, dtype, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=dtypes.DEFAULT_FLOAT), dtype, device, requires_grad)


def _random(draw, size, generator, dtype, device, requires_grad) -> Tensor:
    rng = (generator or default_generator).numpy_rng
    return _finish(draw(rng, _dims(size)), dtype, device, requires_grad)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    draw = lambda rng, shape: rng.random(shape, dtype=np.float32)
    return _random(draw, size, generator, dtype, device, requires_grad)


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    draw = lambda rng, shape: rng.standard_normal(shape, dtype=np.float32)
    return _random(draw, size, generator, dtype, device, requires_grad)


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform on [low, high)."""
    if high is None or isinstance(high, (tuple, list)):  # torch's randint(high, size) form
        low, high, size = 0, low, size if high is None else high
    draw = lambda rng, shape: rng.integers(low, high, shape, dtype=np.int64)
    return _random(draw, size, generator, dtype, device, False)


def randperm(n: int, generator=None, dtype=None, device=None) -> Tensor:
    return _random(lambda rng, _shape: rng.permutation(n).astype(np.int64), (), generator, dtype, device, False)


def rand_like(t: Tensor, dtype=None, device=None) -> Tensor:
    return rand(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def randn_like(t: Tensor, dtype=None, device=None) -> Tensor:
    return randn(t.shape, dtype=dtype or t.dtype, device=device or t.device)


def is_tensor(obj) -> bool:
    return isinstance(obj, Tensor)


__all__ = ["tensor", "as_tensor", "from_numpy", "zeros", "ones", "empty", "full", "zeros_like", "ones_like",
           "empty_like", "full_like", "arange", "linspace", "eye", "rand", "randn", "randint", "randperm",
           "rand_like", "randn_like", "is_tensor"]
