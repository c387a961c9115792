"""Index-based functions: one_hot and embedding."""
from __future__ import annotations

from ... import ops
from ...tensor import Tensor

__all__ = ["embedding", "one_hot"]


def one_hot(tensor: Tensor, num_classes: int = -1) -> Tensor:
    """int64 one-hot encoding along a new last dim."""
    if tensor.dtype.name != "int64":
        raise RuntimeError("one_hot is only applicable to index tensor of type LongTensor.")
    t = tensor.array
    if not t.size:
        if num_classes <= 0:  # torch: even an explicit num_classes=0 is refused for an empty input
            raise RuntimeError("Can not infer total number of classes from empty tensor.")
    elif t.min() < 0:
        raise RuntimeError("Class values must be non-negative.")
    elif num_classes == -1:
        num_classes = int(t.max()) + 1
    elif t.max() >= num_classes:
        raise RuntimeError("Class values must be smaller than num_classes.")
    xp = tensor.xp
    return Tensor._wrap((t[..., None] == xp.arange(num_classes)).astype(xp.int64))


def embedding(input: Tensor, weight: Tensor, padding_idx: int | None = None, max_norm: float | None = None,
              norm_type: float = 2.0, scale_grad_by_freq: bool = False, sparse: bool = False) -> Tensor:
    """Rows of ``weight`` picked by the integer ``input``; the ``padding_idx`` row receives no gradient."""
    del norm_type  # only used with max_norm, which raises below
    if weight.ndim != 2:
        raise RuntimeError("'weight' must be 2-D")
    num_rows = weight.shape[0]
    if padding_idx is not None:
        if not -num_rows <= padding_idx < num_rows:
            raise AssertionError("Padding_idx must be within num_embeddings")
        padding_idx %= num_rows
    if max_norm is not None:
        raise NotImplementedError("embedding: max_norm is not supported by minigrad (it renormalises the weight "
                                  "in place); clip the rows yourself under no_grad, or pass max_norm=None")
    if sparse:
        raise NotImplementedError("embedding: sparse=True is not supported by minigrad (no sparse gradients); "
                                  "use sparse=False, which gives the same values as a dense gradient")
    if input.dtype.name not in ("int64", "int32"):
        type_name = _TYPE_NAMES.get(input.dtype.name, input.dtype.name)
        name = "CPUBoolType" if input.dtype.name == "bool" else f"torch.{type_name}"
        raise RuntimeError(f"Expected tensor for argument #1 'indices' to have one of the following scalar types: "
                           f"Long, Int; but got {name} instead (while checking arguments for embedding)")
    indices = input.array
    if indices.size and (indices.min() < 0 or indices.max() >= num_rows):
        raise IndexError("index out of range in self")
    row_scale = None
    if scale_grad_by_freq:
        xp = weight.xp
        counts = xp.bincount(indices.reshape(-1), minlength=num_rows)
        row_scale = (1.0 / counts[indices]).astype(weight.array.dtype)[..., None]
    return ops.Embedding.apply(weight, indices=indices, padding_idx=padding_idx, row_scale=row_scale)


_TYPE_NAMES = {"float32": "FloatTensor", "float64": "DoubleTensor", "float16": "HalfTensor", "int16": "ShortTensor",
               "int8": "CharTensor", "uint8": "ByteTensor"}
