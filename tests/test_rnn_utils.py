"""torch.nn.utils.rnn's twins against torch: packing, padding, their gradients, options, errors and reprs."""
from __future__ import annotations

import numpy as np
import pytest

import minigrad
from minigrad.autograd import gradcheck, gradgradcheck
from minigrad.nn.utils import rnn as M

torch = pytest.importorskip("torch")
T = torch.nn.utils.rnn


def np_of(t):
    return np.asarray(t.detach().cpu().numpy())


def leaves(array, device="cpu"):
    return torch.tensor(array, requires_grad=True), minigrad.tensor(array).to(device).requires_grad_()


def assert_same(ours, theirs, rtol=1e-12):
    assert tuple(ours.shape) == tuple(theirs.shape)
    assert ours.dtype.name == str(theirs.dtype).replace("torch.", "")
    np.testing.assert_allclose(np_of(ours), np_of(theirs), rtol=rtol, atol=rtol)


def backward_both(ours, theirs, seed=0):
    """Backpropagate the same random upstream gradient through both results."""
    g = np.random.default_rng(seed).standard_normal(tuple(theirs.shape))
    theirs.backward(torch.tensor(g, dtype=theirs.dtype))
    ours.backward(minigrad.tensor(g).to(ours.dtype).to(ours.device))


PACK_CASES = [([4, 3, 3, 1], True, False), ([2, 4, 1, 3], False, False), ([2, 4, 1, 3], False, True),
              ([3, 3, 3, 3], True, True), ([1], True, False), ([4, 2, 4, 1], False, False)]


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("lengths, enforce_sorted, batch_first", PACK_CASES)
@pytest.mark.parametrize("lengths_as", ["list", "tensor"])
@pytest.mark.parametrize("features", [(2,), (), (2, 3)])
def test_pack_then_pad_match_torch_with_gradients(lengths, enforce_sorted, batch_first, lengths_as, features, dtype,
                                                 device):
    steps, batch = 5, len(lengths)
    shape = ((batch, steps) if batch_first else (steps, batch)) + features
    x_t, x_m = leaves(np.random.default_rng(1).standard_normal(shape).astype(dtype), device)
    lens_t = lengths if lengths_as == "list" else torch.tensor(lengths)
    lens_m = lengths if lengths_as == "list" else minigrad.tensor(lengths)
    packed_t = T.pack_padded_sequence(x_t, lens_t, batch_first=batch_first, enforce_sorted=enforce_sorted)
    packed_m = M.pack_padded_sequence(x_m, lens_m, batch_first=batch_first, enforce_sorted=enforce_sorted)
    assert_same(packed_m.data, packed_t.data)
    for field in ("batch_sizes", "sorted_indices", "unsorted_indices"):
        ours, theirs = getattr(packed_m, field), getattr(packed_t, field)
        assert (ours is None) == (theirs is None)
        if theirs is not None:
            assert ours.dtype == minigrad.int64
            np.testing.assert_array_equal(np_of(ours), np_of(theirs))
    assert packed_m.batch_sizes.device.type == "cpu"
    for options in ({}, {"batch_first": not batch_first, "padding_value": -2.5, "total_length": 7}):
        padded_t, lens_out_t = T.pad_packed_sequence(packed_t, **options)
        padded_m, lens_out_m = M.pad_packed_sequence(packed_m, **options)
        assert_same(padded_m, padded_t)
        np.testing.assert_array_equal(np_of(lens_out_m), np_of(lens_out_t))
        assert lens_out_m.dtype == minigrad.int64
    backward_both(padded_m, padded_t)
    np.testing.assert_allclose(np_of(x_m.grad), np_of(x_t.grad), rtol=1e-6)


@pytest.mark.parametrize("batch_first", [False, True])
@pytest.mark.parametrize("padding_side", ["right", "left"])
@pytest.mark.parametrize("dtype", ["float32", "float64"])
def test_pad_sequence_matches_torch(batch_first, padding_side, dtype, device):
    rng = np.random.default_rng(2)
    pairs = [leaves(rng.standard_normal((n, 2, 3)).astype(dtype), device) for n in (3, 5, 1, 5)]
    theirs = T.pad_sequence([t for t, _ in pairs], batch_first=batch_first, padding_value=7.0,
                            padding_side=padding_side)
    ours = M.pad_sequence([m for _, m in pairs], batch_first=batch_first, padding_value=7.0,
                          padding_side=padding_side)
    assert_same(ours, theirs)
    backward_both(ours, theirs)
    for t, m in pairs:
        np.testing.assert_allclose(np_of(m.grad), np_of(t.grad), rtol=1e-6)


