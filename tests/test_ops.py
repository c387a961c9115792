"""Every differentiable op, checked against torch: forward values, result dtype, and each input's gradient.

One table (``CASES``) describes the ops. A case is a lambda ``fn(lib, *inputs)`` that runs unchanged with
``lib`` = minigrad or torch, plus one ``Input`` spec per argument (shape and domain). Both libraries get the
same numpy inputs and the same random upstream gradient. ``test_op_matches_torch`` runs every case in float32
and float64 on every device; ``test_op_gradcheck`` runs ``minigrad.autograd.gradcheck`` on every
differentiable case in float64.
"""
from __future__ import annotations

import zlib
from dataclasses import dataclass

import numpy as np
import pytest

import minigrad
from minigrad.backend import to_numpy

torch = pytest.importorskip("torch")


# ------------------------------------------------------------------------------------------------ the table
@dataclass(frozen=True)
class Input:
    """One argument: its shape, the domain its values come from, and how it is passed.

    kind 'tensor' is a tensor requiring grad (when floating); 'numpy' is a raw numpy array for minigrad
    (torch, which does not take ndarrays as operands, gets the same values as a constant tensor).
    """
    shape: tuple
    domain: str = "real"
    kind: str = "tensor"


@dataclass(frozen=True)
class Case:
    name: str
    fn: object  # fn(lib, *inputs) -> tensor
    inputs: tuple  # of Input
    differentiable: bool = True
    gradcheck: bool = True  # False where finite differences are meaningless (ties, kinks)


TIES = np.array([[3.0, 1.0, 3.0, 0.5], [1.0, 1.0, 2.0, 2.0], [0.5, 4.0, 4.0, 4.0]])  # max and min ties per row
MASK = np.array([[True, False, True, False], [False, False, True, True], [True, True, False, False]])


def make_values(spec: Input, rng: np.random.Generator, dtype) -> np.ndarray:
    shape = spec.shape
    if spec.domain == "real":
        values = rng.standard_normal(shape)
    elif spec.domain == "positive":  # log, sqrt, the base of a power
        values = rng.uniform(0.5, 2.0, shape)
    elif spec.domain == "nonzero":  # divisors
        values = rng.choice([-1.0, 1.0], shape) * rng.uniform(0.5, 2.0, shape)
    elif spec.domain == "huge":  # softmax stability: logits of magnitude 1e4
        values = rng.standard_normal(shape) * 1e4
    elif spec.domain == "ties":
        values = TIES if shape == TIES.shape else np.resize(TIES[1], shape)
    else:
        raise ValueError(spec.domain)
    return np.array(values, dtype=dtype)


def T(*shape, domain="real"):
    return Input(tuple(shape), domain)


def _tensor_on(lib, reference, data, dtype=None):
    """A constant (index or mask) tensor on ``reference``'s device, as both libraries spell it."""
    return lib.tensor(data, dtype=dtype, device=reference.device)


# Binary ops are expanded over broadcasting shapes, and Python scalars / NumPy arrays on either side.
BROADCAST_PAIRS = [((2, 3), (2, 3)), ((2, 3), (3,)), ((2, 3), (1, 3)), ((2, 3), (2, 1)), ((2, 3), ()),
                   ((3,), (2, 3)), ((1, 3), (2, 3)), ((2, 1), (2, 3)), ((), (2, 3)), ((2, 1), (1, 3))]
SCALAR_FOR_DOMAIN = {"real": -1.25, "positive": 1.5, "nonzero": -1.5}


def binary(name, op, domains=("real", "real"), scalars=True) -> list:
    da, db = domains
    cases = [Case(f"{name}-{a}x{b}", op, (T(*a, domain=da), T(*b, domain=db))) for a, b in BROADCAST_PAIRS]
    if scalars:
        for label, sa, sb in [("float", SCALAR_FOR_DOMAIN[da], SCALAR_FOR_DOMAIN[db]), ("int", 2, 2)]:
            cases.append(Case(f"{name}-tensor_x_py{label}", lambda lib, a, s=sb: op(lib, a, s), (T(2, 3, domain=da),)))
            cases.append(Case(f"{name}-py{label}_x_tensor", lambda lib, b, s=sa: op(lib, s, b), (T(2, 3, domain=db),)))
        cases.append(Case(f"{name}-tensor_x_numpy", op, (T(2, 3, domain=da), Input((3,), db, "numpy"))))
        cases.append(Case(f"{name}-numpy_x_tensor", op, (Input((2, 1), da, "numpy"), T(2, 3, domain=db))))
    return cases


