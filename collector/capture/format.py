"""The cdig-capture format: the Arrow schema, metadata keys and packing, the batch
digest, and the conversion between probe records and record batches."""

from __future__ import annotations

import json
import os
import platform
import zlib
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa

from ...probes.syscall_table import NO_ARG, SyscallTable
from ...probes.syscalls import layout
from ..batch import take_records
from ..bounded import (
    inflate,
)
from ..decode import RawBatch
from . import kernels
from .digest import K_DIGEST, _validity, _values
from .digest import batch_digest as batch_digest  # re-exported: the format's digest
from .files import CaptureError as CaptureError  # re-exported; defined without pyarrow

FORMAT_NAME = "cdig-capture"
FORMAT_VERSION = 1
MB = 1_000_000  # sysdig's -C unit

def _fields(record: np.dtype) -> list[tuple[str, np.dtype]]:
    assert record.names is not None and record.fields is not None
    return [(n, record.fields[n][0]) for n in record.names]


def _columns(fields: list[tuple[str, np.dtype]], nullable: bool) -> list[pa.Field]:
    """One column per field of a probe record (``probes/syscalls/layout.py``):
    integers at their width, byte strings as binary, ``args`` as arg0..arg5."""
    out: list[pa.Field] = []
    for name, dt in fields:
        if dt.subdtype is not None:  # args[6]
            base, (n,) = dt.subdtype
            out += [pa.field(f"{name.rstrip('s')}{i}", pa.from_numpy_dtype(base), nullable)
                    for i in range(n)]
        elif dt.kind in "SV":
            out.append(pa.field(name, pa.binary(), nullable))
        else:
            out.append(pa.field(name, pa.from_numpy_dtype(dt), nullable))
    return out


_PLAIN = _fields(layout.RECORD)
_EXT_ONLY = [(n, dt) for n, dt in _fields(layout.EXT_RECORD) if n != "ev"]
# The file's columns are the probe's record, plus the capture's own event number and
# "is a state-context record" flag; the ext record's fields are null on plain rows.
# tests/unit/test_capture_schema.py pins version 1: a layout change is a new version.
SCHEMA = pa.schema([
    pa.field("num", pa.uint64(), False), pa.field("ctx", pa.bool_(), False),
    *_columns(_PLAIN, nullable=False), *_columns(_EXT_ONLY, nullable=True),
])
_PLAIN_INT_COLUMNS = tuple(n for n, dt in _PLAIN if dt.kind in "iu" and dt.subdtype is None)
_EXT_INT_COLUMNS = tuple(n for n, dt in _EXT_ONLY if dt.kind in "iu")


class K:
    """The capture's metadata keys: the schema's (format, version, header, snapshot)
    and each batch's (state, digest; the column digests are digest.K_COLDIGEST)."""

    FORMAT = b"cdig.format"
    VERSION = b"cdig.version"
    HEADER = b"cdig.header"
    SNAPSHOT = b"cdig.snapshot"
    STATE = b"cdig.state"
    DIGEST = K_DIGEST


_STREAM_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_PACK_OVER = 4096  # JSON metadata longer than this is stored zlib-compressed, key + ".z"


def _pack(key: bytes, obj: Any) -> tuple[bytes, bytes]:
    """(key, value) for a JSON metadata value: Arrow does not compress metadata, and
    a snapshot of a busy host's processes (argv and all) can be megabytes."""
    raw = json.dumps(obj, separators=(",", ":")).encode()
    if len(raw) > _PACK_OVER:
        return key + b".z", zlib.compress(raw, 6)
    return key, raw


def _stored(meta: dict[bytes, bytes], key: bytes, default: bytes) -> tuple[bytes, bool]:
    """(stored bytes, whether they are deflated) of a metadata value written by _pack."""
    if key + b".z" in meta:
        return meta[key + b".z"], True
    return meta.get(key, default), False


def _unpacked(meta: dict[bytes, bytes], key: bytes, default: bytes) -> tuple[bytes, bytes]:
    """(stored bytes, JSON bytes) of a metadata value written by _pack."""
    stored, packed = _stored(meta, key, default)
    # bounded: a crafted file is not a zip bomb
    return stored, inflate(stored) if packed else stored


# --------------------------------------------------------------------------- columns


