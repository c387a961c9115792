"""minigrad.save / minigrad.load: round trips, atomic writes, refusing foreign or damaged files, map_location."""
import io
import json
import os
import pickle
from collections import OrderedDict

import numpy as np
import pytest

import minigrad
from minigrad import nn, optim
from minigrad import serialization


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
    real_load = np.load
    monkeypatch.setattr(np, "load", lambda *a, **k: calls.append(k) or real_load(*a, **k))
    minigrad.load(tmp_path / "ck.pt")
    assert calls == [{"allow_pickle": False}]


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
