"""nn.Module, Parameter, containers, layers and init, compared with torch.nn."""
import math
import re
import warnings

import numpy as np
import pytest

import minigrad
from minigrad import nn

torch = pytest.importorskip("torch")


def define_models(lib):
    """The same model definitions written against ``lib`` (minigrad or torch), as a tutorial user would."""
    tnn = lib.nn

    class NeuralNet2(tnn.Module):  # the tutorial's multiclass model, in the old super() idiom
        def __init__(self, input_size, hidden_size, num_classes):
            super(NeuralNet2, self).__init__()
            self.linear1 = tnn.Linear(input_size, hidden_size)
            self.relu = tnn.ReLU()
            self.linear2 = tnn.Linear(hidden_size, num_classes)

        def forward(self, x):
            return self.linear2(self.relu(self.linear1(x)))

    class NeuralNet1(tnn.Module):  # the tutorial's binary model
        def __init__(self, input_size, hidden_size):
            super(NeuralNet1, self).__init__()
            self.linear1 = tnn.Linear(input_size, hidden_size)
            self.relu = tnn.ReLU()
            self.linear2 = tnn.Linear(hidden_size, 1)

        def forward(self, x):
            return lib.sigmoid(self.linear2(self.relu(self.linear1(x))))

    class Block(tnn.Module):
        def __init__(self):
            super().__init__()
            self.fc = tnn.Linear(4, 4, bias=False)
            self.act = tnn.Tanh()
            self.register_buffer("running", lib.zeros(4))
            self.register_buffer("scratch", lib.ones(2), persistent=False)

        def forward(self, x):
            return self.act(self.fc(x)) + self.running

    class Nested(tnn.Module):
        def __init__(self):
            super().__init__()
            self.flatten = tnn.Flatten()
            self.stem = tnn.Sequential(tnn.Linear(8, 4), tnn.Sigmoid(), tnn.Identity())
            self.blocks = tnn.ModuleList([Block(), Block(), tnn.Linear(4, 4)])
            self.shared = self.stem[0]  # one module under two names: its parameters count once
            self.scale = tnn.Parameter(lib.ones(1))
            self.head = tnn.Sequential(tnn.Linear(4, 3), tnn.LogSoftmax(dim=1))

        def forward(self, x):
            x = self.stem(self.flatten(x))
            for block in self.blocks:
                x = block(x)
            return self.head(x * self.scale)

    return {
        "NeuralNet2": lambda: NeuralNet2(784, 5, 3),
        "NeuralNet1": lambda: NeuralNet1(6, 5),
        "Nested": Nested,
        "Sequential": lambda: tnn.Sequential(tnn.Linear(6, 5), tnn.ReLU(), tnn.Linear(5, 3), tnn.Softmax(dim=1)),
    }


MODELS = list(define_models(torch))
INPUT_SHAPES = {"NeuralNet2": (2, 784), "NeuralNet1": (3, 6), "Nested": (2, 2, 4), "Sequential": (4, 6)}


def model_pair(name):
    """The named model in both libraries, minigrad's holding torch's weights."""
    ours, theirs = define_models(minigrad)[name](), define_models(torch)[name]()
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return ours, theirs


def np_of(t):
    return t.detach().cpu().numpy()


# ---------------------------------------------------------------------------------------------- structure
@pytest.mark.parametrize("name", MODELS)
def test_repr_matches_torch_exactly(name):
    ours, theirs = model_pair(name)
    assert repr(ours) == repr(theirs)


@pytest.mark.parametrize("name", MODELS)
@pytest.mark.parametrize("listing", ["named_parameters", "state_dict", "named_modules", "named_children",
                                     "named_buffers"])
def test_names_and_order_match_torch(name, listing):
    ours, theirs = model_pair(name)
    items = lambda m: list(dict(getattr(m, listing)()).items())  # noqa: E731
    assert [k for k, _ in items(ours)] == [k for k, _ in items(theirs)]
    for (_, a), (_, b) in zip(items(ours), items(theirs)):
        if isinstance(b, torch.Tensor):
            assert tuple(a.shape) == tuple(b.shape)
            assert type(a).__name__ == type(b).__name__  # Parameter vs Tensor, as torch


