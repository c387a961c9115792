"""SGD with momentum, dampening, Nesterov, weight decay and maximize: torch's exact update, on raw arrays."""
from __future__ import annotations

from typing import Any, Iterable

from ..backend import kernels
from ..tensor import Tensor
from .optimizer import Optimizer, _check_unsupported

__all__ = ["SGD"]


class SGD(Optimizer):
    """Stochastic gradient descent, step for step as torch.optim.SGD (``_single_tensor_sgd``)."""

    def __init__(self, params: Iterable, lr: float = 1e-3, momentum: float = 0, dampening: float = 0,
                 weight_decay: float = 0, nesterov: bool = False, *, maximize: bool = False, foreach=None,
                 differentiable: bool = False, fused=None):
        if lr < 0.0:
            raise ValueError(f"Invalid learning rate: {lr}")
        if momentum < 0.0:
            raise ValueError(f"Invalid momentum value: {momentum}")
        if weight_decay < 0.0:
            raise ValueError(f"Invalid weight_decay value: {weight_decay}")
        # foreach/fused are speed hints in torch, accepted and ignored; differentiable would change semantics
        defaults = {"lr": lr, "momentum": momentum, "dampening": dampening, "weight_decay": weight_decay,
                    "nesterov": nesterov, "maximize": maximize, "foreach": foreach,
                    "differentiable": differentiable, "fused": fused}
        if nesterov and (momentum <= 0 or dampening != 0):
            raise ValueError("Nesterov momentum requires a momentum and zero dampening")
        _check_unsupported(differentiable=differentiable)
        super().__init__(params, defaults)

    def _update_group(self, group: dict[str, Any]) -> None:
        options = {key: group[key] for key in ("lr", "momentum", "dampening", "weight_decay", "nesterov", "maximize")}
        for p in group["params"]:
            if p.grad is None:
                continue
            buf, first = None, False
            if options["momentum"]:
                state = self.state[p]
                if state.get("momentum_buffer") is None:  # preallocated once; the kernel fills it on the first step
                    state["momentum_buffer"] = Tensor._wrap(p.xp.empty_like(p.array))
                    first = True
                buf = state["momentum_buffer"].array
            kernels(p.xp).sgd_step_(p.array, p.grad.array, buf, first=first, **options)
