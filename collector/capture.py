"""Capture files: ``cdig trace -w`` writes them, ``-r`` reads them back as a source.

Format (``cdig-capture`` version 1): an Arrow IPC **stream** of zstd-compressed
record batches, readable as is by pyarrow, DuckDB, polars and pandas.

* One row per **raw probe record** (both rings merged in the order the decoder
  processes them): replay runs the very same Decoder → State → Filter → sinks
  path as live, so ``cdig trace -r`` prints what ``cdig trace`` printed.
  Columns: ``num`` (the live ``evt.num``), ``ctx`` (true for a record kept only
  because it changes the fd/process tables; replay does not show it), the
  ``probes.layout.RECORD`` fields (``ts_ns`` is CLOCK_MONOTONIC as the probe
  gave it; ``args`` as ``arg0``..``arg5``; ``comm`` as binary), and for
  records with strings ``len1 len2 argc pad str1 str2`` (null for plain
  records; strings trimmed to their length, at most the snaplen).
* Schema metadata: ``cdig.format``, ``cdig.version``, ``cdig.header`` (JSON:
  host name, kernel, architecture, syscall table, the ``mono_to_wall_ns``
  offset, cdig version, boot id, session id, file index, snaplen, filter) and
  ``cdig.snapshot`` (JSON: the collector's tables when the file starts:
  processes, their fds, containers with their cgroup ids, cgroup → container).
  JSON values longer than 4 KiB are zlib-compressed under the key + ``.z``
  (``cdig.snapshot.z``, ``cdig.state.z``): Arrow does not compress metadata.
* Batch metadata (``cdig.state``, JSON): what changed while the batch's
  records were processed live — containers first seen or whose metadata
  arrived, cgroup ids resolved, and a journal of every answer the live state
  got from /proc (process info, fd targets, cwd, sockets) — so a reader names
  processes, fds and containers exactly as the live trace did, on any machine.
  Also the drop counter. Applied by the reader *before* the batch's records.
* Crash safety: a batch is written (and flushed to the kernel) every
  ``flush_rows`` records or every ``flush_s`` seconds, so a killed writer loses
  at most the last second. Every batch carries a CRC-32 (``cdig.digest``) of
  its columns and metadata: a truncated or damaged file reads back every
  complete, intact batch before the damage; the reader then reports the loss.
* Files are created mode 0600 (captures hold paths, argv and addresses), each a
  new inode of the effective user: never another user's file (``safe_open``).
* Rotation as sysdig: ``-C`` MB (10^6 bytes), ``-G`` seconds, ``-W`` files
  kept. Each file starts with its own snapshot, so every file of a rotation
  set can be read alone; read together, they continue one another.

Only this module knows the format. It imports neither bcc nor the probe loader.
"""

from __future__ import annotations

import glob
import json
import os
import platform
import time
import uuid
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from ..probes import layout
from ..probes.syscalls import NO_ARG, SyscallTable, table
from .batch import take_records
from .bounded import (
    MetadataError,
    check_header,
    check_snapshot,
    check_state,
    first_oversized_batch,
    inflate,
    load_json,
)
from .decode import RawBatch
from .events import HOST, Container
from .procfs import PROC_ROOT, ProcFS, ProcInfo
from .safe_open import (
    OutputFailed,
    OutputRefused,
    check_replaceable,
    create_private,
    same_file,
)
from .state import State

FORMAT_NAME = "cdig-capture"
FORMAT_VERSION = 1
MB = 1_000_000  # sysdig's -C unit

_U64, _I64, _U32, _U16, _I16, _U8 = (pa.uint64(), pa.int64(), pa.uint32(), pa.uint16(),
                                     pa.int16(), pa.uint8())


def _f(name: str, typ: pa.DataType, nullable: bool = False) -> pa.Field:
    return pa.field(name, typ, nullable=nullable)


SCHEMA = pa.schema([
    _f("num", _U64), _f("ctx", pa.bool_()),
    _f("ts_ns", _U64), _f("latency_ns", _U64), _f("cgroup_id", _U64), _f("ret", _I64),
    *[_f(f"arg{i}", _U64) for i in range(6)],
    _f("pid", _U32), _f("tid", _U32), _f("uid", _U32), _f("gid", _U32),
    _f("nr", _U16), _f("kind", _U8), _f("flags", _U8), _f("cpu", _U32),
    _f("comm", pa.binary()),
    _f("len1", _I16, True), _f("len2", _I16, True), _f("argc", _U16, True),
    _f("pad", _U16, True), _f("str1", pa.binary(), True), _f("str2", pa.binary(), True),
])
_PLAIN_INT_COLUMNS = ("ts_ns", "latency_ns", "cgroup_id", "ret", "pid", "tid", "uid", "gid",
                      "nr", "kind", "flags", "cpu")
_EXT_INT_COLUMNS = ("len1", "len2", "argc", "pad")
_K_FORMAT, _K_VERSION = b"cdig.format", b"cdig.version"
_K_HEADER, _K_SNAPSHOT, _K_STATE, _K_DIGEST = (b"cdig.header", b"cdig.snapshot", b"cdig.state",
                                               b"cdig.digest")
_STREAM_EOS = b"\xff\xff\xff\xff\x00\x00\x00\x00"
_PACK_OVER = 4096  # JSON metadata longer than this is stored zlib-compressed, key + ".z"


def _pack(key: bytes, obj: Any) -> tuple[bytes, bytes]:
    """(key, value) for a JSON metadata value: Arrow does not compress metadata, and
    a snapshot of a busy host's processes (argv and all) can be megabytes."""
    raw = json.dumps(obj, separators=(",", ":")).encode()
    if len(raw) > _PACK_OVER:
        return key + b".z", zlib.compress(raw, 6)
    return key, raw


def _unpacked(meta: dict[bytes, bytes], key: bytes, default: bytes) -> tuple[bytes, bytes]:
    """(stored bytes, JSON bytes) of a metadata value written by _pack."""
    if key + b".z" in meta:
        stored = meta[key + b".z"]
        return stored, inflate(stored)  # bounded: a crafted file is not a zip bomb
    stored = meta.get(key, default)
    return stored, stored