@pytest.mark.parametrize("name", MODELS)
def test_forward_and_backward_match_torch(name):
    ours, theirs = model_pair(name)
    x = np.random.default_rng(0).standard_normal(INPUT_SHAPES[name]).astype(np.float32)
    out_ours, out_theirs = ours(minigrad.tensor(x)), theirs(torch.tensor(x))
    np.testing.assert_allclose(np_of(out_ours), np_of(out_theirs), rtol=1e-5, atol=1e-6)
    out_ours.sum().backward()
    out_theirs.sum().backward()
    for (n, p), (_, q) in zip(ours.named_parameters(), theirs.named_parameters()):
        np.testing.assert_allclose(np_of(p.grad), np_of(q.grad), rtol=1e-4, atol=1e-6, err_msg=n)


def test_parameters_are_registered_in_definition_order_and_shared_ones_once():
    model = define_models(minigrad)["Nested"]()
    params = list(model.parameters())
    assert len(params) == len({id(p) for p in params}) == len(list(model.named_parameters()))
    assert [n for n, _ in model.named_parameters()][:2] == ["scale", "stem.0.weight"]  # own ones first, as torch
    assert [n for n, _ in model.named_parameters(remove_duplicate=False)].count("shared.weight") == 1


def test_parameter_repr_storage_and_dtype_rules():
    data = minigrad.tensor([1.0, 2.0])
    param = nn.Parameter(data)
    assert repr(param) == repr(torch.nn.Parameter(torch.tensor([1.0, 2.0])))
    assert isinstance(param, minigrad.Tensor) and param.requires_grad and param.is_leaf
    assert param.array is data.array  # shares storage, as torch
    assert not nn.Parameter(data, requires_grad=False).requires_grad
    assert nn.Parameter().shape == (0,)
    with pytest.raises(RuntimeError, match="floating point"):
        nn.Parameter(minigrad.tensor([1, 2]))
    assert type(param * 2) is minigrad.Tensor  # results of ops are plain tensors


# ---------------------------------------------------------------------------------------------- attribute protocol
def test_setattr_getattr_delattr_follow_torch():
    model = nn.Linear(2, 3)
    assert "weight" not in model.__dict__ and "in_features" in model.__dict__  # registries vs plain attributes
    model.bias = None
    assert [n for n, _ in model.named_parameters()] == ["weight"]
    with pytest.raises(TypeError, match="cannot assign 'minigrad.Tensor' as parameter 'weight'"):
        model.weight = minigrad.zeros(3, 2)
    model.extra = nn.ReLU()
    assert list(dict(model.named_children())) == ["extra"]
    with pytest.raises(TypeError, match="cannot assign 'int' as child module 'extra'"):
        model.extra = 5  # a plain attribute may not replace a child module
    del model.extra
    assert "extra" not in model._modules
    with pytest.raises(AttributeError, match="'Linear' object has no attribute 'missing'"):
        model.missing
    model.weight = nn.Parameter(minigrad.ones(3, 2))
    assert model.weight.sum().item() == 6


def test_child_module_slot_rejects_a_non_module():
    model = nn.Sequential(nn.ReLU())
    with pytest.raises(TypeError, match="as child module '0'"):
        setattr(model, "0", 5)


def test_assigning_before_init_raises_like_torch():
    class Broken(nn.Module):
        def __init__(self):
            self.w = nn.Parameter(minigrad.ones(1))

    with pytest.raises(AttributeError, match=r"cannot assign parameters before Module.__init__\(\) call"):
        Broken()


