"""Adam (and AdamW via decoupled_weight_decay): torch's exact update, in place on raw arrays.

The update rule itself is ``kernels/reference.py: adam_step_`` (with its numba and CUDA twins)."""
from __future__ import annotations

from typing import Any, Iterable

import numpy as np

from ..backend import kernels
from ..tensor import Tensor
from .optimizer import Optimizer, _check_unsupported

__all__ = ["Adam"]


class Adam(Optimizer):
    """Adam, step for step as torch.optim.Adam (``_single_tensor_adam``), with amsgrad and maximize."""

    def __init__(self, params: Iterable, lr: float = 1e-3, betas: tuple[float, float] = (0.9, 0.999),
                 eps: float = 1e-8, weight_decay: float = 0, amsgrad: bool = False, *, foreach=None,
                 maximize: bool = False, capturable: bool = False, differentiable: bool = False, fused=None,
                 decoupled_weight_decay: bool = False):
        if not 0.0 <= lr:
            raise ValueError(f"Invalid learning rate: {lr}")
        if not 0.0 <= eps:
            raise ValueError(f"Invalid epsilon value: {eps}")
        if not 0.0 <= betas[0] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 0: {betas[0]}")
        if not 0.0 <= betas[1] < 1.0:
            raise ValueError(f"Invalid beta parameter at index 1: {betas[1]}")
        if not 0.0 <= weight_decay:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        if not (isinstance(betas[0], float) and isinstance(betas[1], float)):
            raise ValueError("betas must be either both floats or both Tensors")
        _check_unsupported(capturable=capturable, differentiable=differentiable)
        defaults = {"lr": lr, "betas": tuple(betas), "eps": eps, "weight_decay": weight_decay, "amsgrad": amsgrad,
                    "maximize": maximize, "foreach": foreach, "capturable": capturable,
                    "differentiable": differentiable, "fused": fused,
                    "decoupled_weight_decay": decoupled_weight_decay}
        super().__init__(params, defaults)

    def _init_state(self, state: dict, p: Tensor, amsgrad: bool) -> None:
        xp = p.xp
        state["step"] = Tensor._wrap(np.zeros((), np.float32))  # torch keeps 'step' as a float32 CPU scalar
        state["exp_avg"] = Tensor._wrap(xp.zeros_like(p.array))
        state["exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p.array))
        if amsgrad:
            state["max_exp_avg_sq"] = Tensor._wrap(xp.zeros_like(p.array))

    def _update_group(self, group: dict[str, Any]) -> None:
        lr, eps, weight_decay = group["lr"], group["eps"], group["weight_decay"]
        beta1, beta2 = group["betas"]
        amsgrad, maximize, decoupled = group["amsgrad"], group["maximize"], group["decoupled_weight_decay"]
        for p in group["params"]:
            if p.grad is None:
                continue
            w, grad = p.array, p.grad.array
            state = self.state[p]
            if not state:
                self._init_state(state, p, amsgrad)
            step_t = state["step"].array
            step_t += 1
            step = step_t.item()
            max_sq = state["max_exp_avg_sq"].array if amsgrad else None
            kernels(p.xp).adam_step_(p.xp, w, grad, state["exp_avg"].array, state["exp_avg_sq"].array, max_sq,
                                     step=step, lr=lr, beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                     decoupled=decoupled, maximize=maximize)
