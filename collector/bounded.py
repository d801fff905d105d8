"""Reading a capture's metadata as untrusted input: bounded and checked.

A capture is a file anyone may hand to ``cdig trace -r``. Its CRCs catch
damage, not intent: a crafted file has valid checksums. So everything read
from its metadata is bounded and checked here before the reader uses it:

* zlib-packed values are inflated with a cap (``METADATA_MAX_BYTES``): a
  2.4 MB crafted file took the reader to 2.16 GB of memory;
* JSON is parsed with a nesting cap and integers that fit 64 bits (deep
  nesting was a RecursionError, huge integers an OverflowError in numpy);
* the header, snapshot and batch state have the shape the reader indexes
  (missing keys were KeyErrors, short lists IndexErrors).

Every failure is ``MetadataError`` (a ValueError) with a short reason; the
reader turns it into its usual one line ("damaged capture header ..." or a
loss after the intact batches).
"""

from __future__ import annotations

import json
import re
import zlib
from typing import Any, cast

import numpy as np

METADATA_MAX_BYTES = 64 << 20  # one inflated metadata value (a busy host's snapshot: MBs)
MAX_DEPTH = 32  # the writer nests 5 deep
_INT_MIN, _INT_MAX = -(1 << 63), (1 << 64) - 1  # int64 .. uint64, what the columns hold


class MetadataError(ValueError):
    """Capture metadata that is not what cdig writes; the message is a short reason."""


def inflate(stored: bytes, limit: int = METADATA_MAX_BYTES) -> bytes:
    """``zlib.decompress`` that stops at ``limit`` bytes instead of exhausting memory."""
    d = zlib.decompressobj()
    try:
        raw = d.decompress(stored, limit)
    except zlib.error as e:
        raise MetadataError(f"bad compressed metadata ({e})") from None
    if d.unconsumed_tail or not d.eof:
        if len(raw) >= limit:
            raise MetadataError(f"metadata inflates to more than {limit} bytes")
        raise MetadataError("compressed metadata is cut short")
    return raw


def _int(text: str) -> int:
    v = int(text)
    if not _INT_MIN <= v <= _INT_MAX:
        raise MetadataError("an integer out of 64-bit range")
    return v


def _depth_ok(obj: Any) -> bool:
    if not isinstance(obj, dict | list):
        return True
    stack = [(obj, 1)]  # containers only: a leaf nests nothing
    while stack:
        o, d = stack.pop()
        if d > MAX_DEPTH:
            return False
        stack.extend((x, d + 1) for x in (o.values() if isinstance(o, dict) else o)
                     if isinstance(x, dict | list))
    return True


# an integer of 19 digits or more may not fit 64 bits (one of 18 always does); strings
# of JSON, to be left out before counting brackets
_LONG_DIGITS = re.compile(rb"\d{19}")
_STRING = re.compile(rb'"(?:[^"\\]+|\\.)*"')
_BRACKET = np.zeros(256, dtype=np.int8)
_BRACKET[[ord("["), ord("{")]] = 1
_BRACKET[[ord("]"), ord("}")]] = -1


def _max_depth(raw: bytes) -> int:
    """The deepest nesting of valid JSON text: its brackets outside strings."""
    if len(raw) < 4096:  # not worth numpy
        return -1
    text = _STRING.sub(b"", raw)
    steps = _BRACKET[np.frombuffer(text, dtype=np.uint8)]
    return int(np.cumsum(steps, dtype=np.int32).max()) if len(steps) else 0


def _scanned(raw: bytes) -> tuple[bool, int]:
    """(whether ASCII JSON text ``raw`` holds a run of 19 digits anywhere, its deepest
    nesting if valid JSON or -1: not counted), by numpy on the text's bytes where
    long enough (the regexes cost ~85 us a batch state of 7 kB, this ~30 us): with
    no backslash in the text (no escapes), every quote opens or closes a string, so
    a bracket is outside strings where an even number of quotes precede it."""
    if len(raw) < 4096:  # not worth numpy
        return _LONG_DIGITS.search(raw) is not None, -1
    a = np.frombuffer(raw, dtype=np.uint8)
    others = np.flatnonzero((a - np.uint8(48)) > 9)  # not a digit
    if not len(others) or int(np.diff(others, prepend=-1, append=len(a)).max()) > 19:
        return True, -1
    if b"\\" in raw:
        return False, _max_depth(raw)
    steps = _BRACKET[a]
    steps[(np.cumsum(a == 34, dtype=np.int32) & 1).astype(bool)] = 0  # in strings
    return False, int(np.cumsum(steps, dtype=np.int32).max())


