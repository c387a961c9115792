"""SGD and Adam against torch: trajectories, validation, param groups, state_dict format and resuming."""
import itertools

import numpy as np
import pytest

import minigrad
from minigrad import nn, optim

torch = pytest.importorskip("torch")

TOL = {"float32": dict(rtol=1e-4, atol=5e-5), "float64": dict(rtol=1e-10, atol=1e-12)}
RNG = np.random.default_rng(0)
X = RNG.standard_normal((16, 5))
Y = RNG.integers(0, 3, 16)
WEIGHTS = [RNG.standard_normal(shape) * 0.5 for shape in [(8, 5), (8,), (3, 8), (3,)]]


def make_model(lib, dtype="float32", device=None):
    """The same small MLP in ``lib``, holding WEIGHTS."""
    model = lib.nn.Sequential(lib.nn.Linear(5, 8), lib.nn.Tanh(), lib.nn.Linear(8, 3))
    with lib.no_grad():
        for p, w in zip(model.parameters(), WEIGHTS):
            p.copy_(lib.tensor(w.astype(dtype)))
    if dtype == "float64":
        model.double()
    return model.to(device) if device else model


def train(lib, model, opt, steps, dtype="float32", device=None):
    kwargs = {"device": device} if device else {}
    x, y = lib.tensor(X.astype(dtype), **kwargs), lib.tensor(Y, **kwargs)
    loss_fn = lib.nn.CrossEntropyLoss()
    for _ in range(steps):
        opt.zero_grad()
        loss_fn(model(x), y).backward()
        opt.step()
    return [p.detach().cpu().numpy() for p in model.parameters()]


def trajectories(opt_name, kwargs, dtype, steps=50):
    """Final parameters after ``steps`` steps of the same optimizer in minigrad and in torch."""
    results = []
    for lib in (minigrad, torch):
        model = make_model(lib, dtype)
        results.append(train(lib, model, getattr(lib.optim, opt_name)(model.parameters(), **kwargs), steps, dtype))
    return results


def assert_same_params(ours, theirs, dtype):
    for a, b in zip(ours, theirs):
        assert a.dtype == b.dtype
        np.testing.assert_allclose(a, b, **TOL[dtype])


# ---------------------------------------------------------------------------------------------- trajectories
SGD_GRID = [dict(momentum=m, dampening=d, nesterov=n, weight_decay=w, maximize=x)
            for m, d, n, w, x in itertools.product([0, 0.9], [0, 0.1], [False, True], [0, 1e-2], [False, True])]


def _valid_sgd(kwargs):
    return not kwargs["nesterov"] or (kwargs["momentum"] > 0 and kwargs["dampening"] == 0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", [k for k in SGD_GRID if _valid_sgd(k)], ids=str)
def test_sgd_follows_torchs_trajectory(kwargs, dtype):
    lr = 0.01 if kwargs["maximize"] else 0.1  # maximizing the loss diverges: keep it short of overflow
    ours, theirs = trajectories("SGD", dict(lr=lr, **kwargs), dtype)
    assert not np.allclose(ours[0], WEIGHTS[0])  # it really trained
    assert_same_params(ours, theirs, dtype)


@pytest.mark.parametrize("kwargs", [k for k in SGD_GRID if not _valid_sgd(k)], ids=str)
def test_sgd_rejects_invalid_nesterov_like_torch(kwargs):
    for lib in (minigrad, torch):
        with pytest.raises(ValueError, match="^Nesterov momentum requires a momentum and zero dampening$"):
            lib.optim.SGD(make_model(lib).parameters(), lr=0.1, **kwargs)


ADAM_GRID = [dict(amsgrad=a, weight_decay=w, maximize=m) for a, w, m in itertools.product([False, True], [0, 1e-2],
                                                                                            [False, True])]
ADAM_GRID += [dict(betas=(0.5, 0.9), eps=1e-3), dict(weight_decay=0.1, decoupled_weight_decay=True)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("kwargs", ADAM_GRID, ids=str)
def test_adam_follows_torchs_trajectory(kwargs, dtype):
    ours, theirs = trajectories("Adam", dict(lr=0.01, **kwargs), dtype)
    assert not np.allclose(ours[0], WEIGHTS[0])
    assert_same_params(ours, theirs, dtype)


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)), ("Adam", dict(lr=0.01))])
def test_per_group_options_and_skipped_params_match_torch(opt_name, kwargs):
    """Two groups with their own lr, and a parameter that never gets a gradient (it is skipped)."""
    results = []
    for lib in (minigrad, torch):
        model = make_model(lib)
        unused = lib.nn.Parameter(lib.ones(2))
        groups = [{"params": model[0].parameters(), "lr": 0.05}, {"params": list(model[2].parameters()) + [unused]}]
        opt = getattr(lib.optim, opt_name)(groups, **kwargs)
        results.append(train(lib, model, opt, 20) + [unused.detach().numpy()])
        assert len(opt.state) == 4
        assert unused.grad is None and unused not in opt.state
    assert_same_params(*results, "float32")
    assert np.array_equal(results[0][-1], np.ones(2))


