"""The bulk path writes its strings straight into ext-shaped rows (``fastrows``: "S" is
an EXT_RECORD array, the strings at str1), and ``to_batch`` takes those rows as the
batch's ext when they are all ext rows. Both pieces give the bytes the contiguous
matrix and the copy gave."""

from __future__ import annotations

from pathlib import Path

import numpy as np

from cdig.collector.native.scap import kernels
from cdig.collector.scap import bulk
from cdig.collector.scap.reader import ScapSource
from cdig.probes.syscalls import layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scap"
_AT = layout.EXT_RECORD.fields["str1"][1]


def _data(seed: int, m: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    rng = np.random.default_rng(seed)
    u8 = rng.integers(1, 256, size=20_000, dtype=np.uint8)
    ln = rng.integers(0, layout.IO_MAX + 1, size=m)
    starts = rng.integers(0, len(u8) - layout.IO_MAX, size=m)
    rows = rng.permutation(m)
    return u8, ln, starts, rows


def test_rows_into_strided_rows_equals_contiguous():
    u8, ln, starts, rows = _data(3, 300)
    want = np.zeros((300, layout.IO_MAX), np.uint8)
    bulk.rows_into(u8, ln, starts, want, rows)
    x = np.zeros(300, dtype=layout.EXT_RECORD)
    view = x.view(np.uint8).reshape(300, layout.EXT_RECORD.itemsize)[:, _AT:_AT + layout.IO_MAX]
    bulk.rows_into(u8, ln, starts, view, rows)
    assert np.array_equal(view, want)
    raw = x.view(np.uint8).reshape(300, -1)
    assert not raw[:, :_AT].any() and not raw[:, _AT + layout.IO_MAX:].any()  # nothing else
    for i in range(0, 300, 37):  # and what landed is the file's bytes
        r = rows[i]
        assert bytes(view[r, :ln[i]]) == bytes(u8[starts[i]:starts[i] + ln[i]])


def test_gather_rows_from_an_offset_in_the_source():
    k = kernels()
    assert k is not None  # the test machine compiles the kernels
    src = np.random.default_rng(4).integers(0, 256, size=(50, layout.EXT_RECORD.itemsize),
                                            dtype=np.uint8)
    idx = np.array([7, 3, 49, 0, 3], dtype=np.int64)
    dst = np.zeros(5, dtype=layout.EXT_RECORD)
    k.gather_rows(dst, _AT, src, idx, layout.IO_MAX, src_at=_AT)
    got = dst.view(np.uint8).reshape(5, -1)
    assert np.array_equal(got[:, _AT:_AT + layout.IO_MAX], src[idx, _AT:_AT + layout.IO_MAX])
    assert not got[:, :_AT].any()


def test_reader_ext_rows_hold_each_records_strings():
    """On a sample capture, each ext row holds its own record (ev) and strings: the
    record's I/O data or path as the reader's per-row lengths say."""
    src = ScapSource([str(FIXTURES / "cat_write.scap")])
    seen = 0
    for b in src.batches():
        order = b.order
        assert order is not None
        n_plain = len(b.events)
        ext_at = order[order >= n_plain] - n_plain
        assert np.array_equal(np.sort(ext_at), np.arange(len(b.ext)))  # each used once
        merged = b.merged
        assert merged is not None
        rows = np.flatnonzero(order >= n_plain)
        assert np.array_equal(b.ext["ev"], merged[rows])  # its own record
        for e in b.ext:
            assert 0 <= e["len1"] <= layout.IO_MAX and 0 <= e["len2"] <= layout.STR2_LEN
            seen += 1
    src.close()
    assert seen > 0


def test_move_rows_places_each_source_row_at_its_destination():
    k = kernels()
    assert k is not None
    src = np.random.default_rng(5).integers(0, 256, size=(40, layout.EXT_RECORD.itemsize),
                                            dtype=np.uint8)
    dst_idx = np.array([9, 0, 4, 7], dtype=np.int64)
    src_idx = np.array([3, 39, 3, 12], dtype=np.int64)
    dst = np.zeros(10, dtype=layout.EXT_RECORD)
    k.move_rows(dst, _AT, dst_idx, src, _AT, src_idx, layout.IO_MAX)
    got = dst.view(np.uint8).reshape(10, -1)
    want = np.zeros_like(got)
    want[dst_idx, _AT:_AT + layout.IO_MAX] = src[src_idx, _AT:_AT + layout.IO_MAX]
    assert np.array_equal(got, want)  # the other rows and bytes stay zero
