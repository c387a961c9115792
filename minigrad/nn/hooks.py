"""Module hooks: forward pre-hooks, forward hooks and full backward (pre-)hooks, as torch.nn.Module's.

A full backward hook needs the gradients of all of a module's inputs at once (and of all its outputs), but
the engine delivers one gradient per node. So, like torch's BackwardHook, the module's tensors pass through a
gate: one node that packs them into a single flat array, and one node per tensor that reads its part back.
The engine runs the pack node only after every part's gradient has arrived, which is when the hooks run.
"""
from __future__ import annotations

import math

from ..autograd import Function, is_grad_enabled
from ..tensor import Tensor


class _Pack(Function):
    """All the gated tensors, flattened into one array (promoted to one dtype); backward runs the hook."""

    def forward(self, *arrays, on_backward=None):
        self.shapes = [a.shape for a in arrays]
        self.on_backward = on_backward
        return self.xp.concatenate([a.reshape(-1) for a in arrays])

    def backward(self, grad):
        bounds, offset = [], 0
        for shape in self.shapes[:-1]:
            offset += math.prod(shape)
            bounds.append(offset)
        parts = [g.reshape(shape) for g, shape in zip(self.xp.split(grad, bounds), self.shapes)]
        return tuple(self.on_backward(parts))


class _Part(Function):
    """One gated tensor read back out of the pack."""

    def forward(self, packed, start=0, shape=(), dtype=None):
        self.start, self.total = start, packed.shape[0]
        return packed[start:start + math.prod(shape)].reshape(shape).astype(dtype)

    def backward(self, grad):
        flat = grad.reshape(-1)
        before, after = self.start, self.total - self.start - flat.shape[0]
        zeros = self.xp.zeros_like
        return self.xp.concatenate([zeros(flat, shape=(before,)), flat, zeros(flat, shape=(after,))])


def _gate(tensors: list, on_backward) -> list:
    """``tensors`` routed through one pack node whose backward calls ``on_backward(list_of_grads)``."""
    packed = _Pack.apply(*tensors, on_backward=on_backward)
    out, start = [], 0
    for t in tensors:
        out.append(_Part.apply(packed, start=start, shape=t.array.shape, dtype=t.array.dtype))
        start += t.array.size
    return out


def _grad_tensor(like: Tensor, g):
    return None if g is None else (g if isinstance(g, Tensor) else like._from_op(g, None))


def _array_or_tensor(template, g):
    """A hook's Tensor result back in the form the engine is using (arrays, or Tensors when recording)."""
    if g is None or isinstance(template, Tensor):
        return g
    return g.array


def call_with_hooks(module, args: tuple, kwargs: dict):
    """Run ``module.forward`` with its registered hooks around it."""
    for hook, with_kwargs in list((module._forward_pre_hooks or {}).values()):
        result = hook(module, args, kwargs) if with_kwargs else hook(module, args)
        if result is not None:
            if with_kwargs:
                args, kwargs = result
            else:
                args = result if isinstance(result, tuple) else (result,)
    backward_hooks = module._backward_hooks or module._backward_pre_hooks
    record = {}
    if backward_hooks and is_grad_enabled():
        args = _gate_inputs(module, args, record)
    try:
        output = module.forward(*args, **kwargs)
    except Exception:
        for hook, (with_kwargs, always_call) in list((module._forward_hooks or {}).values()):
            if always_call:
                hook(module, args, kwargs, None) if with_kwargs else hook(module, args, None)
        raise
    for hook, (with_kwargs, _) in list((module._forward_hooks or {}).values()):
        result = hook(module, args, kwargs, output) if with_kwargs else hook(module, args, output)
        if result is not None:
            output = result
    if backward_hooks and is_grad_enabled():
        output = _gate_outputs(module, output, record)
    return output


def _gate_inputs(module, args: tuple, record: dict) -> tuple:
    positions = [i for i, a in enumerate(args) if isinstance(a, Tensor) and a.requires_grad]
    record["n_inputs"] = len(args)
    record["input_positions"] = positions
    if not positions:
        return args

    def on_backward(grads):
        grad_input = [None] * len(args)
        for i, g in zip(positions, grads):
            grad_input[i] = _grad_tensor(args[i], g)
        grad_input = _run_backward_hooks(module, tuple(grad_input), record.get("grad_output", ()))
        return [_array_or_tensor(g, grad_input[i]) for i, g in zip(positions, grads)]

    gated = _gate([args[i] for i in positions], on_backward)
    args = list(args)
    for i, t in zip(positions, gated):
        args[i] = t
    return tuple(args)


def _gate_outputs(module, output, record: dict):
    single = isinstance(output, Tensor)
    outputs = (output,) if single else tuple(output) if isinstance(output, (tuple, list)) else ()
    positions = [i for i, o in enumerate(outputs) if isinstance(o, Tensor) and o.requires_grad]
    if not positions:
        return output

    def on_backward(grads):
        grad_output = [None] * len(outputs)
        for i, g in zip(positions, grads):
            grad_output[i] = _grad_tensor(outputs[i], g)
        for hook in list((module._backward_pre_hooks or {}).values()):
            result = hook(module, tuple(grad_output))
            if result is not None:
                grad_output = list(result if isinstance(result, tuple) else (result,))
        record["grad_output"] = tuple(grad_output)
        if not record["input_positions"]:  # nothing upstream needs a gradient: torch calls the hook now
            _run_backward_hooks(module, (None,) * record["n_inputs"], tuple(grad_output))
        return [_array_or_tensor(g, grad_output[i]) for i, g in zip(positions, grads)]

    gated = _gate([outputs[i] for i in positions], on_backward)
    new = list(outputs)
    for i, t in zip(positions, gated):
        new[i] = t
    return new[0] if single else type(output)(new)


def _run_backward_hooks(module, grad_input: tuple, grad_output: tuple) -> tuple:
    for hook in list((module._backward_hooks or {}).values()):
        result = hook(module, grad_input, grad_output)
        if result is not None:
            result = result if isinstance(result, tuple) else (result,)
            if len(result) != len(grad_input):
                raise RuntimeError(f"Backward hook returned an invalid number of grad_input, got {len(result)}, "
                                   f"but expected {len(grad_input)}")
            grad_input = result
    return grad_input
