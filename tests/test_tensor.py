"""Tensor construction, factories, attributes, conversions, repr, comparisons, type promotion and in-place rules,
each checked against torch."""
from __future__ import annotations

import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad.backend import to_numpy

torch = pytest.importorskip("torch")

REPO = Path(__file__).resolve().parents[1]


def dtype_name(dtype) -> str:
    return str(dtype).split(".")[-1]


def assert_like_torch(mine, theirs):
    """Same dtype, shape and values."""
    assert isinstance(mine, minigrad.Tensor)
    assert dtype_name(mine.dtype) == dtype_name(theirs.dtype), f"dtype {mine.dtype} vs torch {theirs.dtype}"
    assert tuple(mine.shape) == tuple(theirs.shape)
    np.testing.assert_array_equal(to_numpy(mine.array), theirs.detach().numpy())


# ------------------------------------------------------------------------------------------------ construction
CONSTRUCTION = {
    "float_list": lambda lib: lib.tensor([1.0, 2.5]),
    "int_list": lambda lib: lib.tensor([1, 2, 3]),
    "bool_list": lambda lib: lib.tensor([True, False]),
    "mixed_int_float": lambda lib: lib.tensor([1, 2.5]),
    "mixed_bool_int": lambda lib: lib.tensor([True, 2]),
    "nested": lambda lib: lib.tensor([[1.0, 2.0], [3.0, 4.0]]),
    "float_scalar": lambda lib: lib.tensor(3.5),
    "int_scalar": lambda lib: lib.tensor(7),
    "bool_scalar": lambda lib: lib.tensor(True),
    "empty_list": lambda lib: lib.tensor([]),
    "numpy_float64": lambda lib: lib.tensor(np.array([1.5, 2.0])),
    "numpy_float32": lambda lib: lib.tensor(np.array([1.5, 2.0], dtype=np.float32)),
    "numpy_int32": lambda lib: lib.tensor(np.array([1, 2], dtype=np.int32)),
    "numpy_int64": lambda lib: lib.tensor(np.arange(4).reshape(2, 2)),
    "numpy_uint8": lambda lib: lib.tensor(np.array([0, 255], dtype=np.uint8)),
    "numpy_bool": lambda lib: lib.tensor(np.array([True, False])),
    "numpy_0d": lambda lib: lib.tensor(np.array(2.5)),
    "numpy_scalar": lambda lib: lib.tensor(np.float32(1.25)),
    "dtype_float_from_ints": lambda lib: lib.tensor([1, 2], dtype=lib.float32),
    "dtype_float64": lambda lib: lib.tensor([1.5], dtype=lib.float64),
    "dtype_int_from_floats": lambda lib: lib.tensor([1.7, -2.7], dtype=lib.int64),
    "dtype_bool": lambda lib: lib.tensor([0.0, 2.0], dtype=lib.bool),
    "from_tensor_list": lambda lib: lib.tensor([lib.tensor(1.0), lib.tensor(2.0)]),
    "legacy_list": lambda lib: lib.Tensor([1, 2, 3]),
    "legacy_numpy_float64": lambda lib: lib.Tensor(np.array([1.5, 2.0])),
    "legacy_nested": lambda lib: lib.Tensor([[1, 2], [3, 4]]),
    "as_tensor": lambda lib: lib.as_tensor([1, 2]),
    "from_numpy": lambda lib: lib.from_numpy(np.array([1.0, 2.0])),
}


@pytest.mark.parametrize("name", list(CONSTRUCTION))
def test_construction_matches_torch(name):
    build = CONSTRUCTION[name]
    mine, theirs = build(minigrad), build(torch)
    assert_like_torch(mine, theirs)
    assert mine.is_leaf and not mine.requires_grad and mine.grad is None and mine.grad_fn is None


def test_legacy_constructor_with_sizes():
    t = minigrad.Tensor(2, 3)
    assert t.shape == (2, 3) and t.dtype == minigrad.float32


def test_tensor_copies_its_data():
    source = np.array([1.0, 2.0])
    t = minigrad.tensor(source)
    source[0] = 99
    assert t.tolist() == [1.0, 2.0]
    other = minigrad.tensor(t)
    with minigrad.no_grad():
        t.add_(1)
    assert other.tolist() == [1.0, 2.0]


