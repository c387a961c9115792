"""Dropout's multiply by a constant mask: a primitive of its own so that backward needs only the mask."""
from ..autograd import Function


class MaskedScale(Function):
    """``x * mask`` for a constant ``mask`` (0 or 1/(1-p)); the gradient is ``grad * mask``.

    Unlike a general Mul, it keeps no reference to ``x``: the input's memory can go as soon as the forward
    pass is done with it, and an in-place dropout (``x`` overwritten by the result) leaves nothing stale.
    """

    grad_fn_name = "MulBackward0"  # torch's CPU dropout is a plain multiply, and its node is named so

    def forward(self, x, mask):
        self.mask = mask  # a constant keyword parameter: not an input, so not saved as one
        return x * mask

    def backward(self, grad):
        return grad * self.mask