class CaptureError(Exception):
    """A file that cannot be read as a capture at all. The message is one line."""


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
    lens = np.minimum(ends - starts, width).astype(np.int64)
    m = len(lens)
    out = np.zeros((m, width), dtype=np.uint8)
    total = int(lens.sum())
    if total:
        data = np.frombuffer(bufs[2], dtype=np.uint8)
        cum = np.cumsum(lens) - lens
        rel = np.arange(total, dtype=np.int64) - np.repeat(cum, lens)
        src = np.repeat(starts.astype(np.int64), lens) + rel
        dst = np.repeat(np.arange(m, dtype=np.int64) * width, lens) + rel
        out.reshape(-1)[dst] = data[src]
    return out


def _values(col: pa.Array) -> np.ndarray:
    """A primitive column's values buffer as numpy (nulls hold whatever was written)."""
    if not len(col):
        return np.zeros(0, dtype=np.dtype(col.type.to_pandas_dtype()))
    if pa.types.is_boolean(col.type):
        return np.asarray(col.fill_null(False).to_numpy(zero_copy_only=False))
    dt = np.dtype(col.type.to_pandas_dtype())
    return np.frombuffer(col.buffers()[1], dtype=dt, count=len(col),
                         offset=col.offset * dt.itemsize)


def batch_digest(rb: pa.RecordBatch, meta: bytes) -> str:
    """CRC-32 of a batch's column contents and metadata, as 8 hex digits.

    Computed on the values (not the file bytes), so the writer and the reader
    compute it the same way; a flipped bit anywhere in a batch is caught even
    where zstd and Arrow's own checks would not notice."""
    crc = zlib.crc32(meta)
    crc = zlib.crc32(rb.num_rows.to_bytes(8, "little"), crc)
    for col in rb.columns:
        crc = zlib.crc32(col.null_count.to_bytes(8, "little"), crc)  # metadata, not bitmap
        if not len(col):
            continue
        valid = None
        if col.null_count:
            valid = np.asarray(col.is_valid().to_numpy(zero_copy_only=False))
            crc = zlib.crc32(np.packbits(valid).tobytes(), crc)
        if pa.types.is_binary(col.type):
            bufs = col.buffers()
            offs = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1,
                                 offset=col.offset * 4)
            crc = zlib.crc32((offs - offs[0]).tobytes(), crc)
            if bufs[2] is not None and offs[-1] > offs[0]:
                crc = zlib.crc32(memoryview(bufs[2])[offs[0]:offs[-1]], crc)
        else:
            v = _values(col)
            if valid is not None:
                v = v[valid]
            crc = zlib.crc32(np.ascontiguousarray(v).tobytes(), crc)
    return f"{crc:08x}"


def _comm_lengths(comm2d: np.ndarray) -> np.ndarray:
    """Length of each comm up to its last non-NUL byte (numpy's S16 semantics)."""
    nz = comm2d != 0
    w = comm2d.shape[1]
    last = w - np.argmax(nz[:, ::-1], axis=1)
    return np.where(nz.any(axis=1), last, 0)


@dataclass
class _Rows:
    """Records chosen for a capture, in decoding order (one piece of a batch)."""

    records: np.ndarray  # layout.RECORD
    ext: np.ndarray  # layout.EXT_RECORD, one per True in is_ext, in order
    is_ext: np.ndarray  # bool per record
    num: np.ndarray  # uint64 per record
    ctx: np.ndarray  # bool per record


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
        l1 = np.clip(ext["len1"].astype(np.int32), 0, layout.STR1_LEN)
        l2 = np.clip(ext["len2"].astype(np.int32), 0, layout.STR2_LEN)
        if self.snaplen is not None:
            ev = ext["ev"]
            syscall = ev["kind"] <= layout.KIND_SYSCALL_ENTER
            addr1 = (ev["flags"] & layout.FLAG_LOCAL_ADDR) != 0
            addr2 = syscall & self.addr2[ev["nr"]]
            l1 = np.where(addr1, l1, np.minimum(l1, self.snaplen))
            l2 = np.where(addr2, l2, np.minimum(l2, self.snaplen))
        return l1, l2


def rows_to_batch(rows: _Rows, snap: _Snaplen) -> pa.RecordBatch:
    """The Arrow batch of some chosen records (see the module docstring)."""
    rec = rows.records
    n = len(rec)
    cols: dict[str, pa.Array] = {
        "num": pa.array(rows.num.astype(np.uint64, copy=False)),
        "ctx": pa.array(rows.ctx.astype(bool, copy=False)),
    }
    for name in ("ts_ns", "latency_ns", "cgroup_id", "ret"):
        cols[name] = pa.array(np.ascontiguousarray(rec[name]))
    args = rec["args"]
    for i in range(6):
        cols[f"arg{i}"] = pa.array(np.ascontiguousarray(args[:, i]))
    for name in ("pid", "tid", "uid", "gid", "nr", "kind", "flags", "cpu"):
        cols[name] = pa.array(np.ascontiguousarray(rec[name]))
    comm2d = np.ascontiguousarray(rec["comm"]).view(np.uint8).reshape(n, layout.COMM_LEN)
    cols["comm"] = _binary_column(n, comm2d, _comm_lengths(comm2d))
    ext = rows.ext
    valid = rows.is_ext
    mask = ~valid
    l1, l2 = snap.lengths(ext)
    cut1 = np.where(ext["len1"] > l1, l1, ext["len1"]).astype(np.int16)
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
    idx = {f.name: i for i, f in enumerate(SCHEMA)}
    rec = np.zeros(n, dtype=layout.RECORD)
    for name in _PLAIN_INT_COLUMNS:
        rec[name] = _values(col(idx[name]))
    args = rec["args"]
    for i in range(6):
        args[:, i] = _values(col(idx[f"arg{i}"]))
    rec["comm"] = _fixed_rows(col(idx["comm"]), layout.COMM_LEN).view(
        f"S{layout.COMM_LEN}").reshape(n)
    len1 = col(idx["len1"])
    is_ext = np.asarray(len1.is_valid().to_numpy(zero_copy_only=False)) if len1.null_count \
        else np.ones(n, dtype=bool)
    ext_rows = np.flatnonzero(is_ext)
    plain_rows = np.flatnonzero(~is_ext)
    n_plain = len(plain_rows)
    ext = np.zeros(len(ext_rows), dtype=layout.EXT_RECORD)
    ext["ev"] = take_records(rec, ext_rows)
    for name in _EXT_INT_COLUMNS:
        ext[name] = _values(col(idx[name]))[ext_rows]
    ext["str1"] = _fixed_rows(col(idx["str1"]), layout.STR1_LEN, ext_rows).view(
        f"V{layout.STR1_LEN}").reshape(len(ext_rows))
    ext["str2"] = _fixed_rows(col(idx["str2"]), layout.STR2_LEN, ext_rows).view(
        f"V{layout.STR2_LEN}").reshape(len(ext_rows))
    order = np.empty(n, dtype=np.int64)
    order[plain_rows] = np.arange(n_plain)
    order[ext_rows] = n_plain + np.arange(len(ext_rows))
    num = _values(col(idx["num"])).copy()
    ctx = _values(col(idx["ctx"]))
    # ``merged``: the records already in decoding order (the decoder takes them as is)
    return RawBatch(take_records(rec, plain_rows), ext, order, num, merged=rec), ctx


