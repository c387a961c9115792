"""Adadelta: torch's exact update (``_single_tensor_adadelta``), in place on raw arrays."""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .optimizer import (Optimizer, _check_non_negative, _check_unsupported, _decay_square_avg_, _grad_for_step,
                        _host_scalar)

__all__ = ["Adadelta"]


def adadelta_(xp, param, grad, square_avg, acc_delta, *, lr, rho, eps, weight_decay, maximize) -> None:
    """One Adadelta step on raw arrays: ``param``, ``square_avg`` and ``acc_delta`` are updated in place."""
    grad = _grad_for_step(grad, param, weight_decay, maximize)
    _decay_square_avg_(square_avg, grad, rho)
    std = xp.sqrt(square_avg + eps)
    delta = xp.sqrt(acc_delta + eps)  # the step is scaled by the RMS of past steps over the RMS of gradients
    delta /= std
    delta *= grad
    _decay_square_avg_(acc_delta, delta, rho)
    param -= lr * delta


class Adadelta(Optimizer):
    """Adadelta, step for step as torch.optim.Adadelta, with weight decay and maximize."""

    def __init__(self, params: Iterable, lr: float = 1.0, rho: float = 0.9, eps: float = 1e-6,
                 weight_decay: float = 0, foreach=None, *, capturable: bool = False, maximize: bool = False,
                 differentiable: bool = False):
        _check_non_negative(lr=lr)
        if not 0.0 <= rho <= 1.0:
            raise ValueError(f"Invalid rho value: {rho}")
        _check_non_negative(eps=eps, weight_decay=weight_decay)
        _check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {"lr": lr, "rho": rho, "eps": eps, "weight_decay": weight_decay, "maximize": maximize,
                    "capturable": capturable, "foreach": foreach, "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, p: Tensor, _group: dict[str, Any]) -> dict[str, Tensor]:
        return {"step": _host_scalar(), "square_avg": Tensor._wrap(p.xp.zeros_like(p.array)),
                "acc_delta": Tensor._wrap(p.xp.zeros_like(p.array))}

    def _update(self, p: Tensor, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        state["step"].array += 1
        adadelta_(p.xp, p.array, p.grad.array, state["square_avg"].array, state["acc_delta"].array,
                  lr=group["lr"], rho=group["rho"], eps=group["eps"], weight_decay=group["weight_decay"],
                  maximize=group["maximize"])
