"""minigrad.nn: modules, layers, losses and the functional and init namespaces (torch.nn's subset)."""
from . import functional, init, utils
from . import batchnorm, conv, dropout, pooling, rnn, sparse
from . import parallel  # DistributedDataParallel; loads minigrad.distributed only when constructed
from .activation import LogSoftmax, ReLU, Sigmoid, Softmax, Tanh
from .linear import Flatten, Identity, Linear, Unflatten
from .loss import BCELoss, BCEWithLogitsLoss, CrossEntropyLoss, MSELoss, NLLLoss
from .container import ModuleList, Sequential
from .module import Module
from .parameter import Parameter
from .batchnorm import *  # noqa: F401,F403
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403

__all__ = ["Module", "Parameter", "Sequential", "ModuleList", "Linear", "Identity", "Flatten", "Unflatten", "ReLU",
           "Sigmoid", "Tanh", "Softmax", "LogSoftmax", "NLLLoss", "CrossEntropyLoss", "BCELoss", "BCEWithLogitsLoss",
           "MSELoss", "functional", "init", "utils", *batchnorm.__all__, *conv.__all__, *dropout.__all__,
           *pooling.__all__, *rnn.__all__, *sparse.__all__]
