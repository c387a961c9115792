"""Max, average and adaptive average pooling, with torch's output-size rules, checks and messages."""
from __future__ import annotations

from ...autograd import is_grad_enabled
from ...ops.pool import AdaptiveAvgPool, AvgPool, MaxPool, flat_indices, max_pool_array
from ...tensor import Tensor

__all__ = ["adaptive_avg_pool2d", "avg_pool1d", "avg_pool2d", "max_pool1d", "max_pool2d"]


def _pair(value, name: str, op: str, verb: str = "must either be a single int, or a tuple of two ints") -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,)
    if len(values) not in (1, 2):
        raise RuntimeError(f"{op}: {name} {verb}")
    return (int(values[0]),) * 2 if len(values) == 1 else tuple(int(v) for v in values)


def _pool_out_size(size: int, kernel: int, pad: int, stride: int, dilation: int, ceil_mode: bool) -> int:
    """torch's pooling_output_shape: floor (or ceil) mode, and a last window must start inside the input."""
    if stride == 0:
        raise RuntimeError("stride should not be zero")
    if pad < 0:
        raise RuntimeError(f"pad must be non-negative, but got pad: {pad}")
    if pad > ((kernel - 1) * dilation + 1) // 2:
        raise RuntimeError(f"pad should be at most half of effective kernel size, but got pad={pad}, "
                           f"kernel_size={kernel} and dilation={dilation}")
    out = (size + 2 * pad - dilation * (kernel - 1) - 1 + (stride - 1 if ceil_mode else 0)) // stride + 1
    if ceil_mode and (out - 1) * stride >= size + pad:
        out -= 1
    return out


