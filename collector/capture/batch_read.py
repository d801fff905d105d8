"""A read capture batch as the engine takes it: converted to the decoder's records on a
read-ahead thread (pruned first when the session says which rows it can skip), with the
plain columns handed on as numpy views of the Arrow buffers."""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import numpy as np
import pyarrow as pa

from ...probes.syscalls import layout
from ..decode import RawBatch
from ..read_ahead import read_ahead as _read_ahead
from . import kernels
from .digest import _values
from .format import _PLAIN_INT_COLUMNS, SCHEMA, _fixed_into, _fixed_rows, batch_to_raw
from .journal import join_journals, stamped_only
from .reader import CaptureBatch

_T = TypeVar("_T")

_AHEAD = 2  # batches read and converted ahead of the one being processed
# The engine's numpy calls on small arrays release the GIL; the reader thread takes it
# and keeps it, unless it blocks, for the interpreter's switch interval (5 ms): each
# such call of the engine then waited up to 5 ms. Shorter while a capture is read.
_SWITCH_S = 0.0005


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
        group: list[tuple[CaptureBatch, pa.RecordBatch, int]] = []
        rows = 0
        for cb in batches:
            rb, left_out = cb.records, 0
            if prune is not None and rb.num_rows:
                rb, left_out = prune(rb)
            if prune is None or rb.num_columns != len(SCHEMA):
                yield _one(cb, rb, left_out)
                continue
            if group and (rows + rb.num_rows > _GROUP_ROWS or len(group) >= _GROUP_BATCHES
                          or not _joins(cb.state)):
                yield _joined(group)
                group, rows = [], 0
            group.append((cb, rb, left_out))
            rows += rb.num_rows
            if rows >= _GROUP_ROWS:
                yield _joined(group)
                group, rows = [], 0
        if group:
            yield _joined(group)

    return _switching(_read_ahead(converted(), _AHEAD, "cdig-capture-read"))


# A pruned batch keeps a few rows of its 16k (a selective trace -r: ~20), and each
# batch costs the engine a fixed ~2 ms (its numpy calls, the conversion): consecutive
# pruned batches are joined into one of up to this many rows, or batches.
_GROUP_ROWS = 16384
_GROUP_BATCHES = 64


def _one(cb: CaptureBatch, rb: pa.RecordBatch, left_out: int
         ) -> tuple[CaptureBatch, tuple[RawBatch, np.ndarray] | None, int]:
    if not rb.num_rows:
        return cb, None, left_out
    whole = rb.num_columns == len(SCHEMA)
    return cb, _converted(rb) if whole else _narrow(rb), left_out


def _joins(state: dict[str, Any]) -> bool:
    """Whether a batch with ``state`` can join the batches before it: its state is
    applied before their records then, so it may hold only /proc answers that name
    the record asking (which no earlier record can be given) and the live session's
    drop count (read when the replay ends)."""
    return set(state) <= {"journal", "drops"} and stamped_only(state.get("journal", []))


def _joined(group: list[tuple[CaptureBatch, pa.RecordBatch, int]]
            ) -> tuple[CaptureBatch, tuple[RawBatch, np.ndarray] | None, int]:
    """Consecutive pruned batches as one: the first one's state with every journal
    after it appended (and the last drop count), their kept rows in file order, the
    rows left out summed. Its ``records`` are the kept rows (not the file's batch)."""
    if len(group) == 1:
        return _one(*group[0])
    first = group[0][0]
    state = dict(first.state)
    journals = [j for cb, _, _ in group if (j := cb.state.get("journal"))]
    for cb, _, _ in group[1:]:
        if "drops" in cb.state:
            state["drops"] = cb.state["drops"]
    if journals:
        state["journal"] = join_journals(journals)
    kept = [rb for _, rb, _ in group if rb.num_rows]
    rb = pa.concat_batches(kept) if len(kept) > 1 else kept[0] if kept else group[0][1]
    cb = CaptureBatch(rb, state, group[-1][0].end)
    return _one(cb, rb, sum(left for _, _, left in group))


def _switching(items: Iterator[_T]) -> Iterator[_T]:
    """``items``, with the switch interval at most ``_SWITCH_S`` while they are read
    (set back after)."""
    before = sys.getswitchinterval()
    sys.setswitchinterval(min(before, _SWITCH_S))
    try:
        yield from items
    finally:
        sys.setswitchinterval(before)


_RECORD_FIELDS = {name: layout.RECORD[name] for name in _PLAIN_INT_COLUMNS}
_FIELDS = layout.RECORD.fields
assert _FIELDS is not None  # RECORD is a structured dtype (numpy's stubs allow None)
_OFFSET = {name: int(_FIELDS[name][1]) for name in _PLAIN_INT_COLUMNS}


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