@pytest.mark.parametrize("call,error,message", [
    (lambda m: m.register_buffer("a.b", minigrad.ones(1)), KeyError, "contain"),
    (lambda m: m.register_buffer("", minigrad.ones(1)), KeyError, "empty string"),
    (lambda m: m.register_buffer("in_features", minigrad.ones(1)), KeyError, "already exists"),
    (lambda m: m.register_buffer("b", [1.0]), TypeError, "cannot assign 'list' object to buffer 'b'"),
    (lambda m: m.register_parameter("p", minigrad.ones(1)), TypeError, "to parameter 'p'"),
    (lambda m: m.register_parameter("p", nn.Parameter(minigrad.ones(1)) * 2), TypeError, "to parameter"),
    (lambda m: m.add_module("m", 3), TypeError, "is not a Module subclass"),
    (lambda m: m.forward_missing(), AttributeError, "forward_missing"),
])
def test_registration_errors(call, error, message):
    with pytest.raises(error, match=message):
        call(nn.Linear(1, 1))


def test_a_module_without_forward_raises_not_implemented():
    with pytest.raises(NotImplementedError, match=r'Module \[Module\] is missing the required "forward"'):
        nn.Module()(1)


# ---------------------------------------------------------------------------------------------- modes and traversal
def test_train_eval_propagate_like_torch():
    ours, theirs = model_pair("Nested")
    for model in (ours, theirs):
        model.eval()
        model.blocks[0].train()
    flags = lambda m: [(n, x.training) for n, x in m.named_modules()]  # noqa: E731
    assert flags(ours) == flags(theirs)
    assert ours.train() is ours and all(m.training for m in ours.modules())
    with pytest.raises(ValueError, match="training mode is expected to be boolean"):
        ours.train("no")


def test_apply_visits_children_first_like_torch():
    visited = {"ours": [], "theirs": []}
    ours, theirs = model_pair("Nested")
    assert ours.apply(lambda m: visited["ours"].append(type(m).__name__)) is ours
    theirs.apply(lambda m: visited["theirs"].append(type(m).__name__))
    assert visited["ours"] == visited["theirs"]


@pytest.mark.parametrize("set_to_none", [True, False])
def test_zero_grad(set_to_none):
    model = define_models(minigrad)["Sequential"]()
    model(minigrad.randn(2, 6)).sum().backward()
    model.zero_grad(set_to_none=set_to_none)
    for p in model.parameters():
        assert p.grad is None if set_to_none else (p.grad is not None and not p.grad.array.any())


def test_requires_grad_freezes_parameters():
    model = define_models(minigrad)["Sequential"]()
    assert model.requires_grad_(False) is model
    assert not any(p.requires_grad for p in model.parameters())
    assert not model(minigrad.randn(2, 6)).requires_grad


def test_get_submodule_and_dir():
    model = define_models(minigrad)["Nested"]()
    assert model.get_submodule("blocks.1.fc") is model.blocks[1].fc
    assert {"stem", "scale", "blocks"} <= set(dir(model))
    with pytest.raises(AttributeError, match="has no attribute `nope`"):
        model.get_submodule("stem.nope")


# ---------------------------------------------------------------------------------------------- containers
def test_sequential_indexing_like_torch():
    ours, theirs = model_pair("Sequential")
    for idx in (0, 2, -1, -4):
        assert repr(ours[idx]) == repr(theirs[idx])
    for sl in (slice(1, None), slice(None, None, 2), slice(-2, None)):
        assert type(ours[sl]) is nn.Sequential and repr(ours[sl]) == repr(theirs[sl])
    assert len(ours) == len(theirs) == 4
    assert [type(m).__name__ for m in ours] == [type(m).__name__ for m in theirs]
    with pytest.raises(IndexError, match="index 4 is out of range"):
        ours[4]
    ours.append(nn.Tanh())
    theirs.append(torch.nn.Tanh())
    del ours[1]
    del theirs[1]
    ours[0] = nn.Identity()
    theirs[0] = torch.nn.Identity()
    assert repr(ours) == repr(theirs)


def test_sequential_from_ordered_dict_keeps_names():
    from collections import OrderedDict
    model = nn.Sequential(OrderedDict([("fc", nn.Linear(2, 2)), ("act", nn.ReLU())]))
    assert list(model.state_dict()) == ["fc.weight", "fc.bias"] and model.act is model[1]


