"""LR schedulers against torch: lr (and momentum) sequences step by step, state dicts, warnings and errors."""
import copy
import pickle
import warnings

import numpy as np
import pytest

import minigrad
from minigrad.optim import lr_scheduler

torch = pytest.importorskip("torch")

STEPS = 60


def make_optimizer(lib, opt_name="SGD", groups=2, **kwargs):
    """An optimizer over ``groups`` param groups with their own lrs (0.1, 0.05, ...), on tiny params."""
    params = [{"params": [lib.nn.Parameter(lib.ones(3, dtype=lib.float32))], "lr": 0.1 / (i + 1)}
              for i in range(groups)]
    defaults = {"SGD": dict(lr=0.1, momentum=0.9), "Adam": dict(lr=0.1)}[opt_name]
    return getattr(lib.optim, opt_name)(params, **dict(defaults, **kwargs))


def train_step(lib, opt):
    """A real optimizer step (every param gets a gradient), so the step-order check sees it."""
    opt.zero_grad()
    for group in opt.param_groups:
        for p in group["params"]:
            (p * p).sum().backward()
    opt.step()


def record(opt):
    """What a schedule controls: each group's lr and momentum (or beta1)."""
    return [(g["lr"], g.get("momentum"), g.get("betas", (None,))[0]) for g in opt.param_groups]


def run(lib, make, steps=STEPS, opt_name="SGD", groups=2):
    """The lrs after construction and after each of ``steps`` steps, with get_last_lr() at each point."""
    opt = make_optimizer(lib, opt_name, groups)
    sched = make(lib.optim.lr_scheduler, opt)
    history = [(record(opt), list(sched.get_last_lr()))]
    for _ in range(steps):
        train_step(lib, opt)
        sched.step()
        history.append((record(opt), list(sched.get_last_lr())))
    return history, sched, opt


class Power:
    """A callable object as lr_lambda: its attributes are what a scheduler's state dict saves."""

    def __init__(self, base):
        self.base = base

    def __call__(self, epoch):
        return self.base ** epoch


def sequential(L, opt):
    return L.SequentialLR(opt, [L.LinearLR(opt, 0.1, total_iters=5), L.CosineAnnealingLR(opt, 20, eta_min=1e-3),
                                L.ExponentialLR(opt, 0.9)], milestones=[5, 30])


# id -> (optimizer, number of param groups, lambda L, opt: scheduler); L is either library's lr_scheduler module
SCHEDULERS = {
    "StepLR": ("SGD", 2, lambda L, opt: L.StepLR(opt, step_size=7, gamma=0.5)),
    "StepLR-default-gamma": ("Adam", 1, lambda L, opt: L.StepLR(opt, 3)),
    "MultiStepLR": ("SGD", 2, lambda L, opt: L.MultiStepLR(opt, [30, 5, 12, 12], gamma=0.3)),
    "ExponentialLR": ("SGD", 3, lambda L, opt: L.ExponentialLR(opt, 0.93)),
    "CosineAnnealingLR": ("SGD", 2, lambda L, opt: L.CosineAnnealingLR(opt, T_max=17)),  # past T_max: back up
    "CosineAnnealingLR-eta_min": ("Adam", 2, lambda L, opt: L.CosineAnnealingLR(opt, T_max=10, eta_min=0.01)),
    "LambdaLR": ("SGD", 2, lambda L, opt: L.LambdaLR(opt, lambda epoch: 1 / (1 + epoch) ** 0.5)),
    "LambdaLR-per-group": ("SGD", 2, lambda L, opt: L.LambdaLR(opt, [lambda e: 0.95 ** e, Power(0.9)])),
    "MultiplicativeLR": ("SGD", 2, lambda L, opt: L.MultiplicativeLR(opt, lambda epoch: 0.97)),
    "LinearLR": ("SGD", 2, lambda L, opt: L.LinearLR(opt, start_factor=0.25, total_iters=12)),
    "LinearLR-decay": ("SGD", 2, lambda L, opt: L.LinearLR(opt, start_factor=1.0, end_factor=0.1, total_iters=40)),
    "ConstantLR": ("SGD", 2, lambda L, opt: L.ConstantLR(opt, factor=0.5, total_iters=4)),
    "SequentialLR": ("SGD", 2, sequential),
    "OneCycleLR-cos": ("SGD", 2, lambda L, opt: L.OneCycleLR(opt, max_lr=[1.0, 0.5], total_steps=STEPS)),
    "OneCycleLR-linear-three-phase": ("SGD", 2, lambda L, opt: L.OneCycleLR(
        opt, max_lr=0.3, epochs=6, steps_per_epoch=10, anneal_strategy="linear", three_phase=True, pct_start=0.25,
        div_factor=10.0, final_div_factor=100.0, base_momentum=[0.8, 0.7], max_momentum=0.9)),
    "OneCycleLR-adam-betas": ("Adam", 2, lambda L, opt: L.OneCycleLR(opt, max_lr=0.01, total_steps=STEPS + 5)),
    "OneCycleLR-no-momentum": ("SGD", 1, lambda L, opt: L.OneCycleLR(opt, 0.1, total_steps=STEPS,
                                                                     cycle_momentum=False)),
}


