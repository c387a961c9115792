"""Factories: tensor(), zeros/ones/full/arange, and seeded random draws (made on the host, then moved)."""
from __future__ import annotations

import numbers

import numpy as np

from . import dtypes
from .backend import Device, default_generator, get_array_module, to_device
from .tensor import SCALAR_TYPE_NAMES, Tensor, _dims


def _finish(array, dtype=None, device=None, requires_grad=False) -> Tensor:
    if dtype is not None:
        array = array.astype(dtypes.as_numpy_dtype(dtype), copy=False)
    if device is not None:
        array = to_device(array, Device(device))
    t = Tensor._wrap(array)
    if requires_grad:
        t.requires_grad = True  # validates: only floating point tensors may require grad
    return t


_SEQUENCES = (list, tuple, range)
_PYTHON_SCALARS = {bool: np.dtype(bool), int: dtypes.DEFAULT_INT, float: dtypes.DEFAULT_FLOAT}


def _type_name(kind: type) -> str:
    return f"numpy.{kind.__name__}" if kind.__module__ == "numpy" else kind.__name__


def _leaf_dtype(kind: type) -> np.dtype:
    """The dtype torch infers for a Python or numpy scalar of type ``kind``, or torch's error for a non-number."""
    if kind in _PYTHON_SCALARS:
        return _PYTHON_SCALARS[kind]
    if issubclass(kind, (str, bytes)):
        raise ValueError(f"too many dimensions '{_type_name(kind)}'")
    if issubclass(kind, np.generic):
        return dtypes.check_numpy_dtype(kind)
    if issubclass(kind, complex):
        raise TypeError("Could not infer dtype of complex: minigrad has no complex dtypes")
    if issubclass(kind, numbers.Integral):  # other int-likes (not bool: that is an exact key above)
        return dtypes.DEFAULT_INT
    if issubclass(kind, numbers.Real):
        return dtypes.DEFAULT_FLOAT
    raise RuntimeError(f"Could not infer dtype of {_type_name(kind)}")


def _element_dtype(x) -> np.dtype:
    """The dtype of an array or tensor nested inside Python data (torch: a tensor there must be one element)."""
    if isinstance(x, Tensor):
        if x.numel() != 1:
            raise ValueError("only one element tensors can be converted to Python scalars")
        return x.array.dtype
    return dtypes.check_numpy_dtype(x.dtype)


def _infer_dtype(data) -> np.dtype:
    """torch's dtype for Python data: bool -> bool, int -> int64, float -> float32; numpy scalars, arrays and
    tensors keep theirs; a sequence promotes over its elements (an empty one is float32). Element types are
    gathered per sequence with set(map(type, ...)), so long lists of numbers cost C speed, not Python speed."""
    if not isinstance(data, _SEQUENCES):
        return _element_dtype(data) if isinstance(data, (Tensor, np.ndarray)) else _leaf_dtype(type(data))
    found = None
    for kind in set(map(type, data)):
        if issubclass(kind, _SEQUENCES + (Tensor, np.ndarray)):
            inner = [_infer_dtype(x) for x in data if type(x) is kind]
        else:
            inner = [_leaf_dtype(kind)]
        for d in inner:
            found = d if found is None else dtypes.promote_types(found, d)
    return dtypes.DEFAULT_FLOAT if found is None else found


def _ragged(data, shape=None, dim=0):
    """torch's error for nested sequences that do not form a rectangular array (found on the error path only)."""
    if shape is None:
        shape, x = [], data
        while isinstance(x, _SEQUENCES):
            shape.append(len(x))
            x = x[0] if len(x) else None
    if len(data) != shape[dim]:
        return ValueError(f"expected sequence of length {shape[dim]} at dim {dim} (got {len(data)})")
    for x in data:
        nested = isinstance(x, _SEQUENCES)
        if nested != (dim + 1 < len(shape)):
            return TypeError(f"{'a sequence' if nested else 'not a sequence'} at dim {dim + 1}: expected "
                             f"{'numbers' if nested else 'sequences'} there, as in the first element")
        error = _ragged(x, shape, dim + 1) if nested else None
        if error is not None:
            return error
    return None


def _check_fits(values: np.ndarray, target: np.dtype) -> None:
    """torch refuses a Python number that an integer dtype cannot hold (unsigned ones wrap negatives down to
    -max, as torch's checked conversion does), rather than storing a wrapped or undefined value."""
    info = np.iinfo(target)
    low = -info.max if info.min == 0 and values.dtype.kind != "f" else info.min
    bad = (values < low) | (values > info.max)
    if values.dtype.kind == "f":  # int64's max is not a float64: compare with 2**63, which is
        with np.errstate(invalid="ignore"):
            bad |= ~np.isfinite(values) | (values >= 2.0 ** 63)
    if bad.any():
        raise RuntimeError(f"value cannot be converted to type {target.name} without overflow")


