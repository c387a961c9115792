"""The backward engine's edge cases, grad mode, the custom-op API (autograd.Function) and gradcheck."""
from __future__ import annotations

import gc
import tracemalloc

import numpy as np
import pytest

import minigrad
from minigrad.autograd import Function, gradcheck
from minigrad.backend import to_numpy

torch = pytest.importorskip("torch")


def values(t) -> np.ndarray:
    return to_numpy(t.array) if isinstance(t, minigrad.Tensor) else t.detach().numpy()


def leaves(lib, arrays, device=None):
    if lib is minigrad:
        return [minigrad.tensor(a, device=device, requires_grad=True) for a in arrays]
    return [torch.tensor(a, requires_grad=True) for a in arrays]


def graph_nodes(root_fn) -> list:
    """Every grad_fn reachable from ``root_fn`` (collected before backward frees the links)."""
    seen, stack = [], [root_fn]
    while stack:
        fn = stack.pop()
        if fn is None or any(fn is s for s in seen):
            continue
        seen.append(fn)
        stack.extend(p.grad_fn for p in fn.parents or ())
    return seen


# ------------------------------------------------------------------------------------------------ graph shapes
GRAPHS = {
    # name: (fn(lib, *leaves) -> scalar, input shapes)
    "reuse_add_self": (lambda lib, a: (a + a).sum(), [(3,)]),
    "reuse_mul_self": (lambda lib, a: (a * a).sum(), [(3,)]),
    "reuse_intermediate": (lambda lib, a: (lambda b: (b * b + b).sum())(a.exp()), [(2, 3)]),
    "diamond_uneven_paths": (lambda lib, a: (lambda b: (b + b.exp() * b.tanh() * b).sum())(a * 2), [(4,)]),
    "shared_leaf_many_uses": (lambda lib, a, b: ((a @ b) * a.sum() + (a * 3).mean() - b.max()).sum(),
                              [(2, 3), (3, 2)]),
    "broadcast_reuse": (lambda lib, a, b: ((a + b) * (a - b) / (b * b + 1)).sum(), [(2, 3), (3,)]),
    "cast_roundtrip": (lambda lib, a: (a.double() * 3).float().sum(), [(3,)]),
    "index_and_cat": (lambda lib, a: lib.cat([a[0], a[1] * 2, a[[0, 0]].flatten()]).pow(2).sum(), [(2, 3)]),
}


@pytest.mark.parametrize("name", list(GRAPHS))
def test_graph_gradients_match_torch(name, device):
    fn, shapes = GRAPHS[name]
    rng = np.random.default_rng(0)
    arrays = [rng.standard_normal(s).astype(np.float32) for s in shapes]
    mine, theirs = leaves(minigrad, arrays, device), leaves(torch, arrays)
    fn(minigrad, *mine).backward()
    fn(torch, *theirs).backward()
    for m, t in zip(mine, theirs):
        assert m.grad.dtype == minigrad.float32
        np.testing.assert_allclose(values(m.grad), values(t.grad), rtol=1e-5, atol=1e-6)


def test_add_self_gives_two():
    a = minigrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    b = a + a
    b.sum().backward()
    assert a.grad.tolist() == [2.0, 2.0, 2.0]


def test_deep_chain_of_100k_ops_is_iterative():
    x = minigrad.tensor(1.0, dtype=minigrad.float64, requires_grad=True)
    y = x
    for _ in range(100_000):
        y = y * 1.00001
    y.backward()
    assert x.grad.item() == pytest.approx(1.00001 ** 100_000, rel=1e-9)


def test_deep_chain_with_retain_graph_and_retain_grad():
    x = minigrad.tensor([0.5], requires_grad=True)
    y = x
    for _ in range(20_000):
        y = y + 0.0
    y.retain_grad()
    z = (y * 3).sum()
    z.backward(retain_graph=True)
    z.backward()
    assert x.grad.tolist() == [6.0]
    assert y.grad.tolist() == [6.0]