@pytest.mark.parametrize("case", SCHEDULERS)
def test_lr_sequence_matches_torch_exactly(case):
    """Every group's lr (and momentum / beta1) after each step, and get_last_lr(): equal as floats."""
    opt_name, groups, make = SCHEDULERS[case]
    ours, theirs = [], []
    warned = [caught(lambda out=out, lib=lib: out.extend(run(lib, make, STEPS, opt_name, groups)[0]))
              for out, lib in ((ours, minigrad), (theirs, torch))]
    assert len({lrs[0][0] for lrs, _ in theirs}) > 1  # the schedule really changes the lr
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {step}"
    assert len(ours) == STEPS + 1 and warned[0] == warned[1]


@pytest.mark.parametrize("case", SCHEDULERS)
def test_state_dict_matches_torch_and_resuming_continues_the_schedule(case):
    opt_name, groups, make = SCHEDULERS[case]
    states = [run(lib, make, 25, opt_name, groups)[1].state_dict() for lib in (minigrad, torch)]
    assert list(states[0]) == list(states[1]) and repr(states[0]) == repr(states[1])

    straight, _, _ = run(minigrad, make, 50, opt_name, groups)
    _, sched, opt = run(minigrad, make, 25, opt_name, groups)
    saved = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))  # lambdas are not in it
    fresh_opt = make_optimizer(minigrad, opt_name, groups)
    fresh = make(lr_scheduler, fresh_opt)
    fresh_opt.load_state_dict(saved[0])
    fresh.load_state_dict(saved[1])
    resumed = [(record(fresh_opt), fresh.get_last_lr())]
    for _ in range(25):
        train_step(minigrad, fresh_opt)
        fresh.step()
        resumed.append((record(fresh_opt), list(fresh.get_last_lr())))
    assert resumed == straight[25:]


def test_initial_lr_and_base_lrs_like_torch():
    for lib in (minigrad, torch):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2)
        assert [g["initial_lr"] for g in opt.param_groups] == sched.base_lrs == [0.1, 0.05]
        assert sched.last_epoch == 0 and sched.get_last_lr() == [0.1, 0.05]


def test_resuming_with_last_epoch_needs_initial_lr_like_torch():
    messages = []
    for lib in (minigrad, torch):
        with pytest.raises(KeyError) as info:
            lib.optim.lr_scheduler.StepLR(make_optimizer(lib), 2, last_epoch=3)
        messages.append(str(info.value))
    assert messages[0] == messages[1] and "param 'initial_lr' is not specified in param_groups[0]" in messages[0]


def test_a_non_optimizer_is_refused_like_torch():
    for lib in (minigrad, torch):
        with pytest.raises(TypeError, match="^list is not an Optimizer$"):
            lib.optim.lr_scheduler.StepLR([], 2)


def test_verbose_is_gone_as_in_torch_2_13():
    for lib in (minigrad, torch):
        with pytest.raises(TypeError, match=r"^StepLR.__init__\(\) got an unexpected keyword argument 'verbose'$"):
            lib.optim.lr_scheduler.StepLR(make_optimizer(lib), 2, verbose=True)


# ---------------------------------------------------------------------------------------------- warnings
def caught(fn):
    with warnings.catch_warnings(record=True) as seen:
        warnings.simplefilter("always")
        fn()
    return [(w.category, str(w.message)) for w in seen]


