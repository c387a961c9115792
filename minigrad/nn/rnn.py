"""rnn layers of torch.nn: RNN, GRU, LSTM and their single-step cells, with torch's names, shapes and init."""
from __future__ import annotations

import math
import numbers
import warnings

from .. import creation, ops
from ..tensor import Tensor
from . import init
from .functional.activation import linear
from .functional.rnn import run_layers
from .module import Module
from .parameter import Parameter
from .utils.rnn import PackedSequence, layout

__all__ = ["GRU", "LSTM", "RNN", "GRUCell", "LSTMCell", "RNNBase", "RNNCell", "RNNCellBase"]

_GATES = {"LSTM": 4, "GRU": 3, "RNN_TANH": 1, "RNN_RELU": 1}


def _check_type(name: str, value, kind) -> None:
    if not isinstance(value, kind):
        raise TypeError(f"{name} should be of type {kind.__name__}, got: {type(value).__name__}")


def _check_dtype(input: Tensor, weight: Tensor) -> None:
    if input.dtype != weight.dtype:
        raise ValueError(f"RNN input dtype ({input.dtype}) does not match weight dtype ({weight.dtype}). "
                         f"Convert input: input.to({weight.dtype}), or convert model: model.to({input.dtype})")


class RNNBase(Module):
    """The multi-layer recurrent module behind RNN, GRU and LSTM (torch's RNNBase)."""

    def __init__(self, mode: str, input_size: int, hidden_size: int, num_layers: int = 1, bias: bool = True,
                 batch_first: bool = False, dropout: float = 0.0, bidirectional: bool = False, proj_size: int = 0,
                 device=None, dtype=None):
        super().__init__()
        if not isinstance(dropout, numbers.Number) or isinstance(dropout, bool) or not 0 <= dropout <= 1:
            raise ValueError("dropout should be a number in range [0, 1] representing the probability of an "
                             "element being zeroed")
        if dropout > 0 and num_layers == 1:
            warnings.warn("dropout option adds dropout after all but last recurrent layer, so non-zero dropout "
                          f"expects num_layers greater than 1, but got dropout={dropout} and "
                          f"num_layers={num_layers}", stacklevel=2)
        _check_type("bias", bias, bool)
        _check_type("batch_first", batch_first, bool)
        _check_type("input_size", input_size, int)
        if input_size <= 0:
            raise ValueError("input_size must be greater than zero")
        _check_type("hidden_size", hidden_size, int)
        if hidden_size <= 0:
            raise ValueError("hidden_size must be greater than zero")
        if num_layers <= 0:
            raise ValueError("num_layers must be greater than zero")
        if proj_size < 0:
            raise ValueError("proj_size should be a positive integer or zero to disable projections")
        if proj_size >= hidden_size:
            raise ValueError("proj_size has to be smaller than hidden_size")
        if mode not in _GATES:
            raise ValueError("Unrecognized RNN mode: " + mode)
        if proj_size:
            raise NotImplementedError("LSTM(proj_size > 0) is not supported by minigrad; use proj_size=0 and an "
                                      "nn.Linear on the output if you need a projection")
        self.mode = mode
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.num_layers = num_layers
        self.bias = bias
        self.batch_first = batch_first
        self.dropout = float(dropout)
        self.bidirectional = bidirectional
        self.proj_size = proj_size
        directions = 2 if bidirectional else 1
        gate_size = _GATES[mode] * hidden_size
        self._flat_weights_names = []
        self._all_weights = []
        for layer in range(num_layers):
            for direction in range(directions):
                layer_input = input_size if layer == 0 else hidden_size * directions
                suffix = f"_l{layer}" + ("_reverse" if direction == 1 else "")
                shapes = {"weight_ih": (gate_size, layer_input), "weight_hh": (gate_size, hidden_size)}
                if bias:
                    shapes.update(bias_ih=(gate_size,), bias_hh=(gate_size,))
                names = []
                for kind, shape in shapes.items():
                    setattr(self, kind + suffix, Parameter(creation.empty(shape, device=device, dtype=dtype)))
                    names.append(kind + suffix)
                self._flat_weights_names.extend(names)
                self._all_weights.append(names)
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Every weight and bias from U(-1/sqrt(hidden_size), 1/sqrt(hidden_size)), as torch."""
        bound = 1.0 / math.sqrt(self.hidden_size)
        for weight in self.parameters():
            init.uniform_(weight, -bound, bound)

    @property
    def _flat_weights(self) -> list:
        return [getattr(self, name) for name in self._flat_weights_names]

    @property
    def all_weights(self) -> list:
        """The parameters of each layer and direction: [[weight_ih, weight_hh, bias_ih, bias_hh], ...]."""
        return [[getattr(self, name) for name in names] for names in self._all_weights]

    def flatten_parameters(self) -> None:
        """A no-op: cuDNN's single weight buffer has no counterpart here."""

    # ------------------------------------------------------------------------------------------ forward
    def _hidden_shape(self, batch: int) -> tuple:
        return ((2 if self.bidirectional else 1) * self.num_layers, batch, self.hidden_size)

    def forward(self, input, hx=None):
        name = type(self).__name__
        lstm = self.mode == "LSTM"
        packed = isinstance(input, PackedSequence)
        weight = self._flat_weights[0]
        if packed:
            data, batch_sizes, sorted_indices, unsorted_indices = input
            _check_dtype(data, weight)
            if data.ndim != 2:
                raise RuntimeError(f"input must have 2 dimensions, got {data.ndim}")
            batch, batched = int(batch_sizes.array[0]), True
            x = data
        else:
            if input.ndim not in (2, 3):
                tensor = " tensor" if self.mode.startswith("RNN") else ""
                raise ValueError(f"{name}: Expected input to be 2D or 3D, got {input.ndim}D{tensor} instead")
            batched = input.ndim == 3
            x = input if batched else input.unsqueeze(1)
            if batched and self.batch_first:
                x = x.transpose(0, 1)
            _check_dtype(x, weight)
            if x.shape[0] == 0:
                raise RuntimeError("Expected sequence length to be larger than 0 in RNN")
            batch, sorted_indices, unsorted_indices = x.shape[1], None, None
        if x.shape[-1] != self.input_size:
            raise RuntimeError(f"input.size(-1) must be equal to input_size. Expected {self.input_size}, got "
                               f"{x.shape[-1]}")
        h0, c0 = self._initial_states(hx, x, batch, batched, sorted_indices)
        weights = [[getattr(self, n) for n in names] for names in self._all_weights]
        output, h_n, c_n = run_layers(x, h0, c0, weights, self.mode.lower(), self.num_layers, self.bidirectional,
                                      self.dropout, self.training,
                                      layout(batch_sizes, x.device) if packed else None)
        if unsorted_indices is not None:  # final states in the caller's batch order
            h_n = h_n[:, unsorted_indices.array]
            c_n = c_n[:, unsorted_indices.array] if lstm else None
        if packed:
            output = PackedSequence(output, batch_sizes, sorted_indices, unsorted_indices)
        elif not batched:
            output, h_n, c_n = output.squeeze(1), h_n.squeeze(1), (c_n.squeeze(1) if lstm else None)
        elif self.batch_first:
            output = output.transpose(0, 1)
        return (output, (h_n, c_n)) if lstm else (output, h_n)

    def _initial_states(self, hx, x: Tensor, batch: int, batched: bool, sorted_indices):
        """(h0, c0) as (layers * directions, B, H) in the grid's batch order, checked as torch checks them."""
        lstm = self.mode == "LSTM"
        expected = self._hidden_shape(batch)
        if hx is None:
            zeros = Tensor._wrap(x.xp.zeros(expected, dtype=x.array.dtype))
            return zeros, (zeros if lstm else None)
        states = list(hx) if lstm else [hx]
        wanted = 3 if batched else 2
        if any(s.ndim != wanted for s in states):
            kind = "batched 3-D" if batched else "unbatched 2-D"
            if lstm:
                dims = ", ".join(f"{s.ndim}-D" for s in states)
                raise RuntimeError(f"For {kind} input, hx and cx should also be {wanted}-D but got ({dims}) tensors")
            raise RuntimeError(f"For {kind} input, hx should also be {wanted}-D but got {states[0].ndim}-D tensor")
        if not batched:
            states = [s.unsqueeze(1) for s in states]
        for i, s in enumerate(states):
            if tuple(s.shape) != expected:
                what = f"hidden[{i}]" if lstm else "hidden"
                raise RuntimeError(f"Expected {what} size {expected}, got {list(s.shape)}")
        if sorted_indices is not None:
            states = [s[:, sorted_indices.array] for s in states]
        return states[0], (states[1] if lstm else None)

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.proj_size != 0:
            s += f", proj_size={self.proj_size}"
        if self.num_layers != 1:
            s += f", num_layers={self.num_layers}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if self.batch_first is not False:
            s += f", batch_first={self.batch_first}"
        if self.dropout != 0:
            s += f", dropout={self.dropout}"
        if self.bidirectional is not False:
            s += f", bidirectional={self.bidirectional}"
        return s