# ---------------------------------------------------------------------------------------------- the step itself
def test_state_buffers_are_allocated_once_and_updated_in_place():
    models = [make_model(minigrad), make_model(minigrad)]
    opts = [optim.Adam(models[0].parameters(), lr=0.01, amsgrad=True),
            optim.SGD(models[1].parameters(), lr=0.1, momentum=0.9)]
    arrays = lambda: [s[k].array for o in opts for s in o.state.values() for k in s]  # noqa: E731
    storage = lambda: [p.array for m in models for p in m.parameters()]  # noqa: E731
    for model, opt in zip(models, opts):
        train(minigrad, model, opt, 1)
    before, params_before = arrays(), storage()
    for model, opt in zip(models, opts):
        train(minigrad, model, opt, 3)
    assert len(before) == 4 * 4 + 4 and all(a is b for a, b in zip(arrays(), before))
    assert all(a is b for a, b in zip(storage(), params_before))
    assert all(s["step"].item() == 4 for s in opts[0].state.values())


def test_first_momentum_buffer_is_a_copy_of_the_gradient():
    param = nn.Parameter(minigrad.tensor([1.0, 2.0]))
    param.grad = minigrad.tensor([0.5, -1.0])
    opt = optim.SGD([param], lr=0.1, momentum=0.9)
    opt.step()
    buf = opt.state[param]["momentum_buffer"]
    assert buf.tolist() == [0.5, -1.0] and buf.array is not param.grad.array
    assert param.tolist() == pytest.approx([0.95, 2.1])


def test_step_with_closure_returns_the_loss():
    model = make_model(minigrad)
    opt = optim.SGD(model.parameters(), lr=0.1)
    x, y = minigrad.tensor(X.astype(np.float32)), minigrad.tensor(Y)

    def closure():
        opt.zero_grad()
        loss = nn.CrossEntropyLoss()(model(x), y)
        loss.backward()
        return loss
    with minigrad.no_grad():  # the closure still records a graph, as torch's step enables grad for it
        first = opt.step(closure).item()
    assert opt.step(closure).item() < first


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    model = make_model(minigrad)
    opt = optim.Adam(model.parameters())
    train(minigrad, model, opt, 1)
    opt.zero_grad(set_to_none=set_to_none)
    for p in model.parameters():
        assert p.grad is None if set_to_none else not p.grad.array.any()


def test_an_optimizer_built_before_module_to_keeps_working():
    model = make_model(minigrad)
    opt = optim.SGD(model.parameters(), lr=0.1)
    before = [p.detach().numpy().copy() for p in model.parameters()]
    model.double()
    after = train(minigrad, model, opt, 2, dtype="float64")
    assert all(a.dtype == np.float64 and not np.allclose(a, b) for a, b in zip(after, before))


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True, weight_decay=1e-2)),
                                             ("Adam", dict(lr=0.01, amsgrad=True))])
def test_optimizer_step_on_device_matches_torch_on_cpu(opt_name, kwargs, device):
    model = make_model(minigrad, device=device)
    ours = train(minigrad, model, getattr(optim, opt_name)(model.parameters(), **kwargs), 10, device=device)
    reference = make_model(torch)
    theirs = train(torch, reference, getattr(torch.optim, opt_name)(reference.parameters(), **kwargs), 10)
    assert all(p.device == minigrad.device(device) for p in model.parameters())
    assert_same_params(ours, theirs, "float32")


