"""Removable hook handles (torch.utils.hooks.RemovableHandle)."""
from __future__ import annotations

import itertools

_ids = itertools.count()


class RemovableHandle:
    """Returned by every ``register_*hook``: ``handle.remove()`` (or leaving a ``with`` block) unregisters."""

    def __init__(self, hooks: dict):
        self.id = next(_ids)
        self._hooks = hooks

    def remove(self) -> None:
        self._hooks.pop(self.id, None)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        self.remove()


def add_hook(hooks: dict | None, hook) -> tuple[dict, RemovableHandle]:
    """(the hook dict, now holding ``hook``, and its handle); the dict is created on first use."""
    if not callable(hook):
        raise TypeError(f"hook must be callable, got {type(hook).__name__}")
    hooks = {} if hooks is None else hooks
    handle = RemovableHandle(hooks)
    hooks[handle.id] = hook
    return hooks, handle
