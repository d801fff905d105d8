"""What ``cdig top`` knows, shared by the collector thread and the UI.

The collector thread (a Textual thread worker, see ``app.py``) runs a pipeline
whose predicate is ``TopModel.predicate`` and whose sink is ``TopModel.sink``:
every event that passes the filter goes into an ``Aggregator(detail=True)`` and
into a bounded ring of recent events. The UI never reads those directly: it
asks for a ``Snapshot`` (``TopModel.snapshot``), a copy taken under the model's
lock, and builds its tables from that copy on another thread (``views/``).

The lock is held per event by the collector and for the copy by the snapshot, so
neither waits long for the other. Replays are paced here too (``Playback``, in
``playback.py``): the sink blocks the collector thread while the capture's clock
is ahead of the play position, or while paused; live collection never blocks.
What a snapshot holds is in ``snapshot.py``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import replace
from typing import Any

from ..collector.aggregate import Aggregator, ProcStats
from ..collector.events import Container, Event, EventKind
from ..collector.filter import Filter, FilterError, compile_filter
from ..probes.io_calls import BYTE_READS, BYTE_WRITES
from .aging import Ager
from .playback import Playback, Restart
from .snapshot import ProcInfoRow, SlowIO, Snapshot, ThreadStats

__all__ = ["Playback", "ProcInfoRow", "Restart", "SlowIO", "Snapshot", "ThreadStats",
           "TopModel"]

ACTIVITY_S = 60  # seconds of per-container activity kept for the sparklines
# Dig and echo read rings: the global one (every event) runs over in well under a
# second on a busy host, so each container keeps its own, and a selection being
# dug into (a process, a syscall...) gets one of its own from the moment it is
# opened, seeded from the others: a quiet process keeps its history while a
# busy neighbour floods the global ring.
# Bounded in all (32 x 1,000 events): a host starting many short
# containers keeps the rings of the latest ones.
CONTAINER_RING = 1000
MAX_CONTAINER_RINGS = 32
SCOPE_RING = 5000
MAX_SCOPE_RINGS = 4
# Threads view: one row per thread seen in the event stream (the kernel's counters
# are per process), bounded; Slow file I/O: the latest file reads/writes that took
# SLOW_IO_NS or more
MAX_THREADS = 20000
SLOW_IO_NS = 1_000_000
SLOW_IO_RING = 2000
# the Aggregator's tables the views read (its "proc", "user" and "errors" tables,
# keyed by every process and command line ever seen, are not)
AGG_VIEWS = ("container", "syscall", "file", "conn")
MAX_EXECS = 5000  # the Execs view's latest
# processes that exited, known as such (a process State still lists, or one whose
# exit the stream dropped, is hidden while it is here)
MAX_EXITED = 65536
_FILE_FDS = frozenset(("file", "directory"))
_NET_FDS = frozenset(("ipv4", "ipv6", "unix"))


class TopModel:
    """The aggregator, the recent events and the liveness of processes/containers.

    ``live``: a live source (rates over wall time, nothing paced); otherwise a
    finite source (capture, synthetic events) played through ``playback`` with
    rates over the capture's clock.
    """

    def __init__(self, *, live: bool, filter_text: str = "", ring_size: int = 20000,
                 speed: float = 1.0, start_paused: bool = False,
                 wall_ns: Callable[[], int] = time.time_ns,
                 proc_alive: Callable[[int], bool] | None = None) -> None:
        self.live = live
        self.lock = threading.RLock()
        self.wall_ns = wall_ns
        self.filter: Filter = compile_filter(filter_text)
        self._match = self.filter.match if self.filter.expr is not None else None
        self.ring_size = ring_size
        self.playback = None if live else Playback(speed=speed, paused=start_paused)
        self.state: Any = None  # collector.state.State of the running feed, if any
        self.drops_fn: Callable[[], int] = lambda: 0
        self.generation = 0
        self.restart_pending = False
        self.stopping = False
        self.ended = False
        self.notes: list[str] = []
        self.cancelled: Callable[[], bool] = lambda: False
        self.alive: dict[int, Container] = {}  # pid -> container, from events
        self.exited_pids: dict[int, Container | None] = {}
        self.procinfo: dict[int, tuple[int, int, str]] = {}  # pid -> ppid, uid, cmdline
        self.argv: dict[int, str] = {}  # pid -> its argv as run (argv[0] included)
        self._argv_of_tid: dict[int, list[str]] = {}  # execve in progress
        # live: what comes and goes is forgotten after a while (aging.py)
        self.ager = Ager(proc_alive) if live else None
        self._reset()

    # -- the collector side (worker thread) ----------------------------------------
    def _reset(self) -> None:
        self.agg = Aggregator(AGG_VIEWS, detail=True, max_execs=MAX_EXECS)
        self.ring: deque[Event] = deque(maxlen=self.ring_size)
        self.threads: dict[int, ThreadStats] = {}
        self.slow_io: deque[SlowIO] = deque(maxlen=SLOW_IO_RING)
        self.ring_seq = 0
        self.cont_rings: dict[str, deque[Event]] = {}
        # scope key -> (predicate, ring); the most recently opened last
        self.scope_rings: dict[Any, tuple[Callable[[Event], bool], deque[Event]]] = {}
        # container id -> [second of the feed's clock, events] for the last minute
        self.activity: dict[str, deque[list[int]]] = {}
        self.first_ts = 0
        self.last_ts = 0
        self.since_wall = self.wall_ns()

    def predicate(self, ev: Event) -> bool:
        """The pipeline's predicate: notes process lives and exits, then filters."""
        if ev.kind == EventKind.EXEC:
            argv = self._argv_of_tid.pop(ev.tid, None)
            if argv:
                self.argv[ev.pid] = " ".join(argv)
            else:
                self.argv.pop(ev.pid, None)
        elif ev.type == "execve" and "argv" in ev.args:
            if len(self._argv_of_tid) > 4096:
                self._argv_of_tid.clear()
            self._argv_of_tid[ev.tid] = ev.args["argv"]
        if ev.kind == EventKind.EXIT:
            if ev.tid == ev.pid:
                with self.lock:
                    c = self.alive.pop(ev.pid, None)
                    self.procinfo.pop(ev.pid, None)
                    self.argv.pop(ev.pid, None)
                    self.exited(ev.pid, c if c is not None else ev.container)
        elif ev.pid not in self.alive or ev.kind == EventKind.EXEC:
            with self.lock:
                self.alive[ev.pid] = ev.container
                self.exited_pids.pop(ev.pid, None)
                p = ev.proc
                if p is not None:
                    self.procinfo[ev.pid] = (p.ppid, p.uid, p.cmdline)
        elif self.alive[ev.pid] is not ev.container:
            self.alive[ev.pid] = ev.container
        m = self._match
        return m is None or m(ev)

    def exited(self, pid: int, container: Container | None) -> None:
        """``pid`` is known to have exited (the lock held)."""
        self.exited_pids[pid] = container
        if len(self.exited_pids) > MAX_EXITED:  # the oldest goes
            self.exited_pids.pop(next(iter(self.exited_pids)))

    def sink(self, ev: Event) -> None:
        pb = self.playback
        if pb is not None:
            pb.gate(ev.ts_ns)
        if self.restart_pending or self.stopping:
            raise Restart
        with self.lock:
            self.agg(ev)
            sec = ev.ts_ns // 1_000_000_000
            h = self.activity.get(ev.container.id)
            if h is None:
                h = self.activity[ev.container.id] = deque(maxlen=ACTIVITY_S)
            if h and h[-1][0] == sec:
                h[-1][1] += 1
            else:
                h.append([sec, 1])
            self.ring.append(ev)
            self.ring_seq += 1
            self._thread(ev)
            cr = self.cont_rings.get(ev.container.id)
            if cr is None:
                if len(self.cont_rings) >= MAX_CONTAINER_RINGS:  # the oldest goes
                    self.cont_rings.pop(next(iter(self.cont_rings)))
                cr = self.cont_rings[ev.container.id] = deque(maxlen=CONTAINER_RING)
            cr.append(ev)
            for pred, ring in self.scope_rings.values():
                if pred(ev):
                    ring.append(ev)
            if not self.first_ts:
                self.first_ts = ev.ts_ns
            self.last_ts = ev.ts_ns

    def _thread(self, ev: Event) -> None:
        """The Threads and Slow file I/O views' part of an event (under the lock)."""
        t = self.threads.get(ev.tid)
        if t is None:
            if len(self.threads) >= MAX_THREADS:  # the longest known goes
                self.threads.pop(next(iter(self.threads)))
            t = self.threads[ev.tid] = ThreadStats(ev.pid, ev.comm, ev.container)
        t.events += 1
        if ev.kind == EventKind.EXIT:
            t.exited_ns = ev.ts_ns
            return
        if ev.kind == EventKind.EXEC:
            t.name, t.pid = ev.comm, ev.pid
        res = ev.res
        if res < 0:
            if res > -4096 and ev.kind == EventKind.SYSCALL:
                t.errors += 1
            return
        fd = ev.fd
        if fd is None or not res or (ev.type not in BYTE_READS and ev.type not in BYTE_WRITES):
            return
        if fd.type in _FILE_FDS:
            t.file_io += res
            if ev.latency_ns >= SLOW_IO_NS:
                self.slow_io.append(SlowIO(ev.ts_ns, ev.latency_ns, ev.type, res, ev.pid,
                                           ev.tid, ev.comm, ev.container, fd.name, ev.num))
        elif fd.type in _NET_FDS:
            t.net_io += res

    def on_batch(self) -> None:
        if not self.stopping and self.cancelled():
            self.stop()
        if self.restart_pending or self.stopping:
            raise Restart

    def watch_cancel(self, cancelled: Callable[[], bool]) -> None:
        """Stop when ``cancelled()`` turns true (the worker's flag: Textual cancels
        its workers when the app ends, however it ends)."""
        self.cancelled = cancelled
        if self.playback is not None:
            self.playback.cancelled = cancelled

    def begin_run(self, state: Any = None) -> None:
        """A (re)start of the feed: fresh counters for a finite source."""
        with self.lock:
            self.state = state
            self.restart_pending = False
            self.ended = False
            if not self.live:
                self._reset()
                self.alive.clear()
                self.exited_pids.clear()
                self.procinfo.clear()
                self.generation += 1
        if self.playback is not None:
            self.playback.reset()

    def end_run(self) -> None:
        with self.lock:
            self.ended = True

    def note(self, text: str) -> None:
        """A message for the UI (a damaged capture, a source error)."""
        with self.lock:
            self.notes.append(text)

    # -- the UI side --------------------------------------------------------------
    def set_filter(self, text: str) -> FilterError | None:
        """Apply a new filter; a bad one is returned and the old one kept.

        Counters restart: a live source from now on, a finite one from its start."""
        try:
            flt = compile_filter(text)
        except FilterError as e:
            return e
        with self.lock:
            self.filter = flt
            self._match = flt.match if flt.expr is not None else None
            if self.live:
                # the event tables restart under the new filter; the minute of
                # activity, the liveness of processes and the kernel's counters
                # (which no filter touches) are kept
                activity = self.activity
                self._reset()
                self.activity = activity
                self.generation += 1
            else:
                self.restart_pending = True
        if self.playback is not None:
            self.playback.abort()
        return None

    def watch(self, key: Any, pred: Callable[[Event], bool], container: str | None) -> None:
        """Keep a ring of the events ``pred`` admits (dig/echo of a selection), from
        now on; seeded from what the container's and the global rings hold."""
        with self.lock:
            got = self.scope_rings.pop(key, None)
            if got is None:
                ring: deque[Event] = deque(maxlen=SCOPE_RING)
                src = self.cont_rings.get(container, ()) if container is not None else ()
                seen = {id(e) for e in src}
                merged = [e for e in src if pred(e)] + \
                    [e for e in self.ring if id(e) not in seen and pred(e)]
                merged.sort(key=lambda e: e.num)
                ring.extend(merged)
                got = (pred, ring)
            self.scope_rings[key] = got  # most recent last
            while len(self.scope_rings) > MAX_SCOPE_RINGS:
                self.scope_rings.pop(next(iter(self.scope_rings)))

    def events_for(self, key: Any) -> list[Event] | None:
        with self.lock:
            got = self.scope_rings.get(key)
            return list(got[1]) if got is not None else None

    def prune(self, before_ns: int) -> None:
        """Forget processes that exited and connections closed before ``before_ns``
        (they were listed, marked, for one refresh); live, now and then, what has
        gone quiet (``aging.Ager``)."""
        with self.lock:
            ager = self.ager
            if ager is not None:
                now = self.clock_ns()
                if ager.due(now):
                    ager.sweep(self, now)
            self.agg.prune(before_ns)
            gone = [tid for tid, t in self.threads.items() if 0 < t.exited_ns < before_ns]
            for tid in gone:
                del self.threads[tid]

    def stop(self) -> None:
        self.stopping = True
        if self.playback is not None:
            self.playback.abort()

    def clock_ns(self) -> int:
        """Now: the wall clock live, the play position in a replay."""
        if self.live:
            return self.wall_ns()
        pb = self.playback
        pos = pb.now() if pb is not None else None
        if self.ended or pos is None:
            return self.last_ts
        if pb is not None and not pb.paused:
            # playing: the capture's time of the last event read, not the wall
            # clock's target, which runs ahead when reading lags behind
            return max(min(pos, self.last_ts), self.first_ts)
        return max(pos, self.first_ts)

    def snapshot(self, scope_pid: int | None = None,
                 scope_container: str | None = None,
                 scope_syscall: str | None = None, view: str | None = None) -> Snapshot:
        """A copy of everything the views read; with a scope, also the per-process
        detail (syscalls, files, connections) summed over the scope's processes.
        ``view``: the view being built (None: any); the thread and slow-I/O tables
        are copied only for theirs."""
        state = self.state
        with self.lock:
            a = self.agg
            clock = self.clock_ns()
            since = self.since_wall if self.live else (self.first_ts or clock)
            pids = {pid: ProcStats(p.name, p.container, p.uid, p.events, p.errors, p.time_ns,
                                   p.file_in, p.file_out, p.net_in, p.net_out, p.exited)
                    for pid, p in a.pids.items()}
            containers = {}
            for cid, s in a.containers.items():
                containers[cid] = (s.extra["c"], {
                    "events": s.events, "errors": s.errors, "time": s.time_ns,
                    "file_in": s.read, "file_out": s.written, "net_in": s.extra["in"],
                    "net_out": s.extra["out"]})
            syscalls = {t: (s.events, s.errors, s.time_ns) for t, s in a.syscalls.items()}
            lat_hist = {t: list(h) for t, h in a.lat_hist.items()}
            files = {}
            for name, s in a.files.items():
                files[name] = (s.read, s.written, s.events, a.file_opens.get(name, 0))
            for name, n in a.file_opens.items():
                if name not in files:
                    files[name] = (0, 0, 0, n)
            conns = {}
            for (proto, name), s in a.conns.items():
                conns[(proto, name)] = (s.read, s.written, s.events, s.extra["proc"],
                                        s.extra.get("pid", 0), s.extra.get("cid", ""))
            now_s = clock // 1_000_000_000
            activity = {}
            for cid, h in self.activity.items():
                row = [0.0] * ACTIVITY_S
                for sec, n in h:
                    i = ACTIVITY_S - 1 - (now_s - sec)
                    if 0 <= i < ACTIVITY_S:
                        row[i] = float(n)
                activity[cid] = row
            alive = dict(self.alive)
            procinfo = dict(self.procinfo)
            exited = dict(self.exited_pids)
            filtered = self.filter.expr is not None
            snap = Snapshot(
                clock_ns=clock, since_ns=since, generation=self.generation, events=a.events,
                failed=a.failed, drops=0, filter_text=self.filter.text, pids=pids, procs={},
                containers=containers, container_pids={}, exited_containers={},
                exited_pids=set(exited), syscalls=syscalls, lat_hist=lat_hist,
                err_detail=dict(a.err_detail), files=files, conns=conns,
                execs=list(a.execs), execs_seen=a.execs_seen, events_ring=list(self.ring),
                ring_seq=self.ring_seq, scope_key=(scope_pid, scope_container),
                live=self.live,
                ended=self.ended, notes=self.notes[:], err_totals=dict(a.err_totals),
                stream={cid: s.events for cid, s in a.containers.items()},
                threads={tid: replace(t) for tid, t in self.threads.items()}
                if view in (None, "threads") else {},
                slow_io=list(self.slow_io) if view in (None, "slowio") else [])
            self.notes.clear()
            if scope_syscall is not None:
                sp: dict[int, list[int]] = {}
                for (pid, t), v in a.pid_syscalls.items():
                    if t == scope_syscall:
                        sp[pid] = [v[0], v[1], v[2]]
                snap.syscall_pids = {k: (v[0], v[1], v[2]) for k, v in sp.items()}
            if scope_pid is not None or scope_container is not None:
                if scope_pid is not None:
                    want = {scope_pid}
                else:
                    want = {pid for pid, p in a.pids.items()
                            if p.container.id == scope_container}
                mine = [(t, v) for (pid, t), v in a.pid_syscalls.items() if pid in want]
                snap.pid_syscalls = _summed(mine, 3)
                lat: dict[str, dict[int, int]] = {}
                for t, v in mine:
                    hist = lat.setdefault(t, {})
                    for b, n in v[3].items():
                        hist[b] = hist.get(b, 0) + n
                snap.pid_lat = lat
                snap.pid_files = _summed(((n, v) for (pid, n), v in a.pid_files.items()
                                          if pid in want), 4)
                snap.pid_conns = _summed((((pr, n), v) for (pid, pr, n), v
                                          in a.pid_conns.items() if pid in want), 3)
        # outside the lock: the State's table (list() of a dict is atomic under the GIL)
        procs: dict[int, ProcInfoRow] = {}
        snap.filtered = filtered
        if state is not None and not filtered:
            for p in list(state.procs.values()):
                if not p.exited and p.pid not in exited:
                    procs[p.pid] = ProcInfoRow(p.pid, p.ppid, p.name, p.container, p.uid,
                                               p.cmdline)
        for pid, c in alive.items():
            if filtered and pid not in pids:
                continue
            if pid not in procs:
                st = pids.get(pid)
                name = st.name if st else "?"
                ppid, uid, cmd = procinfo.get(pid, (0, st.uid if st else -1, name))
                procs[pid] = ProcInfoRow(pid, ppid, name, c, uid, cmd)
        counts: dict[str, int] = {}
        for p in procs.values():
            counts[p.container.id] = counts.get(p.container.id, 0) + 1
            if p.container.id not in containers and not filtered:
                containers[p.container.id] = (p.container, {})
        snap.procs = procs
        snap.container_pids = counts
        snap.activity = activity
        # a container has exited when no process of it is alive, filter or not:
        # a filter that hides its processes does not end it
        alive_cids = {c.id for c in alive.values()}
        if state is not None:
            alive_cids.update(p.container.id for p in list(state.procs.values())
                              if not p.exited and p.pid not in exited)
        snap.alive_cids = alive_cids
        snap.argv = dict(self.argv)
        for gone in exited.values():
            if gone is not None and gone.id not in alive_cids:
                snap.exited_containers[gone.id] = gone
        try:
            snap.drops = int(self.drops_fn())
        except Exception:  # a source closing under us: keep the last figure
            snap.drops = 0
        if self.playback is not None:
            snap.paused = self.playback.paused
        return snap


def _summed(items, width: int) -> dict:
    out: dict = {}
    for k, v in items:
        o = out.get(k)
        if o is None:
            out[k] = list(v[:width])
        else:
            for i in range(width):
                o[i] += v[i]
    return {k: tuple(v) for k, v in out.items()}
