"""DDP's gradient reducer: parameters grouped into buckets, each all-reduced as soon as its grads are in.

Buckets follow the parameters in reverse order (backward produces the last layer's grads first), so the
first bucket is ready while backward is still working on the early layers and its all-reduce overlaps
that work. Buckets are launched strictly in index order: every rank must issue its collectives in the
same order, whatever order its grads happen to arrive in.
"""
from __future__ import annotations

import time

from ...tensor import Tensor

DEFAULT_BUCKET_CAP_MB = 25.0
FIRST_BUCKET_CAP_MB = 1.0  # torch starts with a small bucket so communication begins early


def compute_bucket_assignment(params: list, cap_bytes: float, first_cap_bytes: float | None = None) -> list[list[int]]:
    """Indices into ``params`` per bucket: reverse order, a new bucket when the cap would be passed or the
    dtype/device changes (a bucket is one flat buffer). A parameter larger than the cap gets its own bucket."""
    first_cap_bytes = cap_bytes if first_cap_bytes is None else min(first_cap_bytes, cap_bytes)
    buckets: list[list[int]] = []
    current: list[int] = []
    size, key = 0, None
    for i in reversed(range(len(params))):
        p = params[i]
        nbytes = p.array.nbytes
        this_key = (p.array.dtype, str(p.device))
        cap = first_cap_bytes if not buckets else cap_bytes
        if current and (this_key != key or size + nbytes > cap):
            buckets.append(current)
            current, size = [], 0
        current.append(i)
        size += nbytes
        key = this_key
    if current:
        buckets.append(current)
    return buckets


class _Bucket:
    """One flat gradient buffer and the parameters whose grads it carries."""

    def __init__(self, params: list):
        self.params = params
        xp = params[0].xp
        self.offsets, total = [], 0
        for p in params:
            self.offsets.append((total, total + p.array.size))
            total += p.array.size
        self.flat = Tensor._wrap(xp.zeros(total, dtype=params[0].array.dtype))
        self.pending = len(params)
        self.work = None

    def fill(self, index: int, param) -> None:
        start, end = self.offsets[index]
        target = self.flat.array[start:end]
        if param.grad is None:
            target[...] = 0  # an unused parameter contributes zeros
        else:
            target[...] = param.grad.array.reshape(-1)


