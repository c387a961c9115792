"""Image transforms as in torchvision.transforms, for grayscale images and whole batches of them.

Every transform here maps ``(..., H, W)``-style inputs elementwise over the leading dimensions, so
one call handles a single image or a stacked batch. Transforms with ``batched = True`` give exactly
the same values on a batch as on each of its images; datasets use that to build batches in one call.
"""
from __future__ import annotations

from collections.abc import Sequence
from typing import Any, Callable

import numpy as np

import minigrad


class Transform:
    """Base class: ``__call__`` maps one sample, or a batch when ``batched`` is True."""

    batched: bool = False

    def __call__(self, x: Any) -> Any:
        raise NotImplementedError

    def __repr__(self) -> str:
        return f"{type(self).__name__}()"


def is_batched(transform: Any) -> bool:
    """True when `transform` (a Transform, or None for identity) can be applied to a whole batch at once."""
    return transform is None or bool(getattr(transform, "batched", False))


class ToTensor(Transform):
    """uint8 ``(..., H, W)`` grayscale → float32 ``(..., 1, H, W)`` in [0, 1], as torchvision's ToTensor.

    A single H×W image becomes 1×H×W and an N×H×W batch becomes N×1×H×W. Inputs that are not uint8
    are converted to a Tensor with the channel axis added but are not rescaled, as torchvision does.
    Colour H×W×C arrays are not supported: a 3-d input is read as a batch of grayscale images.
    """

    batched = True

    def __call__(self, img: Any) -> minigrad.Tensor:
        t = img if isinstance(img, minigrad.Tensor) else minigrad.as_tensor(np.asarray(img))
        if t.ndim < 2:
            raise ValueError(f"ToTensor expects an image of shape (H, W) or a batch (N, H, W), got shape "
                             f"{tuple(t.shape)}")
        t = t.unsqueeze(-3)
        return t.float() / 255.0 if t.dtype == minigrad.uint8 else t


class Normalize(Transform):
    """``(x - mean) / std`` per channel on float ``(..., C, H, W)`` tensors, as torchvision's Normalize."""

    batched = True

    def __init__(self, mean: float | Sequence[float], std: float | Sequence[float]):
        self.mean = tuple(float(m) for m in np.atleast_1d(mean))
        self.std = tuple(float(s) for s in np.atleast_1d(std))
        if len(self.mean) != len(self.std):
            raise ValueError(f"Normalize: mean has {len(self.mean)} values but std has {len(self.std)}")
        if any(np.float32(s) == 0 for s in self.std):
            raise ValueError(f"Normalize: std {self.std} contains zero, which would divide by zero")
        # (C, 1, 1) so they broadcast over H, W and over any leading batch dimensions
        self._mean = np.asarray(self.mean, dtype=np.float32).reshape(-1, 1, 1)
        self._std = np.asarray(self.std, dtype=np.float32).reshape(-1, 1, 1)
        self._cache: dict = {}

    def __call__(self, t: minigrad.Tensor) -> minigrad.Tensor:
        if not isinstance(t, minigrad.Tensor):
            raise TypeError(f"Normalize expects a Tensor (apply ToTensor first), got {type(t).__name__}")
        if not t.dtype.is_floating_point:
            raise TypeError(f"Normalize expects a floating-point tensor, got {t.dtype}")
        if t.ndim < 3 or t.shape[-3] not in (1, len(self.mean)):
            raise ValueError(f"Normalize with {len(self.mean)} channel(s) expects (..., C, H, W) with "
                             f"C={len(self.mean)}, got shape {tuple(t.shape)}")
        mean, std = self._constants(t.dtype, t.device)
        return (t - mean) / std

    def _constants(self, dtype, device) -> tuple:
        """mean and std as tensors of the images' dtype and device, made once for each (a loader calls this
        once per batch, and building two tensors costs about as much as normalising a batch of 64 images)."""
        key = (dtype, str(device))
        if key not in self._cache:
            self._cache[key] = (minigrad.tensor(self._mean, dtype=dtype, device=device),
                                minigrad.tensor(self._std, dtype=dtype, device=device))
        return self._cache[key]

    def __repr__(self) -> str:
        return f"Normalize(mean={self.mean}, std={self.std})"


class Compose(Transform):
    """Apply transforms in order; batched when every one of them is."""

    def __init__(self, transforms: Sequence[Callable[[Any], Any]]):
        self.transforms = list(transforms)

    @property
    def batched(self) -> bool:  # type: ignore[override]
        return all(is_batched(t) for t in self.transforms)

    def __call__(self, x: Any) -> Any:
        for t in self.transforms:
            x = t(x)
        return x

    def __repr__(self) -> str:
        body = "".join(f"\n    {t!r}" for t in self.transforms)
        return f"Compose({body}\n)"


class Lambda(Transform):
    """Wrap a user function; pass ``batched=True`` only if it maps a batch exactly as it maps each sample."""

    def __init__(self, fn: Callable[[Any], Any], batched: bool = False):
        if not callable(fn):
            raise TypeError(f"Lambda expects a callable, got {type(fn).__name__}")
        self.fn = fn
        self.batched = batched

    def __call__(self, x: Any) -> Any:
        return self.fn(x)

    def __repr__(self) -> str:
        return f"Lambda({getattr(self.fn, '__name__', repr(self.fn))})"
