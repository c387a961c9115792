"""The hot-path kernels, one module per implementation, each with the same functions:

- ``reference``: plain array expressions, the NumPy path and the definition every twin is tested against;
- ``numba_cpu``: multi-threaded numba loops, one pass over memory each (``pip install minigrad[fast]``);
- ``cuda``: fused CuPy kernels.

``backend.kernels(xp)`` picks one on first use (``MINIGRAD_KERNELS=reference`` forces the reference).
Nothing here imports ``backend``: the dependency runs one way, backend -> kernels.
"""

# Every implementation provides these; tests/test_kernels.py checks each twin against the reference.
NAMES = ("scatter_add", "relu", "relu_backward", "softmax_pair", "nll", "cross_entropy_backward", "softmax_stats",
         "softmax_grad", "sgd_step_",
         "adam_step_", "lstm_step_forward", "lstm_step_backward", "gru_step_forward", "gru_step_backward",
         "im2col", "col2im", "max_pool", "window_scatter")