def test_module_list_repr_compresses_repeats_like_torch():
    ours = nn.ModuleList([nn.Linear(2, 2) for _ in range(3)] + [nn.ReLU(), nn.ReLU(), nn.Linear(2, 1)])
    theirs = torch.nn.ModuleList([torch.nn.Linear(2, 2) for _ in range(3)]
                                 + [torch.nn.ReLU(), torch.nn.ReLU(), torch.nn.Linear(2, 1)])
    assert repr(ours) == repr(theirs)
    assert repr(ours[1:3]) == repr(theirs[1:3]) and len(ours) == 6
    ours.insert(0, nn.Tanh())
    ours += [nn.Sigmoid()]
    assert [type(m).__name__ for m in ours][:2] == ["Tanh", "Linear"] and type(ours[-1]) is nn.Sigmoid


# ---------------------------------------------------------------------------------------------- state_dict
def test_state_dict_shares_storage_and_round_trips():
    model = define_models(minigrad)["Nested"]()
    state = model.state_dict()
    assert list(state) == [k for k in state]  # an ordered mapping
    assert not any(v.requires_grad for v in state.values())
    assert state["scale"].array is model.scale.array  # detached but shared, as torch
    assert "blocks.0.running" in state and "blocks.0.scratch" not in state
    fresh = define_models(minigrad)["Nested"]()
    weight = fresh.stem[0].weight
    assert repr(fresh.load_state_dict(state)) == "<All keys matched successfully>"
    assert fresh.stem[0].weight is weight  # copied in place
    assert all(np.array_equal(a.numpy(), b.numpy()) for a, b in zip(fresh.state_dict().values(), state.values()))


def _torch_style(message: str) -> str:
    return message.replace("torch.Size", "minigrad.Size")


@pytest.mark.parametrize("edit", ["missing", "unexpected", "size_mismatch", "all_three"])
def test_load_state_dict_errors_match_torch(edit):
    ours, theirs = model_pair("NeuralNet2")
    state = {k: v.numpy() for k, v in theirs.state_dict().items()}
    if edit in ("missing", "all_three"):
        del state["linear2.bias"]
    if edit in ("unexpected", "all_three"):
        state["linear3.weight"] = np.zeros(2, np.float32)
        state["extra"] = np.zeros(2, np.float32)
    if edit in ("size_mismatch", "all_three"):
        state["linear1.weight"] = np.zeros((4, 784), np.float32)
    with pytest.raises(RuntimeError) as ours_error:
        ours.load_state_dict(state)
    with pytest.raises(RuntimeError) as theirs_error:
        theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()})
    assert str(ours_error.value) == _torch_style(str(theirs_error.value))
    assert str(ours_error.value).startswith("Error(s) in loading state_dict for NeuralNet2:\n\t")


def test_load_state_dict_non_strict_returns_torchs_incompatible_keys():
    ours, theirs = model_pair("Nested")
    state = {k: v.numpy() for k, v in theirs.state_dict().items() if not k.startswith("head")}
    state["blocks.0.fc.bias"] = np.zeros(4, np.float32)
    result = ours.load_state_dict(state, strict=False)
    expected = theirs.load_state_dict({k: torch.tensor(v) for k, v in state.items()}, strict=False)
    assert result.missing_keys == expected.missing_keys and result.unexpected_keys == expected.unexpected_keys
    assert result == (expected.missing_keys, expected.unexpected_keys)
    assert repr(result) == repr(expected) and "missing_keys=['head.0.weight'" in repr(result)


def test_load_state_dict_rejects_non_tensor_values():
    with pytest.raises(RuntimeError, match='While copying the parameter named "weight"'):
        nn.Linear(1, 1).load_state_dict({"weight": [[1.0]], "bias": np.zeros(1)})


# ---------------------------------------------------------------------------------------------- device and dtype
@pytest.mark.parametrize("convert,dtype", [(lambda m: m.double(), "float64"),
                                           (lambda m: m.to(minigrad.float64), "float64"),
                                           (lambda m: m.double().float(), "float32"),
                                           (lambda m: m.to(minigrad.zeros(1, dtype=minigrad.float64)), "float64")])
