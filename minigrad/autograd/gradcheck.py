"""Numerical gradient checks: gradcheck (first derivatives) and gradgradcheck (second), as torch's."""
from __future__ import annotations

import numpy as np

from .engine import grad as autograd_grad


def _outputs(fn, inputs) -> tuple:
    out = fn(*inputs)
    return tuple(out) if isinstance(out, (tuple, list)) else (out,)


def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare backward's Jacobian with central finite differences in float64, for every differentiable
    output and every input that requires grad (torch.autograd.gradcheck)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [x for x in inputs if getattr(x, "requires_grad", False)]
    for x in wrt:
        if x.array.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs to be accurate, got an input of dtype {x.dtype}")
    for j, x in enumerate(wrt):
        numeric = _numerical_jacobian(fn, inputs, x, eps)  # (output elements, input elements)
        analytic = _analytical_jacobian(fn, inputs, x, numeric.shape[0])
        if not x.xp.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            worst = float(x.xp.abs(analytic - numeric).max())
            raise RuntimeError(f"Jacobian mismatch for output 0 with respect to input {j} of shape {tuple(x.shape)}: "
                               f"max abs difference {worst:.3g} (atol={atol}, rtol={rtol})\nnumerical:{numeric}\n"
                               f"analytical:{analytic}")
    return True


def _flat_outputs(fn, inputs, xp):
    outs = [o.array.astype(np.float64).reshape(-1) for o in _outputs(fn, inputs) if o.dtype.is_floating_point]
    return xp.concatenate(outs) if outs else xp.zeros(0)


def _numerical_jacobian(fn, inputs, x, eps):
    array = x.array  # perturbed in place, element by element in C order (any memory layout)
    columns = []
    for i in np.ndindex(array.shape):  # grad mode stays on: fn may itself differentiate (gradgradcheck)
        orig = array[i].item()
        array[i] = orig + eps
        plus = _flat_outputs(fn, inputs, x.xp)
        array[i] = orig - eps
        minus = _flat_outputs(fn, inputs, x.xp)
        array[i] = orig
        columns.append((plus - minus) / (2 * eps))
    return x.xp.stack(columns, axis=1) if columns else x.xp.zeros((_flat_outputs(fn, inputs, x.xp).size, 0))


def _analytical_jacobian(fn, inputs, x, rows):
    analytic = x.xp.zeros((rows, x.array.size))
    for row in range(rows):
        outs = [o for o in _outputs(fn, inputs) if o.dtype.is_floating_point]
        seeds, offset = [], 0
        for o in outs:
            seed = x.xp.zeros(o.array.size, dtype=o.array.dtype)
            if offset <= row < offset + o.array.size:
                seed[row - offset] = 1
            seeds.append(o._from_op(seed.reshape(o.array.shape), None))
            offset += o.array.size
        used = [(o, s) for o, s in zip(outs, seeds) if o.requires_grad]
        if not used:
            continue
        (g,) = autograd_grad([o for o, _ in used], [x], [s for _, s in used], allow_unused=True)
        if g is not None:
            analytic[row] = g.array.reshape(-1)
    return analytic


def gradgradcheck(fn, inputs, grad_outputs=None, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
                  raise_exception: bool = True) -> bool:
    """Check second derivatives: gradcheck of (inputs, grad_outputs) -> d(fn)/d(inputs) . grad_outputs,
    computed with create_graph=True (torch.autograd.gradgradcheck)."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    outputs = [o for o in _outputs(fn, inputs) if o.requires_grad]
    if grad_outputs is None:
        rng = np.random.default_rng(0)
        grad_outputs = tuple(o._from_op(o.xp.asarray(rng.standard_normal(o.array.shape)), None).requires_grad_()
                             for o in outputs)
    grad_outputs = tuple(grad_outputs) if isinstance(grad_outputs, (tuple, list)) else (grad_outputs,)
    n = len(inputs)

    def first_derivatives(*args):
        ins, gouts = args[:n], args[n:]
        outs = [o for o in _outputs(fn, ins) if o.requires_grad]
        wanted = [x for x in ins if getattr(x, "requires_grad", False)]
        grads = autograd_grad(outs, wanted, gouts, create_graph=True, allow_unused=True)
        return tuple(g for g in grads if g is not None)

    return gradcheck(first_derivatives, inputs + grad_outputs, eps=eps, atol=atol, rtol=rtol,
                     raise_exception=raise_exception)
