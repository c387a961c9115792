"""The classic MNIST CNN's training step, minigrad vs torch side by side in one process.

    python benchmarks/cnn.py                      # batch 64, 7 interleaved blocks; then where minigrad's time goes
    python benchmarks/cnn.py --quick --batch 64,128
    python benchmarks/cnn.py --profile-only       # only the per-op breakdown of minigrad's step

The model is torch's examples/mnist CNN: conv 1->32 3x3, relu, conv 32->64 3x3, relu, max-pool 2,
dropout 0.25, flatten, fc 9216->128, relu, dropout 0.5, fc 128->10, log-softmax, nll loss; one step =
zero_grad, forward, loss, backward, SGD-momentum update. Both libraries start from the same weights.

Method: the house harness (run.py): warm-up, calibrated blocks interleaved in a rotating order with a
pause before each, median over blocks. Correctness first: two float64 steps from the same weights with
dropout off (its masks come from each library's own generator) must give the same loss and weights.
``cnn_workloads()`` returns the workloads for run.py to register.
"""
from __future__ import annotations

import argparse
import os
import sys

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

import numpy as np  # noqa: E402

import run as R  # noqa: E402
import workloads as W  # noqa: E402

CONV = ((1, 32, 3), (32, 64, 3))
FC = ((9216, 128), (128, 10))


def init_cnn_weights(seed: int = 0) -> list:
    """[(weight, bias), ...] per layer, torch's default init bounds, as float32 NumPy arrays."""
    rng = np.random.default_rng(seed)
    out = []
    for shape in [(o, i, k, k) for i, o, k in CONV] + [(o, i) for i, o in FC]:
        bound = 1 / np.sqrt(np.prod(shape[1:]))
        out.append((rng.uniform(-bound, bound, shape).astype(np.float32),
                    rng.uniform(-bound, bound, shape[0]).astype(np.float32)))
    return out


def cnn_model(fw: W.Framework, weights: list):
    nn = fw.lib.nn
    model = nn.Sequential(
        nn.Conv2d(1, 32, 3, 1), nn.ReLU(), nn.Conv2d(32, 64, 3, 1), nn.ReLU(), nn.MaxPool2d(2), nn.Dropout(0.25),
        nn.Flatten(), nn.Linear(9216, 128), nn.ReLU(), nn.Dropout(0.5), nn.Linear(128, 10), nn.LogSoftmax(dim=1))
    if fw.device != "cpu":
        model = model.to(fw.device)
    for p, a in zip(model.parameters(), [a for pair in weights for a in pair]):
        assert tuple(p.shape) == a.shape, (tuple(p.shape), a.shape)
        fw.set_(p, a)
    return model


class FrameworkCNNStep(W.FrameworkStep):
    """The house training step (run, snapshot) on the CNN, with the nll loss after its log-softmax."""

    def __init__(self, fw: W.Framework, weights, x, y, dropout: bool = True, double: bool = False):
        W.FrameworkContender.__init__(self, fw)
        lib = fw.lib
        self.model = cnn_model(fw, weights)
        if double:
            self.model.double()
            x = x.astype(np.float64)
        if not dropout:
            for m in self.model.modules():
                if type(m).__name__ == "Dropout":
                    m.eval()
        self.opt = lib.optim.SGD(self.model.parameters(), lr=W.LR, momentum=W.MOMENTUM)
        self.criterion = lib.nn.functional.nll_loss
        self.x, self.y = fw.tensor(x), fw.tensor(y)
        self.loss = None


def _data(batch: int, seed: int):
    rng = np.random.default_rng(seed + batch)
    return rng.standard_normal((batch, 1, 28, 28)).astype(np.float32), rng.integers(0, 10, batch).astype(np.int64)


def check_cnn(devices, batch: int, seed: int = 0, steps: int = 2) -> dict:
    """Each minigrad contender against torch on the same device, dropout off, after each of ``steps`` steps.
    In float64: in float32 the conv2 weight gradient (a sum over 36,864 products per element at batch 64) differs
    by summation order alone by more than the house tolerance; float64 makes the check tight."""
    weights, (x, y) = init_cnn_weights(seed), _data(batch, seed)
    return W.check_against_torch(lambda fw: FrameworkCNNStep(fw, weights, x, y, dropout=False, double=True),
                                 devices, steps)


def cnn_workloads(devices=("cpu",), batch_sizes=(64,), seed: int = 0) -> list:
    """The CNN step as run.py workloads (group 'step'); torch is the reference of the check."""
    weights = init_cnn_weights(seed)
    out = []
    for batch in batch_sizes:
        x, y = _data(batch, seed)
        f = {}
        for name, dev in W._frameworks(devices):
            f[W._label(name, dev)] = (lambda n=name, d=dev, x=x, y=y:
                                      FrameworkCNNStep(W.Framework(n, d), weights, x, y))
        out.append(W.Workload(f"step/cnn-mnist/b{batch}", "step", f"train step classic MNIST CNN, batch {batch}",
                              "step", f, check=lambda b=batch: check_cnn(devices, b, seed),
                              meta={"model": "conv32-conv64-maxpool-fc128-fc10", "batch": batch}))
    return out


def profile(batch: int, steps: int, top: int, device: str = "cpu") -> None:
    """Where minigrad's step goes: cProfile's own time per function over ``steps`` steps."""
    weights, (x, y) = init_cnn_weights(), _data(batch, 0)
    step = FrameworkCNNStep(W.Framework("minigrad", device), weights, x, y)
    W.profile_steps(step, steps, top, f"minigrad {device}: {steps} CNN training steps, batch {batch}")


def _quiet(*_args, **_kwargs) -> None:
    """run_workload's progress dots, silenced."""


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--batch", default="64", help="comma-separated batch sizes")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--blocks", type=int, default=None)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "all"))
    p.add_argument("--profile-steps", type=int, default=10, help="0: no profile")
    p.add_argument("--profile-only", action="store_true")
    p.add_argument("--top", type=int, default=25)
    args = p.parse_args(argv)
    devices = ["cpu", "cuda"] if args.device == "all" else [args.device]
    batches = tuple(int(b) for b in args.batch.split(","))
    if not args.profile_only:
        cfg = dict(R.MODES["quick" if args.quick else "full"], iters=None, warmup_iters=None, memory=False)
        if args.blocks:
            cfg["blocks"] = args.blocks
        wls = cnn_workloads(devices, batches)
        checks = R.run_checks(wls, lambda *a, **k: print(*a, **k, file=sys.stderr, flush=True))
        results = []
        for wl in wls:
            timings = R.run_workload(wl, cfg, _quiet)
            results.append({"key": wl.key, "group": wl.group, "title": wl.title, "unit": wl.unit, "meta": wl.meta,
                            "contenders": timings, "ratios": R.ratios(timings)})
        report = {"workloads": results, "correctness": {"workloads": checks}}
        print(R.table(report))
        print()
        print(R.summary(report))
    if args.profile_steps:
        print()
        profile(batches[0], args.profile_steps, args.top, devices[0])
    return 0


if __name__ == "__main__":
    sys.exit(main())
