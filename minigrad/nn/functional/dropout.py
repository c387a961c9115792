"""Dropout functions of torch.nn.functional: elementwise and channel-wise (1d/2d/3d).

The output is ``input * mask`` with ``mask = bernoulli(1 - p) / (1 - p)``, one recorded multiply, as torch
does on the CPU (its grad_fn is ``MulBackward0`` too), so the gradient is ``grad * mask`` and higher-order
gradients come for free. The mask is drawn from minigrad's default generator on the host and then moved
to the input's device, so ``minigrad.manual_seed`` makes it reproducible on every device. The masks are
not torch's (a different random stream); the scaling is bit-for-bit torch's.
"""
from __future__ import annotations

import warnings

import numpy as np

from ...backend import default_generator, to_device
from ...ops.dropout import MaskedScale
from ...tensor import Tensor

__all__ = ["dropout", "dropout1d", "dropout2d", "dropout3d"]

# torch's ScalarType names, for its "can't be cast" error on integer inputs
_TORCH_TYPE_NAMES = {"int64": "Long", "int32": "Int", "int16": "Short", "int8": "Char", "uint8": "Byte", "bool": "Bool"}


def _check_p(p) -> None:
    if p < 0.0 or p > 1.0:
        raise ValueError(f"dropout probability has to be between 0 and 1, but got {p}")


def _mask(input: Tensor, shape: tuple, p: float):
    """The scaled keep-mask, 0 or 1/(1-p) in the input's dtype, broadcastable to the input."""
    dtype = input.array.dtype
    if p == 1:  # torch multiplies by a zero scalar: all zeros, gradient zero, any dtype
        return input.xp.zeros((), dtype=dtype)
    if dtype.kind != "f":
        raise RuntimeError(f"result type Float can't be cast to the desired output type "
                           f"{_TORCH_TYPE_NAMES.get(dtype.name, dtype.name)}")
    draw_dtype = np.float64 if dtype == np.float64 else np.float32  # the generator draws only these two
    keep = default_generator.numpy_rng.random(shape, dtype=draw_dtype) < 1 - p  # bernoulli(1 - p), on the host
    mask = to_device(keep, input.device).astype(dtype)  # a bool array crosses to a GPU: 1 byte an element
    # torch divides by (1 - p) rounded to the input's dtype: the same rounding gives bit-identical scaling
    mask /= dtype.type(1 - p)
    return mask


def _apply(input: Tensor, mask_shape: tuple, p: float, inplace: bool) -> Tensor:
    mask = _mask(input, mask_shape, p)
    if inplace:
        # Really in place, through Tensor's in-place machinery: the tensor becomes the multiply's node (its old
        # value a graph input), version-counted so that a value another op saved is never silently overwritten;
        # a leaf that requires grad is refused with torch's error.
        return input._inplace_op(lambda x: MaskedScale.apply(x, mask=mask))
    return MaskedScale.apply(input, mask=mask)


def dropout(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero each element with probability ``p`` and scale the rest by ``1/(1-p)`` (training only)."""
    _check_p(p)
    if p == 0 or not training or input.numel() == 0:
        return input  # torch returns the input itself here
    return _apply(input, input.shape, p, inplace)


def _feature_dropout(input: Tensor, p: float, training: bool, inplace: bool, batched: bool = True) -> Tensor:
    """Zero whole channels: one draw per (sample, channel), or per channel for an unbatched input."""
    lead = 2 if batched else 1  # an unbatched input is treated as torch does, as if unsqueezed to batch 1
    if input.ndim + 2 - lead < 2:
        raise RuntimeError("Feature dropout requires at least 2 dimensions in the input")
    if p == 0 or not training or input.numel() == 0:
        return input
    shape = tuple(input.shape[:lead]) + (1,) * (input.ndim - lead)
    return _apply(input, shape, p, inplace)


def _deprecated_dims(name: str, ndim: int, spatial: int) -> None:
    warnings.warn(f"{name}: Received a {ndim}-D input to {name}, which is deprecated and will result in an error "
                  f"in a future release. To retain the behavior and silence this warning, please use dropout "
                  f"instead. Note that {name} exists to provide channel-wise dropout on inputs with {spatial} "
                  f"spatial dimensions, a channel dimension, and an optional batch dimension (i.e. {spatial + 1}D "
                  f"or {spatial + 2}D inputs).", stacklevel=3)


def dropout1d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, L) or unbatched (C, L) input."""
    _check_p(p)
    if input.ndim not in (2, 3):
        raise RuntimeError(f"dropout1d: Expected 2D or 3D input, but received a {input.ndim}D input. Note that "
                           f"dropout1d exists to provide channel-wise dropout on inputs with 1 spatial dimension, "
                           f"a channel dimension, and an optional batch dimension (i.e. 2D or 3D inputs).")
    return _feature_dropout(input, p, training, inplace, batched=input.ndim == 3)


def dropout2d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, H, W) input.

    A 3-D input is read as (N, C, L), not as an unbatched (C, H, W), with torch's warning: that is torch's
    (deprecated) behaviour, kept for parity."""
    _check_p(p)
    if input.ndim not in (3, 4):
        _deprecated_dims("dropout2d", input.ndim, 2)
    if input.ndim == 3:
        warnings.warn("dropout2d: Received a 3D input to dropout2d and assuming that channel-wise 1D dropout "
                      "behavior is desired - input is interpreted as shape (N, C, L), where C is the channel dim. "
                      "This behavior will change in a future release to interpret the input as one without a "
                      "batch dimension, i.e. shape (C, H, W). To maintain the 1D channel-wise dropout behavior, "
                      "please switch to using dropout1d instead.", stacklevel=2)
    return _feature_dropout(input, p, training, inplace)


def dropout3d(input: Tensor, p: float = 0.5, training: bool = True, inplace: bool = False) -> Tensor:
    """Zero whole channels of an (N, C, D, H, W) or unbatched (C, D, H, W) input."""
    _check_p(p)
    if input.ndim not in (4, 5):
        _deprecated_dims("dropout3d", input.ndim, 3)
    return _feature_dropout(input, p, training, inplace, batched=input.ndim == 5)
