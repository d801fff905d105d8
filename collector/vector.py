"""Fields over columns: what each field depends on, and rows grouped by it.

A field's value is a function of a few of a row's attributes (``fd.name`` of its
fd, ``proc.cmdline`` of its process, ``evt.type`` of kind and syscall number …).
Rows equal on those attributes have equal values, so a filter term, a formatted
field or a group-by key is computed once per distinct combination — on one
representative row, with the very getter the per-event path uses, so the result
is the same by construction — and taken back onto the rows. Fields that differ on
every row (``evt.num``, the timestamps, the latency, the CPU) are *row-level*:
computed straight from their column.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import fields
from operator import attrgetter
from typing import Any

import numpy as np

from ..probes.syscall_table import SyscallTable
from ..probes.syscalls import layout
from .batch import EventBatch, factorize
from .events import FdInfo
from .fields import base_name

# Row attributes a field can depend on (besides the row-level columns).
KIND, NR, RET, ARGS, EXT, PID, TID, UID, GID, COMM, PROC, FD, CONT, CGROUP, CPU = (
    "kind", "nr", "ret", "args", "ext", "pid", "tid", "uid", "gid", "comm", "proc", "fd", "cont",
    "cgroup", "cpu")
ALL_KEYS = frozenset({KIND, NR, RET, ARGS, EXT, PID, TID, UID, GID, COMM, PROC, FD, CONT,
                      CGROUP, CPU})

# Row-level fields: a column each, different on (nearly) every row. (evt.cpu has
# a handful of values: it is keyed, so it costs no piece of its own in a line.)
ROW_FIELDS = frozenset({"evt.num", "evt.time", "evt.outputtime", "evt.datetime",
                        "evt.rawtime", "evt.latency"})
# The record's time and latency as keys: the other fields made of them (evt.time.s,
# evt.latency.human, proc.duration …) are keyed on them, exact without a column of
# their own in the renderer (nearly one group per row: they cost what they cost).
TS, LAT = "ts_ns", "latency_ns"

# PROC too: an execve exit's arguments are its new process's (State._exec_args), and
# two children of one parent exec with the same pointers
_ARGS = frozenset({KIND, NR, ARGS, EXT, PROC})
_TYPE = frozenset({KIND, NR})
_FAILED = frozenset({KIND, RET})
DEPENDS: dict[str, frozenset[str]] = {
    "evt.type": _TYPE,
    "evt.dir": frozenset({KIND}),
    "evt.cpu": frozenset({CPU}),
    "evt.res": _FAILED,
    "evt.rawres": _FAILED,
    "evt.failed": _FAILED,
    "evt.args": _ARGS | {FD},
    "evt.info": _ARGS | {FD, RET},
    "evt.buffer": frozenset({KIND, EXT}),
    "evt.buflen": _TYPE | {RET},
    "evt.time.s": frozenset({TS}),
    "evt.time.iso8601": frozenset({TS}),
    "evt.datetime.s": frozenset({TS}),
    "evt.rawtime.s": frozenset({TS}),
    "evt.rawtime.ns": frozenset({TS}),
    "evt.latency.s": frozenset({KIND, LAT}),
    "evt.latency.ns": frozenset({KIND, LAT}),
    "evt.latency.human": frozenset({KIND, LAT}),
    "evt.wait_latency": _TYPE | {LAT},
    "proc.duration": frozenset({PROC, TS}),
    "evt.reltime": frozenset({TS}),
    "evt.around": frozenset({TS}),
    "evt.reltime.s": frozenset({TS}),
    "evt.reltime.ns": frozenset({TS}),
    "thread.pfmajor": frozenset({PID, TID, PROC}),
    "thread.pfminor": frozenset({PID, TID, PROC}),
    "evt.pluginname": frozenset(),
    "evt.plugininfo": frozenset(),
    "evt.count": frozenset(),
    "syscall.type": _TYPE,
    "evt.type.is": _TYPE,
    "evt.category": _TYPE | {FD},  # I/O calls: the fd's type
    "evt.is_io": _TYPE,
    "evt.is_io_read": _TYPE,
    "evt.is_io_write": _TYPE,
    "evt.io_dir": _TYPE,
    "evt.is_wait": _TYPE,
    "evt.is_syslog": _TYPE | {FD},
    "evt.count.error": _FAILED,
    "evt.count.error.file": _FAILED | {NR, FD},
    "evt.count.error.net": _FAILED | {NR, FD},
    "evt.count.error.memory": _FAILED | {NR, FD},
    "evt.count.error.other": _FAILED | {NR, FD},
    "evt.count.exit": frozenset({KIND}),
    "evt.abspath": _ARGS | {PROC},
    "evt.is_open_read": _ARGS,
    "evt.is_open_write": _ARGS,
    "evt.is_open_exec": _ARGS,
    "evt.arg": _ARGS,
    "evt.rawarg": _ARGS,
    "proc.name": frozenset({COMM}),
    "proc.pid": frozenset({PID}),
    "thread.tid": frozenset({TID}),
    "thread.ismain": frozenset({PID, TID}),
    "thread.vtid": frozenset({PID, TID, PROC, CONT}),
    "proc.vpid": frozenset({PID, PROC, CONT}),
    "thread.vmsize": frozenset({PID, TID, PROC}),
    "thread.vmrss": frozenset({PID, TID, PROC}),
    "user.uid": frozenset({UID}),
    "user.name": frozenset({UID}),
    "user.homedir": frozenset({UID}),
    "user.shell": frozenset({UID}),
    "user.loginuid": frozenset({PROC}),
    "user.loginname": frozenset({PROC}),
    "group.gid": frozenset({GID}),
    "group.name": frozenset({GID}),
    "fd.num": _ARGS | {FD},
    "fd.uid": _ARGS | {FD, TID},
    "fd.containername": frozenset({FD, CONT}),
    "fd.containerdirectory": frozenset({FD, CONT}),
    "fs.path.name": _ARGS | {FD},
    "proc.is_container_healthcheck": frozenset({PROC, CONT}),
    "proc.is_container_liveness_probe": frozenset({PROC, CONT}),
    "proc.is_container_readiness_probe": frozenset({PROC, CONT}),
}


def depends(name: str) -> frozenset[str]:
    """The row attributes field ``name`` reads (row-level fields: none here)."""
    d = DEPENDS.get(name)
    if d is None:
        d = DEPENDS.get(base_name(name))  # proc.aname[2] → proc.aname, evt.arg.fd → evt.arg
    if d is not None:
        return d
    if name in ROW_FIELDS:
        return frozenset()
    cls = name.split(".", 1)[0]
    if cls in ("container", "k8s"):
        return frozenset({CONT})
    if cls == "fd":
        return frozenset({FD})
    if cls in ("proc", "thread"):  # the process and its ancestors, all in the Process
        return frozenset({PROC})
    return ALL_KEYS  # unknown to this table: group by everything (still exact)


class ArgRelevance:
    """Which raw arguments the decoder shows, per syscall number: other arguments
    (buffers, structs) do not split groups."""

    def __init__(self, syscalls: SyscallTable) -> None:
        rel = np.zeros((1 << 16, 6), dtype=bool)
        rel[:, :3] = True  # syscalls the table does not know: three raw arguments
        for spec in syscalls.by_nr.values():
            rel[spec.nr] = False
            for a in spec.args:
                rel[spec.nr, a.index] = True
        self.rel = rel

    def masked(self, rec: np.ndarray) -> np.ndarray:
        """The (n, 6) arguments with the ones not shown zeroed (sched records keep
        args 0–1: child/parent tid, old pid)."""
        syscall = rec["kind"] <= layout.KIND_SYSCALL_ENTER
        rel = np.where(syscall[:, None], self.rel[rec["nr"]], np.array([True, True] + [False] * 4))
        return np.where(rel, rec["args"], np.uint64(0))


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _columns(b: EventBatch, keys: Iterable[str], rel: ArgRelevance) -> list[np.ndarray]:
    rec = b.cols
    out: list[np.ndarray] = []
    for k in sorted(keys):
        if k == ARGS:
            m = b._cache.get("masked_args")
            if m is None:
                m = b._cache["masked_args"] = rel.masked(b.rec)
            out.extend(m[:, i] for i in range(6))
        elif k == EXT:
            out.append(b.ext_row)
        elif k == COMM:  # the 16 bytes as two words: hashed with the rest, no sort
            words = rec["comm"].view("<u8").reshape(-1, 2)
            out += [words[:, 0], words[:, 1]]
        elif k == PROC:
            out.append(_need(b.proc_code))
        elif k == FD:
            out.append(_fd_values(b))
        elif k == CONT:
            out.append(_need(b.cont_code))
        elif k == CGROUP:
            out.append(rec["cgroup_id"])
        elif k == RET:
            out.append(rec["ret"])
        else:
            out.append(rec[k])
    return out


_FD_VALUE = attrgetter(*(f.name for f in fields(FdInfo)))


def _fd_values(b: EventBatch) -> np.ndarray:
    """The fd code of each row, FdInfos of equal fields under one code (the first's):
    every fd field reads the FdInfo's fields alone, and each open makes an FdInfo of
    its own, so 20,000 opens of one file would be 20,000 groups (Events built, lines
    formatted) of one value. Other types of fd objects keep their own code."""
    hit: np.ndarray | None = b._cache.get("fd_values")
    if hit is not None:
        return hit
    code = _need(b.fd_code)
    fds = b.fds
    if len(fds) <= 2:
        b._cache["fd_values"] = code
        return code
    seen: dict[Any, int] = {}
    canon = [seen.setdefault(_FD_VALUE(fd) if type(fd) is FdInfo else (id(fd),), i)
             for i, fd in enumerate(fds)]
    if len(seen) < len(fds):
        code = np.asarray(canon, dtype=np.int64)[code]
    b._cache["fd_values"] = code
    return code


def _need(col: np.ndarray | None) -> np.ndarray:
    if col is None:
        raise RuntimeError("batch not enriched")
    return col


def group(b: EventBatch, keys: frozenset[str], rel: ArgRelevance) -> tuple[np.ndarray, np.ndarray]:
    """(code per row, first row of each code) for rows equal on ``keys``.

    Cached per batch. Many columns are hashed into one 64-bit key, then every
    group is checked against its first row column by column; on a collision
    (never seen, but possible) the exact combination of ``np.unique`` codes is used.
    """
    cache_key = ("group", keys)
    hit: tuple[np.ndarray, np.ndarray] | None = b._cache.get(cache_key)
    if hit is not None:
        return hit
    n = len(b)
    if n == 0 or not keys:
        res = (np.zeros(n, dtype=np.int64), np.zeros(1 if n else 0, dtype=np.int64))
        b._cache[cache_key] = res
        return res
    cols = _columns(b, keys, rel)
    if len(cols) == 1:
        codes, first, _ = factorize(cols[0])
        res = (codes, first)
    else:
        h = np.zeros(n, dtype=np.uint64)
        with np.errstate(over="ignore"):
            for c in cols:
                h = (h ^ c.astype(np.uint64, copy=False)) * _MIX
                h ^= h >> np.uint64(29)
        codes, first, _ = factorize(h)
        rep = first[codes]
        if all(np.array_equal(c, c[rep]) for c in cols):
            res = (codes, first)
        else:  # a hash collision: group exactly
            from .batch import group_codes

            res = group_codes(*cols)
    b._cache[cache_key] = res
    return res


# -- the group-by engine: cdig summary's tables and the table chisels ----------------


def sums(codes: np.ndarray, n: int, values: np.ndarray) -> list[int]:
    """Exact int64 sums of ``values`` per code below ``n`` (bincount's float weights
    are exact only while every partial sum is below 2**53: checked, else reduceat)."""
    if not len(codes):
        return [0] * n
    if values.dtype == bool or int(np.abs(values).max()) * len(values) < 1 << 53:
        exact: list[int] = np.bincount(codes, weights=values, minlength=n).astype(np.int64).tolist()
        return exact
    order = np.argsort(codes, kind="stable")
    sc = codes[order]
    starts = np.flatnonzero(np.r_[True, sc[1:] != sc[:-1]])
    part = np.add.reduceat(values[order].astype(np.int64), starts)
    out = np.zeros(n, dtype=np.int64)
    out[sc[starts]] = part
    summed: list[int] = out.tolist()
    return summed


def totals(b: EventBatch, keys: frozenset[str], rel: ArgRelevance, rows: np.ndarray | None,
           values: Iterable[np.ndarray] = (), first_of_rows: bool = False
           ) -> list[tuple[int, int, list[int]]]:
    """The one group-by of the summary tables and the table chisels: the rows of ``b``
    grouped by ``keys`` (``group``), and per group that has some of ``rows`` (None:
    every row) — (its first row, how many of ``rows`` it has, the sums of each of
    ``values`` over them; each value an array over ``rows``).

    Groups come in the order their first row appears in ``b`` (``first_of_rows``:
    their first row among ``rows``, then that is the row given), so a caller that
    merges them into a dict keeps ties in the order of the events."""
    codes, first = group(b, keys, rel)
    n = len(first)
    if rows is not None:
        codes_r = codes[rows]
    else:
        codes_r = codes
    cnt = np.bincount(codes_r, minlength=n)
    per = [sums(codes_r, n, v) for v in values]
    if first_of_rows and rows is not None:
        rep = np.full(n, -1, dtype=np.int64)
        rev = rows[::-1]
        rep[codes[rev]] = rev  # the last write is the first row
        order = np.argsort(np.where(rep >= 0, rep, len(b)), kind="stable")
    else:
        rep = first
        order = np.argsort(first, kind="stable")
    cnt_l = cnt.tolist()
    rep_l = rep.tolist()
    return [(rep_l[g], cnt_l[g], [p[g] for p in per]) for g in order.tolist() if cnt_l[g]]