def _binary_column(n: int, rows: np.ndarray, lengths: np.ndarray,
                   valid: np.ndarray | None = None) -> pa.Array:
    """A binary column from fixed-width byte rows (``rows``: (m, w) uint8, one
    per valid row) cut to ``lengths`` (one per valid row); null where not valid."""
    lengths = lengths.astype(np.int32, copy=False)
    w = rows.shape[1] if rows.ndim == 2 else 0
    data = rows[np.arange(w) < lengths[:, None]] if len(rows) else np.zeros(0, np.uint8)
    full = lengths
    validity = None
    nulls = 0
    if valid is not None:
        full = np.zeros(n, dtype=np.int32)
        full[valid] = lengths
        nulls = int(n - np.count_nonzero(valid))
        if nulls:
            validity = pa.py_buffer(np.packbits(valid, bitorder="little"))
    offsets = np.zeros(n + 1, dtype=np.int32)
    np.cumsum(full, out=offsets[1:])
    return pa.Array.from_buffers(pa.binary(), n, [validity, pa.py_buffer(offsets),
                                                  pa.py_buffer(np.ascontiguousarray(data))],
                                 null_count=nulls)


def _fixed_rows(col: pa.Array, width: int, rows: np.ndarray | None = None) -> np.ndarray:
    """A binary column's values (at ``rows``, default all) as zero-padded (m, width)
    uint8 rows: the fixed-size buffers the probe wrote."""
    n = len(col)
    bufs = col.buffers()
    offs = np.frombuffer(bufs[1], dtype=np.int32, count=n + 1, offset=col.offset * 4)
    if rows is None:
        starts, ends = offs[:-1], offs[1:]
    else:
        starts, ends = offs[rows], offs[rows + 1]
    full = (ends - starts).astype(np.int64)
    lens = np.minimum(full, width)
    m = len(lens)
    out = np.zeros((m, width), dtype=np.uint8)
    total = int(lens.sum())
    if total and total == int(full.sum()) == int(offs[-1] - offs[0]):
        # no value cut and no row's bytes left out (the rows not asked are empty: the
        # nulls): the data in order fills each row's first bytes, one masked copy
        data = np.frombuffer(bufs[2], dtype=np.uint8, count=total, offset=int(offs[0]))
        out[np.arange(width) < lens[:, None]] = data
    elif total:
        data = np.frombuffer(bufs[2], dtype=np.uint8)
        cum = np.cumsum(lens) - lens
        rel = np.arange(total, dtype=np.int64) - np.repeat(cum, lens)
        src = np.repeat(starts.astype(np.int64), lens) + rel
        dst = np.repeat(np.arange(m, dtype=np.int64) * width, lens) + rel
        out.reshape(-1)[dst] = data[src]
    return out


def comm_column(comm: np.ndarray) -> pa.Array:
    """The binary column of ``comm`` (``S16``, one per row), each value up to its last
    non-NUL byte. Through Arrow's dictionary encoding: a batch holds a few distinct
    comms, so each is trimmed once and the rows are a ``take`` (a byte mask over
    every row's 16 bytes cost ~10x more)."""
    n = len(comm)
    if not n:
        return pa.array([], type=pa.binary())
    fixed = pa.FixedSizeBinaryArray.from_buffers(
        pa.binary(layout.COMM_LEN), n, [None, pa.py_buffer(np.ascontiguousarray(comm))])
    d = fixed.dictionary_encode()
    names = pa.array([v.rstrip(b"\0") for v in d.dictionary.to_pylist()], type=pa.binary())
    return names.take(d.indices)


@dataclass
class _Rows:
    """Records chosen for a capture, in decoding order (one piece of a batch)."""

    records: np.ndarray  # layout.RECORD
    ext: np.ndarray  # layout.EXT_RECORD, one per True in is_ext, in order
    is_ext: np.ndarray  # bool per record
    num: np.ndarray  # uint64 per record
    ctx: np.ndarray  # bool per record


# the plain record's fields a capture stores, as columns (``args`` as one (n, 6) array)
PLAIN_FIELDS = (*_PLAIN_INT_COLUMNS, "args", "comm")


@dataclass
class _Cols:
    """Like ``_Rows``, with the plain records as contiguous columns (``PLAIN_FIELDS``):
    the session's batch has most of them already (``EventBatch.cols``), and a strided
    field of a structured array costs a pass over every record's bytes."""

    plain: dict[str, np.ndarray]
    ext: np.ndarray
    is_ext: np.ndarray
    num: np.ndarray
    ctx: np.ndarray

    @classmethod
    def of_rows(cls, rows: _Rows) -> _Cols:
        rec = rows.records
        return cls({name: np.ascontiguousarray(rec[name]) for name in PLAIN_FIELDS},
                   rows.ext, rows.is_ext, rows.num, rows.ctx)

    @classmethod
    def concat(cls, pieces: list[_Cols]) -> _Cols:
        if len(pieces) == 1:
            return pieces[0]
        return cls({name: np.concatenate([p.plain[name] for p in pieces])
                    for name in PLAIN_FIELDS},
                   *(np.concatenate([getattr(p, f) for p in pieces])
                     for f in ("ext", "is_ext", "num", "ctx")))


