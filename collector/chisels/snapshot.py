"""sysdig's "System State" chisels: ``ps``, ``lsof``, ``netstat`` (each with an
optional filter over processes and their fds) and ``lscontainers``.

Like sysdig's, they list the state as of the first event the user's filter passes
(sysdig's chisels end the capture there): the processes and fds of the session's
State before that event — read from /proc live, from the file's tables on a
capture. Layout and order are sysdig 0.29.3's Lua chisels'. cdig's State holds
processes, not threads: a process is listed once, its TID its PID (sysdig lists
every thread, each with the process's fd table).
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any

import numpy as np

from .. import procfs
from ..events import Event, EventKind, FdInfo, Process
from ..fields.base import user_name
from ..filter import compile_filter
from .base import Arg, Chisel
from .tables import _extend, format_bytes

NO_MATCH = "empty capture or no event matching the filter"


def _probe_event(p: Process, fd: FdInfo | None) -> Event:
    """An event of process ``p`` on ``fd``: what the filter of ps/lsof/netstat is
    evaluated on (sysdig's get_thread_table builds the same)."""
    return Event(num=0, ts_ns=0, cpu=0, kind=EventKind.SYSCALL, type="", dir="<", res=0,
                 latency_ns=0, pid=p.pid, tid=p.pid, uid=p.uid, gid=0, comm=p.name,
                 cgroup_id=p.cgroup_id, proc=p, container=p.container, fd=fd)


class SnapshotRun:
    """One run: the processes (and fds) the filter keeps, taken when the session
    starts; printed at the end if an event came."""

    batch_sink = True

    def __init__(self, filter_text: str | None, render: Any) -> None:
        self.filter = compile_filter(filter_text) if filter_text else None
        self.render = render
        self.rows: list[tuple[Process, list[FdInfo]]] = []
        self.matched = False

    def start(self, state: Any, source: Any = None) -> None:
        flt = self.filter
        # live, State learns a process's fds as events use them: ask /proc for all
        live = type(state.procfs) is procfs.ProcFS
        for pid in sorted(state.procs):
            p = state.procs[pid]
            if p.exited:
                continue
            if live:
                for n in sorted(procfs.list_fds(pid, state.procfs.root)):
                    state.fd(pid, n)
            fds = [state.fds.get(pid, {})[n] for n in sorted(state.fds.get(pid, {}))]
            if flt is not None:
                fds = [f for f in fds if flt(_probe_event(p, f))]
                if not fds:  # sysdig: a process passes when one of its fds does
                    continue
            self.rows.append((p, fds))

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        if matched.any():
            self.matched = True

    def table(self, delta_ns: int = 0) -> str:
        if not self.matched:
            return NO_MATCH
        return "\n".join(self.render(self.rows))


def _info(p: Process, name: str) -> int:
    v = getattr(p.info, name, None) if p.info is not None else None
    return int(v) if v is not None else 0


def _ps(rows: Sequence[tuple[Process, list[FdInfo]]]) -> Iterator[str]:
    yield "".join(_extend(h, w) for h, w in (("TID", 8), ("PID", 8), ("USER", 12),
                                             ("VIRT", 11), ("RES", 11), ("FDLIMIT", 10),
                                             ("CMD", 20)))
    for p, _fds in rows:
        yield (_extend(str(p.pid), 8) + _extend(str(p.pid), 8) + _extend(user_name(p.uid), 12)
               + _extend(format_bytes(_info(p, "vmsize") * 1024), 11)
               + _extend(format_bytes(_info(p, "vmrss") * 1024), 11)
               + _extend(str(_info(p, "fdlimit")), 10) + p.name)


def _lsof(rows: Sequence[tuple[Process, list[FdInfo]]]) -> Iterator[str]:
    yield "".join(_extend(h, w) for h, w in (("COMMAND", 20), ("PID", 8), ("TID", 8),
                                             ("USER", 8), ("FD", 8), ("TYPE", 12))) + "NAME"
    for p, fds in rows:
        for f in fds:
            yield (_extend(p.name, 20) + _extend(str(p.pid), 8) + _extend(str(p.pid), 8)
                   + _extend(user_name(p.uid), 8) + _extend(str(f.num), 8)
                   + _extend(f.type, 12) + f.name)


def _netstat(rows: Sequence[tuple[Process, list[FdInfo]]]) -> Iterator[str]:
    yield (_extend("Proto", 6) + _extend("Server Address", 25) + _extend("Client Address", 25)
           + _extend("State", 15) + "TID/PID/Program Name")
    for p, fds in rows:
        for f in fds:
            # a socket with no client end is a listening one (sysdig's cip == nil)
            listening = not f.cip
            cip, cport = ("0.0.0.0", "*") if listening else (f.cip, str(f.cport))
            yield (_extend(f.l4proto, 6) + _extend(f"{f.sip}:{f.sport}", 25)
                   + _extend(f"{cip}:{cport}", 25)
                   + _extend("LISTEN" if listening else "ESTABLISHED", 15)
                   + f"{p.pid}/{p.pid}/{p.name}")


class ContainersRun:
    """``lscontainers``: the containers known once the first event came, by id."""

    batch_sink = True

    def __init__(self) -> None:
        self.state: Any = None
        self.seen: dict[str, Any] = {}

    def start(self, state: Any, source: Any = None) -> None:
        self.state = state

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        for c in b.containers:
            if not c.is_host:
                self.seen.setdefault(c.id, c)

    def table(self, delta_ns: int = 0) -> str:
        known = dict(self.seen)
        if self.state is not None:
            for p in self.state.procs.values():
                if not p.container.is_host:
                    known.setdefault(p.container.id, p.container)
        lines = [_extend("container.type", 15) + _extend("container.image", 16)
                 + _extend("container.name", 20) + _extend("container.id", 13),
                 _extend("-" * 15, 15) + _extend("-" * 16, 16) + _extend("-" * 20, 20)
                 + _extend("-" * 13, 13)]
        for cid in sorted(known):
            c = known[cid]
            lines.append(_extend(c.runtime, 15) + _extend(c.image, 16) + _extend(c.name, 20)
                         + _extend(c.short_id, 13))
        return "\n".join(lines)


_FILTER_ARG = "A sysdig-like filter expression that allows restricting the FD list."


def _snapshot(name: str, description: str, render: Any, base: str | None) -> Chisel:
    def make(args: Sequence[str], pc: bool) -> SnapshotRun:
        user = " ".join(args)
        text = base if not user else f"({base}) and ({user})" if base else user
        return SnapshotRun(text, render)

    return Chisel(name, "System State", description, make=make, filter=lambda args, pc: "",
                  args=(Arg("filter", _FILTER_ARG, optional=True, filter=True),), interval=False,
                  first_event=True)


CHISELS: tuple[Chisel, ...] = (
    _snapshot("ps", "List (and optionally filter) the machine processes.", _ps, None),
    _snapshot("lsof", "List (and optionally filter) the open file descriptors.", _lsof, None),
    _snapshot("netstat", "List (and optionally filter) network connections.", _netstat,
              "fd.type=ipv4 or fd.type=ipv6"),
    Chisel("lscontainers", "System State", "List the running containers",
           make=lambda args, pc: ContainersRun(), filter=lambda args, pc: "",
           args=(Arg("desc", "Prints the result set as a data structure", optional=True),),
           interval=False, first_event=True),
)
