"""Pooling: max and average over sliding windows, and adaptive average pooling.

Each window op loops over the kernel offsets, not over the windows: one strided view of the padded input per
offset (the same ``window`` slices as im2col), so every pass is a whole-array expression that runs unchanged
on NumPy and CuPy. Planes are processed in memory order (see ``_memory_order``), so a channel-major conv
output stays channel-major through pooling without a transpose copy.
"""
from __future__ import annotations

from ..autograd import Function
from .conv import cropped, offsets, padded, window


def _memory_order(x):
    """``x`` (N, C, ...) with its first two axes swapped when C is the outer one in memory, and whether it was.
    Pooling treats every (n, c) plane alike, so either order gives the same result once swapped back."""
    swap = x.ndim > 2 and x.shape[0] > 1 and x.shape[1] > 1 and x.strides[1] > x.strides[0]
    return (x.swapaxes(0, 1) if swap else x), swap


def _restore(a, swap):
    return a.swapaxes(0, 1) if swap else a


def _lowest(xp, dtype):
    return -float("inf") if dtype.kind == "f" else xp.iinfo(dtype).min


# ---------------------------------------------------------------------------------------------- max pooling
def max_pool_array(xp, x, kernel, stride, padding, dilation, out):
    """(max over each window, which kernel offset won): torch's argmax, the first maximum or else the last NaN.
    ``padding`` holds (lo, hi) pairs; hi also covers ceil_mode's partial windows."""
    planes, swap = _memory_order(x)
    planes = padded(xp, planes, padding, _lowest(xp, x.dtype))
    views = [planes[(Ellipsis,) + window(o, out, stride, dilation)] for o in offsets(kernel)]
    best = views[0].copy()
    for v in views[1:]:
        xp.maximum(best, v, out=best)  # propagates NaN, as torch's max does
    which = xp.empty(best.shape, dtype=xp.int16 if len(views) > 127 else xp.int8)
    for k in range(len(views) - 1, -1, -1):  # descending, so the first offset holding the max wins a tie
        xp.copyto(which, k, where=views[k] == best)
    if best.dtype.kind == "f":
        nan = xp.isnan(best)
        if nan.any():  # torch's kernel lets every NaN win over what came before: the last NaN is the max
            for k, v in enumerate(views):
                xp.copyto(which, k, where=xp.isnan(v))
    return _restore(best, swap), _restore(which, swap)


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
        xp = self.xp
        self.geometry = {"which": which, "kernel": kernel, "stride": stride, "padding": padding, "dilation": dilation}
        g, swap = _memory_order(grad)
        which = which.swapaxes(0, 1) if swap else which
        size = tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], padding))
        planes = xp.zeros(g.shape[:2] + size, dtype=grad.dtype)
        # Windows that never overlap write each input once: a masked copy, with no temporary.
        disjoint = all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))
        for k, o in enumerate(offsets(kernel)):
            view = planes[(Ellipsis,) + window(o, g.shape[2:], stride, dilation)]
            if disjoint:
                xp.copyto(view, g, where=which == k)
            else:
                view += xp.where(which == k, g, 0)
        return _restore(cropped(planes, shape[2:], padding), swap)

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
        planes, swap = _memory_order(x)
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
        return _restore(total, swap)

    def backward(self, grad):
        return WindowSpread.run(self.xp, grad, **self.geometry)


class WindowSpread(Function):
    """Each output's gradient, divided by ``divisor``, added to every input position of its window
    (average pooling's backward, and the adjoint of AvgPool)."""

    def forward(self, grad, shape=None, kernel=None, stride=None, padding=None, divisor=None):
        xp = self.xp
        self.geometry = {"kernel": kernel, "stride": stride, "padding": padding, "divisor": divisor}
        self.out = grad.shape[2:]
        g, swap = _memory_order(grad)
        g = g / divisor
        size = tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], padding))
        planes = xp.zeros(g.shape[:2] + size, dtype=grad.dtype)
        dilation = (1,) * len(kernel)
        for o in offsets(kernel):
            planes[(Ellipsis,) + window(o, g.shape[2:], stride, dilation)] += g
        return _restore(cropped(planes, shape[2:], padding), swap)

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
