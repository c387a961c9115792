"""Adamax (Adam with the infinity norm): torch's exact update (``_single_tensor_adamax``), on raw arrays."""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .optimizer import (Optimizer, _check_betas, _check_non_negative, _check_unsupported, _grad_for_step,
                        _host_scalar, _lerp_)

__all__ = ["Adamax"]


def adamax_(xp, param, grad, exp_avg, exp_inf, *, step, lr, beta1, beta2, eps, weight_decay, maximize) -> None:
    """One Adamax step on raw arrays: ``param``, ``exp_avg`` and ``exp_inf`` in place."""
    grad = _grad_for_step(grad, param, weight_decay, maximize)
    _lerp_(exp_avg, grad, 1 - beta1)
    exp_inf *= beta2
    norm = xp.abs(grad)
    norm += eps  # torch adds eps inside the max, so exp_inf is never zero
    xp.maximum(exp_inf, norm, out=exp_inf)
    clr = lr / (1 - beta1 ** step)
    param -= clr * (exp_avg / exp_inf)


class Adamax(Optimizer):
    """Adamax, step for step as torch.optim.Adamax, with weight decay and maximize."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, capturable: bool = False):
        _check_non_negative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_non_negative(weight_decay=weight_decay)
        _check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "capturable": capturable}
        super().__init__(params, defaults)

    def _new_state(self, p: Tensor, _group: dict[str, Any]) -> dict[str, Tensor]:
        return {"step": _host_scalar(), "exp_avg": Tensor._wrap(p.xp.zeros_like(p.array)),
                "exp_inf": Tensor._wrap(p.xp.zeros_like(p.array))}

    def _update(self, p: Tensor, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        step = state["step"].array
        step += 1
        beta1, beta2 = group["betas"]
        adamax_(p.xp, p.array, p.grad.array, state["exp_avg"].array, state["exp_inf"].array, step=step.item(),
                lr=group["lr"], beta1=beta1, beta2=beta2, eps=group["eps"], weight_decay=group["weight_decay"],
                maximize=group["maximize"])
