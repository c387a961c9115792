"""torch.distributed's public functions: the default process group and the collectives on tensors, in place.

This layer checks arguments with torch's errors, stages each tensor into a contiguous buffer the backend
can use (through the host for the MPI backend, which is not CUDA-aware), and copies results back into
the caller's tensors when the Work completes. The backends only see flat arrays.
"""
from __future__ import annotations

import atexit
import os
import sys
from datetime import timedelta

from ..backend import Device, get_array_module, to_device
from ..tensor import Tensor
from .backend import (
    Backend,
    DistBackendError,
    RedOpType,
    ReduceOp,
    Work,
    check_launcher,
)

NOT_INITIALIZED = "Default process group has not been initialized, please make sure to call init_process_group."
default_pg_timeout = timedelta(minutes=30)  # torch's default for CPU backends
LINGER_S = 2.0  # how long a failed rank waits for its peers to report before exiting
TORCH_ONLY_BACKENDS = ("gloo", "ucc", "xccl", "fake", "cpu:gloo,cuda:nccl")


class ProcessGroup:
    """A group of ranks and the backend that connects them (only the default WORLD group exists here)."""

    def __init__(self, backend: Backend):
        self.backend = backend

    def rank(self) -> int:
        return self.backend.rank

    def size(self) -> int:
        return self.backend.world_size

    def name(self) -> str:
        return self.backend.name

    def __repr__(self):
        return f"<ProcessGroup {self.backend.name} rank={self.rank()} size={self.size()}>"


class _World:
    """The state of this process: its default group (``dist.group.WORLD`` reads it)."""

    default: ProcessGroup | None = None
    previous_excepthook = None


class _GroupNamespace:
    """``dist.group.WORLD`` (also ``dist.GroupMember.WORLD``): the default group, None before init."""

    NON_GROUP_MEMBER = -100

    @property
    def WORLD(self) -> ProcessGroup | None:
        return _World.default


group = GroupMember = _GroupNamespace()


# ------------------------------------------------------------------------------------------------ lifecycle
def is_available() -> bool:
    """True: the package is always importable; which backends work is told by is_mpi/nccl_available."""
    return True


def is_mpi_available() -> bool:
    from .mpi import load_mpi
    return load_mpi() is not None


def is_nccl_available() -> bool:
    from .nccl import load_nccl
    return load_nccl()[0] is not None


def is_initialized() -> bool:
    return _World.default is not None


def _seconds(timeout) -> float:
    if timeout is None:
        return default_pg_timeout.total_seconds()
    if isinstance(timeout, timedelta):
        return timeout.total_seconds()
    raise TypeError(f"Expected timeout argument to be of type datetime.timedelta, got {type(timeout).__name__}")


def init_process_group(backend: str | None = None, init_method: str | None = None, timeout: timedelta | None = None,
                       world_size: int = -1, rank: int = -1, store=None, group_name: str = "", pg_options=None,
                       device_id=None) -> None:  # noqa: ARG001  (torch's signature; NCCL picks the local GPU)
    """Join the default group. Ranks come from the launcher: MPI's COMM_WORLD (mpiexec) for both backends;
    for ``nccl`` with ``init_method='file://PATH'``, from ``rank``/``world_size`` or $RANK/$WORLD_SIZE.
    ``backend=None`` means ``mpi``. ``timeout`` bounds every wait: past it, the collective raises
    DistBackendError naming the ranks that stopped answering."""
    if _World.default is not None:
        raise ValueError("trying to initialize the default process group twice!")
    name = (backend or "mpi").lower()
    if store is not None or pg_options is not None or group_name:
        raise NotImplementedError("minigrad.distributed supports no store, pg_options or group_name: ranks come "
                                  "from the MPI launcher (or init_method='file://...' for nccl)")
    seconds = _seconds(timeout)
    if name == "mpi":
        from .mpi import MPIBackend, load_mpi
        if load_mpi() is None:
            raise RuntimeError("the 'mpi' backend needs mpi4py and an MPI library: pip install 'minigrad[distributed]'"
                               " (mpi4py and the mpich wheel), then launch with mpiexec -n N python script.py")
        if init_method not in (None, "env://", "mpi://"):
            raise NotImplementedError(f"the mpi backend takes its ranks from mpiexec; init_method={init_method!r} "
                                      "is not supported")
        pg_backend = MPIBackend(seconds)
        check_launcher(world_size, rank, pg_backend.world_size, pg_backend.rank)
    elif name == "nccl":
        from .nccl import create_nccl_backend
        pg_backend = create_nccl_backend(init_method, world_size, rank, seconds)
    elif name in TORCH_ONLY_BACKENDS:
        raise NotImplementedError(f"minigrad.distributed has the 'mpi' (CPU, any tensors) and 'nccl' (GPU) backends;"
                                  f" {name!r} is torch's only")
    else:
        raise AssertionError(f"Unknown backend type {backend}")  # torch's type and message
    _World.default = ProcessGroup(pg_backend)
    _install_failure_hooks()