def _slice(rows: _Rows, a: int, b: int) -> _Rows:
    xa = int(np.count_nonzero(rows.is_ext[:a]))
    xb = xa + int(np.count_nonzero(rows.is_ext[a:b]))
    return _Rows(rows.records[a:b], rows.ext[xa:xb], rows.is_ext[a:b], rows.num[a:b],
                 rows.ctx[a:b])


class _Snaplen:
    """Where the probe's strings are cut: paths and argv at the snaplen, socket
    addresses (str2 of addr syscalls, str1 with FLAG_LOCAL_ADDR) never."""

    def __init__(self, snaplen: int | None, syscalls: SyscallTable) -> None:
        self.snaplen = snaplen
        self.addr2 = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            if spec.addr_arg != NO_ARG:
                self.addr2[spec.nr] = True

    def lengths(self, ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """The bytes of str1 and str2 kept per record. I/O data (FLAG_IO_DATA: len1
        bytes from str1 on into str2) is kept as the probe cut it (its own snaplen):
        str1 holds its first 256 bytes, str2 the rest unless str2 is a sockaddr."""
        len1 = ext["len1"].astype(np.int32)
        l1 = np.clip(len1, 0, layout.STR1_LEN)
        l2 = np.clip(ext["len2"].astype(np.int32), 0, layout.STR2_LEN)
        ev = ext["ev"]
        io = (ev["flags"] & layout.FLAG_IO_DATA) != 0
        syscall = ev["kind"] <= layout.KIND_SYSCALL_ENTER
        addr2 = syscall & self.addr2[ev["nr"]]
        if io.any():
            l2 = np.where(io & ~addr2, np.clip(len1 - layout.STR1_LEN, 0, layout.STR2_LEN), l2)
        if self.snaplen is not None:
            addr1 = (ev["flags"] & layout.FLAG_LOCAL_ADDR) != 0
            l1 = np.where(addr1 | io, l1, np.minimum(l1, self.snaplen))
            l2 = np.where(addr2 | io, l2, np.minimum(l2, self.snaplen))
        return l1, l2


def rows_to_batch(rows: _Rows | _Cols, snap: _Snaplen) -> pa.RecordBatch:
    """The Arrow batch of some chosen records (see the module docstring)."""
    c = rows if isinstance(rows, _Cols) else _Cols.of_rows(rows)
    plain = c.plain
    n = len(c.num)
    cols: dict[str, pa.Array] = {
        "num": pa.array(c.num.astype(np.uint64, copy=False)),
        "ctx": pa.array(c.ctx.astype(bool, copy=False)),
    }
    for name in _PLAIN_INT_COLUMNS:
        cols[name] = pa.array(plain[name])
    args = plain["args"]
    for i in range(6):
        cols[f"arg{i}"] = pa.array(np.ascontiguousarray(args[:, i]))
    cols["comm"] = comm_column(plain["comm"])
    ext = c.ext
    valid = c.is_ext
    mask = ~valid
    l1, l2 = snap.lengths(ext)
    io = (ext["ev"]["flags"] & layout.FLAG_IO_DATA) != 0  # len1: the data's whole length
    cut1 = np.where(~io & (ext["len1"] > l1), l1, ext["len1"]).astype(np.int16)
    cut2 = np.where(ext["len2"] > l2, l2, ext["len2"]).astype(np.int16)
    for name, vals in (("len1", cut1), ("len2", cut2), ("argc", ext["argc"]),
                       ("pad", ext["pad"])):
        full = np.zeros(n, dtype=vals.dtype)
        full[valid] = vals
        cols[name] = pa.array(full, mask=mask)
    s1 = np.ascontiguousarray(ext["str1"]).view(np.uint8).reshape(len(ext), layout.STR1_LEN)
    s2 = np.ascontiguousarray(ext["str2"]).view(np.uint8).reshape(len(ext), layout.STR2_LEN)
    cols["str1"] = _binary_column(n, s1, l1, valid)
    cols["str2"] = _binary_column(n, s2, l2, valid)
    return pa.RecordBatch.from_arrays([cols[f.name] for f in SCHEMA], schema=SCHEMA)


def batch_to_raw(rb: pa.RecordBatch) -> tuple[RawBatch, np.ndarray]:
    """A capture batch back as the RawBatch the live decoder saw (with its order and
    numbers), and the ``ctx`` mask in decoding order."""
    n = rb.num_rows
    col = rb.column
    idx = _INDEX
    len1 = col(idx["len1"])
    # the bitmap's bits (Array.is_valid imports pyarrow.compute, ~21 ms, at its first call)
    is_ext = _validity(len1) if len1.null_count else np.ones(n, dtype=bool)
    ext_rows = np.flatnonzero(is_ext)
    plain_rows = np.flatnonzero(~is_ext)
    n_plain = len(plain_rows)
    rec, plain = _records(rb, ~is_ext, n_plain)
    if plain is None:
        plain = take_records(rec, plain_rows)
    ext = np.zeros(len(ext_rows), dtype=layout.EXT_RECORD)
    ext["ev"] = take_records(rec, ext_rows)
    for name in _EXT_INT_COLUMNS:
        ext[name] = _values(col(idx[name]))[ext_rows]
    for name, width in (("str1", layout.STR1_LEN), ("str2", layout.STR2_LEN)):
        c = col(idx[name])
        if not (len(ext_rows) and _fixed_into(ext, name, c, width, ext_rows)):
            ext[name] = _fixed_rows(c, width, ext_rows).view(f"V{width}").reshape(
                len(ext_rows))
    order = np.empty(n, dtype=np.int64)
    order[plain_rows] = np.arange(n_plain)
    order[ext_rows] = n_plain + np.arange(len(ext_rows))
    num = _values(col(idx["num"])).copy()
    ctx = _values(col(idx["ctx"]))
    # ``merged``: the records already in decoding order (the decoder takes them as is)
    return RawBatch(plain, ext, order, num, merged=rec), ctx


_INDEX = {f.name: i for i, f in enumerate(SCHEMA)}


def _field(dt: np.dtype, name: str) -> tuple[np.dtype, int]:
    """(dtype, byte offset) of a field of a structured dtype."""
    fields = dt.fields
    assert fields is not None
    return fields[name][0], int(fields[name][1])


# (record field, its byte offset, the column) of every plain field a capture stores
_REC_FIELDS = [(name, _field(layout.RECORD, name)[1], name) for name in _PLAIN_INT_COLUMNS] + \
    [("args", _field(layout.RECORD, "args")[1] + 8 * i, f"arg{i}") for i in range(6)]
_COMM_AT = _field(layout.RECORD, "comm")[1]
# every byte of a record is one of those fields or comm: no zeroing needed first
_COVERED = sum(_field(layout.RECORD, name)[0].itemsize for name in PLAIN_FIELDS) == \
    layout.RECORD.itemsize


def _records(rb: pa.RecordBatch, is_plain: np.ndarray, n_plain: int
             ) -> tuple[np.ndarray, np.ndarray | None]:
    """(the batch's records, in row order; those of ``is_plain`` rows, or None when
    the numpy path ran: the caller takes them)."""
    n = rb.num_rows
    col = rb.column
    if kernels.lib() is not None and _COVERED:
        cols = [(at, _values(col(_INDEX[c]))) for _, at, c in _REC_FIELDS]
        if all(v.dtype == _field(layout.RECORD, f)[0].base for (f, _, _), (_, v) in
               zip(_REC_FIELDS, cols, strict=True)):
            rec = np.empty(n, dtype=layout.RECORD)
            comm = col(_INDEX["comm"])
            if _fixed_into(rec, "comm", comm, layout.COMM_LEN, None):
                plain = np.empty(n_plain, dtype=layout.RECORD)
                if kernels.fill_rows(rec, cols, is_plain, plain):
                    return rec, plain
    rec = np.zeros(n, dtype=layout.RECORD)
    for name in _PLAIN_INT_COLUMNS:
        rec[name] = _values(col(_INDEX[name]))
    args = rec["args"]
    for i in range(6):
        args[:, i] = _values(col(_INDEX[f"arg{i}"]))
    # a batch holds few distinct comms: each padded once, then gathered by its code
    comm = col(_INDEX["comm"]).dictionary_encode()
    rec["comm"] = _fixed_rows(comm.dictionary, layout.COMM_LEN).view(
        f"S{layout.COMM_LEN}").reshape(-1)[comm.indices.to_numpy(zero_copy_only=False)]
    return rec, None


def _fixed_into(out: np.ndarray, field: str, col: pa.Array, width: int,
                rows: np.ndarray | None) -> bool:
    """``out[field] = _fixed_rows(col, width, rows)`` by the kernel; False without it."""
    if kernels.lib() is None:
        return False
    bufs = col.buffers()
    offs = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1, offset=col.offset * 4)
    return kernels.fill_fixed(out, _field(out.dtype, field)[1], width, offs, bufs[2], rows)


def _empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in SCHEMA],
                                      schema=SCHEMA)



def host_info(syscalls: SyscallTable, mono_to_wall_ns: int) -> dict[str, Any]:
    """What a reader needs to know about the machine a capture was taken on."""
    from ... import __version__

    u = os.uname()
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
    except OSError:
        boot_id = ""
    return {"hostname": u.nodename, "kernel": u.release, "arch": platform.machine(),
            "syscall_arch": syscalls.arch, "mono_to_wall_ns": mono_to_wall_ns,
            "cdig_version": __version__, "boot_id": boot_id}
