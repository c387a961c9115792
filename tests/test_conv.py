"""Convolutions against torch: forward and every input's and parameter's gradient in float32 and float64 over a
table of geometries, float64 gradcheck and gradgradcheck, the modules (init, repr, padding modes) and torch's
errors. Both libraries get the same NumPy inputs and the same random upstream gradient."""
from __future__ import annotations

import math
import re
import warnings
import zlib

import numpy as np
import pytest

import minigrad
import minigrad.nn as mnn
import minigrad.nn.functional as MF
from minigrad.autograd import gradcheck, gradgradcheck
from minigrad.backend import to_numpy

torch = pytest.importorskip("torch")
TF = torch.nn.functional

# float32 sums of a few hundred products: rounding differs with summation order
TOLERANCES = {np.float32: {"rtol": 1e-4, "atol": 1e-5}, np.float64: {"rtol": 1e-10, "atol": 1e-10}}
DTYPES = [pytest.param(np.float32, id="float32"), pytest.param(np.float64, id="float64")]


def seeded(name: str) -> np.random.Generator:
    return np.random.default_rng(zlib.crc32(name.encode()))


def compare(name, fn, shapes, dtype, device, lib_args=(), tol=None):
    """fn(lib, F, *tensors) with both libraries from the same arrays: forward, then each input's gradient."""
    rng = seeded(name)
    arrays = [rng.standard_normal(s).astype(dtype) for s in shapes]
    mine = [minigrad.tensor(a, device=device, requires_grad=True) for a in arrays]
    theirs = [torch.tensor(a, requires_grad=True) for a in arrays]
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)  # padding='same' with an even kernel warns in both
        out_m, out_t = fn(minigrad, MF, *mine, *lib_args), fn(torch, TF, *theirs, *lib_args)
    tol = tol or TOLERANCES[dtype]
    assert tuple(out_m.shape) == tuple(out_t.shape)
    assert str(out_m.dtype).split(".")[-1] == str(out_t.dtype).split(".")[-1]
    np.testing.assert_allclose(to_numpy(out_m.detach().array), out_t.detach().numpy(), err_msg=f"{name} forward", **tol)
    seed = rng.standard_normal(tuple(out_t.shape)).astype(dtype)
    out_m.backward(minigrad.tensor(seed, device=device))
    out_t.backward(torch.tensor(seed))
    for i, (m, t) in enumerate(zip(mine, theirs)):
        np.testing.assert_allclose(to_numpy(m.grad.array), t.grad.numpy(), err_msg=f"{name} grad of input {i}", **tol)


# ------------------------------------------------------------------------------------------------ functional table
# name -> (input shape, weight shape, bias, keyword arguments); conv1d where the weight is 3-D
CONV_CASES = {
    "basic": ((2, 3, 7, 6), (4, 3, 3, 3), True, {}),
    "odd_rect_kernel": ((3, 2, 9, 5), (5, 2, 3, 2), True, {}),
    "stride_over_kernel": ((2, 2, 11, 10), (3, 2, 2, 2), True, {"stride": 3}),
    "stride_tuple_padding": ((2, 3, 8, 7), (4, 3, 3, 3), False, {"stride": (2, 1), "padding": (2, 1)}),
    "padding_over_kernel": ((1, 2, 4, 5), (2, 2, 2, 2), True, {"padding": 3}),
    "dilation": ((2, 2, 9, 9), (3, 2, 3, 2), True, {"dilation": (2, 3), "padding": 1}),
    "everything": ((2, 4, 10, 9), (6, 2, 3, 2), True,
                   {"stride": (2, 3), "padding": (1, 2), "dilation": (2, 1), "groups": 2}),
    "groups": ((2, 4, 6, 6), (6, 2, 3, 3), True, {"groups": 2}),
    "depthwise": ((2, 3, 6, 5), (3, 1, 3, 3), True, {"groups": 3, "padding": 1}),
    "depthwise_multiplier": ((2, 3, 6, 5), (6, 1, 2, 2), False, {"groups": 3, "stride": 2}),
    "batch1": ((1, 1, 5, 5), (2, 1, 3, 3), True, {}),
    "unbatched": ((3, 6, 5), (4, 3, 2, 2), True, {"padding": 1}),
    "same_odd": ((2, 3, 6, 5), (4, 3, 3, 3), True, {"padding": "same"}),
    "same_even_dilated": ((2, 3, 7, 6), (2, 3, 4, 2), True, {"padding": "same", "dilation": (1, 2)}),
    "valid": ((2, 3, 6, 5), (4, 3, 3, 3), True, {"padding": "valid"}),
    "kernel_is_input": ((2, 2, 3, 4), (3, 2, 3, 4), True, {}),
    "one_by_one": ((2, 5, 4, 3), (3, 5, 1, 1), True, {}),
    "list_args": ((2, 2, 7, 7), (2, 2, 3, 3), True, {"stride": [2, 1], "padding": [0, 1], "dilation": [1, 2]}),
    "1d": ((2, 3, 10), (4, 3, 3), True, {}),
    "1d_everything": ((2, 4, 13), (6, 2, 3), True, {"stride": 2, "padding": 2, "dilation": 2, "groups": 2}),
    "1d_unbatched_same": ((3, 9), (2, 3, 4), False, {"padding": "same"}),
    "1d_depthwise_batch1": ((1, 4, 7), (4, 1, 3), True, {"groups": 4}),
}


