"""Reverse-mode autograd: the Function base (the public custom-op API), grad mode, the engine, gradcheck."""
from __future__ import annotations

import functools
import weakref

import numpy as np

from .backend import get_array_module

__all__ = ["Function", "no_grad", "enable_grad", "set_grad_enabled", "is_grad_enabled", "backward", "gradcheck"]


# ---------------------------------------------------------------------------------------------- grad mode
class _GradMode:
    enabled = True


def is_grad_enabled() -> bool:
    return _GradMode.enabled


class _GradModeContext:
    """Sets grad mode inside a ``with`` block, or around every call of a decorated function."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _GradMode.enabled = self.prev

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _GradModeContext(mode):
                return func(*args, **kwargs)
        return wrapper


class _FixedGradMode(_GradModeContext):
    """Works as ``with cls():``, ``@cls()`` and bare ``@cls``."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self(func) if callable(func) else self

    def __init__(self, func=None):
        pass


class no_grad(_FixedGradMode):
    """Record no graph inside."""

    mode = False


class enable_grad(_FixedGradMode):
    """Record the graph inside, even within ``no_grad``."""

    mode = True


class set_grad_enabled(_GradModeContext):
    """Like torch: takes effect when constructed, so ``set_grad_enabled(False)`` also works as a plain call."""

    def __init__(self, mode: bool):
        super().__init__(mode)
        self.prev = _GradMode.enabled
        _GradMode.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, func):
        _GradMode.enabled = self.prev  # used as a decorator: leave the mode as it was until a call
        return super().__call__(func)


# ---------------------------------------------------------------------------------------------- Function
class Function:
    """One differentiable op; the instance is its own context (tinygrad's idiom).

    Subclasses implement ``forward(self, *arrays, **params) -> array`` on raw numpy/cupy arrays and
    ``backward(self, grad) -> grad or tuple of grads`` (one per input, None where not needed).
    Grads may come back in a broadcast shape: the engine sums them to each input's shape.
    Use ``self.xp`` for array-module functions, ``self.save_for_backward`` for what backward needs,
    and ``self.needs_input_grad`` to skip work. Call ``MyOp.apply(*tensors, **params)``.
    """

    saved = ()
    parents = None
    retained = None

    def save_for_backward(self, *arrays) -> None:
        self.saved = arrays

    @property
    def saved_tensors(self):  # torch's name for the same thing
        return self.saved

    def forward(self, *arrays, **params):
        raise NotImplementedError(f"{type(self).__name__} must implement forward")

    def backward(self, grad):
        raise NotImplementedError(f"{type(self).__name__} must implement backward")

    @classmethod
    def apply(cls, *inputs, **params):
        """Run forward on the inputs' arrays; record the graph when any input requires grad."""
        fn = cls()
        first = inputs[0]
        array_type = type(first.array)
        arrays, needs = [], []
        for t in inputs:
            if type(t.array) is not array_type:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                                   f"{first.device} and {t.device}! (in {cls.__name__})")
            arrays.append(t.array)
            needs.append(t._requires_grad)
        fn.xp = get_array_module(first.array)
        fn.needs_input_grad = tuple(needs)
        out = fn.forward(*arrays, **params)
        if True in needs and _GradMode.enabled:
            fn.parents = inputs
            return first._from_op(out, fn)
        return first._from_op(out, None)

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    grad_fn_name = None  # set where torch's node name differs from "<ClassName>Backward0"

    def name(self) -> str:
        return self.grad_fn_name or f"{type(self).__name__}Backward0"

    @property
    def next_functions(self):
        """(grad_fn or None, 0) per input, as torch exposes the graph."""
        return tuple((t.grad_fn, 0) for t in self.parents or ())


# ---------------------------------------------------------------------------------------------- engine
def _sum_to_shape(grad, shape):
    """Undo broadcasting: sum ``grad`` down to ``shape``. The one place un-broadcasting happens."""
    if grad.shape == shape:
        return grad
    lead = grad.ndim - len(shape)
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape)


def _unaliased(grads: tuple) -> tuple:
    """Copy any grad returned for two inputs (Add returns one array for both): each input must own its grad."""
    seen = set()
    out = []
    for g in grads:
        if g is not None and id(g) in seen:
            g = g.copy()
        elif g is not None:
            seen.add(id(g))
        out.append(g)
    return tuple(out)


def _owned(grad):
    """A grad the engine may keep and later add into in place (not a read-only broadcast view)."""
    flags = getattr(grad, "flags", None)
    return grad if flags is None or getattr(flags, "writeable", True) else grad.copy()