@pytest.mark.parametrize("optimizer_first", [True, False])
def test_stepping_the_scheduler_before_the_optimizer_warns_like_torch(optimizer_first):
    results = []
    for lib in (minigrad, torch):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2)

        def first_epoch(lib=lib, opt=opt, sched=sched):
            if optimizer_first:
                train_step(lib, opt)
            sched.step()
            train_step(lib, opt)
            sched.step()  # only the first call is checked
        results.append(caught(first_epoch))
    assert results[0] == results[1]
    assert len(results[0]) == (0 if optimizer_first else 1)
    if not optimizer_first:
        assert results[0][0][0] is UserWarning
        assert results[0][0][1].startswith("Detected call of `lr_scheduler.step()` before `optimizer.step()`.")


def test_replacing_optimizer_step_after_the_scheduler_warns_like_torch():
    results = []
    for lib in (minigrad, torch):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 2)
        opt.step = lambda: None
        results.append(caught(sched.step))
    assert results[0] == results[1] and "has been overridden after learning rate scheduler" in results[0][0][1]


def test_the_step_wrapper_is_installed_once_and_keeps_the_optimizer_collectable():
    import gc
    import weakref

    opt = make_optimizer(minigrad)
    lr_scheduler.StepLR(opt, 2)
    wrapped = opt.step
    lr_scheduler.StepLR(opt, 3)
    assert opt.step is wrapped and not getattr(opt, "_opt_called", False)
    train_step(minigrad, opt)
    assert opt._opt_called
    ref = weakref.ref(opt)
    del opt, wrapped
    gc.collect()
    assert ref() is None


@pytest.mark.parametrize("clone", [lambda o: pickle.loads(pickle.dumps(o)), copy.deepcopy], ids=["pickle", "deepcopy"])
def test_an_optimizer_with_a_scheduler_pickles_and_copies_into_an_independent_one(clone):
    opt = make_optimizer(minigrad)
    sched = lr_scheduler.StepLR(opt, 2)
    twin = clone(opt)
    assert not hasattr(twin.step, "_wrapped_by_lr_sched")  # as torch: the copy's step is the class's again
    train_step(minigrad, twin)
    assert not getattr(opt, "_opt_called", False)  # stepping the copy did not step the original
    assert pickle.loads(pickle.dumps(sched)).get_last_lr() == [0.1, 0.05]


def test_get_lr_outside_step_warns_like_torch():
    results = []
    for lib in (minigrad, torch):
        sched = lib.optim.lr_scheduler.StepLR(make_optimizer(lib), 2)
        results.append(caught(sched.get_lr))
    assert results[0] == results[1] == [(UserWarning, "To get the last learning rate computed by the scheduler, "
                                                      "please use `get_last_lr()`.")]


def test_step_with_an_epoch_uses_the_closed_form_and_warns_like_torch():
    results = []
    for lib in (minigrad, torch):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.StepLR(opt, 3, gamma=0.5)
        train_step(lib, opt)
        seen = caught(lambda sched=sched: [sched.step(epoch) for epoch in (7, 2, 9)])
        results.append((seen, sched.get_last_lr(), sched.last_epoch))
    assert results[0] == results[1]
    assert "The epoch parameter in `scheduler.step()` was not necessary" in results[0][0][0][1]
    assert np.allclose(results[0][1], [0.1 * 0.5 ** 3, 0.05 * 0.5 ** 3])


def test_chained_schedulers_compose_like_torch():
    """Two chainable schedulers on one optimizer: each scales the lr the other left."""
    results = []
    for lib in (minigrad, torch):
        opt = make_optimizer(lib)
        L = lib.optim.lr_scheduler
        schedulers = [L.LinearLR(opt, 0.2, total_iters=8), L.ExponentialLR(opt, 0.95), L.StepLR(opt, 6, 0.5)]
        lrs = []
        for _ in range(30):
            train_step(lib, opt)
            for sched in schedulers:
                sched.step()
            lrs.append([g["lr"] for g in opt.param_groups])
        results.append(lrs)
    assert results[0] == results[1]