def _conv_fn(weight_shape, bias, kwargs):
    name = "conv1d" if len(weight_shape) == 3 else "conv2d"
    if bias:
        return lambda lib, F, x, w, b: getattr(F, name)(x, w, b, **kwargs)
    return lambda lib, F, x, w: getattr(F, name)(x, w, **kwargs)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_matches_torch(case, dtype, device):
    x, w, bias, kwargs = CONV_CASES[case]
    shapes = (x, w, (w[0],)) if bias else (x, w)
    compare(case, _conv_fn(w, bias, kwargs), shapes, dtype, device)


# second derivatives on the cases that exercise distinct code paths, to keep the suite fast
GRADGRAD = ("everything", "depthwise_multiplier", "same_even_dilated", "unbatched", "1d_everything")


@pytest.mark.parametrize("case", list(CONV_CASES))
def test_conv_gradcheck(case):
    x, w, bias, kwargs = CONV_CASES[case]
    x = x if len(x) == len(w) - 1 else (1,) + x[1:]  # batch 1: finite differences cost one forward per element
    rng = seeded(case)
    shapes = (x, w, (w[0],)) if bias else (x, w)
    inputs = [minigrad.tensor(rng.standard_normal(s), requires_grad=True) for s in shapes]
    fn = _conv_fn(w, bias, kwargs)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        assert gradcheck(lambda *t: fn(minigrad, MF, *t), inputs)
        if case in GRADGRAD:
            assert gradgradcheck(lambda *t: fn(minigrad, MF, *t), inputs)


@pytest.mark.parametrize("dtype", DTYPES)
def test_classic_cnn_stack_matches_torch(dtype, device):
    """conv -> relu -> conv -> relu -> max-pool -> flatten -> linear: the conv output's channel-major layout
    flows through relu, pooling and flatten; also from a non-contiguous (permuted) input."""
    def net(lib, F, x, w1, b1, w2, b2, fc):
        h = F.relu(F.conv2d(x.permute(0, 3, 1, 2), w1, b1))
        h = F.max_pool2d(F.relu(F.conv2d(h, w2, b2)), 2)
        return F.log_softmax(lib.flatten(h, 1) @ fc, dim=1)
    compare("cnn", net, [(3, 12, 12, 1), (4, 1, 3, 3), (4,), (6, 4, 3, 3), (6,), (6 * 4 * 4, 5)], dtype, device)


