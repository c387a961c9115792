"""minigrad.nn: modules, layers, losses and the functional and init namespaces (torch.nn's subset)."""
from . import functional, init
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .linear import Flatten, Identity, Linear
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .container import ModuleList, Sequential
from .module import Module
from .parameter import Parameter

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Linear", "Identity", "Flatten", "ReLU", "Sigmoid",
           "Tanh", "Softmax", "LogSoftmax", "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss", "MSELoss",
           "functional", "init"]
