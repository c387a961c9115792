"""Every kernel twin (numba on the CPU, CuPy on the GPU) against the NumPy reference, and the backend's choice.

Each case builds NumPy inputs, runs one kernel on the reference and on a twin from copies of the same
inputs, and compares everything the kernel returns or writes in place. Sizes are odd and straddle the
numba twins' parallel threshold; inputs come C-contiguous, Fortran-ordered (Linear's weight layout)
and strided (a twin must fall back, not misread memory); both float dtypes, and special values
(nan, inf, -0.0). The numba twins repeat the reference's arithmetic, so they must agree bit for bit
except where a row sum's rounding may differ; the CUDA compiler may fuse multiply-adds, so there a
float tolerance applies.
"""
import numpy as np
import pytest

import minigrad
from minigrad import backend
from minigrad import kernels as kernel_package
from minigrad.kernels import reference

FLOATS = [np.float32, np.float64]
TEST_PARALLEL_MIN = 1 << 15  # numba_cpu.PARALLEL_MIN while these tests run (the twin fixture sets it)
SHAPES = [(3, 5), (129, 257)]  # odd; the second passes TEST_PARALLEL_MIN, so both loop variants run
LAYOUTS = ["c", "f", "strided"]
# the optimizers also see 0-d and 1-d parameters (biases)
PARAM_CASES = [(s, lay) for s in SHAPES for lay in LAYOUTS] + [((), "c"), ((7,), "c"), ((7,), "strided")]
TOL = {np.float32: dict(rtol=2e-6, atol=1e-7), np.float64: dict(rtol=1e-13, atol=1e-15)}


def _numba_twin():
    pytest.importorskip("numba", reason="numba is the optional accelerator: pip install minigrad[fast]")
    from minigrad.kernels import numba_cpu
    return numba_cpu


def _cuda_twin():
    if not minigrad.cuda.is_available():
        pytest.skip(f"no GPU: {minigrad.cuda.unavailable_reason()}")
    import cupy
    return backend._load_kernels(cupy), cupy


@pytest.fixture(params=["numba", "cuda"])
def twin(request, monkeypatch):
    """(kernel module, its array module, whether results must be bit-identical to the reference)."""
    monkeypatch.delenv(backend.KERNELS_ENV, raising=False)
    if request.param == "numba":
        numba_cpu = _numba_twin()
        # the loops go parallel from 1M elements; from 32K here, so that the larger test sizes take those loops
        monkeypatch.setattr(numba_cpu, "PARALLEL_MIN", TEST_PARALLEL_MIN)
        return numba_cpu, np, True
    table, cupy = _cuda_twin()
    return table, cupy, False


def _layout(a, layout):
    """``a``'s values in the given memory layout (a fresh array each call)."""
    if layout == "c":
        return np.ascontiguousarray(a)
    if layout == "f":
        return np.asfortranarray(a)
    wide = np.zeros(a.shape[:-1] + (2 * a.shape[-1],), a.dtype)
    wide[..., ::2] = a
    return wide[..., ::2]  # a strided view: no twin may treat it as contiguous


def _with_specials(a):
    a = a.copy()
    flat = a.reshape(-1)
    flat[:4] = [np.nan, -0.0, np.inf, -np.inf]
    return a


def _run(table, xp, name, args, kwargs, outputs):
    """Call kernel ``name`` on device copies of ``args``; return NumPy copies of its result and of the
    in-place outputs (the positions in ``outputs``)."""
    moved = [xp.asarray(a) if xp is not np and isinstance(a, np.ndarray) else a for a in args]
    if xp is np:  # keep the layout: np.array(copy) would make a strided view contiguous
        moved = [_copy_keep_layout(a) if isinstance(a, np.ndarray) else a for a in args]
    with np.errstate(all="ignore"):  # nan and inf inputs are on purpose
        result = getattr(table, name)(*moved, **kwargs)
    results = result if isinstance(result, tuple) else (result,)
    got = [backend.to_numpy(r) for r in results if r is not None]
    got += [backend.to_numpy(moved[i]) for i in outputs]
    return got


def _copy_keep_layout(a):
    copy = a.copy(order="K")
    return copy if copy.strides == a.strides else _layout(a, "strided")  # dense layouts copy as they are