def destroy_process_group(group=None) -> None:
    if _World.default is None:
        raise AssertionError("Process group cannot be None")  # torch's type and message
    pg = _pg(group)
    if pg is _World.default:
        _World.default = None
        _remove_failure_hooks()
    pg.backend.shutdown()


def _pg(group) -> ProcessGroup:
    if group is None or group is _World.default:
        if _World.default is None:
            raise ValueError(NOT_INITIALIZED)
        return _World.default
    if isinstance(group, ProcessGroup):
        return group
    raise NotImplementedError(f"minigrad.distributed has only the default group (None or group.WORLD), got {group!r}")


def get_rank(group=None) -> int:
    return _pg(group).rank()


def get_world_size(group=None) -> int:
    return _pg(group).size()


def get_backend(group=None) -> str:
    return _pg(group).name()


# ------------------------------------------------------------------------------------------------ failures
def _excepthook(exc_type, exc, tb):
    """Print the traceback, then tell the peers this rank is going down (unless it only relays their failure)."""
    (_World.previous_excepthook or sys.__excepthook__)(exc_type, exc, tb)
    pg = _World.default
    if pg is None:
        return
    backend = pg.backend
    if backend.broken is None and not getattr(exc, "peer_failure", False):
        backend.detector.notify(f"{exc_type.__name__}: {exc}")
    if backend.broken is None:
        backend.broken = exc


def _exit_without_finalize():
    """After a failure MPI_Finalize may wait forever on a dead peer: leave with status 1 instead."""
    pg = _World.default
    if pg is not None and pg.backend.broken is not None:
        sys.stdout.flush()
        sys.stderr.flush()
        pg.backend.detector.linger(LINGER_S)
        os._exit(1)


def _install_failure_hooks():
    if sys.excepthook is not _excepthook:
        _World.previous_excepthook = sys.excepthook
        sys.excepthook = _excepthook
    atexit.register(_exit_without_finalize)  # registered after mpi4py's import: runs before its finalize


def _remove_failure_hooks():
    if sys.excepthook is _excepthook:
        sys.excepthook = _World.previous_excepthook or sys.__excepthook__
    atexit.unregister(_exit_without_finalize)


# ------------------------------------------------------------------------------------------------ checks
def _check_tensor(t, param: str) -> None:
    if not isinstance(t, Tensor):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type minigrad.Tensor\n"
                        f"             but got {type(t)} instead.")


def _check_tensor_list(tensors, param: str) -> None:
    if not isinstance(tensors, (list, tuple)) or not all(isinstance(t, Tensor) for t in tensors):
        raise TypeError(f"Invalid function argument. Expected parameter `{param}` of type List[minigrad.Tensor]\n"
                        f"             but got {type(tensors)} instead.")


def _check_op(op, pg: ProcessGroup) -> RedOpType:
    if not isinstance(op, RedOpType):
        raise TypeError(f"op must be a minigrad.distributed.ReduceOp (e.g. ReduceOp.SUM), got {op!r}")
    if op not in pg.backend.supported_ops:
        raise ValueError(f"Cannot use ReduceOp.{op.name} with {pg.backend.name.upper()}")
    return op


def _root(rank, group_rank, pg: ProcessGroup, what: str, name: str) -> int:
    if group_rank is not None:
        if rank is not None:
            raise ValueError("Can't specify both group_rank and global_rank")
        rank = group_rank
    if rank is None:
        raise ValueError("Must specify global_rank or group_rank")
    if not 0 <= rank < pg.size():
        raise RuntimeError(f"ProcessGroup{pg.name().upper()}::{what}: invalid root rank: {rank} "
                           f"({name} must be in [0, {pg.size() - 1}])")
    return rank


def _check_same(t: Tensor, ref: Tensor, index: int, what: str, pg: ProcessGroup) -> None:
    if tuple(t.shape) != tuple(ref.shape) or t.dtype != ref.dtype or t.device != ref.device:
        raise RuntimeError(f"ProcessGroup{pg.name().upper()}::{what}: invalid tensor at index {index} (expected "
                           f"shape {tuple(ref.shape)}, dtype {ref.dtype} on {ref.device}; got shape "
                           f"{tuple(t.shape)}, dtype {t.dtype} on {t.device})")


