"""The NCCL backend against its CPU twin: every rank of a world in this one process, through the public
collectives, with a fake ``cupy.cuda.nccl`` that executes the backend's pointer-level calls on host memory
(tests/_fake_nccl.py). On a machine with GPUs the last tests run the real NCCL."""
from __future__ import annotations

import threading
from datetime import timedelta

import _fake_nccl as fake
import numpy as np
import pytest
from _dist_cases import close, data, expected_reduce

import minigrad
import minigrad.distributed as dist
from minigrad.distributed.backend import DistBackendError
from minigrad.distributed.c10d import ProcessGroup
from minigrad.distributed.nccl import (
    NCCLBackend,
    exchange_unique_id_via_file,
    unique_id_from_bytes,
    unique_id_to_bytes,
)

OPS = [dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN, dist.ReduceOp.MAX]


def world(n, timeout=5.0):
    uid = fake.get_unique_id()
    return [ProcessGroup(NCCLBackend(r, n, timeout, uid, nccl=fake, cuda=fake.cuda, xp=np)) for r in range(n)]


def wait_all(works):
    """Wait for the async collectives every rank has issued (in turn, as the ranks would in parallel)."""
    for w in works:
        w.wait()


@pytest.mark.parametrize("n", [2, 3])
@pytest.mark.parametrize("dtype", [np.float32, np.float64, np.int64])
@pytest.mark.parametrize("shape", [(), (5,), (2, 3)])
def test_all_reduce_and_rooted_collectives(n, dtype, shape):
    groups = world(n)
    for salt, op in enumerate(OPS):
        every = [data(r, shape, dtype, salt) for r in range(n)]
        tensors = [minigrad.from_numpy(a.copy()) for a in every]
        wait_all([dist.all_reduce(tensors[r], op=op, group=g, async_op=True) for r, g in enumerate(groups)])
        for t in tensors:
            close(t.numpy(), expected_reduce(every, op), dtype)
    for root in range(n):
        every = [data(r, shape, dtype, 50 + root) for r in range(n)]
        tensors = [minigrad.from_numpy(a.copy()) for a in every]
        wait_all([dist.broadcast(tensors[r], src=root, group=g, async_op=True) for r, g in enumerate(groups)])
        for t in tensors:
            close(t.numpy(), every[root], dtype)
        tensors = [minigrad.from_numpy(a.copy()) for a in every]
        wait_all([dist.reduce(tensors[r], dst=root, op=dist.ReduceOp.MAX, group=g, async_op=True)
                  for r, g in enumerate(groups)])
        for r, t in enumerate(tensors):
            close(t.numpy(), expected_reduce(every, dist.ReduceOp.MAX) if r == root else every[r], dtype)


@pytest.mark.parametrize("n", [2, 3])
def test_gathers_and_scatters(n):
    groups = world(n)
    every = [data(r, (3, 2), np.float32, 7) for r in range(n)]
    mine = [minigrad.from_numpy(a.copy()) for a in every]
    lists = [[minigrad.zeros(3, 2) for _ in range(n)] for _ in range(n)]
    wait_all([dist.all_gather(lists[r], mine[r], group=g, async_op=True) for r, g in enumerate(groups)])
    for r in range(n):
        for k in range(n):
            close(lists[r][k].numpy(), every[k], np.float32)
    big = [minigrad.zeros(n * 3, 2) for _ in range(n)]
    wait_all([dist.all_gather_into_tensor(big[r], mine[r], group=g, async_op=True) for r, g in enumerate(groups)])
    for b in big:
        close(b.numpy(), np.concatenate(every), np.float32)
    chunks = [[data(r, (3, 2), np.float32, 20 + c) for c in range(n)] for r in range(n)]
    outs = [minigrad.zeros(3, 2) for _ in range(n)]
    wait_all([dist.reduce_scatter(outs[r], [minigrad.from_numpy(c) for c in chunks[r]], op=dist.ReduceOp.AVG,
                                  group=g, async_op=True) for r, g in enumerate(groups)])
    for r in range(n):
        close(outs[r].numpy(), sum(chunks[k][r] for k in range(n)) / n, np.float32)
    wait_all([dist.reduce_scatter_tensor(outs[r], minigrad.from_numpy(np.concatenate(chunks[r])), group=g,
                                         async_op=True) for r, g in enumerate(groups)])
    for r in range(n):
        close(outs[r].numpy(), sum(chunks[k][r] for k in range(n)), np.float32)
    for root in range(n):
        got = [minigrad.zeros(3, 2) for _ in range(n)]
        wait_all([dist.gather(mine[r], got if r == root else None, dst=root, group=g, async_op=True)
                  for r, g in enumerate(groups)])
        for k in range(n):
            close(got[k].numpy(), every[k], np.float32)
        outs = [minigrad.zeros(3, 2) for _ in range(n)]
        pieces = [minigrad.from_numpy(c) for c in chunks[root]]
        wait_all([dist.scatter(outs[r], pieces if r == root else None, src=root, group=g, async_op=True)
                  for r, g in enumerate(groups)])
        for r in range(n):
            close(outs[r].numpy(), chunks[root][r], np.float32)
    wait_all([dist.barrier(group=g, async_op=True) for r, g in enumerate(groups)])


def test_work_is_pending_until_every_rank_has_called():
    groups = world(2)
    a, b = minigrad.ones(3), minigrad.ones(3) * 2
    work = dist.all_reduce(a, group=groups[0], async_op=True)
    assert not work.is_completed(), "rank 0 cannot finish before rank 1 joins"
    dist.all_reduce(b, group=groups[1], async_op=True).wait()
    assert work.is_completed() and work.wait()
    close(a.numpy(), np.full(3, 3.0, np.float32), np.float32)