def load_json(raw: bytes) -> Any:
    """JSON with 64-bit integers and at most MAX_DEPTH levels; MetadataError else.

    A batch's state is tens of kB of small integers: without a run of 19 digits
    anywhere (strings included) every integer fits and is parsed by json's C
    scanner, and the depth is counted on the text's brackets; else each integer
    and container is checked in Python."""
    # ASCII (as the writer's JSON is): no other encoding's bytes to mistake for quotes
    fast = isinstance(raw, bytes) and raw.isascii()
    depth = -1
    if fast:
        long_digits, depth = _scanned(raw)
        fast = not long_digits
    try:
        obj = json.loads(raw) if fast else json.loads(raw, parse_int=_int)
    except MetadataError:
        raise
    except RecursionError:
        raise MetadataError("metadata nested too deep") from None
    except (ValueError, TypeError) as e:
        raise MetadataError(f"bad JSON ({str(e).splitlines()[0][:80]})") from None
    if depth > MAX_DEPTH or (depth < 0 and not _depth_ok(obj)):
        raise MetadataError("metadata nested too deep")
    return obj


# -- shapes ---------------------------------------------------------------------------
# What the reader (ReplaySource, State.restore, ReplayProcFS) indexes, and nothing
# more: extra keys pass, so a newer writer's additions do not make a file unreadable.

_INT = (int,)
_STR = (str,)
_OPT_STR = (str, type(None))


def _need(cond: bool, what: str) -> None:
    if not cond:
        raise MetadataError(f"bad {what}")


def _is_int_key(k: Any) -> bool:
    try:
        _int(k)
    except (ValueError, TypeError):
        return False
    return True


def _int_map(v: Any, what: str, value_types: tuple[type, ...] = _INT) -> None:
    _need(isinstance(v, dict), what)
    for k, x in v.items():
        _need(_is_int_key(k) and isinstance(x, value_types), what)


def _keys(d: Any, types: dict[str, tuple[type, ...]], what: str) -> None:
    _need(isinstance(d, dict), what)
    for k, t in types.items():
        _need(k in d and isinstance(d[k], t), f"{what} ({k})")


_CONTAINER: dict[str, tuple[type, ...]] = {
    "key": _INT, "id": _STR, "name": _STR, "runtime": _STR, "image": _STR, "labels": (dict,),
    "cgroup_path": _STR, "pod_name": _STR, "pod_namespace": _STR, "pod_uid": _STR}
_PROCESS: dict[str, tuple[type, ...]] = {
    "pid": _INT, "ppid": _INT, "name": _STR, "exe": _OPT_STR, "args": (list,), "uid": _INT,
    "cgroup_id": _INT, "container": _INT, "start_ns": _INT, "exited": (bool, int),
    "cwd": _OPT_STR}
# journal entry kind -> its length (ReplayProcFS.apply indexes up to that)
_JOURNAL = {"pids": 2, "proc": 3, "fd": 4, "cwd": 3, "dir": 3, "sock": 4}


def _containers(v: Any, what: str) -> None:
    _need(isinstance(v, list), what)
    for d in v:
        _keys(d, _CONTAINER, what)
        _need(all(isinstance(k, str) and isinstance(x, str) for k, x in d["labels"].items()),
              f"{what} (labels)")
        ids = d.get("cgroup_ids", [])
        _need(isinstance(ids, list) and all(isinstance(i, int) for i in ids),
              f"{what} (cgroup_ids)")


def _journal(v: Any) -> None:
    _need(isinstance(v, list), "journal")
    for e in v:
        # the common entries (an fd's target, a process not found) that the checks
        # below accept, accepted at once; every other entry takes them all
        if type(e) is list and len(e) >= 4:
            k = e[0]
            if k == "fd" and isinstance(e[1], int) and isinstance(e[2], int):
                continue
            if k == "proc" and isinstance(e[1], int) and e[2] is None:
                continue
        _journal_entry(e)


def _journal_entry(e: Any) -> None:
    _need(isinstance(e, list) and bool(e) and isinstance(e[0], str), "journal entry")
    n = _JOURNAL.get(e[0])
    if n is None:
        return  # a kind this reader does not know: skipped by ReplayProcFS
    _need(len(e) >= n, f"journal entry ({e[0]})")
    if e[0] == "pids":
        _need(isinstance(e[1], list) and all(isinstance(p, int) for p in e[1]),
              "journal entry (pids)")
        return
    _need(isinstance(e[1], str if e[0] == "dir" else int), f"journal entry ({e[0]})")
    if e[0] == "proc" and e[2] is not None:
        _need(isinstance(e[2], list) and len(e[2]) >= 5 and isinstance(e[2][3], list),
              "journal entry (proc)")
    if e[0] in ("fd", "sock"):
        _need(isinstance(e[2], int), f"journal entry ({e[0]})")
    if e[0] == "sock" and e[3]:
        _need(isinstance(e[3], list) and len(e[3]) == 5, "journal entry (sock)")


