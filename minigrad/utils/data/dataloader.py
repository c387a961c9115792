"""DataLoader, default_collate and default_convert, mirroring torch.utils.data (map-style datasets).

``num_workers=N`` runs N worker processes (multiprocessing, the platform's default start method as torch):
batch i goes to worker i % N, at most ``prefetch_factor * N`` batches are in flight, and batches come
back in order. Samplers run in the main process, so the batches are the same for any ``num_workers``.
``pin_memory`` is accepted and does nothing: minigrad's CPU arrays need no pinning, and ``device=``
(minigrad's extra) moves each batch in the main process.
"""
from __future__ import annotations

import collections.abc
import multiprocessing
import os
import pickle
import queue
import time
from collections.abc import Iterable, Iterator, Sequence
from typing import Any, Callable

import numpy as np

import minigrad

from .sampler import BatchSampler, RandomSampler, Sampler, SequentialSampler, draw_seed
from .worker import STATUS_CHECK_INTERVAL, ExceptionWrapper, worker_loop

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


def default_convert(data: Any) -> Any:
    """What the loader applies to each sample when batching is off (``batch_size=None``): numpy arrays and
    scalars become tensors, containers are converted element by element, anything else is left alone."""
    if isinstance(data, np.ndarray) and data.dtype.kind not in "OSUV":
        return minigrad.from_numpy(np.ascontiguousarray(data))
    if isinstance(data, np.generic) and data.dtype.kind not in "OSUV":
        return minigrad.from_numpy(np.asarray(data))
    if isinstance(data, collections.abc.Mapping):
        return {key: default_convert(value) for key, value in data.items()}
    if isinstance(data, tuple) and hasattr(data, "_fields"):
        return type(data)(*(default_convert(d) for d in data))
    if isinstance(data, tuple):
        return [default_convert(d) for d in data]  # as torch: a tuple comes back as a list
    if isinstance(data, collections.abc.Sequence) and not isinstance(data, (str, bytes)):
        return [default_convert(d) for d in data]
    return data


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


class _Fetcher:
    """Turns one entry of the index sampler into a batch; the same object runs in worker processes."""

    def __init__(self, dataset: Any, auto_collation: bool, collate_fn: Callable):
        self.dataset = dataset
        self.auto_collation = auto_collation
        self.collate_fn = collate_fn

    def __call__(self, index: Any) -> Any:
        if not self.auto_collation:
            return self.collate_fn(self.dataset[index])
        indices = np.asarray(index, dtype=np.int64).reshape(-1)
        if self.collate_fn is default_collate:  # the dataset's one-step batch, when it has one
            get_batch = getattr(self.dataset, "get_batch", None)
            batch = None if get_batch is None else get_batch(indices)
            if batch is not None:
                return batch
        return self.collate_fn([self.dataset[int(i)] for i in indices])


_FIXED_AFTER_INIT = ("batch_size", "batch_sampler", "sampler", "drop_last", "dataset", "persistent_workers")


