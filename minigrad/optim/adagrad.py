"""Adagrad: torch's exact update (``_single_tensor_adagrad``), in place on raw arrays."""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .optimizer import Optimizer, _check_non_negative, _check_unsupported, _grad_for_step, _host_scalar

__all__ = ["Adagrad"]


def adagrad_(xp, param, grad, state_sum, *, step, lr, lr_decay, weight_decay, eps, maximize) -> None:
    """One Adagrad step on raw arrays: ``param`` and ``state_sum`` (the sum of squared gradients) in place."""
    grad = _grad_for_step(grad, param, weight_decay, maximize)
    clr = lr / (1 + (step - 1) * lr_decay)
    state_sum += grad * grad
    std = xp.sqrt(state_sum)
    std += eps
    param -= clr * (grad / std)


class Adagrad(Optimizer):
    """Adagrad, step for step as torch.optim.Adagrad, with lr decay, weight decay and maximize."""

    def __init__(self, params: Iterable, lr: float = 1e-2, lr_decay: float = 0, weight_decay: float = 0,
                 initial_accumulator_value: float = 0, eps: float = 1e-10, foreach=None, *, maximize: bool = False,
                 differentiable: bool = False, fused=None):
        _check_non_negative(lr=lr, lr_decay=lr_decay, weight_decay=weight_decay,
                            initial_accumulator_value=initial_accumulator_value, eps=eps)
        _check_unsupported(differentiable=differentiable)
        # foreach/fused are speed hints in torch, accepted and ignored (the arithmetic is the same)
        defaults = {"lr": lr, "lr_decay": lr_decay, "eps": eps, "weight_decay": weight_decay,
                    "initial_accumulator_value": initial_accumulator_value, "foreach": foreach,
                    "maximize": maximize, "differentiable": differentiable, "fused": fused}
        super().__init__(params, defaults)
        if fused and foreach:
            raise RuntimeError("`fused` and `foreach` cannot be `True` together.")
        # Unlike the other optimizers torch creates Adagrad's state up front, for every parameter
        for group in self.param_groups:
            for p in group["params"]:
                self.state[p].update(self._new_state(p, group))

    def _new_state(self, p: Tensor, _group: dict[str, Any]) -> dict[str, Tensor]:
        # torch reads the constructor's value here, not the group's (a later group's own value is ignored)
        initial = self.defaults["initial_accumulator_value"]
        return {"step": _host_scalar(), "sum": Tensor._wrap(p.xp.full_like(p.array, initial))}

    def _update(self, p: Tensor, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        step = state["step"].array
        step += 1
        adagrad_(p.xp, p.array, p.grad.array, state["sum"].array, step=step.item(), lr=group["lr"],
                 lr_decay=group["lr_decay"], weight_decay=group["weight_decay"], eps=group["eps"],
                 maximize=group["maximize"])
