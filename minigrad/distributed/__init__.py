"""minigrad.distributed: torch.distributed's process group and collectives, on MPI (mpi4py) and NCCL (CuPy).

    mpiexec -n 2 python train.py      # every rank runs the script; COMM_WORLD gives ranks and world size

    import minigrad.distributed as dist
    dist.init_process_group("mpi")    # or "nccl" on GPUs (the NCCL id is broadcast over MPI)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Layers: ``c10d`` (the public functions: argument checks, staging, in-place results), ``backend`` (the
interface each transport implements, Work, the deadline wait), ``mpi`` and ``nccl`` (the transports),
``control`` (failure notices and liveness pings over MPI).
"""
from . import c10d
from .backend import DistBackendError, DistError, RedOpType, ReduceOp, Work
from .c10d import *
from .c10d import GroupMember, ProcessGroup, group

__all__ = sorted({"DistError", "GroupMember", "RedOpType", "ReduceOp", "Work", "group", *c10d.__all__})
