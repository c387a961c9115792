"""Grad mode: whether ops record the graph. Per thread, as in torch: a ``no_grad`` block in one thread never
turns recording off in another."""
from __future__ import annotations

import functools
import threading


class _State(threading.local):
    enabled = True  # each thread starts with recording on, whatever other threads do


_state = _State()


def is_grad_enabled() -> bool:
    return _state.enabled


class _GradModeContext:
    """Sets grad mode inside a ``with`` block, or around every call of a decorated function."""

    def __init__(self, mode: bool):
        self.mode = bool(mode)

    def __enter__(self):
        self.prev = _state.enabled
        _state.enabled = self.mode
        return self

    def __exit__(self, *exc):
        _state.enabled = self.prev

    def __call__(self, func):
        mode = self.mode

        @functools.wraps(func)
        def wrapper(*args, **kwargs):
            with _GradModeContext(mode):
                return func(*args, **kwargs)
        return wrapper


class _FixedGradMode(_GradModeContext):
    """Works as ``with cls():``, ``@cls()`` and bare ``@cls``."""

    mode = True

    def __new__(cls, func=None):
        self = super().__new__(cls)
        return self(func) if callable(func) else self

    def __init__(self, func=None):
        pass


class no_grad(_FixedGradMode):
    """Record no graph inside."""

    mode = False


class enable_grad(_FixedGradMode):
    """Record the graph inside, even within ``no_grad``."""

    mode = True


class inference_mode(_GradModeContext):
    """torch.inference_mode: here the same as no_grad (minigrad has no separate inference tensors)."""

    def __new__(cls, mode=True):
        self = super().__new__(cls)
        if callable(mode):  # bare @inference_mode
            self.__init__(True)
            return self(mode)
        return self

    def __init__(self, mode: bool = True):
        super().__init__(not mode)


class set_grad_enabled(_GradModeContext):
    """Like torch: takes effect when constructed, so ``set_grad_enabled(False)`` also works as a plain call."""

    def __init__(self, mode: bool):
        super().__init__(mode)
        self.prev = _state.enabled
        _state.enabled = self.mode

    def __enter__(self):
        return self

    def __call__(self, func):
        _state.enabled = self.prev  # used as a decorator: leave the mode as it was until a call
        return super().__call__(func)
