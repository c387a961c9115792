"""The losses, with torch's options, checks and messages."""
from __future__ import annotations

import warnings

from ... import ops
from ...tensor import Tensor
from ...ops.reduce import along_axis_key

_REDUCTIONS = ("none", "mean", "sum")


def _check_reduction(reduction: str) -> None:
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")


def _class_dim(input: Tensor) -> int:
    if input.ndim == 0:
        raise ValueError("Expected the input to have at least 1 dimension (C), (N, C) or (N, C, d1, ...), got a 0-d tensor")
    return 0 if input.ndim == 1 else 1


def _class_view(weight, input: Tensor, class_dim: int):
    """A (C,) weight reshaped to broadcast along the class dim of ``input``."""
    return weight.reshape((-1,) + (1,) * (input.ndim - class_dim - 1))


def _index_coeffs(input: Tensor, target: Tensor, weight, ignore_index: int, reduction: str, smoothing: float):
    """The coefficient array of NllLoss for class-index targets: one-hot weights, smoothing and the mean's divisor."""
    class_dim = _class_dim(input)
    expected = input.shape[:class_dim] + input.shape[class_dim + 1:]
    if target.shape != expected:
        if class_dim == 1 and target.ndim >= 1 and target.shape[0] != input.shape[0]:
            raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size "
                             f"({target.shape[0]}).")
        raise RuntimeError(f"Expected target of shape {tuple(expected)} for input of shape {tuple(input.shape)}, "
                           f"got target of shape {tuple(target.shape)}")
    if target.dtype.name != "int64":
        raise RuntimeError(f"expected scalar type Long but found {target.dtype}: class-index targets must be "
                           f"int64 (call .long()), or float class probabilities of the input's shape")
    xp, t = input.xp, target.array
    num_classes = input.shape[class_dim]
    kept = t != ignore_index
    bad = kept & ((t < 0) | (t >= num_classes))
    if bad.any():
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds: expected class indices in "
                         f"[0, {num_classes - 1}]" + (f" or ignore_index={ignore_index}" if ignore_index >= 0 or
                                                      ignore_index != -100 else ""))
    safe_t = xp.where(kept, t, 0)
    dtype = input.array.dtype
    w = weight.array.astype(dtype) if weight is not None else None
    picked = (w[safe_t] if w is not None else xp.ones(t.shape, dtype)) * kept
    scale, nothing_kept = 1.0, False
    if reduction == "mean":  # torch divides by the summed weights of the targets kept
        total = picked.sum()
        nothing_kept = not total
        scale = 0.0 if nothing_kept else 1.0 / total
    coeffs = xp.zeros(input.shape, dtype)
    coeffs[along_axis_key(xp, xp.expand_dims(safe_t, class_dim), class_dim)] = \
        xp.expand_dims(picked * ((1.0 - smoothing) * scale), class_dim)
    if smoothing:
        class_w = _class_view(w, input, class_dim) if w is not None else 1.0
        coeffs += (smoothing / num_classes) * scale * class_w * xp.expand_dims(kept, class_dim)
    return Tensor._wrap(coeffs), class_dim, nothing_kept


def _empty_mean(loss: Tensor, nothing_kept: bool) -> Tensor:
    """torch parity: a mean over no kept target is 0/0 = nan, yet its gradient is zero, not nan."""
    return loss + float("nan") if nothing_kept else loss


def _probability_coeffs(input: Tensor, target: Tensor, weight, reduction: str, smoothing: float):
    """NllLoss coefficients for class-probability targets; built with tensor ops so target gets a gradient."""
    if target.shape != input.shape:
        raise RuntimeError(f"Expected probability targets of the input's shape {tuple(input.shape)}, got "
                           f"{tuple(target.shape)}")
    class_dim = _class_dim(input)
    coeffs = target.to(input.dtype)
    if smoothing:
        coeffs = coeffs * (1.0 - smoothing) + smoothing / input.shape[class_dim]
    if weight is not None:
        coeffs = coeffs * _class_view(weight.to(input.dtype), input, class_dim)
    if reduction == "mean":
        coeffs = coeffs / max(input.numel() // input.shape[class_dim], 1)
    return coeffs, class_dim, False


def _check_weight(weight, input: Tensor):
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != input.shape[_class_dim(input)]):
        raise RuntimeError(f"weight tensor should be defined either for all {input.shape[_class_dim(input)]} classes "
                           f"or no classes but got weight tensor of shape: {tuple(weight.shape)}")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets under log-probabilities ``input``."""
    _check_reduction(reduction)
    _check_weight(weight, input)
    coeffs, class_dim, nothing_kept = _index_coeffs(input, target, weight, ignore_index, reduction, 0.0)
    return _empty_mean(ops.NllLoss.apply(input, coeffs, dim=class_dim, reduce=reduction != "none"), nothing_kept)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll_loss fused into one node; targets are class indices or class probabilities."""
    _check_reduction(reduction)
    _check_weight(weight, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between 0.0 and 1.0. Got: {label_smoothing}")
    if target.is_floating_point():
        coeffs, class_dim, nothing_kept = _probability_coeffs(input, target, weight, reduction, label_smoothing)
    else:
        coeffs, class_dim, nothing_kept = _index_coeffs(input, target, weight, ignore_index, reduction,
                                                        label_smoothing)
    loss = ops.NllLoss.apply(input, coeffs, dim=class_dim, reduce=reduction != "none", log_softmax=True)
    return _empty_mean(loss, nothing_kept)


def _check_same_size(input: Tensor, target: Tensor, message: str) -> None:
    if target.shape != input.shape:
        raise ValueError(message.format(target=target.shape, input=input.shape))


def _broadcast_weight(weight, input: Tensor):
    return None if weight is None else input.xp.broadcast_to(weight.array.astype(input.array.dtype), input.shape)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities; log is clamped at -100, so inputs of exactly 0 or 1 give finite losses (torch)."""
    _check_reduction(reduction)
    _check_same_size(input, target, "Using a target size ({target}) that is different to the input size ({input}) "
                                    "is deprecated. Please ensure they have the same size.")
    p = input.array
    if p.size and (p.min() < 0 or p.max() > 1 or input.xp.isnan(p).any()):
        raise RuntimeError(f"all elements of input should be between 0 and 1, but found values in "
                           f"[{p.min().item():g}, {p.max().item():g}]; apply sigmoid first, or use "
                           f"binary_cross_entropy_with_logits")
    return ops.BinaryCrossEntropy.apply(input, target.to(input.dtype), weight=_broadcast_weight(weight, input),
                                        reduction=reduction)


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """sigmoid + BCE in one stable node: fine for logits of any magnitude."""
    _check_reduction(reduction)
    _check_same_size(input, target, "Target size ({target}) must be the same as input size ({input})")
    pos = None if pos_weight is None else pos_weight.array.astype(input.array.dtype)
    return ops.BinaryCrossEntropyWithLogits.apply(input, target.to(input.dtype),
                                                  weight=_broadcast_weight(weight, input), pos_weight=pos,
                                                  reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    _check_reduction(reduction)
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      f"This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      f"same size.", stacklevel=2)
    return ops.MseLoss.apply(*input._promoted(target), reduction=reduction)
