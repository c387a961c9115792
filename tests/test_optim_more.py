"""Adadelta, Adagrad, RMSprop, NAdam and Adamax against torch: per-step trajectories, validation, state dicts."""
import itertools

import numpy as np
import pytest
from test_optim import TOL, WEIGHTS, X, Y, make_model

import minigrad
from minigrad import optim

torch = pytest.importorskip("torch")


def grid(**options):
    """Every combination of the listed option values, as kwargs dicts."""
    return [dict(zip(options, values)) for values in itertools.product(*options.values())]


# Each optimizer's options, crossed where they interact; the extra rows reach the remaining branches
# (a beta1 below 0.5 takes torch's other lerp formula).
GRIDS = {
    "Adadelta": grid(rho=[0.9, 0.5], weight_decay=[0, 1e-2], maximize=[False, True])
    + [dict(lr=0.5, eps=1e-3)],
    "Adagrad": grid(lr_decay=[0, 0.05], weight_decay=[0, 1e-2], initial_accumulator_value=[0, 0.1])
    + [dict(maximize=True, eps=1e-3)],
    "RMSprop": grid(momentum=[0, 0.9], centered=[False, True], weight_decay=[0, 1e-2], maximize=[False, True])
    + [dict(alpha=0.3, eps=1e-3)],
    "NAdam": grid(weight_decay=[0, 1e-2], decoupled_weight_decay=[False, True], maximize=[False, True])
    + [dict(betas=(0.3, 0.9), momentum_decay=0.1), dict(betas=[0.8, 0.99], eps=1e-4)],
    "Adamax": grid(weight_decay=[0, 1e-2], maximize=[False, True]) + [dict(betas=(0.3, 0.9), eps=1e-3)],
}
LR = {"Adadelta": 1.0, "Adagrad": 0.05, "RMSprop": 0.01, "NAdam": 0.01, "Adamax": 0.01}
CASES = [(name, dict(dict(lr=LR[name]), **kwargs)) for name, rows in GRIDS.items() for kwargs in rows]
# Options that make every state buffer exist, for the format and resuming tests
FULL = {"Adadelta": dict(weight_decay=1e-2), "Adagrad": dict(lr=0.05, lr_decay=0.01, initial_accumulator_value=0.1),
        "RMSprop": dict(momentum=0.9, centered=True), "NAdam": dict(weight_decay=1e-2),
        "Adamax": dict(lr=0.01, weight_decay=1e-2)}
STATE_KEYS = {"Adadelta": ["step", "square_avg", "acc_delta"], "Adagrad": ["step", "sum"],
              "RMSprop": ["step", "square_avg", "momentum_buffer", "grad_avg"],
              "NAdam": ["step", "mu_product", "exp_avg", "exp_avg_sq"], "Adamax": ["step", "exp_avg", "exp_inf"]}


def backward(lib, model, opt, dtype, device=None):
    """The gradients of the shared batch's loss, in ``lib``."""
    kwargs = {"device": device} if device else {}
    opt.zero_grad()
    lib.nn.CrossEntropyLoss()(model(lib.tensor(X.astype(dtype), **kwargs)), lib.tensor(Y, **kwargs)).backward()


def step_once(lib, model, opt, dtype, device=None):
    """One training step on the shared batch; returns the parameters after it as numpy arrays."""
    backward(lib, model, opt, dtype, device)
    opt.step()
    return params_of(model)


def params_of(model):
    return [p.detach().cpu().numpy() for p in model.parameters()]


def pair(name, kwargs, dtype="float32", device=None, groups=None):
    """(model, optimizer) in minigrad and in torch, from the same weights; ``groups`` splits the params."""
    built = []
    for lib in (minigrad, torch):
        model = make_model(lib, dtype, device if lib is minigrad else None)
        params = groups(model, lib) if groups else model.parameters()
        built.append((model, getattr(lib.optim, name)(params, **kwargs)))
    return built


def assert_same(ours, theirs, dtype, step):
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **TOL[dtype], err_msg=f"after step {step}")


# ---------------------------------------------------------------------------------------------- trajectories
@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name,kwargs", CASES, ids=[f"{n}-{k}" for n, k in CASES])
def test_follows_torchs_trajectory_step_by_step(name, kwargs, dtype):
    """float64: each library trains on its own gradients. float32: both step on torch's gradient, because a
    normalized update (g / sqrt(v)) of a weight whose gradient hovers near zero is chaotic, and would blow
    the two libraries' last-bit float32 differences up to 1e-2 within 20 steps whatever the update rule."""
    (model, opt), (ref, ref_opt) = pair(name, kwargs, dtype)
    for step in range(1, 51):
        backward(torch, ref, ref_opt, dtype)
        if dtype == "float32":
            opt.zero_grad()
            for p, q in zip(model.parameters(), ref.parameters()):
                p.grad = minigrad.tensor(q.grad.numpy())
        else:
            backward(minigrad, model, opt, dtype)
        opt.step()
        ref_opt.step()
        ours = params_of(model)
        assert_same(ours, params_of(ref), dtype, step)
    assert not np.allclose(ours[0], WEIGHTS[0], atol=1e-3)  # it really trained