def test_dtype_conversion_keeps_parameter_objects(convert, dtype):
    model = define_models(minigrad)["Nested"]()
    params = list(model.parameters())
    assert convert(model) is model
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    assert all(p.array.dtype == dtype for p in params) and model.blocks[0].running.array.dtype == dtype
    out = model(minigrad.randn(2, 2, 4, dtype=getattr(minigrad, dtype)))
    assert out.dtype == getattr(minigrad, dtype)


def test_to_rejects_integer_dtypes():
    with pytest.raises(TypeError, match="floating point"):
        nn.Linear(1, 1).to(minigrad.int64)


def test_to_device_moves_parameters_grads_and_buffers_in_place(device):
    model = define_models(minigrad)["Nested"]()
    model(minigrad.randn(2, 2, 4)).sum().backward()
    params = list(model.parameters())
    model.to(device)
    assert [id(p) for p in model.parameters()] == [id(p) for p in params]
    target = minigrad.device(device)
    assert all(p.device == target and p.grad.device == target for p in params)
    assert all(b.device == target for b in model.buffers())
    assert model(minigrad.randn(2, 2, 4, device=device)).device == target
    assert model.cpu() is model and all(p.device.type == "cpu" for p in model.parameters())


TUTORIAL_TRAINING = {  # model, its loss, and targets as the tutorial makes them
    "NeuralNet2": ("CrossEntropyLoss", lambda rng: rng.integers(0, 3, 8)),
    "NeuralNet1": ("BCELoss", lambda rng: rng.integers(0, 2, (8, 1)).astype(np.float32)),
}


@pytest.mark.parametrize("name", TUTORIAL_TRAINING)
def test_tutorial_models_train_on_device_as_torch_does_on_cpu(name, device):
    ours, theirs = model_pair(name)
    ours.to(device)
    loss_name, make_targets = TUTORIAL_TRAINING[name]
    rng = np.random.default_rng(0)
    x, y = rng.standard_normal((8, INPUT_SHAPES[name][1])).astype(np.float32), make_targets(rng)
    opt_ours = minigrad.optim.SGD(ours.parameters(), lr=0.1, momentum=0.9)
    opt_theirs = torch.optim.SGD(theirs.parameters(), lr=0.1, momentum=0.9)
    losses = {minigrad: [], torch: []}
    for _ in range(5):
        for model, opt, lib in ((ours, opt_ours, minigrad), (theirs, opt_theirs, torch)):
            opt.zero_grad()
            kwargs = {"device": device} if lib is minigrad else {}
            loss = getattr(lib.nn, loss_name)()(model(lib.tensor(x, **kwargs)), lib.tensor(y, **kwargs))
            loss.backward()
            opt.step()
            losses[lib].append(loss.item())
    np.testing.assert_allclose(losses[minigrad], losses[torch], rtol=1e-5)
    assert losses[minigrad][-1] < losses[minigrad][0]  # it learns
    for p, q in zip(ours.parameters(), theirs.parameters()):
        assert p.device == minigrad.device(device)
        np.testing.assert_allclose(np_of(p), np_of(q), rtol=1e-4, atol=1e-6)


# ---------------------------------------------------------------------------------------------- layers
def test_linear_signature_shapes_and_repr():
    layer = nn.Linear(3, 2, bias=False, dtype=minigrad.float64)
    assert layer.weight.shape == (2, 3) and layer.bias is None and layer.weight.dtype == minigrad.float64
    assert repr(layer) == repr(torch.nn.Linear(3, 2, bias=False)) == "Linear(in_features=3, out_features=2, bias=False)"
    assert layer(minigrad.randn(4, 5, 3, dtype=minigrad.float64)).shape == (4, 5, 2)
    out = nn.Linear(3, 2)(minigrad.randn(4, 3))
    assert out.grad_fn.name() == torch.nn.Linear(3, 2)(torch.randn(4, 3)).grad_fn.name()
    assert all(fn is None for fn, _ in out.grad_fn.next_functions)  # one fused node straight onto the leaves


