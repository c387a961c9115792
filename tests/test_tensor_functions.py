"""Sorting, selection, splitting and product functions, checked against torch.

``CASES`` uses test_ops' table format (``fn(lib, *inputs)`` runs unchanged with ``lib`` = minigrad or torch);
here ``fn`` may return a tensor or a tuple of tensors (sort's (values, indices), chunk's pieces). Every
output's values, dtype and shape must match torch's; the backward seeds each differentiable output with the
same random upstream gradient in both libraries. Float64 cases also pass gradcheck and gradgradcheck.
``ERRORS`` holds bad calls: minigrad must raise torch's error type with torch's message.
"""
from __future__ import annotations

import numpy as np
import pytest
from test_ops import (
    DTYPES,
    MASK,
    TOLERANCES,
    Case,
    T,
    _tensor_on,
    assert_same,
    build,
    case_inputs,
)

import minigrad
from minigrad.backend import to_numpy

torch = pytest.importorskip("torch")


def nondiff(name, fn, *inputs) -> Case:
    return Case(name, fn, inputs, differentiable=False)


def on(lib, ref, data, dtype=None):
    return _tensor_on(lib, ref, data, dtype)


def int_index(lib, ref, data):
    return on(lib, ref, data, lib.int64)


# Distinct values with ties, so sort's order (and its gradient routing) is fully determined.
TIED = np.array([[3.0, 1.0, 3.0, 2.0, 1.0, 3.0], [0.5, 0.5, 0.5, -1.0, 2.0, -1.0]])
NAN_ROW = [float("nan"), 1.0, -2.0, float("nan"), 0.0]