# --------------------------------------------------------------------------- tables


def _container_dict(key: int, c: Container, cgroup_ids: Sequence[int] = ()) -> dict[str, Any]:
    return {"key": key, "id": c.id, "name": c.name, "runtime": c.runtime, "image": c.image,
            "labels": dict(c.labels), "cgroup_path": c.cgroup_path, "pod_name": c.pod_name,
            "pod_namespace": c.pod_namespace, "pod_uid": c.pod_uid,
            "cgroup_ids": sorted(cgroup_ids)}


def _container_fingerprint(c: Container) -> tuple:
    """Cheap enough per event: the resolver replaces ``labels`` (never edits it) when
    the runtime answers, so the dict's identity stands for its content."""
    return (c.id, c.name, c.runtime, c.image, id(c.labels), c.cgroup_path, c.pod_name,
            c.pod_namespace, c.pod_uid)


def _info_json(info: ProcInfo | None) -> list[Any] | None:
    if info is None:
        return None
    return [info.ppid, info.name, info.exe, info.argv, info.uid]


def _info_from_json(pid: int, v: list[Any] | None) -> ProcInfo | None:
    if v is None:
        return None
    return ProcInfo(pid=pid, ppid=v[0], name=v[1], exe=v[2], argv=list(v[3]), uid=v[4])


class RecordingProcFS(ProcFS):
    """Answers from the real /proc, each one appended to ``journal`` with the evt.num
    of the record that asked (``at``, set by the enricher): a replay gives each
    record the answer live gave it, even when the same question got two answers
    in one batch (an fd closed and reused between two lookups)."""

    def __init__(self, inner: ProcFS, journal: list[list[Any]]) -> None:
        super().__init__(inner.root)
        self.inner = inner
        self.journal = journal
        self.at = 0

    def list_pids(self) -> list[int]:
        pids = self.inner.list_pids()
        self.journal.append(["pids", pids])
        return pids

    def read_proc(self, pid: int) -> ProcInfo | None:
        info = self.inner.read_proc(pid)
        self.journal.append(["proc", pid, _info_json(info), self.at])
        return info

    def fd_target(self, pid: int, fd: int) -> str | None:
        t = self.inner.fd_target(pid, fd)
        self.journal.append(["fd", pid, fd, t, self.at])
        return t

    def cwd(self, pid: int) -> str | None:
        c = self.inner.cwd(pid)
        self.journal.append(["cwd", pid, c, self.at])
        return c

    def is_dir(self, path: str) -> bool:
        d = self.inner.is_dir(path)
        self.journal.append(["dir", path, d, self.at])
        return d

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        t = self.inner.socket_tuple(pid, inode)
        self.journal.append(["sock", pid, inode, list(t) if t else None, self.at])
        return t


_STAMP_AT = {"proc": 3, "fd": 4, "cwd": 3, "dir": 3, "sock": 4}  # index of the evt.num


class ReplayProcFS(ProcFS):
    """Answers from a capture's journal: what the live state was told — the answer
    given to the very record asking (``at``) when the journal says, else the latest;
    unknown questions get the answer of a process that is gone (None)."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.pids: list[int] = []
        self.answers: dict[tuple, Any] = {}
        self.stamped: dict[tuple, Any] = {}  # (question, evt.num) -> answer
        self.at = 0

    def apply(self, journal: list[list[Any]]) -> None:
        a = self.answers
        stamped = self.stamped
        stamped.clear()  # stamps name records of the batch this journal precedes
        for entry in journal:
            kind = entry[0]
            if kind == "pids":
                self.pids = list(entry[1])
                continue
            if kind == "proc":
                key, value = ("proc", entry[1]), _info_from_json(entry[1], entry[2])
            elif kind == "fd":
                key, value = ("fd", entry[1], entry[2]), entry[3]
            elif kind == "cwd":
                key, value = ("cwd", entry[1]), entry[2]
            elif kind == "dir":
                key, value = ("dir", entry[1]), bool(entry[2])
            elif kind == "sock":
                key, value = ("sock", entry[1], entry[2]), tuple(entry[3]) if entry[3] else None
            else:
                continue
            a[key] = value
            i = _STAMP_AT[kind]
            if len(entry) > i and isinstance(entry[i], int):
                stamped[key, entry[i]] = value
        if len(a) > 1 << 20:  # bounded, as the live tables are
            for k in list(a)[: len(a) // 2]:
                del a[k]

    def _get(self, key: tuple, default: Any = None) -> Any:
        hit = self.stamped.get((key, self.at), _MISSING)
        return self.answers.get(key, default) if hit is _MISSING else hit

    def list_pids(self) -> list[int]:
        return list(self.pids)

    def read_proc(self, pid: int) -> ProcInfo | None:
        return self._get(("proc", pid))

    def fd_target(self, pid: int, fd: int) -> str | None:
        return self._get(("fd", pid, fd))

    def cwd(self, pid: int) -> str | None:
        return self._get(("cwd", pid))

    def is_dir(self, path: str) -> bool:
        return bool(self._get(("dir", path), False))

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        return self._get(("sock", pid, inode))


_MISSING = object()


def host_info(syscalls: SyscallTable, mono_to_wall_ns: int) -> dict[str, Any]:
    """What a reader needs to know about the machine a capture was taken on."""
    from .. import __version__

    u = os.uname()
    try:
        with open("/proc/sys/kernel/random/boot_id") as f:
            boot_id = f.read().strip()
    except OSError:
        boot_id = ""
    return {"hostname": u.nodename, "kernel": u.release, "arch": platform.machine(),
            "syscall_arch": syscalls.arch, "mono_to_wall_ns": mono_to_wall_ns,
            "cdig_version": __version__, "boot_id": boot_id}


# --------------------------------------------------------------------------- writing


@dataclass
class Rotation:
    """sysdig's -C/-G/-W: ``size_bytes`` per file, ``period_s`` per file, ``keep`` files."""

    size_bytes: int | None = None
    period_s: float | None = None
    keep: int | None = None

    @property
    def active(self) -> bool:
        return self.size_bytes is not None or self.period_s is not None