def test_from_numpy_shares_memory():
    source = np.array([1.0, 2.0])
    t = minigrad.from_numpy(source)
    source[0] = 99
    assert t.tolist() == [99.0, 2.0]


def test_requires_grad_at_construction(device):
    t = minigrad.tensor([1.0, 2.0], device=device, requires_grad=True)
    assert t.requires_grad and t.is_leaf and t.grad_fn is None and t.device.type == device
    with pytest.raises(RuntimeError, match="floating point"):
        minigrad.tensor([1, 2], requires_grad=True)


def test_unsupported_data_raises_torchs_error():
    for lib in (minigrad, torch):  # torch: a string in a list reads as one more dim, and says so
        with pytest.raises(ValueError, match="too many dimensions 'str'"):
            lib.tensor(["a", "b"])


# ------------------------------------------------------------------------------------------------ factories
FACTORIES = {
    "zeros": lambda lib: lib.zeros(2, 3),
    "zeros_tuple": lambda lib: lib.zeros((2, 3)),
    "zeros_dtype": lambda lib: lib.zeros(2, dtype=lib.int64),
    "zeros_0d": lambda lib: lib.zeros(()),
    "ones": lambda lib: lib.ones(3),
    "ones_list": lambda lib: lib.ones([2, 2], dtype=lib.float64),
    "zeros_like_int": lambda lib: lib.zeros_like(lib.tensor([[1, 2]])),
    "ones_like_float64": lambda lib: lib.ones_like(lib.tensor([1.0, 2.0], dtype=lib.float64)),
    "ones_like_dtype": lambda lib: lib.ones_like(lib.tensor([1, 2]), dtype=lib.float32),
    "full_float": lambda lib: lib.full((2, 2), 1.5),
    "full_int": lambda lib: lib.full((3,), 4),
    "full_bool": lambda lib: lib.full((2,), True),
    "full_dtype": lambda lib: lib.full((2,), 4, dtype=lib.float64),
    "arange_int": lambda lib: lib.arange(5),
    "arange_start_end": lambda lib: lib.arange(2, 7),
    "arange_float_step": lambda lib: lib.arange(1, 4, 0.5),
    "arange_float_start": lambda lib: lib.arange(0.0, 3),
    "arange_negative_step": lambda lib: lib.arange(5, 0, -2),
    "arange_dtype": lambda lib: lib.arange(4, dtype=lib.float32),
}


@pytest.mark.parametrize("name", list(FACTORIES))
def test_factory_matches_torch(name):
    build = FACTORIES[name]
    assert_like_torch(build(minigrad), build(torch))


RANDOM = {  # name: (draw, expected dtype, shape, check on the values)
    "rand": (lambda d: minigrad.rand(2, 3, device=d), minigrad.float32, (2, 3),
             lambda a: (a >= 0).all() and (a < 1).all()),
    "rand_tuple": (lambda d: minigrad.rand((4,), device=d), minigrad.float32, (4,), lambda a: (a < 1).all()),
    "rand_float64": (lambda d: minigrad.rand(3, dtype=minigrad.float64, device=d), minigrad.float64, (3,),
                     lambda a: (a < 1).all()),
    "randn": (lambda d: minigrad.randn(1000, device=d), minigrad.float32, (1000,),
              lambda a: abs(a.mean()) < 0.2 and 0.8 < a.std() < 1.2),
    "randint": (lambda d: minigrad.randint(0, 10, (3, 5), device=d), minigrad.int64, (3, 5),
                lambda a: (a >= 0).all() and (a < 10).all()),
    "randint_high_only": (lambda d: minigrad.randint(3, (50,), device=d), minigrad.int64, (50,),
                          lambda a: set(a.tolist()) <= {0, 1, 2}),
    "empty": (lambda d: minigrad.empty(2, 3, device=d), minigrad.float32, (2, 3), lambda a: True),
    "empty_dtype": (lambda d: minigrad.empty(2, dtype=minigrad.int64, device=d), minigrad.int64, (2,), lambda a: True),
}


