"""Every differentiable primitive, one small Function subclass each, grouped by kind."""
from .conv import ConstantPad, Conv, ConvInputGrad, ConvWeightGrad, Fold, Unfold
from .pool import AdaptiveAvgPool, AvgPool, MaxPool, WindowGather, WindowScatter, WindowSpread
from .convert import Cast, Clone, ToDevice
from .elementwise import (Abs, Add, Clamp, Div, Exp, Log, Maximum, Minimum, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt,
                          Sub, Tanh, Where)
from .matmul import Linear, MatMul
from .nn import BinaryCrossEntropy, BinaryCrossEntropyWithLogits, LogSoftmax, MseLoss, NllLoss, Softmax
from .reduce import Amax, Gather, Mean, Sum
from .shape import Cat, Expand, Index, Permute, Reshape, Stack
from .sparse import Embedding, EmbeddingBackward
from .rnn import Recurrence
