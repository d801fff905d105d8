"""The whole batch's digest as the reader computes it (``digest.decoded_digest``: the
buffers of a batch as Arrow's IPC reader decodes it) equals ``batch_digest`` (what the
writer stored): random batches of every capture column type, random null patterns
(ext columns' bitmaps the same or not, columns all null or none, nulls where the
capture has none), both codecs and none, written and read back as a stream."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc
from hypothesis import given, settings
from hypothesis import strategies as st

from cdig.collector.capture import digest
from cdig.collector.capture.format import SCHEMA, batch_digest

_LOOSE = pa.schema([pa.field(f.name, f.type, True) for f in SCHEMA])


def _column(f: pa.Field, n: int, rng: np.random.Generator, valid: np.ndarray | None
            ) -> pa.Array:
    mask = None if valid is None else ~valid
    if pa.types.is_binary(f.type):
        vals = [bytes(rng.integers(0, 256, int(rng.integers(0, 40))).astype(np.uint8))
                for _ in range(n)]
        return pa.array(vals, type=f.type, mask=mask)
    if pa.types.is_boolean(f.type):
        return pa.array(rng.integers(0, 2, n).astype(bool), mask=mask)
    dt = np.dtype(f.type.to_pandas_dtype())
    info = np.iinfo(dt)
    return pa.array(rng.integers(info.min, info.max, n, dtype=dt, endpoint=True), mask=mask)


def _read_back(rb: pa.RecordBatch, codec: str | None) -> pa.RecordBatch:
    sink = pa.BufferOutputStream()
    opts = ipc.IpcWriteOptions(compression=codec)
    with ipc.new_stream(sink, rb.schema, options=opts) as w:
        w.write_batch(rb)
    with ipc.open_stream(sink.getvalue(), options=ipc.IpcReadOptions(use_threads=False)) as r:
        return r.read_next_batch()


@settings(max_examples=150, deadline=None)
@given(st.integers(0, 3000), st.integers(0, 2 ** 32 - 1),
       st.sampled_from(["same", "each", "none", "all", "plain too"]),
       st.sampled_from([None, "lz4", "zstd"]), st.binary(max_size=40))
def test_the_reader_digest_is_the_writer_digest(n, seed, nulls, codec, meta):
    rng = np.random.default_rng(seed)
    shared = rng.random(n) < rng.random()
    cols = []
    for f in SCHEMA:
        valid = None
        if f.nullable or nulls == "plain too":
            valid = {"same": shared, "each": rng.random(n) < rng.random(),
                     "none": np.ones(n, dtype=bool), "all": np.zeros(n, dtype=bool),
                     "plain too": rng.random(n) < 0.5}[nulls]
        cols.append(_column(f, n, rng, valid))
    rb = _read_back(pa.RecordBatch.from_arrays(cols, schema=_LOOSE), codec)
    plan = digest.decoding_plan(rb.schema)
    assert digest.decoded_digest(rb, meta, plan) == batch_digest(rb, meta)


def test_an_empty_batch_and_another_schema_take_the_general_path():
    empty = _read_back(pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in SCHEMA],
                                                  schema=SCHEMA), None)
    plan = digest.decoding_plan(SCHEMA)
    assert digest.decoded_digest(empty, b"{}", plan) == batch_digest(empty, b"{}")
    other = pa.record_batch({"a": pa.array([1, 2, 3], type=pa.uint64())})
    assert digest.decoded_digest(other, b"x", plan) == batch_digest(other, b"x")
