"""Primitives that pick or mask elements: index_select, split/unbind pieces, masked_fill, tril/triu, and the
host-side multinomial draw.

Picking is indexing, so most classes reuse Index's or Where's math under the node name torch prints
(``IndexSelectBackward0``, ``SplitBackward0``, ``MaskedFillBackward0``...).
"""
from ..autograd import Function
from ..backend import ieee_quiet
from .elementwise import Where
from .shape import Index


class IndexSelect(Index):
    """a.index_select(dim, index): an integer-array key along one dim; repeated indices accumulate grads."""


class Split(Index):
    """One piece of split(int)/chunk: a slice along one dim."""


class SplitWithSizes(Index):
    """One piece of split(list of sizes): a slice along one dim."""


class Unbind(Index):
    """One piece of unbind: an integer key along one dim."""


class MaskedFill(Where):
    """where(mask, value, a): ``value`` is a 0-d tensor, so its gradient is the sum of grad over the mask."""


class MaskedFillTensor(MaskedFill):
    grad_fn_name = "MaskedFillBackward1"  # torch's node when the value is a tensor


class Tril(Function):
    """Zero the elements above the ``diagonal``-th diagonal of the last two dims (below it, for Triu)."""

    upper = False

    def forward(self, a, diagonal=0):
        rows, cols = a.shape[-2:]
        ones = self.xp.ones((rows, cols), dtype=bool)
        mask = self.xp.triu(ones, diagonal) if self.upper else self.xp.tril(ones, diagonal)
        self.save_for_backward(mask)
        # where, not a * mask: a NaN or inf outside the triangle must still become 0, as in torch
        return self.xp.where(mask, a, self.xp.zeros_like(a))

    def backward(self, grad):
        return self.xp.where(self.saved[0], grad, 0)


class Triu(Tril):
    upper = True


def multinomial_indices(rng, weights, num_samples: int, replacement: bool):
    """Category indices (int64) drawn from each row of a host array of non-negative ``weights``.

    With replacement: inverse-CDF sampling. Without: every category draws an exponential arrival time with
    rate equal to its weight, and the first ``num_samples`` arrivals win; this gives exactly the sequential
    "draw, remove, renormalise" distribution in one vectorised pass (torch's CPU kernel uses the same idea).
    """
    rows, categories = weights.shape
    if not replacement:
        with ieee_quiet():  # a zero weight arrives at time inf: drawn only once every positive weight is
            arrival = rng.standard_exponential((rows, categories)) / weights
        return arrival.argsort(axis=1, kind="stable")[:, :num_samples].astype("int64")
    cdf = weights.cumsum(axis=1)
    draws = rng.random((rows, num_samples)) * cdf[:, -1:]
    out = draws.astype("int64")  # a buffer of the result's shape and dtype, overwritten row by row
    for r in range(rows):
        picked = cdf[r].searchsorted(draws[r], side="right")
        # A draw that rounds up to the total would land past the last positive weight: keep it on that weight.
        out[r] = picked.clip(max=weights[r].nonzero()[0][-1])
    return out
