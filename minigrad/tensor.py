"""Tensor: an array, its gradient and the op that made it. Methods are one-line calls into ops."""
from __future__ import annotations

import math
import numbers
import weakref
from collections import namedtuple

import numpy as np

from . import autograd, dtypes, ops
from ._tensor_str import format_tensor
from .autograd import is_grad_enabled, no_grad
from .autograd.function import bump_version
from .autograd.hooks import add_hook
from .backend import Device, default_generator, device_of, get_array_module, to_device, to_numpy


def _return_type(name: str):
    """torch.return_types.<name>: unpacks as (values, indices) and prints as torch's does."""
    def __repr__(self):
        return f"minigrad.return_types.{name}(\nvalues={self.values!r},\nindices={self.indices!r})"
    return type(name, (namedtuple(name, ["values", "indices"]),), {"__slots__": (), "__repr__": __repr__})


RETURN_TYPES = {name: _return_type(name) for name in ("max", "min", "sort", "topk")}

# torch's names for dtypes in its error messages: ScalarType names, and the C++ element types
SCALAR_TYPE_NAMES = {"float16": "Half", "float32": "Float", "float64": "Double", "uint8": "Byte", "int8": "Char",
                     "int16": "Short", "int32": "Int", "int64": "Long", "bool": "Bool"}
C_TYPE_NAMES = {"float16": "c10::Half", "float32": "float", "float64": "double", "uint8": "unsigned char",
                "int8": "signed char", "int16": "short int", "int32": "int", "int64": "long int", "bool": "bool"}


def _broadcast_shape(a: tuple, b: tuple) -> Size:
    """The shape ``a`` and ``b`` broadcast to, or torch's error naming the first mismatched dim."""
    ndim = max(len(a), len(b))
    a, b = (1,) * (ndim - len(a)) + tuple(a), (1,) * (ndim - len(b)) + tuple(b)
    for i in reversed(range(ndim)):
        if a[i] != b[i] and 1 not in (a[i], b[i]):
            raise RuntimeError(f"The size of tensor a ({a[i]}) must match the size of tensor b ({b[i]}) at "
                               f"non-singleton dimension {i}")
    return Size(y if x == 1 else x for x, y in zip(a, b))


def _check_matmul(a, b) -> None:
    """torch's errors for ``a @ b`` (arrays), in the words of the kernel torch runs for each case: dot, mv, mm
    (batch dims folded into the rows) or bmm (batch dims broadcast). numpy would print a gufunc signature."""
    if a.ndim == 0 or b.ndim == 0:
        raise RuntimeError(f"both arguments to matmul need to be at least 1D, but they are {a.ndim}D and {b.ndim}D")
    k, k2 = a.shape[-1], b.shape[0] if b.ndim == 1 else b.shape[-2]
    name_a, name_b = SCALAR_TYPE_NAMES[a.dtype.name], SCALAR_TYPE_NAMES[b.dtype.name]
    rows = math.prod(a.shape[:-1])
    if a.ndim == 1 and b.ndim == 1:
        if a.dtype != b.dtype:
            raise RuntimeError(f"dot : expected both vectors to have same dtype, but found {name_a} and {name_b}")
        if k != k2:
            raise RuntimeError(f"inconsistent tensor size, expected tensor [{k}] and src [{k2}] to have the same "
                               f"number of elements, but got {k} and {k2} elements respectively")
    elif b.ndim == 1:
        if a.dtype != b.dtype:
            raise RuntimeError(f"addmv input tensors must have the same dtype, but got {name_b}, {name_a}, and "
                               f"{name_b}")
        if k != k2:
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k}), vec ({k2})")
    elif b.ndim == 2:
        if a.dtype != b.dtype:
            raise RuntimeError(f"expected m1 and m2 to have the same dtype, but got: {C_TYPE_NAMES[a.dtype.name]} != "
                               f"{C_TYPE_NAMES[b.dtype.name]}")
        if k != k2:
            raise RuntimeError(f"mat1 and mat2 shapes cannot be multiplied ({rows}x{k} and {k2}x{b.shape[-1]})")
    elif a.ndim == 1 and (b.size == 0 or k2 == 1):  # torch folds b.mT into one matrix here: an mv
        rows = math.prod(b.shape[:-2]) * b.shape[-1]
        if a.dtype != b.dtype:
            raise RuntimeError(f"addmv input tensors must have the same dtype, but got {name_a}, {name_b}, and "
                               f"{name_a}")
        if k != k2:
            raise RuntimeError(f"size mismatch, got input ({rows}), mat ({rows}x{k2}), vec ({k})")
    else:
        batch = math.prod(_broadcast_shape(a.shape[:-2], b.shape[:-2]))
        if a.dtype != b.dtype:
            raise RuntimeError(f"expected scalar type {name_a} but found {name_b}")
        if k != k2:
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: [{batch}, {k}] but "
                               f"got: [{batch}, {k2}].")


class _OperandTypeError(TypeError):
    """An operand minigrad cannot use as a tensor (None, a string, a list...)."""


def _check_bool_subtraction(tensor, other) -> None:
    """torch refuses ``-`` on bools (numpy would raise a TypeError of its own, or compute 1 - True)."""
    mine = tensor.array.dtype.kind == "b"
    theirs = isinstance(other, (bool, np.bool_)) or (isinstance(other, Tensor) and other.array.dtype.kind == "b")
    if not (mine or theirs):
        return
    if mine and theirs:
        raise RuntimeError("Subtraction, the `-` operator, with two bool tensors is not supported. Use the `^` or "
                           "`logical_xor()` operator instead.")
    raise RuntimeError("Subtraction, the `-` operator, with a bool tensor is not supported. If you are trying to "
                       "invert a mask, use the `~` or `logical_not()` operator instead.")


