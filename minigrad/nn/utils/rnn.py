"""Packed and padded sequences for the recurrent modules."""
from __future__ import annotations

__all__: list = []
