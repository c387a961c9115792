"""The backward engine: iterative, dependency-counted, one named step per concern.

``backward`` accumulates into leaves' ``.grad``; ``grad`` returns gradients without touching ``.grad``.
Both run a ``_GraphTask``: find the nodes that matter, count each node's consumers, then run each node's
backward once all its gradients have arrived (Kahn's algorithm, so 100,000-op chains need no recursion).
With ``create_graph=True`` each backward runs on Tensors and is itself recorded (see Function).
"""
from __future__ import annotations

from .anomaly import _Anomaly, check_backward_result
from .function import inplace_writes, recording
from .grad_mode import _state

_FREED = ("Trying to backward through the graph a second time (or directly access saved tensors after they have "
          "already been freed). Saved intermediate values of the graph are freed when you call .backward() or "
          "autograd.grad(). Specify retain_graph=True if you need to backward through the graph a second time or "
          "if you need to access saved tensors after calling backward.")


def _as_tuple(x) -> tuple:
    return tuple(x) if isinstance(x, (tuple, list)) else (x,)


def backward(tensors, grad_tensors=None, retain_graph=None, create_graph: bool = False, inputs=None) -> None:
    """Accumulate d(tensors)/d(leaf) into each leaf's ``.grad`` (or only into ``inputs``' when given)."""
    tensors = _as_tuple(tensors)
    grad_tensors = (None,) * len(tensors) if grad_tensors is None else _as_tuple(grad_tensors)
    if inputs is not None:
        inputs = _as_tuple(inputs)
        if not inputs:
            raise RuntimeError("'inputs' argument to backward() cannot be empty.")
    task = _GraphTask(create_graph, create_graph if retain_graph is None else retain_graph, inputs, capture=False)
    task.execute(tensors, grad_tensors)


def grad(outputs, inputs, grad_outputs=None, retain_graph=None, create_graph: bool = False,
         allow_unused=None, is_grads_batched: bool = False, materialize_grads: bool = False):
    """d(outputs)/d(inputs) as a tuple, one per input; no ``.grad`` is touched (torch.autograd.grad)."""
    if is_grads_batched:
        raise NotImplementedError("autograd.grad(is_grads_batched=True) is not supported by minigrad")
    outputs, inputs = _as_tuple(outputs), _as_tuple(inputs)
    if allow_unused is None:
        allow_unused = materialize_grads
    elif materialize_grads and not allow_unused:
        raise ValueError("Expected allow_unused to be True or not passed when materialize_grads=True, "
                         "but got: allow_unused=False.")
    for t in inputs:
        if not t.requires_grad:
            raise RuntimeError("One of the differentiated Tensors does not require grad")
    grad_outputs = (None,) * len(outputs) if grad_outputs is None else _as_tuple(grad_outputs)
    task = _GraphTask(create_graph, create_graph if retain_graph is None else retain_graph, inputs, capture=True)
    task.execute(outputs, grad_outputs)
    result = []
    for t in inputs:
        g = task.captured.get(id(t))
        if g is None:
            if not allow_unused:
                raise RuntimeError("One of the differentiated Tensors appears to not have been used in the graph. "
                                   "Set allow_unused=True if this is the desired behavior.")
            if materialize_grads:
                g = t._from_op(t.xp.zeros_like(t.array), None)
        elif not hasattr(g, "grad_fn"):  # a first-order pass collects arrays
            g = t._from_op(g, None)
        result.append(g)
    return tuple(result)


