"""Inputs and NumPy expectations shared by the MPI worker and the fake-NCCL tests: every rank can build
every other rank's input from its seed, so each computes a collective's expected result by itself."""
from __future__ import annotations

import numpy as np

import minigrad.distributed as dist


def data(rank: int, shape, dtype, salt: int = 0) -> np.ndarray:
    rng = np.random.default_rng(1000 * salt + rank)
    if np.dtype(dtype).kind == "f":
        return rng.uniform(0.5, 1.5, size=shape).astype(dtype)  # products stay well scaled
    return rng.integers(-5, 6, size=shape).astype(dtype)


def close(actual, expected, dtype):
    if np.dtype(dtype).kind == "f":
        rtol = 1e-5 if np.dtype(dtype) == np.float32 else 1e-12
        np.testing.assert_allclose(actual, expected, rtol=rtol, atol=rtol)
    else:
        np.testing.assert_array_equal(actual, expected)


def expected_reduce(arrays, op):
    stacked = np.stack(arrays)
    if op == dist.ReduceOp.AVG:
        total = stacked.sum(0)
        return total / len(arrays) if stacked.dtype.kind == "f" else np.trunc(total / len(arrays)).astype(stacked.dtype)
    fn = {dist.ReduceOp.SUM: np.sum, dist.ReduceOp.PRODUCT: np.prod, dist.ReduceOp.MIN: np.min,
          dist.ReduceOp.MAX: np.max, dist.ReduceOp.BAND: np.bitwise_and.reduce, dist.ReduceOp.BOR: np.bitwise_or.reduce,
          dist.ReduceOp.BXOR: np.bitwise_xor.reduce}[op]
    return fn(stacked, axis=0).astype(stacked.dtype)
