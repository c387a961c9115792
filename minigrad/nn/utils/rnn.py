"""Packed and padded sequences for the recurrent modules (torch.nn.utils.rnn).

A packed batch stores its sequences time-major without padding: the rows active at step 0 (the batch
sorted by decreasing length), then those still active at step 1, and so on; ``batch_sizes[t]`` counts
them. Every conversion here is one row gather (a node whose gradient is a scatter-add) with an index
computed on the host from the lengths, so packing and padding are differentiable and cheap.
"""
from __future__ import annotations

from collections import namedtuple

import numpy as np

from ... import dtypes
from ...backend import to_device
from ...functions import cat
from ...tensor import Tensor
from ..functional.rnn import PackedLayout, rows

__all__ = [
    "PackedSequence",
    "invert_permutation",
    "pack_padded_sequence",
    "pack_sequence",
    "pad_packed_sequence",
    "pad_sequence",
    "unpack_sequence",
    "unpad_sequence",
]


def invert_permutation(permutation: Tensor | None) -> Tensor | None:
    if permutation is None:
        return None
    order = np.asarray(permutation.array if isinstance(permutation, Tensor) else permutation)
    inverse = np.empty_like(order)
    inverse[order] = np.arange(order.size)
    return _on(inverse, permutation.device if isinstance(permutation, Tensor) else None)


def _on(array: np.ndarray, device) -> Tensor:
    array = np.asarray(array, dtype=np.int64)
    return Tensor._wrap(array if device is None else to_device(array, device))


class PackedSequence(namedtuple("PackedSequence_", ["data", "batch_sizes", "sorted_indices", "unsorted_indices"])):
    """(data, batch_sizes, sorted_indices, unsorted_indices): what pack_padded_sequence returns."""

    __slots__ = ()

    def __new__(cls, data: Tensor, batch_sizes: Tensor | None = None, sorted_indices: Tensor | None = None,
                unsorted_indices: Tensor | None = None):
        if unsorted_indices is None:
            unsorted_indices = invert_permutation(sorted_indices)
        if batch_sizes is None:
            raise NotImplementedError("PackedSequence(data) with batch_sizes inside a tuple is torch's deprecated "
                                      "form; pass batch_sizes explicitly")
        return super().__new__(cls, data, batch_sizes, sorted_indices, unsorted_indices)

    def to(self, *args, **kwargs) -> PackedSequence:
        """data moved or cast as Tensor.to; the indices follow to data's device, batch_sizes stays on the CPU."""
        data = self.data.to(*args, **kwargs)
        if data is self.data:
            return self
        move = (lambda t: None if t is None else t.to(data.device))
        return type(self)(data, self.batch_sizes, move(self.sorted_indices), move(self.unsorted_indices))

    def cuda(self, *args, **kwargs):
        return self.to(self.data.cuda(*args, **kwargs).device)

    def cpu(self):
        return self.to("cpu")

    # .double(), .float(), ...: the data cast, as torch's PackedSequence has them
    double, float, half, long, int = (lambda self, d=d: self.to(d) for d in (  # noqa: A003
        dtypes.float64, dtypes.float32, dtypes.float16, dtypes.int64, dtypes.int32))

    @property
    def is_cuda(self) -> bool:
        return self.data.is_cuda


# ------------------------------------------------------------------------------------------------ index math
def _grid(batch_sizes: np.ndarray) -> np.ndarray:
    """(T, B) mask of the cells a packed batch fills; row-major order of its True cells is the packed order."""
    return np.arange(batch_sizes[0])[None, :] < batch_sizes[:, None]


def layout(batch_sizes: Tensor, device) -> PackedLayout:
    """Index arrays that move a packed batch's rows to and from the padded (T, B) grid (sorted order)."""
    sizes = np.asarray(batch_sizes.array, dtype=np.int64)
    mask = _grid(sizes)
    to_padded = np.zeros(mask.shape, np.int64)
    to_padded[mask] = np.arange(int(sizes.sum()))
    return PackedLayout([int(n) for n in sizes], to_device(to_padded, device),
                        to_device(np.flatnonzero(mask), device))


def _lengths(lengths) -> np.ndarray:
    if isinstance(lengths, Tensor):
        if lengths.device.type != "cpu" or lengths.ndim != 1:
            raise RuntimeError(f"'lengths' argument should be a 1D CPU int64 tensor, but got {lengths.ndim}D "
                               f"{lengths.device} {lengths.dtype} tensor")
        return np.asarray(lengths.array).astype(np.int64)
    return np.asarray(lengths, dtype=np.int64).reshape(-1)


def _flat_rows(x: Tensor) -> Tensor:
    """(T, B, *) as (T * B, F): the table a row gather reads."""
    return x.reshape(x.shape[0] * x.shape[1], -1)