def backward(root, gradient=None, retain_graph: bool = False) -> None:
    """Propagate d(root)/d(leaf) into every leaf's ``.grad``. Iterative, so 100,000-op chains work."""
    if not root.requires_grad:
        raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
    xp = get_array_module(root.array)
    if gradient is None:
        if root.array.size != 1:
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs, but the output has shape "
                               f"{tuple(root.shape)}; pass `gradient=` with that shape to backward()")
        grad = xp.ones_like(root.array)
    else:
        grad = gradient.array if hasattr(gradient, "array") else xp.asarray(gradient, dtype=root.array.dtype)
        if grad.shape != root.array.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(grad.shape)} and output[0] "
                               f"has a shape of {tuple(root.array.shape)}")
        grad = grad.astype(root.array.dtype, copy=True)  # the caller keeps ownership of theirs
    root_fn = root.grad_fn
    if root_fn is None:  # backward() on a leaf: its grad is the seed itself
        _accumulate_leaf(root, grad)
        return

    # Count each node's consumers inside this graph, so a node runs once all its grads have arrived.
    pending = {root_fn: 0}
    stack = [root_fn]
    while stack:
        fn = stack.pop()
        if fn.parents is None:
            raise RuntimeError("Trying to backward through the graph a second time (or directly access saved "
                               "tensors after they have already been freed). Saved intermediate values of the "
                               "graph are freed when you call .backward(). Specify retain_graph=True if you need "
                               "to backward through the graph a second time.")
        for parent in fn.parents:
            parent_fn = parent.grad_fn
            if parent_fn is not None:
                if parent_fn in pending:
                    pending[parent_fn] += 1
                else:
                    pending[parent_fn] = 1
                    stack.append(parent_fn)

    grads = {root_fn: grad}
    ready = [root_fn]
    while ready:
        fn = ready.pop()
        grad = grads.pop(fn, None)
        parents = fn.parents
        if grad is None:  # every consumer returned None: nothing flows on, but the parents must still be released
            input_grads = (None,) * len(parents)
        else:
            if fn.retained is not None:
                _store_retained(fn, grad)
            input_grads = fn.backward(grad)
            if not isinstance(input_grads, tuple):
                input_grads = (input_grads,)
        if len(input_grads) != len(parents):
            raise RuntimeError(f"{type(fn).__name__}.backward returned {len(input_grads)} gradients, "
                               f"expected {len(parents)} (one per input)")
        if len(input_grads) > 1:
            input_grads = _unaliased(input_grads)
        for parent, g in zip(parents, input_grads):
            parent_fn = parent.grad_fn
            if g is not None and parent._requires_grad:
                target = parent.array
                if g.shape != target.shape:
                    g = _sum_to_shape(g, target.shape)
                if g.dtype != target.dtype:
                    g = g.astype(target.dtype)
                if parent_fn is None:
                    _accumulate_leaf(parent, g)
                elif parent_fn in grads:
                    grads[parent_fn] = grads[parent_fn] + g  # out of place: g may alias another node's grad
                else:
                    grads[parent_fn] = g
            if parent_fn is not None:
                pending[parent_fn] -= 1
                if pending[parent_fn] == 0:
                    ready.append(parent_fn)
        if not retain_graph:
            fn.parents = None
            fn.saved = None


def _accumulate_leaf(leaf, grad) -> None:
    if leaf.grad is None:
        leaf.grad = leaf._from_op(_owned(grad), None)
    else:
        leaf.grad.array += grad  # in place, as torch accumulates into .grad


def _store_retained(fn, grad) -> None:
    tensor = fn.retained()
    if tensor is None:
        return
    if tensor.grad is None:
        tensor.grad = tensor._from_op(grad.copy(), None)  # a copy: grad flows on and may be reused upstream
    else:
        tensor.grad.array += grad


def retain(tensor) -> None:
    """Make a non-leaf keep its ``.grad`` (Tensor.retain_grad)."""
    tensor.grad_fn.retained = weakref.ref(tensor)


# ---------------------------------------------------------------------------------------------- gradcheck
def gradcheck(fn, inputs, eps: float = 1e-6, atol: float = 1e-5, rtol: float = 1e-3,
              raise_exception: bool = True) -> bool:
    """Compare backward's Jacobian with central finite differences in float64, as torch.autograd.gradcheck."""
    inputs = tuple(inputs) if isinstance(inputs, (tuple, list)) else (inputs,)
    wrt = [x for x in inputs if getattr(x, "requires_grad", False)]
    for x in wrt:
        if x.array.dtype != np.float64:
            raise ValueError(f"gradcheck needs float64 inputs to be accurate, got an input of dtype {x.dtype}")

    def output():
        out = fn(*inputs)
        return out[0] if isinstance(out, (tuple, list)) else out

    for j, x in enumerate(wrt):
        flat = x.array.reshape(-1)  # a view: writing it perturbs the input in place
        numeric = []
        with no_grad():
            for i in range(flat.size):
                orig = flat[i].item()
                flat[i] = orig + eps
                plus = output().array.astype(np.float64)
                flat[i] = orig - eps
                minus = output().array.astype(np.float64)
                flat[i] = orig
                numeric.append(((plus - minus) / (2 * eps)).reshape(-1))
        numeric = x.xp.stack(numeric, axis=1)  # (output size, input size)
        analytic = x.xp.zeros_like(numeric)
        for row in range(numeric.shape[0]):
            for t in wrt:
                t.grad = None
            out = output()
            seed = x.xp.zeros(out.array.size, dtype=out.array.dtype)
            seed[row] = 1
            out.backward(seed.reshape(out.array.shape))
            if x.grad is not None:
                analytic[row] = x.grad.array.reshape(-1)
        for t in wrt:
            t.grad = None
        if not x.xp.allclose(analytic, numeric, atol=atol, rtol=rtol):
            if not raise_exception:
                return False
            worst = float(x.xp.abs(analytic - numeric).max())
            raise RuntimeError(f"Jacobian mismatch for input {j} of shape {tuple(x.shape)}: max abs difference "
                               f"{worst:.3g} (atol={atol}, rtol={rtol})\nnumerical:\n{numeric}\nanalytical:\n{analytic}")
    return True
