"""``batch_read.take_rows`` (Arrow's take kernel called without importing
pyarrow.compute) gives ``RecordBatch.take``'s batch: every capture column type, nulls,
any rows in any order, repeats, none; and an index out of range is an error too."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdig.collector.capture.batch_read import take_rows
from cdig.collector.capture.format import SCHEMA


def _batch(n: int, rng: np.random.Generator) -> pa.RecordBatch:
    cols = []
    for f in SCHEMA:
        mask = rng.random(n) < 0.5 if f.nullable else None
        if pa.types.is_binary(f.type):
            cols.append(pa.array([bytes([i % 251]) * (i % 7) for i in range(n)], type=f.type,
                                 mask=mask))
        elif pa.types.is_boolean(f.type):
            cols.append(pa.array(rng.random(n) < 0.5, mask=mask))
        else:
            dt = np.dtype(f.type.to_pandas_dtype())
            cols.append(pa.array(rng.integers(0, 100, n).astype(dt), mask=mask))
    return pa.RecordBatch.from_arrays(cols, schema=SCHEMA)


@settings(max_examples=100, deadline=None)
@given(st.integers(1, 300), st.integers(0, 2 ** 32 - 1), st.data())
def test_take_rows_is_arrow_take(n, seed, data):
    rb = _batch(n, np.random.default_rng(seed))
    rows = np.array(data.draw(st.lists(st.integers(0, n - 1), max_size=50)), dtype=np.int64)
    got = take_rows(rb, rows)
    assert got.equals(rb.take(pa.array(rows, type=pa.int64())))
    assert got.schema.equals(SCHEMA)


def test_a_row_out_of_range_is_an_error():
    rb = _batch(3, np.random.default_rng(0))
    with pytest.raises(IndexError):
        take_rows(rb, np.array([3]))
