"""Second derivatives through every layer family: gradgradcheck of each module (float64, small sizes)
with respect to its input and all its parameters, and one double-backward comparison against torch per
family (a gradient penalty on the input, then d/dparameters)."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")

# name -> (constructor(lib), input shape, input domain)
MODULES = {
    "Linear": (lambda nn: nn.Linear(3, 2), (4, 3)),
    "Conv1d": (lambda nn: nn.Conv1d(2, 3, 2, stride=2, padding=1), (1, 2, 5)),
    "Conv2d": (lambda nn: nn.Conv2d(2, 2, 2, padding=1, dilation=1), (1, 2, 3, 3)),
    "Conv2d-groups": (lambda nn: nn.Conv2d(2, 4, 2, groups=2, stride=2), (1, 2, 4, 3)),
    "MaxPool2d": (lambda nn: nn.MaxPool2d(2, stride=1), (1, 1, 3, 3)),
    "AvgPool2d": (lambda nn: nn.AvgPool2d(2, stride=1, padding=1, count_include_pad=False), (1, 1, 3, 3)),
    "AdaptiveAvgPool2d": (lambda nn: nn.AdaptiveAvgPool2d((2, 1)), (1, 2, 3, 3)),
    "BatchNorm1d": (lambda nn: nn.BatchNorm1d(3), (4, 3)),
    "BatchNorm2d": (lambda nn: nn.BatchNorm2d(2), (2, 2, 2, 2)),
    "BatchNorm2d-eval": (lambda nn: nn.BatchNorm2d(2).eval(), (2, 2, 2, 2)),
    "Dropout-eval": (lambda nn: nn.Dropout(0.5).eval(), (2, 3)),
    "Dropout-p0": (lambda nn: nn.Dropout(0.0), (2, 3)),
    "Flatten": (lambda nn: nn.Sequential(nn.Flatten(), nn.Linear(6, 2)), (2, 2, 3)),
    "Unflatten": (lambda nn: nn.Sequential(nn.Unflatten(1, (2, 3)), nn.Flatten(), nn.Linear(6, 2)), (2, 6)),
    "Tanh-Sigmoid": (lambda nn: nn.Sequential(nn.Linear(3, 3), nn.Tanh(), nn.Linear(3, 2), nn.Sigmoid()), (2, 3)),
    "ReLU": (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)), (2, 3)),
    "LogSoftmax": (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.LogSoftmax(dim=1)), (2, 3)),
    "Softmax": (lambda nn: nn.Sequential(nn.Linear(3, 4), nn.Softmax(dim=1)), (2, 3)),
    "RNN": (lambda nn: _first(nn.RNN(3, 2, num_layers=2, bidirectional=True)), (3, 1, 3)),
    "GRU": (lambda nn: _first(nn.GRU(3, 2, batch_first=True)), (1, 3, 3)),
    "LSTM": (lambda nn: _first(nn.LSTM(2, 2)), (3, 1, 2)),
    "RNNCell": (lambda nn: nn.RNNCell(3, 2), (2, 3)),
    "GRUCell": (lambda nn: nn.GRUCell(3, 2), (2, 3)),
    "LSTMCell": (lambda nn: _first(nn.LSTMCell(3, 2)), (2, 3)),
}


class _First:
    """A module returning a tuple, reduced to its first tensor (RNNs return (output, state))."""

    def __init__(self, module):
        self.module = module

    def __call__(self, x):
        out = self.module(x)
        while isinstance(out, tuple):
            out = out[0]
        return out

    def parameters(self):
        return self.module.parameters()

    def double(self):
        self.module.double()
        return self


def _first(module):
    return _First(module)


def _build(lib, name, seed=0):
    lib.manual_seed(seed)
    make, shape = MODULES[name]
    module = make(lib.nn).double()
    rng = np.random.default_rng(1)
    x = lib.tensor(rng.standard_normal(shape), dtype=lib.float64, requires_grad=True)
    return module, x


@pytest.mark.parametrize("name", list(MODULES))
def test_module_gradgradcheck(name):
    module, x = _build(minigrad, name)
    params = list(module.parameters())

    def fn(x, *ps):
        return module(x)

    assert minigrad.autograd.gradgradcheck(fn, [x, *params], atol=1e-5, rtol=1e-3)


@pytest.mark.parametrize("name", list(MODULES))
def test_module_double_backward_matches_torch(name):
    results = []
    for lib in (minigrad, torch):
        module, x = _build(lib, name)
        params = list(module.parameters())
        if lib is torch:  # the same weights on both sides
            for p, q in zip(params, _build(minigrad, name)[0].parameters()):
                with torch.no_grad():
                    p.copy_(torch.tensor(q.detach().numpy()))
        out = module(x)
        (gx,) = lib.autograd.grad((out * out).sum(), x, create_graph=True)
        penalty = (gx * gx).sum()
        grads = lib.autograd.grad(penalty, [x, *params], allow_unused=True)
        results.append([g if g is None else g.detach().numpy() for g in grads])
    for i, (m, t) in enumerate(zip(*results)):
        if t is None or m is None:
            assert (m is None or not np.any(m)) and (t is None or not np.any(t)), f"gradient {i}"
            continue
        np.testing.assert_allclose(m, t, rtol=1e-7, atol=1e-9, err_msg=f"gradient {i}")
