"""minigrad.distributed: torch.distributed's process group and collectives, on MPI (mpi4py) and NCCL (CuPy).

    mpiexec -n 2 python train.py      # every rank runs the script; COMM_WORLD gives ranks and world size

    import minigrad.distributed as dist
    dist.init_process_group("mpi")    # or "nccl" on GPUs (the NCCL id is broadcast over MPI)
    dist.all_reduce(t, op=dist.ReduceOp.SUM)

Layers: ``c10d`` (the public functions: argument checks, staging, in-place results), ``backend`` (the
interface each transport implements, Work, the deadline wait), ``mpi`` and ``nccl`` (the transports),
``control`` (failure notices and liveness pings over MPI).
"""
from .backend import DistBackendError, DistError, RedOpType, ReduceOp, Work
from .c10d import *
from .c10d import GroupMember, ProcessGroup, group

__all__ = [
           "DistBackendError",
           "DistError",
           "GroupMember",
           "ProcessGroup",
           "RedOpType",
           "ReduceOp",
           "Work",
           "all_gather",
           "all_gather_into_tensor",
           "all_reduce",
           "barrier",
           "broadcast",
           "default_pg_timeout",
           "destroy_process_group",
           "gather",
           "get_backend",
           "get_rank",
           "get_world_size",
           "group",
           "init_process_group",
           "is_available",
           "is_initialized",
           "is_mpi_available",
           "is_nccl_available",
           "reduce",
           "reduce_scatter",
           "reduce_scatter_tensor",
           "scatter",
]
