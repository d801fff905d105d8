"""Crafting captures with valid checksums (issue 11's fuzzing): copy a capture with its
schema or batch metadata (or columns) changed, the CRCs recomputed as the writer does."""

from __future__ import annotations

import zlib
from collections.abc import Callable
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from cdig.collector.capture.digest import digests


def rewrite(src: Any, dst: Any, schema_meta: Callable | None = None,
            batch: Callable | None = None, compression: str | None = "zstd",
            column_digests: bool = True) -> None:
    """``schema_meta(meta) -> meta``; ``batch(i, rb, md) -> (rb, md)`` for each batch;
    without ``column_digests``, as a writer before them (``cdig.digest`` only)."""
    r = ipc.open_stream(pa.OSFile(str(src)))
    meta = dict(r.schema.metadata)
    if schema_meta:
        meta = schema_meta(meta)
    hb = meta.get(b"cdig.header", b"")
    stored = meta.get(b"cdig.snapshot.z", meta.get(b"cdig.snapshot", b""))
    meta[b"cdig.digest"] = f"{zlib.crc32(stored, zlib.crc32(hb)):08x}".encode()
    options = ipc.IpcWriteOptions(compression=compression)  # zstd, as the writer
    with ipc.new_stream(str(dst), r.schema.with_metadata(meta), options=options) as w:
        i = 0
        while True:
            try:
                rb, md = r.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            md = dict(md or {})
            if batch:
                rb, md = batch(i, rb, md)
            stored = md.get(b"cdig.state.z", md.get(b"cdig.state", b"{}"))
            md.update(digests(rb, stored))  # the whole batch's digest and each column's
            if not column_digests:
                del md[b"cdig.coldigest"]
            w.write_batch(rb, custom_metadata=md)
            i += 1


def zero_batch(schema: pa.Schema, n: int) -> pa.RecordBatch:
    """``n`` rows of zeros and empty strings: megabytes that zstd packs into kilobytes."""
    import numpy as np

    cols = []
    for f in schema:
        if pa.types.is_binary(f.type):
            cols.append(pa.Array.from_buffers(pa.binary(), n, [
                None, pa.py_buffer(np.zeros(n + 1, np.int32)), pa.py_buffer(b"")]))
        elif pa.types.is_boolean(f.type):
            cols.append(pa.array(np.zeros(n, bool)))
        else:
            cols.append(pa.array(np.zeros(n, f.type.to_pandas_dtype())))
    return pa.RecordBatch.from_arrays(cols, schema=schema)
