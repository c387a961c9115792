"""DataLoader and default_collate, mirroring torch.utils.data (single process, map-style datasets)."""
from __future__ import annotations

import collections.abc
from collections.abc import Iterator, Sequence
from typing import Any, Callable

import numpy as np

import minigrad

_COLLATE_TYPES = "tensors, numpy arrays, numbers, strings, dicts or lists"


def _stack(batch: Sequence[minigrad.Tensor]) -> minigrad.Tensor:
    shapes = [tuple(t.shape) for t in batch]
    for i, shape in enumerate(shapes):
        if shape != shapes[0]:
            raise RuntimeError(f"default_collate: cannot stack samples of different shapes: {shapes[0]} at "
                               f"entry 0 and {shape} at entry {i}")
    return minigrad.stack(batch, dim=0)


def default_collate(batch: Sequence[Any]) -> Any:
    """Merge a list of samples into a batch as torch's default_collate does.

    Tensors and arrays are stacked along a new dim 0; ints become an int64 tensor, floats a float64
    tensor, bools a bool tensor; strings are left as they are; dicts, namedtuples and sequences are collated
    field by field (tuples and lists come back as lists, as in torch).
    """
    if not batch:
        raise ValueError("default_collate: cannot collate an empty batch")
    elem = batch[0]
    if isinstance(elem, minigrad.Tensor):
        return _stack(batch)
    if isinstance(elem, np.ndarray):
        if elem.dtype.kind in "OSUV":
            raise TypeError(f"default_collate: numpy arrays of dtype {elem.dtype} cannot become tensors; "
                            f"batch must contain {_COLLATE_TYPES}")
        return _stack([minigrad.from_numpy(np.ascontiguousarray(b)) for b in batch])
    if isinstance(elem, np.generic):  # numpy scalars keep their dtype
        return minigrad.from_numpy(np.array(batch))
    if isinstance(elem, bool):
        return minigrad.tensor(batch, dtype=minigrad.bool)
    if isinstance(elem, int):
        return minigrad.tensor(batch, dtype=minigrad.int64)
    if isinstance(elem, float):
        return minigrad.tensor(batch, dtype=minigrad.float64)
    if isinstance(elem, (str, bytes)):
        return batch  # unchanged, as torch: a list at top level, a tuple inside a collated sequence
    if isinstance(elem, collections.abc.Mapping):
        return {key: default_collate([d[key] for d in batch]) for key in elem}
    if isinstance(elem, tuple) and hasattr(elem, "_fields"):  # namedtuple
        return type(elem)(*(default_collate(samples) for samples in zip(*batch)))
    if isinstance(elem, collections.abc.Sequence):
        sizes = [len(sample) for sample in batch]
        if any(s != sizes[0] for s in sizes):
            raise RuntimeError(f"default_collate: each element in list of batch should be of equal size, "
                               f"got sizes {sizes}")
        return [default_collate(samples) for samples in zip(*batch)]
    raise TypeError(f"default_collate: batch must contain {_COLLATE_TYPES}; found {type(elem).__name__}")


def _to_device(batch: Any, device: minigrad.device) -> Any:
    if isinstance(batch, minigrad.Tensor):
        return batch.to(device)
    if isinstance(batch, collections.abc.Mapping):
        return {k: _to_device(v, device) for k, v in batch.items()}
    if isinstance(batch, tuple) and hasattr(batch, "_fields"):
        return type(batch)(*(_to_device(v, device) for v in batch))
    if isinstance(batch, (list, tuple)):
        return type(batch)(_to_device(v, device) for v in batch)
    return batch


class DataLoader:
    """Iterate over a map-style dataset in batches, as torch.utils.data.DataLoader (single process).

    ``device`` (minigrad's extra) moves every batch there. Shuffling draws a fresh permutation per epoch
    from `generator`, or from the default generator (so ``minigrad.manual_seed`` makes it reproducible).
    Without a custom ``collate_fn``, a dataset's ``get_batch(indices)`` builds each batch in one step.
    """

    def __init__(self, dataset: Any, batch_size: int = 1, shuffle: bool = False, drop_last: bool = False,
                 generator: minigrad.Generator | None = None,
                 collate_fn: Callable[[list[Any]], Any] | None = None,
                 device: str | minigrad.device | None = None):
        if isinstance(batch_size, bool) or not isinstance(batch_size, (int, np.integer)) or batch_size <= 0:
            raise ValueError(f"batch_size should be a positive integer value, but got batch_size={batch_size!r}")
        self.dataset = dataset
        self.batch_size = int(batch_size)
        self.shuffle = bool(shuffle)
        self.drop_last = bool(drop_last)
        self.generator = generator
        self.collate_fn = collate_fn
        self.device = None if device is None else minigrad.device(device)

    def __len__(self) -> int:
        n = len(self.dataset)
        return n // self.batch_size if self.drop_last else -(-n // self.batch_size)

    def __iter__(self) -> Iterator[Any]:
        # the permutation is drawn here, when the epoch starts, not lazily at the first batch
        n = len(self.dataset)
        if self.shuffle:
            order = minigrad.randperm(n, generator=self.generator).numpy().astype(np.int64, copy=False)
        else:
            order = np.arange(n, dtype=np.int64)
        return self._batches(order)

    def _batches(self, order: np.ndarray) -> Iterator[Any]:
        for start in range(0, len(self) * self.batch_size, self.batch_size):
            batch = self.fetch(order[start:start + self.batch_size])
            yield batch if self.device is None else _to_device(batch, self.device)

    def fetch(self, indices: np.ndarray) -> Any:
        """The collated batch for an int64 index array: the dataset's fast path if it has one, else per item."""
        if self.collate_fn is None or self.collate_fn is default_collate:
            get_batch = getattr(self.dataset, "get_batch", None)
            batch = None if get_batch is None else get_batch(indices)
            if batch is not None:
                return batch
        samples = [self.dataset[int(i)] for i in indices]
        return (self.collate_fn or default_collate)(samples)
