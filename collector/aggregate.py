"""Aggregation of events into the tables sysdig's chisels print.

An ``Aggregator`` is a pipeline sink: call it with each Event (after state
enrichment and the filter). It keeps, per view, one row per key:

    proc       (container, pid, name): events, syscall time, errors     topprocs
    container  container: events, time, errors, file and network bytes
    syscall    evt.type: calls, errors, total and mean latency          topscalls(_time)
    file       file path: bytes read, written                           topfiles_bytes
    conn       connection: l4 protocol, bytes in, out                   topconns
    errors     errno: count, the syscalls that got it                   errors
    user       user: commands started (exec), events                    spy_users

``table(view)`` returns a ``Table`` (columns + rows of plain values) sorted by
the view's natural key, for text, JSON, the TUI or tests. Bytes count only
I/O syscalls that succeeded (their return value is the byte count).

With ``detail=True`` (what ``cdig top`` asks for) the aggregator also keeps what
the TUI's views and drill-downs need, keyed so that a drill-down is a projection
of what is already counted, not a new pass over the events:

    pids          pid: name (the process's comm, not a thread's), container, uid,
                  events, errors, time, file/net bytes, last seen, exit time
    pid_syscalls  (pid, evt.type): calls, errors, time, sparse latency histogram
    pid_files     (pid, path): read, written, ops, opens
    pid_conns     (pid, l4proto, name): in, out, ops
    err_detail    (evt.type, errno, pid): count
    err_totals    (evt.type, errno, container id): count (kept when processes go)
    lat_hist      evt.type: a log-linear latency histogram (for p99)
    file_opens    path: successful opens
    execs         the last ``max_execs`` execs: time, pid, uid, container, cmdline

The summary views above are unchanged by it. ``prune(before_ns)`` forgets
processes that exited and connections that were closed before ``before_ns``
(the TUI keeps them for one interval, marked, then lets them go), so a long
run does not pile up dead rows.
"""

from __future__ import annotations

from collections import Counter, deque
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from ..probes.io_calls import BYTE_READS, BYTE_WRITES
from .events import Event, EventKind, FdInfo
from .fields import errno_name, user_name

VIEWS = ("proc", "container", "syscall", "file", "conn", "errors", "user")

# I/O syscalls whose return value is a byte count, and on which side it goes
READS, WRITES = BYTE_READS, BYTE_WRITES
_FILE_TYPES = frozenset({"file", "directory"})
_NET_TYPES = frozenset({"ipv4", "ipv6"})
# calls that never return: only their enter record exists (execve has both)
_NO_RETURN = frozenset({"exit", "exit_group"})
_OPENS = frozenset({"open", "openat", "openat2", "creat"})

# Latency histogram: 4 buckets per power of two (log-linear, like HDR histograms at
# two significant bits), so a percentile read from it is at most 25 % high.
_SUB_BITS = 2
LAT_BUCKETS = 64 << _SUB_BITS


def latency_bucket(ns: int) -> int:
    """The histogram bucket of a latency in ns."""
    if ns < (1 << _SUB_BITS):
        return max(ns, 0)
    b = ns.bit_length()
    return ((b - _SUB_BITS) << _SUB_BITS) | ((ns >> (b - 1 - _SUB_BITS)) & ((1 << _SUB_BITS) - 1))


def bucket_upper(bucket: int) -> int:
    """The largest latency (ns) that falls in ``bucket``."""
    if bucket < (1 << _SUB_BITS):
        return bucket
    e, m = bucket >> _SUB_BITS, bucket & ((1 << _SUB_BITS) - 1)
    low = ((1 << _SUB_BITS) | m) << (e - 1)
    return low + (1 << (e - 1)) - 1


def percentile(hist: list[int] | dict[int, int], q: float) -> int:
    """The ``q`` quantile (0..1) of a latency histogram (a list of buckets, or a
    sparse {bucket: count}), as its bucket's upper bound."""
    if isinstance(hist, dict):
        dense = [0] * LAT_BUCKETS
        for b, n in hist.items():
            dense[b] = n
        hist = dense
    total = sum(hist)
    if not total:
        return 0
    want = q * total
    seen = 0
    for i, n in enumerate(hist):
        seen += n
        if n and seen >= want:
            return bucket_upper(i)
    return bucket_upper(len(hist) - 1)


@dataclass(slots=True)
class ProcStats:
    """Per pid, in detail mode: who it is and what it did."""

    name: str
    container: Any  # events.Container
    uid: int
    events: int = 0
    errors: int = 0
    time_ns: int = 0
    file_in: int = 0
    file_out: int = 0
    net_in: int = 0
    net_out: int = 0
    exited: bool = False
    last_ns: int = 0  # the last event seen
    exited_ns: int = 0  # its exit (0: not seen)


