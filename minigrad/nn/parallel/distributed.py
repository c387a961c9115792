"""DistributedDataParallel: the wrapped module's gradients averaged over the ranks during backward.

At construction the ranks check that they hold the same parameter shapes and copy rank 0's parameters and
buffers. Each forward arms the reducer (unless under ``no_sync()``); each parameter's post-accumulate-grad
hook hands its grad to its bucket, full buckets are all-reduced asynchronously (AVG) in bucket order, and
when the last expected grad has arrived (still inside ``loss.backward()``) the reducer waits for the
buckets and writes the averaged grads into ``.grad``. So after backward returns, every rank holds the
same gradients, and ``optimizer.step()`` keeps the replicas identical.
"""
from __future__ import annotations

import contextlib

from ...autograd import is_grad_enabled
from ...tensor import Tensor
from ..module import Module
from .reducer import DEFAULT_BUCKET_CAP_MB, Reducer

__all__ = ["DistributedDataParallel"]


class DistributedDataParallel(Module):
    """torch.nn.parallel.DistributedDataParallel over minigrad.distributed (MPI or NCCL)."""

    def __init__(self, module: Module, device_ids=None, output_device=None, dim: int = 0,
                 broadcast_buffers: bool = True, process_group=None, bucket_cap_mb: float | None = None,
                 find_unused_parameters: bool = False, check_reduction: bool = False,
                 gradient_as_bucket_view: bool = False, static_graph: bool = False,
                 delay_all_reduce_named_params=None, param_to_hook_all_reduce=None, mixed_precision=None,
                 device_mesh=None, init_sync: bool = True):
        super().__init__()
        del check_reduction  # deprecated in torch and ignored there too
        import minigrad.distributed as dist  # deferred: minigrad.nn must not need the distributed package
        unsupported = {"dim": dim != 0, "gradient_as_bucket_view": gradient_as_bucket_view,
                       "delay_all_reduce_named_params": delay_all_reduce_named_params is not None,
                       "param_to_hook_all_reduce": param_to_hook_all_reduce is not None,
                       "mixed_precision": mixed_precision is not None, "device_mesh": device_mesh is not None}
        for name, used in unsupported.items():
            if used:
                raise NotImplementedError(f"DistributedDataParallel: {name} is not supported by minigrad")
        if device_ids is not None and len(device_ids) > 1:
            raise ValueError("device_ids can only be None or contain a single element.")
        params = [p for p in module.parameters() if p.requires_grad]
        if not params:
            raise RuntimeError("DistributedDataParallel is not needed when a module doesn't have any parameter "
                               "that requires a gradient.")
        group = process_group if process_group is not None else dist.group.WORLD
        if group is None:
            raise ValueError(dist.c10d.NOT_INITIALIZED)
        self.module = module
        object.__setattr__(self, "process_group", group)
        object.__setattr__(self, "_dist", dist)
        self.broadcast_buffers = broadcast_buffers
        self.find_unused_parameters = find_unused_parameters
        self.static_graph = static_graph
        self.require_backward_grad_sync = True
        self.device_ids = device_ids
        self.output_device = output_device
        self.bucket_bytes_cap = int((DEFAULT_BUCKET_CAP_MB if bucket_cap_mb is None else bucket_cap_mb) * 1024 ** 2)
        _verify_same_model(module, group, dist)
        if init_sync:
            self._sync_from_rank0(list(module.parameters()) + list(module.buffers()))
        object.__setattr__(self, "reducer", Reducer(params, group, self.bucket_bytes_cap / 1024 ** 2,
                                                    find_unused_parameters))

    def _sync_from_rank0(self, tensors) -> None:
        works = [self._dist.broadcast(Tensor._wrap(t.array), src=0, group=self.process_group, async_op=True)
                 for t in tensors]
        for work in works:
            work.wait()

    def forward(self, *inputs, **kwargs):
        if self.broadcast_buffers:
            buffers = list(self.module.buffers())
            if buffers:
                self._sync_from_rank0(buffers)  # e.g. BatchNorm's running stats follow rank 0, as in torch
        output = self.module(*inputs, **kwargs)
        if is_grad_enabled() and self.require_backward_grad_sync:
            self.reducer.prepare(output)
        return output

    @contextlib.contextmanager
    def no_sync(self):
        """Inside, forward/backward only accumulate grads locally; the first synced backward after averages
        the accumulated grads (gradient accumulation without communication)."""
        previous = self.require_backward_grad_sync
        self.require_backward_grad_sync = False
        try:
            yield
        finally:
            self.require_backward_grad_sync = previous

    @property
    def bucket_assignment(self) -> list[list[int]]:
        """minigrad's extra: the parameter indices in each gradient bucket (reverse parameter order)."""
        return self.reducer.assignment

    @property
    def comm_stats(self) -> dict:
        """minigrad's extra: steps reduced, seconds spent launching and blocked waiting for buckets, bytes."""
        return dict(self.reducer.stats)

    def extra_repr(self) -> str:
        return ""


def _verify_same_model(module: Module, group, dist) -> None:
    """Every rank checks every rank's parameter shapes, so all raise the same clear error instead of hanging."""
    import numpy as np
    named = list(module.named_parameters())
    mine = [len(named)]
    for _, p in named:
        mine += [p.ndim, *p.shape]
    length = Tensor._wrap(np.asarray([len(mine)], dtype=np.int64))
    dist.all_reduce(length, op=dist.ReduceOp.MAX, group=group)
    padded = np.full(int(length.array[0]), -1, dtype=np.int64)
    padded[:len(mine)] = mine
    table = [Tensor._wrap(np.empty_like(padded)) for _ in range(group.size())]
    dist.all_gather(table, Tensor._wrap(padded), group=group)
    ours = _decode(padded)
    for rank, row in enumerate(table):
        theirs = _decode(row.array)
        if len(theirs) != len(ours):
            raise RuntimeError(f"DDP expects same model across all ranks, but Rank {group.rank()} has {len(ours)} "
                               f"params, while rank {rank} has inconsistent {len(theirs)} params.")
        for (name, _), shape, other in zip(named, ours, theirs):
            if shape != other:
                raise RuntimeError(f"DDP expects same model across all ranks, but Rank {group.rank()} has parameter "
                                   f"{name!r} of shape {list(shape)}, while rank {rank} has shape {list(other)}.")


def _decode(row) -> list[tuple]:
    row = [int(v) for v in row]
    shapes, at = [], 1
    for _ in range(row[0]):
        ndim = row[at]
        shapes.append(tuple(row[at + 1:at + 1 + ndim]))
        at += 1 + ndim
    return shapes
