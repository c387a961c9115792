"""The losses, with torch's options, checks and messages."""
from __future__ import annotations

import warnings

from ... import ops
from ...tensor import SCALAR_TYPE_NAMES, Tensor

_REDUCTIONS = ("none", "mean", "sum")


def legacy_reduction(size_average, reduce, reduction: str) -> str:
    """``reduction``, or, when either deprecated flag is given, torch's mapping of them onto it (with torch's
    warning): old tutorials' ``F.nll_loss(x, t, size_average=False)`` is a sum, whatever ``reduction`` says."""
    if size_average is None and reduce is None:
        return reduction
    size_average = True if size_average is None else size_average
    reduce = True if reduce is None else reduce
    reduction = "none" if not reduce else ("mean" if size_average else "sum")
    warnings.warn(f"size_average and reduce args will be deprecated, please use reduction='{reduction}' instead.",
                  stacklevel=3)
    return reduction


def _reduction(size_average, reduce, reduction: str) -> str:
    """The checked reduction of a functional loss (every one goes through here)."""
    reduction = legacy_reduction(size_average, reduce, reduction)
    if reduction not in _REDUCTIONS:
        raise ValueError(f"{reduction} is not a valid value for reduction")
    return reduction


def _type_name(t: Tensor) -> str:
    return SCALAR_TYPE_NAMES[t.array.dtype.name]


def _not_implemented(kernel: str, t: Tensor) -> NotImplementedError:
    """torch's error for a kernel that has no integer or bool version."""
    return NotImplementedError(f'"{kernel}" not implemented for \'{_type_name(t)}\'')


def _class_dim(input: Tensor) -> int:
    if input.ndim == 0:
        raise ValueError("Expected 1 or more dimensions (got 0)")
    return 0 if input.ndim == 1 else 1


def _check_index_target(input: Tensor, target: Tensor) -> Tensor:
    """torch's checks of class-index targets, in its order; a (1,) target of a 1-d input is read as 0-d."""
    batch = target.shape[0] if target.ndim else 0  # torch reads a 0-d target's batch size as 0
    if input.ndim != 1 and batch != input.shape[0]:
        raise ValueError(f"Expected input batch_size ({input.shape[0]}) to match target batch_size ({batch}).")
    if input.ndim <= 2 and target.ndim > 1:
        raise RuntimeError("0D or 1D target tensor expected, multi-target not supported")
    if input.ndim == 1 and target.ndim == 1:
        if target.shape[0] != 1:
            raise ValueError(f"For 1D input, 1D target must have size 1, but got target size: {target.shape[0]}")
        target = target.reshape(())
    expected = input.shape[:1] + input.shape[2:] if input.ndim > 1 else ()
    if target.shape != expected:
        raise RuntimeError(f"Expected target size {list(expected)}, got {list(target.shape)}")
    if target.dtype.name not in ("int64", "uint8"):
        raise RuntimeError(f"expected target dtype to be Long or Byte, but got {_type_name(target)}")
    return target


def _class_view(weight, input: Tensor, class_dim: int):
    """A (C,) weight reshaped to broadcast along the class dim of ``input``."""
    return weight.reshape((-1,) + (1,) * (input.ndim - class_dim - 1))


def _class_rows(input: Tensor, target: Tensor):
    """(input as (N, C) rows with the classes last, target as (N,)): the one layout ClassNllLoss works in. A 1-d
    input is one row; the extra dims of (N, C, d1, ...) become rows (a differentiable permute and reshape)."""
    if input.ndim == 2:
        return input, target
    classes = input.shape[_class_dim(input)]
    if input.ndim > 2:
        input = input.permute(0, *range(2, input.ndim), 1)
    return input.reshape(-1, classes), target.reshape(-1)


