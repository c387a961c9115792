"""One Fashion-MNIST epoch of the main job (examples/mnist.py's MLP, SGD momentum): 1 process vs N MPI ranks.

    python benchmarks/ddp.py                 # 1 process, then 2 ranks; --ranks 2 3 --batch-size 128
    python benchmarks/ddp.py --limit 12000   # a quicker partial epoch

Every process is limited to one BLAS thread (OPENBLAS_NUM_THREADS=1 etc.), so 2 ranks use 2 cores and
the single process 1: the comparison is fair on a small machine. The global batch is the same in both
runs (--batch-size split over the ranks), so both take the same number of optimizer steps.

Reported per run: epoch time and speed-up over the single process; "blocked" = time per step that
backward waited for the gradient buckets after the last grad arrived (communication not hidden, plus
any lag of the slower rank); "all-reduce alone" = the same buckets all-reduced back to back with nothing
to overlap (the cost of communication). Each rank count runs twice: with DDP's buckets (25 MB, first
1 MB, so all-reduce starts during backward) and with one bucket (all-reduce only after backward).
Overlap = (blocked with one bucket - blocked with buckets) / all-reduce alone: the share of
communication the buckets hid behind backward.
"""
from __future__ import annotations

import argparse
import json
import os
import shutil
import subprocess
import sys
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "examples"))

ONE_THREAD = {name: "1" for name in ("OPENBLAS_NUM_THREADS", "OMP_NUM_THREADS", "MKL_NUM_THREADS")}


def worker(args) -> None:
    """One rank (or the lone process): train one epoch, measure, and (rank 0) print a JSON line."""
    from mnist import Net, _load

    import minigrad
    import minigrad.distributed as dist
    from minigrad import nn, optim
    from minigrad.nn.parallel import DistributedDataParallel as DDP
    from minigrad.utils.data import DataLoader, DistributedSampler, Subset

    distributed = args.worker == "ddp"
    if distributed:
        dist.init_process_group("mpi")
    rank, world = (dist.get_rank(), dist.get_world_size()) if distributed else (0, 1)
    train_set, _ = _load("fashion-mnist", args.data_dir, download=False)
    if args.limit:
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))
    minigrad.manual_seed(1)
    net = Net()
    model = DDP(net, bucket_cap_mb=args.bucket_cap_mb) if distributed else net
    if distributed and args.bucket_cap_mb:  # one bucket: also lift DDP's 1 MB cap on the first bucket
        from minigrad.nn.parallel.reducer import Reducer
        model.reducer.remove_hooks()
        object.__setattr__(model, "reducer", Reducer(list(net.parameters()), dist.group.WORLD, args.bucket_cap_mb,
                                                     False, first_bucket_cap_mb=args.bucket_cap_mb))
    optimizer = optim.SGD(model.parameters(), lr=0.01, momentum=0.5)
    criterion = nn.CrossEntropyLoss()
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=1)
    loader = DataLoader(Subset(train_set, list(sampler)), batch_size=args.batch_size // world)
    if distributed:
        dist.barrier()
    start = time.perf_counter()
    steps = 0
    for data, target in loader:
        optimizer.zero_grad()
        criterion(model(data), target).backward()
        optimizer.step()
        steps += 1
    epoch_s = time.perf_counter() - start
    result = {"processes": world, "epoch_s": epoch_s, "steps": steps}
    if distributed:
        stats = model.comm_stats
        # the same buckets, all-reduced back to back with nothing to hide behind: the cost of communication
        buckets = [b.flat for b in model.reducer.buckets]
        dist.barrier()
        reps = 50
        t0 = time.perf_counter()
        for _ in range(reps):
            for work in [dist.all_reduce(b, op=dist.ReduceOp.AVG, async_op=True) for b in buckets]:
                work.wait()
        alone = (time.perf_counter() - t0) / reps
        result.update(blocked_s=stats["wait_s"], launch_s=stats["launch_s"], alone_per_step_s=alone,
                      buckets=len(buckets), grad_mb=stats["bytes"] / 2 ** 20)
        times = minigrad.tensor([epoch_s], dtype=minigrad.float64)
        dist.all_reduce(times, op=dist.ReduceOp.MAX)
        result["epoch_s"] = times.item()  # the slowest rank decides the epoch
    if rank == 0:
        print("RESULT " + json.dumps(result), flush=True)
    if distributed:
        dist.destroy_process_group()


def run(cmd, env) -> dict:
    proc = subprocess.run(cmd, env=env, capture_output=True, text=True, timeout=1800, check=False)
    for line in proc.stdout.splitlines():
        if line.startswith("RESULT "):
            return json.loads(line[len("RESULT "):])
    raise RuntimeError(f"{' '.join(cmd)} failed ({proc.returncode}):\n{proc.stdout}\n{proc.stderr}")


def main() -> None:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--ranks", type=int, nargs="+", default=[2])
    p.add_argument("--batch-size", type=int, default=128, help="global batch, split over the ranks")
    p.add_argument("--limit", type=int, default=None, help="train on the first N samples only")
    p.add_argument("--data-dir", type=Path, default=None)
    p.add_argument("--worker", choices=["single", "ddp"], help=argparse.SUPPRESS)
    p.add_argument("--bucket-cap-mb", type=float, default=None, help=argparse.SUPPRESS)
    args = p.parse_args()
    if args.worker:
        worker(args)
        return
    env = dict(os.environ, **ONE_THREAD)
    mpiexec = shutil.which("mpiexec", path=str(Path(sys.executable).parent)) or shutil.which("mpiexec")
    common = [str(Path(__file__).resolve()), "--batch-size", str(args.batch_size)]
    common += ["--limit", str(args.limit)] if args.limit else []
    common += ["--data-dir", str(args.data_dir)] if args.data_dir else []
    base = run([sys.executable, *common, "--worker", "single"], env)
    print(f"Fashion-MNIST epoch ({base['steps']} steps of {args.batch_size} samples), one BLAS thread per process")
    print(f"{'processes':>9} | {'buckets':>20} | {'epoch':>7} | {'speed-up':>8} | {'blocked/step':>12} | "
          f"{'all-reduce alone/step':>21}")
    print(f"{1:>9} | {'-':>20} | {base['epoch_s']:>6.2f}s | {1.0:>7.2f}x | {'-':>12} | {'-':>21}")
    for n in args.ranks:
        blocked = {}
        for label, cap in (("DDP's (25 MB)", None), ("one (no overlap)", 1e6)):
            cmd = [mpiexec, "-n", str(n), sys.executable, *common, "--worker", "ddp"]
            r = run(cmd + (["--bucket-cap-mb", str(cap)] if cap else []), env)
            blocked[label] = r["blocked_s"] / max(r["steps"], 1)
            alone = r["alone_per_step_s"]
            buckets = f"{label}: {r['buckets']}"
            print(f"{n:>9} | {buckets:>20} | {r['epoch_s']:>6.2f}s | {base['epoch_s'] / r['epoch_s']:>7.2f}x | "
                  f"{1e3 * blocked[label]:>10.2f}ms | {1e3 * alone:>19.2f}ms")
        hidden = blocked["one (no overlap)"] - blocked["DDP's (25 MB)"]
        print(f"{'':>9}   {n} ranks: the buckets hid {1e3 * hidden:.2f} ms of {1e3 * alone:.2f} ms of all-reduce "
              f"per step ({100 * hidden / alone:.0f}% overlap); {r['grad_mb']:.1f} MB of gradients per step")

if __name__ == "__main__":
    main()
