"""The digest's validity bits from the bitmap (``digest._validity``) equal Arrow's
``is_valid()``, so every column's digest bytes are what they were: random null
patterns, every column type of a capture, sliced arrays (offsets not on a byte)."""

from __future__ import annotations

import zlib

import numpy as np
import pyarrow as pa
from hypothesis import given, settings
from hypothesis import strategies as st

from cdig.collector.capture import digest
from cdig.collector.capture.format import SCHEMA


def _old_pieces(col):
    out = [col.null_count.to_bytes(8, "little")]
    if not len(col):
        return out
    valid = None
    if col.null_count:
        valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False))
        out.append(np.packbits(valid).tobytes())
    if pa.types.is_binary(col.type):
        bufs = col.buffers()
        offs = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1,
                             offset=col.offset * 4)
        out.append((offs - offs[0] if offs[0] else offs).data)
        if bufs[2] is not None and offs[-1] > offs[0]:
            out.append(memoryview(bufs[2])[offs[0]:offs[-1]])
    else:
        v = digest._values(col)
        if valid is not None:
            v = v[valid]
        out.append(np.ascontiguousarray(v).data)
    return out


def _bytes(pieces):
    return b"".join(bytes(memoryview(p).cast("B")) for p in pieces)


@settings(max_examples=300, deadline=None)
@given(n=st.integers(0, 300), seed=st.integers(0, 2**32 - 1), field=st.sampled_from(
    [f.name for f in SCHEMA]), start=st.integers(0, 20), null_frac=st.floats(0, 1))
def test_validity_and_pieces_equal_arrows(n, seed, field, start, null_frac):
    rng = np.random.default_rng(seed)
    t = SCHEMA.field(field).type
    mask = rng.random(n) < null_frac
    if pa.types.is_binary(t):
        col = pa.array([bytes(rng.integers(0, 255, int(rng.integers(0, 9)), dtype=np.uint8))
                        for _ in range(n)], type=t, mask=mask)
    elif pa.types.is_boolean(t):
        col = pa.array(rng.random(n) < 0.5, mask=mask)
    else:
        col = pa.array(rng.integers(0, 100, n).astype(t.to_pandas_dtype()), mask=mask)
    for c in (col, col.slice(min(start, n)), col.slice(min(start, n), max(0, n // 2))):
        if c.null_count:
            assert (digest._validity(c) ==
                    np.asarray(c.is_valid().to_numpy(zero_copy_only=False))).all()
        assert _bytes(digest._pieces(c)) == _bytes(_old_pieces(c))
        old = _bytes(_old_pieces(c))
        assert digest.column_crc(c) == (zlib.crc32(old), len(old))
