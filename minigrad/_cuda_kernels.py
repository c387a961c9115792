"""The CUDA twins of ``kernels``: each hot path as one fused CuPy kernel. Loaded only when a GPU is in use."""
from __future__ import annotations

from .backend import _cupy as cp
from .backend import _cupyx
from .kernels import sgd_step_ as reference_sgd_step_

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


def scatter_add(out, key, values):
    _cupyx.scatter_add(out, key, values)  # atomic adds: repeated indices accumulate


def relu_backward(grad, out):
    return _relu_backward(grad, out)


def cross_entropy_backward(xp, probs, coeffs, grad, dim):
    return _cross_entropy_backward(probs, coeffs, coeffs.sum(axis=dim, keepdims=True), grad)


def sgd_step_(param, grad, buf, *, lr, momentum, dampening, weight_decay, nesterov, maximize, first):
    if not momentum:  # no buffer to carry: the plain expression is already a single pass
        return reference_sgd_step_(param, grad, buf, lr=lr, momentum=momentum, dampening=dampening,
                                   weight_decay=weight_decay, nesterov=nesterov, maximize=maximize, first=first)
    _sgd_momentum(grad, lr, momentum, dampening, weight_decay, nesterov, maximize, first, param, buf)
