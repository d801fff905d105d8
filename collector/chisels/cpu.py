"""sysdig's ``topprocs_cpu`` and ``topcontainers_cpu``: CPU time per process (or
container) as a share of the time the capture covers.

sysdig's figures come from its procinfo events: the thread's user+system clock
ticks, whose rise since the thread's previous procinfo (at most 100) counts 10 ms
each; the sum over the capture is divided by the capture's span (first to last
event, internal ones included). A .scap file holds those events, and cdig's reader keeps them
(``ScapSource.procinfo``); so a capture gives sysdig's numbers. Live, the source is
the same one sysdig's procinfo events are made of: each process's utime+stime in
``/proc/PID/stat`` (all its threads), sampled when the table is drawn, over the
time since the previous one. A cdig capture has neither: it says so.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from .. import procfs
from .base import Chisel
from .snapshot import _probe_event
from .tables import _CELL, _RULE, _extend

_TICK_NS = 10_000_000  # sysdig: cpu * 10000000 (a 100 Hz tick)
_SEP = "\x01\x01"


def _stat_ticks(pid: int, root: str) -> int | None:
    """utime + stime of /proc/PID/stat, in clock ticks; None if it is gone."""
    try:
        with open(f"{root}/{pid}/stat", "rb") as f:
            text = f.read()
    except OSError:
        return None
    rest = text[text.rfind(b")") + 2:].split()
    try:
        return int(rest[11]) + int(rest[12])  # fields 14 and 15
    except (IndexError, ValueError):
        return None


class CpuRun:
    """One run: per key, the CPU time seen; ``table`` prints sysdig's CPU% table."""

    batch_sink = True

    def __init__(self, key: Callable[[Any, Any], tuple[str, ...] | None], titles: Sequence[str],
                 top: int = 10) -> None:
        self.key, self.titles, self.top = key, list(titles), top
        self.state: Any = None
        self.source: Any = None
        self.first_ts: int | None = None
        self.last_ts: int | None = None
        self.live: dict[int, int] | None = None  # pid -> ticks at the previous sample
        self.live_at = 0.0
        self.root = procfs.PROC_ROOT
        self.clock: Callable[[], float] = time.monotonic
        self.user: Any = None  # the user's filter, over each process

    def bind(self, reads: Sequence[str] | None, user_filter: str) -> None:
        """The user's filter picks processes (sysdig filters its procinfo events)."""
        if user_filter.strip():
            from ..filter import compile_filter

            self.user = compile_filter(user_filter)

    def _wanted(self, pid: int) -> bool:
        if self.user is None:
            return True
        p = self.state.procs.get(pid) if self.state is not None else None
        return p is not None and self.user(_probe_event(p, None))

    def start(self, state: Any, source: Any = None) -> None:
        self.state, self.source = state, source
        if getattr(source, "procinfo", None) is None and type(state.procfs) is procfs.ProcFS:
            self.root = state.procfs.root
            self.live = self._sample()
            self.live_at = self.clock()

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        if len(b):  # the span of the capture: every event, as sysdig's
            ts = b.ts
            lo, hi = int(ts.min()), int(ts.max())
            self.first_ts = lo if self.first_ts is None else min(self.first_ts, lo)
            self.last_ts = hi if self.last_ts is None else max(self.last_ts, hi)

    def _sample(self) -> dict[int, int]:
        out = {}
        for pid, p in list(self.state.procs.items()):
            if not p.exited:
                t = _stat_ticks(pid, self.root)
                if t is not None:
                    out[pid] = t
        return out

    def _live_totals(self) -> tuple[dict[str, int], int]:
        now_ticks, now = self._sample(), self.clock()
        hz = os.sysconf("SC_CLK_TCK")
        totals: dict[str, int] = {}
        prev = self.live or {}
        for pid, t in now_ticks.items():
            p = self.state.procs.get(pid)
            key = self.key(p, None) if p is not None and self._wanted(pid) else None
            if key is None:
                continue
            k = _SEP.join(key)
            totals[k] = totals.get(k, 0) + max(0, t - prev.get(pid, t)) * 1_000_000_000 // hz
        delta = int((now - self.live_at) * 1e9)
        self.live, self.live_at = now_ticks, now
        return totals, delta

    def _capture_totals(self) -> tuple[dict[str, int], int]:
        src = self.source
        last: dict[int, int] = {}
        totals: dict[str, int] = {}
        threads = getattr(src, "threads", {})
        lo, hi = getattr(src, "span", None) or (self.first_ts, self.last_ts)
        for ts, tid, ticks in src.procinfo:
            prev = last.get(tid, 0)
            cpu = min(ticks - prev, 100) if prev else 0
            last[tid] = ticks
            lo = ts if lo is None else min(lo, ts)
            hi = ts if hi is None else max(hi, ts)
            t = threads.get(tid)
            key = self.key(None, t) if t is not None and self._wanted(t.pid) else None
            if key is None:
                continue
            k = _SEP.join(key)
            totals[k] = totals.get(k, 0) + cpu * _TICK_NS
        src.procinfo = []
        return totals, (hi - lo) if lo is not None and hi is not None else 0

    def table(self, delta_ns: int = 0) -> str:
        if self.live is not None:
            totals, delta = self._live_totals()
        elif getattr(self.source, "procinfo", None) is not None:
            totals, delta = self._capture_totals()
        else:
            return "cdig: this capture holds no CPU times (a .scap's procinfo events, or " \
                   "a live trace, have them)"
        lines = [_extend("CPU%", _CELL) + "".join(_extend(t, _CELL) for t in self.titles),
                 _RULE]
        ranked = sorted(totals.items(), key=lambda kv: -kv[1])[:self.top]
        for k, v in ranked:
            parts = k.split(_SEP)
            pct = f"{v / delta * 100:.2f}%" if delta > 0 else "0.00%"
            lines.append(_extend(pct, _CELL) + "".join(_extend(p[:_CELL], _CELL)
                                                      for p in parts[:-1]) + parts[-1])
        return "\n".join(lines)


