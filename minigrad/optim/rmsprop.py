"""RMSprop: torch's exact update (``_single_tensor_rmsprop``), in place on raw arrays."""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .optimizer import (Optimizer, _check_non_negative, _check_unsupported, _decay_square_avg_, _grad_for_step,
                        _host_scalar, _lerp_)

__all__ = ["RMSprop"]


def rmsprop_(xp, param, grad, square_avg, grad_avg, momentum_buffer, *, lr, alpha, eps, weight_decay, momentum,
             maximize) -> None:
    """One RMSprop step on raw arrays, in place; ``grad_avg`` is None unless centered, ``momentum_buffer``
    is None without momentum."""
    grad = _grad_for_step(grad, param, weight_decay, maximize)
    _decay_square_avg_(square_avg, grad, alpha)
    if grad_avg is not None:  # centered: divide by the running standard deviation instead of the RMS
        _lerp_(grad_avg, grad, 1 - alpha)
        avg = xp.sqrt(square_avg - grad_avg * grad_avg)
    else:
        avg = xp.sqrt(square_avg)
    avg += eps
    if momentum_buffer is not None:
        momentum_buffer *= momentum
        momentum_buffer += grad / avg
        param -= lr * momentum_buffer
    else:
        param -= lr * (grad / avg)


class RMSprop(Optimizer):
    """RMSprop, step for step as torch.optim.RMSprop, with momentum, centering, weight decay and maximize."""

    def __init__(self, params: Iterable, lr: float = 1e-2, alpha: float = 0.99, eps: float = 1e-8,
                 weight_decay: float = 0, momentum: float = 0, centered: bool = False, capturable: bool = False,
                 foreach=None, maximize: bool = False, differentiable: bool = False):
        _check_non_negative(lr=lr, eps=eps, momentum=momentum, weight_decay=weight_decay, alpha=alpha)
        _check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {"lr": lr, "momentum": momentum, "alpha": alpha, "eps": eps, "centered": centered,
                    "weight_decay": weight_decay, "capturable": capturable, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        state = {"step": _host_scalar(), "square_avg": Tensor._wrap(p.xp.zeros_like(p.array))}
        if group["momentum"] > 0:
            state["momentum_buffer"] = Tensor._wrap(p.xp.zeros_like(p.array))
        if group["centered"]:
            state["grad_avg"] = Tensor._wrap(p.xp.zeros_like(p.array))
        return state

    def _update(self, p: Tensor, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        state["step"].array += 1
        grad_avg = state["grad_avg"].array if group["centered"] else None
        buf = state["momentum_buffer"].array if group["momentum"] > 0 else None
        rmsprop_(p.xp, p.array, p.grad.array, state["square_avg"].array, grad_avg, buf, lr=group["lr"],
                 alpha=group["alpha"], eps=group["eps"], weight_decay=group["weight_decay"],
                 momentum=group["momentum"], maximize=group["maximize"])