def test_lambdas_save_only_callable_objects_state():
    states = []
    for lib in (minigrad, torch):
        sched = lib.optim.lr_scheduler.LambdaLR(make_optimizer(lib), [lambda e: 1.0, Power(0.9)])
        states.append(sched.state_dict()["lr_lambdas"])
    assert states[0] == states[1] == [None, {"base": 0.9}]
    fresh = lr_scheduler.LambdaLR(make_optimizer(minigrad), [lambda e: 1.0, Power(0.5)])
    saved = lr_scheduler.LambdaLR(make_optimizer(minigrad), [lambda e: 1.0, Power(0.9)]).state_dict()
    fresh.load_state_dict(saved)
    assert fresh.lr_lambdas[1].base == 0.9 and "lr_lambdas" in saved  # the caller's dict is left whole


def test_one_cycle_cycles_momentum_inversely_to_the_lr():
    history, _, _ = run(minigrad, SCHEDULERS["OneCycleLR-cos"][2], STEPS)
    lrs = [groups[0][0] for groups, _ in history]
    momenta = [groups[0][1] for groups, _ in history]
    peak = int(np.argmax(lrs))
    last = STEPS - 1  # the cycle ends at epoch total_steps - 1
    assert peak == 17 and momenta[peak] == pytest.approx(0.85) and momenta[0] == 0.95
    assert momenta[last] == pytest.approx(0.95) and momenta[1] < 0.95 and momenta[peak + 1] > 0.85
    assert lrs[0] == pytest.approx(1.0 / 25) and lrs[last] == pytest.approx(1.0 / 25 / 1e4)
    adam, _, _ = run(minigrad, SCHEDULERS["OneCycleLR-adam-betas"][2], STEPS, "Adam")
    assert min(groups[0][2] for groups, _ in adam) == pytest.approx(0.85, abs=1e-3)


def test_one_cycle_stepped_past_total_steps_raises_like_torch():
    messages = []
    for lib in (minigrad, torch):
        opt = make_optimizer(lib)
        sched = lib.optim.lr_scheduler.OneCycleLR(opt, 0.1, total_steps=3)
        for _ in range(3):
            train_step(lib, opt)
            sched.step()
        with pytest.raises(ValueError) as info:
            sched.step()
        messages.append(str(info.value))
    assert messages[0] == messages[1] == "Tried to step 4 times. The specified number of total steps is 3"


# ---------------------------------------------------------------------------------------------- ReduceLROnPlateau
METRICS = [1.0, 0.9, 0.95, 0.95, 0.96, 0.97, 0.89, 0.8999, 0.9, 0.91, 0.92, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0,
           0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.4, 0.39, 0.41, 0.42, 0.43, 0.44, 0.45, 0.46, 0.47] + [0.5] * 12
PLATEAU = [
    dict(),
    dict(patience=0),
    dict(patience=2, factor=0.5, cooldown=2),
    dict(patience=1, threshold=0.05, threshold_mode="abs", min_lr=[0.02, 0.001]),
    dict(mode="max", patience=1, factor=0.3, min_lr=0.01),
    dict(mode="max", patience=2, threshold=0.1, threshold_mode="abs", eps=0.02),
]


def as_metric(lib, metric):
    return lib.tensor(metric) if metric == 0.4 else metric  # a 0-d Tensor works as a metric too


def run_plateau(lib, kwargs, metrics):
    opt = make_optimizer(lib)
    sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, **kwargs)
    history = []
    for metric in metrics:
        train_step(lib, opt)
        sched.step(as_metric(lib, metric))
        history.append((record(opt), sched.get_last_lr(), sched.num_bad_epochs, sched.cooldown_counter,
                        sched.best, sched.last_epoch))
    return history, sched, opt


@pytest.mark.parametrize("kwargs", PLATEAU, ids=str)
def test_reduce_on_plateau_follows_torch_on_a_scripted_metric(kwargs):
    ours, sched, _ = run_plateau(minigrad, kwargs, METRICS)
    theirs, ref, _ = run_plateau(torch, kwargs, METRICS)
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"epoch {step + 1}"
    assert ours[-1][0] != ours[0][0]  # it reduced at least once
    assert list(sched.state_dict()) == list(ref.state_dict()) and repr(sched.state_dict()) == repr(ref.state_dict())


