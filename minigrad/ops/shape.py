"""Primitives that move elements around: reshape, permute, expand, index, concatenate."""
from itertools import accumulate

from ..autograd import Function
from ..backend import kernels


class Reshape(Function):
    grad_fn_name = "ViewBackward0"  # what torch shows for view and for reshape of a contiguous tensor
    def forward(self, a, shape=None):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Permute(Function):
    def forward(self, a, dims=None):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, grad):
        inverse = sorted(range(len(self.dims)), key=self.dims.__getitem__)
        return grad.transpose(inverse)


class Expand(Function):
    def forward(self, a, shape=None):
        return self.xp.broadcast_to(a, shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class Index(Function):
    """a[key] for ints, slices, None, Ellipsis, integer arrays and boolean masks."""

    def forward(self, a, key=None):
        self.shape, self.key = a.shape, key
        return a[key]

    def backward(self, grad):
        out = self.xp.zeros(self.shape, grad.dtype)
        if _is_basic(self.key):
            out[self.key] = grad  # a view: each element is picked at most once
        else:
            kernels(self.xp).scatter_add(out, self.key, grad)  # repeated indices accumulate
        return out


def _is_basic(key) -> bool:
    parts = key if isinstance(key, tuple) else (key,)
    return all(part is None or part is Ellipsis or isinstance(part, (int, slice)) for part in parts)


class Cat(Function):
    def forward(self, *arrays, dim=0):
        self.dim = dim
        self.bounds = list(accumulate(a.shape[dim] for a in arrays))[:-1]
        return self.xp.concatenate(arrays, axis=dim)

    def backward(self, grad):
        return tuple(self.xp.split(grad, self.bounds, axis=self.dim))


class Stack(Function):
    def forward(self, *arrays, dim=0):
        self.dim = dim
        return self.xp.stack(arrays, axis=dim)

    def backward(self, grad):
        return tuple(self.xp.moveaxis(grad, self.dim, 0))
