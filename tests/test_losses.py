"""Every loss module against torch, forward and backward, over its options; gradcheck; bad input."""
import itertools

import numpy as np
import pytest

import minigrad
from minigrad import nn

torch = pytest.importorskip("torch")

DTYPES = ["float32", "float64"]
REDUCTIONS = ["none", "mean", "sum"]
TOL = {"float32": dict(rtol=1e-5, atol=1e-6), "float64": dict(rtol=1e-10, atol=1e-12)}
C = 4
SHAPES = {"C": (C,), "NC": (5, C), "NCd1d2": (3, C, 2, 3)}


def pair(array, requires_grad=False):
    """The same numpy data as a minigrad tensor and a torch tensor."""
    array = np.asarray(array)
    return (minigrad.tensor(array, requires_grad=requires_grad),
            torch.tensor(array, requires_grad=requires_grad))


def run_both(make_loss, inputs, grad_seed=0):
    """Build the loss in both libraries (make_loss(nn_module)), apply it to ``inputs`` (numpy arrays, or
    (array, requires_grad) pairs) and backpropagate a random upstream gradient; return both results."""
    results = []
    for lib in (minigrad, torch):
        tensors = [lib.tensor(a, requires_grad=rg) for a, rg in inputs]
        out = make_loss(lib.nn)(*tensors)
        upstream = np.random.default_rng(grad_seed).standard_normal(tuple(out.shape)).astype(inputs[0][0].dtype)
        out.backward(lib.tensor(upstream))
        grads = [t.grad.detach().numpy() if t.grad is not None else None for t in tensors]
        results.append((out.detach().numpy(), grads))
    return results


def assert_match(results, dtype):
    (out_mg, grads_mg), (out_t, grads_t) = results
    np.testing.assert_allclose(out_mg, out_t, equal_nan=True, **TOL[dtype])
    assert out_mg.dtype == out_t.dtype
    for g_mg, g_t in zip(grads_mg, grads_t):
        assert (g_mg is None) == (g_t is None)
        if g_t is not None:
            np.testing.assert_allclose(g_mg, g_t, equal_nan=True, **TOL[dtype])


def class_targets(rng, shape, ignore_index):
    target = rng.integers(0, C, size=shape[:1] + shape[2:] if len(shape) > 1 else ())
    if ignore_index is not None:
        target = np.asarray(target)
        target.reshape(-1)[1::3] = ignore_index  # every third target is ignored (never all of them)
    return np.asarray(target, dtype=np.int64)


# ---------------------------------------------------------------------------------------------- class targets
INDEX_CASES = list(itertools.product(DTYPES, SHAPES, [False, True], REDUCTIONS, [None, 2, -100]))


@pytest.mark.parametrize("label_smoothing", [0.0, 0.2])
@pytest.mark.parametrize("dtype,shape,weighted,reduction,ignore_index", INDEX_CASES)
def test_cross_entropy_class_targets_match_torch(dtype, shape, weighted, reduction, ignore_index, label_smoothing):
    rng = np.random.default_rng(1)
    x = rng.standard_normal(SHAPES[shape]).astype(dtype) * 3
    target = class_targets(rng, SHAPES[shape], ignore_index)
    weight = rng.uniform(0.5, 2.0, C).astype(dtype) if weighted else None
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}

    def make(lib_nn):
        w = None if weight is None else (minigrad if lib_nn is nn else torch).tensor(weight)
        return lib_nn.CrossEntropyLoss(weight=w, reduction=reduction, label_smoothing=label_smoothing, **kwargs)
    assert_match(run_both(make, [(x, True), (target, False)]), dtype)


