"""Tensor: an array, its gradient and the op that made it. Methods are one-line calls into ops."""
from __future__ import annotations

import numbers
from collections import namedtuple

import numpy as np

from . import autograd, dtypes, ops
from ._tensor_str import format_tensor
from .autograd import is_grad_enabled
from .backend import Device, default_generator, device_of, get_array_module, to_device, to_numpy


def _return_type(name: str):
    """torch.return_types.<name>: unpacks as (values, indices) and prints as torch's does."""
    def __repr__(self):
        return f"minigrad.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return type(name, (namedtuple(name, ["values", "indices"]),), {"__slots__": (), "__repr__": __repr__})


RETURN_TYPES = {"max": _return_type("max"), "min": _return_type("min")}


class Size(tuple):
    """A tensor's shape: a tuple that prints as torch.Size does."""

    def __repr__(self):
        return f"minigrad.Size({list(self)})"

    def numel(self) -> int:
        return int(np.prod(self))


def _infer_shape(shape: tuple, size: int) -> tuple:
    """``shape`` with a -1 filled in, checked against the element count."""
    known = int(np.prod([n for n in shape if n != -1]))
    inferred = tuple(size // known if n == -1 and known else n for n in shape)
    if shape.count(-1) > 1 or any(n < 0 for n in inferred) or int(np.prod(inferred)) != size:
        raise RuntimeError(f"shape '{list(shape)}' is invalid for input of size {size}")
    return inferred


def _dims(args) -> tuple:
    """Accept sizes as varargs ``f(2, 3)`` or one sequence ``f((2, 3))``, as torch does."""
    return tuple(args[0]) if len(args) == 1 and isinstance(args[0], (tuple, list)) else tuple(args)


def parse_to_args(args: tuple, kwargs: dict):
    """(Device or None, numpy dtype or None) from torch's ``.to(device)``, ``.to(dtype)``, ``.to(device, dtype)``
    and ``.to(other_tensor)`` forms, shared by Tensor.to and Module.to."""
    device, dtype = kwargs.get("device"), kwargs.get("dtype")
    for arg in args:
        if isinstance(arg, Tensor):
            device, dtype = arg.device, arg.dtype
        elif isinstance(arg, (str, Device)):
            device = arg
        else:
            dtype = arg
    return (None if device is None else Device(device),
            None if dtype is None else dtypes.as_numpy_dtype(dtype))


class Tensor:
    """An n-dimensional array that records the ops applied to it, so it can backpropagate."""

    __array_ufunc__ = None  # numpy defers `ndarray * Tensor` to Tensor.__rmul__
    __hash__ = object.__hash__  # identity, like torch (== is elementwise)

    def __init__(self, *data):
        """The legacy constructor: ``Tensor([1, 2])`` is always float32, ``Tensor(2, 3)`` is uninitialised."""
        if all(isinstance(n, numbers.Integral) for n in data):
            array = np.empty(data, dtype=dtypes.DEFAULT_FLOAT)
        elif len(data) == 1:
            source = data[0].array if isinstance(data[0], Tensor) else data[0]
            array = get_array_module(source).asarray(source, dtype=dtypes.DEFAULT_FLOAT)
        else:
            raise TypeError(f"Tensor() takes sizes as ints or one sequence of data, got {data!r}")
        self._init(array, False, None)

    def _init(self, array, requires_grad, grad_fn):
        self.array = array
        self.grad = None
        self.grad_fn = grad_fn
        self._requires_grad = requires_grad

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A tensor of class ``cls`` around ``array``, no copy."""
        t = object.__new__(cls)  # not cls.__new__: a subclass's own __new__ may call _wrap
        t._init(array, requires_grad, None)
        return t

    def _from_op(self, array, grad_fn):
        """The result of an op: always a plain Tensor (never a Parameter), requiring grad iff it has a grad_fn."""
        if isinstance(array, np.generic):  # numpy reductions return scalars; keep every .array an ndarray
            array = np.asarray(array)
        t = Tensor.__new__(Tensor)
        t.array = array
        t.grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        return t

    # ------------------------------------------------------------------------------------------ attributes
    @property
    def requires_grad(self) -> bool:
        return self._requires_grad

    @requires_grad.setter
    def requires_grad(self, flag: bool):
        if flag and self.array.dtype.kind != "f":
            raise RuntimeError(f"only Tensors of floating point dtype can require gradients, got {self.dtype}")
        if not flag and self.grad_fn is not None:
            raise RuntimeError("you can only change requires_grad flags of leaf variables. If you want to use a "
                               "computed variable in a subgraph that doesn't require differentiation use "
                               "var_no_grad = var.detach().")
        self._requires_grad = bool(flag)

    def requires_grad_(self, requires_grad: bool = True) -> Tensor:
        self.requires_grad = requires_grad
        return self

    @property
    def is_leaf(self) -> bool:
        return self.grad_fn is None

    @property
    def data(self) -> Tensor:
        """A tensor sharing this one's storage, outside the graph (torch's ``.data``)."""
        return Tensor._wrap(self.array)

    @data.setter
    def data(self, value: Tensor):
        self.array = value.array if isinstance(value, Tensor) else value

    @property
    def dtype(self) -> dtypes.dtype:
        return dtypes.from_numpy_dtype(self.array.dtype)

    @property
    def device(self) -> Device:
        return device_of(self.array)

    @property
    def xp(self):
        return get_array_module(self.array)

    @property
    def shape(self) -> Size:
        return Size(self.array.shape)

    def size(self, dim: int | None = None):
        return Size(self.array.shape) if dim is None else self.array.shape[dim]

    def dim(self) -> int:
        return self.array.ndim

    ndim = property(dim)

    def numel(self) -> int:
        return int(self.array.size)

    @property
    def is_cuda(self) -> bool:
        return self.device.type == "cuda"

    def is_floating_point(self) -> bool:
        return self.array.dtype.kind == "f"

    def retain_grad(self) -> None:
        if not self.requires_grad:
            raise RuntimeError("can't retain_grad on Tensor that has requires_grad=False")
        if self.grad_fn is not None:
            autograd.retain(self)

    @property
    def retains_grad(self) -> bool:
        return self.grad_fn is not None and self.grad_fn.retained is not None

    # ------------------------------------------------------------------------------------------ conversion
    def item(self):
        if self.array.size != 1:
            raise RuntimeError(f"a Tensor with {self.array.size} elements cannot be converted to Scalar")
        return self.array.item()

    def numpy(self) -> np.ndarray:
        if self.device.type != "cpu":
            raise TypeError(f"can't convert {self.device} device type tensor to numpy. Use Tensor.cpu() to copy "
                            f"the tensor to host memory first.")
        if self.requires_grad:
            raise RuntimeError("Can't call numpy() on Tensor that requires grad. Use tensor.detach().numpy() instead.")
        return self.array

    def __array__(self, dtype=None, copy=None):
        array = to_numpy(self.array)
        return array if dtype is None else array.astype(dtype)

    def tolist(self):
        return to_numpy(self.array).tolist()

    def detach(self) -> Tensor:
        return Tensor._wrap(self.array)

    def clone(self) -> Tensor:
        return ops.Clone.apply(self)

    def to(self, *args, **kwargs) -> Tensor:
        """``to(dtype)``, ``to(device)``, ``to(device, dtype)`` or ``to(other_tensor)``; differentiable."""
        target_device, target_dtype = parse_to_args(args, kwargs)
        out = self
        if target_device is not None and target_device != self.device:
            out = ops.ToDevice.apply(out, device=target_device)
        if target_dtype is not None and target_dtype != out.array.dtype:
            out = ops.Cast.apply(out, dtype=target_dtype)
        return out

    def cpu(self) -> Tensor:
        return self.to("cpu")

    def cuda(self, device: int | str | None = None) -> Tensor:
        return self.to(Device("cuda", device) if isinstance(device, int) else Device(device or "cuda"))

    def float(self):
        return self.to(dtypes.float32)

    def double(self):
        return self.to(dtypes.float64)

    def half(self):
        return self.to(dtypes.float16)

    def long(self):
        return self.to(dtypes.int64)

    def int(self):
        return self.to(dtypes.int32)

    def bool(self):
        return self.to(dtypes.bool_)

    def type_as(self, other: Tensor) -> Tensor:
        return self.to(other.dtype)

    # ------------------------------------------------------------------------------------------ python protocol
    def __repr__(self):
        suffixes = [f"device='{self.device}'"] if self.device.type != "cpu" else []
        if self.grad_fn is not None:
            suffixes.append(f"grad_fn=<{self.grad_fn.name()}>")
        elif self.requires_grad:
            suffixes.append("requires_grad=True")
        return format_tensor(to_numpy(self.array), self.array.dtype.name, suffixes=suffixes)

    def __format__(self, spec):
        return format(self.item(), spec) if self.array.ndim == 0 and spec else repr(self)

    def __len__(self):
        if self.array.ndim == 0:
            raise TypeError("len() of a 0-d tensor")
        return self.array.shape[0]

    def __iter__(self):
        if self.array.ndim == 0:
            raise TypeError("iteration over a 0-d tensor")
        return (self[i] for i in range(self.array.shape[0]))

    def __bool__(self):
        if self.array.size != 1:
            raise RuntimeError(f"Boolean value of Tensor with {self.array.size} values is ambiguous")
        return bool(self.array.item())

    def __float__(self):
        return float(self.item())

    def __int__(self):
        return int(self.item())

    def __index__(self):
        if self.array.dtype.kind not in "iub":
            raise TypeError(f"only integer tensors of a single element can be converted to an index, got {self.dtype}")
        return int(self.item())

    # ------------------------------------------------------------------------------------------ autograd
    def backward(self, gradient=None, retain_graph: bool = False) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad``."""
        autograd.backward(self, gradient, retain_graph)

    # ------------------------------------------------------------------------------------------ operands
    def _operand(self, other) -> Tensor:
        """``other`` as a tensor; a Python number takes this tensor's dtype unless its kind is higher (torch)."""
        if isinstance(other, Tensor):
            return other
        if isinstance(other, (numbers.Number, np.generic)):
            kind, own = np.asarray(other).dtype, self.array.dtype
            dtype = own if dtypes.category(kind) <= dtypes.category(own) else dtypes.default_for(kind)
            return Tensor._wrap(self.xp.asarray(other, dtype=dtype))
        return Tensor._wrap(self.xp.asarray(other))

    def _promoted(self, other) -> tuple[Tensor, Tensor]:
        """Both operands as tensors of torch's result dtype."""
        other = self._operand(other)
        a, b = self.array, other.array
        if a.dtype == b.dtype:
            return self, other
        target = dtypes.result_type(a, b)
        return self.to(target), other.to(target)

    def _binary(self, op, other, reflected=False):
        a, b = self._promoted(other)
        return op.apply(b, a) if reflected else op.apply(a, b)

    # ------------------------------------------------------------------------------------------ arithmetic
    def __add__(self, other):
        return self._binary(ops.Add, other)

    def __radd__(self, other):
        return self._binary(ops.Add, other, reflected=True)

    def __sub__(self, other):
        return self._binary(ops.Sub, other)

    def __rsub__(self, other):
        return self._binary(ops.Sub, other, reflected=True)

    def __mul__(self, other):
        return self._binary(ops.Mul, other)

    def __rmul__(self, other):
        return self._binary(ops.Mul, other, reflected=True)

    def __truediv__(self, other):
        return self._true_division(other, reflected=False)

    def __rtruediv__(self, other):
        return self._true_division(other, reflected=True)

    def _true_division(self, other, reflected):
        a, b = self._promoted(other)
        if a.array.dtype.kind != "f":  # torch: integer / integer is true division into the default float
            a, b = a.float(), b.float()
        return ops.Div.apply(b, a) if reflected else ops.Div.apply(a, b)

    def __pow__(self, other):
        return self._binary(ops.Pow, other)

    def __rpow__(self, other):
        return self._binary(ops.Pow, other, reflected=True)

    def __matmul__(self, other):
        return ops.MatMul.apply(*self._promoted(other))

    def __rmatmul__(self, other):
        return self._binary(ops.MatMul, other, reflected=True)

    def __neg__(self):
        return ops.Neg.apply(self)

    def __pos__(self):
        return self

    def __abs__(self):
        return ops.Abs.apply(self)

    add = __add__
    sub = __sub__
    mul = __mul__
    div = divide = __truediv__
    pow = __pow__
    matmul = __matmul__
    neg = __neg__
    abs = __abs__

    def _floating(self) -> Tensor:
        """Integer tensors become float32 first: torch's float ops never return float64 for integer input."""
        return self if self.array.dtype.kind == "f" else self.float()

    def exp(self):
        return ops.Exp.apply(self._floating())

    def log(self):
        return ops.Log.apply(self._floating())

    def sqrt(self):
        return ops.Sqrt.apply(self._floating())

    def tanh(self):
        return ops.Tanh.apply(self._floating())

    def sigmoid(self):
        return ops.Sigmoid.apply(self._floating())

    def relu(self):
        return ops.ReLU.apply(self)

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        bounds_float = any(isinstance(v, float) for v in (min, max))
        return ops.Clamp.apply(self._floating() if bounds_float else self, min=min, max=max)

    clip = clamp

    def maximum(self, other):
        return ops.Maximum.apply(*self._promoted(other))

    def minimum(self, other):
        return ops.Minimum.apply(*self._promoted(other))

    def softmax(self, dim: int):
        return ops.Softmax.apply(self, dim=dim)

    def log_softmax(self, dim: int):
        return ops.LogSoftmax.apply(self, dim=dim)

    # ------------------------------------------------------------------------------------------ comparisons
    def _compare(self, ufunc_name, other):
        a, b = self._promoted(other)
        return Tensor._wrap(getattr(self.xp, ufunc_name)(a.array, b.array))

    def __eq__(self, other):
        return self._compare("equal", other)

    def __ne__(self, other):
        return self._compare("not_equal", other)

    def __lt__(self, other):
        return self._compare("less", other)

    def __le__(self, other):
        return self._compare("less_equal", other)

    def __gt__(self, other):
        return self._compare("greater", other)

    def __ge__(self, other):
        return self._compare("greater_equal", other)

    eq, ne, lt, le, gt, ge = __eq__, __ne__, __lt__, __le__, __gt__, __ge__

    def equal(self, other: Tensor) -> bool:
        return self.shape == other.shape and bool(self.xp.array_equal(self.array, other.array))

    def allclose(self, other: Tensor, rtol=1e-5, atol=1e-8) -> bool:
        return bool(self.xp.allclose(self.array, other.array, rtol=rtol, atol=atol))

    def __invert__(self):
        return Tensor._wrap(~self.array)

    def __and__(self, other):
        return self._compare("logical_and" if self.array.dtype.kind == "b" else "bitwise_and", other)

    def __or__(self, other):
        return self._compare("logical_or" if self.array.dtype.kind == "b" else "bitwise_or", other)

    def isnan(self):
        return Tensor._wrap(self.xp.isnan(self.array))

    # ------------------------------------------------------------------------------------------ reductions
    def _dim(self, dim):
        """Normalise dim (int, tuple, list or None) to what numpy's axis= takes, checking its range."""
        if dim is None:
            return None
        dims = tuple(dim) if isinstance(dim, (tuple, list)) else (dim,)
        ndim = max(self.array.ndim, 1)
        for d in dims:
            if not -ndim <= d < ndim:
                raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], "
                                 f"but got {d})")
        normal = tuple(d % ndim for d in dims) if self.array.ndim else ()
        return normal if isinstance(dim, (tuple, list)) else (normal[0] if normal else None)

    def sum(self, dim=None, keepdim: bool = False, dtype=None):
        source = self.to(dtype) if dtype is not None else self
        if source.array.dtype.kind in "biu":  # torch sums integers and bools into int64
            source = source.long()
        return ops.Sum.apply(source, dim=self._dim(dim), keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False, dtype=None):
        source = self.to(dtype) if dtype is not None else self
        if source.array.dtype.kind != "f":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                               f"or complex dtype. Got: {self.dtype.name.capitalize()}")
        return ops.Mean.apply(source, dim=self._dim(dim), keepdim=keepdim)

    def _extremum(self, dim, keepdim, smallest):
        if dim is None:
            if self.array.size == 0:
                raise RuntimeError("max(): Expected reduction dim to be specified for input.numel() == 0.")
            return ops.Amax.apply(self, smallest=smallest)
        indices = self._arg_extremum(dim, True, smallest)
        values = ops.Gather.apply(self, indices, dim=self._dim(dim))
        if not keepdim and self.array.ndim:
            values, indices = values.squeeze(dim), indices.squeeze(dim)
        return RETURN_TYPES["min" if smallest else "max"](values, indices)

    def max(self, dim=None, keepdim: bool = False):
        """Full max (ties share the gradient), or ``(values, indices)`` along ``dim``; or maximum(other)."""
        if isinstance(dim, Tensor):
            return self.maximum(dim)
        return self._extremum(dim, keepdim, smallest=False)

    def min(self, dim=None, keepdim: bool = False):
        if isinstance(dim, Tensor):
            return self.minimum(dim)
        return self._extremum(dim, keepdim, smallest=True)

    def amax(self, dim=None, keepdim: bool = False):
        return ops.Amax.apply(self, dim=self._dim(dim), keepdim=keepdim)

    def amin(self, dim=None, keepdim: bool = False):
        return ops.Amax.apply(self, dim=self._dim(dim), keepdim=keepdim, smallest=True)

    def _arg_extremum(self, dim, keepdim, smallest):
        axis = self._dim(dim)
        pick = self.xp.argmin if smallest else self.xp.argmax
        out = pick(self.array, axis=axis, keepdims=keepdim) if self.array.ndim else self.xp.zeros((), np.int64)
        return Tensor._wrap(self.xp.asarray(out, dtype=np.int64))

    def argmax(self, dim=None, keepdim: bool = False):
        return self._arg_extremum(dim, keepdim and dim is not None, smallest=False)

    def argmin(self, dim=None, keepdim: bool = False):
        return self._arg_extremum(dim, keepdim and dim is not None, smallest=True)

    def var(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
        if correction is None:
            correction = 1 if unbiased is None or unbiased else 0
        mean = self.mean(dim, keepdim=True)
        centered = self - mean
        count = self.array.size // max(mean.array.size, 1)
        return (centered * centered).sum(dim, keepdim=keepdim) / max(count - correction, 0)

    def std(self, dim=None, unbiased: bool | None = None, keepdim: bool = False, *, correction=None):
        return self.var(dim, unbiased, keepdim, correction=correction).sqrt()

    def gather(self, dim: int, index: Tensor):
        return ops.Gather.apply(self, index, dim=self._dim(dim))

    # ------------------------------------------------------------------------------------------ shape
    def reshape(self, *shape):
        return ops.Reshape.apply(self, shape=_infer_shape(_dims(shape), self.array.size))

    view = reshape

    def view_as(self, other: Tensor):
        return self.reshape(other.shape)

    def reshape_as(self, other: Tensor):
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        if self.array.ndim == 0:
            return self.reshape(1)
        start, end = self._dim(start_dim), self._dim(end_dim)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self.array.shape
        return self.reshape(shape[:start] + (-1,) + shape[end + 1:])

    def permute(self, *dims):
        dims = tuple(d % self.array.ndim for d in _dims(dims)) if self.array.ndim else ()
        if sorted(dims) != list(range(self.array.ndim)):
            raise RuntimeError(f"permute(): dims {dims} are not a permutation of a {self.array.ndim}-d tensor's dims")
        return ops.Permute.apply(self, dims=dims)

    def transpose(self, dim0: int, dim1: int):
        dims = list(range(self.array.ndim))
        if self.array.ndim < 2:
            self._dim(dim0), self._dim(dim1)  # still range-checked, as torch
            return ops.Permute.apply(self, dims=tuple(dims))
        a, b = self._dim(dim0), self._dim(dim1)
        dims[a], dims[b] = dims[b], dims[a]
        return ops.Permute.apply(self, dims=tuple(dims))

    def t(self):
        if self.array.ndim > 2:
            raise RuntimeError(f"t() expects a tensor with <= 2 dimensions, but self is {self.array.ndim}D")
        return self.transpose(0, 1) if self.array.ndim == 2 else self.transpose(0, 0)

    @property
    def T(self):
        return self.permute(*reversed(range(self.array.ndim)))

    def squeeze(self, dim=None):
        shape = self.array.shape
        if dim is None:
            new = tuple(n for n in shape if n != 1)
        else:
            dims = self._dim(dim)
            dims = set(dims if isinstance(dims, tuple) else (dims,) if dims is not None else ())
            new = tuple(n for i, n in enumerate(shape) if not (i in dims and n == 1))
        return self.reshape(new)

    def unsqueeze(self, dim: int):
        ndim = self.array.ndim + 1
        if not -ndim <= dim < ndim:
            raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
        dim %= ndim
        return self.reshape(self.array.shape[:dim] + (1,) + self.array.shape[dim:])

    def expand(self, *sizes):
        sizes = _dims(sizes)
        lead = len(sizes) - self.array.ndim
        if lead < 0:
            raise RuntimeError(f"expand: the number of sizes provided ({len(sizes)}) must be greater or equal to "
                               f"the number of dimensions in the tensor ({self.array.ndim})")
        shape = tuple(self.array.shape[i - lead] if n == -1 else n for i, n in enumerate(sizes))
        try:
            np.broadcast_shapes(self.array.shape, shape)
        except ValueError:
            raise RuntimeError(f"The expanded size of the tensor {shape} must match the existing size "
                               f"{self.array.shape} at non-singleton dimensions") from None
        return ops.Expand.apply(self, shape=shape)

    def expand_as(self, other: Tensor):
        return self.expand(other.shape)

    def contiguous(self):
        return self

    # ------------------------------------------------------------------------------------------ indexing
    def _key(self, key):
        """An index key with tensors and lists turned into arrays on this tensor's device."""
        if isinstance(key, tuple):
            return tuple(self._key(k) for k in key)
        if isinstance(key, Tensor):
            return key.array
        if isinstance(key, list):
            return self.xp.asarray(key)
        return key

    def __getitem__(self, key):
        return ops.Index.apply(self, key=self._key(key))

    def __setitem__(self, key, value):
        self._check_inplace()
        self.array[self._key(key)] = value.array if isinstance(value, Tensor) else value

    # ------------------------------------------------------------------------------------------ in place
    def _check_inplace(self):
        if self.requires_grad and is_grad_enabled():
            if self.is_leaf:
                raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
            raise RuntimeError("minigrad does not support in-place operations on tensors that are part of the "
                               "autograd graph; use the out-of-place form, or wrap it in `with minigrad.no_grad():`")

    def _inplace(self, result) -> Tensor:
        self._check_inplace()
        result = result.array if isinstance(result, Tensor) else result
        kind = getattr(result, "dtype", np.asarray(result).dtype)
        if dtypes.category(kind) > dtypes.category(self.array.dtype):
            raise RuntimeError(f"result type {dtypes.from_numpy_dtype(kind)} can't be cast to the desired output "
                               f"type {self.dtype}")
        self.array[...] = result
        return self

    def __iadd__(self, other):  # `w -= lr * w.grad` under no_grad updates w itself, as in torch
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def add_(self, other, alpha=1):
        other = other.array if isinstance(other, Tensor) else other
        return self._inplace(self.array + (other if alpha == 1 else alpha * other))

    def sub_(self, other, alpha=1):
        other = other.array if isinstance(other, Tensor) else other
        return self._inplace(self.array - (other if alpha == 1 else alpha * other))

    def mul_(self, other):
        return self._inplace(self.array * (other.array if isinstance(other, Tensor) else other))

    def div_(self, other):
        return self._inplace(self.array / (other.array if isinstance(other, Tensor) else other))

    def clamp_(self, min=None, max=None):
        return self._inplace(self.clamp(min, max))

    def zero_(self):
        return self._inplace(0)

    def fill_(self, value):
        return self._inplace(value.array if isinstance(value, Tensor) else value)

    def copy_(self, source):
        source = source.to(self.device).array if isinstance(source, Tensor) else source
        return self._inplace(source)

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None):
        """Fill from U(a, b), drawn on the host so a seed gives the same numbers on every device."""
        rng = (generator or default_generator).numpy_rng
        return self._inplace(to_device(rng.uniform(a, b, self.array.shape), self.device))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None):
        rng = (generator or default_generator).numpy_rng
        return self._inplace(to_device(rng.normal(mean, std, self.array.shape), self.device))