def open_private(path: str) -> Any:
    """A new file at ``path``, mode 0600, of the effective user (never an existing
    inode: another user's file is refused, an own file replaced; see safe_open)."""
    return create_private(path)[0]


class CaptureWriter:
    """Writes capture files: one Arrow stream per file, rotated per ``Rotation``.

    ``header`` (host info, filter …) goes into every file with the file's index;
    ``open(snapshot)``/``rotate(snapshot)`` start a file with the tables as they
    are at that moment. ``clock`` (wall seconds) is a parameter for tests.
    """

    def __init__(self, path: str, header: dict[str, Any], rotation: Rotation | None = None,
                 clock: Callable[[], float] = time.time, compression_level: int = 3,
                 sync: bool = True) -> None:
        self.base = path
        self.rotation = rotation or Rotation()
        self.clock = clock
        self.header = dict(header)
        self.header.setdefault("session", uuid.uuid4().hex)
        self.header.setdefault("session_started_ns", int(clock() * 1e9))
        self.options = ipc.IpcWriteOptions(compression=pa.Codec("zstd", compression_level))
        self.sync = sync
        self.files: list[str] = []  # every file created, in order
        self.index = -1
        self.bytes_closed = 0  # bytes in files already closed
        self.rows = 0
        self._file: Any = None
        self._writer: ipc.RecordBatchStreamWriter | None = None
        self._opened_at = 0.0
        self._file_rows = 0
        self._identity: dict[str, os.stat_result] = {}  # name -> the inode created
        self._failed: OutputFailed | None = None  # a write failed: the file is given up
        first = self._name(0, clock())
        if os.path.lexists(first):  # refused now, not after the probe has compiled
            check_replaceable(first, os.lstat(first))

    # -- files ------------------------------------------------------------------
    def _name(self, index: int, now: float) -> str:
        r = self.rotation
        if r.period_s is not None:
            if "%" in self.base:
                name = time.strftime(self.base, time.localtime(now))
            else:
                name = self.base + time.strftime(".%Y%m%d-%H%M%S", time.localtime(now))
            if name in self.files or os.path.lexists(name) and index:
                name = f"{name}.{index}"
            return name
        if r.size_bytes is not None:
            return f"{self.base}{index}"
        return self.base

    def open(self, snapshot: dict[str, Any]) -> str:
        """Start the next file with ``snapshot``; returns its name."""
        now = self.clock()
        self.index += 1
        name = self._name(self.index, now)
        try:
            f, st = create_private(name)
        except OutputRefused:
            raise
        except OSError as e:
            if not self.index:  # the first file: the caller says "cannot write"
                raise
            raise self._fail(e, name, 0) from None  # a rotation on a full disk
        self._identity[name] = st
        header = dict(self.header, file_index=self.index, file_started_ns=int(now * 1e9))
        hb = json.dumps(header, separators=(",", ":")).encode()
        skey, sb = _pack(_K_SNAPSHOT, snapshot)
        meta = {_K_FORMAT: FORMAT_NAME.encode(), _K_VERSION: str(FORMAT_VERSION).encode(),
                _K_HEADER: hb, skey: sb,
                _K_DIGEST: f"{zlib.crc32(sb, zlib.crc32(hb)):08x}".encode()}
        self._file = f
        self._writer = ipc.new_stream(f, SCHEMA.with_metadata(meta), options=self.options)
        self._opened_at = now
        self._file_rows = 0
        self.files.append(name)
        # the schema goes out with the first batch: write an empty one now, so a
        # file exists with its header even if nothing matches for a while
        self.write(_empty_batch(), {})
        self._prune()
        return name

    def _prune(self) -> None:
        keep = self.rotation.keep
        if keep is None:
            return
        # only files cdig created and that are still there: never what someone put
        # at one of their names since
        live = [p for p in self.files if p in self._identity and
                same_file(self._identity[p], p)]
        for old in live[: max(0, len(live) - keep)]:
            del self._identity[old]
            try:
                os.unlink(old)
            except OSError:
                pass

    def write(self, rb: pa.RecordBatch, state: dict[str, Any]) -> None:
        """Append one batch with its state changes; flushed to the kernel at once.

        A failed write (full disk, quota, EIO) raises OutputFailed, one line with
        how much was written; the file is given up (what it holds stays readable)."""
        if self._failed is not None:
            raise self._failed
        assert self._writer is not None, "open() first"
        key, sb = _pack(_K_STATE, state)
        try:
            self._writer.write_batch(rb, custom_metadata={
                key: sb, _K_DIGEST: batch_digest(rb, sb).encode()})
            self._file.flush()
            if self.sync and rb.num_rows:
                os.fdatasync(self._file.fileno())  # a power cut loses at most this second
        except (OSError, OutputFailed) as e:
            raise self._fail(e) from None
        self.rows += rb.num_rows
        self._file_rows += rb.num_rows

    def size(self) -> int:
        """Bytes in the current file."""
        return self._file.tell() if self._file is not None else 0

    @property
    def bytes_written(self) -> int:
        return self.bytes_closed + self.size()

    def due(self) -> bool:
        """Whether the current file is full (-C) or old enough (-G)."""
        r = self.rotation
        if self._writer is None:
            return False
        if not self._file_rows:  # never rotate a file that holds no records yet
            return False
        if r.size_bytes is not None and self.size() >= r.size_bytes:
            return True
        return r.period_s is not None and self.clock() - self._opened_at >= r.period_s

    def rotate(self, snapshot: dict[str, Any]) -> str:
        self._close_file()
        return self.open(snapshot)

    def _close_file(self) -> None:
        if self._writer is not None:
            try:
                self._writer.close()  # writes the end-of-stream marker
                self._file.flush()
                if self.sync:
                    os.fsync(self._file.fileno())
                self.bytes_closed += self._file.tell()
                self._file.close()
            except (OSError, OutputFailed) as e:
                raise self._fail(e) from None
            self._writer = None
            self._file = None

    def _fail(self, e: OSError | OutputFailed, name: str | None = None,
              size: int | None = None) -> OutputFailed:
        """Give the current file up after ``e``; the error to raise (and re-raise)."""
        name = name or (self.files[-1] if self.files else self.base)
        if size is None:
            size = e.size if isinstance(e, OutputFailed) else 0
            try:
                size = os.fstat(self._file.fileno()).st_size
            except (OSError, ValueError, AttributeError):
                pass
        reason = e.reason if isinstance(e, OutputFailed) else (e.strerror or str(e))
        where = f" in {len(self.files)} files" if len(self.files) > 1 else ""
        self._failed = OutputFailed(
            name, reason, size, f" ({self.rows} events in complete batches{where}, readable "
            "with cdig trace -r)")
        f, self._file, self._writer = self._file, None, None
        if f is not None:
            self.bytes_closed += size
            try:
                f.close()
            except (OSError, OutputFailed):
                pass  # the same failure again, from the buffered rest
        return self._failed

    def close(self) -> None:
        """Close the file; after a failed write, just let the descriptor go."""
        if self._failed is not None:
            return
        self._close_file()


