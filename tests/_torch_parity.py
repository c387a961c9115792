"""Running one function on minigrad and on torch, and comparing what each returned (tests/test_bad_input.py and
tests/test_hypothesis.py)."""
from __future__ import annotations

import re
import warnings

import numpy as np
import torch

import minigrad


def run(fn, lib):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # deprecation warnings are part of some cases, not their result
        try:
            return fn(lib), None
        except Exception as error:  # noqa: BLE001  (the error is the result under test)
            return None, error


def _as_numpy(t):
    return t.detach().cpu().numpy() if isinstance(t, torch.Tensor) else minigrad.backend.to_numpy(t.detach().array)


def assert_same(got, expected, where="result", rtol=None, atol=None):
    """minigrad's value equals torch's: tensors in dtype, shape and value (to float32 or float64 rounding,
    by dtype, unless ``rtol``/``atol`` say otherwise); other objects as Python values."""
    if isinstance(expected, torch.Tensor):
        assert isinstance(got, minigrad.Tensor), f"{where}: torch returns a tensor, minigrad {got!r}"
        assert str(got.dtype).split(".")[-1] == str(expected.dtype).split(".")[-1], f"{where}: dtype"
        a, b = _as_numpy(got), _as_numpy(expected)
        assert a.shape == b.shape, f"{where}: shape {a.shape} != {b.shape}"
        if b.dtype.kind == "f":
            exact64 = b.dtype == np.float64
            np.testing.assert_allclose(a, b, rtol=rtol or (1e-12 if exact64 else 1e-6),
                                       atol=atol or (1e-14 if exact64 else 1e-7), equal_nan=True, err_msg=where)
        else:
            np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(expected, (tuple, list)) and not isinstance(expected, torch.Size):
        assert len(got) == len(expected), f"{where}: length"
        for i, (g, e) in enumerate(zip(got, expected)):
            assert_same(g, e, f"{where}[{i}]", rtol, atol)
    elif isinstance(expected, torch.Size):
        assert isinstance(got, minigrad.Size) and tuple(got) == tuple(expected), f"{where}: {got} != {expected}"
    elif isinstance(expected, torch.dtype):
        assert str(got).split(".")[-1] == str(expected).split(".")[-1], f"{where}: {got} != {expected}"
    elif isinstance(expected, str):
        assert got == expected.replace("torch.", "minigrad."), f"{where}: {got!r} != {expected!r}"
    else:
        assert got == expected and type(got) is type(expected), f"{where}: {got!r} != {expected!r}"


def assert_same_error(error, torch_error, pattern=None):
    """minigrad raised torch's exception class, and its message has the key part of torch's (``pattern``, a
    regex also checked against torch's message; by default torch's whole first line). Messages are compared
    with minigrad's name read as torch's ("minigrad.FloatTensor" is torch's "torch.FloatTensor")."""
    assert error is not None, f"torch raises {torch_error!r}, minigrad returns a value (silently wrong)"
    assert isinstance(error, type(torch_error)), f"torch raises {torch_error!r}, minigrad {error!r}"
    pattern = pattern or re.escape(str(torch_error).splitlines()[0])
    assert re.search(pattern, str(torch_error)), f"the key {pattern!r} is not torch's message {torch_error}"
    assert re.search(pattern, str(error).replace("minigrad.", "torch.")), f"torch says {torch_error}; minigrad " \
                                                                          f"says {error}"


def assert_same_outcome(fn, rtol=None, atol=None, key=None):
    """``fn(minigrad)`` returns torch's value, or raises torch's error (``key(torch's message)``, if given,
    is the regex minigrad's message must match)."""
    expected, torch_error = run(fn, torch)
    got, error = run(fn, minigrad)
    if torch_error is None:
        assert error is None, f"torch returns {expected!r}, minigrad raises {error!r}"
        assert_same(got, expected, rtol=rtol, atol=atol)
    else:
        assert_same_error(error, torch_error, key and key(str(torch_error).splitlines()[0]))
