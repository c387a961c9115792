"""How fast a training step can be at best, here: its matrix products alone, beside torch's whole step.

    python benchmarks/floor.py               # both MLPs at batch 64, 256 and 1024; about a minute
    python benchmarks/floor.py --batch 1024 --blocks 9

A step of an MLP does 3L - 1 matrix products for L Linear layers (forward x @ W.T; backward g.T @ x for
each weight and g @ W for each input that needs a gradient), on the shapes minigrad gives them, and then
work that is cheap beside them at large batches (bias, ReLU, loss, SGD). The "products" contender does
only those products, with NumPy's BLAS, the one minigrad calls. Its time over torch's whole step is the
best minigrad/torch ratio any kernel work outside the products can reach on this machine: where it is
above a target, only a faster BLAS could meet it. The three contenders run in interleaved blocks, as in
run.py. No assertions: a measurement.
"""
from __future__ import annotations

import argparse
import statistics
import sys

import numpy as np
from run import calibrate, time_blocks  # (first: run.py puts this checkout's minigrad on the path)

import workloads as W
from numpy_mlp import init_weights


class StepProducts(W.NumpyContender):
    """The matrix products of one training step, on activations and gradients of the step's shapes."""

    label = "products"

    def __init__(self, weights, x, seed=0):
        rng = np.random.default_rng(seed)
        self.weights = [w for w, _ in weights]  # (out, in), as nn.Linear stores them
        self.inputs = [x] + [rng.standard_normal((len(x), w.shape[0])).astype(np.float32)
                             for w in self.weights[:-1]]
        self.grads = [rng.standard_normal((len(x), w.shape[0])).astype(np.float32) for w in self.weights]

    def run(self):
        for i, (w, a, g) in enumerate(zip(self.weights, self.inputs, self.grads)):
            a @ w.T       # forward
            g.T @ a       # the weight's gradient
            if i:         # the input's gradient (the data needs none)
                g @ w


def measure(sizes, batch, blocks, cfg):
    rng = np.random.default_rng(0)
    weights = init_weights(sizes, 0)
    x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], batch).astype(np.int64)
    contenders = {"torch": W.FrameworkStep(W.Framework("torch"), sizes, weights, x, y),
                  "minigrad": W.FrameworkStep(W.Framework("minigrad"), sizes, weights, x, y),
                  "products": StepProducts(weights, x)}
    iters = {label: calibrate(c, cfg) for label, c in contenders.items()}
    failed = dict.fromkeys(contenders)  # time_blocks records a contender's error here and stops timing it
    times, _ = time_blocks(contenders, failed, iters, dict(cfg, blocks=blocks), log=lambda *_, **__: None)
    errors = {label: e for label, e in failed.items() if e is not None}
    if errors:
        raise RuntimeError(f"{'-'.join(map(str, sizes))}, batch {batch}: {errors}")
    return {label: statistics.median(t) for label, t in times.items()}


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", type=int, nargs="*", default=list(W.BATCH_SIZES))
    p.add_argument("--blocks", type=int, default=7)
    p.add_argument("--target-block-s", type=float, default=0.25)
    p.add_argument("--warmup-s", type=float, default=0.3)
    args = p.parse_args(argv)
    cfg = dict(warmup_iters=None, warmup_s=args.warmup_s, iters=None, target_block_s=args.target_block_s,
               cooldown_s=0.25)

    print(f"median of {args.blocks} interleaved blocks, ms per step")
    print(f"{'MLP':24s} {'batch':>5s} {'torch':>8s} {'minigrad':>9s} {'products':>9s} "
          f"{'minigrad/torch':>15s} {'products/torch':>15s}")
    for sizes in (W.BIG_MLP, W.SMALL_MLP):
        for batch in args.batch:
            m = measure(sizes, batch, args.blocks, cfg)
            print(f"{'-'.join(map(str, sizes)):24s} {batch:5d} {m['torch'] * 1e3:8.3f} {m['minigrad'] * 1e3:9.3f} "
                  f"{m['products'] * 1e3:9.3f} {m['minigrad'] / m['torch']:14.2f}x "
                  f"{m['products'] / m['torch']:14.2f}x", flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
