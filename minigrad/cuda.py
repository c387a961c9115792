"""minigrad.cuda: torch.cuda's small subset."""
from .backend import device_count, is_cuda_available as is_available, synchronize, unavailable_reason  # noqa: F401

__all__ = ["is_available", "device_count", "synchronize", "unavailable_reason"]
