"""Softmax and the losses: primitives of their own, for numerical stability and torch parity."""
import math

from ..autograd import Function
from ..backend import ieee_quiet, kernels
from .reduce import broadcast_view


def softmax_pair(xp, x, dim):
    """(log_softmax, softmax) of x, max-shifted so that logits of any magnitude stay finite (a kernel)."""
    if x.size == 0:  # nothing to normalise; the kernels' max over an empty dim would raise
        return x.copy(), x.copy()
    return kernels(xp).softmax_pair(xp, x, dim)


def softmax_stats(xp, x):
    """(row max, log of the row's sum of exp(x - max)) of a 2-D x (a kernel)."""
    if x.shape[1] == 0:  # no classes: nothing to normalise (and a max over them would raise)
        return xp.zeros(x.shape[0], x.dtype), xp.full(x.shape[0], -xp.inf, x.dtype)
    return kernels(xp).softmax_stats(xp, x)


class Softmax(Function):
    def forward(self, x, dim=-1):
        self.dim = dim
        out = softmax_pair(self.xp, x, dim)[1]
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out = self.saved[0]
        return out * (grad - (grad * out).sum(axis=self.dim, keepdims=True))


class LogSoftmax(Function):
    def forward(self, x, dim=-1):
        self.dim = dim
        out, probs = softmax_pair(self.xp, x, dim)
        self.save_for_backward(probs)
        return out

    def backward(self, grad):
        return grad - self.saved[0] * grad.sum(axis=self.dim, keepdims=True)

    def saved_for_graph(self, inputs, _output):
        return (inputs[0].softmax(self.dim),)


class NllLoss(Function):
    """-sum_c coeffs[c] * logp[c] over the class dim, summed over samples when ``reduce``.

    ``coeffs`` carries everything the options mean — target one-hots or probabilities, class weights,
    ignored targets, label smoothing and the mean's divisor — so one primitive serves them all.
    With ``log_softmax=True`` the input is logits and log-softmax is fused in: that is cross-entropy,
    whose gradient is the stable ``softmax * sum(coeffs) - coeffs``.
    """

    def forward(self, x, coeffs, dim=1, reduce=True, log_softmax=False):
        xp = self.xp
        logp, probs = softmax_pair(xp, x, dim) if log_softmax else (x, None)
        self.dim, self.fused = dim, log_softmax
        self.save_for_backward(logp, coeffs, probs)
        return kernels(xp).nll(xp, logp, coeffs, dim, reduce)  # a zero coefficient ignores a -inf logp

    def saved_for_graph(self, inputs, _output):
        x, coeffs = inputs
        return x.log_softmax(self.dim), coeffs, x.softmax(self.dim)

    def backward(self, grad):
        logp, coeffs, probs = self.saved
        xp = self.xp
        grad = xp.expand_dims(grad, self.dim) if grad.ndim else grad
        need_x, need_coeffs = self.needs_input_grad
        grad_x = grad_coeffs = None
        if need_x:
            if self.fused:
                grad_x = CrossEntropyBackward.run(xp, probs, coeffs, grad, dim=self.dim)
            else:
                grad_x = -grad * coeffs
        if need_coeffs:
            grad_coeffs = -grad * logp
        return grad_x, grad_coeffs


class CrossEntropyBackward(Function):
    """d/dlogits of -sum(coeffs * log_softmax(logits)) = grad * (softmax * sum(coeffs) - coeffs): a fused
    kernel on arrays, an op of its own so that a recorded backward can differentiate it again."""

    def forward(self, probs, coeffs, grad, dim=1):
        self.dim = dim
        self.save_for_backward(probs, coeffs, grad)
        return kernels(self.xp).cross_entropy_backward(self.xp, probs, coeffs, grad, dim)

    def backward(self, g):
        probs, coeffs, grad = self.saved
        total = coeffs.sum(axis=self.dim, keepdims=True)
        need_probs, need_coeffs, need_grad = self.needs_input_grad
        return (g * total * grad if need_probs else None,
                ((g * probs).sum(axis=self.dim, keepdims=True) - g) * grad if need_coeffs else None,
                g * (probs * total - coeffs) if need_grad else None)


