"""Bad and unusual input, run side by side on minigrad and torch: no silent wrong answers.

``CASES`` is one table of ``Case(name, fn)``; ``fn(lib)`` runs unchanged with ``lib`` = minigrad or torch.
For every case torch runs too, in the test, and minigrad must either
  * raise an exception of torch's class whose message matches the key part of torch's (``match``, a regex
    that is checked against torch's message as well; by default torch's whole first line), or
  * return torch's value (same dtype, shape and values; same Python value for non-tensors),
unless the case documents a deliberate difference, each listed in the README ("Where minigrad is stricter or
more lenient than torch"):
  * ``ours``: torch's message names nothing useful; minigrad's must match this regex (same class still);
  * ``stricter=(error, regex)``: minigrad raises where torch returns a value (dtypes minigrad has not got);
  * ``lenient=fn(torch)``: torch raises, minigrad returns what ``fn(torch)`` returns.
"""
from __future__ import annotations

import re
from dataclasses import dataclass

import numpy as np
import pytest

import minigrad

torch = pytest.importorskip("torch")
from _torch_parity import assert_same, assert_same_error, run  # noqa: E402  (needs torch)


@dataclass(frozen=True)
class Case:
    name: str
    fn: object
    match: str | None = None
    ours: str | None = None
    stricter: tuple | None = None
    lenient: object = None


def F(lib):
    return lib.nn.functional


X23 = np.arange(6, dtype=np.float32).reshape(2, 3) / 7  # a small, non-symmetric float input
LOGITS = np.array([[0.1, 0.5, -0.3], [1.0, -2.0, 0.4]], dtype=np.float32)


def t23(lib, **kwargs):
    return lib.tensor(X23, **kwargs)


def logits(lib):
    return lib.tensor(LOGITS)


def log_probs(lib):
    return F(lib).log_softmax(logits(lib), 1)


def targets(lib):
    return lib.tensor([2, 0])


def probs(lib):
    return lib.tensor([0.2, 0.7])


def labels(lib):
    return lib.tensor([0.0, 1.0])


# ------------------------------------------------------------------------------------------------ helpers
def assign_grad(lib, grad_of):
    """Assign ``grad_of(lib)`` as the grad of a (3,) float32 leaf and return what .grad then holds."""
    x = lib.zeros(3, requires_grad=True)
    x.grad = grad_of(lib)
    return x.grad


def assign_own_grad(lib):
    x = lib.zeros(3, requires_grad=True)
    x.grad = x
    return x.grad


def setitem_records(lib):
    """y[1] = x[0] * 3 with x requiring grad is recorded: x gets the gradient through y."""
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.zeros(3)
    y[1] = x[0] * 3
    (y * lib.tensor([1.0, 2.0, 4.0])).sum().backward()
    return x.grad


def setitem_requires_grad(lib):
    x = lib.tensor([1.0, 2.0], requires_grad=True)
    y = lib.zeros(3)
    y[0] = x[1]
    return y.requires_grad


def integer_cast_ends_graph(lib):
    x = lib.tensor([1.5, 2.5], requires_grad=True)
    y = x.long()
    return y.requires_grad, y.grad_fn is None


def backward_through_integer_cast(lib):
    x = lib.tensor([1.5, 2.5], requires_grad=True)
    (x.long() * 2).sum().backward()


def integer_cast_then_float(lib):
    x = lib.tensor([1.5, 2.5], requires_grad=True)
    return (x.long().float() * x).requires_grad


def step_with_grad(lib, grad):
    """One SGD step after assigning ``grad``: the update uses exactly that gradient."""
    w = lib.nn.Parameter(lib.tensor([1.0, 2.0, 3.0]))
    w.grad = lib.tensor(grad)
    lib.optim.SGD([w], lr=0.5).step()
    return w.detach()


def setitem(lib, key, value):
    t = lib.zeros(2, 3)
    t[key] = value
    return t


def contains(lib, items):
    return lib.tensor([1, 2]) in items


