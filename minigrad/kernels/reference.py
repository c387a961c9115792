"""The reference kernels: each hot path written once with plain array expressions.

These are what every other twin (``numba_cpu``, ``cuda``) is tested against, and the fallback
whenever a twin does not apply (another dtype, an odd memory layout, no numba). They run on
NumPy and, where a twin has no kernel of its own, on CuPy too, so they use array methods or the
``xp`` they are given, never a numpy-only call on the array at hand.
"""
from __future__ import annotations

from itertools import product
from math import prod

import numpy as np


def scatter_add(out, key, values):
    """out[key] += values, where repeated indices in key accumulate."""
    np.add.at(out, key, values)


def relu(xp, a):
    return xp.maximum(a, 0)  # nan stays nan and -0.0 becomes +0.0, as torch


def relu_backward(grad, out):
    # torch's threshold_backward: where out <= 0 the gradient is 0 (+0.0), even a nan or inf one; at exactly 0
    # it is 0 too. (grad * (out > 0) would give nan for inf * 0.) np.where dispatches to cupy's for cupy arrays.
    return np.where(out > 0, grad, grad.dtype.type(0))


def softmax_pair(xp, x, dim):
    """(log_softmax, softmax) of x: shifted by the max first, so logits of any magnitude stay finite.
    Returning both saves the backward pass an exp over the whole input."""
    logp = x - x.max(axis=dim, keepdims=True)
    probs = xp.exp(logp)
    total = probs.sum(axis=dim, keepdims=True)
    logp -= xp.log(total)
    probs /= total
    return logp, probs


def nll(xp, logp, coeffs, dim, reduce):
    """-sum(coeffs * logp) over the class dim (and over samples when ``reduce``)."""
    if reduce and coeffs.shape == logp.shape:
        out = -xp.vdot(coeffs, logp)  # one BLAS pass, no temporary
    else:
        out = -(coeffs * logp).sum(axis=dim)
    if xp.isnan(out).any():  # rare: redo so a zero coefficient ignores a -inf log-probability
        with np.errstate(invalid="ignore"):  # inf * 0 in the discarded branch; cupy never warns
            out = -xp.where(coeffs != 0, coeffs * logp, 0).sum(axis=dim)
    return out.sum() if reduce else out


def cross_entropy_backward(xp, probs, coeffs, grad, dim):  # noqa: ARG001  (xp: for twins that need it)
    """d/dlogits of -sum(coeffs * log_softmax(logits)): grad * (softmax * sum(coeffs) - coeffs)."""
    out = probs * (coeffs.sum(axis=dim, keepdims=True) * grad)  # grad folded into the small per-sample factor
    if grad.ndim == 0 and grad == 1:  # the usual scalar loss: skip a full pass
        out -= coeffs
    else:
        out -= coeffs * grad
    return out


def softmax_stats(xp, x):
    """Per row of a 2-D x, (max, log of the sum of exp(x - max)): all a cross-entropy with class-index targets
    keeps of its logits. log_softmax is (x - max) - log_total, recomputed where needed instead of stored."""
    shift = x.max(axis=1)
    shifted = x - shift[:, None]
    xp.exp(shifted, out=shifted)
    return shift, xp.log(shifted.sum(axis=1))


def softmax_grad(xp, x, shift, log_total, scale):
    """softmax(x) * scale per row of a 2-D x, from softmax_stats' (shift, log_total): the part of the
    cross-entropy gradient that covers every class."""
    out = x - shift[:, None]
    out -= log_total[:, None]
    xp.exp(out, out=out)
    out *= scale[:, None]
    return out


# Elements per block of the SGD update: the parameter, grad, buffer and a temporary of this size stay in
# cache across the update's several passes, instead of streaming each whole array from memory per pass.
SGD_BLOCK = 1 << 16


