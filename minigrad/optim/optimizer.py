"""Optimizer base: param_groups, per-parameter state and torch-format state dicts."""
from __future__ import annotations

import warnings
from collections import defaultdict
from copy import deepcopy
from itertools import chain
from typing import Any, Callable, Iterable

import numpy as np

from ..autograd import enable_grad
from ..autograd.function import bump_version
from ..backend import to_device, to_numpy
from ..tensor import Tensor

__all__ = ["Optimizer"]


def _check_unsupported(**flags) -> None:
    """torch options that minigrad accepts only at their default: fail loudly instead of silently ignoring them."""
    for name, value in flags.items():
        if value:
            raise ValueError(f"minigrad optimizers do not support {name}=True")


# torch's wording for "Invalid <what>: <value>"; options not listed read "Invalid <name> value: <value>"
_OPTION_WORDS = {"lr": "learning rate", "eps": "epsilon value"}


def _check_non_negative(**options) -> None:
    """torch's ValueError for the first option (in the order given) that is negative or NaN."""
    for name, value in options.items():
        if isinstance(value, Tensor):  # torch allows a Tensor lr (for capturable graphs); minigrad does not
            raise NotImplementedError(f"minigrad optimizers take {name} as a Python number, not a Tensor")
        if not 0.0 <= value:
            raise ValueError(f"Invalid {_OPTION_WORDS.get(name, name + ' value')}: {value}")


def _check_betas(betas) -> None:
    for index, beta in enumerate(betas[:2]):
        if not 0.0 <= beta < 1.0:
            raise ValueError(f"Invalid beta parameter at index {index}: {beta}")


def _host_scalar(value: float = 0.0) -> Tensor:
    """A float32 CPU scalar: torch keeps 'step' (and NAdam's 'mu_product') so, unless capturable."""
    return Tensor._wrap(np.array(value, dtype=np.float32))


def _grad_for_step(grad, param, weight_decay: float, maximize: bool):
    """The gradient an update follows: negated to maximize, plus the L2 term ``weight_decay * param``."""
    if maximize:
        grad = -grad
    if weight_decay != 0:
        grad = grad + weight_decay * param
    return grad


def _decay_square_avg_(avg, grad, decay: float) -> None:
    """``avg = decay * avg + (1 - decay) * grad**2`` in place, multiplied in torch's order."""
    avg *= decay
    avg += (1 - decay) * grad * grad


def _lerp_(start, end, weight: float) -> None:
    """``start.lerp_(end, weight)`` in place, in the form torch picks by ``weight`` (exact at both ends)."""
    if abs(weight) < 0.5:
        start += weight * (end - start)
    else:
        start[...] = end - (end - start) * (1 - weight)


