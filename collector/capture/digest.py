"""A capture batch's digests: CRC-32 of its column contents and metadata.

``cdig.digest`` is the CRC of the state metadata, the row count, then every column's
contents in schema order (each: null count, validity bits, values or offsets and
data). It is computed on the values (not the file bytes), so the writer and the
reader compute it the same way; a flipped bit anywhere in a batch is caught even
where the codec's (lz4, zstd) and Arrow's own checks would not notice.

``cdig.coldigest`` makes the same check possible for a reader that reads only some
columns (``pyarrow.ipc.IpcReadOptions(included_fields=...)``: the other columns'
buffers are never decompressed): each column's own CRC (its contents as above, from
0), after an index CRC over the metadata, the row count and that list. A projected
reader checks the index (so the list, the metadata and the count are intact) and the
CRC of every column it read; a bit flipped in a column it did not read changes
nothing it shows. Files written before it (no ``coldigest``) are read whole.
"""

from __future__ import annotations

import zlib
from collections.abc import Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from . import kernels

K_DIGEST, K_COLDIGEST = b"cdig.digest", b"cdig.coldigest"


def _pieces(col: pa.Array) -> list[Any]:
    """The bytes a column adds to the digest, in order."""
    out: list[Any] = [col.null_count.to_bytes(8, "little")]  # metadata, not bitmap
    if not len(col):
        return out
    valid = None
    if col.null_count:
        valid = _validity(col)
        out.append(np.packbits(valid).tobytes())
    if pa.types.is_binary(col.type):
        bufs = col.buffers()
        offs = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1,
                             offset=col.offset * 4)
        out.append((offs - offs[0] if offs[0] else offs).data)
        if bufs[2] is not None and offs[-1] > offs[0]:
            out.append(memoryview(bufs[2])[offs[0]:offs[-1]])
    else:
        v = _values(col)
        if valid is not None:
            v = v[valid]
        out.append(np.ascontiguousarray(v).data)  # the buffer itself, no copy
    return out