def sgd_step_(param, grad, buf, **options):
    """torch's SGD update in place on raw arrays; ``buf`` is the momentum buffer (None without momentum)."""
    if param.ndim == 0 or param.size <= SGD_BLOCK:
        return _sgd_block(param, grad, buf, **options)
    axis = max(range(param.ndim), key=lambda a: abs(param.strides[a]))  # blocks of whole memory rows
    count = param.shape[axis]
    per_block = max(1, SGD_BLOCK * count // param.size)
    for start in range(0, count, per_block):
        block = (slice(None),) * axis + (slice(start, start + per_block),)
        _sgd_block(param[block], grad[block], None if buf is None else buf[block], **options)


def _sgd_block(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    step = -grad if maximize else grad
    if weight_decay:
        step = step + weight_decay * param
    if momentum:
        if first:  # torch: the first buffer is a copy of the gradient, not (1 - dampening) * grad
            buf[...] = step
        else:
            buf *= momentum
            buf += step if dampening == 0 else (1 - dampening) * step
        step = step + momentum * buf if nesterov else buf
    param -= lr * step


def adam_step_(xp, param, grad, exp_avg, exp_avg_sq, max_exp_avg_sq, *, step, lr, beta1, beta2, eps,
               weight_decay, decoupled, maximize):
    """torch's Adam/AdamW update (``_single_tensor_adam``) in place; ``max_exp_avg_sq`` is None without amsgrad."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        if decoupled:  # AdamW
            param *= 1 - lr * weight_decay
        else:
            grad = grad + weight_decay * param
    # exp_avg.lerp_(grad, 1 - beta1), as torch; one scratch array serves every temporary below
    scratch = grad - exp_avg
    scratch *= 1 - beta1
    exp_avg += scratch
    # exp_avg_sq.mul_(beta2).addcmul_(grad, grad, value=1 - beta2)
    exp_avg_sq *= beta2
    xp.multiply(grad, 1 - beta2, out=scratch)
    scratch *= grad
    exp_avg_sq += scratch
    step_size = lr / (1 - beta1 ** step)
    bias_correction2_sqrt = (1 - beta2 ** step) ** 0.5
    second = exp_avg_sq
    if max_exp_avg_sq is not None:
        second = max_exp_avg_sq
        xp.maximum(second, exp_avg_sq, out=second)
    xp.sqrt(second, out=scratch)
    scratch /= bias_correction2_sqrt
    scratch += eps
    # param.addcdiv_(exp_avg, denom, value=-step_size)
    xp.divide(exp_avg, scratch, out=scratch)
    scratch *= step_size
    param -= scratch


# ---------------------------------------------------------------------------------------------- recurrent gates
# One time step's gate math of ops/rnn.py's Recurrence, the recurrent matrix product left to the caller (BLAS).
# The forward kernels write in place into the layer's saved buffers; the backward ones only read, in the
# vocabulary of a Function's backward (operators, xp.concatenate), so that a recorded backward runs them on
# Tensors unchanged.
def _sigmoid_(xp, a):
    """sigmoid in place, as tanh(a / 2) / 2 + 1 / 2 (as ops.Sigmoid: never overflows); allocates nothing."""
    a *= 0.5
    xp.tanh(a, out=a)
    a *= 0.5
    a += 0.5


def lstm_step_forward(xp, x, acts, c, h_out, c_out):
    """One LSTM step. ``acts`` (B, 5H) holds h @ W_hh.T in its first 4H columns on entry and (i, f, g, o,
    tanh c') on return; x (B, 4H) is the step's input projection, c (B, H) the previous cell state;
    writes c' = f c + i g into c_out and h' = o tanh c' into h_out."""
    hidden = c.shape[-1]
    gates = acts[:, :4 * hidden]
    gates += x
    i, f, g, o, tanh_c = (acts[:, k * hidden:(k + 1) * hidden] for k in range(5))
    _sigmoid_(xp, gates[:, :2 * hidden])
    xp.tanh(g, out=g)
    _sigmoid_(xp, o)
    xp.multiply(f, c, out=c_out)
    c_out += i * g
    xp.tanh(c_out, out=tanh_c)
    xp.multiply(o, tanh_c, out=h_out)


def lstm_step_backward(xp, dh, dc_in, acts, c_prev, dh_rec=None, dc_rec=None, out=None):
    """One LSTM step's gate derivatives: (d pre-activations (B, 4H), the gradient passed to the previous
    cell state), from the step's ``acts`` and previous cell state and the gradients reaching h' and c':
    dh, dc_in from outside the layer plus dh_rec, dc_rec from the next step (None: nothing comes back).
    ``out``: (dg, dc_prev) arrays to write the results into (not in a recorded backward), else new arrays."""
    hidden = c_prev.shape[-1]
    i, f, g, o, tanh_c = (acts[:, k * hidden:(k + 1) * hidden] for k in range(5))
    if dh_rec is not None:
        dh, dc_in = dh + dh_rec, dc_in + dc_rec
    dc = dc_in + dh * o * (1 - tanh_c * tanh_c)  # h = o * tanh(c)
    parts = [dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g), dh * tanh_c * o * (1 - o)]
    if out is None:
        return xp.concatenate(parts, axis=-1), dc * f
    for k, part in enumerate(parts):
        out[0][:, k * hidden:(k + 1) * hidden] = part
    xp.multiply(dc, f, out=out[1])
    return out


def gru_step_forward(xp, x, hh, acts, h, h_out):
    """One GRU step. ``hh`` (B, 3H) = h @ W_hh.T + b_hh, x (B, 3H) the step's input projection, h (B, H)
    the previous state; writes (r, z, n, W_hn h + b_hn) into ``acts`` (B, 4H) and h' into h_out."""
    hidden = h.shape[-1]
    r, z, n, hn = (acts[:, k * hidden:(k + 1) * hidden] for k in range(4))
    rz = acts[:, :2 * hidden]
    xp.add(x[:, :2 * hidden], hh[:, :2 * hidden], out=rz)
    _sigmoid_(xp, rz)
    hn[...] = hh[:, 2 * hidden:]
    xp.multiply(r, hn, out=n)
    n += x[:, 2 * hidden:]
    xp.tanh(n, out=n)
    xp.subtract(h, n, out=h_out)
    h_out *= z
    h_out += n  # (1 - z) * n + z * h


def gru_step_backward(xp, dh, acts, h_prev):
    """One GRU step's gate derivatives from the gradient dh reaching h': (d input projection (B, 3H),
    d (h @ W_hh.T + b_hh) (B, 3H), the part of the previous state's gradient that skips W_hh: dh z)."""
    hidden = h_prev.shape[-1]
    r, z, n, hn = (acts[:, k * hidden:(k + 1) * hidden] for k in range(4))
    dn = dh * (1 - z) * (1 - n * n)  # h = (1 - z) * n + z * h_prev
    dr, dz = dn * hn * r * (1 - r), dh * (h_prev - n) * z * (1 - z)
    return xp.concatenate([dr, dz, dn], axis=-1), xp.concatenate([dr, dz, dn * r], axis=-1), dh * z


# ---------------------------------------------------------------------------------------------- sliding windows
# im2col / col2im (ops/conv.py) and max pooling (ops/pool.py), with the window geometry they share. Each loops
# over the kernel offsets, not over the windows: one strided view of the padded input per offset, so every pass
# is a whole-array expression. ``padding`` holds one (lo, hi) pair per spatial dim.
def out_size(size: int, kernel: int, stride: int, lo: int, hi: int, dilation: int) -> int:
    """Output length of a sliding window (floor mode) over ``size`` padded by ``lo``/``hi``."""
    return (size + lo + hi - dilation * (kernel - 1) - 1) // stride + 1


def conv_out_shape(spatial, kernel, stride, padding, dilation) -> tuple:
    return tuple(out_size(n, k, s, lo, hi, d)
                 for n, k, s, (lo, hi), d in zip(spatial, kernel, stride, padding, dilation))


def window(offset, out, stride, dilation) -> tuple:
    """The slices of a padded input that kernel position ``offset`` sees across all output positions."""
    return tuple(slice(o * d, o * d + s * (n - 1) + 1, s) for o, n, s, d in zip(offset, out, stride, dilation))


def offsets(kernel):
    """The kernel positions in row-major order: the order every window loop (and its twins) visits them."""
    return product(*(range(k) for k in kernel))


def offset_at(kernel, k):
    """The ``k``-th of ``offsets(kernel)``."""
    position = []
    for size in reversed(kernel):
        k, o = divmod(k, size)
        position.append(o)
    return tuple(reversed(position))


def padded(xp, x, padding, value=0):
    """``x`` with its trailing dims padded by ``(lo, hi)`` pairs (a negative pad crops), in x's memory order."""
    if not any(lo or hi for lo, hi in padding):
        return x
    lead = x.ndim - len(padding)
    crop = tuple(slice(max(-lo, 0), n - max(-hi, 0)) for n, (lo, hi) in zip(x.shape[lead:], padding))
    x = x[(Ellipsis,) + crop]
    shape = x.shape[:lead] + tuple(n + max(lo, 0) + max(hi, 0) for n, (lo, hi) in zip(x.shape[lead:], padding))
    out = xp.empty_like(x, shape=shape)  # order 'K': a channel-major input stays channel-major
    out.fill(value)
    out[(Ellipsis,) + tuple(slice(max(lo, 0), max(lo, 0) + n) for n, (lo, _) in zip(x.shape[lead:], padding))] = x
    return out


def cropped(x, shape, padding):
    """The inverse of zero padding: the interior of ``x`` of the given spatial ``shape`` (a view)."""
    return x[(Ellipsis,) + tuple(slice(lo, lo + n) for n, (lo, _) in zip(shape, padding))]


def memory_order(x):
    """``x`` (N, C, ...) with its first two axes swapped when C is the outer one in memory, and whether it was.
    Pooling treats every (n, c) plane alike, so either order gives the same result once swapped back."""
    swap = x.ndim > 2 and x.shape[0] > 1 and x.shape[1] > 1 and x.strides[1] > x.strides[0]
    return swapped(x, swap), swap


def swapped(a, swap: bool):
    """``a`` with its first two axes swapped when ``swap``: memory_order's swap applied to a companion array, or
    undone on a result (a swap is its own inverse)."""
    return a.swapaxes(0, 1) if swap else a


def offset_dtype(xp, kernel):
    """The integer type of max pooling's ``which`` (a kernel offset): int8, or int16 past 127 offsets."""
    return xp.int16 if prod(kernel) > 127 else xp.int8


def im2col(xp, x, kernel, stride, padding, dilation):
    """(N, C, *spatial) -> columns (C, *kernel, N, *out), one strided copy per kernel offset. This layout makes a
    convolution ONE matrix product for the whole batch (see ops/conv.py)."""
    n, c = x.shape[:2]
    out = conv_out_shape(x.shape[2:], kernel, stride, padding, dilation)
    planes = xp.swapaxes(padded(xp, x, padding), 0, 1)  # (C, N, ...): the columns' order
    cols = xp.empty((c, *kernel, n, *out), dtype=x.dtype)
    for offset in offsets(kernel):
        cols[(slice(None),) + offset] = planes[(slice(None), slice(None)) + window(offset, out, stride, dilation)]
    return cols


def col2im(xp, cols, shape, kernel, stride, padding, dilation):
    """The adjoint of im2col: columns (C, *kernel, N, *out) summed into an (N, C, *spatial) array (channel-major
    in memory). Each input position sums its contributions in kernel-offset order, starting from +0.0."""
    n, c = shape[:2]
    out = cols.shape[2 + len(kernel):]
    size = tuple(m + lo + hi for m, (lo, hi) in zip(shape[2:], padding))
    planes = xp.zeros((c, n, *size), dtype=cols.dtype)  # channel-major, as the columns
    for offset in offsets(kernel):
        planes[(slice(None), slice(None)) + window(offset, out, stride, dilation)] += cols[(slice(None),) + offset]
    return cropped(xp.swapaxes(planes, 0, 1), shape[2:], padding)


def _lowest(xp, dtype):
    return -float("inf") if dtype.kind == "f" else xp.iinfo(dtype).min


def max_pool(xp, x, kernel, stride, padding, dilation, out):
    """(max over each window, which kernel offset won) for x (N, C, *spatial) and output size ``out``: torch's
    argmax, the first maximum or else the last NaN, and for a window of nothing above the dtype's lowest value its
    first position inside the input. Padding (hi also covers ceil_mode's partial windows) holds that lowest value,
    which never wins. Both results have x's memory order (N- or C-major)."""
    planes, swap = memory_order(x)
    lowest = _lowest(xp, x.dtype)
    planes = padded(xp, planes, padding, lowest)
    views = [planes[(Ellipsis,) + window(o, out, stride, dilation)] for o in offsets(kernel)]
    best = xp.full(views[0].shape, lowest, dtype=x.dtype)
    which = xp.zeros(best.shape, dtype=offset_dtype(xp, kernel))
    if any(lo or hi for lo, hi in padding):  # start from each window's first offset inside the input, as torch
        inside = padded(xp, xp.ones(x.shape[2:], dtype=bool), padding, False)
        for k in range(len(views) - 1, -1, -1):
            xp.copyto(which, k, where=inside[window(offset_at(kernel, k), out, stride, dilation)])
    for k, v in enumerate(views):
        # torch's rule: a strictly greater value wins (so the first of equal maxima stays, +0.0 vs -0.0 too,
        # where xp.maximum may keep either), and so does every NaN (the last NaN is the argmax)
        wins = v > best
        if best.dtype.kind == "f":
            wins |= xp.isnan(v)
        xp.copyto(best, v, where=wins)
        xp.copyto(which, k, where=wins)
    return swapped(best, swap), swapped(which, swap)


def disjoint(kernel, stride, dilation) -> bool:
    """Whether no two windows overlap (each input position lies in at most one)."""
    return all(s >= d * (k - 1) + 1 for k, s, d in zip(kernel, stride, dilation))


def window_scatter(xp, grad, which, shape, kernel, stride, padding, dilation):
    """Max pooling's backward: each output's gradient added to the input position its window picked (``which``,
    a kernel offset), into an array of ``shape`` with which's memory order (the pooled input's). Positions
    picked by several windows sum them in kernel-offset order."""
    which, swap = memory_order(which)
    g = swapped(grad, swap)
    size = tuple(n + lo + hi for n, (lo, hi) in zip(shape[2:], padding))
    planes = xp.zeros(which.shape[:2] + size, dtype=grad.dtype)
    each_once = disjoint(kernel, stride, dilation)
    for k, o in enumerate(offsets(kernel)):
        view = planes[(Ellipsis,) + window(o, which.shape[2:], stride, dilation)]
        if each_once:  # each input written at most once: a masked copy, with no temporary
            xp.copyto(view, g, where=which == k)
        else:
            view += xp.where(which == k, g, 0)
    return swapped(cropped(planes, shape[2:], padding), swap)