CASES: list[Case] = [
    # ---- sort / argsort / topk: every dim, both directions, the function forms, 1-d, 3-d and 0-d
    *[Case(f"sort-{label}", fn, (T(3, 5),)) for label, fn in [
        ("default", lambda lib, a: a.sort()), ("dim0", lambda lib, a: a.sort(0)),
        ("dim-2_desc", lambda lib, a: a.sort(dim=-2, descending=True)),
        ("descending", lambda lib, a: lib.sort(a, descending=True)),
        ("stable", lambda lib, a: lib.sort(a, stable=True, dim=1)),
        ("values_only", lambda lib, a: a.sort(1, True).values)]],
    Case("sort-1d", lambda lib, a: a.sort(), (T(7),)),
    Case("sort-3d_dim1", lambda lib, a: lib.sort(a, 1, True), (T(2, 4, 3),)),
    Case("sort-0d", lambda lib, a: a.sort(), (T(),)),
    Case("sort-empty_dim", lambda lib, a: a.sort(dim=1), (T(2, 0),)),
    *[nondiff(f"argsort-{label}", fn, T(3, 5)) for label, fn in [
        ("default", lambda lib, a: a.argsort()), ("dim0_desc", lambda lib, a: lib.argsort(a, 0, True)),
        ("stable", lambda lib, a: lib.argsort(a, dim=-1, stable=True))]],
    *[Case(f"topk-{label}", fn, (T(3, 6),)) for label, fn in [
        ("k1", lambda lib, a: a.topk(1)), ("k3", lambda lib, a: lib.topk(a, 3)),
        ("k_all", lambda lib, a: a.topk(6)), ("k0", lambda lib, a: a.topk(0)),
        ("dim0", lambda lib, a: a.topk(2, dim=0)), ("smallest", lambda lib, a: a.topk(2, largest=False)),
        ("dim-2_smallest", lambda lib, a: lib.topk(a, 3, -2, False)),
        # sorted=False leaves the order to the implementation: compare the values as a set
        ("unsorted", lambda lib, a: a.topk(3, sorted=False).values.sort().values)]],
    Case("topk-1d", lambda lib, a: a.topk(4).values, (T(9),)),
    Case("topk-0d", lambda lib, a: a.topk(1), (T(),)),
    # ---- products
    Case("bmm", lambda lib, a, b: lib.bmm(a, b), (T(3, 2, 4), T(3, 4, 5))),
    Case("bmm-method_batch1", lambda lib, a, b: a.bmm(b), (T(1, 3, 2), T(1, 2, 1))),
    Case("mm", lambda lib, a, b: lib.mm(a, b), (T(3, 4), T(4, 2))),
    Case("mm-method", lambda lib, a, b: a.mm(b), (T(1, 5), T(5, 3))),
    Case("dot", lambda lib, a, b: lib.dot(a, b), (T(5),) * 2),
    Case("dot-method", lambda lib, a, b: a.dot(b), (T(1),) * 2),
    # ---- split, chunk, unbind: tuples of pieces, each its own node
    *[Case(f"chunk-{label}", fn, (T(7, 4),)) for label, fn in [
        ("even", lambda lib, a: a.chunk(2, 1)), ("uneven", lambda lib, a: lib.chunk(a, 3)),
        ("fewer_pieces", lambda lib, a: a.chunk(6)), ("more_than_size", lambda lib, a: a.chunk(10, dim=-1)),
        ("one", lambda lib, a: a.chunk(1))]],
    Case("chunk-empty_dim", lambda lib, a: a.chunk(3, 1), (T(2, 0),)),
    *[Case(f"split-{label}", fn, (T(7, 4),)) for label, fn in [
        ("int", lambda lib, a: a.split(3)), ("int_dim1", lambda lib, a: lib.split(a, 2, dim=1)),
        ("int_larger", lambda lib, a: a.split(10)), ("list", lambda lib, a: a.split([2, 0, 5])),
        ("tuple_dim-1", lambda lib, a: lib.split(a, (1, 3), -1)),
        ("keyword", lambda lib, a: lib.split(a, split_size_or_sections=[4, 3]))]],
    Case("split-empty_dim_size0", lambda lib, a: a.split(0, 1), (T(2, 0),)),
    Case("unbind", lambda lib, a: a.unbind(), (T(3, 4),)),
    Case("unbind-dim-1", lambda lib, a: lib.unbind(a, -1), (T(2, 3, 2),)),
    Case("unbind-used_twice", lambda lib, a: lib.stack([p * p for p in a.unbind(1)] + list(a.unbind(1)), 0),
         (T(2, 3),)),
    # ---- index_select: repeated indices accumulate gradient
    Case("index_select-dim0", lambda lib, a: a.index_select(0, int_index(lib, a, [2, 0, 2, 2])), (T(3, 4),)),
    Case("index_select-dim-1", lambda lib, a: lib.index_select(a, -1, int_index(lib, a, [3, 1])), (T(2, 3, 4),)),
    Case("index_select-int32_0d_index", lambda lib, a: a.index_select(1, on(lib, a, 1, lib.int32)), (T(3, 4),)),
    Case("index_select-empty", lambda lib, a: a.index_select(0, int_index(lib, a, [])), (T(3, 4),)),
    Case("index_select-0d_input", lambda lib, a: a.index_select(0, int_index(lib, a, [0])), (T(),)),
    # ---- masked_fill: number or 0-d tensor value, mask broadcasting both ways
    Case("masked_fill-number", lambda lib, a: a.masked_fill(on(lib, a, MASK), -1.5), (T(3, 4),)),
    Case("masked_fill-function", lambda lib, a: lib.masked_fill(a, on(lib, a, MASK[0]), 2), (T(3, 4),)),
    Case("masked_fill-tensor_value", lambda lib, a, v: a.masked_fill(on(lib, a, MASK), v), (T(3, 4), T())),
    Case("masked_fill-mask_broadcasts_input", lambda lib, a: a.masked_fill(on(lib, a, np.stack([MASK, ~MASK])), 0.0),
         (T(4),)),
    Case("masked_fill-attention", lambda lib, a: a.masked_fill(on(lib, a, np.triu(np.ones((4, 4), bool), 1)),
                                                               float("-inf")).softmax(-1), (T(2, 4, 4),)),
    Case("masked_fill-inplace_on_copy", lambda lib, a, v: (a * 1).masked_fill_(on(lib, a, MASK), v), (T(3, 4), T())),
    # ---- where: grads for both branches, scalars on either side
    Case("where-both_branches", lambda lib, a, b: lib.where(a > b, a, b), (T(3, 4), T(3, 4))),
    Case("where-broadcast_branches", lambda lib, a, b: lib.where(on(lib, a, MASK), a, b), (T(3, 1), T(4))),
    Case("where-scalar_other", lambda lib, a: lib.where(a > 0, a, -2), (T(3, 4),)),
    Case("where-scalar_input", lambda lib, a: lib.where(a > 0, 0.25, a), (T(3, 4),)),
    nondiff("where-two_scalars", lambda lib, a: lib.where(a > 0, 1, 2.5), T(3, 4)),
    nondiff("where-two_int_scalars", lambda lib, a: lib.where(a > 0, 1, 2), T(3, 4)),
    nondiff("where-one_arg", lambda lib, a: lib.where(a > 0), T(3, 4)),
    nondiff("where-one_arg_0d", lambda lib, a: lib.where(on(lib, a, True)), T()),
    nondiff("nonzero", lambda lib, a: lib.nonzero(a > 0), T(3, 4)),
    nondiff("nonzero-as_tuple", lambda lib, a: (a > 0).nonzero(as_tuple=True), T(2, 3, 2)),
    nondiff("nonzero-0d", lambda lib, a: lib.nonzero(on(lib, a, 5)), T()),
    # ---- repeat, expand_as, tril/triu
    *[Case(f"repeat-{label}", fn, (T(2, 3),)) for label, fn in [
        ("same_dims", lambda lib, a: a.repeat(2, 3)), ("ones", lambda lib, a: a.repeat(1, 1)),
        ("more_dims", lambda lib, a: a.repeat(2, 1, 2)), ("tuple", lambda lib, a: a.repeat((3, 1, 1, 2))),
        ("zero", lambda lib, a: a.repeat(0, 2))]],
    Case("repeat-0d", lambda lib, a: a.repeat(2, 3), (T(),)),
    Case("repeat-0d_empty_list", lambda lib, a: a.repeat([]), (T(),)),
    Case("expand_as", lambda lib, a, b: a.expand_as(b), (T(3, 1), T(2, 3, 4))),
    *[Case(f"{name}-{label}", fn, (T(3, 4),)) for name in ("tril", "triu") for label, fn in [
        ("default", lambda lib, a, n=name: getattr(a, n)()),
        ("function_1", lambda lib, a, n=name: getattr(lib, n)(a, 1)),
        ("-1", lambda lib, a, n=name: getattr(a, n)(-1)),
        ("beyond", lambda lib, a, n=name: getattr(a, n)(diagonal=9))]],
    Case("tril-3d", lambda lib, a: lib.tril(a, -1), (T(2, 3, 2),)),
    nondiff("triu-bool", lambda lib, a: lib.triu(a > 0, 1), T(3, 3)),
    # ---- F.one_hot
    nondiff("one_hot-infer", lambda lib, a: lib.nn.functional.one_hot(int_index(lib, a, [[0, 3], [1, 1]])), T()),
    nondiff("one_hot-num_classes", lambda lib, a: lib.nn.functional.one_hot(int_index(lib, a, [2, 0]), 4), T()),
    nondiff("one_hot-0d", lambda lib, a: lib.nn.functional.one_hot(int_index(lib, a, 1), num_classes=3), T()),
    nondiff("one_hot-empty", lambda lib, a: lib.nn.functional.one_hot(int_index(lib, a, []), 3), T()),
    # ---- stack and cat: every dim including negative ones
    *[Case(f"stack-dim{d}", lambda lib, a, b, d=d: lib.stack((a, b), d), (T(2, 3), T(2, 3))) for d in (-3, -2, -1, 2)],
    *[Case(f"cat-dim{d}", lambda lib, a, b, d=d: lib.cat([a, b], dim=d), (T(2, 3, 2), T(2, 3, 2)))
      for d in (-3, -2, -1, 2)],
    Case("cat-skips_1d_empty", lambda lib, a, b: lib.cat([a, b, a], 1), (T(0), T(2, 3))),
    Case("cat-promotes", lambda lib, a: lib.cat([a, on(lib, a, [[1, 2, 3]])]), (T(2, 3),)),
]