class _GraphTask:
    """One backward pass over the graph below some roots."""

    def __init__(self, create_graph: bool, retain_graph: bool, inputs, capture: bool):
        self.create_graph = create_graph
        self.retain_graph = retain_graph
        self.capture = capture  # autograd.grad: collect the inputs' grads instead of accumulating .grad
        self.targets = None if inputs is None else {id(t): t for t in inputs}
        self.target_fns = {} if inputs is None else {t.grad_fn: t for t in inputs if t.grad_fn is not None}
        self.captured = {}
        self.grads = {}  # node or leaf -> the sum of the gradients that reached it so far

    # ------------------------------------------------------------------------------------------ steps
    def execute(self, roots, seeds) -> None:
        if len(roots) != len(seeds):
            raise RuntimeError(f"grad can be implicitly created only for scalar outputs; got {len(seeds)} "
                               f"gradients for {len(roots)} tensors")
        root_fns = []
        for root, seed in zip(roots, seeds):
            if not root.requires_grad:
                raise RuntimeError("element 0 of tensors does not require grad and does not have a grad_fn")
            grad = self._seed(root, seed)
            if root.grad_fn is None:
                self._finish_leaf(root, grad)
            else:
                fn, grads = root.grad_fn, self.grads
                grads[fn] = grads[fn] + grad if fn in grads else grad
                root_fns.append(root.grad_fn)
        if not root_fns:
            return
        was_enabled, _state.enabled = _state.enabled, self.create_graph  # a recorded pass records; else nothing does
        try:
            self._run(root_fns, self._count_consumers(root_fns))
        finally:
            _state.enabled = was_enabled

    def _seed(self, root, gradient):
        """The gradient of the root itself: ones for a scalar, else the caller's (checked, and never aliased)."""
        xp = root.xp
        if gradient is None:
            if root.array.size != 1:
                raise RuntimeError(f"grad can be implicitly created only for scalar outputs, but the output has "
                                   f"shape {tuple(root.shape)}; pass `gradient=` with that shape")
            grad = xp.array(1, root.array.dtype).reshape(root.array.shape)  # (ones_like: a microsecond more)
            return root._from_op(grad, None) if self.create_graph else grad
        is_tensor = hasattr(gradient, "grad_fn")
        array = gradient.array if is_tensor else xp.asarray(gradient, dtype=root.array.dtype)
        if array.shape != root.array.shape:
            raise RuntimeError(f"Mismatch in shape: grad_output[0] has a shape of {tuple(array.shape)} and output[0] "
                               f"has a shape of {tuple(root.array.shape)}.")
        if self.create_graph:
            return gradient.to(root.dtype) if is_tensor else root._from_op(array.astype(root.array.dtype), None)
        return array.astype(root.array.dtype, copy=True)  # the caller keeps ownership of theirs

    def _count_consumers(self, root_fns) -> dict:
        """How many gradients each node and leaf waits for, over the nodes that lead to a wanted gradient. Leaves
        are counted like nodes, so that a leaf's hooks and accumulation run once, on the sum of its gradients."""
        if self.targets is None:  # everything below the roots runs: one walk counts it all
            self.relevant = None
            return _count_all(root_fns)
        order = _post_order(root_fns)  # each node after every node it depends on
        targets, target_fns = self.targets, self.target_fns
        relevant = set()  # only nodes with a target at or above them need to run
        for fn in order:
            if fn in target_fns or any((p.grad_fn in relevant) if p.grad_fn is not None else id(p) in targets
                                       for p in fn.parents):
                relevant.add(fn)
        self.relevant = relevant
        pending = dict.fromkeys(order, 0)
        for fn in relevant:
            for parent in fn.parents:
                parent_fn = parent.grad_fn
                if parent_fn is not None:
                    if parent_fn in relevant:
                        pending[parent_fn] += 1
                elif parent._requires_grad:
                    pending[parent] = pending.get(parent, 0) + 1
        return pending

    def _run(self, root_fns, pending) -> None:
        ready = [fn for fn in dict.fromkeys(root_fns) if pending[fn] == 0]
        relevant, grads, targets, recorded = self.relevant, self.grads, self.targets, self.create_graph
        target_fns = self.target_fns
        while ready:
            fn = ready.pop()
            parents = fn.parents
            if parents is None:
                raise RuntimeError(_FREED)
            grad = grads.pop(fn, None)
            if grad is not None and (fn.pre_hooks or fn.retained is not None or target_fns and fn in target_fns):
                grad = self._before(fn, grad)
            wanted = relevant is None or fn in relevant
            if grad is None or not wanted:
                input_grads = (None,) * len(parents)
            else:
                if fn.saved and fn.writes_at != inplace_writes.count:
                    _check_versions(fn)
                input_grads = _recorded_backward(fn, grad) if recorded else fn.backward(grad)
                if not isinstance(input_grads, tuple):
                    input_grads = (input_grads,)
                elif not recorded and len(input_grads) > 1:
                    input_grads = _unaliased(input_grads)
                if len(input_grads) != len(parents) or _Anomaly.enabled:
                    _check_result(fn, input_grads)
            for parent, g in zip(parents, input_grads):
                key = parent.grad_fn  # where the gradient goes: the parent's node, or the leaf itself
                if key is None:
                    if not (parent._requires_grad and wanted):
                        continue
                    key = parent
                    if targets is not None and id(parent) not in targets:
                        g = None
                elif relevant is not None and key not in relevant:
                    continue
                if g is not None:
                    if recorded or g.shape != parent.array.shape or g.dtype != parent.array.dtype:
                        g = _fit(fn, input_grads, g, parent, recorded)
                    grads[key] = grads[key] + g if key in grads else g  # out of place: g may alias another's
                left = pending[key] - 1
                pending[key] = left
                if not left:
                    if key is not parent:
                        ready.append(key)
                    elif key in grads:
                        self._finish_leaf(parent, grads.pop(parent))
            if not self.retain_graph:
                fn.parents = None
                fn.saved = None

    # ------------------------------------------------------------------------------------------ one node
    def _before(self, fn, grad):
        """The total gradient of a node's output, after its tensor's hooks; kept where it was asked for."""
        if fn.pre_hooks:
            grad = _run_tensor_hooks(fn.pre_hooks, grad, fn)
        if fn.retained is not None:
            _store_retained(fn, grad)
        target = self.target_fns.get(fn)
        if target is not None:
            if self.capture:
                self.captured[id(target)] = grad
            else:  # backward(inputs=[non_leaf]) accumulates into that tensor's .grad
                _accumulate(target, grad, self.create_graph)
        return grad

    def _finish_leaf(self, leaf, grad) -> None:
        if leaf._hooks:
            grad = _run_tensor_hooks(leaf._hooks, grad, leaf)
        if self.capture:
            previous = self.captured.get(id(leaf))
            self.captured[id(leaf)] = grad if previous is None else previous + grad
            return
        _accumulate(leaf, grad, self.create_graph)
        if leaf._post_accumulate_hooks:
            for hook in list(leaf._post_accumulate_hooks.values()):
                hook(leaf)


