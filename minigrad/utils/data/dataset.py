"""Map-style datasets as in torch.utils.data: Dataset, TensorDataset, Subset, random_split.

Fast-path protocol: a dataset may define ``get_batch(indices)`` that returns the whole collated batch
for an int64 index array in one vectorised step (fancy-indexing its arrays), or None when it cannot
(e.g. an arbitrary per-sample transform). The DataLoader tries it first and otherwise falls back to
``[dataset[i] for i in indices]`` plus ``default_collate``, so both paths must give the same batch.
"""
from __future__ import annotations

import itertools
import math
import warnings
from collections.abc import Sequence
from typing import Any, Generic, TypeVar

import numpy as np

import minigrad

T_co = TypeVar("T_co", covariant=True)


class Dataset(Generic[T_co]):
    """Base class for map-style datasets: subclasses define ``__getitem__`` and ``__len__``."""

    def __getitem__(self, index: int) -> T_co:
        raise NotImplementedError(f"{type(self).__name__} must implement __getitem__")

    def get_batch(self, indices: np.ndarray) -> Any | None:  # noqa: ARG002 (the protocol's signature)
        """The collated batch for `indices` in one step, or None to make the loader use ``__getitem__``."""
        return None


class TensorDataset(Dataset):
    """Wrap tensors that share their first dimension; sample i is ``tuple(t[i] for t in tensors)``."""

    def __init__(self, *tensors: minigrad.Tensor):
        if not tensors:
            raise ValueError("TensorDataset needs at least one tensor")
        tensors = tuple(t if isinstance(t, minigrad.Tensor) else minigrad.as_tensor(t) for t in tensors)
        sizes = [t.shape[0] if t.ndim else None for t in tensors]
        if any(s != sizes[0] for s in sizes) or sizes[0] is None:
            raise ValueError(f"Size mismatch between tensors: first dimensions are {sizes}; "
                             "every tensor needs the same size along dim 0")
        self.tensors = tensors

    def __getitem__(self, index: int) -> tuple:
        return tuple(t[index] for t in self.tensors)

    def __len__(self) -> int:
        return self.tensors[0].shape[0]

    def get_batch(self, indices: np.ndarray) -> list:
        # a list, as default_collate turns a batch of tuples into a list
        return [t[indices] for t in self.tensors]


class Subset(Dataset):
    """The items of `dataset` at `indices`, in that order."""

    def __init__(self, dataset: Any, indices: Sequence[int]):
        self.dataset = dataset
        if isinstance(indices, minigrad.Tensor):
            indices = indices.numpy()
        self.indices = indices
        self._index_array = np.asarray(indices, dtype=np.int64).reshape(-1)

    def __getitem__(self, idx: int | list[int]) -> Any:
        if isinstance(idx, list):
            return self.dataset[[self.indices[i] for i in idx]]
        return self.dataset[int(self.indices[idx])]

    def __len__(self) -> int:
        return len(self._index_array)

    def get_batch(self, indices: np.ndarray) -> Any | None:
        get_batch = getattr(self.dataset, "get_batch", None)
        return None if get_batch is None else get_batch(self._index_array[indices])


def random_split(dataset: Any, lengths: Sequence[int | float],
                 generator: minigrad.Generator | None = None) -> list[Subset]:
    """Split `dataset` into non-overlapping random Subsets of the given lengths or fractions (as torch)."""
    n = len(dataset)
    lengths = list(lengths)
    if math.isclose(sum(lengths), 1) and sum(lengths) <= 1:
        for i, frac in enumerate(lengths):
            if not 0 <= frac <= 1:
                raise ValueError(f"random_split: fraction at index {i} is {frac}, expected a value in [0, 1]")
        sizes = [int(math.floor(n * frac)) for frac in lengths]
        for i in range(n - sum(sizes)):  # torch hands the remainder out round-robin
            sizes[i % len(sizes)] += 1
        for i, size in enumerate(sizes):
            if size == 0:
                warnings.warn(f"Length of split at index {i} is 0. This might result in an empty dataset.",
                              stacklevel=2)
        lengths = sizes
    if any(not isinstance(x, (int, np.integer)) or x < 0 for x in lengths):
        raise ValueError(f"random_split: lengths must be non-negative ints or fractions summing to 1, got {lengths}")
    if sum(lengths) != n:
        raise ValueError(f"Sum of input lengths ({sum(lengths)}) does not equal the length of the input "
                         f"dataset ({n})!")
    order = minigrad.randperm(n, generator=generator).numpy().tolist()
    return [Subset(dataset, order[end - size:end])
            for end, size in zip(itertools.accumulate(lengths), lengths)]
