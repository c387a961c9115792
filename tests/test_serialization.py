"""minigrad.save / minigrad.load: round trips, atomic writes, refusing foreign or damaged files, map_location."""
import io
import json
import os
import pickle
import struct
import subprocess
import sys
import time
import zipfile
from collections import OrderedDict
from pathlib import Path

import numpy as np
import pytest

import minigrad
from minigrad import nn, optim, serialization


def trained_checkpoint(dtype=minigrad.float32):
    model = nn.Sequential(nn.Linear(3, 4), nn.ReLU(), nn.Linear(4, 2)).to(dtype)
    opt = optim.Adam(model.parameters(), lr=0.01, amsgrad=True)
    nn.CrossEntropyLoss()(model(minigrad.randn(5, 3, dtype=dtype)), minigrad.tensor([0, 1, 1, 0, 1])).backward()
    opt.step()
    return {
        "model": model.state_dict(), "optimizer": opt.state_dict(), "epoch": 7, "best_loss": 0.125,
        "name": "run-1", "flags": [True, False, None], "shape": (2, 3), "nan": float("nan"), "inf": -float("inf"),
        "labels": minigrad.tensor([3, 1, 4], dtype=minigrad.int64), "mask": minigrad.tensor([True, False]),
        "float64": minigrad.tensor([[1.5, -2.25]], dtype=minigrad.float64), "array": np.arange(6, dtype=np.int32),
        "nested": {1: {"deep": [minigrad.zeros(2), (np.float64(2.5), 3)]}, (1, 2): "tuple key"},
        "big": 2 ** 62, "empty": minigrad.zeros(0, 3),
    }


def assert_same(a, b, path="obj"):
    """Structural equality: same container types and keys, tensors equal in dtype, shape and values."""
    assert type(a) is type(b) or (isinstance(a, float) and isinstance(b, float)), f"{path}: {type(a)} vs {type(b)}"
    if isinstance(a, dict):
        assert list(a) == list(b), path
        for k in a:
            assert_same(a[k], b[k], f"{path}[{k!r}]")
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), path
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same(x, y, f"{path}[{i}]")
    elif isinstance(a, minigrad.Tensor):
        assert a.dtype == b.dtype and a.shape == b.shape and a.requires_grad == b.requires_grad, path
        assert np.array_equal(a.cpu().detach().numpy(), b.cpu().detach().numpy()), path
    elif isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and np.array_equal(a, b), path
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), path
    else:
        assert a == b, path


# ---------------------------------------------------------------------------------------------- round trips
@pytest.mark.parametrize("dtype", [minigrad.float32, minigrad.float64])
@pytest.mark.parametrize("as_path", [str, lambda p: p])
def test_round_trip_of_model_and_optimizer_state(dtype, as_path, tmp_path):
    checkpoint = trained_checkpoint(dtype)
    minigrad.save(checkpoint, as_path(tmp_path / "ck.pt"))
    loaded = minigrad.load(as_path(tmp_path / "ck.pt"))
    assert_same(loaded, checkpoint)
    assert type(loaded["model"]) is OrderedDict and type(loaded["nested"][1]["deep"][1]) is tuple
    assert list(loaded["optimizer"]["state"]) == [0, 1, 2, 3]  # integer keys stay integers
    assert os.listdir(tmp_path) == ["ck.pt"]  # exactly the name given, no .npz appended, no leftovers


def test_round_trip_through_a_file_object():
    buffer = io.BytesIO()
    checkpoint = trained_checkpoint()
    minigrad.save(checkpoint, buffer)
    buffer.seek(0)
    assert_same(minigrad.load(buffer), checkpoint)


def test_parameters_and_shared_tensors_survive(tmp_path):
    weight = nn.Parameter(minigrad.ones(2, 2))
    shared = minigrad.arange(3)
    minigrad.save({"w": weight, "a": shared, "b": shared}, tmp_path / "p.pt")
    loaded = minigrad.load(tmp_path / "p.pt")
    assert type(loaded["w"]) is nn.Parameter and loaded["w"].requires_grad
    assert loaded["a"] is loaded["b"]  # stored once, loaded as one tensor


