"""minigrad.distributed on MPI: collectives against NumPy, DDP against single-process training, failures.

The multi-rank tests launch ``mpiexec -n N python tests/_dist_worker.py`` (each launch costs about a
second, so one launch runs many checks) with a timeout on every subprocess, so no bug can hang CI.
"""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

import minigrad
import minigrad.distributed as dist
from minigrad import nn
from minigrad.nn.parallel.reducer import compute_bucket_assignment
from minigrad.utils.data import DistributedSampler

WORKER = Path(__file__).with_name("_dist_worker.py")
MPIEXEC = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")


def _mpi_skip_reason():
    try:
        import mpi4py  # noqa: F401
    except ImportError:
        return "mpi4py is not installed: pip install 'minigrad[distributed]' (mpi4py and mpich)"
    return None if MPIEXEC else "mpiexec not found next to the Python interpreter or on PATH"


needs_mpi = pytest.mark.skipif(_mpi_skip_reason() is not None, reason=str(_mpi_skip_reason()))


def launch(tmp_path, n, *scenarios, timeout=120, rank_timeout=20.0, launcher_args=()):
    """Run the worker on ``n`` ranks; (return code, seconds, {rank: its report}, launcher output)."""
    env = dict(os.environ, OPENBLAS_NUM_THREADS="1", OMP_NUM_THREADS="1", MKL_NUM_THREADS="1",
               DIST_TEST_TIMEOUT=str(rank_timeout))
    start = time.monotonic()
    proc = subprocess.run([MPIEXEC, *launcher_args, "-n", str(n), sys.executable, str(WORKER), str(tmp_path),
                           *scenarios], check=False, env=env, capture_output=True, text=True, timeout=timeout)
    elapsed = time.monotonic() - start
    time.sleep(0.2)  # ranks that outlive the launcher finish writing their reports
    reports = {r: (tmp_path / f"rank{r}.txt").read_text() for r in range(n) if (tmp_path / f"rank{r}.txt").exists()}
    return proc.returncode, elapsed, reports, proc.stdout + proc.stderr


@needs_mpi
@pytest.mark.parametrize("n", [2, 3])
def test_collectives_and_ddp_match_numpy_and_single_process(tmp_path, n):
    scenarios = ("collectives", "ddp", "tied", "unused")
    rc, _, reports, output = launch(tmp_path, n, *scenarios)
    assert rc == 0, f"{output}\n{reports}"
    for r in range(n):
        for name in scenarios:
            assert f"OK {name}" in reports[r], reports[r]


@needs_mpi
def test_a_rank_that_raises_stops_the_others_with_its_error(tmp_path):
    rc, elapsed, reports, _output = launch(tmp_path, 3, "fail-raise", rank_timeout=60.0)
    assert rc != 0
    assert elapsed < 30, "the peers waited for the timeout instead of hearing of the failure"
    assert "ValueError: boom in the training loop" in reports[1]
    for r in (0, 2):
        assert "DistBackendError" in reports[r] and "rank 1 (pid" in reports[r], reports[r]
        assert "failed: ValueError: boom in the training loop" in reports[r], reports[r]


@needs_mpi
def test_a_rank_that_vanishes_is_named_by_the_others(tmp_path):
    # exit status 0 and no word: with auto-cleanup off, mpiexec would let the others wait forever
    rc, elapsed, reports, _output = launch(tmp_path, 3, "fail-vanish", rank_timeout=60.0,
                                          launcher_args=("-disable-auto-cleanup",))
    assert rc != 0 and elapsed < 30
    for r in (0, 2):
        assert "rank 1 (pid" in reports[r] and "died without reporting an error" in reports[r], reports[r]


@needs_mpi
def test_a_killed_rank_ends_the_job(tmp_path):
    # SIGKILL mid-step: mpiexec's own cleanup stops the other ranks at once (no hang)
    rc, elapsed, _reports, output = launch(tmp_path, 2, "fail-kill", rank_timeout=60.0)
    assert rc != 0 and elapsed < 30
    assert "Killed" in output or "signal 9" in output, output


@needs_mpi
def test_a_hung_rank_is_named_when_the_timeout_passes(tmp_path):
    rc, _elapsed, reports, _output = launch(tmp_path, 2, "fail-hang", rank_timeout=1.5)
    assert rc != 0
    assert "timed out after 1.5 s" in reports[0], reports[0]
    assert "rank(s) [1] did not answer a liveness ping" in reports[0], reports[0]