# ---------------------------------------------------------------------------------------------- helpers
def _count_all(root_fns) -> dict:
    """Consumers of every node and leaf below the roots (iterative DFS, each node visited once)."""
    pending = dict.fromkeys(root_fns, 0)
    stack = list(pending)
    while stack:
        for parent in _parents_of(stack.pop()):
            parent_fn = parent.grad_fn
            if parent_fn is not None:
                if parent_fn in pending:
                    pending[parent_fn] += 1
                else:
                    pending[parent_fn] = 1
                    stack.append(parent_fn)
            elif parent._requires_grad:
                pending[parent] = pending.get(parent, 0) + 1
    return pending


def _post_order(root_fns) -> list:
    """Every node below the roots, each after all the nodes its inputs come from (iterative DFS)."""
    order, seen = [], set()
    for root in root_fns:
        if root in seen:
            continue
        seen.add(root)
        stack = [(root, iter(_parents_of(root)))]
        while stack:
            fn, parents = stack[-1]
            for parent in parents:
                parent_fn = parent.grad_fn
                if parent_fn is not None and parent_fn not in seen:
                    seen.add(parent_fn)
                    stack.append((parent_fn, iter(_parents_of(parent_fn))))
                    break
            else:
                stack.pop()
                order.append(fn)
    return order


def _parents_of(fn):
    if fn.parents is None:
        raise RuntimeError(_FREED)
    return fn.parents


def _fit(fn, input_grads, grad, parent, recorded):
    """``grad`` summed back over broadcast dims and cast to the parent's dtype. The one place un-broadcasting
    happens; a gradient that cannot have come from broadcasting the parent is the op's bug, named."""
    shape = parent.array.shape
    if grad.shape != shape:
        index = next(i for i, g in enumerate(input_grads) if g is grad)  # (only for the error message)
        grad = _sum_to_shape(grad, shape, fn, index)
    dtype = parent.array.dtype
    if recorded:
        return grad if grad.array.dtype == dtype else grad.to(dtype)
    return grad if grad.dtype == dtype else grad.astype(dtype)


def _sum_to_shape(grad, shape, fn=None, index=0):
    lead = grad.ndim - len(shape)
    if lead < 0 or any(n != g and n != 1 for n, g in zip(shape, grad.shape[lead:])):
        name = fn.name() if fn is not None else "backward"
        raise RuntimeError(f"Function {name} returned an invalid gradient at index {index} - got "
                           f"{list(grad.shape)} but expected shape compatible with {list(shape)}")
    axes = tuple(range(lead)) + tuple(i + lead for i, n in enumerate(shape) if n == 1 and grad.shape[i + lead] != 1)
    out = grad.sum(axis=axes, keepdims=True) if axes else grad
    return out.reshape(shape)


def _check_result(fn, input_grads) -> None:
    """A backward must return one gradient per input; under anomaly detection, none may hold a nan."""
    if len(input_grads) != len(fn.parents):
        raise RuntimeError(f"function {fn.name()} returned an incorrect number of gradients (expected "
                           f"{len(fn.parents)}, got {len(input_grads)})")
    if _Anomaly.enabled and _Anomaly.check_nan:
        check_backward_result(fn, input_grads, fn.xp.isnan)


def _unaliased(grads: tuple) -> tuple:
    """Copy any grad returned for two inputs (Add returns one array for both): each input must own its grad."""
    if len(grads) == 2:
        a, b = grads
        return (a, b.copy()) if a is b and a is not None else grads
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
    if grad.base is None:  # owns its memory (the usual case; checked first: .flags builds an object)
        return grad
    return grad if getattr(grad.flags, "writeable", True) else grad.copy()  # (cupy's flags have no writeable)