def _python_array(data, dtype) -> np.ndarray:
    """A host array from Python data, converting each number once, straight to the target dtype's value: a
    float goes through float64 (exact), never float32, so tensor([0.1], dtype=float64) holds 0.1."""
    inferred = _infer_dtype(data)
    target = inferred if dtype is None else dtype
    # exact integers when the target is one, float64 (exact for floats, rounding huge ints only once) otherwise
    wide = np.int64 if target.kind in "iu" and inferred.kind in "iub" else np.float64
    try:
        values = np.array(data, dtype=wide)
    except OverflowError:  # a Python int beyond int64
        raise _first_bad_number(data, target) from None
    except ValueError:
        error = _ragged(data)
        if error is None:
            raise
        raise error from None
    if target.kind in "iu" and inferred.kind == "f":
        return _mixed_to_integers(data, values, target)
    if target.kind in "iu":
        _check_fits(values, target)
    return values.astype(target, copy=False)


def _mixed_to_integers(data, floats: np.ndarray, target: np.dtype) -> np.ndarray:
    """Floats and ints for an integer dtype: torch converts each number on its own, so an int stays exact
    (not rounded through float64) and each kind has its own overflow rule."""
    objects = np.array(data, dtype=object).reshape(floats.shape)
    is_float = np.vectorize(lambda x: isinstance(x, (float, np.floating)), otypes=[bool])(objects)
    try:
        _check_fits(floats[is_float], target)
        ints = np.where(is_float, 0, objects).astype(np.int64)
        _check_fits(ints[~is_float], target)
    except (OverflowError, RuntimeError):
        raise _first_bad_number(data, target) from None
    ints[is_float] = floats[is_float].astype(np.int64)  # truncation toward zero, as torch's
    return ints.astype(target, copy=False)


def _first_bad_number(data, target: np.dtype) -> Exception:
    """torch's error for the first number (in order) that cannot be stored: an int past int64 cannot even be
    read, one that the integer ``target`` cannot hold cannot be converted (found on the error path only)."""
    for x in np.array(data, dtype=object).reshape(-1).tolist():
        if isinstance(x, int) and not -2 ** 63 <= x < 2 ** 63:
            return ValueError("Overflow when unpacking long long")
        if target.kind in "iu":
            try:
                _check_fits(np.array([x], dtype=np.float64 if isinstance(x, float) else np.int64), target)
            except RuntimeError as error:
                return error
    return ValueError("Overflow when unpacking long long")


def _infer_array(data, dtype=None):
    """A new array holding ``data`` in ``dtype`` (a numpy dtype), or in the dtype torch infers for it."""
    if isinstance(data, Tensor):
        array = data.array.copy()
    elif isinstance(data, np.ndarray) or get_array_module(data) is not np:
        dtypes.check_numpy_dtype(data.dtype)
        array = get_array_module(data).array(data)  # numpy data keeps its dtype, as torch.tensor(ndarray) does
    elif isinstance(data, (str, bytes)):
        raise TypeError(f"new(): invalid data type '{_type_name(type(data))}'")
    else:
        return _python_array(data, dtype)
    return array if dtype is None else array.astype(dtype, copy=False)