def _proc_key(pc: bool) -> Callable[[Any, Any], tuple[str, ...] | None]:
    def key(p: Any, t: Any) -> tuple[str, ...] | None:
        if p is not None:  # a live process
            name, pid = p.name, p.pid
            vpid = getattr(p.info, "vpid", None) if p.info is not None else None
            cname = p.container.name
        elif t is not None:  # a capture's thread
            name, pid = t.comm.decode("utf-8", "backslashreplace"), t.pid
            vpid = t.table.vpid if t.table is not None else None
            cname = None
        else:
            return None
        if not pc:
            return (name, str(pid))
        return (name, str(pid), str(vpid if vpid is not None and vpid >= 0 else pid),
                cname if cname is not None else "host")

    return key


def _topprocs(args: Sequence[str], pc: bool) -> CpuRun:
    titles = ("Process", "Host_pid", "Container_pid", "container.name") if pc else \
        ("Process", "PID")
    return CpuRun(_proc_key(pc), titles)


class _ContainersRun(CpuRun):
    """topcontainers_cpu: the same figures keyed by the thread's container."""

    def __init__(self) -> None:
        super().__init__(self._key, ("container.name",))

    def _key(self, p: Any, t: Any) -> tuple[str, ...] | None:
        if p is not None:
            return (p.container.name,)
        if t is None:
            return None
        c = self.source.container_of(t.cgroup, t.pid) if t.cgroup else None
        return (c.name if c is not None else "host",)


CHISELS: tuple[Chisel, ...] = (
    Chisel("topprocs_cpu", "CPU Usage", "Top processes by CPU usage", make=_topprocs,
           filter=lambda args, pc: ""),
    Chisel("topcontainers_cpu", "CPU Usage", "Top containers by CPU usage",
           make=lambda args, pc: _ContainersRun(), filter=lambda args, pc: ""),
)
