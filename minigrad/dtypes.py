"""torch-style dtype objects over numpy dtypes, and torch's type-promotion rule."""
from __future__ import annotations

import numpy as np


class dtype:
    """A tensor element type such as ``minigrad.float32``; ``.numpy`` is the numpy dtype behind it."""

    def __init__(self, name: str):
        self.name = name
        self.numpy = np.dtype(name)
        self.is_floating_point = self.numpy.kind == "f"
        self.itemsize = self.numpy.itemsize

    def __repr__(self):
        return f"minigrad.{self.name}"

    def __eq__(self, other):
        try:
            return self.numpy == as_numpy_dtype(other)
        except TypeError:
            return NotImplemented

    def __hash__(self):
        return hash(self.numpy)


float16, float32, float64 = dtype("float16"), dtype("float32"), dtype("float64")
uint8, int8, int16, int32, int64 = dtype("uint8"), dtype("int8"), dtype("int16"), dtype("int32"), dtype("int64")
bool_ = dtype("bool")
ALL = (float16, float32, float64, uint8, int8, int16, int32, int64, bool_)
_BY_NUMPY = {d.numpy: d for d in ALL}

DEFAULT_FLOAT = np.dtype(np.float32)
DEFAULT_INT = np.dtype(np.int64)
_DEFAULT_FOR_KIND = {"b": np.dtype(bool), "u": DEFAULT_INT, "i": DEFAULT_INT, "f": DEFAULT_FLOAT}
_CATEGORY = {"b": 0, "u": 1, "i": 1, "f": 2}


def from_numpy_dtype(np_dtype) -> dtype:
    try:
        return _BY_NUMPY[np.dtype(np_dtype)]
    except KeyError:
        raise TypeError(f"minigrad does not support numpy dtype {np.dtype(np_dtype)}; supported: "
                        f"{', '.join(d.name for d in ALL)}") from None


def as_numpy_dtype(spec) -> np.dtype:
    """Resolve a user's dtype argument: a minigrad dtype, a numpy dtype or type, or a name like 'float32'."""
    if isinstance(spec, dtype):
        return spec.numpy
    if spec is float:
        return np.dtype(np.float64)  # torch: dtype=float means float64
    if spec is int:
        return DEFAULT_INT
    try:
        resolved = np.dtype(spec)
    except TypeError:
        raise TypeError(f"expected a dtype such as minigrad.float32, got {spec!r}") from None
    from_numpy_dtype(resolved)  # rejects dtypes minigrad cannot hold
    return resolved


def category(np_dtype) -> int:
    return _CATEGORY[np_dtype.kind]


def default_for(np_dtype) -> np.dtype:
    """The dtype a Python scalar of this kind becomes: float -> float32, int -> int64, bool -> bool."""
    return _DEFAULT_FOR_KIND[np_dtype.kind]


def result_type(a, b) -> np.dtype:
    """torch's promotion of two tensors' arrays: a higher category wins; within one, dimensioned tensors
    decide over 0-d ones (so float32 * 0-d float64 stays float32, where numpy would give float64)."""
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    ca, cb = _CATEGORY[da.kind], _CATEGORY[db.kind]
    if ca != cb:
        return da if ca > cb else db
    if (a.ndim == 0) != (b.ndim == 0):
        return db if a.ndim == 0 else da
    return np.promote_types(da, db)
