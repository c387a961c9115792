"""Convolution (any number of spatial dims) as im2col + one matrix product, and torch's unfold/fold.

Layout decides speed. The columns are ``(C, *kernel, N, *out)``: channel and kernel offset down, image and
output position across. Then
  * im2col is a copy whose inner runs are whole output rows (no per-element gather): the ``im2col`` kernel
    (kernels/reference.py: one strided copy per kernel offset; the numba twin: one threaded pass);
  * the forward is ONE matrix product for the whole batch, ``W (O, C*k) @ cols (C*k, N*L)``, and its result
    ``(O, N, *out)`` is returned as the ``(N, O, *out)`` tensor through a transposed view: no transpose copy.
    relu and pooling keep that channel-major layout (pooling works in memory order), and the backward's
    ``grad (O, N*L)`` is again a free view;
  * col2im (the ``col2im`` kernel) sums the columns back, kernel offset by kernel offset;
Groups add a leading batch axis to the products (``(G, O/G, Cg*k) @ (G, Cg*k, N*L)``).

The backward is two more ops, each the other's adjoint partner, so that double backward is exact:
``ConvInputGrad(grad, w)`` (a transposed convolution) and ``ConvWeightGrad(x, grad)``; with ``Conv`` the three
are closed under differentiation, as in torch's convolution_backward.
"""
from __future__ import annotations

from math import prod

from ..autograd import Function
from ..backend import kernels
from ..kernels.reference import conv_out_shape, padded  # the window geometry, shared with the kernels


class ConstantPad(Function):
    """Pad the trailing dims by (lo, hi) pairs with ``value``; negative pads crop."""

    grad_fn_name = "ConstantPadNdBackward0"

    def forward(self, x, padding=None, value=0):
        self.padding = padding
        out = padded(self.xp, x, padding, value)
        return out.copy() if out is x else out  # F.pad(x, ()) is a new tensor, as in torch

    def backward(self, grad):
        return ConstantPad.run(self.xp, grad, padding=tuple((-lo, -hi) for lo, hi in self.padding), value=0)


# ---------------------------------------------------------------------------------------------- im2col / col2im
def unfold_array(xp, x, kernel, stride, padding, dilation):
    """im2col: (N, C, *spatial) -> columns (C, *kernel, N, *out) (kernels/reference.py defines it)."""
    return kernels(xp).im2col(xp, x, kernel, stride, padding, dilation)


def fold_array(xp, cols, shape, kernel, stride, padding, dilation):
    """col2im, the adjoint of unfold_array: columns (C, *kernel, N, *out) summed into an (N, C, *spatial) array."""
    return kernels(xp).col2im(xp, cols, shape, kernel, stride, padding, dilation)


