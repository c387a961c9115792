"""The array module of a recorded backward pass: numpy's names, on Tensors, each call a graph node.

With ``create_graph=True`` the engine sets an op's ``self.xp`` to this module and runs the op's usual
``backward`` on Tensors, so one backward formula serves first-order speed and higher-order gradients.
Arguments may be Tensors, arrays or numbers; the non-Tensors are constants.
"""
from __future__ import annotations

import numpy as np

from .. import functions as _functions
from ..tensor import Tensor

records_graph = True  # backend.kernels() gives a recorded backward the reference kernels (plain expressions)
float16, float32, float64, int64, bool_ = np.float16, np.float32, np.float64, np.int64, np.bool_
newaxis = None


def _tensor(x, like: Tensor | None = None) -> Tensor:
    if isinstance(x, Tensor):
        return x
    if like is not None and not hasattr(x, "dtype"):
        return like._operand(x)
    return Tensor._wrap(np.asarray(x) if like is None else like.xp.asarray(x))


def _pair(a, b):
    """Two operands as tensors; a Python number takes the other's dtype (torch's weak scalars)."""
    if isinstance(a, Tensor):
        return a, _tensor(b, a)
    b = _tensor(b)
    return _tensor(a, b), b


def asarray(x, dtype=None):
    t = _tensor(x)
    return t if dtype is None else t.to(dtype)


def where(condition, a, b):
    condition = _tensor(condition)
    a, b = _pair(a, b)
    return _functions.where(condition, a, b)


def exp(x):
    return _tensor(x).exp()


def log(x):
    return _tensor(x).log()


def log1p(x):
    return _tensor(x).log1p()


def sqrt(x):
    return _tensor(x).sqrt()


def tanh(x):
    return _tensor(x).tanh()


def abs(x):
    return _tensor(x).abs()


def sign(x):
    x = _tensor(x)  # piecewise constant: its derivative is zero wherever it is defined
    return Tensor._wrap(x.xp.sign(x.array))


def isnan(x):
    return _tensor(x).isnan()


def maximum(a, b):
    a, b = _pair(a, b)
    return a.maximum(b)


def minimum(a, b):
    a, b = _pair(a, b)
    return a.minimum(b)


def matmul(a, b):
    a, b = _pair(a, b)
    return a @ b


def expand_dims(x, axis):
    x = _tensor(x)
    for a in sorted(axis if isinstance(axis, (tuple, list)) else (axis,)):
        x = x.unsqueeze(a)
    return x


def squeeze(x, axis=None):
    return _tensor(x).squeeze(axis)


def broadcast_to(x, shape):
    return _tensor(x).expand(tuple(shape))


def transpose(x, axes=None):
    x = _tensor(x)
    return x.permute(*(axes if axes is not None else reversed(range(x.ndim))))


def swapaxes(x, a, b):
    return _tensor(x).transpose(a, b)


def moveaxis(x, source, destination):
    x = _tensor(x)
    order = [d for d in range(x.ndim) if d != source % x.ndim]
    order.insert(destination % x.ndim, source % x.ndim)
    return x.permute(*order)


def concatenate(tensors, axis=0):
    return _functions.cat([_tensor(t) for t in tensors], dim=axis)


def stack(tensors, axis=0):
    return _functions.stack([_tensor(t) for t in tensors], dim=axis)


def split(x, indices, axis=0):
    """numpy's split at ``indices`` (a list of boundaries) or into ``indices`` equal parts."""
    x = _tensor(x)
    n = x.shape[axis]
    bounds = list(indices) if isinstance(indices, (list, tuple)) else [n // indices * i for i in range(1, indices)]
    edges = [0, *bounds, n]
    return [x[(slice(None),) * (axis % x.ndim) + (slice(lo, hi),)] for lo, hi in zip(edges, edges[1:])]


def zeros_like(x, dtype=None, shape=None):
    x = _tensor(x)
    return Tensor._wrap(x.xp.zeros_like(x.array, dtype=dtype, shape=shape))


def ones_like(x, dtype=None, shape=None):
    x = _tensor(x)
    return Tensor._wrap(x.xp.ones_like(x.array, dtype=dtype, shape=shape))


def zeros(shape, dtype=np.float32):
    return Tensor._wrap(np.zeros(shape, dtype=getattr(dtype, "numpy", dtype)))
