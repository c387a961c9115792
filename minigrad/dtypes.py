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


# torch's wording when it refuses a numpy array's dtype, listing the dtypes minigrad can hold
_SUPPORTED_NAMES = "float64, float32, float16, int64, int32, int16, int8, uint8, and bool"


def check_numpy_dtype(np_dtype) -> np.dtype:
    """``np_dtype`` if a tensor can hold it, else torch's TypeError for converting such an array. Complex and
    uint16/32/64 arrays, which torch 2.13 accepts, are refused too: minigrad has no such dtypes, and a
    tensor that held one would fail later, far from the cause."""
    np_dtype = np.dtype(np_dtype)
    if np_dtype not in _BY_NUMPY:
        raise TypeError(f"can't convert np.ndarray of type numpy.{np_dtype.type.__name__}. The only supported "
                        f"types are: {_SUPPORTED_NAMES}.")
    return np_dtype


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


def promote_types(a, b) -> np.dtype:
    """torch.promote_types: a higher category (bool < integer < float) wins outright, so int64 with float16
    is float16 (numpy would say float64); within a category numpy's rule is torch's."""
    a, b = np.dtype(a), np.dtype(b)
    ca, cb = _CATEGORY[a.kind], _CATEGORY[b.kind]
    return np.promote_types(a, b) if ca == cb else (a if ca > cb else b)


def result_type(a, b) -> np.dtype:
    """torch's promotion of two tensors' arrays: promote_types, except that within one category dimensioned
    tensors decide over 0-d ones (so float32 * 0-d float64 stays float32, where numpy would give float64)."""
    da, db = a.dtype, b.dtype
    if da == db:
        return da
    if _CATEGORY[da.kind] == _CATEGORY[db.kind] and (a.ndim == 0) != (b.ndim == 0):
        return db if a.ndim == 0 else da
    return promote_types(da, db)
