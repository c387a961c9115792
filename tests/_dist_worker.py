"""One MPI rank of tests/test_distributed.py: ``mpiexec -n N python tests/_dist_worker.py OUTDIR SCENARIO...``.

Every rank derives every other rank's data from the same seeds, so each one computes the expected
result of a collective with NumPy by itself. A rank writes "OK <scenario>" or its traceback to
OUTDIR/rank<r>.txt (files, not stdout: mpiexec stops forwarding output once a rank has died).
"""
from __future__ import annotations

import os
import signal
import sys
import time
import traceback
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

import numpy as np
from _dist_cases import close, data, expected_reduce

import minigrad
import minigrad.distributed as dist
from minigrad import (
    nn,
    optim,
)
from minigrad.nn.parallel import DistributedDataParallel as DDP

OUT = Path(sys.argv[1])
SCENARIOS = sys.argv[2:]
TIMEOUT = float(os.environ.get("DIST_TEST_TIMEOUT", "20"))


def report(text: str) -> None:
    with open(OUT / f"rank{os.environ.get('PMI_RANK', '0')}.txt", "a") as f:
        f.write(f"{time.time():.3f} {text}\n")


def expect_error(kind, fragment, fn):
    try:
        fn()
    except kind as error:
        assert fragment in str(error), f"{kind.__name__} message {str(error)!r} lacks {fragment!r}"
        return
    raise AssertionError(f"expected {kind.__name__} containing {fragment!r}")


# ------------------------------------------------------------------------------------------------ scenarios
def collectives():
    rank, world = dist.get_rank(), dist.get_world_size()
    assert (rank, world) == (int(os.environ["PMI_RANK"]), int(os.environ["PMI_SIZE"]))
    assert dist.is_initialized() and dist.get_backend() == "mpi"
    salt = 0
    for dtype in (np.float32, np.float64, np.int64):
        ops = [dist.ReduceOp.SUM, dist.ReduceOp.AVG, dist.ReduceOp.PRODUCT, dist.ReduceOp.MIN, dist.ReduceOp.MAX]
        if np.dtype(dtype).kind == "i":
            ops += [dist.ReduceOp.BAND, dist.ReduceOp.BOR, dist.ReduceOp.BXOR]
        for shape in ((), (5,), (2, 3)):
            for op in ops:
                salt += 1
                every = [data(r, shape, dtype, salt) for r in range(world)]
                for async_op in (False, True):
                    t = minigrad.from_numpy(every[rank].copy())
                    work = dist.all_reduce(t, op=op, async_op=async_op)
                    if async_op:
                        assert work.wait() and work.is_completed()
                    else:
                        assert work is None
                    close(t.numpy(), expected_reduce(every, op), dtype)
            # rooted reductions and broadcasts, from every root
            for root in range(world):
                salt += 1
                every = [data(r, shape, dtype, salt) for r in range(world)]
                t = minigrad.from_numpy(every[rank].copy())
                dist.reduce(t, dst=root, op=dist.ReduceOp.SUM)
                close(t.numpy(), expected_reduce(every, dist.ReduceOp.SUM) if rank == root else every[rank], dtype)
                t = minigrad.from_numpy(every[rank].copy())
                dist.broadcast(t, src=root)
                close(t.numpy(), every[root], dtype)
        # gathers and scatters on a (3, 2) tensor per rank
        salt += 1
        every = [data(r, (3, 2), dtype, salt) for r in range(world)]
        mine = minigrad.from_numpy(every[rank].copy())
        out = [minigrad.zeros(3, 2, dtype=mine.dtype) for _ in range(world)]
        dist.all_gather(out, mine)
        for r in range(world):
            close(out[r].numpy(), every[r], dtype)
        for out_shape in ((world * 3, 2), (world, 3, 2)):
            big = minigrad.zeros(*out_shape, dtype=mine.dtype)
            dist.all_gather_into_tensor(big, mine)
            close(big.numpy().reshape(world, 3, 2), np.stack(every), dtype)
        chunks = [[data(r, (3, 2), dtype, salt + 1 + c) for c in range(world)] for r in range(world)]
        result = minigrad.zeros(3, 2, dtype=mine.dtype)
        dist.reduce_scatter(result, [minigrad.from_numpy(c.copy()) for c in chunks[rank]])
        close(result.numpy(), sum(chunks[r][rank] for r in range(world)), dtype)
        result = minigrad.zeros(3, 2, dtype=mine.dtype)
        dist.reduce_scatter_tensor(result, minigrad.from_numpy(np.concatenate(chunks[rank])), op=dist.ReduceOp.MAX)
        close(result.numpy(), np.max([chunks[r][rank] for r in range(world)], axis=0), dtype)
        for root in range(world):
            got = [minigrad.zeros(3, 2, dtype=mine.dtype) for _ in range(world)] if rank == root else None
            dist.gather(mine, got, dst=root)
            if rank == root:
                for r in range(world):
                    close(got[r].numpy(), every[r], dtype)
            target = minigrad.zeros(3, 2, dtype=mine.dtype)
            pieces = [minigrad.from_numpy(chunks[root][c].copy()) for c in range(world)] if rank == root else None
            dist.scatter(target, pieces, src=root)
            close(target.numpy(), chunks[root][rank], dtype)
        salt += 1 + world
    # a non-contiguous tensor is reduced in place through a staging copy
    base = minigrad.from_numpy(data(rank, (3, 4), np.float64, 99))
    view = base.t()
    dist.all_reduce(view)
    close(base.numpy(), sum(data(r, (3, 4), np.float64, 99) for r in range(world)), np.float64)
    # several collectives in flight, waited in reverse order
    tensors = [minigrad.from_numpy(data(rank, (7,), np.float32, 200 + k)) for k in range(4)]
    works = [dist.all_reduce(t, async_op=True) for t in tensors]
    for work in reversed(works):
        work.wait()
    for k, t in enumerate(tensors):
        close(t.numpy(), sum(data(r, (7,), np.float32, 200 + k) for r in range(world)), np.float32)
    dist.barrier()
    dist.barrier(async_op=True).wait()
    # bad arguments raise before any communication, on every rank alike
    t = minigrad.ones(3)
    expect_error(RuntimeError, "invalid root rank: 7", lambda: dist.broadcast(t, src=7))
    expect_error(ValueError, "Must specify", lambda: dist.broadcast(t))
    expect_error(RuntimeError, f"expected length {world}, got {world + 1}",
                 lambda: dist.all_gather([minigrad.ones(3)] * (world + 1), t))
    expect_error(RuntimeError, "invalid tensor at index 0", lambda: dist.all_gather([minigrad.ones(2)] * world, t))
    expect_error(TypeError, "Expected parameter `tensor`", lambda: dist.all_reduce([t]))
    expect_error(TypeError, "ReduceOp", lambda: dist.all_reduce(t, op="sum"))
    expect_error(ValueError, "Cannot use ReduceOp.PREMUL_SUM", lambda: dist.all_reduce(t, op=dist.ReduceOp.PREMUL_SUM))
    expect_error(ValueError, "world_size", lambda: dist.all_gather_into_tensor(minigrad.ones(3 * world + 1), t))
    expect_error(ValueError, "``scatter_list`` must be specified on source rank",
                 lambda: dist.scatter(t, None, src=rank))
    expect_error(ValueError, "``gather_list`` must NOT be specified on non-destination ranks",
                 lambda: dist.gather(t, [t] * world, dst=(rank + 1) % world)) if world > 1 else None
    expect_error(ValueError, "twice", lambda: dist.init_process_group("mpi"))


