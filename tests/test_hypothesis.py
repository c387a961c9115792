"""Property-based differential tests: hypothesis draws inputs, minigrad must do what torch does.

Each property builds one function ``fn(lib)`` from the drawn example and runs it on both libraries (same
numpy data): the result must equal torch's (dtype, shape, values, gradients), or both must raise the same
error class with torch's message. The drawn space covers what a user can throw at the API — random shapes
(empty and 0-d included), the dtypes float32/float64/int64/bool, broadcastable and non-broadcastable shape
pairs, out-of-range dims, Python data of mixed kinds — and small random graphs of differentiable ops.
Example counts are kept small so the default run takes a few seconds; raise them locally with
``--hypothesis-seed`` / a settings profile to search harder.
"""
from __future__ import annotations

import re

import numpy as np
import pytest

torch = pytest.importorskip("torch")
hypothesis = pytest.importorskip("hypothesis")
from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402
from hypothesis.extra import numpy as hnp  # noqa: E402

from _torch_parity import assert_same, assert_same_outcome, run  # noqa: E402

import minigrad  # noqa: E402

DTYPES = ("float32", "float64", "int64", "bool")
FAST = settings(max_examples=30, deadline=None)

shapes = hnp.array_shapes(min_dims=0, max_dims=3, min_side=0, max_side=4)


def values(dtype: str, shape: tuple, seed: int) -> np.ndarray:
    """Deterministic data for one example: small integers (exact in every dtype), signs mixed."""
    rng = np.random.default_rng(seed)
    if dtype == "bool":
        return rng.random(shape) < 0.5
    data = rng.integers(-4, 5, shape)
    return data.astype(dtype) if dtype == "int64" else (data + rng.random(shape)).astype(dtype)


def make(lib, data: np.ndarray):
    return lib.tensor(data)


# ------------------------------------------------------------------------------------------------ construction
python_numbers = st.one_of(st.booleans(), st.integers(-2 ** 70, 2 ** 70),
                          st.floats(allow_nan=True, allow_infinity=True, width=64))
nested = st.one_of(python_numbers, st.lists(python_numbers, max_size=4),
                   st.integers(1, 3).flatmap(lambda n: st.lists(st.lists(python_numbers, min_size=n, max_size=n),
                                                                min_size=1, max_size=3)))


@FAST
@given(data=nested, dtype=st.sampled_from((None,) + DTYPES + ("int32", "uint8", "int8", "float16")))
def test_tensor_from_python_data(data, dtype):
    """Inferred dtype, values (converted once, straight to the target), and the overflow errors."""
    assert_same_outcome(lambda lib: lib.tensor(data, dtype=None if dtype is None else getattr(lib, dtype)))


@FAST
@given(start=st.floats(-100, 100), length=st.floats(0, 50), steps=st.integers(0, 40),
       dtype=st.sampled_from(("float32", "float64")))
def test_linspace_and_arange(start, length, steps, dtype):
    end = start + length
    assert_same_outcome(lambda lib: lib.linspace(start, end, steps, dtype=getattr(lib, dtype)), rtol=1e-5,
                        atol=1e-5)
    step = length / steps if steps else 1.0
    assert_same_outcome(lambda lib: lib.arange(start, end, step, dtype=getattr(lib, dtype)).shape)


# ------------------------------------------------------------------------------------------------ binary ops
BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / b, "eq": lambda a, b: a == b, "lt": lambda a, b: a < b,
    "maximum": lambda a, b: a.maximum(b), "and": lambda a, b: a & b,
}


@st.composite
def shape_pairs(draw):
    """Broadcastable pairs mostly, and sometimes any two shapes (which torch may refuse)."""
    if draw(st.booleans()):
        return draw(hnp.mutually_broadcastable_shapes(num_shapes=2, min_dims=0, max_dims=3, max_side=4)).input_shapes
    return draw(shapes), draw(shapes)


@FAST
@given(pair=shape_pairs(), dtypes=st.tuples(st.sampled_from(DTYPES), st.sampled_from(DTYPES)),
       op=st.sampled_from(sorted(BINARY)), seed=st.integers(0, 2 ** 16), scalar=st.sampled_from((None, 2, 0.5, True)))
