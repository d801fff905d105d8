"""One refresh of ``cdig top``: snapshot → rates → the current view's rows → a Frame.

Runs on the refresh worker's thread (``app.py``), so reading /proc for CPU%,
the cgroup files and the BPF statistics never holds up the UI. Keeps what rates
need between refreshes: the previous snapshot. (The sparklines' minute of
activity is counted by the model, per second of the events' own clock, so a
replay read at full speed draws the same lines as live.)
"""

from __future__ import annotations

import threading
import time
from collections import deque
from dataclasses import dataclass, field
from functools import partial
from typing import Any

from rich.text import Text

from ..collector.events import HOST
from ..collector.fields import format_datetime
from .format import human_count, human_ns, safe
from .model import Snapshot, TopModel
from .resources import NoResources, SelfCost
from .views import Ctx, Row, Scope, ViewData, build


@dataclass(frozen=True)
class Request:
    """What the UI wants to see."""

    view: str
    scope: Scope = field(default_factory=Scope)
    sort: str | None = None
    desc: bool | None = None
    max_rows: int = 500
    row_text: str = ""  # only rows whose cells contain this (case-insensitive)
    window: tuple[int, int] | None = None  # the rows on screen (None: all of them)


@dataclass
class Frame:
    request: Request
    data: ViewData
    header: Text
    notes: list[str]
    gone: str | None  # the container/process drilled into has exited
    generation: int
    ended: bool
    events: int
    drops: int
    elapsed_ms: float  # how long building the frame took
    snapshot: Snapshot | None = None


# Processes view: sorted by one of these, every process's /proc files are read
PER_PROC_SORTS = frozenset({"cpu", "virt", "res"})


def _fill_procs(resources: Any, rows: list[Row]) -> None:
    """CPU%, VIRT and RES of the Processes view's rows on screen."""
    pids = [r.pid for r in rows if r.pid is not None]
    cpu = resources.cpu_percent(pids)
    mem = resources.proc_memory(pids)
    for r in rows:
        r.values["cpu"] = cpu.get(r.pid) if r.pid is not None else None
        virt, res = mem.get(r.pid, (None, None)) if r.pid is not None else (None, None)
        r.values["virt"], r.values["res"] = virt, res


def apply_counters(snap: Snapshot, t: Any, counters: Any, scope: Scope) -> None:
    """Put the kernel's exact counts (``counters.CounterTables``) in the snapshot
    in place of the event stream's: containers, processes, syscalls, errors."""
    snap.exact = True
    snap.events, snap.failed = t.events, t.failed
    containers = dict(t.containers)
    for cid, v in snap.containers.items():
        containers.setdefault(cid, (v[0], {}))
    snap.containers = containers
    for pid, st in t.pids.items():  # gone before /proc was read: the events knew it
        if st.name == "?":
            seen = snap.pids.get(pid)
            if seen is not None:
                st.name, st.uid = seen.name, seen.uid
    snap.pids = t.pids
    snap.syscalls = t.syscalls
    snap.lat_hist = {}
    snap.lat_slots = t.lat_slots
    snap.lat_by_cid = t.lat_by_cid
    snap.err_totals = t.err_totals
    snap.err_detail = t.err_detail
    snap.lost = t.lost
    if scope.pid is not None or scope.container is not None:
        snap.pid_syscalls = counters.scoped(t, scope.pid, scope.container)
        snap.pid_lat = {}
    if scope.syscall is not None:
        rows = t.rows
        out: dict[int, list[int]] = {}
        for r in rows:
            if counters._sysname(int(r["nr"])) == scope.syscall:
                acc = out.setdefault(int(r["tgid"]), [0, 0, 0])
                acc[0] += int(r["count"])
                acc[1] += int(r["errors"])
                acc[2] += int(r["time_ns"])
        snap.syscall_pids = {k: (v[0], v[1], v[2]) for k, v in out.items()}