# ------------------------------------------------------------------------------------------------ public API
def pack_padded_sequence(input: Tensor, lengths, batch_first: bool = False,
                         enforce_sorted: bool = True) -> PackedSequence:
    """Pack a padded (T, B, *) batch (B, T, * with ``batch_first``) of sequences of the given lengths."""
    lengths = _lengths(lengths)
    if input.ndim < 2:
        raise IndexError("Dimension out of range (expected to be in range of [-1, 0], but got 1)")
    if batch_first:
        input = input.transpose(0, 1)
    steps, batch = input.shape[0], input.shape[1]
    if lengths.size != batch:
        raise RuntimeError(f"Expected `len(lengths)` to be equal to batch_size, but got {lengths.size} "
                           f"(batch_size={batch})")
    if enforce_sorted:
        if np.any(lengths[1:] > lengths[:-1]):
            raise RuntimeError("`lengths` array must be sorted in decreasing order when `enforce_sorted` is True. "
                               "You can pass `enforce_sorted=False` to pack_padded_sequence and/or pack_sequence to "
                               "sidestep this requirement if you do not need ONNX exportability.")
        order, sorted_indices = np.arange(batch), None
    else:
        order = np.argsort(-lengths, kind="stable")
        sorted_indices = _on(order, input.device)
    ordered = lengths[order]
    if batch and ordered[-1] <= 0:
        raise RuntimeError("Length of all samples has to be greater than 0, but found an element in 'lengths' "
                           "that is <= 0")
    if batch and ordered[0] > steps:
        raise RuntimeError(f"a sequence length of {int(ordered[0])} exceeds the padded input's {steps} steps")
    batch_sizes = (ordered[None, :] > np.arange(ordered[0])[:, None]).sum(axis=1)
    t, b = np.nonzero(_grid(batch_sizes))
    index = to_device(t * batch + order[b], input.device)  # the sort is folded into the gather
    data = rows(_flat_rows(input), index).reshape(-1, *input.shape[2:])
    return PackedSequence(data, _on(batch_sizes, None), sorted_indices)


def pad_packed_sequence(sequence: PackedSequence, batch_first: bool = False, padding_value: float = 0.0,
                        total_length: int | None = None) -> tuple[Tensor, Tensor]:
    """(padded batch, lengths) from a packed one, in the original batch order."""
    data, sizes = sequence.data, np.asarray(sequence.batch_sizes.array, dtype=np.int64)
    steps, batch = len(sizes), int(sizes[0])
    if total_length is not None and total_length < steps:
        raise ValueError(f"Expected total_length to be at least the length of the longest sequence in input, "
                             f"but got total_length={total_length} and max sequence length being {steps}")
    total = steps if total_length is None else total_length
    mask = np.zeros((total, batch), bool)
    mask[:steps] = _grid(sizes)
    source = np.full(mask.shape, int(sizes.sum()), np.int64)  # the padding row, appended after the data
    source[mask] = np.arange(int(sizes.sum()))
    lengths = mask.sum(axis=0)
    if sequence.unsorted_indices is not None:
        unsorted = np.asarray(sequence.unsorted_indices.cpu().array)
        source, lengths = source[:, unsorted], lengths[unsorted]
    if batch_first:
        source = source.T
    flat = data.reshape(data.shape[0], -1)
    table = cat([flat, _full_row(flat, padding_value)])
    padded = rows(table, to_device(source, data.device)).reshape(*source.shape, *data.shape[1:])
    return padded, _on(lengths, None)


def _full_row(flat: Tensor, value: float) -> Tensor:
    xp = flat.xp
    return Tensor._wrap(xp.full((1, flat.shape[1]), value, dtype=flat.array.dtype))


def pad_sequence(sequences, batch_first: bool = False, padding_value: float = 0.0,
                 padding_side: str = "right") -> Tensor:
    """Stack sequences of shape (L_i, *) into (max L, B, *) ((B, max L, *) with batch_first), padded."""
    if padding_side not in ("left", "right"):
        raise RuntimeError(f"Expected padding_side to be one of left or right, but got {padding_side}.")
    if isinstance(sequences, Tensor):
        sequences = list(sequences)
    if not sequences:
        raise RuntimeError("received an empty list of sequences")
    trailing = sequences[0].shape[1:]
    for s in sequences[1:]:
        if s.shape[1:] != trailing:
            raise RuntimeError(f"pad_sequence: every sequence must have the trailing shape {tuple(trailing)} of "
                               f"the first, got {tuple(s.shape)}")
    lengths = np.array([s.shape[0] for s in sequences], np.int64)
    steps = int(lengths.max())
    starts = np.concatenate([[0], np.cumsum(lengths)[:-1]])
    position = np.arange(steps)[:, None] - (steps - lengths[None, :] if padding_side == "left" else 0)
    inside = (position >= 0) & (position < lengths[None, :])
    source = np.where(inside, starts[None, :] + position, int(lengths.sum()))  # out of range: the padding row
    if batch_first:
        source = source.T
    flat = cat([s.reshape(s.shape[0], -1) for s in sequences])
    table = cat([flat, _full_row(flat, padding_value)])
    return rows(table, to_device(source, flat.device)).reshape(*source.shape, *trailing)


def pack_sequence(sequences, enforce_sorted: bool = True) -> PackedSequence:
    """Pack a list of (L_i, *) sequences."""
    lengths = [s.shape[0] for s in sequences]
    return pack_padded_sequence(pad_sequence(sequences), lengths, enforce_sorted=enforce_sorted)


def unpack_sequence(packed_sequences: PackedSequence) -> list:
    """The list of sequences a PackedSequence holds, in the original order."""
    padded, lengths = pad_packed_sequence(packed_sequences, batch_first=True)
    return [padded[i, :int(n)] for i, n in enumerate(lengths.tolist())]


def unpad_sequence(padded_sequences: Tensor, lengths: Tensor, batch_first: bool = False) -> list:
    """The list of unpadded sequences in a padded batch."""
    if not batch_first:
        padded_sequences = padded_sequences.transpose(0, 1)
    return [padded_sequences[i, :int(n)] for i, n in enumerate(_lengths(lengths).tolist())]
