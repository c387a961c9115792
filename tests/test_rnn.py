"""nn.RNN, nn.GRU, nn.LSTM and their cells against torch: outputs, final states and EVERY gradient (input,
initial states, each parameter), loaded with the same weights, over layers x directions x batch_first x bias x
padded / packed (sorted and unsorted) / unbatched, in float32 and float64; plus names, reprs, errors, init,
dropout, gradcheck and gradgradcheck, a 1,000-step backward, and memory linear in the sequence length."""
from __future__ import annotations

import itertools
import tracemalloc
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")

TOL = {"float32": {"rtol": 2e-4, "atol": 2e-5}, "float64": {"rtol": 1e-9, "atol": 1e-10}}
MODES = [("RNN", {}), ("RNN", {"nonlinearity": "relu"}), ("GRU", {}), ("LSTM", {})]
INPUTS = ["padded", "packed_sorted", "packed_unsorted", "unbatched"]
LENGTHS = {"packed_sorted": [5, 4, 4, 2], "packed_unsorted": [2, 5, 1, 4]}  # a tie, and a length-1 sequence


def np_of(t):
    return np.asarray(t.detach().cpu().numpy())


def module_pair(name, options, dtype, **kwargs):
    """The torch module and a minigrad twin holding the same weights."""
    theirs = getattr(torch.nn, name)(**options, **kwargs).to(getattr(torch, dtype))
    ours = getattr(minigrad.nn, name)(**options, **kwargs).to(getattr(minigrad, dtype))
    ours.load_state_dict({k: v.numpy() for k, v in theirs.state_dict().items()})
    return theirs, ours


def leaf(lib, array, device="cpu"):
    t = lib.tensor(array)
    if lib is minigrad:
        t = t.to(device)
    return t.requires_grad_()


def compare(name, options, num_layers, bidirectional, batch_first, bias, kind, dtype, device="cpu", with_h0=True):
    E, H, T, B = 3, 4, 5, 4
    rng = np.random.default_rng(hash((name, num_layers, bidirectional, batch_first, bias, kind)) % 2**32)
    theirs, ours = module_pair(name, options, dtype, input_size=E, hidden_size=H, num_layers=num_layers,
                               bidirectional=bidirectional, batch_first=batch_first, bias=bias)
    ours.to(device)
    directions = 2 if bidirectional else 1
    batched = kind != "unbatched"
    x = rng.standard_normal((B, T, E) if batch_first and batched else (T, B, E) if batched else (T, E)).astype(dtype)
    state_shape = (num_layers * directions, B, H) if batched else (num_layers * directions, H)
    h0 = rng.standard_normal(state_shape).astype(dtype)
    c0 = rng.standard_normal(state_shape).astype(dtype)
    outputs, leaves = {}, {}
    for lib, module in ((torch, theirs), (minigrad, ours)):
        xs, h0s, c0s = leaf(lib, x, device), leaf(lib, h0, device), leaf(lib, c0, device)
        hx = ((h0s, c0s) if name == "LSTM" else h0s) if with_h0 else None
        inp = xs
        if kind.startswith("packed"):
            inp = lib.nn.utils.rnn.pack_padded_sequence(xs, LENGTHS[kind], batch_first=batch_first,
                                                        enforce_sorted=kind == "packed_sorted")
        out, final = module(inp, hx)
        finals = list(final) if name == "LSTM" else [final]
        if kind.startswith("packed"):
            assert type(out).__name__ == "PackedSequence"
            np.testing.assert_array_equal(out.batch_sizes.numpy(), np.asarray(inp.batch_sizes.numpy()))
            out = out.data
        # a loss that weighs every output element and every final state differently
        w = np.random.default_rng(7).standard_normal(tuple(out.shape)).astype(dtype)
        loss = (out * lib.tensor(w).to(device) if lib is minigrad else out * lib.tensor(w)).sum()
        for k, f in enumerate(finals):
            loss = loss + ((f * (k + 1.5)) ** 2).sum()
        loss.backward()
        outputs[lib.__name__] = [out] + finals
        leaves[lib.__name__] = [xs] + ([h0s] + ([c0s] if name == "LSTM" else []) if with_h0 else [])
    tol = TOL[dtype]
    for a, b in zip(outputs["minigrad"], outputs["torch"]):
        assert tuple(a.shape) == tuple(b.shape) and a.dtype == getattr(minigrad, dtype)
        np.testing.assert_allclose(np_of(a), np_of(b), **tol)
    for a, b in zip(leaves["minigrad"], leaves["torch"]):
        np.testing.assert_allclose(np_of(a.grad), np_of(b.grad), **tol)
    ours_params = dict(ours.named_parameters())
    for pname, p in theirs.named_parameters():
        np.testing.assert_allclose(np_of(ours_params[pname].grad), np_of(p.grad), err_msg=pname, **tol)


