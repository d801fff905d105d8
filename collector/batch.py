"""The columnar batch: one drain of the probe (or one capture batch) as columns.

An :class:`EventBatch` is what flows from the decoder to the sinks. Its rows are
the raw records of both rings merged in decoding order (timestamp order live, the
recorded order on replay), numbered (``evt.num``) and stamped with wall-clock
time, all as numpy columns. Enrichment (``collector.enrich``) adds three code
columns — which process, fd and container each row belongs to *as of that row* —
over small per-batch tables of those objects. Filters, formatters, the capture
writer and the aggregators read the columns; per-row Python objects
(:class:`~collector.events.Event`) are built only for the rows that need them
(:meth:`EventBatch.event`), e.g. the few that change state, or one
representative row per distinct key when a field is evaluated once per key.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

import numpy as np

if TYPE_CHECKING:
    from .decode import Decoder
    from .events import Container, Event, FdInfo, Process



@dataclass(eq=False)
class EventBatch:
    """One batch as columns (see the module docstring).

    ``rec`` holds the plain part of every row (``layout.RECORD``, in decoding
    order); ``ext_row`` is each row's index into ``ext`` (the records with strings)
    or -1. ``proc_code``/``fd_code``/``cont_code`` index ``procs``/``fds``/
    ``containers`` (``fds[0]`` is None: no fd); they are None until enriched.
    ``ctx`` marks capture rows kept only for state (a replay does not show them).
    """

    decoder: Decoder
    rec: np.ndarray
    ext: np.ndarray
    ext_row: np.ndarray
    num: np.ndarray
    ts: np.ndarray
    ctx: np.ndarray | None = None
    src: np.ndarray | None = None  # each row's index into [plain records, ext records]
    proc_code: np.ndarray | None = None
    procs: list[Process | None] = field(default_factory=list)
    fd_code: np.ndarray | None = None
    fds: list[FdInfo | None] = field(default_factory=lambda: [None])
    cont_code: np.ndarray | None = None
    containers: list[Container] = field(default_factory=list)
    container_origin: list[Container] | None = None  # the live objects (see session)
    _events: dict[int, Event] = field(default_factory=dict)
    # by name, and vector.group's groupings by ("group", key set)
    _cache: dict[str | tuple[str, frozenset[str]], Any] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.rec)

    # -- columns --------------------------------------------------------------------
    @property
    def cols(self) -> Columns:
        """The record's fields as contiguous arrays, copied once per batch (a field of
        the structured array is a strided view: every operation on it is slower)."""
        c = self._cache.get("cols")
        if c is None:
            c = self._cache["cols"] = Columns(self.rec)
        return c

    def fd_numbers(self) -> np.ndarray:
        """The fd each row refers to (the Event's fd lookup), -1 for none."""
        c = self._cache.get("fdnum")
        if c is None:
            c = self._cache["fdnum"] = self.decoder.fd_numbers(self.cols)
        return c

    # -- rows as objects --------------------------------------------------------------
    def event(self, i: int) -> Event:
        """Row ``i`` as an Event, with its process, fd and container when enriched."""
        ev = self._events.get(i)
        if ev is None:
            self.materialize([i])
            ev = self._events[i]
        return ev

    def materialize(self, rows: list[int]) -> None:
        """Build the Events of ``rows`` at once (columns converted once)."""
        todo = [i for i in rows if i not in self._events]
        if not todo:
            return
        evs = self.decoder.events_at(self, todo)
        pc, fc, cc = self.proc_code, self.fd_code, self.cont_code
        procs, fds, conts = self.procs, self.fds, self.containers
        for i, ev in zip(todo, evs, strict=True):
            if pc is not None:
                ev.proc = procs[pc[i]]
            if fc is not None:
                ev.fd = fds[fc[i]]
            if cc is not None:
                ev.container = conts[cc[i]]
            self._events[i] = ev

    def events(self, rows: np.ndarray | None = None) -> list[Event]:
        """Events of ``rows`` (default all), in row order."""
        idx = list(range(len(self))) if rows is None else rows.tolist()
        self.materialize(idx)
        ev = self._events
        return [ev[i] for i in idx]

    def take(self, rows: np.ndarray) -> EventBatch:
        """A batch of some rows (in the order given), sharing the object tables."""
        sub = EventBatch(self.decoder, take_records(self.rec, rows), self.ext, self.ext_row[rows],
                         self.num[rows], self.ts[rows],
                         None if self.ctx is None else self.ctx[rows],
                         None if self.src is None else self.src[rows],
                         None if self.proc_code is None else self.proc_code[rows], self.procs,
                         None if self.fd_code is None else self.fd_code[rows], self.fds,
                         None if self.cont_code is None else self.cont_code[rows],
                         self.containers, self.container_origin)
        cols = self._cache.get("cols")
        if cols is not None:  # gathers of contiguous columns, not new strided copies
            sub._cache["cols"] = cols.take(sub.rec, rows)
        pos = {int(r): j for j, r in enumerate(rows.tolist())} if self._events else {}
        for i, ev in self._events.items():
            j = pos.get(i)
            if j is not None:
                sub._events[j] = ev
        return sub


def take_records(records: np.ndarray, rows: np.ndarray) -> np.ndarray:
    """``records[rows]`` for a structured array, through a view as raw bytes: numpy
    copies structured elements (``args`` is a sub-array) field by field, an order of
    magnitude slower."""
    raw = np.dtype((np.void, records.dtype.itemsize))
    out: np.ndarray = np.ascontiguousarray(records).view(raw)[rows].view(records.dtype)
    return out


def concat_records(parts: list[np.ndarray]) -> np.ndarray:
    """``np.concatenate`` of structured arrays of one dtype, as raw bytes (see above)."""
    dt = parts[0].dtype
    raw = np.dtype((np.void, dt.itemsize))
    return np.concatenate([np.ascontiguousarray(p).view(raw) for p in parts]).view(dt)


# records per chunk of Columns.split: a few hundred kB of records and their columns
SPLIT_CHUNK = 4096


class Columns:
    """``rec[name]`` as a contiguous array, made on first use: a drop-in for the
    structured array wherever fields are read by name (the raw filter included)."""

    __slots__ = ("rec", "_c")

    def __init__(self, rec: np.ndarray, known: dict[str, np.ndarray] | None = None) -> None:
        self.rec = rec
        self._c: dict[str, np.ndarray] = dict(known) if known else {}  # equal to rec's

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._c.get(name)
        if a is None:
            a = self._c[name] = np.ascontiguousarray(self.rec[name])
        return a

    def split(self) -> Columns:
        """Every field made now, in chunks that stay in cache: field by field, each
        copy reads every record's bytes from memory again (~2.5x slower for all of
        a live batch's fields, 182 vs 73 ns per record measured offline)."""
        rec, c = self.rec, self._c
        todo = [n for n in rec.dtype.names or () if n not in c]
        if len(rec) <= SPLIT_CHUNK or not todo:
            for n in todo:
                c[n] = np.ascontiguousarray(rec[n])
            return self
        out = [np.empty(rec.shape + rec.dtype[n].shape, rec.dtype[n].base) for n in todo]
        for i in range(0, len(rec), SPLIT_CHUNK):
            part = rec[i:i + SPLIT_CHUNK]
            for n, o in zip(todo, out, strict=True):
                o[i:i + SPLIT_CHUNK] = part[n]
        c.update(zip(todo, out, strict=True))
        return self

    def take(self, rec: np.ndarray, rows: np.ndarray) -> Columns:
        """The columns made so far, of ``rows`` (``rec``: those rows' records)."""
        # np.take: ~2.5x faster than a[rows] for the (n, 6) args (measured offline)
        return Columns(rec, {n: np.take(a, rows, axis=0) for n, a in self._c.items()})

    def __len__(self) -> int:
        return len(self.rec)


def group_codes(*columns: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(codes, first row of each code): rows equal on every column share a code.

    Exact: columns are combined through successive ``np.unique`` inverse codes, never
    hashed, so two rows share a code only when all their values are equal.
    """
    n = len(columns[0]) if columns else 0
    if n == 0:
        return np.zeros(0, dtype=np.int64), np.zeros(0, dtype=np.int64)
    key = columns[0]
    for col in columns[1:]:
        _, a = np.unique(key, return_inverse=True)
        _, b = np.unique(col, return_inverse=True)
        a = a.reshape(-1).astype(np.int64)
        b = b.reshape(-1).astype(np.int64)
        key = a * (int(b.max()) + 1) + b
    _, first, codes = np.unique(key, return_index=True, return_inverse=True)
    return codes.reshape(-1).astype(np.int64), first.astype(np.int64)


def factorize(col: np.ndarray) -> tuple[np.ndarray, np.ndarray, int]:
    """(code per row, first row of each code, number of codes): rows of equal value
    share a code, codes number the values in order of first sight. Exact, as
    ``np.unique``'s inverse; large integer columns through render.c's hash table
    (``cdig_group_rows``) when compiled, else Arrow's (``dictionary_encode``, ~6x
    faster than sorting a 64k-row batch; importing pyarrow costs ~0.1 s a process)."""
    n = len(col)
    if n >= 4096 and col.ndim == 1 and col.dtype.kind in "biu" and \
            col.itemsize in (1, 2, 4, 8):
        from .native.render import assembler

        asm = assembler()
        if asm is not None:
            codes, first = asm.group([col], n)
            return codes, first, len(first)
    if n < 4096:  # small batches (and no pyarrow import before the first large one)
        _, first, codes = np.unique(col, return_index=True, return_inverse=True)
        order = np.argsort(first)
        rank = np.empty(len(first), dtype=np.int64)
        rank[order] = np.arange(len(first))
        return rank[codes.reshape(-1)], first[order].astype(np.int64), len(first)
    import pyarrow as pa

    codes = pa.array(col).dictionary_encode().indices.to_numpy().astype(np.int64)
    seen = np.maximum.accumulate(codes)
    new = np.empty(n, dtype=bool)
    new[0] = True
    np.greater(seen[1:], seen[:-1], out=new[1:])
    first = np.flatnonzero(new)
    return codes, first, len(first)


def stable_order(codes: np.ndarray, k: int) -> np.ndarray:
    """``np.argsort(codes, kind="stable")`` for codes below ``k``: as 16-bit values
    when they fit (numpy sorts those by radix, ~5x faster)."""
    if k <= 1 << 16:
        return np.argsort(codes.astype(np.uint16), kind="stable")
    return np.argsort(codes, kind="stable")
