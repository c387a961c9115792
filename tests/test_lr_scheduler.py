"""LR schedulers against torch: lr (and momentum) sequences step by step, state dicts, warnings and errors."""
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


# id -> (optimizer, lambda L, opt: scheduler); L is minigrad's or torch's lr_scheduler module
SCHEDULERS = {
    "StepLR": ("SGD", lambda L, opt: L.StepLR(opt, step_size=7, gamma=0.5)),
    "StepLR-default-gamma": ("Adam", lambda L, opt: L.StepLR(opt, 3)),
}


@pytest.mark.parametrize("case", SCHEDULERS)
def test_lr_sequence_matches_torch_exactly(case):
    opt_name, make = SCHEDULERS[case]
    ours, _, _ = run(minigrad, make, opt_name=opt_name)
    theirs, _, _ = run(torch, make, opt_name=opt_name)
    assert len({lrs[0][0] for lrs, _ in theirs}) > 1  # the schedule really changes the lr
    for step, (a, b) in enumerate(zip(ours, theirs)):
        assert a == b, f"step {step}"


@pytest.mark.parametrize("case", SCHEDULERS)
def test_state_dict_matches_torch_and_resuming_continues_the_schedule(case):
    opt_name, make = SCHEDULERS[case]
    states = [run(lib, make, 25, opt_name)[1].state_dict() for lib in (minigrad, torch)]
    assert list(states[0]) == list(states[1]) and repr(states[0]) == repr(states[1])

    straight, _, _ = run(minigrad, make, 50, opt_name)
    _, sched, opt = run(minigrad, make, 25, opt_name)
    saved = pickle.loads(pickle.dumps((opt.state_dict(), sched.state_dict())))
    fresh_opt = make_optimizer(minigrad, opt_name)
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
