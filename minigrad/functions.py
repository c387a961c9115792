"""torch.* functions that combine several tensors; single-tensor ones are Tensor methods re-exported."""
from __future__ import annotations

from . import dtypes, ops
from .tensor import SCALAR_TYPE_NAMES, Tensor, _broadcast_shape, _wrap_dim


def _common(tensors) -> list:
    """The tensors cast to one dtype by torch's promotion rule (cat and stack promote, as torch)."""
    target = tensors[0].array
    for t in tensors[1:]:
        if t.array.dtype != target.dtype:
            target = t.array if dtypes.result_type(target, t.array) == t.array.dtype else target
    return [t.to(target.dtype) for t in tensors]


def _tensor_list(name: str, tensors) -> list:
    if isinstance(tensors, Tensor):  # iterating would silently split it into rows
        raise TypeError(f"{name}(): argument 'tensors' (position 1) must be tuple of Tensors, not Tensor")
    return list(tensors)


def cat(tensors, dim: int = 0) -> Tensor:
    """Join along an existing dim. As in torch, 1-d empty tensors are skipped whatever the others' shape."""
    tensors = _tensor_list("cat", tensors)
    if not tensors:
        raise ValueError("torch.cat(): expected a non-empty list of Tensors")
    for i, t in enumerate(tensors):
        if t.ndim == 0:
            raise RuntimeError(f"zero-dimensional tensor (at position {i}) cannot be concatenated")
    tensors = _common(tensors)
    kept = [(i, t) for i, t in enumerate(tensors) if t.shape != (0,)]
    if not kept:  # torch skips 1-d empty tensors before it even checks ``dim``
        return ops.Cat.apply(*tensors, dim=0)
    first = kept[0][1]
    axis = first._dim(dim)
    for i, t in kept[1:]:
        if t.ndim != first.ndim:
            raise RuntimeError(f"Tensors must have same number of dimensions: got {first.ndim} and {t.ndim}")
        for d, (want, got) in enumerate(zip(first.shape, t.shape)):
            if d != axis and want != got:
                raise RuntimeError(f"Sizes of tensors must match except in dimension {axis}. Expected size {want} "
                                   f"but got size {got} for tensor number {i} in the list.")
    empty = first.shape[:axis] + (0,) + first.shape[axis + 1:]  # the skipped ones still get their (empty) grads
    return ops.Cat.apply(*(t if t.shape != (0,) else t.reshape(empty) for t in tensors), dim=axis)


concat = concatenate = cat


def stack(tensors, dim: int = 0) -> Tensor:
    """Join along a new dim ``dim`` (negative counts from the end of the result's dims)."""
    tensors = _tensor_list("stack", tensors)
    if not tensors:
        raise RuntimeError("stack expects a non-empty TensorList")
    tensors = _common(tensors)
    for i, t in enumerate(tensors[1:], 1):
        if t.shape != tensors[0].shape:
            raise RuntimeError(f"stack expects each tensor to be equal size, but got {list(tensors[0].shape)} at "
                               f"entry 0 and {list(t.shape)} at entry {i}")
    return ops.Stack.apply(*tensors, dim=_wrap_dim(dim, tensors[0].ndim + 1))


def where(condition: Tensor, input=None, other=None):
    """Elements of ``input`` where ``condition`` holds, else of ``other``; ``where(condition)`` alone is
    ``condition.nonzero(as_tuple=True)``."""
    if input is None and other is None:
        return condition.nonzero(as_tuple=True)
    if input is None or other is None:
        raise TypeError("where() takes a condition alone, or a condition, input and other: got a condition and "
                        "one operand")
    if condition.dtype != dtypes.bool_:
        raise RuntimeError(f"where expected condition to be a boolean tensor, but got a tensor with dtype "
                           f"{SCALAR_TYPE_NAMES[condition.dtype.name]}")
    if isinstance(input, Tensor):
        a, b = input._promoted(other)
    elif isinstance(other, Tensor):
        b, a = other._promoted(input)
    else:  # two Python numbers: each takes the dtype torch gives a lone scalar, then they promote
        a, b = condition._operand(input)._promoted(condition._operand(other))
    _broadcast_shape(condition.shape, _broadcast_shape(a.shape, b.shape))  # torch's words, not numpy's
    return ops.Where.apply(condition, a, b)


def split(tensor: Tensor, split_size_or_sections, dim: int = 0) -> tuple:
    """torch.split: pieces of one size along ``dim`` (the last may be smaller), or of each size in a list."""
    return tensor.split(split_size_or_sections, dim)


def matmul(a: Tensor, b: Tensor) -> Tensor:
    return a @ b


def numel(t: Tensor) -> int:
    return t.numel()


# Tensor methods that torch also exposes as functions: torch.exp(x) is x.exp().
_METHODS = ("abs", "exp", "log", "sqrt", "tanh", "sigmoid", "relu", "clamp", "clip", "maximum", "minimum", "softmax",
            "log_softmax", "sum", "mean", "max", "min", "amax", "amin", "argmax", "argmin", "var", "std", "gather",
            "reshape", "flatten", "transpose", "permute", "squeeze", "unsqueeze", "t", "neg", "add", "sub", "mul",
            "div", "pow", "eq", "ne", "lt", "le", "gt", "ge", "equal", "allclose", "isnan", "clone", "detach",
            "sort", "argsort", "topk", "multinomial", "nonzero", "index_select", "chunk", "unbind", "masked_fill",
            "tril", "triu", "mm", "bmm", "dot")
globals().update({name: getattr(Tensor, name) for name in _METHODS})
__all__ = ["cat", "concat", "concatenate", "stack", "where", "split", "matmul", "numel", *_METHODS]
