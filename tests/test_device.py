"""The device API, transfers, mixing errors and the fused CUDA kernels against the NumPy reference."""
import numpy as np
import pytest

import minigrad
from minigrad import backend
from minigrad.kernels import reference as kernels

needs_gpu = pytest.mark.skipif(not minigrad.cuda.is_available(),
                               reason=f"no GPU: {minigrad.cuda.unavailable_reason()}")


@pytest.mark.parametrize("spec, expected_str, expected_repr", [
    ("cpu", "cpu", "device(type='cpu')"),
    ("cuda", "cuda:0", "device(type='cuda', index=0)"),
    ("cuda:1", "cuda:1", "device(type='cuda', index=1)"),
])
def test_device_parsing_matches_torch(spec, expected_str, expected_repr):
    d = minigrad.device(spec)
    assert (str(d), repr(d)) == (expected_str, expected_repr)
    assert d == spec if ":" in spec or spec == "cpu" else d == "cuda:0"


@pytest.mark.parametrize("bad", ["gpu", "cuda:x", "cpu:1", "tpu:0"])
def test_bad_device_strings_raise_naming_the_string(bad):
    with pytest.raises(RuntimeError, match=bad.split(":")[0]):
        minigrad.device(bad)


def test_tensor_device_defaults_to_cpu():
    t = minigrad.tensor([1.0, 2.0])
    assert t.device == minigrad.device("cpu") and not t.is_cuda
    assert t.cpu() is t and t.to("cpu") is t


@pytest.mark.skipif(minigrad.cuda.is_available(), reason="this machine has a GPU: the missing-CUDA error cannot occur")
@pytest.mark.parametrize("make", [
    lambda: minigrad.tensor([1.0], device="cuda"),
    lambda: minigrad.zeros(2, device="cuda"),
    lambda: minigrad.tensor([1.0]).cuda(),
    lambda: minigrad.tensor([1.0]).to("cuda:0"),
])
def test_asking_for_cuda_without_it_says_what_is_missing_and_how_to_fix(make):
    with pytest.raises(RuntimeError) as info:
        make()
    message = str(info.value)
    assert "cuda" in message and ("CuPy" in message or "GPU" in message)
    assert "pip install" in message or "GPU" in message


def test_cuda_is_available_agrees_with_the_reason():
    assert minigrad.cuda.is_available() == (minigrad.cuda.unavailable_reason() is None)


def _pair(device):
    a = minigrad.tensor([1.0, 2.0], requires_grad=True)
    return a, minigrad.tensor([3.0, 4.0], device=device)


@needs_gpu
def test_mixing_devices_names_both():
    a, b = _pair("cuda")
    with pytest.raises(RuntimeError, match="cpu.*cuda:0|cuda:0.*cpu"):
        a + b


@needs_gpu
def test_numpy_on_cuda_tensor_tells_to_call_cpu_first():
    t = minigrad.tensor([1.0, 2.0], device="cuda")
    with pytest.raises(TypeError, match=r"Use Tensor.cpu\(\)"):
        t.numpy()
    assert t.tolist() == [1.0, 2.0] and t[1].item() == 2.0
    assert repr(t) == "tensor([1., 2.], device='cuda:0')"


@needs_gpu
def test_transfer_is_differentiable_and_grads_come_home():
    x = minigrad.tensor([1.0, -2.0, 3.0], requires_grad=True)
    y = (x.cuda() * 2).relu().sum()
    y.backward()
    assert x.grad.device == minigrad.device("cpu")
    np.testing.assert_allclose(x.grad.numpy(), [2.0, 0.0, 2.0])


@needs_gpu
def test_same_seed_gives_same_initial_values_on_both_devices():
    minigrad.manual_seed(3)
    on_cpu = minigrad.randn(4, 5)
    minigrad.manual_seed(3)
    on_gpu = minigrad.randn(4, 5, device="cuda")
    np.testing.assert_array_equal(on_cpu.numpy(), on_gpu.cpu().numpy())


