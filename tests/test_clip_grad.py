"""nn.utils gradient clipping against torch: the returned norm, the clipped gradients, errors and warnings."""
import math
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.nn import utils

torch = pytest.importorskip("torch")

SHAPES = [(3, 4), (5,), (2, 2, 2), ()]


def params_pair(grads, skip=()):
    """Parameters with the given gradients, in both libraries; indices in ``skip`` get no gradient."""
    pairs = []
    for lib in (minigrad, torch):
        params = []
        for i, g in enumerate(grads):
            p = lib.tensor(np.zeros_like(g), requires_grad=True)
            if i not in skip:
                p.grad = lib.tensor(g.copy())
            params.append(p)
        pairs.append(params)
    return pairs


def assert_grads_equal(ours, theirs, rtol):
    for p, q in zip(ours, theirs):
        assert (p.grad is None) == (q.grad is None)
        if p.grad is not None:
            assert p.grad.dtype.itemsize == q.grad.dtype.itemsize
            np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=rtol, atol=0)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("max_norm", [0.1, 1.0, 1e6])
@pytest.mark.parametrize("norm_type", [2.0, 1, 3.5, 0.5, "inf", math.inf, -math.inf, 0])
def test_clip_grad_norm_matches_torch(norm_type, max_norm, dtype, rng):
    grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES]
    ours, theirs = params_pair(grads, skip=(1,))
    total = utils.clip_grad_norm_(ours, max_norm, norm_type)
    expected = torch.nn.utils.clip_grad_norm_(theirs, max_norm, norm_type)
    rtol = 1e-5 if dtype == "float32" else 1e-12
    assert isinstance(total, minigrad.Tensor) and total.shape == () and total.dtype == getattr(minigrad, dtype)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=rtol)
    assert_grads_equal(ours, theirs, rtol)
    if max_norm == 1e6:  # the coefficient is clamped to 1: nothing changes
        for p, g in zip(ours, grads):
            assert p.grad is None or np.array_equal(p.grad.numpy(), g)


def test_clipped_gradients_have_the_requested_norm(rng):
    grads = [rng.standard_normal(s).astype("float64") * 10 for s in SHAPES]
    ours, _ = params_pair(grads)
    before = utils.clip_grad_norm_(ours, 2.5)
    after = np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in ours))
    assert before.item() > 2.5 and after == pytest.approx(2.5 * before.item() / (before.item() + 1e-6), rel=1e-12)


def test_a_single_tensor_a_generator_and_parameters_without_grads(rng):
    grads = [rng.standard_normal((4, 3)).astype("float32")]
    (p,), (q,) = params_pair(grads)
    assert utils.clip_grad_norm_(p, 0.5).item() == pytest.approx(torch.nn.utils.clip_grad_norm_(q, 0.5).item())
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)
    model = minigrad.nn.Linear(3, 2)
    model(minigrad.ones(2, 3)).sum().backward()
    norm = utils.clip_grad_norm_(model.parameters(), 0.01)  # a generator, consumed once and used twice
    assert norm.item() > 0.01
    assert np.sqrt(sum((p.grad.numpy() ** 2).sum() for p in model.parameters())) == pytest.approx(0.01, rel=1e-4)
    none = [minigrad.zeros(3, requires_grad=True)]
    for lib, params in ((utils, none), (torch.nn.utils, [torch.zeros(3, requires_grad=True)])):
        result = lib.clip_grad_norm_(params, 1.0)
        assert result.item() == 0.0 and result.dtype.itemsize == 4 and params[0].grad is None


def test_empty_generator_warns_like_torch():
    for lib in (utils, torch.nn.utils):
        with pytest.warns(UserWarning, match="`parameters` is an empty generator, no gradient clipping will occur."):
            assert lib.clip_grad_norm_((p for p in []), 1.0).item() == 0.0


@pytest.mark.parametrize("bad", [math.inf, math.nan])
def test_non_finite_norms_error_or_propagate_like_torch(bad, rng):
    grads = [rng.standard_normal(3).astype("float32"), np.array([1.0, bad, 2.0], dtype="float32")]
    ours, theirs = params_pair(grads)
    with pytest.raises(RuntimeError) as expected:
        torch.nn.utils.clip_grad_norm_(theirs, 1.0, error_if_nonfinite=True)
    with pytest.raises(RuntimeError, match="The total norm of order 2.0 for gradients from `parameters` is "
                                           "non-finite") as raised:
        utils.clip_grad_norm_(ours, 1.0, error_if_nonfinite=True)
    assert str(raised.value) == str(expected.value)
    assert_grads_equal(ours, theirs, 0)  # an error leaves the gradients alone
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # no numpy RuntimeWarning may leak out
        total = utils.clip_grad_norm_(ours, 1.0)
    reference = torch.nn.utils.clip_grad_norm_(theirs, 1.0)
    assert str(total.item()) == str(reference.item())
    for p, q in zip(ours, theirs):
        np.testing.assert_array_equal(p.grad.numpy(), q.grad.numpy())  # nan or 0 exactly where torch has it


