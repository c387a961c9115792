"""Elementwise primitives. Forward and backward side by side; broadcasting is undone by the engine."""
from ..autograd import Function
from ..backend import ieee_quiet, kernels


class Add(Function):
    def forward(self, a, b):
        return a + b

    def backward(self, grad):
        return grad, grad


class Sub(Function):
    def forward(self, a, b):
        return a - b

    def backward(self, grad):
        return grad, -grad if self.needs_input_grad[1] else None


class Mul(Function):
    def forward(self, a, b):
        need_a, need_b = self.needs_input_grad  # save only what is needed: `y *= 2` must not pin y's old value
        self.save_for_backward(a if need_b else None, b if need_a else None)
        return a * b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return grad * b if need_a else None, grad * a if need_b else None


class Div(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a / b

    def backward(self, grad):
        a, b = self.saved
        need_a, need_b = self.needs_input_grad
        return grad / b if need_a else None, -grad * a / (b * b) if need_b else None


class Pow(Function):
    def forward(self, a, b):
        out = a ** b
        self.save_for_backward(a, b, out)
        return out

    def backward(self, grad):
        a, b, out = self.saved
        xp = self.xp
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        zero = grad * 0
        with ieee_quiet():
            if need_a:  # torch parity: d(a**0)/da is 0 even at a == 0
                grad_a = xp.where(b == 0, zero, grad * b * a ** (b - 1))
            if need_b:  # torch parity: 0**b has gradient 0 w.r.t. b >= 0 instead of nan
                grad_b = xp.where((a == 0) & (b >= 0), zero, grad * out * xp.log(a))
        return grad_a, grad_b


class Neg(Function):
    def forward(self, a):
        return -a

    def backward(self, grad):
        return -grad


class Abs(Function):
    def forward(self, a):
        self.save_for_backward(a)
        return abs(a)

    def backward(self, grad):
        return grad * self.xp.sign(self.saved[0])  # sign(0) == 0: torch's subgradient at 0


class Exp(Function):
    def forward(self, a):
        out = self.xp.exp(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        return grad * self.saved[0]


class Log(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with ieee_quiet():  # log(0) = -inf and log(-1) = nan, as torch
            return self.xp.log(a)

    def backward(self, grad):
        return grad / self.saved[0]


class Log1p(Function):
    def forward(self, a):
        self.save_for_backward(a)
        with ieee_quiet():
            return self.xp.log1p(a)

    def backward(self, grad):
        return grad / (1 + self.saved[0])


class Sqrt(Function):
    def forward(self, a):
        with ieee_quiet():
            out = self.xp.sqrt(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        with ieee_quiet():
            return grad / (2 * self.saved[0])


class Tanh(Function):
    def forward(self, a):
        out = self.xp.tanh(a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out = self.saved[0]
        return grad * (1 - out * out)


class Sigmoid(Function):
    def forward(self, a):
        out = self.xp.tanh(a * 0.5) * 0.5 + 0.5  # never overflows, unlike 1 / (1 + exp(-a))
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        out = self.saved[0]
        return grad * out * (1 - out)


class ReLU(Function):
    grad_fn_name = "ReluBackward0"  # torch's spelling
    def forward(self, a):
        out = kernels(self.xp).relu(self.xp, a)
        self.save_for_backward(out)
        return out

    def backward(self, grad):
        return ThresholdBackward.run(self.xp, grad, self.saved[0])


class ThresholdBackward(Function):
    """ReLU's backward as an op of its own (a kernel on arrays): grad where out > 0, else 0."""

    def forward(self, grad, out):
        self.save_for_backward(out)
        return kernels(self.xp).relu_backward(grad, out)

    def backward(self, grad):  # linear in grad; piecewise constant in out, so its gradient is a (connected) zero
        out = self.saved[0]
        return ThresholdBackward.run(self.xp, grad, out), out * 0 if self.needs_input_grad[1] else None


class Clamp(Function):
    def forward(self, a, min=None, max=None):
        self.save_for_backward(a)
        self.bounds = min, max
        return clamp(self.xp, a, min, max)

    def backward(self, grad):
        a = self.saved[0]
        low, high = self.bounds
        if low is not None:
            grad = self.xp.where(a >= low, grad, 0)  # torch passes the gradient through at the bounds themselves
        if high is not None:
            grad = self.xp.where(a <= high, grad, 0)
        return grad


def clamp(xp, a, low, high):
    """a limited to [low, high], either bound optional (cupy's clip takes no None)."""
    if low is not None:
        a = xp.maximum(a, low)
    return a if high is None else xp.minimum(a, high)


class Maximum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.maximum(a, b)

    def backward(self, grad):
        a, b = self.saved
        return _split_ties(self.xp, grad, a > b, a == b)


class Minimum(Function):
    def forward(self, a, b):
        self.save_for_backward(a, b)
        return self.xp.minimum(a, b)

    def backward(self, grad):
        a, b = self.saved
        return _split_ties(self.xp, grad, a < b, a == b)


def _split_ties(xp, grad, a_wins, tie):
    """The selected input takes the whole gradient; at a tie each takes half, as torch."""
    share = xp.where(tie, grad * 0.5, grad)
    return xp.where(a_wins | tie, share, 0), xp.where(a_wins, 0, share)


class Where(Function):
    def forward(self, condition, a, b):
        self.save_for_backward(condition)
        return self.xp.where(condition, a, b)

    def backward(self, grad):
        condition = self.saved[0]
        _, need_a, need_b = self.needs_input_grad
        return (None,
                self.xp.where(condition, grad, 0) if need_a else None,
                self.xp.where(condition, 0, grad) if need_b else None)
