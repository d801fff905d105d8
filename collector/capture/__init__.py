"""Capture files: ``cdig trace -w`` writes them, ``-r`` reads them back as a source.

Format (``cdig-capture`` version 1): an Arrow IPC **stream** of compressed record
batches, readable as is by pyarrow, DuckDB, polars and pandas. The batches' Arrow
IPC compression is LZ4_FRAME by default (``cdig trace -w``; decompressed ~2.4x faster)
or ZSTD (``--compress zstd``: files ~2.7x smaller); a reader reads both, batch by
batch (captures written before lz4 are zstd).

* One row per **raw probe record** (both rings merged in the order the decoder
  processes them): replay runs the very same Decoder → State → Filter → sinks
  path as live, so ``cdig trace -r`` prints what ``cdig trace`` printed.
  Columns: ``num`` (the live ``evt.num``), ``ctx`` (true for a record kept only
  because it changes the fd/process tables; replay does not show it), the
  ``probes.layout.RECORD`` fields (``ts_ns`` is CLOCK_MONOTONIC as the probe
  gave it; ``args`` as ``arg0``..``arg5``; ``comm`` as binary), and for
  records with strings ``len1 len2 argc pad str1 str2`` (null for plain
  records; strings trimmed to their length, at most the --string-len). An I/O
  call's data (``flags`` bit 2, sysdig's data, up to the -s snaplen) is ``len1``
  bytes: the first 256 in ``str1``, the rest in ``str2`` (unless ``str2`` holds
  the call's socket address: sendto, recvfrom).
* Schema metadata: ``cdig.format``, ``cdig.version``, ``cdig.header`` (JSON:
  host name, kernel, architecture, syscall table, the ``mono_to_wall_ns``
  offset, cdig version, boot id, session id, file index, snaplen, io_snaplen, filter) and
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

Only this package knows the format (``files``: CaptureError, Loss and the paths named,
without pyarrow; ``format``: schema and conversion; ``journal``: the
/proc answers; ``writer``: files and rotation; ``recorder``: the session stage;
``reader``: files and rotation sets; ``batch_read``: a read batch as records; ``replay``:
the replay source). It imports neither bcc nor the
probe loader.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

# the Arrow IPC codecs a capture's batches can be written with (any Arrow reader reads
# both; so does cdig, whichever a file's batches use): the first is the default. Here,
# not in writer.py, so that the command line names them without importing Arrow.
CODECS = ("lz4", "zstd")

# Names are loaded on first use (PEP 562): reading a .scap needs only ``files``
# (no pyarrow, ~90 ms of every start-up); the others import Arrow.
_WHERE = {
    "CaptureError": "files", "Loss": "files", "expand_paths": "files", "open_all": "files",
    "MB": "format", "SCHEMA": "format", "batch_digest": "format", "host_info": "format",
    "rows_to_batch": "format",
    "RecordingProcFS": "journal", "ReplayProcFS": "journal",
    "CaptureBatch": "reader", "CaptureFile": "reader",
    "CaptureRecorder": "recorder",
    "ReplaySource": "replay",
    "CaptureWriter": "writer", "Rotation": "writer", "open_private": "writer",
}

if TYPE_CHECKING:
    from .files import CaptureError, Loss, expand_paths, open_all
    from .format import MB, SCHEMA, batch_digest, host_info, rows_to_batch
    from .journal import RecordingProcFS, ReplayProcFS
    from .reader import CaptureBatch, CaptureFile
    from .recorder import CaptureRecorder
    from .replay import ReplaySource
    from .writer import CaptureWriter, Rotation, open_private


def __getattr__(name: str) -> Any:
    where = _WHERE.get(name)
    if where is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{where}", __name__), name)
    globals()[name] = value  # once: the next lookup is an ordinary one
    return value


__all__ = ["CODECS", "MB", "SCHEMA", "CaptureBatch", "CaptureError", "CaptureFile",
           "CaptureRecorder", "CaptureWriter", "Loss", "RecordingProcFS", "ReplayProcFS",
           "ReplaySource", "Rotation", "batch_digest", "expand_paths", "host_info", "open_all",
           "open_private", "rows_to_batch"]