CASE_IDS = [c.name for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "case names must be unique"


def _outputs(result) -> list:
    return list(result) if isinstance(result, (tuple, list)) else [result]


def _seed_backward(lib, outs, device=None):
    """Backward through every differentiable output with the same fixed random upstream gradients."""
    rng = np.random.default_rng(1)
    total = None
    for out in outs:
        upstream = rng.standard_normal(tuple(out.shape))
        if not out.requires_grad:
            continue
        seed = (minigrad.tensor(upstream, device=device) if lib is minigrad else torch.tensor(upstream)).to(out.dtype)
        term = (out * seed).sum()
        total = term if total is None else total + term
    total.backward()


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_matches_torch(case, dtype, device):
    arrays = case_inputs(case, dtype)
    mine_in, torch_in = build(case, arrays, minigrad, device), build(case, arrays, torch, None)
    mine, theirs = case.fn(minigrad, *mine_in), case.fn(torch, *torch_in)
    assert type(mine).__name__ == type(theirs).__name__ or isinstance(theirs, torch.Tensor)
    mine, theirs = _outputs(mine), _outputs(theirs)
    assert len(mine) == len(theirs), f"{len(mine)} outputs vs torch's {len(theirs)}"
    tol = TOLERANCES[dtype]
    for i, (m, t) in enumerate(zip(mine, theirs)):
        assert_same(m, t, tol, f"output {i}")
        assert m.device.type == device
        assert m.requires_grad == t.requires_grad, f"output {i}: requires_grad {m.requires_grad} vs {t.requires_grad}"
        if t.grad_fn is not None:
            assert m.grad_fn.name() == t.grad_fn.name(), f"output {i}: grad_fn {m.grad_fn.name()}"
    if not any(t.requires_grad for t in theirs):
        return
    _seed_backward(minigrad, mine, device)
    _seed_backward(torch, theirs)
    for i, (m, t) in enumerate(zip(mine_in, torch_in)):
        if t.grad is None:  # unused (expand_as's template, a skipped empty tensor in cat)
            assert m.grad is None, f"input {i} got a gradient, torch's got none"
        else:
            assert m.grad is not None, f"input {i} got no gradient"
            assert_same(m.grad, t.grad, tol, f"grad of input {i}")


GRAD_CASES = [pytest.param(c, id=c.name) for c in CASES if c.differentiable]


def _differentiable_outputs(case):
    def fn(*xs):
        return tuple(o for o in _outputs(case.fn(minigrad, *xs)) if o.requires_grad)
    return fn


@pytest.mark.parametrize("case", GRAD_CASES)
def test_gradcheck(case, device):
    inputs = build(case, case_inputs(case, np.float64), minigrad, device)
    assert minigrad.autograd.gradcheck(_differentiable_outputs(case), inputs)


@pytest.mark.parametrize("case", GRAD_CASES)
def test_gradgradcheck(case, device):
    inputs = build(case, case_inputs(case, np.float64), minigrad, device)
    assert minigrad.autograd.gradgradcheck(_differentiable_outputs(case), inputs)


# ------------------------------------------------------------------------------------------------ ties and dtypes
@pytest.mark.parametrize("descending", [False, True])
@pytest.mark.parametrize("dtype", ["float32", "float64", "int64", "int32", "uint8", "bool"])
def test_sort_is_stable_on_ties_for_every_dtype(dtype, descending, device):
    """torch's CPU sort keeps equal values in input order (with or without stable=True): so must we."""
    data = TIED if dtype != "bool" else TIED > 1
    data = np.abs(data) if dtype == "uint8" else data
    mine = minigrad.tensor(data, device=device).to(getattr(minigrad, dtype))
    theirs = torch.tensor(data).to(getattr(torch, dtype))
    for stable in (False, True):
        for dim in (0, 1, -1):
            got = mine.sort(dim=dim, descending=descending, stable=stable)
            want = theirs.sort(dim=dim, descending=descending, stable=stable)
            assert_same(got.values, want.values, {}, "values")
            assert_same(got.indices, want.indices, {}, "indices")
            assert_same(mine.argsort(dim, descending), theirs.argsort(dim, descending), {}, "argsort")


@pytest.mark.parametrize("descending", [False, True])
def test_sort_puts_nan_last_like_torch(descending, device):
    got = minigrad.tensor(NAN_ROW, device=device).sort(descending=descending)
    want = torch.tensor(NAN_ROW).sort(descending=descending)
    assert_same(got.values, want.values, {}, "values")
    assert_same(got.indices, want.indices, {}, "indices")


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("largest", [True, False])
def test_topk_with_ties(largest, dtype, device):
    """Values (and so the loss) agree with torch. Which of several equal values topk returns is not specified
    by torch (its CPU kernel uses std::nth_element): minigrad takes the lowest indices, in stable order, so
    each index must point at its value, be distinct, and the gradient must land exactly there."""
    x = minigrad.tensor(TIED, device=device, dtype=getattr(minigrad, dtype), requires_grad=True)
    xt = torch.tensor(TIED, dtype=getattr(torch, dtype))
    for k in range(TIED.shape[1] + 1):
        got, want = x.topk(k, largest=largest), xt.topk(k, largest=largest)
        assert_same(got.values, want.values, {}, f"values, k={k}")
        indices = to_numpy(got.indices.array)
        np.testing.assert_array_equal(np.take_along_axis(TIED, indices, 1), to_numpy(got.values.detach().array))
        assert all(len(set(row)) == k for row in indices.tolist())
        order = np.argsort(-TIED if largest else TIED, axis=1, kind="stable")[:, :k]
        np.testing.assert_array_equal(indices, order)  # documented: stable order, lowest index first
        x.grad = None
        got.values.sum().backward()
        expected = np.zeros_like(TIED)
        np.put_along_axis(expected, indices, 1.0, 1)
        np.testing.assert_array_equal(to_numpy(x.grad.array), expected)


# ------------------------------------------------------------------------------------------------ multinomial
P = np.array([0.1, 0.0, 0.5, 0.25, 0.15])


def _frequencies(samples: np.ndarray, n: int) -> np.ndarray:
    return np.bincount(samples.reshape(-1), minlength=n) / samples.size


@pytest.mark.parametrize("dtype", ["float16", "float32", "float64"])
def test_multinomial_with_replacement_draws_the_distribution(dtype, device):
    minigrad.manual_seed(0)
    weights = minigrad.tensor(P * 4, device=device).to(getattr(minigrad, dtype))  # unnormalised, as torch allows
    samples = minigrad.multinomial(weights, 20000, replacement=True)
    assert samples.dtype == minigrad.int64 and tuple(samples.shape) == (20000,) and samples.device.type == device
    freq = _frequencies(to_numpy(samples.array), len(P))
    assert freq[1] == 0, "a zero-weight category was drawn"
    np.testing.assert_allclose(freq, P, atol=5 * np.sqrt(0.25 / 20000))  # five standard errors


def test_multinomial_rows_are_independent_distributions(device):
    rows = np.array([[0.0, 0.0, 1.0], [1.0, 1.0, 0.0], [0.2, 0.3, 0.5]])
    minigrad.manual_seed(1)
    samples = to_numpy(minigrad.tensor(rows, device=device).multinomial(8000, True).array)
    assert samples.shape == (3, 8000)
    assert (samples[0] == 2).all() and set(samples[1].tolist()) == {0, 1}
    for row, expect in zip(samples, rows / rows.sum(1, keepdims=True)):
        np.testing.assert_allclose(_frequencies(row, 3), expect, atol=5 * np.sqrt(0.25 / 8000))


def test_multinomial_without_replacement(device):
    """Distinct draws; the first follows p and the second follows p renormalised without the first."""
    p = np.array([0.5, 0.3, 0.2, 0.0])
    minigrad.manual_seed(2)
    weights = minigrad.tensor(np.tile(p, (6000, 1)), device=device)
    samples = to_numpy(minigrad.multinomial(weights, 3).array)
    assert samples.shape == (6000, 3)
    assert all(len(set(row)) == 3 for row in samples.tolist()), "a category was drawn twice"
    assert (samples != 3).all(), "the zero-weight category came before a positive one"
    second = np.array([sum(p[i] * p[j] / (1 - p[i]) for i in range(3) if i != j) for j in range(4)])
    tol = 5 * np.sqrt(0.25 / 6000)
    np.testing.assert_allclose(_frequencies(samples[:, 0], 4), p, atol=tol)
    np.testing.assert_allclose(_frequencies(samples[:, 1], 4), second, atol=tol)
    # Once the positive weights are used up, torch draws the zero-weight categories: so does minigrad.
    assert sorted(minigrad.multinomial(minigrad.tensor(p, device=device), 4).tolist()) == [0, 1, 2, 3]


def test_multinomial_is_reproducible_from_a_seed_and_a_generator(device):
    weights = minigrad.rand(3, 7, device=device)
    minigrad.manual_seed(5)
    first = weights.multinomial(4, True).tolist() + minigrad.multinomial(weights, 7).tolist()
    minigrad.manual_seed(5)
    again = weights.multinomial(4, True).tolist() + minigrad.multinomial(weights, 7).tolist()
    assert first == again
    g1, g2 = minigrad.Generator().manual_seed(9), minigrad.Generator().manual_seed(9)
    assert (minigrad.multinomial(weights, 7, generator=g1).tolist()
            == minigrad.multinomial(weights, 7, generator=g2).tolist())


def test_multinomial_empty_batch_and_grad_input():
    assert tuple(minigrad.multinomial(minigrad.zeros(0, 3), 2, True).shape) == (0, 2)
    out = minigrad.multinomial(minigrad.ones(3, requires_grad=True), 2)
    assert not out.requires_grad and out.grad_fn is None


# ------------------------------------------------------------------------------------------------ errors
def _f(lib, *shape, dtype=None):
    return lib.ones(*shape, dtype=dtype or lib.float32)


ERRORS = {
    # multinomial
    "multinomial-3d": lambda lib: lib.multinomial(_f(lib, 1, 1, 2), 1),
    "multinomial-0d": lambda lib: lib.multinomial(lib.tensor(1.0), 1, True),
    "multinomial-int": lambda lib: lib.multinomial(lib.tensor([1, 2]), 1),
    "multinomial-zero_samples": lambda lib: lib.multinomial(_f(lib, 3), 0),
    "multinomial-negative_samples": lambda lib: lib.multinomial(_f(lib, 3), -2, True),
    "multinomial-float_samples": lambda lib: lib.multinomial(_f(lib, 3), 1.5),
    "multinomial-too_many": lambda lib: lib.multinomial(_f(lib, 2, 3), 4),
    "multinomial-negative": lambda lib: lib.multinomial(lib.tensor([0.5, -0.1, 0.6]), 1),
    "multinomial-inf": lambda lib: lib.multinomial(lib.tensor([0.5, float("inf")]), 1),
    "multinomial-nan": lambda lib: lib.multinomial(lib.tensor([[0.5, float("nan")]]), 1, True),
    "multinomial-zero_sum": lambda lib: lib.multinomial(lib.tensor([[1.0, 2.0], [0.0, 0.0]]), 1),
    "multinomial-zero_sum_replacement": lambda lib: lib.multinomial(lib.zeros(3), 2, True),
    "multinomial-no_categories": lambda lib: lib.multinomial(lib.zeros(0), 1, True),
    # sort, topk
    "sort-dim": lambda lib: _f(lib, 2, 3).sort(2),
    "sort-stable_positional": lambda lib: _f(lib, 2, 3).sort(0, True, True),
    "argsort-dim": lambda lib: lib.argsort(_f(lib, 3), dim=-2),
    "topk-k_too_big": lambda lib: _f(lib, 2, 3).topk(4),
    "topk-k_negative": lambda lib: _f(lib, 3).topk(-1),
    "topk-dim": lambda lib: lib.topk(_f(lib, 2, 3), 1, dim=3),
    "topk-0d_k2": lambda lib: lib.tensor(1.0).topk(2),
    # products
    "bmm-batch1_2d": lambda lib: lib.bmm(_f(lib, 3, 4), _f(lib, 2, 4, 5)),
    "bmm-batch2_2d": lambda lib: lib.bmm(_f(lib, 2, 3, 4), _f(lib, 4, 5)),
    "bmm-batch_size": lambda lib: lib.bmm(_f(lib, 2, 3, 4), _f(lib, 3, 4, 5)),
    "bmm-inner_size": lambda lib: _f(lib, 2, 3, 4).bmm(_f(lib, 2, 3, 5)),
    "bmm-dtypes": lambda lib: lib.bmm(_f(lib, 2, 3, 4), _f(lib, 2, 4, 5, dtype=lib.float64)),
    "bmm-dtypes_long": lambda lib: lib.bmm(_f(lib, 2, 3, 4, dtype=lib.int64), _f(lib, 2, 4, 5)),
    "dot-2d": lambda lib: lib.dot(_f(lib, 2, 2), _f(lib, 2, 2)),
    "dot-1d_2d": lambda lib: _f(lib, 2).dot(_f(lib, 2, 2)),
    "dot-sizes": lambda lib: lib.dot(_f(lib, 3), _f(lib, 4)),
    "dot-dtypes": lambda lib: lib.dot(_f(lib, 3), _f(lib, 3, dtype=lib.float64)),
    "dot-dtypes_long": lambda lib: lib.dot(_f(lib, 3, dtype=lib.int64), _f(lib, 3)),
    "mm-self_1d": lambda lib: lib.mm(_f(lib, 3), _f(lib, 3, 2)),
    "mm-mat2_3d": lambda lib: _f(lib, 2, 3).mm(_f(lib, 3, 3, 3)),
    "mm-shapes": lambda lib: lib.mm(_f(lib, 2, 3), _f(lib, 4, 5)),
    "mm-dtypes": lambda lib: lib.mm(_f(lib, 2, 3, dtype=lib.int64), _f(lib, 3, 5)),
    "mm-dtypes_half": lambda lib: lib.mm(_f(lib, 2, 3), _f(lib, 3, 5, dtype=lib.float16)),
    # chunk, split, unbind
    "chunk-zero": lambda lib: _f(lib, 4).chunk(0),
    "chunk-negative": lambda lib: lib.chunk(_f(lib, 4), -1),
    "chunk-0d": lambda lib: lib.tensor(1.0).chunk(2),
    "chunk-dim": lambda lib: _f(lib, 4).chunk(2, dim=1),
    "split-sizes_sum": lambda lib: _f(lib, 10).split([3, 3]),
    "split-sizes_sum_negative_dim": lambda lib: lib.split(_f(lib, 2, 10), [3, 3], dim=-1),
    "split-negative_size_in_list": lambda lib: _f(lib, 10).split([3, -1, 8]),
    "split-zero": lambda lib: _f(lib, 10).split(0),
    "split-negative": lambda lib: lib.split(_f(lib, 10), -1),
    "split-0d": lambda lib: lib.tensor(1.0).split(1),
    "split-dim": lambda lib: _f(lib, 10).split(2, 1),
    "unbind-0d": lambda lib: lib.tensor(1.0).unbind(),
    "unbind-dim": lambda lib: _f(lib, 3).unbind(1),
    # index_select
    "index_select-2d_index": lambda lib: _f(lib, 2, 3).index_select(1, lib.tensor([[2, 0]])),
    "index_select-float_index": lambda lib: _f(lib, 2, 3).index_select(1, lib.tensor([2.0, 0.0])),
    "index_select-out_of_range": lambda lib: lib.index_select(_f(lib, 2, 3), 1, lib.tensor([0, 3])),
    "index_select-negative": lambda lib: _f(lib, 2, 3).index_select(1, lib.tensor([-1])),
    "index_select-dim": lambda lib: _f(lib, 2, 3).index_select(2, lib.tensor(1)),
    # masked_fill
    "masked_fill-long_mask": lambda lib: _f(lib, 2, 3).masked_fill(lib.tensor([1, 0, 1]), 0.0),
    "masked_fill-float_mask": lambda lib: _f(lib, 2, 3).masked_fill(lib.tensor([1.0, 0.0, 1.0]), 0.0),
    "masked_fill-1d_value": lambda lib: _f(lib, 2, 3).masked_fill(lib.tensor([True, False, True]), lib.ones(2)),
    "masked_fill-mask_shape": lambda lib: _f(lib, 2, 3).masked_fill(lib.ones(4, 2, dtype=lib.bool), 1.0),
    "masked_fill_-broadcast_shape": lambda lib: _f(lib, 3).masked_fill_(lib.ones(2, 3, dtype=lib.bool), 1.0),
    # one_hot
    "one_hot-int32": lambda lib: lib.nn.functional.one_hot(lib.tensor([0, 2], dtype=lib.int32)),
    "one_hot-float": lambda lib: lib.nn.functional.one_hot(lib.tensor([0.0, 2.0])),
    "one_hot-negative": lambda lib: lib.nn.functional.one_hot(lib.tensor([0, -2])),
    "one_hot-too_large": lambda lib: lib.nn.functional.one_hot(lib.tensor([0, 5]), 3),
    "one_hot-num_classes_negative": lambda lib: lib.nn.functional.one_hot(lib.tensor([0, 1]), -2),
    "one_hot-num_classes_zero": lambda lib: lib.nn.functional.one_hot(lib.tensor([0, 1]), 0),
    "one_hot-empty_infer": lambda lib: lib.nn.functional.one_hot(lib.tensor([], dtype=lib.int64)),
    "one_hot-empty_zero_classes": lambda lib: lib.nn.functional.one_hot(lib.zeros(2, 0, dtype=lib.int64), 0),
    # where, repeat, tril, cat, stack, expand_as
    "where-float_condition": lambda lib: lib.where(lib.tensor([1.0, 0.0]), 1.0, 2.0),
    "where-long_condition": lambda lib: lib.where(lib.tensor([1, 0]), _f(lib, 2), _f(lib, 2)),
    "repeat-too_few": lambda lib: _f(lib, 2, 3).repeat(2),
    "repeat-negative": lambda lib: _f(lib, 2, 3).repeat(2, -1),
    "tril-1d": lambda lib: lib.tril(_f(lib, 3)),
    "triu-0d": lambda lib: lib.tensor(1.0).triu(),
    "cat-0d": lambda lib: lib.cat([_f(lib, 2), lib.tensor(1.0)]),
    "cat-empty_list": lambda lib: lib.cat([]),
    "cat-ndim": lambda lib: lib.cat([_f(lib, 2, 3), _f(lib, 3)]),
    "cat-sizes": lambda lib: lib.cat([_f(lib, 2, 3), _f(lib, 2, 4)], dim=0),
    "cat-sizes_negative_dim": lambda lib: lib.cat([_f(lib, 2, 3, 4), _f(lib, 2, 4, 5)], -1),
    "cat-dim": lambda lib: lib.cat([_f(lib, 2, 3), _f(lib, 2, 3)], -3),
    "cat-a_tensor": lambda lib: lib.cat(_f(lib, 2, 2)),
    "stack-empty_list": lambda lib: lib.stack([]),
    "stack-sizes": lambda lib: lib.stack([_f(lib, 2, 3), _f(lib, 2, 3), _f(lib, 3, 2)], 1),
    "stack-dim": lambda lib: lib.stack([_f(lib, 2, 3), _f(lib, 2, 3)], 3),
    "stack-a_tensor": lambda lib: lib.stack(_f(lib, 2, 2)),
    "expand_as-mismatch": lambda lib: _f(lib, 2, 3).expand_as(_f(lib, 3, 3)),
    "expand-mismatch_new_dims": lambda lib: _f(lib, 2, 3).expand(3, 3, 4),
}
# torch's message names its own overloads here; minigrad raises the same type with its own wording
TYPE_ONLY = {"multinomial-float_samples", "sort-stable_positional"}


@pytest.mark.parametrize("name", list(ERRORS))
def test_errors_match_torch(name):
    with pytest.raises(Exception) as theirs:
        ERRORS[name](torch)
    with pytest.raises(theirs.type) as mine:
        ERRORS[name](minigrad)
    if name not in TYPE_ONLY:
        assert str(mine.value) == str(theirs.value)


def test_where_needs_both_operands_or_none():
    with pytest.raises(TypeError):
        torch.where(torch.ones(2) > 0, torch.ones(2))
    with pytest.raises(TypeError, match="condition"):
        minigrad.where(minigrad.ones(2) > 0, minigrad.ones(2))


def test_masked_fill_value_type():
    with pytest.raises(TypeError):
        torch.ones(2).masked_fill(torch.ones(2) > 0, "a")
    with pytest.raises(TypeError, match=r"masked_fill\(\) received an invalid combination of arguments"):
        minigrad.ones(2).masked_fill(minigrad.ones(2) > 0, "a")


@pytest.mark.parametrize("dtype,value", [("int64", 2.7), ("uint8", -1), ("bool", 2), ("int32", 3.5)])
def test_masked_fill_casts_the_value_like_torch(dtype, value, device):
    mask = np.array([True, False, True])
    for as_tensor in (False, True):
        mine = minigrad.zeros(2, 3, dtype=getattr(minigrad, dtype), device=device)
        theirs = torch.zeros(2, 3, dtype=getattr(torch, dtype))
        v_mine = minigrad.tensor(value) if as_tensor else value
        v_theirs = torch.tensor(value) if as_tensor else value
        assert_same(mine.masked_fill(minigrad.tensor(mask, device=device), v_mine),
                    theirs.masked_fill(torch.tensor(mask), v_theirs), {}, "masked_fill")
        assert_same(mine.masked_fill_(minigrad.tensor(mask, device=device), v_mine),
                    theirs.masked_fill_(torch.tensor(mask), v_theirs), {}, "masked_fill_")


def test_return_types_print_like_torch():
    x = np.array([[3.0, 1.0, 2.0]])
    for name in ("sort", "topk"):
        args = () if name == "sort" else (2,)
        mine = repr(getattr(minigrad.tensor(x), name)(*args)).replace("minigrad", "torch")
        assert mine == repr(getattr(torch.tensor(x), name)(*args))
    values, indices = minigrad.tensor(x).sort()  # unpacks as a tuple
    assert values.dtype == minigrad.float64 and indices.dtype == minigrad.int64