def small_model(seed: int) -> nn.Module:
    minigrad.manual_seed(seed)
    return nn.Sequential(nn.Linear(6, 9), nn.ReLU(), nn.Linear(9, 5), nn.Tanh(), nn.Linear(5, 3))


def batch(step: int, rank: int, n: int = 4):
    rng = np.random.default_rng(10_000 + 100 * step + rank)
    return (minigrad.from_numpy(rng.normal(size=(n, 6)).astype(np.float32)),
            minigrad.from_numpy(rng.integers(0, 3, size=n).astype(np.int64)))


def concatenated(step: int, world: int):
    parts = [batch(step, r) for r in range(world)]
    return minigrad.cat([p[0] for p in parts]), minigrad.cat([p[1] for p in parts])


def assert_same_params(a: nn.Module, b: nn.Module, what: str) -> None:
    for (name, p), q in zip(a.named_parameters(), b.parameters()):
        diff = float(np.abs(p.detach().numpy() - q.detach().numpy()).max())
        assert diff <= 1e-5, f"{what}: parameter {name} differs from single-process training by {diff:.3g}"


def ddp():
    rank, world = dist.get_rank(), dist.get_world_size()
    loss_fn = nn.CrossEntropyLoss()
    optimizers = {"sgd": lambda ps: optim.SGD(ps, lr=0.1, momentum=0.9),
                  "adam": lambda ps: optim.Adam(ps, lr=0.01)}
    for opt_name, make_opt in optimizers.items():
        for cap_mb in (None, 1e-6):  # one bucket, and one bucket per parameter
            model = DDP(small_model(seed=rank), bucket_cap_mb=cap_mb)  # rank 0's weights are broadcast
            if cap_mb:
                assert len(model.bucket_assignment) == 6, model.bucket_assignment
                assert model.bucket_assignment[0] == [5], "buckets follow the parameters in reverse order"
            reference = small_model(seed=0)
            assert_same_params(model.module, reference, "after construction")
            opt, ref_opt = make_opt(model.parameters()), make_opt(reference.parameters())
            for step in range(4):
                x, y = batch(step, rank)
                opt.zero_grad()
                loss_fn(model(x), y).backward()
                opt.step()
                ref_opt.zero_grad()
                loss_fn(reference(*concatenated(step, world)[:1]), concatenated(step, world)[1]).backward()
                ref_opt.step()
                assert_same_params(model.module, reference, f"{opt_name} step {step} cap {cap_mb}")
            assert model.comm_stats["steps"] == 4
    # no_sync: two local micro-batches, then a synced one, equal the sum over all micro-batches of all ranks
    model = DDP(small_model(seed=rank), bucket_cap_mb=1e-6)
    reference = small_model(seed=0)
    opt, ref_opt = optim.SGD(model.parameters(), lr=0.05, momentum=0.5), optim.SGD(reference.parameters(), lr=0.05,
                                                                                   momentum=0.5)
    for micro in range(3):
        x, y = batch(50 + micro, rank)
        if micro < 2:
            with model.no_sync():
                loss_fn(model(x), y).backward()
            assert model.reducer.stats["steps"] == 0, "no_sync must not communicate"
        else:
            loss_fn(model(x), y).backward()
        cx, cy = concatenated(50 + micro, world)
        loss_fn(reference(cx), cy).backward()
    for p, q in zip(model.parameters(), reference.parameters()):
        np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-5, atol=1e-6)
    opt.step()
    ref_opt.step()
    assert_same_params(model.module, reference, "no_sync accumulation")
    assert model.state_dict().keys() == {f"module.{k}" for k in reference.state_dict()}