@pytest.mark.parametrize("name", GRIDS)
def test_param_groups_with_their_own_options_and_a_param_without_grad(name):
    def groups(model, lib):
        unused = lib.nn.Parameter(lib.ones(2, dtype=lib.float32))
        return [{"params": model[0].parameters(), "lr": LR[name] / 2, "weight_decay": 1e-2},
                {"params": list(model[2].parameters()) + [unused]}]

    (model, opt), (ref, ref_opt) = pair(name, dict(lr=LR[name]), groups=groups)
    for step in range(1, 21):
        assert_same(step_once(minigrad, model, opt, "float32"), step_once(torch, ref, ref_opt, "float32"),
                    "float32", step)
    unused = opt.param_groups[1]["params"][-1]
    assert unused.grad is None and unused.tolist() == [1.0, 1.0]
    assert len(opt.state) == len(ref_opt.state)  # Adagrad creates state for every param up front, as torch


@pytest.mark.parametrize("name", GRIDS)
def test_optimizer_on_device_matches_torch_on_cpu(name, device):
    (model, opt), (ref, ref_opt) = pair(name, FULL[name], device=device)
    for step in range(1, 11):
        assert_same(step_once(minigrad, model, opt, "float32", device), step_once(torch, ref, ref_opt, "float32"),
                    "float32", step)
    assert all(p.device == minigrad.device(device) for p in model.parameters())


# ---------------------------------------------------------------------------------------------- state dict
@pytest.mark.parametrize("name", GRIDS)
def test_state_dict_has_torchs_format_and_values(name):
    dicts = []
    for lib, (model, opt) in zip((minigrad, torch), pair(name, FULL[name])):
        for _ in range(5):
            step_once(lib, model, opt, "float32")
        dicts.append(opt.state_dict())
    ours, theirs = dicts
    assert ours["param_groups"] == theirs["param_groups"]
    assert list(ours["state"]) == list(theirs["state"]) == [0, 1, 2, 3]
    for index, state in theirs["state"].items():
        assert list(ours["state"][index]) == list(state) == STATE_KEYS[name]
        for key, value in state.items():
            mine = ours["state"][index][key]
            np.testing.assert_allclose(mine.numpy(), value.numpy(), rtol=1e-4, atol=1e-6)
            assert mine.dtype.name == str(value.dtype).replace("torch.", "") and mine.shape == tuple(value.shape)


def resume(lib, name, kwargs, dtype, path):
    """10 steps, a checkpoint through save/load, a fresh model and optimizer from it, 10 more steps."""
    model = make_model(lib, dtype)
    opt = getattr(lib.optim, name)(model.parameters(), **kwargs)
    for _ in range(10):
        step_once(lib, model, opt, dtype)
    lr = opt.param_groups[0]["lr"]
    lib.save({"model": model.state_dict(), "optimizer": opt.state_dict()}, path)
    checkpoint = lib.load(path)
    model = make_model(lib, dtype)
    opt = getattr(lib.optim, name)(model.parameters(), lr=123.0)  # the options come back from the checkpoint
    model.load_state_dict(checkpoint["model"])
    opt.load_state_dict(checkpoint["optimizer"])
    assert opt.param_groups[0]["lr"] == lr
    return [step_once(lib, model, opt, dtype) for _ in range(10)][-1]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name", GRIDS)
def test_resuming_from_a_checkpoint_continues_the_run(name, dtype, tmp_path):
    straight = make_model(minigrad, dtype)
    opt = getattr(optim, name)(straight.parameters(), **FULL[name])
    expected = [step_once(minigrad, straight, opt, dtype) for _ in range(20)][-1]
    resumed = resume(minigrad, name, FULL[name], dtype, tmp_path / "ours.pt")
    if name == "NAdam" and dtype == "float64":
        # torch casts every floating state tensor but 'step' to the params' dtype on load, so NAdam's
        # float32 mu_product continues in float64: not bit-identical, in torch as here. Compare with torch's resume.
        theirs = resume(torch, name, FULL[name], dtype, tmp_path / "theirs.pt")
        assert_same(resumed, theirs, dtype, 20)
        assert_same(resumed, expected, "float32", 20)
    else:
        for a, b in zip(resumed, expected):
            assert np.array_equal(a, b)


