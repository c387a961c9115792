"""Dropout layers and functions against torch.

Masks come from minigrad's own random stream, so they cannot equal torch's. What is checked against torch
exactly: p=0, eval mode, p=1, the scaling 1/(1-p) (bit for bit), reprs, errors and warnings, and which
dims share a draw. The randomness itself is checked by its statistics and by reproducibility under
``minigrad.manual_seed``; the gradient is checked to be the mask times the scale.
"""
import warnings

import numpy as np
import pytest

import minigrad
import minigrad.nn.functional as F
from minigrad import nn

torch = pytest.importorskip("torch")

FUNCTIONS = ["dropout", "dropout1d", "dropout2d", "dropout3d"]
MODULES = ["Dropout", "Dropout1d", "Dropout2d", "Dropout3d"]
# a shape each function takes without a warning, and the dims whose elements share one draw
SHAPES = {"dropout": ((5, 6, 7), ()), "dropout1d": ((5, 6, 7), (2,)), "dropout2d": ((5, 6, 3, 4), (2, 3)),
          "dropout3d": ((4, 5, 2, 3, 2), (2, 3, 4))}


def pair(array, requires_grad=False):
    return (minigrad.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def call(lib, name, *args, **kwargs):
    return getattr(lib.nn.functional, name)(*args, **kwargs)


@pytest.mark.parametrize("p", [0.25, 0.5, 0])
@pytest.mark.parametrize("name", MODULES)
def test_reprs_match_torch(name, p):
    assert repr(getattr(nn, name)(p)) == repr(getattr(torch.nn, name)(p))
    assert repr(getattr(nn, name)(p=p, inplace=True)) == repr(getattr(torch.nn, name)(p=p, inplace=True))


@pytest.mark.parametrize("p", [-0.1, 1.5, 2])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_p_out_of_range_raises_torchs_value_error(name, p):
    shape = SHAPES[name][0]
    with pytest.raises(ValueError) as theirs:
        call(torch, name, torch.ones(shape), p)
    with pytest.raises(ValueError, match=r"^dropout probability has to be between 0 and 1, but got") as ours:
        call(minigrad, name, minigrad.ones(shape), p)
    assert str(ours.value) == str(theirs.value)
    module = MODULES[FUNCTIONS.index(name)]
    with pytest.raises(ValueError, match=str(theirs.value)):
        getattr(nn, module)(p)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_p_zero_and_eval_return_the_input_itself_as_torch(name, dtype, rng):
    x, t = pair(rng.standard_normal(SHAPES[name][0]).astype(dtype), requires_grad=True)
    for kwargs in ({"p": 0.0}, {"p": 0.5, "training": False}):
        assert (call(minigrad, name, x, **kwargs) is x) == (call(torch, name, t, **kwargs) is t) is True
    module = getattr(nn, MODULES[FUNCTIONS.index(name)])(0.5).eval()
    assert module(x) is x
    y = module.train()(x)
    assert y is not x and module.training


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_p_one_gives_zeros_and_zero_gradient_as_torch(name, dtype, rng):
    x, t = pair(rng.standard_normal(SHAPES[name][0]).astype(dtype), requires_grad=True)
    ours, theirs = call(minigrad, name, x, 1.0), call(torch, name, t, 1.0)
    np.testing.assert_array_equal(ours.detach().numpy(), theirs.detach().numpy())
    assert ours.dtype.itemsize == theirs.dtype.itemsize and ours.grad_fn.name() == theirs.grad_fn.name()
    ours.sum().backward()
    theirs.sum().backward()
    np.testing.assert_array_equal(x.grad.numpy(), t.grad.numpy())


@pytest.mark.parametrize("p", [0.1, 0.3, 0.5, 0.7, 0.9])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_kept_elements_are_scaled_bit_for_bit_as_torch(p, dtype, rng):
    x = rng.standard_normal((64, 50)).astype(dtype)
    ours = F.dropout(minigrad.tensor(x), p).numpy()
    theirs = torch.nn.functional.dropout(torch.tensor(x), p).numpy()
    kept = ours != 0
    assert kept.any() and (~kept).any()
    # torch keeps where its own mask says; wherever each keeps an element, the value is x * (1 / (1 - p)) with
    # the same rounding: compare ours to torch's formula and to torch's own kept values' ratio
    both = kept & (theirs != 0)
    np.testing.assert_array_equal(ours[both], theirs[both])
    scale = torch.ones(1, dtype=getattr(torch, dtype)).div_(1 - p) * torch.tensor(x[kept])
    np.testing.assert_array_equal(ours[kept], scale.numpy())


@pytest.mark.parametrize("p", [0.2, 0.5, 0.8])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_drop_rate_and_mean_are_preserved_in_expectation(name, p):
    shape, shared = {"dropout": ((200, 500), ()), "dropout1d": ((100, 1000, 3), (2,)),
                     "dropout2d": ((100, 1000, 2, 2), (2, 3)), "dropout3d": ((100, 1000, 1, 2, 2), (2, 3, 4))}[name]
    minigrad.manual_seed(0)
    y = call(minigrad, name, minigrad.ones(shape), p).numpy()
    draws = y.reshape(y.shape[:2] + (-1,))[..., 0] if shared else y
    n = draws.size  # 100,000 independent draws: the dropped fraction is within 5 standard deviations of p
    assert abs((draws == 0).mean() - p) < 5 * np.sqrt(p * (1 - p) / n)
    assert abs(y.mean() - 1) < 5 * np.sqrt(p / (1 - p) / n)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_channelwise_functions_draw_once_per_channel_as_torch(name, rng):
    shape, shared = SHAPES[name]
    for lib in (minigrad, torch):
        lib.manual_seed(1)
        y = np.asarray(call(lib, name, lib.ones(shape), 0.5))
        if shared:  # every element of a (sample, channel) is kept or dropped together
            assert (y == y.reshape(shape[:2] + (-1,))[..., :1].reshape(shape[:2] + (1,) * len(shared))).all()
        else:
            assert len(np.unique(y.reshape(-1)[:200])) == 2


def test_unbatched_inputs_drop_whole_channels_as_torch():
    for lib in (minigrad, torch):
        y = np.asarray(lib.nn.functional.dropout1d(lib.ones(40, 8), 0.5))  # (C, L): one draw per channel
        assert (y == y[:, :1]).all() and 0 < (y[:, 0] == 0).sum() < 40
        y = np.asarray(lib.nn.functional.dropout3d(lib.ones(40, 2, 3, 2), 0.5))  # (C, D, H, W)
        assert (y == y[:, :1, :1, :1]).all() and 0 < (y[:, 0, 0, 0] == 0).sum() < 40


def caught(fn):
    with warnings.catch_warnings(record=True) as w:
        warnings.simplefilter("always")
        try:
            fn()
            error = None
        except Exception as e:  # noqa: BLE001  (whatever torch raises, ours must be the same)
            error = (type(e), str(e))
    return [str(x.message) for x in w], error


UNUSUAL_DIMS = [("dropout2d", (6, 4, 5)), ("dropout2d", (6, 4)), ("dropout2d", (2, 3, 2, 2, 2)), ("dropout2d", (7,)),
                ("dropout3d", (6, 4, 5)), ("dropout3d", (3,)), ("dropout1d", (2, 3, 4, 5)), ("dropout1d", (4,)),
                ("dropout3d", ())]


@pytest.mark.parametrize("name, shape", UNUSUAL_DIMS)
def test_warnings_and_errors_for_unusual_dims_match_torch(name, shape):
    ours = caught(lambda: call(minigrad, name, minigrad.ones(shape), 0.5))
    theirs = caught(lambda: call(torch, name, torch.ones(shape), 0.5))
    assert ours[0] == theirs[0]
    assert (ours[1] is None) == (theirs[1] is None)
    if theirs[1] is not None:
        assert ours[1][1] == theirs[1][1] and ours[1][0].__name__ == theirs[1][0].__name__


def test_dropout2d_reads_a_3d_input_as_n_c_l_as_torch_does():
    for lib in (minigrad, torch):
        lib.manual_seed(0)
        with pytest.warns(UserWarning, match="interpreted as shape"):
            y = np.asarray(lib.nn.functional.dropout2d(lib.ones(30, 20, 6), 0.5))
        assert (y == y[:, :, :1]).all() and 0 < (y[:, :, 0] == 0).sum() < 600  # a draw per (row, channel)


def test_dropout2d_warning_points_at_the_caller():
    with pytest.warns(UserWarning, match="Received a 3D input") as record:
        F.dropout2d(minigrad.ones(2, 3, 4))
    assert record[0].filename == __file__


@pytest.mark.parametrize("name", FUNCTIONS)
def test_same_seed_same_mask_and_fresh_draws_otherwise(name):
    shape = SHAPES[name][0]
    minigrad.manual_seed(123)
    a = call(minigrad, name, minigrad.ones(shape), 0.5).numpy()
    b = call(minigrad, name, minigrad.ones(shape), 0.5).numpy()
    minigrad.manual_seed(123)
    assert np.array_equal(call(minigrad, name, minigrad.ones(shape), 0.5).numpy(), a)
    assert not np.array_equal(a, b)
    module = getattr(nn, MODULES[FUNCTIONS.index(name)])(0.5)
    minigrad.manual_seed(123)
    assert np.array_equal(module(minigrad.ones(shape)).numpy(), a)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", FUNCTIONS)
def test_gradient_is_the_mask_times_the_scale(name, dtype, rng):
    p = 0.3
    x = minigrad.tensor(rng.standard_normal(SHAPES[name][0]).astype(dtype), requires_grad=True)
    y = call(minigrad, name, x * 2, p)
    assert y.grad_fn.name() == "MulBackward0"  # torch's CPU dropout is a multiply too
    g = rng.standard_normal(y.shape).astype(dtype)
    y.backward(minigrad.tensor(g))
    mask = y.detach().numpy() / (2 * x.detach().numpy())  # 0 or 1/(1-p), recovered from the output
    assert np.allclose(np.unique(np.round(mask, 4)), [0, round(1 / (1 - p), 4)])
    np.testing.assert_allclose(x.grad.numpy(), 2 * g * mask, rtol=1e-6 if dtype == "float32" else 1e-12)


@pytest.mark.parametrize("name", FUNCTIONS)
def test_gradcheck_and_second_derivative(name, rng):
    x = minigrad.tensor(rng.standard_normal(SHAPES[name][0][:2] + (2,) * (len(SHAPES[name][0]) - 2)),
                        requires_grad=True)

    def fn(x):
        minigrad.manual_seed(5)  # the same mask on every evaluation, so the function is deterministic
        return call(minigrad, name, x * x, 0.4)

    assert minigrad.autograd.gradcheck(fn, (x,))
    assert minigrad.autograd.gradgradcheck(fn, (x,))
    # d/dx sum(g * dropout(x^2)) = 2 g x mask; its own gradient (of the sum) is 2 g mask
    g = minigrad.tensor(rng.standard_normal(x.shape))
    (first,) = minigrad.autograd.grad((fn(x) * g).sum(), (x,), create_graph=True)
    (second,) = minigrad.autograd.grad(first.sum(), (x,))
    mask = fn(minigrad.ones(x.shape, dtype=minigrad.float64)).numpy()
    np.testing.assert_allclose(second.numpy(), 2 * g.numpy() * mask, rtol=1e-12)


def test_module_uses_training_flag(rng):
    model = nn.Sequential(nn.Linear(4, 4), nn.Dropout(0.5))
    x = minigrad.tensor(rng.standard_normal((8, 4)).astype("float32"))
    model.eval()
    np.testing.assert_array_equal(model(x).detach().numpy(), model[0](x).detach().numpy())
    model.train()
    assert (model(x).detach().numpy() == 0).any()


def test_inplace_writes_into_the_input_and_backpropagates_like_torch(rng):
    x = rng.standard_normal((10, 10))
    for lib in (minigrad, torch):
        a = lib.tensor(x, requires_grad=True)
        b = a * 3
        lib.manual_seed(0)
        out = lib.nn.functional.dropout(b, 0.5, inplace=True)
        assert out is b and b.grad_fn.name() == "MulBackward0"
        b.sum().backward()
        kept = b.detach().numpy() != 0
        np.testing.assert_allclose(a.grad.numpy(), np.where(kept, 6.0, 0.0))
    # outside the graph the tensor is simply overwritten (and its version bumped, as torch's)
    plain = minigrad.ones(6, 6)
    assert F.dropout2d(plain.view(1, 6, 6, 1), 0.5, inplace=True).shape == (1, 6, 6, 1)
    assert (plain.numpy() == 0).any()
    assert plain._version == 1  # the view shares its base's version counter, as torch's views do
    F.dropout(plain, 0.5, inplace=True)
    assert plain._version == 2
    layer = nn.Dropout(0.5, inplace=True)
    y = minigrad.ones(100)
    assert layer(y) is y and (y.numpy() == 0).any()


def test_inplace_refusals_match_torch(rng):
    for lib in (minigrad, torch):
        leaf = lib.ones(4, requires_grad=True)
        with pytest.raises(RuntimeError, match="a leaf Variable that requires grad is being used in an in-place"):
            lib.nn.functional.dropout(leaf, 0.5, inplace=True)
        # overwriting a value that another op saved for its backward is caught at backward time
        b = lib.tensor(rng.standard_normal(5), requires_grad=True).exp()
        lib.nn.functional.dropout(b, 0.5, inplace=True)
        with pytest.raises(RuntimeError, match="modified by an inplace operation"):
            b.sum().backward()


def test_integer_inputs_follow_torch():
    for lib in (minigrad, torch):
        x = lib.tensor([1, 2, 3])
        assert lib.nn.functional.dropout(x, 0.0) is x and lib.nn.functional.dropout(x, 0.5, training=False) is x
        assert lib.nn.functional.dropout(x, 1.0).tolist() == [0, 0, 0]
        with pytest.raises(RuntimeError, match="result type Float can't be cast to the desired output type Long"):
            lib.nn.functional.dropout(x, 0.5)


def test_empty_input_is_returned_as_is():
    x = minigrad.ones(0, 3)
    assert F.dropout(x, 0.5) is x and F.dropout2d(minigrad.ones(0, 3, 2, 2), 0.5).shape == (0, 3, 2, 2)


def test_on_device(device):
    x = minigrad.ones(50, 40, device=device, requires_grad=True)
    minigrad.manual_seed(7)
    y = F.dropout(x, 0.5)
    y.sum().backward()
    assert y.device == minigrad.device(device) and x.grad.device == minigrad.device(device)
    minigrad.manual_seed(7)  # one seed, the same mask on every device: drawn on the host
    np.testing.assert_array_equal(minigrad.tensor(y.detach().cpu().numpy()).numpy(),
                                  F.dropout(minigrad.ones(50, 40), 0.5).numpy())
    np.testing.assert_array_equal(x.grad.cpu().numpy(), y.detach().cpu().numpy())
