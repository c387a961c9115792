"""Sorting: the index order behind sort, argsort and topk, and their differentiable values.

The values are a gather of the input at the sorted indices, so their gradient is Gather's scatter; the
classes below only give the node torch's name (``SortBackward0``, ``TopkBackward0``).
"""
from .reduce import Gather


def sort_order(xp, a, axis: int, descending: bool):
    """Indices that sort ``a`` along ``axis``. Always stable: ties keep their original order, as torch's CPU
    sort does with or without ``stable=True``. NaN sorts as the largest value, as in torch."""
    if not descending:
        return xp.argsort(a, axis=axis, kind="stable")
    # Descending and still stable (and valid for bool and unsigned, where negation is not): sort the reversed
    # array ascending, reverse that order, and map the positions back to the unreversed array.
    order = xp.argsort(xp.flip(a, axis=axis), axis=axis, kind="stable")
    return (a.shape[axis] - 1) - xp.flip(order, axis=axis)


class Sort(Gather):
    """The sorted values: input gathered at the order ``sort_order`` found."""


class SortStable(Sort):
    grad_fn_name = "SortBackward1"  # torch's node for the overload that takes ``stable``


class Topk(Gather):
    """The k largest (or smallest) values: input gathered at the first k of that order."""
