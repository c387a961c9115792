"""Convolutions, torch's unfold/fold and pad, with torch's argument rules and messages."""
from __future__ import annotations

import warnings

from ...ops.conv import ConstantPad, Conv, Fold, Unfold, conv_out_shape
from ...tensor import Tensor

__all__ = ["conv1d", "conv2d", "fold", "pad", "unfold"]

_TYPE_NAMES = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor"}


def _tuple(value, n: int, name: str, what: str = "convolution") -> tuple:
    """An int or a sequence of ``n`` ints, as torch's expanding of stride/padding/dilation."""
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    if len(values) == 1:
        values *= n
    if len(values) != n:
        raise RuntimeError(f"expected {name} to be a single integer value or a list of {n} values to match the "
                           f"{what} dimensions, but got {name}={list(values)}")
    return tuple(int(v) for v in values)


def same_padding(kernel: tuple, dilation: tuple) -> tuple:
    """torch's padding='same': total d*(k-1) per dim, the odd element (even kernels) on the high side."""
    pairs = tuple((d * (k - 1) // 2, d * (k - 1) - d * (k - 1) // 2) for k, d in zip(kernel, dilation))
    if any(lo != hi for lo, hi in pairs):
        warnings.warn("Using padding='same' with even kernel lengths and odd dilation may require a zero-padded "
                      "copy of the input be created", stacklevel=4)
    return pairs


def _conv(input: Tensor, weight: Tensor, bias, stride, padding, dilation, groups, dims: int) -> Tensor:
    name = f"conv{dims}d"
    if input.ndim not in (dims + 1, dims + 2):
        raise RuntimeError(f"Expected {dims + 1}D (unbatched) or {dims + 2}D (batched) input to {name}, but got "
                           f"input of size: {list(input.shape)}")
    batched = input.ndim == dims + 2
    x = input if batched else input.reshape((1,) + tuple(input.shape))
    k = weight.ndim - 2  # torch takes the number of spatial dims from the weight
    stride, dilation = _tuple(stride, dims, "stride"), _tuple(dilation, dims, "dilation")
    if isinstance(padding, str):
        if padding not in ("same", "valid"):
            raise RuntimeError(f"Invalid padding string: '{padding}'")
        if padding == "same" and any(s != 1 for s in stride):
            raise RuntimeError("padding='same' is not supported for strided convolutions")
    else:
        padding = _tuple(padding, dims, "padding")
    for label, values in (("stride", stride), ("dilation", dilation)):
        if len(values) != k:
            raise RuntimeError(f"expected {label} to be a single integer value or a list of {k} values to match the "
                               f"convolution dimensions, but got {label}={list(values)}")
        if any(v <= 0 for v in values):
            raise RuntimeError(f"non-positive {label} is not supported")
    if not isinstance(padding, str) and any(p < 0 for p in padding):
        raise RuntimeError("negative padding is not supported")
    if groups <= 0:
        raise RuntimeError("non-positive groups is not supported")
    w_shape = list(weight.shape)
    if w_shape[0] % groups:
        raise RuntimeError(f"Given groups={groups}, expected weight to be divisible by {groups} at dimension 0, but "
                           f"got weight of size [{w_shape}] instead")
    if x.shape[1] != w_shape[1] * groups:
        raise RuntimeError(f"Given groups={groups}, weight of size {w_shape}, expected input{list(x.shape)} to have "
                           f"{w_shape[1] * groups} channels, but got {x.shape[1]} channels instead")
    if bias is not None and (bias.ndim != 1 or bias.shape[0] != w_shape[0]):
        raise RuntimeError(f"Given weight of size {w_shape}, expected bias to be 1-dimensional with {w_shape[0]} "
                           f"elements, but got bias of size {list(bias.shape)} instead")
    if input.dtype != weight.dtype:
        if input.dtype.itemsize > weight.dtype.itemsize:
            raise RuntimeError(f"expected scalar type {_scalar(input)} but found {_scalar(weight)}")
        raise RuntimeError(f"Input type ({_TYPE_NAMES.get(input.dtype.name, input.dtype)}) and weight type "
                           f"({_TYPE_NAMES.get(weight.dtype.name, weight.dtype)}) should be the same or input "
                           f"should be a MKLDNN tensor and weight is a dense tensor")
    if bias is not None and bias.dtype != input.dtype:
        raise RuntimeError(f"Input type ({_c_name(input)}) and bias type ({_c_name(bias)}) should be the same")
    kernel = tuple(w_shape[2:])
    if padding == "same":
        pairs = same_padding(kernel, dilation)
    else:
        pairs = ((0, 0),) * dims if padding == "valid" else tuple((p, p) for p in padding)
    size = tuple(n + lo + hi for n, (lo, hi) in zip(x.shape[2:], pairs))
    reach = tuple(d * (n - 1) + 1 for n, d in zip(kernel, dilation))
    if any(r > n for r, n in zip(reach, size)):
        raise RuntimeError(f"Calculated padded input size per channel: ({' x '.join(map(str, size))}). Kernel size: "
                           f"({' x '.join(map(str, reach))}). Kernel size can't be greater than actual input size")
    inputs = (x, weight) if bias is None else (x, weight, bias)
    out = Conv.apply(*inputs, stride=stride, padding=pairs, dilation=dilation, groups=groups)
    return out if batched else out.reshape(tuple(out.shape[1:]))


def _scalar(t: Tensor) -> str:
    return {"float32": "Float", "float64": "Double", "float16": "Half", "int64": "Long", "int32": "Int"}.get(
        t.dtype.name, t.dtype.name)


def _c_name(t: Tensor) -> str:
    return {"float32": "float", "float64": "double", "float16": "half"}.get(t.dtype.name, t.dtype.name)


def conv1d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """1-D convolution over (N, C, L) or unbatched (C, L) input."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 1)


def conv2d(input: Tensor, weight: Tensor, bias: Tensor | None = None, stride=1, padding=0, dilation=1,
           groups: int = 1) -> Tensor:
    """2-D convolution over (N, C, H, W) or unbatched (C, H, W) input."""
    return _conv(input, weight, bias, stride, padding, dilation, groups, 2)


# ---------------------------------------------------------------------------------------------- unfold / fold
def _block_args(kernel_size, dilation, padding, stride) -> dict:
    kernel = _tuple(kernel_size, 2, "kernel_size")
    return {"kernel": kernel, "stride": _tuple(stride, 2, "stride"), "padding": tuple((p, p) for p in
                _tuple(padding, 2, "padding")), "dilation": _tuple(dilation, 2, "dilation")}


def unfold(input: Tensor, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sliding local blocks: (N, C, H, W) -> (N, C * kh * kw, L) (torch's im2col)."""
    if input.ndim not in (3, 4):
        raise NotImplementedError(f"Input Error: Only 3D or 4D input Tensors are supported (got {input.ndim}D)")
    if isinstance(kernel_size, (tuple, list)) and len(kernel_size) != 2:
        raise RuntimeError(f"It is expected kernel_size equals to 2, but got size {len(kernel_size)}")
    args = _block_args(kernel_size, dilation, padding, stride)
    batched = input.ndim == 4
    x = input if batched else input.reshape((1,) + tuple(input.shape))
    blocks = conv_out_shape(x.shape[2:], args["kernel"], args["stride"], args["padding"], args["dilation"])
    if any(n < 1 for n in blocks):
        raise RuntimeError(f"Given input with spatial size {tuple(x.shape[2:])}, kernel_size={args['kernel']}, "
                           f"dilation={args['dilation']}, padding={tuple(p for p, _ in args['padding'])}, calculated "
                           f"shape of the array of sliding blocks as {blocks}, but its components must be at least "
                           f"one.")
    out = Unfold.apply(x, **args)
    return out if batched else out.reshape(tuple(out.shape[1:]))


def fold(input: Tensor, output_size, kernel_size, dilation=1, padding=0, stride=1) -> Tensor:
    """Sum sliding local blocks back into an image: (N, C * kh * kw, L) -> (N, C, *output_size) (col2im)."""
    if input.ndim not in (2, 3):
        raise RuntimeError(f"Expected 2D or 3D (batch mode) tensor for input with possibly 0 batch size and non-zero "
                           f"dimensions for input, but got: {list(input.shape)}")
    args = _block_args(kernel_size, dilation, padding, stride)
    size = _tuple(output_size, 2, "output_size")
    batched = input.ndim == 3
    cols = input if batched else input.reshape((1,) + tuple(input.shape))
    per_block = args["kernel"][0] * args["kernel"][1]
    if cols.shape[1] % per_block:
        raise RuntimeError(f"Expected size of input's dimension 1 to be divisible by the product of kernel_size, but "
                           f"got input.size(1)={cols.shape[1]} and kernel_size={args['kernel']}.")
    blocks = conv_out_shape(size, args["kernel"], args["stride"], args["padding"], args["dilation"])
    if cols.shape[2] != blocks[0] * blocks[1]:
        raise RuntimeError(f"Given output_size={size}, kernel_size={args['kernel']}, dilation={args['dilation']}, "
                           f"padding={tuple(p for p, _ in args['padding'])}, stride={args['stride']}, expected size "
                           f"of input's dimension 2 to match the calculated number of sliding blocks {blocks[0]} * "
                           f"{blocks[1]} = {blocks[0] * blocks[1]}, but got input.size(2)={cols.shape[2]}.")
    out = Fold.apply(cols, shape=(cols.shape[0], cols.shape[1] // per_block) + size, **args)
    return out if batched else out.reshape(tuple(out.shape[1:]))


# ---------------------------------------------------------------------------------------------- pad
_NON_CONSTANT = ("reflect", "replicate", "circular")


def pad(input: Tensor, pad, mode: str = "constant", value: float | None = None) -> Tensor:
    """Pad (or, with negative sizes, crop) the trailing dims: ``pad`` lists (left, right) for the last dim first."""
    pad = tuple(int(p) for p in pad)
    if len(pad) % 2:
        raise RuntimeError("Padding length must be divisible by 2")
    if len(pad) // 2 > input.ndim:
        raise RuntimeError(f"Padding length should be less than or equal to two times the input dimension but got "
                           f"padding length {len(pad)} and input of dimension {input.ndim}")
    pairs = tuple(reversed([(pad[i], pad[i + 1]) for i in range(0, len(pad), 2)]))  # first padded dim first
    if mode == "constant":
        lead = input.ndim - len(pairs)
        for n, (lo, hi) in zip(input.shape[lead:], pairs):
            if n + lo + hi < 0:
                raise RuntimeError("narrow(): length must be non-negative.")
        return ConstantPad.apply(input, padding=pairs, value=0 if value is None else value)
    if mode not in _NON_CONSTANT:
        raise NotImplementedError(f"Unrecognised padding mode {mode}")
    if value is not None and value != 0:
        raise RuntimeError(f'Padding mode "{mode}" doesn\'t take in value argument')
    dims = len(pairs)
    if not (1 <= dims <= 3 and input.ndim in (dims + 1, dims + 2)):
        raise NotImplementedError(
            f"Padding size {len(pad)} is not supported for {input.ndim}D input tensor.\nSupported combinations for "
            f"non-constant padding:\n  - 2D or 3D input: padding size = 2 (pads last dimension)\n  - 3D or 4D input: "
            f"padding size = 4 (pads last 2 dimensions)\n  - 4D or 5D input: padding size = 6 (pads last 3 dimensions)")
    lead = input.ndim - dims
    for i in reversed(range(dims)):  # torch checks the last dim first
        (lo, hi), n = pairs[i], input.shape[lead + i]
        if mode == "reflect" and (lo >= n or hi >= n):
            raise RuntimeError(f"Argument #{4 + 2 * (dims - 1 - i)}: Padding size should be less than the "
                               f"corresponding input dimension, but got: padding ({lo}, {hi}) at dimension "
                               f"{lead + i} of input {list(input.shape)}")
        if mode == "circular" and (lo > n or hi > n):
            raise RuntimeError("Padding value causes wrapping around more than once.")
    out = input
    for i, (lo, hi) in enumerate(pairs):  # one gather per padded dim: the Index op's backward sums repeats
        index = _pad_index(mode, input.shape[lead + i], lo, hi)
        out = out[(slice(None),) * (lead + i) + (out.xp.asarray(index),)]
    return out


def _pad_index(mode: str, n: int, lo: int, hi: int) -> list:
    """Source positions of a padded dim (as torch: crop negative pads first, then pad from what is left)."""
    start, stop = max(-lo, 0), n - max(-hi, 0)
    kept = list(range(start, stop))
    left, right = max(lo, 0), max(hi, 0)
    if mode == "replicate":
        return [kept[0]] * left + kept + [kept[-1]] * right
    if mode == "reflect":
        return kept[1:left + 1][::-1] + kept + kept[len(kept) - right - 1:-1][::-1]
    return kept[len(kept) - left:] + kept + kept[:right]  # circular