@pytest.mark.parametrize("name", list(RANDOM))
def test_random_and_empty_factories(name, device):
    draw, dtype, shape, check = RANDOM[name]
    minigrad.manual_seed(0)
    t = draw(device)
    assert t.dtype == dtype and t.shape == shape and t.device.type == device
    assert check(to_numpy(t.array))


def test_factory_requires_grad_and_device(device):
    for t in (minigrad.zeros(2, requires_grad=True, device=device),
              minigrad.randn(2, requires_grad=True, device=device),
              minigrad.ones_like(minigrad.zeros(2), requires_grad=True, device=device)):
        assert t.requires_grad and t.is_leaf and t.device.type == device


@pytest.mark.parametrize("draw", [lambda: minigrad.randn(5), lambda: minigrad.rand(2, 2),
                                  lambda: minigrad.randint(0, 1000, (6,))], ids=["randn", "rand", "randint"])
def test_manual_seed_makes_draws_reproducible(draw):
    minigrad.manual_seed(123)
    first, second = draw(), draw()
    minigrad.manual_seed(123)
    again = draw()
    assert again.tolist() == first.tolist()
    assert second.tolist() != first.tolist()
    minigrad.manual_seed(124)
    assert draw().tolist() != first.tolist()


# ------------------------------------------------------------------------------------------------ dtypes
def test_dtypes_exist_and_print_like_torch():
    for name in ("float32", "float64", "int64", "bool", "int32", "float", "double", "long"):
        assert repr(getattr(minigrad, name)) == repr(getattr(torch, name)).replace("torch.", "minigrad.")
    assert minigrad.float == minigrad.float32 and minigrad.double == minigrad.float64
    assert minigrad.long == minigrad.int64
    assert minigrad.float32 != minigrad.float64
    assert minigrad.tensor([True]).dtype == minigrad.bool


# ------------------------------------------------------------------------------------------------ attributes
def test_shape_size_dim_numel():
    mine, theirs = minigrad.zeros(2, 3, 4), torch.zeros(2, 3, 4)
    assert mine.shape == theirs.shape == (2, 3, 4) and isinstance(mine.shape, tuple)
    assert repr(mine.shape) == repr(theirs.shape).replace("torch.", "minigrad.")
    assert isinstance(mine.shape, minigrad.Size)
    assert mine.size() == theirs.size() and mine.size(1) == 3 and mine.size(-1) == 4
    assert mine.dim() == mine.ndim == 3 and mine.numel() == 24
    assert minigrad.tensor(5.0).dim() == 0 and minigrad.tensor(5.0).shape == ()


def test_data_is_a_detached_tensor_sharing_storage():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    d = x.data
    assert isinstance(d, minigrad.Tensor) and not d.requires_grad and d.grad_fn is None
    d.mul_(3)  # allowed: .data is outside the graph
    assert x.tolist() == [3.0, 6.0]
    x.data = minigrad.tensor([7.0, 8.0])
    assert x.tolist() == [7.0, 8.0] and x.requires_grad and x.is_leaf


def test_grad_requires_grad_grad_fn_is_leaf():
    x = minigrad.tensor([1.0, 2.0])
    assert x.grad is None and not x.requires_grad and x.grad_fn is None and x.is_leaf
    assert x.requires_grad_() is x and x.requires_grad
    y = x * 2
    assert y.requires_grad and y.grad_fn is not None and not y.is_leaf
    x.requires_grad_(False)
    assert not x.requires_grad


ITEMS = [(lambda lib: lib.tensor(2.5), float), (lambda lib: lib.tensor([[3]]), int),
         (lambda lib: lib.tensor([True]), bool), (lambda lib: lib.tensor(1.5, dtype=lib.float64), float)]


@pytest.mark.parametrize("build,kind", ITEMS, ids=["float", "int_2d", "bool", "float64"])
def test_item_returns_a_python_number(build, kind):
    mine, theirs = build(minigrad).item(), build(torch).item()
    assert type(mine) is kind and mine == theirs


def test_item_on_many_elements_raises():
    with pytest.raises(RuntimeError, match="2 elements"):
        minigrad.tensor([1.0, 2.0]).item()


