"""``cdig summary``'s tables from batches: vectorised group-bys into an Aggregator.

The same tables as ``Aggregator.__call__`` fed one Event at a time (the per-event
reference; ``tests/unit/test_summary.py`` checks both agree), for the summary
views: per batch, the matched rows are grouped by each view's key
(``collector.vector``), counted and summed with numpy, and merged into the
Aggregator's dicts in the order the keys first appear — so ties sort as before.
"""

from __future__ import annotations

from collections import Counter

import numpy as np

from ..probes import layout
from ..probes.syscalls import SyscallTable
from .aggregate import _FILE_TYPES, _NET_TYPES, _NO_RETURN, READS, WRITES, Aggregator, _Stats
from .batch import EventBatch
from .fields import errno_name
from .vector import COMM, CONT, FD, KIND, NR, PID, RET, UID, ArgRelevance, group


def _sums(codes: np.ndarray, n: int, values: np.ndarray) -> list[int]:
    """Exact int64 sums of ``values`` per code (bincount's float weights are not)."""
    if not len(codes):
        return [0] * n
    vmax = int(np.abs(values).max())
    if vmax * len(values) < 1 << 53:  # every partial sum an exact float64
        return np.bincount(codes, weights=values, minlength=n).astype(np.int64).tolist()
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    sums = np.add.reduceat(values[order].astype(np.int64), starts)
    out = np.zeros(n, dtype=np.int64)
    out[sc[starts]] = sums
    return out.tolist()


