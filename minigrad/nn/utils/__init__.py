"""torch.nn.utils: gradient clipping and the recurrent-sequence helpers."""
from . import rnn
from .clip_grad import *  # noqa: F401,F403