# ---------------------------------------------------------------------------------------------- validation
INVALID = [
    ("SGD", dict(lr=-0.1), "Invalid learning rate: -0.1"),
    ("SGD", dict(momentum=-0.5), "Invalid momentum value: -0.5"),
    ("SGD", dict(weight_decay=-1e-2), "Invalid weight_decay value: -0.01"),
    ("Adam", dict(lr=-1.0), "Invalid learning rate: -1.0"),
    ("Adam", dict(eps=-1e-8), "Invalid epsilon value: -1e-08"),
    ("Adam", dict(betas=(1.0, 0.999)), "Invalid beta parameter at index 0: 1.0"),
    ("Adam", dict(betas=(0.9, -0.1)), "Invalid beta parameter at index 1: -0.1"),
    ("Adam", dict(weight_decay=-0.5), "Invalid weight_decay value: -0.5"),
    ("Adam", dict(betas=(0, 0.999)), "betas must be either both floats or both Tensors"),
]


@pytest.mark.parametrize("opt_name,kwargs,message", INVALID)
def test_invalid_arguments_raise_torchs_value_error(opt_name, kwargs, message):
    for lib in (minigrad, torch):
        with pytest.raises(ValueError) as info:
            getattr(lib.optim, opt_name)(make_model(lib).parameters(), **kwargs)
        assert str(info.value) == message


@pytest.mark.parametrize("params,error,message", [
    (lambda lib, m: [], ValueError, "optimizer got an empty parameter list"),
    (lambda lib, m: m[0].weight, TypeError, "should be an iterable of Tensors or dicts"),
    (lambda lib, m: [{"params": set(m.parameters())}], TypeError, "ordered collections"),
    (lambda lib, m: [{"params": m[0].parameters()}, {"params": [m[0].weight]}], ValueError,
     "some parameters appear in more than one parameter group"),
    (lambda lib, m: [m[0].weight * 2], ValueError, "can't optimize a non-leaf Tensor"),
    (lambda lib, m: [1.0], TypeError, "optimizer can only optimize Tensors"),
])
def test_bad_param_lists_raise_like_torch(params, error, message):
    for lib in (minigrad, torch):
        model = make_model(lib)
        with pytest.raises(error, match=message):
            lib.optim.SGD(params(lib, model), lr=0.1)


def test_add_param_group_fills_defaults_and_rejects_duplicates():
    model = make_model(minigrad)
    opt = optim.SGD(model[0].parameters(), lr=0.1, momentum=0.9)
    opt.add_param_group({"params": model[2].parameters(), "lr": 0.01})
    assert [g["lr"] for g in opt.param_groups] == [0.1, 0.01] and opt.param_groups[1]["momentum"] == 0.9
    with pytest.raises(ValueError, match="more than one parameter group"):
        opt.add_param_group({"params": [model[0].weight]})
    with pytest.raises(TypeError, match="param_group must be a dict"):
        opt.add_param_group([model[0].weight])


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                             ("Adam", dict(lr=0.01, amsgrad=True, betas=(0.8, 0.9)))])
def test_repr_matches_torch(opt_name, kwargs):
    ours = getattr(optim, opt_name)(make_model(minigrad).parameters(), **kwargs)
    theirs = getattr(torch.optim, opt_name)(make_model(torch).parameters(), **kwargs)
    assert repr(ours) == repr(theirs)
    assert repr(ours).startswith(f"{opt_name} (\nParameter Group 0\n    ")


# ---------------------------------------------------------------------------------------------- state dict
@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9)),
                                             ("Adam", dict(lr=0.01, amsgrad=True))])
