"""The contenders (numpy, torch, minigrad, on CPU and CUDA) and the workloads they race on.

A *contender* wraps one implementation of one workload behind three methods: ``run()`` does one
timed iteration, ``sync()`` waits for the device, ``snapshot()`` returns NumPy copies of what the
correctness check compares. torch and minigrad contenders share code through ``Framework``, since
minigrad's API is torch's; the NumPy contenders are hand-written (see numpy_mlp.py).

A *workload* names the contenders' factories. Every factory of a workload closes over the same
data and the same initial weights, so the contenders start from identical states.
"""
from __future__ import annotations

import math
import os
import zlib
from dataclasses import dataclass, field
from typing import Callable, Optional

import numpy as np

from numpy_mlp import NumpyMLP, init_weights, softmax_cross_entropy

LR, MOMENTUM = 0.01, 0.5
BIG_MLP = (784, 520, 320, 240, 120, 10)
SMALL_MLP = (784, 100, 10)
BATCH_SIZES = (64, 256, 1024)
EPOCH_BATCH = 64
FMNIST_ROOT = "/usr/share/datasets/fashion-mnist"
FMNIST_MEAN, FMNIST_STD = 0.2860, 0.3530

# np.allclose at float32 tolerance; atol scales with the reference's magnitude so that tiny
# gradients (e.g. cross-entropy over 4096x1000 logits, ~1e-7 each) are still really compared.
RTOL, ATOL_REL = 1e-4, 1e-5


# --------------------------------------------------------------------------- frameworks

class Framework:
    """torch or minigrad on one device: the few calls where the two need telling apart."""

    def __init__(self, name: str, device: str = "cpu"):
        self.name, self.device = name, device
        if name == "torch":
            import torch
            self.lib = torch
        elif name == "minigrad":
            import minigrad
            self.lib = minigrad
        else:
            raise ValueError(name)
        if device == "cuda" and not self.lib.cuda.is_available():
            raise RuntimeError(f"{name}: CUDA is not available")

    @property
    def label(self) -> str:
        return self.name if self.device == "cpu" else f"{self.name}-{self.device}"

    def tensor(self, a: np.ndarray, requires_grad: bool = False):
        t = self.lib.from_numpy(np.array(a, copy=True))   # own copy: contenders never share memory
        if self.device != "cpu":
            t = t.to(self.device)
        if requires_grad:
            t.requires_grad_(True)
        return t

    def numpy(self, t) -> np.ndarray:
        return np.array(t.detach().cpu().numpy(), copy=True)

    def sync(self) -> None:
        if self.device != "cpu":
            self.lib.cuda.synchronize()

    def set_(self, param, value: np.ndarray) -> None:
        with self.lib.no_grad():
            param.copy_(self.tensor(value))

    def mlp(self, sizes, weights):
        """nn.Sequential(Linear, ReLU, ..., Linear) holding exactly `weights`."""
        nn = self.lib.nn
        layers = []
        for i, (fan_in, fan_out) in enumerate(zip(sizes[:-1], sizes[1:])):
            layers.append(nn.Linear(fan_in, fan_out))
            if i < len(sizes) - 2:
                layers.append(nn.ReLU())
        model = nn.Sequential(*layers)
        if self.device != "cpu":
            model = model.to(self.device)
        params = list(model.parameters())
        flat = [a for pair in weights for a in pair]
        assert len(params) == len(flat), (len(params), len(flat))
        for p, a in zip(params, flat):
            assert tuple(p.shape) == a.shape, (tuple(p.shape), a.shape)
            self.set_(p, a)
        return model


# --------------------------------------------------------------------------- contender base

class Contender:
    label = "?"
    framework = "?"   # "numpy" | "torch" | "minigrad"
    device = "cpu"

    def run(self) -> None:
        raise NotImplementedError

    def sync(self) -> None:
        pass

    def warmup(self, n: int) -> None:
        for _ in range(n):
            self.run()
        self.sync()

    def snapshot(self) -> dict:
        return {}