class DataLoader:
    """Iterate over a map-style dataset in batches, as torch.utils.data.DataLoader.

    Shuffling (``shuffle=True`` builds a RandomSampler) draws from ``generator``, or from the default
    generator, so ``minigrad.manual_seed`` makes it reproducible; as torch, each new iteration also draws
    the workers' base seed from it, whatever ``num_workers`` is. Without a custom ``collate_fn``, a
    dataset's ``get_batch(indices)`` builds each batch in one step. ``device`` (minigrad's extra) moves
    every batch there.
    """

    def __init__(self, dataset: Any, batch_size: int | None = 1, shuffle: bool | None = None,
                 sampler: Sampler | Iterable | None = None, batch_sampler: Sampler | Iterable | None = None,
                 num_workers: int = 0, collate_fn: Callable[[list[Any]], Any] | None = None,
                 pin_memory: bool = False, drop_last: bool = False, timeout: float = 0,
                 worker_init_fn: Callable[[int], None] | None = None, multiprocessing_context=None,
                 generator: minigrad.Generator | None = None, *, prefetch_factor: int | None = None,
                 persistent_workers: bool = False, pin_memory_device: str = "", in_order: bool = True,
                 device: str | minigrad.device | None = None):
        if not hasattr(dataset, "__getitem__"):
            raise NotImplementedError(f"DataLoader: {type(dataset).__name__} has no __getitem__; minigrad supports "
                                      "map-style datasets only (IterableDataset is not implemented)")
        if isinstance(num_workers, bool) or not isinstance(num_workers, int) or num_workers < 0:
            raise ValueError("num_workers option should be non-negative; use num_workers=0 to disable multiprocessing.")
        if timeout < 0:
            raise ValueError("timeout option should be non-negative")
        if num_workers == 0 and prefetch_factor is not None:
            raise ValueError("prefetch_factor option could only be specified in multiprocessing.let num_workers > 0 "
                             "to enable multiprocessing, otherwise set prefetch_factor to None.")
        if num_workers > 0 and prefetch_factor is None:
            prefetch_factor = 2
        elif prefetch_factor is not None and prefetch_factor < 0:
            raise ValueError("prefetch_factor option should be non-negative")
        if persistent_workers and num_workers == 0:
            raise ValueError("persistent_workers option needs num_workers > 0")

        if sampler is not None and shuffle:
            raise ValueError("sampler option is mutually exclusive with shuffle")
        if batch_sampler is not None:
            if batch_size != 1 or shuffle or sampler is not None or drop_last:
                raise ValueError("batch_sampler option is mutually exclusive with batch_size, shuffle, sampler, "
                                 "and drop_last")
            batch_size, drop_last = None, False
        elif batch_size is None and drop_last:
            raise ValueError("batch_size=None option disables auto-batching and is mutually exclusive with drop_last")
        if sampler is None:
            sampler = RandomSampler(dataset, generator=generator) if shuffle else SequentialSampler(dataset)
        builtin_batches = batch_size is not None and batch_sampler is None
        if builtin_batches:
            batch_sampler = BatchSampler(sampler, batch_size, drop_last)  # validates batch_size and drop_last

        self.dataset = dataset
        self.num_workers = num_workers
        self.prefetch_factor = prefetch_factor
        self.pin_memory = pin_memory  # a no-op: see the module docstring
        self.pin_memory_device = pin_memory_device
        self.timeout = timeout
        self.worker_init_fn = worker_init_fn
        self.multiprocessing_context = _context(multiprocessing_context, num_workers)
        self.batch_size = batch_size
        self.drop_last = drop_last
        self.sampler = sampler
        self.batch_sampler = batch_sampler
        self.generator = generator
        self.collate_fn = collate_fn if collate_fn is not None else (
            default_collate if batch_sampler is not None else default_convert)
        self.persistent_workers = persistent_workers
        self.in_order = in_order
        self.device = None if device is None else minigrad.device(device)
        self._builtin_batches = builtin_batches
        self._iterator = None
        self._initialized = True

    def __setattr__(self, name: str, value: Any) -> None:
        if getattr(self, "_initialized", False) and name in _FIXED_AFTER_INIT:
            raise ValueError(f"{name} attribute should not be set after {type(self).__name__} is initialized")
        super().__setattr__(name, value)

    @property
    def _auto_collation(self) -> bool:
        return self.batch_sampler is not None

    @property
    def _index_sampler(self) -> Iterable:
        return self.batch_sampler if self._auto_collation else self.sampler

    def __len__(self) -> int:
        return len(self._index_sampler)

    def __iter__(self) -> Iterator[Any]:
        if self.num_workers == 0:
            return _SingleProcessIter(self)
        if not self.persistent_workers:
            return _MultiProcessIter(self)
        if self._iterator is None:
            self._iterator = _MultiProcessIter(self)
        else:
            self._iterator.reset()
        return self._iterator

    def fetch(self, indices: np.ndarray) -> Any:
        """The collated batch for an int64 index array: the dataset's fast path if it has one, else per item."""
        return _Fetcher(self.dataset, True, self.collate_fn)(indices)


def _context(spec, num_workers: int):
    """torch's multiprocessing_context checks; None means the platform's default start method."""
    if spec is None:
        return None
    if num_workers == 0:
        raise ValueError(f"multiprocessing_context can only be used with multi-process loading (num_workers > 0), "
                         f"but got num_workers={num_workers}")
    if isinstance(spec, str):
        methods = multiprocessing.get_all_start_methods()
        if spec not in methods:
            raise ValueError(f"multiprocessing_context option should specify a valid start method in {methods!r}, "
                             f"but got multiprocessing_context={spec!r}")
        return multiprocessing.get_context(spec)
    if not isinstance(spec, multiprocessing.context.BaseContext):
        raise TypeError(f"multiprocessing_context option should be a valid context object or a string specifying "
                        f"the start method, but got multiprocessing_context={spec}")
    return spec


def _numpy_batches(sampler: Iterable[int], batch_size: int, drop_last: bool) -> Iterator[np.ndarray]:
    """What BatchSampler(sampler, batch_size, drop_last) yields, as int64 arrays sliced from the epoch's
    order (~30 us a batch less than lists of Python ints); a generator, so the sampler still draws its
    order when the first batch is asked for, as torch's does."""
    if type(sampler) in (SequentialSampler, RandomSampler):  # exactly ours (a subclass may iterate otherwise)
        order = sampler.order()
    else:
        order = np.fromiter(sampler, dtype=np.int64)
    stop = len(order) - len(order) % batch_size if drop_last else len(order)
    for start in range(0, stop, batch_size):
        yield order[start:start + batch_size]


