"""Reading captures: files (intact batches up to any damage), rotation sets, and the
replay source that the Session runs like a live one."""

from __future__ import annotations

import glob
import os
import platform
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from ...probes.syscall_table import table
from ...probes.syscalls import layout
from ..bounded import (
    MetadataError,
    check_header,
    check_snapshot,
    check_state,
    first_oversized_batch,
    load_json,
)
from ..decode import RawBatch
from ..events import HOST, Container
from ..read_ahead import read_ahead as _read_ahead
from ..state import State
from .format import (
    _K_DIGEST,
    _K_FORMAT,
    _K_HEADER,
    _K_SNAPSHOT,
    _K_STATE,
    _K_VERSION,
    _PLAIN_INT_COLUMNS,
    _STREAM_EOS,
    FORMAT_NAME,
    FORMAT_VERSION,
    SCHEMA,
    CaptureError,
    _fixed_rows,
    _unpacked,
    _values,
    batch_digest,
    batch_to_raw,
)
from .journal import ReplayProcFS

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
    end: int = 0  # bytes of the file read through this batch (cdig trace -P)


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
        except Exception as e:  # damaged bytes surface as any error type
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
            except Exception:  # damaged bytes surface as any error type
                self.loss = Loss(self.path, self.events, self.size - end, self._cause(),
                                 self.skipped)
                return
            md = md or {}
            try:
                stored, sb = _unpacked(md, _K_STATE, b"{}")
                ok = md.get(_K_DIGEST) == batch_digest(rb, stored).encode() and \
                    rb.schema.equals(SCHEMA)
                state = check_state(load_json(sb)) if ok else None  # bounded, checked
            except Exception:  # as above
                ok, state = False, None
            if not ok or not isinstance(state, dict):
                self.loss = Loss(self.path, self.events, self.size - end, self._cause(),
                                 self.skipped)
                return
            rb = self._known_kinds(rb)
            end = src.tell()
            self.events += rb.num_rows
            yield CaptureBatch(rb, state, end)

    _KNOWN = np.zeros(256, dtype=bool)  # per kind byte: one this reader knows
    _KNOWN[[v for k, v in vars(layout).items() if k.startswith("KIND_")]] = True

    def _known_kinds(self, rb: pa.RecordBatch) -> pa.RecordBatch:
        """``rb`` without records of a kind this reader does not know (a newer writer's
        or a crafted file's): the decoder has no layout for them. Counted in ``skipped``."""
        if not rb.num_rows:
            return rb
        known = self._KNOWN[_values(rb.column(SCHEMA.get_field_index("kind")))]
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