def test_mixed_dtypes_are_combined_as_torch(rng):
    grads = [rng.standard_normal(5).astype("float32"), rng.standard_normal(4).astype("float64")]
    ours, theirs = params_pair(grads)
    total, expected = utils.clip_grad_norm_(ours, 0.3), torch.nn.utils.clip_grad_norm_(theirs, 0.3)
    assert total.dtype == minigrad.float64 and expected.dtype == torch.float64
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-7)
    assert_grads_equal(ours, theirs, 1e-6)


@pytest.mark.parametrize("foreach", [None, True, False])
def test_foreach_gives_the_same_numbers(foreach, rng):
    grads = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    ours, theirs = params_pair(grads)
    total = utils.clip_grad_norm_(ours, 0.2, foreach=foreach)
    expected = torch.nn.utils.clip_grad_norm_(theirs, 0.2, foreach=foreach)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    assert_grads_equal(ours, theirs, 1e-6)
    utils.clip_grad_value_(ours, 0.01, foreach=foreach)
    torch.nn.utils.clip_grad_value_(theirs, 0.01, foreach=foreach)
    assert_grads_equal(ours, theirs, 0)


def test_get_total_norm_and_clip_grads_with_norm_match_torch(rng):
    grads = [rng.standard_normal(s).astype("float32") for s in SHAPES]
    ours, theirs = params_pair(grads)
    total = utils.get_total_norm([p.grad for p in ours], 3.0)
    expected = torch.nn.utils.get_total_norm([q.grad for q in theirs], 3.0)
    np.testing.assert_allclose(total.item(), expected.item(), rtol=1e-6)
    utils.clip_grads_with_norm_(ours, 1.5, total)
    torch.nn.utils.clip_grads_with_norm_(theirs, 1.5, expected)
    assert_grads_equal(ours, theirs, 1e-6)


def test_deprecated_clip_grad_norm_warns_and_clips(rng):
    (p,), (q,) = params_pair([rng.standard_normal(6).astype("float32")])
    with pytest.warns(FutureWarning, match="deprecated in favor of `torch.nn.utils.clip_grad_norm_`"):
        utils.clip_grad_norm(p, 0.5)
    with pytest.warns(FutureWarning):
        torch.nn.utils.clip_grad_norm(q, 0.5)
    np.testing.assert_allclose(p.grad.numpy(), q.grad.numpy(), rtol=1e-6)


@pytest.mark.parametrize("dtype", ["float32", "float64"])
@pytest.mark.parametrize("clip_value", [0.0, 0.5, 3])
def test_clip_grad_value_matches_torch(clip_value, dtype, rng):
    grads = [rng.standard_normal(s).astype(dtype) for s in SHAPES] + [np.array([np.nan, -np.inf, np.inf], dtype)]
    ours, theirs = params_pair(grads, skip=(0,))
    assert utils.clip_grad_value_(ours, clip_value) is None
    torch.nn.utils.clip_grad_value_(theirs, clip_value)
    assert_grads_equal(ours, theirs, 0)
    (p,), (q,) = params_pair(grads[1:2])
    utils.clip_grad_value_(p, clip_value)  # a single tensor
    torch.nn.utils.clip_grad_value_(q, clip_value)
    assert_grads_equal([p], [q], 0)


def test_clipping_works_inside_a_training_step_on_device(device, rng):
    model = minigrad.nn.Linear(5, 3).to(device)
    x = minigrad.tensor(rng.standard_normal((4, 5)).astype("float32"), device=device)
    (model(x) ** 2).sum().mul(100).backward()
    grads_before = [p.grad.cpu().numpy().copy() for p in model.parameters()]
    total = utils.clip_grad_norm_(model.parameters(), 1.0)
    assert total.device == minigrad.device(device)
    expected = np.sqrt(sum((g.astype("float64") ** 2).sum() for g in grads_before))
    assert total.item() == pytest.approx(expected, rel=1e-5)
    for p, g in zip(model.parameters(), grads_before):
        np.testing.assert_allclose(p.grad.cpu().numpy(), g * (1.0 / (expected + 1e-6)), rtol=1e-5)
        assert p.grad.device == minigrad.device(device)
