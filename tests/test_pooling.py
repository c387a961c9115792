"""Pooling, padding, unfold and fold against torch: forward and gradients in float32 and float64 over a table of
geometries (odd sizes, stride > kernel, padding, dilation, ceil_mode, count_include_pad, batch 1, unbatched),
max-pooling's indices and tie/NaN rules, float64 gradcheck and gradgradcheck, the modules' reprs, and errors."""
from __future__ import annotations

import numpy as np
import pytest
from test_conv import DTYPES, compare, first_line, raised, seeded

import minigrad
import minigrad.nn as mnn
import minigrad.nn.functional as MF
from minigrad.autograd import gradcheck, gradgradcheck

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# name -> (input shape, fn(lib, F, x)); every case runs in both libraries from the same input
CASES = {
    "max2": ((2, 3, 8, 6), lambda lib, F, x: F.max_pool2d(x, 2)),
    "max2_odd_size": ((2, 3, 7, 9), lambda lib, F, x: F.max_pool2d(x, 2)),
    "max3_s2_p1": ((2, 2, 9, 8), lambda lib, F, x: F.max_pool2d(x, 3, 2, 1)),
    "max_rect_stride_over_kernel": ((1, 2, 11, 10), lambda lib, F, x: F.max_pool2d(x, (2, 3), stride=(4, 3))),
    "max_overlapping": ((2, 2, 6, 7), lambda lib, F, x: F.max_pool2d(x, 3, stride=1)),
    "max_dilation": ((2, 2, 9, 8), lambda lib, F, x: F.max_pool2d(x, 2, 1, 1, dilation=(2, 3))),
    "max_ceil": ((2, 2, 7, 8), lambda lib, F, x: F.max_pool2d(x, 3, 2, ceil_mode=True)),
    "max_ceil_padding": ((2, 2, 5, 6), lambda lib, F, x: F.max_pool2d(x, 2, 2, 1, ceil_mode=True)),
    "max_batch1": ((1, 1, 4, 4), lambda lib, F, x: F.max_pool2d(x, 2)),
    "max_unbatched": ((3, 7, 6), lambda lib, F, x: F.max_pool2d(x, 3, 2, 1)),
    "max_indices_value": ((2, 2, 7, 7), lambda lib, F, x: F.max_pool2d(x, 3, 2, 1, return_indices=True)[0]),
    "max_channel_major": ((4, 3, 6, 6), lambda lib, F, x: F.max_pool2d(x.transpose(0, 1), 2)),
    "max_module": ((2, 2, 6, 6), lambda lib, F, x: lib.nn.MaxPool2d(3, 2, 1, ceil_mode=True)(x)),
    "max1d": ((2, 3, 9), lambda lib, F, x: F.max_pool1d(x, 3, 2, 1)),
    "max1d_unbatched_ceil": ((3, 8), lambda lib, F, x: F.max_pool1d(x, 3, 2, ceil_mode=True)),
    "max1d_module": ((2, 3, 9), lambda lib, F, x: lib.nn.MaxPool1d(2)(x)),
    "avg2": ((2, 3, 8, 6), lambda lib, F, x: F.avg_pool2d(x, 2)),
    "avg3_s2_p1": ((2, 2, 9, 8), lambda lib, F, x: F.avg_pool2d(x, 3, 2, 1)),
    "avg_exclude_pad": ((2, 2, 9, 8), lambda lib, F, x: F.avg_pool2d(x, 3, 2, 1, count_include_pad=False)),
    "avg_ceil": ((2, 2, 7, 8), lambda lib, F, x: F.avg_pool2d(x, 3, 2, ceil_mode=True)),
    "avg_ceil_padding": ((2, 2, 5, 5), lambda lib, F, x: F.avg_pool2d(x, 2, 2, 1, ceil_mode=True)),
    "avg_ceil_padding_exclude": ((2, 2, 5, 5), lambda lib, F, x: F.avg_pool2d(x, 2, 2, 1, True, False)),
    "avg_divisor_override": ((2, 2, 6, 7), lambda lib, F, x: F.avg_pool2d(x, 3, 2, 1, divisor_override=5)),
    "avg_stride_over_kernel": ((1, 2, 11, 10), lambda lib, F, x: F.avg_pool2d(x, (2, 3), stride=(4, 5))),
    "avg_overlapping": ((2, 2, 6, 7), lambda lib, F, x: F.avg_pool2d(x, 3, stride=1)),
    "avg_unbatched": ((3, 7, 6), lambda lib, F, x: F.avg_pool2d(x, 2, 1)),
    "avg_module": ((2, 2, 7, 7), lambda lib, F, x: lib.nn.AvgPool2d(3, 2, 1, True, False, None)(x)),
    "avg1d": ((2, 3, 9), lambda lib, F, x: F.avg_pool1d(x, 3, 2, 1, count_include_pad=False)),
    "avg1d_module_ceil": ((2, 3, 8), lambda lib, F, x: lib.nn.AvgPool1d(3, 2, 1, ceil_mode=True)(x)),
    "adaptive_divisible": ((2, 3, 8, 6), lambda lib, F, x: F.adaptive_avg_pool2d(x, (4, 3))),
    "adaptive_uneven": ((2, 3, 7, 5), lambda lib, F, x: F.adaptive_avg_pool2d(x, (3, 4))),
    "adaptive_larger": ((1, 2, 3, 4), lambda lib, F, x: F.adaptive_avg_pool2d(x, 5)),
    "adaptive_global": ((2, 3, 5, 5), lambda lib, F, x: F.adaptive_avg_pool2d(x, 1)),
    "adaptive_none": ((2, 3, 5, 6), lambda lib, F, x: F.adaptive_avg_pool2d(x, (None, 2))),
    "adaptive_unbatched_module": ((3, 7, 6), lambda lib, F, x: lib.nn.AdaptiveAvgPool2d((2, None))(x)),
    "pad_constant": ((2, 3, 4, 5), lambda lib, F, x: F.pad(x, (1, 2))),
    "pad_value_two_dims": ((2, 3, 4, 5), lambda lib, F, x: F.pad(x, (1, 0, 2, 3), value=1.5)),
    "pad_negative_crops": ((2, 3, 4, 5), lambda lib, F, x: F.pad(x, (-1, 2, 0, -3))),
    "pad_all_dims": ((2, 3, 4), lambda lib, F, x: F.pad(x, [1, 1, 0, 2, 1, 0])),
    "pad_reflect": ((2, 3, 4, 5), lambda lib, F, x: F.pad(x, (2, 1, 3, 1), mode="reflect")),
    "pad_replicate": ((2, 3, 4, 5), lambda lib, F, x: F.pad(x, (4, 1, 0, 2), mode="replicate")),
    "pad_circular": ((2, 3, 4, 5), lambda lib, F, x: F.pad(x, (5, 1, 2, 4), mode="circular")),
    "pad_circular_negative": ((2, 3, 5), lambda lib, F, x: F.pad(x, (-1, 2), mode="circular")),
    "pad_reflect_1d_unbatched": ((3, 6), lambda lib, F, x: F.pad(x, (2, 3), mode="reflect")),
    "pad_replicate_3d": ((1, 2, 3, 4, 3), lambda lib, F, x: F.pad(x, (1, 1, 2, 0, 0, 1), mode="replicate")),
    "unfold": ((2, 3, 6, 5), lambda lib, F, x: F.unfold(x, 2)),
    "unfold_everything": ((2, 2, 7, 8), lambda lib, F, x: F.unfold(x, (2, 3), dilation=(2, 1), padding=1,
                                                                     stride=(2, 3))),
    "unfold_unbatched": ((3, 5, 5), lambda lib, F, x: F.unfold(x, 3, padding=1)),
    "fold": ((2, 12, 20), lambda lib, F, x: F.fold(x, (5, 6), 2)),
    "fold_everything": ((2, 12, 12), lambda lib, F, x: F.fold(x, (7, 8), (2, 3), dilation=(2, 1), padding=1,
                                                              stride=(2, 3))),
    "fold_unbatched": ((8, 9), lambda lib, F, x: F.fold(x, 4, 2, stride=1)),
}


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CASES))
def test_matches_torch(case, dtype, device):
    shape, fn = CASES[case]
    compare(case, fn, [shape], dtype, device)


