"""How this machine's speed drifts, and what it does to each part of a training step.

    python benchmarks/phases.py              # 60 s: one line per round
    python benchmarks/phases.py --seconds 300 --batch 256

Each round times a 784x520 matrix product (NumPy), then a block of training steps of the
784-520-320-240-120-10 MLP in minigrad and in torch (same weights, batch 64 by default), split into
forward + loss, backward and optimizer step. On a shared VM, stretches of seconds where other tenants
load the host show up as rounds where everything is slower; which part slows most says what the host
is short of (a memory-bound SGD update slowing far more than a matrix product: memory bandwidth).
run.py interleaves contenders in short blocks so that such a stretch falls on all of them; this script
shows how unevenly it falls on the parts of a step. No assertions: a diagnostic.
"""
from __future__ import annotations

import argparse
import os
import sys
import time

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

import numpy as np  # noqa: E402
import workloads as W  # noqa: E402
from numpy_mlp import init_weights  # noqa: E402


class SplitStep(W.FrameworkStep):
    """The house training step, with its three parts timed separately."""

    def __init__(self, fw, sizes, weights, x, y):
        super().__init__(fw, sizes, weights, x, y)
        self.parts = np.zeros(3)

    def run(self):
        t0 = time.perf_counter()
        self.opt.zero_grad()
        loss = self.criterion(self.model(self.x), self.y)
        self.fw.sync()
        t1 = time.perf_counter()
        loss.backward()
        self.fw.sync()
        t2 = time.perf_counter()
        self.update()
        self.fw.sync()
        self.parts += (t1 - t0, t2 - t1, time.perf_counter() - t2)

    def update(self):
        self.opt.step()


class ParallelUpdateStep(SplitStep):
    """minigrad's step with the SGD update of any parameter of 256K elements or more split across the cores
    (the first layer's weight; the default, numba_cpu.PARALLEL_MIN, keeps every loop below 1M on one core)."""

    def update(self):
        from minigrad.kernels import numba_cpu
        serial_below, numba_cpu.PARALLEL_MIN = numba_cpu.PARALLEL_MIN, 1 << 18
        try:
            self.opt.step()
        finally:
            numba_cpu.PARALLEL_MIN = serial_below


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--seconds", type=float, default=60.0)
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=100, help="training steps per block")
    p.add_argument("--parallel-update", action="store_true",
                   help="also minigrad with the first layer's SGD update on every core (needs numba)")
    args = p.parse_args(argv)

    rng = np.random.default_rng(0)
    x = rng.standard_normal((args.batch, W.BIG_MLP[0])).astype(np.float32)
    y = rng.integers(0, W.BIG_MLP[-1], args.batch).astype(np.int64)
    weights = init_weights(W.BIG_MLP)
    steps = {name: SplitStep(W.Framework(name), W.BIG_MLP, weights, x, y) for name in ("minigrad", "torch")}
    if args.parallel_update:
        steps["minigrad[parallel update]"] = ParallelUpdateStep(W.Framework("minigrad"), W.BIG_MLP, weights, x, y)
    for step in steps.values():
        step.warmup(10)
    a = rng.standard_normal((args.batch, 784)).astype(np.float32)
    b = rng.standard_normal((784, 520)).astype(np.float32)

    print(f"MLP {'-'.join(map(str, W.BIG_MLP))}, batch {args.batch}; per step, ms: total (forward+loss, "
          f"backward, optimizer)")
    end = time.perf_counter() + args.seconds
    while time.perf_counter() < end:
        t0 = time.perf_counter()
        for _ in range(100):
            a @ b
        row = [f"matmul {(time.perf_counter() - t0) * 1e4:6.1f} us"]
        for name, step in steps.items():
            time.sleep(0.1)  # let the other library's worker threads park (see run.py)
            step.parts[:] = 0
            for _ in range(args.steps):
                step.run()
            f, bwd, opt = step.parts / args.steps * 1e3
            row.append(f"{name} {f + bwd + opt:5.2f} ({f:4.2f} {bwd:4.2f} {opt:4.2f})")
        print(" | ".join(row), flush=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
