"""The CUDA twins of the reference kernels: each hot path as one fused CuPy kernel.

Imported only by ``backend.kernels`` once it has a CuPy array in hand (building a kernel needs a
working GPU), so importing minigrad never imports cupy from here. Kernels without a fused twin
yet run the reference, which is written with ``xp`` and array methods and so runs on CuPy too.
"""
from __future__ import annotations

import cupy as cp
import cupyx

from .reference import (  # noqa: F401  (no fused twin yet: the reference runs on CuPy arrays too)
    adam_step_,
    gru_step_backward,
    gru_step_forward,
    lstm_step_backward,
    lstm_step_forward,
    relu,
    softmax_grad,
    softmax_pair,
    softmax_stats,
)
from .reference import sgd_step_ as reference_sgd_step_
from .reference import col2im, im2col, max_pool, window_scatter  # noqa: F401  (strided copies on CuPy)

_relu_backward = cp.ElementwiseKernel(
    "T grad, T out", "T dx", "dx = out > (T)0 ? grad : (T)0", "minigrad_relu_backward")

_cross_entropy_backward = cp.ElementwiseKernel(
    "T prob, T coeff, T coeff_sum, T grad", "T dx", "dx = grad * (prob * coeff_sum - coeff)",
    "minigrad_cross_entropy_backward")

# torch's SGD rule in one pass over each parameter: decay, momentum (first buffer = the step), nesterov, update.
_sgd_momentum = cp.ElementwiseKernel(
    "T grad, float64 lr, float64 momentum, float64 dampening, float64 weight_decay, bool nesterov, "
    "bool maximize, bool first",
    "T param, T buf",
    """
    T step = maximize ? -grad : grad;
    step += (T)weight_decay * param;
    buf = first ? step : (T)momentum * buf + (T)(1 - dampening) * step;
    step = nesterov ? step + (T)momentum * buf : buf;
    param -= (T)lr * step;
    """,
    "minigrad_sgd_momentum")


# -sum(coeffs * logp) with a zero coefficient ignoring a -inf log-probability, in one reduction: no
# temporary, and no host round trip to ask whether the plain sum came out nan (a device sync).
_nll = cp.ReductionKernel(
    "T coeff, T logp", "T loss", "coeff != (T)0 ? coeff * logp : (T)0", "a + b", "loss = -a", "0",
    "minigrad_nll")


def nll(xp, logp, coeffs, dim, reduce):  # noqa: ARG001  (every twin has the reference's signature)
    return _nll(coeffs, logp) if reduce else _nll(coeffs, logp, axis=dim)


def scatter_add(out, key, values):
    cupyx.scatter_add(out, key, values)  # atomic adds: repeated indices accumulate


def relu_backward(grad, out):
    return _relu_backward(grad, out)


def cross_entropy_backward(xp, probs, coeffs, grad, dim):  # noqa: ARG001  (the reference's signature)
    return _cross_entropy_backward(probs, coeffs, coeffs.sum(axis=dim, keepdims=True), grad)


def sgd_step_(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    if not momentum:  # no buffer to carry: the plain expression is already a single pass
        return reference_sgd_step_(param, grad, buf, lr=lr, momentum=momentum, dampening=dampening,
                                   weight_decay=weight_decay, nesterov=nesterov, maximize=maximize, first=first)
    _sgd_momentum(grad, lr, momentum, dampening, weight_decay, nesterov, maximize, first, param, buf)
