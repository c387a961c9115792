"""nn.Embedding and F.embedding against torch: values, every gradient, padding_idx, options, errors, reprs."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad.autograd import gradcheck, gradgradcheck
from minigrad.ops.sparse import scatter_rows

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]
TOL = {"float32": {"rtol": 1e-5, "atol": 1e-6}, "float64": {"rtol": 1e-12, "atol": 1e-12}}


def pair(array, device="cpu", requires_grad=False):
    """The same values as a torch tensor and a minigrad tensor."""
    t = torch.tensor(array, requires_grad=requires_grad)
    m = minigrad.tensor(array).to(device)
    if requires_grad:
        m.requires_grad_()
    return t, m


def np_of(t):
    return np.asarray(t.detach().cpu().numpy() if hasattr(t, "detach") else t)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("index_dtype", ["int64", "int32"])
@pytest.mark.parametrize("options", [{}, {"padding_idx": 2}, {"padding_idx": -1}, {"scale_grad_by_freq": True},
                                     {"scale_grad_by_freq": True, "padding_idx": 0}])
@pytest.mark.parametrize("index_shape", [(7,), (3, 4), (2, 3, 2), ()])
def test_functional_embedding_matches_torch(dtype, index_dtype, options, index_shape, device):
    rng = np.random.default_rng(0)
    weight = rng.standard_normal((5, 3)).astype(dtype)
    indices = rng.integers(0, 5, index_shape).astype(index_dtype)  # repeats: the scatter must accumulate
    wt, wm = pair(weight, device, requires_grad=True)
    it, im = pair(indices, device)
    out_t = torch.nn.functional.embedding(it, wt, **options)
    out_m = minigrad.nn.functional.embedding(im, wm, **options)
    assert out_m.dtype == getattr(minigrad, dtype) and tuple(out_m.shape) == tuple(out_t.shape)
    np.testing.assert_allclose(np_of(out_m), np_of(out_t), **TOL[dtype])
    upstream = rng.standard_normal(out_t.shape).astype(dtype)
    out_t.backward(torch.tensor(upstream))
    out_m.backward(minigrad.tensor(upstream).to(device))
    np.testing.assert_allclose(np_of(wm.grad), np_of(wt.grad), **TOL[dtype])


@pytest.mark.parametrize("dtype", DTYPES)
def test_module_matches_torch_and_padding_row_gets_no_gradient(dtype):
    rng = np.random.default_rng(1)
    tm = torch.nn.Embedding(6, 4, padding_idx=-2).to(getattr(torch, dtype))
    mm = minigrad.nn.Embedding(6, 4, padding_idx=-2).to(getattr(minigrad, dtype))
    mm.load_state_dict({k: v.numpy() for k, v in tm.state_dict().items()})
    idx = rng.integers(0, 6, (4, 5))
    idx[0, :3] = 4  # the padding row, several times
    out_t, out_m = tm(torch.tensor(idx)), mm(minigrad.tensor(idx))
    np.testing.assert_allclose(np_of(out_m), np_of(out_t), **TOL[dtype])
    (out_t ** 2).sum().backward()
    (out_m ** 2).sum().backward()
    np.testing.assert_allclose(np_of(mm.weight.grad), np_of(tm.weight.grad), **TOL[dtype])
    assert not np_of(mm.weight.grad)[4].any()


def test_init_is_standard_normal_with_the_padding_row_zeroed():
    minigrad.manual_seed(0)
    w = np_of(minigrad.nn.Embedding(400, 50, padding_idx=3).weight)
    assert not w[3].any()
    rest = np.delete(w, 3, axis=0)
    assert abs(rest.mean()) < 0.02 and abs(rest.std() - 1) < 0.02
    assert w.dtype == np.float32


def test_from_pretrained_shares_storage_freezes_and_keeps_the_padding_row():
    table = minigrad.tensor([[1.0, 2.0], [3.0, 4.0], [5.0, 6.0]])
    frozen = minigrad.nn.Embedding.from_pretrained(table)
    assert not frozen.weight.requires_grad
    trainable = minigrad.nn.Embedding.from_pretrained(table, freeze=False, padding_idx=1)
    assert trainable.weight.requires_grad and trainable.padding_idx == 1
    np.testing.assert_array_equal(np_of(trainable.weight)[1], [3.0, 4.0])  # torch does not zero it
    table.array[0, 0] = 9.0
    assert np_of(frozen.weight)[0, 0] == 9.0
    out = trainable(minigrad.tensor([1, 1, 2]))
    out.sum().backward()
    np.testing.assert_array_equal(np_of(trainable.weight.grad), [[0, 0], [0, 0], [1, 1]])


@pytest.mark.parametrize("args", [(10, 3), (10, 3, -2), (5, 2, None, 1.5, 3.0, True, True), (5, 2, 0)])
def test_repr_matches_torch(args):
    """max_norm and sparse are refused when called, not when built: such a layer still prints as torch's."""
    assert repr(minigrad.nn.Embedding(*args)) == repr(torch.nn.Embedding(*args))


