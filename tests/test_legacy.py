"""torch's legacy API (autograd.Variable, FloatTensor & co, Tensor.type) checked against torch."""
import warnings

import numpy as np
import pytest
import torch

import minigrad
from minigrad.autograd import Variable

LEGACY = ["FloatTensor", "DoubleTensor", "HalfTensor", "LongTensor", "IntTensor", "ShortTensor", "CharTensor",
          "ByteTensor", "BoolTensor"]
DTYPES = ["float32", "float64", "float16", "int64", "int32", "int16", "int8", "uint8", "bool"]


def same(ours, theirs):
    assert str(ours.dtype).split(".")[-1] == str(theirs.dtype).split(".")[-1]
    assert tuple(ours.shape) == tuple(theirs.shape)


def both(fn):
    """fn(lib) on minigrad and torch: equal values, or the same error type."""
    results = []
    for lib in (minigrad, torch):
        try:
            results.append(fn(lib))
        except Exception as e:  # the exception types are compared below
            results.append(e)
    ours, theirs = results
    if isinstance(theirs, Exception):
        assert type(ours) is type(theirs), f"minigrad gave {ours!r}, torch raised {theirs!r}"
        return ours, theirs
    assert not isinstance(ours, Exception), f"minigrad raised {ours!r}, torch gave {theirs!r}"
    if isinstance(theirs, torch.Tensor):
        same(ours, theirs)
        np.testing.assert_array_equal(ours.numpy(), theirs.numpy())
    else:
        assert ours == theirs
    return ours, theirs


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("data", [[[1, 2], [3, 4]], [1.75, 2.5, 0.0], [True, False], [], [[0.5]], (3, 4)])
def test_constructors_from_data_match_torch(name, data):
    both(lambda lib: getattr(lib, name)(data))


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("args", [(2, 3), (0,), (4,), (1, 1, 2), ()])
def test_constructors_from_sizes_match_torch(name, args):
    ours, theirs = getattr(minigrad, name)(*args), getattr(torch, name)(*args)
    same(ours, theirs)  # uninitialised: only dtype and shape are defined
    same(getattr(minigrad, name)(minigrad.Size(args)), getattr(torch, name)(torch.Size(args)))


@pytest.mark.parametrize("args", [(-1,), (2, -3), (2.5,), ("a",), (2, "a")])
def test_constructor_errors_match_torch(args):
    ours, theirs = both(lambda lib: lib.FloatTensor(*args))
    assert isinstance(theirs, Exception)
    if isinstance(theirs, RuntimeError):
        assert str(ours) == str(theirs)


def test_constructor_from_a_tensor():
    t = minigrad.ones(2)
    alias = minigrad.FloatTensor(t)
    alias[0] = 5.0  # shares the data, as torch
    assert t.tolist() == [5.0, 1.0]
    with pytest.raises(TypeError, match="expected a tensor of dtype minigrad.float32 .got minigrad.float64"):
        minigrad.FloatTensor(minigrad.ones(2, dtype=minigrad.float64))
    with pytest.raises(TypeError):
        torch.FloatTensor(torch.ones(2, dtype=torch.float64))


@pytest.mark.parametrize("name", LEGACY)
@pytest.mark.parametrize("dtype", DTYPES)
def test_isinstance_matches_torch(name, dtype):
    ours = isinstance(minigrad.zeros(2, dtype=getattr(minigrad, dtype)), getattr(minigrad, name))
    assert ours == isinstance(torch.zeros(2, dtype=getattr(torch, dtype)), getattr(torch, name))
    assert not isinstance([0.0], getattr(minigrad, name))


@pytest.mark.parametrize("dtype", DTYPES)
def test_type_names_match_torch(dtype):
    both(lambda lib: lib.zeros(2, dtype=getattr(lib, dtype)).type())
    both(lambda lib: lib.tensor(3, dtype=getattr(lib, dtype)).type())


@pytest.mark.parametrize("target", LEGACY)
@pytest.mark.parametrize("how", ["string", "class", "dtype"])
def test_type_converts_as_torch(target, how):
    def convert(lib):
        spec = {"string": f"torch.{target}", "class": getattr(lib, target),
                "dtype": getattr(lib, DTYPES[LEGACY.index(target)])}[how]
        return lib.tensor([[1.5, -2.0], [0.0, 3.25]]).type(spec)
    both(convert)


def test_type_returns_the_tensor_itself_when_nothing_changes_and_keeps_the_graph():
    x = minigrad.ones(3, requires_grad=True)
    assert x.type(minigrad.FloatTensor) is x and x.type("torch.FloatTensor") is x
    y = x.type(minigrad.DoubleTensor)
    assert y.dtype == minigrad.float64 and y.requires_grad
    y.sum().backward()
    assert x.grad.dtype == minigrad.float32 and x.grad.tolist() == [1.0, 1.0, 1.0]


@pytest.mark.parametrize("spec", ["float", "torch.Float", "numpy.FloatTensor", 5, [1]])
def test_bad_type_arguments_raise_as_torch(spec):
    ours, theirs = both(lambda lib: lib.ones(2).type(spec))
    assert str(ours) == str(theirs)


def test_variable_is_torchs_deprecated_alias():
    t = minigrad.ones(2)
    v = Variable(t)
    assert type(v) is minigrad.Tensor and v is not t and not v.requires_grad
    assert isinstance(t, Variable) and not isinstance(np.ones(2), Variable)
    v[0] = 5.0  # shares the data, as torch
    assert t.tolist() == [5.0, 1.0]
    w = Variable(t, requires_grad=True)
    (w * w).sum().backward()
    assert w.grad.tolist() == [10.0, 2.0] and t.grad is None and not t.requires_grad
    x = minigrad.ones(2, requires_grad=True)
    assert Variable(x * 2).grad_fn is None and not Variable(x).requires_grad  # detached, as torch
    assert Variable(t, True).requires_grad and tuple(Variable().shape) == (0,)


def test_variable_volatile_warns_and_errors_match_torch():
    for lib in (minigrad, torch):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.autograd.Variable(lib.ones(2), volatile=True)
        assert [str(w.message) for w in caught] == [
            "volatile was removed and now has no effect. Use `with torch.no_grad():` instead."]
    for make in (lambda lib: lib.autograd.Variable([1.0, 2.0]),
                 lambda lib: lib.autograd.Variable(lib.tensor([1, 2]), requires_grad=True)):
        ours, theirs = both(make)
        assert str(ours) == str(theirs)


def test_tutorial_style_variable_code_gives_torchs_gradient():
    def run(lib):
        w = lib.autograd.Variable(lib.FloatTensor([1.0]), requires_grad=True)
        loss = (lib.FloatTensor([2.0, 3.0]) * w - lib.FloatTensor([4.0, 6.5])).pow(2).sum()
        loss.backward()
        return w.grad
    both(run)