def _index_loss(input: Tensor, target: Tensor, weight, ignore_index: int, reduction: str, smoothing: float,
                log_softmax: bool) -> Tensor:
    """nll_loss / cross_entropy of class-index targets: the coefficients of each row (class weights, ignored
    targets, label smoothing, the mean's divisor) computed once here, kept sparse, and handed to ClassNllLoss."""
    _class_dim(input)  # torch's error for a 0-d input comes first
    target = _check_index_target(input, target)
    shape = target.shape
    input, target = _class_rows(input, target)
    xp, t = input.xp, target.array
    num_classes = input.shape[1]
    kept = t != ignore_index
    bad = kept & ((t < 0) | (t >= num_classes))
    if bad.any():
        raise IndexError(f"Target {int(t[bad].reshape(-1)[0])} is out of bounds. Expected class indices in "
                         f"[0, {num_classes - 1}]" + ("" if ignore_index == -100 else f" or {ignore_index}") + ".")
    safe_t = xp.where(kept, t, 0)
    dtype = input.array.dtype
    w = weight.array.astype(dtype) if weight is not None else None
    picked = (w[safe_t] if w is not None else xp.ones(t.shape, dtype)) * kept
    scale, nothing_kept = 1.0, False
    if reduction == "mean":  # torch divides by the summed weights of the targets kept
        total = picked.sum()
        nothing_kept = not total
        scale = 0.0 if nothing_kept else 1.0 / total
    pick = (picked * ((1.0 - smoothing) * scale)).astype(dtype)
    spread = (kept * (smoothing / num_classes * scale)).astype(dtype) if smoothing else None
    loss = ops.ClassNllLoss.apply(input, target=safe_t, pick=pick, spread=spread, weight=w,
                                  reduce=reduction != "none", log_softmax=log_softmax)
    if reduction == "none":
        loss = loss.reshape(shape)
    return _empty_mean(loss, nothing_kept)


def _empty_mean(loss: Tensor, nothing_kept: bool) -> Tensor:
    """torch parity: a mean over no kept target is 0/0 = nan, yet its gradient is zero, not nan."""
    return loss + float("nan") if nothing_kept else loss