def _by_group(xp, a, groups):
    """(N, O, *out) -> (G, O/G, N*L): the channel-major matrix the products use (a free view for conv outputs)."""
    return xp.swapaxes(a, 0, 1).reshape((groups, a.shape[1] // groups, -1))


def _matmul(xp, a, b):
    """a @ b per group: a plain 2-D product for one group, where NumPy's stacked matmul can miss BLAS."""
    return (a[0] @ b[0])[None] if a.shape[0] == 1 else xp.matmul(a, b)


def conv_array(xp, x, weight, stride, padding, dilation, groups):
    """The convolution's value, without bias: (N, C, *spatial), (O, C/G, *kernel) -> (N, O, *out)."""
    o, kernel = weight.shape[0], weight.shape[2:]
    cols = unfold_array(xp, x, kernel, stride, padding, dilation)
    n, out = x.shape[0], cols.shape[2 + len(kernel):]
    w = weight.reshape((groups, o // groups, -1))
    y = _matmul(xp, w, cols.reshape((groups, w.shape[2], -1)))
    return xp.swapaxes(y.reshape((o, n) + out), 0, 1)


# ---------------------------------------------------------------------------------------------- the three ops
class Conv(Function):
    """torch's convolution: input (N, C, *spatial), weight (O, C/groups, *kernel), optional bias (O,).
    ``padding`` is one (lo, hi) pair per spatial dim (torch's 'same' can be uneven)."""

    grad_fn_name = "ConvolutionBackward0"

    def forward(self, x, weight, bias=None, stride=None, padding=None, dilation=None, groups=1):
        self.geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        self.save_for_backward(x, weight)
        y = conv_array(self.xp, x, weight, **self.geometry)
        if bias is not None:
            y += bias.reshape((-1,) + (1,) * (y.ndim - 2))
        return y

    def backward(self, grad):
        x, weight = self.saved
        needs, xp = self.needs_input_grad, self.xp
        grad_x = ConvInputGrad.run(xp, grad, weight, shape=x.shape, **self.geometry) if needs[0] else None
        grad_w = ConvWeightGrad.run(xp, x, grad, kernel=weight.shape[2:], **self.geometry) if needs[1] else None
        if len(needs) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, grad.sum(axis=(0, *range(2, grad.ndim))) if needs[2] else None


class ConvInputGrad(Function):
    """d(conv)/d(input) applied to ``grad``: a transposed convolution of grad with the weight, back to ``shape``."""

    def forward(self, grad, weight, shape=None, stride=None, padding=None, dilation=None, groups=1):
        self.geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        self.save_for_backward(grad, weight)
        xp, kernel = self.xp, weight.shape[2:]
        w = weight.reshape((groups, weight.shape[0] // groups, -1))
        cols = _matmul(xp, xp.swapaxes(w, 1, 2), _by_group(xp, grad, groups))
        cols = cols.reshape((shape[1], *kernel, shape[0], *grad.shape[2:]))
        return fold_array(xp, cols, shape, kernel, stride, padding, dilation)

    def backward(self, gg):
        grad, weight = self.saved
        needs, xp = self.needs_input_grad, self.xp
        d_grad = Conv.run(xp, gg, weight, **self.geometry) if needs[0] else None
        d_weight = ConvWeightGrad.run(xp, gg, grad, kernel=weight.shape[2:], **self.geometry) if needs[1] else None
        return d_grad, d_weight


class ConvWeightGrad(Function):
    """d(conv)/d(weight) applied to ``grad``: the correlation of the input's columns with grad."""

    def forward(self, x, grad, kernel=None, stride=None, padding=None, dilation=None, groups=1):
        self.geometry = {"stride": stride, "padding": padding, "dilation": dilation, "groups": groups}
        self.save_for_backward(x, grad)
        xp = self.xp
        cols = unfold_array(xp, x, kernel, stride, padding, dilation)
        g = _by_group(xp, grad, groups)
        # cols @ g.T, transposed back, rather than g @ cols.T: OpenBLAS runs this long-K product markedly
        # faster with the many-row operand first (measured 2-3x on 2 cores)
        w = xp.swapaxes(_matmul(xp, cols.reshape((groups, -1, g.shape[2])), xp.swapaxes(g, 1, 2)), 1, 2)
        return w.reshape((grad.shape[1], x.shape[1] // groups, *kernel))

    def backward(self, gw):
        x, grad = self.saved
        needs, xp = self.needs_input_grad, self.xp
        d_x = ConvInputGrad.run(xp, grad, gw, shape=x.shape, **self.geometry) if needs[0] else None
        d_grad = Conv.run(xp, x, gw, **self.geometry) if needs[1] else None
        return d_x, d_grad


# ---------------------------------------------------------------------------------------------- torch's unfold / fold
class Unfold(Function):
    """torch's im2col: (N, C, *spatial) -> (N, C*k, L)."""

    grad_fn_name = "Im2ColBackward0"

    def forward(self, x, kernel=None, stride=None, padding=None, dilation=None):
        self.geometry = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        self.shape = x.shape
        cols = unfold_array(self.xp, x, kernel, stride, padding, dilation)
        cols = cols.reshape((x.shape[1] * prod(kernel), x.shape[0], -1))
        return self.xp.swapaxes(cols, 0, 1)

    def backward(self, grad):
        return Fold.run(self.xp, grad, shape=self.shape, **self.geometry)


class Fold(Function):
    """torch's col2im: (N, C*k, L) -> (N, C, *shape[2:]), overlapping blocks summed."""

    grad_fn_name = "Col2ImBackward0"

    def forward(self, cols, shape=None, kernel=None, stride=None, padding=None, dilation=None):
        self.geometry = {"kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        out = conv_out_shape(shape[2:], kernel, stride, padding, dilation)
        cols = self.xp.swapaxes(cols, 0, 1).reshape((shape[1], *kernel, shape[0], *out))
        return fold_array(self.xp, cols, shape, kernel, stride, padding, dilation)

    def backward(self, grad):
        return Unfold.run(self.xp, grad, **self.geometry)