class BatchAggregator:
    """A session sink filling ``agg``'s summary views from whole batches."""

    batch_sink = True

    def __init__(self, agg: Aggregator, syscalls: SyscallTable) -> None:
        self.agg = agg
        self.rel = ArgRelevance(syscalls)
        reads = np.zeros(1 << 16, dtype=bool)
        writes = np.zeros(1 << 16, dtype=bool)
        no_return = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            reads[spec.nr] = spec.name in READS
            writes[spec.nr] = spec.name in WRITES
            no_return[spec.nr] = spec.name in _NO_RETURN
        self._reads, self._writes, self._no_return = reads, writes, no_return

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
        nbytes = np.where(syscall & (ret > 0), ret, 0)
        io_kind = syscall | enter
        is_read = (nbytes > 0) & io_kind & self._reads[nr]
        is_write = (nbytes > 0) & io_kind & self._writes[nr]
        origin = b.container_origin or b.containers
        fd_code = b.fd_code
        assert fd_code is not None and b.cont_code is not None
        fd_types = [None if f is None else f.type for f in b.fds]
        io = is_read | is_write
        rel = self.rel

        def grouped(keys: frozenset[str]) -> tuple[np.ndarray, np.ndarray, list]:
            codes, first = group(b, keys, rel)
            order = np.argsort(first, kind="stable")  # keys in order of first sight
            return codes, first, order.tolist()

        if "proc" in views:
            codes, first, order = grouped(frozenset({CONT, PID, COMM}))
            reps = b.events(first)
            cnt = np.bincount(codes, minlength=len(first)).tolist()
            t = _sums(codes, len(first), lat)
            e = np.bincount(codes, weights=failed, minlength=len(first)).astype(np.int64).tolist()
            for g in order:
                ev = reps[g]
                key = (origin[b.cont_code[first[g]]].name, ev.pid, ev.comm)
                s = agg.procs.get(key)
                if s is None:
                    s = agg.procs[key] = _Stats()
                s.events += cnt[g]
                s.time_ns += t[g]
                s.errors += e[g]
        if "container" in views:
            codes, first, order = grouped(frozenset({CONT, PID}))
            n = len(first)
            cnt = np.bincount(codes, minlength=n).tolist()
            t = _sums(codes, n, lat)
            e = np.bincount(codes, weights=failed, minlength=n).astype(np.int64).tolist()
            ftype = np.array([t_ in _FILE_TYPES for t_ in fd_types], dtype=bool)[fd_code]
            ntype = np.array([t_ in _NET_TYPES for t_ in fd_types], dtype=bool)[fd_code]
            fr = _sums(codes, n, np.where(io & ftype & is_read, nbytes, 0))
            fw = _sums(codes, n, np.where(io & ftype & is_write, nbytes, 0))
            ni = _sums(codes, n, np.where(io & ntype & is_read, nbytes, 0))
            no = _sums(codes, n, np.where(io & ntype & is_write, nbytes, 0))
            pids = rec["pid"][first].tolist()
            for g in order:
                c = origin[b.cont_code[first[g]]]
                s = agg.containers.get(c.id)
                if s is None:
                    s = agg.containers[c.id] = _Stats(extra={"c": c, "pids": set(), "in": 0,
                                                             "out": 0})
                s.events += cnt[g]
                s.time_ns += t[g]
                s.errors += e[g]
                s.extra["pids"].add(pids[g])
                s.read += fr[g]
                s.written += fw[g]
                s.extra["in"] += ni[g]
                s.extra["out"] += no[g]
        if "syscall" in views:
            sel = syscall | (enter & self._no_return[nr])
            if sel.any():
                sub = np.flatnonzero(sel)
                codes, first, order = grouped(frozenset({KIND, NR}))
                codes_s = codes[sub]
                n = len(first)
                cnt = np.bincount(codes_s, minlength=n).tolist()
                t = _sums(codes_s, n, lat[sub])
                e = np.bincount(codes_s, weights=failed[sub], minlength=n).astype(np.int64)
                e = e.tolist()
                reps = b.events(first)
                for g in order:
                    if not cnt[g]:
                        continue
                    typ = reps[g].type
                    s = agg.syscalls.get(typ)
                    if s is None:
                        s = agg.syscalls[typ] = _Stats()
                    s.events += cnt[g]
                    s.time_ns += t[g]
                    s.errors += e[g]
        if ("file" in views or "conn" in views) and io.any():
            sub = np.flatnonzero(io & (fd_code > 0))
            if len(sub):
                self._io(b, sub, nbytes, is_read, fd_types, origin)
        if "errors" in views and failed.any():
            sub = np.flatnonzero(failed)
            codes, first, order = grouped(frozenset({KIND, NR, RET}))
            cnt = np.bincount(codes[sub], minlength=len(first)).tolist()
            reps = b.events(first)
            for g in order:
                if not cnt[g]:
                    continue
                ev = reps[g]
                name = errno_name(-ev.res)
                counter = agg.errors.get(name)
                if counter is None:
                    counter = agg.errors[name] = Counter()
                counter[ev.type] += cnt[g]
        if "user" in views:
            codes, first, order = grouped(frozenset({UID}))
            cnt = np.bincount(codes, minlength=len(first)).tolist()
            uids = rec["uid"][first].tolist()
            execs = np.flatnonzero(kind == layout.KIND_EXEC)
            for g in order:
                s = agg.users.get(uids[g])
                if s is None:
                    s = agg.users[uids[g]] = _Stats(extra={"commands": Counter()})
                s.events += cnt[g]
            for ev in b.events(execs):
                agg.users[ev.uid].extra["commands"][
                    ev.proc.cmdline if ev.proc is not None else ev.comm] += 1

    def _io(self, b: EventBatch, sub: np.ndarray, nbytes: np.ndarray, is_read: np.ndarray,
            fd_types: list, origin: list) -> None:
        agg, views = self.agg, self.agg.views
        codes, first = group(b, frozenset({FD}), self.rel)
        codes_s = codes[sub]
        n = len(first)
        cnt = np.bincount(codes_s, minlength=n).tolist()
        rd = _sums(codes_s, n, np.where(is_read[sub], nbytes[sub], 0))
        wr = _sums(codes_s, n, np.where(is_read[sub], 0, nbytes[sub]))
        # first row of each fd group among the I/O rows: the conn's process
        firsts = np.full(n, -1, dtype=np.int64)
        rev = sub[::-1]
        firsts[codes[rev]] = rev
        for g in np.argsort(np.where(firsts >= 0, firsts, len(b)), kind="stable").tolist():
            if not cnt[g]:
                continue
            fd = b.fds[b.fd_code[first[g]]]
            if fd is None:
                continue
            if "file" in views and fd.type in _FILE_TYPES:
                s = agg.files.get(fd.name)
                if s is None:
                    s = agg.files[fd.name] = _Stats()
                s.events += cnt[g]
                s.read += rd[g]
                s.written += wr[g]
            elif "conn" in views and fd.type in _NET_TYPES:
                key = (fd.l4proto, fd.name)
                s = agg.conns.get(key)
                if s is None:
                    i = int(firsts[g])
                    ev = b.event(i)
                    c = origin[b.cont_code[i]]
                    s = agg.conns[key] = _Stats(extra={"proc": ev.comm, "container": c.name,
                                                       "pid": ev.pid, "cid": c.id})
                s.events += cnt[g]
                s.extra["closed_ns"] = 0
                s.read += rd[g]
                s.written += wr[g]