def _split_args(args: tuple, kwargs: dict, names: tuple) -> dict:
    """torch's positional-or-keyword constructor arguments after input_size, hidden_size."""
    if len(args) > len(names):
        raise TypeError(f"too many positional arguments: {args}")
    merged = dict(zip(names, args))
    for key, value in kwargs.items():
        if key in merged:
            raise TypeError(f"got multiple values for argument '{key}'")
        merged[key] = value
    return merged


class RNN(RNNBase):
    """Elman RNN: h_t = tanh(x_t W_ih^T + b_ih + h_{t-1} W_hh^T + b_hh) (or relu)."""

    def __init__(self, input_size: int, hidden_size: int, *args, **kwargs):
        options = _split_args(args, kwargs, ("num_layers", "nonlinearity", "bias", "batch_first", "dropout",
                                             "bidirectional", "device", "dtype"))
        self.nonlinearity = options.pop("nonlinearity", "tanh")
        if self.nonlinearity not in ("tanh", "relu"):
            raise ValueError(f"Unknown nonlinearity '{self.nonlinearity}'. Select from 'tanh' or 'relu'.")
        super().__init__("RNN_" + self.nonlinearity.upper(), input_size, hidden_size, **options)


class GRU(RNNBase):
    """Gated recurrent unit, gates (r, z, n) as torch: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))."""

    def __init__(self, input_size: int, hidden_size: int, *args, **kwargs):
        super().__init__("GRU", input_size, hidden_size, *args, **kwargs)


