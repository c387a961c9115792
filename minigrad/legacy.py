"""torch's legacy API that old tutorials still use: ``autograd.Variable``, the typed constructors
``FloatTensor``/``LongTensor``/... and ``Tensor.type()``.

As in torch, none of these is a class of its own at runtime: ``Variable(t)`` and ``FloatTensor([1, 2])``
return plain Tensors, and ``isinstance`` checks look at the tensor's dtype (and, for the typed
constructors, that it lives on the CPU): ``isinstance(zeros(2), FloatTensor)`` is True.
"""
from __future__ import annotations

import numbers
import warnings

from . import dtypes
from .backend import Device
from .creation import empty, tensor
from .tensor import Size, Tensor

__all__ = ["Variable", "FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor",
           "CharTensor", "ByteTensor", "BoolTensor", "tensor_type"]


class _VariableMeta(type):
    def __instancecheck__(cls, obj) -> bool:  # every tensor is a Variable since torch 0.4
        return isinstance(obj, Tensor)


class Variable(metaclass=_VariableMeta):
    """Deprecated alias kept for old code: ``Variable(t, requires_grad=False)`` returns a new leaf Tensor
    sharing ``t``'s data (detached from ``t``'s graph, as torch); ``volatile`` only warns."""

    def __new__(cls, data: Tensor | None = None, requires_grad: bool = False, volatile: bool = False):
        if volatile:
            warnings.warn("volatile was removed and now has no effect. Use `with torch.no_grad():` instead.",
                          UserWarning, stacklevel=2)
        if data is None:
            data = empty(0)
        if not isinstance(data, Tensor):
            raise TypeError(f"Variable data has to be a tensor, but got {type(data).__name__}")
        if requires_grad and not (data.is_floating_point()):
            raise RuntimeError("Only Tensors of floating point and complex dtype can require gradients")
        return data.detach().requires_grad_(bool(requires_grad))


class _LegacyTensorMeta(type):
    dtype: dtypes.dtype

    def __instancecheck__(cls, obj) -> bool:  # torch: a CPU tensor of this dtype
        return isinstance(obj, Tensor) and obj.dtype == cls.dtype and obj.device.type == "cpu"

    def __call__(cls, *args, device=None):
        """``T(*sizes)`` or ``T(size)``: an uninitialised tensor of that shape; ``T(data)``: a copy of the
        data (a sequence, or a tensor of the same dtype); ``T()``: an empty tensor."""
        if device is not None and Device(device).type != "cpu":
            raise RuntimeError(f"legacy constructor expects device type: cpu but device type: "
                               f"{Device(device).type} was passed")
        if not args:
            return empty(0, dtype=cls.dtype)
        first = args[0]
        if len(args) == 1 and isinstance(first, Tensor):
            if first.dtype != cls.dtype:
                raise TypeError(f"{cls.__name__}(): expected a tensor of dtype {cls.dtype} "
                                f"(got {first.dtype}); convert it with .type(...) or .to(...)")
            return first.detach()
        if len(args) == 1 and isinstance(first, Size):  # a Size is a shape; any other sequence is data
            return _uninitialised(cls, tuple(first))
        if all(isinstance(a, numbers.Integral) and not isinstance(a, bool) for a in args):
            return _uninitialised(cls, args)
        if len(args) == 1 and not isinstance(first, (numbers.Number, str, bytes)):
            return tensor(first, dtype=cls.dtype)
        if len(args) == 1:
            raise TypeError(f"new(): data must be a sequence (got {type(first).__name__})")
        raise TypeError(f"new(): argument 'size' must be a tuple of ints, but got "
                        f"({', '.join(type(a).__name__ for a in args)})")


def _uninitialised(cls, shape: tuple) -> Tensor:
    negative = [d for d in shape if d < 0]
    if negative:
        raise RuntimeError(f"Trying to create tensor with negative dimension {negative[0]}: {list(shape)}")
    return empty(*shape, dtype=cls.dtype)


def _legacy(name: str, dtype: dtypes.dtype) -> type:
    return _LegacyTensorMeta(name, (), {"dtype": dtype, "__doc__": f"Legacy constructor of CPU {dtype} tensors.",
                                        "__module__": __name__})


FloatTensor = _legacy("FloatTensor", dtypes.float32)
DoubleTensor = _legacy("DoubleTensor", dtypes.float64)
HalfTensor = _legacy("HalfTensor", dtypes.float16)
LongTensor = _legacy("LongTensor", dtypes.int64)
IntTensor = _legacy("IntTensor", dtypes.int32)
ShortTensor = _legacy("ShortTensor", dtypes.int16)
CharTensor = _legacy("CharTensor", dtypes.int8)
ByteTensor = _legacy("ByteTensor", dtypes.uint8)
BoolTensor = _legacy("BoolTensor", dtypes.bool_)

_BY_DTYPE = {cls.dtype: cls for cls in (FloatTensor, DoubleTensor, HalfTensor, LongTensor, IntTensor, ShortTensor,
                                         CharTensor, ByteTensor, BoolTensor)}
_BY_NAME = {cls.__name__: cls for cls in _BY_DTYPE.values()}


def _type_name(t: Tensor) -> str:
    """torch's spelling, so that code comparing ``x.type() == 'torch.FloatTensor'`` keeps working."""
    where = "cuda." if t.device.type == "cuda" else ""
    return f"torch.{where}{_BY_DTYPE[t.dtype].__name__}"


def tensor_type(self: Tensor, dtype=None, non_blocking: bool = False, **kwargs):  # noqa: ARG001 (torch's signature)
    """``Tensor.type()``: with no argument the type's name ('torch.FloatTensor'); with a type name, a legacy
    type or a dtype, the tensor converted to it (itself when it already is)."""
    if dtype is None:
        return _type_name(self)
    if isinstance(dtype, str):
        module, _, name = dtype.rpartition(".")
        if module not in ("torch", "torch.cuda", "minigrad", "minigrad.cuda") or name not in _BY_NAME:
            raise ValueError(f"invalid type: {dtype!r}")
        device = "cuda" if module.endswith("cuda") else "cpu"
        target = _BY_NAME[name].dtype
    elif isinstance(dtype, _LegacyTensorMeta):
        device, target = "cpu", dtype.dtype
    elif isinstance(dtype, dtypes.dtype):
        device, target = self.device, dtype
    else:
        raise TypeError("dtype must be a type, str, or dtype object")
    if self.dtype == target and self.device == Device(device):
        return self
    return self.to(device=device, dtype=target)


# Tensor.type lives here with the legacy names it speaks; tensor.py cannot import this module (it is
# built on Tensor), so the method is attached once, when minigrad is imported.
Tensor.type = tensor_type
