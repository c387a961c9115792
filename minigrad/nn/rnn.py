"""rnn layers of torch.nn."""
from __future__ import annotations

__all__: list = []