def test_numpy_and_tolist():
    x = minigrad.tensor([[1.0, 2.0], [3.0, 4.0]])
    n = x.numpy()
    assert isinstance(n, np.ndarray) and n.dtype == np.float32 and n.tolist() == x.tolist()
    n[0, 0] = 10  # shares memory, as torch
    assert x[0, 0].item() == 10.0
    assert x.tolist() == torch.tensor([[10.0, 2.0], [3.0, 4.0]]).tolist()
    assert minigrad.tensor(3).tolist() == 3 and minigrad.tensor([True]).tolist() == [True]
    assert np.asarray(x).shape == (2, 2)


def test_numpy_on_tensor_requiring_grad_raises():
    x = minigrad.tensor([1.0], requires_grad=True)
    with pytest.raises(RuntimeError, match="detach"):
        x.numpy()
    assert x.detach().numpy().tolist() == [1.0]


CONVERSIONS = ["float", "double", "long", "int", "bool"]


@pytest.mark.parametrize("method", CONVERSIONS)
@pytest.mark.parametrize("data", [[-1.7, 0.0, 2.7], [0, 3, -2], [True, False]], ids=["float", "int", "bool"])
def test_conversions_match_torch(method, data):
    assert_like_torch(getattr(minigrad.tensor(data), method)(), getattr(torch.tensor(data), method)())


@pytest.mark.parametrize("target", ["float32", "float64", "int64", "bool"])
def test_to_dtype_matches_torch(target):
    data = [-1.5, 0.0, 2.5]
    mine = minigrad.tensor(data).to(getattr(minigrad, target))
    assert_like_torch(mine, torch.tensor(data).to(getattr(torch, target)))
    x = minigrad.tensor(data)
    assert x.to(minigrad.float32) is x  # no-op conversions return self, as torch


def test_float_conversion_is_differentiable():
    x = minigrad.tensor([1.0, 2.0], dtype=minigrad.float64, requires_grad=True)
    y = x.float()
    assert y.dtype == minigrad.float32 and y.requires_grad
    (y * y).sum().backward()
    assert x.grad.dtype == minigrad.float64 and x.grad.tolist() == [2.0, 4.0]


def test_clone_copies_and_stays_in_the_graph():
    x = minigrad.tensor([1.0, 2.0], requires_grad=True)
    c = x.clone()
    assert c.requires_grad and c.grad_fn is not None
    (c * 3).sum().backward()
    assert x.grad.tolist() == [3.0, 3.0]
    plain = minigrad.tensor([1.0, 2.0])
    copy = plain.clone()
    copy.add_(1)
    assert plain.tolist() == [1.0, 2.0]


def test_len_and_iteration():
    x = minigrad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]], requires_grad=True)
    assert len(x) == 3
    rows = list(x)
    assert [r.tolist() for r in rows] == [[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]]
    assert all(r.requires_grad for r in rows)
    (rows[0] * 2 + rows[2]).sum().backward()
    assert x.grad.tolist() == [[2.0, 2.0], [0.0, 0.0], [1.0, 1.0]]
    with pytest.raises(TypeError):
        len(minigrad.tensor(1.0))
    with pytest.raises(TypeError):
        iter(minigrad.tensor(1.0))


# ------------------------------------------------------------------------------------------------ repr
REPRS = {
    "softmax_values": lambda lib: lib.tensor([0.6590, 0.2424, 0.0986]),
    "requires_grad": lambda lib: lib.tensor([1.0, -2.5], requires_grad=True),
    "scalar": lambda lib: lib.tensor(3.25),
    "matrix": lambda lib: lib.tensor([[1.0, 2.0], [3.5, -4.0]]),
    "int": lambda lib: lib.tensor([1, 2, 3]),
    "bool": lambda lib: lib.tensor([True, False]),
    "float64": lambda lib: lib.tensor([1.0, 2.0], dtype=lib.float64),
    "float64_requires_grad": lambda lib: lib.tensor([0.5], dtype=lib.float64, requires_grad=True),
    "int32": lambda lib: lib.tensor([1, 2], dtype=lib.int32),
    "empty": lambda lib: lib.zeros(0),
    "arange_matrix": lambda lib: lib.arange(12).reshape(3, 4),
    **{f"grad_fn_{name}": (lambda lib, f=f: f(lib, lib.tensor([0.5, 1.5, 2.0], requires_grad=True))) for name, f in {
        "mul": lambda lib, x: x * 2, "add": lambda lib, x: x + 1, "sub": lambda lib, x: x - 1,
        "div": lambda lib, x: x / 2, "neg": lambda lib, x: -x, "pow": lambda lib, x: x ** 2,
        "exp": lambda lib, x: x.exp(), "log": lambda lib, x: x.log(), "sqrt": lambda lib, x: x.sqrt(),
        "tanh": lambda lib, x: x.tanh(), "sigmoid": lambda lib, x: x.sigmoid(), "relu": lambda lib, x: x.relu(),
        "abs": lambda lib, x: x.abs(), "sum": lambda lib, x: x.sum(), "mean": lambda lib, x: x.mean(),
        "softmax": lambda lib, x: lib.softmax(x, dim=0), "log_softmax": lambda lib, x: x.log_softmax(dim=0),
        "view": lambda lib, x: x.view(3, 1),
    }.items()},
}


