"""minigrad.save / minigrad.load: checkpoints as .npz plus one JSON entry describing the structure.

Loading never executes code: arrays come back through ``np.load(allow_pickle=False)`` and everything
else is plain JSON. Writes go to a temporary file in the target directory, are fsynced, then renamed
over the target, so a crash leaves either the old checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import json
import os
from collections import OrderedDict
from typing import Any, BinaryIO, Callable, Union

import numpy as np

from . import dtypes
from .backend import Device, to_device, to_numpy
from ._atomic import atomic_write
from .nn.parameter import Parameter
from .tensor import Tensor

__all__ = ["save", "load"]

FORMAT = "minigrad-checkpoint"
VERSION = 1
_META_KEY = "__minigrad_metadata__"  # a uint8 array holding the UTF-8 JSON
_SUPPORTED = "tensors, numpy arrays, dicts, lists, tuples, int, float, str, bool and None"

FileLike = Union[str, os.PathLike, BinaryIO]
MapLocation = Union[None, str, Device, dict, Callable]


# ---------------------------------------------------------------------------------------------- encoding
class _Encoder:
    """Turns an object tree into JSON-able nodes, collecting its arrays under keys a0, a1, ..."""

    def __init__(self):
        self.arrays: dict[str, np.ndarray] = {}
        self.memo: dict[int, str] = {}  # a tensor saved twice is stored once and loads as one object

    def array_key(self, obj, array) -> str:
        key = self.memo.get(id(obj))
        if key is None:
            key = self.memo[id(obj)] = f"a{len(self.arrays)}"
            self.arrays[key] = to_numpy(array)
        return key

    def encode(self, obj: Any, path: str) -> dict:
        if obj is None or isinstance(obj, (bool, str, np.bool_)):
            return {"type": "value", "value": obj if not isinstance(obj, np.bool_) else bool(obj)}
        if isinstance(obj, (int, np.integer)) and not isinstance(obj, np.bool_):
            return {"type": "int", "value": int(obj)}
        if isinstance(obj, (float, np.floating)) and not isinstance(obj, np.ndarray):
            return {"type": "float", "value": repr(float(obj))}  # repr round-trips exactly, nan and inf too
        if isinstance(obj, Tensor):
            dtypes.from_numpy_dtype(obj.array.dtype)
            return {"type": "tensor", "key": self.array_key(obj, obj.array), "dtype": obj.array.dtype.name,
                    "device": str(obj.device), "requires_grad": obj.requires_grad,
                    "parameter": isinstance(obj, Parameter)}
        if isinstance(obj, np.ndarray):
            if obj.dtype.hasobject:
                raise TypeError(f"minigrad.save: cannot save a numpy array of dtype object at {path}")
            return {"type": "ndarray", "key": self.array_key(obj, obj)}
        if isinstance(obj, (list, tuple)):
            kind = "list" if isinstance(obj, list) else "tuple"
            return {"type": kind, "items": [self.encode(v, f"{path}[{i}]") for i, v in enumerate(obj)]}
        if isinstance(obj, dict):
            return {"type": "ordereddict" if isinstance(obj, OrderedDict) else "dict",
                    "items": [[self.encode(k, f"{path} key {k!r}"), self.encode(v, f"{path}[{k!r}]")]
                              for k, v in obj.items()]}
        raise TypeError(f"minigrad.save: cannot save an object of type {type(obj).__name__} at {path}; "
                        f"checkpoints hold {_SUPPORTED}")


class _Decoder:
    def __init__(self, arrays, map_location: MapLocation):
        self.arrays = arrays
        self.map_location = map_location
        self.memo: dict[str, Any] = {}

    def decode(self, node: dict) -> Any:
        kind = node["type"]
        if kind == "value":
            return node["value"]
        if kind == "int":
            return int(node["value"])
        if kind == "float":
            return float(node["value"])
        if kind in ("list", "tuple"):
            items = [self.decode(v) for v in node["items"]]
            return items if kind == "list" else tuple(items)
        if kind in ("dict", "ordereddict"):
            pairs = ((self.decode(k), self.decode(v)) for k, v in node["items"])
            return OrderedDict(pairs) if kind == "ordereddict" else dict(pairs)
        if kind == "ndarray":
            return self.array(node["key"])
        if kind == "tensor":
            key = node["key"]
            if key not in self.memo:
                self.memo[key] = self.tensor(node)
            return self.memo[key]
        raise ValueError(f"unknown node type {kind!r}")

    def array(self, key: str) -> np.ndarray:
        if key not in self.arrays:
            raise ValueError(f"the metadata refers to array {key!r}, which the archive does not hold")
        return self.arrays[key]

    def tensor(self, node: dict) -> Tensor:
        array = self.array(node["key"])
        if array.dtype.name != node["dtype"]:
            raise ValueError(f"array {node['key']!r} has dtype {array.dtype}, the metadata says {node['dtype']}")
        if node.get("parameter"):
            tensor = Parameter(Tensor._wrap(array), requires_grad=node["requires_grad"])
        else:
            tensor = Tensor._wrap(array, requires_grad=bool(node["requires_grad"]))
        return self.place(tensor, node["device"])

    def place(self, tensor: Tensor, saved_device: str) -> Tensor:
        """Apply map_location: by default every tensor loads on the CPU."""
        where = self.map_location
        if callable(where) and not isinstance(where, (str, Device)):
            return where(tensor, saved_device)
        if isinstance(where, dict):
            where = where.get(saved_device)
        if where is None or Device(where).type == "cpu":
            return tensor
        tensor.array = to_device(tensor.array, Device(where))
        return tensor


# ---------------------------------------------------------------------------------------------- save / load
def save(obj: Any, f: FileLike) -> None:
    """Write ``obj`` (a state dict, or nested dicts/lists/tuples of tensors, arrays and plain values) to ``f``."""
    encoder = _Encoder()
    metadata = {"format": FORMAT, "version": VERSION, "root": encoder.encode(obj, "the top level")}
    arrays = dict(encoder.arrays)
    arrays[_META_KEY] = np.frombuffer(json.dumps(metadata).encode("utf-8"), dtype=np.uint8)
    if hasattr(f, "write"):
        np.savez(f, **arrays)
        return
    with atomic_write(f) as handle:
        np.savez(handle, **arrays)


def load(f: FileLike, map_location: MapLocation = None) -> Any:
    """Read a checkpoint written by ``save``. Tensors load on the CPU unless ``map_location`` says otherwise:
    a device (``'cuda'``), a dict from saved to target device, or ``fn(tensor, saved_device) -> tensor``."""
    is_path = isinstance(f, (str, os.PathLike))
    name = repr(os.fspath(f)) if is_path else repr(f)
    if is_path and not os.path.exists(f):
        raise FileNotFoundError(f"[Errno 2] No such file or directory: {name}")
    try:
        if is_path:
            with open(f, "rb") as handle:  # our own handle: numpy leaks its file on a damaged zip
                arrays, metadata = _read_archive(handle)
        else:
            arrays, metadata = _read_archive(f)
    except Exception as e:
        raise RuntimeError(f"{name} is not a minigrad checkpoint (or is truncated/corrupted): "
                           f"{type(e).__name__}: {e}") from e
    try:
        return _Decoder(arrays, map_location).decode(metadata["root"])
    except (KeyError, TypeError, ValueError) as e:
        raise RuntimeError(f"{name} is not a minigrad checkpoint (or is truncated/corrupted): the metadata is "
                           f"inconsistent: {type(e).__name__}: {e}") from e


def _read_archive(f: BinaryIO) -> tuple[dict[str, np.ndarray], dict]:
    """Every array of the .npz and its parsed metadata; raises on anything that is not our format."""
    archive = np.load(f, allow_pickle=False)  # never unpickles: no code runs on load
    if not isinstance(archive, np.lib.npyio.NpzFile):
        raise ValueError("it holds a single .npy array, not an .npz archive")
    with archive:
        if _META_KEY not in archive.files:
            raise ValueError(f"the .npz archive has no {_META_KEY!r} entry")
        arrays = {key: archive[key] for key in archive.files}  # reads (and CRC-checks) every member now
    metadata = json.loads(arrays.pop(_META_KEY).tobytes().decode("utf-8"))
    if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
        raise ValueError(f"the metadata does not declare format {FORMAT!r}")
    if metadata.get("version", 0) > VERSION:
        raise ValueError(f"checkpoint format version {metadata['version']} is newer than this minigrad "
                         f"understands ({VERSION})")
    return arrays, metadata