def _accumulate(tensor, grad, recorded: bool) -> None:
    """Add into ``.grad``: in place on the first-order path (as torch), out of place when it is recorded."""
    if recorded:
        if not hasattr(grad, "grad_fn"):
            grad = tensor._from_op(grad, None)
        tensor.grad = grad if tensor.grad is None else tensor.grad + grad
    elif tensor._grad is None:  # the engine's grads already have the tensor's shape and dtype: no setter checks
        tensor._grad = tensor._from_op(_owned(grad), None)
    else:
        tensor._grad.array += grad


def _store_retained(fn, grad) -> None:
    tensor = fn.retained()
    if tensor is None:
        return
    recorded = hasattr(grad, "grad_fn")  # a recorded pass keeps the Tensor (it may itself require grad)
    _accumulate(tensor, grad if recorded else grad.copy(), recorded)  # a copy: grad flows on upstream


def _run_tensor_hooks(hooks: dict, grad, owner):
    """Each hook sees the gradient as a Tensor and may return a replacement."""
    is_array = not hasattr(grad, "grad_fn")
    as_tensor = _tensor_like(owner)._from_op(grad, None) if is_array else grad
    for hook in list(hooks.values()):
        result = hook(as_tensor)
        if result is not None:
            if tuple(result.shape) != tuple(as_tensor.shape):
                raise RuntimeError(f"hook returned a gradient of shape {tuple(result.shape)}, but the tensor has "
                                   f"shape {tuple(as_tensor.shape)}")
            as_tensor = result
    return as_tensor.array if is_array else as_tensor


def _tensor_like(owner):
    """A Tensor to build new tensors from: the tensor itself, or the first input of a node."""
    return owner.parents[0] if hasattr(owner, "parents") else owner


def _check_versions(fn) -> None:
    """torch's in-place check: an array this node saved must not have changed since it was saved."""
    saved_ids = None
    for i, (parent, version) in enumerate(zip(fn.parents, fn.versions)):
        if parent._version_counter[0] != version:
            saved_ids = saved_ids or {id(s) for s in fn.saved}
            if id(parent.array) in saved_ids:
                _raise_modified(fn, f"input {i}", parent.array, parent._version_counter[0], version)
    if fn.output_version[0] != fn.output_version_at:
        out = next((s for s in fn.saved if id(s) == fn.output_id), None)
        if out is not None:
            _raise_modified(fn, "output 0", out, fn.output_version[0], fn.output_version_at)


_TYPE_NAMES = {"float32": "torch.FloatTensor", "float64": "torch.DoubleTensor", "float16": "torch.HalfTensor"}


def _raise_modified(fn, which, array, now, expected):
    kind = f"[{_TYPE_NAMES.get(array.dtype.name, 'torch.Tensor')} [{', '.join(map(str, array.shape))}]]"
    raise RuntimeError(f"one of the variables needed for gradient computation has been modified by an inplace "
                       f"operation: {kind}, which is {which} of {fn.name()}, is at version "
                       f"{now}; expected version {expected} instead. Hint: the backtrace further above can show "
                       f"the operation that failed to compute its gradient (enable anomaly detection).")


# ---------------------------------------------------------------------------------------------- recorded pass
_graph_xp = None


def _recorded_backward(fn, grad) -> tuple:
    """Run ``fn.backward`` on Tensors, with ``graph_xp`` as its array module, so the backward is itself a graph."""
    global _graph_xp
    if _graph_xp is None:
        from . import graph_xp  # needs Tensor, which is built after autograd
        _graph_xp = recording.xp = graph_xp
    saved, xp = fn.saved, fn.xp
    fn.saved = _saved_as_tensors(fn)
    fn.xp = _graph_xp
    try:
        result = fn.backward(grad)
    finally:
        fn.saved, fn.xp = saved, xp
    maker = fn.parents[0]
    wrap = lambda g: g if g is None or hasattr(g, "grad_fn") else maker._from_op(xp.asarray(g), None)
    return tuple(wrap(g) for g in result) if isinstance(result, tuple) else wrap(result)


def _saved_as_tensors(fn) -> tuple:
    """What the node saved, as Tensors in the graph: its inputs and output as themselves, masks and indices as
    constants. A derived float value is rebuilt by the op's ``saved_for_graph`` from its inputs."""
    parents, maker = fn.parents, fn.parents[0]
    out_array = next((s for s in fn.saved if id(s) == fn.output_id), None)
    output = None if out_array is None else maker._from_op(out_array, fn)
    mapped = []
    for s in fn.saved:
        if s is None or not hasattr(s, "dtype"):
            mapped.append(s)
            continue
        parent = next((p for p in parents if p.array is s), None)
        if parent is not None:
            mapped.append(parent)
        elif s is out_array:
            mapped.append(output)
        elif s.dtype.kind != "f":
            mapped.append(maker._from_op(s, None))
        else:
            return tuple(fn.saved_for_graph(parents, output))
    return tuple(mapped)
