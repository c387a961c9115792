"""minigrad.utils.data checked against torch.utils.data: lengths, batches, collate, shuffling, fast path."""
import collections
import gzip
import itertools
import os
import random
import struct
import time

import numpy as np
import pytest
import torch
import torch.utils.data as tud

import minigrad
from minigrad import transforms as T
from minigrad.datasets import MNIST
from minigrad.utils.data import (
    BatchSampler,
    DataLoader,
    Dataset,
    RandomSampler,
    SequentialSampler,
    Subset,
    SubsetRandomSampler,
    TensorDataset,
    WeightedRandomSampler,
    default_collate,
    get_worker_info,
    random_split,
)

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


# ---------------------------------------------------------------------------------------------- samplers
def test_sequential_and_batch_samplers_match_torch():
    for n in (0, 1, 7, 10):
        assert list(SequentialSampler(range(n))) == list(tud.SequentialSampler(range(n)))
        assert len(SequentialSampler(range(n))) == n
        for batch_size in (1, 3, 10, 11):
            for drop_last in (False, True):
                ours = BatchSampler(SequentialSampler(range(n)), batch_size, drop_last)
                theirs = tud.BatchSampler(tud.SequentialSampler(range(n)), batch_size, drop_last)
                assert list(ours) == list(theirs) and len(ours) == len(theirs)
    assert list(BatchSampler([5, 3, 9, 1], 3, False)) == [[5, 3, 9], [1]]  # any iterable of indices


SAMPLER_ERRORS = [  # (constructor name, args, kwargs): torch's exception type and message
    ("BatchSampler", ([1, 2], 0, False), {}), ("BatchSampler", ([1, 2], -1, False), {}),
    ("BatchSampler", ([1, 2], True, False), {}), ("BatchSampler", ([1, 2], 2.5, False), {}),
    ("BatchSampler", ([1, 2], 2, "yes"), {}),
    ("RandomSampler", (range(3),), {"replacement": "yes"}), ("RandomSampler", (range(3),), {"num_samples": 0}),
    ("RandomSampler", (range(3),), {"num_samples": 1.5}), ("RandomSampler", ([],), {}),
    ("WeightedRandomSampler", ([1.0, 2.0], 0), {}), ("WeightedRandomSampler", ([1.0, 2.0], True), {}),
    ("WeightedRandomSampler", ([1.0, 2.0], 2), {"replacement": 1}),
    ("WeightedRandomSampler", ([[1.0, 2.0]], 2), {}),
]


