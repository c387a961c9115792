"""The complete autograd API against torch: autograd.grad and backward's options, gradient penalties and
Hessian-vector products, autograd.functional, hooks, in-place version checks, per-thread grad mode, anomaly
detection, graph pictures and flat memory."""
from __future__ import annotations

import threading
import tracemalloc

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
LIBS = [minigrad, torch]
rng = np.random.default_rng(0)
X, W1, B1, W2, B2 = (rng.standard_normal(s) for s in [(8, 5), (7, 5), (7,), (3, 7), (3,)])
Y = np.array([0, 2, 1, 1, 0, 2, 2, 1])


def close(a, b, tol=1e-10):
    np.testing.assert_allclose(np.asarray(a.detach().numpy()), b.detach().numpy(), rtol=tol, atol=tol)


def mlp(lib, requires_grad=True):
    params = [lib.tensor(a, requires_grad=requires_grad) for a in (W1, B1, W2, B2)]
    x = lib.tensor(X, requires_grad=True)

    def loss_of(x, w1, b1, w2, b2):
        hidden = lib.nn.functional.linear(x, w1, b1).tanh()
        return lib.nn.functional.cross_entropy(lib.nn.functional.linear(hidden, w2, b2), lib.tensor(Y))
    return x, params, loss_of


# ---------------------------------------------------------------------------------------------- grad / backward
def test_gradient_penalty_training_step_matches_torch():
    results = []
    for lib in LIBS:
        x, params, loss_of = mlp(lib)
        loss = loss_of(x, *params)
        (gx,) = lib.autograd.grad(loss, x, create_graph=True)
        total = loss + 10 * ((gx.norm(2, dim=1) if hasattr(gx, "norm") and lib is torch else
                              (gx * gx).sum(1).sqrt()) - 1).pow(2).mean() if lib is torch else \
            loss + 10 * (((gx * gx).sum(1).sqrt() - 1) ** 2).mean()
        total.backward()
        results.append([total] + [p.grad for p in params] + [x.grad])
    for m, t in zip(*results):
        close(m, t)


def test_backward_create_graph_accumulates_differentiable_grads():
    out = []
    for lib in LIBS:
        x = lib.tensor([0.5, -1.0, 2.0], dtype=lib.float64, requires_grad=True)
        (x ** 3).sum().backward(create_graph=True)
        assert x.grad.requires_grad
        g = x.grad
        x.grad = None
        g.sum().backward()
        out.append(x.grad)
    close(*out)


def test_hessian_vector_product_of_cross_entropy_matches_torch():
    out = []
    v = [rng.standard_normal(a.shape) for a in (W1, B1, W2, B2)]
    for lib in LIBS:
        x, params, loss_of = mlp(lib)
        loss = loss_of(x.detach(), *params)
        grads = lib.autograd.grad(loss, params, create_graph=True)
        dot = sum((g * lib.tensor(vi)).sum() for g, vi in zip(grads, v))
        out.append(lib.autograd.grad(dot, params))
    for m, t in zip(*out):
        close(m, t)


def test_grad_does_not_touch_dot_grad_and_checks_unused_inputs():
    for lib in LIBS:
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0], requires_grad=True)
        y = (a * 2).sum()
        with pytest.raises(RuntimeError, match="appears to not have been used in the graph"):
            lib.autograd.grad(y, [a, b], retain_graph=True)
        ga, gb = lib.autograd.grad(y, [a, b], allow_unused=True, retain_graph=True)
        assert gb is None and a.grad is None
        gb = lib.autograd.grad(y, [a, b], materialize_grads=True)[1]
        assert gb.tolist() == [0.0]
        with pytest.raises(RuntimeError, match="does not require grad"):
            lib.autograd.grad((a * 2).sum(), lib.tensor([1.0]))


def test_retain_graph_defaults_to_create_graph():
    for lib in LIBS:
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        y = (a.exp() * a).sum()
        lib.autograd.grad(y, a, create_graph=True)
        lib.autograd.grad(y, a)  # still there: create_graph retained it
        with pytest.raises(RuntimeError, match="backward through the graph a second time"):
            lib.autograd.grad(y, a)