def check_header(h: Any) -> dict[str, Any]:
    _need(isinstance(h, dict), "header")
    for k, t in (("session", _STR), ("session_started_ns", _INT), ("file_index", _INT),
                 ("mono_to_wall_ns", _INT), ("syscall_arch", _OPT_STR)):
        if k in h:
            _need(isinstance(h[k], t), f"header ({k})")
    return cast("dict[str, Any]", h)  # checked above


def check_state(s: Any) -> dict[str, Any]:
    """A batch's state changes (``cdig.state``)."""
    _need(isinstance(s, dict), "batch state")
    if "containers" in s:
        _containers(s["containers"], "batch state containers")
    for k in ("cgroups", "pids"):
        if k in s:
            _int_map(s[k], f"batch state {k}")
    if "journal" in s:
        _journal(s["journal"])
    if "drops" in s:
        _need(isinstance(s["drops"], int), "batch state (drops)")
    return cast("dict[str, Any]", s)  # checked above


def check_snapshot(s: Any) -> dict[str, Any]:
    """A file's snapshot (``cdig.snapshot``: State.snapshot plus containers and pids)."""
    _need(isinstance(s, dict), "snapshot")
    if "containers" in s:
        _containers(s["containers"], "snapshot containers")
    for k in ("cgroups", "pids", "exited"):
        if k in s:
            _int_map(s[k], f"snapshot {k}", _INT if k != "exited" else (int, float, bool))
    for d in s.get("processes", []) if isinstance(s.get("processes", []), list) else [None]:
        _keys(d, _PROCESS, "snapshot processes")
    fds = s.get("fds", {})
    _need(isinstance(fds, dict), "snapshot fds")
    for pid, lst in fds.items():
        _need(_is_int_key(pid) and isinstance(lst, list), "snapshot fds")
        for v in lst:
            _need(isinstance(v, list) and len(v) >= 9 and isinstance(v[0], int), "snapshot fds")
    parent_of = s.get("parent_of", {})
    _int_map(parent_of, "snapshot parent_of", (int, type(None)))
    argv = s.get("argv", {})
    _need(isinstance(argv, dict), "snapshot argv")
    for k, v in argv.items():
        _need(_is_int_key(k) and isinstance(v, list) and len(v) >= 2 and isinstance(v[1], list),
              "snapshot argv")
    since = s.get("fd_since", [])
    _need(isinstance(since, list), "snapshot fd_since")
    for v in since:
        _need(isinstance(v, list) and len(v) == 3 and all(type(x) is int for x in v),
              "snapshot fd_since")
    return cast("dict[str, Any]", s)  # checked above


# -- the Arrow stream's own compression --------------------------------------------------
# Arrow inflates a batch (lz4 or zstd) to the sizes the batch declares, before cdig sees a byte
# of it: a 49 kB stream declaring 50 M rows of zeros took 1.6 GB. So the declarations
# are read first (the stream's message headers and the 8-byte length that prefixes
# each compressed buffer) and a batch whose declared sizes exceed what its row count
# allows is damage, never inflated.

MAX_BATCH_ROWS = 1 << 19  # the writer flushes at 65,536 rows (+ one source batch, <= 128 k)
_HEADER_RECORD_BATCH = 3  # flatbuf MessageHeader.RecordBatch


def _u16(b: bytes, p: int) -> int:
    return int.from_bytes(b[p:p + 2], "little")


def _u32(b: bytes, p: int) -> int:
    return int.from_bytes(b[p:p + 4], "little")


def _i64(b: bytes, p: int) -> int:
    return int.from_bytes(b[p:p + 8], "little", signed=True)


def _field(b: bytes, table: int, i: int) -> int:
    """Position of field ``i`` of the flatbuffer table at ``table``, or 0 if absent."""
    vt = table - int.from_bytes(b[table:table + 4], "little", signed=True)
    if not 0 <= vt < len(b) - 4:
        raise MetadataError("bad Arrow message header")
    vlen = _u16(b, vt)
    if 4 + 2 * i >= vlen:
        return 0
    off = _u16(b, vt + 4 + 2 * i)
    return table + off if off else 0


def _ref(b: bytes, pos: int) -> int:
    target = pos + _u32(b, pos)
    if not 0 <= target < len(b):
        raise MetadataError("bad Arrow message header")
    return target


def _pairs(b: bytes, pos: int) -> list[list[int]]:
    """The vector of 16-byte structs (two int64 each: a field node's length and null
    count, a buffer's offset and length) at ``pos``, as [[first, second] ...] (one
    numpy read: a capture's batch has ~100 buffers)."""
    if not pos:
        return []
    v = _ref(b, pos)
    n = _u32(b, v)
    if v + 4 + n * 16 > len(b):
        raise MetadataError("bad Arrow message header")
    pairs: list[list[int]] = np.frombuffer(b, dtype="<i8", count=2 * n,
                                           offset=v + 4).reshape(n, 2).tolist()
    return pairs