def test_linear_with_the_wrong_feature_count_names_both_shapes():
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x5 and 3x2\)") as info:
        nn.Linear(3, 2)(minigrad.randn(4, 5))
    with pytest.raises(RuntimeError, match=r"mat1 and mat2 shapes cannot be multiplied \(4x5 and 3x2\)"):
        torch.nn.Linear(3, 2)(torch.randn(4, 5))
    assert "(4, 5)" in str(info.value)


def test_linear_initialisation_follows_torchs_bounds():
    minigrad.manual_seed(0)
    layer = nn.Linear(400, 300)
    bound = 1 / math.sqrt(400)  # kaiming_uniform_(a=sqrt(5)) on the weight, and the bias rule, both give this
    for p in (layer.weight, layer.bias):
        values = p.detach().numpy()
        assert np.abs(values).max() <= bound and np.abs(values).max() > 0.98 * bound
    assert layer.weight.detach().numpy().std() == pytest.approx(bound / math.sqrt(3), rel=0.02)
    minigrad.manual_seed(0)
    again = nn.Linear(400, 300)  # seeded: reproducible
    assert np.array_equal(again.weight.detach().numpy(), layer.weight.detach().numpy())


@pytest.mark.parametrize("shape,start,end", [((2, 3, 4), 1, -1), ((2, 3, 4, 5), 0, 2), ((2, 3, 4, 5), 2, 3),
                                             ((2, 3), 1, 1)])
def test_flatten_matches_torch(shape, start, end):
    x = np.arange(np.prod(shape), dtype=np.float32).reshape(shape)
    ours, theirs = nn.Flatten(start, end), torch.nn.Flatten(start, end)
    assert repr(ours) == repr(theirs)
    assert np.array_equal(np_of(ours(minigrad.tensor(x))), np_of(theirs(torch.tensor(x))))


UNFLATTEN = [((3, 10), 1, (2, 5)), ((3, 10), 1, [2, -1]), ((3, 10), -1, (-1, 5, 1)), ((10,), 0, (2, 5)),
             ((3, 1), 1, (1,)), ((3, 0), 1, (0, 2)), ((3, 2), -2, (3, 1)), ((2, 12, 3), 1, (2, 3, 2)),
             ((3, 10), 1, (3, 5)), ((3, 10), 3, (2, 5)), ((3, 10), 1, ()), ((3, 0), 1, (2, 5))]


@pytest.mark.parametrize("shape,dim,sizes", UNFLATTEN, ids=str)
def test_unflatten_matches_torch(shape, dim, sizes, rng):
    x = rng.standard_normal(shape)
    results = []
    for lib in (minigrad, torch):
        layer = lib.nn.Unflatten(dim, sizes)
        try:
            a = lib.tensor(x, requires_grad=True)
            y = layer(a)
            y.backward(lib.ones(y.shape, dtype=lib.float64))
            results.append((repr(layer), np_of(y), np_of(a.grad)))
        except (RuntimeError, IndexError) as e:
            results.append((repr(layer), type(e), str(e)))
    assert results[0][0] == results[1][0]
    for ours, theirs in zip(results[0][1:], results[1][1:]):
        assert np.array_equal(ours, theirs) if isinstance(ours, np.ndarray) else ours == theirs
    # Flatten undoes it
    if isinstance(results[0][1], np.ndarray) and len(sizes) > 1:
        d = dim % len(shape)
        back = nn.Flatten(d, d + len(sizes) - 1)(minigrad.tensor(results[0][1]))
        assert np.array_equal(np_of(back), x)


@pytest.mark.parametrize("args", [(1, 5), (1, (2.0, 5)), (1, "25")])
def test_unflatten_rejects_sizes_that_are_not_ints_like_torch(args):
    with pytest.raises(TypeError) as theirs:
        torch.nn.Unflatten(*args)
    with pytest.raises(TypeError, match=re.escape(str(theirs.value))):
        nn.Unflatten(*args)


