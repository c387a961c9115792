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

import numpy as np
from numba import njit, prange

from . import reference
from .reference import nll, scatter_add  # noqa: F401  (no faster twin: a BLAS dot, a scatter)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# Below this many elements a loop runs on one thread: waking the pool costs more than it saves.
PARALLEL_MIN = 1 << 15
# Below this many elements a one-ufunc kernel (ReLU) stays with NumPy: calling into numba costs ~3 us.
NUMPY_MAX = 1 << 13


def _compiled(loop):
    """(serial, parallel) compilations of one loop: in the serial one, prange is a plain range."""
    return (njit(fastmath=False, cache=True)(loop),
            njit(parallel=True, fastmath=False, cache=True)(loop))


@njit(fastmath={"reassoc"}, cache=True)
def _row_sum(row):
    """A row's sum in float64, reassociated so that it vectorizes: like NumPy's pairwise sum, it rounds in
    its own order, so only this and the sums built on it are not bit-identical to the reference."""
    total = 0.0
    for j in range(row.size):
        total += row[j]
    return total


def _pick(loops, size):
    return loops[size >= PARALLEL_MIN]


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


def relu(xp, a):
    flat = _flat(a) if a.size >= NUMPY_MAX else None
    if flat is None:
        return reference.relu(xp, a)
    out = np.empty_like(a)
    _pick(_RELU, a.size)(flat[0], _flat(out)[0], a.dtype.type(0))
    return out


def relu_backward(grad, out):
    flat = _flat(grad, out) if grad.size >= NUMPY_MAX else None
    if flat is None:
        return reference.relu_backward(grad, out)
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


def _softmax_loop(x, row_max, logp, probs):
    for i in prange(x.shape[0]):
        xi, logp_i, probs_i = x[i], logp[i], probs[i]  # contiguous rows: the inner loops vectorize
        m = row_max[i]  # NumPy's max: a nan in the row makes it nan, and so the whole row, as the reference
        for j in range(xi.size):
            probs_i[j] = _exp_nonpositive(xi[j] - m)
        total = _row_sum(probs_i)
        total32 = np.float32(total)
        log_total = np.float32(np.log(total))
        for j in range(xi.size):
            logp_i[j] = (xi[j] - m) - log_total
            probs_i[j] = probs_i[j] / total32


_SOFTMAX = _compiled(_softmax_loop)


def softmax_pair(xp, x, dim):
    if x.ndim != 2 or dim not in (1, -1) or type(x) is not np.ndarray or x.dtype != np.float32 \
            or not x.flags.c_contiguous:
        return reference.softmax_pair(xp, x, dim)
    logp, probs = np.empty_like(x), np.empty_like(x)
    _pick(_SOFTMAX, x.size)(x, x.max(axis=1), logp, probs)  # NumPy's max is faster than a loop without fastmath
    return logp, probs


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