@pytest.mark.parametrize("name", list(REPRS))
def test_repr_matches_torch(name):
    build = REPRS[name]
    assert repr(build(minigrad)) == repr(build(torch)).replace("torch.", "minigrad.")


def test_done_when_softmax_program_prints_like_torch():
    program = ("import {} as torch; x = torch.tensor([2.0, 1.0, 0.1], requires_grad=True); "
               "y = torch.softmax(x, dim=0); print(y); y[0].backward(); print(x.grad)")

    def run(module):
        result = subprocess.run([sys.executable, "-c", program.format(module)], cwd=REPO, capture_output=True,
                                text=True, timeout=120)
        assert result.returncode == 0, result.stderr
        return result.stdout

    mine, theirs = run("minigrad"), run("torch")
    assert mine == theirs and "grad_fn=<SoftmaxBackward0>" in mine


# ------------------------------------------------------------------------------------------------ comparisons
COMPARISONS = {
    "eq": lambda a, b: a == b, "ne": lambda a, b: a != b, "lt": lambda a, b: a < b,
    "le": lambda a, b: a <= b, "gt": lambda a, b: a > b, "ge": lambda a, b: a >= b,
    "eq_method": lambda a, b: a.eq(b), "gt_method": lambda a, b: a.gt(b),
}
OPERANDS = {  # name: (left, right) data; tensors built by each library
    "tensor_tensor": ([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], [[1.0, 0.0, 3.0], [2.0, 2.0, 4.0]]),
    "broadcast": ([[1.0, 2.0, 3.0], [3.0, 2.0, 1.0]], [2.0, 2.0, 1.0]),
    "scalar": ([1.0, 2.0, 3.0], 2.0),
    "int_tensor_float_scalar": ([1, 2, 3], 1.5),
    "int_tensor_float_tensor": ([1, 2, 3], [1.0, 2.5, 2.0]),
}


@pytest.mark.parametrize("operands", list(OPERANDS))
@pytest.mark.parametrize("op", list(COMPARISONS))
def test_comparisons_give_bool_tensors_like_torch(op, operands, device):
    left, right = OPERANDS[operands]
    compare = COMPARISONS[op]
    wrap = lambda lib, v, **kw: lib.tensor(v, **kw) if isinstance(v, list) else v
    mine = compare(wrap(minigrad, left, device=device), wrap(minigrad, right, device=device))
    theirs = compare(wrap(torch, left), wrap(torch, right))
    assert_like_torch(mine.cpu(), theirs)
    assert not mine.requires_grad
    assert_like_torch(mine.sum().cpu(), theirs.sum())  # counting: int64


def test_comparison_of_tensor_requiring_grad_is_not_differentiable():
    x = minigrad.tensor([1.0, -1.0], requires_grad=True)
    mask = x > 0
    assert mask.dtype == minigrad.bool and not mask.requires_grad and mask.grad_fn is None
    assert (x.argmax() == 0).item() is True


