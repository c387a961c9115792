"""minigrad.optim: optimizers with torch.optim's API, update rules and state_dict format."""
from .adam import Adam
from .optimizer import Optimizer
from .sgd import SGD

__all__ = ["Optimizer", "SGD", "Adam"]
