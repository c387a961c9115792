"""The NCCL backend: collectives on GPU arrays through CuPy's NCCL binding (``cupy.cuda.nccl``).

Each collective runs on the backend's own CUDA stream, ordered after the work already queued on the
current stream (an event), and its Work polls a second event, so ``wait()`` keeps the same deadline and
peer checks as MPI; NCCL's own asynchronous errors are read on every poll and abort the communicator.
gather and scatter, which NCCL lacks, are grouped send/recv.

``nccl`` and ``cuda`` are injectable so the whole class is unit-tested on a CPU against a fake
communicator that executes the same pointer-level calls on host memory (tests/_fake_nccl.py).
"""
from __future__ import annotations

import contextlib
import os
import time

import numpy as np

from .. import _atomic
from .backend import Backend, DistBackendError, RedOpType, Work, check_launcher

NCCL_AVG = 4  # ncclAvg (NCCL >= 2.10); older CuPy builds do not name it


def load_nccl():
    """((cupy.cuda.nccl, cupy.cuda, cupy), None), or (None, the reason they are unusable)."""
    from ..backend import unavailable_reason
    reason = unavailable_reason()
    if reason is not None:
        return None, reason
    import cupy
    try:
        from cupy.cuda import nccl
    except ImportError as error:
        return None, f"CuPy cannot load NCCL ({error}); install the nccl package matching your CUDA"
    if not getattr(nccl, "available", True):
        return None, "CuPy was built without NCCL; install the nccl package matching your CUDA"
    return (nccl, cupy.cuda, cupy), None


def _pointer(array) -> int:
    data = array.data
    return data.ptr if hasattr(data, "ptr") else array.ctypes.data  # cupy, or numpy (the CPU fake)


class NCCLBackend(Backend):
    name = "nccl"
    supported_ops = frozenset({RedOpType.SUM, RedOpType.AVG, RedOpType.PRODUCT, RedOpType.MIN, RedOpType.MAX})

    def __init__(self, rank: int, world_size: int, timeout: float, unique_id, detector=None,
                 nccl=None, cuda=None, xp=None):
        if nccl is None:
            loaded, reason = load_nccl()
            if loaded is None:
                raise RuntimeError(f"the nccl backend is unavailable: {reason}")
            nccl, cuda, xp = loaded
        super().__init__(rank, world_size, timeout, detector)
        self.nccl, self.cuda, self.xp = nccl, cuda, xp
        self.comm = nccl.NcclCommunicator(world_size, tuple(unique_id), rank)
        self.stream = cuda.Stream(non_blocking=True)
        self.ops = {RedOpType.SUM: nccl.NCCL_SUM, RedOpType.AVG: getattr(nccl, "NCCL_AVG", NCCL_AVG),
                    RedOpType.PRODUCT: nccl.NCCL_PROD, RedOpType.MIN: nccl.NCCL_MIN, RedOpType.MAX: nccl.NCCL_MAX}
        self.types = {np.dtype(name): getattr(nccl, code) for name, code in [
            ("int8", "NCCL_INT8"), ("uint8", "NCCL_UINT8"), ("int32", "NCCL_INT32"), ("int64", "NCCL_INT64"),
            ("float16", "NCCL_FLOAT16"), ("float32", "NCCL_FLOAT32"), ("float64", "NCCL_FLOAT64")]}

    def stage(self, array):
        return self.xp.asarray(array)  # NCCL reads device memory: host arrays (e.g. DDP's checks) are copied over

    def array_module(self, array):  # noqa: ARG002  (the interface)
        return self.xp

    def _type(self, array) -> int:
        code = self.types.get(np.dtype(array.dtype))
        if code is None:
            raise TypeError(f"the nccl backend does not support tensors of dtype {array.dtype}")
        return code

    def _launch(self, what: str, calls, *keep_alive) -> Work:
        """Queue ``calls(stream_ptr)`` on our stream after the current stream's work; Work polls an event."""
        ready = self.cuda.Event()
        ready.record(self.cuda.get_current_stream())
        self.stream.wait_event(ready)
        calls(self.stream.ptr)
        done = self.cuda.Event()
        done.record(self.stream)

        def test():
            self.comm.check_async_error()  # raises NcclError: a peer's failure surfaced inside NCCL
            return done.done
        return Work(self, what, test, lambda: keep_alive)  # the arrays live until the transfer ends

    def all_reduce(self, array, op):
        what = self.start(f"all_reduce({op.name})")
        p = _pointer(array)
        return self._launch(what, lambda s: self.comm.allReduce(p, p, array.size, self._type(array),
                                                                self.ops[op], s), array)

    def broadcast(self, array, root):
        what = self.start(f"broadcast(src={root})")
        p = _pointer(array)
        return self._launch(what, lambda s: self.comm.broadcast(p, p, array.size, self._type(array), root, s),
                            array)

    def all_gather(self, output, input):
        what = self.start("all_gather")
        return self._launch(what, lambda s: self.comm.allGather(_pointer(input), _pointer(output), input.size,
                                                                self._type(input), s), output, input)

    def reduce_scatter(self, output, input, op):
        what = self.start(f"reduce_scatter({op.name})")
        return self._launch(what, lambda s: self.comm.reduceScatter(
            _pointer(input), _pointer(output), output.size, self._type(output), self.ops[op], s), output, input)

    def reduce(self, array, root, op):
        what = self.start(f"reduce({op.name}, dst={root})")
        p = _pointer(array)
        return self._launch(what, lambda s: self.comm.reduce(p, p, array.size, self._type(array), self.ops[op],
                                                             root, s), array)

    def _grouped(self, calls):
        def run(stream):
            self.nccl.groupStart()
            try:
                calls(stream)
            finally:
                self.nccl.groupEnd()
        return run

    def gather(self, output, input, root):
        what = self.start(f"gather(dst={root})")
        n, code = input.size, self._type(input)

        def calls(s):
            self.comm.send(_pointer(input), n, code, root, s)
            if self.rank == root:
                base, step = _pointer(output), n * input.itemsize
                for r in range(self.world_size):
                    self.comm.recv(base + r * step, n, code, r, s)
        return self._launch(what, self._grouped(calls), output, input)

    def scatter(self, output, input, root):
        what = self.start(f"scatter(src={root})")
        n, code = output.size, self._type(output)

        def calls(s):
            if self.rank == root:
                base, step = _pointer(input), n * output.itemsize
                for r in range(self.world_size):
                    self.comm.send(base + r * step, n, code, r, s)
            self.comm.recv(_pointer(output), n, code, root, s)
        return self._launch(what, self._grouped(calls), output, input)

    def barrier(self):
        # NCCL has no barrier: a one-element all-reduce orders every rank, as torch's ProcessGroupNCCL does
        token = self.xp.zeros(1, dtype=np.float32)
        what = self.start("barrier")
        p = _pointer(token)
        return self._launch(what, lambda s: self.comm.allReduce(p, p, 1, self.types[np.dtype("float32")],
                                                                self.ops[RedOpType.SUM], s), token)

    def abort(self):
        # already aborted or destroyed: nothing is left to unblock
        with contextlib.suppress(getattr(self.nccl, "NcclError", RuntimeError)):
            self.comm.abort()  # unblocks kernels waiting for a dead peer

    def shutdown(self):
        super().shutdown()
        if self.broken is None:
            self.comm.destroy()