@pytest.mark.parametrize("obj,where", [({"f": print}, "['f']"), ([1, {"x": object()}], "[1]['x']"),
                                       ({"a": np.array([None])}, "['a']")])
def test_unsupported_objects_are_refused_with_their_location(obj, where, tmp_path):
    with pytest.raises(TypeError, match=r"minigrad.save: cannot save .* at the top level" + where.replace("[", r"\[")):
        minigrad.save(obj, tmp_path / "x.pt")
    assert not os.listdir(tmp_path)


# ---------------------------------------------------------------------------------------------- the format
def test_the_file_is_an_npz_with_json_metadata_loaded_without_pickle(tmp_path, monkeypatch):
    minigrad.save(trained_checkpoint(), tmp_path / "ck.pt")
    with np.load(tmp_path / "ck.pt", allow_pickle=False) as archive:
        metadata = json.loads(archive[serialization._META_KEY].tobytes())
    assert metadata["format"] == "minigrad-checkpoint" and metadata["root"]["type"] == "dict"
    calls = []
    real_read = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda *a, **k: calls.append(k) or real_read(*a, **k))
    minigrad.load(tmp_path / "ck.pt")
    assert calls and all(k == {"allow_pickle": False} for k in calls)


# ---------------------------------------------------------------------------------------------- atomic writes
def test_a_crash_mid_write_leaves_the_old_checkpoint_intact(tmp_path, monkeypatch):
    target = tmp_path / "ck.pt"
    minigrad.save({"epoch": 1, "w": minigrad.ones(3)}, target)
    old_bytes = target.read_bytes()

    def crash(file, **arrays):
        file.write(b"PK\x03\x04 half a zip")
        raise OSError("disk full")
    monkeypatch.setattr(np, "savez", crash)
    with pytest.raises(OSError, match="disk full"):
        minigrad.save({"epoch": 2, "w": minigrad.zeros(3)}, target)
    monkeypatch.undo()
    assert os.listdir(tmp_path) == ["ck.pt"]  # no temporary file left behind
    assert target.read_bytes() == old_bytes and minigrad.load(target)["epoch"] == 1


def test_writes_are_fsynced_then_renamed_into_place(tmp_path, monkeypatch):
    events = []
    real_fsync, real_replace = os.fsync, os.replace
    monkeypatch.setattr(os, "fsync", lambda fd: events.append("fsync") or real_fsync(fd))
    monkeypatch.setattr(os, "replace",
                        lambda a, b: events.append(("replace", os.path.dirname(a))) or real_replace(a, b))
    minigrad.save({"x": 1}, tmp_path / "ck.pt")
    assert events[0] == "fsync" and events[1] == ("replace", str(tmp_path))  # the temp file sits beside the target
    reference = tmp_path / "plain"
    reference.write_bytes(b"")
    assert (tmp_path / "ck.pt").stat().st_mode == reference.stat().st_mode  # permissions as a normal file's


# ---------------------------------------------------------------------------------------------- damaged, foreign files
@pytest.mark.parametrize("keep", [0, 10, 0.5, -30])
def test_a_truncated_checkpoint_raises_a_clear_error(keep, tmp_path):
    path = tmp_path / "ck.pt"
    minigrad.save(trained_checkpoint(), path)
    data = path.read_bytes()
    path.write_bytes(data[:int(len(data) * keep)] if isinstance(keep, float) else data[:keep])
    with pytest.raises(RuntimeError, match=r"ck\.pt' is not a minigrad checkpoint \(or is truncated/corrupted\)"):
        minigrad.load(path)


class _Exploit:
    """Unpickling this would create a marker file: loading must never get that far."""

    def __init__(self, marker):
        self.marker = marker

    def __reduce__(self):
        return (open, (self.marker, "w"))


