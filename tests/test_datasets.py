"""IDX reader, MNIST/FashionMNIST folders and downloads (network simulated), and transforms."""
import gzip
import hashlib
import io
import struct
import tracemalloc
import urllib.error
import zlib
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad import transforms as T
from minigrad.datasets import MNIST, DatasetNotFoundError, FashionMNIST, IDXFormatError, read_idx
from minigrad.datasets import mnist as mnist_module
from minigrad.datasets.idx import read_idx_pair

SHARED_MNIST = Path(__file__).resolve().parents[2] / "shared/data/mnist"
DEBIAN_FASHION = Path("/usr/share/datasets/fashion-mnist")


def idx_bytes(magic, dims, payload=None):
    """Hand-built IDX: big-endian magic and dims, then the payload (zeros sized from dims by default)."""
    if payload is None:
        payload = bytes(int(np.prod(dims)))
    return struct.pack(">I", magic) + struct.pack(f">{len(dims)}I", *dims) + payload


def write_split(folder, split="t10k", n=5, n_labels=None, gz=True, seed=0):
    """Write a tiny images/labels pair; returns (images, labels) as written."""
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    images = rng.integers(0, 256, size=(n, 28, 28), dtype=np.uint8)
    labels = rng.integers(0, 10, size=n_labels or n, dtype=np.uint8)
    ext, opener = (".gz", gzip.open) if gz else ("", open)
    with opener(folder / f"{split}-images-idx3-ubyte{ext}", "wb") as f:
        f.write(idx_bytes(2051, images.shape, images.tobytes()))
    with opener(folder / f"{split}-labels-idx1-ubyte{ext}", "wb") as f:
        f.write(idx_bytes(2049, labels.shape, labels.tobytes()))
    return images, labels


def files_under(root):
    return sorted(p.relative_to(root).as_posix() for p in Path(root).rglob("*") if p.is_file())


# ---- IDX reader ---------------------------------------------------------------------------------

@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_images_and_labels(tmp_path, gz):
    images, labels = write_split(tmp_path, n=7, gz=gz)
    ext = ".gz" if gz else ""
    got_images = read_idx(tmp_path / f"t10k-images-idx3-ubyte{ext}", 2051)
    got_labels = read_idx(tmp_path / f"t10k-labels-idx1-ubyte{ext}", 2049)
    assert got_images.dtype == np.uint8 and got_images.shape == (7, 28, 28)
    np.testing.assert_array_equal(got_images, images)
    np.testing.assert_array_equal(got_labels, labels)
    got_images[0, 0, 0] = 1  # arrays are ordinary writable copies, not views of immutable bytes


def test_read_idx_big_endian_types(tmp_path):
    values = np.array([[1.5, -2.0], [3.25, 4.0]], dtype=">f4")
    (tmp_path / "f.idx").write_bytes(idx_bytes(0x0D02, (2, 2), values.tobytes()))
    got = read_idx(tmp_path / "f.idx")
    assert got.dtype == np.float32 and got.dtype.isnative
    np.testing.assert_array_equal(got, values.astype(np.float32))


BAD_FILES = [  # (bytes, expected magic, fragments the error message must contain)
    (idx_bytes(2049, (5,)), 2051, ["bad magic number 2049", "expected 2051"]),
    (idx_bytes(2051, (5,)), 2049, ["bad magic number 2051", "expected 2049"]),
    (b"\x00\x00", None, ["too short", "2 bytes"]),
    (b"\x01\x02\x08\x01" + bytes(8), None, ["bad magic number"]),
    (b"\x00\x00\x07\x01" + bytes(8), None, ["bad magic number", "type code"]),
    (idx_bytes(2051, (2, 28, 28))[:-10], 2051, ["truncated", "(2, 28, 28)", "1584 bytes", "1574"]),
    (idx_bytes(2051, (2, 28, 28)) + b"xx", 2051, ["trailing bytes", "1584", "1586"]),
    (idx_bytes(2051, (2, 28, 28))[:10], 2051, ["truncated header", "16 bytes", "has 10"]),
    (idx_bytes(2049, (4,))[:-1], 2049, ["truncated", "(4,)", "12 bytes", "has 11"]),
]


@pytest.mark.parametrize("gz", [False, True])
@pytest.mark.parametrize("data,magic,fragments", BAD_FILES)
def test_read_idx_rejects_malformed_files(tmp_path, data, magic, fragments, gz):
    path = tmp_path / ("bad.idx.gz" if gz else "bad.idx")
    path.write_bytes(gzip.compress(data) if gz else data)
    with pytest.raises(IDXFormatError) as info:
        read_idx(path, magic)
    for fragment in [str(path), *fragments]:
        assert fragment in str(info.value)