def test_backward_inputs_accumulates_only_into_those():
    for lib in LIBS:
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        b = lib.tensor([3.0, 4.0], requires_grad=True)
        h = a * b
        (h * h).sum().backward(inputs=[b, h])
        assert a.grad is None and b.grad.tolist() == [6.0, 32.0] and h.grad.tolist() == [6.0, 16.0]


def test_grad_with_respect_to_a_non_leaf_and_grad_outputs():
    out = []
    for lib in LIBS:
        a = lib.tensor([[1.0, -2.0], [0.5, 3.0]], dtype=lib.float64, requires_grad=True)
        h = a.tanh()
        y = h * a
        out.append(lib.autograd.grad(y, [h, a], grad_outputs=lib.tensor([[1.0, 2.0], [3.0, 4.0]],
                                                                        dtype=lib.float64)))
    for m, t in zip(*out):
        close(m, t)


def test_custom_function_double_backward_and_wrong_shape_error():
    class Cube(minigrad.autograd.Function):
        def forward(self, x):
            self.save_for_backward(x)
            return x ** 3

        def backward(self, grad):
            (x,) = self.saved_tensors
            return 3 * x * x * grad

    x = minigrad.tensor([1.0, 2.0], dtype=minigrad.float64, requires_grad=True)
    (g,) = minigrad.autograd.grad(Cube.apply(x).sum(), x, create_graph=True)
    (gg,) = minigrad.autograd.grad(g.sum(), x)
    assert gg.tolist() == [6.0, 12.0]

    class Wrong(minigrad.autograd.Function):
        def forward(self, x):
            return x * 2

        def backward(self, grad):
            return grad[:1] * 0 + self.xp.ones((3,))

    with pytest.raises(RuntimeError, match=r"Function WrongBackward0 returned an invalid gradient at index 0 - "
                                           r"got \[3\] but expected shape compatible with \[2\]"):
        Wrong.apply(x).sum().backward()


def test_integer_results_are_not_differentiable():
    x = minigrad.tensor([1.5, 2.5], requires_grad=True)
    assert not x.long().requires_grad and x.long().grad_fn is None
    assert not x.argmax().requires_grad


# ---------------------------------------------------------------------------------------------- functional
FUNCTIONAL = {
    "vjp": lambda F, lib, x, v: F.vjp(lambda a: (a.exp() * a.sum()), x, v)[1],
    "jvp": lambda F, lib, x, v: F.jvp(lambda a: (a.tanh() * a.sum()), x, v)[1],
    "hvp": lambda F, lib, x, v: F.hvp(lambda a: (a.sigmoid() * a).sum() * a.sum(), x, v)[1],
    "vhp": lambda F, lib, x, v: F.vhp(lambda a: (a * a.exp()).sum(), x, v)[1],
    "jacobian": lambda F, lib, x, v: F.jacobian(lambda a: a.softmax(0) * v, x),
    "jacobian_tuple": lambda F, lib, x, v: F.jacobian(lambda a, b: (a * b, a.exp()), (x, v))[1][0],
    "hessian": lambda F, lib, x, v: F.hessian(lambda a: (a.log_softmax(0) * v).sum(), x),
    "hessian_tuple": lambda F, lib, x, v: F.hessian(lambda a, b: (a * a * b.exp()).sum(), (x, v))[0][1],
    "jacobian_create_graph": lambda F, lib, x, v: F.jacobian(lambda a: a ** 3, x.requires_grad_(),
                                                             create_graph=True).sum().requires_grad,
}


@pytest.mark.parametrize("name", list(FUNCTIONAL))
def test_autograd_functional_matches_torch(name):
    out = []
    for lib in LIBS:
        x = lib.tensor([0.3, -1.2, 0.8, 2.0], dtype=lib.float64)
        v = lib.tensor([1.0, -0.5, 2.0, 0.25], dtype=lib.float64)
        out.append(FUNCTIONAL[name](lib.autograd.functional, lib, x, v))
    if isinstance(out[1], bool):
        assert out[0] is out[1] or out[0] == out[1]
    else:
        close(*out)