def open_all(paths: Sequence[str], opener: Callable[[str], Any]) -> list[Any]:
    """Every file of ``paths`` (globs and rotation sets expanded), opened with ``opener``;
    on a CaptureError those already open are closed again. None at all is an error."""
    files: list[Any] = []
    try:
        for p in expand_paths(paths):
            files.append(opener(p))
    except CaptureError:
        for f in files:
            f.close()
        raise
    if not files:
        raise CaptureError("no capture file given")
    return files


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
        files = open_all(paths, CaptureFile.open)
        _reuse_freed_memory()
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
        self._read_bytes = 0
        self.records = 0
        # set by Session.replay: (columns, len2) -> rows to keep; the others are left
        # out before conversion, and ``left_out`` says how many of the batch last yielded
        self.prune: Callable[[Any, np.ndarray], np.ndarray] | None = None
        self.left_out = 0
        self._whole = True  # the session's first batch is never pruned (evt.reltime's start)

    def _pruner(self) -> Callable[[pa.RecordBatch], tuple[pa.RecordBatch, int]] | None:
        prune = self.prune
        if prune is None:
            return None

        def cut(rb: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
            if self._whole:  # the decoder takes the session's first time from it
                self._whole = False
                return rb, 0
            keep = prune(_ArrowColumns(rb), _len2(rb))
            if keep.all():
                return rb, 0
            return rb.filter(pa.array(keep)), int(len(keep) - np.count_nonzero(keep))

        return cut

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
            # what captures before these fields did not keep: unknown
            c.privileged = d.get("privileged")
            c.mounts = tuple((str(m[0]), str(m[1]), str(m[2]), m[3] is True, str(m[4]))
                             for m in d.get("mounts", ()) if len(m) == 5)
            c.image_id, c.image_digest = d.get("image_id", ""), d.get("image_digest", "")
            c.healthcheck = tuple(str(w) for w in d.get("healthcheck", ()))
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
    def progress(self) -> tuple[int, int]:
        """(bytes of the files behind the batches yielded so far, all the files' bytes):
        ``cdig trace -P``."""
        return self._read_bytes, sum(f.size for f in self.files)

    def batches(self) -> Iterator[RawBatch]:
        prev: CaptureFile | None = None
        before = 0  # bytes of the files already read
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
            for cb, converted, left_out in read_ahead(f.batches(), self._pruner()):
                self._apply(cb.state)
                self._read_bytes = before + cb.end
                if converted is None:
                    continue
                raw, ctx = converted
                self.left_out = left_out
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
            before += f.size
            if not self._stop:  # read to its end
                self._read_bytes = before

    def stop(self) -> None:
        self._stop = True

    def drops(self) -> int:
        """Events the live capture dropped (as recorded in the file)."""
        return self._drops

    def close(self) -> None:
        for f in self.files:
            f.close()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_reused = False


def _reuse_freed_memory() -> None:
    """Let glibc's malloc keep freed batch-sized blocks for the next batch.

    Each batch allocates records and columns of several MB; glibc maps blocks that
    large afresh and unmaps them on free, so every batch wrote to new pages, a page
    fault per 4 kB (about half of converting a batch to records, measured). Blocks
    up to 64 MB now come from the heap, which keeps up to 256 MB freed at its top.
    Once per process; nothing where the C library is not glibc."""
    global _reused
    if _reused:
        return
    _reused = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    except (OSError, AttributeError):
        pass


_AHEAD = 2  # batches read and converted ahead of the one being processed
def read_ahead(batches: Iterator[CaptureBatch],
               prune: Callable[[pa.RecordBatch], tuple[pa.RecordBatch, int]] | None = None
               ) -> Iterator[tuple[CaptureBatch, tuple[RawBatch, np.ndarray] | None, int]]:
    """``batches`` with each one's records converted (``batch_to_raw``, None for an
    empty batch), read and converted on a thread up to ``_AHEAD`` batches ahead
    (``collector.read_ahead``): Arrow's decompression, the digest's CRC and numpy's
    copies release the GIL, so the next batches are read while the caller processes
    this one. ``prune`` (a checked batch -> the rows to convert, how many left out)
    runs on the thread."""
    def converted() -> Iterator[tuple[CaptureBatch, tuple[RawBatch, np.ndarray] | None, int]]:
        for cb in batches:
            rb, left_out = cb.records, 0
            if prune is not None and rb.num_rows:
                rb, left_out = prune(rb)
            yield cb, _converted(rb) if rb.num_rows else None, left_out

    return _read_ahead(converted(), _AHEAD, "cdig-capture-read")


_RECORD_FIELDS = {name: layout.RECORD.fields[name][0] for name in _PLAIN_INT_COLUMNS}


def _converted(rb: pa.RecordBatch) -> tuple[RawBatch, np.ndarray]:
    """``batch_to_raw``, with the plain columns handed on as they were read (numpy
    views of the Arrow buffers): the engine's ``cols`` then copies none of them out
    of the records again."""
    raw, ctx = batch_to_raw(rb)
    cols = {}
    for name, dt in _RECORD_FIELDS.items():
        v = _values(rb.column(SCHEMA.get_field_index(name)))
        if v.dtype == dt:
            cols[name] = v
    # ``args`` column by column (its transpose): args[:, i] is then contiguous (the fd
    # the decoder reads from args[:, 0]), and no strided copy out of the records
    args = np.empty((6, rb.num_rows), dtype=np.uint64)
    for i in range(6):
        args[i] = _values(rb.column(SCHEMA.get_field_index(f"arg{i}")))
    cols["args"] = args.T
    if raw.merged is not None:  # the comm bytes contiguous (grouped by as two words)
        cols["comm"] = np.ascontiguousarray(raw.merged["comm"])
    raw.columns = cols
    return raw, ctx


class _ArrowColumns:
    """A capture batch's record columns by name, as the raw filter reads them (numpy
    views of the Arrow buffers; ``comm`` as the probe's fixed-width bytes)."""

    def __init__(self, rb: pa.RecordBatch) -> None:
        self.rb = rb
        self._c: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._c.get(name)
        if a is None:
            col = self.rb.column(SCHEMA.get_field_index(name))
            if name == "comm":
                a = _fixed_rows(col, layout.COMM_LEN).view(f"S{layout.COMM_LEN}").reshape(-1)
            else:
                a = _values(col)
            self._c[name] = a
        return a

    def __len__(self) -> int:
        return self.rb.num_rows


def _len2(rb: pa.RecordBatch) -> np.ndarray:
    """Each row's len2, 0 for a record without strings (a null len2)."""
    col = rb.column(SCHEMA.get_field_index("len2"))
    v = _values(col).astype(np.int64)
    if col.null_count:
        v = np.where(np.asarray(col.is_valid().to_numpy(zero_copy_only=False)), v, 0)
    return v


def _shift_ts(raw: RawBatch, delta: int) -> None:
    """Move monotonic timestamps so one decoder offset serves several sessions."""
    d = np.uint64(delta & 0xFFFFFFFFFFFFFFFF)
    if raw.columns is not None:
        raw.columns.pop("ts_ns", None)  # the file's times, not the shifted ones
    with np.errstate(over="ignore"):
        raw.events["ts_ns"] += d
        if len(raw.ext):
            raw.ext["ev"]["ts_ns"] += d
        if raw.merged is not None:
            raw.merged["ts_ns"] += d
