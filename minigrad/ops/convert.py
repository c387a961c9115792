"""Primitives that change how data is stored, not its values: dtype casts and device moves."""
from ..autograd import Function
from ..backend import device_of, to_device


class Clone(Function):
    def forward(self, a):
        return a.copy()

    def backward(self, grad):
        return grad


class Cast(Function):
    grad_fn_name = "ToCopyBackward0"
    def forward(self, a, dtype=None):
        self.source_dtype = a.dtype
        return a.astype(dtype)

    def backward(self, grad):
        return Cast.run(self.xp, grad, dtype=self.source_dtype)


class ToDevice(Function):
    def forward(self, a, device=None):
        self.source = device_of(a)
        return to_device(a, device)

    def backward(self, grad):
        return ToDevice.run(self.xp, grad, device=self.source)
