"""Reader for the IDX format (MNIST, Fashion-MNIST): gzip or raw, validated, decoded with one np.frombuffer."""
from __future__ import annotations

import gzip
import io
import math
import os
import zlib
from collections.abc import Sequence
from typing import BinaryIO, Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

IDX_LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension
IDX_IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions

# Type codes from the IDX spec; multi-byte values are big-endian.
_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXFormatError(ValueError):
    """An IDX file is malformed: bad magic, truncated, or sizes that disagree."""


# Deflate cannot expand data more than ~1032:1 (one 258-byte match per 2 bits), so a .gz file of n bytes
# holds at most this many times n: a header that promises more is refused before anything is inflated.
_MAX_GZIP_RATIO = 1032


def _parse_magic(head: bytes, name: str, expected_magic: int | None) -> tuple[np.dtype, int]:
    """(dtype, ndim) from the 4-byte magic number, or a clear IDXFormatError."""
    if len(head) < 4:
        raise IDXFormatError(f"{name}: file is {len(head)} bytes, too short for the 4-byte IDX magic number")
    magic = int.from_bytes(head[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise IDXFormatError(f"{name}: bad magic number {magic}, expected {expected_magic} "
                             f"({_describe_magic(expected_magic)})")
    code, ndim = head[2], head[3]
    if head[:2] != b"\x00\x00" or code not in _DTYPES or ndim == 0:
        raise IDXFormatError(f"{name}: bad magic number {magic} (0x{magic:08x}); expected 0x0000TTNN "
                             f"with type code TT in {sorted(hex(c) for c in _DTYPES)} and NN >= 1 dims")
    return _DTYPES[code], ndim


def _read_into(stream: BinaryIO, buffer: bytearray) -> int:
    """Fill `buffer` from `stream`; the number of bytes read (less at the end of the data)."""
    view, filled = memoryview(buffer), 0
    while filled < len(buffer):
        n = stream.readinto(view[filled:])
        if not n:
            break
        filled += n
    return filled


def _decode(stream: BinaryIO, name: str, expected_magic: int | None, size: int, gzipped: bool = False) -> np.ndarray:
    """One IDX array from `stream` (a file of `size` bytes), header first: the data is read only once the
    header is known to fit in what the file can hold, and trailing data is detected without reading it all."""
    dtype, ndim = _parse_magic(stream.read(4), name, expected_magic)
    header = 4 + 4 * ndim
    dims = stream.read(4 * ndim)
    if len(dims) < 4 * ndim:
        raise IDXFormatError(f"{name}: truncated header: {ndim} dimensions need {header} bytes, "
                             f"file has {4 + len(dims)}")
    shape = tuple(int.from_bytes(dims[4 * i: 4 * i + 4], "big") for i in range(ndim))
    expected = header + math.prod(shape) * dtype.itemsize  # Python ints: 2**31 x 2**31 cannot overflow
    what = f"dimensions {shape} of {dtype.name} need {expected} bytes (header {header} + data)"
    if not gzipped and expected != size:
        what = "truncated" if size < expected else "has trailing bytes"
        raise IDXFormatError(f"{name}: {what}: dimensions {shape} of {dtype.name} need {expected} bytes "
                             f"(header {header} + data), file has {size}")
    if gzipped and expected > size * _MAX_GZIP_RATIO:
        raise IDXFormatError(f"{name}: truncated: {what}, more than a {size}-byte gzip file can hold")
    data = bytearray(expected - header)
    got = _read_into(stream, data)
    if got < len(data):
        raise IDXFormatError(f"{name}: truncated: {what}, file has {header + got}")
    extra = len(stream.read(1 << 20))  # bounded: a bomb appended after the data is never inflated
    if extra:
        more = "at least " if extra == 1 << 20 else ""
        raise IDXFormatError(f"{name}: has trailing bytes: {what}, file has {more}{expected + extra}")
    # over a bytearray the array is writable, an ordinary array; big-endian types are copied to native order
    return np.frombuffer(data, dtype=dtype).reshape(shape).astype(dtype.newbyteorder("="), copy=False)


def parse_idx(buf: bytes, name: str = "<bytes>", expected_magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into a native-endian array; `name` is used in error messages."""
    return _decode(io.BytesIO(buf), name, expected_magic, len(buf))


def read_idx(path: PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read a `.gz` (one or more gzip members) or raw IDX file into a NumPy array, validating magic and size.

    A directory or unreadable path raises the OSError for it (IsADirectoryError, PermissionError, ...)."""
    name = os.fspath(path)
    with open(path, "rb") as raw:
        size = os.fstat(raw.fileno()).st_size
        is_gzip = raw.read(2) == b"\x1f\x8b"  # gzip magic; anything else is read as a raw IDX file
        raw.seek(0)
        if not is_gzip:
            return _decode(raw, name, expected_magic, size)
        try:
            with gzip.GzipFile(fileobj=raw) as stream:  # reads every member of a multi-member file
                return _decode(stream, name, expected_magic, size, gzipped=True)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXFormatError(f"{name}: corrupt or truncated gzip data ({e})") from None


def read_idx_pair(images_path: PathLike, labels_path: PathLike,
                  image_shape: Sequence[int] = (28, 28)) -> tuple[np.ndarray, np.ndarray]:
    """Read an (images, labels) IDX pair as (uint8 N×H×W, int64 N), checking they agree."""
    images = read_idx(images_path, IDX_IMAGES_MAGIC)
    labels = read_idx(labels_path, IDX_LABELS_MAGIC)
    if tuple(images.shape[1:]) != tuple(image_shape):
        raise IDXFormatError(f"{os.fspath(images_path)}: images are {images.shape[1:]}, "
                             f"expected {tuple(image_shape)}")
    if len(images) != len(labels):
        raise IDXFormatError(f"mismatched counts: {os.fspath(images_path)} holds {len(images)} images "
                             f"but {os.fspath(labels_path)} holds {len(labels)} labels")
    return images, labels.astype(np.int64)


def _describe_magic(magic: int) -> str:
    return {IDX_LABELS_MAGIC: "IDX labels: uint8, 1 dimension",
            IDX_IMAGES_MAGIC: "IDX images: uint8, 3 dimensions"}.get(magic, "IDX")


def write_idx(path: PathLike, array: np.ndarray) -> None:
    """Write `array` as an IDX file (gzip-compressed when `path` ends in .gz); used for fixtures."""
    code = next((c for c, dt in _DTYPES.items() if dt == array.dtype.newbyteorder(">")), None)
    if code is None:
        raise TypeError(f"IDX cannot store dtype {array.dtype}; expected one of "
                        f"{sorted(dt.name for dt in _DTYPES.values())}")
    header = bytes([0, 0, code, array.ndim]) + b"".join(int(d).to_bytes(4, "big") for d in array.shape)
    body = header + np.ascontiguousarray(array, dtype=_DTYPES[code]).tobytes()
    opener = gzip.open if os.fspath(path).endswith(".gz") else open
    with opener(path, "wb") as f:
        f.write(body)