def _tensor_argument(name: str, other):
    """``other`` if it is a Tensor; torch's functions of two tensors (maximum, ...) take no Python numbers."""
    if not isinstance(other, Tensor):
        raise TypeError(f"{name}(): argument 'other' (position 1) must be Tensor, not {type(other).__name__}")
    return other


def _or_not_implemented(method):
    """torch's operator rule: an operand of an unsupported type gives NotImplemented, so that Python tries the
    reflected method and then raises its own "unsupported operand type(s) for +: 'Tensor' and 'NoneType'",
    and ``==`` falls back to identity (``t == None`` is False). The named methods (``t.add(None)``) raise."""
    def operator(self, other):
        try:
            return method(self, other)
        except _OperandTypeError:
            return NotImplemented
    operator.__name__ = operator.__qualname__ = method.__name__
    return operator


class Size(tuple):
    """A tensor's shape: a tuple that prints as torch.Size does."""

    def __repr__(self):
        return f"minigrad.Size({list(self)})"

    def numel(self) -> int:
        return math.prod(self)


def _wrap_dim(dim, ndim: int) -> int:
    """``dim`` counted from 0 for a tensor of ``ndim`` dims (a 0-d tensor takes 0 and -1), or torch's error.
    Every dim argument goes through here (Tensor._dim for reductions, and the shape methods)."""
    if not isinstance(dim, numbers.Integral) or isinstance(dim, bool):
        raise TypeError(f"dim must be an int (or a tuple of ints), got {type(dim).__name__}")
    n = max(ndim, 1)
    if not -n <= dim < n:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-n}, {n - 1}], but got {dim})")
    return int(dim) % n


def _torch_index_error(error: IndexError, ndim: int) -> IndexError:
    """numpy's indexing errors in torch's words: torch says "dimension" where numpy says "axis"."""
    message = str(error)
    if message.startswith("too many indices"):
        if ndim == 0:
            return IndexError("invalid index of a 0-dim tensor. Use `tensor.item()` in Python or `tensor.item<T>()` "
                              "in C++ to convert a 0-dim tensor to a number")
        return IndexError(f"too many indices for tensor of dimension {ndim}")
    return IndexError(message.replace(" for axis ", " for dimension "))


