"""Gradient clipping, as torch.nn.utils: clip_grad_norm_, clip_grad_value_, get_total_norm, clip_grads_with_norm_.

Gradients are scaled in place, on whatever device they live, without a host round trip (the norm stays
an array) unless ``error_if_nonfinite`` asks for a check. ``foreach`` is accepted for torch's signature:
minigrad has one implementation, so True, False and None all take it and give the same numbers.
"""
from __future__ import annotations

import math
import types
import warnings

from ... import creation
from ...autograd import no_grad
from ...backend import ieee_quiet, to_device
from ...tensor import Tensor

__all__ = ["clip_grad_norm", "clip_grad_norm_", "clip_grad_value_", "clip_grads_with_norm_", "get_total_norm"]


def _as_list(tensors) -> list:
    return [tensors] if isinstance(tensors, Tensor) else list(tensors)


def _vector_norm(xp, a, p: float):
    """The p-norm of all of ``a``'s elements as a 0-d array of its dtype (torch.linalg.vector_norm)."""
    a = a.reshape(-1)
    if p == 2:
        value = xp.sqrt(xp.vdot(a, a))  # one BLAS pass, no |a| temporary
    elif p == math.inf or p == -math.inf:
        if a.size == 0:
            raise RuntimeError(f"linalg.vector_norm cannot compute the {p} norm on an empty tensor because the "
                               f"operation does not have an identity")
        value = abs(a).max() if p > 0 else abs(a).min()
    elif p == 0:
        value = xp.count_nonzero(a)
    elif p == 1:
        value = abs(a).sum()
    else:
        value = (abs(a) ** p).sum() ** (1.0 / p)
    return xp.asarray(value, dtype=a.dtype)


@no_grad()
def get_total_norm(tensors, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:  # noqa: ARG001  (torch's signature; one implementation)
    """The ``norm_type``-norm of all the tensors' elements together, as if concatenated into one vector."""
    tensors = _as_list(tensors)
    norm_type = float(norm_type)
    if not tensors:
        return creation.tensor(0.0)
    first = tensors[0]
    xp = first.xp
    with ieee_quiet():  # inf and nan gradients give an inf or nan norm without numpy's warnings, as torch
        norms = [to_device(_vector_norm(t.xp, t.array, norm_type), first.device) for t in tensors]
        total = _vector_norm(xp, xp.stack(norms), norm_type)  # the stack promotes mixed dtypes, as torch's
    if error_if_nonfinite and not bool(xp.isfinite(total)):
        raise RuntimeError(f"The total norm of order {norm_type} for gradients from `parameters` is non-finite, so "
                           f"it cannot be clipped. To disable this error and scale the gradients by the non-finite "
                           f"norm anyway, set `error_if_nonfinite=False`")
    return Tensor._wrap(total)


@no_grad()
def clip_grads_with_norm_(parameters, max_norm: float, total_norm: Tensor,
                          foreach: bool | None = None) -> None:  # noqa: ARG001  (torch's signature; one implementation)
    """Scale every gradient in place by ``min(max_norm / (total_norm + 1e-6), 1)``."""
    grads = [p.grad for p in _as_list(parameters) if p.grad is not None]
    max_norm = float(max_norm)
    if not grads:
        return
    # torch's coefficient, in the norm's dtype; clamped so that gradients are only ever scaled down
    with ieee_quiet():  # a non-finite norm gives nan or zero gradients, quietly, as torch's
        coef = total_norm.xp.minimum(max_norm / (total_norm.array + 1e-6), 1.0)
        for g in grads:
            g.mul_(Tensor._wrap(to_device(coef, g.device).astype(g.array.dtype)))


@no_grad()
def clip_grad_norm_(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                    foreach: bool | None = None) -> Tensor:
    """Rescale the gradients so that their total ``norm_type``-norm is at most ``max_norm``; returns the
    total norm before clipping (a 0-d tensor)."""
    is_generator = isinstance(parameters, types.GeneratorType)
    parameters = _as_list(parameters)
    if is_generator and not parameters:
        warnings.warn("`parameters` is an empty generator, no gradient clipping will occur.", stacklevel=3)
    grads = [p.grad for p in parameters if p.grad is not None]
    total_norm = get_total_norm(grads, norm_type, error_if_nonfinite, foreach)
    clip_grads_with_norm_(parameters, max_norm, total_norm, foreach)
    return total_norm


def clip_grad_norm(parameters, max_norm: float, norm_type: float = 2.0, error_if_nonfinite: bool = False,
                   foreach: bool | None = None) -> Tensor:
    """Deprecated alias of clip_grad_norm_, as in torch."""
    warnings.warn("`torch.nn.utils.clip_grad_norm` is now deprecated in favor of `torch.nn.utils.clip_grad_norm_`.",
                  FutureWarning, stacklevel=2)
    return clip_grad_norm_(parameters, max_norm, norm_type, error_if_nonfinite, foreach)


@no_grad()
def clip_grad_value_(parameters, clip_value: float,
                     foreach: bool | None = None) -> None:  # noqa: ARG001  (torch's signature; one implementation)
    """Clamp every gradient in place to [-clip_value, clip_value]."""
    clip_value = float(clip_value)
    for p in _as_list(parameters):
        if p.grad is not None:
            p.grad.clamp_(-clip_value, clip_value)
