"""Reductions over all elements or over ``dim`` (an int or a tuple of ints)."""
import numpy as np

from ..autograd import Function
from .shape import IndexAdd


def broadcast_view(xp, grad, shape):
    """xp.broadcast_to(grad, shape): a read-only view, no copy. A single value (the gradient of a full
    reduction, the usual loss) is spread by zero strides directly: np.broadcast_to's argument checks take
    2 us, a third of a small op's whole backward."""
    if type(grad) is np.ndarray and grad.size == 1:
        view = np.ndarray(shape, grad.dtype, grad.reshape(()), 0, (0,) * len(shape))
        view.flags.writeable = False
        return view
    return xp.broadcast_to(grad, shape)


def _expand_reduced(xp, grad, shape, dim, keepdim):
    """Broadcast a reduced grad back over the reduced axes (a view, no copy)."""
    if dim is not None and not keepdim:
        grad = xp.expand_dims(grad, dim)
    return broadcast_view(xp, grad, shape)


class Sum(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, self.dim, self.keepdim = a.shape, dim, keepdim
        return a.sum(axis=dim, keepdims=keepdim)

    def backward(self, grad):
        return _expand_reduced(self.xp, grad, self.shape, self.dim, self.keepdim)


class Mean(Function):
    def forward(self, a, dim=None, keepdim=False):
        self.shape, self.dim, self.keepdim = a.shape, dim, keepdim
        out = a.mean(axis=dim, keepdims=keepdim)
        self.count = a.size // max(out.size, 1) if a.size else 0
        return out

    def backward(self, grad):
        return _expand_reduced(self.xp, grad / self.count, self.shape, self.dim, self.keepdim)


class Amax(Function):
    """max (or min, via ``smallest``) over ``dim``; ties split the gradient evenly, as torch.max() and amax."""

    def forward(self, a, dim=None, keepdim=False, smallest=False):
        out = (a.min if smallest else a.max)(axis=dim, keepdims=True)
        self.dim, self.keepdim = dim, keepdim
        self.save_for_backward(a == out)
        return out if keepdim or dim is None and a.ndim == 0 else out.squeeze(axis=dim)

    def backward(self, grad):
        winners = self.saved[0]
        xp = self.xp
        if self.dim is not None and not self.keepdim:
            grad = xp.expand_dims(grad, self.dim)
        share = grad / winners.sum(axis=self.dim, keepdims=True)  # a float grad over an integer count
        return xp.where(winners, share, share * 0)


def along_axis_key(xp, index, dim):
    """The fancy-index key that picks ``index`` along ``dim`` and every position along the other axes."""
    return tuple(index if axis == dim else xp.arange(n).reshape((1,) * axis + (n,) + (1,) * (index.ndim - axis - 1))
                 for axis, n in enumerate(index.shape))


class Gather(Function):
    """torch.gather: out[i][j] = a[index[i][j]][j] along ``dim``; the gradient scatter-adds back."""

    def forward(self, a, index, dim=0):
        self.shape = a.shape
        self.key = along_axis_key(self.xp, index, dim)
        return a[self.key]

    def backward(self, grad):
        return IndexAdd.run(self.xp, grad, shape=self.shape, key=self.key), None
