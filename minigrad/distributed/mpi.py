"""The MPI backend: each collective is MPI's nonblocking twin (Iallreduce, Ibcast, ...) through mpi4py.

Nonblocking calls serve two ends: ``async_op=True`` returns at once (DDP's buckets overlap backward), and
a blocking call is just ``start(...).wait()``, which polls with a deadline instead of hanging in MPI_Wait.
MPI has no average: AVG is a SUM followed by a division on completion.
"""
from __future__ import annotations

import numpy as np

from ..backend import to_numpy
from .backend import Backend, RedOpType, Work
from .control import MPIControl


def load_mpi():
    """mpi4py's MPI module, or None when mpi4py (or its MPI library) is missing."""
    try:
        from mpi4py import MPI
    except (ImportError, RuntimeError, OSError):
        return None
    return MPI


class MPIBackend(Backend):
    name = "mpi"

    def __init__(self, timeout: float, MPI=None):
        MPI = MPI or load_mpi()
        world = MPI.COMM_WORLD
        detector = MPIControl(world, MPI)
        super().__init__(world.Get_rank(), world.Get_size(), timeout, detector)
        self.MPI = MPI
        self.comm = world.Dup()  # a private communicator: user code on COMM_WORLD never matches our messages
        self.comm.Set_errhandler(MPI.ERRORS_RETURN)
        self.ops = {RedOpType.SUM: MPI.SUM, RedOpType.AVG: MPI.SUM, RedOpType.PRODUCT: MPI.PROD,
                    RedOpType.MIN: MPI.MIN, RedOpType.MAX: MPI.MAX, RedOpType.BAND: MPI.BAND,
                    RedOpType.BOR: MPI.BOR, RedOpType.BXOR: MPI.BXOR}

    def stage(self, array):
        return to_numpy(array)  # the pip mpich is not CUDA-aware: device arrays travel through the host

    def array_module(self, array):  # noqa: ARG002  (the interface)
        return np

    def _work(self, what: str, request, finish=None) -> Work:
        return Work(self, what, request.Test, finish)

    def _average(self, array, op):
        """The division that turns MPI's SUM into AVG (truncating for integers, as NCCL's ncclAvg)."""
        if op != RedOpType.AVG:
            return None

        def finish():
            if array.dtype.kind == "f":
                np.divide(array, self.world_size, out=array)
            else:
                np.copyto(array, np.trunc(array / self.world_size).astype(array.dtype))
        return finish

    def all_reduce(self, array, op):
        what = self.start(f"all_reduce({op.name})")
        request = self.comm.Iallreduce(self.MPI.IN_PLACE, array, self.ops[op])
        return self._work(what, request, self._average(array, op))

    def broadcast(self, array, root):
        what = self.start(f"broadcast(src={root})")
        return self._work(what, self.comm.Ibcast(array, root=root))

    def all_gather(self, output, input):
        what = self.start("all_gather")
        return self._work(what, self.comm.Iallgather(input, output))

    def reduce_scatter(self, output, input, op):
        what = self.start(f"reduce_scatter({op.name})")
        request = self.comm.Ireduce_scatter_block(input, output, self.ops[op])
        return self._work(what, request, self._average(output, op))

    def reduce(self, array, root, op):
        what = self.start(f"reduce({op.name}, dst={root})")
        if self.rank == root:
            request = self.comm.Ireduce(self.MPI.IN_PLACE, array, self.ops[op], root=root)
            return self._work(what, request, self._average(array, op))
        return self._work(what, self.comm.Ireduce(array, None, self.ops[op], root=root))

    def gather(self, output, input, root):
        what = self.start(f"gather(dst={root})")
        return self._work(what, self.comm.Igather(input, output if self.rank == root else None, root=root))

    def scatter(self, output, input, root):
        what = self.start(f"scatter(src={root})")
        return self._work(what, self.comm.Iscatter(input if self.rank == root else None, output, root=root))

    def barrier(self):
        return self._work(self.start("barrier"), self.comm.Ibarrier())

    def shutdown(self):
        super().shutdown()
        if self.broken is None:
            try:
                self.comm.Free()
            except self.MPI.Exception:
                pass
