"""minigrad.save / minigrad.load: checkpoints as .npz plus one JSON entry describing the structure.

Loading never executes code: arrays come back through ``np.load(allow_pickle=False)`` and everything
else is plain JSON. Writes go to a temporary file in the target directory, are fsynced, then renamed
over the target, so a crash leaves either the old checkpoint or the new one, never half of one.
"""
from __future__ import annotations

import errno
import json
import math
import os
import re
import zipfile
from collections import OrderedDict
from typing import Any, BinaryIO, Callable, Union

import numpy as np

from . import dtypes
from ._atomic import atomic_write
from .backend import Device, to_device, to_numpy
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
                    "shape": list(obj.shape), "device": str(obj.device), "requires_grad": obj.requires_grad,
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
    a device (``'cuda'``), a dict from saved to target device, or ``fn(tensor, saved_device) -> tensor``.

    Nothing is inflated before it is checked: the zip directory, the metadata and every array's .npy
    header must describe exactly what ``save`` writes (uncompressed members that fit in the file, dtypes
    minigrad knows, one member per array the metadata names), so a crafted file costs at most its size."""
    is_path = isinstance(f, (str, os.PathLike))
    name = repr(os.fspath(f)) if is_path else repr(f)
    if is_path:
        # open() raises FileNotFoundError / IsADirectoryError / PermissionError naming the path itself;
        # those are problems with the path, not with a checkpoint
        if os.path.isdir(f):
            raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), os.fspath(f))
        with open(f, "rb") as handle:  # our own handle: numpy leaks its file on a damaged zip
            return _load(handle, name, map_location)
    return _load(f, name, map_location)


def _load(f: BinaryIO, name: str, map_location: MapLocation) -> Any:
    try:
        arrays, metadata = _read_archive(f)
        return _Decoder(arrays, map_location).decode(metadata["root"])
    except (_Refused, zipfile.BadZipFile, zipfile.LargeZipFile, EOFError, KeyError, TypeError, ValueError,
            RecursionError) as e:
        raise RuntimeError(f"{name} is not a minigrad checkpoint (or is truncated/corrupted): "
                           f"{type(e).__name__}: {e}") from e


class _Refused(ValueError):
    """The file holds something ``save`` never writes."""


# zipfile sets only these general-purpose flags: 0x08 (sizes after the data, for unseekable outputs)
# and 0x800 (UTF-8 names); encryption, compression and the rest never come from save()
_ALLOWED_FLAGS = 0x08 | 0x800
_ARRAY_KEY = re.compile(r"a\d+")
_TENSOR_DTYPES = {d.name for d in dtypes.ALL}
_NODE_FIELDS = {"value": {"value"}, "int": {"value"}, "float": {"value"}, "list": {"items"}, "tuple": {"items"},
                "dict": {"items"}, "ordereddict": {"items"}, "ndarray": {"key"},
                "tensor": {"key", "dtype", "device", "requires_grad", "parameter"}}


def _stream_size(f: BinaryIO) -> int:
    here = f.tell()
    size = f.seek(0, os.SEEK_END) - here
    f.seek(here)
    return size


def _read_archive(f: BinaryIO) -> tuple[dict[str, np.ndarray], dict]:
    """Every array of the .npz and its parsed metadata, checked from the zip directory inward before a
    single array is read; raises on anything that is not our format."""
    size = _stream_size(f)
    with zipfile.ZipFile(f) as archive:
        members = _check_members(archive, size)
        if _META_KEY not in members:
            raise _Refused(f"the .npz archive has no {_META_KEY!r} entry")
        meta_info = members.pop(_META_KEY)
        _npy_header(archive, meta_info, {"dtype": np.dtype(np.uint8), "shape": None})
        metadata = json.loads(_read_member(archive, meta_info, np.dtype(np.uint8)).tobytes())
        if not isinstance(metadata, dict) or metadata.get("format") != FORMAT:
            raise _Refused(f"the metadata does not declare format {FORMAT!r}")
        version = metadata.get("version")
        if not isinstance(version, int) or isinstance(version, bool) or not 1 <= version <= VERSION:
            raise _Refused(f"checkpoint format version {version!r}: this minigrad reads versions 1 to {VERSION}")
        wanted: dict[str, dict] = {}
        _check_node(metadata.get("root"), wanted)
        if set(wanted) != set(members):
            raise _Refused(f"the metadata names arrays {sorted(wanted)}, the archive holds {sorted(members)}")
        headers = {key: _npy_header(archive, members[key], wanted[key]) for key in members}
        arrays = {key: _read_member(archive, members[key], headers[key][1]) for key in members}
    return arrays, metadata


def _check_members(archive: zipfile.ZipFile, size: int) -> dict[str, zipfile.ZipInfo]:
    """{key: ZipInfo} of the archive's members, refusing anything np.savez would not have written."""
    members: dict[str, zipfile.ZipInfo] = {}
    total = 0
    for info in archive.infolist():
        key = info.filename[:-4] if info.filename.endswith(".npy") else None
        if key is None or not (key == _META_KEY or _ARRAY_KEY.fullmatch(key)) or key in members:
            raise _Refused(f"unexpected archive member {info.filename!r}")
        if info.compress_type != zipfile.ZIP_STORED or info.flag_bits & ~_ALLOWED_FLAGS:
            raise _Refused(f"member {info.filename!r} is compressed or encrypted (compression "
                           f"{info.compress_type}, flags 0x{info.flag_bits:x}); save() stores members as they are")
        if info.file_size != info.compress_size:
            raise _Refused(f"member {info.filename!r} declares {info.file_size} bytes stored in {info.compress_size}")
        total += info.file_size
        members[key] = info
    # stored members are their own bytes: together they fit in the file, or the directory lies
    # (e.g. many entries pointing at the same data)
    if total > size:
        raise _Refused(f"the archive's members declare {total} bytes in all, more than the file's {size}")
    return members


