"""The accelerated CPU twins: numba loops that make one multi-threaded pass over memory per kernel.

NumPy runs an update like SGD-momentum as several single-threaded passes, each streaming every
array from memory and most allocating a temporary; here each kernel is one loop over the
elements, split across the cores. Every loop repeats the reference's arithmetic operation for
operation, in the arrays' own dtype (scalars are cast to it first, as NumPy does with a Python
float) and without fastmath, so the results are bit-for-bit the reference's; only sums over a
row may differ by rounding. A kernel falls back to the reference for anything it was not written
for (a dtype other than float32/float64, mixed memory layouts, broadcasting), so callers never
need to check. Imported only on first use (``backend.kernels``): importing numba takes a
quarter of a second, and each loop is compiled once and cached on disk (``cache=True``).
"""
from __future__ import annotations

import functools
import os
import threading
import types

import numba
import numpy as np
from numba import njit, prange, uint64

from . import reference
from .reference import nll, scatter_add  # noqa: F401  (no faster twin: a BLAS dot, a scatter)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# Below this many elements (4 MB of float32) a loop runs on one thread. Waking the pool takes only microseconds,
# but a training step alternates these loops with OpenBLAS's matrix products, and each handoff of the cores
# between the two pools costs more than splitting a smaller loop saves (784-520-...-10 MLP step at batch 256:
# 5.5 ms with this threshold or none, 6.2 ms at 32K elements; 4096x1000 cross-entropy: 2.7 ms, 4.0 serial).
PARALLEL_MIN = 1 << 20
# Below this many elements a one-ufunc kernel (ReLU) stays with NumPy: calling into numba costs ~3 us.
NUMPY_MAX = 1 << 13


def _compiled(loop, error_model="python", fastmath=False):
    """(serial, parallel) compilations of one loop: in the serial one, prange is a plain range.

    The parallel one compiles a copy of the function under another name. numba's disk cache keys a function
    by its name and argument types, not by its options (numba issue #6845), so the two would share one
    cache entry: the "serial" loop would load the parallel code and wake the thread pool for every small
    array, where it fights OpenBLAS's threads for the cores (a 0.4 ms MLP step took 10 ms)."""
    parallel_loop = types.FunctionType(loop.__code__, loop.__globals__, loop.__name__ + "_parallel",
                                       loop.__defaults__, loop.__closure__)
    parallel_loop.__qualname__ = loop.__qualname__ + "_parallel"
    return (njit(fastmath=fastmath, error_model=error_model, cache=True)(loop),
            njit(parallel=True, fastmath=fastmath, error_model=error_model, cache=True)(parallel_loop))


@njit(fastmath={"reassoc"}, cache=True)
def _row_sum(row):
    """A row's sum in float64, reassociated so that it vectorizes: like NumPy's pairwise sum, it rounds in
    its own order, so only this and the sums built on it are not bit-identical to the reference."""
    total = 0.0
    for j in range(row.size):
        total += row[j]
    return total


# numba's default thread pool (OpenMP) keeps its threads spinning after each parallel loop, on the cores that
# OpenBLAS's threads need for the next matrix product: on 2 cores a 2 ms MLP step took 2.6-4x as long.
# The workqueue pool's threads sleep instead. Unless the user chose a layer (NUMBA_THREADING_LAYER), it is
# chosen here, before numba starts any pool (if another library has started one already, that one stays).
# workqueue must not launch two parallel loops at once, so launches take a lock.
if "NUMBA_THREADING_LAYER" not in os.environ:
    numba.config.THREADING_LAYER = "workqueue"
_LAUNCH = threading.Lock()


def _launch(loop, *args):
    with _LAUNCH:
        return loop(*args)


def _pick(loops, size):
    """The serial loop for a small array; the parallel one, launched under the lock, for a large one."""
    return loops[0] if size < PARALLEL_MIN else functools.partial(_launch, loops[1])


