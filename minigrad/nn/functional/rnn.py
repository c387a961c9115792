"""The computation behind nn.RNN, nn.GRU, nn.LSTM and their cells (torch exposes no functional form).

Each layer and direction is one input projection for all steps (one GEMM, an ordinary Linear node)
followed by one ops.Recurrence node. A packed batch stays packed between layers, (N, features), and is
spread to a padded (T, B, G) grid only for the recurrence, by row gathers whose gradient is a scatter-add.
"""
from __future__ import annotations

from dataclasses import dataclass

from ... import ops
from ...backend import default_generator, to_device
from ...functions import cat, stack
from ...tensor import Tensor
from .activation import linear

__all__: list = []


@dataclass
class PackedLayout:
    """Where each packed row sits in the padded (T, B) grid, for sorted batches."""
    batch_sizes: list  # active rows per step, non-increasing
    to_padded: object  # (T, B) int array: the packed row at each grid cell (0 where a sequence has ended)
    to_packed: object  # (N,) int array: the grid cell t * B + b of each packed row


def rows(table: Tensor, index) -> Tensor:
    """table[index] along the first axis, as a node whose gradient is an efficient scatter-add."""
    return ops.Embedding.apply(table, indices=index)


def _dropout(x: Tensor, p: float) -> Tensor:
    """Inverted dropout with a constant mask (what torch applies between recurrent layers in training)."""
    keep = default_generator.numpy_rng.random(tuple(x.shape)) >= p
    scale = keep / (1.0 - p) if p < 1 else keep * 0.0
    return x * Tensor._wrap(to_device(scale.astype(x.array.dtype), x.device))


def run_layers(input: Tensor, h0: Tensor, c0: Tensor | None, weights: list, mode: str, num_layers: int,
               bidirectional: bool, dropout: float, training: bool, layout: PackedLayout | None = None):
    """(output, h_n, c_n) for time-major ``input``, (T, B, F), or packed rows (N, F) with ``layout``;
    h0 and c0 are (layers * directions, B, H), the batch in the (sorted) order of the grid."""
    directions = 2 if bidirectional else 1
    batch_sizes = None if layout is None else layout.batch_sizes
    layer_input, finals_h, finals_c = input, [], []
    for layer in range(num_layers):
        outputs = []
        for direction in range(directions):
            k = layer * directions + direction
            w_ih, w_hh, *biases = weights[k]
            if mode == "gru":  # b_hn stays inside the recurrence: n = tanh(W_in x + b_in + r * (W_hn h + b_hn))
                bias, aux = (biases[0], biases[1]) if biases else (None, None)
            else:
                bias, aux = (biases[0] + biases[1] if biases else None), (c0[k] if mode == "lstm" else None)
            # on (T * B, F) rows: NumPy runs a (T, B, F) @ (F, G) product as T small GEMMs, ~2.5x slower
            x_proj = linear(layer_input.reshape(-1, layer_input.shape[-1]), w_ih, bias)
            if layout is not None:
                x_proj = rows(x_proj, layout.to_padded)
            else:
                x_proj = x_proj.reshape(*layer_input.shape[:-1], -1)
            args = (x_proj, w_hh, h0[k]) if aux is None else (x_proj, w_hh, h0[k], aux)
            states = ops.Recurrence.apply(*args, mode=mode, reverse=direction == 1, batch_sizes=batch_sizes)
            last = 0 if direction == 1 else -1
            finals_h.append(states[0, last])
            if mode == "lstm":
                finals_c.append(states[1, last])
            sequence = states[0]
            if layout is not None:
                sequence = rows(sequence.reshape(-1, sequence.shape[-1]), layout.to_packed)
            outputs.append(sequence)
        layer_input = outputs[0] if directions == 1 else cat(outputs, dim=-1)
        if dropout and training and layer < num_layers - 1:
            layer_input = _dropout(layer_input, dropout)
    return layer_input, stack(finals_h), (stack(finals_c) if mode == "lstm" else None)