class _BaseIter:
    """One pass over the loader. As torch, creating it draws the base seed (from the loader's generator or
    the default one) and starts the index sampler, which draws its order when the first batch is asked for."""

    def __init__(self, loader: DataLoader):
        self.loader = loader
        self.fetch = _Fetcher(loader.dataset, loader._auto_collation, loader.collate_fn)
        self.base_seed = draw_seed(loader.generator)
        self.reset()

    def reset(self) -> None:
        loader = self.loader
        if loader._builtin_batches:  # the BatchSampler is ours: the same batches, cut from one array
            self.indices = _numpy_batches(loader.sampler, loader.batch_size, loader.drop_last)
        else:
            self.indices = iter(loader._index_sampler)

    def __iter__(self):
        return self

    def __len__(self) -> int:
        return len(self.loader)

    def _finish(self, batch: Any) -> Any:
        return batch if self.loader.device is None else _to_device(batch, self.loader.device)


class _SingleProcessIter(_BaseIter):
    def __next__(self) -> Any:
        return self._finish(self.fetch(next(self.indices)))


class _MultiProcessIter(_BaseIter):
    """Worker processes fed round-robin through one index queue each; results come back on one queue and
    are put back in order. Tasks carry the epoch, so a persistent iterator drops what an abandoned epoch
    still had in flight."""

    def __init__(self, loader: DataLoader):
        self.epoch = -1
        self.workers = []
        super().__init__(loader)  # reset() starts epoch 0
        context = loader.multiprocessing_context or multiprocessing
        self.result_queue = context.Queue()
        self.index_queues = []
        for worker_id in range(loader.num_workers):
            index_queue = context.Queue()
            index_queue.cancel_join_thread()  # never block shutdown on tasks nobody will read
            process = context.Process(
                target=worker_loop, daemon=True,  # daemonic: they die with the main process
                args=(self.fetch, loader.dataset, index_queue, self.result_queue, self.base_seed,
                      loader.worker_init_fn, worker_id, loader.num_workers, os.getpid()))
            process.start()
            self.index_queues.append(index_queue)
            self.workers.append(process)
        self._fill()

    def reset(self) -> None:
        super().reset()
        self.epoch += 1
        self.sent = self.received = 0
        self.ready: dict[int, Any] = {}
        self.exhausted = False
        if self.workers:  # a persistent iterator starting a new epoch
            self._fill()

    def _fill(self) -> None:
        """Send tasks until prefetch_factor per worker are in flight or the sampler is exhausted."""
        limit = max(1, self.loader.prefetch_factor * self.loader.num_workers)
        while not self.exhausted and self.sent - self.received < limit:
            try:
                index = next(self.indices)
            except StopIteration:
                self.exhausted = True
                return
            self.index_queues[self.sent % len(self.workers)].put((self.epoch, self.sent, index))
            self.sent += 1

    def __next__(self) -> Any:
        if self.received == self.sent and self.exhausted:
            if not self.loader.persistent_workers:
                self.shutdown()
            raise StopIteration
        if self.received not in self.ready and not self.workers:
            raise RuntimeError("DataLoader iterator used after its workers were shut down")
        while self.received not in self.ready:
            epoch, number, payload = self._get()
            if epoch == self.epoch:  # results of an abandoned epoch are dropped
                self.ready[number] = payload
        payload = self.ready.pop(self.received)
        self.received += 1
        self._fill()
        batch = pickle.loads(payload)
        if isinstance(batch, ExceptionWrapper):
            self.shutdown()
            batch.reraise()
        return self._finish(batch)

    def _get(self) -> tuple:
        """The next result, checking meanwhile that the workers live and the timeout has not passed."""
        timeout = self.loader.timeout
        start = time.monotonic()
        while True:
            wait = STATUS_CHECK_INTERVAL if not timeout else min(STATUS_CHECK_INTERVAL,
                                                                 max(timeout - (time.monotonic() - start), 0.001))
            try:
                return self.result_queue.get(timeout=wait)
            except queue.Empty:
                pass
            dead = [w for w in self.workers if not w.is_alive()]
            if dead:
                pids = ", ".join(str(w.pid) for w in dead)
                self.shutdown()
                raise RuntimeError(f"DataLoader worker (pid(s) {pids}) exited unexpectedly")
            if timeout and time.monotonic() - start >= timeout:
                self.shutdown()
                raise RuntimeError(f"DataLoader timed out after {timeout} seconds")

    def shutdown(self) -> None:
        """Tell every worker to stop, wait briefly, then terminate stragglers; safe to call twice."""
        workers, self.workers = self.workers, []
        for index_queue, worker in zip(self.index_queues, workers):
            if worker.is_alive():
                try:
                    index_queue.put(None)
                except (OSError, ValueError):  # the queue is already closed
                    pass
        for worker in workers:
            worker.join(timeout=STATUS_CHECK_INTERVAL)
            if worker.is_alive():
                worker.terminate()
                worker.join()
        for q in [*self.index_queues, self.result_queue]:
            q.cancel_join_thread()
            q.close()
        self.index_queues = []
        if self.loader._iterator is self:
            self.loader._iterator = None

    def __del__(self):
        if getattr(self, "workers", None):
            try:
                self.shutdown()
            except Exception:  # at interpreter exit modules may be torn down; daemonic workers die anyway
                pass