_MAX_BODY = 1 << 40  # no capture batch comes near; lseek past a file system limit is EINVAL


def message_body_length(meta: bytes) -> int:
    """The body length an Arrow message's flatbuffer metadata ``meta`` declares (0 when
    it declares none); MetadataError if ``meta`` is not a message header."""
    p = _field(meta, _ref(meta, 0), 3)
    return _i64(meta, p) if p else 0


def batch_buffers(meta: bytes) -> tuple[int, list[list[int]]] | None:
    """(body length, [offset, length] of each buffer) of the Arrow message whose
    flatbuffer metadata is ``meta``, when it is a record batch with a body in bounds;
    None for any other message (or MetadataError: not a message header)."""
    msg = _ref(meta, 0)
    p = _field(meta, msg, 3)
    body_len = _i64(meta, p) if p else 0
    p = _field(meta, msg, 1)
    if not 0 <= body_len <= _MAX_BODY or (meta[p] if p else 0) != _HEADER_RECORD_BATCH:
        return None
    p = _field(meta, msg, 2)
    if not p:
        return None
    buffers = _pairs(meta, _field(meta, _ref(meta, p), 2))
    if any(off < 0 or length < 0 or off + length > body_len for off, length in buffers):
        return None
    return body_len, buffers


def first_oversized_batch(f: Any, buffer_limits: Any, max_rows: int = MAX_BATCH_ROWS
                          ) -> tuple[int, str] | None:
    """(index, reason) of the first record batch of the Arrow stream in the binary
    file ``f`` whose declared sizes are out of bounds, or None.

    ``buffer_limits(rows)`` gives the largest size each buffer may have for a batch
    of ``rows`` rows, in the order Arrow lays the buffers out. Reads only message
    headers and compressed-buffer prefixes; stops quietly where the stream ends
    or is cut (the reader reports that)."""
    state = [0]
    try:
        return _scan(f, buffer_limits, max_rows, state)
    except (MetadataError, IndexError, ValueError):
        return state[0], "a bad Arrow message header"


def _scan(f: Any, buffer_limits: Any, max_rows: int, state: list[int]
          ) -> tuple[int, str] | None:
    f.seek(0)
    index = 0
    while True:
        state[0] = index
        head = f.read(8)
        if len(head) < 8:
            return None
        if head[:4] == b"\xff\xff\xff\xff":
            size = _u32(head, 4)
        else:  # the pre-1.0 format without the continuation marker
            size = _u32(head, 0)
            f.seek(-4, 1)
        if size == 0:
            return None  # end of stream
        if size > METADATA_MAX_BYTES:
            return index, f"an Arrow message header of {size} bytes"
        meta = f.read(size)
        if len(meta) < size:
            return None
        msg = _ref(meta, 0)
        p = _field(meta, msg, 3)
        body_len = _i64(meta, p) if p else 0
        if not 0 <= body_len <= _MAX_BODY:  # a flipped bit: seeking that far is EINVAL
            return index, f"an Arrow message body of {body_len} bytes"
        body_at = f.tell()
        p = _field(meta, msg, 1)
        kind = meta[p] if p else 0
        if kind == _HEADER_RECORD_BATCH:
            p = _field(meta, msg, 2)
            if not p:
                return index, "a record batch without its header"
            rb = _ref(meta, p)
            p = _field(meta, rb, 0)
            rows = _i64(meta, p) if p else 0
            if not 0 <= rows <= max_rows:
                return index, f"a batch of {rows} rows (at most {max_rows})"
            for node_length, _ in _pairs(meta, _field(meta, rb, 1)):
                if not 0 <= node_length <= rows:
                    return index, "a column longer than its batch"
            buffers = _pairs(meta, _field(meta, rb, 2))
            limits = buffer_limits(rows)
            compressed = bool(_field(meta, rb, 3))
            if len(buffers) != len(limits):
                return index, "a batch with other columns than a capture's"
            for k, ((off, length), limit) in enumerate(zip(buffers, limits, strict=True)):
                if off < 0 or length < 0 or off + length > body_len:
                    return index, "a buffer outside its batch"
                declared = length
                if compressed and length >= 8:
                    f.seek(body_at + off)
                    prefix = f.read(8)
                    if len(prefix) < 8:
                        return None  # cut here: the reader says so
                    declared = int.from_bytes(prefix, "little", signed=True)
                    if declared == -1:  # stored uncompressed
                        declared = length - 8
                if not 0 <= declared <= limit:
                    return index, (f"buffer {k} declares {declared} bytes for {rows} rows "
                                   f"(at most {limit})")
            index += 1
        f.seek(body_at + body_len)