def _flat(*arrays):
    """1-D views of same-shape, same-dtype float arrays that share one contiguous layout, or None."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in _FLOATS:
        return None
    c_order = f_order = True
    for a in arrays:  # a plain loop: this runs for every kernel call, so it is kept cheap
        if type(a) is not np.ndarray or a.dtype != first.dtype or a.shape != first.shape:
            return None
        flags = a.flags
        c_order = c_order and flags.c_contiguous
        f_order = f_order and flags.f_contiguous
    if c_order:
        return [a.reshape(-1) for a in arrays]
    if f_order:  # e.g. Linear's weight, stored as a transpose
        return [a.T.reshape(-1) for a in arrays]
    strides = first.strides  # dense in another axis order (a conv's channel-major output), all alike
    if first.ndim > 2 and all(a.strides == strides for a in arrays):
        order = sorted(range(first.ndim), key=lambda axis: -abs(strides[axis]))
        if first.transpose(order).flags.c_contiguous:
            return [a.transpose(order).reshape(-1) for a in arrays]
    return None


# ---------------------------------------------------------------------------------------------- ReLU
def _relu_loop(a, out, zero):
    for i in prange(a.size):
        x = a[i]
        out[i] = x if x > zero or np.isnan(x) else zero  # np.maximum(x, 0): nan stays, -0.0 becomes +0.0


def _relu_backward_loop(grad, out, result, zero):
    for i in prange(grad.size):
        g = grad[i]
        result[i] = g if out[i] > zero else zero  # torch's threshold_backward: 0 even for a nan or inf grad


_RELU = _compiled(_relu_loop)
_RELU_BACKWARD = _compiled(_relu_backward_loop)


# For small arrays NumPy's ufuncs are the fastest way, given a 0-d zero of the array's dtype: with a Python 0
# (or an np.float32 scalar) NumPy resolves the scalar's type on every call, which doubles a 4x4 op's cost.
_ZEROS = {dtype: np.zeros((), dtype) for dtype in _FLOATS}


def relu(xp, a):
    flat = _flat(a) if a.size >= NUMPY_MAX else None
    if flat is None:
        zero = _ZEROS.get(a.dtype) if type(a) is np.ndarray else None
        return reference.relu(xp, a) if zero is None else np.maximum(a, zero)
    out = np.empty_like(a)
    _pick(_RELU, a.size)(flat[0], _flat(out)[0], a.dtype.type(0))
    return out


def relu_backward(grad, out):
    flat = _flat(grad, out) if grad.size >= NUMPY_MAX else None
    if flat is None:
        zero = _ZEROS.get(grad.dtype) if type(grad) is np.ndarray and type(out) is np.ndarray else None
        if zero is None or out.dtype != grad.dtype:
            return reference.relu_backward(grad, out)
        return np.where(out > zero, grad, zero)
    result = np.empty_like(grad)
    _pick(_RELU_BACKWARD, grad.size)(flat[0], flat[1], _flat(result)[0], grad.dtype.type(0))
    return result


# ---------------------------------------------------------------------------------------------- softmax
# exp(d) for d <= 0 in float32 (NumPy's SIMD exp cannot be called from numba, and the libm call numba
# makes does not vectorize: 7x slower): d = k ln2 + r with |r| <= ln2/2, exp(r) by its Taylor series to
# r^7 (truncation below 1e-8), times 2^k built from its exponent bits. ln2 is split in two (the first
# part exact in few bits) so that k * ln2 loses nothing. Within a few float32 ulps of NumPy's exp.
_LOG2E, _HALF, _ONE = np.float32(1.4426950408889634), np.float32(0.5), np.float32(1.0)
_LN2_HI, _LN2_LO = np.float32(0.693359375), np.float32(-2.12194440e-4)
_C2, _C3, _C4, _C5, _C6, _C7 = (np.float32(1 / f) for f in (2, 6, 24, 120, 720, 5040))
_UNDERFLOW = np.float32(-87.0)  # exp(-87) is near float32's smallest normal; below it, 0 (probabilities < 2e-38)


@njit(fastmath=False, cache=True)
def _exp_nonpositive(d):
    k = np.floor(d * _LOG2E + _HALF)
    r = (d - k * _LN2_HI) - k * _LN2_LO
    p = _ONE + r * (_ONE + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    e = p * np.int32((np.int32(k) + np.int32(127)) << np.int32(23)).view(np.float32)
    e = np.float32(0) if d < _UNDERFLOW else e
    return d if np.isnan(d) else e


# Float32's bit patterns, read as int32, are in the floats' order once a negative one has its other bits flipped;
# an integer max vectorizes where a float max with nan semantics does not (numba emits a scalar loop for it).
_SIGN_SHIFT, _LOW_BITS, _INF_BITS = np.int32(31), np.int32(0x7FFFFFFF), np.int32(0x7F800000)


@njit(cache=True)
def _row_max(bits):
    """NumPy's max of a float32 row, from the row's bits (``row.view(np.int32)``); nan if any element is nan,
    whatever its sign. 4096x1000: 0.36 ms on one core, against NumPy's 0.47, and here inside each row's pass."""
    top, magnitude = np.int32(-2147483648), np.int32(0)
    for j in range(bits.size):
        b = bits[j]
        key = b ^ ((b >> _SIGN_SHIFT) & _LOW_BITS)
        top = key if key > top else top
        size = b & _LOW_BITS
        magnitude = size if size > magnitude else magnitude
    if magnitude > _INF_BITS:
        return np.float32(np.nan)
    return np.int32(top ^ ((top >> _SIGN_SHIFT) & _LOW_BITS)).view(np.float32)


def _softmax_loop(x, bits, logp, probs):
    for i in prange(x.shape[0]):
        xi, logp_i, probs_i = x[i], logp[i], probs[i]  # contiguous rows: the inner loops vectorize
        m = _row_max(bits[i])  # a nan in the row makes it nan, and so the whole row, as the reference
        for j in range(xi.size):
            probs_i[j] = _exp_nonpositive(xi[j] - m)
        total = _row_sum(probs_i)
        total32 = np.float32(total)
        log_total = np.float32(np.log(total))
        for j in range(xi.size):
            logp_i[j] = (xi[j] - m) - log_total
            probs_i[j] = probs_i[j] / total32


_SOFTMAX = _compiled(_softmax_loop)


def _float32_rows(x):
    """Whether the row loops apply: a 2-d, C-ordered float32 NumPy array with at least one column."""
    return x.ndim == 2 and type(x) is np.ndarray and x.dtype == np.float32 and x.flags.c_contiguous and x.shape[1]


def softmax_pair(xp, x, dim):
    if dim not in (1, -1) or not _float32_rows(x):
        return reference.softmax_pair(xp, x, dim)
    logp, probs = np.empty_like(x), np.empty_like(x)
    _pick(_SOFTMAX, x.size)(x, x.view(np.int32), logp, probs)
    return logp, probs


def _softmax_stats_loop(x, bits, shift, log_total):
    for i in prange(x.shape[0]):
        xi = x[i]
        m = shift[i] = _row_max(bits[i])
        total = np.float32(0)  # reassociated (in SIMD lanes), as NumPy's pairwise float32 sum; nothing is stored
        for j in range(xi.size):
            total += _exp_nonpositive(xi[j] - m)
        log_total[i] = np.log(total)


def _softmax_grad_loop(x, shift, log_total, scale, out):
    for i in prange(x.shape[0]):
        xi, out_i = x[i], out[i]
        m, lt, s = shift[i], log_total[i], scale[i]
        for j in range(xi.size):
            out_i[j] = _exp_nonpositive((xi[j] - m) - lt) * s


_SOFTMAX_STATS = _compiled(_softmax_stats_loop, fastmath={"reassoc"})
_SOFTMAX_GRAD = _compiled(_softmax_grad_loop)


def softmax_stats(xp, x):
    if not _float32_rows(x):
        return reference.softmax_stats(xp, x)
    shift, log_total = np.empty(x.shape[0], x.dtype), np.empty(x.shape[0], x.dtype)
    _pick(_SOFTMAX_STATS, x.size)(x, x.view(np.int32), shift, log_total)
    return shift, log_total


def softmax_grad(xp, x, shift, log_total, scale):
    if not _float32_rows(x) or not (shift.dtype == log_total.dtype == scale.dtype == np.float32):
        return reference.softmax_grad(xp, x, shift, log_total, scale)
    out = np.empty_like(x)
    _pick(_SOFTMAX_GRAD, x.size)(x, shift, log_total, scale, out)
    return out


# ---------------------------------------------------------------------------------------------- cross-entropy
def _cross_entropy_backward_loop(probs, coeffs, grad, out):
    for i in prange(probs.shape[0]):
        probs_i, coeffs_i, out_i = probs[i], coeffs[i], out[i]  # contiguous rows: the inner loop vectorizes
        g = grad[i]
        factor = coeffs_i.dtype.type(_row_sum(coeffs_i)) * g
        for j in range(probs_i.size):
            out_i[j] = probs_i[j] * factor - coeffs_i[j] * g


_CROSS_ENTROPY_BACKWARD = _compiled(_cross_entropy_backward_loop)


def cross_entropy_backward(xp, probs, coeffs, grad, dim):
    if (probs.ndim != 2 or dim not in (1, -1) or _flat(probs, coeffs) is None or not probs.flags.c_contiguous
            or getattr(grad, "dtype", None) != probs.dtype):
        return reference.cross_entropy_backward(xp, probs, coeffs, grad, dim)
    rows = np.broadcast_to(np.asarray(grad, probs.dtype).reshape(-1), (probs.shape[0],))  # scalar or per row
    out = np.empty_like(probs)
    _pick(_CROSS_ENTROPY_BACKWARD, probs.size)(probs, coeffs, rows, out)
    return out


# ---------------------------------------------------------------------------------------------- SGD
def _sgd_loop(param, grad, buf, lr, momentum, keep, weight_decay, nesterov, maximize, first, has_buf):
    for i in prange(param.size):
        step = -grad[i] if maximize else grad[i]
        if weight_decay != 0:
            step = step + weight_decay * param[i]
        if has_buf:
            b = step if first else buf[i] * momentum + keep * step  # keep = 1 - dampening
            buf[i] = b
            step = step + momentum * b if nesterov else b
        param[i] = param[i] - lr * step


_SGD = _compiled(_sgd_loop)


def sgd_step_(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    flat = _flat(param, grad) if buf is None or not momentum else _flat(param, grad, buf)
    if flat is None or not param.flags.writeable:
        return reference.sgd_step_(param, grad, buf, lr=lr, momentum=momentum, dampening=dampening,
                                   weight_decay=weight_decay, nesterov=nesterov, maximize=maximize, first=first)
    has_buf = len(flat) == 3
    dt = param.dtype.type
    _pick(_SGD, param.size)(flat[0], flat[1], flat[2] if has_buf else flat[1], dt(lr), dt(momentum),
                            dt(1 - dampening), dt(weight_decay), nesterov, maximize, first, has_buf)


# ---------------------------------------------------------------------------------------------- Adam
def _adam_loop(param, grad, exp_avg, exp_avg_sq, max_sq, has_max, maximize, weight_decay, decay_keep,
               decoupled, one_minus_beta1, beta2, one_minus_beta2, bias_correction2_sqrt, eps, step_size):
    for i in prange(param.size):
        g = -grad[i] if maximize else grad[i]
        p = param[i]
        if weight_decay != 0:
            if decoupled:
                p = p * decay_keep
            else:
                g = g + weight_decay * p
        m = exp_avg[i] + (g - exp_avg[i]) * one_minus_beta1
        exp_avg[i] = m
        v = exp_avg_sq[i] * beta2 + g * one_minus_beta2 * g
        exp_avg_sq[i] = v
        if has_max:
            top = max_sq[i]
            v = top if top > v or np.isnan(top) else v  # np.maximum, nan included
            max_sq[i] = v
        denom = np.sqrt(v) / bias_correction2_sqrt + eps
        param[i] = p - m / denom * step_size


_ADAM = _compiled(_adam_loop)


def adam_step_(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps,
               weight_decay, decoupled, maximize):
    has_max = max_exp_avg_sq is not None
    state = (exp_avg, exp_avg_sq) + ((max_exp_avg_sq,) if has_max else ())
    flat = _flat(param, grad, *state)
    if flat is None or not param.flags.writeable:
        return reference.adam_step_(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, step=step, lr=lr,
                                    beta1=beta1, beta2=beta2, eps=eps, weight_decay=weight_decay,
                                    decoupled=decoupled, maximize=maximize)
    dt = param.dtype.type
    _pick(_ADAM, param.size)(
        flat[0], flat[1], flat[2], flat[3], flat[4] if has_max else flat[3], has_max, maximize, dt(weight_decay),
        dt(1 - lr * weight_decay), decoupled, dt(1 - beta1), dt(beta2), dt(1 - beta2),
        dt((1 - beta2 ** step) ** 0.5), dt(eps), dt(lr / (1 - beta1 ** step)))


# ---------------------------------------------------------------------------------------------- recurrent gates
# tanh for float32, vectorizable (libm's tanhf, which numba calls, does not vectorize: 20x slower than NumPy's),
# from expm1 as the exp above: tanh|v| = -m / (2 + m) with m = expm1(-2|v|) = 2^k (expm1(r) + 1) - 1, where
# d = -2|v| = k ln2 + r; expm1(r) by its series (no 1 - e cancellation for small |v|). Within 3 ulps of
# NumPy's tanh. d is clamped at -40 (tanh rounds to 1 there) so that 2^k stays normal, and inf gives 1;
# below 2^-12, tanh v rounds to v, which also keeps the sign of -0.0. error_model="numpy": numba's check
# for a division by zero (which cannot happen here) would stop the loop from vectorizing.
_TWO, _MINUS_TWO, _CLAMP, _TANH_IS_V = np.float32(2.0), np.float32(-2.0), np.float32(-40.0), np.float32(2.0 ** -12)


@njit(fastmath=False, error_model="numpy", inline="always", cache=True)
def _tanh32(v):
    a = abs(v)
    d = _MINUS_TWO * a
    d = d if d > _CLAMP else _CLAMP
    k = np.floor(d * _LOG2E + _HALF)
    r = (d - k * _LN2_HI) - k * _LN2_LO
    expm1_r = r * (_ONE + r * (_C2 + r * (_C3 + r * (_C4 + r * (_C5 + r * (_C6 + r * _C7))))))
    scale = np.int32((np.int32(k) + np.int32(127)) << np.int32(23)).view(np.float32)
    m = scale * expm1_r + (scale - _ONE)
    t = -m / (_TWO + m)
    t = t if v > 0 else -t
    t = v if a < _TANH_IS_V else t
    return v if np.isnan(v) else t


@njit(fastmath=False, error_model="numpy", inline="always", cache=True)
def _sigmoid32(v):
    return _tanh32(v * _HALF) * _HALF + _HALF  # the reference's tanh(v / 2) / 2 + 1 / 2


# Per batch row (H columns per gate, a few KiB: it stays in L1), a few short loops that each write one
# array and so vectorize: one loop doing everything writes several arrays that LLVM must assume may overlap,
# and runs 5-10x slower. NumPy's reference makes ~15 passes over the whole step, each a separate call (and
# its backward allocates a temporary per operator). Operations as the reference's, in its order, so that
# only tanh's last bits may differ (forward) and backward is bit-identical.
def _lstm_forward_loop(x, acts, c, h_out, c_out):
    hidden = c.shape[1]
    for b in prange(c.shape[0]):
        xb, ab, cb, hb, cob = x[b], acts[b], c[b], h_out[b], c_out[b]
        x_g, x_o, g, o, tanh_c = xb[2 * hidden:3 * hidden], xb[3 * hidden:], ab[2 * hidden:3 * hidden], \
            ab[3 * hidden:4 * hidden], ab[4 * hidden:]
        for j in range(2 * hidden):  # i, f. (Loops from 0 only: range(2 * hidden, 3 * hidden) does not vectorize.)
            ab[j] = _sigmoid32(ab[j] + xb[j])
        for j in range(hidden):
            g[j] = _tanh32(g[j] + x_g[j])
        for j in range(hidden):
            o[j] = _sigmoid32(o[j] + x_o[j])
        for j in range(hidden):
            cob[j] = ab[hidden + j] * cb[j] + ab[j] * g[j]
        for j in range(hidden):
            tanh_c[j] = _tanh32(cob[j])
        for j in range(hidden):
            hb[j] = o[j] * tanh_c[j]


def _lstm_backward_loop(dh, dc_in, acts, c_prev, dh_rec, dc_rec, has_rec, dg, dc_next):
    hidden = c_prev.shape[1]
    for b in prange(c_prev.shape[0]):
        dhb, ab, cb, dgb, dcb = dh[b], acts[b], c_prev[b], dg[b], dc_next[b]
        i, f, g, o, tanh_c = ab[:hidden], ab[hidden:2 * hidden], ab[2 * hidden:3 * hidden], \
            ab[3 * hidden:4 * hidden], ab[4 * hidden:]
        dc_in_b, dhr, dcr, dh_all = dc_in[b], dh_rec[b], dc_rec[b], dgb[3 * hidden:]
        for j in range(hidden):  # dh, outer + recurrent, held in dg's o columns until their loop
            dh_all[j] = dhb[j] + dhr[j] if has_rec else dhb[j]
        for j in range(hidden):  # dc, held in dc_next's row until its last loop
            dcb[j] = dc_in_b[j] + dcr[j] if has_rec else dc_in_b[j]
        for j in range(hidden):
            dcb[j] = dcb[j] + dh_all[j] * o[j] * (_ONE - tanh_c[j] * tanh_c[j])
        for j in range(hidden):
            dgb[j] = dcb[j] * g[j] * i[j] * (_ONE - i[j])
        for j in range(hidden):
            dgb[hidden + j] = dcb[j] * cb[j] * f[j] * (_ONE - f[j])
        for j in range(hidden):
            dgb[2 * hidden + j] = dcb[j] * i[j] * (_ONE - g[j] * g[j])
        for j in range(hidden):
            dh_all[j] = dh_all[j] * tanh_c[j] * o[j] * (_ONE - o[j])
        for j in range(hidden):
            dcb[j] = dcb[j] * f[j]


def _gru_forward_loop(x, hh, acts, h, h_out):
    hidden = h.shape[1]
    for b in prange(h.shape[0]):
        xb, hhb, ab, hb, ob = x[b], hh[b], acts[b], h[b], h_out[b]
        r, z, n, hn = ab[:hidden], ab[hidden:2 * hidden], ab[2 * hidden:3 * hidden], ab[3 * hidden:]
        x_n, hh_n = xb[2 * hidden:], hhb[2 * hidden:]
        for j in range(2 * hidden):  # r, z
            ab[j] = _sigmoid32(xb[j] + hhb[j])
        for j in range(hidden):  # W_hn h + b_hn, kept for backward
            hn[j] = hh_n[j]
        for j in range(hidden):
            n[j] = _tanh32(r[j] * hh_n[j] + x_n[j])
        for j in range(hidden):
            ob[j] = (hb[j] - n[j]) * z[j] + n[j]  # (1 - z) n + z h


def _gru_backward_loop(dh, acts, h_prev, dx, dhh, dh_skip):
    hidden = h_prev.shape[1]
    for b in prange(h_prev.shape[0]):
        db, ab, hb, dxb, dhhb, dsb = dh[b], acts[b], h_prev[b], dx[b], dhh[b], dh_skip[b]
        r, z, n, hn = ab[:hidden], ab[hidden:2 * hidden], ab[2 * hidden:3 * hidden], ab[3 * hidden:]
        for j in range(hidden):  # dn
            dxb[2 * hidden + j] = db[j] * (_ONE - z[j]) * (_ONE - n[j] * n[j])
        for j in range(hidden):  # dr
            dxb[j] = dxb[2 * hidden + j] * hn[j] * r[j] * (_ONE - r[j])
        for j in range(hidden):  # dz
            dxb[hidden + j] = db[j] * (hb[j] - n[j]) * z[j] * (_ONE - z[j])
        for j in range(2 * hidden):
            dhhb[j] = dxb[j]
        for j in range(hidden):
            dhhb[2 * hidden + j] = dxb[2 * hidden + j] * r[j]
        for j in range(hidden):
            dsb[j] = db[j] * z[j]


_LSTM_FORWARD, _LSTM_BACKWARD = _compiled(_lstm_forward_loop, "numpy"), _compiled(_lstm_backward_loop)
_GRU_FORWARD, _GRU_BACKWARD = _compiled(_gru_forward_loop, "numpy"), _compiled(_gru_backward_loop)


def _gate_arrays(*arrays):
    """True when every array is a 2-D float32 NumPy array with contiguous rows (the loops' one compiled
    layout; float64 runs the reference, whose tanh is libm's anyway)."""
    for a in arrays:
        if type(a) is not np.ndarray or a.dtype != np.float32 or a.ndim != 2 or a.strides[1] != 4:
            return False
    return True


def lstm_step_forward(xp, x, acts, c, h_out, c_out):
    if not _gate_arrays(x, acts, c, h_out, c_out):
        return reference.lstm_step_forward(xp, x, acts, c, h_out, c_out)
    _pick(_LSTM_FORWARD, c.size)(x, acts, c, h_out, c_out)


def lstm_step_backward(xp, dh, dc_in, acts, c_prev, dh_rec=None, dc_rec=None, out=None):
    has_rec = dh_rec is not None
    rec = (dh_rec, dc_rec) if has_rec else (dh, dc_in)  # stand-ins the loop does not read
    if not _gate_arrays(dh, dc_in, acts, c_prev, *rec, *(out or ())):
        return reference.lstm_step_backward(xp, dh, dc_in, acts, c_prev, dh_rec, dc_rec, out)
    if out is None:
        out = (np.empty((c_prev.shape[0], 4 * c_prev.shape[1]), np.float32), np.empty_like(c_prev))
    _pick(_LSTM_BACKWARD, c_prev.size)(dh, dc_in, acts, c_prev, *rec, has_rec, *out)
    return out


def gru_step_forward(xp, x, hh, acts, h, h_out):
    if not _gate_arrays(x, hh, acts, h, h_out):
        return reference.gru_step_forward(xp, x, hh, acts, h, h_out)
    _pick(_GRU_FORWARD, h.size)(x, hh, acts, h, h_out)


def gru_step_backward(xp, dh, acts, h_prev):
    if not _gate_arrays(dh, acts, h_prev):
        return reference.gru_step_backward(xp, dh, acts, h_prev)
    width = 3 * h_prev.shape[1]
    dx, dhh = np.empty((h_prev.shape[0], width), np.float32), np.empty((h_prev.shape[0], width), np.float32)
    dh_skip = np.empty_like(h_prev)
    _pick(_GRU_BACKWARD, h_prev.size)(dh, acts, h_prev, dx, dhh, dh_skip)
    return dx, dhh, dh_skip


# ---------------------------------------------------------------------------------------------- sliding windows
# im2col, col2im, max pooling and its backward scatter over 2-d planes (4-d arrays of any strides), split across
# the cores by plane or by (kernel offset, plane): one pass over memory each, where the reference makes one
# strided pass per kernel offset. They only copy, compare and add, each sum in the reference's order, so the
# results are bit-identical. Other ranks (1-d, 3-d), dtypes, negative (cropping) pads run the reference.
# Input positions are computed with a signed offset, then cast to unsigned once known to lie inside: numba wraps
# a signed index that could be negative, a branch per element that keeps LLVM from vectorizing (measured 3-5x).
@njit(cache=True)
def _valid(start, stride, size, n_out):
    """The range [lo, hi) of output positions o whose input position o * stride + start lies in [0, size)."""
    lo = 0 if start >= 0 else (stride - 1 - start) // stride
    hi = 0 if size - 1 - start < 0 else min((size - 1 - start) // stride + 1, n_out)
    return min(lo, hi), hi


def _im2col_loop(planes, swapped, cols, sh, sw, ph, pw, dh, dw):
    n_c, n_kh, n_kw, n_n, n_oh, n_ow = cols.shape
    height, width = planes.shape[2], planes.shape[3]
    for task in prange(n_c * n_kh * n_kw * n_n):  # one (channel, kernel offset, image): an (out_h, out_w) block
        n, rest = task % n_n, task // n_n
        j, rest = rest % n_kw, rest // n_kw
        i, c = rest % n_kh, rest // n_kh
        plane, block = planes[c, n] if swapped else planes[n, c], cols[c, i, j, n]
        start = j * dw - pw
        lo, hi = _valid(start, sw, width, n_ow)
        for oh in range(n_oh):
            ih = oh * sh - ph + i * dh
            if 0 <= ih < height:
                for ow in range(n_ow):
                    block[oh, ow] = plane[uint64(ih), uint64(ow * sw + start)] if (ow >= lo) & (ow < hi) else 0
            else:
                block[oh] = 0


def _col2im_loop(cols, out, sh, sw, ph, pw, dh, dw):
    n_c, n_kh, n_kw, n_n, n_oh, n_ow = cols.shape
    height, width = out.shape[2], out.shape[3]
    for task in prange(n_c * n_n):  # one (channel, image) plane of out (C, N, H, W), summed offset by offset
        c, n = task // n_n, task % n_n
        plane = out[c, n]
        plane[:] = 0
        for i in range(n_kh):
            for j in range(n_kw):
                block, start = cols[c, i, j, n], j * dw - pw
                lo, hi = _valid(start, sw, width, n_ow)
                for oh in range(n_oh):
                    ih = oh * sh - ph + i * dh
                    if 0 <= ih < height:
                        for ow in range(lo, hi):
                            plane[uint64(ih), uint64(ow * sw + start)] += block[uint64(oh), uint64(ow)]


@njit(cache=True)
def _first_inside(n_out, n_k, stride, pad, dilation, size):
    """Per output position along one dim, the first kernel offset whose input position is inside (else 0)."""
    first = np.zeros(n_out, np.int64)
    for o in range(n_out):
        for k in range(n_k - 1, -1, -1):
            if 0 <= o * stride - pad + k * dilation < size:
                first[o] = k
    return first


def _max_pool_loop(x, best, which, n_kh, n_kw, sh, sw, ph, pw, dh, dw, lowest):
    n_a, n_b, n_oh, n_ow = best.shape
    height, width = x.shape[2], x.shape[3]
    los, his = np.empty(n_kw, np.int64), np.empty(n_kw, np.int64)
    for j in range(n_kw):
        los[j], his[j] = _valid(j * dw - pw, sw, width, n_ow)
    first_i, first_j = _first_inside(n_oh, n_kh, sh, ph, dh, height), _first_inside(n_ow, n_kw, sw, pw, dw, width)
    for task in prange(n_a * n_b):
        a, b = task // n_b, task % n_b
        plane, brow, wrow = x[a, b], best[a, b], which[a, b]
        brow[:] = lowest
        for oh in range(n_oh):
            for ow in range(n_ow):
                wrow[oh, ow] = first_i[oh] * n_kw + first_j[ow]
            # Offset by offset over a row of windows, each step a select (no unpredictable branch). From
            # (lowest, first offset inside) this gives the reference's result; a padded position holds lowest,
            # which never wins, so it is skipped.
            for i in range(n_kh):
                ih = oh * sh - ph + i * dh
                if ih < 0 or ih >= height:
                    continue
                for j in range(n_kw):
                    k, start = i * n_kw + j, j * dw - pw
                    for ow in range(los[j], his[j]):
                        at = uint64(ow)
                        v, m, w = plane[uint64(ih), uint64(ow * sw + start)], brow[oh, at], wrow[oh, at]
                        wins = (v > m) | (v != v)  # the reference's (torch's) rule: greater, or NaN
                        wrow[oh, at] = k if wins else w
                        brow[oh, at] = v if wins else m


def _window_scatter_loop(g, which, out, n_kh, n_kw, sh, sw, ph, pw, dh, dw, disjoint):
    n_a, n_b, n_oh, n_ow = which.shape
    height, width = out.shape[2], out.shape[3]
    for task in prange(n_a * n_b):
        a, b = task // n_b, task % n_b
        plane = out[a, b]
        plane[:] = 0
        # disjoint windows write each input at most once; else sum offset by offset, as the reference
        for k in range(1 if disjoint else n_kh * n_kw):
            for oh in range(n_oh):
                for ow in range(n_ow):
                    won = which[a, b, oh, ow]
                    if disjoint or won == k:
                        ih, iw = oh * sh - ph + won // n_kw * dh, ow * sw - pw + won % n_kw * dw
                        if 0 <= ih < height and 0 <= iw < width:
                            if disjoint:
                                plane[uint64(ih), uint64(iw)] = g[a, b, oh, ow]
                            else:
                                plane[uint64(ih), uint64(iw)] += g[a, b, oh, ow]


# MaxPool2d(2), the commonest pool, with its geometry as constants: LLVM then vectorizes across windows (the
# loops above, with the geometry as arguments, stay scalar): 2x2 windows, stride 2, no padding or dilation.
def _max_pool_2x2_loop(x, best, which):
    n_a, n_b, n_oh, n_ow = best.shape
    for task in prange(n_a * n_b):
        a, b = task // n_b, task % n_b
        plane, brow, wrow = x[a, b], best[a, b], which[a, b]
        for oh in range(n_oh):
            for ow in range(n_ow):
                m, w = plane[2 * oh, 2 * ow], 0
                for k in range(1, 4):
                    v = plane[2 * oh + k // 2, 2 * ow + k % 2]
                    wins = (v > m) | (v != v)  # as _max_pool_loop
                    w = k if wins else w
                    m = v if wins else m
                brow[oh, ow] = m
                wrow[oh, ow] = w


def _window_scatter_2x2_loop(g, which, out):
    n_a, n_b, n_oh, n_ow = which.shape
    for task in prange(n_a * n_b):
        a, b = task // n_b, task % n_b
        plane, grow, wrow = out[a, b], g[a, b], which[a, b]
        plane[2 * n_oh:] = 0  # an odd size's last row and column lie in no window
        plane[:, 2 * n_ow:] = 0
        for oh in range(n_oh):
            for ow in range(n_ow):
                w, v = wrow[oh, ow], grow[oh, ow]
                for k in range(4):
                    plane[2 * oh + k // 2, 2 * ow + k % 2] = v if w == k else 0


_IM2COL, _COL2IM = _compiled(_im2col_loop), _compiled(_col2im_loop)
_MAX_POOL, _WINDOW_SCATTER = _compiled(_max_pool_loop), _compiled(_window_scatter_loop)
_MAX_POOL_2X2, _WINDOW_SCATTER_2X2 = _compiled(_max_pool_2x2_loop), _compiled(_window_scatter_2x2_loop)


def _planes_2d(padding, a):
    """Whether the window twins apply: a NumPy float array, two spatial dims, no negative (cropping) pad."""
    return (type(a) is np.ndarray and a.dtype in _FLOATS and len(padding) == 2
            and all(lo >= 0 and hi >= 0 for lo, hi in padding))


def _is_2x2(kernel, stride, padding, dilation):
    return kernel == stride == (2, 2) and dilation == (1, 1) and padding == ((0, 0), (0, 0))


def _geometry(stride, padding, dilation):
    (sh, sw), ((ph, _), (pw, _)), (dh, dw) = stride, padding, dilation
    return sh, sw, ph, pw, dh, dw


def im2col(xp, x, kernel, stride, padding, dilation):
    if not _planes_2d(padding, x):
        return reference.im2col(xp, x, kernel, stride, padding, dilation)
    out = reference.conv_out_shape(x.shape[2:], kernel, stride, padding, dilation)
    cols = np.empty((x.shape[1], *kernel, x.shape[0], *out), dtype=x.dtype)
    planes, swapped = reference.memory_order(x)  # a channel-major input: read as dense (C, N, H, W) planes
    _pick(_IM2COL, cols.size)(planes, swapped, cols, *_geometry(stride, padding, dilation))
    return cols


def col2im(xp, cols, shape, kernel, stride, padding, dilation):
    if not _planes_2d(padding, cols):
        return reference.col2im(xp, cols, shape, kernel, stride, padding, dilation)
    out = np.empty((shape[1], shape[0], *shape[2:]), dtype=cols.dtype)  # channel-major, as the reference
    _pick(_COL2IM, cols.size)(cols, out, *_geometry(stride, padding, dilation))
    return out.swapaxes(0, 1)


def max_pool(xp, x, kernel, stride, padding, dilation, out):
    if not _planes_2d(padding, x):
        return reference.max_pool(xp, x, kernel, stride, padding, dilation, out)
    planes, swap = reference.memory_order(x)
    best = np.empty(planes.shape[:2] + tuple(out), dtype=x.dtype)
    which = np.empty(best.shape, dtype=reference.offset_dtype(np, kernel))
    if _is_2x2(kernel, stride, padding, dilation):
        _pick(_MAX_POOL_2X2, planes.size)(planes, best, which)
    else:
        _pick(_MAX_POOL, planes.size)(planes, best, which, *kernel, *_geometry(stride, padding, dilation),
                                      x.dtype.type(-np.inf))
    return reference.swapped(best, swap), reference.swapped(which, swap)


def window_scatter(xp, grad, which, shape, kernel, stride, padding, dilation):
    if not _planes_2d(padding, grad):
        return reference.window_scatter(xp, grad, which, shape, kernel, stride, padding, dilation)
    which, swap = reference.memory_order(which)
    g = reference.swapped(grad, swap)
    out = np.empty(which.shape[:2] + tuple(shape[2:]), dtype=grad.dtype)
    if _is_2x2(kernel, stride, padding, dilation):
        _pick(_WINDOW_SCATTER_2X2, out.size)(g, which, out)
    else:
        _pick(_WINDOW_SCATTER, out.size)(g, which, out, *kernel, *_geometry(stride, padding, dilation),
                                         reference.disjoint(kernel, stride, dilation))
    return reference.swapped(out, swap)