@pytest.mark.parametrize("dtype,shape,weighted,reduction,ignore_index", INDEX_CASES)
def test_nll_loss_matches_torch(dtype, shape, weighted, reduction, ignore_index):
    rng = np.random.default_rng(2)
    x = rng.standard_normal(SHAPES[shape])
    class_dim = 0 if len(SHAPES[shape]) == 1 else 1
    logp = (x - np.log(np.exp(x).sum(axis=class_dim, keepdims=True))).astype(dtype)
    target = class_targets(rng, SHAPES[shape], ignore_index)
    weight = rng.uniform(0.5, 2.0, C).astype(dtype) if weighted else None
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}

    def make(lib_nn):
        w = None if weight is None else (minigrad if lib_nn is nn else torch).tensor(weight)
        return lib_nn.NLLLoss(weight=w, reduction=reduction, **kwargs)
    assert_match(run_both(make, [(logp, True), (target, False)]), dtype)


@pytest.mark.parametrize("dtype,shape,weighted,reduction,ignore_index", INDEX_CASES)
def test_cross_entropy_equals_nll_of_log_softmax(dtype, shape, weighted, reduction, ignore_index):
    rng = np.random.default_rng(3)
    x_np = rng.standard_normal(SHAPES[shape]).astype(dtype)
    target = minigrad.tensor(class_targets(rng, SHAPES[shape], ignore_index))
    weight = minigrad.tensor(rng.uniform(0.5, 2.0, C).astype(dtype)) if weighted else None
    kwargs = {} if ignore_index is None else {"ignore_index": ignore_index}
    class_dim = 0 if len(SHAPES[shape]) == 1 else 1
    results = []
    for loss_of in (lambda x: nn.CrossEntropyLoss(weight, reduction=reduction, **kwargs)(x, target),
                    lambda x: nn.NLLLoss(weight, reduction=reduction, **kwargs)(nn.LogSoftmax(class_dim)(x), target)):
        x = minigrad.tensor(x_np, requires_grad=True)
        out = loss_of(x)
        out.backward(minigrad.ones_like(out))
        results.append((out.detach().numpy(), x.grad.numpy()))
    for a, b in zip(*results):
        np.testing.assert_allclose(a, b, equal_nan=True, **TOL[dtype])


@pytest.mark.parametrize("name", ["CrossEntropyLoss", "NLLLoss"])
def test_all_targets_ignored_gives_nan_loss_and_zero_grad_as_torch(name):
    x_np = np.log(np.full((2, 3), 1 / 3, np.float32))
    results = run_both(lambda lib_nn: getattr(lib_nn, name)(ignore_index=1), [(x_np, True), (np.array([1, 1]), False)])
    assert np.isnan(results[1][0]) and (results[1][1][0] == 0).all()  # torch's behaviour, pinned
    assert_match(results, "float32")


# ---------------------------------------------------------------------------------------------- probability targets
@pytest.mark.parametrize("dtype,shape,weighted,reduction,label_smoothing",
                         list(itertools.product(DTYPES, SHAPES, [False, True], REDUCTIONS, [0.0, 0.3])))
def test_cross_entropy_probability_targets_match_torch_with_grad_into_target(dtype, shape, weighted, reduction,
                                                                              label_smoothing):
    rng = np.random.default_rng(4)
    x = rng.standard_normal(SHAPES[shape]).astype(dtype)
    class_dim = 0 if len(SHAPES[shape]) == 1 else 1
    probs = np.exp(rng.standard_normal(SHAPES[shape]))
    probs = (probs / probs.sum(axis=class_dim, keepdims=True)).astype(dtype)
    weight = rng.uniform(0.5, 2.0, C).astype(dtype) if weighted else None

    def make(lib_nn):
        w = None if weight is None else (minigrad if lib_nn is nn else torch).tensor(weight)
        return lib_nn.CrossEntropyLoss(weight=w, reduction=reduction, label_smoothing=label_smoothing)
    results = run_both(make, [(x, True), (probs, True)])
    assert results[0][1][1] is not None  # the target received a gradient
    assert_match(results, dtype)


# ---------------------------------------------------------------------------------------------- binary losses
BINARY_SHAPES = [(6,), (4, 3), (2, 3, 2)]


@pytest.mark.parametrize("dtype,shape,weighted,reduction,edges",
                         list(itertools.product(DTYPES, BINARY_SHAPES, [False, True], REDUCTIONS, [False, True])))
