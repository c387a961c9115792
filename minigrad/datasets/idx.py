"""Reader for the IDX format (MNIST, Fashion-MNIST): gzip or raw, validated, decoded with one np.frombuffer."""
from __future__ import annotations

import gzip
import os
import zlib
from collections.abc import Sequence
from typing import Union

import numpy as np

PathLike = Union[str, "os.PathLike[str]"]

IDX_LABELS_MAGIC = 2049  # 0x00000801: uint8, 1 dimension
IDX_IMAGES_MAGIC = 2051  # 0x00000803: uint8, 3 dimensions

# Type codes from the IDX spec; multi-byte values are big-endian.
_DTYPES = {0x08: np.dtype(np.uint8), 0x09: np.dtype(np.int8), 0x0B: np.dtype(">i2"),
           0x0C: np.dtype(">i4"), 0x0D: np.dtype(">f4"), 0x0E: np.dtype(">f8")}


class IDXFormatError(ValueError):
    """An IDX file is malformed: bad magic, truncated, or sizes that disagree."""


def _read_bytes(path: PathLike) -> bytes:
    with open(path, "rb") as f:
        raw = f.read()
    if raw[:2] != b"\x1f\x8b":  # gzip magic; anything else is read as a raw IDX file
        return raw
    try:
        # zlib with wbits=31 decodes the gzip container in one call, faster than gzip.open().read()
        return zlib.decompress(raw, 31)
    except zlib.error:
        try:  # multi-member gzip files need the slower reader
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise IDXFormatError(f"{os.fspath(path)}: corrupt or truncated gzip data ({e})") from None


def parse_idx(buf: bytes, name: str = "<bytes>", expected_magic: int | None = None) -> np.ndarray:
    """Decode IDX bytes into a native-endian array; `name` is used in error messages."""
    if len(buf) < 4:
        raise IDXFormatError(f"{name}: file is {len(buf)} bytes, too short for the 4-byte IDX magic number")
    magic = int.from_bytes(buf[:4], "big")
    if expected_magic is not None and magic != expected_magic:
        raise IDXFormatError(f"{name}: bad magic number {magic}, expected {expected_magic} "
                             f"({_describe_magic(expected_magic)})")
    code, ndim = buf[2], buf[3]
    if buf[:2] != b"\x00\x00" or code not in _DTYPES or ndim == 0:
        raise IDXFormatError(f"{name}: bad magic number {magic} (0x{magic:08x}); expected 0x0000TTNN "
                             f"with type code TT in {sorted(hex(c) for c in _DTYPES)} and NN >= 1 dims")
    header = 4 + 4 * ndim
    if len(buf) < header:
        raise IDXFormatError(f"{name}: truncated header: {ndim} dimensions need {header} bytes, "
                             f"file has {len(buf)}")
    shape = tuple(int.from_bytes(buf[4 + 4 * i: 8 + 4 * i], "big") for i in range(ndim))
    dtype = _DTYPES[code]
    expected = header + int(np.prod(shape, dtype=np.int64)) * dtype.itemsize
    if len(buf) != expected:
        what = "truncated" if len(buf) < expected else "has trailing bytes"
        raise IDXFormatError(f"{name}: {what}: dimensions {shape} of {dtype.name} need {expected} bytes "
                             f"(header {header} + data), file has {len(buf)}")
    # frombuffer over immutable bytes is read-only; the copy gives callers an ordinary array
    arr = np.frombuffer(buf, dtype=dtype, offset=header).reshape(shape)
    return arr.astype(dtype.newbyteorder("="), copy=True)


def read_idx(path: PathLike, expected_magic: int | None = None) -> np.ndarray:
    """Read a `.gz` or raw IDX file into a NumPy array, validating magic and size."""
    return parse_idx(_read_bytes(path), os.fspath(path), expected_magic)


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
