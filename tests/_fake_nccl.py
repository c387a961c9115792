"""A CPU stand-in for ``cupy.cuda.nccl`` and the bits of ``cupy.cuda`` the NCCL backend uses.

Every rank lives in this one process. Each rank's communicator receives the same pointer-level calls
the real one would (addresses, element counts, NCCL datatype and op codes); the n-th call of every
rank is executed together, on host memory, once all ranks have issued it. Until then the rank's
stream event reports "not done", exactly as a real NCCL kernel waiting for its peers.
"""
from __future__ import annotations

import ctypes
import itertools
import threading
import typing

import numpy as np

NCCL_INT8, NCCL_UINT8, NCCL_INT32, NCCL_UINT32, NCCL_INT64, NCCL_UINT64 = range(6)
NCCL_FLOAT16, NCCL_FLOAT32, NCCL_FLOAT64 = 6, 7, 8
NCCL_SUM, NCCL_PROD, NCCL_MAX, NCCL_MIN, NCCL_AVG = range(5)
DTYPES = {NCCL_INT8: np.int8, NCCL_UINT8: np.uint8, NCCL_INT32: np.int32, NCCL_INT64: np.int64,
          NCCL_FLOAT16: np.float16, NCCL_FLOAT32: np.float32, NCCL_FLOAT64: np.float64}


class NcclError(RuntimeError):
    pass


def view(ptr: int, count: int, code: int) -> np.ndarray:
    """The host array at ``ptr``: what the real NCCL would read or write on the device."""
    dtype = np.dtype(DTYPES[code])
    raw = (ctypes.c_char * (count * dtype.itemsize)).from_address(ptr)
    return np.frombuffer(raw, dtype=dtype)


def _reduce(arrays, op):
    stacked = np.stack(arrays)
    if op == NCCL_AVG:
        total = stacked.sum(0)
        return total / len(arrays) if stacked.dtype.kind == "f" else np.trunc(total / len(arrays))
    return {NCCL_SUM: np.sum, NCCL_PROD: np.prod, NCCL_MAX: np.max, NCCL_MIN: np.min}[op](stacked, axis=0)


class _Call:
    def __init__(self, kind, args):
        self.kind, self.args, self.done = kind, args, False


class World:
    """The ranks sharing one unique id."""

    worlds: typing.ClassVar[dict] = {}

    def __init__(self, size):
        self.size = size
        self.comms = {}
        self.queue = {}  # call number -> {rank: _Call}

    def submit(self, rank, number, call):
        with _lock:  # ranks may also run as threads
            slot = self.queue.setdefault(number, {})
            slot[rank] = call
            if len(slot) == self.size:
                self.execute([slot[r] for r in range(self.size)])
                del self.queue[number]

    def execute(self, calls):
        kinds = {c.kind for c in calls}
        assert len(kinds) == 1, f"ranks issued different collectives: {kinds}"
        kind = calls[0].kind
        if kind == "group":
            self._point_to_point(calls)
        else:
            # read every input before writing any output: buffers may be used in place
            inputs = [view(c.args["send"], c.args["count"], c.args["dtype"]).copy() for c in calls]
            for r, c in enumerate(calls):
                a = c.args
                if kind == "allReduce" or (kind == "reduce" and r == a["root"]):
                    out = _reduce(inputs, a["op"])
                elif kind == "broadcast":
                    out = inputs[a["root"]]
                elif kind == "allGather":
                    out = np.concatenate(inputs)
                elif kind == "reduceScatter":
                    k = a["recvcount"]
                    out = _reduce([x[r * k:(r + 1) * k] for x in inputs], a["op"])
                else:  # reduce on a non-root rank: nothing is written
                    continue
                target = view(a["recv"], out.size, a["dtype"])
                target[...] = out.astype(target.dtype)
        for c in calls:
            c.done = True

    def _point_to_point(self, calls):
        sends = {}
        for rank, c in enumerate(calls):
            for kind, ptr, count, code, peer in c.args:
                if kind == "send":
                    sends.setdefault((rank, peer), []).append(view(ptr, count, code).copy())
        for rank, c in enumerate(calls):
            for kind, ptr, count, code, peer in c.args:
                if kind == "recv":
                    view(ptr, count, code)[...] = sends[(peer, rank)].pop(0)


_lock = threading.Lock()
_local = threading.local()  # per thread (rank): the open group, and the calls launched since the last event


def _state():
    if not hasattr(_local, "group"):
        _local.group, _local.launched = [], []
    return _local


def groupStart():
    _state().group.append(set())


def groupEnd():
    for comm in _state().group.pop():
        comm._issue("group", comm.pending_p2p)
        comm.pending_p2p = []


def get_unique_id():
    return tuple(int(b) - 128 for b in np.random.default_rng().integers(0, 256, 128))


class NcclCommunicator:
    def __init__(self, ndev, uid, rank):
        self.world = World.worlds.setdefault(uid, World(ndev))
        self.rank = rank
        self.world.comms[rank] = self
        self.count = itertools.count()
        self.pending_p2p = []
        self.aborted = False
        self.async_error = None

    def _issue(self, kind, args):
        if self.aborted:
            raise NcclError("communicator aborted")
        call = _Call(kind, args)
        _state().launched.append(call)
        self.world.submit(self.rank, next(self.count), call)

    def allReduce(self, send, recv, count, dtype, op, stream):
        self._issue("allReduce", {"send": send, "recv": recv, "count": count, "dtype": dtype, "op": op})

    def broadcast(self, send, recv, count, dtype, root, stream):
        self._issue("broadcast", {"send": send, "recv": recv, "count": count, "dtype": dtype, "root": root})

    def reduce(self, send, recv, count, dtype, op, root, stream):
        self._issue("reduce", {"send": send, "recv": recv, "count": count, "dtype": dtype, "op": op, "root": root})

    def allGather(self, send, recv, count, dtype, stream):
        self._issue("allGather", {"send": send, "recv": recv, "count": count, "dtype": dtype})

    def reduceScatter(self, send, recv, recvcount, dtype, op, stream):
        self._issue("reduceScatter", {"send": send, "recv": recv, "count": recvcount * self.world.size, "dtype": dtype,
                                          "op": op, "recvcount": recvcount})

    def send(self, ptr, count, dtype, peer, stream):
        assert _state().group, "send outside groupStart/groupEnd"
        _state().group[-1].add(self)
        self.pending_p2p.append(("send", ptr, count, dtype, peer))

    def recv(self, ptr, count, dtype, peer, stream):
        assert _state().group, "recv outside groupStart/groupEnd"
        _state().group[-1].add(self)
        self.pending_p2p.append(("recv", ptr, count, dtype, peer))

    def check_async_error(self):
        if self.async_error:
            raise NcclError(self.async_error)

    def abort(self):
        self.aborted = True

    def destroy(self):
        pass


# ---- the cupy.cuda stand-in: a stream remembers the calls launched on it; an event, those before it


class Stream:
    ptr = 0

    def __init__(self, non_blocking=False):
        self.calls = []

    def wait_event(self, event):
        pass


class Event:
    def record(self, stream):
        stream.calls.extend(_state().launched)
        _state().launched.clear()
        self.calls = list(stream.calls)

    @property
    def done(self):
        return all(c.done for c in self.calls)


_default_stream = Stream()


class cuda:
    Stream = Stream
    Event = Event

    @staticmethod
    def get_current_stream():
        return _default_stream