GRID = [(m, o, layers, bi, bf, bias, kind)
        for (m, o), layers, bi, bf, bias, kind in itertools.product(MODES, [1, 2], [False, True], [False, True],
                                                                     [True, False], INPUTS)
        if not (bf and kind == "unbatched")]  # batch_first means nothing without a batch


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("name, options, num_layers, bidirectional, batch_first, bias, kind", GRID,
                         ids=["-".join(map(str, c[:1] + (c[1].get("nonlinearity", ""),) + c[2:])) for c in GRID])
def test_recurrent_module_matches_torch(name, options, num_layers, bidirectional, batch_first, bias, kind, dtype):
    compare(name, options, num_layers, bidirectional, batch_first, bias, kind, dtype)


@pytest.mark.parametrize("name, options", MODES)
@pytest.mark.parametrize("kind", INPUTS)
def test_initial_state_defaults_to_zeros(name, options, kind, device):
    compare(name, options, 2, True, False, True, kind, "float64", device=device, with_h0=False)


# ------------------------------------------------------------------------------------------------ cells
CELLS = [("RNNCell", {}), ("RNNCell", {"nonlinearity": "relu"}), ("GRUCell", {}), ("LSTMCell", {})]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("bias", [True, False])
@pytest.mark.parametrize("batched", [True, False])
@pytest.mark.parametrize("with_hx", [True, False])
@pytest.mark.parametrize("name, options", CELLS)
def test_cell_matches_torch(name, options, bias, batched, with_hx, dtype, device):
    rng = np.random.default_rng(11)
    theirs, ours = module_pair(name, options, dtype, input_size=3, hidden_size=5, bias=bias)
    ours.to(device)
    lstm = name == "LSTMCell"
    x = rng.standard_normal((2, 3) if batched else (3,)).astype(dtype)
    h = rng.standard_normal((2, 5) if batched else (5,)).astype(dtype)
    got = {}
    for lib, module in ((torch, theirs), (minigrad, ours)):
        xs, hs, cs = leaf(lib, x, device), leaf(lib, h, device), leaf(lib, h * 0.5, device)
        hx = ((hs, cs) if lstm else hs) if with_hx else None
        out = module(xs, hx)
        outs = list(out) if lstm else [out]
        loss = sum(((o * (k + 1.0)) ** 2).sum() for k, o in enumerate(outs))
        loss.backward()
        grads = [xs.grad] + ([hs.grad] + ([cs.grad] if lstm else []) if with_hx else [])
        got[lib.__name__] = outs + grads + [p.grad for p in module.parameters()]
    assert len(got["minigrad"]) == len(got["torch"])
    for a, b in zip(got["minigrad"], got["torch"]):
        assert tuple(a.shape) == tuple(b.shape)
        np.testing.assert_allclose(np_of(a), np_of(b), **TOL[dtype])


# ------------------------------------------------------------------------------------------------ structure
CONSTRUCTORS = [
    ("LSTM", (10, 20), {"num_layers": 2, "batch_first": True}),
    ("GRU", (10, 20), {"num_layers": 2, "bias": False, "dropout": 0.5, "bidirectional": True}),
    ("RNN", (10, 20), {"nonlinearity": "relu"}),
    ("RNN", (10, 20, 3, "tanh", False, True), {}),
    ("LSTM", (3, 4, 2, True, False, 0.0, True), {}),
    ("LSTMCell", (3, 4), {}),
    ("GRUCell", (3, 4), {"bias": False}),
    ("RNNCell", (3, 4), {"nonlinearity": "relu"}),
]


@pytest.mark.parametrize("name, args, kwargs", CONSTRUCTORS)
def test_names_shapes_repr_and_state_dict_layout_match_torch(name, args, kwargs):
    theirs = getattr(torch.nn, name)(*args, **kwargs)
    ours = getattr(minigrad.nn, name)(*args, **kwargs)
    assert repr(ours) == repr(theirs)
    assert [(n, tuple(p.shape)) for n, p in ours.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]
    assert list(ours.state_dict()) == list(theirs.state_dict())
    if hasattr(theirs, "all_weights"):
        assert [[tuple(p.shape) for p in layer] for layer in ours.all_weights] == \
               [[tuple(p.shape) for p in layer] for layer in theirs.all_weights]
        assert ours.all_weights[0][0] is ours.weight_ih_l0
        assert ours.flatten_parameters() is None