# ------------------------------------------------------------------------------------------------ type promotion
PROMOTION = {
    "int_div_int": lambda lib: lib.tensor([1, 2]) / lib.tensor([3, 4]),
    "int_div_python_int": lambda lib: lib.tensor([1, 2]) / 2,
    "python_int_div_int": lambda lib: 3 / lib.tensor([1, 2]),
    "float32_mul_python_float": lambda lib: lib.tensor([1.0, 2.0]) * 0.1,
    "float32_add_0d_float64": lambda lib: lib.tensor([1.0, 2.0]) + lib.tensor(0.1, dtype=lib.float64),
    "0d_float64_add_float32": lambda lib: lib.tensor(0.1, dtype=lib.float64) + lib.tensor([1.0, 2.0]),
    "int_mul_python_float": lambda lib: lib.tensor([1, 2]) * 2.5,
    "python_float_sub_int": lambda lib: 2.5 - lib.tensor([1, 2]),
    "int_add_python_int": lambda lib: lib.tensor([1, 2]) + 3,
    "int_add_python_bool": lambda lib: lib.tensor([1, 2]) + True,
    "bool_add_python_int": lambda lib: lib.tensor([True, False]) + 1,
    "int_pow_python_int": lambda lib: lib.tensor([2, 3]) ** 2,
    "int_pow_python_float": lambda lib: lib.tensor([4, 9]) ** 0.5,
    "int_mul_0d_float64": lambda lib: lib.tensor([1, 2]) * lib.tensor(2.5, dtype=lib.float64),
    "int_add_float32": lambda lib: lib.tensor([1, 2]) + lib.tensor([0.5, 0.5]),
    "float32_mul_float64": lambda lib: lib.tensor([1.0, 2.0]) * lib.tensor([0.5, 0.5], dtype=lib.float64),
    "int32_add_0d_int64": lambda lib: lib.tensor([1, 2], dtype=lib.int32) + lib.tensor(3),
    "int32_add_int64": lambda lib: lib.tensor([1, 2], dtype=lib.int32) + lib.tensor([3, 4]),
    "float64_mul_python_float": lambda lib: lib.tensor([1.0], dtype=lib.float64) * 0.1,
    "int_sum": lambda lib: lib.tensor([[1, 2], [3, 4]], dtype=lib.int32).sum(0),
    "bool_sum": lambda lib: lib.tensor([True, True, False]).sum(),
    "int_maximum_float": lambda lib: lib.maximum(lib.tensor([1, 5]), lib.tensor([2.5, 2.5])),
    "where_int_float": lambda lib: lib.where(lib.tensor([True, False]), lib.tensor([1, 2]), lib.tensor([0.5, 0.5])),
    "cat_int_float": lambda lib: lib.cat([lib.tensor([1, 2]), lib.tensor([0.5])]),
    "float32_add_python_int": lambda lib: lib.tensor([1.5]) + 1,
    "where_python_scalars": lambda lib: lib.where(lib.tensor([True, False]), 1.0, 0.0),
    "where_python_int_and_float": lambda lib: lib.where(lib.tensor([True, False]), 1, 0.5),
    **{f"int_{name}": (lambda lib, f=f: f(lib.tensor([1, 4]))) for name, f in {
        "exp": lambda t: t.exp(), "log": lambda t: t.log(), "sqrt": lambda t: t.sqrt(), "tanh": lambda t: t.tanh(),
        "sigmoid": lambda t: t.sigmoid(), "clamp_float_bound": lambda t: t.clamp(min=1.5),
        "clamp_int_bound": lambda t: t.clamp(max=2), "abs": lambda t: t.abs(), "neg": lambda t: -t,
        "relu": lambda t: t.relu(), "max": lambda t: t.max(), "maximum_int": lambda t: t.maximum(t * 2)}.items()},
}


@pytest.mark.parametrize("name", list(PROMOTION))
def test_type_promotion_matches_torch(name):
    mine, theirs = PROMOTION[name](minigrad), PROMOTION[name](torch)
    assert dtype_name(mine.dtype) == dtype_name(theirs.dtype), f"{mine.dtype} vs torch {theirs.dtype}"
    np.testing.assert_allclose(to_numpy(mine.array), theirs.numpy(), rtol=1e-6)