def _probability_coeffs(input: Tensor, target: Tensor, weight, reduction: str, smoothing: float):
    """NllLoss coefficients for class-probability targets (of the input's shape and dtype); built with tensor ops
    so that the target gets a gradient."""
    class_dim = _class_dim(input)
    coeffs = target
    if smoothing:
        coeffs = coeffs * (1.0 - smoothing) + smoothing / input.shape[class_dim]
    if weight is not None:
        coeffs = coeffs * _class_view(weight.to(input.dtype), input, class_dim)
    if reduction == "mean":
        coeffs = coeffs / max(input.numel() // input.shape[class_dim], 1)
    return coeffs, class_dim


def _check_weight(weight, input: Tensor):
    if weight is not None and (weight.ndim != 1 or weight.shape[0] != input.shape[_class_dim(input)]):
        raise RuntimeError(f"weight tensor should be defined either for all {input.shape[_class_dim(input)]} classes "
                           f"or no classes but got weight tensor of shape: {list(weight.shape)}")


def nll_loss(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, ignore_index: int = -100,
             reduce=None, reduction: str = "mean") -> Tensor:
    """Negative log-likelihood of class-index targets under log-probabilities ``input``."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_weight(weight, input)
    if not input.is_floating_point() and input.ndim:
        target = _check_index_target(input, target)  # torch checks the target first
        raise _not_implemented("nll_loss_out_frame" if input.ndim <= 2 else "nll_loss2d_forward_out_frame", input)
    return _index_loss(input, target, weight, ignore_index, reduction, 0.0, log_softmax=False)


def cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                  ignore_index: int = -100, reduce=None, reduction: str = "mean",
                  label_smoothing: float = 0.0) -> Tensor:
    """log_softmax + nll_loss fused into one node. As in torch, a target of the input's shape holds class
    probabilities (floats), any other target class indices."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_weight(weight, input)
    if not 0.0 <= label_smoothing <= 1.0:
        raise RuntimeError(f"label_smoothing must be between {0.0} and {1.0}. Got: {label_smoothing:g}")
    probabilities = target.shape == input.shape
    if probabilities and not target.is_floating_point():
        raise RuntimeError(f"Expected floating point type for target with class probabilities, got "
                           f"{_type_name(target)}")
    input._softmax_dim(_class_dim(input), "log_softmax")  # integer logits: torch's kernel error
    if not probabilities:
        return _index_loss(input, target, weight, ignore_index, reduction, label_smoothing, log_softmax=True)
    input, target = input._promoted(target)  # a float64 target makes a float64 loss, as in torch
    coeffs, class_dim = _probability_coeffs(input, target, weight, reduction, label_smoothing)
    return ops.NllLoss.apply(input, coeffs, dim=class_dim, reduce=reduction != "none", log_softmax=True)


def _check_same_size(input: Tensor, target: Tensor, message: str) -> None:
    if target.shape != input.shape:
        raise ValueError(message.format(target=target.shape, input=input.shape))


def _broadcast_weight(weight, input: Tensor):
    return None if weight is None else input.xp.broadcast_to(weight.array.astype(input.array.dtype), input.shape)


def binary_cross_entropy(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None, reduce=None,
                         reduction: str = "mean") -> Tensor:
    """BCE on probabilities; log is clamped at -100, so inputs of exactly 0 or 1 give finite losses (torch)."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "Using a target size ({target}) that is different to the input size ({input}) "
                                    "is deprecated. Please ensure they have the same size.")
    if target.dtype != input.dtype:
        raise RuntimeError(f"Found dtype {_type_name(target)} but expected {_type_name(input)}")
    if not input.is_floating_point():
        raise _not_implemented("binary_cross_entropy", input)
    _check_probabilities(input, "input", "; apply sigmoid first, or use binary_cross_entropy_with_logits")
    _check_probabilities(target, "target", "")
    return ops.BinaryCrossEntropy.apply(input, target, weight=_broadcast_weight(weight, input), reduction=reduction)


def _check_probabilities(t: Tensor, name: str, hint: str) -> None:
    """torch refuses BCE values outside [0, 1] (or NaN): the loss would be a meaningless, even negative, number."""
    p = t.array
    if p.size and not ((p >= 0) & (p <= 1)).all():
        raise RuntimeError(f"all elements of {name} should be between 0 and 1, but found values in "
                           f"[{p.min().item():g}, {p.max().item():g}]{hint}")


def binary_cross_entropy_with_logits(input: Tensor, target: Tensor, weight: Tensor | None = None, size_average=None,
                                     reduce=None, reduction: str = "mean",
                                     pos_weight: Tensor | None = None) -> Tensor:
    """sigmoid + BCE in one stable node: fine for logits of any magnitude."""
    reduction = _reduction(size_average, reduce, reduction)
    _check_same_size(input, target, "Target size ({target}) must be the same as input size ({input})")
    if not input.is_floating_point():
        raise _not_implemented("log_sigmoid_cpu", input)
    if not target.is_floating_point():
        raise RuntimeError(f"result type {_type_name(input)} can't be cast to the desired output type "
                           f"{_type_name(target)}")
    pos = None if pos_weight is None else pos_weight.array.astype(input.array.dtype)
    return ops.BinaryCrossEntropyWithLogits.apply(input, target.to(input.dtype),
                                                  weight=_broadcast_weight(weight, input), pos_weight=pos,
                                                  reduction=reduction)


def mse_loss(input: Tensor, target: Tensor, size_average=None, reduce=None, reduction: str = "mean") -> Tensor:
    reduction = _reduction(size_average, reduce, reduction)
    if target.shape != input.shape:
        warnings.warn(f"Using a target size ({target.shape}) that is different to the input size ({input.shape}). "
                      f"This will likely lead to incorrect results due to broadcasting. Please ensure they have the "
                      f"same size.", stacklevel=2)
    input, target = input._promoted(target)
    if not input.is_floating_point():
        raise _not_implemented("mse_cpu", input)
    return ops.MseLoss.apply(input, target, reduction=reduction)
