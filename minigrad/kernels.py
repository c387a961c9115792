"""Hot-path fusions, written once with plain array expressions (the NumPy path and the reference).

On CUDA the backend swaps in ``_cuda_kernels``, which has the same functions as single fused kernels
(one launch instead of several); tests check each against these.
"""
from __future__ import annotations


def relu_backward(grad, out):
    return grad * (out > 0)  # the gradient at exactly 0 is 0, as torch


def cross_entropy_backward(xp, logp, coeffs, grad, dim):
    """d/dlogits of -sum(coeffs * log_softmax(logits)): softmax * sum(coeffs) - coeffs, times grad."""
    out = xp.exp(logp)
    out *= coeffs.sum(axis=dim, keepdims=True)
    out -= coeffs
    out *= grad
    return out


def sgd_step_(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    """torch's SGD update in place on raw arrays; ``buf`` is the momentum buffer (None without momentum)."""
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