def _check_node(node: Any, wanted: dict[str, dict]) -> None:
    """Validate a metadata node (and below) against what save() writes; record each array it needs."""
    if not isinstance(node, dict) or node.get("type") not in _NODE_FIELDS:
        raise _Refused(f"malformed metadata node {str(node)[:80]}")
    kind = node["type"]
    if set(node) - {"type"} - ({"shape"} if kind == "tensor" else set()) != _NODE_FIELDS[kind]:
        raise _Refused(f"a {kind!r} node has fields {sorted(node)}")
    value = node.get("value")
    ok = {"value": value is None or isinstance(value, (bool, str)),
          "int": isinstance(value, int) and not isinstance(value, bool),
          "float": isinstance(value, str)}.get(kind, True)
    if not ok:
        raise _Refused(f"a {kind!r} node holds {type(value).__name__} {str(value)[:40]}")
    if kind in ("list", "tuple", "dict", "ordereddict"):
        items = node["items"]
        pairs = kind.endswith("dict")
        if not isinstance(items, list) or (pairs and not all(isinstance(p, list) and len(p) == 2 for p in items)):
            raise _Refused(f"a {kind!r} node's items are malformed")
        for item in items:
            for child in (item if pairs else [item]):
                _check_node(child, wanted)
    elif kind in ("ndarray", "tensor"):
        key = node["key"]
        if not isinstance(key, str) or not _ARRAY_KEY.fullmatch(key):
            raise _Refused(f"bad array key {str(key)[:40]}")
        need = {"dtype": None, "shape": None}
        if kind == "tensor":
            if node["dtype"] not in _TENSOR_DTYPES:
                raise _Refused(f"tensor dtype {str(node['dtype'])[:40]} is not one minigrad saves")
            if not (isinstance(node["requires_grad"], bool) and isinstance(node["parameter"], bool)
                    and isinstance(node["device"], str)):
                raise _Refused("a tensor node's requires_grad/parameter/device fields are malformed")
            try:
                Device(node["device"])
            except RuntimeError as e:
                raise _Refused(str(e)) from None
            shape = node.get("shape")
            if shape is not None and not (isinstance(shape, list) and all(
                    isinstance(d, int) and not isinstance(d, bool) and d >= 0 for d in shape)):
                raise _Refused(f"bad tensor shape {str(shape)[:40]}")
            need = {"dtype": np.dtype(node["dtype"]), "shape": None if shape is None else tuple(shape)}
        if wanted.setdefault(key, need) != need:  # one array read as two different things
            raise _Refused(f"array {key!r} is described twice, differently")


def _npy_header(archive: zipfile.ZipFile, info: zipfile.ZipInfo, need: dict) -> tuple[tuple, np.dtype]:
    """(shape, dtype) from a member's .npy header, read alone, and checked against its declared size."""
    with archive.open(info) as member:
        version = np.lib.format.read_magic(member)
        if version not in ((1, 0), (2, 0)):
            raise _Refused(f"{info.filename!r}: .npy format version {version} (save() writes 1.0 or 2.0)")
        read_header = np.lib.format.read_array_header_1_0 if version == (1, 0) else np.lib.format.read_array_header_2_0
        shape, _fortran_order, dtype = read_header(member)
        offset = member.tell()
    if dtype.hasobject or dtype.fields is not None or dtype.subdtype is not None:
        raise _Refused(f"{info.filename!r}: dtype {dtype} is not one save() writes")
    if need["dtype"] is not None and dtype != need["dtype"]:  # also refuses byte-swapped tensor data
        raise _Refused(f"{info.filename!r} holds {dtype.str}, the metadata says {need['dtype'].name}")
    if need["shape"] is not None and tuple(shape) != need["shape"]:
        raise _Refused(f"{info.filename!r} has shape {tuple(shape)}, the metadata says {need['shape']}")
    if offset + math.prod(shape) * dtype.itemsize != info.file_size:
        raise _Refused(f"{info.filename!r}: a {dtype} array of shape {tuple(shape)} is "
                       f"{math.prod(shape) * dtype.itemsize} bytes, the member holds {info.file_size - offset}")
    return tuple(shape), dtype


def _read_member(archive: zipfile.ZipFile, info: zipfile.ZipInfo, dtype: np.dtype) -> np.ndarray:
    with archive.open(info) as member:  # reading to the end checks the member's CRC
        array = np.lib.format.read_array(member, allow_pickle=False)  # never unpickles: no code runs on load
    if array.dtype != dtype:
        raise _Refused(f"{info.filename!r} holds {array.dtype}, expected {dtype}")
    return array