# ------------------------------------------------------------------------------------------------ bootstrap
def unique_id_to_bytes(uid) -> bytes:
    return bytes(b & 0xFF for b in uid)  # CuPy's id is a tuple of 128 signed chars


def unique_id_from_bytes(data: bytes) -> tuple:
    return tuple(b - 256 if b > 127 else b for b in data)


def exchange_unique_id_via_file(path: str, rank: int, make_id, timeout: float, poll_s: float = 0.05) -> tuple:
    """init_method='file://PATH': rank 0 writes the NCCL id atomically, the others wait for it (with deadline)."""
    if rank == 0:
        uid = make_id()
        with _atomic.atomic_write(path) as f:
            f.write(unique_id_to_bytes(uid))
        return tuple(uid)
    deadline = time.monotonic() + timeout
    while not os.path.exists(path):
        if time.monotonic() > deadline:
            raise DistBackendError(f"[rank {rank}] timed out after {timeout:g} s waiting for rank 0 to write the "
                                   f"NCCL unique id to {path}")
        time.sleep(poll_s)
    with open(path, "rb") as f:
        return unique_id_from_bytes(f.read())


def select_device(cuda, local_rank: int) -> int:
    """One GPU per process: local rank i uses GPU i (modulo the count), as torchrun users set by hand."""
    index = local_rank % cuda.runtime.getDeviceCount()
    cuda.Device(index).use()
    return index


def create_nccl_backend(init_method, world_size: int, rank: int, timeout: float) -> NCCLBackend:
    """The NCCL group for this process. Under mpiexec the unique id travels by MPI broadcast and the MPI
    control plane watches the peers; with init_method='file://PATH' it travels through a shared file and
    ranks come from the arguments or $RANK/$WORLD_SIZE/$LOCAL_RANK (then only the timeout detects failures)."""
    loaded, reason = load_nccl()
    if loaded is None:
        raise RuntimeError(f"the 'nccl' backend needs CuPy with NCCL and a GPU: {reason}")
    nccl, cuda, xp = loaded
    if init_method and init_method.startswith("file://"):
        rank = int(os.environ.get("RANK", "-1")) if rank in (-1, None) else rank
        world_size = int(os.environ.get("WORLD_SIZE", "-1")) if world_size in (-1, None) else world_size
        if rank < 0 or world_size <= 0:
            raise ValueError("init_method='file://...' needs rank and world_size (arguments or $RANK and "
                             "$WORLD_SIZE)")
        select_device(cuda, int(os.environ.get("LOCAL_RANK", str(rank))))
        uid = exchange_unique_id_via_file(init_method[len("file://"):], rank, nccl.get_unique_id, timeout)
        return NCCLBackend(rank, world_size, timeout, uid, None, nccl, cuda, xp)
    if init_method not in (None, "env://", "mpi://"):
        raise NotImplementedError(f"the nccl backend bootstraps over MPI (mpiexec) or init_method='file://PATH'; "
                                  f"got init_method={init_method!r}")
    from .control import MPIControl
    from .mpi import load_mpi
    MPI = load_mpi()
    if MPI is None:
        raise RuntimeError("the 'nccl' backend without init_method='file://...' bootstraps over MPI: install "
                           "'minigrad[distributed]' and launch with mpiexec")
    world = MPI.COMM_WORLD
    check_launcher(world_size, rank, world.Get_size(), world.Get_rank())
    local = world.Split_type(MPI.COMM_TYPE_SHARED)  # ranks on this host: one GPU each
    select_device(cuda, local.Get_rank())
    local.Free()
    uid = world.bcast(nccl.get_unique_id() if world.Get_rank() == 0 else None, root=0)
    return NCCLBackend(world.Get_rank(), world.Get_size(), timeout, uid, MPIControl(world, MPI), nccl, cuda, xp)
