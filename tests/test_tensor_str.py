"""format_tensor must reproduce torch's tensor repr character for character."""
import numpy as np
import pytest

from minigrad._tensor_str import format_tensor

torch = pytest.importorskip("torch")

f32, f64, f16 = np.float32, np.float64, np.float16
rng = np.random.default_rng(0)

CASES = {
    # 0-d
    "scalar_float": np.array(0.4170, f32),
    "scalar_int_valued_float": np.array(3.0, f32),
    "scalar_tiny_float": np.array(1e-5, f32),
    "scalar_nan": np.array(np.nan, f32),
    "scalar_neg_zero": np.array(-0.0, f32),
    "scalar_int": np.array(7, np.int64),
    "scalar_int32": np.array(-7, np.int32),
    "scalar_bool": np.array(True),
    "scalar_float64": np.array(2.5, f64),
    # 1-d floats
    "softmax": np.array([0.6590, 0.2424, 0.0986], f32),
    "integer_valued": np.array([1.0, 2.0, 3.0], f32),
    "integer_valued_negative": np.array([-1.0, 20.0, -300.0], f32),
    "negatives": np.array([-0.5, 1.25, -3.125], f32),
    "zeros": np.zeros(4, f32),
    "negative_zero": np.array([-0.0, 1.0], f32),
    "negative_zero_fixed": np.array([-0.0, 1.5], f32),
    "sci_small": np.array([1e-5, 1.0, 2.0], f32),
    "sci_large": np.array([1e5, 1.0, 2.5], f32),
    "sci_huge_ints": np.array([1e9, 1.0], f32),
    "sci_over_1e8": np.array([2e8, 3e8], f32),
    "ratio_just_1000": np.array([1.0, 1000.0], f32),
    "ratio_over_1000_fraction": np.array([0.5, 600.0], f32),
    "nan_inf": np.array([np.nan, np.inf, -np.inf, 1.5], f32),
    "nan_inf_int_mode": np.array([np.nan, np.inf, -np.inf, 2.0], f32),
    "nan_inf_sci": np.array([np.nan, -np.inf, 1e-6, 3.0], f32),
    "only_nonfinite": np.array([np.nan, np.inf], f32),
    "big_fixed": np.array([123.456, -7.5], f32),
    # other dtypes (dtype item shown)
    "float64": np.array([1.0, 2.0], f64),
    "float64_fraction": np.array([0.1, 0.2, 1 / 3], f64),
    "float16": np.array([0.1, 1.5, -2.0], f16),
    "int32": np.array([1, -20, 300], np.int32),
    "uint8": np.array([0, 128, 255], np.uint8),
    "int64": np.array([1, 2, 3], np.int64),
    "int64_negative": np.array([-1000, 5, 42], np.int64),
    "bool": np.array([True, False, True]),
    "bool_all_true": np.array([True, True]),
    # multi-dimensional
    "2d_float": rng.standard_normal((3, 4)).astype(f32),
    "2d_int": np.arange(12, dtype=np.int64).reshape(3, 4),
    "2d_bool": np.array([[True, False], [False, True]]),
    "2d_sci": np.array([[1e-6, 1.0], [2.0, 3e4]], f32),
    "3d_float": rng.standard_normal((2, 3, 4)).astype(f32),
    "3d_int32": np.arange(24, dtype=np.int32).reshape(2, 3, 4),
    "4d_float": rng.standard_normal((2, 2, 2, 2)).astype(f32),
    "2d_single_column": np.array([[1.5], [2.5]], f32),
    "2d_wide_wrapping": rng.standard_normal((2, 20)).astype(f32),
    # line wrapping of long rows
    "wrap_30_floats": rng.standard_normal(30).astype(f32),
    "wrap_100_ints": np.arange(100, dtype=np.int64),
    "wrap_40_sci": (rng.standard_normal(40) * 1e6).astype(f32),
    "wrap_float64": rng.standard_normal(20),
    # summarized (> 1000 elements)
    "summarized_1d_float": rng.standard_normal(2000).astype(f32),
    "summarized_1d_int": np.arange(1001, dtype=np.int64),
    "summarized_2d": rng.standard_normal((50, 40)).astype(f32),
    "summarized_2d_short_rows": np.arange(2000, dtype=np.int64).reshape(1000, 2),
    "summarized_3d": np.arange(2 * 30 * 30, dtype=np.int64).reshape(2, 30, 30),
    "summarized_edges_decide_format": np.concatenate(
        [np.ones(3), np.full(1000, 1e-7), np.ones(3)]).astype(f32),
    # empty
    "empty_float": np.zeros((0,), f32),
    "empty_2d_float": np.zeros((0, 3), f32),
    "empty_int": np.zeros((0,), np.int64),
    "empty_2d_float64": np.zeros((2, 0), f64),
    "empty_bool": np.zeros((0,), bool),
    "empty_3d_int32": np.zeros((1, 0, 2), np.int32),
}


