"""The reference kernels: each hot path written once with plain array expressions.

These are what every other twin (``numba_cpu``, ``cuda``) is tested against, and the fallback
whenever a twin does not apply (another dtype, an odd memory layout, no numba). They run on
NumPy and, where a twin has no kernel of its own, on CuPy too, so they use array methods or the
``xp`` they are given, never a numpy-only call on the array at hand.
"""
from __future__ import annotations

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


def lstm_step_backward(xp, dh, dc_in, acts, c_prev):
    """One LSTM step's gate derivatives: (d pre-activations (B, 4H), the gradient passed to the previous
    cell state) from the gradients dh, dc_in reaching h' and c', the step's ``acts`` and previous cell state."""
    hidden = c_prev.shape[-1]
    i, f, g, o, tanh_c = (acts[:, k * hidden:(k + 1) * hidden] for k in range(5))
    dc = dc_in + dh * o * (1 - tanh_c * tanh_c)  # h = o * tanh(c)
    dg = xp.concatenate([dc * g * i * (1 - i), dc * c_prev * f * (1 - f), dc * i * (1 - g * g),
                         dh * tanh_c * o * (1 - o)], axis=-1)
    return dg, dc * f


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
