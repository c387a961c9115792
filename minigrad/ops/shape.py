"""Primitives that move elements around: reshape, permute, expand, index, concatenate."""
from itertools import accumulate

from ..autograd import Function
from ..backend import kernels


class Reshape(Function):
    grad_fn_name = "ViewBackward0"  # what torch shows for view and for reshape of a contiguous tensor
    returns_view = True
    def forward(self, a, shape=None):
        self.shape = a.shape
        return a.reshape(shape)

    def backward(self, grad):
        return grad.reshape(self.shape)


class Permute(Function):
    returns_view = True

    def forward(self, a, dims=None):
        self.dims = dims
        return a.transpose(dims)

    def backward(self, grad):
        inverse = sorted(range(len(self.dims)), key=self.dims.__getitem__)
        return self.xp.transpose(grad, inverse)


class Expand(Function):
    returns_view = True

    def forward(self, a, shape=None):
        return self.xp.broadcast_to(a, shape)

    def backward(self, grad):
        return grad  # the engine sums it back to the input's shape


class Index(Function):
    """a[key] for ints, slices, None, Ellipsis, integer arrays and boolean masks."""

    returns_view = True  # for basic keys; advanced ones copy, which apply's check sees

    def forward(self, a, key=None):
        self.shape, self.key = a.shape, key
        return a[key]

    def backward(self, grad):
        return IndexAdd.run(self.xp, grad, shape=self.shape, key=self.key)


class IndexAdd(Function):
    """zeros(shape) with ``values`` added at ``key`` (repeated indices accumulate): Index's adjoint."""

    def forward(self, values, shape=None, key=None):
        self.key = key
        out = self.xp.zeros(shape, values.dtype)
        if _is_basic(key):
            out[key] = values  # a view: each element is picked at most once
        else:
            kernels(self.xp).scatter_add(out, key, values)
        return out

    def backward(self, grad):
        return Index.run(self.xp, grad, key=self.key)


class IndexPut(Function):
    """``a`` with ``a[key] = value`` (Tensor.__setitem__ when the graph is recorded)."""

    def forward(self, a, value, key=None):
        self.key = key
        out = a.copy()
        out[key] = value
        return out

    def backward(self, grad):
        need_a, need_value = self.needs_input_grad
        grad_a = IndexFill.run(self.xp, grad, key=self.key) if need_a else None
        return grad_a, Index.run(self.xp, grad, key=self.key) if need_value else None


class IndexFill(Function):
    """``a`` with zeros at ``key``: the overwritten elements pass no gradient back."""

    def forward(self, a, key=None):
        self.key = key
        out = a.copy()
        out[key] = 0
        return out

    def backward(self, grad):
        return IndexFill.run(self.xp, grad, key=self.key)


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


class Repeat(Function):
    """a.repeat(*sizes): tile ``a`` (given leading 1-dims up to len(sizes)) ``sizes[i]`` times along dim i."""

    def forward(self, a, sizes=None):
        self.shape, self.sizes = a.shape, sizes
        self.padded = (1,) * (len(sizes) - a.ndim) + a.shape
        return self.xp.tile(a.reshape(self.padded), sizes)

    def backward(self, grad):
        # Output index along dim i is copy * n_i + j: split each dim into (copies, n_i) and sum the copies.
        split = tuple(n for pair in zip(self.sizes, self.padded) for n in pair)
        copies = tuple(range(0, 2 * len(self.sizes), 2))
        return grad.reshape(split).sum(axis=copies).reshape(self.shape)