def test_reduce_on_plateau_resumes_from_its_state_dict():
    straight, _, _ = run_plateau(minigrad, PLATEAU[2], METRICS)
    _, sched, opt = run_plateau(minigrad, PLATEAU[2], METRICS[:12])
    saved = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))
    fresh_opt = make_optimizer(minigrad)
    fresh = lr_scheduler.ReduceLROnPlateau(fresh_opt)  # the options come back from the state dict
    fresh_opt.load_state_dict(saved[0])
    fresh.load_state_dict(saved[1])
    resumed = []
    for metric in METRICS[12:]:
        train_step(minigrad, fresh_opt)
        fresh.step(as_metric(minigrad, metric))
        resumed.append((record(fresh_opt), fresh.get_last_lr(), fresh.num_bad_epochs, fresh.cooldown_counter,
                        fresh.best, fresh.last_epoch))
    assert resumed == straight[12:]


# ---------------------------------------------------------------------------------------------- bad arguments
def other_optimizer_sequence(L, opt, lib):
    return L.SequentialLR(opt, [L.StepLR(opt, 2), L.StepLR(make_optimizer(lib), 2)], milestones=[3])


INVALID = [
    (lambda L, opt, lib: L.ConstantLR(opt, factor=1.5), ValueError),
    (lambda L, opt, lib: L.LinearLR(opt, start_factor=0), ValueError),
    (lambda L, opt, lib: L.LinearLR(opt, end_factor=1.5), ValueError),
    (lambda L, opt, lib: L.LambdaLR(opt, [lambda e: 1.0]), ValueError),
    (lambda L, opt, lib: L.MultiplicativeLR(opt, 0.9), TypeError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, total_steps=0), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, epochs=0, steps_per_epoch=3), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, epochs=2, steps_per_epoch=2.0), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, epochs=2), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, total_steps=10, pct_start=1.5), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, total_steps=10, pct_start=1), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, total_steps=10, anneal_strategy="exp"), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, [0.1, 0.2, 0.3], total_steps=10), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(opt, 0.1, total_steps=10, base_momentum=[0.8]), ValueError),
    (lambda L, opt, lib: L.OneCycleLR(lib.optim.Adadelta(opt.param_groups[0]["params"]), 0.1, total_steps=10),
     ValueError),
    (lambda L, opt, lib: L.SequentialLR(opt, [], milestones=[]), ValueError),
    (lambda L, opt, lib: L.SequentialLR(opt, [L.StepLR(opt, 2)], milestones=[3]), ValueError),
    (lambda L, opt, lib: L.SequentialLR(opt, [L.StepLR(opt, 2), L.ReduceLROnPlateau(opt)], milestones=[3]),
     ValueError),
    (lambda L, opt, lib: L.SequentialLR(opt, [L.StepLR(opt, 2), 3], milestones=[3]), TypeError),
    (other_optimizer_sequence, ValueError),
    (lambda L, opt, lib: L.ReduceLROnPlateau(opt, factor=1.0), ValueError),
    (lambda L, opt, lib: L.ReduceLROnPlateau(opt, mode="middle"), ValueError),
    (lambda L, opt, lib: L.ReduceLROnPlateau(opt, threshold_mode="log"), ValueError),
    (lambda L, opt, lib: L.ReduceLROnPlateau(opt, min_lr=[0.1]), ValueError),
    (lambda L, opt, lib: L.ReduceLROnPlateau([], 0.1), TypeError),
]


@pytest.mark.parametrize("index", range(len(INVALID)))
def test_bad_arguments_raise_torchs_error_and_message(index):
    make, error = INVALID[index]
    messages = []
    for lib in (minigrad, torch):
        with pytest.raises(error) as info:
            make(lib.optim.lr_scheduler, make_optimizer(lib), lib)
        messages.append(str(info.value))
    assert messages[0] == messages[1]


def test_plateau_with_a_param_group_added_later_like_torch():
    for lib in (minigrad, torch):
        opt = make_optimizer(lib, groups=1)
        sched = lib.optim.lr_scheduler.ReduceLROnPlateau(opt, patience=0, min_lr=[0.0])
        opt.add_param_group({"params": [lib.nn.Parameter(lib.ones(1))]})
        sched.step(1.0)
        with pytest.raises(RuntimeError, match="The number of param groups in the `optimizer` \\(2\\) differs"):
            sched.step(2.0)
