"""examples/mnist.py's MLP trained data-parallel over MPI ranks with DistributedDataParallel.

    mpiexec -n 2 python examples/mnist_ddp.py                      # 2 ranks on this machine
    mpiexec -n 4 -hosts a,b python examples/mnist_ddp.py --epochs 3  # 2 ranks on each of two hosts
    mpiexec -n 2 python examples/mnist_ddp.py --epochs 12          # resumes from its checkpoint

Each rank trains on its DistributedSampler share of every epoch with the per-rank --batch-size, so a
step sees world_size * batch-size samples; DDP averages the gradients, so the model stays identical on
all ranks. Rank 0 draws the progress bar and writes the checkpoint (atomically) after every epoch; a
rerun continues from it. The test set is split across the ranks and the counts are summed.
"""
from __future__ import annotations

import argparse
import sys
import time
from datetime import timedelta
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # run from a checkout without installing
sys.path.insert(0, str(Path(__file__).resolve().parent))  # mnist.py's model and data loading

from mnist import DATASETS, Net, load_data
from tqdm import tqdm

import minigrad
import minigrad.distributed as dist
from minigrad import nn, optim
from minigrad.datasets import DatasetNotFoundError, IDXFormatError
from minigrad.nn.parallel import DistributedDataParallel as DDP
from minigrad.utils.data import DataLoader, DistributedSampler, Subset


def parse_args(argv=None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    p.add_argument("--epochs", type=int, default=9, help="total epochs (default: 9)")
    p.add_argument("--batch-size", type=int, default=64, help="per-rank batch size (default: 64)")
    p.add_argument("--lr", type=float, default=0.01, help="SGD learning rate (default: 0.01)")
    p.add_argument("--momentum", type=float, default=0.5, help="SGD momentum (default: 0.5)")
    p.add_argument("--seed", type=int, default=1, help="seed for weights and the samplers (default: 1)")
    p.add_argument("--dataset", choices=sorted(DATASETS), help="default: mnist, or fashion-mnist as a fallback")
    p.add_argument("--data-dir", type=Path, help="where to look for / download the data")
    p.add_argument("--backend", choices=["mpi", "nccl"], default="mpi", help="(default: mpi)")
    p.add_argument("--checkpoint", default=None, metavar="PATH",
                   help="written after every epoch and resumed from if present "
                        "(default: checkpoints/<dataset>_ddp.npz; '' to neither save nor resume)")
    p.add_argument("--limit", type=int, metavar="N", help="train on the first N training samples only")
    p.add_argument("--timeout", type=float, default=300.0, help="seconds before a stuck collective fails")
    return p.parse_args(argv)


def train_epoch(model, train_set, sampler, optimizer, criterion, epoch, args, rank):
    sampler.set_epoch(epoch)  # a fresh shuffle per epoch, the same permutation on every rank
    loader = DataLoader(Subset(train_set, list(sampler)), batch_size=args.batch_size, device=args.device)
    model.train()
    total, start = 0.0, time.perf_counter()
    bar = tqdm(loader, desc=f"Epoch {epoch}/{args.epochs}", unit="batch", disable=rank != 0)
    for batch_idx, (data, target) in enumerate(bar, 1):
        optimizer.zero_grad()
        loss = criterion(model(data), target)
        loss.backward()  # the gradients are averaged across ranks before this returns
        optimizer.step()
        total += loss.item()
        bar.set_postfix(loss=f"{total / batch_idx:.4f}", refresh=False)
    stats = minigrad.tensor([total, len(loader), time.perf_counter() - start], dtype=minigrad.float64)
    dist.all_reduce(stats)
    return stats[0].item() / max(stats[1].item(), 1)


def evaluate(model, test_set, criterion, rank, world, device):
    """Each rank scores every world-th test sample; the sums are all-reduced."""
    shard = Subset(test_set, range(rank, len(test_set), world))
    loss, correct = 0.0, 0
    model.eval()
    with minigrad.no_grad():
        for data, target in DataLoader(shard, batch_size=1000, device=device):
            output = model(data)
            loss += criterion(output, target).item() * len(target)
            correct += int(output.argmax(1).eq(target).sum().item())
    totals = minigrad.tensor([loss, correct], dtype=minigrad.float64)
    dist.all_reduce(totals)
    n = len(test_set)
    return totals[0].item() / n, totals[1].item() / n


def main(argv=None) -> int:
    args = parse_args(argv)
    args.device = "cuda" if args.backend == "nccl" else "cpu"
    dist.init_process_group(args.backend, timeout=timedelta(seconds=args.timeout))
    rank, world = dist.get_rank(), dist.get_world_size()
    try:
        name, train_set, test_set = load_data(args)
    except (DatasetNotFoundError, IDXFormatError) as e:
        print(f"[rank {rank}] error: {e}", file=sys.stderr)
        return 1
    if args.limit is not None:
        train_set = Subset(train_set, range(min(args.limit, len(train_set))))

    minigrad.manual_seed(args.seed)
    model = DDP(Net().to(args.device))  # rank 0's initial weights are broadcast to every rank
    criterion = nn.CrossEntropyLoss()
    optimizer = optim.SGD(model.parameters(), lr=args.lr, momentum=args.momentum)
    sampler = DistributedSampler(train_set, num_replicas=world, rank=rank, shuffle=True, seed=args.seed)

    checkpoint = f"checkpoints/{name}_ddp.npz" if args.checkpoint is None else args.checkpoint
    start_epoch = 1
    if checkpoint and Path(checkpoint).exists():  # every rank reads it: a shared path, as for the data
        state = minigrad.load(checkpoint)
        model.module.load_state_dict(state["model"])
        optimizer.load_state_dict(state["optimizer"])
        start_epoch = int(state["epoch"]) + 1
        if rank == 0:
            print(f"Resumed from {checkpoint} after epoch {start_epoch - 1}")
    if rank == 0:
        print(f"{name}: {len(train_set)} training samples over {world} rank(s) ({args.backend}), "
              f"{args.batch_size} per rank per step")

    started = time.perf_counter()
    for epoch in range(start_epoch, args.epochs + 1):
        train_loss = train_epoch(model, train_set, sampler, optimizer, criterion, epoch, args, rank)
        test_loss, accuracy = evaluate(model, test_set, criterion, rank, world, args.device)
        if rank == 0:
            print(f"Epoch {epoch}: train loss {train_loss:.4f}, test loss {test_loss:.4f}, "
                  f"accuracy {100 * accuracy:.2f}%")
            if checkpoint:
                Path(checkpoint).parent.mkdir(parents=True, exist_ok=True)
                minigrad.save({"model": model.module.state_dict(), "optimizer": optimizer.state_dict(),
                               "epoch": epoch}, checkpoint)  # written to a temp file, then renamed
    if rank == 0:
        stats = model.comm_stats
        print(f"Done in {time.perf_counter() - started:.1f}s; blocked on gradient all-reduce for "
              f"{stats['wait_s']:.2f}s over {stats['steps']} steps")
    dist.barrier()  # nobody leaves while rank 0 is still writing
    dist.destroy_process_group()
    return 0


if __name__ == "__main__":
    sys.exit(main())