def _compare(twin, name, args, kwargs=None, outputs=(), exact=True, tol=None):
    table, xp, bit_exact = twin
    want = _run(reference, np, name, args, kwargs or {}, outputs)
    got = _run(table, xp, name, args, kwargs or {}, outputs)
    assert len(got) == len(want)
    for g, w in zip(got, want):
        assert g.dtype == w.dtype and g.shape == w.shape
        if exact and bit_exact:
            np.testing.assert_array_equal(g, w)
            numbers = ~np.isnan(w)  # a nan's sign bit is the hardware's choice; a zero's is not
            np.testing.assert_array_equal(np.signbit(g[numbers]), np.signbit(w[numbers]))
        else:
            np.testing.assert_allclose(g, w, **(tol or TOL)[w.dtype.type])


def _rand(shape, dtype, seed=0):
    return np.random.default_rng(seed).standard_normal(shape).astype(dtype)


# ---------------------------------------------------------------------------------------------- the table
def test_every_twin_has_every_kernel():
    for table in [reference, _numba_twin()]:
        missing = [n for n in kernel_package.NAMES if not callable(getattr(table, n, None))]
        assert not missing, f"{table.__name__} lacks {missing}"


@pytest.mark.parametrize("choice, expected", [("reference", "minigrad.kernels.reference"),
                                              ("numba", "minigrad.kernels.numba_cpu"),
                                              ("", "minigrad.kernels.numba_cpu")])
def test_backend_picks_the_table_from_the_environment(monkeypatch, choice, expected):
    _numba_twin()
    monkeypatch.setenv(backend.KERNELS_ENV, choice)
    monkeypatch.setattr(backend, "_kernel_tables", {})
    assert backend.kernels(np).__name__ == expected


def test_an_unknown_kernel_choice_is_a_clear_error(monkeypatch):
    monkeypatch.setenv(backend.KERNELS_ENV, "fastest")
    monkeypatch.setattr(backend, "_kernel_tables", {})
    with pytest.raises(ValueError, match="MINIGRAD_KERNELS='fastest' is not one of auto, numba, reference"):
        backend.kernels(np)


def test_importing_minigrad_does_not_import_numba():
    import subprocess
    import sys
    code = "import sys, minigrad; minigrad.randn(3); print('numba' in sys.modules)"
    assert subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                          check=True).stdout.strip() == "False"


def test_numba_twins_run_their_own_loops_on_contiguous_floats(monkeypatch):
    numba_cpu = _numba_twin()

    class NoFallback:
        def __getattr__(self, name):
            raise AssertionError(f"numba_cpu fell back to reference.{name}")

    monkeypatch.setattr(numba_cpu, "reference", NoFallback())
    a, b, c, d = (_rand((97, 101), np.float32, seed) for seed in range(4))  # past NUMPY_MAX
    numba_cpu.relu(np, a)
    numba_cpu.relu_backward(a, b)
    numba_cpu.cross_entropy_backward(np, a, b, np.ones((), np.float32), 1)
    numba_cpu.sgd_step_(a, b, c, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False,
                        maximize=False, first=True)
    numba_cpu.adam_step_(np, a, b, c, d, None, step=1, lr=0.1, beta1=0.9, beta2=0.99, eps=1e-8, weight_decay=0.0,
                         decoupled=False, maximize=False)


# ---------------------------------------------------------------------------------------------- activations
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_relu_forward_and_backward(twin, dtype, shape, layout):
    a = _layout(_with_specials(_rand(shape, dtype)), layout)
    _compare(twin, "relu", [twin[1], a])
    out = reference.relu(np, a)
    grad = _layout(_with_specials(_rand(shape, dtype, 1))[::-1].copy(), layout)
    _compare(twin, "relu_backward", [grad, out])


