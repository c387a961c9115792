"""BatchNorm1d/2d/3d and F.batch_norm against torch: outputs, gradients, running statistics, reprs, errors."""
import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F
from minigrad import nn

torch = pytest.importorskip("torch")

TOL = {"float32": {"rtol": 2e-5, "atol": 2e-5}, "float64": {"rtol": 1e-10, "atol": 1e-10}}
CLASSES = {2: "BatchNorm1d", 3: "BatchNorm1d", 4: "BatchNorm2d", 5: "BatchNorm3d"}


def make_pair(ndim, channels, dtype, **options):
    """The same layer in minigrad and torch, with non-trivial weights copied from minigrad into torch."""
    name = CLASSES[ndim]
    ours = getattr(nn, name)(channels, **options).to(getattr(minigrad, dtype))
    theirs = getattr(torch.nn, name)(channels, **options).to(getattr(torch, dtype))
    rng = np.random.default_rng(1)
    with minigrad.no_grad(), torch.no_grad():
        for key in ("weight", "bias"):
            if getattr(ours, key) is not None:
                value = rng.uniform(0.5, 1.5, channels).astype(dtype)
                getattr(ours, key).copy_(minigrad.tensor(value))
                getattr(theirs, key).copy_(torch.tensor(value))
    return ours, theirs


def assert_close(ours, theirs, dtype, what=""):
    theirs = theirs.detach().numpy() if hasattr(theirs, "detach") else theirs
    np.testing.assert_allclose(ours.detach().numpy(), theirs, err_msg=what, **TOL[dtype])


def assert_state_matches(ours, theirs, dtype):
    mine, other = ours.state_dict(), theirs.state_dict()
    assert list(mine) == list(other)
    for key in mine:
        assert mine[key].shape == tuple(other[key].shape), key
        if key == "num_batches_tracked":
            assert mine[key].dtype == minigrad.int64 and mine[key].item() == other[key].item()
        else:
            assert_close(mine[key], other[key], dtype, key)


SHAPES = [(2, 3), (5, 4), (2, 3, 1), (4, 3, 7), (2, 3, 4, 5), (1, 2, 3, 3), (3, 2, 2, 3, 2)]
OPTIONS = [{}, {"momentum": None}, {"momentum": 0.3, "eps": 1e-3}, {"affine": False}, {"bias": False},
           {"track_running_stats": False}, {"affine": False, "track_running_stats": False, "momentum": None}]


@pytest.mark.parametrize("options", OPTIONS, ids=lambda o: ",".join(f"{k}={v}" for k, v in o.items()) or "default")
@pytest.mark.parametrize("shape", SHAPES, ids=str)
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_training_steps_then_eval_match_torch(shape, dtype, options, rng):
    ours, theirs = make_pair(len(shape), shape[1], dtype, **options)
    for step in range(3):  # running statistics after several steps, and every step's output and gradients
        x = (rng.standard_normal(shape) * (step + 1) + step).astype(dtype)
        g = rng.standard_normal(shape).astype(dtype)
        a, b = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
        ya, yb = ours(a), theirs(b)
        assert_close(ya, yb, dtype, f"output, step {step}")
        ya.backward(minigrad.tensor(g))
        yb.backward(torch.tensor(g))
        assert_close(a.grad, b.grad, dtype, f"input grad, step {step}")
        for name, p in theirs.named_parameters():
            assert_close(getattr(ours, name).grad, p.grad, dtype, f"{name} grad, step {step}")
        assert_state_matches(ours, theirs, dtype)
    ours.eval()
    theirs.eval()
    x = rng.standard_normal(shape).astype(dtype)
    a, b = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    ya, yb = ours(a), theirs(b)
    assert_close(ya, yb, dtype, "eval output")
    (ya * ya).sum().backward()
    (yb * yb).sum().backward()
    assert_close(a.grad, b.grad, dtype, "eval input grad")
    assert_state_matches(ours, theirs, dtype)  # eval leaves the running statistics alone


def test_eval_uses_the_running_statistics(rng):
    layer = nn.BatchNorm1d(2, affine=False)
    with minigrad.no_grad():
        layer.running_mean.copy_(minigrad.tensor([1.0, -2.0]))
        layer.running_var.copy_(minigrad.tensor([4.0, 0.25]))
    x = rng.standard_normal((6, 2)).astype("float32")
    expected = (x - [1.0, -2.0]) / np.sqrt(np.array([4.0, 0.25]) + 1e-5)
    np.testing.assert_allclose(layer.eval()(minigrad.tensor(x)).numpy(), expected, rtol=1e-5)
    # training normalises by the batch's own statistics with the biased variance
    batch = layer.train()(minigrad.tensor(x)).numpy()
    np.testing.assert_allclose(batch, (x - x.mean(0)) / np.sqrt(x.var(0) + 1e-5), rtol=1e-4, atol=1e-5)
    # ... and the running update uses the unbiased variance
    np.testing.assert_allclose(layer.running_var.numpy(), 0.9 * np.array([4.0, 0.25]) + 0.1 * x.var(0, ddof=1),
                               rtol=1e-5)