def test_read_idx_truncated_gzip(tmp_path):
    path = tmp_path / "cut.gz"
    path.write_bytes(gzip.compress(idx_bytes(2049, (100,)))[:-12])
    with pytest.raises(IDXFormatError, match="cut.gz.*truncated gzip"):
        read_idx(path, 2049)


def test_read_idx_accepts_multi_member_gzip(tmp_path):
    labels = np.arange(300, dtype=np.uint8) % 10
    data = idx_bytes(2049, labels.shape, labels.tobytes())
    path = tmp_path / "multi.gz"  # what `cat a.gz b.gz` or a parallel gzip writes: valid gzip, several members
    path.write_bytes(gzip.compress(data[:7]) + gzip.compress(data[7:200]) + gzip.compress(data[200:]))
    np.testing.assert_array_equal(read_idx(path, 2049), labels)


def test_read_idx_checks_the_header_before_inflating_a_bomb(tmp_path):
    bomb = tmp_path / "bomb.gz"  # 5 labels, then 256 MB of zeros squeezed into ~250 kB
    compressor = zlib.compressobj(9, zlib.DEFLATED, 31)
    parts = [compressor.compress(idx_bytes(2049, (5,)))]
    parts += [compressor.compress(bytes(1 << 20)) for _ in range(256)]
    bomb.write_bytes(b"".join(parts) + compressor.flush())
    tracemalloc.start()
    try:
        with pytest.raises(IDXFormatError, match=r"bomb.gz: has trailing bytes.*\(5,\).*at least 1048589"):
            read_idx(bomb, 2049)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert peak < 16 << 20, f"read {peak} bytes of a bomb"  # the old reader inflated all 256 MB


@pytest.mark.parametrize("gz", [False, True])
def test_read_idx_huge_header_is_a_clear_error_not_an_overflow(tmp_path, gz):
    data = idx_bytes(0x0E02, (2 ** 31, 2 ** 31), payload=bytes(64))  # float64: 2**65 bytes
    path = tmp_path / ("huge.gz" if gz else "huge")
    path.write_bytes(gzip.compress(data) if gz else data)
    message = (r"huge(\.gz)?: truncated: dimensions \(2147483648, 2147483648\) of float64 "
               r"need 36893488147419103244 bytes")
    with pytest.raises(IDXFormatError, match=message + r".*(file has 76|more than a \d+-byte gzip file can hold)"):
        read_idx(path)


def test_read_idx_path_errors_are_the_os_errors(tmp_path, monkeypatch):
    with pytest.raises(IsADirectoryError):
        read_idx(tmp_path)
    path = tmp_path / "labels"
    path.write_bytes(idx_bytes(2049, (3,)))
    real_open = open
    monkeypatch.setattr("builtins.open", lambda file, *a, **k: (_ for _ in ()).throw(
        PermissionError(13, "Permission denied", str(file))) if str(file) == str(path) else real_open(file, *a, **k))
    with pytest.raises(PermissionError, match="labels"):  # root ignores chmod, so the refusal is simulated
        read_idx(path)


def test_mismatched_image_and_label_counts(tmp_path):
    write_split(tmp_path, n=5, n_labels=4)
    with pytest.raises(IDXFormatError, match=r"mismatched counts.*5 images.*4 labels") as info:
        read_idx_pair(tmp_path / "t10k-images-idx3-ubyte.gz", tmp_path / "t10k-labels-idx1-ubyte.gz")
    assert "t10k-labels-idx1-ubyte.gz" in str(info.value)
    with pytest.raises(IDXFormatError, match="mismatched counts"):
        MNIST(tmp_path, train=False)


# ---- folders -----------------------------------------------------------------------------------

@pytest.mark.parametrize("layout", ["torchvision", "flat", "flat-raw"])
def test_mnist_layouts(tmp_path, layout):
    folder = tmp_path / "MNIST" / "raw" if layout == "torchvision" else tmp_path
    images, labels = write_split(folder, n=6, gz=layout != "flat-raw")
    ds = MNIST(tmp_path, train=False)
    assert len(ds) == 6 and ds.data.dtype == minigrad.uint8 and ds.targets.dtype == minigrad.int64
    assert tuple(ds.data.shape) == (6, 28, 28)
    np.testing.assert_array_equal(ds.data.numpy(), images)
    img, target = ds[3]
    assert isinstance(target, int) and target == labels[3]
    assert img.dtype == minigrad.uint8 and tuple(img.shape) == (28, 28)
    assert ds.classes[0] == "0 - zero" and ds.class_to_idx["9 - nine"] == 9


