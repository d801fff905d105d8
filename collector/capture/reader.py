"""Reading capture files: a file's header and snapshot, its intact batches up to any
damage (``Loss`` says what was lost), and the files a list of paths and globs names.
The replay source that runs them through the Session is ``replay``; the conversion of
a read batch to the engine's records is ``batch_read``."""

from __future__ import annotations

import collections
import dataclasses
import functools
import os
import threading
import zlib
from collections.abc import Callable, Iterator, Sequence
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from ...probes.syscalls import layout
from ..bounded import (
    METADATA_MAX_BYTES,
    MetadataError,
    batch_buffers,
    check_header,
    check_snapshot,
    check_state,
    first_oversized_batch,
    load_json,
    message_body_length,
)
from . import kernels
from .digest import K_COLDIGEST, _values, check_columns, decoded_digest, decoding_plan
from .files import Loss
from .format import (
    _STREAM_EOS,
    FORMAT_NAME,
    FORMAT_VERSION,
    SCHEMA,
    CaptureError,
    K,
    _stored,
    _unpacked,
)
from .journal import FdJournal

# --------------------------------------------------------------------------- reading


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
    _extra: Any = field(default=None, repr=False)  # the projected read's own file
    _schema_end: int = field(default=0, repr=False)  # where the first batch starts

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
            schema_end = src.tell() if src is not None else 0
            meta = reader.schema.metadata or {}
            same = _same_columns(reader.schema)
        except Exception as e:  # damaged bytes surface as any error type
            if head[:4] == b"\xff\xff\xff\xff":  # an Arrow stream cut inside its schema
                cut = cls(path, {}, {}, size, _source=src)
                cut.loss = Loss(path, 0, size, cut._cause())
                return cut
            raise CaptureError(f"{path}: not a cdig capture ({_one_line(e)})") from None
        if meta.get(K.FORMAT) != FORMAT_NAME.encode():
            raise CaptureError(f"{path}: not a cdig capture (an Arrow stream without cdig "
                               "metadata)")
        version = meta.get(K.VERSION, b"?").decode("ascii", "replace")
        if version != str(FORMAT_VERSION):
            raise CaptureError(f"{path}: capture format version {version} is not supported "
                               f"(this cdig reads version {FORMAT_VERSION})")
        hb = meta.get(K.HEADER, b"")
        stored = _stored(meta, K.SNAPSHOT, b"")[0]
        digest = f"{zlib.crc32(stored, zlib.crc32(hb)):08x}".encode()
        if meta.get(K.DIGEST) != digest or not same:
            raise CaptureError(f"{path}: damaged capture header (checksum mismatch)")
        try:
            header = check_header(load_json(hb))
            snapshot = check_snapshot(load_json(_unpacked(meta, K.SNAPSHOT, b"")[1]))
        except MetadataError as e:
            raise CaptureError(f"{path}: damaged capture header ({e})") from None
        try:  # what each batch declares it inflates to, before Arrow inflates it
            with open(path, "rb") as fh:
                oversized = first_oversized_batch(fh, _buffer_limits)
        except OSError as e:
            raise CaptureError(f"{path}: {e.strerror or e}") from None
        return cls(path, header, snapshot, size, _source=src, _reader=reader,
                   _oversized=oversized, _schema_end=schema_end)

    def batches(self, fields: Sequence[str] | None = None,
                widen: Callable[[pa.RecordBatch], bool] | None = None
                ) -> Iterator[CaptureBatch]:
        """Every complete, intact batch; then ``loss`` says what could not be read.

        ``fields``: read only these columns (and ``kind``), each checked by the batch's
        column digests (``digest``): the others are never decompressed; but a batch
        for which ``widen(those columns)`` is true is read whole (``widen`` runs on the
        decoding threads, batches in any order: a function of the columns only). A
        file written without column digests is read whole."""
        if self._reader is None:
            return
        src = self._source
        read = _Decoding(None, self._check_whole)
        if fields is not None:
            projected = self._projected(fields)
            if projected is not None:
                src, read = projected
                if widen is not None:
                    read = _Decoding(read.want, read.check, widen, self._check_whole)
        yield from self._read(src, read)

    def scan(self, fields: Sequence[str]) -> Iterator[CaptureBatch] | None:
        """The intact batches of the columns ``fields`` (and ``kind``), read apart from
        ``batches`` (a pass ahead of it; ``loss`` and the counts are not touched, the
        read stops quietly at any damage, each batch's ``state`` is left {}), or None
        when the file has no column digests."""
        if self._reader is None:
            return None
        projected = self._projected(fields, own=False)
        if projected is None:
            return None
        src, read = projected
        alone = dataclasses.replace(self, loss=None, events=0, skipped=0, _extra=None)

        def batches() -> Iterator[CaptureBatch]:
            try:
                yield from alone._read(src, read, states=False)
            finally:
                src.close()

        return batches()

    def forks(self) -> list[tuple[int, int]] | None:
        """(child tid, parent pid) of each fork record of the intact batches, or None
        when the file has no column digests. A pass over the ``kind`` column; the pid
        and arg0 columns are decoded only for the batches that hold fork records (each
        one's message read again from where the pass found it, decoded alone), all
        checked. (Reading every message alongside read the file twice: 35 ms of the
        83 ms pass over a 354 MB lz4 capture.) The pass reads only the kind column's
        bytes of each message (``_kinds``)."""
        projected = self._projected((), own=False)  # the kind column's decoding, checked
        if projected is None:
            return None
        projected[0].close()
        want = sorted(SCHEMA.get_field_index(f) for f in ("kind", "pid", "arg0"))
        schema = pa.schema([SCHEMA.field(i) for i in want])
        out: list[tuple[int, int]] = []
        with pa.OSFile(self.path) as src:
            messages = ipc.MessageReader.open_stream(src)
            head = messages.read_next_message().serialize().to_pybytes()  # the schema
            for begin, kind in self._kinds(projected[1]):
                if not (kind == layout.KIND_FORK).any():
                    continue
                src.seek(begin)
                msg = ipc.MessageReader.open_stream(src).read_next_message()  # cb's
                one = ipc.open_stream(pa.BufferReader(head + msg.serialize().to_pybytes()),
                                      options=ipc.IpcReadOptions(included_fields=want))
                rb, md = one.read_next_batch_with_custom_metadata()
                md = md or {}
                stored = _stored(md, K.STATE, b"{}")[0]  # for the digest: not inflated
                if not (rb.schema.equals(schema) and check_columns(
                        rb, stored, md.get(K_COLDIGEST), want, len(SCHEMA))):
                    break  # damage: the read reports it; nothing after it is replayed
                kind = _values(rb.column(rb.schema.get_field_index("kind")))
                at = np.flatnonzero(kind == layout.KIND_FORK)
                child = _values(rb.column(rb.schema.get_field_index("arg0")))[at]
                parent = _values(rb.column(rb.schema.get_field_index("pid")))[at]
                out += zip(child.tolist(), parent.tolist(), strict=True)
        return out

    def _kinds(self, read: _Decoding) -> Iterator[tuple[int, np.ndarray]]:
        """(where its message starts, its kind column) of each intact batch, as
        ``scan(())`` reads them (the same batches, decoded and checked by ``read``, the
        same stops: damage, the size scan's batch, the end), but with only the kind
        column's buffers read from the file: each message is its metadata and a body of
        zeros but for those buffers (Arrow decodes only the included column's), laid out
        in one buffer reused from batch to batch. (The stream reader read every
        message's whole body: 45 of the 60 ms of the pass over a 354 MB capture.)"""
        k = SCHEMA.get_field_index("kind")
        first = sum(3 if pa.types.is_binary(SCHEMA.field(i).type) else 2 for i in range(k))
        try:
            fh = open(self.path, "rb", buffering=0)
        except OSError:
            return
        with fh:
            fd = fh.fileno()
            try:
                head = os.pread(fd, self._schema_end, 0)
            except OSError:
                return
            if len(head) != self._schema_end:
                return
            buf = bytearray()
            dirty: list[tuple[int, int]] = []  # what the last batch wrote past the schema
            at, index = self._schema_end, 0
            while self._oversized is None or index != self._oversized[0]:
                index += 1
                try:
                    one = self._sparse_message(fd, at, first)
                except (OSError, MetadataError, IndexError, ValueError):
                    return
                if one is None:
                    return
                meta, body_len, hdr, pieces = one
                body_at = len(head) + 8 + len(meta)
                total = body_at + body_len
                if len(buf) < total:  # a new one: the old may still be lent out
                    buf = bytearray(total + total // 4)
                    buf[:len(head)] = head
                else:
                    for a, b in dirty:
                        buf[a:b] = bytes(b - a)
                dirty = [(len(head), body_at)]
                buf[len(head):body_at] = _CONTINUED + len(meta).to_bytes(4, "little") + meta
                for off, data in pieces:
                    buf[body_at + off:body_at + off + len(data)] = data
                    dirty.append((body_at + off, body_at + off + len(data)))
                try:
                    rb, md = _decoded(pa.py_buffer(memoryview(buf)[:total]), None, read.options)
                    md = md or {}
                    if not read.check(rb, md, _stored(md, K.STATE, b"{}")[0]):
                        return
                    kind = _values(rb.column(rb.schema.get_field_index("kind"))).copy()
                except Exception:  # damaged bytes surface as any error type
                    return
                del rb
                yield at, kind
                at += hdr + len(meta) + body_len

    @staticmethod
    def _sparse_message(fd: int, at: int, first: int
                        ) -> tuple[bytes, int, int, list[tuple[int, bytes]]] | None:
        """(metadata, body length, bytes before the metadata, [(offset in the body,
        bytes)] of buffers ``first`` and ``first`` + 1) of the record batch message at
        ``at``, or None where the stream ends, is cut or holds another message."""
        pre = os.pread(fd, 8, at)
        if len(pre) < 8:
            return None
        if pre[:4] == _CONTINUED:
            size, hdr = int.from_bytes(pre[4:8], "little"), 8
        else:  # the pre-1.0 format without the continuation marker
            size, hdr = int.from_bytes(pre[:4], "little"), 4
        if not 0 < size <= METADATA_MAX_BYTES:
            return None
        meta = os.pread(fd, size, at + hdr)
        if len(meta) < size:
            return None
        layout_ = batch_buffers(meta)
        if layout_ is None or len(layout_[1]) < first + 2:
            return None
        body_len, buffers = layout_
        if at + hdr + size + body_len > os.fstat(fd).st_size:
            return None  # the body is cut (the stream reader reads all of it)
        pieces = []
        for off, length in buffers[first:first + 2]:
            if length:
                data = os.pread(fd, length, at + hdr + size + off)
                if len(data) < length:
                    return None
                pieces.append((off, data))
        return meta, body_len, hdr, pieces

    def _check_whole(self, rb: pa.RecordBatch, md: dict[bytes, bytes], stored: bytes) -> bool:
        # the schema first: the digest's plan is the capture schema's
        return rb.schema.equals(SCHEMA) and \
            md.get(K.DIGEST) == decoded_digest(rb, stored, _PLAN).encode()

    def _projected(self, fields: Sequence[str], own: bool = True
                   ) -> tuple[Any, _Decoding] | None:
        """(a file handle of its own, the decoding) of the columns ``fields`` (and
        ``kind``), or None when the file's batches have no column digests (a capture
        written before them: the writer's first batch, empty, says)."""
        want = sorted({SCHEMA.get_field_index(f) for f in (*fields, "kind")})
        if min(want) < 0:
            raise ValueError(f"no such column: {fields}")
        schema = pa.schema([SCHEMA.field(i) for i in want])
        try:
            src = pa.OSFile(self.path)
            reader = ipc.open_stream(src, options=ipc.IpcReadOptions(included_fields=want))
            _, md = reader.read_next_batch_with_custom_metadata()
        except Exception:  # any damage: the whole read finds and reports it
            return None
        if K_COLDIGEST not in (md or {}):
            src.close()
            return None
        if own:
            self._extra = src

        def check(rb: pa.RecordBatch, md: dict[bytes, bytes], stored: bytes) -> bool:
            return rb.schema.equals(schema) and \
                check_columns(rb, stored, md.get(K_COLDIGEST), want, len(SCHEMA))

        return src, _Decoding(want, check)

    def _read(self, src: Any, read: _Decoding, states: bool = True
              ) -> Iterator[CaptureBatch]:
        """The batches of the stream in ``src``, in file order, each decoded and checked
        by ``read``; the first that fails to read, decode or check ends the read
        (``loss``). Without ``states`` (a scan ahead) their state metadata is checked
        by the digest but not parsed."""
        items = self._in_parallel(src, read, states) if _parallel(read) else \
            self._in_turn(src, read, states)
        for item, at, stop in items:
            if item is _OVERSIZED:
                self.loss = Loss(self.path, self.events, self.size - at, "damaged",
                                 self.skipped)
                return
            if item is _ENDED:
                tail = self.size - at
                if tail != len(_STREAM_EOS):  # no end marker: the writer did not close
                    self.loss = Loss(self.path, self.events, max(0, tail), self._cause(),
                                     self.skipped)
                elif self.skipped:
                    self.loss = Loss(self.path, self.events, 0, "skipped", self.skipped)
                return
            if item is None:  # damaged bytes, or a batch its digest says is not intact
                self.loss = Loss(self.path, self.events, self.size - at, self._cause(),
                                 self.skipped)
                return
            rb, state, skipped = item
            self.skipped += skipped
            self.events += rb.num_rows
            yield CaptureBatch(rb, state, stop)

    def _in_turn(self, src: Any, read: _Decoding, states: bool) -> Iterator[tuple[Any, int, int]]:
        """(each batch decoded and checked, or None, or a marker; where its message
        starts; where it ends), read by the stream reader on this thread: a read of a
        few columns, whose batches cost less to decode than to hand to another thread.
        With ``read.widen``, each batch's message is read undecoded alongside (a file
        handle of its own) and decoded whole where wanted."""
        side = None
        try:
            src.seek(0)
            reader = ipc.open_stream(src, options=read.options)
            if read.widen is not None:
                side = pa.OSFile(self.path)
                messages = ipc.MessageReader.open_stream(side)
                head = messages.read_next_message().serialize().to_pybytes()
        except Exception:  # the file changed since it was opened
            if side is not None:
                side.close()
            yield None, 0, 0
            return
        index = 0
        try:
            while True:
                at = src.tell()
                if self._oversized is not None and index == self._oversized[0]:
                    yield _OVERSIZED, at, at  # declares more than a capture batch can hold
                    return
                index += 1
                check = None
                try:
                    rb, md = reader.read_next_batch_with_custom_metadata()
                    if side is not None:
                        msg = messages.read_next_message()  # this batch's, not decoded
                        if rb.num_rows and read.widen is not None and read.widen(rb):
                            rb, md = _decoded(head, msg, _WHOLE)
                            check = read.whole
                except StopIteration:
                    yield _ENDED, at, at
                    return
                except Exception:  # damaged bytes surface as any error type
                    yield None, at, at
                    return
                yield read.checked(rb, md, states, check), at, src.tell()
        finally:
            if side is not None:
                side.close()

    def _in_parallel(self, src: Any, read: _Decoding, states: bool
                     ) -> Iterator[tuple[Any, int, int]]:
        """As ``_in_turn``, each message found here (its length from its header, as
        the stream reader reads it: ``_message_length``) and read, decoded and checked
        on the decoding threads (``_decoder``, ``_Decoding.read_at``: the file's bytes
        read there, straight after the schema message's), up to ``_DEPTH`` ahead;
        yielded in file order. (Reading each message here with Arrow's MessageReader
        copied every body on this thread, and again to put the schema before it.)"""
        end = self._schema_end
        try:
            src.seek(0)
            head = src.read(end)  # the schema message, as the stream reader read it
            fd = os.dup(src.fileno())  # this read's own: closed once no thread reads it
        except Exception:  # the file changed since it was opened
            yield None, 0, 0
            return
        pool = _decoder()
        pending: collections.deque[tuple[Any, int, int]] = collections.deque()
        index = 0  # of the next message read
        more = True
        try:
            while True:
                while more and len(pending) < _DEPTH:
                    at = end
                    if self._oversized is not None and index == self._oversized[0]:
                        pending.append((_OVERSIZED, at, at))  # never inflated
                        more = False
                        break
                    index += 1
                    try:
                        total = _message_length(fd, at)
                    except Exception:  # damaged bytes surface as any error type
                        total = None
                    if not total:
                        pending.append((_ENDED if total == 0 else None, at, at))
                        more = False
                        break
                    end = at + total
                    pending.append((pool.submit(read.read_at, head, fd, at, total, states),
                                    at, end))
                if not pending:
                    return
                item, at, stop = pending.popleft()
                yield (item.result() if isinstance(item, Future) else item), at, stop
        finally:
            for item, _, _ in pending:
                if isinstance(item, Future) and not item.cancel():
                    item.exception()  # running: wait, it reads from fd
            os.close(fd)

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
        for f in (self._source, self._extra):
            if f is not None:
                f.close()


class _Decoding:
    """How one batch is decoded and checked: the columns ``want`` (None: all), checked
    by ``check``; with ``widen``, a batch for which ``widen(those columns)`` is true is
    decoded again with every column (from the same bytes) and checked by ``whole``."""

    def __init__(self, want: list[int] | None, check: Callable[..., bool],
                 widen: Callable[[pa.RecordBatch], bool] | None = None,
                 whole: Callable[..., bool] | None = None) -> None:
        self.want, self.check, self.widen, self.whole = want, check, widen, whole
        self.options = ipc.IpcReadOptions(included_fields=want, use_threads=False) \
            if want is not None else _WHOLE

    def read_at(self, head: bytes, fd: int, at: int, total: int, states: bool
                ) -> tuple[pa.RecordBatch, dict[str, Any], int] | None:
        """``__call__`` of the message of ``total`` bytes at ``at`` of the file ``fd``,
        read here (None as for damage where the file holds fewer)."""
        try:
            data = np.empty(len(head) + total, dtype=np.uint8)
            data[:len(head)] = np.frombuffer(head, dtype=np.uint8)
            if os.preadv(fd, [data.data[len(head):]], at) != total:
                return None
        except Exception:  # the file changed since it was opened
            return None
        return self._of(pa.py_buffer(data), states)

    def __call__(self, head: bytes, msg: Any, states: bool
                 ) -> tuple[pa.RecordBatch, dict[str, Any], int] | None:
        """The batch of the message ``msg`` (after the schema message ``head``), as
        ``checked`` says, on a decoding thread."""
        try:
            data = _stream_of_one(head, msg)
        except Exception:  # damaged bytes surface as any error type
            return None
        return self._of(data, states)

    def _of(self, data: Any, states: bool
            ) -> tuple[pa.RecordBatch, dict[str, Any], int] | None:
        """The batch of the stream of one batch ``data``, as ``checked`` says."""
        try:
            rb, md = _decoded(data, None, self.options)
            check = None
            if self.widen is not None and rb.num_rows and self.widen(rb):
                rb, md = _decoded(data, None, _WHOLE)
                check = self.whole
        except Exception:  # damaged bytes surface as any error type
            return None
        return self.checked(rb, md, states, check)

    def checked(self, rb: pa.RecordBatch, md: Any, states: bool,
                check: Callable[..., bool] | None = None
                ) -> tuple[pa.RecordBatch, dict[str, Any], int] | None:
        """(the batch, its state, records of unknown kinds left out), or None when its
        digest says it is not intact."""
        try:
            md = md or {}
            if states:
                stored, sb = _unpacked(md, K.STATE, b"{}")
            else:  # a scan ahead: the stored bytes for the digest, never inflated
                stored = sb = _stored(md, K.STATE, b"{}")[0]
            ok = (check or self.check)(rb, md, stored)
            # bounded, checked (a scan ahead reads no state: its bytes are in the digest)
            state = (parse_state(sb) if states else {}) if ok else None
        except Exception:  # as above
            return None
        if not ok or not isinstance(state, dict):
            return None
        rb, skipped = _known_kinds(rb)
        return rb, state, skipped


def parse_state(text: bytes) -> dict[str, Any]:
    """A batch's state from its JSON text: bounded and checked (``bounded``), or, for
    the common state of stamped fd answers only, read by the kernel as columns (the
    same entries: ``journal.FdJournal``). MetadataError if it is not a batch state."""
    fast = kernels.fd_journal(text)
    if fast is None:
        return check_state(load_json(text))
    cols, drops = fast
    state: dict[str, Any] = {"journal": FdJournal(cols, text)}
    if drops is not None:
        state["drops"] = drops
    return state


def _message_length(fd: int, at: int) -> int | None:
    """The bytes of the Arrow stream message at ``at`` of the file ``fd`` (its header,
    metadata and body, as its header declares them), 0 where the stream ends there
    (its end marker, or the file's end), or None where it is cut or damaged before its
    body (the stream reader fails there; reading the body is the decoding's)."""
    pre = os.pread(fd, 8, at)
    if len(pre) < 4:
        return None if pre else 0
    if pre[:4] == _CONTINUED:
        if len(pre) < 8:
            return None
        size, hdr = int.from_bytes(pre[4:8], "little", signed=True), 8
    else:  # the pre-1.0 format without the continuation marker
        size, hdr = int.from_bytes(pre[:4], "little", signed=True), 4
    if size <= 0:
        return 0 if size == 0 else None
    meta = os.pread(fd, size, at + hdr)
    if len(meta) < size:
        return None
    body = message_body_length(meta)
    return hdr + size + body if body >= 0 else None


def _stream_of_one(head: bytes, msg: Any) -> pa.Buffer:
    """The schema message ``head``, then the message ``msg``: a stream of one batch."""
    sink = pa.BufferOutputStream()
    sink.write(head)
    msg.serialize_to(sink)
    return sink.getvalue()


def _decoded(head: Any, msg: Any, options: Any) -> tuple[pa.RecordBatch, Any]:
    """(batch, custom metadata) of the message ``msg`` after the schema message
    ``head`` (``msg`` None: ``head`` is both, ``_stream_of_one``'s)."""
    data = head if msg is None else _stream_of_one(head, msg)
    result: tuple[pa.RecordBatch, Any] = ipc.open_stream(
        pa.BufferReader(data), options=options).read_next_batch_with_custom_metadata()
    return result


# Arrow's decompression and the digest's CRC release the GIL: batches are decoded and
# checked on this many threads at once (Arrow's own pool, per buffer, spread one batch
# no faster on 2 CPUs than one thread: ``use_threads=False``), up to _DEPTH in flight
_WORKERS = 2


def _parallel(read: _Decoding) -> bool:
    """Whether a read decodes on the threads: one of every column (trace -r), where
    decoding is most of the work. A read of some columns (summary), widened or not:
    the caller's work is most of it, and more threads only take the GIL and the CPUs
    from it (summary --by proc 1.35 -> 1.60 s on the 10 M-record capture)."""
    return read.want is None

_DEPTH = 4
_WHOLE = ipc.IpcReadOptions(use_threads=False)
_OVERSIZED, _ENDED, _BROKEN = object(), object(), object()
_pool: ThreadPoolExecutor | None = None
_pool_lock = threading.Lock()


def _decoder() -> ThreadPoolExecutor:
    """The decoding threads, shared by every read (started at the first)."""
    global _pool
    with _pool_lock:
        if _pool is None:
            _pool = ThreadPoolExecutor(_WORKERS, thread_name_prefix="cdig-capture-decode")
        return _pool


_CONTINUED = b"\xff\xff\xff\xff"  # an IPC message's continuation marker
_PLAN = decoding_plan(SCHEMA)  # each column's kind, for the whole batch's digest
_KNOWN = np.zeros(256, dtype=bool)  # per kind byte: one this reader knows
_KNOWN[[v for k, v in vars(layout).items() if k.startswith("KIND_")]] = True
# every kind up to this one is known: a batch whose greatest kind is at most this holds
# only known kinds (one max over the column, ~6x cheaper than the table's gather)
_ALL_KNOWN_TO = int(np.argmin(_KNOWN)) - 1


def _known_kinds(rb: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
    """``rb`` without records of a kind this reader does not know (a newer writer's
    or a crafted file's: the decoder has no layout for them), and how many they were
    (``skipped``)."""
    if not rb.num_rows:
        return rb, 0
    kind = _values(rb.column(rb.schema.get_field_index("kind")))
    if int(kind.max()) <= _ALL_KNOWN_TO:
        return rb, 0
    known = _KNOWN[kind]
    return rb.filter(pa.array(known)), int(rb.num_rows - np.count_nonzero(known))



_WIDTH = {"comm": layout.COMM_LEN, "str1": layout.STR1_LEN, "str2": layout.STR2_LEN}


@functools.lru_cache(maxsize=64)  # per batch of the scan (their row counts repeat)
def _buffer_limits(rows: int) -> tuple[int, ...]:
    """The largest each Arrow buffer of a capture batch of ``rows`` rows can be
    (validity, then values, or offsets and data), with padding to spare."""
    bits = (rows + 7) // 8 + 64
    out = []
    for f in SCHEMA:
        out.append(bits)
        if pa.types.is_binary(f.type):
            out += [(rows + 1) * 4 + 64, rows * _WIDTH[f.name] + 64]
        elif pa.types.is_boolean(f.type):
            out.append(bits)
        else:
            out.append(rows * f.type.bit_width // 8 + 64)
    return tuple(out)


def _same_columns(schema: pa.Schema) -> bool:
    return [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in SCHEMA]


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