def test_timeout_names_the_collective_and_aborts_the_communicator():
    groups = world(2, timeout=0.2)
    with pytest.raises(DistBackendError, match=r"all_reduce\(SUM\) \(collective #1\) timed out after 0.2 s"):
        dist.all_reduce(minigrad.ones(2), group=groups[0])
    assert groups[0].backend.comm.aborted
    with pytest.raises(DistBackendError, match="unusable after an earlier failure"):
        dist.all_reduce(minigrad.ones(2), group=groups[0])


def test_nccl_async_error_fails_the_wait():
    groups = world(2)
    work = dist.all_reduce(minigrad.ones(2), group=groups[0], async_op=True)
    groups[0].backend.comm.async_error = "NCCL_ERROR_REMOTE_ERROR: peer 1 closed the connection"
    with pytest.raises(DistBackendError, match="failed in the nccl transport: NCCL_ERROR_REMOTE_ERROR"):
        work.wait()
    assert work.exception() is not None and not work.is_success()


def test_nccl_rejects_what_nccl_cannot_do():
    g = world(2)[0]
    with pytest.raises(ValueError, match="Cannot use ReduceOp.BAND with NCCL"):
        dist.all_reduce(minigrad.ones(2, dtype=minigrad.int64), op=dist.ReduceOp.BAND, group=g)
    with pytest.raises(TypeError, match="does not support tensors of dtype bool"):
        dist.all_reduce(minigrad.ones(2, dtype=minigrad.bool), op=dist.ReduceOp.MAX, group=g)


def test_unique_id_travels_through_a_file(tmp_path):
    uid = fake.get_unique_id()
    assert unique_id_from_bytes(unique_id_to_bytes(uid)) == uid and len(unique_id_to_bytes(uid)) == 128
    path = str(tmp_path / "nccl_id")
    got = {}
    reader = threading.Thread(target=lambda: got.setdefault(1, exchange_unique_id_via_file(path, 1, None, 5.0,
                                                                                            poll_s=0.01)))
    reader.start()
    assert exchange_unique_id_via_file(path, 0, lambda: uid, 5.0) == uid
    reader.join(10)
    assert got[1] == uid
    with pytest.raises(DistBackendError, match="waiting for rank 0 to write the NCCL unique id"):
        exchange_unique_id_via_file(str(tmp_path / "never"), 1, None, 0.05, poll_s=0.01)


def test_nccl_without_a_gpu_says_why():
    if dist.is_nccl_available():
        pytest.skip("NCCL is available here: the error path cannot be reached")
    with pytest.raises(RuntimeError, match="the 'nccl' backend needs CuPy with NCCL and a GPU"):
        dist.init_process_group("nccl", timeout=timedelta(seconds=5))
    assert not dist.is_initialized()


@pytest.mark.skipif(not dist.is_nccl_available(), reason="needs CuPy with NCCL and an NVIDIA GPU")
def test_real_nccl_single_rank_world(tmp_path, monkeypatch):
    # one GPU is enough for a one-rank world through the file bootstrap; multi-GPU runs use mpiexec
    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("WORLD_SIZE", "1")
    dist.init_process_group("nccl", init_method=f"file://{tmp_path / 'id'}", timeout=timedelta(seconds=30))
    try:
        t = minigrad.arange(6, dtype=minigrad.float32, device="cuda")
        dist.all_reduce(t, op=dist.ReduceOp.AVG)
        out = [minigrad.zeros(6, device="cuda")]
        dist.all_gather(out, t)
        np.testing.assert_allclose(out[0].cpu().numpy(), np.arange(6, dtype=np.float32))
    finally:
        dist.destroy_process_group()


def test_ddp_over_the_nccl_backend_matches_single_process_training():
    # each rank a thread, as each would be a process: DDP's shape check, rank 0's broadcast and the
    # bucketed asynchronous all-reduce all run through the NCCL backend's code
    from minigrad import nn, optim
    from minigrad.nn.parallel import DistributedDataParallel as DDP
    n, steps = 2, 3
    groups = world(n, timeout=20.0)

    def make(seed):
        minigrad.manual_seed(seed)
        return nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 3))

    def batch(step, rank):
        rng = np.random.default_rng(100 * step + rank)
        return minigrad.from_numpy(rng.normal(size=(4, 5)).astype(np.float32)), minigrad.from_numpy(
            rng.integers(0, 3, size=4))

    models = [make(seed=10 + r) for r in range(n)]  # different initial weights: rank 0's must win
    errors = []

    def rank_main(r):
        try:
            model = DDP(models[r], process_group=groups[r], bucket_cap_mb=1e-6)
            opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
            for step in range(steps):
                x, y = batch(step, r)
                opt.zero_grad()
                nn.CrossEntropyLoss()(model(x), y).backward()
                opt.step()
        except BaseException as error:  # noqa: BLE001  (re-raised by the main thread)
            errors.append(error)

    threads = [threading.Thread(target=rank_main, args=(r,)) for r in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(60)
    assert not errors, errors
    reference = make(seed=10)
    opt = optim.SGD(reference.parameters(), lr=0.1, momentum=0.9)
    for step in range(steps):
        parts = [batch(step, r) for r in range(n)]
        opt.zero_grad()
        nn.CrossEntropyLoss()(reference(minigrad.cat([p[0] for p in parts])), minigrad.cat([p[1] for p in parts])
                              ).backward()
        opt.step()
    for model in models:
        for p, q in zip(model.parameters(), reference.parameters()):
            np.testing.assert_allclose(p.detach().numpy(), q.detach().numpy(), rtol=1e-5, atol=1e-5)