def test_elementwise_twins_take_any_dense_layout_the_arrays_share(twin, monkeypatch):
    """A conv's outputs are channel-major views: dense, but neither C- nor Fortran-ordered."""
    a = _rand((16, 24, 30), np.float32).transpose(1, 0, 2)
    grad = _rand((16, 24, 30), np.float32, 1).transpose(1, 0, 2)
    assert not (a.flags.c_contiguous or a.flags.f_contiguous)
    if twin[1] is np:
        monkeypatch.setattr(twin[0], "reference", None)  # the twin's own loop, or an AttributeError
    _compare(twin, "relu", [twin[1], a])
    _compare(twin, "relu_backward", [grad, reference.relu(np, a)])
    _compare(twin, "sgd_step_", [a.copy(order="K"), grad, grad.copy(order="K")],
             dict(lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False,
                  first=True), outputs=(0, 2))


@pytest.mark.parametrize("dtype", FLOATS)
def test_reference_relu_backward_is_torchs_threshold_backward(dtype):
    """Where the input was <= 0 the gradient is +0.0 even for a nan or inf incoming gradient (not nan)."""
    torch = pytest.importorskip("torch")
    x = np.array([-1.0, 0.0, 2.0, -3.0, -0.0, 5.0], dtype)
    grad = np.array([np.nan, np.inf, 1.0, -2.0, -np.inf, np.nan], dtype)
    tx = torch.tensor(x, requires_grad=True)
    torch.relu(tx).backward(torch.tensor(grad))
    got = reference.relu_backward(grad, reference.relu(np, x))
    np.testing.assert_array_equal(got, tx.grad.numpy())
    np.testing.assert_array_equal(np.signbit(got[:5]), np.signbit(tx.grad.numpy()[:5]))


def test_relu_of_integers_falls_back_to_the_reference(twin):
    a = np.arange(-3, 4)
    _compare(twin, "relu", [twin[1], a])


# ---------------------------------------------------------------------------------------------- softmax and losses
def _class_coeffs(shape, dtype, seed=0):
    rng = np.random.default_rng(seed)
    coeffs = np.zeros(shape, dtype)
    coeffs[np.arange(shape[0]), rng.integers(0, shape[1], shape[0])] = 1 / shape[0]
    return coeffs


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_pair_and_nll(twin, dtype, shape, layout):
    x = _layout(3 * _rand(shape, dtype), layout)
    _compare(twin, "softmax_pair", [twin[1], x, 1], exact=False)
    logp, _ = reference.softmax_pair(np, x, 1)
    logp[0, 0] = -np.inf  # a zero coefficient must ignore it
    coeffs = _class_coeffs(shape, dtype)
    coeffs[0] = 0
    for reduce in (True, False):
        _compare(twin, "nll", [twin[1], logp, coeffs, 1, reduce], exact=False)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
@pytest.mark.parametrize("grad_kind", ["one", "scalar", "per-row"])
def test_cross_entropy_backward(twin, dtype, shape, layout, grad_kind):
    _, probs = reference.softmax_pair(np, _rand(shape, dtype), 1)
    probs = _layout(probs, layout)
    coeffs = _class_coeffs(shape, dtype)
    coeffs[1] = 0.25 / shape[1]  # label smoothing puts a little weight on every class
    grad = {"one": np.ones((), dtype), "scalar": np.asarray(0.37, dtype),
            "per-row": _rand((shape[0], 1), dtype, 2)}[grad_kind]
    _compare(twin, "cross_entropy_backward", [twin[1], probs, coeffs, grad, 1], exact=False)  # a row sum inside


def _extreme_rows(dtype):
    x = 3 * _rand((8, 300), dtype)
    x[0, 5] = np.nan                   # a nan poisons its row, as in the reference
    x[7, 9] = np.copysign(np.nan, -1)  # whatever its sign bit
    x[1, 7] = np.inf                   # so does +inf (inf - inf)
    x[2, ::2] = -np.inf                # -inf logits get probability 0 and log-probability -inf
    x[3] = -np.inf                     # a row of -inf is nan throughout
    x[4] *= 1e4                        # most probabilities underflow to 0
    x[5] += 1e4                        # the shift by the row max keeps it finite
    x[6, 0] = -200                     # exp far below float32's smallest normal
    return x


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_pair_of_extreme_rows(twin, dtype):
    _compare(twin, "softmax_pair", [twin[1], _extreme_rows(dtype), 1], exact=False)


