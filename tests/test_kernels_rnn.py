"""The LSTM backward gate kernel's recurrent form, as ops/rnn.py's Recurrence calls it on arrays: the gradient
coming back from the next step (dh_rec, dc_rec) added inside the kernel, and the results written into
buffers the layer allocated once (``out``). Each twin against the reference, float32 and float64, odd sizes,
memory layouts; backward is arithmetic only, so the numba twin must agree bit for bit.

The plain form (no recurrent gradient, new arrays) is in tests/test_kernels.py; the layers built on these
kernels are checked against torch in tests/test_rnn.py, with the twins and with MINIGRAD_KERNELS=reference.
"""
import numpy as np
import pytest
import test_kernels
from test_kernels import FLOATS, LAYOUTS, SHAPES, _compare, _gate_inputs, _layout, _numba_twin, _rand

from minigrad import backend
from minigrad.kernels import reference

twin = test_kernels.twin  # the fixture: (kernel module, its array module, whether results must be bit-identical)


def _step(shape, dtype, layout, seed=0):
    """(dh, dc_in, acts, c_prev, dh_rec, dc_rec) of one step, ``acts`` from a real forward (specials included)."""
    x, acts, c, h_out, c_out = _gate_inputs(shape, dtype, "c", (4, 5, 1, 1, 1), seed)
    with np.errstate(all="ignore"):  # the specials (nan, inf) are on purpose
        reference.lstm_step_forward(np, x, acts, c, h_out, c_out)
    dh, dc, dh_rec, dc_rec = _gate_inputs(shape, dtype, layout, (1, 1, 1, 1), seed + 7)
    return dh, dc, _layout(acts, layout), c, dh_rec, dc_rec


def _into_buffers(table, xp, args):
    """Run the kernel with fresh (dg, dc_prev) buffers as ``out``; check it returns them; NumPy copies."""
    batch, hidden = args[3].shape
    out = (xp.full((batch, 4 * hidden), 7, args[0].dtype), xp.full((batch, hidden), 7, args[0].dtype))
    with np.errstate(all="ignore"):
        result = table.lstm_step_backward(xp, *[xp.asarray(a) for a in args], out=out)
    assert result[0] is out[0] and result[1] is out[1]
    return [backend.to_numpy(a) for a in out]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_lstm_step_backward_adds_the_recurrent_gradient(twin, dtype, shape, layout):
    _compare(twin, "lstm_step_backward", [twin[1], *_step(shape, dtype, layout)])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", ["c", "strided"])
@pytest.mark.parametrize("recurrent", [False, True])
def test_lstm_step_backward_into_buffers(twin, dtype, shape, layout, recurrent):
    table, xp, bit_exact = twin
    args = _step(shape, dtype, layout)
    args = args if recurrent else args[:4]
    want = _into_buffers(reference, np, args)
    with np.errstate(all="ignore"):  # the same values as new arrays
        fresh = reference.lstm_step_backward(np, *args)
    for w, f in zip(want, fresh):
        np.testing.assert_array_equal(w, f)
    for g, w in zip(_into_buffers(table, xp, args), want):
        if bit_exact:
            np.testing.assert_array_equal(g, w)
        else:
            np.testing.assert_allclose(g, w, **test_kernels.TOL[dtype])


def test_the_recurrent_sum_is_the_two_gradients_added():
    """The kernel's dh_rec, dc_rec form is the plain form on dh + dh_rec, dc_in + dc_rec."""
    dh, dc, acts, c, dh_rec, dc_rec = _step((4, 6), np.float64, "c")
    with np.errstate(all="ignore"):
        got = reference.lstm_step_backward(np, dh, dc, acts, c, dh_rec, dc_rec)
        want = reference.lstm_step_backward(np, dh + dh_rec, dc + dc_rec, acts, c)
    for g, w in zip(got, want):
        np.testing.assert_array_equal(g, w)


def test_numba_lstm_backward_runs_its_own_loop_with_buffers(monkeypatch):
    """A step of the layer (rows of the (T, B, 5H) and (T, B, 4H) buffers) is what the loop is compiled for."""
    numba_cpu = _numba_twin()
    monkeypatch.setattr(numba_cpu, "reference", None)  # the twin's own loop, or an AttributeError
    batch, hidden = 5, 7
    acts, d_gates = _rand((3, batch, 5 * hidden), np.float32)[1], np.empty((3, batch, 4 * hidden), np.float32)
    dh, dc, c, dh_rec, dc_rec, dc_prev = (_rand((batch, hidden), np.float32, k) for k in range(6))
    numba_cpu.lstm_step_backward(np, dh, dc, acts, c, dh_rec, dc_rec, out=(d_gates[1], dc_prev))
    numba_cpu.lstm_step_backward(np, dh, dc, acts, c, out=(d_gates[2], dc_prev))