def test_env_var_sets_default_root(tmp_path, monkeypatch):
    write_split(tmp_path / "FashionMNIST" / "raw", split="train", n=3)
    monkeypatch.setenv("MINIGRAD_DATA", str(tmp_path))
    ds = FashionMNIST(train=True)
    assert len(ds) == 3 and ds.root == tmp_path
    assert ds.classes[1] == "Trouser"


def test_not_found_message_lists_folders_and_fix(tmp_path):
    with pytest.raises(DatasetNotFoundError) as info:
        MNIST(tmp_path, train=True)
    msg = str(info.value)
    for fragment in ["MNIST training set not found", str(tmp_path / "MNIST" / "raw"), "download=True",
                     "https://ossci-datasets.s3.amazonaws.com/mnist/train-images-idx3-ubyte.gz",
                     "http://yann.lecun.com/exdb/mnist/train-images-idx3-ubyte.gz", "MINIGRAD_DATA"]:
        assert fragment in msg
    assert isinstance(info.value, RuntimeError)
    assert files_under(tmp_path) == []


# ---- downloads (network simulated) -------------------------------------------------------------

class TinyMNIST(MNIST):
    mirrors = ("http://mirror-a/", "http://mirror-b/")


class FakeResponse(io.BytesIO):
    def __init__(self, data):
        super().__init__(data)
        self.headers = {"Content-Length": str(len(data))}


def tiny_payloads():
    images = np.arange(3 * 28 * 28, dtype=np.uint8).reshape(3, 28, 28)
    return {"t10k-images-idx3-ubyte.gz": gzip.compress(idx_bytes(2051, images.shape, images.tobytes())),
            "t10k-labels-idx1-ubyte.gz": gzip.compress(idx_bytes(2049, (3,), bytes([7, 1, 2])))}


@pytest.fixture
def mirrors(monkeypatch):
    """Serve tiny files from fake mirrors; `state` says which URLs fail and how, and records requests."""
    payloads = tiny_payloads()
    state = {"fail": {}, "corrupt": set(), "requested": []}
    monkeypatch.setattr(TinyMNIST, "resources", tuple(
        (name, hashlib.md5(data).hexdigest()) for name, data in payloads.items()))

    def fake_urlopen(request, timeout=None):
        url = getattr(request, "full_url", request)
        state["requested"].append(url)
        if url in state["fail"]:
            raise state["fail"][url]
        data = payloads[url.rsplit("/", 1)[1]]
        return FakeResponse(data[:-1] + b"!" if url in state["corrupt"] else data)

    # patching urllib itself proves the real fetch path is exercised, with no network
    monkeypatch.setattr(urllib.request, "urlopen", fake_urlopen)
    return state


def test_download_success(tmp_path, mirrors):
    ds = TinyMNIST(tmp_path, train=False, download=True)
    assert ds.targets.numpy().tolist() == [7, 1, 2]
    assert files_under(tmp_path) == ["TinyMNIST/raw/t10k-images-idx3-ubyte.gz",
                                     "TinyMNIST/raw/t10k-labels-idx1-ubyte.gz"]
    TinyMNIST(tmp_path, train=False, download=True)  # present now: no second download
    assert len(mirrors["requested"]) == 2


def test_download_falls_back_to_next_mirror(tmp_path, mirrors):
    mirrors["fail"]["http://mirror-a/t10k-images-idx3-ubyte.gz"] = urllib.error.URLError("refused")
    mirrors["corrupt"].add("http://mirror-a/t10k-labels-idx1-ubyte.gz")
    ds = TinyMNIST(tmp_path, train=False, download=True)
    assert len(ds) == 3 and len(mirrors["requested"]) == 4
    assert not [f for f in files_under(tmp_path) if f.endswith(".part")]


def test_checksum_mismatch_leaves_cache_clean(tmp_path, mirrors):
    mirrors["corrupt"].update({"http://mirror-a/t10k-images-idx3-ubyte.gz",
                               "http://mirror-b/t10k-images-idx3-ubyte.gz"})
    with pytest.raises(DatasetNotFoundError) as info:
        TinyMNIST(tmp_path / "cache", train=False, download=True)
    assert str(info.value).count("checksum mismatch") == 2
    assert files_under(tmp_path) == [] and not (tmp_path / "cache").exists()


def test_offline_error_lists_mirrors_and_folders(tmp_path, mirrors):
    for m in TinyMNIST.mirrors:
        mirrors["fail"][m + "t10k-images-idx3-ubyte.gz"] = urllib.error.URLError("Name or service not known")
    with pytest.raises(DatasetNotFoundError) as info:
        TinyMNIST(tmp_path, train=False, download=True)
    msg = str(info.value)
    for fragment in ["http://mirror-a/t10k-images-idx3-ubyte.gz", "http://mirror-b/t10k-images-idx3-ubyte.gz",
                     "Name or service not known", str(tmp_path / "TinyMNIST" / "raw"), "root=", "MINIGRAD_DATA"]:
        assert fragment in msg
    assert files_under(tmp_path) == []