# ------------------------------------------------------------------------------------------------ accumulation
def test_leaf_grads_accumulate_across_backward_calls():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (x * x).sum().backward()
    first = x.grad
    (x * 3).sum().backward()
    assert x.grad.tolist() == [2.0 + 3.0, 4.0 + 3.0]
    assert x.grad is first, "accumulation happens in place into the existing .grad, as torch"


def test_zeroing_grad_restarts_accumulation():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (x * 2).sum().backward()
    x.grad.zero_()
    (x * 5).sum().backward()
    assert x.grad.tolist() == [5.0, 5.0]
    x.grad = None
    (x * 7).sum().backward()
    assert x.grad.tolist() == [7.0, 7.0]


def test_grads_of_two_leaves_do_not_alias():
    a = minigrad.tensor([1.0, 2.0], requires_grad=True)
    b = minigrad.tensor([3.0, 4.0], requires_grad=True)
    (a + b).sum().backward()  # Add hands the same upstream array to both inputs
    with minigrad.no_grad():
        a.grad.add_(10)
    assert b.grad.tolist() == [1.0, 1.0]


def test_broadcast_leaf_grad_is_writable_and_owned():
    a = minigrad.tensor([1.0, 2.0, 3.0], requires_grad=True)
    a.expand(4, 3).sum().backward()
    a.grad.mul_(2)  # .grad must not be a read-only broadcast view
    assert a.grad.tolist() == [8.0, 8.0, 8.0]


def test_grad_dtype_follows_leaf_through_casts():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    (x.double() * 2).sum().backward()
    assert x.grad.dtype == minigrad.float32
    assert x.grad.tolist() == [2.0, 2.0]


# ------------------------------------------------------------------------------------------------ backward(gradient=)
def test_backward_with_gradient_matches_torch(device):
    rng = np.random.default_rng(3)
    a = rng.standard_normal((2, 3)).astype(np.float32)
    g = rng.standard_normal((2, 3)).astype(np.float32)
    m, t = leaves(minigrad, [a], device)[0], leaves(torch, [a])[0]
    (m.tanh() * m).backward(gradient=minigrad.tensor(g, device=device))
    (t.tanh() * t).backward(gradient=torch.tensor(g))
    np.testing.assert_allclose(values(m.grad), values(t.grad), rtol=1e-5, atol=1e-6)


def test_backward_does_not_keep_or_modify_the_callers_gradient():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    g = minigrad.tensor([1.0, 1.0])
    (x * 1).backward(g)
    g.add_(5)
    assert x.grad.tolist() == [1.0, 1.0]
    assert g.tolist() == [6.0, 6.0]


def test_backward_on_a_leaf_seeds_its_grad():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    x.backward(minigrad.tensor([3.0, 4.0]))
    assert x.grad.tolist() == [3.0, 4.0]
    s = minigrad.tensor(2.0, requires_grad=True)
    s.backward()
    assert s.grad.item() == 1.0


def test_non_scalar_backward_without_gradient_raises():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="scalar"):
        (x * 2).backward()
    assert x.grad is None


def test_gradient_of_wrong_shape_raises():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"shape.*\(3,\).*\(2,\)|\(2,\).*\(3,\)"):
        (x * 2).backward(minigrad.tensor([1.0, 1.0, 1.0]))


def test_backward_on_tensor_without_grad_raises():
    x = minigrad.tensor([1.0, 2.0])
    with pytest.raises(RuntimeError, match="does not require grad"):
        (x * 2).sum().backward()


# ------------------------------------------------------------------------------------------------ retain_graph
def test_second_backward_through_freed_graph_names_retain_graph():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        y.backward()


def test_freed_subgraph_shared_by_a_new_graph_raises():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    h = x.exp()
    h.sum().backward()
    with pytest.raises(RuntimeError, match="retain_graph"):
        (h * 2).sum().backward()


def test_retain_graph_allows_a_second_backward():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    y.backward(retain_graph=True)
    y.backward()
    assert x.grad.tolist() == [4.0, 8.0]