def test_cross_entropy_backward_over_dim_0_falls_back(twin):
    _, probs = reference.softmax_pair(np, _rand((5, 3), np.float32), 0)
    coeffs = _class_coeffs((3, 5), np.float32).T.copy()
    _compare(twin, "cross_entropy_backward", [twin[1], probs, coeffs, np.ones((), np.float32), 0], exact=False)


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES + [(4, 1)])
@pytest.mark.parametrize("layout", LAYOUTS)
def test_softmax_stats_and_grad(twin, dtype, shape, layout):
    x = _layout(3 * _rand(shape, dtype), layout)
    _compare(twin, "softmax_stats", [twin[1], x], exact=False)  # a row sum inside
    shift, log_total = reference.softmax_stats(np, x)
    scale = _rand((shape[0],), dtype, 1)
    _compare(twin, "softmax_grad", [twin[1], x, shift, log_total, scale], exact=False)


@pytest.mark.parametrize("dtype", FLOATS)
def test_softmax_stats_and_grad_of_extreme_rows(twin, dtype):
    x = _extreme_rows(dtype)
    _compare(twin, "softmax_stats", [twin[1], x], exact=False)
    with np.errstate(invalid="ignore"):
        shift, log_total = reference.softmax_stats(np, x)
    _compare(twin, "softmax_grad", [twin[1], x, shift, log_total, np.ones(len(x), dtype)], exact=False)


def test_softmax_stats_recover_log_softmax():
    x = 3 * _rand((5, 9), np.float64)
    shift, log_total = reference.softmax_stats(np, x)
    logp, probs = reference.softmax_pair(np, x, 1)
    np.testing.assert_allclose((x - shift[:, None]) - log_total[:, None], logp, rtol=1e-14)
    np.testing.assert_allclose(reference.softmax_grad(np, x, shift, log_total, np.full(5, 2.0)), 2 * probs,
                               rtol=1e-14)