def _window_geometry(x: Tensor, kernel, stride, padding, dilation, ceil_mode) -> tuple:
    """(output spatial shape, (lo, hi) padding pairs) after torch's pool2d_shape_check."""
    spatial = tuple(x.shape[2:])
    out = tuple(_pool_out_size(n, k, p, s, d, ceil_mode)
                for n, k, p, s, d in zip(spatial, kernel, padding, stride, dilation))
    if min(kernel) <= 0:
        raise RuntimeError(f"kernel size should be greater than zero, but got kH: {kernel[0]} kW: {kernel[-1]}")
    if min(stride) <= 0:
        raise RuntimeError(f"stride should be greater than zero, but got dH: {stride[0]} dW: {stride[-1]}")
    if min(dilation) <= 0:
        raise RuntimeError(f"dilation should be greater than zero, but got dilationH: {dilation[0]} "
                           f"dilationW: {dilation[-1]}")
    if 0 in x.shape[1:]:
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{list(x.shape)}")
    if any(k // 2 < p for k, p in zip(kernel, padding)):
        raise RuntimeError(f"pad should be smaller than or equal to half of kernel size, but got padW = {padding[-1]}, "
                           f"padH = {padding[0]}, kW = {kernel[-1]}, kH = {kernel[0]}")
    if min(out) < 1:  # torch pools 1-d input as 2-d of height 1, and says so
        planes = (x.shape[1],) + (1,) * (2 - len(spatial))
        raise RuntimeError(f"Given input size: ({'x'.join(map(str, planes + spatial))}). Calculated output size: "
                           f"({'x'.join(map(str, planes + out))}). Output size is too small")
    # hi padding reaches the end of the last (ceil_mode: possibly partial) window, and no further
    pairs = tuple((p, max(0, (o - 1) * s + d * (k - 1) + 1 - n - p))
                  for n, k, p, s, d, o in zip(spatial, kernel, padding, stride, dilation, out))
    return out, pairs


def _batched(input: Tensor, dims: int):
    """(input with a batch dim, a function that drops it again from a result when the input had none)."""
    if input.ndim == dims + 2:
        return input, lambda t: t
    return input.reshape((1,) + tuple(input.shape)), lambda t: t.reshape(tuple(t.shape[1:]))


def _max_pool(input: Tensor, kernel, stride, padding, dilation, ceil_mode, return_indices):
    x, unbatch = _batched(input, len(kernel))
    out, pairs = _window_geometry(x, kernel, stride, padding, dilation, ceil_mode)
    geometry = {"kernel": kernel, "stride": stride, "padding": pairs, "dilation": dilation}
    if not return_indices:
        return unbatch(MaxPool.apply(x, out=out, **geometry))
    if x.requires_grad and is_grad_enabled():
        result = MaxPool.apply(x, out=out, **geometry)
        which = result.grad_fn.which
    else:  # no graph to hang the argmax on: compute value and argmax directly
        best, which = max_pool_array(x.xp, x.array, out=out, **geometry)
        result = Tensor._wrap(best)
    indices = Tensor._wrap(flat_indices(x.xp, which, x.shape, **geometry))
    return unbatch(result), unbatch(indices)


def max_pool2d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """2-D max pooling; with ``return_indices`` also each max's flat index within its input plane."""
    kernel = _pair(kernel_size, "kernel_size", "max_pool2d")
    stride = kernel if stride is None or len(_seq(stride)) == 0 else _pair(
        stride, "stride", "max_pool2d", "must either be omitted, a single int, or a tuple of two ints")
    padding = _pair(padding, "padding", "max_pool2d")
    dilation = _pair(dilation, "dilation", "max_pool2d", "must be either a single int, or a tuple of two ints")
    if input.ndim not in (3, 4):
        raise RuntimeError("non-empty 3D or 4D (batch mode) tensor expected for input")
    return _max_pool(input, kernel, stride, padding, dilation, ceil_mode, return_indices)


def max_pool1d(input: Tensor, kernel_size, stride=None, padding=0, dilation=1, ceil_mode: bool = False,
               return_indices: bool = False):
    """1-D max pooling over (N, C, L) or (C, L)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"max_pool1d: Expected 2D or 3D (batch mode) tensor with optional 0 dim batch size for "
                           f"input, but got:{list(input.shape)}")
    kernel, padding, dilation = _single(kernel_size), _single(padding), _single(dilation)
    stride = kernel if stride is None or len(_seq(stride)) == 0 else _single(stride)
    (k,), (s,), (p,), (d,) = kernel, stride, padding, dilation
    for ok, what in ((k > 0, f"kernel_size must be greater than zero, but got {k}"),
                     (s > 0, f"stride must be greater than zero, but got {s}"),
                     (p >= 0, f"padding must be non-negative, but got {p}"),
                     (p <= k // 2, f"padding should be at most half of kernel size, but got padding={p} and "
                                   f"kernel_size={k}"),
                     (d > 0, f"dilation must be greater than zero, but got {d}")):
        if not ok:
            raise RuntimeError(f"max_pool1d() {what}")
    size = _pool_out_size(input.shape[-1], k, p, s, d, ceil_mode)
    if size < 1:
        raise RuntimeError(f"max_pool1d() Invalid computed output size: {size}")
    return _max_pool(input, kernel, stride, padding, dilation, ceil_mode, return_indices)


def _avg_pool(input: Tensor, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override):
    if input.array.dtype.kind != "f" and input.array.dtype.name != "int64":
        raise NotImplementedError(f'"avg_pool2d" not implemented for \'{_scalar_name(input)}\'')
    x, unbatch = _batched(input, len(kernel))
    ones = (1,) * len(kernel)
    out, pairs = _window_geometry(x, kernel, stride, padding, ones, ceil_mode)
    if divisor_override is not None:
        divisor = divisor_override
    else:  # torch: windows are clipped to the padded input; count_include_pad=False clips them to the input
        per_dim = [_window_counts(n, k, p, s, o, count_include_pad)
                   for n, k, p, s, o in zip(x.shape[2:], kernel, padding, stride, out)]
        divisor = _outer(x.xp, per_dim, x.array.dtype)
    return unbatch(AvgPool.apply(x, kernel=kernel, stride=stride, padding=pairs, divisor=divisor, out=out))


def _window_counts(size: int, kernel: int, pad: int, stride: int, out: int, include_pad: bool) -> list:
    counts = []
    for o in range(out):
        start = o * stride - pad
        end = min(start + kernel, size + pad)
        if not include_pad:
            start, end = max(start, 0), min(end, size)
        counts.append(end - start)
    return counts


def _outer(xp, per_dim: list, dtype):
    """The product of per-dim window counts over the output grid: a number when every window has the same.
    An array has the input's float dtype, so dividing by it never promotes float32 to float64."""
    if all(len(set(c)) == 1 for c in per_dim):
        total = 1
        for c in per_dim:
            total *= c[0]
        return total
    dtype = dtype if dtype.kind == "f" else xp.int64
    grid = xp.ones((1,) * len(per_dim), dtype=dtype)
    for axis, c in enumerate(per_dim):
        grid = grid * xp.asarray(c, dtype=dtype).reshape((1,) * axis + (-1,) + (1,) * (len(per_dim) - axis - 1))
    return grid


def avg_pool2d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True, divisor_override: int | None = None) -> Tensor:
    """2-D average pooling."""
    kernel = _pair(kernel_size, "kernel_size", "avg_pool2d")
    stride = kernel if stride is None or len(_seq(stride)) == 0 else _pair(
        stride, "stride", "avg_pool2d", "must either be omitted, a single int, or a tuple of two ints")
    padding = _pair(padding, "padding", "avg_pool2d")
    if divisor_override is not None and divisor_override == 0:
        raise RuntimeError("divisor must be not zero")
    if input.ndim < 3:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-input.ndim}, {input.ndim - 1}], "
                         f"but got -3)")
    if input.ndim > 4:
        raise RuntimeError(f"Expected 3D or 4D (batch mode) tensor with optional 0 dim batch size for input, but "
                           f"got:{list(input.shape)}")
    return _avg_pool(input, kernel, stride, padding, ceil_mode, count_include_pad, divisor_override)