class ClassNllLoss(Function):
    """NllLoss of class-index targets with its coefficients kept sparse: ``pick[n]`` on class ``target[n]`` (the
    class weight, 1 - label smoothing and the mean's divisor; 0 for an ignored target) plus ``spread[n] *
    weight[c]`` on every class (label smoothing; ``spread`` is None without it, ``weight`` None for all ones).
    x is (N, C). With ``log_softmax=True`` x holds logits (cross-entropy): the forward keeps only each row's
    max and log-sum-exp, and backward recomputes the softmax from x. Against a dense coefficient array and a
    saved probability array, that is a third of the memory traffic, which is what a big loss costs."""

    grad_fn_name = "NllLossBackward0"

    def forward(self, x, target=None, pick=None, spread=None, weight=None, reduce=True, log_softmax=False):
        xp = self.xp
        self.coeffs = dict(target=target, pick=pick, spread=spread, weight=weight)
        self.fused, self.classes = log_softmax, x.shape[1]
        picked = x[xp.arange(x.shape[0]), target]
        if log_softmax:
            self.shift, log_total = softmax_stats(xp, x)
            picked = (picked - self.shift) - log_total
            self.save_for_backward(x, log_total)
        loss = -(pick * xp.where(pick != 0, picked, 0))  # a zero coefficient ignores a -inf log-probability
        if spread is not None:
            # shifted first: sum(x) - C * max would cancel away the digits that matter
            per_class = x - self.shift[:, None] if log_softmax else x
            spread_sum = per_class.sum(axis=1) if weight is None else per_class @ weight
            if log_softmax:
                spread_sum -= log_total * (x.shape[1] if weight is None else weight.sum())
            loss -= spread * xp.where(spread != 0, spread_sum, 0)
        return loss.sum() if reduce else loss

    def saved_for_graph(self, inputs, _output):
        x = inputs[0]
        return x, (x - self.shift[:, None]).exp().sum(dim=1).log()

    def backward(self, grad):
        if self.fused:
            x, log_total = self.saved
            return ClassNllBackward.run(self.xp, grad, x, log_total, shift=self.shift, **self.coeffs)
        return ClassNllBackward.run(self.xp, grad, classes=self.classes, **self.coeffs)


class ClassNllBackward(Function):
    """ClassNllLoss's gradient wrt x, an op of its own so that a recorded backward can differentiate it again:
    grad * (softmax(x) * sum_c coeffs - coeffs) from the logits x and their log-sum-exp (inputs too: the second
    derivative flows through both), or -grad * coeffs for log-probabilities (called with grad alone)."""

    def forward(self, grad, x=None, log_total=None, shift=None, classes=None, target=None, pick=None, spread=None,
                weight=None):
        xp = self.xp
        self.shift, self.coeffs = shift, (target, pick, spread, weight)
        self.save_for_backward(grad, x, log_total)
        self.rows = xp.arange(pick.shape[0])
        if x is None:
            out = xp.zeros((pick.shape[0], classes), pick.dtype)
        else:
            scale = _coeff_sums(x.shape[1], pick, spread, weight) * grad
            out = kernels(xp).softmax_grad(xp, x, shift, log_total, scale)
        out[self.rows, target] -= pick * grad
        if spread is not None:
            out -= (spread * grad)[:, None] * (1 if weight is None else weight)
        return out

    def backward(self, g):
        grad, x, log_total = self.saved
        target, pick, spread, weight = self.coeffs
        xp = self.xp
        g_coeffs = g[self.rows, target] * pick  # sum_c g * coeffs, per row
        if spread is not None:
            g_coeffs = g_coeffs + (g.sum(axis=1) if weight is None else (g * weight).sum(axis=1)) * spread
        if x is None:
            return -g_coeffs
        totals = _coeff_sums(x.shape[1], pick, spread, weight)
        probs = xp.exp((x - xp.expand_dims(self.shift, 1)) - xp.expand_dims(log_total, 1))
        g_probs = (g * probs).sum(axis=1)
        need_grad, need_x, need_log_total = self.needs_input_grad
        return (g_probs * totals - g_coeffs if need_grad else None,
                g * probs * xp.expand_dims(grad * totals, 1) if need_x else None,
                -(g_probs * grad * totals) if need_log_total else None)


