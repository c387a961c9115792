"""Reverse-mode autograd: Function (the op base and the custom-op API), grad mode, the engine, hooks,
anomaly detection and numerical checks."""
from . import anomaly, function, grad_mode
from .anomaly import detect_anomaly, is_anomaly_check_nan_enabled, is_anomaly_enabled, set_detect_anomaly
from .engine import backward, grad
from .function import Function
from .grad_mode import enable_grad, inference_mode, is_grad_enabled, no_grad, set_grad_enabled
from .gradcheck import gradcheck, gradgradcheck

__all__ = ["Function", "backward", "detect_anomaly", "enable_grad", "functional", "grad", "gradcheck", "gradgradcheck",
           "inference_mode", "is_anomaly_check_nan_enabled", "is_anomaly_enabled", "is_grad_enabled", "no_grad",
           "set_detect_anomaly", "set_grad_enabled", "Variable"]


def __getattr__(name):  # these need Tensor, which is built after autograd
    if name == "functional":
        import importlib
        return importlib.import_module(f"{__name__}.functional")
    if name == "Variable":  # torch's deprecated alias
        from ..legacy import Variable
        return Variable
    raise AttributeError(f"module 'minigrad.autograd' has no attribute '{name}'")
