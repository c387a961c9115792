"""torch.autograd.functional: vjp, jvp, hvp, vhp, jacobian and hessian, built on ``grad``.

Every function here differentiates ``func`` at ``inputs`` without touching any ``.grad``; ``jvp`` uses the
double-vjp trick (the vjp is linear in v, so differentiating it with respect to v gives the jvp), which is
why it needs higher-order gradients. Sizes are meant to be small: jacobian and hessian loop over outputs.
"""
from __future__ import annotations

from .. import functions
from ..tensor import Tensor
from .engine import grad
from .grad_mode import enable_grad


def _tuple(x, what: str, fn_name: str) -> tuple[tuple, bool]:
    is_tuple = isinstance(x, (tuple, list))
    items = tuple(x) if is_tuple else (x,)
    for i, t in enumerate(items):
        if not isinstance(t, Tensor):
            raise TypeError(f"The {what} given to {fn_name} must be either a Tensor or a tuple of Tensors but the "
                            f"value at index {i} has type {type(t).__name__}.")
    return items, is_tuple


def _prepare(inputs, create_graph: bool) -> tuple:
    """Fresh leaves that require grad (differentiable views of the caller's when create_graph)."""
    return tuple(t.view_as(t) if create_graph and t.requires_grad else t.detach().requires_grad_(True)
                 for t in inputs)


def _outputs(func, inputs, fn_name: str, strict: bool = False) -> tuple[tuple, bool]:
    with enable_grad():
        out = func(*inputs)
    outputs, is_tuple = _tuple(out, "outputs of the user-provided function", fn_name)
    for i, o in enumerate(outputs):
        if strict and not o.requires_grad:
            raise RuntimeError(f"Output {i} of the user-provided function does not require gradients. The outputs "
                               f"must be computed in a differentiable manner from the input when running in strict "
                               f"mode.")
    return outputs, is_tuple


def _grads(outputs, inputs, grad_outputs, create_graph: bool, strict: bool, what: str, retain: bool = False) -> tuple:
    """d(outputs)/d(inputs) . grad_outputs, with zeros for inputs the outputs do not depend on (torch)."""
    used = [(o, g) for o, g in zip(outputs, grad_outputs) if o.requires_grad]
    if not used:
        grads = (None,) * len(inputs)
    else:
        grads = grad([o for o, _ in used], inputs, [g for _, g in used], create_graph=create_graph,
                     retain_graph=retain or create_graph, allow_unused=True)
    result = []
    for i, (x, g) in enumerate(zip(inputs, grads)):
        if g is None:
            if strict:
                raise RuntimeError(f"The {what} for the user-provided function is independent of input {i}. "
                                   f"This is not allowed in strict mode.")
            g = x.detach() * 0
        result.append(g if create_graph else g.detach())
    return tuple(result)


def _check_v(v, like: tuple, name: str):
    v, _ = _tuple(v, "v", name)
    if len(v) != len(like) and len(like) == 1:
        raise RuntimeError("The given v should contain a single Tensor.")
    if len(v) != len(like):
        raise RuntimeError(f"v is a tuple of invalid length: should be {len(like)} but got {len(v)}.")
    for i, (a, b) in enumerate(zip(v, like)):
        if tuple(a.shape) != tuple(b.shape):
            raise RuntimeError(f"Entry {i} in v has invalid size: should be {list(b.shape)} but got "
                               f"{list(a.shape)}.")
    return v


def _scalar_seed(outputs, v, name: str):
    if v is not None:
        return _check_v(v, outputs, name)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError("The vector v can only be None if the user-provided function returns a single Tensor "
                           "with a single element.")
    return (outputs[0].detach() * 0 + 1,)


def _inputs_and_v(inputs, v, create_graph: bool, name: str):
    """(prepared inputs, whether they came as a tuple, v checked against them): v may be omitted only for a
    single one-element input (jvp, hvp, vhp)."""
    inputs, in_tuple = _tuple(inputs, "inputs", name)
    inputs = _prepare(inputs, create_graph)
    if v is None:
        if len(inputs) != 1 or inputs[0].numel() != 1:
            raise RuntimeError("The vector v can only be None if the input to the user-provided function is a "
                               "single Tensor with a single element.")
        v = (inputs[0].detach() * 0 + 1,)
    return inputs, in_tuple, _check_v(v, inputs, name)


def _unwrap(items: tuple, is_tuple: bool):
    return items if is_tuple else items[0]