# second derivatives where the backward is itself a distinct op (all of them here are linear in the input)
GRADGRAD = ("max3_s2_p1", "max_overlapping", "avg_ceil_padding_exclude", "adaptive_uneven", "pad_negative_crops",
            "pad_reflect", "unfold_everything", "fold_everything")


@pytest.mark.parametrize("case", list(CASES))
def test_gradcheck(case):
    shape, fn = CASES[case]
    x = minigrad.tensor(seeded(case).standard_normal(shape), requires_grad=True)
    assert gradcheck(lambda t: fn(minigrad, MF, t), [x])
    if case in GRADGRAD:
        assert gradgradcheck(lambda t: fn(minigrad, MF, t), [x])


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("kwargs", [dict(kernel_size=2), dict(kernel_size=3, stride=2, padding=1),
                                    dict(kernel_size=(2, 3), stride=1, dilation=2, ceil_mode=True)])
def test_max_pool_indices_and_ties_match_torch(kwargs, dtype, device):
    """After a relu most windows tie at 0: torch takes the first maximum; the indices and the gradient
    (which goes to that one element only) must agree exactly."""
    x = np.maximum(seeded(str(kwargs)).standard_normal((2, 3, 7, 8)), 0).astype(dtype)
    x[0, 0, :3, :3] = 1.0  # a plateau of equal maxima
    mine = minigrad.tensor(x, device=device, requires_grad=True)
    theirs = torch.tensor(x, requires_grad=True)
    out_m, idx_m = MF.max_pool2d(mine, return_indices=True, **kwargs)
    out_t, idx_t = TF.max_pool2d(theirs, return_indices=True, **kwargs)
    assert idx_m.dtype == minigrad.int64
    np.testing.assert_array_equal(idx_m.numpy(), idx_t.numpy())
    out_m.sum().backward()
    out_t.sum().backward()
    np.testing.assert_array_equal(mine.grad.numpy(), theirs.grad.numpy())
    # without a graph (no grad): the same indices
    with minigrad.no_grad():
        np.testing.assert_array_equal(MF.max_pool2d(mine, return_indices=True, **kwargs)[1].numpy(), idx_t.numpy())