class Refresher:
    def __init__(self, model: TopModel, resources: Any = None, interval: float = 1.0,
                 label: str = "live", counters: Any = None) -> None:
        self.model = model
        self.counters = counters  # counters.KernelCounters, or None: counts from events
        self.resources = resources if resources is not None else NoResources()
        self.interval = interval
        self.label = label
        self.base: Snapshot | None = None
        self.last: Snapshot | None = None
        self.lock = threading.Lock()
        self.display_paused = False
        self.stream_narrowed = False  # the kernel sends only the I/O/net/exec syscalls
        # F12: per scope, the latency histogram at each refresh (the last 120)
        self.spectro: dict[Any, deque[tuple[int, list[int]]]] = {}

    def frame(self, req: Request) -> Frame:
        with self.lock:
            return self._frame(req)

    def _frame(self, req: Request) -> Frame:
        t0 = time.perf_counter()
        sc = req.scope
        narrowed = sc != Scope()
        if req.view == "events" and narrowed:  # dig/echo of a selection: its own ring
            cid = sc.container
            if cid is None and sc.pid is not None:
                c = self.model.alive.get(sc.pid)
                cid = c.id if c is not None else None
            self.model.watch(sc, sc.admits, cid)
        snap = self.model.snapshot(scope_pid=sc.pid, scope_container=sc.container,
                                   scope_syscall=sc.syscall, view=req.view)
        if req.view == "events" and narrowed:
            own = self.model.events_for(sc)
            if own is not None:
                snap.events_ring = own
        counters = self.counters
        if counters is not None and not counters.closed:
            # read at every refresh (it also retires processes that are gone); used
            # unless a filter is set: a filter can only be applied to events
            t = counters.sample(snap.clock_ns)
            if not snap.filtered:
                apply_counters(snap, t, counters, sc)
        last = self.last
        advanced = last is None or last.generation != snap.generation or \
            snap.clock_ns > last.clock_ns
        if last is not None and last.generation == snap.generation:
            base = last if advanced else self.base
        else:
            base = None
        if advanced:
            self.base, self.last = base, snap
            if base is not None:  # listed, marked, during one interval: now let go
                self.model.prune(base.clock_ns)
        if snap.exact:
            self._spectro(snap, sc)
        live = self.resources.live
        cpu: dict[int, float] = {}
        mem: dict[int, tuple[int, int]] = {}
        container_cpu: dict[str, float] = {}
        if live and req.view == "containers":
            # the cgroups' usage counters (they count processes too short-lived for
            # /proc/PID/stat sampling), the host's from /proc/stat; each process's
            # /proc/PID/stat only for containers that have neither
            container_cpu = self.resources.container_cpu(
                c for c, _ in snap.containers.values())
            host = self.resources.host_cpu(container_cpu)
            if host is not None:
                container_cpu[HOST.id] = host
            need = [pid for pid, p in snap.procs.items()
                    if p.container.id not in container_cpu]
            cpu = self.resources.cpu_percent(need) if need else {}
        fill = None
        if live and req.view == "procs":
            if req.window is None or req.sort in PER_PROC_SORTS:
                cpu = self.resources.cpu_percent(list(snap.procs))
                mem = self.resources.proc_memory(list(snap.procs))
            else:  # /proc/PID/stat and statm only for the rows on screen
                fill = partial(_fill_procs, self.resources)
        cost = self.resources.self_cost() if live else SelfCost()
        ctx = Ctx(snap, base, sc, self.resources, cpu, snap.activity, req.max_rows)
        ctx.mem = mem
        argv, res = snap.argv, self.resources
        ctx.cmdlines = lambda pid: argv.get(pid) or res.cmdline(pid)
        ctx.container_cpu = container_cpu
        ctx.window, ctx.fill = req.window, fill
        data = build(req.view, ctx, req.sort, req.desc, req.row_text)
        gone = None
        if sc.pid is not None and sc.pid in snap.exited_pids:
            st = snap.pids.get(sc.pid)
            gone = f"process {safe(st.name) if st else '?'} ({sc.pid}) exited"
        elif sc.container is not None and sc.container in snap.exited_containers:
            c = snap.exited_containers[sc.container]
            gone = f"container {safe(c.name or c.short_id)} exited"
        header = self._header(snap, ctx, cost)
        return Frame(req, data, header, snap.notes, gone, snap.generation, snap.ended,
                     snap.events, snap.drops, (time.perf_counter() - t0) * 1000, snap)

    def _spectro(self, snap: Snapshot, sc: Scope) -> None:
        """Keep the scope's latency histogram of this refresh; the view draws the
        differences between consecutive ones."""
        if sc.syscall is not None:
            cur = list(snap.lat_slots.get(sc.syscall, []))
        elif sc.container is not None:
            cur = list(snap.lat_by_cid.get(sc.container, []))
        else:
            cur = [sum(col) for col in zip(*snap.lat_slots.values(), strict=True)] \
                if snap.lat_slots else []
        key = (sc.syscall, sc.container)
        hist = self.spectro.get(key)
        if hist is None:
            hist = self.spectro[key] = deque(maxlen=121)
            if len(self.spectro) > 8:
                self.spectro.pop(next(iter(self.spectro)))
        if cur and (not hist or hist[-1][0] != snap.clock_ns):
            hist.append((snap.clock_ns, cur))
        snap.spectro = list(hist)

    def _header(self, snap: Snapshot, ctx: Ctx, cost: SelfCost) -> Text:
        base = ctx.base
        ev_rate = ctx.rate(snap.events, base.events if base is not None else 0)
        err_rate = ctx.rate(snap.failed, base.failed if base is not None else 0)
        t = Text(no_wrap=True, overflow="ellipsis")
        t.append("cdig top ", style="bold")
        if snap.live:
            t.append("live", style="bold green")
        else:
            t.append("replay ", style="bold cyan")
            t.append(safe(self.label, 30))
        if snap.exact:
            t.append(f"  syscalls {snap.events} ({human_count(ev_rate)}/s, exact)")
        else:
            t.append(f"  events {human_count(snap.events)} ({human_count(ev_rate)}/s)")
        t.append(f"  errors {human_count(err_rate)}/s")
        if self.stream_narrowed:
            t.append("  stream: I/O, net, exec")
        t.append("  stream dropped " if snap.exact else "  dropped ")
        t.append(human_count(snap.drops), style="bold red" if snap.drops else "")
        if not snap.live and snap.drops:
            t.append(" while capturing")
        lost = sum(v for k, v in snap.lost.items() if k.endswith("map_full"))
        if lost:
            t.append(f"  counters lost {lost} (map full)", style="bold red")
        t.append("\n")
        if snap.live:
            t.append(format_datetime(snap.clock_ns)[11:19] if snap.clock_ns else "")
            t.append("  cdig cpu ")
            t.append("-" if cost.cpu_pct is None else f"{cost.cpu_pct:.1f}%")
            t.append("  bpf ")
            if cost.bpf_pct is None:
                t.append("-")
            else:
                t.append(f"{cost.bpf_pct:.1f}% ({human_count(cost.bpf_runs)} runs, "
                         f"{human_ns(cost.bpf_avg_ns)} avg)")
            t.append(f"  every {self.interval:g}s")
            if self.display_paused:
                t.append("  PAUSED", style="bold yellow")
        else:
            if snap.clock_ns and snap.since_ns:
                t.append(f"t+{(snap.clock_ns - snap.since_ns) / 1e9:.1f}s "
                         f"({format_datetime(snap.clock_ns)[11:23]})")
            else:
                t.append("t+0.0s")
            pb = self.model.playback
            if snap.ended:
                t.append("  end of capture", style="bold")
            elif snap.paused:
                t.append("  PAUSED (space: play, n: step)", style="bold yellow")
            elif pb is not None:
                t.append("  playing" + (f" x{pb.speed:g}" if pb.speed > 0 else " max"))
        return t