def test_bce_matches_torch_including_inputs_exactly_0_and_1(dtype, shape, weighted, reduction, edges):
    rng = np.random.default_rng(5)
    p = rng.uniform(0.05, 0.95, shape).astype(dtype)
    y = rng.uniform(0, 1, shape).astype(dtype)
    if edges:  # torch clamps log at -100, so inputs of exactly 0 and 1 stay finite
        p.reshape(-1)[:2] = [0.0, 1.0]
        y.reshape(-1)[:2] = [0.0, 1.0]  # the matching targets: a zero loss, and a finite gradient
    weight = rng.uniform(0.5, 2.0, shape[-1:]).astype(dtype) if weighted else None

    def make(lib_nn):
        w = None if weight is None else (minigrad if lib_nn is nn else torch).tensor(weight)
        return lib_nn.BCELoss(weight=w, reduction=reduction)
    # the target's gradient is infinite at p = 0 or 1 (torch does not clamp it), so it is only checked inside
    results = run_both(make, [(p, True), (y, not edges)])
    assert np.isfinite(results[0][0]).all() and np.isfinite(results[0][1][0]).all()
    assert_match(results, dtype)


@pytest.mark.parametrize("dtype,shape,weighted,pos_weighted,reduction",
                         list(itertools.product(DTYPES, BINARY_SHAPES, [False, True], [False, True], REDUCTIONS)))
def test_bce_with_logits_matches_torch_for_huge_logits_and_pos_weight(dtype, shape, weighted, pos_weighted,
                                                                       reduction):
    rng = np.random.default_rng(6)
    x = (rng.standard_normal(shape) * 3).astype(dtype)
    x.reshape(-1)[:2] = [1e4, -1e4]  # exp would overflow: the stable form must stay finite
    y = rng.uniform(0, 1, shape).astype(dtype)
    weight = rng.uniform(0.5, 2.0, shape[-1:]).astype(dtype) if weighted else None
    pos_weight = rng.uniform(0.5, 3.0, shape[-1:]).astype(dtype) if pos_weighted else None

    def make(lib_nn):
        lib = minigrad if lib_nn is nn else torch
        return lib_nn.BCEWithLogitsLoss(weight=None if weight is None else lib.tensor(weight), reduction=reduction,
                                        pos_weight=None if pos_weight is None else lib.tensor(pos_weight))
    results = run_both(make, [(x, True), (y, True)])
    assert np.isfinite(results[0][0]).all() and all(np.isfinite(g).all() for g in results[0][1])
    assert_match(results, dtype)


@pytest.mark.parametrize("dtype,shape,reduction", list(itertools.product(DTYPES, BINARY_SHAPES, REDUCTIONS)))
def test_mse_matches_torch(dtype, shape, reduction):
    rng = np.random.default_rng(7)
    x, y = rng.standard_normal(shape).astype(dtype), rng.standard_normal(shape).astype(dtype)
    assert_match(run_both(lambda lib_nn: lib_nn.MSELoss(reduction=reduction), [(x, True), (y, True)]), dtype)


# ---------------------------------------------------------------------------------------------- gradcheck
def _gradcheck_cases():
    rng = np.random.default_rng(8)
    x = minigrad.tensor(rng.standard_normal((3, C)), requires_grad=True)
    x4 = minigrad.tensor(rng.standard_normal((2, C, 2, 1)), requires_grad=True)
    target = minigrad.tensor([0, 3, 1])
    weight = minigrad.tensor(rng.uniform(0.5, 2, C))
    probs = minigrad.tensor(rng.dirichlet(np.ones(C), 3), requires_grad=True)
    p = minigrad.tensor(rng.uniform(0.1, 0.9, (3, 2)), requires_grad=True)
    y = minigrad.tensor(rng.uniform(0, 1, (3, 2)), requires_grad=True)
    logits = minigrad.tensor(rng.standard_normal((3, 2)) * 3, requires_grad=True)
    return {
        "cross_entropy": (nn.CrossEntropyLoss(weight, label_smoothing=0.1, ignore_index=1), (x, target)),
        "cross_entropy_kdim": (nn.CrossEntropyLoss(reduction="sum"), (x4, minigrad.tensor([[[0], [3]], [[2], [1]]]))),
        "cross_entropy_probs": (nn.CrossEntropyLoss(weight, label_smoothing=0.2), (x, probs)),
        "nll": (nn.NLLLoss(weight), (x, target)),
        "bce": (nn.BCELoss(weight=minigrad.tensor([0.5, 2.0], dtype=minigrad.float64)), (p, y)),
        "bce_with_logits": (nn.BCEWithLogitsLoss(pos_weight=minigrad.tensor([3.0, 0.5], dtype=minigrad.float64)),
                            (logits, y)),
        "mse": (nn.MSELoss(reduction="none"), (logits, y)),
    }


