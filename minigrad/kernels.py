"""Hot-path fusions, written once with plain array expressions (the NumPy path and the reference).

On CUDA the backend swaps in ``_cuda_kernels``, which has the same functions as single fused kernels
(one launch instead of several); tests check each against these.
"""
from __future__ import annotations

import numpy as np


def scatter_add(out, key, values):
    """out[key] += values, where repeated indices in key accumulate."""
    np.add.at(out, key, values)


def relu_backward(grad, out):
    return grad * (out > 0)  # the gradient at exactly 0 is 0, as torch


def cross_entropy_backward(xp, probs, coeffs, grad, dim):
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