# ------------------------------------------------------------------------------------------------ in place
INPLACE = {  # name: fn(lib, x) applying one in-place update to a (2, 3) float32 tensor; returns what it returned
    "add_": lambda lib, x: x.add_(lib.tensor([1.0, 2.0, 3.0])),
    "add_scalar_alpha": lambda lib, x: x.add_(2.0, alpha=3),
    "sub_": lambda lib, x: x.sub_(lib.tensor([[1.0], [2.0]])),
    "sub_alpha": lambda lib, x: x.sub_(lib.ones(2, 3), alpha=0.5),
    "mul_": lambda lib, x: x.mul_(lib.tensor([2.0, 0.0, -1.0])),
    "mul_scalar": lambda lib, x: x.mul_(3),
    "zero_": lambda lib, x: x.zero_(),
    "fill_": lambda lib, x: x.fill_(7.5),
    "copy_": lambda lib, x: x.copy_(lib.arange(6).reshape(2, 3)),
    "copy_broadcast": lambda lib, x: x.copy_(lib.tensor([9.0, 8.0, 7.0])),
    "setitem_int": lambda lib, x: x.__setitem__(0, 5.0),
    "setitem_slice_tensor": lambda lib, x: x.__setitem__((slice(None), 1), lib.tensor([1.0, 2.0])),
    "setitem_mask": lambda lib, x: x.__setitem__(x > 0, 0.0),
    "setitem_index_list": lambda lib, x: x.__setitem__([1, 0], lib.tensor(4.0)),
}
START = [[1.0, -2.0, 3.0], [-4.0, 5.0, -6.0]]


@pytest.mark.parametrize("name", list(INPLACE))
@pytest.mark.parametrize("setting", ["plain", "no_grad"])
def test_inplace_updates_match_torch(name, setting):
    """Allowed on tensors not requiring grad, and on a leaf requiring grad under no_grad."""
    update = INPLACE[name]
    grad = setting == "no_grad"
    mine, theirs = minigrad.tensor(START, requires_grad=grad), torch.tensor(START, requires_grad=grad)
    with minigrad.set_grad_enabled(not grad), torch.set_grad_enabled(not grad):
        returned = update(minigrad, mine)
        update(torch, theirs)
    assert mine.requires_grad == grad and mine.is_leaf
    if not name.startswith("setitem"):
        assert returned is mine, "in-place methods return self"
    assert_like_torch(mine, theirs)


@pytest.mark.parametrize("name", list(INPLACE))
def test_inplace_on_leaf_requiring_grad_raises(name):
    x = minigrad.tensor(START, requires_grad=True)
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        INPLACE[name](minigrad, x)
    assert x.tolist() == START, "a refused update must leave the tensor unchanged"
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        INPLACE[name](torch, torch.tensor(START, requires_grad=True))  # torch agrees


def _iadd(x, v):
    x += v
    return x


def _isub(x, v):
    x -= v
    return x


def _imul(x, v):
    x *= v
    return x


def _idiv(x, v):
    x /= v
    return x


AUGMENTED = {"+=": _iadd, "-=": _isub, "*=": _imul, "/=": _idiv}


@pytest.mark.parametrize("op", list(AUGMENTED))
def test_augmented_assignment_is_in_place_like_torch(op):
    """The tutorial update ``with no_grad(): w -= lr * w.grad`` must keep ``w`` the same leaf parameter."""
    w = minigrad.tensor([1.0, 2.0], requires_grad=True)
    tw = torch.tensor([1.0, 2.0], requires_grad=True)
    with minigrad.no_grad(), torch.no_grad():
        result = AUGMENTED[op](w, minigrad.tensor([0.5, 4.0]))
        expected = AUGMENTED[op](tw, torch.tensor([0.5, 4.0]))
    assert result is w and w.requires_grad and w.is_leaf
    assert w.tolist() == expected.tolist() == tw.tolist()
    with pytest.raises(RuntimeError, match="leaf Variable that requires grad"):
        AUGMENTED[op](w, 1.0)


@pytest.mark.parametrize("name, data, dim", [("max", [[1.0, 5.0], [7.0, 2.0]], 1), ("min", [1.0, 2.0], 0)])
def test_max_min_with_dim_unpack_and_print_like_torch_return_types(name, data, dim):
    ours = getattr(minigrad, name)(minigrad.tensor(data), dim)
    theirs = getattr(torch, name)(torch.tensor(data), dim)
    assert repr(ours) == repr(theirs).replace("torch.", "minigrad.")
    values, indices = ours
    assert values.tolist() == theirs.values.tolist() and indices.tolist() == theirs.indices.tolist()