# ---------------------------------------------------------------------------------------------- fused kernels
def _kernel_inputs(xp, dtype):
    rng = np.random.default_rng(0)
    logits = rng.standard_normal((6, 5)).astype(dtype)
    probs = np.exp(logits) / np.exp(logits).sum(1, keepdims=True)
    coeffs = np.zeros((6, 5), dtype)
    coeffs[np.arange(6), rng.integers(0, 5, 6)] = 1 / 6
    grad = rng.standard_normal((6, 5)).astype(dtype)
    param, param_grad, buf = (rng.standard_normal((4, 3)).astype(dtype) for _ in range(3))
    return [xp.asarray(a) for a in (probs, coeffs, grad, param, param_grad, buf)]


@needs_gpu
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("options", [
    dict(momentum=0.9, dampening=0.0, weight_decay=0.0, nesterov=False, maximize=False),
    dict(momentum=0.5, dampening=0.1, weight_decay=1e-2, nesterov=False, maximize=True),
    dict(momentum=0.9, dampening=0.0, weight_decay=1e-2, nesterov=True, maximize=False),
    dict(momentum=0.0, dampening=0.0, weight_decay=1e-2, nesterov=False, maximize=False),
])
def test_fused_cuda_kernels_match_the_numpy_reference(dtype, options):
    import cupy  # only reached with a GPU
    cuda = backend.kernels(cupy)
    probs, coeffs, grad, param, param_grad, buf = _kernel_inputs(cupy, dtype)
    host = [backend.to_numpy(a) for a in (probs, coeffs, grad, param, param_grad, buf)]
    tol = dict(rtol=1e-5, atol=1e-6) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(cuda.relu_backward(grad, probs - 0.2).get(),
                               kernels.relu_backward(host[2], host[0] - 0.2), **tol)
    np.testing.assert_allclose(cuda.cross_entropy_backward(cupy, probs, coeffs, grad, 1).get(),
                               kernels.cross_entropy_backward(np, host[0], host[1], host[2], 1), **tol)
    for first in (True, False):
        cuda.sgd_step_(param, param_grad, buf, lr=0.1, first=first, **options)
        kernels.sgd_step_(host[3], host[4], host[5], lr=0.1, first=first, **options)
        np.testing.assert_allclose(param.get(), host[3], **tol)
        np.testing.assert_allclose(buf.get(), host[5], **tol)


def test_numpy_sgd_reference_matches_torch_rule_by_hand():
    param, grad, buf = np.array([1.0, -2.0]), np.array([0.5, 0.25]), np.zeros(2)
    kernels.sgd_step_(param, grad, buf, lr=0.1, momentum=0.9, dampening=0.0, weight_decay=0.1, nesterov=True,
                      maximize=False, first=True)
    step = grad + 0.1 * np.array([1.0, -2.0])  # weight decay, then the first buffer is the step itself
    np.testing.assert_allclose(buf, step)
    np.testing.assert_allclose(param, np.array([1.0, -2.0]) - 0.1 * (step + 0.9 * step))


def test_blocked_sgd_update_matches_the_whole_array_update():
    rng = np.random.default_rng(0)
    shape = (3, kernels.SGD_BLOCK // 2 + 7)  # spans several blocks, the last one partial
    param, grad, buf = (rng.standard_normal(shape).astype(np.float32) for _ in range(3))
    whole = [a.copy() for a in (param, grad, buf)]
    options = dict(lr=0.1, momentum=0.9, dampening=0.1, weight_decay=1e-2, nesterov=False, maximize=True)
    for first in (True, False):
        kernels.sgd_step_(param, grad, buf, first=first, **options)
        kernels._sgd_block(*whole, first=first, **options)
    np.testing.assert_array_equal(param, whole[0])
    np.testing.assert_array_equal(buf, whole[2])