def test_binary_op(pair, dtypes, op, seed, scalar):
    """Promotion, broadcasting, and the errors (bool subtraction, & on floats, shapes that do not broadcast)."""
    a = values(dtypes[0], pair[0], seed)
    b = values(dtypes[1], pair[1], seed + 1)
    if op == "div" and dtypes[1] != "bool":
        b = np.where(b == 0, 1, b).astype(b.dtype)  # integer 0/0 is nan in both; keep the values finite
    if scalar is not None:  # a Python number takes the tensor's dtype unless its kind is higher (torch)
        assert_same_outcome(lambda lib: BINARY[op](make(lib, a), scalar))
    else:
        assert_same_outcome(lambda lib: BINARY[op](make(lib, a), make(lib, b)))


@FAST
@given(shape_a=shapes, shape_b=shapes, dtype=st.sampled_from(("float32", "float64")), seed=st.integers(0, 2 ** 16))
def test_matmul(shape_a, shape_b, dtype, seed):
    """Any two shapes: torch's product or torch's error (dot, mv, mm, bmm, broadcast batch dims)."""
    a, b = values(dtype, shape_a, seed), values(dtype, shape_b, seed + 1)
    assert_same_outcome(lambda lib: make(lib, a) @ make(lib, b), rtol=1e-5, atol=1e-5)


# ------------------------------------------------------------------------------------------------ dims
DIM_OPS = {  # fn(lib, tensor, dim, keepdim)
    "sum": lambda lib, t, d, k: t.sum(d, keepdim=k), "mean": lambda lib, t, d, k: t.mean(d, keepdim=k),
    "amax": lambda lib, t, d, k: t.amax(d, keepdim=k), "argmax": lambda lib, t, d, k: t.argmax(d, keepdim=k),
    "max": lambda lib, t, d, k: t.max(d, keepdim=k), "softmax": lambda lib, t, d, k: t.softmax(d),
    "log_softmax": lambda lib, t, d, k: lib.nn.functional.log_softmax(t, d),
    "squeeze": lambda lib, t, d, k: t.squeeze(d), "unsqueeze": lambda lib, t, d, k: t.unsqueeze(d),
    "flatten": lambda lib, t, d, k: t.flatten(d), "transpose": lambda lib, t, d, k: t.transpose(0, d),
    "size": lambda lib, t, d, k: t.size(d), "cat": lambda lib, t, d, k: lib.cat([t, t], d),
    "stack": lambda lib, t, d, k: lib.stack([t, t], d),
}


@FAST
@given(shape=shapes, dtype=st.sampled_from(DTYPES), dim=st.integers(-4, 3), keepdim=st.booleans(),
       op=st.sampled_from(sorted(DIM_OPS)), seed=st.integers(0, 2 ** 16))
def test_dim_argument(shape, dtype, dim, keepdim, op, seed):
    """Every dim (in range or not) on every shape and dtype, empty tensors included."""
    data = values(dtype, shape, seed)
    assert_same_outcome(lambda lib: DIM_OPS[op](lib, make(lib, data), dim, keepdim), rtol=1e-5, atol=1e-6)


@FAST
@given(shape=shapes, dims=st.lists(st.integers(-4, 3), max_size=4), seed=st.integers(0, 2 ** 16))
def test_permute_expand_reshape(shape, dims, seed):
    data = values("float32", shape, seed)
    assert_same_outcome(lambda lib: make(lib, data).permute(*dims))
    assert_same_outcome(lambda lib: make(lib, data).reshape(*dims) if dims else make(lib, data).reshape(()))
    if shape:  # torch expands a 0-d tensor to size -1, and accepts other negative sizes without complaint
        assert_same_outcome(lambda lib: make(lib, data).expand(*[n if n >= 0 else -1 for n in dims]))


@FAST
@given(shape=hnp.array_shapes(min_dims=1, max_dims=3, max_side=4), index_shape=hnp.array_shapes(min_dims=0,
       max_dims=3, max_side=5), dim=st.integers(-3, 2), low=st.integers(-6, 0), high=st.integers(1, 6),
       seed=st.integers(0, 2 ** 16))
