"""minigrad.optim: optimizers with torch.optim's API, update rules and state_dict format."""
from . import lr_scheduler
from .adadelta import Adadelta
from .adagrad import Adagrad
from .adam import Adam
from .adamax import Adamax
from .nadam import NAdam
from .optimizer import Optimizer
from .rmsprop import RMSprop
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam", "Adadelta", "Adagrad", "RMSprop", "NAdam", "Adamax", "lr_scheduler"]
