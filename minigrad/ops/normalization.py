"""Batch normalisation as one fused primitive: two passes over the input forward, three backward."""
from ..autograd import Function


class BatchNorm(Function):
    """``(x - mean) / sqrt(var + eps) * weight + bias`` per channel (dim 1).

    ``mean`` and ``var`` come in as keyword parameters, already shaped to broadcast over ``x``
    ((1, C, 1, ...)): with ``training=True`` they are the batch's own statistics (biased variance, as
    torch normalises), and backward differentiates through them; otherwise they are the running
    estimates, constants. ``weight`` and ``bias`` are always inputs (constant ones and zeros when the
    layer has no affine part), so one formula serves every option.
    """

    grad_fn_name = "NativeBatchNormBackward0"

    def forward(self, x, weight, bias, mean=None, var=None, eps=1e-5, training=True):
        xp = self.xp
        shape = mean.shape
        invstd = 1 / xp.sqrt(var + eps)
        scale = weight.reshape(shape) * invstd
        out = x * scale  # y = x * scale + (bias - mean * scale): two passes, no centred temporary kept
        out += bias.reshape(shape) - mean * scale
        self.training, self.eps = training, eps
        self.axes = tuple(i for i in range(x.ndim) if i != 1)
        self.count = x.size // max(x.shape[1], 1)
        self.save_for_backward(x, weight, mean, invstd)
        return out

    def backward(self, grad):
        x, weight, mean, invstd = self.saved
        axes, shape = self.axes, mean.shape
        need_x, need_weight, need_bias = self.needs_input_grad
        x_hat = (x - mean) * invstd
        grad_sum = grad.sum(axis=axes)
        grad_x_hat_sum = (grad * x_hat).sum(axis=axes)
        grad_x = None
        if need_x:
            k = weight.reshape(shape) * invstd
            if self.training:  # the batch's mean and variance depend on x too
                n = self.count
                grad_x = k * (grad - grad_sum.reshape(shape) / n - x_hat * (grad_x_hat_sum.reshape(shape) / n))
            else:
                grad_x = grad * k
        return grad_x, grad_x_hat_sum if need_weight else None, grad_sum if need_bias else None

    def saved_for_graph(self, inputs, output):  # noqa: ARG002  (the engine's signature)
        """mean and invstd rebuilt from x with recorded ops when they are the batch's, else constants."""
        x, weight = inputs[0], inputs[1]
        _, _, mean, invstd = self.saved
        if not self.training:
            return x, weight, x._from_op(mean, None), x._from_op(invstd, None)
        batch_mean = x.mean(dim=self.axes, keepdim=True)
        centred = x - batch_mean
        var = (centred * centred).mean(dim=self.axes, keepdim=True)
        return x, weight, batch_mean, 1 / (var + self.eps).sqrt()