@pytest.mark.parametrize("name", list(_gradcheck_cases()))
def test_loss_passes_gradcheck_in_float64(name):
    loss, inputs = _gradcheck_cases()[name]
    assert minigrad.autograd.gradcheck(loss, inputs)


def test_gradcheck_catches_a_wrong_gradient():
    class WrongGrad(minigrad.autograd.Function):
        def forward(self, x):
            return x * x

        def backward(self, grad):
            return grad  # should be 2 * x * grad
    x = minigrad.tensor([1.0, 2.0], dtype=minigrad.float64, requires_grad=True)
    assert not minigrad.autograd.gradcheck(WrongGrad.apply, (x,), raise_exception=False)


# ---------------------------------------------------------------------------------------------- tutorial numbers
@pytest.mark.parametrize("logits,expected", [([[2.0, 1.0, 0.1]], 0.4170), ([[0.5, 2.0, 0.3]], 1.8406)])
def test_tutorial_cross_entropy_values(logits, expected):
    loss = nn.CrossEntropyLoss()(minigrad.tensor(logits), minigrad.tensor([0]))
    reference = torch.nn.CrossEntropyLoss()(torch.tensor(logits), torch.tensor([0]))
    assert round(loss.item(), 4) == expected
    assert loss.item() == pytest.approx(reference.item(), rel=1e-6)
    _, predicted = minigrad.max(minigrad.tensor(logits), 1)
    assert predicted.tolist() == torch.max(torch.tensor(logits), 1)[1].tolist()


# ---------------------------------------------------------------------------------------------- modules
LOSS_CLASSES = ["NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss"]


@pytest.mark.parametrize("name", LOSS_CLASSES)
def test_loss_repr_and_defaults_match_torch(name):
    ours, theirs = getattr(nn, name)(), getattr(torch.nn, name)()
    assert repr(ours) == repr(theirs) == f"{name}()"
    for attr in ("reduction", "ignore_index", "label_smoothing"):
        assert getattr(ours, attr, None) == getattr(theirs, attr, None)


@pytest.mark.parametrize("size_average,reduce", [(None, False), (False, None), (True, True), (False, True)])
def test_legacy_size_average_and_reduce_map_to_reduction_as_torch(size_average, reduce):
    with pytest.warns(UserWarning, match="size_average and reduce args will be deprecated"):
        ours = nn.MSELoss(size_average=size_average, reduce=reduce)
    with pytest.warns(UserWarning):
        theirs = torch.nn.MSELoss(size_average=size_average, reduce=reduce)
    assert ours.reduction == theirs.reduction


@pytest.mark.parametrize("name,buffers", [("NLLLoss", ["weight"]), ("CrossEntropyLoss", ["weight"]),
                                          ("BCELoss", ["weight"]), ("BCEWithLogitsLoss", ["weight", "pos_weight"])])
def test_loss_weights_are_buffers_moved_by_to(name, buffers, device):
    kwargs = {b: minigrad.ones(3) for b in buffers}
    loss = getattr(nn, name)(**kwargs)
    reference = getattr(torch.nn, name)(**{b: torch.ones(3) for b in buffers})
    assert list(loss.state_dict()) == list(reference.state_dict()) == buffers
    loss.to(device)
    assert all(getattr(loss, b).device == minigrad.device(device) for b in buffers)
    assert all(kwargs[b].device == minigrad.device("cpu") for b in buffers)  # the caller's tensors stay put