def test_momentum_none_is_a_cumulative_average(rng):
    layer = nn.BatchNorm1d(3, momentum=None)
    batches = [rng.standard_normal((4, 3)).astype("float32") for _ in range(5)]
    for x in batches:
        layer(minigrad.tensor(x))
    assert layer.num_batches_tracked.item() == 5
    np.testing.assert_allclose(layer.running_mean.numpy(), np.mean([x.mean(0) for x in batches], 0), rtol=1e-5,
                               atol=1e-6)
    np.testing.assert_allclose(layer.running_var.numpy(), np.mean([x.var(0, ddof=1) for x in batches], 0), rtol=1e-5)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("affine", ["both", "weight", "bias", "none"])
def test_functional_batch_norm_matches_torch(affine, training, dtype, rng):
    shape = (3, 4, 5)
    x, g = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    w, b = rng.standard_normal(4).astype(dtype), rng.standard_normal(4).astype(dtype)
    mean, var = rng.standard_normal(4).astype(dtype), rng.uniform(0.5, 2, 4).astype(dtype)
    results = []
    for lib in (minigrad, torch):
        inputs = [lib.tensor(v, requires_grad=True) for v in (x, w, b)]
        running = [lib.tensor(mean), lib.tensor(var)]
        weight = inputs[1] if affine in ("both", "weight") else None
        bias = inputs[2] if affine in ("both", "bias") else None
        y = lib.nn.functional.batch_norm(inputs[0], *running, weight, bias, training=training, momentum=0.2,
                                         eps=1e-4)
        y.backward(lib.tensor(g))
        results.append([y, *running] + [t.grad if t.grad is not None else lib.zeros(4) for t in inputs])
    for ours, theirs in zip(*results):
        assert_close(ours, theirs, dtype)


def test_functional_without_running_statistics_in_training(rng):
    x = rng.standard_normal((5, 3)).astype("float32")
    ours = F.batch_norm(minigrad.tensor(x), None, None, training=True)
    theirs = torch.nn.functional.batch_norm(torch.tensor(x), None, None, training=True)
    assert_close(ours, theirs, "float32")


@pytest.mark.parametrize("training", [True, False])
@pytest.mark.parametrize("shape", [(4, 2), (3, 2, 3), (2, 2, 2, 2)], ids=str)
def test_gradcheck_and_second_derivatives_match_torch(shape, training, rng):
    x, g = rng.standard_normal(shape), rng.standard_normal(shape)
    w, b = rng.standard_normal(2), rng.standard_normal(2)
    mean, var = np.array([0.3, -0.5]), np.array([0.7, 1.9])

    def fn(lib):
        def f(x, w, b):
            return lib.nn.functional.batch_norm(x, lib.tensor(mean), lib.tensor(var), w, b, training=training)
        return f

    inputs = [minigrad.tensor(v, requires_grad=True) for v in (x, w, b)]
    assert minigrad.autograd.gradcheck(fn(minigrad), inputs)
    assert minigrad.autograd.gradgradcheck(fn(minigrad), inputs)
    seconds = []
    for lib in (minigrad, torch):  # double backward, through a create_graph first backward
        ins = [lib.tensor(v, requires_grad=True) for v in (x, w, b)]
        grads = lib.autograd.grad((fn(lib)(*ins) * lib.tensor(g)).sum(), ins, create_graph=True)
        total = sum((gr * gr).sum() for gr in grads)
        seconds.append(lib.autograd.grad(total, ins, allow_unused=True))
    assert seconds[0][2] is None and seconds[1][2] is None  # the bias's gradient does not depend on anything
    for ours, theirs in zip(seconds[0][:2], seconds[1][:2]):
        np.testing.assert_allclose(ours.numpy(), theirs.numpy(), rtol=1e-9, atol=1e-10)


@pytest.mark.parametrize("options", [{}, {"momentum": None, "affine": False}, {"bias": False, "eps": 0.01},
                                     {"track_running_stats": False}])
@pytest.mark.parametrize("name", ["BatchNorm1d", "BatchNorm2d", "BatchNorm3d"])
def test_reprs_and_state_dict_keys_match_torch(name, options):
    ours, theirs = getattr(nn, name)(7, **options), getattr(torch.nn, name)(7, **options)
    assert repr(ours) == repr(theirs)
    assert list(ours.state_dict()) == list(theirs.state_dict())
    assert [n for n, _ in ours.named_buffers()] == [n for n, _ in theirs.named_buffers()]
    assert [n for n, _ in ours.named_parameters()] == [n for n, _ in theirs.named_parameters()]


def test_buffers_follow_dtype_conversion_and_state_dict_round_trips(rng):
    layer = nn.BatchNorm2d(3).double()
    assert layer.running_mean.dtype == minigrad.float64 and layer.num_batches_tracked.dtype == minigrad.int64
    layer(minigrad.tensor(rng.standard_normal((2, 3, 2, 2))))
    state = layer.state_dict()
    fresh = nn.BatchNorm2d(3).double()
    fresh.load_state_dict(state)
    for key, value in fresh.state_dict().items():
        np.testing.assert_array_equal(value.numpy(), state[key].numpy())
    assert fresh.num_batches_tracked.item() == 1