class Optimizer:
    """Base class: holds ``param_groups`` (a list of option dicts) and ``state`` (a dict keyed by parameter)."""

    def __init__(self, params: Iterable[Tensor] | Iterable[dict], defaults: dict[str, Any]):
        self.defaults = defaults
        if isinstance(params, Tensor):
            raise TypeError("params argument given to the optimizer should be an iterable of Tensors or dicts, "
                            f"but got minigrad.{type(params).__name__}")
        self.state: defaultdict[Tensor, dict] = defaultdict(dict)
        self.param_groups: list[dict[str, Any]] = []
        param_groups = list(params)
        if len(param_groups) == 0:
            raise ValueError("optimizer got an empty parameter list")
        if not isinstance(param_groups[0], dict):
            param_groups = [{"params": param_groups}]
        for group in param_groups:
            self.add_param_group(group)

    def add_param_group(self, param_group: dict[str, Any]) -> None:
        """Add a group of parameters with its own options; unspecified options take the defaults."""
        if not isinstance(param_group, dict):
            raise TypeError(f"param_group must be a dict, but got {type(param_group)}")
        params = param_group["params"]
        if isinstance(params, Tensor):
            params = [params]
        elif isinstance(params, set):
            raise TypeError("optimizer parameters need to be organized in ordered collections, but the ordering of "
                            "tensors in sets will change between runs. Please use a list instead.")
        params = list(params)
        names = [p[0] for p in params if isinstance(p, tuple)]
        params = [p[1] if isinstance(p, tuple) else p for p in params]
        if names:  # params given as named_parameters(): torch records the names in the group
            if len(names) != len(params):
                raise ValueError("all optimizer params should be with/without names. Some param names are missing")
            param_group["param_names"] = names
        param_group["params"] = params
        for param in params:
            if not isinstance(param, Tensor):
                raise TypeError(f"optimizer can only optimize Tensors, but one of the params is {type(param).__name__}")
            if not (param.is_leaf or param.retains_grad):
                raise ValueError("can't optimize a non-leaf Tensor")
        for name, default in self.defaults.items():
            param_group.setdefault(name, default)
        if len(params) != len(set(params)):
            warnings.warn("optimizer contains a parameter group with duplicate parameters; in future, this will "
                          "cause an error; see github.com/pytorch/pytorch/issues/40967 for more information",
                          stacklevel=3)
        seen: set = set()
        for group in self.param_groups:
            seen.update(group["params"])
            if ("param_names" in param_group) != ("param_names" in group):
                which = "with names" if "param_names" in param_group else "without names"
                raise ValueError(f"all optimizer param groups should be with/without names. cannot add param group "
                                 f"{which} to the optimizer")
        if not seen.isdisjoint(params):
            raise ValueError("some parameters appear in more than one parameter group")
        self.param_groups.append(param_group)

    def zero_grad(self, set_to_none: bool = True) -> None:
        """Reset every parameter's ``.grad`` (to None by default, which also skips it in the next step)."""
        for group in self.param_groups:
            for p in group["params"]:
                if p.grad is not None:
                    if set_to_none:
                        p.grad = None
                    else:
                        p.grad.array.fill(0)

    def step(self, closure: Callable[[], Any] | None = None):
        """Update the parameters once; ``closure`` re-evaluates the model and returns the loss."""
        loss = None
        if closure is not None:
            with enable_grad():
                loss = closure()
        for group in self.param_groups:
            self._update_group(group)
            for p in group["params"]:  # updated in place: a graph that saved them must not reuse them (torch)
                if p.grad is not None:
                    bump_version(p)
        return loss

    def _update_group(self, group: dict[str, Any]) -> None:
        """Each parameter with a gradient: create its state on first use, then apply the update rule."""
        for p in group["params"]:
            if p.grad is None:
                continue
            state = self.state[p]
            if not state:
                state.update(self._new_state(p, group))
            self._update(p, state, group)

    def _new_state(self, p: Tensor, group: dict[str, Any]) -> dict[str, Tensor]:
        raise NotImplementedError(f"{type(self).__name__} must implement _new_state (or _update_group)")

    def _update(self, p: Tensor, state: dict[str, Tensor], group: dict[str, Any]) -> None:
        raise NotImplementedError(f"{type(self).__name__} must implement _update (or _update_group)")

    # ------------------------------------------------------------------------------------ state dict
    def state_dict(self) -> dict[str, Any]:
        """``{'state': {index: {...}}, 'param_groups': [{..., 'params': [indices]}]}``, torch's format."""
        index: dict[int, int] = {}
        start = 0
        groups = []
        for group in self.param_groups:
            packed = {k: v for k, v in group.items() if k != "params"}
            index.update({id(p): i for i, p in enumerate(group["params"], start) if id(p) not in index})
            packed["params"] = [index[id(p)] for p in group["params"]]
            start += len(packed["params"])
            groups.append(packed)
        state = {(index[id(k)] if isinstance(k, Tensor) else k): v for k, v in self.state.items()}
        return {"state": state, "param_groups": groups}

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        """Restore options and state saved by ``state_dict()`` onto this optimizer's parameters, matched by order."""
        groups = self.param_groups
        saved_groups = deepcopy(state_dict["param_groups"])
        if len(groups) != len(saved_groups):
            raise ValueError("loaded state dict has a different number of parameter groups")
        if any(len(g["params"]) != len(s["params"]) for g, s in zip(groups, saved_groups)):
            raise ValueError("loaded state dict contains a parameter group that doesn't match the size of "
                             "optimizer's group")
        id_map = dict(zip(chain.from_iterable(g["params"] for g in saved_groups),
                          chain.from_iterable(g["params"] for g in groups)))
        state: defaultdict[Tensor, dict] = defaultdict(dict)
        for key, value in state_dict["state"].items():
            if key in id_map:
                param = id_map[key]
                state[param] = {k: _cast(param, v, k) for k, v in value.items()}
            else:
                state[key] = value
        for group, saved in zip(groups, saved_groups):
            saved["params"] = group["params"]
            if "param_names" in group and "param_names" not in saved:
                saved["param_names"] = group["param_names"]
        self.state = state
        self.param_groups = saved_groups

    def __getstate__(self) -> dict[str, Any]:
        # an lr scheduler wraps ``step`` on the instance (lr_scheduler._record_optimizer_steps); the wrapper
        # is bound to this very optimizer, so a pickled or deep-copied one goes back to the class's step
        state = self.__dict__.copy()
        state.pop("step", None)
        return state

    def __repr__(self):
        text = type(self).__name__ + " ("
        for i, group in enumerate(self.param_groups):
            text += f"\nParameter Group {i}\n"
            for key in sorted(group):
                if key != "params":
                    text += f"    {key}: {group[key]}\n"
        return text + ")"


def _cast(param: Tensor, value, key: str):
    """A state value for ``param``: tensors copied onto its device (and dtype, if floating); 'step' stays put.

    A copy, unlike torch, because steps update state arrays in place: two optimizers loaded from one
    state dict must not share buffers.
    """
    if key == "step" and isinstance(value, (int, float)):  # older torch checkpoints hold a plain number
        return Tensor._wrap(np.asarray(value, dtype=np.float32))
    if isinstance(value, Tensor):
        if key == "step":  # a host scalar whatever map_location did: steps read it every update
            return Tensor._wrap(np.array(to_numpy(value.array)))
        array = value.array.astype(param.array.dtype, copy=False) if param.is_floating_point() else value.array
        array = to_device(array, param.device)
        return Tensor._wrap(array.copy() if array is value.array else array)
    if isinstance(value, dict):
        return {k: _cast(param, v, k) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_cast(param, v, key) for v in value)
    return value

