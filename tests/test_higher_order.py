"""Higher-order gradients against torch: first, second and third derivatives of every op in the op table
(``test_ops.CASES``) and of the losses and layers, in float64, plus gradgradcheck.

Each order differentiates a random projection of the previous order's gradients, built identically on
both sides: s0 = sum(out * r0); g_k = d s_{k-1} / d inputs (create_graph=True); s_k = sum_i sum(g_k,i * r_k,i).
A gradient torch reports as None (unused) is compared as zeros.
"""
from __future__ import annotations

import numpy as np
import pytest
from test_ops import CASES, Case, T, assert_same, build, case_inputs

import minigrad

torch = pytest.importorskip("torch")

TOL = dict(rtol=1e-8, atol=1e-9)


def _loss_cases() -> list[Case]:
    target = [0, 2, 1, 2]
    probs = np.array([[0.1, 0.9, 0.5], [0.3, 0.2, 0.7], [0.6, 0.4, 0.5], [0.8, 0.1, 0.2]])

    def const(lib, like, data, dtype=None):
        return lib.tensor(data, dtype=dtype if dtype is not None else like.dtype)

    return [
        Case("linear", lambda lib, x, w, b: lib.nn.functional.linear(x, w, b), (T(4, 3), T(2, 3), T(2))),
        Case("linear-3d_no_bias", lambda lib, x, w: lib.nn.functional.linear(x, w), (T(2, 4, 3), T(2, 3))),
        *[Case(f"cross_entropy-{label}", fn, (T(4, 3),)) for label, fn in [
            ("mean", lambda lib, x: lib.nn.functional.cross_entropy(x, const(lib, x, target, lib.int64))),
            ("sum", lambda lib, x: lib.nn.functional.cross_entropy(x, const(lib, x, target, lib.int64),
                                                                  reduction="sum")),
            ("none", lambda lib, x: lib.nn.functional.cross_entropy(x, const(lib, x, target, lib.int64),
                                                                   reduction="none")),
            ("smoothing_weight", lambda lib, x: lib.nn.functional.cross_entropy(
                x, const(lib, x, target, lib.int64), weight=const(lib, x, [0.2, 1.0, 3.0]), label_smoothing=0.1)),
            ("probabilities", lambda lib, x: lib.nn.functional.cross_entropy(x, const(lib, x, probs / probs.sum(1,
                                                                                                    keepdims=True)))),
            ("nll", lambda lib, x: lib.nn.functional.nll_loss(x.log_softmax(1), const(lib, x, target, lib.int64))),
        ]],
        Case("cross_entropy-soft_target_grad", lambda lib, x, p: lib.nn.functional.cross_entropy(x, p.softmax(1)),
             (T(4, 3), T(4, 3))),
        Case("bce", lambda lib, x: lib.nn.functional.binary_cross_entropy(x.sigmoid(), const(lib, x, probs)),
             (T(4, 3),)),
        Case("bce-target_grad", lambda lib, x, y: lib.nn.functional.binary_cross_entropy(
            x.sigmoid(), y.sigmoid(), reduction="sum"), (T(4, 3), T(4, 3))),
        Case("bce_with_logits", lambda lib, x: lib.nn.functional.binary_cross_entropy_with_logits(
            x, const(lib, x, probs), pos_weight=const(lib, x, [1.0, 2.0, 0.5])), (T(4, 3),)),
        Case("bce_with_logits-target_grad", lambda lib, x, y: lib.nn.functional.binary_cross_entropy_with_logits(
            x, y, reduction="none"), (T(4, 3), T(4, 3))),
        Case("mse", lambda lib, x, y: lib.nn.functional.mse_loss(x, y), (T(4, 3), T(4, 3))),
        Case("mse-none", lambda lib, x, y: lib.nn.functional.mse_loss(x, y, reduction="none"), (T(4, 3), T(3))),
        # float32 in the middle: finite differences at eps=1e-6 would only measure its rounding
        Case("cast-chain", lambda lib, x: (x.float() * 2).double().exp(), (T(2, 3),), gradcheck=False),
        Case("log1p", lambda lib, x: x.log1p(), (T(2, 3, domain="positive"),)),
        Case("inplace-chain", lambda lib, x: _inplace_chain(lib, x), (T(2, 3),)),
    ]


def _inplace_chain(lib, x):
    y = x * 1
    y += x * x
    y *= 2
    y[0] = x[1] * 3
    return y


ALL_CASES = [c for c in CASES + _loss_cases() if c.differentiable]


def _derivatives(lib, case, arrays, orders: int):
    inputs = build(case, arrays, lib, "cpu" if lib is minigrad else None)
    wrt = [x for x in inputs if isinstance(x, (minigrad.Tensor, torch.Tensor)) and x.requires_grad]
    out = case.fn(lib, *inputs)
    rng = np.random.default_rng(7)
    seed = lib.tensor(rng.standard_normal(tuple(out.shape)))
    s = (out * seed).sum()
    results = []
    for _ in range(orders):
        if not s.requires_grad:
            grads = [None] * len(wrt)
        else:
            grads = list(lib.autograd.grad(s, wrt, create_graph=True, allow_unused=True))
        results.append([None if g is None else g.detach() for g in grads])
        terms = [(g * lib.tensor(rng.standard_normal(tuple(g.shape)))).sum() for g in grads
                 if g is not None and g.requires_grad]
        s = sum(terms[1:], terms[0]) if terms else lib.tensor(0.0)
    return wrt, results


@pytest.mark.parametrize("case", ALL_CASES, ids=[c.name for c in ALL_CASES])
def test_first_second_third_derivatives_match_torch(case):
    arrays = case_inputs(case, np.float64)
    wrt, mine = _derivatives(minigrad, case, arrays, 3)
    _, theirs = _derivatives(torch, case, arrays, 3)
    for order, (m_grads, t_grads) in enumerate(zip(mine, theirs), 1):
        for i, (m, t, x) in enumerate(zip(m_grads, t_grads, wrt)):
            t = torch.zeros(tuple(x.shape), dtype=torch.float64) if t is None or t._is_zerotensor() else t
            m = minigrad.zeros(tuple(x.shape), dtype=minigrad.float64) if m is None else m
            assert_same(m, t, TOL, f"order {order} derivative w.r.t. input {i}")


GRADGRAD = [c for c in ALL_CASES if c.gradcheck]


@pytest.mark.parametrize("case", GRADGRAD, ids=[c.name for c in GRADGRAD])
def test_gradgradcheck(case):
    inputs = build(case, case_inputs(case, np.float64), minigrad, "cpu")
    assert minigrad.autograd.gradgradcheck(lambda *xs: case.fn(minigrad, *xs), inputs, atol=1e-5, rtol=1e-3)
