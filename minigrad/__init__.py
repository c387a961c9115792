"""minigrad: a small, readable reverse-mode autograd with PyTorch's API, on NumPy (CPU) and CuPy (GPU).

``import minigrad as torch`` runs the covered subset of tutorial code unchanged.
"""
from . import autograd, backend, dtypes
from .autograd import enable_grad, is_grad_enabled, no_grad, set_grad_enabled
from .backend import Device, Generator, default_generator, device, manual_seed
from .creation import *  # noqa: F401,F403  (tensor, zeros, ones, arange, rand, randn, ...)
from .dtypes import bool_ as bool  # noqa: A001  (torch.bool)
from .dtypes import dtype, float16, float32, float64, int8, int16, int32, int64, uint8
from .functions import *  # noqa: F401,F403  (cat, stack, where, exp, softmax, max, ...)
from .tensor import Size, Tensor
from . import cuda  # noqa: E402
from . import legacy  # noqa: E402  (also attaches Tensor.type)
from .legacy import (BoolTensor, ByteTensor, CharTensor, DoubleTensor, FloatTensor, HalfTensor,  # noqa: E402
                     IntTensor, LongTensor, ShortTensor)


float = float32  # noqa: A001  (torch.float, torch.double, torch.long, torch.int, torch.half)
double = float64
long = int64
int = int32  # noqa: A001
half = float16

__version__ = "0.1.0"


def __getattr__(name):  # nn, optim, utils and the savers load on first use, keeping `import minigrad` light
    import importlib
    if name in ("nn", "optim", "utils", "datasets", "transforms", "distributed"):
        return importlib.import_module(f"{__name__}.{name}")
    if name in ("save", "load"):
        return getattr(importlib.import_module(f"{__name__}.serialization"), name)
    raise AttributeError(f"module 'minigrad' has no attribute '{name}'")
