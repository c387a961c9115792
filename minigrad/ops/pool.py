"""Pooling: max and average over sliding windows, and adaptive average pooling.

Each window op loops over the kernel offsets, not over the windows: one strided view of the padded input per
offset (the same ``window`` slices as im2col), so every pass is a whole-array expression that runs unchanged
on NumPy and CuPy. Max pooling and its backward scatter are kernels (kernels/reference.py defines them; the
numba twins make one pass). Planes are processed in memory order (``memory_order``), so a channel-major conv
output stays channel-major through pooling, and its gradient through the backward, without a transpose copy.
"""
from __future__ import annotations

from ..autograd import Function
from ..backend import kernels
from ..kernels.reference import cropped, memory_order, offsets, padded, swapped, window


# ---------------------------------------------------------------------------------------------- max pooling
def max_pool_array(xp, x, kernel, stride, padding, dilation, out):
    """(max over each window, which kernel offset won): torch's argmax, the first maximum or else the last NaN.
    ``padding`` holds (lo, hi) pairs; hi also covers ceil_mode's partial windows (kernels/reference.py)."""
    return kernels(xp).max_pool(xp, x, kernel, stride, padding, dilation, out)


def flat_indices(xp, which, shape, kernel, stride, padding, dilation):
    """torch's max-pooling indices: each winner's flat position within its unpadded input plane (int64)."""
    flat = xp.zeros(which.shape, dtype=xp.int64)
    which = which.astype(xp.int64)
    place, inner, dims = 1, 1, len(kernel)
    for axis in range(dims - 1, -1, -1):  # last dim first: row-major places and kernel-offset digits
        (lo, _), s, d, k = padding[axis], stride[axis], dilation[axis], kernel[axis]
        start = xp.arange(which.shape[2 + axis], dtype=xp.int64) * s - lo
        flat += (start.reshape((-1,) + (1,) * (dims - 1 - axis)) + which // inner % k * d) * place
        place *= shape[2 + axis]
        inner *= k
    return flat


class MaxPool(Function):
    grad_fn_name = "MaxPool2DWithIndicesBackward0"

    def forward(self, x, kernel=None, stride=None, padding=None, dilation=None, out=None):
        self.geometry = {"shape": x.shape, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        best, self.which = max_pool_array(self.xp, x, kernel, stride, padding, dilation, out)
        return best

    def backward(self, grad):
        return WindowScatter.run(self.xp, grad, which=self.which, **self.geometry)


class WindowScatter(Function):
    """Each output's gradient back to the input position its window picked (max pooling's backward)."""

    def forward(self, grad, which=None, shape=None, kernel=None, stride=None, padding=None, dilation=None):
        self.geometry = {"which": which, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        # in which's memory order, the pooled input's: ReLU's backward then meets its saved output's layout
        return kernels(self.xp).window_scatter(self.xp, grad, which, shape, kernel, stride, padding, dilation)

    def backward(self, gg):
        return WindowGather.run(self.xp, gg, **self.geometry)


class WindowGather(Function):
    """The input value at each window's picked position (the adjoint of WindowScatter)."""

    def forward(self, x, which=None, kernel=None, stride=None, padding=None, dilation=None):
        self.geometry = {"which": which, "shape": x.shape, "kernel": kernel, "stride": stride, "padding": padding,
                             "dilation": dilation}
        planes = padded(self.xp, x, padding)
        out = self.xp.zeros(which.shape, dtype=x.dtype)
        for k, o in enumerate(offsets(kernel)):
            self.xp.copyto(out, planes[(Ellipsis,) + window(o, which.shape[2:], stride, dilation)], where=which == k)
        return out

    def backward(self, grad):
        return WindowScatter.run(self.xp, grad, **self.geometry)


# ---------------------------------------------------------------------------------------------- average pooling
class AvgPool(Function):
    """Sum over each window divided by ``divisor`` (a number, or an array over the output positions)."""

    grad_fn_name = "AvgPool2DBackward0"

    def forward(self, x, kernel=None, stride=None, padding=None, divisor=None, out=None):
        xp = self.xp
        self.geometry = {"shape": x.shape, "kernel": kernel, "stride": stride, "padding": padding, "divisor": divisor}
        planes, swap = memory_order(x)
        planes = padded(xp, planes, padding)
        dilation = (1,) * len(kernel)
        views = [planes[(Ellipsis,) + window(o, out, stride, dilation)] for o in offsets(kernel)]
        total = views[0].copy()
        for v in views[1:]:
            total += v
        if total.dtype.kind == "f":
            total /= divisor
        else:  # integer pooling divides as C does (torch): truncating toward zero
            total = (total / divisor).astype(total.dtype)
        return swapped(total, swap)

    def backward(self, grad):
        return WindowSpread.run(self.xp, grad, **self.geometry)


class WindowSpread(Function):
    """Each output's gradient, divided by ``divisor``, added to every input position of its window
    (average pooling's backward, and the adjoint of AvgPool)."""

    def forward(self, grad, shape=None, kernel=None, stride=None, padding=None, divisor=None):
        xp = self.xp
        self.geometry = {"kernel": kernel, "stride": stride, "padding": padding, "divisor": divisor}
        self.out = grad.shape[2:]
        g, swap = memory_order(grad)
        g = g / divisor
        size = tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], padding))
        planes = xp.zeros(g.shape[:2] + size, dtype=grad.dtype)
        dilation = (1,) * len(kernel)
        for o in offsets(kernel):
            planes[(Ellipsis,) + window(o, g.shape[2:], stride, dilation)] += g
        return swapped(cropped(planes, shape[2:], padding), swap)

    def backward(self, gg):
        return AvgPool.run(self.xp, gg, out=self.out, **self.geometry)


# ---------------------------------------------------------------------------------------------- adaptive
class AdaptiveAvgPool(Function):
    """rows @ x @ cols over the last two dims: with torch's averaging matrices this is adaptive average pooling,
    and with their transposes it is its own backward."""

    grad_fn_name = "AdaptiveAvgPool2DBackward0"

    def forward(self, x, rows=None, cols=None):
        self.rows, self.cols = rows, cols
        return self.xp.matmul(self.xp.matmul(rows, x), cols)

    def backward(self, grad):
        return AdaptiveAvgPool.run(self.xp, grad, rows=self.rows.T, cols=self.cols.T)