@dataclass(frozen=True, slots=True)
class ExecRecord:
    """One exec seen, in detail mode (the TUI's execs / spy-users view)."""

    ts_ns: int
    pid: int
    uid: int
    container: Any  # events.Container
    cmdline: str


@dataclass(frozen=True)
class Column:
    """One column of a table: ``kind`` says how to render it (text, int, bytes, ns)."""

    name: str
    kind: str = "int"


@dataclass
class Table:
    """A summary view: columns, rows (dicts keyed by column name), rows before ``top``."""

    view: str
    columns: tuple[Column, ...]
    rows: list[dict[str, Any]]
    total_rows: int = 0


@dataclass
class _Stats:
    events: int = 0
    errors: int = 0
    time_ns: int = 0
    read: int = 0
    written: int = 0
    extra: dict[str, Any] = field(default_factory=dict)


_COLUMNS: dict[str, tuple[Column, ...]] = {
    "proc": (Column("events"), Column("time", "ns"), Column("errors"), Column("pid"),
             Column("proc.name", "text"), Column("container.name", "text")),
    "container": (Column("events"), Column("time", "ns"), Column("errors"),
                  Column("file.read", "bytes"), Column("file.written", "bytes"),
                  Column("net.in", "bytes"), Column("net.out", "bytes"), Column("procs"),
                  Column("container.name", "text"), Column("container.id", "text"),
                  Column("container.image", "text")),
    "syscall": (Column("calls"), Column("errors"), Column("time", "ns"), Column("mean", "ns"),
                Column("evt.type", "text")),
    "file": (Column("bytes", "bytes"), Column("read", "bytes"), Column("written", "bytes"),
             Column("ops"), Column("fd.name", "text")),
    "conn": (Column("bytes", "bytes"), Column("in", "bytes"), Column("out", "bytes"),
             Column("ops"), Column("fd.l4proto", "text"), Column("fd.name", "text"),
             Column("proc.name", "text"), Column("container.name", "text")),
    "errors": (Column("count"), Column("evt.res", "text"), Column("syscalls", "text")),
    "user": (Column("execs"), Column("events"), Column("user.name", "text"),
             Column("commands", "text")),
}
_SORT = {"proc": "time", "container": "events", "syscall": "calls", "file": "bytes",
         "conn": "bytes", "errors": "count", "user": "execs"}


def columns(view: str) -> tuple[Column, ...]:
    return _COLUMNS[view]