def _validity(col: pa.Array) -> np.ndarray:
    """Each row's validity as bools: the bitmap's bits unpacked (Arrow's
    ``is_valid().to_numpy()`` cost ~2x), or Arrow's where the bitmap is not whole."""
    bitmap = col.buffers()[0]
    need = col.offset + len(col)
    if bitmap is None or bitmap.size * 8 < need:
        return np.asarray(col.is_valid().to_numpy(zero_copy_only=False))
    bits = np.frombuffer(bitmap, dtype=np.uint8, count=(need + 7) // 8)
    return np.unpackbits(bits, count=need, bitorder="little")[col.offset:].view(bool)


def _values(col: pa.Array) -> np.ndarray:
    """A primitive column's values buffer as numpy (nulls hold whatever was written).
    Here, not in format.py, which imports this module: this one stays free of the
    record layout."""
    if not len(col):
        return np.zeros(0, dtype=np.dtype(col.type.to_pandas_dtype()))
    if pa.types.is_boolean(col.type):
        if col.null_count:
            return np.asarray(col.fill_null(False).to_numpy(zero_copy_only=False))
        # the bits as bytes (Arrow's to_numpy of a bool column is ~10x slower)
        bits = np.frombuffer(col.buffers()[1], dtype=np.uint8)
        return np.unpackbits(bits, count=col.offset + len(col),
                             bitorder="little")[col.offset:].view(bool)
    dt = np.dtype(col.type.to_pandas_dtype())
    return np.frombuffer(col.buffers()[1], dtype=dt, count=len(col),
                         offset=col.offset * dt.itemsize)


def _head(rb: pa.RecordBatch, meta: bytes) -> int:
    return zlib.crc32(rb.num_rows.to_bytes(8, "little"), zlib.crc32(meta))


def batch_digest(rb: pa.RecordBatch, meta: bytes) -> str:
    """``cdig.digest`` of a batch with state metadata ``meta``, as 8 hex digits."""
    crc = _head(rb, meta)
    for col in rb.columns:
        for piece in _pieces(col):
            crc = kernels.crc32(piece, crc)
    return f"{crc:08x}"


_ZERO_COUNT = bytes(8)  # a column's null count of 0, as the digest writes it


def decoding_plan(schema: pa.Schema) -> tuple[tuple[str, np.dtype | None], ...]:
    """Each column's kind for ``decoded_digest``: "bin" (3 buffers), "bool", or "int"
    with its numpy dtype (2 buffers)."""
    return tuple(("bin", None) if pa.types.is_binary(f.type) else
                 ("bool", None) if pa.types.is_boolean(f.type) else
                 ("int", np.dtype(f.type.to_pandas_dtype())) for f in schema)


def decoded_digest(rb: pa.RecordBatch, meta: bytes,
                   plan: tuple[tuple[str, np.dtype | None], ...]) -> str:
    """``batch_digest`` of a batch as Arrow's IPC reader decodes it (every column at
    offset 0, with no validity buffer exactly where its null count is 0), the same
    value for ~half the Python a column: every buffer from one call (the batch as a
    struct array), the small pieces' CRC in one call, and a validity bitmap that is
    the same bytes as the column's before (a capture's ext fields) unpacked once.
    ``plan``: ``decoding_plan`` of the batch's schema."""
    n = rb.num_rows
    bufs = rb.to_struct_array().buffers()
    if not n or len(plan) != rb.num_columns or \
            len(bufs) != 1 + sum(3 if k == "bin" else 2 for k, _ in plan):
        return batch_digest(rb, meta)
    crc = _head(rb, meta)
    small: list[Any] = []  # pieces under the kernel's threshold, CRCed as one
    j = 1  # bufs[0]: the struct's own validity
    seen: tuple[Any, np.ndarray, bytes, np.ndarray] | None = None  # bitmap, valid, ...
    for i, (kind, dt) in enumerate(plan):
        bitmap = bufs[j]
        pieces: list[Any]
        if bitmap is None:
            pieces = [_ZERO_COUNT]
            rows = None
        else:
            col = rb.column(i)
            nulls = col.null_count
            pieces = [nulls.to_bytes(8, "little")]
            rows = None
            if nulls:
                if kind == "bool" or bitmap.size * 8 < n:
                    pieces = _pieces(col)  # as the general path does it
                    kind = ""
                elif seen is not None and bitmap.equals(seen[0]):
                    pieces.append(seen[2])
                    rows = seen[3]
                else:
                    bits = np.frombuffer(bitmap, dtype=np.uint8, count=(n + 7) // 8)
                    valid = np.unpackbits(bits, count=n, bitorder="little").view(bool)
                    rows = np.flatnonzero(valid)
                    seen = (bitmap, valid, np.packbits(valid).tobytes(), rows)
                    pieces.append(seen[2])
        if kind == "int":
            assert dt is not None
            v = np.frombuffer(bufs[j + 1], dtype=dt, count=n)
            pieces.append((v if rows is None else v[rows]).data)
        elif kind == "bool":
            v = np.unpackbits(np.frombuffer(bufs[j + 1], dtype=np.uint8), count=n,
                              bitorder="little").view(bool)
            pieces.append(v.data)
        elif kind == "bin":
            offs = np.frombuffer(bufs[j + 1], dtype=np.int32, count=n + 1)
            pieces.append((offs - offs[0] if offs[0] else offs).data)
            data = bufs[j + 2]
            if data is not None and offs[-1] > offs[0]:
                pieces.append(memoryview(data)[offs[0]:offs[-1]])
        j += 3 if plan[i][0] == "bin" else 2
        for piece in pieces:
            if memoryview(piece).nbytes < 4096:
                small.append(piece)
                continue
            if small:
                crc = zlib.crc32(b"".join(small), crc)
                small.clear()
            crc = kernels.crc32(piece, crc)
    if small:
        crc = zlib.crc32(b"".join(small), crc)
    return f"{crc:08x}"


def column_crc(col: pa.Array) -> tuple[int, int]:
    """(CRC from 0, length) of what one column adds to the digest."""
    crc = n = 0
    for piece in _pieces(col):
        crc = kernels.crc32(piece, crc)
        n += memoryview(piece).nbytes
    return crc, n


def _index(meta: bytes, rows: int, crcs: bytes) -> int:
    return zlib.crc32(crcs, zlib.crc32(rows.to_bytes(8, "little"), zlib.crc32(meta)))


def digests(rb: pa.RecordBatch, meta: bytes) -> dict[bytes, bytes]:
    """The metadata a writer stores with a batch: ``cdig.digest`` and
    ``cdig.coldigest``, each column read once (the whole CRC is the columns' combined,
    ``kernels.crc32_combine``; without the kernel, computed again in one pass)."""
    per = [column_crc(col) for col in rb.columns]
    whole: int | None = _head(rb, meta)
    for crc, n in per:
        whole = kernels.crc32_combine(whole, crc, n) if whole is not None else None
    digest = f"{whole:08x}" if whole is not None else batch_digest(rb, meta)
    crcs = np.array([c for c, _ in per], dtype="<u4").tobytes()
    index = np.array([_index(meta, rb.num_rows, crcs)], dtype="<u4").tobytes()
    return {K_DIGEST: digest.encode(), K_COLDIGEST: index + crcs}


def check_columns(rb: pa.RecordBatch, meta: bytes, coldigest: bytes | None,
                  fields: Sequence[int], n_fields: int) -> bool:
    """Whether the columns of ``rb`` (the file's fields ``fields``, of ``n_fields``)
    are intact by the batch's ``coldigest``, and so are ``meta`` and the row count."""
    if coldigest is None or len(coldigest) != 4 * (n_fields + 1) or \
            len(fields) != rb.num_columns:
        return False
    stored = np.frombuffer(coldigest, dtype="<u4")
    if int(stored[0]) != _index(meta, rb.num_rows, coldigest[4:]):
        return False
    return all(column_crc(col)[0] == int(stored[1 + f])
               for f, col in zip(fields, rb.columns, strict=True))