def _write_foreign(kind, path):
    with open(path, "wb") as handle:  # a handle, so numpy does not append .npz / .npy to the name
        _write_foreign_to(kind, handle, str(path) + ".pwned")


def _write_foreign_to(kind, handle, marker):
    if kind == "npz_without_metadata":
        np.savez(handle, weights=np.random.default_rng(0).standard_normal(4))
    elif kind == "npy":
        np.save(handle, np.arange(3))
    elif kind == "text":
        handle.write(b"epoch,loss\n1,0.5\n")
    elif kind == "pickle":
        handle.write(pickle.dumps({"exploit": _Exploit(marker)}))
    elif kind == "npz_with_pickled_object":
        np.savez(handle, **{serialization._META_KEY: np.array([{"format": "minigrad-checkpoint"}], dtype=object)})
    elif kind == "npz_with_bad_json":
        np.savez(handle, **{serialization._META_KEY: np.frombuffer(b"{not json", np.uint8)})
    elif kind == "npz_with_other_format":
        np.savez(handle, **{serialization._META_KEY: np.frombuffer(b'{"format": "other", "root": {}}', np.uint8)})
    elif kind == "npz_with_dangling_reference":
        meta = {"format": "minigrad-checkpoint", "version": 1,
                "root": {"type": "tensor", "key": "a9", "dtype": "float32", "device": "cpu", "requires_grad": False}}
        np.savez(handle, **{serialization._META_KEY: np.frombuffer(json.dumps(meta).encode(), np.uint8)})


@pytest.mark.parametrize("kind", ["npz_without_metadata", "npy", "text", "pickle", "npz_with_pickled_object",
                                  "npz_with_bad_json", "npz_with_other_format", "npz_with_dangling_reference"])
def test_a_foreign_file_raises_a_clear_error_and_runs_no_code(kind, tmp_path):
    path = tmp_path / "foreign.bin"
    _write_foreign(kind, path)
    with pytest.raises(RuntimeError, match=r"foreign\.bin' is not a minigrad checkpoint"):
        minigrad.load(path)
    assert not os.path.exists(str(path) + ".pwned")


def test_a_missing_file_raises_file_not_found(tmp_path):
    with pytest.raises(FileNotFoundError, match="nope.pt"):
        minigrad.load(tmp_path / "nope.pt")


# ---------------------------------------------------------------------------------------------- devices
def test_tensors_load_on_cpu_unless_map_location_says_otherwise(device, tmp_path):
    model = nn.Linear(3, 2).to(device)
    minigrad.save(model.state_dict(), tmp_path / "m.pt")
    with np.load(tmp_path / "m.pt", allow_pickle=False) as archive:
        metadata = json.loads(archive[serialization._META_KEY].tobytes())
    assert metadata["root"]["items"][0][1]["device"] == str(minigrad.device(device))  # the original is recorded
    assert all(t.device.type == "cpu" for t in minigrad.load(tmp_path / "m.pt").values())
    for location in (device, minigrad.device(device), {str(minigrad.device(device)): device}):
        loaded = minigrad.load(tmp_path / "m.pt", map_location=location)
        assert all(t.device == minigrad.device(device) for t in loaded.values())
    seen = []
    minigrad.load(tmp_path / "m.pt", map_location=lambda t, saved: seen.append(saved) or t)
    assert seen == [str(minigrad.device(device))] * 2
    fresh = nn.Linear(3, 2).to(device)
    fresh.load_state_dict(minigrad.load(tmp_path / "m.pt"))  # a CPU checkpoint loads into a model on device
    assert fresh.weight.device == minigrad.device(device)
    assert np.array_equal(fresh.weight.cpu().detach().numpy(), model.weight.cpu().detach().numpy())


