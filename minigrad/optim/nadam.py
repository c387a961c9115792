"""NAdam (Adam with Nesterov momentum): torch's exact update (``_single_tensor_nadam``), on raw arrays."""
from __future__ import annotations

from typing import Any, Iterable

from ..tensor import Tensor
from .optimizer import (Optimizer, _check_betas, _check_non_negative, _check_unsupported, _decay_square_avg_,
                        _grad_for_step, _host_scalar, _lerp_)

__all__ = ["NAdam"]


def nadam_(xp, param, grad, exp_avg, exp_avg_sq, mu_product, *, step, lr, beta1, beta2, eps, weight_decay,
           momentum_decay, decoupled_weight_decay, maximize) -> None:
    """One NAdam step on raw arrays: ``param``, the moments and the 0-d ``mu_product`` in place."""
    if decoupled_weight_decay and weight_decay != 0:  # NAdamW: decay the weights, not the gradient
        param *= 1 - lr * weight_decay
        weight_decay = 0
    grad = _grad_for_step(grad, param, weight_decay, maximize)
    # the momentum schedule: mu_t for this step, mu_{t+1} for the Nesterov look-ahead
    mu = beta1 * (1.0 - 0.5 * (0.96 ** (step * momentum_decay)))
    mu_next = beta1 * (1.0 - 0.5 * (0.96 ** ((step + 1) * momentum_decay)))
    # torch keeps the running product in the state's own precision (float32 unless loaded onto float64 params)
    mu_product *= mu_product.dtype.type(mu)
    product = mu_product.item()
    _lerp_(exp_avg, grad, 1 - beta1)
    _decay_square_avg_(exp_avg_sq, grad, beta2)
    denom = xp.sqrt(exp_avg_sq / (1 - beta2 ** step))
    denom += eps
    param += (-lr * (1.0 - mu) / (1.0 - product)) * (grad / denom)
    param += ((-lr * mu_next) / (1.0 - product * mu_next)) * (exp_avg / denom)


class NAdam(Optimizer):
    """NAdam, step for step as torch.optim.NAdam, with (decoupled) weight decay and maximize."""

    def __init__(self, params: Iterable, lr: float = 2e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, momentum_decay: float = 4e-3,
                 decoupled_weight_decay: bool = False, *, foreach=None, maximize: bool = False,
                 capturable: bool = False, differentiable: bool = False):
        _check_non_negative(lr=lr, eps=eps)
        _check_betas(betas)
        _check_non_negative(weight_decay=weight_decay, momentum_decay=momentum_decay)
        _check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {"lr": lr, "betas": betas, "eps": eps, "weight_decay": weight_decay,
                    "momentum_decay": momentum_decay, "decoupled_weight_decay": decoupled_weight_decay,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable}
        super().__init__(params, defaults)

    def _new_state(self, p: Tensor, _group: dict[str, Any]) -> dict[str, Tensor]:
        return {"step": _host_scalar(), "mu_product": _host_scalar(1.0),
                "exp_avg": Tensor._wrap(p.xp.zeros_like(p.array)),
                "exp_avg_sq": Tensor._wrap(p.xp.zeros_like(p.array))}

    def _update(self, p: Tensor, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        step = state["step"].array
        step += 1
        beta1, beta2 = group["betas"]
        nadam_(p.xp, p.array, p.grad.array, state["exp_avg"].array, state["exp_avg_sq"].array,
               state["mu_product"].array, step=step.item(), lr=group["lr"], beta1=beta1, beta2=beta2,
               eps=group["eps"], weight_decay=group["weight_decay"], momentum_decay=group["momentum_decay"],
               decoupled_weight_decay=group["decoupled_weight_decay"], maximize=group["maximize"])
