"""Anomaly detection: remember where each op was created, and name the op whose backward made a NaN."""
from __future__ import annotations

import traceback
import warnings


class _Anomaly:
    enabled = False
    check_nan = True


def is_anomaly_enabled() -> bool:
    return _Anomaly.enabled


def is_anomaly_check_nan_enabled() -> bool:
    return _Anomaly.check_nan


class set_detect_anomaly:
    """Turn anomaly detection on or off; takes effect when called, and also works as a context manager."""

    def __init__(self, mode: bool, check_nan: bool = True):
        self.prev = (_Anomaly.enabled, _Anomaly.check_nan)
        _Anomaly.enabled, _Anomaly.check_nan = bool(mode), bool(check_nan)

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        _Anomaly.enabled, _Anomaly.check_nan = self.prev


class detect_anomaly:
    """``with detect_anomaly():`` — anomaly detection inside the block only."""

    def __init__(self, check_nan: bool = True):
        self.check_nan = check_nan
        warnings.warn("Anomaly Detection has been enabled. This mode will increase the runtime and should only be "
                      "enabled for debugging.", stacklevel=2)

    def __enter__(self):
        self.prev = (_Anomaly.enabled, _Anomaly.check_nan)
        _Anomaly.enabled, _Anomaly.check_nan = True, self.check_nan
        return self

    def __exit__(self, *exc):
        _Anomaly.enabled, _Anomaly.check_nan = self.prev


def creation_trace() -> str:
    """Where the op being recorded was called from (the frames inside minigrad itself left out)."""
    frames = [f for f in traceback.extract_stack()[:-1] if "/minigrad/" not in f.filename.replace("\\", "/")]
    return "".join(traceback.format_list(frames[-8:]))


def check_backward_result(fn, grads, xp_isnan) -> None:
    """Raise, naming the op and where its forward ran, when its backward returned a NaN."""
    for i, g in enumerate(grads):
        if g is None:
            continue
        array = getattr(g, "array", g)
        if bool(xp_isnan(array).any()):
            where = getattr(fn, "trace", None) or "(its forward ran before anomaly detection was enabled)\n"
            raise RuntimeError(f"Function '{fn.name()}' returned nan values in its {i}th output.\n"
                               f"The forward call that created it:\n{where}")