# ---------------------------------------------------------------------------------------------- paths
def test_paths_that_are_not_files_raise_the_os_error_for_the_path(tmp_path, monkeypatch):
    with pytest.raises(IsADirectoryError) as info:
        minigrad.load(tmp_path)
    assert info.value.filename == str(tmp_path)
    with pytest.raises(IsADirectoryError):
        minigrad.save({"x": 1}, tmp_path)
    locked = tmp_path / "locked.pt"
    minigrad.save({"x": 1}, locked)
    real_open = open

    def deny(file, *args, **kwargs):  # chmod does not stop root, so the refusal is simulated
        if os.fspath(file) == str(locked):
            raise PermissionError(13, "Permission denied", str(locked))
        return real_open(file, *args, **kwargs)
    monkeypatch.setattr("builtins.open", deny)
    with pytest.raises(PermissionError, match="locked.pt"):
        minigrad.load(locked)


def test_saving_into_a_missing_or_unwritable_directory_names_the_target(tmp_path, monkeypatch):
    target = tmp_path / "no" / "such" / "ck.pt"
    with pytest.raises(FileNotFoundError) as info:
        minigrad.save({"x": 1}, target)
    assert info.value.filename == str(target) and ".part" not in str(info.value)
    real_open = os.open
    monkeypatch.setattr(os, "open", lambda p, *a: (_ for _ in ()).throw(PermissionError(13, "Permission denied", p))
                        if p.endswith(".part") else real_open(p, *a))
    with pytest.raises(PermissionError) as info:
        minigrad.save({"x": 1}, tmp_path / "ck.pt")
    assert info.value.filename == str(tmp_path / "ck.pt")
    assert os.listdir(tmp_path) == ["no"] or os.listdir(tmp_path) == []


@pytest.mark.parametrize("failing", ["fsync", "replace"])
def test_no_temp_file_survives_any_failure(failing, tmp_path, monkeypatch):
    def fail(*args):
        raise OSError(5, "Input/output error")
    monkeypatch.setattr(os, failing, fail)
    with pytest.raises(OSError, match="Input/output error"):
        minigrad.save({"w": minigrad.ones(3)}, tmp_path / "ck.pt")
    monkeypatch.undo()
    assert os.listdir(tmp_path) == []


def test_the_next_save_removes_stale_temp_files_of_its_target_only(tmp_path):
    sleeper = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(60)"])
    dead = subprocess.Popen([sys.executable, "-c", "pass"])
    dead.wait()  # reaped: its PID names no process now
    try:
        stale = [".ck.pt.0123456789ab.part",  # written before temp names carried the writer's PID
                 f".ck.pt.{dead.pid}.00000000000a.part", f".ck.pt.{os.getpid()}.00000000000b.part"]
        kept = [f".ck.pt.{sleeper.pid}.00000000000c.part",  # its writer may still be running
                ".ck.pt.bak.0123456789ab.part", ".ck.0123456789ab.part", ".ck.pt.notours.part", "ck.pt.part"]
        for name in stale + kept:
            (tmp_path / name).write_bytes(b"PK\x03\x04 half a zip")
        minigrad.save({"epoch": 3}, tmp_path / "ck.pt")
        assert sorted(os.listdir(tmp_path)) == sorted(kept + ["ck.pt"])
        assert minigrad.load(tmp_path / "ck.pt") == {"epoch": 3}
    finally:
        sleeper.kill()
        sleeper.wait()


KILLED_SAVER = """
import sys
import numpy as np
import minigrad
target = sys.argv[1]
epoch = 0
print("ready", flush=True)
while True:
    epoch += 1
    # 4 MB, every value the epoch: a torn write would show as mixed values or a damaged zip
    minigrad.save({"epoch": epoch, "w": minigrad.full((1024, 1024), float(epoch))}, target)
"""