def test_interrupted_download_leaves_no_partial_file(tmp_path, monkeypatch):
    class Broken(FakeResponse):
        def read(self, n=-1):
            raise KeyboardInterrupt

    monkeypatch.setattr(mnist_module, "_fetch", lambda url: Broken(b"x"))
    with pytest.raises(KeyboardInterrupt):
        mnist_module.download_url("http://x/f.gz", tmp_path / "f.gz", "0" * 32, progress=False)
    assert files_under(tmp_path) == []


# ---- transforms --------------------------------------------------------------------------------

def test_to_tensor_and_normalize_single_and_batch():
    batch = np.random.default_rng(0).integers(0, 256, size=(4, 5, 6), dtype=np.uint8)
    tf = T.Compose([T.ToTensor(), T.Normalize((0.1307,), (0.3081,))])
    one = T.ToTensor()(minigrad.from_numpy(batch[0]))
    assert one.dtype == minigrad.float32 and tuple(one.shape) == (1, 5, 6)
    np.testing.assert_array_equal(one.numpy()[0], batch[0].astype(np.float32) / np.float32(255))
    whole = tf(minigrad.from_numpy(batch))
    assert tuple(whole.shape) == (4, 1, 5, 6) and whole.dtype == minigrad.float32
    singles = np.stack([tf(minigrad.from_numpy(b)).numpy() for b in batch])
    np.testing.assert_array_equal(whole.numpy(), singles)  # bitwise: the fast path relies on it
    expected = (batch.astype(np.float32) / 255 - np.float32(0.1307)) / np.float32(0.3081)
    np.testing.assert_allclose(whole.numpy()[:, 0], expected, rtol=1e-6)


def test_transform_batched_flags_and_errors():
    assert T.Compose([T.ToTensor(), T.Normalize(0.5, 0.5)]).batched
    assert not T.Compose([T.ToTensor(), T.Lambda(lambda x: x)]).batched
    assert T.Lambda(lambda x: x * 2, batched=True).batched and not T.Compose([lambda x: x]).batched
    with pytest.raises(ValueError, match="std .* zero"):
        T.Normalize((0.5,), (0.0,))
    with pytest.raises(TypeError, match="floating-point"):
        T.Normalize(0.5, 0.5)(minigrad.zeros(1, 2, 2, dtype=minigrad.uint8))
    with pytest.raises(ValueError, match=r"3 channel.*\(2, 4, 4\)"):
        T.Normalize((0.5,) * 3, (0.5,) * 3)(minigrad.zeros(2, 4, 4))
    assert "Normalize(mean=(0.5,), std=(0.5,))" in repr(T.Compose([T.Normalize(0.5, 0.5)]))


# ---- real data ---------------------------------------------------------------------------------

@pytest.mark.skipif(not (SHARED_MNIST / "t10k-images-idx3-ubyte.gz").exists(),
                    reason=f"real MNIST test set not found at {SHARED_MNIST}")
def test_real_mnist_test_set():
    ds = MNIST(SHARED_MNIST, train=False, transform=T.ToTensor())
    assert len(ds) == 10000 and tuple(ds.data.shape) == (10000, 28, 28)
    assert np.bincount(ds.targets.numpy()).tolist()[:2] == [980, 1135]  # published class counts
    img, target = ds[0]
    assert target == 7 and tuple(img.shape) == (1, 28, 28) and 0 <= img.numpy().min() < img.numpy().max() <= 1


@pytest.mark.skipif(not (DEBIAN_FASHION / "train-images-idx3-ubyte.gz").exists(),
                    reason=f"Debian's dataset-fashion-mnist is not installed ({DEBIAN_FASHION} missing)")
def test_fashion_mnist_from_debian_package(tmp_path):
    ds = FashionMNIST(tmp_path, train=True)  # empty root: found in the system folder
    assert ds.files[0].parent == DEBIAN_FASHION and len(ds) == 60000 and tuple(ds.data.shape) == (60000, 28, 28)
    assert np.bincount(ds.targets.numpy()).tolist() == [6000] * 10
    assert ds.data.dtype == minigrad.uint8 and 0 == ds.data.numpy().min() < ds.data.numpy().max() == 255


def test_unwritable_download_folder_is_a_clear_error(tmp_path, mirrors):
    blocker = tmp_path / "not-a-dir"
    blocker.write_text("")
    with pytest.raises(DatasetNotFoundError, match="cannot create the download folder"):
        TinyMNIST(blocker, train=False, download=True)
    assert mirrors["requested"] == []