def test_state_dict_has_torchs_format_and_values(opt_name, kwargs):
    dicts = []
    for lib in (minigrad, torch):
        model = make_model(lib)
        opt = getattr(lib.optim, opt_name)(model.parameters(), **kwargs)
        train(lib, model, opt, 5)
        dicts.append(opt.state_dict())
    ours, theirs = dicts
    assert ours["param_groups"] == theirs["param_groups"]
    assert list(ours["state"]) == list(theirs["state"]) == [0, 1, 2, 3]
    for index, state in theirs["state"].items():
        assert list(ours["state"][index]) == list(state)
        for key, value in state.items():
            np.testing.assert_allclose(ours["state"][index][key].numpy(), value.numpy(), rtol=1e-4, atol=1e-6)
            assert ours["state"][index][key].dtype.name == str(value.dtype).replace("torch.", "")


@pytest.mark.parametrize("opt_name,kwargs", [("SGD", dict(lr=0.1, momentum=0.9, nesterov=True)),
                                             ("Adam", dict(lr=0.01, amsgrad=True, weight_decay=1e-3))])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_resuming_from_a_saved_checkpoint_is_exact(opt_name, kwargs, dtype, tmp_path):
    straight = make_model(minigrad, dtype)
    expected = train(minigrad, straight, getattr(optim, opt_name)(straight.parameters(), **kwargs), 20, dtype)

    model = make_model(minigrad, dtype)
    opt = getattr(optim, opt_name)(model.parameters(), **kwargs)
    train(minigrad, model, opt, 10, dtype)
    minigrad.save({"model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 10}, tmp_path / "ck.pt")

    checkpoint = minigrad.load(tmp_path / "ck.pt")
    fresh = make_model(minigrad, dtype)
    fresh_opt = getattr(optim, opt_name)(fresh.parameters(), lr=123.0)  # options come back from the checkpoint
    fresh.load_state_dict(checkpoint["model"])
    fresh_opt.load_state_dict(checkpoint["optimizer"])
    assert checkpoint["epoch"] == 10 and fresh_opt.param_groups[0]["lr"] == kwargs["lr"]
    resumed = train(minigrad, fresh, fresh_opt, 10, dtype)
    for a, b in zip(resumed, expected):
        assert np.array_equal(a, b)


def test_load_state_dict_copies_state_and_casts_to_the_parameters():
    model = make_model(minigrad)
    opt = optim.SGD(model.parameters(), lr=0.1, momentum=0.9)
    train(minigrad, model, opt, 2)
    other = make_model(minigrad, "float64")
    other_opt = optim.SGD(other.parameters(), lr=0.1, momentum=0.9)
    other_opt.load_state_dict(opt.state_dict())
    for p, q in zip(model.parameters(), other.parameters()):
        mine, theirs = opt.state[p]["momentum_buffer"], other_opt.state[q]["momentum_buffer"]
        assert theirs.dtype == minigrad.float64 and theirs.array is not mine.array


@pytest.mark.parametrize("edit,message", [
    (lambda sd: sd["param_groups"].append(dict(sd["param_groups"][0])), "different number of parameter groups"),
    (lambda sd: sd["param_groups"][0]["params"].pop(), "doesn't match the size of optimizer's group"),
])
def test_load_state_dict_rejects_a_mismatched_layout(edit, message):
    opt = optim.SGD(make_model(minigrad).parameters(), lr=0.1)
    state_dict = opt.state_dict()
    edit(state_dict)
    with pytest.raises(ValueError, match=message):
        opt.load_state_dict(state_dict)


def test_a_torch_state_dict_loads_and_continues_torchs_trajectory():
    """torch's format, literally: its optimizer state (as numpy) resumes here and matches torch."""
    reference = make_model(torch)
    ref_opt = torch.optim.Adam(reference.parameters(), lr=0.01)
    train(torch, reference, ref_opt, 5)
    torch_state = ref_opt.state_dict()
    model = make_model(minigrad)
    model.load_state_dict({k: v.numpy() for k, v in reference.state_dict().items()})
    opt = optim.Adam(model.parameters(), lr=0.01)
    opt.load_state_dict({"param_groups": torch_state["param_groups"],
                         "state": {i: {k: minigrad.tensor(v.numpy()) for k, v in s.items()}
                                   for i, s in torch_state["state"].items()}})
    assert_same_params(train(minigrad, model, opt, 5), train(torch, reference, ref_opt, 5), "float32")
