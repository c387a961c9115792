"""A recurrent language model's training step, minigrad vs torch side by side in one process.

    python benchmarks/rnn.py                    # LSTM and GRU, 7 interleaved blocks; then where minigrad's time goes
    python benchmarks/rnn.py --quick --mode lstm
    python benchmarks/rnn.py --profile-only

The model: Embedding(100, 64) -> one-layer LSTM or GRU (hidden 256) -> Linear(256, 100), over sequences
of 64 steps, batch 32; the loss is cross-entropy over every step; one step = zero_grad, forward, loss,
backward, SGD-momentum update. Both libraries start from the same weights.

Method: the house harness (run.py, which this script calls): warm-up, calibrated blocks interleaved in
a rotating order with a pause before each, median over blocks. Correctness first: two float64 steps
from the same weights must give the same loss and weights as torch. ``rnn_workloads()`` returns the
workloads for run.py to register.
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

VOCAB, EMBED, HIDDEN, STEPS, BATCH = 100, 64, 256, 64, 32
GATES = {"LSTM": 4, "GRU": 3}


def init_weights(mode: str, seed: int = 0) -> list:
    """The model's parameters in registration order, torch's default init distributions, float32 NumPy."""
    rng = np.random.default_rng(seed)
    bound = 1 / np.sqrt(HIDDEN)
    gates = GATES[mode] * HIDDEN
    rnn = [rng.uniform(-bound, bound, shape) for shape in ((gates, EMBED), (gates, HIDDEN), (gates,), (gates,))]
    out = [rng.uniform(-bound, bound, (VOCAB, HIDDEN)), rng.uniform(-bound, bound, VOCAB)]
    return [a.astype(np.float32) for a in [rng.standard_normal((VOCAB, EMBED))] + rnn + out]


def language_model(fw: W.Framework, mode: str, weights: list):
    """Embedding -> LSTM/GRU -> Linear, as a Module of fw's library, holding exactly ``weights``."""
    nn = fw.lib.nn

    class LanguageModel(nn.Module):
        def __init__(self):
            super().__init__()
            self.embed = nn.Embedding(VOCAB, EMBED)
            self.rnn = getattr(nn, mode)(EMBED, HIDDEN)
            self.out = nn.Linear(HIDDEN, VOCAB)

        def forward(self, tokens):
            states, _ = self.rnn(self.embed(tokens))
            return self.out(states).reshape(-1, VOCAB)

    model = LanguageModel()
    if fw.device != "cpu":
        model = model.to(fw.device)
    for p, a in zip(model.parameters(), weights):
        assert tuple(p.shape) == a.shape, (tuple(p.shape), a.shape)
        fw.set_(p, a)
    return model


class FrameworkRNNStep(W.FrameworkStep):
    """The house training step (run, snapshot) on the language model: cross-entropy over all steps."""

    def __init__(self, fw: W.Framework, mode: str, weights, x, y, double: bool = False):
        W.FrameworkContender.__init__(self, fw)
        lib = fw.lib
        self.model = language_model(fw, mode, weights)
        if double:
            self.model.double()
        self.opt = lib.optim.SGD(self.model.parameters(), lr=W.LR, momentum=W.MOMENTUM)
        self.criterion = lib.nn.functional.cross_entropy
        self.x, self.y = fw.tensor(x), fw.tensor(y.reshape(-1))
        self.loss = None


def _data(seed: int):
    rng = np.random.default_rng(seed)
    return rng.integers(0, VOCAB, (STEPS, BATCH)).astype(np.int64), rng.integers(0, VOCAB, (STEPS, BATCH))


def check_rnn(devices, mode: str, seed: int = 0, steps: int = 2) -> dict:
    """Each minigrad contender against torch on the same device after each of ``steps`` float64 steps."""
    weights, (x, y) = init_weights(mode, seed), _data(seed)
    return W.check_against_torch(lambda fw: FrameworkRNNStep(fw, mode, weights, x, y, double=True), devices, steps)


def rnn_workloads(devices=("cpu",), modes=("LSTM", "GRU"), seed: int = 0) -> list:
    """The language-model step per recurrent cell, as run.py workloads (group 'step'); torch is the reference."""
    x, y = _data(seed)
    out = []
    for mode in modes:
        weights = init_weights(mode, seed)
        f = {W._label(name, dev): (lambda n=name, d=dev, m=mode, w=weights: FrameworkRNNStep(W.Framework(n, d), m, w,
                                                                                             x, y))
             for name, dev in W._frameworks(devices)}
        out.append(W.Workload(f"step/{mode.lower()}-lm/b{BATCH}", "step",
                              f"train step Embedding({VOCAB},{EMBED})-{mode}({HIDDEN})-Linear, {STEPS} steps, "
                              f"batch {BATCH}", "step", f, check=lambda m=mode: check_rnn(devices, m, seed),
                              meta={"vocab": VOCAB, "embed": EMBED, "hidden": HIDDEN, "steps": STEPS, "batch": BATCH}))
    return out


def profile(mode: str, steps: int, top: int, device: str = "cpu") -> None:
    """Where minigrad's step goes: cProfile's own time per function over ``steps`` steps."""
    step = FrameworkRNNStep(W.Framework("minigrad", device), mode, init_weights(mode), *_data(0))
    W.profile_steps(step, steps, top, f"minigrad {device}: {steps} {mode} language-model training steps")


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--mode", default="lstm,gru", help="comma-separated: lstm, gru")
    p.add_argument("--quick", action="store_true")
    p.add_argument("--blocks", type=int, default=None)
    p.add_argument("--device", default="cpu", choices=("cpu", "cuda", "all"))
    p.add_argument("--out", default=os.path.join(HERE, "results", "rnn.json"))
    p.add_argument("--profile-steps", type=int, default=10, help="0: no profile")
    p.add_argument("--profile-only", action="store_true")
    p.add_argument("--top", type=int, default=20)
    args = p.parse_args(argv)
    modes = [m.strip().upper() for m in args.mode.split(",")]
    if not args.profile_only:  # the house runner times the workloads rnn_workloads() registers with it
        R.main(["--only", "rnn", "--device", args.device, "--no-memory", "--out", args.out,
                "--match", ",".join(f"{m.lower()}-lm" for m in modes)]
               + (["--quick"] if args.quick else []) + (["--blocks", str(args.blocks)] if args.blocks else []))
    if args.profile_steps:
        for mode in modes:
            print()
            profile(mode, args.profile_steps, args.top, "cuda" if args.device == "cuda" else "cpu")
    return 0


if __name__ == "__main__":
    sys.exit(main())
