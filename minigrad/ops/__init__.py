"""Every differentiable primitive, one small Function subclass each, grouped by kind."""
from .conv import ConstantPad, Conv, ConvInputGrad, ConvWeightGrad, Fold, Unfold
from .convert import Cast, Clone, ToDevice
from .elementwise import (Abs, Add, Clamp, Div, Exp, Log, Log1p, Maximum, Minimum, Mul, Neg, Pow, ReLU, Sigmoid, Sqrt,
                          Sub, Tanh, Where)
from .matmul import Linear, MatMul
from .nn import (BinaryCrossEntropy, BinaryCrossEntropyWithLogits, ClassNllLoss, LogSoftmax, MseLoss, NllLoss,
                 Softmax)
from .pool import AdaptiveAvgPool, AvgPool, MaxPool, WindowGather, WindowScatter, WindowSpread
from .products import Bmm, Dot, Mm
from .reduce import Amax, Gather, Mean, Sum
from .rnn import Recurrence
from .select import (IndexSelect, MaskedFill, MaskedFillTensor, Split, SplitWithSizes, Tril, Triu, Unbind,
                     multinomial_indices)
from .shape import Cat, Expand, Index, IndexAdd, IndexFill, IndexPut, Permute, Repeat, Reshape, Stack
from .sort import Sort, SortStable, Topk, sort_order
from .sparse import Embedding, EmbeddingBackward