# ------------------------------------------------------------------------------------------------ single process
def test_calls_before_init_raise_torchs_error():
    assert dist.is_available() and not dist.is_initialized()
    t = minigrad.ones(2)
    for call in (lambda: dist.all_reduce(t), lambda: dist.get_rank(), lambda: dist.get_world_size(),
                 lambda: dist.barrier(), lambda: dist.broadcast(t, src=0)):
        with pytest.raises(ValueError, match="Default process group has not been initialized, please make sure "
                                             "to call init_process_group."):
            call()
    with pytest.raises(AssertionError, match="Process group cannot be None"):
        dist.destroy_process_group()
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        nn.parallel.DistributedDataParallel(nn.Linear(2, 2))


def test_init_rejects_unknown_and_torch_only_backends():
    with pytest.raises(AssertionError, match="Unknown backend type foo"):
        dist.init_process_group("foo")
    with pytest.raises(NotImplementedError, match="'gloo'"):
        dist.init_process_group("gloo")
    with pytest.raises(TypeError, match="timedelta"):
        dist.init_process_group("mpi", timeout=30)
    assert not dist.is_initialized()


def test_reduce_op_matches_torch():
    pytest.importorskip("torch")
    import torch.distributed as tdist
    for name in ("SUM", "AVG", "PRODUCT", "MIN", "MAX", "BAND", "BOR", "BXOR", "PREMUL_SUM"):
        ours, theirs = getattr(dist.ReduceOp, name), getattr(tdist.ReduceOp, name)
        assert int(ours) == int(theirs)
        assert repr(ours) == repr(theirs) and str(ours) == str(theirs)


@pytest.mark.parametrize("n", [0, 1, 5, 7, 10, 13])
@pytest.mark.parametrize("replicas", [1, 2, 3, 4])
@pytest.mark.parametrize("drop_last", [False, True])
def test_distributed_sampler_partitions_as_torch(n, replicas, drop_last):
    pytest.importorskip("torch")
    from torch.utils.data import DistributedSampler as TorchSampler
    seen = []
    for rank in range(replicas):
        ours = DistributedSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        theirs = TorchSampler(range(n), replicas, rank, shuffle=False, drop_last=drop_last)
        assert list(ours) == list(theirs) and len(ours) == len(theirs)
        seen += list(ours)
    if n and not drop_last:
        assert set(seen) == set(range(n))  # every sample is served (padding repeats the first ones)


def test_distributed_sampler_shuffles_by_seed_and_epoch():
    a = DistributedSampler(range(20), 2, 0, seed=3)
    b = DistributedSampler(range(20), 2, 1, seed=3)
    first = list(a) + list(b)
    assert sorted(first) == list(range(20)), "the ranks split one permutation"
    assert list(a) == list(DistributedSampler(range(20), 2, 0, seed=3)), "same seed and epoch, same order"
    g = minigrad.Generator().manual_seed(3)
    assert list(a) == minigrad.randperm(20, generator=g).tolist()[0::2]
    a.set_epoch(1)
    assert list(a) != first[:10]
    g = minigrad.Generator().manual_seed(4)
    assert list(a) == minigrad.randperm(20, generator=g).tolist()[0::2]


def test_distributed_sampler_checks_rank():
    with pytest.raises(ValueError, match=r"Invalid rank 2, rank should be in the interval \[0, 1\]"):
        DistributedSampler(range(4), num_replicas=2, rank=2)
    with pytest.raises(ValueError, match="Default process group has not been initialized"):
        DistributedSampler(range(4))


def test_bucket_assignment_reverse_order_caps_and_dtypes():
    params = [nn.Parameter(minigrad.zeros(n)) for n in (10, 20, 30, 40)]  # 40, 80, 120, 160 bytes
    assert compute_bucket_assignment(params, cap_bytes=1e9) == [[3, 2, 1, 0]]
    assert compute_bucket_assignment(params, cap_bytes=200) == [[3], [2, 1], [0]]
    assert compute_bucket_assignment(params, cap_bytes=300, first_cap_bytes=100) == [[3], [2, 1, 0]]
    assert compute_bucket_assignment(params, cap_bytes=1) == [[3], [2], [1], [0]], "oversized: one each"
    mixed = params[:2] + [nn.Parameter(minigrad.zeros(3, dtype=minigrad.float64))] + params[2:3]
    assert compute_bucket_assignment(mixed, cap_bytes=1e9) == [[3], [2], [1, 0]], "a bucket has one dtype"


def test_bucket_boundaries_follow_ddp_defaults():
    sizes = [np.dtype(np.float32).itemsize * n for n in (784 * 520, 520, 520 * 320, 320, 10)]
    params = [nn.Parameter(minigrad.zeros(s // 4)) for s in sizes]
    # torch's first bucket holds 1 MB, the rest 25 MB: the 1.6 MB first-layer weight gets its own
    assert compute_bucket_assignment(params, 25 * 2 ** 20, 2 ** 20) == [[4, 3, 2, 1], [0]]
