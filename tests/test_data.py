"""minigrad.utils.data checked against torch.utils.data: lengths, batches, collate, shuffling, fast path."""
import collections
import gzip
import struct

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import minigrad
from minigrad import transforms as T
from minigrad.datasets import MNIST
from minigrad.utils.data import DataLoader, Dataset, Subset, TensorDataset, default_collate, random_split

Point = collections.namedtuple("Point", "x y")


def plain(batch):
    """A batch from either library as nested Python/NumPy values, with tensors as (dtype name, array)."""
    if isinstance(batch, (minigrad.Tensor, torch.Tensor)):
        return ("tensor", str(batch.dtype).split(".")[-1], batch.numpy().tolist())
    if isinstance(batch, dict):
        return {k: plain(v) for k, v in batch.items()}
    if isinstance(batch, (list, tuple)):
        return (type(batch).__name__, [plain(v) for v in batch])
    return batch


def to_torch(sample):
    """The same sample with minigrad tensors replaced by torch tensors."""
    if isinstance(sample, minigrad.Tensor):
        return torch.from_numpy(sample.numpy().copy())
    if isinstance(sample, dict):
        return {k: to_torch(v) for k, v in sample.items()}
    if isinstance(sample, tuple) and hasattr(sample, "_fields"):
        return type(sample)(*map(to_torch, sample))
    if isinstance(sample, (list, tuple)):
        return type(sample)(map(to_torch, sample))
    return sample


@pytest.mark.parametrize("n", [1, 5, 63, 64, 65, 128, 1000])
@pytest.mark.parametrize("batch_size", [1, 7, 64, 100, 2000])
@pytest.mark.parametrize("drop_last", [False, True])
def test_len_and_batch_sizes_match_torch(n, batch_size, drop_last):
    ours = DataLoader(TensorDataset(minigrad.zeros(n)), batch_size=batch_size, drop_last=drop_last)
    theirs = tud.DataLoader(tud.TensorDataset(torch.zeros(n)), batch_size=batch_size, drop_last=drop_last)
    assert len(ours) == len(theirs)
    assert [b[0].shape[0] for b in ours] == [b[0].shape[0] for b in theirs]


def test_batches_equal_torch_without_shuffle():
    x = np.random.default_rng(0).standard_normal((23, 3, 4)).astype(np.float32)
    y = np.arange(23, dtype=np.int64) % 5
    ours = DataLoader(TensorDataset(minigrad.from_numpy(x), minigrad.from_numpy(y)), batch_size=5)
    theirs = tud.DataLoader(tud.TensorDataset(torch.from_numpy(x), torch.from_numpy(y)), batch_size=5)
    # same values, dtypes and shapes, each batch a list of two tensors
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]


COLLATE_CASES = {
    "ints": [3, 1, 4],
    "floats": [0.5, 1.25, -2.0],
    "bools": [True, False, True],
    "numpy float32": [np.ones((2, 3), np.float32) * i for i in range(3)],
    "numpy uint8": [np.full((4,), i, np.uint8) for i in range(3)],
    "numpy scalars": [np.float32(1.5), np.float32(2.5)],
    "numpy int scalars": [np.int64(3), np.int64(4)],
    "tensors": [minigrad.tensor([1.0, 2.0]), minigrad.tensor([3.0, 4.0])],
    "tuples": [(np.zeros(2, np.float32), 1), (np.ones(2, np.float32), 0)],
    "lists": [[1, 2.0], [3, 4.0]],
    "dicts": [{"image": np.zeros((2, 2), np.uint8), "label": 1, "w": 0.5},
              {"image": np.ones((2, 2), np.uint8), "label": 2, "w": 1.5}],
    "nested": [({"a": (1, 2.0)}, "s1"), ({"a": (3, 4.0)}, "s2")],
    "strings": ["cat", "dog"],
    "namedtuples": [Point(1, 2.0), Point(3, 4.0)],
}


@pytest.mark.parametrize("name", list(COLLATE_CASES))
def test_default_collate_matches_torch(name):
    batch = COLLATE_CASES[name]
    assert plain(default_collate(batch)) == plain(tud.default_collate([to_torch(s) for s in batch]))


def test_default_collate_errors():
    with pytest.raises(RuntimeError, match=r"different shapes: \(2,\) at entry 0 and \(3,\) at entry 1"):
        default_collate([np.zeros(2), np.zeros(3)])
    with pytest.raises(RuntimeError, match="equal size"):
        default_collate([(1, 2), (1,)])
    with pytest.raises(TypeError, match="found object"):
        default_collate([object()])


def order_of(loader):
    return np.concatenate([b[0].numpy() for b in loader]).tolist()


def test_shuffle_reproducible_under_manual_seed_and_generator():
    loader = DataLoader(TensorDataset(minigrad.arange(100)), batch_size=8, shuffle=True)
    minigrad.manual_seed(0)
    first, second = order_of(loader), order_of(loader)
    minigrad.manual_seed(0)
    assert order_of(loader) == first and order_of(loader) == second
    assert first != second and sorted(first) == list(range(100))  # a new permutation each epoch
    minigrad.manual_seed(1)
    assert order_of(loader) != first

    def seeded(seed):
        return DataLoader(TensorDataset(minigrad.arange(100)), batch_size=8, shuffle=True,
                          generator=minigrad.Generator().manual_seed(seed))
    assert order_of(seeded(3)) == order_of(seeded(3)) != order_of(seeded(4))


