"""Activation modules: thin wrappers over nn.functional, with torch's reprs."""
from __future__ import annotations

from ..tensor import Tensor
from . import functional as F
from .module import Module

__all__ = ["ReLU", "Sigmoid", "Tanh", "Softmax", "LogSoftmax"]


class ReLU(Module):
    """max(x, 0); the gradient at exactly 0 is 0, as torch's."""

    def __init__(self, inplace: bool = False):
        super().__init__()
        self.inplace = inplace

    def forward(self, input: Tensor) -> Tensor:
        return F.relu(input, inplace=self.inplace)

    def extra_repr(self) -> str:
        return "inplace=True" if self.inplace else ""


class Sigmoid(Module):
    def forward(self, input: Tensor) -> Tensor:
        return F.sigmoid(input)


class Tanh(Module):
    def forward(self, input: Tensor) -> Tensor:
        return F.tanh(input)


class _OverDim(Module):
    """A normalisation over ``dim``; ``dim=None`` follows torch's deprecated implicit choice (and warns)."""

    function = None

    def __init__(self, dim: int | None = None):
        super().__init__()
        self.dim = dim

    def forward(self, input: Tensor) -> Tensor:
        # stacklevel 5: warn -> _softmax_dim -> F.softmax -> forward -> __call__ -> the caller's line
        return type(self).function(input, self.dim, _stacklevel=5)

    def extra_repr(self) -> str:
        return f"dim={self.dim}"


class Softmax(_OverDim):
    """exp(x) / sum(exp(x)) over ``dim``."""

    function = staticmethod(F.softmax)


class LogSoftmax(_OverDim):
    """log(softmax(x)) over ``dim``, computed stably."""

    function = staticmethod(F.log_softmax)