ERRORS = [
    (lambda lib: lib.nn.Embedding(10, 3, padding_idx=10), AssertionError),
    (lambda lib: lib.nn.Embedding(10, 3, padding_idx=-11), AssertionError),
    (lambda lib: lib.nn.Embedding(4, 2)(lib.tensor([4])), IndexError),
    (lambda lib: lib.nn.Embedding(4, 2)(lib.tensor([[0, -1]])), IndexError),
    (lambda lib: lib.nn.Embedding(4, 2)(lib.tensor([1.0])), RuntimeError),
    (lambda lib: lib.nn.Embedding(4, 2)(lib.tensor([1], dtype=lib.int16)), RuntimeError),
    (lambda lib: lib.nn.Embedding(4, 2)(lib.tensor([True])), RuntimeError),
    (lambda lib: lib.nn.functional.embedding(lib.tensor([1]), lib.ones(4)), RuntimeError),
    (lambda lib: lib.nn.functional.embedding(lib.tensor([1]), lib.ones(4, 2), padding_idx=4), AssertionError),
    (lambda lib: lib.nn.Embedding.from_pretrained(lib.ones(4)), AssertionError),
    (lambda lib: lib.nn.Embedding(4, 2, _weight=lib.ones(3, 2)), AssertionError),
]


@pytest.mark.parametrize("make", range(len(ERRORS)))
def test_errors_match_torch(make):
    call, kind = ERRORS[make]
    with pytest.raises(kind) as expected:
        call(torch)
    with pytest.raises(kind) as got:
        call(minigrad)
    assert str(got.value) == str(expected.value)


@pytest.mark.parametrize("option", [{"max_norm": 1.0}, {"sparse": True}])
def test_unsupported_options_raise_clearly(option):
    layer = minigrad.nn.Embedding(4, 2, **option)
    with pytest.raises(NotImplementedError, match=next(iter(option))):
        layer(minigrad.tensor([1, 2]))


@pytest.mark.parametrize("rows, count, width", [(7, 40, 3), (100, 2048, 8), (3, 0, 2), (50, 5, 1)])
def test_scatter_rows_equals_add_at(rows, count, width):
    rng = np.random.default_rng(2)
    idx = rng.integers(0, rows, count)
    values = rng.standard_normal((count, width))
    expected = np.zeros((rows, width))
    np.add.at(expected, idx, values)
    np.testing.assert_allclose(scatter_rows(np, idx, values, rows), expected, rtol=1e-12, atol=1e-12)


def test_gradcheck():
    rng = np.random.default_rng(3)
    weight = minigrad.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    idx = minigrad.tensor(np.array([[1, 2, 1], [4, 0, 1]]))
    assert gradcheck(lambda w: minigrad.nn.functional.embedding(idx, w) ** 2, [weight])


@pytest.mark.parametrize("padding_idx", [None, 1, -1])
def test_gradgradcheck(padding_idx):
    """The backward is a scatter whose own backward is a gather: second derivatives through both."""
    rng = np.random.default_rng(4)
    weight = minigrad.tensor(rng.standard_normal((5, 3)), requires_grad=True)
    idx = minigrad.tensor(np.array([[1, 2, 1], [4, 0, 1]]))
    assert gradgradcheck(lambda w: minigrad.nn.functional.embedding(idx, w, padding_idx=padding_idx) ** 2, [weight])


def test_double_backward_matches_torch():
    rng = np.random.default_rng(5)
    weight = rng.standard_normal((4, 2))
    idx = np.array([0, 3, 3, 1, 0])
    results = []
    for lib in (torch, minigrad):
        w = lib.tensor(weight, requires_grad=True)
        out = lib.nn.functional.embedding(lib.tensor(idx), w, padding_idx=1)
        (g,) = lib.autograd.grad((out ** 3).sum(), [w], create_graph=True)
        (g * g).sum().backward()
        results.append(np_of(w.grad))
    np.testing.assert_allclose(results[1], results[0], rtol=1e-12, atol=1e-12)