def _narrow(rb: pa.RecordBatch) -> tuple[RawBatch, np.ndarray]:
    """A batch of some columns (``CaptureFile.batches(fields)``) as records: the
    columns read in their fields, every other field 0, every row a plain record (no
    strings). Only for sinks that named the columns they read (``Session.replay``)."""
    n = rb.num_rows
    rec = np.zeros(n, dtype=layout.RECORD)
    cols: dict[str, np.ndarray] = {}
    names = rb.schema.names
    for name, dt in _RECORD_FIELDS.items():
        if name in names:
            v = _values(rb.column(names.index(name)))
            cols[name] = v if v.dtype == dt else v.astype(dt)
    # every column into the records in one pass (the kernel), else field by field
    if not kernels.fill_rows(rec, [(_OFFSET[k], v) for k, v in cols.items()]):
        for k, v in cols.items():
            rec[k] = v
    if "comm" in names:
        col = rb.column(names.index("comm"))
        if not _fixed_into(rec, "comm", col, layout.COMM_LEN, None):  # the kernel's pad
            rec["comm"] = ArrowColumns(rb)["comm"]
        cols["comm"] = np.ascontiguousarray(rec["comm"])
    ctx = _values(rb.column(names.index("ctx"))).astype(bool) if "ctx" in names else \
        np.zeros(n, dtype=bool)
    num = _values(rb.column(names.index("num"))).copy() if "num" in names else None
    raw = RawBatch(rec, np.zeros(0, dtype=layout.EXT_RECORD), order=np.arange(n), num=num,
                   merged=rec)
    raw.columns = cols
    return raw, ctx


class ArrowColumns:
    """A capture batch's record columns by name, as the raw filter reads them (numpy
    views of the Arrow buffers; ``comm`` as the probe's fixed-width bytes)."""

    def __init__(self, rb: pa.RecordBatch) -> None:
        self.rb = rb
        self._c: dict[str, np.ndarray] = {}

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._c.get(name)
        if a is None:
            col = self.rb.column(self.rb.schema.get_field_index(name))  # maybe some columns
            if name == "comm":
                a = np.empty(len(col), dtype=f"S{layout.COMM_LEN}")
                bufs = col.buffers()
                offs = np.frombuffer(bufs[1], dtype=np.int32, count=len(col) + 1,
                                     offset=col.offset * 4)
                if not (len(col) and kernels.fill_fixed(a, 0, layout.COMM_LEN, offs, bufs[2])):
                    a = _fixed_rows(col, layout.COMM_LEN).view(f"S{layout.COMM_LEN}").reshape(-1)
            else:
                a = _values(col)
            self._c[name] = a
        return a

    def __len__(self) -> int:
        return int(self.rb.num_rows)


_take: Any = None  # (call_function, TakeOptions) of pyarrow._compute, once loaded


def take_rows(rb: pa.RecordBatch, rows: np.ndarray) -> pa.RecordBatch:
    """``rb.take(rows)``: the same batch, by the same Arrow kernel (bounds checked),
    called through pyarrow._compute (~4 ms to import, at the first call) without
    importing pyarrow.compute (~21 ms: it wraps every function), which
    RecordBatch.take does at its first call."""
    global _take
    if _take is None:
        try:
            from pyarrow._compute import TakeOptions, call_function
            _take = (call_function, TakeOptions(boundscheck=True))
        except ImportError:  # pragma: no cover - a pyarrow without the private module
            _take = ()
    rows = np.ascontiguousarray(rows, dtype=np.int64)
    # from the buffer, not pa.array: that imports numpy.ma (~7 ms) at its first call
    idx = pa.Array.from_buffers(pa.int64(), len(rows), [None, pa.py_buffer(rows)])
    if not _take:
        return rb.take(idx)
    out: pa.RecordBatch = _take[0]("take", [rb, idx], _take[1])
    return out


def len2_column(rb: pa.RecordBatch) -> np.ndarray:
    """Each row's len2, 0 for a record without strings (a null len2)."""
    col = rb.column(SCHEMA.get_field_index("len2"))
    v = _values(col).astype(np.int64)
    if col.null_count:  # the validity bits as bytes (is_valid().to_numpy() cost ~2x)
        bits = np.frombuffer(col.buffers()[0], dtype=np.uint8)
        valid = np.unpackbits(bits, count=col.offset + len(col),
                              bitorder="little")[col.offset:].view(bool)
        v = np.where(valid, v, 0)
    return v


def shift_ts(raw: RawBatch, delta: int) -> None:
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