class NumpyContender(Contender):
    label = framework = "numpy"


class FrameworkContender(Contender):
    def __init__(self, fw: Framework):
        self.fw = fw
        self.label, self.framework, self.device = fw.label, fw.name, fw.device

    def sync(self) -> None:
        self.fw.sync()


# --------------------------------------------------------------------------- training step

class NumpyStep(NumpyContender):
    def __init__(self, _sizes, weights, x, y):  # the weights carry the sizes; the argument keeps the contenders alike
        self.net, self.x, self.y = NumpyMLP(weights, LR, MOMENTUM), x, y
        self.loss = None

    def run(self):
        self.loss = self.net.train_step(self.x, self.y)

    def snapshot(self):
        return {"loss": np.float32(self.loss), **{f"param{i}": p.copy() for i, p in enumerate(self.net.params())}}


class FrameworkStep(FrameworkContender):
    """zero_grad, forward, loss, backward, SGD-momentum step; no .item() in the timed step."""

    def __init__(self, fw: Framework, sizes, weights, x, y):
        super().__init__(fw)
        lib = fw.lib
        self.model = fw.mlp(sizes, weights)
        self.opt = lib.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.criterion = lib.nn.CrossEntropyLoss()
        self.x, self.y = fw.tensor(x), fw.tensor(y)
        self.loss = None

    def run(self):
        self.opt.zero_grad()
        loss = self.criterion(self.model(self.x), self.y)
        loss.backward()
        self.opt.step()
        self.loss = loss

    def snapshot(self):
        out = {"loss": np.float32(self.loss.item())}
        for i, p in enumerate(self.model.parameters()):
            out[f"param{i}"] = self.fw.numpy(p)
        return out


# --------------------------------------------------------------------------- full epoch