def unary(name, op, shape=(2, 3), domain="real", **kw) -> Case:
    return Case(name, op, (T(*shape, domain=domain),), **kw)


def nondiff(name, op, shape=(3, 4), domain="real") -> Case:
    return Case(name, op, (T(*shape, domain=domain),), differentiable=False)


MATMUL_SHAPES = [((3,), (3,)), ((2, 3), (3,)), ((3,), (3, 4)), ((2, 3), (3, 4)), ((5, 2, 3), (3, 4)),
                 ((5, 2, 3), (5, 3, 4)), ((1, 2, 3), (5, 3, 2)), ((3,), (5, 3, 2)), ((5, 2, 3), (3,))]

CASES: list[Case] = [
    # ---- arithmetic, with full broadcasting and reflected forms
    *binary("add", lambda lib, a, b: a + b),
    *binary("sub", lambda lib, a, b: a - b),
    *binary("mul", lambda lib, a, b: a * b),
    *binary("div", lambda lib, a, b: a / b, ("real", "nonzero")),
    *binary("pow", lambda lib, a, b: a ** b, ("positive", "real")),
    *binary("maximum", lambda lib, a, b: lib.maximum(a, b), scalars=False),
    *binary("minimum", lambda lib, a, b: lib.minimum(a, b), scalars=False),
    *binary("add_method", lambda lib, a, b: a.add(b), scalars=False),
    *binary("mul_function", lambda lib, a, b: lib.mul(a, b), scalars=False),
    *[Case(f"{name}-ties", lambda lib, a, b, n=name: getattr(lib, n)(a, b), (T(3, 4, domain="ties"),
           T(4, domain="ties")), gradcheck=False) for name in ("maximum", "minimum")],
    Case("max_binary_method", lambda lib, a, b: a.max(b), (T(2, 3), T(2, 3))),
    Case("pow-square", lambda lib, a: a ** 2, (T(2, 3),)),
    Case("pow-sqrt", lambda lib, a: a ** 0.5, (T(2, 3, domain="positive"),)),
    Case("rsub-chain", lambda lib, a, b: 1 - a * b + 3 / b, (T(2, 3), T(3, domain="nonzero"))),
    *[Case(f"matmul-{a}@{b}", lambda lib, x, y: x @ y, (T(*a), T(*b))) for a, b in MATMUL_SHAPES],
    Case("matmul-function", lambda lib, x, y: lib.matmul(x, y), (T(2, 3), T(3, 4))),
    Case("matmul-numpy_rhs", lambda lib, x, y: x @ y, (T(2, 3), Input((3, 4), kind="numpy"))),
    Case("matmul-numpy_lhs", lambda lib, x, y: x @ y, (Input((2, 3), kind="numpy"), T(3, 4))),
    # ---- elementwise
    unary("neg", lambda lib, a: -a),
    unary("neg_function", lambda lib, a: lib.neg(a)),
    unary("abs", lambda lib, a: a.abs()),
    unary("abs_builtin", lambda lib, a: abs(a)),
    unary("exp", lambda lib, a: lib.exp(a)),
    unary("log", lambda lib, a: a.log(), domain="positive"),
    unary("sqrt", lambda lib, a: lib.sqrt(a), domain="positive"),
    unary("tanh", lambda lib, a: a.tanh()),
    unary("sigmoid", lambda lib, a: lib.sigmoid(a)),
    unary("sigmoid-huge", lambda lib, a: a.sigmoid(), domain="huge"),
    unary("relu", lambda lib, a: lib.relu(a)),
    unary("clamp", lambda lib, a: lib.clamp(a, -0.5, 0.5)),
    unary("clamp-min_only", lambda lib, a: a.clamp(min=-0.3)),
    unary("clamp-max_only", lambda lib, a: a.clamp(max=0.3)),
    unary("clip", lambda lib, a: a.clip(-0.5, 0.5)),
    unary("clone", lambda lib, a: a.clone()),
    Case("where-computed_condition", lambda lib, a, b: lib.where(a > 0, a, b), (T(2, 3), T(2, 3))),
    Case("where-broadcast", lambda lib, a, b: lib.where(_tensor_on(lib, a, MASK), a, b), (T(3, 4), T(4))),
    Case("where-scalar_other", lambda lib, a: lib.where(a > 0, a, 0.0), (T(2, 3),)),
    Case("where-scalar_input", lambda lib, a: lib.where(a > 0, 0.5, a), (T(2, 3),)),
    # ---- reductions
    *[unary(f"sum-{label}", fn, (2, 3, 4)) for label, fn in [
        ("all", lambda lib, a: a.sum()), ("function", lambda lib, a: lib.sum(a)),
        ("dim0", lambda lib, a: a.sum(0)), ("dim-1", lambda lib, a: a.sum(dim=-1)),
        ("dim1_keepdim", lambda lib, a: a.sum(1, keepdim=True)), ("tuple", lambda lib, a: a.sum(dim=(0, 2))),
        ("tuple_negative_keepdim", lambda lib, a: a.sum(dim=(-1, 0), keepdim=True))]],
    *[unary(f"mean-{label}", fn, (2, 3, 4)) for label, fn in [
        ("all", lambda lib, a: a.mean()), ("function", lambda lib, a: lib.mean(a, dim=1)),
        ("dim-2", lambda lib, a: a.mean(-2)), ("dim2_keepdim", lambda lib, a: a.mean(2, keepdim=True)),
        ("tuple", lambda lib, a: a.mean(dim=(0, 1))), ("tuple_keepdim", lambda lib, a: a.mean((1, -1), True))]],
    *[unary(f"{name}-{label}", fn, (3, 4), domain, gradcheck=domain != "ties")
      for domain in ("real", "ties")
      for name, fn_full, fn_dim, fn_keep, fn_neg in [
          ("max", lambda lib, a: a.max(), lambda lib, a: a.max(dim=1).values,
           lambda lib, a: a.max(1, keepdim=True)[0], lambda lib, a: lib.max(a, -2).values),
          ("min", lambda lib, a: lib.min(a), lambda lib, a: a.min(dim=1).values,
           lambda lib, a: a.min(1, keepdim=True)[0], lambda lib, a: a.min(dim=-2).values),
          ("amax", lambda lib, a: a.amax(dim=(0, 1)), lambda lib, a: a.amax(dim=1),
           lambda lib, a: lib.amax(a, 1, keepdim=True), lambda lib, a: a.amax(-2)),
          ("amin", lambda lib, a: a.amin(dim=(0, 1)), lambda lib, a: a.amin(dim=1),
           lambda lib, a: lib.amin(a, 1, keepdim=True), lambda lib, a: a.amin(-2))]
      for label, fn in [(f"full-{domain}", fn_full), (f"dim-{domain}", fn_dim), (f"keepdim-{domain}", fn_keep),
                        (f"negative_dim-{domain}", fn_neg)]],
    *[nondiff(f"{label}-{domain}", fn, domain=domain) for domain in ("real", "ties") for label, fn in [
        ("max_indices", lambda lib, a: a.max(dim=1).indices), ("min_indices", lambda lib, a: a.min(0)[1]),
        ("max_indices_keepdim", lambda lib, a: a.max(-1, keepdim=True).indices),
        ("argmax", lambda lib, a: a.argmax()), ("argmax_dim", lambda lib, a: lib.argmax(a, dim=0)),
        ("argmax_keepdim", lambda lib, a: a.argmax(dim=1, keepdim=True)),
        ("argmin", lambda lib, a: lib.argmin(a)), ("argmin_dim", lambda lib, a: a.argmin(dim=-1))]],
    *[unary(f"{name}-{label}", fn, (3, 4)) for name in ("var", "std") for label, fn in [
        ("all", lambda lib, a, n=name: getattr(a, n)()),
        ("function", lambda lib, a, n=name: getattr(lib, n)(a, dim=0)),
        ("dim0", lambda lib, a, n=name: getattr(a, n)(0)),
        ("dim-1_keepdim", lambda lib, a, n=name: getattr(a, n)(dim=-1, keepdim=True)),
        ("tuple", lambda lib, a, n=name: getattr(a, n)(dim=(0, 1))),
        ("biased", lambda lib, a, n=name: getattr(a, n)(dim=1, unbiased=False)),
        ("unbiased_positional", lambda lib, a, n=name: getattr(a, n)(1, True)),
        ("correction0", lambda lib, a, n=name: getattr(a, n)(dim=0, correction=0)),
        ("correction2", lambda lib, a, n=name: getattr(a, n)(dim=1, correction=2)),
        ("correction2_all", lambda lib, a, n=name: getattr(a, n)(correction=2))]],
    # ---- softmax family, every dim, and logits of magnitude 1e4
    *[unary(f"{name}-dim{dim}-{domain}", lambda lib, a, n=name, d=dim: getattr(lib, n)(a, dim=d), (2, 3, 4), domain)
      for name in ("softmax", "log_softmax") for dim in (0, 1, 2, -1, -3) for domain in ("real", "huge")],
    unary("sum-0d", lambda lib, a: a.sum(), ()),
    unary("sum-0d_dim0", lambda lib, a: a.sum(0), ()),
    unary("mean-0d_dim-1", lambda lib, a: a.mean(-1), ()),
    unary("max-dim_1d", lambda lib, a: a.max(0).values, (5,)),
    unary("max-full_0d", lambda lib, a: a.max(), ()),
    nondiff("argmax-1d_dim", lambda lib, a: a.argmax(dim=0), (5,)),
    unary("softmax-method", lambda lib, a: a.softmax(1)),
    unary("log_softmax-method", lambda lib, a: a.log_softmax(dim=0)),
    unary("softmax-1d", lambda lib, a: lib.softmax(a, dim=0), (5,)),
    # ---- shape ops
    *[unary(f"shape-{label}", fn, (2, 3, 4)) for label, fn in [
        ("reshape_-1", lambda lib, a: a.reshape(-1)), ("reshape_infer", lambda lib, a: a.reshape(4, -1)),
        ("reshape_tuple", lambda lib, a: a.reshape((3, 8))), ("view", lambda lib, a: a.view(6, 4)),
        ("view_-1", lambda lib, a: a.view(-1, 2, 3)), ("flatten", lambda lib, a: a.flatten()),
        ("flatten_start", lambda lib, a: a.flatten(1)), ("flatten_range", lambda lib, a: lib.flatten(a, 0, 1)),
        ("transpose", lambda lib, a: a.transpose(0, 1)), ("transpose_negative", lambda lib, a: a.transpose(-1, 0)),
        ("transpose_function", lambda lib, a: lib.transpose(a, 1, 2)),
        ("permute", lambda lib, a: a.permute(2, 0, 1)), ("permute_tuple", lambda lib, a: a.permute((1, 2, 0))),
        ("permute_function", lambda lib, a: lib.permute(a, (0, 2, 1))),
        ("unsqueeze0", lambda lib, a: a.unsqueeze(0)), ("unsqueeze-1", lambda lib, a: a.unsqueeze(-1)),
        ("unsqueeze_function", lambda lib, a: lib.unsqueeze(a, 2))]],
    unary("shape-T", lambda lib, a: a.T, (2, 3)),
    unary("shape-flatten_0d", lambda lib, a: a.flatten(), ()),
    unary("shape-reshape_0d", lambda lib, a: a.reshape(1, 1), ()),
    unary("shape-unsqueeze_0d", lambda lib, a: a.unsqueeze(0), ()),
    unary("shape-t", lambda lib, a: a.t(), (2, 3)),
    *[unary(f"shape-{label}", fn, (2, 1, 3, 1)) for label, fn in [
        ("squeeze", lambda lib, a: a.squeeze()), ("squeeze1", lambda lib, a: a.squeeze(1)),
        ("squeeze-1", lambda lib, a: a.squeeze(-1)), ("squeeze_noop", lambda lib, a: a.squeeze(0)),
        ("squeeze_function", lambda lib, a: lib.squeeze(a, 3))]],
    unary("shape-expand", lambda lib, a: a.expand(2, 3), (2, 1)),
    unary("shape-expand_new_dims", lambda lib, a: a.expand(4, 2, 3), (2, 3)),
    unary("shape-expand_-1", lambda lib, a: a.expand(-1, 5), (2, 1)),
    unary("shape-expand_tuple", lambda lib, a: a.expand((3, 4)), (4,)),
    unary("shape-expand_as", lambda lib, a: a.expand_as(lib.zeros(2, 3, 4)), (3, 4)),
    # ---- indexing: every key kind; integer arrays with repeats (the gradient accumulates)
    *[unary(f"index-{label}", fn, (3, 4)) for label, fn in [
        ("int", lambda lib, a: a[1]), ("negative_int", lambda lib, a: a[-1]), ("int_int", lambda lib, a: a[2, 1]),
        ("slice", lambda lib, a: a[:, 1:]), ("step_slice", lambda lib, a: a[::2, 1::2]),
        ("negative_slice", lambda lib, a: a[-2:, :-1]), ("none", lambda lib, a: a[None, 1]),
        ("none_middle", lambda lib, a: a[:, None, 2]), ("ellipsis", lambda lib, a: a[..., 2]),
        ("list", lambda lib, a: a[[0, 2]]), ("list_repeated", lambda lib, a: a[[0, 2, 0, 0]]),
        ("tensor_repeated", lambda lib, a: a[_tensor_on(lib, a, [1, 1, 0])]),
        ("two_arrays_repeated", lambda lib, a: a[[0, 1, 0], [2, 2, 2]]),
        ("array_2d", lambda lib, a: a[_tensor_on(lib, a, [[0, 1], [1, 1]])]),
        ("slice_and_array", lambda lib, a: a[1:, [0, 0, 3]]),
        ("array_and_int", lambda lib, a: a[[2, 2], 1]),
        ("bool_mask", lambda lib, a: a[_tensor_on(lib, a, MASK)]),
        ("bool_mask_computed", lambda lib, a: a[a > 0]),
        ("bool_row_mask", lambda lib, a: a[_tensor_on(lib, a, [True, False, True])]),
        ("chained", lambda lib, a: a[1:][0][[3, 3]])]],
    unary("index-ellipsis_only", lambda lib, a: a[...], (3, 4)),
    unary("index-ellipsis_3d", lambda lib, a: a[..., 1, :], (2, 3, 4)),
    unary("index-tensor_0d", lambda lib, a: a[_tensor_on(lib, a, 1)], (3, 4)),
    # ---- joining
    *[Case(f"cat-dim{dim}", lambda lib, a, b, d=dim: lib.cat([a, b], dim=d), (T(*sa), T(*sb)))
      for dim, sa, sb in [(0, (2, 3), (4, 3)), (1, (2, 3), (2, 1)), (-1, (2, 3, 2), (2, 3, 1)),
                          (-2, (2, 1, 2), (2, 3, 2))]],
    Case("cat-three", lambda lib, a, b, c: lib.cat((a, b, c), 1), (T(2, 1), T(2, 3), T(2, 2))),
    Case("cat-same_tensor_twice", lambda lib, a: lib.cat([a, a * 2, a]), (T(2, 3),)),
    *[Case(f"stack-dim{dim}", lambda lib, a, b, c, d=dim: lib.stack([a, b, c], dim=d), (T(2, 3), T(2, 3), T(2, 3)))
      for dim in (0, 1, 2, -1, -3)],
    # ---- a composite that reuses intermediate results
    Case("composite-mlp", lambda lib, x, w, b: ((x @ w + b).relu() @ w.T).tanh().mean(),
         (T(4, 3), T(3, 3), T(3))),
]