def _empty_batch() -> pa.RecordBatch:
    return pa.RecordBatch.from_arrays([pa.array([], type=f.type) for f in SCHEMA],
                                      schema=SCHEMA)


class CaptureRecorder:
    """The capture writer as a session stage (a batch sink of ``collector.session``).

    * ``container_of``/``procfs`` wrap the live lookups State uses and record
      their answers; pass them to ``State``.
    * Called with each enriched batch and its matched mask, it keeps the matched
      rows plus those that change state (so a reader names fds and processes as
      live did; marked ``ctx``), with the batch's own numbers.
    * Batches are written every ``flush_rows`` records or ``flush_s`` seconds;
      files rotate per the writer's Rotation.
    """

    batch_sink = True

    def __init__(self, writer: CaptureWriter, syscalls: SyscallTable,
                 live_container_of: Callable[[int, int], Container] | None = None,
                 live_procfs: ProcFS | None = None, snaplen: int | None = None,
                 flush_rows: int = 65536, flush_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        self.syscalls = syscalls
        self.snap = _Snaplen(snaplen, syscalls)
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.monotonic = monotonic
        self._live_container_of = live_container_of or (lambda cg, pid: HOST)
        self.journal: list[list[Any]] = []
        self.procfs = RecordingProcFS(live_procfs or ProcFS(PROC_ROOT), self.journal)
        self._keys: dict[int, int] = {id(HOST): 0}  # id(Container) -> key
        self._tracked: list[tuple[int, Container]] = []
        self._seen: dict[int, tuple] = {}  # key -> fingerprint last recorded
        self._queued: list[tuple[int, dict[str, Any]]] = []  # container dicts for next batch
        self._cgroup_ids: dict[int, set[int]] = {}  # key -> cgroup ids seen
        self._cg_map: dict[str, int] = {}
        self._pid_map: dict[str, int] = {}
        self.state: State | None = None
        self.source: Any = None
        self._pending: list[_Rows] = []
        self._pending_rows = 0
        self._last_flush = monotonic()
        self.written = 0  # records shown on replay (matched the filter)
        self.context = 0  # records written only for state
        state_nr = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            if spec.state:
                state_nr[spec.nr] = True
        self._state_nr = state_nr

    # -- lookups State makes --------------------------------------------------------
    def key_of(self, c: Container, seen_as: Container | None = None) -> int:
        """The capture's key of a live container (``seen_as``: the copy a batch's
        sinks saw, recorded when the container is new)."""
        k = self._keys.get(id(c))
        if k is None:
            k = self._keys[id(c)] = len(self._keys)
            self._tracked.append((k, c))
            shown = seen_as if seen_as is not None else c
            self._seen[k] = _container_fingerprint(shown)
            self._queued.append((k, _container_dict(k, shown)))  # as it is when first seen
        return k

    def container_of(self, cgroup_id: int, pid: int) -> Container:
        c = self._live_container_of(cgroup_id, pid)
        k = self.key_of(c)
        if cgroup_id:
            self._cg_map[str(cgroup_id)] = k
            self._cgroup_ids.setdefault(k, set()).add(cgroup_id)
        else:
            self._pid_map[str(pid)] = k
        return c

    def add_containers(self, by_cgroup: Sequence[tuple[int, Container]]) -> None:
        """Containers known at start with their cgroup ids (for the header)."""
        for cg, c in by_cgroup:
            self._cgroup_ids.setdefault(self.key_of(c), set()).add(cg)

    def _containers_changed(self, everything: bool = False) -> list[dict[str, Any]]:
        """Container dicts to write: those queued (as they were when seen), then any
        whose metadata changed unseen since (all of them with ``everything``)."""
        out = []
        queued, self._queued = self._queued, []
        for k, d in queued:
            d["cgroup_ids"] = sorted(self._cgroup_ids.get(k, ()))
            out.append(d)
        if everything:  # a new file: every container as it is now
            for k, c in self._tracked:
                self._seen[k] = _container_fingerprint(c)
                out.append(_container_dict(k, c, self._cgroup_ids.get(k, ())))
        return out

    # -- life cycle -------------------------------------------------------------------
    def start(self, state: State, decoder: Any = None, source: Any = None) -> str:
        """Open the first file with the state as it is now (after seed)."""
        self.state, self.source = state, source
        return self.writer.open(self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        assert self.state is not None
        snap = self.state.snapshot(self.key_of)
        snap["containers"] = self._containers_changed(everything=True)
        snap["pids"] = dict(self._pid_map)  # seeded processes' containers, by pid
        self.journal.clear()  # answers the snapshot's tables already hold
        self._cg_map.clear()
        self._pid_map.clear()
        return snap

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        """A session stage: keep the batch's matched rows and its state rows."""
        origin = b.container_origin or b.containers
        changed = []
        for live, seen in zip(origin, b.containers, strict=True):
            k = self.key_of(live, seen)
            fp = _container_fingerprint(seen)
            if fp != self._seen.get(k):  # metadata landed: from this batch on
                self._seen[k] = fp
                changed.append((k, _container_dict(k, seen)))
        if changed:
            if self._pending:
                self.flush()
            self._queued += changed
        rec = b.rec
        if len(rec):
            cols = b.cols
            is_state = (cols["kind"] >= layout.KIND_EXEC) | self._state_nr[cols["nr"]]
            keep = matched | is_state
            if keep.any():
                rows = np.flatnonzero(keep)
                xr = b.ext_row[rows]
                is_ext = xr >= 0
                k = int(np.count_nonzero(matched))
                self.written += k
                self.context += len(rows) - k
                ctx = ~matched[rows]
                self._pending.append(_Rows(rec[rows], b.ext[xr[is_ext]], is_ext,
                                           b.num[rows].astype(np.uint64), ctx))
                self._pending_rows += len(rows)
        now = self.monotonic()
        if self._pending_rows >= self.flush_rows or (
                now - self._last_flush >= self.flush_s and (self._pending_rows or self.journal
                                                            or self._cg_map or self._pid_map)):
            self.flush()
        if self.writer.due():
            self.flush()
            self.writer.rotate(self._snapshot())

    def flush(self) -> None:
        """Write what is pending as one batch, with the state changes behind it."""
        self._last_flush = self.monotonic()
        pieces, self._pending, self._pending_rows = self._pending, [], 0
        if pieces:
            rows = _Rows(*(np.concatenate([getattr(p, f) for p in pieces])
                           for f in ("records", "ext", "is_ext", "num", "ctx")))
            rb = rows_to_batch(rows, self.snap)
        else:
            rb = _empty_batch()
        state: dict[str, Any] = {}
        changed = self._containers_changed()
        if changed:
            state["containers"] = changed
        if self._cg_map:
            state["cgroups"] = dict(self._cg_map)
        if self._pid_map:
            state["pids"] = dict(self._pid_map)
        if self.journal:
            state["journal"] = self.journal[:]
        if self.source is not None:
            state["drops"] = int(self.source.drops())
        self.journal.clear()
        self._cg_map.clear()
        self._pid_map.clear()
        self.writer.write(rb, state)

    def close(self) -> None:
        """Write the last batch and close the file (also after -n or Ctrl-C)."""
        if self.state is None:
            self.writer.close()
            return
        self.flush()
        self.writer.close()

    @property
    def sink(self) -> CaptureRecorder:
        return self


# --------------------------------------------------------------------------- reading


@dataclass
class Loss:
    """What a damaged file lost: ``events`` read before the damage, bytes after it."""

    path: str
    events: int
    unreadable: int
    reason: str  # damaged, truncated, or skipped (only records of unknown kinds)
    skipped: int = 0  # records of a kind this cdig does not know, left out

    def message(self) -> str:
        unknown = f"{self.skipped} records of an unknown kind skipped"
        if self.reason == "skipped":
            return f"capture {self.path}: {unknown} (written by a newer cdig?)"
        return (f"capture {self.reason} after {self.events} events "
                f"({self.unreadable} bytes unreadable) in {self.path}"
                + (f"; {unknown}" if self.skipped else ""))


@dataclass
class CaptureBatch:
    """One batch of a capture file: its records and the state changes before them."""

    records: pa.RecordBatch
    state: dict[str, Any]


@dataclass
class CaptureFile:
    """One capture file, opened: header and snapshot read, batches on demand."""

    path: str
    header: dict[str, Any]
    snapshot: dict[str, Any]
    size: int
    loss: Loss | None = None
    events: int = 0  # records read so far
    skipped: int = 0  # records of unknown kinds left out (counted in ``loss``)
    _oversized: tuple[int, str] | None = field(default=None, repr=False)  # (batch, why)
    _source: Any = field(default=None, repr=False)
    _reader: Any = field(default=None, repr=False)

    @classmethod
    def open(cls, path: str) -> CaptureFile:
        """Read the header; CaptureError (one line) if this is not a capture."""
        try:
            size = os.path.getsize(path)
            # read, not memory-mapped: a mapped file that shrinks under the reader
            # (another process truncating it) kills it with SIGBUS; a read just
            # comes back short, which is damage like any other
            src = pa.OSFile(path) if size else None
        except OSError as e:
            raise CaptureError(f"{path}: {e.strerror or e}") from None
        if not size:
            raise CaptureError(f"{path}: not a cdig capture (empty file)")
        with open(path, "rb") as f:
            head = f.read(8)
        try:
            reader = ipc.open_stream(src)
            meta = reader.schema.metadata or {}
            same = _same_columns(reader.schema)
        except Exception as e:  # noqa: BLE001 - damaged bytes surface as any error type
            if head[:4] == b"\xff\xff\xff\xff":  # an Arrow stream cut inside its schema
                f = cls(path, {}, {}, size, _source=src)
                f.loss = Loss(path, 0, size, f._cause())
                return f
            raise CaptureError(f"{path}: not a cdig capture ({_one_line(e)})") from None
        if meta.get(_K_FORMAT) != FORMAT_NAME.encode():
            raise CaptureError(f"{path}: not a cdig capture (an Arrow stream without cdig "
                               "metadata)")
        version = meta.get(_K_VERSION, b"?").decode("ascii", "replace")
        if version != str(FORMAT_VERSION):
            raise CaptureError(f"{path}: capture format version {version} is not supported "
                               f"(this cdig reads version {FORMAT_VERSION})")
        hb = meta.get(_K_HEADER, b"")
        stored = meta.get(_K_SNAPSHOT + b".z", meta.get(_K_SNAPSHOT, b""))
        digest = f"{zlib.crc32(stored, zlib.crc32(hb)):08x}".encode()
        if meta.get(_K_DIGEST) != digest or not same:
            raise CaptureError(f"{path}: damaged capture header (checksum mismatch)")
        try:
            header = check_header(load_json(hb))
            snapshot = check_snapshot(load_json(_unpacked(meta, _K_SNAPSHOT, b"")[1]))
        except MetadataError as e:
            raise CaptureError(f"{path}: damaged capture header ({e})") from None
        try:  # what each batch declares it inflates to, before Arrow inflates it
            with open(path, "rb") as fh:
                oversized = first_oversized_batch(fh, cls._buffer_limits)
        except OSError as e:
            raise CaptureError(f"{path}: {e.strerror or e}") from None
        return cls(path, header, snapshot, size, _source=src, _reader=reader,
                   _oversized=oversized)

    _WIDTH = {"comm": layout.COMM_LEN, "str1": layout.STR1_LEN, "str2": layout.STR2_LEN}

    @classmethod
    def _buffer_limits(cls, rows: int) -> list[int]:
        """The largest each Arrow buffer of a capture batch of ``rows`` rows can be
        (validity, then values, or offsets and data), with padding to spare."""
        bits = (rows + 7) // 8 + 64
        out = []
        for f in SCHEMA:
            out.append(bits)
            if pa.types.is_binary(f.type):
                out += [(rows + 1) * 4 + 64, rows * cls._WIDTH[f.name] + 64]
            elif pa.types.is_boolean(f.type):
                out.append(bits)
            else:
                out.append(rows * f.type.bit_width // 8 + 64)
        return out

    def batches(self) -> Iterator[CaptureBatch]:
        """Every complete, intact batch; then ``loss`` says what could not be read."""
        reader, src = self._reader, self._source
        if reader is None:
            return
        end = src.tell()
        index = 0
        while True:
            if self._oversized is not None and index == self._oversized[0]:
                # declares more than a capture batch can hold: never inflated
                self.loss = Loss(self.path, self.events, self.size - end, "damaged",
                                 self.skipped)
                return
            index += 1
            try:
                rb, md = reader.read_next_batch_with_custom_metadata()
            except StopIteration:
                tail = self.size - end
                if tail != len(_STREAM_EOS):  # no end marker: the writer did not close
                    self.loss = Loss(self.path, self.events, max(0, tail), self._cause(),
                                     self.skipped)
                elif self.skipped:
                    self.loss = Loss(self.path, self.events, 0, "skipped", self.skipped)
                return
            except Exception:  # noqa: BLE001 - damaged bytes surface as any error type
                self.loss = Loss(self.path, self.events, self.size - end, self._cause(),
                                 self.skipped)
                return
            md = md or {}
            try:
                stored, sb = _unpacked(md, _K_STATE, b"{}")
                ok = md.get(_K_DIGEST) == batch_digest(rb, stored).encode() and \
                    rb.schema.equals(SCHEMA)
                state = check_state(load_json(sb)) if ok else None  # bounded, checked
            except Exception:  # noqa: BLE001 - as above
                ok, state = False, None
            if not ok or not isinstance(state, dict):
                self.loss = Loss(self.path, self.events, self.size - end, self._cause(),
                                 self.skipped)
                return
            rb = self._known_kinds(rb)
            end = src.tell()
            self.events += rb.num_rows
            yield CaptureBatch(rb, state)

    _KINDS = np.array(sorted(v for k, v in vars(layout).items() if k.startswith("KIND_")),
                      dtype=np.uint8)

    def _known_kinds(self, rb: pa.RecordBatch) -> pa.RecordBatch:
        """``rb`` without records of a kind this reader does not know (a newer writer's
        or a crafted file's): the decoder has no layout for them. Counted in ``skipped``."""
        if not rb.num_rows:
            return rb
        known = np.isin(_values(rb.column(SCHEMA.get_field_index("kind"))), self._KINDS)
        if known.all():
            return rb
        self.skipped += int(rb.num_rows - np.count_nonzero(known))
        return rb.filter(pa.array(known))

    def _cause(self) -> str:
        """A file the writer closed ends with the stream's end marker: damage inside
        it is damage; without the marker the writer stopped early (kill -9, power)."""
        try:
            with open(self.path, "rb") as f:
                f.seek(max(0, self.size - len(_STREAM_EOS)))
                ends_well = f.read() == _STREAM_EOS
        except OSError:
            ends_well = False
        return "damaged" if ends_well else "truncated"

    def close(self) -> None:
        if self._source is not None:
            self._source.close()


def _same_columns(schema: pa.Schema) -> bool:
    return [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in SCHEMA]


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__


def expand_paths(specs: Sequence[str]) -> list[str]:
    """Files, and globs of rotation sets; CaptureError if one names nothing."""
    out: list[str] = []
    for spec in specs:
        if any(ch in spec for ch in "*?[") and not os.path.exists(spec):
            hits = sorted(glob.glob(spec))
            if not hits:
                raise CaptureError(f"{spec}: no such file")
            out += hits
        else:
            out.append(spec)
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


class ReplaySource:
    """Records from capture files, as the ``EventSource`` of a replay pipeline.

    Files are put in capture order (session start, file index), whatever order
    they were named in. ``attach(state)`` gives the source the State to seed
    from each file's snapshot; build that State with ``container_of`` and
    ``procfs`` from here, so it answers from the capture, never from this host.
    A damaged file yields its intact batches, then ``losses`` says what was lost
    (``on_loss`` is called at once); the next file is read as usual.
    """

    def __init__(self, paths: Sequence[str], on_loss: Callable[[Loss], None] | None = None
                 ) -> None:
        files: list[CaptureFile] = []
        try:
            for p in expand_paths(paths):
                files.append(CaptureFile.open(p))
        except CaptureError:
            for f in files:
                f.close()
            raise
        if not files:
            raise CaptureError("no capture file given")
        self.losses: list[Loss] = [f.loss for f in files if f.loss is not None]
        readable = [f for f in files if f.header]
        readable.sort(key=lambda f: (f.header.get("session_started_ns", 0),
                                     f.header.get("session", ""), f.header.get("file_index", 0)))
        self.files = readable
        self.on_loss = on_loss
        for loss in self.losses:
            if on_loss:
                on_loss(loss)
        first = readable[0].header if readable else {}
        self.header = first
        arches = {f.header.get("syscall_arch") for f in readable}
        if len(arches) > 1:
            raise CaptureError("these captures come from different architectures: "
                               + ", ".join(sorted(str(a) for a in arches)))
        arch = first.get("syscall_arch") or platform.machine()
        try:
            self.syscalls = table(arch)
        except ValueError as e:
            raise CaptureError(f"{readable[0].path}: {e}") from None
        self.mono_to_wall_ns = int(first.get("mono_to_wall_ns", 0))
        self.procfs = ReplayProcFS()
        self.containers: dict[int, Container] = {0: HOST}
        self._cg_map: dict[int, int] = {}
        self._pid_map: dict[int, int] = {}
        self._state: State | None = None
        self._restored: CaptureFile | None = None
        self._stop = False
        self._drops = 0
        self.records = 0

    # -- what State asks ------------------------------------------------------------
    def container_of(self, cgroup_id: int, pid: int) -> Container:
        key = self._cg_map.get(cgroup_id) if cgroup_id else self._pid_map.get(pid)
        return self.containers.get(key, HOST) if key is not None else HOST

    def _container(self, key: int) -> Container:
        return self.containers.get(key, HOST)

    def attach(self, state: State) -> None:
        """Seed ``state`` from the first file's snapshot (replay's ``State.seed``)."""
        self._state = state
        if self.files:
            self._restore(self.files[0])
            self._restored = self.files[0]

    def _restore(self, f: CaptureFile) -> None:
        snap = f.snapshot
        self._apply({"containers": snap.get("containers", ()),
                     "cgroups": snap.get("cgroups", {}), "pids": snap.get("pids", {})})
        if self._state is not None:
            self._state.restore(snap, self._container)

    def _apply(self, state: dict[str, Any]) -> None:
        for d in state.get("containers", ()):
            key = int(d["key"])
            if key == 0:
                continue
            c = self.containers.get(key)
            if c is None:
                c = self.containers[key] = Container(id=d["id"], name=d["name"],
                                                     runtime=d["runtime"])
            c.id, c.name, c.runtime = d["id"], d["name"], d["runtime"]
            c.image, c.labels, c.cgroup_path = d["image"], dict(d["labels"]), d["cgroup_path"]
            c.pod_name, c.pod_namespace, c.pod_uid = (d["pod_name"], d["pod_namespace"],
                                                      d["pod_uid"])
            for cg in d.get("cgroup_ids", ()):
                self._cg_map.setdefault(int(cg), key)
        for cg, key in state.get("cgroups", {}).items():
            self._cg_map[int(cg)] = int(key)
        for pid, key in state.get("pids", {}).items():
            self._pid_map[int(pid)] = int(key)
        if "journal" in state:
            self.procfs.apply(state["journal"])
        if "drops" in state:
            self._drops = int(state["drops"])

    # -- EventSource -----------------------------------------------------------------
    def batches(self) -> Iterator[RawBatch]:
        prev: CaptureFile | None = None
        for f in self.files:
            if self._stop:
                break
            continues = prev is not None and prev.loss is None and \
                prev.header.get("session") == f.header.get("session") and \
                prev.header.get("file_index", 0) + 1 == f.header.get("file_index")
            if f is not self._restored:
                if continues:  # the state goes on; only learn the file's containers
                    self._apply({"containers": f.snapshot.get("containers", ())})
                else:
                    self._restore(f)
            self._restored = None
            shift = int(f.header.get("mono_to_wall_ns", self.mono_to_wall_ns)) - \
                self.mono_to_wall_ns
            for cb in f.batches():
                self._apply(cb.state)
                if not cb.records.num_rows:
                    continue
                raw, ctx = batch_to_raw(cb.records)
                raw.ctx = ctx if ctx.any() else None
                if shift:
                    _shift_ts(raw, shift)
                self.records += cb.records.num_rows
                yield raw
                if self._stop:
                    break
            if f.loss is not None:
                self.losses.append(f.loss)
                if self.on_loss:
                    self.on_loss(f.loss)
            f.close()
            prev = f

    def stop(self) -> None:
        self._stop = True

    def drops(self) -> int:
        """Events the live capture dropped (as recorded in the file)."""
        return self._drops

    def close(self) -> None:
        for f in self.files:
            f.close()


def _shift_ts(raw: RawBatch, delta: int) -> None:
    """Move monotonic timestamps so one decoder offset serves several sessions."""
    d = np.uint64(delta & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        raw.events["ts_ns"] += d
        if len(raw.ext):
            raw.ext["ev"]["ts_ns"] += d
        if raw.merged is not None:
            raw.merged["ts_ns"] += d
