"""Writing capture files: private creation, batches flushed as they come, rotation."""

from __future__ import annotations

import json
import os
import time
import uuid
import zlib
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import pyarrow as pa
import pyarrow.ipc as ipc

from ..safe_open import (
    OutputFailed,
    OutputRefused,
    check_replaceable,
    create_private,
    same_file,
)
from . import CODECS
from .digest import digests
from .format import (
    FORMAT_NAME,
    FORMAT_VERSION,
    SCHEMA,
    K,
    _empty_batch,
    _pack,
)

# --------------------------------------------------------------------------- writing

SYNC_EVERY_S = 1.0  # batches reach the disk at most this long after they are written


@dataclass
class Rotation:
    """sysdig's -C/-G/-e/-W: ``size_bytes``, ``period_s`` or ``events`` per file, ``keep``
    files. A file is full at the end of the batch that reached ``events``."""

    size_bytes: int | None = None
    period_s: float | None = None
    keep: int | None = None
    events: int | None = None

    @property
    def active(self) -> bool:
        return self.size_bytes is not None or self.period_s is not None or \
            self.events is not None


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
                 clock: Callable[[], float] = time.time, compression: str = CODECS[0],
                 compression_level: int = 1, sync: bool = True) -> None:
        self.base = path
        self.rotation = rotation or Rotation()
        self.clock = clock
        self.header = dict(header)
        self.header.setdefault("session", uuid.uuid4().hex)
        self.header.setdefault("session_started_ns", int(clock() * 1e9))
        if compression not in CODECS:
            raise ValueError(f"compression {compression!r}: one of {', '.join(CODECS)}")
        # lz4 (LZ4_FRAME): the reader decompresses it ~2.4x faster than zstd, in ~2.7x
        # the bytes; zstd (at ``compression_level``) for smaller files
        codec = pa.Codec("zstd", compression_level) if compression == "zstd" else \
            pa.Codec("lz4")
        self.options = ipc.IpcWriteOptions(compression=codec)
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
        self._synced = -SYNC_EVERY_S  # time.monotonic() of the last fdatasync
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
        if r.size_bytes is not None or r.events is not None:
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
        skey, sb = _pack(K.SNAPSHOT, snapshot)
        meta = {K.FORMAT: FORMAT_NAME.encode(), K.VERSION: str(FORMAT_VERSION).encode(),
                K.HEADER: hb, skey: sb,
                K.DIGEST: f"{zlib.crc32(sb, zlib.crc32(hb)):08x}".encode()}
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
        key, sb = _pack(K.STATE, state)
        try:
            # the whole batch's digest, and each column's (a projected read checks those)
            self._writer.write_batch(rb, custom_metadata={key: sb, **digests(rb, sb)})
            self._file.flush()
            now = time.monotonic()
            if self.sync and rb.num_rows and now - self._synced >= SYNC_EVERY_S:
                # a power cut loses at most the last second; not at every batch: at a
                # million events a second that is a disk flush every 16k records
                os.fdatasync(self._file.fileno())
                self._synced = now
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

    @property
    def file_rows(self) -> int:
        """Records (and state records) in the current file so far."""
        return self._file_rows

    def due(self) -> bool:
        """Whether the current file is full (-C) or old enough (-G)."""
        r = self.rotation
        if self._writer is None:
            return False
        if not self._file_rows:  # never rotate a file that holds no records yet
            return False
        if r.size_bytes is not None and self.size() >= r.size_bytes:
            return True
        if r.events is not None and self._file_rows >= r.events:
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
