"""torch.nn.functional: one file per family of functions, all re-exported here as ``F``."""
from .activation import linear, log_softmax, relu, sigmoid, softmax, tanh
from .loss import (binary_cross_entropy, binary_cross_entropy_with_logits, cross_entropy, mse_loss, nll_loss)
from .conv import *  # noqa: F401,F403
from .dropout import *  # noqa: F401,F403
from .normalization import *  # noqa: F401,F403
from .pooling import *  # noqa: F401,F403
from .rnn import *  # noqa: F401,F403
from .sparse import *  # noqa: F401,F403