def vjp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T . J)."""
    inputs, in_tuple = _tuple(inputs, "inputs", "vjp")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _outputs(func, inputs, "vjp", strict)
    v = _scalar_seed(outputs, v, "vjp")
    result = _grads(outputs, inputs, v, create_graph, strict, "output")
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return _unwrap(outputs, out_tuple), _unwrap(result, in_tuple)


def jvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), J . v), by differentiating the (linear in u) vjp u^T . J with respect to u."""
    inputs, in_tuple, v = _inputs_and_v(inputs, v, create_graph, "jvp")
    outputs, out_tuple = _outputs(func, inputs, "jvp", strict)
    dummies = tuple((o.detach() * 0).requires_grad_(True) for o in outputs)  # u: any value, the vjp is linear
    with enable_grad():
        vjps = _grads(outputs, inputs, dummies, True, strict, "output")
        pairs = [(g, w) for g, w in zip(vjps, v) if g.requires_grad]
        if pairs:
            result = grad([g for g, _ in pairs], dummies, [w for _, w in pairs], create_graph=create_graph,
                          allow_unused=True)
        else:
            result = (None,) * len(dummies)
    result = tuple((o.detach() * 0) if r is None else (r if create_graph else r.detach())
                   for o, r in zip(outputs, result))
    outputs = tuple(o if create_graph else o.detach() for o in outputs)
    return _unwrap(outputs, out_tuple), _unwrap(result, out_tuple)


def _scalar_function(func, inputs, name):
    outputs, _ = _outputs(func, inputs, name)
    if len(outputs) != 1 or outputs[0].numel() != 1:
        raise RuntimeError(f"The function given to {name} should return a single Tensor with a single element")
    return outputs[0]


def vhp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), v^T . H) for a scalar function."""
    return _hessian_product(func, inputs, v, create_graph, strict, "vhp")


def hvp(func, inputs, v=None, create_graph: bool = False, strict: bool = False):
    """(func(inputs), H . v); the same as vhp for the symmetric Hessian of a twice-differentiable function."""
    return _hessian_product(func, inputs, v, create_graph, strict, "hvp")


def _hessian_product(func, inputs, v, create_graph, strict, name):
    inputs, in_tuple, v = _inputs_and_v(inputs, v, create_graph, name)
    with enable_grad():
        output = _scalar_function(func, inputs, name)
        first = _grads((output,), inputs, (output.detach() * 0 + 1,), True, strict, "output")
        result = _grads(first, inputs, v, create_graph, strict, "jacobian")
    return (output if create_graph else output.detach()), _unwrap(result, in_tuple)


def jacobian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
             strategy: str = "reverse-mode"):
    """The Jacobian, one reverse pass per output element; nested tuples as torch for tuple inputs/outputs.
    ``vectorize`` is a speed option in torch (the same values); here every row is its own pass."""
    del vectorize
    if strategy != "reverse-mode":
        raise NotImplementedError(f"jacobian(strategy={strategy!r}) is not supported by minigrad; use "
                                  f"'reverse-mode'")
    inputs, in_tuple = _tuple(inputs, "inputs", "jacobian")
    inputs = _prepare(inputs, create_graph)
    outputs, out_tuple = _outputs(func, inputs, "jacobian", strict)
    return _jacobian_of(outputs, out_tuple, inputs, in_tuple, create_graph, strict)


def _jacobian_of(outputs, out_tuple, inputs, in_tuple, create_graph, strict):
    table = []
    for out in outputs:
        flat = out.reshape(-1)
        rows = [[] for _ in inputs]
        for k in range(flat.numel()):
            seed = flat.detach() * 0
            seed.array[k] = 1
            grads = _grads((flat,), inputs, (seed,), create_graph, strict, "output", retain=True)
            for i, g in enumerate(grads):
                rows[i].append(g)
        blocks = []
        for x, row in zip(inputs, rows):
            shape = tuple(out.shape) + tuple(x.shape)
            blocks.append(functions.stack(row).reshape(shape) if row else x.detach().reshape(-1)[:0].reshape(shape))
        table.append(_unwrap(tuple(blocks), in_tuple))
    return _unwrap(tuple(table), out_tuple)


def hessian(func, inputs, create_graph: bool = False, strict: bool = False, vectorize: bool = False,
            outer_jacobian_strategy: str = "reverse-mode"):
    """The Hessian of a scalar function: the Jacobian of its gradient (``vectorize``: as in jacobian)."""
    del vectorize
    if outer_jacobian_strategy != "reverse-mode":
        raise NotImplementedError(f"hessian(outer_jacobian_strategy={outer_jacobian_strategy!r}) is not "
                                  f"supported by minigrad; use 'reverse-mode'")
    inputs, in_tuple = _tuple(inputs, "inputs", "hessian")

    def gradient(*xs):
        output = _scalar_function(func, xs, "hessian")
        return _grads((output,), xs, (output.detach() * 0 + 1,), True, strict, "output")

    return jacobian(lambda *xs: _unwrap(gradient(*xs), in_tuple), _unwrap(inputs, in_tuple), create_graph, strict)