def test_loaded_state_is_cast_to_the_params_like_torch():
    """'step' stays a float32 host scalar; NAdam's mu_product follows the params' dtype (torch's policy)."""
    model = make_model(minigrad)
    opt = optim.NAdam(model.parameters())
    step_once(minigrad, model, opt, "float32")
    other = make_model(minigrad, "float64")
    other_opt = optim.NAdam(other.parameters())
    other_opt.load_state_dict(opt.state_dict())
    state = other_opt.state[other[0].weight]
    assert state["step"].dtype == minigrad.float32 and state["mu_product"].dtype == minigrad.float64
    assert state["exp_avg"].dtype == minigrad.float64
    assert state["exp_avg"].array is not opt.state[model[0].weight]["exp_avg"].array


# ---------------------------------------------------------------------------------------------- validation
INVALID = [
    ("Adadelta", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adadelta", dict(rho=1.5), "Invalid rho value: 1.5"),
    ("Adadelta", dict(rho=-0.1), "Invalid rho value: -0.1"),
    ("Adadelta", dict(eps=-1e-6), "Invalid epsilon value: -1e-06"),
    ("Adadelta", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("Adagrad", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("Adagrad", dict(lr_decay=-1), "Invalid lr_decay value: -1"),
    ("Adagrad", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("Adagrad", dict(initial_accumulator_value=-1), "Invalid initial_accumulator_value value: -1"),
    ("Adagrad", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("Adagrad", dict(lr=-1, eps=-1), "Invalid learning rate: -1"),  # the first bad option is named, as torch
    ("RMSprop", dict(lr=float("nan")), "Invalid learning rate: nan"),
    ("RMSprop", dict(eps=-1.0), "Invalid epsilon value: -1.0"),
    ("RMSprop", dict(momentum=-0.9), "Invalid momentum value: -0.9"),
    ("RMSprop", dict(weight_decay=-1e-2), "Invalid weight_decay value: -0.01"),
    ("RMSprop", dict(alpha=-0.99), "Invalid alpha value: -0.99"),
    ("NAdam", dict(lr=-2e-3), "Invalid learning rate: -0.002"),
    ("NAdam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("NAdam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("NAdam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("NAdam", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
    ("NAdam", dict(momentum_decay=-4e-3), "Invalid momentum_decay value: -0.004"),
    ("Adamax", dict(lr=-1), "Invalid learning rate: -1"),
    ("Adamax", dict(eps=-1), "Invalid epsilon value: -1"),
    ("Adamax", dict(betas=(0.9, 1.0)), "Invalid beta parameter at index 1: 1.0"),
    ("Adamax", dict(weight_decay=-1), "Invalid weight_decay value: -1"),
]


@pytest.mark.parametrize("name,kwargs,message", INVALID)
def test_invalid_arguments_raise_torchs_value_error(name, kwargs, message):
    for lib in (minigrad, torch):
        with pytest.raises(ValueError) as info:
            getattr(lib.optim, name)(make_model(lib).parameters(), **kwargs)
        assert str(info.value) == message


def test_adagrad_fused_with_foreach_raises_torchs_runtime_error():
    for lib in (minigrad, torch):
        with pytest.raises(RuntimeError, match="^`fused` and `foreach` cannot be `True` together.$"):
            lib.optim.Adagrad(make_model(lib).parameters(), fused=True, foreach=True)


UNSUPPORTED = [(name, flag) for name in GRIDS for flag in ("differentiable", "capturable")
               if not (name == "Adagrad" and flag == "capturable")]  # torch's Adagrad has no capturable


@pytest.mark.parametrize("name,flag", UNSUPPORTED)
def test_options_minigrad_does_not_implement_raise(name, flag):
    getattr(torch.optim, name)(make_model(torch).parameters(), **{flag: True})  # torch accepts it...
    with pytest.raises(ValueError, match=f"^minigrad optimizers do not support {flag}=True$"):
        getattr(optim, name)(make_model(minigrad).parameters(), **{flag: True})  # ...minigrad says it won't


@pytest.mark.parametrize("name", GRIDS)
def test_a_tensor_lr_is_refused_clearly(name):
    with pytest.raises(NotImplementedError, match="take lr as a Python number, not a Tensor"):
        getattr(optim, name)(make_model(minigrad).parameters(), lr=minigrad.tensor(0.01))


@pytest.mark.parametrize("name", GRIDS)
def test_repr_and_defaults_match_torch(name):
    ours = getattr(optim, name)(make_model(minigrad).parameters(), **FULL[name])
    theirs = getattr(torch.optim, name)(make_model(torch).parameters(), **FULL[name])
    assert repr(ours) == repr(theirs)
    assert ours.defaults == theirs.defaults and list(ours.defaults) == list(theirs.defaults)