@pytest.mark.parametrize("enforce_sorted", [True, False])
def test_pack_sequence_unpack_sequence_and_unpad_sequence_match_torch(enforce_sorted):
    rng = np.random.default_rng(3)
    sizes = (4, 3, 1) if enforce_sorted else (2, 4, 1)
    arrays = [rng.standard_normal((n, 2)) for n in sizes]
    packed_t = T.pack_sequence([torch.tensor(a) for a in arrays], enforce_sorted=enforce_sorted)
    packed_m = M.pack_sequence([minigrad.tensor(a) for a in arrays], enforce_sorted=enforce_sorted)
    assert_same(packed_m.data, packed_t.data)
    for ours, theirs in zip(M.unpack_sequence(packed_m), T.unpack_sequence(packed_t)):
        assert_same(ours, theirs)
    time_major = rng.standard_normal((4, 3, 2))
    for batch_first in (False, True):
        padded, lengths = time_major.transpose(1, 0, 2) if batch_first else time_major, [4, 1, 3]
        got = M.unpad_sequence(minigrad.tensor(padded), minigrad.tensor(lengths), batch_first=batch_first)
        want = T.unpad_sequence(torch.tensor(padded), torch.tensor(lengths), batch_first=batch_first)
        for ours, theirs in zip(got, want):
            assert_same(ours, theirs)


def test_packed_sequence_is_a_namedtuple_that_prints_as_torch():
    x = np.arange(12.0).reshape(4, 3)
    theirs = T.pack_padded_sequence(torch.tensor(x), [4, 1, 2], enforce_sorted=False)
    ours = M.pack_padded_sequence(minigrad.tensor(x), [4, 1, 2], enforce_sorted=False)
    assert repr(ours) == repr(theirs).replace("torch.", "minigrad.")
    assert isinstance(ours, tuple) and ours._fields == theirs._fields
    data, batch_sizes, sorted_indices, _unsorted_indices = ours
    assert data is ours.data and ours[1] is batch_sizes
    rebuilt = M.PackedSequence(data, batch_sizes, sorted_indices)
    np.testing.assert_array_equal(np_of(rebuilt.unsorted_indices), np_of(theirs.unsorted_indices))
    assert ours.double().data.dtype == minigrad.float64 and ours.float().data.dtype == minigrad.float32
    assert ours.to("cpu") is ours and not ours.is_cuda


ERRORS = [
    lambda R, lib: R.pack_padded_sequence(lib.ones(4, 3), [2, 4, 1]),
    lambda R, lib: R.pack_padded_sequence(lib.ones(4, 3), [4, 0, 0]),
    lambda R, lib: R.pack_padded_sequence(lib.ones(4, 3), [4, 2]),
    lambda R, lib: R.pad_packed_sequence(R.pack_padded_sequence(lib.ones(4, 3), [4, 2, 1]), total_length=2),
    lambda R, lib: R.pad_sequence([lib.ones(2, 3)], padding_side="middle"),
    lambda R, lib: R.pad_sequence([]),
    lambda R, lib: R.pack_sequence([lib.ones(2), lib.ones(4)]),
    lambda R, lib: R.pack_padded_sequence(lib.ones(3), [3]),
]


@pytest.mark.parametrize("index", range(len(ERRORS)))
def test_errors_match_torch(index):
    with pytest.raises(Exception) as expected:
        ERRORS[index](T, torch)
    with pytest.raises(type(expected.value)) as got:
        ERRORS[index](M, minigrad)
    assert str(got.value) == str(expected.value)


def test_lengths_longer_than_the_input_are_refused():
    """torch reads past the end here; minigrad names the problem instead."""
    with pytest.raises(RuntimeError, match="exceeds"):
        M.pack_padded_sequence(minigrad.ones(4, 3), [5, 4, 1])


def test_gradcheck_and_gradgradcheck_through_pack_and_pad():
    x = minigrad.tensor(np.random.default_rng(4).standard_normal((3, 3, 2)), requires_grad=True)

    def f(x):
        packed = M.pack_padded_sequence(x, [2, 3, 1], enforce_sorted=False)
        return M.pad_packed_sequence(packed, batch_first=True, padding_value=1.0)[0] ** 2

    assert gradcheck(f, [x])
    assert gradgradcheck(f, [x])
