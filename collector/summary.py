"""``cdig summary``'s tables from batches: vectorised group-bys into an Aggregator.

The same tables as ``Aggregator.__call__`` fed one Event at a time (the per-event
reference; ``tests/unit/test_summary.py`` checks both agree), for the summary
views: per batch, the matched rows are grouped by each view's key
(``collector.vector``), counted and summed with numpy, and merged into the
Aggregator's dicts in the order the keys first appear — so ties sort as before.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

import numpy as np

from ..probes.syscall_table import SyscallTable
from ..probes.syscalls import layout
from .aggregate import _FILE_TYPES, _NET_TYPES, _NO_RETURN, READS, WRITES, Aggregator, _Stats
from .batch import EventBatch
from .events import Container
from .fields import errno_name
from .vector import COMM, CONT, FD, KIND, NR, PID, RET, UID, ArgRelevance, sums, totals

_RECORD_VIEWS = {"syscall", "errors"}
_RECORD_COLUMNS = ("kind", "nr", "ret", "latency_ns")
_VIEW_COLUMNS = {"syscall": _RECORD_COLUMNS, "errors": _RECORD_COLUMNS,
                 "proc": (*_RECORD_COLUMNS, "pid", "comm"), "user": ("kind", "uid")}
_IO_VIEWS = {"container", "file", "conn"}
# the views that read no row but I/O calls' (beyond counting every row: ``events``)
_IO_ROW_VIEWS = {"file"}
_NATIVE_MIN = 4096  # rows: below, the numpy group-by (batch.factorize's bound too)


def _count(table: dict[Any, _Stats], key: Any, events: int, time_ns: int, errors: int) -> None:
    """Add a group's events, time and errors to its row of a summary table."""
    s = table.get(key)
    if s is None:
        s = table[key] = _Stats()
    s.events += events
    s.time_ns += time_ns
    s.errors += errors