def test_functional_errors_match_torch():
    for lib in LIBS:
        F = lib.autograd.functional
        x = lib.tensor([1.0, 2.0])
        with pytest.raises(RuntimeError, match="can only be None if the user-provided function returns a single"):
            F.vjp(lambda a: a * 2, x)
        with pytest.raises(RuntimeError, match="The given v should contain a single Tensor"):
            F.jvp(lambda a: a * 2, x, (x, x))
        with pytest.raises(RuntimeError, match="v is a tuple of invalid length: should be 2 but got 1"):
            F.jvp(lambda a, b: a * b, (x, x), (x,))
        with pytest.raises(RuntimeError, match="Output 0 of the user-provided function does not require gradients"):
            F.vjp(lambda a, lib=lib: lib.ones(2), x, lib.ones(2), strict=True)
        with pytest.raises(RuntimeError, match="independent of input 1"):
            F.vjp(lambda a, b: a * 2, (x, x), lib.ones(2), strict=True)


# ---------------------------------------------------------------------------------------------- hooks
def test_tensor_hooks_replace_observe_and_remove():
    for lib in LIBS:
        t = lib.tensor([1.0, 2.0], requires_grad=True)
        seen = []
        h1 = t.register_hook(lambda g, seen=seen: seen.append(g.tolist()))
        h2 = t.register_hook(lambda g: g * 10)
        (t * t).sum().backward()
        assert seen == [[2.0, 4.0]] and t.grad.tolist() == [20.0, 40.0]
        h1.remove()
        h2.remove()
        t.grad = None
        (t * t).sum().backward()
        assert seen == [[2.0, 4.0]] and t.grad.tolist() == [2.0, 4.0]
        u = t * 3
        u.register_hook(lambda g: g + 1)
        t.grad = None
        u.sum().backward()
        assert t.grad.tolist() == [6.0, 6.0]


def test_post_accumulate_grad_hook_sees_the_accumulated_grad():
    for lib in LIBS:
        p = lib.tensor([1.0, 2.0], requires_grad=True)
        calls = []
        handle = p.register_post_accumulate_grad_hook(lambda param, calls=calls: calls.append(param.grad.tolist()))
        (p * 2).sum().backward()
        (p * 3).sum().backward()
        assert calls == [[2.0, 2.0], [5.0, 5.0]]
        handle.remove()
        (p * 3).sum().backward()
        assert len(calls) == 2
        with pytest.raises(RuntimeError, match="post accumulate grad hooks cannot be registered on non-leaf"):
            (p * 2).register_post_accumulate_grad_hook(lambda param: None)


def _hooked_run(lib):
    lib.manual_seed(0)
    lin = lib.nn.Linear(3, 2).double()
    with lib.no_grad():
        lin.weight.copy_(lib.tensor(W1[:2, :3]))
        lin.bias.copy_(lib.tensor(B1[:2]))
    log = []
    handles = [
        lin.register_forward_pre_hook(lambda m, args: (args[0] * 2,)),
        lin.register_forward_hook(lambda m, args, out: out + 1),
        lin.register_full_backward_pre_hook(lambda m, go: (go[0] * 3,)),
        lin.register_full_backward_hook(lambda m, gi, go: log.append((gi[0].clone(), go[0].clone()))),
    ]
    x = lib.tensor(X[:4, :3], requires_grad=True)
    y = lin(x)
    (y * y).sum().backward()
    result = [y, x.grad, lin.weight.grad, log[0][0], log[0][1]]
    for h in handles:
        h.remove()
    log.clear()
    lin(x).sum().backward()
    assert log == []
    return result


def test_module_hooks_match_torch():
    for m, t in zip(_hooked_run(minigrad), _hooked_run(torch)):
        close(m, t)


def test_forward_hook_always_call_runs_when_forward_raises():
    for lib in LIBS:
        class Broken(lib.nn.Module):
            def forward(self, x):
                raise ValueError("broken forward")

        seen = []
        module = Broken()
        module.register_forward_hook(lambda m, args, out, seen=seen: seen.append(("always", out)), always_call=True)
        module.register_forward_hook(lambda m, args, out, seen=seen: seen.append(("normal", out)))
        with pytest.raises(ValueError, match="broken forward"):
            module(lib.ones(1))
        assert seen == [("always", None)]


