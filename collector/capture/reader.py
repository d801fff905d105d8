"""Reading capture files: a file's header and snapshot, its intact batches up to any
damage (``Loss`` says what was lost), and the files a list of paths and globs names.
The replay source that runs them through the Session is ``replay``; the conversion of
a read batch to the engine's records is ``batch_read``."""

from __future__ import annotations

import dataclasses
import os
import zlib
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.ipc as ipc

from ...probes.syscalls import layout
from ..bounded import (
    MetadataError,
    check_header,
    check_snapshot,
    check_state,
    first_oversized_batch,
    load_json,
)
from .digest import K_COLDIGEST, _values, check_columns
from .files import Loss
from .format import (
    _STREAM_EOS,
    FORMAT_NAME,
    FORMAT_VERSION,
    SCHEMA,
    CaptureError,
    K,
    _unpacked,
    batch_digest,
)

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
        stored = meta.get(K.SNAPSHOT + b".z", meta.get(K.SNAPSHOT, b""))
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

    def batches(self, fields: Sequence[str] | None = None,
                widen: Callable[[pa.RecordBatch], bool] | None = None
                ) -> Iterator[CaptureBatch]:
        """Every complete, intact batch; then ``loss`` says what could not be read.

        ``fields``: read only these columns (and ``kind``), each checked by the batch's
        column digests (``digest``): the others are never decompressed; but a batch
        for which ``widen(those columns)`` is true is read whole. A file written
        without column digests is read whole."""
        reader, src = self._reader, self._source
        if reader is None:
            return
        check = self._check_whole
        if fields is not None:
            projected = self._projected(fields)
            if projected is not None:
                reader, src, check = projected
                if widen is not None:
                    reader, check = _Widening(reader, self.path, widen), \
                        _either(check, self._check_whole)
        yield from self._read(reader, src, check)

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
        reader, src, check = projected
        alone = dataclasses.replace(self, loss=None, events=0, skipped=0, _extra=None)

        def read() -> Iterator[CaptureBatch]:
            try:
                yield from alone._read(reader, src, check, states=False)
            finally:
                src.close()

        return read()

    def forks(self) -> list[tuple[int, int]] | None:
        """(child tid, parent pid) of each fork record of the intact batches, or None
        when the file has no column digests. A pass over the ``kind`` column; the pid
        and arg0 columns are decoded only for the batches that hold fork records (their
        messages read undecoded alongside, each one decoded alone), all checked."""
        kinds = self.scan(())
        if kinds is None:
            return None
        want = sorted(SCHEMA.get_field_index(f) for f in ("kind", "pid", "arg0"))
        schema = pa.schema([SCHEMA.field(i) for i in want])
        out: list[tuple[int, int]] = []
        with pa.OSFile(self.path) as src:
            messages = ipc.MessageReader.open_stream(src)
            head = messages.read_next_message().serialize().to_pybytes()  # the schema
            for cb in kinds:
                msg = messages.read_next_message()  # cb's, not decoded
                rb = cb.records
                kind = _values(rb.column(rb.schema.get_field_index("kind")))
                if not (kind == layout.KIND_FORK).any():
                    continue
                one = ipc.open_stream(pa.BufferReader(head + msg.serialize().to_pybytes()),
                                      options=ipc.IpcReadOptions(included_fields=want))
                rb, md = one.read_next_batch_with_custom_metadata()
                md = md or {}
                stored, _ = _unpacked(md, K.STATE, b"{}")
                if not (rb.schema.equals(schema) and check_columns(
                        rb, stored, md.get(K_COLDIGEST), want, len(SCHEMA))):
                    break  # damage: the read reports it; nothing after it is replayed
                kind = _values(rb.column(rb.schema.get_field_index("kind")))
                at = np.flatnonzero(kind == layout.KIND_FORK)
                child = _values(rb.column(rb.schema.get_field_index("arg0")))[at]
                parent = _values(rb.column(rb.schema.get_field_index("pid")))[at]
                out += zip(child.tolist(), parent.tolist(), strict=True)
        return out

    def _check_whole(self, rb: pa.RecordBatch, md: dict[bytes, bytes], stored: bytes) -> bool:
        return md.get(K.DIGEST) == batch_digest(rb, stored).encode() and \
            rb.schema.equals(SCHEMA)

    def _projected(self, fields: Sequence[str], own: bool = True
                   ) -> tuple[Any, Any, Any] | None:
        """(reader, source, check) of the columns ``fields`` (and ``kind``), or None when
        the file's batches have no column digests (a capture written before them: the
        writer's first batch, empty, says)."""
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
        src.seek(0)  # from the schema again: the loop reads the first batch too
        reader = ipc.open_stream(src, options=ipc.IpcReadOptions(included_fields=want))
        if own:
            self._extra = src

        def check(rb: pa.RecordBatch, md: dict[bytes, bytes], stored: bytes) -> bool:
            return rb.schema.equals(schema) and \
                check_columns(rb, stored, md.get(K_COLDIGEST), want, len(SCHEMA))

        return reader, src, check

    def _read(self, reader: Any, src: Any, check: Any, states: bool = True
              ) -> Iterator[CaptureBatch]:
        """The batches of ``reader``, each checked by ``check``; without ``states``
        (a scan ahead) their state metadata is checked by the digest but not parsed."""
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
                stored, sb = _unpacked(md, K.STATE, b"{}")
                ok = check(rb, md, stored)
                # bounded, checked (a scan ahead reads no state: its bytes are in the digest)
                state = (check_state(load_json(sb)) if states else {}) if ok else None
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
        known = self._KNOWN[_values(rb.column(rb.schema.get_field_index("kind")))]
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
        for f in (self._source, self._extra):
            if f is not None:
                f.close()


class _Widening:
    """A projected stream reader whose batches are read whole where ``widen`` says:
    each batch's message is read undecoded alongside (a second file handle) and,
    when wanted, decoded alone with every column."""

    def __init__(self, narrow: Any, path: str, widen: Callable[[pa.RecordBatch], bool]
                 ) -> None:
        self.narrow, self.widen = narrow, widen
        self.src = pa.OSFile(path)
        self.messages = ipc.MessageReader.open_stream(self.src)
        self.head = self.messages.read_next_message().serialize().to_pybytes()  # the schema

    def read_next_batch_with_custom_metadata(self) -> tuple[pa.RecordBatch, Any]:
        try:
            rb, md = self.narrow.read_next_batch_with_custom_metadata()
            msg = self.messages.read_next_message()  # this batch's, not decoded
        except BaseException:
            self.src.close()
            raise
        if rb.num_rows and self.widen(rb):
            whole = ipc.open_stream(pa.BufferReader(self.head + msg.serialize().to_pybytes()))
            rb, md = whole.read_next_batch_with_custom_metadata()
        return rb, md


def _either(projected: Callable[..., bool], whole: Callable[..., bool]) -> Callable[..., bool]:
    """The check of a batch read by some columns, or whole."""
    def check(rb: pa.RecordBatch, md: dict[bytes, bytes], stored: bytes) -> bool:
        return (whole if rb.num_columns == len(SCHEMA) else projected)(rb, md, stored)

    return check


def _same_columns(schema: pa.Schema) -> bool:
    return [(f.name, f.type) for f in schema] == [(f.name, f.type) for f in SCHEMA]


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[0] if text else type(e).__name__
