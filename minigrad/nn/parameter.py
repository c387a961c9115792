"""nn.Parameter: a Tensor that a Module registers as learnable."""
from __future__ import annotations

import numpy as np

from .. import dtypes
from ..tensor import Tensor

__all__ = ["Parameter"]


class Parameter(Tensor):
    """A Tensor that a Module registers as a learnable parameter; shares storage with ``data``."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = True):
        if data is None:
            data = np.empty(0, dtype=dtypes.DEFAULT_FLOAT)
        param = cls._wrap(data.array if isinstance(data, Tensor) else np.asarray(data))
        param.requires_grad = requires_grad  # the setter rejects non-float dtypes, as torch does
        return param

    def __init__(self, data: Tensor | None = None, requires_grad: bool = True):
        pass  # __new__ built it; Tensor.__init__ must not run again

    def __repr__(self):
        return "Parameter containing:\n" + super().__repr__()