def test_cross_entropy_runs_on_device_with_a_weight(device):
    loss = nn.CrossEntropyLoss(weight=minigrad.tensor([1.0, 2.0, 0.5])).to(device)
    x = minigrad.tensor([[2.0, 1.0, 0.1], [0.5, 2.0, 0.3]], device=device, requires_grad=True)
    out = loss(x, minigrad.tensor([0, 1], device=device))
    out.backward()
    ref_x = torch.tensor([[2.0, 1.0, 0.1], [0.5, 2.0, 0.3]], requires_grad=True)
    ref = torch.nn.CrossEntropyLoss(weight=torch.tensor([1.0, 2.0, 0.5]))(ref_x, torch.tensor([0, 1]))
    ref.backward()
    assert out.device == minigrad.device(device)
    assert out.item() == pytest.approx(ref.item(), rel=1e-6)
    np.testing.assert_allclose(x.grad.cpu().numpy(), ref_x.grad.numpy(), rtol=1e-5, atol=1e-7)


# ---------------------------------------------------------------------------------------------- bad input
BAD_INPUTS = {
    "target_out_of_range": ("CrossEntropyLoss", {}, [[0.1, 0.2, 0.3]], [3], IndexError, "out of bounds"),
    "negative_target": ("NLLLoss", {}, [[0.1, 0.2, 0.3]], [-1], IndexError, "out of bounds"),
    "float_class_target_wrong_shape": ("CrossEntropyLoss", {}, [[0.1, 0.2, 0.3]], [1.0], RuntimeError,
                                       "expected target dtype to be Long or Byte"),
    "int32_target": ("NLLLoss", {}, [[0.1, 0.2, 0.3]], np.array([1], np.int32), RuntimeError, "Long"),
    "batch_size_mismatch": ("CrossEntropyLoss", {}, [[0.1, 0.2, 0.3]] * 3, [0, 1], ValueError, "batch_size"),
    "bce_input_above_1": ("BCELoss", {}, [0.5, 1.5], [0.0, 1.0], RuntimeError, "between 0 and 1"),
    "bce_input_below_0": ("BCELoss", {}, [-0.5, 0.5], [0.0, 1.0], RuntimeError, "between 0 and 1"),
    "bce_size_mismatch": ("BCELoss", {}, [0.5, 0.5], [[0.0, 1.0]], ValueError, "size"),
    "bce_logits_size_mismatch": ("BCEWithLogitsLoss", {}, [0.5, 0.5], [[0.0, 1.0]], ValueError, "size"),
    "unknown_reduction": ("MSELoss", {"reduction": "avg"}, [0.5], [0.0], ValueError, "avg is not a valid value"),
    "unknown_reduction_ce": ("CrossEntropyLoss", {"reduction": "total"}, [[0.5, 1.0]], [0], ValueError,
                             "total is not a valid value"),
    "label_smoothing_above_1": ("CrossEntropyLoss", {"label_smoothing": 1.5}, [[0.5, 1.0]], [0], RuntimeError,
                                "label_smoothing"),
}


@pytest.mark.parametrize("case", list(BAD_INPUTS))
def test_bad_loss_input_raises_torchs_error_type(case):
    name, kwargs, x, target, error, message = BAD_INPUTS[case]
    for lib in (torch, minigrad):
        with pytest.raises(error, match=message if lib is minigrad else None):
            getattr(lib.nn, name)(**kwargs)(lib.tensor(x), lib.tensor(target))


def test_weight_of_wrong_length_is_rejected():
    with pytest.raises(RuntimeError, match="weight tensor should be defined either for all 3 classes"):
        nn.CrossEntropyLoss(weight=minigrad.ones(2))(minigrad.zeros(1, 3), minigrad.tensor([0]))