def test_gather(shape, index_shape, dim, low, high, seed):
    """Random index shapes and values: torch's result, or its error for negative, out-of-range, too-large."""
    data = values("float32", shape, seed)
    index = np.random.default_rng(seed).integers(low, high, index_shape)
    # which of several bad indices torch names depends on its loop order: any bad one, named with its dim, will do
    any_index = lambda message: re.escape(re.sub(r"index -?\d+", "INDEX", message)).replace("INDEX", r"index -?\d+")
    assert_same_outcome(lambda lib: make(lib, data).gather(dim, make(lib, index)), key=any_index)


# ------------------------------------------------------------------------------------------------ random graphs
UNARY = {
    "exp_tanh": lambda x: x.tanh().exp(), "sigmoid": lambda x: x.sigmoid(), "relu": lambda x: x.relu(),
    "square": lambda x: x * x, "neg": lambda x: -x, "abs": lambda x: x.abs(),
    "log1p_sq": lambda x: (x * x).log1p(), "sqrt": lambda x: (x * x + 1).sqrt(),
    "softmax": lambda x: x.softmax(-1), "log_softmax": lambda x: x.log_softmax(-1),
    "sum_keep": lambda x: x.sum(-1, keepdim=True), "mean_keep": lambda x: x.mean(0, keepdim=True),
    "max_keep": lambda x: x.max(-1, keepdim=True)[0], "transpose_back": lambda x: x.transpose(0, -1).transpose(0, -1),
    "reshape_back": lambda x: x.reshape(-1).reshape(x.shape), "scale": lambda x: x * 0.5 - 1.0,
}
GRAPH_BINARY = {
    "add": lambda a, b: a + b, "sub": lambda a, b: a - b, "mul": lambda a, b: a * b,
    "div": lambda a, b: a / (b * b + 1), "maximum": lambda a, b: a.maximum(b),
}


@st.composite
def graphs(draw):
    """(leaf shapes, program): leaves broadcast together; each step applies an op to earlier nodes."""
    leaf_shapes = draw(hnp.mutually_broadcastable_shapes(num_shapes=draw(st.integers(1, 3)), min_dims=1, max_dims=3,
                                                         min_side=1, max_side=4)).input_shapes
    program = []
    for _ in range(draw(st.integers(1, 6))):
        nodes = len(leaf_shapes) + len(program)
        if draw(st.booleans()):
            program.append(("unary", draw(st.sampled_from(sorted(UNARY))), draw(st.integers(0, nodes - 1)), None))
        else:
            program.append(("binary", draw(st.sampled_from(sorted(GRAPH_BINARY))), draw(st.integers(0, nodes - 1)),
                            draw(st.integers(0, nodes - 1))))
    return leaf_shapes, program


def run_graph(lib, leaves_data, program, dtype):
    """Forward values of every node, and every leaf's gradient of a weighted sum of all nodes."""
    leaves = [lib.tensor(x, dtype=getattr(lib, dtype), requires_grad=True) for x in leaves_data]
    nodes = list(leaves)
    for kind, name, i, j in program:
        nodes.append(UNARY[name](nodes[i]) if kind == "unary" else GRAPH_BINARY[name](nodes[i], nodes[j]))
    total = sum((node * (k + 1)).sum() for k, node in enumerate(nodes[len(leaves):]))
    total.backward()
    return [node.detach() for node in nodes] + [leaf.grad for leaf in leaves]


@settings(max_examples=40, deadline=None)
@given(graph=graphs(), dtype=st.sampled_from(("float32", "float64")), seed=st.integers(0, 2 ** 16))
def test_random_graph_values_and_gradients(graph, dtype, seed):
    leaf_shapes, program = graph
    rng = np.random.default_rng(seed)
    # distinct values: ties (max, relu at 0, abs at 0) have no single torch-agreed subgradient
    leaves_data = [rng.permutation(np.arange(int(np.prod(s)))).reshape(s) * 0.37 - 1.1 + rng.random(s) * 0.01
                   for s in leaf_shapes]
    expected, torch_error = run(lambda lib: run_graph(lib, leaves_data, program, dtype), torch)
    assert torch_error is None, torch_error
    got, error = run(lambda lib: run_graph(lib, leaves_data, program, dtype), minigrad)
    assert error is None, error
    tol = dict(rtol=2e-4, atol=1e-4) if dtype == "float32" else dict(rtol=1e-9, atol=1e-9)
    assert_same(got, expected, **tol)
