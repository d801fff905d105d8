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
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any

from .events import Event, EventKind
from .fields import errno_name, user_name

VIEWS = ("proc", "container", "syscall", "file", "conn", "errors", "user")

# I/O syscalls whose return value is a byte count, and on which side it goes
READS = frozenset({"read", "pread64", "readv", "preadv", "preadv2", "recvfrom", "recvmsg"})
WRITES = frozenset({"write", "pwrite64", "writev", "pwritev", "pwritev2", "sendto", "sendmsg",
                    "sendfile"})
_FILE_TYPES = frozenset({"file", "directory"})
_NET_TYPES = frozenset({"ipv4", "ipv6"})
# calls that never return: only their enter record exists (execve has both)
_NO_RETURN = frozenset({"exit", "exit_group"})


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

    def __init__(self, views: Iterable[str] = VIEWS, max_commands: int = 5) -> None:
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
                    s = self.conns[key] = _Stats(extra={"proc": ev.comm, "container": c.name})
                s.events += 1
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