def test_reset_running_stats_and_parameters(rng):
    layer = nn.BatchNorm1d(3)
    with minigrad.no_grad():
        layer.weight.fill_(3.0)
        layer.bias.fill_(2.0)
    buffers = [layer.running_mean, layer.running_var, layer.num_batches_tracked]
    layer(minigrad.tensor(rng.standard_normal((4, 3)).astype("float32")))
    layer.reset_running_stats()
    assert layer.running_mean.tolist() == [0, 0, 0] and layer.running_var.tolist() == [1, 1, 1]
    assert layer.num_batches_tracked.item() == 0 and layer.weight.tolist() == [3, 3, 3]
    assert [layer.running_mean, layer.running_var, layer.num_batches_tracked] == buffers  # reset in place
    layer.reset_parameters()
    assert layer.weight.tolist() == [1, 1, 1] and layer.bias.tolist() == [0, 0, 0]


def error_of(fn):
    try:
        fn()
    except Exception as e:  # noqa: BLE001  (whatever torch raises, ours must be the same)
        return type(e).__name__, str(e).replace("torch.Size", "minigrad.Size")
    return None


ERRORS = [
    lambda lib: lib.nn.BatchNorm2d(3)(lib.ones(3, 4, 4)),
    lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(2, 3, 4, 5)),
    lambda lib: lib.nn.BatchNorm3d(3)(lib.ones(2, 3, 4, 5)),
    lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(1, 3)),
    lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(1, 3, 1)),
    lambda lib: lib.nn.BatchNorm1d(3)(lib.ones(2, 4)),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 4), lib.zeros(3), lib.ones(3), training=True),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, weight=lib.ones(4), training=True),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, bias=lib.ones(2), training=True),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, training=False),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), lib.zeros(3), None, training=False),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, training=True, eps=0),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, training=False, eps=-1),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(3), None, None, training=True),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), lib.zeros(3), lib.ones(3), training=True,
                                             momentum=None),
    lambda lib: lib.nn.functional.batch_norm(lib.ones(2, 3), None, None, lib.ones(3, dtype=lib.float64),
                                             training=True),
]


@pytest.mark.parametrize("case", range(len(ERRORS)))
def test_errors_match_torch(case):
    theirs = error_of(lambda: ERRORS[case](torch))
    assert theirs is not None
    assert error_of(lambda: ERRORS[case](minigrad)) == theirs


def test_eval_mode_accepts_a_single_sample_and_empty_batches_match_torch():
    for lib in (minigrad, torch):
        assert lib.nn.BatchNorm1d(3).eval()(lib.ones(1, 3)).shape == (1, 3)
    ours, theirs = nn.BatchNorm1d(3), torch.nn.BatchNorm1d(3)
    assert ours(minigrad.ones(0, 3)).shape == tuple(theirs(torch.ones(0, 3)).shape) == (0, 3)
    assert_state_matches(ours, theirs, "float32")


def test_trains_inside_a_model_on_device(device, rng):
    model = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2)).to(device)
    x = minigrad.tensor(rng.standard_normal((8, 4)).astype("float32"), device=device)
    model(x).sum().backward()
    bn = model[1]
    assert bn.running_mean.device == minigrad.device(device) and bn.weight.grad.device == minigrad.device(device)
    assert bn.num_batches_tracked.item() == 1
    ref = nn.Sequential(nn.Linear(4, 6), nn.BatchNorm1d(6), nn.ReLU(), nn.Linear(6, 2))
    ref.load_state_dict({k: v.cpu() for k, v in model.state_dict().items()})
    ref.eval()
    model.eval()
    np.testing.assert_allclose(model(x).detach().cpu().numpy(), ref(x.cpu()).detach().numpy(), rtol=1e-5, atol=1e-6)


def test_backward_uses_the_statistics_of_its_own_forward(rng):
    """An eval forward, then a training step that updates the running statistics, then the first backward:
    the gradient is that of the function the forward computed. (torch 2.13 differs here: its eval-mode
    backward reads the buffers as they are at backward time, a silently different gradient.)"""
    x, other = rng.standard_normal((4, 2)).astype("float32"), rng.standard_normal((4, 2)).astype("float32") * 5 + 3
    layer = nn.BatchNorm1d(2)
    layer(minigrad.tensor(other))  # running statistics away from their initial values
    mean, var = layer.running_mean.numpy().copy(), layer.running_var.numpy().copy()
    y = layer.eval()(minigrad.tensor(x))
    layer.train()(minigrad.tensor(other * 2))
    assert not np.allclose(layer.running_mean.numpy(), mean)
    y.sum().backward()
    np.testing.assert_allclose(layer.weight.grad.numpy(), ((x - mean) / np.sqrt(var + 1e-5)).sum(0), rtol=1e-5)
