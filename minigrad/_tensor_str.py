"""Tensor repr formatting that matches torch 2.13's default printing.

Only NumPy is used here: the caller hands over a host array, the dtype name and
any ready-made suffix items (``grad_fn=<...>``, ``requires_grad=True``,
``device='cuda:0'``), and gets back the whole ``tensor(...)`` string.

The rules follow torch/_tensor_str.py with its default print options:
  * one formatter (style + width) is chosen for all elements of the tensor;
  * floats print in integer mode (``1.``), fixed point (``0.6590``) or
    scientific notation (``1.0000e+08``), chosen from the nonzero finite values;
  * more than THRESHOLD elements are summarized to EDGEITEMS per edge with ``...``;
  * rows wrap at LINEWIDTH, nested brackets align one column right of ``tensor(``.
"""
import math

import numpy as np

DTYPE_PREFIX = "minigrad."

PRECISION = 4
THRESHOLD = 1000
EDGEITEMS = 3
LINEWIDTH = 80

TENSOR_PREFIX = "tensor("
DEFAULT_FLOAT_DTYPE = "float32"
# torch leaves the dtype out of the repr for these (non-empty tensors only).
DTYPES_WITHOUT_DTYPE_ITEM = ("float32", "int64", "bool")


def is_floating_dtype(dtype_name: str) -> bool:
    return dtype_name.startswith(("float", "bfloat"))


class ElementFormatter:
    """One shared style and column width for every element of a tensor."""

    def __init__(self, values: np.ndarray, floating: bool):
        self.floating = floating
        self.int_mode = True
        self.sci_mode = False
        self.width = 1
        flat = values.reshape(-1)
        if not floating:
            self.width = max([1] + [len(str(v)) for v in flat.tolist()])
            return
        flat = flat.astype(np.float64)
        nonzero_finite = flat[np.isfinite(flat) & (flat != 0)]
        if nonzero_finite.size == 0:
            return  # all zeros / nan / inf: integer mode, width 1
        magnitudes = np.abs(nonzero_finite)
        smallest, largest = float(magnitudes.min()), float(magnitudes.max())
        self.int_mode = bool(np.all(nonzero_finite == np.ceil(nonzero_finite)))
        self.sci_mode = largest / smallest > 1000.0 or largest > 1.0e8 or smallest < 1.0e-4
        self.width = max(len(self.unpadded(v)) for v in nonzero_finite.tolist())

    def unpadded(self, value) -> str:
        if not self.floating:
            return str(value)
        if self.sci_mode:
            return f"{value:.{PRECISION}e}"
        if self.int_mode:
            is_finite = not (math.isinf(value) or math.isnan(value))
            return f"{value:.0f}" + ("." if is_finite else "")
        return f"{value:.{PRECISION}f}"

    def format(self, value) -> str:
        return self.unpadded(value).rjust(self.width)


def summarized_values(array: np.ndarray) -> np.ndarray:
    """The elements that stay visible after summarization (edges of every axis)."""
    for axis, size in enumerate(array.shape):
        if size > 2 * EDGEITEMS:
            kept = list(range(EDGEITEMS)) + list(range(size - EDGEITEMS, size))
            array = np.take(array, kept, axis=axis)
    return array


def format_row(row: np.ndarray, indent: int, summarize: bool, formatter: ElementFormatter) -> str:
    per_line = max(1, (LINEWIDTH - indent) // (formatter.width + 2))
    if summarize and len(row) > 2 * EDGEITEMS:
        items = ([formatter.format(v) for v in row[:EDGEITEMS].tolist()] + [" ..."]
                 + [formatter.format(v) for v in row[-EDGEITEMS:].tolist()])
    else:
        items = [formatter.format(v) for v in row.tolist()]
    lines = [", ".join(items[i:i + per_line]) for i in range(0, len(items), per_line)]
    return "[" + (",\n" + " " * (indent + 1)).join(lines) + "]"


def format_nested(array: np.ndarray, indent: int, summarize: bool, formatter: ElementFormatter) -> str:
    if array.ndim == 0:
        return formatter.format(array.item())
    if array.ndim == 1:
        return format_row(array, indent, summarize, formatter)
    if summarize and len(array) > 2 * EDGEITEMS:
        slices = ([format_nested(sub, indent + 1, summarize, formatter) for sub in array[:EDGEITEMS]]
                  + ["..."]
                  + [format_nested(sub, indent + 1, summarize, formatter) for sub in array[-EDGEITEMS:]])
    else:
        slices = [format_nested(sub, indent + 1, summarize, formatter) for sub in array]
    separator = "," + "\n" * (array.ndim - 1) + " " * (indent + 1)
    return "[" + separator.join(slices) + "]"


def format_data(array: np.ndarray, dtype_name: str, indent: int) -> str:
    """The bracketed element text of a non-empty array."""
    summarize = array.size > THRESHOLD
    visible = summarized_values(array) if summarize else array
    formatter = ElementFormatter(visible, is_floating_dtype(dtype_name))
    return format_nested(array, indent, summarize, formatter)


def append_suffixes(text: str, suffixes: list[str], indent: int) -> str:
    """Join ``, item`` after the data, starting a new line when one would pass LINEWIDTH."""
    parts = [text]
    last_line_len = len(text) - text.rfind("\n") + 1  # torch's count (2 more than the real length)
    for suffix in suffixes:
        if last_line_len + len(suffix) + 2 > LINEWIDTH:
            parts.append(",\n" + " " * indent + suffix)
            last_line_len = indent + len(suffix)
        else:
            parts.append(", " + suffix)
            last_line_len += len(suffix) + 2
    return "".join(parts) + ")"


def format_tensor(array, dtype_name: str, *, suffixes: list[str] = ()) -> str:
    """``repr`` text of a tensor holding ``array`` (host NumPy data) with dtype ``dtype_name``.

    ``suffixes`` are preformatted items; a ``device=...`` item goes before the size/dtype
    items and everything else after them, which is where torch puts them.
    """
    array = np.asarray(array)
    device_items = [s for s in suffixes if s.startswith("device=")]
    other_items = [s for s in suffixes if not s.startswith("device=")]
    dtype_item = f"dtype={DTYPE_PREFIX}{dtype_name}"
    detail_items = []
    if array.size == 0:
        if array.ndim != 1:
            detail_items.append(f"size={tuple(array.shape)}")
        if dtype_name != DEFAULT_FLOAT_DTYPE:
            detail_items.append(dtype_item)
        body = "[]"
    else:
        if dtype_name not in DTYPES_WITHOUT_DTYPE_ITEM:
            detail_items.append(dtype_item)
        body = format_data(array, dtype_name, len(TENSOR_PREFIX))
    return append_suffixes(TENSOR_PREFIX + body, device_items + detail_items + other_items,
                           len(TENSOR_PREFIX))
