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
from .reference import nll, scatter_add, softmax_pair  # noqa: F401  (no faster twin: BLAS / SIMD exp)

_FLOATS = (np.dtype(np.float32), np.dtype(np.float64))

# Below this many elements a loop runs on one thread: waking the pool costs more than it saves.
PARALLEL_MIN = 1 << 15


def _compiled(loop):
    """(serial, parallel) compilations of one loop: in the serial one, prange is a plain range."""
    return (njit(fastmath=False, cache=True)(loop),
            njit(parallel=True, fastmath=False, cache=True)(loop))


def _pick(loops, size):
    return loops[size >= PARALLEL_MIN]


def _flat(*arrays):
    """1-D views of same-shape, same-dtype float arrays that share one contiguous layout, or None."""
    first = arrays[0]
    if type(first) is not np.ndarray or first.dtype not in _FLOATS:
        return None
    for a in arrays[1:]:
        if type(a) is not np.ndarray or a.dtype != first.dtype or a.shape != first.shape:
            return None
    if all(a.flags.c_contiguous for a in arrays):
        return [a.reshape(-1) for a in arrays]
    if all(a.flags.f_contiguous for a in arrays):  # e.g. Linear's weight, stored as a transpose
        return [a.T.reshape(-1) for a in arrays]
    return None


# ---------------------------------------------------------------------------------------------- ReLU
def _relu_loop(a, out, zero):
    for i in prange(a.size):
        x = a[i]
        out[i] = x if x > zero or np.isnan(x) else zero  # np.maximum(x, 0): nan stays, -0.0 becomes +0.0


def _relu_backward_loop(grad, out, result, zero):
    for i in prange(grad.size):
        g = grad[i]
        result[i] = g if out[i] > zero else g * zero  # grad * (out > 0): -0.0 and nan exactly as NumPy


_RELU = _compiled(_relu_loop)
_RELU_BACKWARD = _compiled(_relu_backward_loop)


def relu(xp, a):
    flat = _flat(a)
    if flat is None:
        return reference.relu(xp, a)
    out = np.empty_like(a)
    _pick(_RELU, a.size)(flat[0], _flat(out)[0], a.dtype.type(0))
    return out


def relu_backward(grad, out):
    flat = _flat(grad, out)
    if flat is None:
        return reference.relu_backward(grad, out)
    result = np.empty_like(grad)
    _pick(_RELU_BACKWARD, grad.size)(flat[0], flat[1], _flat(result)[0], grad.dtype.type(0))
    return result


# ---------------------------------------------------------------------------------------------- cross-entropy
def _cross_entropy_backward_loop(probs, coeffs, grad, out):
    for i in prange(probs.shape[0]):
        total = coeffs[i, 0] * 0  # the row's coefficient sum, in the dtype
        for j in range(probs.shape[1]):
            total += coeffs[i, j]
        g = grad[i]
        factor = total * g
        for j in range(probs.shape[1]):
            out[i, j] = probs[i, j] * factor - coeffs[i, j] * g


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