def _check_count(tensors, pg: ProcessGroup, what: str, param: str) -> None:
    if len(tensors) != pg.size():
        raise RuntimeError(f"ProcessGroup{pg.name().upper()}::{what}: Incorrect {param} size {len(tensors)}. "
                           f"{param} size should be {pg.size()}, same as size of the process group.")


# ------------------------------------------------------------------------------------------------ staging
def _buffer(array, backend: Backend):
    """A contiguous array the backend can hand to its transport (a copy when it lives on the wrong side)."""
    array = backend.stage(array)
    xp = get_array_module(array)
    return array if array.flags.c_contiguous and array.ndim else xp.ascontiguousarray(array).reshape(-1)


def _write(tensor: Tensor, values) -> None:
    """Copy ``values`` into ``tensor`` in place (the collectives' contract), across devices if needed."""
    target = tensor.array
    if values is target:
        return
    values = values.reshape(target.shape)
    if get_array_module(values) is not get_array_module(target):
        values = to_device(values, Device(str(tensor.device)))
    target[...] = values


def _empty(like: Tensor, count: int, backend: Backend):
    """``count`` copies of ``like``'s shape, back to back, where the backend can use them."""
    return backend.array_module(like.array).empty((count,) + tuple(like.shape), dtype=like.array.dtype)


def _run(work: Work, async_op: bool):
    if async_op:
        return work
    work.wait()
    return None