def test_killing_a_process_mid_save_never_corrupts_the_checkpoint(tmp_path):
    target = tmp_path / "ck.pt"
    rng = np.random.default_rng(0)
    env = dict(os.environ, PYTHONPATH=os.pathsep.join([str(Path(minigrad.__file__).parents[1]),
                                                       os.environ.get("PYTHONPATH", "")]))
    for _ in range(6):
        child = subprocess.Popen([sys.executable, "-c", KILLED_SAVER, str(target)], stdout=subprocess.PIPE, env=env)
        assert child.stdout.readline() == b"ready\n"
        time.sleep(float(rng.uniform(0.0, 0.4)))  # lands anywhere in a save: writing, fsyncing, renaming
        child.kill()
        child.wait()
        child.stdout.close()
        # each save clears the temp files of earlier killed writers: at most the last one's is left
        assert len([name for name in os.listdir(tmp_path) if name.endswith(".part")]) <= 1
        if target.exists():  # the old checkpoint or the new one, whole
            loaded = minigrad.load(target)
            assert np.all(loaded["w"].numpy() == loaded["epoch"])
    minigrad.save({"epoch": 0}, target)  # the next save clears what the killed writers left
    assert os.listdir(tmp_path) == ["ck.pt"]


# ---------------------------------------------------------------------------------------------- crafted files
def npy_bytes(array, header_shape=None, header_dtype=None):
    """A .npy member, optionally with a header that lies about the shape or dtype."""
    buffer = io.BytesIO()
    np.lib.format.write_array_header_1_0(buffer, {
        "descr": np.lib.format.dtype_to_descr(np.dtype(header_dtype or array.dtype)), "fortran_order": False,
        "shape": tuple(header_shape if header_shape is not None else array.shape)})
    return buffer.getvalue() + np.ascontiguousarray(array).tobytes()


def tensor_node(key="a0", dtype="float32", **extra):
    return {"type": "tensor", "key": key, "dtype": dtype, "device": "cpu", "requires_grad": False,
            "parameter": False, **extra}


def patch_directory_entry(path, name, offset, fmt, *values):
    """Overwrite fields of `name`'s central-directory entry (zipfile's writer would not write such lies)."""
    data = bytearray(path.read_bytes())
    entry = data.index(name.encode(), data.index(b"PK\x01\x02")) - 46  # the name follows the 46-byte entry
    assert data[entry:entry + 4] == b"PK\x01\x02"
    struct.pack_into(fmt, data, entry + offset, *values)
    path.write_bytes(bytes(data))


def write_zip(path, root, members, compression=zipfile.ZIP_STORED, flag_bits=0, version=1):
    """A checkpoint-shaped zip: metadata `root` (a node, or its JSON text) and {name: npy bytes} members."""
    root = root if isinstance(root, str) else json.dumps(root)
    meta = np.frombuffer(f'{{"format": "minigrad-checkpoint", "version": {version}, "root": {root}}}'.encode(),
                         np.uint8)
    with zipfile.ZipFile(path, "w", compression=compression) as archive:
        for name, data in {serialization._META_KEY + ".npy": npy_bytes(meta), **members}.items():
            archive.writestr(zipfile.ZipInfo(name), data, compress_type=compression)
    if flag_bits:
        patch_directory_entry(path, "a0.npy", 8, "<H", flag_bits)