# ------------------------------------------------------------------------------------------------ memory release
def test_backward_releases_saved_arrays_and_parents():
    w = minigrad.randn(3, 3, requires_grad=True)
    x = minigrad.randn(4, 3)
    loss = ((x @ w).tanh() * (x @ w).sigmoid()).mean()
    nodes = graph_nodes(loss.grad_fn)
    assert len(nodes) >= 5 and any(n.saved for n in nodes)
    loss.backward()
    for node in nodes:
        assert node.parents is None, f"{node} still holds its parents"
        assert node.saved is None, f"{node} still holds its saved arrays"


def test_retain_graph_keeps_saved_arrays_and_parents():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = (x * x).sum()
    nodes = graph_nodes(y.grad_fn)
    y.backward(retain_graph=True)
    assert all(node.parents is not None for node in nodes)
    assert any(node.saved for node in nodes)


def test_memory_stays_flat_over_a_training_loop():
    """Keeping each step's loss alive (as a careless logger does) must not keep its graph's arrays alive."""
    minigrad.manual_seed(0)
    w1 = minigrad.randn(64, 64, requires_grad=True)
    w2 = minigrad.randn(64, 1, requires_grad=True)
    x = minigrad.randn(64, 64)
    losses = []

    def step():
        loss = ((x @ w1).relu() @ w2).pow(2).mean()
        loss.backward()
        with minigrad.no_grad():
            for w in (w1, w2):
                w.sub_(w.grad * 1e-6)
                w.grad.zero_()
        losses.append(loss)

    gc.collect()
    gc.disable()  # memory must be released by reference counting alone, not by the cycle collector
    tracemalloc.start()
    try:
        for _ in range(20):
            step()
        baseline = tracemalloc.get_traced_memory()[0]
        for _ in range(200):
            step()
        growth = tracemalloc.get_traced_memory()[0] - baseline
    finally:
        tracemalloc.stop()
        gc.enable()
    # One leaked (64, 64) float32 array per step would be 200 * 16 KiB = 3.1 MiB; 200 loss tensors take ~80 KiB.
    assert growth < 512 * 1024, f"traced memory grew by {growth / 1024:.0f} KiB over 200 steps"


# ------------------------------------------------------------------------------------------------ retain_grad, detach
def test_non_leaf_keeps_no_grad_unless_retained():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 2
    z = x * 3
    z.retain_grad()
    assert z.retains_grad and not y.retains_grad
    ((y + z) * y).sum().backward()
    assert y.grad is None
    # torch: d/dz (y + z) * y = y = 2x
    assert z.grad.tolist() == [2.0, 4.0]
    assert not y.is_leaf and x.is_leaf


def test_retain_grad_on_reused_node_sums_all_paths():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    b = x + x
    b.retain_grad()
    (b * b + b).sum().backward()
    assert b.grad.tolist() == [2 * 2.0 + 1, 2 * 4.0 + 1]
    assert x.grad.tolist() == [2 * (2 * 2.0 + 1), 2 * (2 * 4.0 + 1)]


def test_retain_grad_on_the_root_holds_the_seed():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    y = x * 3
    y.retain_grad()
    y.backward(minigrad.tensor([0.5, -1.0]))
    assert y.grad.tolist() == [0.5, -1.0]
    assert x.grad.tolist() == [1.5, -3.0]


def test_retain_grad_on_leaf_is_a_no_op_and_on_constant_raises():
    x = minigrad.tensor([1.0], requires_grad=True)
    x.retain_grad()
    (x * 2).sum().backward()
    assert x.grad.tolist() == [2.0]
    with pytest.raises(RuntimeError, match="requires_grad"):
        minigrad.tensor([1.0]).retain_grad()


def test_detach_cuts_the_graph_and_shares_storage():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.detach()
    assert not d.requires_grad and d.grad_fn is None and d.is_leaf
    (x * d).sum().backward()
    assert x.grad.tolist() == [1.0, 2.0]  # d counted as a constant
    with minigrad.no_grad():
        x.mul_(10)
    assert d.tolist() == [10.0, 20.0]


def test_requires_grad_propagates_only_from_inputs_that_require_it():
    a = minigrad.tensor([1.0, 2.0], requires_grad=True)
    c = minigrad.tensor([3.0, 4.0])
    out = a * c
    assert out.requires_grad and not out.is_leaf
    out.sum().backward()
    assert c.grad is None
    assert not (c * 2).requires_grad and (c * 2).grad_fn is None