@pytest.mark.parametrize("name,args", [("ReLU", ()), ("ReLU", (True,)), ("Sigmoid", ()), ("Tanh", ()),
                                       ("Softmax", (1,)), ("Softmax", (0,)), ("LogSoftmax", (1,)),
                                       ("LogSoftmax", (-1,)), ("Identity", (54, "ignored")), ("Flatten", ())])
def test_activation_outputs_grads_and_reprs_match_torch(name, args):
    x = np.random.default_rng(0).standard_normal((3, 4)).astype(np.float64)
    ours, theirs = getattr(nn, name)(*args), getattr(torch.nn, name)(*args)
    assert repr(ours) == repr(theirs)
    a, b = minigrad.tensor(x, requires_grad=True), torch.tensor(x, requires_grad=True)
    out_a, out_b = ours(a * 1), theirs(b * 1)  # `* 1`: torch's inplace ReLU may not touch a leaf
    np.testing.assert_allclose(np_of(out_a), np_of(out_b), rtol=1e-12)
    weights = np.linspace(-1, 1, x.size).reshape(x.shape)
    (out_a * minigrad.tensor(weights)).sum().backward()
    (out_b * torch.tensor(weights)).sum().backward()
    np.testing.assert_allclose(a.grad.numpy(), b.grad.numpy(), rtol=1e-10, atol=1e-12)


def test_relu_gradient_at_exactly_zero_is_zero():
    x = minigrad.tensor([-1.0, 0.0, 2.0], requires_grad=True)
    nn.ReLU()(x).sum().backward()
    assert x.grad.tolist() == [0.0, 0.0, 1.0]


@pytest.mark.parametrize("name", ["Softmax", "LogSoftmax"])
@pytest.mark.parametrize("ndim", [1, 2, 3, 4])
def test_softmax_without_dim_follows_torchs_implicit_rule_and_warns_at_the_call_site(name, ndim):
    x = np.random.default_rng(0).standard_normal((2, 3, 4, 5)[:ndim]).astype(np.float32)
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        out = getattr(nn, name)()(minigrad.tensor(x))
    assert len(caught) == 1 and "Implicit dimension choice" in str(caught[0].message)
    assert caught[0].filename == __file__  # the stacklevel points at the user's line
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        expected = getattr(torch.nn, name)()(torch.tensor(x))
    np.testing.assert_allclose(np_of(out), np_of(expected), rtol=1e-5, atol=1e-6)


# ---------------------------------------------------------------------------------------------- init
@pytest.mark.parametrize("nonlinearity,param", [("linear", None), ("conv2d", None), ("sigmoid", None), ("tanh", None),
                                                ("relu", None), ("leaky_relu", None), ("leaky_relu", 0.2),
                                                ("leaky_relu", 1), ("selu", None)])
def test_calculate_gain_matches_torch(nonlinearity, param):
    assert nn.init.calculate_gain(nonlinearity, param) == torch.nn.init.calculate_gain(nonlinearity, param)


@pytest.mark.parametrize("args,message", [(("swish",), "Unsupported nonlinearity swish"),
                                          (("leaky_relu", "x"), "negative_slope x not a valid number"),
                                          (("leaky_relu", True), "negative_slope True not a valid number")])
def test_calculate_gain_rejects_unknown_input_like_torch(args, message):
    for init in (nn.init, torch.nn.init):
        with pytest.raises(ValueError, match=message):
            init.calculate_gain(*args)


@pytest.mark.parametrize("shape", [(5, 3), (4, 3, 2, 2), (2, 6, 3)])
def test_fan_in_and_fan_out_match_torch(shape):
    assert nn.init._calculate_fan_in_and_fan_out(minigrad.zeros(shape)) == \
        torch.nn.init._calculate_fan_in_and_fan_out(torch.zeros(shape))