@pytest.mark.parametrize("name", ["RNN", "GRU", "LSTM", "RNNCell", "GRUCell", "LSTMCell"])
def test_init_is_uniform_within_one_over_sqrt_hidden(name):
    minigrad.manual_seed(0)
    module = getattr(minigrad.nn, name)(30, 16)
    bound = 1 / np.sqrt(16)
    values = np.concatenate([np_of(p).ravel() for p in module.parameters()])
    assert values.dtype == np.float32
    assert values.min() >= -bound and values.max() <= bound
    assert values.min() < -0.9 * bound and values.max() > 0.9 * bound and abs(values.mean()) < 0.02


def test_dropout_warning_matches_torch():
    for lib in (torch, minigrad):
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            lib.nn.LSTM(3, 4, dropout=0.5)
        assert len(caught) == 1 and caught[0].category is UserWarning
        if lib is torch:
            expected = str(caught[0].message)
    assert str(caught[0].message) == expected


def test_dropout_between_layers_only_in_training():
    minigrad.manual_seed(0)
    x = minigrad.tensor(np.random.default_rng(0).standard_normal((6, 2, 3)).astype(np.float32))
    with_dropout = minigrad.nn.GRU(3, 4, num_layers=2, dropout=0.5)
    plain = minigrad.nn.GRU(3, 4, num_layers=2)
    plain.load_state_dict(with_dropout.state_dict())
    reference = np_of(plain(x)[0])
    np.testing.assert_array_equal(np_of(with_dropout.eval()(x)[0]), reference)
    assert not np.allclose(np_of(with_dropout.train()(x)[0]), reference)
    dead = minigrad.nn.GRU(3, 4, num_layers=2, dropout=1.0)  # the second layer sees zeros only
    zero_input = minigrad.nn.GRU(4, 4)
    zero_input.load_state_dict({k.replace("_l1", "_l0"): v for k, v in dead.state_dict().items() if "_l1" in k})
    np.testing.assert_allclose(np_of(dead(x)[0]), np_of(zero_input(minigrad.zeros(6, 2, 4))[0]), rtol=1e-6)


ERRORS = [
    lambda lib: lib.nn.LSTM(3, 4, dropout=1.5),
    lambda lib: lib.nn.LSTM(3, 4, dropout=True),
    lambda lib: lib.nn.LSTM(0, 4),
    lambda lib: lib.nn.GRU(3, 0),
    lambda lib: lib.nn.GRU(3, 4, num_layers=0),
    lambda lib: lib.nn.RNN(3, 4, nonlinearity="sigmoid"),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=4),
    lambda lib: lib.nn.LSTM(3, 4, proj_size=-1),
    lambda lib: lib.nn.LSTM(3, 4, bias=1),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(5, 2, 4)),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(5, 2, 3, 1)),
    lambda lib: lib.nn.RNN(3, 4)(lib.randn(5)),
    lambda lib: lib.nn.GRU(3, 4)(lib.randn(5, 2, 3, 1)),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(5, 2, 3), (lib.randn(1, 3, 4), lib.randn(1, 2, 4))),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(5, 2, 3), (lib.randn(1, 2, 4), lib.randn(1, 2, 5))),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(5, 3), (lib.randn(1, 2, 4), lib.randn(1, 2, 4))),
    lambda lib: lib.nn.LSTM(3, 4)(lib.randn(5, 2, 3), (lib.randn(1, 4), lib.randn(1, 4))),
    lambda lib: lib.nn.GRU(3, 4)(lib.randn(5, 2, 3), lib.randn(2, 2, 4)),
    lambda lib: lib.nn.GRU(3, 4)(lib.randn(5, 3), lib.randn(1, 2, 4)),
    lambda lib: lib.nn.GRU(3, 4)(lib.randn(5, 2, 3), lib.randn(1, 4)),
    lambda lib: lib.nn.RNN(3, 4)(lib.randn(0, 2, 3)),
    lambda lib: lib.nn.LSTMCell(3, 4)(lib.randn(2, 4)),
    lambda lib: lib.nn.LSTMCell(3, 4)(lib.randn(2, 3), (lib.randn(3, 4), lib.randn(2, 4))),
    lambda lib: lib.nn.LSTMCell(3, 4)(lib.randn(2, 3, 3)),
    lambda lib: lib.nn.GRUCell(3, 4)(lib.randn(2, 3), lib.randn(2, 5)),
    lambda lib: lib.nn.RNNCell(3, 4)(lib.randn(2, 3), lib.randn(1, 2, 4)),
    lambda lib: lib.nn.RNNCell(3, 4, nonlinearity="gelu")(lib.randn(2, 3)),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_match_torch(index):
    call = ERRORS[index]
    with pytest.raises(Exception) as expected:
        call(torch)
    with pytest.raises(type(expected.value)) as got:
        call(minigrad)
    assert str(got.value) == str(expected.value)


