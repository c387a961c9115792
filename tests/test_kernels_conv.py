"""The sliding-window kernels (im2col, col2im, max pooling and its backward scatter): each twin against the
reference, over shapes, strides, padding (uneven, and ceil_mode's extra trailing pad), dilation and the input's
memory layout, in float32 and float64. The twins only copy, compare and add (each sum in the reference's order),
so they must agree bit for bit, NaN positions and argmax included.

The ops built on them (Conv, Unfold/Fold, MaxPool) are checked against torch in tests/test_conv.py and
tests/test_pooling.py, with the twins and with MINIGRAD_KERNELS=reference.
"""
import numpy as np
import pytest
import test_kernels
from test_kernels import FLOATS, _compare, _numba_twin, _rand

from minigrad.kernels import reference

twin = test_kernels.twin  # the fixture: (kernel module, its array module, whether results must be bit-identical)

# (N, C, H, W), kernel, stride, padding ((lo, hi) per dim), dilation
GEOMETRIES = [
    ((2, 3, 7, 9), (3, 3), (1, 1), ((0, 0), (0, 0)), (1, 1)),
    ((1, 1, 5, 5), (1, 1), (1, 1), ((0, 0), (0, 0)), (1, 1)),       # batch 1, one channel, a 1x1 kernel
    ((3, 2, 11, 8), (2, 4), (2, 3), ((1, 1), (2, 0)), (1, 1)),      # uneven padding, strides
    ((2, 4, 9, 10), (3, 2), (1, 2), ((1, 2), (0, 1)), (2, 1)),      # dilation, 'same'-like uneven pads
    ((4, 8, 30, 30), (3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),     # past numba_cpu.PARALLEL_MIN
]
LAYOUTS = ["c", "channel-major", "strided"]


def _planes(shape, dtype, layout, seed=0):
    """Values (N, C, ...) in the given memory layout: C order, channel-major (a conv's output), or strided."""
    if layout == "channel-major":
        return _rand((shape[1], shape[0], *shape[2:]), dtype, seed).swapaxes(0, 1)
    a = _rand(shape, dtype, seed)
    if layout == "strided":
        wide = np.zeros(shape[:-1] + (2 * shape[-1],), dtype)
        wide[..., ::2] = a
        return wide[..., ::2]
    return a


def _swapped(a):
    return np.ascontiguousarray(a.swapaxes(0, 1)).swapaxes(0, 1)


def _with_specials(a, seed=0):
    """Ties (small integers, +0.0 and -0.0 alike), NaN, and infinities scattered through ``a`` (a copy)."""
    rng = np.random.default_rng(seed)
    a = _swapped(a) if a.strides[1] > a.strides[0] else a.copy()
    flat = a.reshape(-1) if a.flags.c_contiguous else a.swapaxes(0, 1).reshape(-1)
    flat[:] = rng.integers(-3, 3, flat.size)
    flat[rng.random(flat.size) < 0.1] = -0.0
    for value, share in ((np.nan, 0.03), (np.inf, 0.02), (-np.inf, 0.05)):
        flat[rng.random(flat.size) < share] = value
    return a


def _out(shape, kernel, stride, padding, dilation):
    return reference.conv_out_shape(shape[2:], kernel, stride, padding, dilation)


# ---------------------------------------------------------------------------------------------- im2col / col2im
@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("geometry", GEOMETRIES)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_im2col(twin, dtype, geometry, layout):
    shape, kernel, stride, padding, dilation = geometry
    x = _planes(shape, dtype, layout)
    _compare(twin, "im2col", [twin[1], x, kernel, stride, padding, dilation])


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("geometry", GEOMETRIES)
def test_col2im(twin, dtype, geometry):
    """Overlapping windows sum several columns into one input position: in kernel-offset order, so exactly."""
    shape, kernel, stride, padding, dilation = geometry
    cols = _rand((shape[1], *kernel, shape[0], *_out(shape, kernel, stride, padding, dilation)), dtype)
    _compare(twin, "col2im", [twin[1], cols, shape, kernel, stride, padding, dilation])


def test_col2im_is_the_adjoint_of_im2col():
    """<im2col(x), c> == <x, col2im(c)>: what makes col2im the input gradient of the convolution."""
    shape, kernel, stride, padding, dilation = GEOMETRIES[3]
    x = _rand(shape, np.float64)
    cols = _rand((shape[1], *kernel, shape[0], *_out(shape, kernel, stride, padding, dilation)), np.float64, 1)
    numba_cpu = _numba_twin()
    for table in (reference, numba_cpu):
        lhs = np.vdot(table.im2col(np, x, kernel, stride, padding, dilation), cols)
        rhs = np.vdot(x, table.col2im(np, cols, shape, kernel, stride, padding, dilation))
        np.testing.assert_allclose(lhs, rhs, rtol=1e-12)


# ---------------------------------------------------------------------------------------------- max pooling
# kernel, stride, padding, dilation; a trailing hi pad > lo is ceil_mode's partial last window
POOLS = [
    ((2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1)),   # the classic CNN's pool (the numba twin's 2x2 loop)
    ((2, 2), (2, 2), ((0, 1), (0, 1)), (1, 1)),   # ceil_mode on it: disjoint windows in the general loop
    ((3, 3), (1, 1), ((1, 1), (1, 1)), (1, 1)),   # overlapping windows, padded
    ((3, 2), (2, 1), ((1, 2), (0, 1)), (1, 2)),   # ceil_mode-like trailing pad, dilation
    ((2, 3), (3, 2), ((0, 1), (1, 1)), (2, 1)),
]
POOL_SHAPES = [(2, 3, 7, 9), (1, 1, 4, 5), (4, 16, 24, 24)]  # the last passes PARALLEL_MIN


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("layout", LAYOUTS)
def test_max_pool(twin, dtype, shape, pool, layout):
    """Values and argmax: the first of tied maxima (+0.0 and -0.0 tie), the last NaN, -inf windows."""
    kernel, stride, padding, dilation = pool
    x = _planes(shape, dtype, layout)
    out = _out(shape, kernel, stride, padding, dilation)
    _compare(twin, "max_pool", [twin[1], x, kernel, stride, padding, dilation, out])
    _compare(twin, "max_pool", [twin[1], _with_specials(x), kernel, stride, padding, dilation, out])


@pytest.mark.parametrize("choice", ["reference", "numba"])
@pytest.mark.parametrize("kernel, stride, padding, dilation, ceil_mode", [
    (3, 1, 1, 1, False), (2, 2, 1, 1, True), (3, 2, 1, 2, True), ((2, 3), (3, 2), (1, 1), 1, True)])
def test_max_pool_of_windows_of_minus_inf_picks_their_first_input_as_torch(monkeypatch, choice, kernel, stride,
                                                                            padding, dilation, ceil_mode):
    """Nothing above -inf in a window: torch's index is the window's first position inside the input, never a
    padded one (whose gradient would be lost)."""
    torch = pytest.importorskip("torch")
    import minigrad
    from minigrad import backend
    if choice == "numba":
        _numba_twin()
    monkeypatch.setenv(backend.KERNELS_ENV, choice)
    monkeypatch.setattr(backend, "_kernel_tables", {})
    x = np.full((1, 2, 5, 6), -np.inf, np.float32)
    x[0, 1, 2, 3] = 1.0
    options = dict(stride=stride, padding=padding, dilation=dilation, ceil_mode=ceil_mode, return_indices=True)
    _, want = torch.nn.functional.max_pool2d(torch.tensor(x), kernel, **options)
    _, got = minigrad.nn.functional.max_pool2d(minigrad.tensor(x), kernel, **options)
    np.testing.assert_array_equal(got.numpy(), want.numpy())


def test_max_pool_keeps_the_inputs_memory_order():
    """A channel-major conv output pools to channel-major results (no transpose copy on the way)."""
    numba_cpu = _numba_twin()
    x = _planes((4, 6, 8, 8), np.float32, "channel-major")
    for table in (reference, numba_cpu):
        best, which = table.max_pool(np, x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (4, 4))
        assert best.strides[1] > best.strides[0] and which.strides[1] > which.strides[0]


@pytest.mark.parametrize("dtype", FLOATS)
@pytest.mark.parametrize("shape", POOL_SHAPES)
@pytest.mark.parametrize("pool", POOLS)
@pytest.mark.parametrize("layout", ["c", "channel-major"])
def test_window_scatter(twin, dtype, shape, pool, layout):
    """Max pooling's backward; overlapping windows add into an input picked twice, in kernel-offset order."""
    kernel, stride, padding, dilation = pool
    x = _with_specials(_planes(shape, dtype, layout))
    out = _out(shape, kernel, stride, padding, dilation)
    _, which = reference.max_pool(np, x, kernel, stride, padding, dilation, out)
    for grad in (_rand(which.shape, dtype, 1), _swapped(_rand(which.shape, dtype, 2))):  # either grad layout
        _compare(twin, "window_scatter", [twin[1], grad, which, shape, kernel, stride, padding, dilation])


def test_window_scatter_returns_the_pooled_inputs_layout():
    """The gradient comes back in which's memory order (the pooled input's) whatever the incoming grad's, so
    the ReLU before the pool meets its own output's layout in its backward (the numba twin's fast path)."""
    numba_cpu = _numba_twin()
    x = _planes((4, 6, 8, 8), np.float32, "channel-major")
    _, which = reference.max_pool(np, x, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1), (4, 4))
    grad = _rand(which.shape, np.float32)  # C order, as after Flatten's backward
    for table in (reference, numba_cpu):
        got = table.window_scatter(np, grad, which, x.shape, (2, 2), (2, 2), ((0, 0), (0, 0)), (1, 1))
        assert got.strides == x.strides