# ------------------------------------------------------------------------------------------------ modules
MODULES = [
    lambda nn: nn.Conv2d(1, 32, 3, 1),
    lambda nn: nn.Conv2d(3, 6, (3, 5), stride=2, padding=1, dilation=2, groups=3, bias=False, padding_mode="reflect"),
    lambda nn: nn.Conv2d(2, 2, 3, padding="same"),
    lambda nn: nn.Conv2d(2, 2, 3, padding="valid"),
    lambda nn: nn.Conv2d(2, 2, 3, padding=(1, 0)),
    lambda nn: nn.Conv1d(3, 4, 5),
    lambda nn: nn.Conv1d(2, 4, 3, stride=2, padding=1, dilation=2, groups=2, bias=False),
    lambda nn: nn.Conv1d(2, 2, 3, padding="same", padding_mode="circular"),
]


@pytest.mark.parametrize("index", range(len(MODULES)))
def test_module_repr_attributes_and_shapes(index):
    mine, theirs = MODULES[index](mnn), MODULES[index](torch.nn)
    assert repr(mine) == repr(theirs)
    for name in ("in_channels", "out_channels", "kernel_size", "stride", "padding", "dilation", "groups",
                 "padding_mode", "output_padding", "transposed"):
        assert getattr(mine, name) == getattr(theirs, name), name
    assert list(mine._reversed_padding_repeated_twice) == list(theirs._reversed_padding_repeated_twice)
    assert [(n, tuple(p.shape)) for n, p in mine.named_parameters()] == \
           [(n, tuple(p.shape)) for n, p in theirs.named_parameters()]


def test_module_init_is_torchs_kaiming_uniform():
    """Weight and bias drawn from U(-1/sqrt(fan_in), 1/sqrt(fan_in)) (kaiming_uniform_ with a=sqrt(5))."""
    minigrad.manual_seed(0)
    conv = mnn.Conv2d(6, 64, (3, 2), groups=2)
    bound = 1 / math.sqrt(3 * 3 * 2)
    for p in (conv.weight, conv.bias):
        a = p.detach().numpy()
        assert np.abs(a).max() <= bound and np.abs(a).max() > 0.9 * bound
        assert abs(a.mean()) < 0.1 * bound
    minigrad.manual_seed(0)
    again = mnn.Conv2d(6, 64, (3, 2), groups=2)
    np.testing.assert_array_equal(again.weight.detach().numpy(), conv.weight.detach().numpy())


@pytest.mark.parametrize("mode", ["zeros", "reflect", "replicate", "circular"])
@pytest.mark.parametrize("padding", [1, (2, 1), "same"])
def test_module_padding_modes_match_torch(mode, padding, device):
    kernel = (3, 4) if padding == "same" else 3
    mine, theirs = mnn.Conv2d(2, 3, kernel, padding=padding, padding_mode=mode), \
        torch.nn.Conv2d(2, 3, kernel, padding=padding, padding_mode=mode)
    with minigrad.no_grad():
        mine.weight.copy_(minigrad.tensor(theirs.weight.detach().numpy()))
        mine.bias.copy_(minigrad.tensor(theirs.bias.detach().numpy()))
    mine.to(device)
    compare(f"{mode}-{padding}", lambda lib, F, x: (mine if lib is minigrad else theirs)(x), [(2, 2, 5, 6)],
            np.float32, device)
    for p, q in zip(mine.parameters(), theirs.parameters()):
        np.testing.assert_allclose(to_numpy(p.grad.array), q.grad.numpy(), rtol=1e-4, atol=1e-5)


def test_module_trains_in_float64():
    conv = mnn.Conv1d(2, 3, 3).double()
    out = conv(minigrad.randn(4, 2, 8, dtype=minigrad.float64))
    assert out.dtype == minigrad.float64 and tuple(out.shape) == (4, 3, 6)
    out.sum().backward()
    assert conv.weight.grad.dtype == minigrad.float64