def avg_pool1d(input: Tensor, kernel_size, stride=None, padding=0, ceil_mode: bool = False,
               count_include_pad: bool = True) -> Tensor:
    """1-D average pooling over (N, C, L) or (C, L)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2 to 3 dimensions, but got {input.ndim}-dimensional tensor for argument #1 "
                           f"'self' (while checking arguments for avg_pool1d)")
    kernel = _single(kernel_size)
    stride = kernel if stride is None or len(_seq(stride)) == 0 else _single(stride)
    return _avg_pool(input, kernel, stride, _single(padding), ceil_mode, count_include_pad, None)


def adaptive_avg_pool2d(input: Tensor, output_size) -> Tensor:
    """Average pooling to a fixed output size (None keeps that dim), with torch's window bounds
    start = floor(i * n / out), end = ceil((i + 1) * n / out)."""
    if input.ndim not in (3, 4):
        raise RuntimeError(f"adaptive_avg_pool2d(): Expected 3D or 4D tensor, but got {list(input.shape)}")
    sizes = tuple(output_size) if isinstance(output_size, (tuple, list)) else (output_size,) * 2
    if len(sizes) != 2:
        raise RuntimeError("adaptive_avg_pool2d: output_size must be 2")
    sizes = tuple(n if s is None else int(s) for s, n in zip(sizes, input.shape[-2:]))
    if min(sizes) < 0:
        raise RuntimeError(f"adaptive_avg_pool2d: elements of output_size must be greater than or equal to 0 but "
                           f"received {{{sizes[0]}, {sizes[1]}}}")
    for dim in range(1, input.ndim):
        if input.shape[dim] == 0:
            raise RuntimeError(f"adaptive_avg_pool2d(): Expected input to have non-zero size for non-batch dimensions, "
                               f"but input has sizes {list(input.shape)} with dimension {dim} being empty")
    if not input.is_floating_point():
        raise NotImplementedError(f'"adaptive_avg_pool2d" not implemented for \'{_scalar_name(input)}\'')
    xp, dtype = input.xp, input.array.dtype
    rows = _averaging(xp, sizes[0], input.shape[-2], dtype)
    cols = _averaging(xp, sizes[1], input.shape[-1], dtype).T
    return AdaptiveAvgPool.apply(input, rows=rows, cols=cols)


def _averaging(xp, out: int, size: int, dtype):
    """(out, size) matrix whose row i averages torch's adaptive window i."""
    m = xp.zeros((out, size), dtype=dtype)
    for i in range(out):
        start, end = i * size // out, -(-(i + 1) * size // out)
        m[i, start:end] = 1.0 / (end - start)
    return m


def _scalar_name(t: Tensor) -> str:
    return {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}.get(
        t.array.dtype.name, t.array.dtype.name)


def _seq(value) -> tuple:
    return tuple(value) if isinstance(value, (tuple, list)) else (value,)


def _single(value) -> tuple:
    return (int(_seq(value)[0]),)