# ---------------------------------------------------------------------------------------------- fallbacks
def test_window_twins_run_their_own_loops_on_2d_floats(monkeypatch):
    numba_cpu = _numba_twin()

    class NoFallback:
        def __getattr__(self, name):
            if name in ("im2col", "col2im", "max_pool", "window_scatter"):
                raise AssertionError(f"numba_cpu fell back to reference.{name}")
            return getattr(reference, name)

    monkeypatch.setattr(numba_cpu, "reference", NoFallback())
    shape, kernel, stride, padding, dilation = GEOMETRIES[3]
    x = _planes(shape, np.float32, "channel-major")
    cols = numba_cpu.im2col(np, x, kernel, stride, padding, dilation)
    numba_cpu.col2im(np, cols, shape, kernel, stride, padding, dilation)
    out = _out(shape, kernel, stride, padding, dilation)
    best, which = numba_cpu.max_pool(np, x, kernel, stride, padding, dilation, out)
    numba_cpu.window_scatter(np, best, which, shape, kernel, stride, padding, dilation)


@pytest.mark.parametrize("case", ["1-d", "3-d", "int64", "crop"])
def test_other_ranks_dtypes_and_crops_fall_back_to_the_reference(twin, case):
    shape, kernel, stride, padding, dilation = (2, 3, 9), (3,), (2,), ((1, 0),), (1,)
    if case == "3-d":
        shape, kernel, stride, padding, dilation = (2, 2, 5, 6, 4), (2, 3, 2), (1, 2, 1), ((1, 0),) * 3, (1, 1, 1)
    elif case in ("int64", "crop"):
        shape, kernel, stride, padding, dilation = (2, 3, 7, 6), (3, 2), (1, 1), ((1, 1), (0, 2)), (1, 1)
    dtype = np.int64 if case == "int64" else np.float32
    x = (10 * _rand(shape, np.float64)).astype(dtype)
    if case == "crop":  # a negative pad crops (F.pad's backward); only im2col meets one
        padding = ((-1, 0), (0, -1))
    out = _out(shape, kernel, stride, padding, dilation)
    _compare(twin, "im2col", [twin[1], x, kernel, stride, padding, dilation])
    if case == "crop":
        return
    _compare(twin, "col2im", [twin[1], _rand((shape[1], *kernel, shape[0], *out), np.float32), shape, kernel,
                              stride, padding, dilation])
    _compare(twin, "max_pool", [twin[1], x, kernel, stride, padding, dilation, out])
    _, which = reference.max_pool(np, x, kernel, stride, padding, dilation, out)
    _compare(twin, "window_scatter", [twin[1], _rand(which.shape, np.float32), which, shape, kernel, stride,
                                      padding, dilation])