# ------------------------------------------------------------------------------------------------ collectives
def all_reduce(tensor: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Reduce ``tensor`` across all ranks, in place on every rank."""
    _check_tensor(tensor, "tensor")
    pg = _pg(group)
    op = _check_op(op, pg)
    buf = _buffer(tensor.array, pg.backend)
    return _run(pg.backend.all_reduce(buf, op).then(lambda: _write(tensor, buf)), async_op)


def broadcast(tensor: Tensor, src: int | None = None, group=None, async_op: bool = False, group_src=None):
    """Copy ``tensor`` from rank ``src`` into ``tensor`` on every other rank."""
    _check_tensor(tensor, "tensor")
    pg = _pg(group)
    root = _root(src, group_src, pg, "broadcast", "src")
    buf = _buffer(tensor.array, pg.backend)
    return _run(pg.backend.broadcast(buf, root).then(lambda: _write(tensor, buf)), async_op)


def reduce(tensor: Tensor, dst: int | None = None, op=ReduceOp.SUM, group=None, async_op: bool = False,
           group_dst=None):
    """Reduce into ``tensor`` on rank ``dst`` (other ranks' tensors are left as they were)."""
    _check_tensor(tensor, "tensor")
    pg = _pg(group)
    root = _root(dst, group_dst, pg, "reduce", "dst")
    op = _check_op(op, pg)
    buf = _buffer(tensor.array, pg.backend)  # read-only on non-root ranks for both MPI and NCCL
    return _run(pg.backend.reduce(buf, root, op).then(lambda: _write(tensor, buf)), async_op)


def all_gather(tensor_list: list, tensor: Tensor, group=None, async_op: bool = False):
    """``tensor_list[r]`` receives rank r's ``tensor``."""
    _check_tensor_list(tensor_list, "tensor_list")
    _check_tensor(tensor, "tensor")
    pg = _pg(group)
    if len(tensor_list) != pg.size():
        raise RuntimeError(f"ProcessGroup{pg.name().upper()}::allgather: invalid output tensor list at index 0 "
                           f"(expected length {pg.size()}, got {len(tensor_list)})")
    for i, t in enumerate(tensor_list):
        _check_same(t, tensor, i, "allgather", pg)
    out = _empty(tensor, pg.size(), pg.backend)
    work = pg.backend.all_gather(out, _buffer(tensor.array, pg.backend))
    return _run(work.then(lambda: [_write(t, out[r]) for r, t in enumerate(tensor_list)]), async_op)


def all_gather_into_tensor(output_tensor: Tensor, input_tensor: Tensor, group=None, async_op: bool = False):
    """``output_tensor`` (world_size times the input's elements) receives every rank's input, rank by rank."""
    _check_tensor(output_tensor, "output_tensor")
    _check_tensor(input_tensor, "input_tensor")
    pg = _pg(group)
    _check_sizes(output_tensor, input_tensor, pg, "all_gather_into_tensor", "output_tensor", "input_tensor")
    out = _buffer(output_tensor.array, pg.backend)
    work = pg.backend.all_gather(out, _buffer(input_tensor.array, pg.backend))
    return _run(work.then(lambda: _write(output_tensor, out)), async_op)


def _check_sizes(big: Tensor, small: Tensor, pg: ProcessGroup, what: str, big_name: str, small_name: str) -> None:
    if big.numel() != small.numel() * pg.size() or big.dtype != small.dtype:
        raise ValueError(f"{what}: {big_name} must hold world_size ({pg.size()}) times the elements of "
                         f"{small_name} with the same dtype; got {big_name} of shape {tuple(big.shape)} "
                         f"({big.dtype}) and {small_name} of shape {tuple(small.shape)} ({small.dtype})")


def reduce_scatter(output: Tensor, input_list: list, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """``output`` on rank r receives the reduction over ranks of their ``input_list[r]``."""
    _check_tensor(output, "output")
    _check_tensor_list(input_list, "input_list")
    pg = _pg(group)
    op = _check_op(op, pg)
    _check_count(input_list, pg, "reduce_scatter", "input list")
    for i, t in enumerate(input_list):
        _check_same(t, output, i, "reduce_scatter", pg)
    stacked = _empty(output, pg.size(), pg.backend)
    for r, t in enumerate(input_list):
        stacked[r] = pg.backend.stage(t.array)
    out = _buffer(output.array, pg.backend)
    return _run(pg.backend.reduce_scatter(out, stacked, op).then(lambda: _write(output, out)), async_op)


def reduce_scatter_tensor(output: Tensor, input: Tensor, op=ReduceOp.SUM, group=None, async_op: bool = False):
    """Like reduce_scatter, with the inputs as world_size equal chunks of one tensor."""
    _check_tensor(output, "output")
    _check_tensor(input, "input")
    pg = _pg(group)
    op = _check_op(op, pg)
    _check_sizes(input, output, pg, "reduce_scatter_tensor", "input", "output")
    out = _buffer(output.array, pg.backend)
    work = pg.backend.reduce_scatter(out, _buffer(input.array, pg.backend), op)
    return _run(work.then(lambda: _write(output, out)), async_op)


def _root_list(tensors, tensor, pg, root, op, label, role) -> bool:
    """gather's and scatter's list argument: checked on the root rank (True there), refused on the others."""
    name = f"{op}_list"
    if pg.rank() != root:
        if tensors:
            raise ValueError(f"Argument ``{name}`` must NOT be specified on non-{role} ranks.")
        return False
    if not tensors:
        raise ValueError(f"Argument ``{name}`` must be specified on {role} rank.")
    _check_tensor_list(tensors, name)
    _check_count(tensors, pg, op, label)
    for i, t in enumerate(tensors):
        _check_same(t, tensor, i, op, pg)
    return True


def gather(tensor: Tensor, gather_list: list | None = None, dst: int | None = None, group=None,
           async_op: bool = False, group_dst=None):
    """Rank ``dst`` receives every rank's ``tensor`` in ``gather_list``."""
    _check_tensor(tensor, "tensor")
    pg = _pg(group)
    root = _root(dst, group_dst, pg, "gather", "dst")
    out = None
    if _root_list(gather_list, tensor, pg, root, "gather", "Output list", "destination"):
        out = _empty(tensor, pg.size(), pg.backend)
    work = pg.backend.gather(out, _buffer(tensor.array, pg.backend), root)
    if out is not None:
        work.then(lambda: [_write(t, out[r]) for r, t in enumerate(gather_list)])
    return _run(work, async_op)


def scatter(tensor: Tensor, scatter_list: list | None = None, src: int | None = None, group=None,
            async_op: bool = False, group_src=None):
    """Rank r's ``tensor`` receives ``scatter_list[r]`` from rank ``src``."""
    _check_tensor(tensor, "tensor")
    pg = _pg(group)
    root = _root(src, group_src, pg, "scatter", "src")
    stacked = None
    if _root_list(scatter_list, tensor, pg, root, "scatter", "Input list", "source"):
        stacked = _empty(tensor, pg.size(), pg.backend)
        for r, t in enumerate(scatter_list):
            stacked[r] = pg.backend.stage(t.array)
    out = _buffer(tensor.array, pg.backend)
    return _run(pg.backend.scatter(out, stacked, root).then(lambda: _write(tensor, out)), async_op)


def barrier(group=None, async_op: bool = False, device_ids=None):  # noqa: ARG001  (torch's signature)
    """Wait until every rank has reached this call."""
    return _run(_pg(group).backend.barrier(), async_op)


__all__ = [
    "DistBackendError",
    "ProcessGroup",
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