class BatchAggregator:
    """A session sink filling ``agg``'s summary views from whole batches."""

    batch_sink = True
    matched_only = True  # reads the matched rows and their objects only (Session._only_pids)

    def __init__(self, agg: Aggregator, syscalls: SyscallTable) -> None:
        self.agg = agg
        # the views keyed by the records alone (syscall, errors) read no process, fd or
        # container: the session then keeps no state for this sink (Session.stateless)
        self.needs_state = not set(agg.views) <= _RECORD_VIEWS
        # the views that show no bytes read no fd (Session: fd rows then not applied)
        self.needs_fds = bool(_IO_VIEWS & set(agg.views))
        # and the only record fields they read (None: any): a capture's others stay unread
        self.columns = None if self.needs_fds else \
            tuple(sorted({c for v in agg.views for c in _VIEW_COLUMNS[v]}))
        # views of I/O rows only: the rows they read, by the record's syscall (a reader may
        # leave the others out, but for those that change state; ``add_unread``)
        self.rows_read = self._io_rows if set(agg.views) <= _IO_ROW_VIEWS else None
        self.rel = ArgRelevance(syscalls)
        reads = np.zeros(1 << 16, dtype=bool)
        writes = np.zeros(1 << 16, dtype=bool)
        no_return = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            reads[spec.nr] = spec.name in READS
            writes[spec.nr] = spec.name in WRITES
            no_return[spec.nr] = spec.name in _NO_RETURN
        self._reads, self._writes, self._no_return = reads, writes, no_return

    def _io_rows(self, cols: Any) -> np.ndarray:
        """The rows of read and write calls: all that the I/O-only views read."""
        nr = cols["nr"]
        io: np.ndarray = self._reads[nr] | self._writes[nr]
        return io

    def add_unread(self, n: int) -> None:
        """Count ``n`` matched rows the reader left out (``rows_read``): they are in
        ``events``, and in no view of I/O rows."""
        self.agg.events += n

    def __call__(self, b: EventBatch, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched)
        if not len(rows):
            return
        if len(rows) != len(b):
            b = b.take(rows)
        agg, views = self.agg, self.agg.views
        agg.events += len(b)
        rec = b.cols
        kind, nr, ret = rec["kind"], rec["nr"], rec["ret"]
        syscall = kind == layout.KIND_SYSCALL
        enter = kind == layout.KIND_SYSCALL_ENTER
        failed = syscall & (ret < 0) & (ret > -4096)
        lat = np.where(syscall, rec["latency_ns"], 0).astype(np.int64)
        origin = b.container_origin or b.containers
        fd_code, cont_code = b.fd_code, b.cont_code
        rel = self.rel
        if _IO_VIEWS & set(views):  # the I/O columns: only the views that show bytes
            nbytes = np.where(syscall & (ret > 0), ret, 0)
            io_kind = syscall | enter
            is_read = (nbytes > 0) & io_kind & self._reads[nr]
            is_write = (nbytes > 0) & io_kind & self._writes[nr]
            fd_types = [None if f is None else f.type for f in b.fds]
            io = is_read | is_write

        if "proc" in views:
            assert cont_code is not None
            self._procs(b, cont_code, origin, lat, failed)
        if "container" in views:
            assert fd_code is not None and cont_code is not None
            ftype = np.array([t_ in _FILE_TYPES for t_ in fd_types], dtype=bool)[fd_code]
            ntype = np.array([t_ in _NET_TYPES for t_ in fd_types], dtype=bool)[fd_code]
            pids = rec["pid"]
            for r, n, (t, e, fr, fw, ni, no) in totals(
                    b, frozenset({CONT, PID}), rel, None,
                    (lat, failed, np.where(io & ftype & is_read, nbytes, 0),
                     np.where(io & ftype & is_write, nbytes, 0),
                     np.where(io & ntype & is_read, nbytes, 0),
                     np.where(io & ntype & is_write, nbytes, 0))):
                c = origin[cont_code[r]]
                s = agg.containers.get(c.id)
                if s is None:
                    s = agg.containers[c.id] = _Stats(extra={"c": c, "pids": set(), "in": 0,
                                                             "out": 0})
                s.events += n
                s.time_ns += t
                s.errors += e
                s.extra["pids"].add(int(pids[r]))
                s.read += fr
                s.written += fw
                s.extra["in"] += ni
                s.extra["out"] += no
        if "syscall" in views:
            sub = np.flatnonzero(syscall | (enter & self._no_return[nr]))
            if len(sub):
                # keyed by (kind, nr) as one small int: kind is one of two here
                nr_s = nr[sub].astype(np.int64)
                key = nr_s + (int(nr_s.max()) + 1) * enter[sub]
                groups = [(int(sub[i]), n, sums) for i, n, sums in
                          by_key(key, (lat[sub], failed[sub]))]
                b.materialize([g[0] for g in groups])
                for r, n, (t, e) in groups:
                    _count(agg.syscalls, b.event(r).type, n, t, e)
        if ("file" in views or "conn" in views) and io.any():
            assert fd_code is not None
            sub = np.flatnonzero(io & (fd_code > 0))
            if len(sub):
                self._io(b, sub, nbytes, is_read, origin)
        if "errors" in views and failed.any():
            groups = totals(b, frozenset({KIND, NR, RET}), rel, np.flatnonzero(failed))
            b.materialize([g[0] for g in groups])
            for r, n, _ in groups:
                ev = b.event(r)
                name = errno_name(-ev.res)
                counter = agg.errors.get(name)
                if counter is None:
                    counter = agg.errors[name] = Counter()
                counter[ev.type] += n
        if "user" in views:
            uids = rec["uid"]
            for r, n, _ in totals(b, frozenset({UID}), rel, None):
                uid = int(uids[r])
                s = agg.users.get(uid)
                if s is None:
                    s = agg.users[uid] = _Stats(extra={"commands": Counter()})
                s.events += n
            for ev in b.events(np.flatnonzero(kind == layout.KIND_EXEC)):
                agg.users[ev.uid].extra["commands"][
                    ev.proc.cmdline if ev.proc is not None else ev.comm] += 1

    def _procs(self, b: EventBatch, cont_code: np.ndarray, origin: list[Container],
               lat: np.ndarray, failed: np.ndarray) -> None:
        """The proc view: rows by (container, pid, comm). The key is the container's
        code and two record columns, so the groups come from render.c's exact hash
        (``cdig_group_rows``) over those columns, and each group's pid and comm from
        its first row's columns (what its Event would carry: ``Decoder._comm``)
        without building Events; ``vector.totals`` when the kernel is not compiled."""
        agg = self.agg
        rec = b.cols
        from .native.render import assembler

        asm = assembler() if len(b) >= _NATIVE_MIN else None
        if asm is None:
            groups = totals(b, frozenset({CONT, PID, COMM}), self.rel, None, (lat, failed))
            b.materialize([g[0] for g in groups])  # the Events of one row per group, at once
            for r, n, (t, e) in groups:
                ev = b.event(r)
                _count(agg.procs, (origin[cont_code[r]].name, ev.pid, ev.comm), n, t, e)
            return
        words = rec["comm"].view("<u8").reshape(-1, 2)
        pid = rec["pid"]
        codes, first = asm.group([cont_code, pid, words[:, 0], words[:, 1]], len(b))
        k = len(first)  # codes in order of first sight: ``first`` ascends, as totals'
        cnt = np.bincount(codes, minlength=k).tolist()
        t_l = sums(codes, k, lat)
        e_l = sums(codes, k, failed)
        comm_of = b.decoder._comm
        names = [c.name for c in origin]
        for c, p, cb, n, t, e in zip(cont_code[first].tolist(), pid[first].tolist(),
                                     rec["comm"][first].tolist(), cnt, t_l, e_l, strict=True):
            _count(agg.procs, (names[c], p, comm_of(cb)), n, t, e)

    def _io(self, b: EventBatch, sub: np.ndarray, nbytes: np.ndarray, is_read: np.ndarray,
            origin: list[Container]) -> None:
        agg, views = self.agg, self.agg.views
        fd_code, cont_code = b.fd_code, b.cont_code
        assert fd_code is not None and cont_code is not None
        rd = np.where(is_read[sub], nbytes[sub], 0)
        wr = np.where(is_read[sub], 0, nbytes[sub])
        # each fd's first I/O row: the conn's process
        for r, n, (r_bytes, w_bytes) in totals(b, frozenset({FD}), self.rel, sub, (rd, wr),
                                               first_of_rows=True):
            fd = b.fds[fd_code[r]]
            if fd is None:
                continue
            if "file" in views and fd.type in _FILE_TYPES:
                s = agg.files.get(fd.name)
                if s is None:
                    s = agg.files[fd.name] = _Stats()
                s.events += n
                s.read += r_bytes
                s.written += w_bytes
            elif "conn" in views and fd.type in _NET_TYPES:
                key = (fd.l4proto, fd.name)
                s = agg.conns.get(key)
                if s is None:
                    ev = b.event(r)
                    c = origin[cont_code[r]]
                    s = agg.conns[key] = _Stats(extra={"proc": ev.comm, "container": c.name,
                                                       "pid": ev.pid, "cid": c.id})
                s.events += n
                s.extra["closed_ns"] = 0
                s.read += r_bytes
                s.written += w_bytes