def test_requires_grad_flag_rules():
    with pytest.raises(RuntimeError, match="floating point"):
        minigrad.tensor([1, 2], requires_grad=True)
    y = minigrad.tensor([1.0], requires_grad=True) * 2
    with pytest.raises(RuntimeError, match="leaf"):
        y.requires_grad = False


# ------------------------------------------------------------------------------------------------ grad mode
def test_no_grad_records_no_graph():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    with minigrad.no_grad():
        y = x * 2 + x.exp()
        assert not minigrad.is_grad_enabled()
    assert minigrad.is_grad_enabled()
    assert not y.requires_grad and y.grad_fn is None and y.is_leaf
    with pytest.raises(RuntimeError):
        y.sum().backward()


@pytest.mark.parametrize("form", ["no_grad()", "no_grad", "enable_grad()", "enable_grad"])
def test_grad_mode_decorators(form):
    name, call = form.rstrip("()"), form.endswith("()")
    mode = getattr(minigrad, name)
    x = minigrad.tensor([1.0], requires_grad=True)

    def double(t):
        """doc"""
        return t * 2, minigrad.is_grad_enabled()

    decorated = mode()(double) if call else mode(double)
    assert decorated.__name__ == "double" and decorated.__doc__ == "doc"
    outer = minigrad.no_grad() if name == "enable_grad" else minigrad.enable_grad()
    with outer:
        y, enabled = decorated(x)
        assert minigrad.is_grad_enabled() == (name != "enable_grad")
    assert enabled == (name == "enable_grad")
    assert y.requires_grad == (name == "enable_grad")
    assert minigrad.is_grad_enabled()


def test_enable_grad_inside_no_grad_records():
    x = minigrad.tensor([3.0], requires_grad=True)
    with minigrad.no_grad():
        with minigrad.enable_grad():
            y = x * x
        z = x * x
    assert y.requires_grad and not z.requires_grad
    y.sum().backward()
    assert x.grad.tolist() == [6.0]


def test_grad_mode_is_restored_after_an_exception():
    with pytest.raises(ValueError):
        with minigrad.no_grad():
            raise ValueError
    assert minigrad.is_grad_enabled()

    @minigrad.no_grad
    def boom():
        raise ValueError

    with pytest.raises(ValueError):
        boom()
    assert minigrad.is_grad_enabled()


def test_set_grad_enabled():
    with minigrad.set_grad_enabled(False):
        assert not minigrad.is_grad_enabled()
    assert minigrad.is_grad_enabled()


# ------------------------------------------------------------------------------------------------ custom Function
class ScaledCube(Function):
    """a**3 * factor; exercises save_for_backward, saved, needs_input_grad and a keyword parameter."""

    calls = []

    def forward(self, a, factor=1.0):
        self.save_for_backward(a)
        self.factor = factor
        return a ** 3 * factor

    def backward(self, grad):
        (a,) = self.saved
        ScaledCube.calls.append(self.needs_input_grad)
        return grad * 3 * a ** 2 * self.factor


class MulAdd(Function):
    """a * b + c with broadcasting; the engine must un-broadcast the returned grads."""

    def forward(self, a, b, c):
        self.save_for_backward(a, b)
        return a * b + c

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b, need_c = self.needs_input_grad
        return (grad * b if need_a else None, grad * a if need_b else None, grad if need_c else None)


