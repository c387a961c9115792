"""Matrix products: the general ``@`` and the fused affine map of nn.Linear."""
from ..autograd import Function


class MatMul(Function):
    """a @ b for 1-D, 2-D and batched operands, with numpy's broadcasting of batch dims."""

    def forward(self, a, b):
        self.save_for_backward(a, b)
        return a @ b

    def backward(self, grad):
        a, b = self.saved
        xp = self.xp
        # Treat a vector as a matrix, as matmul does (a row on the left, a column on the right),
        # and restore the axis it dropped from the output; afterwards drop it from the input's grad.
        a2 = a[None, :] if a.ndim == 1 else a
        b2 = b[:, None] if b.ndim == 1 else b
        grad2 = grad[..., None] if b.ndim == 1 else grad
        grad2 = grad2[..., None, :] if a.ndim == 1 else grad2
        need_a, need_b = self.needs_input_grad
        grad_a = grad_b = None
        if need_a:
            grad_a = grad2 @ xp.swapaxes(b2, -1, -2)
            grad_a = grad_a[..., 0, :] if a.ndim == 1 else grad_a
        if need_b:
            grad_b = xp.swapaxes(a2, -1, -2) @ grad2
            grad_b = grad_b[..., 0] if b.ndim == 1 else grad_b
        return grad_a, grad_b


class Linear(Function):
    """x @ weight.T + bias in one node (torch's addmm): one graph node per layer instead of three."""

    grad_fn_name = "AddmmBackward0"

    def forward(self, x, weight, bias=None):
        self.save_for_backward(x, weight)
        # (..., in) as one (rows, in) matrix: NumPy runs a 3-d @ 2-d product as one small GEMM per leading index
        out = (x.reshape(-1, x.shape[-1]) @ weight.T).reshape(x.shape[:-1] + weight.shape[:1])
        if bias is not None:
            out += bias
        return out

    def backward(self, grad):
        x, weight = self.saved
        need_x, need_w = self.needs_input_grad[:2]
        flat_grad = grad.reshape(-1, grad.shape[-1])
        grad_x = (flat_grad @ weight).reshape(x.shape) if need_x else None
        grad_w = None
        if need_w:  # in the weight's own memory layout, so the optimizer's passes over both stay sequential
            x2 = x.reshape(-1, x.shape[-1])
            f_order = getattr(getattr(weight, "flags", None), "f_contiguous", False)  # arrays only, not Tensors
            grad_w = (x2.T @ flat_grad).T if f_order else flat_grad.T @ x2
        if len(self.needs_input_grad) == 2:
            return grad_x, grad_w
        return grad_x, grad_w, flat_grad.sum(axis=0) if self.needs_input_grad[2] else None