class PerItem(Dataset):
    """Wraps a dataset but hides its fast path, so the loader must call __getitem__ per item."""

    def __init__(self, inner):
        self.inner = inner

    def __getitem__(self, i):
        return self.inner[i]

    def __len__(self):
        return len(self.inner)


def write_tiny_mnist(folder, n=50):
    rng = np.random.default_rng(1)
    folder.mkdir(parents=True, exist_ok=True)
    with gzip.open(folder / "t10k-images-idx3-ubyte.gz", "wb") as f:
        f.write(struct.pack(">IIII", 2051, n, 28, 28) + rng.integers(0, 256, n * 784, dtype=np.uint8).tobytes())
    with gzip.open(folder / "t10k-labels-idx1-ubyte.gz", "wb") as f:
        f.write(struct.pack(">II", 2049, n) + rng.integers(0, 10, n, dtype=np.uint8).tobytes())


@pytest.mark.parametrize("kind", ["tensors", "mnist raw", "mnist normalized", "subset of mnist"])
def test_fast_path_gives_the_same_batches_as_per_item(tmp_path, kind):
    if kind == "tensors":
        ds = TensorDataset(minigrad.randn(50, 3), minigrad.arange(50), minigrad.zeros(50, 2, dtype=minigrad.uint8))
    else:
        write_tiny_mnist(tmp_path / "MNIST" / "raw")
        tf = None if kind == "mnist raw" else T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
        ds = MNIST(tmp_path, train=False, transform=tf)
        if kind == "subset of mnist":
            ds = random_split(ds, [0.6, 0.4], generator=minigrad.Generator().manual_seed(0))[1]
    assert ds.get_batch(np.arange(3)) is not None
    fast = DataLoader(ds, batch_size=16, shuffle=True, generator=minigrad.Generator().manual_seed(5))
    slow = DataLoader(PerItem(ds), batch_size=16, shuffle=True, generator=minigrad.Generator().manual_seed(5))
    assert plain(list(fast)) == plain(list(slow))


def test_unbatchable_transform_uses_per_item_path(tmp_path):
    write_tiny_mnist(tmp_path)
    calls = []
    ds = MNIST(tmp_path, train=False, transform=T.Compose([T.ToTensor(), T.Lambda(lambda x: calls.append(1) or x)]))
    assert ds.get_batch(np.arange(4)) is None
    images, targets = next(iter(DataLoader(ds, batch_size=4)))
    assert tuple(images.shape) == (4, 1, 28, 28) and targets.dtype == minigrad.int64 and len(calls) == 4


def test_custom_collate_fn_receives_samples():
    ds = TensorDataset(minigrad.arange(6))
    batches = list(DataLoader(ds, batch_size=4, collate_fn=lambda samples: len(samples)))
    assert batches == [4, 2]


@pytest.mark.filterwarnings("ignore:Length of split at index 2 is 0")
@pytest.mark.parametrize("lengths", [[7, 10], [0.3, 0.7], [0.33, 0.33, 0.34], [0.5, 0.5, 0.0], [0.1] * 10])
def test_random_split_matches_torch_sizes(lengths):
    n = 17
    ours = random_split(TensorDataset(minigrad.arange(n)), lengths, generator=minigrad.Generator().manual_seed(0))
    theirs = tud.random_split(range(n), lengths)
    assert [len(s) for s in ours] == [len(s) for s in theirs]
    items = sorted(int(s[i][0].item()) for s in ours for i in range(len(s)))
    assert items == list(range(n))  # disjoint and covering


def test_random_split_reproducible_and_validated():
    ds = TensorDataset(minigrad.arange(10))
    a = random_split(ds, [5, 5], generator=minigrad.Generator().manual_seed(1))
    b = random_split(ds, [5, 5], generator=minigrad.Generator().manual_seed(1))
    assert [s.indices for s in a] == [s.indices for s in b]
    with pytest.raises(ValueError, match=r"Sum of input lengths \(9\).*\(10\)"):
        random_split(ds, [4, 5])
    with pytest.raises(ValueError, match="fraction at index 0 is 1.5"):
        random_split(ds, [1.5, -0.5])


def test_subset_and_tensor_dataset_errors():
    ds = TensorDataset(minigrad.arange(10) * 2)
    sub = Subset(ds, [9, 0, 4])
    assert len(sub) == 3 and sub[0][0].item() == 18
    assert plain(sub.get_batch(np.array([2, 0]))) == plain([minigrad.tensor([8, 18])])
    with pytest.raises(ValueError, match=r"Size mismatch.*\[3, 4\]"):
        TensorDataset(minigrad.zeros(3), minigrad.zeros(4))
    with pytest.raises(ValueError, match="positive integer.*batch_size=0"):
        DataLoader(ds, batch_size=0)


def test_loader_moves_batches_to_device(device):
    ds = TensorDataset(minigrad.randn(10, 2), minigrad.arange(10))
    for kind in ("fast", "per item"):
        loader = DataLoader(ds if kind == "fast" else PerItem(ds), batch_size=4, device=device)
        x, y = next(iter(loader))
        assert x.device == minigrad.device(device) and y.device == minigrad.device(device)
        np.testing.assert_array_equal(x.numpy(), ds.tensors[0].numpy()[:4])
    dict_loader = DataLoader([{"a": np.zeros(2)}] * 3, batch_size=2, device=device)
    assert next(iter(dict_loader))["a"].device == minigrad.device(device)