# ---------------------------------------------------------------------------------------------- optimizers
SGD_OPTIONS = [
    dict(momentum=0.0, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(momentum=0.0, dampening=0.0, weight_decay=1e-2, nesterov=False, maximize=True),
    dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(momentum=0.5, dampening=0.1, weight_decay=1e-2, nesterov=False, maximize=True),
    dict(momentum=0.9, dampening=0.0, weight_decay=1e-2, nesterov=True, maximize=False),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, layout", PARAM_CASES)
@pytest.mark.parametrize("options", SGD_OPTIONS)
def test_sgd_step(twin, dtype, shape, layout, options):
    param, grad, buf = (_layout(_rand(shape, dtype, seed), layout) for seed in range(3))
    if grad.size > 4:  # special values too: the reference's nan/inf propagation must be matched
        grad = _layout(_with_specials(grad), layout)
    for first in (True, False):
        kwargs = dict(lr=0.1, first=first, **options)
        _compare(twin, "sgd_step_", [param, grad, buf if options["momentum"] else None], kwargs, outputs=(0, 2)
                 if options["momentum"] else (0,))
        with np.errstate(all="ignore"):  # the next step's state
            reference.sgd_step_(param, grad, buf if options["momentum"] else None, **kwargs)


ADAM_OPTIONS = [
    dict(weight_decay=0.0, decoupled=False, maximize=False, amsgrad=False),
    dict(weight_decay=1e-2, decoupled=False, maximize=True, amsgrad=False),
    dict(weight_decay=1e-2, decoupled=True, maximize=False, amsgrad=True),
    dict(weight_decay=0.0, decoupled=False, maximize=False, amsgrad=True),
]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape, layout", PARAM_CASES)
@pytest.mark.parametrize("options", ADAM_OPTIONS)
def test_adam_step(twin, dtype, shape, layout, options):
    options = dict(options)
    amsgrad = options.pop("amsgrad")
    param, grad = (_layout(_rand(shape, dtype, seed), layout) for seed in range(2))
    state = [_layout(np.zeros(shape, dtype), layout) for _ in range(3 if amsgrad else 2)]
    args = [twin[1], param, grad, state[0], state[1], state[2] if amsgrad else None]
    for step in (1, 2, 3):
        kwargs = dict(step=step, lr=1e-2, beta1=0.9, beta2=0.999, eps=1e-8, **options)
        _compare(twin, "adam_step_", args, kwargs, outputs=(1, 3, 4, 5) if amsgrad else (1, 3, 4))
        with np.errstate(all="ignore"):
            reference.adam_step_(np, *args[1:], **kwargs)
        grad *= -1.5  # a changing gradient, so that amsgrad's maximum matters


# ---------------------------------------------------------------------------------------------- scatter
@pytest.mark.parametrize("dtype", FLOATS)
def test_scatter_add_accumulates_repeated_indices(twin, dtype):
    out = np.zeros((4, 3), dtype)
    key = (np.array([0, 2, 0, 3]),)
    values = _rand((4, 3), dtype)
    _compare(twin, "scatter_add", [out, key, values], outputs=(0,), exact=False)


# ---------------------------------------------------------------------------------------------- recurrent gates
# (B, H) as SHAPES: the second passes PARALLEL_MIN. Pre-activations of scale 4 reach both saturated ends of the
# sigmoid and tanh; the specials (nan, -0.0, inf, -inf) sit in the first gate. The forward twins run their own
# tanh, within 3 ulps of NumPy's; c' = f c + i g can cancel, so near c' = 0 that becomes an absolute error of a
# few ulps of |f c|: GATE_TOL. Backward is arithmetic only: exact.
GATE_TOL = {np.float32: dict(rtol=4e-6, atol=2e-6), np.float64: TOL[np.float64]}
def _gate_inputs(shape, dtype, layout, widths, seed):
    batch, hidden = shape
    return [_layout(_with_specials(4 * _rand((batch, w * hidden), dtype, seed + k)) if k == 0 else
                    4 * _rand((batch, w * hidden), dtype, seed + k), layout) for k, w in enumerate(widths)]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_lstm_step_forward_and_backward(twin, dtype, shape, layout):
    x, acts, c, h_out, c_out = _gate_inputs(shape, dtype, layout, (4, 5, 1, 1, 1), seed=0)
    _compare(twin, "lstm_step_forward", [twin[1], x, acts, c, h_out, c_out], outputs=(2, 4, 5), exact=False,
             tol=GATE_TOL)
    # backward from a forward's real gate values (the reference's), and from the forward's specials
    saved = _layout(acts, "c")
    with np.errstate(all="ignore"):
        reference.lstm_step_forward(np, x, saved, c, h_out, c_out)
    dh, dc = _gate_inputs(shape, dtype, layout, (1, 1), seed=7)
    _compare(twin, "lstm_step_backward", [twin[1], dh, dc, _layout(saved, layout), c])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", SHAPES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_gru_step_forward_and_backward(twin, dtype, shape, layout):
    x, hh, acts, h, h_out = _gate_inputs(shape, dtype, layout, (3, 3, 4, 1, 1), seed=0)
    _compare(twin, "gru_step_forward", [twin[1], x, hh, acts, h, h_out], outputs=(3, 5), exact=False, tol=GATE_TOL)
    saved = _layout(acts, "c")
    with np.errstate(all="ignore"):
        reference.gru_step_forward(np, x, hh, saved, h, h_out)
    dh, = _gate_inputs(shape, dtype, layout, (1,), seed=7)
    _compare(twin, "gru_step_backward", [twin[1], dh, _layout(saved, layout), h])


def test_numba_gate_twins_run_their_own_loops_on_float32_rows(monkeypatch):
    """The recurrent layers' step slices (rows of a (T, B, 5H) buffer) are what the loops are compiled for."""
    numba_cpu = _numba_twin()
    monkeypatch.setattr(numba_cpu, "reference", None)  # the twin's own loop, or an AttributeError
    batch, hidden = 5, 7
    acts = _rand((3, batch, 5 * hidden), np.float32)[1]
    x, c, h, c_out = (_rand(s, np.float32, k) for k, s in enumerate([(batch, 4 * hidden)] + [(batch, hidden)] * 3))
    numba_cpu.lstm_step_forward(np, x, acts, c, h, c_out)
    numba_cpu.lstm_step_backward(np, h, c_out, acts, c)
    numba_cpu.gru_step_forward(np, x[:, :3 * hidden].copy(), x[:, hidden:].copy(), acts[:, :4 * hidden].copy(), c, h)
    numba_cpu.gru_step_backward(np, h, acts[:, :4 * hidden].copy(), c)
