"""What a live ``cdig top`` forgets, so that hours on a busy host stay bounded.

The event stream's tables are keyed by things that come and go: processes,
files, connections, containers. A process's rows go one interval after its exit
(``Aggregator.prune``), but an exit the stream dropped never comes, a socket
closed by its process's exit has no close, and a long-lived process that opens
a new path each time (a monitor reading /proc/PID/stat, a log rotated by date)
adds a row per path for as long as it runs. Each sweep (every ``SWEEP_S`` of the
feed's clock, from the refresh's prune, under the model's lock):

- a process no longer in /proc is taken as exited now (listed once, marked,
  then pruned like one whose exit was seen), and so are its threads;
- a file, a (process, file) pair, a connection or a (process, connection) pair
  without activity for ``IDLE_S`` goes; past ``MAX_ROWS`` in a table, the ones
  idle longest go first;
- a container with no live process and no activity for ``IDLE_S`` goes, with
  its minute of activity, its error totals and its event ring.

Replays are not swept: a capture is finite, and its tables are what it holds.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable
from typing import Any

IDLE_S = 120
SWEEP_S = 10
MAX_ROWS = 20000  # per table
_NS = 1_000_000_000


class Ager:
    """Sweeps a ``TopModel``'s tables (see the module doc). ``proc_alive(pid)``:
    whether a process still exists (None: trust the exits the stream brings)."""

    def __init__(self, proc_alive: Callable[[int], bool] | None = None,
                 idle_s: float = IDLE_S, sweep_s: float = SWEEP_S,
                 max_rows: int = MAX_ROWS) -> None:
        self.proc_alive = proc_alive
        self.idle_ns = int(idle_s * _NS)
        self.sweep_ns = int(sweep_s * _NS)
        self.max_rows = max_rows
        self.last = 0
        # table -> key -> (activity signature at the last change, when it changed)
        self._marks: dict[str, dict[Hashable, tuple[int, int]]] = {}

    def due(self, now_ns: int) -> bool:
        return now_ns - self.last >= self.sweep_ns

    def sweep(self, model: Any, now_ns: int) -> None:
        """One sweep of ``model`` (a ``TopModel``; its lock held by the caller)."""
        self.last = now_ns
        a = model.agg
        if self.proc_alive is not None:
            self._reap(model, now_ns)
        opens = a.file_opens
        self._age("files", a.files, lambda k, s: s.events + opens.get(k, 0), now_ns,
                  also=opens)
        files = a.files  # paths only opened: by their opens (with a file's events)
        self._age("opens", opens,
                  lambda k, n: n + (files[k].events if k in files else 0), now_ns)
        self._age("pid_files", a.pid_files, lambda k, v: v[2] + v[3], now_ns)
        self._age("conns", a.conns, lambda k, s: s.events, now_ns)
        self._age("pid_conns", a.pid_conns, lambda k, v: v[2], now_ns)
        self._containers(model, now_ns)

    def _reap(self, model: Any, now_ns: int) -> None:
        """Processes gone from the host whose exit the stream did not bring."""
        a, alive = model.agg, self.proc_alive
        if alive is None:
            return
        pids = set(model.alive)
        pids.update(pid for pid, p in a.pids.items() if not p.exited)
        gone = {pid for pid in pids if not alive(pid)}
        for pid in gone:
            c = model.alive.pop(pid, None)
            model.procinfo.pop(pid, None)
            model.argv.pop(pid, None)
            p = a.pids.get(pid)
            if p is not None and not p.exited:
                p.exited, p.exited_ns = True, now_ns
            model.exited(pid, c if c is not None else (p.container if p else None))
        if gone:
            for t in model.threads.values():
                if t.pid in gone and not t.exited_ns:
                    t.exited_ns = now_ns
            # their connections are closed too: listed once more, then pruned
            for s in a.conns.values():
                if s.extra.get("pid") in gone and not s.extra.get("closed_ns"):
                    s.extra["closed_ns"] = now_ns


    def _age(self, name: str, table: dict, sig: Callable[[Any, Any], int], now_ns: int,
             also: dict | None = None) -> None:
        """Drop ``table``'s keys whose ``sig(key, value)`` has not changed for the idle
        time (and the same keys of ``also``); past ``max_rows``, the idlest."""
        old = self._marks.get(name, {})
        marks: dict[Hashable, tuple[int, int]] = {}
        idle = []
        for k, v in table.items():
            s = sig(k, v)
            m = old.get(k)
            if m is None or m[0] != s:
                m = (s, now_ns)
            elif now_ns - m[1] >= self.idle_ns:
                idle.append(k)
                continue
            marks[k] = m
        if len(marks) > self.max_rows:
            by_age = sorted(marks, key=lambda k: marks[k][1])
            for k in by_age[:len(marks) - self.max_rows]:
                del marks[k]
                idle.append(k)
        for k in idle:
            del table[k]
            if also is not None:
                also.pop(k, None)
        self._marks[name] = marks

    def _containers(self, model: Any, now_ns: int) -> None:
        a = model.agg
        live = {c.id for c in model.alive.values()}
        state = model.state
        if state is not None:
            live.update(p.container.id for p in list(state.procs.values()) if not p.exited)
        old = self._marks.get("containers", {})
        marks: dict[Hashable, tuple[int, int]] = {}
        idle = []
        for cid, s in a.containers.items():
            m = old.get(cid)
            if m is None or m[0] != s.events or cid in live:
                m = (s.events, now_ns)
            elif now_ns - m[1] >= self.idle_ns:
                idle.append(cid)
                continue
            marks[cid] = m
        self._marks["containers"] = marks
        if idle:
            gone = set(idle)
            for cid in idle:
                del a.containers[cid]
                model.activity.pop(cid, None)
                model.cont_rings.pop(cid, None)
            for k in [k for k in a.err_totals if k[2] in gone]:
                del a.err_totals[k]
        # a minute of activity that is all older than a minute draws nothing
        now_s = now_ns // _NS
        for cid in [cid for cid, h in model.activity.items()
                    if not h or h[-1][0] < now_s - 60]:
            del model.activity[cid]