def dtype_name(t):
    return str(t.dtype).removeprefix("torch.")


def torch_repr(t):
    return repr(t).replace("dtype=torch.", "dtype=minigrad.")


@pytest.mark.parametrize("arr", CASES.values(), ids=CASES.keys())
def test_matches_torch_repr(arr):
    t = torch.from_numpy(arr.copy())
    assert format_tensor(arr, dtype_name(t)) == torch_repr(t)


SUFFIX_CASES = {
    "requires_grad_1d": (np.array([0.6590, 0.2424, 0.0986], f32), lambda t: t.requires_grad_(),
                         ["requires_grad=True"]),
    "grad_fn_scalar": (np.array(0.4170, f32), lambda t: t.requires_grad_() * 2,
                       ["grad_fn=<MulBackward0>"]),
    "grad_fn_1d": (np.array([1.0, 2.0], f32), lambda t: t.requires_grad_() * 2,
                   ["grad_fn=<MulBackward0>"]),
    "grad_fn_float64": (np.array([1.5, 2.0], f64), lambda t: t.requires_grad_() * 2,
                        ["grad_fn=<MulBackward0>"]),
    "requires_grad_2d": (rng.standard_normal((3, 4)).astype(f32), lambda t: t.requires_grad_(),
                         ["requires_grad=True"]),
    "grad_fn_3d": (rng.standard_normal((2, 2, 3)).astype(f32), lambda t: t.requires_grad_() * 2,
                   ["grad_fn=<MulBackward0>"]),
    "requires_grad_wrapped_row": (rng.standard_normal(30).astype(f32), lambda t: t.requires_grad_(),
                                  ["requires_grad=True"]),
    "requires_grad_float64_2d": (rng.standard_normal((2, 7)), lambda t: t.requires_grad_(),
                                 ["requires_grad=True"]),
    "requires_grad_summarized": (rng.standard_normal((40, 40)).astype(f32),
                                 lambda t: t.requires_grad_(), ["requires_grad=True"]),
    "requires_grad_empty_2d": (np.zeros((0, 3), f32), lambda t: t.requires_grad_(),
                               ["requires_grad=True"]),
    "requires_grad_empty_float64": (np.zeros((0,), f64), lambda t: t.requires_grad_(),
                                    ["requires_grad=True"]),
    # the one-line data almost fills the line, so the suffix moves to the next line
    "suffix_pushed_to_new_line": (np.arange(7, dtype=f32) * 1.5 + 100,
                                  lambda t: t.requires_grad_(), ["requires_grad=True"]),
    "suffix_pushed_after_wrapped_rows": (np.arange(14, dtype=f32) * 1.5 + 100.1,
                                         lambda t: t.requires_grad_() * 2, ["grad_fn=<MulBackward0>"]),
}


@pytest.mark.parametrize("arr, make, suffixes", SUFFIX_CASES.values(), ids=SUFFIX_CASES.keys())
def test_suffixes_match_torch_repr(arr, make, suffixes):
    t = make(torch.from_numpy(arr.copy()))
    assert format_tensor(arr * 2 if t.grad_fn else arr, dtype_name(t),
                         suffixes=suffixes) == torch_repr(t)


def test_device_item_goes_before_dtype():
    # torch (CUDA build): repr(torch.zeros(2, dtype=torch.float64, device="cuda"))
    expected = "tensor([0., 0.], device='cuda:0', dtype=minigrad.float64)"
    assert format_tensor(np.zeros(2), "float64", suffixes=["device='cuda:0'"]) == expected
    assert (format_tensor(np.ones(2, f32), "float32",
                          suffixes=["device='cuda:0'", "requires_grad=True"])
            == "tensor([1., 1.], device='cuda:0', requires_grad=True)")


def test_longer_dtype_prefix_can_move_dtype_item_to_next_line(monkeypatch):
    # "dtype=minigrad.int32" is 3 characters longer than "dtype=torch.int32": here torch's
    # item still fits on the last line, minigrad's does not, so it wraps like any long suffix.
    arr = np.arange(-100, -124, -1, dtype=np.int32).reshape(3, 8)
    torch_text = repr(torch.from_numpy(arr.copy()))
    assert torch_text.endswith("-123]], dtype=torch.int32)")
    assert format_tensor(arr, "int32") == torch_text.replace(
        ", dtype=torch.int32", ",\n       dtype=minigrad.int32")
    monkeypatch.setattr("minigrad._tensor_str.DTYPE_PREFIX", "torch.")
    assert format_tensor(arr, "int32") == torch_text