def read_idx_gz(path: str) -> np.ndarray:
    """Decode a (gzipped) IDX file with plain NumPy: independent of minigrad's reader on purpose."""
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] == b"\x1f\x8b":
        raw = zlib.decompress(raw, 31)
    ndim = raw[3]
    shape = tuple(int.from_bytes(raw[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    assert raw[2] == 0x08, "expected uint8 IDX data"
    return np.frombuffer(raw, np.uint8, offset=4 + 4 * ndim).reshape(shape)


_FMNIST_CACHE: dict = {}


def fashion_mnist_arrays(root: str = FMNIST_ROOT):
    """Training images as float32 (N, 1, 28, 28), normalised exactly as ToTensor + Normalize
    would, and int64 labels (N,)."""
    if root not in _FMNIST_CACHE:
        images = read_idx_gz(os.path.join(root, "train-images-idx3-ubyte.gz"))
        labels = read_idx_gz(os.path.join(root, "train-labels-idx1-ubyte.gz")).astype(np.int64)
        x = images.astype(np.float32) / np.float32(255.0)
        x = (x - np.float32(FMNIST_MEAN)) / np.float32(FMNIST_STD)
        _FMNIST_CACHE[root] = (np.ascontiguousarray(x[:, None]), labels)
    return _FMNIST_CACHE[root]


class EpochContender(Contender):
    """An epoch (up to max_batches batches) as a generator of batches, ``_batches(limit)``: run() trains one,
    and slices() trains one in pieces, so that the harness can interleave contenders' epochs slice by slice."""

    max_batches = None

    def _batches(self, limit):
        raise NotImplementedError

    def run(self):
        for _ in self._batches(self.max_batches):
            pass

    def warmup(self, n):
        for _ in self._batches(n):
            pass
        self.sync()

    def slices(self, size: int):
        """One epoch, pausing (device synchronised) after every ``size`` batches and at its end."""
        for k, _ in enumerate(self._batches(self.max_batches), 1):
            if k % size == 0:
                self.sync()
                yield
        self.sync()
        yield


class NumpyEpoch(EpochContender, NumpyContender):
    """The floor for an epoch: shuffle indices, gather each batch with np.take into a
    preallocated buffer, train. No Dataset/DataLoader objects, no per-sample Python."""

    def __init__(self, _sizes, weights, images, labels, batch, max_batches=None, seed=0):  # sizes: as NumpyStep
        self.net = NumpyMLP(weights, LR, MOMENTUM)
        self.X = images.reshape(len(images), -1)
        self.Y = labels
        self.batch, self.max_batches = batch, max_batches
        self.rng = np.random.default_rng(seed)
        self.xbuf = np.empty((batch, self.X.shape[1]), np.float32)
        self.ybuf = np.empty(batch, np.int64)

    def _batches(self, limit):
        perm = self.rng.permutation(len(self.X))
        for k, start in enumerate(range(0, len(perm), self.batch)):
            if limit is not None and k >= limit:
                break
            idx = perm[start:start + self.batch]
            n = len(idx)
            xb = np.take(self.X, idx, axis=0, out=self.xbuf[:n], mode="clip")
            yb = np.take(self.Y, idx, out=self.ybuf[:n], mode="clip")
            self.net.train_step(xb, yb)
            yield


class FrameworkEpoch(EpochContender, FrameworkContender):
    """A tutorial training loop over a DataLoader; batches are flattened in the loop and, on
    CUDA, moved to the device per batch (as a tutorial does)."""

    def __init__(self, fw: Framework, sizes, weights, make_loader: Callable, max_batches=None, label=None):
        super().__init__(fw)
        lib = fw.lib
        self.model = fw.mlp(sizes, weights)
        self.opt = lib.optim.SGD(self.model.parameters(), lr=LR, momentum=MOMENTUM)
        self.criterion = lib.nn.CrossEntropyLoss()
        self.loader = make_loader()
        self.max_batches = max_batches
        if label:
            self.label = label

    def _batches(self, limit):
        dev = self.fw.device
        for k, (xb, yb) in enumerate(self.loader):
            if limit is not None and k >= limit:
                break
            if dev != "cpu":
                xb, yb = xb.to(dev), yb.to(dev)
            self.opt.zero_grad()
            loss = self.criterion(self.model(xb.reshape(xb.shape[0], -1)), yb)
            loss.backward()
            self.opt.step()
            yield


def torch_loader(images, labels, shuffle=True, batch=EPOCH_BATCH, seed=0):
    import torch
    from torch.utils.data import DataLoader, TensorDataset
    ds = TensorDataset(torch.from_numpy(images), torch.from_numpy(labels))
    return DataLoader(ds, batch_size=batch, shuffle=shuffle, generator=torch.Generator().manual_seed(seed))


def minigrad_fmnist_loader(root=FMNIST_ROOT, shuffle=True, batch=EPOCH_BATCH, seed=0):
    """The tutorial pipeline: datasets.FashionMNIST with per-sample ToTensor + Normalize."""
    import minigrad as mg
    from minigrad import transforms as T
    mg.manual_seed(seed)
    tf = T.Compose([T.ToTensor(), T.Normalize((FMNIST_MEAN,), (FMNIST_STD,))])
    ds = mg.datasets.FashionMNIST(root, train=True, transform=tf, download=False)
    return mg.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle)


def minigrad_tensor_loader(images, labels, shuffle=True, batch=EPOCH_BATCH, seed=0):
    """Same shape of pipeline as torch's: a TensorDataset over the pre-normalised arrays."""
    import minigrad as mg
    mg.manual_seed(seed)
    ds = mg.utils.data.TensorDataset(mg.from_numpy(images), mg.from_numpy(labels))
    return mg.utils.data.DataLoader(ds, batch_size=batch, shuffle=shuffle)


def check_epoch_data(images, labels, root=FMNIST_ROOT):
    """The loaders must feed identical data: the first unshuffled batch of every pipeline
    equals the NumPy arrays, and every loader has ceil(N / batch) batches."""
    ref_x = images[:EPOCH_BATCH]
    ref_y = labels[:EPOCH_BATCH]
    n_batches = math.ceil(len(images) / EPOCH_BATCH)
    makers = {
        "torch": lambda: torch_loader(images, labels, shuffle=False),
        "minigrad": lambda: minigrad_fmnist_loader(root, shuffle=False),
        "minigrad[TensorDataset]": lambda: minigrad_tensor_loader(images, labels, shuffle=False),
    }
    result = {}
    for name, make in makers.items():
        try:
            loader = make()
            xb, yb = next(iter(loader))
            xb = np.asarray(xb.detach().cpu().numpy()).reshape(ref_x.shape)
            yb = np.asarray(yb.detach().cpu().numpy())
        except ImportError as e:
            result[name] = {"skipped": f"{type(e).__name__}: {e}"}
            continue
        except Exception as e:
            result[name] = {"passed": False, "error": f"{type(e).__name__}: {e}"}
            continue
        diff = float(np.max(np.abs(xb - ref_x)))
        ok = (np.allclose(xb, ref_x, rtol=RTOL, atol=ATOL_REL) and np.array_equal(yb, ref_y)
              and len(loader) == n_batches)
        result[name] = {"passed": bool(ok), "max_abs_diff": diff, "batches": len(loader)}
    return result


# --------------------------------------------------------------------------- op-level

class NumpyTiny(NumpyContender):
    """s = sum(relu(a*b + b) * a) and its gradients, by hand."""

    def __init__(self, a, b):
        self.a, self.b = a.copy(), b.copy()

    def run(self):
        a, b = self.a, self.b
        u = a * b + b
        mask = u > 0
        r = u * mask
        self.s = (r * a).sum()
        gu = a * mask
        self.ga = r + gu * b
        self.gb = gu * (a + 1)

    def snapshot(self):
        return {"out": np.float32(self.s), "grad_a": self.ga, "grad_b": self.gb}


class FrameworkTiny(FrameworkContender):
    def __init__(self, fw, a, b):
        super().__init__(fw)
        self.a, self.b = fw.tensor(a, True), fw.tensor(b, True)

    def run(self):
        a, b = self.a, self.b
        a.grad = None
        b.grad = None
        s = ((a * b + b).relu() * a).sum()
        s.backward()
        self.s = s

    def snapshot(self):
        return {"out": np.float32(self.s.item()), "grad_a": self.fw.numpy(self.a.grad),
                "grad_b": self.fw.numpy(self.b.grad)}


class NumpyMatmul(NumpyContender):
    """c = a @ b, s = c.sum(); grad_a = 1 @ b.T, grad_b = a.T @ 1 into preallocated buffers."""

    def __init__(self, a, b):
        self.a, self.b = a.copy(), b.copy()
        n, m = a.shape[0], b.shape[1]
        self.c = np.empty((n, m), np.float32)
        self.ones = np.ones((n, m), np.float32)
        self.ga, self.gb = np.empty_like(a), np.empty_like(b)

    def run(self):
        np.matmul(self.a, self.b, out=self.c)
        self.s = self.c.sum()
        np.matmul(self.ones, self.b.T, out=self.ga)
        np.matmul(self.a.T, self.ones, out=self.gb)

    def snapshot(self):
        return {"out": self.c.copy(), "grad_a": self.ga.copy(), "grad_b": self.gb.copy()}


class FrameworkMatmul(FrameworkContender):
    def __init__(self, fw, a, b):
        super().__init__(fw)
        self.a, self.b = fw.tensor(a, True), fw.tensor(b, True)

    def run(self):
        self.a.grad = None
        self.b.grad = None
        (self.a @ self.b).sum().backward()

    def snapshot(self):
        with self.fw.lib.no_grad():
            c = self.a @ self.b
        return {"out": self.fw.numpy(c), "grad_a": self.fw.numpy(self.a.grad),
                "grad_b": self.fw.numpy(self.b.grad)}


class NumpyCrossEntropy(NumpyContender):
    def __init__(self, logits, y):
        self.logits, self.y = logits.copy(), y.copy()
        n = len(logits)
        self.grad = np.empty_like(logits)
        self.rowmax = np.empty((n, 1), np.float32)
        self.rowsum = np.empty((n, 1), np.float32)
        self.rows = np.arange(n)

    def run(self):
        self.loss, _ = softmax_cross_entropy(self.logits, self.y, self.grad, self.rowmax, self.rowsum, self.rows)

    def snapshot(self):
        return {"out": np.float32(self.loss), "grad": self.grad.copy()}


class FrameworkCrossEntropy(FrameworkContender):
    def __init__(self, fw, logits, y):
        super().__init__(fw)
        self.logits, self.y = fw.tensor(logits, True), fw.tensor(y)
        self.f = fw.lib.nn.functional

    def run(self):
        self.logits.grad = None
        loss = self.f.cross_entropy(self.logits, self.y)
        loss.backward()
        self.loss = loss

    def snapshot(self):
        return {"out": np.float32(self.loss.item()), "grad": self.fw.numpy(self.logits.grad)}


# --------------------------------------------------------------------------- workloads

@dataclass
class Workload:
    key: str                       # unique id, e.g. "step/784-100-10/b64"
    group: str                     # "step" | "epoch" | "ops"
    title: str                     # what one iteration is, for the table
    unit: str                      # "step" | "epoch" | "iter"
    factories: dict                # contender label -> () -> Contender (all on the same data)
    check: Optional[Callable] = None   # () -> check dict; default compares snapshots
    check_steps: int = 2           # iterations the snapshot check runs (2 exercises momentum)
    fixed_iters: Optional[int] = None  # iterations per block when calibration makes no sense
    warmup_iters: Optional[int] = None  # passed to Contender.warmup (epoch: batches)
    meta: dict = field(default_factory=dict)


class ReferenceKernels(Contender):
    """A minigrad CPU contender run on the NumPy reference kernels instead of the numba twins: the kernel
    table is swapped in around each call, so both kernel sets race in one process, interleaved."""

    def __init__(self, inner: Contender):
        self.inner = inner
        self.label, self.framework, self.device = "minigrad[reference]", inner.framework, inner.device

    def _swapped(self, method, *args):
        from minigrad import backend
        from minigrad.kernels import reference
        tables = backend._kernel_tables
        saved = tables.get(np)
        tables[np] = reference
        try:
            return method(*args)
        finally:
            if saved is None:
                del tables[np]
            else:
                tables[np] = saved

    def run(self):
        self._swapped(self.inner.run)

    def warmup(self, n):
        self._swapped(self.inner.warmup, n)

    def sync(self):
        self.inner.sync()

    def snapshot(self):
        return self.inner.snapshot()


def add_reference_kernels(workloads) -> list:
    """Give each workload with a CPU minigrad contender a minigrad[reference] twin of it (run.py --kernels-ab)."""
    for wl in workloads:
        make = wl.factories.get("minigrad")
        if make is not None:
            wl.factories["minigrad[reference]"] = lambda make=make: ReferenceKernels(make())
    return workloads


def _frameworks(devices):
    """(framework name, device) pairs in contender order: torch before minigrad per device."""
    return [(name, dev) for dev in devices for name in ("torch", "minigrad")]


def _label(name, dev):
    return name if dev == "cpu" else f"{name}-{dev}"


def step_workloads(devices, batch_sizes=BATCH_SIZES, seed=0):
    out = []
    for sizes in (BIG_MLP, SMALL_MLP):
        weights = init_weights(sizes, seed)
        arch = "-".join(map(str, sizes))
        for batch in batch_sizes:
            rng = np.random.default_rng(seed + batch)
            x = rng.standard_normal((batch, sizes[0])).astype(np.float32)
            y = rng.integers(0, sizes[-1], batch).astype(np.int64)
            f = {"numpy": lambda w=weights, x=x, y=y, s=sizes: NumpyStep(s, w, x, y)}
            for name, dev in _frameworks(devices):
                f[_label(name, dev)] = (lambda n=name, d=dev, w=weights, x=x, y=y, s=sizes:
                                        FrameworkStep(Framework(n, d), s, w, x, y))
            out.append(Workload(f"step/{arch}/b{batch}", "step", f"train step MLP {arch}, batch {batch}",
                                "step", f, meta={"sizes": list(sizes), "batch": batch}))
    return out


def epoch_workloads(devices, max_batches=None, root=FMNIST_ROOT, seed=0, tensor_dataset_variant=True):
    images, labels = fashion_mnist_arrays(root)
    weights = init_weights(BIG_MLP, seed)
    arch = "-".join(map(str, BIG_MLP))
    total = math.ceil(len(images) / EPOCH_BATCH)
    f = {"numpy": lambda: NumpyEpoch(BIG_MLP, weights, images, labels, EPOCH_BATCH, max_batches, seed)}
    for name, dev in _frameworks(devices):
        fw = lambda n=name, d=dev: Framework(n, d)  # noqa: E731
        if name == "torch":
            f[_label(name, dev)] = lambda fw=fw: FrameworkEpoch(
                fw(), BIG_MLP, weights, lambda: torch_loader(images, labels, seed=seed), max_batches)
        else:
            f[_label(name, dev)] = lambda fw=fw: FrameworkEpoch(
                fw(), BIG_MLP, weights, lambda: minigrad_fmnist_loader(root, seed=seed), max_batches)
            if tensor_dataset_variant and dev == "cpu":
                f["minigrad[TensorDataset]"] = lambda fw=fw: FrameworkEpoch(
                    fw(), BIG_MLP, weights, lambda: minigrad_tensor_loader(images, labels, seed=seed),
                    max_batches, label="minigrad[TensorDataset]")
    n = total if max_batches is None else min(max_batches, total)
    what = "full epoch" if n == total else f"partial epoch ({n} of {total} batches)"
    return [Workload("epoch/fashion-mnist/b64", "epoch",
                     f"Fashion-MNIST {what}, MLP {arch}, batch {EPOCH_BATCH}, shuffled, incl. data loading",
                     "epoch", f, check=lambda: check_epoch_data(images, labels, root),
                     fixed_iters=1, warmup_iters=20,
                     meta={"samples": len(images), "batches": n, "batches_per_epoch": total})]


def ops_workloads(devices, seed=0):
    rng = np.random.default_rng(seed)
    out = []

    a4, b4 = (rng.standard_normal((4, 4)).astype(np.float32) for _ in range(2))
    f = {"numpy": lambda: NumpyTiny(a4, b4)}
    for name, dev in _frameworks(devices):
        f[_label(name, dev)] = lambda n=name, d=dev: FrameworkTiny(Framework(n, d), a4, b4)
    out.append(Workload("ops/tiny-graph", "ops", "fwd+bwd sum(relu(a*b+b)*a), a, b 4x4",
                        "iter", f))

    am, bm = (rng.standard_normal((1024, 1024)).astype(np.float32) for _ in range(2))
    f = {"numpy": lambda: NumpyMatmul(am, bm)}
    for name, dev in _frameworks(devices):
        f[_label(name, dev)] = lambda n=name, d=dev: FrameworkMatmul(Framework(n, d), am, bm)
    out.append(Workload("ops/matmul-1024", "ops", "fwd+bwd (a @ b).sum(), 1024x1024 @ 1024x1024",
                        "iter", f, check_steps=1))

    logits = (2 * rng.standard_normal((4096, 1000))).astype(np.float32)
    y = rng.integers(0, 1000, 4096).astype(np.int64)
    f = {"numpy": lambda: NumpyCrossEntropy(logits, y)}
    for name, dev in _frameworks(devices):
        f[_label(name, dev)] = lambda n=name, d=dev: FrameworkCrossEntropy(Framework(n, d), logits, y)
    out.append(Workload("ops/cross-entropy-4096x1000", "ops", "fwd+bwd cross_entropy, 4096x1000 logits",
                        "iter", f, check_steps=1))
    return out


def compare(snap: dict, ref: dict) -> dict:
    """allclose every entry of a snapshot against the NumPy reference's."""
    worst_key, worst, ok = None, 0.0, True
    for key, r in ref.items():
        a = np.asarray(snap[key], dtype=np.float64)
        r = np.asarray(r, dtype=np.float64)
        if a.shape != r.shape:
            return {"passed": False, "error": f"{key}: shape {a.shape} != {r.shape}"}
        scale = float(np.max(np.abs(r))) if r.size else 0.0
        diff = float(np.max(np.abs(a - r))) if r.size else 0.0
        close = np.allclose(a, r, rtol=RTOL, atol=ATOL_REL * max(scale, 1e-30))
        ok &= bool(close)
        if diff >= worst:
            worst, worst_key = diff, key
    return {"passed": ok, "max_abs_diff": worst, "worst": worst_key}


def check_against_torch(make, devices, steps: int) -> dict:
    """Per device, the contender ``make(framework)`` builds for minigrad against the one for torch, compared after
    each of ``steps`` steps: the first failing step's comparison, else the one with the largest difference."""
    result = {}
    for dev in devices:
        ref, mine = make(Framework("torch", dev)), make(Framework("minigrad", dev))
        rs = []
        for step in range(1, steps + 1):
            ref.run()
            mine.run()
            rs.append(dict(compare(mine.snapshot(), ref.snapshot()), step=step))
        failed = [r for r in rs if not r["passed"]]
        result[_label("minigrad", dev)] = failed[0] if failed else max(rs, key=lambda r: r["max_abs_diff"])
    return result


def snapshot_check(workload: Workload) -> dict:
    """Fresh contenders from the same state run `check_steps` iterations; after each one every
    contender's snapshot must match the NumPy contender's. Reports, per contender, the first
    failing step, else the step with the largest difference."""
    ref = workload.factories["numpy"]()
    result, contenders, steps = {}, {}, {}
    for label, make in workload.factories.items():
        if label == "numpy":
            continue
        try:
            contenders[label] = make()
            steps[label] = []
        except ImportError as e:
            result[label] = {"skipped": f"{type(e).__name__}: {e}"}
        except Exception as e:  # the API differs from what we call: a failure, not a crash
            result[label] = {"passed": False, "error": f"setup: {type(e).__name__}: {e}"}
    for step in range(1, workload.check_steps + 1):
        ref.run()
        want = ref.snapshot()
        for label, c in contenders.items():
            try:
                c.run()
                c.sync()
                r = compare(c.snapshot(), want)
            except Exception as e:
                r = {"passed": False, "error": f"{type(e).__name__}: {e}"}
            steps[label].append(dict(r, step=step))
    for label, rs in steps.items():
        failed = [r for r in rs if not r["passed"]]
        result[label] = failed[0] if failed else max(rs, key=lambda r: r["max_abs_diff"])
    return result


def profile_steps(contender: Contender, steps: int, top: int, title: str) -> None:
    """Where a contender's step goes: cProfile's own time per function over ``steps`` steps, after warm-up."""
    import cProfile
    import pstats
    contender.warmup(3)
    prof = cProfile.Profile()
    prof.enable()
    for _ in range(steps):
        contender.run()
    contender.sync()
    prof.disable()
    print(f"{title} (cProfile; times include its overhead)")
    pstats.Stats(prof).sort_stats("tottime").print_stats(top)
