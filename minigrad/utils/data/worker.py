"""The worker-process side of DataLoader(num_workers=N): seeding, get_worker_info(), the fetch loop and
exceptions carried back to the main process (mirroring torch.utils.data._utils.worker)."""
from __future__ import annotations

import os
import pickle
import queue
import random
import sys
import traceback
from dataclasses import dataclass
from typing import Any, Callable

import numpy as np

import minigrad

# how often a waiting worker checks that its parent is alive, and a waiting main process that its
# workers are (seconds)
STATUS_CHECK_INTERVAL = 1.0


@dataclass(frozen=True)
class WorkerInfo:
    """What a dataset or worker_init_fn can learn inside a worker: its id, how many workers there are, its
    seed (``base_seed + id``) and its copy of the dataset."""

    id: int
    num_workers: int
    seed: int
    dataset: Any


_worker_info: WorkerInfo | None = None


def get_worker_info() -> WorkerInfo | None:
    """The WorkerInfo of the current DataLoader worker process; None in the main process."""
    return _worker_info


class ExceptionWrapper:
    """An exception raised in a worker, with its traceback as text, re-raised in the main process."""

    def __init__(self, where: str):
        exc_type, exc, _ = sys.exc_info()
        self.exc_type = exc_type if _picklable(exc_type) else RuntimeError
        self.type_name = exc_type.__name__
        self.exc_msg = "".join(traceback.format_exception(exc_type, exc, exc.__traceback__))
        self.where = where

    def reraise(self):
        message = f"Caught {self.type_name} {self.where}.\nOriginal {self.exc_msg}"
        if self.exc_type is KeyError:  # KeyError would show the message as a quoted repr
            raise KeyError(_KeyErrorMessage(message))
        try:
            error = self.exc_type(message)
        except Exception:  # a constructor that wants other arguments
            raise RuntimeError(message) from None
        raise error


class _KeyErrorMessage(str):
    def __repr__(self):
        return self


def _picklable(obj) -> bool:
    try:
        pickle.dumps(obj)
    except Exception:
        return False
    return True


def seed_worker(base_seed: int, worker_id: int) -> int:
    """Seed Python's, NumPy's global and minigrad's default random streams as torch seeds a worker."""
    seed = base_seed + worker_id
    random.seed(seed)
    minigrad.manual_seed(seed)
    np.random.seed(np.random.SeedSequence([worker_id, base_seed]).generate_state(4))
    return seed


def worker_loop(fetch: Callable, dataset: Any, index_queue, result_queue, base_seed: int,
                init_fn: Callable | None, worker_id: int, num_workers: int, parent_pid: int) -> None:
    """Fetch the batches named on `index_queue` until told to stop (None) or the parent is gone.

    Tasks are ``(epoch, batch_number, indices)``; results ``(epoch, batch_number, pickled batch or
    ExceptionWrapper)``.
    An exception in worker_init_fn is reported for every task, as torch does."""
    global _worker_info
    try:
        seed = seed_worker(base_seed, worker_id)
        _worker_info = WorkerInfo(id=worker_id, num_workers=num_workers, seed=seed, dataset=dataset)
        init_error = None
        if init_fn is not None:
            try:
                init_fn(worker_id)
            except Exception:
                init_error = ExceptionWrapper(f"in DataLoader worker process {worker_id}")
        while True:
            try:
                task = index_queue.get(timeout=STATUS_CHECK_INTERVAL)
            except queue.Empty:
                if os.getppid() != parent_pid:  # orphaned: the main process died without telling us
                    return
                continue
            if task is None:
                return
            epoch, number, indices = task
            try:
                if init_error is not None:
                    payload = pickle.dumps(init_error, pickle.HIGHEST_PROTOCOL)
                else:  # pickled here, not in the queue's feeder thread, so a failure is reported, not lost
                    payload = pickle.dumps(fetch(indices), pickle.HIGHEST_PROTOCOL)
            except Exception:
                payload = pickle.dumps(ExceptionWrapper(f"in DataLoader worker process {worker_id}"))
            result_queue.put((epoch, number, payload))
    except KeyboardInterrupt:  # Ctrl-C reaches the whole process group; the main process reports it
        pass