def test_dtype_mismatch_names_both_dtypes():
    with pytest.raises(ValueError, match=r"RNN input dtype \(minigrad.float64\) does not match weight dtype "
                                         r"\(minigrad.float32\)"):
        minigrad.nn.GRU(3, 4)(minigrad.randn(5, 2, 3).double())


def test_projection_is_refused_clearly():
    with pytest.raises(NotImplementedError, match="proj_size"):
        minigrad.nn.LSTM(4, 3, proj_size=2)


# ------------------------------------------------------------------------------------------------ gradients
@pytest.mark.parametrize("name, options", MODES)
def test_gradcheck_and_gradgradcheck_packed_bidirectional(name, options):
    minigrad.manual_seed(0)
    module = getattr(minigrad.nn, name)(1, 2, bidirectional=True, **options).double()
    rng = np.random.default_rng(0)
    x = minigrad.tensor(rng.standard_normal((3, 2, 1)) + 0.3, requires_grad=True)  # relu: no kinks at 0
    h0 = minigrad.tensor(rng.standard_normal((2, 2, 2)), requires_grad=True)

    def f(x, h0, *params):
        hx = (h0, h0 * 0.5) if name == "LSTM" else h0
        out, final = module(minigrad.nn.utils.rnn.pack_padded_sequence(x, [3, 2]), hx)
        return out.data, (final[1] if name == "LSTM" else final)

    assert gradcheck(f, [x, h0, *module.parameters()])
    # second derivatives w.r.t. the recurrent weights and states only: every parameter would take a minute
    assert gradgradcheck(f, [x, h0, module.weight_hh_l0, module.weight_hh_l0_reverse])


@pytest.mark.parametrize("name", ["RNNCell", "GRUCell", "LSTMCell"])
def test_cell_gradgradcheck(name):
    minigrad.manual_seed(1)
    cell = getattr(minigrad.nn, name)(1, 2).double()
    x = minigrad.tensor(np.random.default_rng(1).standard_normal((2, 1)), requires_grad=True)
    assert gradgradcheck(lambda x, *p: cell(x)[0] if name == "LSTMCell" else cell(x), [x, *cell.parameters()])


def test_double_backward_matches_torch():
    """A gradient penalty through an LSTM: d/dw of |d loss / d x|^2, with the same weights on both sides."""
    theirs, ours = module_pair("LSTM", {}, "float64", input_size=2, hidden_size=3, num_layers=2)
    x = np.random.default_rng(2).standard_normal((4, 2, 2))
    grads = {}
    for lib, module in ((torch, theirs), (minigrad, ours)):
        xs = leaf(lib, x)
        out, _ = module(xs)
        (gx,) = lib.autograd.grad((out ** 2).sum(), [xs], create_graph=True)
        (gx ** 2).sum().backward()
        grads[lib.__name__] = [np_of(p.grad) for p in module.parameters()]
    for a, b in zip(grads["minigrad"], grads["torch"]):
        np.testing.assert_allclose(a, b, rtol=1e-9, atol=1e-10)


def test_backward_through_1000_steps_matches_torch():
    """The engine is iterative and the recurrence one node: no recursion limit, however long the sequence."""
    theirs, ours = module_pair("LSTM", {}, "float64", input_size=2, hidden_size=3)
    x = np.random.default_rng(3).standard_normal((1000, 2, 2)) * 0.5
    grads = []
    for lib, module in ((torch, theirs), (minigrad, ours)):
        xs = leaf(lib, x)
        out, (_h, c) = module(xs)
        (out.sum() + c.sum()).backward()
        grads.append(np_of(xs.grad))
    np.testing.assert_allclose(grads[1], grads[0], rtol=1e-8, atol=1e-10)


def _peak_bytes(steps: int) -> int:
    module = minigrad.nn.GRU(8, 16)
    x = minigrad.randn(steps, 4, 8, requires_grad=True)
    tracemalloc.start()
    out, h = module(x)
    (out.sum() + h.sum()).backward()
    peak = tracemalloc.get_traced_memory()[1]
    tracemalloc.stop()
    return peak


def test_memory_grows_linearly_with_sequence_length():
    """Measured, not timed: doubling the steps about doubles the peak (nothing quadratic, nothing per-step kept)."""
    _peak_bytes(50)  # warm caches and imports
    small, large = _peak_bytes(200), _peak_bytes(400)
    assert 1.5 < large / small < 2.5, (small, large)
