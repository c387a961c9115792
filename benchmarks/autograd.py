"""Autograd benchmarks: the first-order training step before and after the higher-order engine, and a
Hessian-vector product of the tutorial MLP's loss, minigrad vs torch.

    python benchmarks/autograd.py                         # both; baseline = the commit before the engine rewrite
    python benchmarks/autograd.py --baseline d70023c --quick
    python benchmarks/autograd.py --only hvp

Method: the house harness (run.py): warm-up, calibrated blocks interleaved in a rotating order with a
pause before each, median over blocks, everything in one process. The "before" contender is minigrad as
of ``--baseline``, checked out with ``git worktree`` into a temporary folder and imported under another
name (``minigrad_baseline``), so both engines race in the same process on the same data; both run the
NumPy reference kernels unless ``--fast-kernels`` (so the comparison isolates the engine). Correctness
first: every contender's loss and parameters after two steps (the HVP: its result) must agree.
"""
from __future__ import annotations

import argparse
import importlib.util
import os
import subprocess
import sys
import tempfile

HERE = os.path.dirname(os.path.abspath(__file__))
ROOT = os.path.dirname(HERE)
sys.path.insert(0, HERE)
if ROOT not in sys.path:
    sys.path.insert(1, ROOT)

import numpy as np  # noqa: E402
import run as R  # noqa: E402
import workloads as W  # noqa: E402

BASELINE = "4156942"  # the last commit before the engine rewrite for higher-order gradients
TUTORIAL = (784, 520, 320, 240, 120, 10)


class LibFramework(W.Framework):
    """A Framework around an already imported library (here: the baseline minigrad)."""

    def __init__(self, lib, label: str):
        self.name, self.device, self.lib, self._label = "minigrad", "cpu", lib, label

    @property
    def label(self) -> str:
        return self._label


def load_baseline(rev: str, folder: str):
    """minigrad as of ``rev``, imported as ``minigrad_baseline`` from a git worktree in ``folder``."""
    subprocess.run(["git", "-C", ROOT, "worktree", "add", "--detach", "-f", folder, rev], check=True,
                   capture_output=True)
    package = os.path.join(folder, "minigrad")
    spec = importlib.util.spec_from_file_location("minigrad_baseline", os.path.join(package, "__init__.py"),
                                                  submodule_search_locations=[package])
    module = importlib.util.module_from_spec(spec)
    sys.modules["minigrad_baseline"] = module
    spec.loader.exec_module(module)
    return module


class HvpStep(W.FrameworkContender):
    """H v for the tutorial MLP's cross-entropy loss w.r.t. all parameters: grad, dot with v, grad again."""

    def __init__(self, fw: W.Framework, weights, x, y, v):
        super().__init__(fw)
        self.model = fw.mlp(TUTORIAL, weights)
        self.params = list(self.model.parameters())
        self.x, self.y = fw.tensor(x), fw.tensor(y)
        self.v = [fw.tensor(a) for a in v]
        self.result = None

    def run(self):
        lib = self.fw.lib
        loss = lib.nn.functional.cross_entropy(self.model(self.x), self.y)
        grads = lib.autograd.grad(loss, self.params, create_graph=True)
        dot = sum((g * v).sum() for g, v in zip(grads, self.v))
        self.result = lib.autograd.grad(dot, self.params)

    def snapshot(self):
        return {f"hv{i}": self.fw.numpy(h) for i, h in enumerate(self.result)}


def hvp_workload(batch: int = 64, seed: int = 0) -> W.Workload:
    rng = np.random.default_rng(seed)
    weights = _weights(rng)
    x = rng.standard_normal((batch, TUTORIAL[0])).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    v = [rng.standard_normal(a.shape).astype(np.float32) for pair in weights for a in pair]
    factories = {name: (lambda name=name: HvpStep(W.Framework(name), weights, x, y, v))
                 for name in ("torch", "minigrad")}
    return W.Workload(key=f"hvp/tutorial/b{batch}", group="step", title=f"HVP of the tutorial MLP loss, batch {batch}",
                      unit="iter", factories=factories, check=lambda f=factories: _agree(f, 1))


def _weights(rng):
    out = []
    for fan_in, fan_out in zip(TUTORIAL[:-1], TUTORIAL[1:]):
        bound = 1 / np.sqrt(fan_in)
        out.append((rng.uniform(-bound, bound, (fan_out, fan_in)).astype(np.float32),
                    rng.uniform(-bound, bound, fan_out).astype(np.float32)))
    return out


def _agree(factories, steps: int = 2) -> dict:
    """Every contender's snapshot after ``steps`` runs against torch's."""
    snaps = {}
    for label, make in factories.items():
        c = make()
        for _ in range(steps):
            c.run()
        snaps[label] = c.snapshot()
    reference = snaps.pop("torch")
    results = {label: W.compare(snap, reference) for label, snap in snaps.items()}
    return {"passed": all(r["passed"] for r in results.values()), **results}


def step_workload(baseline, batch: int = 64, seed: int = 0) -> W.Workload:
    """The tutorial MLP's SGD-momentum step: minigrad now, minigrad at the baseline, and torch."""
    rng = np.random.default_rng(seed)
    weights = _weights(rng)
    x = rng.standard_normal((batch, TUTORIAL[0])).astype(np.float32)
    y = rng.integers(0, 10, batch).astype(np.int64)
    frameworks = {"torch": lambda: W.Framework("torch"), "minigrad": lambda: W.Framework("minigrad"),
                  "minigrad-before": lambda: LibFramework(baseline, "minigrad-before")}
    factories = {label: (lambda make=make: W.FrameworkStep(make(), TUTORIAL, weights, x, y))
                 for label, make in frameworks.items()}
    return W.Workload(key=f"step/tutorial-before-after/b{batch}", group="step",
                      title=f"tutorial MLP step, batch {batch}: engine now vs before", unit="step",
                      factories=factories, check=lambda f=factories: _agree(f))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--baseline", default=BASELINE, help="the git revision to compare the step against")
    parser.add_argument("--only", choices=("step", "hvp"), default=None)
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--batch", type=int, default=64)
    parser.add_argument("--fast-kernels", action="store_true",
                        help="let 'minigrad' use the numba kernels; by default both minigrads run the NumPy "
                             "reference kernels, so the step comparison measures the engine alone")
    args = parser.parse_args(argv)
    if not args.fast_kernels:
        os.environ["MINIGRAD_KERNELS"] = "reference"  # read when the kernel table is first used, after this
    cfg = dict(R.MODES["quick" if args.quick else "full"], iters=None, warmup_iters=None, memory=False)
    workloads = []
    with tempfile.TemporaryDirectory() as tmp:
        folder = os.path.join(tmp, "baseline")
        try:
            if args.only in (None, "step"):
                workloads.append(step_workload(load_baseline(args.baseline, folder), args.batch))
            if args.only in (None, "hvp"):
                workloads.append(hvp_workload(args.batch))
            for wl in workloads:
                print(wl.title, "| correctness:", wl.check())
                result = R.run_workload(wl, cfg, lambda *a, **k: print(*a, **k, flush=True))
                print()
                medians = {label: r["median_s"] for label, r in result.items() if r and "median_s" in r}
                for label, t in medians.items():
                    print(f"  {label:>16}: {t * 1e3:8.3f} ms   ({t / medians['torch']:.3f}x torch)")
                if "minigrad-before" in medians:
                    print(f"  now / before: {medians['minigrad'] / medians['minigrad-before']:.3f}")
        finally:
            subprocess.run(["git", "-C", ROOT, "worktree", "remove", "--force", folder], capture_output=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