# ------------------------------------------------------------------------------------------------ errors
ERRORS = {
    "channels": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 3, 3, 3)),
    "channels_unbatched": lambda lib, F: F.conv2d(lib.zeros(1, 5, 5), lib.zeros(4, 3, 3, 3)),
    "channels_groups": lambda lib, F: F.conv2d(lib.zeros(2, 4, 5, 5), lib.zeros(4, 3, 3, 3), groups=2),
    "out_channels_groups": lambda lib, F: F.conv2d(lib.zeros(2, 4, 5, 5), lib.zeros(3, 2, 3, 3), groups=2),
    "input_2d": lambda lib, F: F.conv2d(lib.zeros(5, 5), lib.zeros(4, 1, 3, 3)),
    "input_5d": lambda lib, F: F.conv2d(lib.zeros(1, 1, 1, 5, 5), lib.zeros(4, 1, 3, 3)),
    "conv1d_input_4d": lambda lib, F: F.conv1d(lib.zeros(2, 3, 7, 1), lib.zeros(4, 3, 3)),
    "conv1d_channels": lambda lib, F: F.conv1d(lib.zeros(2, 3, 7), lib.zeros(4, 2, 3)),
    "weight_3d_in_conv2d": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3)),
    "kernel_too_big": lambda lib, F: F.conv2d(lib.zeros(1, 1, 2, 2), lib.zeros(4, 1, 3, 3)),
    "dilated_kernel_too_big": lambda lib, F: F.conv2d(lib.zeros(1, 1, 4, 4), lib.zeros(4, 1, 2, 2), dilation=4),
    "same_strided": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), stride=2, padding="same"),
    "bad_padding_string": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), padding="foo"),
    "zero_stride": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), stride=0),
    "negative_padding": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), padding=-1),
    "zero_dilation": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), dilation=0),
    "zero_groups": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), groups=0),
    "stride_3_values": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), stride=(1, 1, 1)),
    "padding_3_values": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), padding=(1, 1, 1)),
    "bias_size": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3), lib.zeros(3)),
    "double_input_float_weight": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5, dtype=lib.float64),
                                                         lib.zeros(4, 1, 3, 3)),
    "float_input_double_weight": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5),
                                                         lib.zeros(4, 1, 3, 3, dtype=lib.float64)),
    "double_bias": lambda lib, F: F.conv2d(lib.zeros(2, 1, 5, 5), lib.zeros(4, 1, 3, 3),
                                           lib.zeros(4, dtype=lib.float64)),
    "module_in_groups": lambda lib, F: lib.nn.Conv2d(3, 4, 3, groups=2),
    "module_out_groups": lambda lib, F: lib.nn.Conv2d(4, 3, 3, groups=2),
    "module_zero_groups": lambda lib, F: lib.nn.Conv2d(4, 4, 3, groups=0),
    "module_padding_mode": lambda lib, F: lib.nn.Conv2d(4, 4, 3, padding_mode="foo"),
    "module_same_strided": lambda lib, F: lib.nn.Conv2d(4, 4, 3, padding="same", stride=2),
    "module_bad_padding": lambda lib, F: lib.nn.Conv1d(4, 4, 3, padding="foo"),
    "module_reflect_too_wide": lambda lib, F: lib.nn.Conv2d(1, 4, 3, padding=3, padding_mode="reflect")(
        lib.zeros(1, 1, 3, 3)),
}


def raised(fn, lib, F):
    try:
        fn(lib, F)
    except Exception as e:  # noqa: BLE001 - the exception itself is what is compared
        return e
    raise AssertionError(f"{lib.__name__} raised nothing")


def first_line(error) -> str:
    """The message's first line, with printed Python sets sorted: their order varies with the hash seed."""
    sort_set = lambda m: "{" + ", ".join(sorted(m.group(1).split(", "))) + "}"
    return re.sub(r"\{('[^}]*)\}", sort_set, str(error).splitlines()[0])


@pytest.mark.parametrize("case", list(ERRORS))
def test_errors_match_torch(case):
    theirs, mine = raised(ERRORS[case], torch, TF), raised(ERRORS[case], minigrad, MF)
    assert type(mine) is type(theirs)
    assert first_line(mine) == first_line(theirs)


def test_empty_batch_gives_empty_output():
    out = MF.conv2d(minigrad.zeros(0, 1, 5, 5), minigrad.zeros(4, 1, 3, 3))
    assert tuple(out.shape) == tuple(TF.conv2d(torch.zeros(0, 1, 5, 5), torch.zeros(4, 1, 3, 3)).shape)