class Reducer:
    """Arms at forward, collects grads from post-accumulate hooks, launches buckets, finishes at the last grad."""

    def __init__(self, params: list, process_group, bucket_cap_mb: float, find_unused_parameters: bool,
                 first_bucket_cap_mb: float = FIRST_BUCKET_CAP_MB):
        import minigrad.distributed as dist  # deferred: nn must import without the distributed package loaded
        self.dist = dist
        self.group = process_group
        self.params = params
        self.find_unused = find_unused_parameters
        cap = bucket_cap_mb * 1024 * 1024
        self.assignment = compute_bucket_assignment(params, cap, first_bucket_cap_mb * 1024 * 1024)
        self.where = {}  # param index -> (bucket index, position in bucket)
        for b, indices in enumerate(self.assignment):
            for pos, i in enumerate(indices):
                self.where[i] = (b, pos)
        self.index_of = {id(p): i for i, p in enumerate(params)}
        self.buckets = [_Bucket([params[i] for i in indices]) for indices in self.assignment]
        self.armed = False
        self.ready = [False] * len(params)
        self.local_used = None
        self.next_launch = 0
        self.stats = {"steps": 0, "wait_s": 0.0, "launch_s": 0.0, "bytes": sum(b.flat.array.nbytes
                                                                           for b in self.buckets)}
        self.handles = [p.register_post_accumulate_grad_hook(self._on_grad) for p in params]

    # ---------------------------------------------------------------- lifecycle of one iteration
    def prepare(self, outputs) -> None:
        """Called by DDP's forward when a synced backward will follow."""
        if self.armed:
            raise RuntimeError(
                "Expected to have finished reduction in the prior iteration before starting a new one. This error "
                "indicates that your module has parameters that were not used in producing loss. You can enable "
                "unused parameter detection by passing the keyword argument `find_unused_parameters=True` to "
                "`minigrad.nn.parallel.DistributedDataParallel`, and by making sure all `forward` function outputs "
                "participate in calculating loss. Parameter indices which did not receive grad for rank "
                f"{self.group.rank()}: {[i for i, r in enumerate(self.ready) if not r]}")
        self.armed = True
        self.ready = [False] * len(self.params)
        self.next_launch = 0
        for bucket in self.buckets:
            bucket.pending, bucket.work = len(bucket.params), None
        if self.find_unused:
            reached = _leaves_reached(outputs)
            self.local_used = [id(p) in reached for p in self.params]
            for i, used in enumerate(self.local_used):
                if not used:
                    self._mark_ready(i)

    def _on_grad(self, param) -> None:
        if not self.armed:
            return  # outside a DDP forward, or under no_sync: plain local accumulation
        i = self.index_of[id(param)]
        if self.ready[i]:
            raise RuntimeError(f"Expected to mark a variable ready only once. Parameter at index {i} has been "
                               "marked as ready twice: it may be used twice in the forward pass, or backward ran "
                               "twice through one DDP forward")
        self._mark_ready(i)

    def _mark_ready(self, i: int) -> None:
        self.ready[i] = True
        b, pos = self.where[i]
        bucket = self.buckets[b]
        bucket.fill(pos, self.params[i])
        bucket.pending -= 1
        if bucket.pending == 0:
            self._launch_ready_buckets()
        else:  # MPI makes progress only inside MPI calls: poke the buckets already in flight
            for launched in self.buckets[:self.next_launch]:
                launched.work.is_completed()

    def _launch_ready_buckets(self) -> None:
        start = time.perf_counter()
        while self.next_launch < len(self.buckets) and self.buckets[self.next_launch].pending == 0:
            bucket = self.buckets[self.next_launch]
            bucket.work = self.dist.all_reduce(bucket.flat, op=self.dist.ReduceOp.AVG, group=self.group,
                                               async_op=True)
            self.next_launch += 1
        self.stats["launch_s"] += time.perf_counter() - start
        if self.next_launch == len(self.buckets):
            self._finish()

    def _finish(self) -> None:
        """Every grad is in: wait for the buckets and write the averaged grads back (still inside backward)."""
        start = time.perf_counter()
        globally_used = self._globally_used() if self.find_unused else None
        for bucket, indices in zip(self.buckets, self.assignment):
            bucket.work.wait()
            for pos, (i, p) in enumerate(zip(indices, bucket.params)):
                if globally_used is not None and not globally_used[i]:
                    continue  # unused on every rank: its grad stays as it was, as in torch
                begin, end = bucket.offsets[pos]
                values = bucket.flat.array[begin:end].reshape(p.array.shape)
                if p.grad is None:
                    p.grad = Tensor._wrap(values.copy())
                else:
                    p.grad.array[...] = values
        self.armed = False
        self.stats["steps"] += 1
        self.stats["wait_s"] += time.perf_counter() - start

    def _globally_used(self) -> list[bool]:
        xp = self.params[0].xp
        used = Tensor._wrap(xp.asarray([1 if u else 0 for u in self.local_used], dtype=xp.int32))
        self.dist.all_reduce(used, op=self.dist.ReduceOp.MAX, group=self.group)
        return [bool(u) for u in used.array.tolist()]

    def remove_hooks(self) -> None:
        for handle in self.handles:
            handle.remove()


def _leaves_reached(outputs) -> set:
    """ids of the leaf tensors the outputs' graph reaches (find_unused_parameters' traversal)."""
    stack = [t for t in _tensors_in(outputs) if t.grad_fn is not None]
    seen_fns, leaves = set(), set()
    while stack:
        fn = stack.pop().grad_fn
        if fn is None or fn in seen_fns:
            continue
        seen_fns.add(fn)
        for parent in fn.parents or ():
            if parent.grad_fn is None:
                leaves.add(id(parent))
            else:
                stack.append(parent)
    return leaves


def _tensors_in(obj):
    if isinstance(obj, Tensor):
        yield obj
    elif isinstance(obj, (list, tuple)):
        for item in obj:
            yield from _tensors_in(item)
    elif isinstance(obj, dict):
        for item in obj.values():
            yield from _tensors_in(item)
