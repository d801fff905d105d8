"""The row take the .scap reader uses (batch.take_records): whole RECORD rows equal
numpy's field-by-field take."""

from __future__ import annotations

import numpy as np

from cdig.collector.batch import take_records
from cdig.probes.syscalls import layout


def _records(n: int) -> np.ndarray:
    rng = np.random.default_rng(7)
    raw = rng.integers(0, 256, size=n * layout.RECORD.itemsize, dtype=np.uint8)
    return raw.view(layout.RECORD)


def test_take_rows_equals_fancy_index_field_by_field():
    rec = _records(1000)
    rows = np.random.default_rng(8).permutation(1000)[:700]
    got = take_records(rec, rows)
    want = rec[rows]
    assert got.dtype == layout.RECORD and len(got) == 700
    for name in layout.RECORD.names:
        assert np.array_equal(got[name], want[name]), name


def test_take_rows_is_a_copy():
    rec = _records(10)
    got = take_records(rec, np.arange(10))
    got["pid"][:] = 12345
    assert not (rec["pid"] == 12345).all()


def test_take_rows_of_no_rows():
    got = take_records(_records(5), np.array([], dtype=np.int64))
    assert got.dtype == layout.RECORD and len(got) == 0