class LSTM(RNNBase):
    """Long short-term memory, gates (i, f, g, o) as torch; returns (output, (h_n, c_n))."""

    def __init__(self, input_size: int, hidden_size: int, *args, **kwargs):
        super().__init__("LSTM", input_size, hidden_size, *args, **kwargs)


# ---------------------------------------------------------------------------------------------- cells
class RNNCellBase(Module):
    """One time step of RNN, GRU or LSTM: parameters weight_ih, weight_hh, bias_ih, bias_hh."""

    def __init__(self, input_size: int, hidden_size: int, bias: bool, num_chunks: int, device=None, dtype=None):
        super().__init__()
        self.input_size = input_size
        self.hidden_size = hidden_size
        self.bias = bias
        self.weight_ih = Parameter(creation.empty((num_chunks * hidden_size, input_size), device=device, dtype=dtype))
        self.weight_hh = Parameter(creation.empty((num_chunks * hidden_size, hidden_size), device=device,
                                                  dtype=dtype))
        if bias:
            self.bias_ih = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
            self.bias_hh = Parameter(creation.empty(num_chunks * hidden_size, device=device, dtype=dtype))
        else:
            self.register_parameter("bias_ih", None)
            self.register_parameter("bias_hh", None)
        self.reset_parameters()

    reset_parameters = RNNBase.reset_parameters

    def extra_repr(self) -> str:
        s = f"{self.input_size}, {self.hidden_size}"
        if self.bias is not True:
            s += f", bias={self.bias}"
        if getattr(self, "nonlinearity", "tanh") != "tanh":
            s += f", nonlinearity={self.nonlinearity}"
        return s

    def _step(self, input: Tensor, hx, mode: str, states: int):
        """Check shapes as torch does, then run one step of the shared recurrence; returns the new states."""
        name = type(self).__name__
        if input.ndim not in (1, 2):
            raise ValueError(f"{name}: Expected input to be 1D or 2D, got {input.ndim}D instead")
        given = [] if hx is None else (list(hx) if states == 2 else [hx])
        for i, s in enumerate(given):
            if s.ndim not in (1, 2):
                what = f"hx[{i}]" if states == 2 else "hidden"
                raise ValueError(f"{name}: Expected {what} to be 1D or 2D, got {s.ndim}D instead")
        batched = input.ndim == 2
        x = input if batched else input.unsqueeze(0)
        if x.shape[1] != self.input_size:
            raise RuntimeError(f"input has inconsistent input_size: got {x.shape[1]} expected {self.input_size}")
        if not given:
            zeros = Tensor._wrap(x.xp.zeros((x.shape[0], self.hidden_size), dtype=x.array.dtype))
            given = [zeros] * states
        elif not batched:
            given = [s.unsqueeze(0) for s in given]
        for s in given:
            if s.shape[0] != x.shape[0]:
                raise RuntimeError(f"Input batch size {x.shape[0]} doesn't match hidden0 batch size {s.shape[0]}")
            if s.shape[1] != self.hidden_size:
                raise RuntimeError(f"hidden0 has inconsistent hidden_size: got {s.shape[1]}, expected "
                                   f"{self.hidden_size}")
        biased = self.bias_ih is not None
        if mode == "gru":
            bias, aux = (self.bias_ih, self.bias_hh) if biased else (None, None)
        else:
            bias, aux = (self.bias_ih + self.bias_hh if biased else None), (given[1] if states == 2 else None)
        x_proj = linear(x, self.weight_ih, bias).unsqueeze(0)
        args = (x_proj, self.weight_hh, given[0]) + (() if aux is None else (aux,))
        out = ops.Recurrence.apply(*args, mode=mode)[:, 0]
        new = [out[k] if batched else out[k, 0] for k in range(states)]
        return new[0] if states == 1 else tuple(new)


class RNNCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, nonlinearity: str = "tanh",
                 device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=1, device=device, dtype=dtype)
        self.nonlinearity = nonlinearity

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        if self.nonlinearity not in ("tanh", "relu"):  # torch checks at call time
            raise RuntimeError(f"Unknown nonlinearity: {self.nonlinearity}")
        return self._step(input, hx, "rnn_" + self.nonlinearity, 1)


class GRUCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=3, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: Tensor | None = None) -> Tensor:
        return self._step(input, hx, "gru", 1)


class LSTMCell(RNNCellBase):
    def __init__(self, input_size: int, hidden_size: int, bias: bool = True, device=None, dtype=None):
        super().__init__(input_size, hidden_size, bias, num_chunks=4, device=device, dtype=dtype)

    def forward(self, input: Tensor, hx: tuple | None = None) -> tuple:
        return self._step(input, hx, "lstm", 2)
