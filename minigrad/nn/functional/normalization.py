"""Normalisation functions of torch.nn.functional: batch_norm."""
from __future__ import annotations

import math

from ...autograd import no_grad
from ...ops.normalization import BatchNorm
from ...tensor import Tensor

__all__ = ["batch_norm"]


def _check_channels(name: str, t: Tensor | None, channels: int) -> None:
    if t is not None and t.numel() != channels:
        raise RuntimeError(f"{name} should contain {channels} elements not {t.numel()}")


_TORCH_FLOAT_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double"}


def _check_dtype(t: Tensor | None, input: Tensor) -> None:
    if t is not None and t.dtype != input.dtype:  # torch's CPU wording
        name = input.array.dtype.name
        raise RuntimeError(f"mixed dtype (CPU): expect parameter to have scalar type of "
                           f"{_TORCH_FLOAT_NAMES.get(name, name)}")


def batch_norm(input: Tensor, running_mean: Tensor | None, running_var: Tensor | None, weight: Tensor | None = None,
               bias: Tensor | None = None, training: bool = False, momentum: float = 0.1,
               eps: float = 1e-5) -> Tensor:
    """Normalise each channel (dim 1) by the batch's statistics (``training``) or the running ones.

    In training, ``running_mean``/``running_var`` (when given) are updated in place with the batch mean and
    the *unbiased* batch variance, ``running = (1 - momentum) * running + momentum * batch``, while the
    output is normalised with the *biased* variance, as torch does."""
    if input.ndim < 2:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-max(input.ndim, 1)}, "
                         f"{max(input.ndim, 1) - 1}], but got 1)")
    shape = tuple(input.shape)
    if training:
        if shape[0] * math.prod(shape[2:]) == 1:
            raise ValueError(f"Expected more than 1 value per channel when training, got input size {input.shape}")
        if eps <= 0.0:
            raise ValueError(f"batch_norm eps must be positive during training, but got {eps}")
    elif eps < 0.0:
        raise ValueError(f"batch_norm eps must be non-negative, but got {eps}")
    if not isinstance(momentum, (int, float)):
        raise TypeError(f"batch_norm(): argument 'momentum' (position 7) must be float, not {type(momentum).__name__}")
    channels = shape[1]
    for name, t in (("running_mean", running_mean), ("running_var", running_var), ("weight", weight), ("bias", bias)):
        _check_channels(name, t, channels)
        _check_dtype(t, input)
    if not training:
        for name, t in (("running_mean", running_mean), ("running_var", running_var)):
            if t is None:
                raise RuntimeError(f"{name} must be defined in evaluation mode")

    xp, x = input.xp, input.array
    stats_shape = (1, channels) + (1,) * (input.ndim - 2)
    if training:
        axes = (0,) + tuple(range(2, input.ndim))
        count = x.size // max(channels, 1)
        if count == 0:  # an empty batch: an empty output, running statistics left alone (torch)
            mean = var = xp.zeros(stats_shape, dtype=x.dtype)
        else:
            mean = x.mean(axis=axes, keepdims=True)
            var = x.var(axis=axes, keepdims=True)
            _update_running(running_mean, mean, momentum)
            _update_running(running_var, var * (count / (count - 1)), momentum)
    else:
        # copies: backward must see the statistics of this forward even if the buffers are updated before it runs
        mean, var = running_mean.array.reshape(stats_shape).copy(), running_var.array.reshape(stats_shape).copy()
    if weight is None:  # constants, so that one primitive serves every option
        weight = Tensor._wrap(xp.ones(channels, dtype=x.dtype))
    if bias is None:
        bias = Tensor._wrap(xp.zeros(channels, dtype=x.dtype))
    return BatchNorm.apply(input, weight, bias, mean=mean, var=var, eps=eps, training=training)


def _update_running(running: Tensor | None, batch, momentum: float) -> None:
    """running = (1 - momentum) * running + momentum * batch, in place (the buffer object is kept)."""
    if running is not None:
        with no_grad():
            running.mul_(1 - momentum).add_(Tensor._wrap(batch.reshape(running.shape)), alpha=momentum)