def by_key(key: np.ndarray, values: tuple[np.ndarray, ...] = ()
           ) -> list[tuple[int, int, list[int]]]:
    """``vector.totals`` for rows keyed by small non-negative ints: (first row, rows,
    the sums of each of ``values``) per key, in the order keys first appear. By
    ``np.bincount`` (no hash, no sort of the rows): the sums are exact while every
    partial sum is below 2**53 (checked; else added as int64)."""
    size = int(key.max()) + 1
    cnt = np.bincount(key, minlength=size)
    first = np.full(size, len(key), dtype=np.int64)
    first[key[::-1]] = np.arange(len(key) - 1, -1, -1)  # the last write: the first row
    present = np.flatnonzero(cnt)
    order = present[np.argsort(first[present], kind="stable")]
    per = []
    for v in values:
        if v.dtype == bool or int(np.abs(v).max()) * len(v) < 1 << 53:
            per.append(np.bincount(key, weights=v, minlength=size).astype(np.int64)[order])
        else:
            exact = np.zeros(size, dtype=np.int64)
            np.add.at(exact, key, v.astype(np.int64))
            per.append(exact[order])
    per_l = [p.tolist() for p in per]
    return [(f, c, [p[j] for p in per_l]) for j, (f, c) in
            enumerate(zip(first[order].tolist(), cnt[order].tolist(), strict=True))]
