"""Shared fixtures: every device-aware test runs once per device; CUDA cases skip without a GPU."""
import numpy as np
import pytest

import minigrad

try:  # the comparisons use tiny tensors: torch's thread pool would only fight numpy's BLAS for 2 cores
    import torch
    torch.set_num_threads(1)
except ImportError:
    pass


def _cuda_skip_reason():
    try:
        return None if minigrad.cuda.is_available() else minigrad.cuda.unavailable_reason()
    except Exception as e:  # pragma: no cover - defensive: never let discovery crash
        return f"CUDA unavailable: {e}"


DEVICES = [
    "cpu",
    pytest.param("cuda", marks=pytest.mark.skipif(_cuda_skip_reason() is not None,
                                                  reason=f"no GPU: {_cuda_skip_reason()}")),
]


@pytest.fixture(params=DEVICES)
def device(request):
    """The device name ('cpu' or 'cuda') a test runs on."""
    return request.param


@pytest.fixture
def rng():
    return np.random.default_rng(0)