def test_max_pool_nan_and_inf_follow_torch():
    x = np.array([[[[np.nan, 1.0, -np.inf, 2.0], [np.nan, 2.0, -np.inf, 3.0]]]])
    out_m, idx_m = MF.max_pool2d(minigrad.tensor(x), 2, return_indices=True)
    out_t, idx_t = TF.max_pool2d(torch.tensor(x), 2, return_indices=True)
    np.testing.assert_array_equal(out_m.numpy(), out_t.numpy())
    np.testing.assert_array_equal(idx_m.numpy(), idx_t.numpy())


@pytest.mark.parametrize("dtype", ["int64", "int32"])
def test_integer_pooling_matches_torch(dtype):
    x = np.arange(-20, 30).reshape(1, 2, 5, 5).astype(dtype)
    fns = [lambda F, t: F.max_pool2d(t, 2)]
    if dtype == "int64":  # torch averages no other integer type
        fns += [lambda F, t: F.avg_pool2d(t, 2, 2, 1, ceil_mode=True), lambda F, t: F.avg_pool2d(t, 3)]
    for fn in fns:
        np.testing.assert_array_equal(fn(MF, minigrad.tensor(x)).numpy(), fn(TF, torch.tensor(x)).numpy())


def test_module_reprs_and_grad_fn_names():
    for make in (lambda nn: nn.MaxPool2d(2), lambda nn: nn.MaxPool2d((2, 3), 1, 1, 2, True, True),
                 lambda nn: nn.AvgPool2d(2), lambda nn: nn.AvgPool2d(3, 2, 1, True, False, 4),
                 lambda nn: nn.AdaptiveAvgPool2d((None, 7)), lambda nn: nn.AdaptiveAvgPool2d(1),
                 lambda nn: nn.MaxPool1d(2), lambda nn: nn.AvgPool1d(3)):
        assert repr(make(mnn)) == repr(make(torch.nn))
    x = minigrad.zeros(1, 2, 4, 4, requires_grad=True)
    t = torch.zeros(1, 2, 4, 4, requires_grad=True)
    for fn in (lambda F, x: F.max_pool2d(x, 2), lambda F, x: F.avg_pool2d(x, 2),
               lambda F, x: F.adaptive_avg_pool2d(x, 3), lambda F, x: F.pad(x, (1, 1)),
               lambda F, x: F.unfold(x, 2), lambda F, x: F.conv2d(x, x[:1, :, :2, :2] * 1)):
        assert fn(MF, x).grad_fn.name() == type(fn(TF, t).grad_fn).__name__