CASES = [
    # -------------------------------------------------------------------------------------------- construction
    Case("ndarray_object", lambda lib: lib.tensor(np.array([1, "a"], dtype=object)),
         match=r"can't convert np.ndarray of type numpy.object_\. The only supported types are"),
    Case("ndarray_str", lambda lib: lib.tensor(np.array(["a", "b"])),
         match=r"can't convert np.ndarray of type numpy.str_"),
    Case("ndarray_bytes", lambda lib: lib.tensor(np.array([b"a"])), match=r"can't convert np.ndarray of type numpy"),
    Case("ndarray_datetime", lambda lib: lib.tensor(np.array(["2020-01-01"], dtype="datetime64[D]")),
         match=r"can't convert np.ndarray of type numpy.datetime64"),
    Case("ndarray_longdouble", lambda lib: lib.tensor(np.array([1.5], dtype=np.longdouble)),
         match=r"can't convert np.ndarray of type numpy.longdouble"),
    Case("as_tensor_object", lambda lib: lib.as_tensor(np.array([None, 1], dtype=object)),
         match=r"can't convert np.ndarray of type numpy.object_"),
    Case("from_numpy_object", lambda lib: lib.from_numpy(np.array([1], dtype=object)),
         match=r"can't convert np.ndarray of type numpy.object_"),
    Case("ndarray_uint16", lambda lib: lib.tensor(np.array([1], dtype=np.uint16)),
         stricter=(TypeError, r"can't convert np.ndarray of type numpy.uint16")),
    Case("ndarray_uint32", lambda lib: lib.tensor(np.array([1], dtype=np.uint32)),
         stricter=(TypeError, r"can't convert np.ndarray of type numpy.uint32")),
    Case("ndarray_uint64", lambda lib: lib.tensor(np.array([1], dtype=np.uint64)),
         stricter=(TypeError, r"can't convert np.ndarray of type numpy.uint64")),
    Case("as_tensor_uint16", lambda lib: lib.as_tensor(np.array([1], dtype=np.uint16)),
         stricter=(TypeError, r"can't convert np.ndarray of type numpy.uint16")),
    Case("from_numpy_uint32", lambda lib: lib.from_numpy(np.array([1], dtype=np.uint32)),
         stricter=(TypeError, r"can't convert np.ndarray of type numpy.uint32")),
    Case("ndarray_complex", lambda lib: lib.tensor(np.array([1 + 2j])),
         stricter=(TypeError, r"can't convert np.ndarray of type numpy.complex128")),
    Case("list_of_complex", lambda lib: lib.tensor([1 + 2j]), stricter=(TypeError, r"complex")),
    Case("full_complex", lambda lib: lib.full((2,), 1j), stricter=(TypeError, r"complex")),
    Case("numpy_uint16_scalar", lambda lib: lib.tensor(np.uint16(5)), stricter=(TypeError, r"numpy.uint16")),
    Case("list_of_str", lambda lib: lib.tensor(["a", "b"])),
    Case("str", lambda lib: lib.tensor("abc")),
    Case("bytes", lambda lib: lib.tensor(b"ab")),
    Case("numpy_str_scalar", lambda lib: lib.tensor(np.str_("a"))),
    Case("none", lambda lib: lib.tensor(None)),
    Case("list_with_none", lambda lib: lib.tensor([1, None])),
    Case("nested_none", lambda lib: lib.tensor([[1], None]), match=r"NoneType|not a sequence"),
    Case("dict", lambda lib: lib.tensor({1: 2})),
    Case("set", lambda lib: lib.tensor({1, 2})),
    Case("generator", lambda lib: lib.tensor(x for x in [1])),
    Case("ragged_short_row", lambda lib: lib.tensor([[1, 2], [3]])),
    Case("ragged_long_row", lambda lib: lib.tensor([[1, 2], [3, 4, 5]])),
    Case("ragged_depth", lambda lib: lib.tensor([[1, 2], 3]), match="not a sequence"),
    Case("multi_element_tensors_in_list", lambda lib: lib.tensor([lib.ones(2), lib.ones(2)])),
    Case("python_float_to_float64_exact", lambda lib: lib.tensor([0.1], dtype=lib.float64).item()),
    Case("python_float_scalar_to_float64", lambda lib: lib.tensor(0.1, dtype=lib.float64).item()),
    Case("python_float_default_float32", lambda lib: lib.tensor([0.1]).item()),
    Case("as_tensor_float64_exact", lambda lib: lib.as_tensor([1 / 3], dtype=lib.float64).item()),
    Case("float64_to_float16", lambda lib: lib.tensor([0.1], dtype=lib.float16).item()),
    Case("list_of_np_float64", lambda lib: lib.tensor([np.float64(1.5), np.float64(2)])),
    Case("list_of_np_float32", lambda lib: lib.tensor([np.float32(1.5)])),
    Case("np_float64_with_python_float", lambda lib: lib.tensor([np.float64(0.1), 2.0])),
    Case("python_float_with_np_float64", lambda lib: lib.tensor([1.0, np.float64(0.1)])),
    Case("np_float64_scalar", lambda lib: lib.tensor(np.float64(0.1))),
    Case("list_of_np_int32", lambda lib: lib.tensor([np.int32(1), np.int32(2)])),
    Case("np_int32_with_python_int", lambda lib: lib.tensor([np.int32(1), 5])),
    Case("np_float16_with_python_float", lambda lib: lib.tensor([np.float16(1), 5.0])),
    Case("np_int8_with_np_uint8", lambda lib: lib.tensor([np.int8(1), np.uint8(5)])),
    Case("np_int64_with_np_float16", lambda lib: lib.tensor([np.int64(1), np.float16(5)])),
    Case("list_of_np_bool", lambda lib: lib.tensor([np.bool_(True), np.bool_(False)])),
    Case("list_of_int32_arrays", lambda lib: lib.tensor([np.array([1, 2], np.int32), np.array([3, 4], np.int32)])),
    Case("list_of_0d_tensors", lambda lib: lib.tensor([lib.tensor(1), lib.tensor(2.5)])),
    Case("int32_tensor_with_int", lambda lib: lib.tensor([lib.tensor(1, dtype=lib.int32), 2])),
    Case("bool_and_int", lambda lib: lib.tensor([True, 2])),
    Case("bool_and_float", lambda lib: lib.tensor([True, 2.5])),
    Case("int_and_float", lambda lib: lib.tensor([1, 2.5])),
    Case("bools", lambda lib: lib.tensor([True, False])),
    Case("empty_list", lambda lib: lib.tensor([])),
    Case("empty_nested", lambda lib: lib.tensor([[], []])),
    Case("range", lambda lib: lib.tensor(range(3))),
    Case("tuple", lambda lib: lib.tensor((1, 2))),
    Case("int_2_pow_63", lambda lib: lib.tensor([2 ** 63])),
    Case("int_2_pow_64", lambda lib: lib.tensor([2 ** 64])),
    Case("int_minus_2_pow_63", lambda lib: lib.tensor([-2 ** 63])),
    Case("int_2_pow_63_as_float", lambda lib: lib.tensor([2 ** 63], dtype=lib.float32)),
    Case("big_int_with_float", lambda lib: lib.tensor([2 ** 63, 1.5])),
    Case("inf_to_int64", lambda lib: lib.tensor([float("inf")], dtype=lib.int64)),
    Case("nan_to_int64", lambda lib: lib.tensor([float("nan")], dtype=lib.int64)),
    Case("1e30_to_int64", lambda lib: lib.tensor([1e30], dtype=lib.int64)),
    Case("np_inf_to_int64", lambda lib: lib.tensor([np.float64(np.inf)], dtype=lib.int64)),
    Case("300_to_uint8", lambda lib: lib.tensor([300], dtype=lib.uint8)),
    Case("minus_1_to_uint8", lambda lib: lib.tensor([-1], dtype=lib.uint8)),
    Case("minus_255_to_uint8", lambda lib: lib.tensor([-255], dtype=lib.uint8)),
    Case("minus_256_to_uint8", lambda lib: lib.tensor([-256], dtype=lib.uint8)),
    Case("128_to_int8", lambda lib: lib.tensor([128], dtype=lib.int8)),
    Case("minus_129_to_int8", lambda lib: lib.tensor([-129], dtype=lib.int8)),
    Case("2_pow_31_to_int32", lambda lib: lib.tensor([2 ** 31], dtype=lib.int32)),
    Case("255.9_to_uint8", lambda lib: lib.tensor([255.9], dtype=lib.uint8)),
    Case("minus_1.5_to_uint8", lambda lib: lib.tensor([-1.5], dtype=lib.uint8)),
    Case("float_truncates_to_int", lambda lib: lib.tensor([1.7, -1.7], dtype=lib.int64)),
    Case("2.5_to_uint8", lambda lib: lib.tensor([2.5], dtype=lib.uint8)),
    Case("float_to_bool", lambda lib: lib.tensor([2.7, 0.0, float("nan")], dtype=lib.bool)),
    Case("1e5_to_float16_is_inf", lambda lib: lib.tensor([1e5], dtype=lib.float16)),
    Case("ndarray_inf_to_int_wraps_as_torch", lambda lib: lib.tensor(np.array([1.7, -2.2]), dtype=lib.int64)),
    Case("arange_float64", lambda lib: lib.arange(0, 1, 0.1, dtype=lib.float64)),
    Case("arange_float_default", lambda lib: lib.arange(0, 1, 0.1)),
    Case("arange_int_as_float64", lambda lib: lib.arange(5, dtype=lib.float64)),
    Case("arange_wrong_sign", lambda lib: lib.arange(0, 5, -1)),
    Case("arange_zero_step", lambda lib: lib.arange(0, 5, 0)),
    Case("linspace_float64", lambda lib: lib.linspace(0, 1, 11, dtype=lib.float64)),
    Case("linspace_one_step", lambda lib: lib.linspace(2.0, 5.0, 1)),
    Case("linspace_negative_steps", lambda lib: lib.linspace(0, 1, -1)),
    Case("full_float64", lambda lib: lib.full((2,), 0.1, dtype=lib.float64)),
    Case("full_infers_bool", lambda lib: lib.full((2,), True)),
    Case("full_infers_int64", lambda lib: lib.full((2,), 3)),
    Case("full_str", lambda lib: lib.full((2,), "a")),
    Case("full_negative_size", lambda lib: lib.full((2, -1), 1.0)),
    Case("ones_negative_size", lambda lib: lib.ones(2, -1)),
    Case("zeros_float_size", lambda lib: lib.zeros(2.0)),
    Case("zeros_str_size", lambda lib: lib.zeros("a")),
    Case("ones_none_size", lambda lib: lib.ones(None)),
    Case("rand_int64", lambda lib: lib.rand(2, dtype=lib.int64)),
    Case("randn_int64", lambda lib: lib.randn(2, dtype=lib.int64)),
    Case("randn_bool", lambda lib: lib.randn(2, dtype=lib.bool)),
    Case("rand_negative_size", lambda lib: lib.rand(2, -1)),
    Case("randint_empty_range", lambda lib: lib.randint(5, 2, (2,))),
    Case("randn_float64_dtype", lambda lib: lib.randn(3, dtype=lib.float64).dtype),
    Case("requires_grad_int", lambda lib: lib.tensor([1], requires_grad=True),
         match="floating point .*can require gradients"),
    Case("dtype_as_numpy_type", lambda lib: lib.tensor([1], dtype=np.float32),
         lenient=lambda t: t.tensor([1], dtype=t.float32)),
    Case("dtype_as_string", lambda lib: lib.tensor([1], dtype="float64"),
         lenient=lambda t: t.tensor([1], dtype=t.float64)),
    # -------------------------------------------------------------------------------------------- autograd
    Case("grad_wrong_size", lambda lib: assign_grad(lib, lambda lib: lib.zeros(2)),
         match=r"attempting to assign a gradient of size '\[2\]' to a tensor of size '\[3\]'"),
    Case("grad_wrong_size_2d", lambda lib: assign_grad(lib, lambda lib: lib.zeros(1, 3)),
         match=r"attempting to assign a gradient of size '\[1, 3\]'"),
    Case("grad_wrong_dtype", lambda lib: assign_grad(lib, lambda lib: lib.zeros(3, dtype=lib.float64)),
         match=r"attempting to assign a gradient with dtype 'double' to a tensor with grad_dtype 'Float'"),
    Case("grad_integer", lambda lib: assign_grad(lib, lambda lib: lib.zeros(3, dtype=lib.int64)),
         match=r"attempting to assign a gradient with dtype 'long int'"),
    Case("grad_python_number", lambda lib: assign_grad(lib, lambda lib: 3)),
    Case("grad_ndarray", lambda lib: assign_grad(lib, lambda lib: np.zeros(3, np.float32))),
    Case("grad_list", lambda lib: assign_grad(lib, lambda lib: [0.0, 0.0, 0.0])),
    Case("grad_itself", assign_own_grad),
    Case("grad_valid", lambda lib: assign_grad(lib, lambda lib: lib.ones(3))),
    Case("grad_none", lambda lib: assign_grad(lib, lambda lib: None)),
    Case("sgd_step_uses_assigned_grad", lambda lib: step_with_grad(lib, [0.5, -1.0, 2.0])),
    Case("sgd_step_refuses_broadcast_grad", lambda lib: step_with_grad(lib, [0.5]),
         match="attempting to assign a gradient of size"),
    Case("integer_cast_not_differentiable", integer_cast_ends_graph),
    Case("backward_through_integer_cast", backward_through_integer_cast,
         match="does not require grad and does not have a grad_fn"),
    Case("integer_cast_then_float", integer_cast_then_float),
    Case("setitem_with_grad_is_recorded", setitem_records),
    Case("setitem_with_grad_requires_grad", setitem_requires_grad),
    Case("requires_grad_on_long", lambda lib: lib.ones(2).long().requires_grad_(),
         match="only Tensors of floating point dtype can require gradients"),
    # -------------------------------------------------------------------------------------------- dims
    Case("permute_dim_out_of_range", lambda lib: t23(lib).permute(0, 5)),
    Case("permute_negative_out_of_range", lambda lib: t23(lib).permute(-3, 0)),
    Case("permute_duplicate", lambda lib: t23(lib).permute(0, 0)),
    Case("permute_too_many", lambda lib: t23(lib).permute(0, 1, 2)),
    Case("permute_too_few", lambda lib: t23(lib).permute(0)),
    Case("permute_negative", lambda lib: t23(lib).permute(-1, -2)),
    Case("expand_minus_1_leading", lambda lib: lib.ones(3).expand(-1, 3)),
    Case("expand_minus_2", lambda lib: lib.ones(3).expand(-2)),
    Case("expand_minus_2_on_size_1", lambda lib: lib.ones(1).expand(-2), ours=r"negative dimension -2"),
    Case("expand_minus_2_leading", lambda lib: lib.ones(3).expand(-2, 3), ours=r"negative dimension -2"),
    Case("expand_mismatch", lambda lib: lib.ones(3).expand(4)),
    Case("expand_0d_to_minus_1", lambda lib: lib.tensor(1.0).expand(0, -1),
         stricter=(RuntimeError, r"\(-1\) isn't allowed in a leading, non-existing dimension 1")),
    Case("expand_empty_to_negative", lambda lib: lib.ones(0).expand(-2, 0),
         stricter=(RuntimeError, r"negative dimension -2")),
    Case("expand_fewer_sizes", lambda lib: lib.ones(2, 3).expand(3)),
    Case("expand_minus_1_keeps", lambda lib: lib.ones(1, 3).expand(2, -1)),
    Case("reshape_wrong_size", lambda lib: t23(lib).reshape(4, 2)),
    Case("reshape_two_minus_1", lambda lib: t23(lib).reshape(-1, -1)),
    Case("reshape_minus_2", lambda lib: t23(lib).reshape(-2, 3)),
    Case("reshape_zero_and_minus_1", lambda lib: t23(lib).reshape(0, -1)),
    Case("view_wrong_size", lambda lib: t23(lib).view(5)),
    Case("squeeze_dim_5", lambda lib: t23(lib).squeeze(5)),
    Case("unsqueeze_dim_5", lambda lib: t23(lib).unsqueeze(5)),
    Case("unsqueeze_dim_minus_4", lambda lib: t23(lib).unsqueeze(-4)),
    Case("unsqueeze_dim_2", lambda lib: t23(lib).unsqueeze(2)),
    Case("transpose_dim_5", lambda lib: t23(lib).transpose(0, 5)),
    Case("flatten_dim_5", lambda lib: t23(lib).flatten(5)),
    Case("flatten_start_after_end", lambda lib: t23(lib).flatten(1, 0)),
    Case("sum_dim_5", lambda lib: t23(lib).sum(5)),
    Case("sum_duplicate_dims", lambda lib: t23(lib).sum((0, 0))),
    Case("sum_duplicate_negative_dims", lambda lib: t23(lib).sum((1, -1))),
    Case("sum_float_dim", lambda lib: t23(lib).sum(1.5), ours="dim must be an int"),
    Case("mean_dim_minus_3", lambda lib: t23(lib).mean(-3)),
    Case("max_dim_5", lambda lib: t23(lib).max(5)),
    Case("argmax_dim_5", lambda lib: t23(lib).argmax(5)),
    Case("softmax_dim_5", lambda lib: t23(lib).softmax(5)),
    Case("F_softmax_dim_5", lambda lib: F(lib).softmax(t23(lib), 5)),
    Case("log_softmax_dim_minus_3", lambda lib: F(lib).log_softmax(t23(lib), -3)),
    Case("cat_dim_5", lambda lib: lib.cat([t23(lib), t23(lib)], 5)),
    Case("stack_dim_5", lambda lib: lib.stack([t23(lib), t23(lib)], 5)),
    Case("size_dim_5", lambda lib: t23(lib).size(5)),
    Case("size_dim_minus_1", lambda lib: t23(lib).size(-1)),
    Case("sum_0d_dim_1", lambda lib: lib.tensor(1.0).sum(1)),
    Case("sum_0d_dim_0", lambda lib: lib.tensor(1.0).sum(0)),
    Case("softmax_0d", lambda lib: lib.tensor(1.5).softmax(0)),
    Case("gather_dim_5", lambda lib: t23(lib).gather(5, lib.zeros(2, 1, dtype=lib.int64))),
    Case("gather_negative_index", lambda lib: t23(lib).gather(1, lib.tensor([[-1], [0]]))),
    Case("gather_index_out_of_range", lambda lib: t23(lib).gather(1, lib.tensor([[5], [0]]))),
    Case("gather_index_wrong_ndim", lambda lib: t23(lib).gather(1, lib.tensor([0, 1]))),
    Case("gather_index_larger_than_input", lambda lib: t23(lib).gather(0, lib.zeros(2, 4, dtype=lib.int64))),
    Case("gather_index_longer_along_dim", lambda lib: t23(lib).gather(0, lib.tensor([[1, 0, 1]] * 3))),
    Case("gather_float_index", lambda lib: t23(lib).gather(1, lib.zeros(2, 1))),
    Case("gather_int32_index", lambda lib: t23(lib).gather(1, lib.tensor([[2], [1]], dtype=lib.int32))),
    Case("getitem_out_of_range", lambda lib: t23(lib)[5]),
    Case("getitem_out_of_range_dim_1", lambda lib: t23(lib)[:, 5]),
    Case("getitem_negative_out_of_range", lambda lib: t23(lib)[-3]),
    Case("getitem_tensor_out_of_range", lambda lib: t23(lib)[lib.tensor([5])]),
    Case("getitem_list_out_of_range", lambda lib: t23(lib)[[0, 5]]),
    Case("getitem_too_many_indices", lambda lib: t23(lib)[0, 0, 0]),
    Case("getitem_float", lambda lib: t23(lib)[1.5], match=r"only integers, slices \(`:`\), ellipsis \(`...`\)"),
    Case("getitem_0d", lambda lib: lib.tensor(1.0)[0]),
    Case("setitem_out_of_range", lambda lib: setitem(lib, 5, 1.0)),
    Case("setitem_list_value", lambda lib: setitem(lib, 0, [1.0, 2.0, 3.0]), ours="list"),
    Case("index_select_out_of_range", lambda lib: t23(lib).index_select(1, lib.tensor([3])),
         match="out of .*bounds"),
    # -------------------------------------------------------------------------------------------- losses
    Case("nll_size_average_false_sums", lambda lib: F(lib).nll_loss(log_probs(lib), targets(lib),
                                                                     size_average=False)),
    Case("nll_reduce_false", lambda lib: F(lib).nll_loss(log_probs(lib), targets(lib), reduce=False)),
    Case("nll_size_average_true", lambda lib: F(lib).nll_loss(log_probs(lib), targets(lib), size_average=True)),
    Case("nll_legacy_overrides_reduction", lambda lib: F(lib).nll_loss(log_probs(lib), targets(lib),
                                                                       size_average=False, reduction="none")),
    Case("cross_entropy_size_average_false", lambda lib: F(lib).cross_entropy(logits(lib), targets(lib),
                                                                              size_average=False)),
    Case("bce_size_average_false", lambda lib: F(lib).binary_cross_entropy(probs(lib), labels(lib),
                                                                           size_average=False)),
    Case("bce_logits_reduce_false", lambda lib: F(lib).binary_cross_entropy_with_logits(probs(lib), labels(lib),
                                                                                        reduce=False)),
    Case("mse_size_average_false", lambda lib: F(lib).mse_loss(probs(lib), labels(lib), size_average=False)),
    Case("NLLLoss_size_average_false", lambda lib: lib.nn.NLLLoss(size_average=False)(log_probs(lib),
                                                                                     targets(lib))),
    Case("CrossEntropyLoss_reduce_false", lambda lib: lib.nn.CrossEntropyLoss(reduce=False)(logits(lib),
                                                                                           targets(lib))),
    Case("MSELoss_legacy_over_reduction", lambda lib: lib.nn.MSELoss(size_average=False, reduction="none")(
        probs(lib), labels(lib))),
    Case("reduction_unknown", lambda lib: F(lib).mse_loss(probs(lib), labels(lib), reduction="avg")),
    Case("bce_target_above_1", lambda lib: F(lib).binary_cross_entropy(probs(lib), lib.tensor([0.0, 2.0]))),
    Case("bce_target_below_0", lambda lib: F(lib).binary_cross_entropy(probs(lib), lib.tensor([-1.0, 1.0]))),
    Case("bce_target_nan", lambda lib: F(lib).binary_cross_entropy(probs(lib), lib.tensor([0.0, float("nan")]))),
    Case("bce_input_above_1", lambda lib: F(lib).binary_cross_entropy(lib.tensor([0.2, 1.5]), labels(lib))),
    Case("bce_input_nan", lambda lib: F(lib).binary_cross_entropy(lib.tensor([0.2, float("nan")]), labels(lib))),
    Case("bce_size_mismatch", lambda lib: F(lib).binary_cross_entropy(probs(lib), lib.tensor([0.0, 1.0, 1.0])),
),
    Case("bce_int_input", lambda lib: F(lib).binary_cross_entropy(lib.tensor([0, 1]), labels(lib))),
    Case("bce_int_target", lambda lib: F(lib).binary_cross_entropy(probs(lib), lib.tensor([0, 1]))),
    Case("bce_int_both", lambda lib: F(lib).binary_cross_entropy(lib.tensor([0, 1]), lib.tensor([0, 1]))),
    Case("bce_float64_target", lambda lib: F(lib).binary_cross_entropy(probs(lib), labels(lib).double())),
    Case("bce_logits_int_input", lambda lib: F(lib).binary_cross_entropy_with_logits(lib.tensor([0, 1]),
                                                                                     labels(lib))),
    Case("bce_logits_int_target", lambda lib: F(lib).binary_cross_entropy_with_logits(probs(lib),
                                                                                      lib.tensor([0, 1]))),
    Case("bce_logits_target_above_1_allowed", lambda lib: F(lib).binary_cross_entropy_with_logits(
        probs(lib), lib.tensor([0.0, 2.0]))),
    Case("softmax_int", lambda lib: lib.tensor([1, 2]).softmax(0)),
    Case("softmax_int_not_last_dim", lambda lib: lib.tensor([[1, 2]]).softmax(0)),
    Case("F_softmax_int", lambda lib: F(lib).softmax(lib.tensor([1, 2]), 0)),
    Case("log_softmax_int", lambda lib: F(lib).log_softmax(lib.tensor([1, 2]), 0)),
    Case("softmax_bool", lambda lib: lib.tensor([True]).softmax(0)),
    Case("softmax_int_with_dtype", lambda lib: F(lib).softmax(lib.tensor([1, 2]), 0, dtype=lib.float64)),
    Case("cross_entropy_int_logits", lambda lib: F(lib).cross_entropy(lib.tensor([[1, 2]]), lib.tensor([0]))),
    Case("cross_entropy_int_logits_3d", lambda lib: F(lib).cross_entropy(lib.zeros(2, 3, 4, dtype=lib.int64),
                                                                         lib.zeros(2, 4, dtype=lib.int64))),
    Case("nll_int_input", lambda lib: F(lib).nll_loss(lib.tensor([[1, 2]]), lib.tensor([0]))),
    Case("nll_int_input_3d", lambda lib: F(lib).nll_loss(lib.zeros(2, 3, 4, dtype=lib.int64),
                                                         lib.zeros(2, 4, dtype=lib.int64))),
    Case("mse_int", lambda lib: F(lib).mse_loss(lib.tensor([1, 2]), lib.tensor([1, 3]))),
    Case("mse_bool", lambda lib: F(lib).mse_loss(lib.tensor([True]), lib.tensor([True]))),
    Case("mse_int_and_float", lambda lib: F(lib).mse_loss(lib.tensor([1, 2]), lib.tensor([1.0, 3.0]))),
    Case("mse_float32_and_float64", lambda lib: F(lib).mse_loss(probs(lib), labels(lib).double())),
    Case("mse_not_broadcastable", lambda lib: F(lib).mse_loss(probs(lib), lib.tensor([1.0, 3.0, 4.0]))),
    Case("relu_bool", lambda lib: lib.tensor([True]).relu()),
    Case("cross_entropy_float_index_target", lambda lib: F(lib).cross_entropy(logits(lib), lib.tensor([1.0, 0.0]))),
    Case("cross_entropy_int_probabilities", lambda lib: F(lib).cross_entropy(logits(lib),
                                                                             lib.ones(2, 3, dtype=lib.int64))),
    Case("cross_entropy_2d_index_target", lambda lib: F(lib).cross_entropy(logits(lib), lib.tensor([[1], [0]]))),
    Case("cross_entropy_target_out_of_bounds", lambda lib: F(lib).cross_entropy(logits(lib), lib.tensor([5, 0]))),
    Case("cross_entropy_negative_target", lambda lib: F(lib).cross_entropy(logits(lib), lib.tensor([-1, 0]))),
    Case("cross_entropy_int32_target", lambda lib: F(lib).cross_entropy(logits(lib),
                                                                        lib.tensor([1, 0], dtype=lib.int32))),
    Case("cross_entropy_uint8_target", lambda lib: F(lib).cross_entropy(logits(lib),
                                                                        lib.tensor([1, 0], dtype=lib.uint8))),
    Case("cross_entropy_batch_mismatch", lambda lib: F(lib).cross_entropy(logits(lib), lib.tensor([1, 0, 1]))),
    Case("cross_entropy_probability_shape", lambda lib: F(lib).cross_entropy(logits(lib), lib.ones(2, 4))),
    Case("cross_entropy_float64_probabilities", lambda lib: (lambda loss: (loss.dtype, loss.float()))(
        F(lib).cross_entropy(logits(lib), lib.full((2, 3), 1 / 3, dtype=lib.float64)))),  # torch: float32 math
    Case("cross_entropy_1d_input_1d_target", lambda lib: F(lib).cross_entropy(logits(lib)[0], lib.tensor([1]))),
    Case("cross_entropy_1d_input_long_target", lambda lib: F(lib).cross_entropy(logits(lib)[0],
                                                                                lib.tensor([1, 2]))),
    Case("cross_entropy_0d_input", lambda lib: F(lib).cross_entropy(lib.tensor(1.0), lib.tensor(0))),
    Case("cross_entropy_label_smoothing_2", lambda lib: F(lib).cross_entropy(logits(lib), targets(lib),
                                                                             label_smoothing=2.0)),
    Case("cross_entropy_weight_length", lambda lib: F(lib).cross_entropy(logits(lib), targets(lib),
                                                                         weight=lib.ones(4))),
    Case("cross_entropy_3d_target_shape", lambda lib: F(lib).cross_entropy(lib.zeros(2, 3, 4),
                                                                           lib.zeros(2, 5, dtype=lib.int64))),
    Case("nll_target_out_of_bounds", lambda lib: F(lib).nll_loss(log_probs(lib), lib.tensor([5, 0]))),
    Case("nll_2d_target", lambda lib: F(lib).nll_loss(log_probs(lib), lib.tensor([[1], [0]]))),
    Case("nll_float_target", lambda lib: F(lib).nll_loss(log_probs(lib), lib.tensor([1.0, 0.0]))),
    Case("nll_bool_target", lambda lib: F(lib).nll_loss(log_probs(lib), lib.tensor([True, False]))),
    Case("nll_0d_target_2d_input", lambda lib: F(lib).nll_loss(log_probs(lib), lib.tensor(1))),
    Case("nll_0d_input", lambda lib: F(lib).nll_loss(lib.tensor(1.0), lib.tensor(1))),
    Case("nll_ignored_target_out_of_range", lambda lib: F(lib).nll_loss(log_probs(lib), lib.tensor([7, 0]),
                                                                        ignore_index=7)),
    # -------------------------------------------------------------------------------------------- printing
    Case("format_0d_int", lambda lib: f"{lib.tensor(5905)}"),
    Case("format_0d_float", lambda lib: f"{lib.tensor(0.5)}"),
    Case("format_0d_float32_value", lambda lib: f"{lib.tensor(0.1)}"),
    Case("format_0d_float64", lambda lib: "{}".format(lib.tensor(0.1, dtype=lib.float64))),
    Case("format_0d_bool", lambda lib: f"{lib.tensor(True)}"),
    Case("format_0d_requires_grad", lambda lib: f"{lib.tensor(1.5, requires_grad=True)}"),
    Case("format_0d_spec", lambda lib: f"{lib.tensor(0.5):.2f}"),
    Case("format_0d_int_spec", lambda lib: f"{lib.tensor(5):>5}"),
    Case("format_1d", lambda lib: f"{lib.tensor([1, 2])}"),
    Case("format_1d_spec", lambda lib: f"{lib.tensor([1.0, 2.0]):.2f}"),
    Case("str_0d_unchanged", lambda lib: str(lib.tensor(0.5))),
    # -------------------------------------------------------------------------------------------- non-tensors
    Case("eq_str", lambda lib: t23(lib) == "a"),
    Case("ne_str", lambda lib: t23(lib) != "a"),
    Case("eq_none", lambda lib: t23(lib) == None),  # noqa: E711  (the case under test)
    Case("ne_none", lambda lib: t23(lib) != None),  # noqa: E711
    Case("eq_list", lambda lib: lib.tensor([1, 2]) == [1, 2]),
    Case("in_list_of_str", lambda lib: contains(lib, ["a", "b"])),
    Case("add_none", lambda lib: t23(lib) + None),
    Case("radd_none", lambda lib: None + t23(lib)),
    Case("sub_str", lambda lib: t23(lib) - "a"),
    Case("mul_str", lambda lib: t23(lib) * "a"),
    Case("lt_str", lambda lib: t23(lib) < "a"),
    Case("add_list", lambda lib: t23(lib) + [1, 2, 3]),
    Case("add_tuple", lambda lib: t23(lib) + (1, 2, 3)),
    Case("matmul_none", lambda lib: t23(lib) @ None),
    Case("matmul_int", lambda lib: t23(lib) @ 3),
    Case("and_none", lambda lib: t23(lib).bool() & None),
    Case("pow_none", lambda lib: t23(lib) ** None),
    Case("truediv_str", lambda lib: t23(lib) / "a"),
    Case("add_method_none", lambda lib: t23(lib).add(None), match="NoneType"),
    Case("eq_method_str", lambda lib: t23(lib).eq("a"), match="str"),
    Case("add_numpy_scalar", lambda lib: t23(lib) + np.float64(2)),
    Case("uint8_plus_300_wraps", lambda lib: lib.tensor([250], dtype=lib.uint8) + 300),
    Case("int8_times_1000_wraps", lambda lib: lib.tensor([1], dtype=lib.int8) * 1000),
    Case("int64_plus_2_pow_70", lambda lib: lib.tensor([5]) + 2 ** 70),
    Case("bool_plus_int", lambda lib: lib.tensor([True]) + 2),
    Case("mul_numpy_array", lambda lib: lib.tensor([1, 2]) * np.array([3, 4])),
    # -------------------------------------------------------------------------------------------- torch's words
    Case("matmul_2d", lambda lib: lib.ones(2, 3) @ lib.ones(4, 5)),
    Case("matmul_1d", lambda lib: lib.ones(3) @ lib.ones(4)),
    Case("matmul_2d_1d", lambda lib: lib.ones(2, 3) @ lib.ones(4)),
    Case("matmul_1d_2d", lambda lib: lib.ones(3) @ lib.ones(4, 5)),
    Case("matmul_3d", lambda lib: lib.ones(2, 2, 3) @ lib.ones(2, 4, 5)),
    Case("matmul_batch_broadcast", lambda lib: lib.ones(2, 2, 3) @ lib.ones(3, 3, 5)),
    Case("matmul_3d_2d", lambda lib: lib.ones(2, 2, 3) @ lib.ones(4, 5)),
    Case("matmul_3d_1d", lambda lib: lib.ones(2, 2, 3) @ lib.ones(4)),
    Case("matmul_1d_3d", lambda lib: lib.ones(4) @ lib.ones(2, 3, 5)),
    Case("matmul_2d_3d", lambda lib: lib.ones(2, 3) @ lib.ones(2, 4, 2)),
    Case("matmul_4d_3d", lambda lib: lib.ones(2, 2, 2, 3) @ lib.ones(2, 4, 2)),
    Case("matmul_0d", lambda lib: lib.tensor(1.0) @ lib.ones(3)),
    Case("matmul_dtypes", lambda lib: lib.ones(2, 3) @ lib.ones(3, 2, dtype=lib.float64)),
    Case("matmul_dtypes_1d", lambda lib: lib.ones(3) @ lib.ones(3, dtype=lib.float64)),
    Case("matmul_dtypes_mv", lambda lib: lib.ones(2, 3) @ lib.ones(3, dtype=lib.float64)),
    Case("matmul_dtypes_batched", lambda lib: lib.ones(2, 2, 3) @ lib.ones(2, 3, 2, dtype=lib.float64)),
    Case("matmul_int_and_float", lambda lib: lib.ones(2, 3, dtype=lib.int64) @ lib.ones(3, 2)),
    Case("matmul_ints", lambda lib: lib.ones(2, 3, dtype=lib.int64) @ lib.ones(3, 2, dtype=lib.int64)),
    Case("matmul_function", lambda lib: lib.matmul(lib.ones(2, 3), lib.ones(4, 5))),
    Case("mm_1d", lambda lib: lib.mm(lib.ones(3), lib.ones(3))),
    Case("mm_mismatch", lambda lib: lib.mm(lib.ones(2, 3), lib.ones(4, 5))),
    Case("dot_mismatch", lambda lib: lib.dot(lib.ones(3), lib.ones(4))),
    Case("linear_mismatch", lambda lib: F(lib).linear(lib.ones(2, 3), lib.ones(4, 5)),
         match=r"mat1 and mat2 shapes cannot be multiplied \(2x3 and 5x4\)"),
    Case("softmax_empty", lambda lib: lib.ones(0, 3).softmax(1)),
    Case("softmax_empty_dim", lambda lib: lib.ones(0).softmax(0)),
    Case("log_softmax_empty_dim", lambda lib: lib.ones(3, 0).log_softmax(1)),
    Case("max_empty", lambda lib: lib.ones(0).max()),
    Case("min_empty", lambda lib: lib.ones(0).min()),
    Case("max_empty_dim", lambda lib: lib.ones(0, 3).max(0)),
    Case("min_empty_dim_1", lambda lib: lib.ones(3, 0).min(1)),
    Case("max_empty_other_dim", lambda lib: lib.ones(0, 3).max(1)),
    Case("argmax_empty", lambda lib: lib.ones(0).argmax()),
    Case("argmin_empty", lambda lib: lib.ones(0).argmin()),
    Case("argmax_empty_dim", lambda lib: lib.ones(0, 3).argmax(0)),
    Case("amax_empty", lambda lib: lib.ones(0).amax()),
    Case("amin_empty_dim", lambda lib: lib.ones(0, 3).amin(0)),
    Case("amax_empty_other_dim", lambda lib: lib.ones(0, 3).amax(1)),
    Case("sum_empty", lambda lib: lib.ones(0).sum()),
    Case("broadcast_add", lambda lib: lib.ones(2, 3) + lib.ones(2, 4)),
    Case("broadcast_mul", lambda lib: lib.ones(3) * lib.ones(4)),
    Case("broadcast_sub", lambda lib: lib.ones(2, 3) - lib.ones(3, 3)),
    Case("broadcast_div", lambda lib: lib.ones(3) / lib.ones(4)),
    Case("broadcast_pow", lambda lib: lib.ones(3) ** lib.ones(4)),
    Case("broadcast_eq", lambda lib: lib.ones(3) == lib.ones(4)),
    Case("broadcast_lt", lambda lib: lib.ones(3) < lib.ones(4)),
    Case("broadcast_and", lambda lib: lib.ones(3, dtype=lib.bool) & lib.ones(4, dtype=lib.bool)),
    Case("broadcast_maximum", lambda lib: lib.maximum(lib.ones(3), lib.ones(4))),
    Case("broadcast_where", lambda lib: lib.where(lib.ones(3, dtype=lib.bool), lib.ones(4), 0.0)),
    Case("broadcast_masked_fill", lambda lib: lib.ones(3).masked_fill(lib.ones(4, dtype=lib.bool), 0.0)),
    Case("broadcast_ok", lambda lib: lib.ones(2, 1) + lib.ones(3)),
    Case("cat_sizes", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(2, 4)])),
    Case("cat_ndim", lambda lib: lib.cat([lib.ones(2, 3), lib.ones(3)])),
    Case("cat_empty_list", lambda lib: lib.cat([])),
    Case("cat_0d", lambda lib: lib.cat([lib.tensor(1.0), lib.tensor(2.0)])),
    Case("cat_a_tensor", lambda lib: lib.cat(lib.ones(2, 2))),
    Case("stack_sizes", lambda lib: lib.stack([lib.ones(2), lib.ones(3)])),
    Case("stack_empty_list", lambda lib: lib.stack([])),
]