# ---------------------------------------------------------------------------------------------- in place
INPLACE_ERRORS = {
    "output_modified": lambda lib, a: (lambda y: (y.add_(1), y.sum()))(a.exp())[1],
    "input_modified_under_no_grad": lambda lib, a: _modified_under_no_grad(lib, a),
    "saved_input_modified_in_graph": lambda lib, a: (lambda h: (lambda y: (h.mul_(2), y.sum())[1])(h * h))(a * 1),
    "detached_alias_modified": lambda lib, a: (lambda h: (lambda y: (h.detach().zero_(), y.sum())[1])(h.log()))(a * 1),
    "setitem_on_saved": lambda lib, a: (lambda h: (lambda y: (h.__setitem__(0, 5.0), y.sum())[1])(h * h))(a + 0),
    "output_of_sigmoid": lambda lib, a: (lambda y: (y.mul_(2), y.sum())[1])(a.sigmoid()),
    "modified_through_a_view": lambda lib, a: (lambda h: (lambda y: (h.view(2, 1).add_(1), y.sum())[1])(h.log()))(
        a * 1),
    "modified_through_an_index_view": lambda lib, a: (lambda h: (lambda y: (h[1:].mul_(2), y.sum())[1])(h * h))(
        a * 1),
}


def _modified_under_no_grad(lib, a):
    w = lib.tensor([1.0, 1.0], requires_grad=True)
    y = (a * w).sum()
    with lib.no_grad():
        w.add_(1)
    return y


@pytest.mark.parametrize("name", list(INPLACE_ERRORS))
def test_inplace_modification_of_a_saved_tensor_raises_as_torch(name):
    for lib in LIBS:
        a = lib.tensor([1.0, 2.0], requires_grad=True)
        y = INPLACE_ERRORS[name](lib, a)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            y.backward()


def test_optimizer_step_between_forward_and_backward_raises():
    for lib in LIBS:
        p = lib.nn.Parameter(lib.tensor([1.0, 2.0]))
        opt = lib.optim.SGD([p], lr=0.1)
        loss = (p * p).sum()
        p.grad = lib.ones(2)
        opt.step()
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            loss.backward()


INPLACE_RECORDED = {
    "loss_accumulation": lambda lib, a: _accumulated_loss(lib, a),
    "setitem_from_grad_tensor": lambda lib, a: _setitem(lib, a),
    "chain_of_inplace": lambda lib, a: (lambda h: (h.add_(a), h.mul_(3), h.sub_(a, alpha=2), h.div_(2),
                                                   h.clamp_(-1, 4), h)[-1])(a * a),
    "copy_into_buffer": lambda lib, a: lib.zeros(2, 2).copy_(a.exp()) * 2,
    "masked_setitem": lambda lib, a: _masked(lib, a),
    "relu_inplace": lambda lib, a: (lambda h: (lib.nn.functional.relu(h, inplace=True), h.exp())[1])(a - 0.7),
    "relu_module_inplace": lambda lib, a: lib.nn.ReLU(inplace=True)(a * 2) * a,
}


def _accumulated_loss(lib, a):
    loss = 0
    for i in range(3):
        loss += ((a - i) ** 2).sum()
    total = lib.tensor(0.0)
    total += loss
    return total


def _setitem(lib, a):
    y = lib.zeros(3, 2)
    y[0] = a[0] * 2
    y[2] = a.sum(0)
    return y * y


def _masked(lib, a):
    y = a * 1
    y[y > 1.5] = 0
    return y.exp()


@pytest.mark.parametrize("name", list(INPLACE_RECORDED))
def test_inplace_ops_in_the_graph_are_recorded_as_torch(name):
    out = []
    for lib in LIBS:
        a = lib.tensor([[1.0, 2.0], [0.5, -1.0]], dtype=lib.float64, requires_grad=True)
        y = INPLACE_RECORDED[name](lib, a)
        y.backward(lib.ones_like(y))
        out.append((y, a.grad))
    close(out[0][0], out[1][0])
    close(out[0][1], out[1][1])


def test_inplace_on_a_leaf_that_requires_grad_raises():
    a = minigrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
        a.add_(1)
    with pytest.raises(RuntimeError, match="a leaf Variable that requires grad"):
        a[0] = 2.0
    with minigrad.no_grad():
        a.add_(1)
    assert a.tolist() == [2.0] and a._version == 1


