"""Where a minigrad training step spends its time: cProfile over N steps of the step workload.

    python benchmarks/profile_step.py                       # big MLP, batch 64, 200 steps, top 15
    python benchmarks/profile_step.py --sizes 784-100-10 --batch 256 --steps 500 --sort cumtime
"""
import argparse
import cProfile
import os
import pstats
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, HERE)
sys.path.insert(1, os.path.dirname(HERE))

import numpy as np  # noqa: E402

from numpy_mlp import init_weights  # noqa: E402
from workloads import BIG_MLP, Framework, FrameworkStep  # noqa: E402


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--sizes", default="-".join(map(str, BIG_MLP)))
    p.add_argument("--batch", type=int, default=64)
    p.add_argument("--steps", type=int, default=200)
    p.add_argument("--top", type=int, default=15)
    p.add_argument("--sort", default="tottime")
    p.add_argument("--framework", default="minigrad", choices=("minigrad", "torch"))
    p.add_argument("--device", default="cpu")
    args = p.parse_args(argv)

    sizes = tuple(int(s) for s in args.sizes.split("-"))
    rng = np.random.default_rng(args.batch)
    x = rng.standard_normal((args.batch, sizes[0])).astype(np.float32)
    y = rng.integers(0, sizes[-1], args.batch).astype(np.int64)
    step = FrameworkStep(Framework(args.framework, args.device), sizes, init_weights(sizes), x, y)
    step.warmup(10)

    prof = cProfile.Profile()
    prof.enable()
    for _ in range(args.steps):
        step.run()
    step.sync()
    prof.disable()
    print(f"{args.framework} {args.device}: {args.steps} training steps, MLP {args.sizes}, batch {args.batch}")
    pstats.Stats(prof).sort_stats(args.sort).print_stats(args.top)


if __name__ == "__main__":
    main()