class Aggregator:
    """A sink that keeps the summary tables of ``views`` (default: all of them)."""

    def __init__(self, views: Iterable[str] = VIEWS, max_commands: int = 5,
                 detail: bool = False, max_execs: int = 5000) -> None:
        self.views = frozenset(views)
        unknown = self.views - set(VIEWS)
        if unknown:
            raise ValueError(f"unknown views: {sorted(unknown)}")
        self.max_commands = max_commands
        self.events = 0
        self.procs: dict[tuple[str, int, str], _Stats] = {}
        self.containers: dict[str, _Stats] = {}
        self.syscalls: dict[str, _Stats] = {}
        self.files: dict[str, _Stats] = {}
        self.conns: dict[tuple[str, str], _Stats] = {}
        self.errors: dict[str, Counter[str]] = {}
        self.users: dict[int, _Stats] = {}
        self.detail = detail
        self.failed = 0
        self.pids: dict[int, ProcStats] = {}
        # [calls, errors, time, {bucket: count}]
        self.pid_syscalls: dict[tuple[int, str], list[Any]] = {}
        self.pid_files: dict[tuple[int, str], list[int]] = {}  # [read, written, ops, opens]
        self.pid_conns: dict[tuple[int, str, str], list[int]] = {}  # [in, out, ops]
        self.err_detail: Counter[tuple[str, str, int]] = Counter()
        self.err_totals: Counter[tuple[str, str, str]] = Counter()
        self.lat_hist: dict[str, list[int]] = {}
        self.file_opens: Counter[str] = Counter()
        self.execs: deque[ExecRecord] = deque(maxlen=max_execs)
        self.execs_seen = 0

    def __call__(self, ev: Event) -> None:
        self.events += 1
        views = self.views
        syscall = ev.kind == EventKind.SYSCALL
        failed = syscall and -4096 < ev.res < 0
        lat = ev.latency_ns if syscall else 0
        c = ev.container
        nbytes = ev.res if syscall and ev.res > 0 else 0
        typ = ev.type
        is_read = nbytes and typ in READS
        is_write = nbytes and typ in WRITES
        fd = ev.fd if (is_read or is_write) else None
        if "proc" in views:
            s = self.procs.get((c.name, ev.pid, ev.comm))
            if s is None:
                s = self.procs[c.name, ev.pid, ev.comm] = _Stats()
            s.events += 1
            s.time_ns += lat
            s.errors += failed
        if "container" in views:
            s = self.containers.get(c.id)
            if s is None:
                s = self.containers[c.id] = _Stats(extra={"c": c, "pids": set(), "in": 0,
                                                          "out": 0})
            s.events += 1
            s.time_ns += lat
            s.errors += failed
            s.extra["pids"].add(ev.pid)
            if fd is not None:
                if fd.type in _FILE_TYPES:
                    if is_read:
                        s.read += nbytes
                    else:
                        s.written += nbytes
                elif fd.type in _NET_TYPES:
                    s.extra["in" if is_read else "out"] += nbytes
        if "syscall" in views and (syscall or ev.type in _NO_RETURN):
            s = self.syscalls.get(typ)
            if s is None:
                s = self.syscalls[typ] = _Stats()
            s.events += 1
            s.time_ns += lat
            s.errors += failed
        if fd is not None:
            if "file" in views and fd.type in _FILE_TYPES:
                s = self.files.get(fd.name)
                if s is None:
                    s = self.files[fd.name] = _Stats()
                s.events += 1
                if is_read:
                    s.read += nbytes
                else:
                    s.written += nbytes
            elif "conn" in views and fd.type in _NET_TYPES:
                key = (fd.l4proto, fd.name)
                s = self.conns.get(key)
                if s is None:
                    s = self.conns[key] = _Stats(extra={"proc": ev.comm, "container": c.name,
                                                        "pid": ev.pid, "cid": c.id})
                s.events += 1
                s.extra["closed_ns"] = 0  # a name in use again (a new connection)
                if is_read:
                    s.read += nbytes
                else:
                    s.written += nbytes
        if failed and "errors" in views:
            name = errno_name(-ev.res)
            cnt = self.errors.get(name)
            if cnt is None:
                cnt = self.errors[name] = Counter()
            cnt[typ] += 1
        if "user" in views:
            s = self.users.get(ev.uid)
            if s is None:
                s = self.users[ev.uid] = _Stats(extra={"commands": Counter()})
            s.events += 1
            if ev.kind == EventKind.EXEC:
                s.extra["commands"][ev.proc.cmdline if ev.proc is not None else ev.comm] += 1
        if self.detail:
            self._detail(ev, syscall, failed, lat, nbytes, is_read, fd)

    def _detail(self, ev: Event, syscall: bool, failed: bool, lat: int, nbytes: int,
                is_read: bool | int, fd: FdInfo | None) -> None:
        """What the TUI needs beyond the summary views (see the module doc)."""
        pid, typ = ev.pid, ev.type
        self.failed += failed
        p = self.pids.get(pid)
        # the process's name (its comm, or its exe after an exec), not the thread's
        name = ev.proc.name if ev.proc is not None else ev.comm
        if p is None:
            p = self.pids[pid] = ProcStats(name, ev.container, ev.uid)
        else:
            p.name, p.container, p.uid = name, ev.container, ev.uid
        p.last_ns = ev.ts_ns
        p.events += 1
        p.errors += failed
        p.time_ns += lat
        kind = ev.kind
        if kind == EventKind.EXIT and ev.tid == pid:
            p.exited = True
            p.exited_ns = ev.ts_ns
        elif kind == EventKind.EXEC:
            self.execs_seen += 1
            self.execs.append(ExecRecord(ev.ts_ns, pid, ev.uid, ev.container,
                                         ev.proc.cmdline if ev.proc is not None else ev.comm))
        if syscall or typ in _NO_RETURN:
            k = (pid, typ)
            v = self.pid_syscalls.get(k)
            if v is None:
                v = self.pid_syscalls[k] = [0, 0, 0, {}]
            v[0] += 1
            v[1] += failed
            v[2] += lat
            if syscall:
                b = latency_bucket(lat)
                h = self.lat_hist.get(typ)
                if h is None:
                    h = self.lat_hist[typ] = [0] * LAT_BUCKETS
                h[b] += 1
                ph = v[3]  # per process: sparse (a few buckets each)
                ph[b] = ph.get(b, 0) + 1
        if failed:
            en = errno_name(-ev.res)
            self.err_detail[(typ, en, pid)] += 1
            self.err_totals[(typ, en, ev.container.id)] += 1
        elif typ == "close" and ev.fd is not None and ev.fd.type in _NET_TYPES:
            s = self.conns.get((ev.fd.l4proto, ev.fd.name))
            if s is not None:
                s.extra["closed_ns"] = ev.ts_ns
        elif syscall and typ in _OPENS and ev.fd is not None and ev.fd.type in _FILE_TYPES:
            name = ev.fd.name
            self.file_opens[name] += 1
            k2 = (pid, name)
            v = self.pid_files.get(k2)
            if v is None:
                self.pid_files[k2] = [0, 0, 0, 1]
            else:
                v[3] += 1
        if fd is None:
            return
        # the (process, file) row [in, out, calls, opens] or the (process, connection)
        # row [in, out, calls], and the process's byte counters of that kind
        table: dict[Any, list[int]]
        key: Any  # (pid, path) or (pid, l4proto, name)
        if fd.type in _FILE_TYPES:
            table, key, width = self.pid_files, (pid, fd.name), 4
            if is_read:
                p.file_in += nbytes
            else:
                p.file_out += nbytes
        elif fd.type in _NET_TYPES:
            table, key, width = self.pid_conns, (pid, fd.l4proto, fd.name), 3
            if is_read:
                p.net_in += nbytes
            else:
                p.net_out += nbytes
        else:
            return
        v = table.get(key)
        if v is None:
            v = table[key] = [0] * width
        v[0 if is_read else 1] += nbytes
        v[2] += 1

    def prune(self, before_ns: int) -> int:
        """Forget processes that exited, and connections closed, before
        ``before_ns`` (detail mode); returns how many rows went."""
        dead = {pid for pid, p in self.pids.items() if p.exited and p.exited_ns < before_ns}
        closed = {k for k, s in self.conns.items()
                  if 0 < s.extra.get("closed_ns", 0) < before_ns}
        if dead:
            for pid in dead:
                del self.pids[pid]
            for d in (self.pid_syscalls, self.pid_files):
                for k in [k for k in d if k[0] in dead]:
                    del d[k]
            for ek in [k for k in self.err_detail if k[2] in dead]:
                del self.err_detail[ek]
            for s in self.containers.values():  # their pids (a set per container)
                s.extra["pids"].difference_update(dead)
        if dead or closed:
            for ck in [k for k in self.pid_conns if k[0] in dead or (k[1], k[2]) in closed]:
                del self.pid_conns[ck]
        for conn in closed:
            del self.conns[conn]
        return len(dead) + len(closed)

    # -- results ---------------------------------------------------------------------
    def rows(self, view: str) -> list[dict[str, Any]]:
        """Every row of a view, unsorted."""
        if view == "proc":
            return [{"events": s.events, "time": s.time_ns, "errors": s.errors, "pid": pid,
                     "proc.name": name, "container.name": cname}
                    for (cname, pid, name), s in self.procs.items()]
        if view == "container":
            out = []
            for s in self.containers.values():
                c = s.extra["c"]
                out.append({"events": s.events, "time": s.time_ns, "errors": s.errors,
                            "file.read": s.read, "file.written": s.written,
                            "net.in": s.extra["in"], "net.out": s.extra["out"],
                            "procs": len(s.extra["pids"]), "container.name": c.name,
                            "container.id": c.short_id, "container.image": c.image})
            return out
        if view == "syscall":
            return [{"calls": s.events, "errors": s.errors, "time": s.time_ns,
                     "mean": s.time_ns // s.events if s.events else 0, "evt.type": typ}
                    for typ, s in self.syscalls.items()]
        if view == "file":
            return [{"bytes": s.read + s.written, "read": s.read, "written": s.written,
                     "ops": s.events, "fd.name": name} for name, s in self.files.items()]
        if view == "conn":
            return [{"bytes": s.read + s.written, "in": s.read, "out": s.written,
                     "ops": s.events, "fd.l4proto": proto, "fd.name": name,
                     "proc.name": s.extra["proc"], "container.name": s.extra["container"]}
                    for (proto, name), s in self.conns.items()]
        if view == "errors":
            return [{"count": sum(cnt.values()), "evt.res": name,
                     "syscalls": " ".join(f"{t}:{n}" for t, n in cnt.most_common(5))}
                    for name, cnt in self.errors.items()]
        if view == "user":
            out = []
            for uid, s in self.users.items():
                cmds: Counter[str] = s.extra["commands"]
                out.append({"execs": sum(cmds.values()), "events": s.events,
                            "user.name": user_name(uid),
                            "commands": "; ".join(c for c, _ in
                                                  cmds.most_common(self.max_commands))})
            return out
        raise ValueError(f"unknown view {view!r}")

    def table(self, view: str, sort: str | None = None, top: int | None = None) -> Table:
        """A view sorted (descending; text columns ascending) and cut to ``top`` rows."""
        cols = _COLUMNS[view]
        key = sort or _SORT[view]
        kinds = {c.name: c.kind for c in cols}
        if key not in kinds:
            raise ValueError(f"no column {key!r} in view {view}; columns: "
                             + ", ".join(kinds))
        rows = self.rows(view)
        text = kinds[key] == "text"
        # ties: by the text columns, so the order is stable run to run
        tie = [c.name for c in cols if c.kind == "text"]
        rows.sort(key=lambda r: tuple(str(r[t]) for t in tie))
        rows.sort(key=lambda r: r[key], reverse=not text)
        total = len(rows)
        if top:
            rows = rows[:top]
        return Table(view, cols, rows, total)