def _infer_shape(shape: tuple, size: int) -> tuple:
    """``shape`` with a -1 filled in, checked against the element count."""
    for i, n in enumerate(shape):  # in torch's order: whichever problem comes first is named
        if n == -1 and -1 in shape[:i]:
            raise RuntimeError("only one dimension can be inferred")
        if n < -1:
            raise RuntimeError(f"invalid shape dimension {n} at index {i} of shape {list(shape)}")
    known = math.prod([n for n in shape if n != -1])  # (math.prod: np.prod takes microseconds on a tuple)
    if -1 in shape and not known and not size:
        raise RuntimeError(f"cannot reshape tensor of 0 elements into shape {list(shape)} because the unspecified "
                           f"dimension size -1 can be any value and is ambiguous")
    inferred = tuple([size // known if n == -1 and known else n for n in shape])  # (a list: no tuple resize)
    if shape.count(-1) > 1 or any(n < 0 for n in inferred) or math.prod(inferred) != size:
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
    _hooks = None  # register_hook's hooks on a leaf (a non-leaf's live on its grad_fn)
    _post_accumulate_hooks = None

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
        self._grad = None
        self.grad_fn = grad_fn
        self._requires_grad = requires_grad
        self._version_counter = [0]  # bumped by every in-place change; shared with detach()ed views

    @classmethod
    def _wrap(cls, array, requires_grad=False):
        """A tensor of class ``cls`` around ``array``, no copy."""
        if isinstance(array, np.generic):  # numpy ufuncs on 0-d arrays return scalars; keep .array an ndarray
            array = np.asarray(array)
        t = object.__new__(cls)  # not cls.__new__: a subclass's own __new__ may call _wrap
        t._init(array, requires_grad, None)
        return t

    def _from_op(self, array, grad_fn):
        """The result of an op: always a plain Tensor (never a Parameter), requiring grad iff it has a grad_fn."""
        if isinstance(array, np.generic):  # numpy reductions return scalars; keep every .array an ndarray
            array = np.asarray(array)
        t = Tensor.__new__(Tensor)
        t.array = array
        t._grad = None
        t.grad_fn = grad_fn
        t._requires_grad = grad_fn is not None
        t._version_counter = [0]
        return t

    # ------------------------------------------------------------------------------------------ attributes
    @property
    def grad(self):
        return self._grad

    @grad.setter
    def grad(self, value):
        """torch's checks: a wrong-shape, -dtype or -device grad would be broadcast or cast into the parameter
        by the optimizers' in-place updates, silently."""
        if value is not None:
            if not isinstance(value, Tensor):
                kind = type(value)
                name = kind.__name__ if kind.__module__ == "builtins" else f"{kind.__module__}.{kind.__name__}"
                raise TypeError(f"assigned grad expected to be a Tensor or None but got grad of type {name}")
            if value is self:
                raise RuntimeError("can't assign Variable as its own grad")
            own, new = self.array, value.array
            if new.dtype != own.dtype:
                raise RuntimeError(f"attempting to assign a gradient with dtype '{C_TYPE_NAMES[new.dtype.name]}' to "
                                   f"a tensor with grad_dtype '{SCALAR_TYPE_NAMES[own.dtype.name]}'. The gradient "
                                   f"must match the tensor's grad_dtype (defaults to the tensor's dtype).")
            if type(new) is not type(own) or (type(own) is not np.ndarray and value.device != self.device):
                raise RuntimeError(f"attempting to assign a gradient with device '{value.device}' to a tensor with "
                                   f"device '{self.device}'. Please ensure that the gradient and the tensor are on "
                                   f"the same device")
            if new.shape != own.shape:
                raise RuntimeError(f"attempting to assign a gradient of size '{list(new.shape)}' to a tensor of size "
                                   f"'{list(own.shape)}'. Please ensure that the gradient and the tensor are the "
                                   f"same size")
        self._grad = value

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
        if dim is None:
            return Size(self.array.shape)
        if not self.array.ndim:
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        return self.array.shape[_wrap_dim(dim, self.array.ndim)]

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
            self.grad_fn.retained = weakref.ref(self)

    @property
    def _version(self) -> int:
        return self._version_counter[0]

    def register_hook(self, hook):
        """``hook(grad)`` runs when this tensor's gradient is computed and may return a replacement."""
        if not self.requires_grad:
            raise RuntimeError("cannot register a hook on a tensor that doesn't require gradient")
        if self.grad_fn is None:
            self._hooks, handle = add_hook(self._hooks, hook)
        else:
            self.grad_fn.pre_hooks, handle = add_hook(self.grad_fn.pre_hooks, hook)
        return handle

    def register_post_accumulate_grad_hook(self, hook):
        """``hook(tensor)`` runs right after a backward has accumulated into this leaf's ``.grad``."""
        if self.grad_fn is not None:
            raise RuntimeError("post accumulate grad hooks cannot be registered on non-leaf tensors")
        self._post_accumulate_hooks, handle = add_hook(self._post_accumulate_hooks, hook)
        return handle

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
        out = Tensor._wrap(self.array)
        out._version_counter = self._version_counter  # same storage: in-place changes through either count
        return out

    def detach_(self) -> Tensor:
        self.grad_fn = None
        self._requires_grad = False
        return self

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
        """As torch: a 0-d tensor formats as its Python number (f"{loss}" prints 0.25), others as repr."""
        if self.array.ndim == 0:
            return format(self.item(), spec)
        if spec:
            raise TypeError("unsupported format string passed to Tensor.__format__")
        return repr(self)

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
    def backward(self, gradient=None, retain_graph: bool | None = None, create_graph: bool = False,
                 inputs=None) -> None:
        """Accumulate d(self)/d(leaf) into every leaf's ``.grad`` (recorded too, with ``create_graph``)."""
        autograd.backward(self, None if gradient is None else (gradient,), retain_graph, create_graph, inputs)

    # ------------------------------------------------------------------------------------------ operands
    def _operand(self, other) -> Tensor:
        """``other`` as a tensor; a Python number takes this tensor's dtype unless its kind is higher (torch).
        The one validation point of operands: besides tensors, only real numbers and arrays are taken."""
        if isinstance(other, Tensor):
            return other
        own, kind = self.array.dtype, type(other)
        if (kind is float or kind is int) and own.kind == "f":  # the common case, fast
            return Tensor._wrap(self.xp.asarray(other, dtype=own))
        if isinstance(other, (numbers.Number, np.generic)):
            value = np.asarray(other)
            if value.dtype.kind == "O" and isinstance(other, numbers.Integral):
                raise OverflowError("int too big to convert")  # past int64, as torch
            if value.dtype.kind not in "biuf":
                raise _OperandTypeError(f"expected a Tensor or a real number as operand, got {type(other).__name__}")
            dtype = own if dtypes.category(value.dtype) <= dtypes.category(own) else dtypes.default_for(value.dtype)
            return Tensor._wrap(self.xp.asarray(value.astype(dtype)))  # uint8 + 300 wraps, as in torch
        if isinstance(other, np.ndarray) or get_array_module(other) is not np:  # minigrad also takes arrays
            dtypes.check_numpy_dtype(other.dtype)
            return Tensor._wrap(self.xp.asarray(other))
        raise _OperandTypeError(f"expected a Tensor, a real number or an array as operand, got {type(other).__name__}")

    def _promoted(self, other, broadcast: bool = True) -> tuple[Tensor, Tensor]:
        """Both operands as tensors of torch's result dtype; shapes that do not broadcast raise torch's error
        here, the one path of the elementwise binary ops (numpy's error would not say which dim)."""
        other = self._operand(other)
        a, b = self.array, other.array
        if broadcast and a.shape != b.shape and a.ndim and b.ndim:
            _broadcast_shape(a.shape, b.shape)
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
        _check_bool_subtraction(self, other)
        return self._binary(ops.Sub, other)

    def __rsub__(self, other):
        _check_bool_subtraction(self, other)
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
        return self._matmul(other, reflected=False)

    def __rmatmul__(self, other):
        return self._matmul(other, reflected=True)

    def _matmul(self, other, reflected: bool):
        """Tensors must agree in dtype, as in torch; an array operand (a minigrad extension) is promoted."""
        if isinstance(other, (numbers.Number, np.generic)):
            raise _OperandTypeError(f"matmul(): argument 'other' must be Tensor, not {type(other).__name__}")
        a, b = (self, other) if isinstance(other, Tensor) else self._promoted(other, broadcast=False)
        if reflected:
            a, b = b, a
        _check_matmul(a.array, b.array)
        return ops.MatMul.apply(a, b)

    def __neg__(self):
        if self.array.dtype.kind == "b":
            raise RuntimeError("Negation, the `-` operator, on a bool tensor is not supported. If you are trying to "
                               "invert a mask, use the `~` or `logical_not()` operator instead.")
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

    def log1p(self):
        return ops.Log1p.apply(self._floating())

    def sqrt(self):
        return ops.Sqrt.apply(self._floating())

    def tanh(self):
        return ops.Tanh.apply(self._floating())

    def sigmoid(self):
        return ops.Sigmoid.apply(self._floating())

    def relu(self):
        if self.array.dtype.kind == "b":
            raise RuntimeError("Boolean inputs not supported for relu")
        return ops.ReLU.apply(self)

    def relu_(self):
        return self._inplace_op(lambda a: a.relu())

    def clamp(self, min=None, max=None):
        if min is None and max is None:
            raise RuntimeError("torch.clamp: At least one of 'min' or 'max' must not be None")
        bounds_float = any(isinstance(v, float) for v in (min, max))
        return ops.Clamp.apply(self._floating() if bounds_float else self, min=min, max=max)

    clip = clamp

    def maximum(self, other):
        return ops.Maximum.apply(*self._promoted(_tensor_argument("maximum", other)))

    def minimum(self, other):
        return ops.Minimum.apply(*self._promoted(_tensor_argument("minimum", other)))

    def _softmax_dim(self, dim, name: str) -> int:
        """The checked dim of softmax/log_softmax; integer inputs are refused as torch's kernels refuse them."""
        axis = _wrap_dim(dim, self.array.ndim)
        if self.array.dtype.kind != "f" and self.array.size:  # torch runs no kernel, so no error, when empty
            kernel = f"{name}_lastdim_kernel_impl" if axis == max(self.array.ndim, 1) - 1 else f"{name}_kernel_impl"
            raise NotImplementedError(f'"{kernel}" not implemented for \'{SCALAR_TYPE_NAMES[self.array.dtype.name]}\'')
        return axis if self.array.ndim else dim

    def softmax(self, dim: int):
        return ops.Softmax.apply(self, dim=self._softmax_dim(dim, "softmax"))

    def log_softmax(self, dim: int):
        return ops.LogSoftmax.apply(self, dim=self._softmax_dim(dim, "log_softmax"))

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

    def _bitwise(self, name: str, other):
        """Logical on bools, bitwise on integers (after promotion); torch has no bitwise op on floats."""
        a, b = self._promoted(other)
        kind = a.array.dtype.kind
        if kind == "f":
            raise NotImplementedError(f'"bitwise_{name}_cpu" not implemented for '
                                      f'\'{SCALAR_TYPE_NAMES[a.array.dtype.name]}\'')
        return Tensor._wrap(getattr(self.xp, f"{'logical' if kind == 'b' else 'bitwise'}_{name}")(a.array, b.array))

    def __and__(self, other):
        return self._bitwise("and", other)

    def __or__(self, other):
        return self._bitwise("or", other)

    # The operators give NotImplemented for an operand of another type; the named methods (add, eq...) were
    # bound above, before this wrapping, so they raise the TypeError instead, as torch's do.
    (__add__, __radd__, __sub__, __rsub__, __mul__, __rmul__, __truediv__, __rtruediv__, __pow__, __rpow__,
     __matmul__, __rmatmul__, __eq__, __ne__, __lt__, __le__, __gt__, __ge__, __and__, __or__) = map(
        _or_not_implemented,
        (__add__, __radd__, __sub__, __rsub__, __mul__, __rmul__, __truediv__, __rtruediv__, __pow__, __rpow__,
         __matmul__, __rmatmul__, __eq__, __ne__, __lt__, __le__, __gt__, __ge__, __and__, __or__))

    def isnan(self):
        return Tensor._wrap(self.xp.isnan(self.array))

    # ------------------------------------------------------------------------------------------ reductions
    def _dim(self, dim):
        """Normalise dim (int, tuple, list or None) to what numpy's axis= takes, checking its range."""
        if dim is None:
            return None
        many = isinstance(dim, (tuple, list))
        dims = tuple(_wrap_dim(d, self.array.ndim) for d in (dim if many else (dim,)))
        if many and len(set(dims)) != len(dims):
            raise RuntimeError(f"dim {next(d for d in dims if dims.count(d) > 1)} appears multiple times in the "
                               f"list of dims")
        if not self.array.ndim:  # a 0-d array has no axis to name
            return () if many else None
        return dims if many else dims[0]

    def _nonempty(self, name: str, axis, dim=None) -> None:
        """torch refuses max, argmax, amax... over no elements: they have no identity value to return. The
        message names ``dim`` as the caller gave it, if given (amax), else the axis counted from 0 (max)."""
        if self.array.size:
            return
        if axis is None:
            arg = name.startswith("arg")
            raise (IndexError if arg else RuntimeError)(
                f"{name}(): Expected reduction dim to be specified for input.numel() == 0." +
                ("" if arg else " Specify the reduction dim with the 'dim' argument."))
        many = isinstance(axis, tuple)
        for a, d in zip(axis if many else (axis,), (dim if many else (dim,)) if dim is not None else
                        (axis if many else (axis,))):
            if self.array.shape[a] == 0:
                raise IndexError(f"{name}(): Expected reduction dim {d} to have non-zero size.")

    def sum(self, dim=None, keepdim: bool = False, dtype=None, *, axis=None, keepdims=None):
        dim, keepdim = (axis if dim is None else dim), (keepdim if keepdims is None else keepdims)  # numpy aliases
        source = self.to(dtype) if dtype is not None else self
        if source.array.dtype.kind in "biu":  # torch sums integers and bools into int64
            source = source.long()
        return ops.Sum.apply(source, dim=self._dim(dim), keepdim=keepdim)

    def mean(self, dim=None, keepdim: bool = False, dtype=None, *, axis=None, keepdims=None):
        dim, keepdim = (axis if dim is None else dim), (keepdim if keepdims is None else keepdims)
        source = self.to(dtype) if dtype is not None else self
        if source.array.dtype.kind != "f":
            raise RuntimeError(f"mean(): could not infer output dtype. Input dtype must be either a floating point "
                               f"or complex dtype. Got: {SCALAR_TYPE_NAMES[source.array.dtype.name]}")
        return ops.Mean.apply(source, dim=self._dim(dim), keepdim=keepdim)

    def _extremum(self, dim, keepdim, smallest):
        name = "min" if smallest else "max"
        if dim is None:
            self._nonempty(name, None)
            return ops.Amax.apply(self, smallest=smallest)
        indices = self._arg_extremum(dim, True, smallest, name)
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
        axis = self._dim(dim)
        self._nonempty("amax", axis, dim)
        return ops.Amax.apply(self, dim=axis, keepdim=keepdim)

    def amin(self, dim=None, keepdim: bool = False):
        axis = self._dim(dim)
        self._nonempty("amin", axis, dim)
        return ops.Amax.apply(self, dim=axis, keepdim=keepdim, smallest=True)

    def _arg_extremum(self, dim, keepdim, smallest, name=None):
        if name is None and self.array.dtype.kind == "b":
            raise RuntimeError(f"{'argmin' if smallest else 'argmax'}(): does not support bool input")
        axis = self._dim(dim)
        self._nonempty(name or ("argmin" if smallest else "argmax"), axis)  # these name the dim counted from 0
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
        """``self`` picked along ``dim`` at ``index``; checked as torch checks it, since numpy would wrap a
        negative index and silently read from a too-short or too-long one."""
        axis = self._dim(dim)
        if index.array.dtype.name not in ("int64", "int32"):
            raise RuntimeError("gather(): Expected dtype int32/int64 for index")
        if max(index.array.ndim, 1) != max(self.array.ndim, 1):
            raise RuntimeError("Index tensor must have the same number of dimensions as input tensor")
        if index.array.ndim != self.array.ndim:  # torch reads a 0-d tensor as 1-d here
            out = self.reshape(-1).gather(0, index.reshape(-1))
            return out.reshape(index.shape)
        for d, (n, m) in enumerate(zip(index.array.shape, self.array.shape)):
            if d != axis and n > m:
                raise RuntimeError(f"Size does not match at dimension {d} expected index {list(index.shape)} to be "
                                   f"no larger than self {list(self.shape)} apart from dimension {axis}")
        size, picks = (self.array.shape[axis] if self.array.ndim else 1), index.array
        if picks.size and (picks.min() < 0 or picks.max() >= size):
            bad = picks[(picks < 0) | (picks >= size)].reshape(-1)[0]
            raise RuntimeError(f"index {int(bad)} is out of bounds for dimension {axis or 0} with size {size}")
        return ops.Gather.apply(self, index, dim=axis)

    # ------------------------------------------------------------------------------------------ sort, pick, split
    def _order(self, dim, descending: bool, k: int | None = None):
        """(axis, int64 indices that sort along it), keeping the first ``k`` for topk. A 0-d tensor is one
        element: torch returns 0-d results for it (even for k=0)."""
        axis = self._dim(dim)
        if self.array.ndim == 0:
            return 0, Tensor._wrap(self.xp.zeros((), dtype=np.int64))
        order = ops.sort_order(self.xp, self.array, axis, descending)
        if k is not None:
            order = order[(slice(None),) * axis + (slice(0, k),)]
        return axis, Tensor._wrap(order)

    def sort(self, dim: int = -1, descending: bool = False, *, stable: bool | None = None):
        """``(values, indices)`` sorted along ``dim``. Always stable, as torch's CPU sort is even without
        ``stable=True``: equal values keep their input order. NaN sorts as the largest value."""
        axis, indices = self._order(dim, descending)
        op = ops.Sort if stable is None else ops.SortStable
        return RETURN_TYPES["sort"](op.apply(self, indices, dim=axis), indices)

    def argsort(self, dim: int = -1, descending: bool = False, *, stable: bool | None = None) -> Tensor:
        del stable  # the order is always the stable one, which satisfies both settings
        return self._order(dim, descending)[1]

    def topk(self, k: int, dim: int = -1, largest: bool = True, sorted: bool = True):
        """``(values, indices)`` of the ``k`` largest (or smallest) along ``dim``, always in sorted order
        (a valid answer for ``sorted=False`` too). Among equal values the lower index comes first; torch's
        CPU kernel may pick or order ties differently (its order comes from std::nth_element), values agree."""
        del sorted  # always sorted: a valid answer for sorted=False too
        size = self.array.shape[self._dim(dim)] if self.array.ndim else 1
        if not 0 <= k <= size:
            raise RuntimeError("selected index k out of range")
        axis, indices = self._order(dim, largest, k)
        return RETURN_TYPES["topk"](ops.Topk.apply(self, indices, dim=axis), indices)

    def multinomial(self, num_samples: int, replacement: bool = False, *, generator=None) -> Tensor:
        """int64 category indices drawn from each row of non-negative weights (they need not sum to 1).
        Drawn on the host from minigrad's seeded generator, so a seed gives the same samples on every device
        (not torch's samples: a different random stream)."""
        if self.array.ndim not in (1, 2):
            raise RuntimeError("prob_dist must be 1 or 2 dim")
        if self.array.dtype.kind != "f":
            raise RuntimeError(f"multinomial only supports floating-point dtypes for input, got: "
                               f"{SCALAR_TYPE_NAMES[self.array.dtype.name]}")
        if not isinstance(num_samples, numbers.Integral):
            raise TypeError(f"multinomial(): argument 'num_samples' (position 2) must be int, not "
                            f"{type(num_samples).__name__}")
        if num_samples <= 0:
            raise RuntimeError("cannot sample n_sample <= 0 samples")
        categories = self.array.shape[-1]
        if not replacement and num_samples > categories:
            raise RuntimeError("cannot sample n_sample > prob_dist.size(-1) samples without replacement")
        if categories == 0:
            raise RuntimeError("aminmax(): cannot compute aminmax over an empty dimension as the operation has no "
                               "identity.")
        weights = to_numpy(self.array).astype(np.float64).reshape(-1, categories)
        if not np.isfinite(weights).all() or (weights < 0).any():
            raise RuntimeError("probability tensor contains either `inf`, `nan` or element < 0")
        if (weights.sum(axis=1) <= 0).any():
            raise RuntimeError("invalid multinomial distribution (sum of probabilities <= 0)")
        drawn = ops.multinomial_indices((generator or default_generator).numpy_rng, weights, num_samples, replacement)
        return Tensor._wrap(to_device(drawn.reshape(self.array.shape[:-1] + (num_samples,)), self.device))

    def nonzero(self, *, as_tuple: bool = False):
        """Indices of the nonzero elements: an (n, ndim) int64 tensor, or one index tensor per dim."""
        array = self.array.reshape(1) if self.array.ndim == 0 else self.array  # torch: a 0-d tensor is 1-d here
        found = [Tensor._wrap(i.astype(np.int64)) for i in self.xp.nonzero(array)]
        if as_tuple:
            return tuple(found)
        if self.array.ndim == 0:
            return Tensor._wrap(self.xp.zeros((found[0].array.size, 0), dtype=np.int64))
        return Tensor._wrap(self.xp.stack([i.array for i in found], axis=1))

    def index_select(self, dim: int, index: Tensor) -> Tensor:
        """The slices at ``index`` (a 1-d int tensor) along ``dim``; repeated indices accumulate gradient."""
        if index.array.ndim > 1:
            raise IndexError("index_select(): Index is supposed to be a vector")
        if index.dtype.name not in ("int64", "int32"):
            raise RuntimeError("index_select(): Expected dtype int32 or int64 for index")
        axis = self._dim(dim)
        picks = index.array.reshape(-1)
        size = self.array.shape[axis] if self.array.ndim else 1
        bad = picks[(picks < 0) | (picks >= size)]
        if bad.size:
            raise RuntimeError(f"INDICES element is out of DATA bounds, id={int(bad[0])} axis_dim={size}")
        if self.array.ndim == 0:  # torch: a 0-d tensor is its own only slice
            return ops.IndexSelect.apply(self, key=())
        return ops.IndexSelect.apply(self, key=(slice(None),) * axis + (picks,))

    def _pieces(self, axis: int, sizes: list, op) -> tuple:
        """Consecutive slices of ``sizes`` along ``axis``, each its own graph node."""
        lead, start, pieces = (slice(None),) * axis, 0, []
        for n in sizes:
            pieces.append(op.apply(self, key=lead + (slice(start, start + n),)))
            start += n
        return tuple(pieces)

    def split(self, split_size, dim: int = 0) -> tuple:
        """Pieces of ``split_size`` along ``dim`` (the last may be smaller), or of each size in a list."""
        if self.array.ndim == 0:
            raise RuntimeError("split expects at least a 1-dimensional tensor")
        axis = self._dim(dim)
        size = self.array.shape[axis]
        if isinstance(split_size, (list, tuple)):
            sizes = list(split_size)
            if any(n < 0 for n in sizes):
                raise RuntimeError(f"split_with_sizes expects split_sizes have only non-negative entries, but got "
                                   f"split_sizes={sizes}")
            if sum(sizes) != size:
                raise RuntimeError(f"split_with_sizes expects split_sizes to sum exactly to {size} (input tensor's "
                                   f"size at dimension {dim}), but got split_sizes={sizes}")
            return self._pieces(axis, sizes, ops.SplitWithSizes)
        if split_size < 0:
            raise RuntimeError(f"split expects split_size be non-negative, but got split_size={split_size}")
        if split_size == 0 and size != 0:
            raise RuntimeError(f"split_size can only be 0 if dimension size is 0, but got dimension size of {size}")
        count = max(-(-size // split_size), 1) if split_size else 1
        return self._pieces(axis, [min(split_size, size - i * split_size) for i in range(count)], ops.Split)

    def chunk(self, chunks: int, dim: int = 0) -> tuple:
        """``split`` into pieces of ceil(size / chunks): possibly fewer than ``chunks`` pieces, as in torch."""
        if self.array.ndim == 0:
            raise RuntimeError("chunk expects at least a 1-dimensional tensor")
        if chunks <= 0:
            raise RuntimeError(f"chunk expects `chunks` to be greater than 0, got: {chunks}")
        axis = self._dim(dim)
        size = self.array.shape[axis]
        if size == 0:  # torch: an empty dim gives `chunks` empty pieces, where split would give one
            return self._pieces(axis, [0] * chunks, ops.SplitWithSizes)
        return self.split(-(-size // chunks), axis)

    def unbind(self, dim: int = 0) -> tuple:
        """The slices along ``dim``, with that dim removed."""
        if self.array.ndim == 0 and dim in (0, -1):
            raise IndexError(f"Dimension specified as {dim} but tensor has no dimensions")
        axis = self._dim(dim)
        lead = (slice(None),) * axis
        return tuple(ops.Unbind.apply(self, key=lead + (i,)) for i in range(self.array.shape[axis]))

    def masked_fill(self, mask: Tensor, value) -> Tensor:
        """``value`` (a number or 0-d tensor, cast to this dtype) where ``mask`` is True; mask and tensor
        broadcast. Differentiable with respect to this tensor and a tensor ``value``."""
        if mask.array.dtype != np.bool_:
            raise RuntimeError(f"masked_fill_ only supports boolean masks, but got mask with dtype "
                               f"{C_TYPE_NAMES[mask.array.dtype.name]}")
        if isinstance(value, Tensor):
            if value.array.ndim:
                raise RuntimeError(f"masked_fill_ only supports a 0-dimensional value tensor, but got tensor with "
                                   f"{value.array.ndim} dimension(s).")
            value, op = value.to(self.device, self.dtype), ops.MaskedFillTensor
        elif isinstance(value, (numbers.Number, np.generic)) and not isinstance(value, complex):
            # uint8: -1 is 255
            value, op = Tensor._wrap(self.xp.asarray(value).astype(self.array.dtype)), ops.MaskedFill
        else:
            raise TypeError(f"masked_fill() received an invalid combination of arguments - got (Tensor, "
                            f"{type(value).__name__}), but expected (Tensor mask, Tensor value) or (Tensor mask, "
                            f"Number value)")
        _broadcast_shape(mask.shape, self.shape)
        return op.apply(mask, value, self)

    def masked_fill_(self, mask: Tensor, value) -> Tensor:
        shape = _broadcast_shape(mask.shape, self.shape)
        if shape != self.shape:
            raise RuntimeError(f"output with shape {list(self.shape)} doesn't match the broadcast shape {list(shape)}")
        return self._inplace_op(lambda a, v: a.masked_fill(mask, v), value)

    def repeat(self, *sizes) -> Tensor:
        """Tile the tensor ``sizes[i]`` times along dim i; extra leading sizes add new dims."""
        if not sizes:
            raise TypeError('repeat() missing 1 required positional arguments: "repeats"')
        sizes = _dims(sizes)
        if len(sizes) < self.array.ndim:
            raise RuntimeError("Number of dimensions of repeat dims can not be smaller than number of dimensions "
                               "of tensor")
        shape = [n * r for n, r in zip((1,) * (len(sizes) - self.array.ndim) + self.array.shape, sizes)]
        negative = [n for n in shape if n < 0]
        if negative:
            raise RuntimeError(f"Trying to create tensor with negative dimension {negative[0]}: {shape}")
        return ops.Repeat.apply(self, sizes=tuple(sizes))

    def _triangle(self, op, name: str, diagonal: int) -> Tensor:
        if self.array.ndim < 2:
            raise RuntimeError(f"{name}: input tensor must have at least 2 dimensions")
        return op.apply(self, diagonal=diagonal)

    def tril(self, diagonal: int = 0) -> Tensor:
        """Zero the elements above the ``diagonal``-th diagonal of the last two dims."""
        return self._triangle(ops.Tril, "tril", diagonal)

    def triu(self, diagonal: int = 0) -> Tensor:
        """Zero the elements below the ``diagonal``-th diagonal of the last two dims."""
        return self._triangle(ops.Triu, "triu", diagonal)

    def mm(self, mat2: Tensor) -> Tensor:
        if self.array.ndim != 2:
            raise RuntimeError("self must be a matrix")
        if mat2.array.ndim != 2:
            raise RuntimeError("mat2 must be a matrix")
        _check_matmul(self.array, mat2.array)
        return ops.Mm.apply(self, mat2)

    def bmm(self, mat2: Tensor) -> Tensor:
        for name, t in (("batch1", self), ("batch2", mat2)):
            if t.array.ndim != 3:
                raise RuntimeError(f"{name} must be a 3D tensor")
        expected, got = [self.shape[0], self.shape[2]], list(mat2.shape[:2])
        if got != expected:
            raise RuntimeError(f"Expected size for first two dimensions of batch2 tensor to be: {expected} but got: "
                               f"{got}.")
        if self.array.dtype != mat2.array.dtype:
            raise RuntimeError(f"expected scalar type {SCALAR_TYPE_NAMES[self.array.dtype.name]} but found "
                               f"{SCALAR_TYPE_NAMES[mat2.array.dtype.name]}")
        return ops.Bmm.apply(self, mat2)

    def dot(self, other: Tensor) -> Tensor:
        if self.array.ndim != 1 or other.array.ndim != 1:
            raise RuntimeError(f"1D tensors expected, but got {self.array.ndim}D and {other.array.ndim}D tensors")
        _check_matmul(self.array, other.array)
        return ops.Dot.apply(self, other)

    # ------------------------------------------------------------------------------------------ shape
    def reshape(self, *shape):
        return ops.Reshape.apply(self, shape=_infer_shape(_dims(shape), self.array.size))

    view = reshape

    def view_as(self, other: Tensor):
        return self.reshape(other.shape)

    def reshape_as(self, other: Tensor):
        return self.reshape(other.shape)

    def flatten(self, start_dim: int = 0, end_dim: int = -1):
        start, end = _wrap_dim(start_dim, self.array.ndim), _wrap_dim(end_dim, self.array.ndim)
        if self.array.ndim == 0:
            return self.reshape(1)
        if start > end:
            raise RuntimeError("flatten() has invalid args: start_dim cannot come after end_dim")
        shape = self.array.shape
        return self.reshape(shape[:start] + (math.prod(shape[start:end + 1]),) + shape[end + 1:])

    def permute(self, *dims):
        if not dims:
            raise TypeError('permute() missing 1 required positional arguments: "dims"')
        dims, ndim = _dims(dims), self.array.ndim
        if len(dims) != ndim:
            raise RuntimeError(f"permute(sparse_coo): number of dimensions in the tensor input does not match the "
                               f"length of the desired ordering of dimensions i.e. input.dim() = {ndim} is not equal "
                               f"to len(dims) = {len(dims)}")
        seen = []
        for d in dims:  # torch's order: a duplicate is found before a later dim is range-checked
            seen.append(_wrap_dim(d, ndim))
            if seen[-1] in seen[:-1]:
                raise RuntimeError("permute(): duplicate dims are not allowed.")
        dims = tuple(seen)
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
        return ops.Permute.apply(self, dims=tuple(reversed(range(self.array.ndim))))

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
        dim = _wrap_dim(dim, self.array.ndim + 1)
        return self.reshape(self.array.shape[:dim] + (1,) + self.array.shape[dim:])

    def expand(self, *sizes):
        if not sizes:
            raise TypeError('expand() missing 1 required positional arguments: "size"')
        sizes = _dims(sizes)
        lead = len(sizes) - self.array.ndim
        if lead < 0:
            raise RuntimeError(f"expand(minigrad.{SCALAR_TYPE_NAMES[self.array.dtype.name]}Tensor"
                               f"{{{list(self.array.shape)}}}, size={list(sizes)}): the number of sizes provided "
                               f"({len(sizes)}) must be greater or equal to the number of dimensions in the tensor "
                               f"({self.array.ndim})")
        shape = tuple(self.array.shape[i - lead] if n == -1 and i >= lead else n for i, n in enumerate(sizes))
        for i, n in reversed(list(enumerate(self.array.shape))):  # torch names the last mismatch
            if n != 1 and n != shape[lead + i]:
                raise RuntimeError(f"The expanded size of the tensor ({shape[lead + i]}) must match the existing "
                                   f"size ({n}) at non-singleton dimension {lead + i}.  Target sizes: {list(sizes)}.  "
                                   f"Tensor sizes: {list(self.array.shape)}")
        if -1 in sizes[:lead]:  # -1 means "keep the size", and a new leading dim has none to keep
            raise RuntimeError(f"The expanded size of the tensor (-1) isn't allowed in a leading, non-existing "
                               f"dimension {max(i for i in range(lead) if sizes[i] == -1)}")
        if any(n < 0 for n in shape):
            raise RuntimeError(f"Trying to create tensor with negative dimension {min(shape)}: {list(shape)}")
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
        try:
            return ops.Index.apply(self, key=self._key(key))
        except IndexError as error:
            raise _torch_index_error(error, self.array.ndim) from None

    def __setitem__(self, key, value):
        key = self._key(key)
        value = value if isinstance(value, Tensor) else self._operand(value)
        try:
            if self._records_inplace(value):  # y[0] = x with x requiring grad: recorded, as torch's index_put_
                self._commit(ops.IndexPut.apply(self._snapshot(), value.to(self.dtype), key=key))
            else:
                self._commit(value, key)
        except IndexError as error:
            raise _torch_index_error(error, self.array.ndim) from None

    # ------------------------------------------------------------------------------------------ in place
    # An in-place op computes its result out of place, then writes it into this tensor's storage (so views
    # and detached aliases see it) and bumps the version counter. When the graph is recorded, this tensor
    # becomes the result's node; its old value lives on as a snapshot that the node's inputs refer to.
    def _records_inplace(self, *others) -> bool:
        if not is_grad_enabled():
            return False
        if self._requires_grad and self.grad_fn is None:
            raise RuntimeError("a leaf Variable that requires grad is being used in an in-place operation.")
        return self._requires_grad or any(isinstance(o, Tensor) and o._requires_grad for o in others)

    def _snapshot(self) -> Tensor:
        """This tensor's current value as a separate graph input (the in-place op's node becomes ``self``'s).
        A copy, so that an op which saves its input (clamp_, mul_) keeps the value it was given."""
        old = Tensor.__new__(Tensor)
        old._init(self.array.copy(), self._requires_grad, self.grad_fn)
        return old

    def _check_result_type(self, kind) -> None:
        if dtypes.category(kind) > dtypes.category(self.array.dtype):
            raise RuntimeError(f"result type {dtypes.from_numpy_dtype(kind)} can't be cast to the desired output "
                               f"type {self.dtype}")

    def _commit(self, result: Tensor, key=...) -> Tensor:
        """The one write path of in-place ops: ``result`` into ``self[key]``, then the version bump."""
        self._check_result_type(result.array.dtype)
        self.array[key] = result.array
        bump_version(self)
        if result.grad_fn is not None:
            self.grad_fn, self._requires_grad = result.grad_fn, True
        return self

    def _inplace_op(self, compute, *others) -> Tensor:
        """``self = compute(self, *others)`` in place, recorded when the graph is."""
        if self._records_inplace(*others):
            return self._commit(compute(self._snapshot(), *others))
        with no_grad():
            return self._commit(compute(Tensor._wrap(self.array), *others))

    def _inplace(self, value) -> Tensor:
        """Overwrite with ``value`` (a number, array or tensor); the old value gets no gradient."""
        value = value if isinstance(value, Tensor) else Tensor._wrap(self.xp.asarray(value))
        if self._records_inplace(value):
            return self._commit(self._snapshot() * 0 + value.to(self.dtype))
        return self._commit(value)

    def __iadd__(self, other):  # `w -= lr * w.grad` under no_grad updates w itself, as in torch
        return self.add_(other)

    def __isub__(self, other):
        return self.sub_(other)

    def __imul__(self, other):
        return self.mul_(other)

    def __itruediv__(self, other):
        return self.div_(other)

    def add_(self, other, alpha=1):
        return self._inplace_op(lambda a, b: a + (b if alpha == 1 else alpha * b), other)

    def sub_(self, other, alpha=1):
        return self._inplace_op(lambda a, b: a - (b if alpha == 1 else alpha * b), other)

    def mul_(self, other):
        return self._inplace_op(lambda a, b: a * b, other)

    def div_(self, other):
        return self._inplace_op(lambda a, b: a / b, other)

    def clamp_(self, min=None, max=None):
        return self._inplace_op(lambda a: a.clamp(min, max))

    def zero_(self):
        return self._inplace(0)

    def fill_(self, value):
        return self._inplace(value)

    def copy_(self, source):
        """Copy (broadcast and cast to this tensor's dtype, as torch); differentiable with respect to ``source``."""
        source = source if isinstance(source, Tensor) else Tensor._wrap(self.xp.asarray(source))
        return self._inplace(source.to(self.device, self.dtype))

    def uniform_(self, a: float = 0.0, b: float = 1.0, generator=None):
        """Fill from U(a, b), drawn on the host so a seed gives the same numbers on every device."""
        rng = (generator or default_generator).numpy_rng
        return self._inplace(to_device(rng.uniform(a, b, self.array.shape), self.device))

    def normal_(self, mean: float = 0.0, std: float = 1.0, generator=None):
        rng = (generator or default_generator).numpy_rng
        return self._inplace(to_device(rng.normal(mean, std, self.array.shape), self.device))