@pytest.mark.parametrize("name,args,kwargs", SAMPLER_ERRORS)
def test_sampler_errors_match_torch(name, args, kwargs):
    with pytest.raises(Exception) as theirs:
        getattr(tud, name)(*args, **kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        getattr(minigrad.utils.data, name)(*args, **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_random_sampler_semantics():
    def drawn(**kwargs):
        return list(RandomSampler(range(10), generator=minigrad.Generator().manual_seed(1), **kwargs))
    assert sorted(drawn()) == list(range(10)) and drawn() == drawn() and drawn() != list(range(10))
    longer = drawn(num_samples=25)  # two whole permutations, then 5 distinct indices
    assert len(longer) == 25 and sorted(longer[:10]) == sorted(longer[10:20]) == list(range(10))
    assert len(set(longer[20:])) == 5
    with_replacement = drawn(replacement=True, num_samples=200)
    assert len(with_replacement) == 200 and set(with_replacement) == set(range(10))  # repeats, all values
    assert len(RandomSampler(range(10), num_samples=7)) == 7
    minigrad.manual_seed(4)  # without a generator each epoch seeds one from the default generator
    first = list(RandomSampler(range(10)))
    minigrad.manual_seed(4)
    assert list(RandomSampler(range(10))) == first


def test_subset_and_weighted_samplers():
    gen = minigrad.Generator().manual_seed(0)
    assert sorted(SubsetRandomSampler([7, 3, 11], generator=gen)) == [3, 7, 11]
    assert len(SubsetRandomSampler([7, 3, 11])) == 3
    weights = [0.0, 1.0, 3.0]
    draws = list(WeightedRandomSampler(weights, 4000, generator=gen))
    counts = np.bincount(draws, minlength=3)
    assert counts[0] == 0 and 0.70 < counts[2] / 4000 < 0.80  # 3:1, a zero weight is never drawn
    assert sorted(WeightedRandomSampler([1.0, 1.0, 5.0], 3, replacement=False, generator=gen)) == [0, 1, 2]
    assert len(WeightedRandomSampler(weights, 9)) == 9


# ---------------------------------------------------------------------------------------------- loader options
LOADER_ERRORS = [
    {"num_workers": -1}, {"timeout": -1}, {"prefetch_factor": 2}, {"num_workers": 1, "prefetch_factor": -1},
    {"persistent_workers": True}, {"sampler": [0, 1], "shuffle": True},
    {"batch_sampler": [[0, 1]], "batch_size": 2}, {"batch_sampler": [[0, 1]], "shuffle": True},
    {"batch_sampler": [[0, 1]], "sampler": [0]}, {"batch_sampler": [[0, 1]], "drop_last": True},
    {"batch_size": None, "drop_last": True}, {"batch_size": 0}, {"batch_size": -2}, {"drop_last": "no"},
    {"num_workers": 1, "multiprocessing_context": "nope"}, {"multiprocessing_context": "fork"},
    {"num_workers": 1, "multiprocessing_context": 3},
]


@pytest.mark.parametrize("kwargs", LOADER_ERRORS, ids=str)
def test_loader_option_errors_match_torch(kwargs):
    with pytest.raises(Exception) as theirs:
        tud.DataLoader(tud.TensorDataset(torch.zeros(4)), **kwargs)
    with pytest.raises(type(theirs.value)) as ours:
        DataLoader(TensorDataset(minigrad.zeros(4)), **kwargs)
    assert str(ours.value) == str(theirs.value)


def test_loader_attributes_are_fixed_after_init_as_torch():
    loader, reference = DataLoader(TensorDataset(minigrad.zeros(4))), tud.DataLoader(tud.TensorDataset(torch.zeros(4)))
    for name in ("batch_size", "sampler", "batch_sampler", "drop_last", "dataset", "persistent_workers"):
        with pytest.raises(ValueError) as theirs:
            setattr(reference, name, None)
        with pytest.raises(ValueError) as ours:
            setattr(loader, name, None)
        assert str(ours.value) == str(theirs.value)


def numbered(n=23):
    x = np.arange(n * 2, dtype=np.float32).reshape(n, 2)
    return TensorDataset(minigrad.from_numpy(x), minigrad.arange(n)), tud.TensorDataset(torch.from_numpy(x),
                                                                                        torch.arange(n))


@pytest.mark.filterwarnings("ignore:'pin_memory' argument is set as true")  # torch's, without a GPU
@pytest.mark.parametrize("kwargs", [
    {"sampler": [5, 3, 3, 0, 22]}, {"sampler": "sequential", "batch_size": 4, "drop_last": True},
    {"batch_sampler": [[1, 2], [0], [22, 21, 20]]}, {"batch_sampler": "batch"},
    {"batch_size": None}, {"batch_size": None, "sampler": [4, 2]}, {"batch_size": 5, "drop_last": True},
    {"batch_size": 4, "collate_fn": "first"}, {"batch_size": 6, "pin_memory": True},
], ids=str)
def test_sampler_options_give_torchs_batches(kwargs):
    ours_ds, torch_ds = numbered()

    def options(lib):
        out = dict(kwargs)
        if out.get("sampler") == "sequential":
            out["sampler"] = lib.utils.data.SequentialSampler(range(23))
        if out.get("batch_sampler") == "batch":
            out["batch_sampler"] = lib.utils.data.BatchSampler(range(23), 7, False)
        if out.get("collate_fn") == "first":
            out["collate_fn"] = lambda samples: samples[0]
        return out
    ours = DataLoader(ours_ds, **options(minigrad))
    theirs = tud.DataLoader(torch_ds, **options(torch))
    assert len(ours) == len(theirs)
    assert [plain(b) for b in ours] == [plain(b) for b in theirs]


def test_default_convert_matches_torch():
    samples = [np.arange(3, dtype=np.int16), {"a": np.float32(1.5), "b": [np.zeros(2), "s"]}, (1, 2.5),
               Point(np.ones(1), 3)]
    for sample in samples:
        assert plain(minigrad.utils.data.default_convert(sample)) == plain(tud.default_convert(sample))


# ---------------------------------------------------------------------------------------------- worker processes
class Probe(Dataset):
    """Each sample reports the worker that made it and draws from every random stream a worker seeds."""

    def __len__(self):
        return 12

    def __getitem__(self, i):
        info = get_worker_info()
        return {"i": i, "worker": -1 if info is None else info.id, "seed": -1 if info is None else info.seed,
                "workers": -1 if info is None else info.num_workers, "numpy": float(np.random.rand()),
                "minigrad": float(minigrad.rand(()).item()), "python": random.random(),
                "init": os.environ.get("H12_INIT", "")}


def set_init_marker(worker_id):
    os.environ["H12_INIT"] = f"init {worker_id}"  # worker_init_fn runs in the worker, before any sample


def batches(loader):
    return [plain(b) for b in loader]


@pytest.mark.parametrize("num_workers,prefetch_factor", [(1, 1), (2, 2), (3, 4)])
@pytest.mark.parametrize("kind", ["tensors", "per item", "shuffled", "drop_last", "collate_fn", "batch_sampler"])
def test_workers_give_the_same_batches_as_the_main_process(kind, num_workers, prefetch_factor):
    ds = TensorDataset(minigrad.randn(41, 3), minigrad.arange(41))
    kwargs = {"batch_size": 4}
    if kind == "per item":
        ds = PerItem(ds)
    elif kind == "shuffled":
        kwargs["shuffle"] = True
    elif kind == "drop_last":
        kwargs.update(batch_size=6, drop_last=True)
    elif kind == "collate_fn":
        kwargs["collate_fn"] = collate_sum
    elif kind == "batch_sampler":
        kwargs = {"batch_sampler": BatchSampler(RandomSampler(range(41)), 5, False)}
    minigrad.manual_seed(7)
    expected = batches(DataLoader(ds, **kwargs))
    minigrad.manual_seed(7)
    got = batches(DataLoader(ds, num_workers=num_workers, prefetch_factor=prefetch_factor, **kwargs))
    assert got == expected


def collate_sum(samples):
    return sum(float(x.sum().item()) for x, _ in samples)


PROBE_KEYS = ("i", "worker", "seed", "workers", "numpy", "minigrad", "python", "init")


def probe_samples(loader):
    """One row per sample: the Probe fields, as plain Python values."""
    rows = []
    for batch in loader:
        columns = [batch[k].tolist() if isinstance(batch[k], minigrad.Tensor) else list(batch[k]) for k in PROBE_KEYS]
        rows += [dict(zip(PROBE_KEYS, row)) for row in zip(*columns)]
    return rows


def test_workers_are_seeded_and_described_as_torch():
    assert get_worker_info() is None  # in the main process
    probe = DataLoader(Probe(), batch_size=2, num_workers=3, worker_init_fn=set_init_marker)
    minigrad.manual_seed(11)
    first = probe_samples(probe)
    minigrad.manual_seed(11)
    base_seed = int(minigrad.randint(0, 2 ** 63 - 1, ()).item())  # as torch: drawn as the iteration starts
    for row in first:
        assert row["worker"] == (row["i"] // 2) % 3 and row["workers"] == 3  # batches go round robin
        assert row["seed"] == base_seed + row["worker"] and row["init"] == f"init {row['worker']}"
    for stream in ("numpy", "minigrad", "python"):  # every stream seeded differently in each worker
        assert len({row[stream] for row in first}) == len(first)
    minigrad.manual_seed(11)
    assert probe_samples(probe) == first  # reproducible under the same seed
    minigrad.manual_seed(12)
    other = probe_samples(probe)
    assert all(a[s] != b[s] for a, b in zip(first, other) for s in ("numpy", "minigrad", "python"))


class Faulty(Dataset):
    def __init__(self, error):
        self.error = error

    def __len__(self):
        return 10

    def __getitem__(self, i):
        if i == 7:
            if self.error == "exit":
                os._exit(3)
            if self.error == "sleep":
                time.sleep(30)
            raise self.error("bad sample 7")
        return np.float32(i)


@pytest.mark.parametrize("error", [ValueError, KeyError, ZeroDivisionError])
def test_a_worker_exception_is_reraised_with_the_worker_id(error):
    loader = DataLoader(Faulty(error), batch_size=2, num_workers=2)
    iterator = iter(loader)
    assert [b.tolist() for b in itertools.islice(iterator, 3)] == [[0.0, 1.0], [2.0, 3.0], [4.0, 5.0]]
    with pytest.raises(error) as info:
        next(iterator)
    message = str(info.value.args[0])
    assert f"Caught {error.__name__} in DataLoader worker process 1." in message  # batch 3 went to worker 1
    assert "Original Traceback (most recent call last)" in message and "bad sample 7" in message
    assert iterator.workers == []  # shut down


def failing_init(worker_id):
    raise RuntimeError(f"init failed in {worker_id}")


def test_worker_init_fn_errors_dead_workers_and_timeouts_are_reported():
    with pytest.raises(RuntimeError, match="(?s)Caught RuntimeError in DataLoader worker process 0.*init failed in 0"):
        next(iter(DataLoader(Faulty(ValueError), num_workers=1, worker_init_fn=failing_init)))
    with pytest.raises(RuntimeError, match=r"DataLoader worker \(pid\(s\) \d+\) exited unexpectedly"):
        list(DataLoader(Faulty("exit"), batch_size=2, num_workers=1))
    loader = DataLoader(Faulty("sleep"), batch_size=2, num_workers=1, timeout=0.5)
    iterator = iter(loader)
    with pytest.raises(RuntimeError, match=r"DataLoader timed out after 0.5 seconds"):
        list(iterator)
    assert iterator.workers == []


def test_workers_stop_when_done_abandoned_or_persistent():
    ds = TensorDataset(minigrad.arange(20))
    iterator = iter(DataLoader(ds, batch_size=3, num_workers=2))
    processes = list(iterator.workers)
    assert len(list(iterator)) == 7
    assert iterator.workers == [] and not any(p.is_alive() for p in processes)  # exhausted: shut down
    iterator = iter(DataLoader(ds, batch_size=3, num_workers=2))
    next(iterator)
    processes = list(iterator.workers)
    del iterator  # abandoned mid-epoch
    assert not any(p.is_alive() for p in processes)

    loader = DataLoader(ds, batch_size=3, num_workers=2, persistent_workers=True)
    expected = batches(DataLoader(ds, batch_size=3))
    first = iter(loader)
    pids = [p.pid for p in first.workers]
    assert batches(first) == expected
    partial = iter(loader)
    next(partial)  # an epoch abandoned with batches in flight, then a whole one on the same workers
    again = iter(loader)
    assert batches(again) == expected and [p.pid for p in again.workers] == pids
    processes = list(again.workers)
    again.shutdown()
    assert not any(p.is_alive() for p in processes)


@pytest.mark.parametrize("options", [{}, {"replacement": True, "num_samples": 30}, {"num_samples": 50}])
@pytest.mark.parametrize("drop_last", [False, True])
def test_the_loaders_array_batching_equals_batch_sampler_lists(options, drop_last):
    ds = TensorDataset(minigrad.arange(23))
    minigrad.manual_seed(5)  # the loader cuts its own BatchSampler's batches from one array of indices
    fast = batches(DataLoader(ds, batch_size=4, drop_last=drop_last, sampler=RandomSampler(ds, **options)))
    minigrad.manual_seed(5)
    lists = BatchSampler(RandomSampler(ds, **options), 4, drop_last)
    assert batches(DataLoader(ds, batch_sampler=lists)) == fast
