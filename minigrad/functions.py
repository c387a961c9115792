"""torch.* functions that combine several tensors; single-tensor ones are Tensor methods re-exported."""
from __future__ import annotations

from . import dtypes, ops
from .tensor import Tensor


def _common(tensors) -> list:
    """The tensors cast to one dtype by torch's promotion rule (cat and stack promote, as torch)."""
    tensors = list(tensors)
    if not tensors:
        raise RuntimeError("expected a non-empty list of Tensors")
    target = tensors[0].array
    for t in tensors[1:]:
        if t.array.dtype != target.dtype:
            target = t.array if dtypes.result_type(target, t.array) == t.array.dtype else target
    return [t.to(target.dtype) for t in tensors]


def cat(tensors, dim: int = 0) -> Tensor:
    tensors = _common(tensors)
    first = tensors[0]
    for t in tensors[1:]:
        if t.ndim != first.ndim or any(a != b for i, (a, b) in enumerate(zip(t.shape, first.shape))
                                       if i != first._dim(dim)):
            raise RuntimeError(f"Sizes of tensors must match except in dimension {dim}. Expected shape like "
                               f"{tuple(first.shape)} but got {tuple(t.shape)}")
    return ops.Cat.apply(*tensors, dim=first._dim(dim))


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    tensors = _common(tensors)
    for t in tensors[1:]:
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {tuple(tensors[0].shape)} at "
                               f"entry 0 and {tuple(t.shape)} at another entry")
    ndim = tensors[0].ndim + 1
    if not -ndim <= dim < ndim:
        raise IndexError(f"Dimension out of range (expected to be in range of [{-ndim}, {ndim - 1}], but got {dim})")
    return ops.Stack.apply(*tensors, dim=dim % ndim)


def where(condition: Tensor, input, other) -> Tensor:
    """Elements of ``input`` where ``condition`` holds, else of ``other``."""
    if condition.dtype != dtypes.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{condition.dtype}")
    if isinstance(input, Tensor):
        a, b = input._promoted(other)
    elif isinstance(other, Tensor):
        b, a = other._promoted(input)
    else:  # two Python numbers: each takes the dtype torch gives a lone scalar, then they promote
        a, b = condition._operand(input)._promoted(condition._operand(other))
    return ops.Where.apply(condition, a, b)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return a @ b


def numel(t: Tensor) -> int:
    return t.numel()


# Tensor methods that torch also exposes as functions: torch.exp(x) is x.exp().
_METHODS = ("abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clamp", "clip", "maximum", "minimum", "softmax",
            "log_softmax", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "gather",
            "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "t", "neg", "add", "sub", "mul",
            "div", "pow", "eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "isnan", "clone", "detach")
globals().update({name: getattr(Tensor, name) for name in _METHODS})
__all__ = ["cat", "concat", "concatenate", "stack", "where", "matmul", "numel", *_METHODS]