CASE_IDS = [c.name for c in CASES]
assert len(set(CASE_IDS)) == len(CASE_IDS), "case names must be unique"

TOLERANCES = {np.float32: dict(rtol=1e-5, atol=1e-6), np.float64: dict(rtol=1e-10, atol=1e-10)}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


# ------------------------------------------------------------------------------------------------ helpers
def case_inputs(case: Case, dtype):
    rng = np.random.default_rng(zlib.crc32(case.name.encode()))
    return [make_values(spec, rng, dtype) for spec in case.inputs]


def build(case: Case, arrays, lib, device):
    """The inputs as ``lib`` takes them; float tensors require grad when the case is differentiable."""
    out = []
    for spec, array in zip(case.inputs, arrays):
        if spec.kind == "numpy":
            out.append(array.copy() if lib is minigrad else torch.tensor(array))
        elif lib is minigrad:
            out.append(minigrad.tensor(array, device=device, requires_grad=case.differentiable))
        else:
            out.append(torch.tensor(array, requires_grad=case.differentiable))
    return out


def dtype_name(dtype) -> str:
    return str(dtype).split(".")[-1]


def assert_same(mine, theirs, tol, what):
    """``mine`` (minigrad Tensor) equals ``theirs`` (torch Tensor): dtype, shape and values."""
    assert isinstance(mine, minigrad.Tensor), f"{what}: expected a minigrad.Tensor, got {type(mine).__name__}"
    assert dtype_name(mine.dtype) == dtype_name(theirs.dtype), f"{what}: dtype {mine.dtype} vs torch {theirs.dtype}"
    assert tuple(mine.shape) == tuple(theirs.shape), f"{what}: shape {tuple(mine.shape)} vs torch {tuple(theirs.shape)}"
    got, want = to_numpy(mine.array), theirs.detach().numpy()
    if want.dtype.kind == "f":
        np.testing.assert_allclose(got, want, err_msg=what, **tol)
    else:
        np.testing.assert_array_equal(got, want, err_msg=what)