def test_fan_needs_two_dims_and_a_valid_mode():
    with pytest.raises(ValueError, match="fewer than 2 dimensions"):
        nn.init.xavier_uniform_(minigrad.zeros(3))
    with pytest.raises(ValueError, match="Mode fan_avg not supported"):
        nn.init.kaiming_normal_(minigrad.zeros(3, 3), mode="fan_avg")


SHAPE = (300, 200)  # fan_in 200, fan_out 300
INITS = [  # (function, kwargs, "uniform" bound or "normal" std, from torch's formulas)
    ("kaiming_uniform_", {}, ("uniform", math.sqrt(2) * math.sqrt(3 / 200))),  # a=0: leaky_relu's gain at slope 0
    ("kaiming_uniform_", {"a": 0.01}, ("uniform", math.sqrt(2 / (1 + 0.01 ** 2)) * math.sqrt(3 / 200))),
    ("kaiming_uniform_", {"a": math.sqrt(5)}, ("uniform", 1 / math.sqrt(200))),
    ("kaiming_uniform_", {"mode": "fan_out", "nonlinearity": "relu"}, ("uniform", math.sqrt(2) * math.sqrt(3 / 300))),
    ("kaiming_normal_", {"nonlinearity": "relu"}, ("normal", math.sqrt(2) / math.sqrt(200))),
    ("kaiming_normal_", {"mode": "fan_out", "nonlinearity": "tanh"}, ("normal", 5 / 3 / math.sqrt(300))),
    ("xavier_uniform_", {}, ("uniform", math.sqrt(6 / 500))),
    ("xavier_uniform_", {"gain": 2.0}, ("uniform", 2 * math.sqrt(6 / 500))),
    ("xavier_normal_", {"gain": 0.5}, ("normal", 0.5 * math.sqrt(2 / 500))),
    ("uniform_", {"a": -0.3, "b": 0.3}, ("uniform", 0.3)),
    ("normal_", {"mean": 0.0, "std": 0.02}, ("normal", 0.02)),
]


@pytest.mark.parametrize("fn,kwargs,expected", INITS)
def test_random_init_follows_torchs_formula(fn, kwargs, expected):
    kind, scale = expected
    param = nn.Parameter(minigrad.zeros(SHAPE))  # requires grad: only no_grad makes the fill legal
    generator = minigrad.Generator().manual_seed(1)
    assert getattr(nn.init, fn)(param, **kwargs, generator=generator) is param
    values = param.detach().numpy()
    if kind == "uniform":
        assert np.abs(values).max() <= scale and np.abs(values).max() > 0.99 * scale
        assert values.std() == pytest.approx(scale / math.sqrt(3), rel=0.02)
    else:
        assert values.std() == pytest.approx(scale, rel=0.02) and abs(values.mean()) < 0.1 * scale
    # the same torch draw statistics, from torch itself
    reference = getattr(torch.nn.init, fn)(torch.zeros(SHAPE), **kwargs)
    assert values.std() == pytest.approx(reference.std().item(), rel=0.03)
    again = nn.Parameter(minigrad.zeros(SHAPE))
    getattr(nn.init, fn)(again, **kwargs, generator=minigrad.Generator().manual_seed(1))
    assert np.array_equal(again.detach().numpy(), values)  # a seeded generator reproduces the draw


@pytest.mark.parametrize("fn,args,value", [("zeros_", (), 0.0), ("ones_", (), 1.0), ("constant_", (0.25,), 0.25)])
def test_constant_inits(fn, args, value):
    param = nn.Parameter(minigrad.randn(3, 2))
    assert getattr(nn.init, fn)(param, *args) is param
    assert (param.detach().numpy() == value).all()


def test_kaiming_on_an_empty_tensor_warns_and_is_a_no_op():
    with pytest.warns(UserWarning, match="zero-element"):
        assert nn.init.kaiming_uniform_(minigrad.zeros(0, 3)).shape == (0, 3)


def test_init_reprs_are_not_affected_by_grad_mode():
    with minigrad.no_grad():
        layer = nn.Linear(2, 2)
    assert layer.weight.requires_grad and re.match(r"Parameter containing:\ntensor\(", repr(layer.weight))