def tensor(data, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """A new tensor holding a copy of ``data``."""
    dtype = None if dtype is None else dtypes.as_numpy_dtype(dtype)
    return _finish(_infer_array(data, dtype), None, device, requires_grad)


def as_tensor(data, dtype=None, device=None) -> Tensor:
    """Like tensor(), but shares memory with a Tensor or numpy array when no conversion is needed."""
    if isinstance(data, Tensor):
        return data.to(*(x for x in (device, dtype) if x is not None))
    if isinstance(data, np.ndarray) or get_array_module(data) is not np:
        dtypes.check_numpy_dtype(data.dtype)
        return _finish(data, dtype, device)
    return tensor(data, dtype, device)


def from_numpy(array: np.ndarray) -> Tensor:
    """A tensor sharing memory with ``array`` (no copy)."""
    if not isinstance(array, np.ndarray):
        raise TypeError(f"expected np.ndarray (got {type(array).__name__})")
    dtypes.check_numpy_dtype(array.dtype)
    return Tensor._wrap(array)


def _size(size, name: str) -> tuple:
    """A factory's size arguments (varargs or one sequence) as a tuple of non-negative ints, or torch's error."""
    shape = _dims(size)
    for n in shape:
        if not isinstance(n, numbers.Integral) or isinstance(n, bool):
            raise TypeError(f"{name}(): argument 'size' (position 1) must be tuple of ints, not {type(n).__name__}")
    for n in shape:
        if n < 0:
            raise RuntimeError(f"Trying to create tensor with negative dimension {n}: {list(shape)}")
    return tuple(int(n) for n in shape)


def _target(dtype, default) -> np.dtype:
    return default if dtype is None else dtypes.as_numpy_dtype(dtype)


def _filled(size, fill, dtype, device, requires_grad, name="full") -> Tensor:
    xp = Device(device).xp if device is not None else np
    array = xp.full(_size(size, name), fill, dtype=_target(dtype, dtypes.DEFAULT_FLOAT))
    return _finish(array, None, None, requires_grad)


def zeros(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad, "zeros")


def ones(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 1, dtype, device, requires_grad, "ones")


def empty(*size, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _filled(size, 0, dtype, device, requires_grad, "empty")


def full(size, fill_value, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    if isinstance(fill_value, Tensor):
        fill_value = fill_value.item()
    if not isinstance(fill_value, (numbers.Number, np.generic)) or isinstance(fill_value, np.str_):
        raise TypeError(f"full(): argument 'fill_value' (position 2) must be Number, not {type(fill_value).__name__}")
    if dtype is None:  # torch infers the dtype from the fill value
        dtype = _leaf_dtype(type(fill_value))
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
        raise RuntimeError("step must be nonzero")
    if (step > 0 and end < start) or (step < 0 and end > start):
        raise RuntimeError("upper bound and lower bound inconsistent with step sign")
    is_int = all(isinstance(v, numbers.Integral) for v in (start, end, step))
    target = _target(dtype, dtypes.DEFAULT_INT if is_int else dtypes.DEFAULT_FLOAT)
    # start + i * step in int64 or float64, rounded once to the target: float64 keeps float64's resolution
    exact = np.arange(start, end, step, dtype=np.int64 if is_int else np.float64)
    return _finish(exact.astype(target, copy=False), None, device, requires_grad)


def linspace(start, end, steps: int, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Computed in float64 and rounded once to the target (float64 keeps its resolution); as in torch the
    first half counts up from ``start`` and the second half down from ``end``, so both ends are exact."""
    if steps < 0:
        raise RuntimeError("number of steps must be non-negative")
    target = _target(dtype, dtypes.DEFAULT_FLOAT)
    if target.kind in "iub":  # torch converts the ends to the integer type first
        start, end = target.type(start), target.type(end)
    step = (float(end) - float(start)) / max(steps - 1, 1)
    i = np.arange(steps, dtype=np.float64)
    values = np.where(i < steps // 2, start + step * i, end - step * (steps - 1 - i))
    if steps == 1:
        values[0] = start
    return _finish(values.astype(target, copy=False), None, device, requires_grad)


def eye(n: int, m: int | None = None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    return _finish(np.eye(n, m, dtype=dtypes.DEFAULT_FLOAT), dtype, device, requires_grad)


def _random(draw, size, generator, dtype, device, requires_grad, name="rand") -> Tensor:
    rng = (generator or default_generator).numpy_rng
    return _finish(draw(rng, _size(size, name)), dtype, device, requires_grad)


def _random_float(method: str, kernel: str, size, generator, dtype, device, requires_grad, name) -> Tensor:
    """A float draw made in float64 for float64 tensors (float32 would leave float64's low bits all zero)."""
    target = _target(dtype, dtypes.DEFAULT_FLOAT)
    if target.kind != "f":
        raise NotImplementedError(f'"{kernel}" not implemented for \'{SCALAR_TYPE_NAMES[target.name]}\'')
    precision = np.float64 if target == np.float64 else np.float32
    draw = lambda rng, shape: getattr(rng, method)(shape, dtype=precision)
    return _random(draw, size, generator, target, device, requires_grad, name)


def rand(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Uniform on [0, 1)."""
    return _random_float("random", "check_uniform_bounds", size, generator, dtype, device, requires_grad, "rand")


def randn(*size, generator=None, dtype=None, device=None, requires_grad: bool = False) -> Tensor:
    """Standard normal."""
    return _random_float("standard_normal", "normal_kernel_cpu", size, generator, dtype, device, requires_grad,
                         "randn")


def randint(low, high=None, size=(), generator=None, dtype=None, device=None) -> Tensor:
    """Integers uniform on [low, high)."""
    if high is None or isinstance(high, (tuple, list)):  # torch's randint(high, size) form
        low, high, size = 0, low, size if high is None else high
    if low >= high:
        raise RuntimeError(f"random_ expects 'from' to be less than 'to', but got from={low} >= to={high}")
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