# ------------------------------------------------------------------------------------------------ tests
@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", CASES, ids=CASE_IDS)
def test_op_matches_torch(case, dtype, device):
    arrays = case_inputs(case, dtype)
    mine_in, torch_in = build(case, arrays, minigrad, device), build(case, arrays, torch, None)
    mine, theirs = case.fn(minigrad, *mine_in), case.fn(torch, *torch_in)
    tol = TOLERANCES[dtype]

    assert_same(mine, theirs, tol, "forward")
    assert mine.device.type == device
    assert mine.requires_grad == theirs.requires_grad
    if not theirs.requires_grad:
        assert mine.grad_fn is None
        return
    assert mine.grad_fn is not None and not mine.is_leaf

    upstream = np.random.default_rng(1).standard_normal(tuple(theirs.shape)).astype(arrays[0].dtype)
    mine.backward(minigrad.tensor(upstream, device=device))
    theirs.backward(torch.tensor(upstream))
    for i, (m, t) in enumerate(zip(mine_in, torch_in)):
        if isinstance(t, torch.Tensor) and t.requires_grad:
            assert m.grad is not None, f"input {i} got no gradient"
            assert_same(m.grad, t.grad, tol, f"grad of input {i}")
            assert m.grad.device.type == device


GRADCHECK_CASES = [pytest.param(c, id=c.name) for c in CASES if c.differentiable and c.gradcheck]


@pytest.mark.parametrize("case", GRADCHECK_CASES)
def test_op_gradcheck(case, device):
    inputs = build(case, case_inputs(case, np.float64), minigrad, device)
    assert minigrad.autograd.gradcheck(lambda *xs: case.fn(minigrad, *xs), inputs, eps=1e-6, atol=1e-5, rtol=1e-3)