ARRAY = np.arange(6, dtype=np.float32)
CRAFTED = {  # name: (metadata root, members, write_zip options, fragment of the error)
    "valid": (tensor_node(), {"a0.npy": npy_bytes(ARRAY)}, {}, None),
    "header claims 6 GB": (tensor_node(), {"a0.npy": npy_bytes(ARRAY, header_shape=(1_500_000_000,))}, {},
                           "is 6000000000 bytes, the member holds 24"),
    "compressed bomb": (tensor_node(), {"a0.npy": npy_bytes(np.zeros(4_000_000, np.float32))},
                        {"compression": zipfile.ZIP_DEFLATED}, "compressed or encrypted"),
    "encrypted flag": (tensor_node(), {"a0.npy": npy_bytes(ARRAY)}, {"flag_bits": 0x1}, "flags 0x1"),
    "complex tensor": (tensor_node(dtype="complex64"), {"a0.npy": npy_bytes(ARRAY.astype(np.complex64))}, {},
                       "complex64 is not one minigrad saves"),
    "big-endian member": (tensor_node(), {"a0.npy": npy_bytes(ARRAY.astype(">f4"))}, {}, ">f4"),
    "dtype disagrees": (tensor_node(dtype="int32"), {"a0.npy": npy_bytes(ARRAY)}, {}, "metadata says int32"),
    "shape disagrees": (tensor_node(shape=[2, 3]), {"a0.npy": npy_bytes(ARRAY)}, {}, "metadata says (2, 3)"),
    "structured array": ({"type": "ndarray", "key": "a0"},
                         {"a0.npy": npy_bytes(np.zeros(2, dtype=[("a", "f4"), ("b", "i4")]))}, {}, "not one save"),
    "object header": ({"type": "ndarray", "key": "a0"}, {"a0.npy": npy_bytes(ARRAY, header_dtype=object)}, {},
                      "not one save"),
    "extra member": (tensor_node(), {"a0.npy": npy_bytes(ARRAY), "a1.npy": npy_bytes(ARRAY)}, {}, "holds ['a0', 'a1']"),
    "member not .npy": (tensor_node(), {"a0.npy": npy_bytes(ARRAY), "run.sh": b"rm -rf /"}, {}, "'run.sh'"),
    "flag as string": (tensor_node(requires_grad="yes"), {"a0.npy": npy_bytes(ARRAY)}, {}, "malformed"),
    "unknown node": ({"type": "pickle", "value": "x"}, {}, {}, "malformed metadata node"),
    "extra field": ({"type": "int", "value": 1, "code": "x"}, {}, {}, "fields"),
    "int as string": ({"type": "int", "value": "1"}, {}, {}, "holds str"),
    "bad device": (tensor_node(device="tpu"), {"a0.npy": npy_bytes(ARRAY)}, {}, "tpu"),
    "newer version": ({"type": "int", "value": 1}, {}, {"version": 2}, "version 2"),
    "deep nesting": ('{"type": "list", "items": [' * 5000 + '{"type": "int", "value": 1}' + "]}" * 5000, {}, {}, None),
    "one array as two dtypes": ({"type": "list", "items": [tensor_node(), tensor_node(dtype="int32")]},
                                {"a0.npy": npy_bytes(ARRAY)}, {}, "described twice"),
}


@pytest.mark.parametrize("case", list(CRAFTED))
def test_crafted_files_are_checked_before_anything_is_inflated(case, tmp_path, monkeypatch):
    root, members, options, fragment = CRAFTED[case]
    path = tmp_path / "crafted.pt"
    write_zip(path, root, members, **options)
    if case == "valid":  # the crafting helper writes what load accepts
        np.testing.assert_array_equal(minigrad.load(path).numpy(), ARRAY)
        return
    reads = []
    real_read = np.lib.format.read_array
    monkeypatch.setattr(np.lib.format, "read_array", lambda member, **k: reads.append(member.name) or
                        real_read(member, **k))
    with pytest.raises(RuntimeError, match=r"crafted\.pt' is not a minigrad checkpoint") as info:
        minigrad.load(path)
    if fragment is not None:
        assert fragment in str(info.value)
    assert all(name == serialization._META_KEY + ".npy" for name in reads)  # no array member was read


def test_members_that_claim_more_bytes_than_the_file_holds_are_refused(tmp_path):
    path = tmp_path / "liar.pt"
    write_zip(path, tensor_node(), {"a0.npy": npy_bytes(ARRAY)})
    patch_directory_entry(path, "a0.npy", 20, "<II", 4_000_000_000, 4_000_000_000)  # stored and inflated sizes
    with pytest.raises(RuntimeError, match="declare 40000.* bytes in all, more than the file's"):
        minigrad.load(path)