# ---------------------------------------------------------------------------------------------- grad mode, anomaly
def test_grad_mode_is_per_thread():
    inside = threading.Event()
    release = threading.Event()
    seen = {}

    def worker():
        with minigrad.no_grad():
            inside.set()
            release.wait(5)
            seen["worker"] = minigrad.is_grad_enabled()

    thread = threading.Thread(target=worker)
    thread.start()
    inside.wait(5)
    x = minigrad.tensor([1.0], requires_grad=True)
    seen["main"] = minigrad.is_grad_enabled()
    seen["recorded"] = (x * 2).requires_grad
    release.set()
    thread.join(5)
    assert seen == {"worker": False, "main": True, "recorded": True}
    results = []
    threads = [threading.Thread(target=lambda: results.append(minigrad.is_grad_enabled())) for _ in range(3)]
    with minigrad.no_grad():
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    assert results == [True, True, True] and minigrad.is_grad_enabled()


def test_detect_anomaly_names_the_op_and_its_forward():
    x = minigrad.tensor([-1.0, 4.0], requires_grad=True)
    with pytest.warns(UserWarning, match="Anomaly Detection has been enabled"):
        with minigrad.autograd.detect_anomaly():
            y = x.sqrt()  # the line the error must point at
            with pytest.raises(RuntimeError, match=r"Function 'SqrtBackward0' returned nan values in its 0th "
                                                   r"output(.|\n)*y = x.sqrt\(\)"):
                y.sum().backward()
    assert not minigrad.autograd.is_anomaly_enabled()
    with minigrad.autograd.set_detect_anomaly(True):
        assert minigrad.autograd.is_anomaly_enabled()
    assert not minigrad.autograd.is_anomaly_enabled()


# ---------------------------------------------------------------------------------------------- pictures
def test_make_dot_draws_ops_params_and_saved_shapes():
    from minigrad.utils.viz import make_dot
    model = minigrad.nn.Sequential(minigrad.nn.Linear(4, 3), minigrad.nn.ReLU(), minigrad.nn.Linear(3, 2))
    loss = minigrad.nn.functional.cross_entropy(model(minigrad.randn(5, 4)), minigrad.tensor([0, 1, 1, 0, 1]))
    graph = make_dot(loss, params=dict(model.named_parameters()))
    source = graph if isinstance(graph, str) else graph.source
    for text in ("AddmmBackward0", "ReluBackward0", "NllLossBackward0", "0.weight", "(3, 4)", "2.bias",
                 "saved: (5, 3)"):
        assert text in source
    assert source.count("AddmmBackward0") == 2 and source.count("->") >= 7


# ---------------------------------------------------------------------------------------------- memory
@pytest.mark.parametrize("create_graph", [False, True])
def test_memory_stays_flat_over_10000_steps(create_graph):
    minigrad.manual_seed(0)
    model = minigrad.nn.Sequential(minigrad.nn.Linear(4, 8), minigrad.nn.Tanh(), minigrad.nn.Linear(8, 2))
    opt = minigrad.optim.SGD(model.parameters(), lr=1e-3, momentum=0.9)
    x, y = minigrad.randn(16, 4), minigrad.tensor([0, 1] * 8)

    def step():
        opt.zero_grad()
        loss = minigrad.nn.functional.cross_entropy(model(x), y)
        if create_graph:
            grads = minigrad.autograd.grad(loss, list(model.parameters()), create_graph=True)
            loss = loss + 0.01 * sum((g * g).sum() for g in grads)
        loss.backward()
        opt.step()

    for _ in range(200):
        step()
    tracemalloc.start()
    try:
        for _ in range(1000):
            step()
        after_1000 = tracemalloc.get_traced_memory()[0]
        for _ in range(9000):
            step()
        after_10000 = tracemalloc.get_traced_memory()[0]
    finally:
        tracemalloc.stop()
    assert after_10000 - after_1000 < 64 * 1024, (after_1000, after_10000)


def test_mnist_example_draws_its_graph(tmp_path):
    import importlib.util
    import pathlib
    path = pathlib.Path(__file__).parent.parent / "examples" / "mnist.py"
    spec = importlib.util.spec_from_file_location("mnist_example", path)
    example = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(example)
    model = example.Net()
    batches = [(minigrad.randn(4, 1, 28, 28), minigrad.tensor([0, 1, 2, 3]))]
    out = tmp_path / "graph.dot"
    example.draw_graph(out, model, minigrad.nn.CrossEntropyLoss(), batches)
    text = out.read_text()
    assert text.startswith("digraph") and text.count("AddmmBackward0") == 5
    assert not [p for p in tmp_path.iterdir() if p.name.endswith(".part")]
