"""A hand-derived NumPy MLP with no autograd: the floor autograd is measured against.

Forward, the fused cross-entropy gradient (``softmax - onehot``) and backward are written out by
hand; SGD with momentum follows torch's rule exactly (first momentum buffer = copy of the grad,
then ``buf = m * buf + g``; ``p -= lr * buf``). Everything is float32, every intermediate lives
in a buffer preallocated per batch size, and every op writes with ``out=``, so a training step
allocates (almost) nothing.

``self.W[i]`` holds each weight transposed from torch's layout, (in_features, out_features),
so ``y = x @ W + b``: with C-contiguous operands OpenBLAS runs the forward and weight-gradient
matmuls about 10% faster overall than with ``x @ W.T`` (measured on the benchmark's shapes).
``params()`` hands out torch-layout views for comparisons.
"""
import numpy as np

SGD_CHUNK = 1 << 16   # elements; 3 float32 chunks = 768 KiB, inside a 2 MiB L2


def init_weights(sizes, seed=0):
    """torch.nn.Linear-style init, U(-1/sqrt(fan_in), 1/sqrt(fan_in)), as float32 (W, b) pairs."""
    rng = np.random.default_rng(seed)
    params = []
    for fan_in, fan_out in zip(sizes[:-1], sizes[1:]):
        bound = 1.0 / np.sqrt(fan_in)
        W = rng.uniform(-bound, bound, size=(fan_out, fan_in)).astype(np.float32)
        b = rng.uniform(-bound, bound, size=(fan_out,)).astype(np.float32)
        params.append((W, b))
    return params


def softmax_cross_entropy(logits, y, grad_out, rowmax, rowsum, rows):
    """Mean cross-entropy of (n, c) logits against int labels y, and its gradient wrt the logits,
    fused as (softmax - onehot) / n and written into grad_out. rowmax, rowsum: (n, 1) float32
    scratch; rows: np.arange(n). Returns (loss as a Python float, grad_out)."""
    n = logits.shape[0]
    e = grad_out
    np.max(logits, axis=1, keepdims=True, out=rowmax)
    np.subtract(logits, rowmax, out=e)
    target_shifted = e[rows, y]                          # logit[y] - max, needed for the loss
    np.exp(e, out=e)
    np.sum(e, axis=1, keepdims=True, out=rowsum)
    loss = float(np.mean(np.log(rowsum[:, 0]) - target_shifted))
    np.divide(e, rowsum, out=e)                          # softmax
    e[rows, y] -= 1.0
    e *= np.float32(1.0 / n)
    return loss, e


class NumpyMLP:
    """Linear -> ReLU -> ... -> Linear trained with cross-entropy and SGD-momentum, by hand."""

    def __init__(self, weights, lr=0.01, momentum=0.5):
        # Own float32 copies: the caller's arrays are shared with other contenders' inits.
        self.W = [np.ascontiguousarray(np.asarray(W, dtype=np.float32).T) for W, _ in weights]  # (in, out)
        self.b = [np.array(b, dtype=np.float32) for _, b in weights]
        self.lr = np.float32(lr)
        self.momentum = np.float32(momentum)
        self.gW = [np.empty_like(W) for W in self.W]
        self.gb = [np.empty_like(b) for b in self.b]
        self.bufW = [np.empty_like(W) for W in self.W]   # momentum buffers
        self.bufb = [np.empty_like(b) for b in self.b]
        self.have_momentum = False
        self._sgd_chunks = [(p[i:i + SGD_CHUNK], g[i:i + SGD_CHUNK], buf[i:i + SGD_CHUNK])
                            for p, g, buf in zip(self.W + self.b, self.gW + self.gb, self.bufW + self.bufb)
                            for p, g, buf in [(p.reshape(-1), g.reshape(-1), buf.reshape(-1))]
                            for i in range(0, p.size, SGD_CHUNK)]  # views into the arrays above
        self._acts = {}                                  # batch size -> activation buffers

    def params(self):
        """Parameters in the order and layout torch's nn.Sequential has: W0, b0, W1, b1, ...
        (the weights as transposed views)."""
        out = []
        for W, b in zip(self.W, self.b):
            out += [W.T, b]
        return out

    def _buffers(self, n):
        bufs = self._acts.get(n)
        if bufs is None:
            outs = [W.shape[1] for W in self.W]
            bufs = {
                "h": [np.empty((n, d), np.float32) for d in outs],       # layer outputs (ReLU'd in place)
                "mask": [np.empty((n, d), np.bool_) for d in outs[:-1]],  # ReLU masks for backward
                "g": [np.empty((n, W.shape[0]), np.float32) for W in self.W],  # dL/d(input of layer i)
                "dlogits": np.empty((n, outs[-1]), np.float32),
                "rowmax": np.empty((n, 1), np.float32),
                "rowsum": np.empty((n, 1), np.float32),
                "rows": np.arange(n),
            }
            self._acts[n] = bufs
        return bufs

    def forward(self, x, bufs):
        h = x
        last = len(self.W) - 1
        for i, (W, b) in enumerate(zip(self.W, self.b)):
            out = bufs["h"][i]
            np.matmul(h, W, out=out)
            out += b
            if i < last:
                np.maximum(out, 0, out=out)
            h = out
        return h

    def loss_and_grad(self, logits, y, bufs):
        return softmax_cross_entropy(logits, y, bufs["dlogits"], bufs["rowmax"], bufs["rowsum"], bufs["rows"])

    def backward(self, x, dlogits, bufs):
        g = dlogits
        for i in range(len(self.W) - 1, -1, -1):
            inp = x if i == 0 else bufs["h"][i - 1]
            np.matmul(inp.T, g, out=self.gW[i])
            np.sum(g, axis=0, out=self.gb[i])
            if i == 0:
                break
            gin = bufs["g"][i]
            np.matmul(g, self.W[i].T, out=gin)
            mask = bufs["mask"][i - 1]
            np.greater(inp, 0, out=mask)                 # inp is the ReLU output of layer i-1
            np.multiply(gin, mask, out=gin)
            g = gin

    def sgd_step(self):
        """torch.optim.SGD(lr, momentum), dampening 0, no nesterov, no weight decay. The update
        runs in chunks of SGD_CHUNK elements so each chunk's param, grad and buffer stay in
        cache across the passes (about 20% faster than whole-array passes, measured)."""
        lr, m = self.lr, self.momentum
        for p, g, buf in self._sgd_chunks:
            if self.have_momentum:
                buf *= m
                buf += g
            else:
                np.copyto(buf, g)
            np.multiply(buf, lr, out=g)                  # the grad buffer is free: reuse it as scratch
            p -= g
        self.have_momentum = True

    def train_step(self, x, y):
        """One step on a float32 batch x (n, in) and int labels y (n,); returns the loss."""
        bufs = self._buffers(x.shape[0])
        logits = self.forward(x, bufs)
        loss, dlogits = self.loss_and_grad(logits, y, bufs)
        self.backward(x, dlogits, bufs)
        self.sgd_step()
        return loss