ERRORS = {
    "max_pad_over_half": lambda lib, F: F.max_pool2d(lib.zeros(2, 3, 5, 5), 2, padding=2),
    "max_pad_over_half_dilated": lambda lib, F: F.max_pool2d(lib.zeros(2, 3, 5, 5), 3, padding=2, dilation=2),
    "max_output_too_small": lambda lib, F: F.max_pool2d(lib.zeros(1, 1, 2, 2), 3),
    "max_input_2d": lambda lib, F: F.max_pool2d(lib.zeros(5, 5), 2),
    "max_kernel_3_values": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), (2, 2, 2)),
    "max_stride_3_values": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 2, stride=(1, 1, 1)),
    "max_padding_3_values": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 2, padding=(1, 1, 1)),
    "max_dilation_3_values": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 2, dilation=(1, 1, 1)),
    "max_zero_kernel": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 0),
    "max_zero_stride": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 2, stride=0),
    "max_negative_padding": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 2, padding=-1),
    "max_zero_dilation": lambda lib, F: F.max_pool2d(lib.zeros(2, 1, 5, 5), 2, dilation=0),
    "max_zero_channels": lambda lib, F: F.max_pool2d(lib.zeros(1, 0, 4, 4), 2),
    "max1d_input_4d": lambda lib, F: F.max_pool1d(lib.zeros(2, 1, 5, 5), 2),
    "avg_pad_over_half": lambda lib, F: F.avg_pool2d(lib.zeros(2, 3, 5, 5), 2, padding=2),
    "avg_output_too_small": lambda lib, F: F.avg_pool2d(lib.zeros(1, 1, 2, 2), 3),
    "avg_input_2d": lambda lib, F: F.avg_pool2d(lib.zeros(5, 5), 2),
    "avg_zero_divisor": lambda lib, F: F.avg_pool2d(lib.zeros(2, 3, 5, 5), 2, divisor_override=0),
    "avg_kernel_3_values": lambda lib, F: F.avg_pool2d(lib.zeros(2, 3, 5, 5), (2, 2, 2)),
    "avg_int32": lambda lib, F: F.avg_pool2d(lib.zeros(1, 1, 4, 4, dtype=lib.int32), 2),
    "max1d_zero_stride": lambda lib, F: F.max_pool1d(lib.zeros(1, 2, 5), 2, stride=0),
    "max1d_negative_padding": lambda lib, F: F.max_pool1d(lib.zeros(1, 2, 5), 2, padding=-1),
    "max1d_pad_over_half": lambda lib, F: F.max_pool1d(lib.zeros(1, 2, 5), 2, padding=2),
    "max1d_zero_kernel": lambda lib, F: F.max_pool1d(lib.zeros(1, 2, 5), 0),
    "max1d_output_too_small": lambda lib, F: F.max_pool1d(lib.zeros(1, 2, 2), 3),
    "avg1d_input_1d": lambda lib, F: F.avg_pool1d(lib.zeros(5), 2),
    "avg1d_output_too_small": lambda lib, F: F.avg_pool1d(lib.zeros(1, 2, 2), 3),
    "adaptive_input_2d": lambda lib, F: F.adaptive_avg_pool2d(lib.zeros(5, 5), 2),
    "adaptive_3_sizes": lambda lib, F: F.adaptive_avg_pool2d(lib.zeros(2, 3, 5, 5), (2, 2, 2)),
    "adaptive_negative": lambda lib, F: F.adaptive_avg_pool2d(lib.zeros(2, 3, 5, 5), -1),
    "adaptive_empty_dim": lambda lib, F: F.adaptive_avg_pool2d(lib.zeros(1, 1, 0, 4), 2),
    "adaptive_integer": lambda lib, F: F.adaptive_avg_pool2d(lib.zeros(1, 1, 4, 4, dtype=lib.int64), 2),
    "pad_odd_length": lambda lib, F: F.pad(lib.zeros(2, 3, 5, 5), (1, 2, 3)),
    "pad_too_long": lambda lib, F: F.pad(lib.zeros(2, 2), (1, 1, 1, 1, 1, 1)),
    "pad_crop_too_much": lambda lib, F: F.pad(lib.zeros(2, 3, 5, 5), (-3, -3)),
    "pad_reflect_too_wide": lambda lib, F: F.pad(lib.zeros(2, 3, 5, 9), (1, 1, 5, 5), mode="reflect"),
    "pad_reflect_last_dim_first": lambda lib, F: F.pad(lib.zeros(2, 3, 5, 5), (5, 5, 9, 9), mode="reflect"),
    "pad_circular_wraps_twice": lambda lib, F: F.pad(lib.zeros(2, 3, 5), (6, 1), mode="circular"),
    "pad_reflect_1d_input": lambda lib, F: F.pad(lib.zeros(4), (1, 1), mode="reflect"),
    "pad_replicate_4_on_2d": lambda lib, F: F.pad(lib.zeros(3, 4), (1, 1, 1, 1), mode="replicate"),
    "pad_unknown_mode": lambda lib, F: F.pad(lib.zeros(2, 3, 5), (1, 1), mode="foo"),
    "pad_value_with_reflect": lambda lib, F: F.pad(lib.zeros(2, 3, 5), (1, 1), mode="reflect", value=1.0),
    "unfold_kernel_3_values": lambda lib, F: F.unfold(lib.zeros(2, 3, 5, 5), (2, 2, 2)),
    "unfold_kernel_too_big": lambda lib, F: F.unfold(lib.zeros(2, 3, 5, 5), 6),
    "fold_wrong_block_count": lambda lib, F: F.fold(lib.zeros(2, 12, 8), 4, 2),
    "fold_channels_not_divisible": lambda lib, F: F.fold(lib.zeros(2, 11, 9), 4, 2),
    "fold_input_4d": lambda lib, F: F.fold(lib.zeros(1, 12, 9, 1), 4, 2),
}


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    theirs, mine = raised(ERRORS[case], torch, TF), raised(ERRORS[case], minigrad, MF)
    assert type(mine) is type(theirs)
    assert first_line(mine) == first_line(theirs)


def test_pad_without_padding_is_a_new_tensor():
    x = minigrad.ones(2, 3)
    out = MF.pad(x, ())
    out += 1
    assert x.numpy().tolist() == [[1.0] * 3] * 2
