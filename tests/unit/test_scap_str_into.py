"""scap.c's ``str_into`` and ``bytes_into`` (the bulk path's strings and I/O data
written straight into the ext rows) give the bytes and lengths of their numpy
references, ``bulk.str_param`` + a row copy and ``bulk.rows_into``."""

from __future__ import annotations

import numpy as np

from cdig.collector.native.scap import kernels
from cdig.collector.scap import bulk
from cdig.probes.syscalls import layout

_AT = layout.EXT_RECORD.fields["str1"][1]
_ROW = layout.EXT_RECORD.itemsize


def _buf(seed: int) -> tuple[np.random.Generator, np.ndarray]:
    rng = np.random.default_rng(seed)
    u8 = rng.integers(1, 256, size=30_000, dtype=np.uint8)
    u8[rng.integers(0, len(u8), size=400)] = 0  # NULs inside some strings, ends of others
    return rng, u8


def test_str_into_equals_str_param_and_copy():
    k = kernels()
    assert k is not None  # the test machine compiles the kernels
    rng, u8 = _buf(5)
    m = 500
    for width, at in ((layout.STR1_LEN, _AT), (layout.STR2_LEN, _AT + layout.STR1_LEN)):
        lens = rng.integers(0, width + 40, size=m)
        lens[::7] = 0
        starts = rng.integers(0, len(u8) - width - 40, size=m)
        dst_idx = rng.permutation(m)
        want = np.zeros(m, dtype=layout.EXT_RECORD)
        wv = want.view(np.uint8).reshape(m, _ROW)
        rows_, slen_want = bulk.str_param(u8, lens, starts, width)
        wv[dst_idx, at:at + width] = rows_
        got = np.zeros(m, dtype=layout.EXT_RECORD)
        got.view(np.uint8).reshape(m, _ROW)[:] = 0xAA  # the rest of each row: zeroed
        got.view(np.uint8).reshape(m, _ROW)[:, :at] = 0
        got.view(np.uint8).reshape(m, _ROW)[:, at + width:] = 0
        slen = k.str_into(u8, lens, starts, got, at, dst_idx, width)
        assert np.array_equal(slen, slen_want)
        assert np.array_equal(got.view(np.uint8).reshape(m, _ROW), wv)
        assert (slen < lens).any() and (slen == np.minimum(lens, width - 1)).any()


def test_str_into_bytes_outside_the_buffer_give_an_empty_string():
    k = kernels()
    assert k is not None
    u8 = np.full(100, 65, dtype=np.uint8)
    dst = np.zeros(3, dtype=layout.EXT_RECORD)
    slen = k.str_into(u8, np.array([10, 10, 5]), np.array([95, -1, 0]), dst, _AT,
                      np.array([0, 1, 7]), layout.STR1_LEN)  # row 7: not there, no write
    assert slen.tolist() == [0, 0, 5]
    assert not dst.view(np.uint8).any()


def test_bytes_into_equals_rows_into():
    k = kernels()
    assert k is not None
    rng, u8 = _buf(6)
    m = 300
    ln = rng.integers(0, layout.IO_MAX + 1, size=m)
    starts = rng.integers(0, len(u8) - layout.IO_MAX, size=m)
    rows = rng.permutation(m)
    want = np.zeros(m, dtype=layout.EXT_RECORD)
    strs = want.view(np.uint8).reshape(m, _ROW)[:, _AT:_AT + layout.IO_MAX]
    bulk.rows_into(u8, ln, starts, strs, rows)
    got = np.zeros(m, dtype=layout.EXT_RECORD)
    k.bytes_into(u8, ln, starts, got, _AT, rows, layout.IO_MAX)
    assert np.array_equal(got.view(np.uint8), want.view(np.uint8))
    assert got.view(np.uint8).any()
