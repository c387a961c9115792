"""Function: one differentiable op, and the public custom-op API (torch.autograd.Function's twin)."""
from __future__ import annotations

import threading

import numpy as np

from ..backend import get_array_module
from .anomaly import _Anomaly, creation_trace
from .grad_mode import _state


def _is_view(out, a) -> bool:
    base = getattr(out, "base", None)
    return base is not None and (base is a or base is a.base)


class inplace_writes:
    """How many in-place writes there have been (``bump_version`` counts them). A node created since the last
    one cannot have had anything it saved changed, so backward skips its version check: one comparison."""

    count = 0
    # ``+= 1`` reads, then writes: two threads writing in place at once could count once, and a node recorded
    # between the two writes would then skip its check. torch's version counters are atomic; so are these.
    lock = threading.Lock()


def bump_version(tensor) -> None:
    """Record an in-place change of ``tensor``'s storage (torch's version counter)."""
    with inplace_writes.lock:
        tensor._version_counter[0] += 1
        inplace_writes.count += 1


class recording:
    """The array module of a recorded backward (``graph_xp``), set when the engine first loads it."""

    xp = None


class Function:
    """One differentiable op; the instance is its own context (tinygrad's idiom).

    Subclasses implement ``forward(self, *arrays, **params) -> array`` on raw numpy/cupy arrays and
    ``backward(self, grad) -> grad or tuple of grads`` (one per input, None where not needed).
    Grads may come back in a broadcast shape: the engine sums them to each input's shape.
    Use ``self.xp`` for array-module functions, ``self.save_for_backward`` for what backward needs,
    and ``self.needs_input_grad`` to skip work. Call ``MyOp.apply(*tensors, **params)``.

    Higher-order gradients reuse the same ``backward``: for ``create_graph=True`` the engine runs it with
    Tensors for ``grad`` and ``self.saved`` and with ``self.xp`` set to ``graph_xp``, whose functions record
    the graph. So a backward uses operators, ``.sum(axis=, keepdims=)``, ``.reshape``, ``.T``, indexing and
    ``self.xp`` functions, and calls any other op as ``OtherOp.run(self.xp, ...)``. Saved float arrays must
    be inputs or the output; an op that saves another derived value defines ``saved_for_graph``.
    """

    saved = ()
    parents = None
    writes_at = -1  # inplace_writes.count when the node was recorded (-1: unknown, always check)
    returns_view = False  # reshape, permute, expand, basic indexing: the output may share the input's memory
    retained = None
    pre_hooks = None  # hooks registered on the op's output tensor (Tensor.register_hook on a non-leaf)
    trace = None

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
        arrays, needs, versions = [], [], []
        for t in inputs:
            if type(t.array) is not array_type:
                raise RuntimeError(f"Expected all tensors to be on the same device, but found at least two devices, "
                                   f"{first.device} and {t.device}! (in {cls.__name__})")
            arrays.append(t.array)
            needs.append(t._requires_grad)
            versions.append(t._version_counter[0])
        fn.xp = np if array_type is np.ndarray else get_array_module(first.array)
        fn.needs_input_grad = needs = tuple(needs)
        out = fn.forward(*arrays, **params)
        # Only floating results are differentiable (torch): an integer cast or an argmax ends the graph.
        recorded = True in needs and _state.enabled and out.dtype.kind == "f"
        result = first._from_op(out, fn if recorded else None)
        if cls.returns_view and _is_view(out, arrays[0]):  # one storage, one version counter (as torch's views)
            result._version_counter = first._version_counter
        if recorded:
            fn.parents = inputs
            if fn.saved:  # backward checks that what the node saved is unchanged (nothing saved: nothing to check)
                fn.writes_at = inplace_writes.count
                fn.versions = versions
                fn.output_id = id(out)
                fn.output_version = counter = result._version_counter
                fn.output_version_at = counter[0]
            if _Anomaly.enabled:
                fn.trace = creation_trace()
        return result

    @classmethod
    def run(cls, xp, *args, **params):
        """Use this op inside another op's backward: on raw arrays in a first-order pass (no graph),
        recorded as a graph node when ``xp`` is the graph namespace (a create_graph pass)."""
        if xp is recording.xp:
            return cls.apply(*args, **params)
        fn = cls()
        fn.xp = xp
        fn.needs_input_grad = (False,) * len(args)
        return fn.forward(*args, **params)

    def saved_for_graph(self, inputs, output):
        """``self.saved`` rebuilt from the input and output Tensors with recorded ops; ops that save a derived
        float value (softmax probabilities, im2col columns) override this so double backward stays exact."""
        raise NotImplementedError(
            f"{type(self).__name__} saves an intermediate value for its backward and does not define "
            f"saved_for_graph, so it cannot be differentiated twice (backward with create_graph=True)")

    def __repr__(self):
        return f"<{self.name()} object at {id(self):#x}>"

    grad_fn_name = None  # set where torch's node name differs from "<ClassName>Backward0"

    def name(self) -> str:
        return self.grad_fn_name or f"{type(self).__name__}Backward0"

    @property
    def next_functions(self):
        """(grad_fn or None, 0) per input, as torch exposes the graph."""
        return tuple((t.grad_fn, 0) for t in self.parents or ())

    def register_hook(self, hook):
        """torch's Node.register_hook is on grad_fn; Tensor.register_hook is the usual entry point."""
        raise NotImplementedError("register hooks on tensors (Tensor.register_hook) rather than on grad_fn nodes")