class Tied(nn.Module):
    """One Linear applied twice: its grads arrive from two uses, and DDP must reduce their total once."""

    def __init__(self):
        super().__init__()
        self.shared = nn.Linear(6, 6)
        self.head = nn.Linear(6, 3)

    def forward(self, x):
        return self.head(self.shared(self.shared(x).tanh()))


def tied():
    rank, world = dist.get_rank(), dist.get_world_size()
    minigrad.manual_seed(rank)
    model = DDP(Tied(), bucket_cap_mb=1e-6)
    minigrad.manual_seed(0)
    reference = Tied()
    opt, ref_opt = optim.SGD(model.parameters(), lr=0.1), optim.SGD(reference.parameters(), lr=0.1)
    for step in range(3):
        x, y = batch(step, rank)
        opt.zero_grad()
        nn.CrossEntropyLoss()(model(x), y).backward()
        opt.step()
        cx, cy = concatenated(step, world)
        ref_opt.zero_grad()
        nn.CrossEntropyLoss()(reference(cx), cy).backward()
        ref_opt.step()
        assert_same_params(model.module, reference, f"tied weights step {step}")


class Branchy(nn.Module):
    def __init__(self):
        super().__init__()
        self.used = nn.Linear(4, 2)
        self.unused = nn.Linear(4, 2)

    def forward(self, x):
        return self.used(x)


def unused():
    rank = dist.get_rank()
    minigrad.manual_seed(0)
    model = DDP(Branchy(), find_unused_parameters=True)
    x = minigrad.ones(3, 4) * (rank + 1)
    for _ in range(2):
        model.zero_grad()
        model(x).sum().backward()
        assert model.module.unused.weight.grad is None, "a parameter unused everywhere keeps grad None"
        assert model.module.used.weight.grad is not None
    strict = DDP(Branchy())
    strict(x).sum().backward()
    expect_error(RuntimeError, "find_unused_parameters=True", lambda: strict(x))
    # different models on different ranks: a clear error on every rank, not a hang
    minigrad.manual_seed(0)
    odd = nn.Linear(4, 3 if rank == 1 else 2)
    expect_error(RuntimeError, "DDP expects same model across all ranks", lambda: DDP(odd))


def fail_mid_step(how: str):
    """Rank 1 fails in the middle of DDP training; the others must stop with an error naming rank 1."""
    rank = dist.get_rank()
    model = DDP(small_model(seed=0), bucket_cap_mb=1e-6)
    loss_fn = nn.CrossEntropyLoss()
    for step in range(3):
        if step == 1 and rank == 1:
            if how == "kill":  # the launcher's cleanup ends the job
                os.kill(os.getpid(), signal.SIGKILL)
            if how == "vanish":  # gone without a word and with status 0: the launcher sees nothing wrong
                os._exit(0)
            if how == "raise":
                raise ValueError("boom in the training loop")
            if how == "hang":
                report("sleeping")
                time.sleep(2 * TIMEOUT + 1)  # past the peers' timeout, then leave
                os._exit(0)
        x, y = batch(step, rank)
        model.zero_grad()
        loss_fn(model(x), y).backward()
    raise AssertionError("the step after rank 1's failure completed")


def main() -> None:
    dist.init_process_group("mpi", timeout=timedelta(seconds=TIMEOUT))
    try:
        for name in SCENARIOS:
            if name.startswith("fail-"):
                fail_mid_step(name[len("fail-"):])
            else:
                globals()[name]()
            report(f"OK {name}")
    except BaseException:
        report(traceback.format_exc())
        raise
    dist.destroy_process_group()


if __name__ == "__main__":
    main()
