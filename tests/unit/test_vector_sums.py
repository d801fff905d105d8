"""vector.sums: exact int64 sums per code, through bincount's float weights while
they are exact and reduceat once a partial sum could pass 2**53."""

from __future__ import annotations

import numpy as np

from cdig.collector.vector import sums


def _reference(codes: np.ndarray, n: int, values: np.ndarray) -> list[int]:
    out = [0] * n
    for c, v in zip(codes.tolist(), values.tolist(), strict=True):
        out[c] += int(v)
    return out


def test_small_values_and_bools() -> None:
    rng = np.random.default_rng(7)
    codes = rng.integers(0, 5, size=1000)
    values = rng.integers(-1000, 1000, size=1000)
    assert sums(codes, 6, values) == _reference(codes, 6, values)
    flags = values > 0
    got = sums(codes, 6, flags)
    assert got == _reference(codes, 6, flags) and got[5] == 0
    assert all(type(x) is int for x in got)


def test_large_values_stay_exact() -> None:
    # each sum is above 2**53, where float weights lose the low bits
    codes = np.array([0, 1, 0, 1, 2, 0])
    values = np.array([2**60 + 1, 2**55 + 3, 5, 2**54 + 1, 7, 1], dtype=np.int64)
    got = sums(codes, 4, values)
    assert got == [2**60 + 7, 2**55 + 2**54 + 4, 7, 0]
    as_float = np.bincount(codes, weights=values, minlength=4).astype(np.int64).tolist()
    assert as_float != got  # the case the reduceat path is for


def test_no_rows() -> None:
    assert sums(np.zeros(0, dtype=np.int64), 3, np.zeros(0, dtype=np.int64)) == [0, 0, 0]