def _coeff_sums(classes, pick, spread, weight):
    """sum_c coeffs[n, c] per row of ClassNllLoss's sparse coefficients."""
    return pick if spread is None else pick + spread * (classes if weight is None else weight.sum())


def _reduce(loss, reduction):
    if reduction == "none":
        return loss
    return loss.sum() if reduction == "sum" else loss.mean()


def _per_element(xp, grad, shape, reduction):
    """The gradient of each element's loss, given the gradient of the reduced loss."""
    if reduction == "none":
        return grad
    if reduction == "mean":
        grad = grad / max(math.prod(shape), 1)
    return broadcast_view(xp, grad, shape)


class BinaryCrossEntropy(Function):
    def forward(self, p, y, weight=None, reduction="mean"):
        xp = self.xp
        with ieee_quiet():  # log(0) is clamped just below, as torch clamps it at -100
            log_p = xp.maximum(xp.log(p), -100)
            log_1mp = xp.maximum(xp.log1p(-p), -100)
        loss = -(y * log_p + (1 - y) * log_1mp)
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(p, y)
        self.weight, self.reduction, self.shape = weight, reduction, loss.shape
        return _reduce(loss, reduction)

    def backward(self, grad):
        p, y = self.saved
        xp = self.xp
        grad = _per_element(xp, grad, self.shape, self.reduction)
        if self.weight is not None:
            grad = grad * self.weight
        need_p, need_y = self.needs_input_grad
        # torch's guard: the derivative's denominator p(1 - p) is kept at least 1e-12
        grad_p = grad * (p - y) / xp.maximum((1 - p) * p, 1e-12) if need_p else None
        if need_y:  # torch does not clamp here: a target's gradient at p = 0 or 1 is infinite
            with ieee_quiet():
                grad_y = grad * (xp.log1p(-p) - xp.log(p))
        else:
            grad_y = None
        return grad_p, grad_y


class BinaryCrossEntropyWithLogits(Function):
    def forward(self, x, y, weight=None, pos_weight=None, reduction="mean"):
        xp = self.xp
        # softplus(-x) without overflow: log(1 + exp(-|x|)) + max(-x, 0)
        softplus_neg = xp.log1p(xp.exp(-abs(x))) + xp.maximum(-x, 0)
        log_weight = 1 if pos_weight is None else 1 + (pos_weight - 1) * y
        loss = (1 - y) * x + log_weight * softplus_neg
        if weight is not None:
            loss = loss * weight
        self.save_for_backward(x, y, softplus_neg)
        self.weight, self.pos_weight, self.reduction, self.shape = weight, pos_weight, reduction, loss.shape
        return _reduce(loss, reduction)

    def saved_for_graph(self, inputs, _output):
        x, y = inputs
        return x, y, (-x).abs().neg().exp().log1p() + (-x).maximum(x * 0)

    def backward(self, grad):
        x, y, softplus_neg = self.saved
        xp = self.xp
        grad = _per_element(xp, grad, self.shape, self.reduction)
        if self.weight is not None:
            grad = grad * self.weight
        need_x, need_y = self.needs_input_grad
        grad_x = grad_y = None
        if need_x:
            sigmoid_neg = 0.5 - 0.5 * xp.tanh(x * 0.5)
            log_weight = 1 if self.pos_weight is None else 1 + (self.pos_weight - 1) * y
            grad_x = grad * ((1 - y) - log_weight * sigmoid_neg)
        if need_y:
            extra = 0 if self.pos_weight is None else (self.pos_weight - 1) * softplus_neg
            grad_y = grad * (extra - x)
        return grad_x, grad_y


class MseLoss(Function):
    def forward(self, x, y, reduction="mean"):
        diff = x - y
        self.save_for_backward(diff)
        self.reduction = reduction
        return _reduce(diff * diff, reduction)

    def saved_for_graph(self, inputs, _output):
        return (inputs[0] - inputs[1],)

    def backward(self, grad):
        diff = self.saved[0]
        grad_x = 2 * diff * _per_element(self.xp, grad, diff.shape, self.reduction)
        return grad_x, -grad_x if self.needs_input_grad[1] else None