@pytest.mark.parametrize("case", CASES, ids=[c.name for c in CASES])
def test_bad_input_matches_torch(case):
    expected, torch_error = run(case.fn, torch)
    got, error = run(case.fn, minigrad)
    if case.stricter is not None:  # a dtype minigrad does not have: refused up front, as documented
        assert torch_error is None, f"not stricter than torch: torch raises {torch_error!r} too"
        kind, pattern = case.stricter
        assert isinstance(error, kind) and re.search(pattern, str(error)), f"minigrad gave {error!r} / {got!r}"
        return
    if case.lenient is not None:
        assert torch_error is not None, "not more lenient than torch: torch accepts it too"
        assert error is None, f"minigrad raises {error!r}"
        assert_same(got, case.lenient(torch))
        return
    if torch_error is None:
        assert error is None, f"torch returns {expected!r}, minigrad raises {error!r}"
        assert_same(got, expected)
    elif case.ours is not None:
        assert isinstance(error, type(torch_error)), f"torch raises {torch_error!r}, minigrad {error!r}"
        assert re.search(case.ours, str(error)), f"minigrad's message {error} does not name the problem"
    else:
        assert_same_error(error, torch_error, case.match)


def test_table_is_large_and_names_are_unique():
    names = [c.name for c in CASES]
    assert len(names) == len(set(names))
    assert len(CASES) >= 150


@pytest.mark.parametrize("draw", ["rand", "randn"])
def test_float64_draws_have_float64_resolution(draw):
    """Drawn in float64, not drawn in float32 and widened (which leaves the low 29 mantissa bits zero)."""
    values = getattr(minigrad, draw)(1000, dtype=minigrad.float64).numpy()
    assert values.dtype == np.float64
    assert (values.astype(np.float32).astype(np.float64) != values).mean() > 0.99


@pytest.mark.skipif(not minigrad.cuda.is_available(), reason="no GPU: a grad on another device needs one")
def test_grad_on_another_device_is_refused():
    x = minigrad.zeros(3, requires_grad=True)
    with pytest.raises(RuntimeError, match="Please ensure that the gradient and the tensor are on the same device"):
        x.grad = minigrad.zeros(3, device="cuda")
