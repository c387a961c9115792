"""DistributedSampler: each rank's share of a dataset, with torch's padding and partitioning."""
from __future__ import annotations

import math
from collections.abc import Iterator
from typing import Any

import minigrad

__all__ = ["DistributedSampler"]


def _from_group(what: str) -> int:
    import minigrad.distributed as dist
    if not dist.is_available():  # pragma: no cover - the package always imports; kept for torch's message
        raise RuntimeError("Requires distributed package to be available")
    return dist.get_world_size() if what == "num_replicas" else dist.get_rank()


class DistributedSampler:
    """Indices of ``dataset`` for rank ``rank`` of ``num_replicas``, as torch.utils.data.DistributedSampler.

    Without ``drop_last`` the index list is padded by repeating its start, so every rank gets
    ``ceil(len / num_replicas)`` samples; with it, the tail is dropped so the ranks split evenly. Rank r
    takes every ``num_replicas``-th index starting at r. With ``shuffle`` the order is a permutation drawn
    from a generator seeded with ``seed + epoch`` (call ``set_epoch`` each epoch; all ranks draw the same).
    """

    def __init__(self, dataset: Any, num_replicas: int | None = None, rank: int | None = None,
                 shuffle: bool = True, seed: int = 0, drop_last: bool = False):
        num_replicas = _from_group("num_replicas") if num_replicas is None else num_replicas
        rank = _from_group("rank") if rank is None else rank
        if rank >= num_replicas or rank < 0:
            raise ValueError(f"Invalid rank {rank}, rank should be in the interval [0, {num_replicas - 1}]")
        self.dataset = dataset
        self.num_replicas = num_replicas
        self.rank = rank
        self.epoch = 0
        self.drop_last = drop_last
        n = len(dataset)
        if drop_last and n % num_replicas != 0:
            self.num_samples = math.ceil((n - num_replicas) / num_replicas)  # torch's formula: drop the tail
        else:
            self.num_samples = math.ceil(n / num_replicas)
        self.total_size = self.num_samples * num_replicas
        self.shuffle = shuffle
        self.seed = seed

    def __iter__(self) -> Iterator[int]:
        n = len(self.dataset)
        if self.shuffle:
            g = minigrad.Generator()
            g.manual_seed(self.seed + self.epoch)
            indices = minigrad.randperm(n, generator=g).tolist()
        else:
            indices = list(range(n))
        if self.drop_last:
            indices = indices[:self.total_size]
        else:
            padding = self.total_size - len(indices)
            indices += (indices * math.ceil(padding / len(indices)))[:padding] if padding else []
        assert len(indices) == self.total_size
        return iter(indices[self.rank:self.total_size:self.num_replicas])

    def __len__(self) -> int:
        return self.num_samples

    def set_epoch(self, epoch: int) -> None:
        """Make the next ``__iter__`` use ``seed + epoch``: a fresh order each epoch, the same on every rank."""
        self.epoch = epoch
