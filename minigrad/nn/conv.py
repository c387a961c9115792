"""Conv1d and Conv2d, as torch.nn defines them: arguments, init, padding modes and repr."""
from __future__ import annotations

from .. import creation
from ..tensor import Tensor
from . import functional as F
from .functional.conv import same_padding
from .linear import Linear
from .module import Module
from .parameter import Parameter

__all__ = ["Conv1d", "Conv2d"]

_PADDING_MODES = {"zeros", "reflect", "replicate", "circular"}  # torch prints this set: same literal, same order
_PADDING_STRINGS = {"same", "valid"}


def _ntuple(value, n: int) -> tuple:
    values = tuple(value) if isinstance(value, (tuple, list)) else (value,) * n
    return values * n if len(values) == 1 else values


class _ConvNd(Module):
    dims = 0
    function = None

    def __init__(self, in_channels: int, out_channels: int, kernel_size, stride=1, padding=0, dilation=1,
                 groups: int = 1, bias: bool = True, padding_mode: str = "zeros", device=None, dtype=None):
        super().__init__()
        if groups <= 0:
            raise ValueError("groups must be a positive integer")
        if in_channels % groups != 0:
            raise ValueError("in_channels must be divisible by groups")
        if out_channels % groups != 0:
            raise ValueError("out_channels must be divisible by groups")
        n = self.dims
        self.kernel_size, self.stride = _ntuple(kernel_size, n), _ntuple(stride, n)
        self.dilation = _ntuple(dilation, n)
        if isinstance(padding, str):
            if padding not in ("valid", "same"):
                raise ValueError(f"Invalid padding string {padding!r}, should be one of {_PADDING_STRINGS}")
            if padding == "same" and any(s != 1 for s in self.stride):
                raise ValueError("padding='same' is not supported for strided convolutions")
        else:
            padding = _ntuple(padding, n)
        if padding_mode not in _PADDING_MODES:
            raise ValueError(f"padding_mode must be one of {_PADDING_MODES}, but got "
                             f"padding_mode={padding_mode!r}")
        self.in_channels, self.out_channels = in_channels, out_channels
        self.padding, self.padding_mode, self.groups = padding, padding_mode, groups
        self.transposed, self.output_padding = False, (0,) * n
        # F.pad's argument for the non-zero padding modes: (left, right) pairs, last dim first
        if padding == "same":
            pairs = same_padding(self.kernel_size, self.dilation)
        else:
            pairs = [(0, 0) if padding == "valid" else (p, p) for p in _ntuple(padding, n)]
        self._reversed_padding_repeated_twice = [p for pair in reversed(pairs) for p in pair]
        shape = (out_channels, in_channels // groups, *self.kernel_size)
        self.weight = Parameter(creation.empty(shape, device=device, dtype=dtype))
        if bias:
            self.bias = Parameter(creation.empty(out_channels, device=device, dtype=dtype))
        else:
            self.register_parameter("bias", None)
        self.reset_parameters()

    # torch's init is Linear's: kaiming_uniform_(a=sqrt(5)) on the weight, U(+-1/sqrt(fan_in)) on the bias
    reset_parameters = Linear.reset_parameters

    def forward(self, input: Tensor) -> Tensor:
        function = type(self).function
        if self.padding_mode == "zeros":
            return function(input, self.weight, self.bias, self.stride, self.padding, self.dilation, self.groups)
        input = F.pad(input, self._reversed_padding_repeated_twice, mode=self.padding_mode)
        return function(input, self.weight, self.bias, self.stride, 0, self.dilation, self.groups)

    def extra_repr(self) -> str:
        s = f"{self.in_channels}, {self.out_channels}, kernel_size={self.kernel_size}, stride={self.stride}"
        if self.padding != (0,) * self.dims:
            s += f", padding={self.padding}"
        if self.dilation != (1,) * self.dims:
            s += f", dilation={self.dilation}"
        if self.groups != 1:
            s += f", groups={self.groups}"
        if self.bias is None:
            s += ", bias=False"
        if self.padding_mode != "zeros":
            s += f", padding_mode={self.padding_mode}"
        return s


class Conv1d(_ConvNd):
    """1-D convolution over (N, C, L) or (C, L) input."""

    dims = 1
    function = staticmethod(F.conv1d)


class Conv2d(_ConvNd):
    """2-D convolution over (N, C, H, W) or (C, H, W) input."""

    dims = 2
    function = staticmethod(F.conv2d)