class WrongBackward(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return a * a

    def backward(self, grad):
        (a,) = self.saved
        return grad * a  # should be 2 * a


def test_custom_function_forward_and_backward():
    ScaledCube.calls.clear()
    x = minigrad.tensor([1.0, -2.0], requires_grad=True)
    y = ScaledCube.apply(x, factor=2.0)
    assert isinstance(y, minigrad.Tensor) and y.requires_grad and isinstance(y.grad_fn, ScaledCube)
    assert y.tolist() == [2.0, -16.0]
    y.sum().backward()
    assert x.grad.tolist() == [6.0, 24.0]
    assert ScaledCube.calls == [(True,)]


def test_custom_function_needs_input_grad_and_unbroadcast():
    rng = np.random.default_rng(0)
    a, b, c = (rng.standard_normal(s).astype(np.float32) for s in [(2, 3), (3,), (2, 1)])
    ma = minigrad.tensor(a, requires_grad=True)
    mb = minigrad.tensor(b)  # constant: backward is told so
    mc = minigrad.tensor(c, requires_grad=True)
    out = MulAdd.apply(ma, mb, mc)
    assert out.grad_fn.needs_input_grad == (True, False, True)
    out.sum().backward()
    ta, tc = torch.tensor(a, requires_grad=True), torch.tensor(c, requires_grad=True)
    (ta * torch.tensor(b) + tc).sum().backward()
    np.testing.assert_allclose(values(ma.grad), values(ta.grad), rtol=1e-6)
    np.testing.assert_allclose(values(mc.grad), values(tc.grad), rtol=1e-6)
    assert mc.grad.shape == (2, 1) and mb.grad is None


class FirstOnly(Function):
    """a + b whose backward declares no gradient for b: None means zero, as in torch."""

    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, None


def test_custom_function_returning_none_for_an_input_that_requires_grad():
    # b = x * 2 reaches the loss twice; the path through FirstOnly contributes nothing, the direct one 2 per element.
    # MulBackward must still run once the None has "arrived", or x silently gets no gradient.
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    a = minigrad.tensor([1.0, 1.0], requires_grad=True)
    b = x * 2
    (FirstOnly.apply(a, b) + b).sum().backward()
    assert a.grad.tolist() == [1.0, 1.0]
    assert x.grad is not None and x.grad.tolist() == [2.0, 2.0]


class TooFewGrads(Function):
    def forward(self, a, b):
        return a * b

    def backward(self, grad):
        return grad


def test_custom_backward_returning_the_wrong_number_of_grads_raises():
    a, b = minigrad.tensor([1.0], requires_grad=True), minigrad.tensor([2.0], requires_grad=True)
    with pytest.raises(RuntimeError, match=r"returned an incorrect number of gradients \(expected 2, got 1\)"):
        TooFewGrads.apply(a, b).sum().backward()


def test_custom_function_under_no_grad_records_nothing():
    x = minigrad.tensor([1.0], requires_grad=True)
    with minigrad.no_grad():
        y = ScaledCube.apply(x)
    assert y.grad_fn is None and not y.requires_grad


# ------------------------------------------------------------------------------------------------ gradcheck
def test_gradcheck_passes_for_correct_ops_and_leaves_inputs_unchanged():
    rng = np.random.default_rng(0)
    a = minigrad.tensor(rng.standard_normal((2, 3)), requires_grad=True)
    b = minigrad.tensor(rng.standard_normal(3), requires_grad=True)
    before = a.tolist(), b.tolist()
    assert gradcheck(lambda x, y: ScaledCube.apply(x * y, factor=0.5).sum(dim=1), (a, b))
    assert gradcheck(lambda x, y, z: MulAdd.apply(x, y, z), (a, b, minigrad.tensor([1.0], dtype=minigrad.float64)))
    assert (a.tolist(), b.tolist()) == before
    assert a.grad is None and b.grad is None


def test_gradcheck_catches_a_wrong_backward():
    x = minigrad.tensor([0.5, -1.5, 2.0], dtype=minigrad.float64, requires_grad=True)
    with pytest.raises(RuntimeError):
        gradcheck(WrongBackward.apply, (x,), eps=1e-6, atol=1e-5, rtol=1e-3)
    assert gradcheck(WrongBackward.apply, (x,), raise_exception=False) is False


def test_gradcheck_is_accurate_in_float64():
    x = minigrad.tensor([[0.3, -0.7], [1.1, 0.2]], dtype=minigrad.float64, requires_grad=True)
    assert gradcheck(lambda t: (t @ t).exp().log_softmax(dim=0), (x,), eps=1e-6, atol=1e-8, rtol=1e-6)


def test_gradcheck_has_torch_defaults():
    import inspect
    params = inspect.signature(gradcheck).parameters
    assert (params["eps"].default, params["atol"].default, params["rtol"].default) == (1e-6, 1e-5, 1e-3)

