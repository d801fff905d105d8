"""Hold the stream while a new container is being named.

A container's first syscalls reach userspace within microseconds of its start;
its name, image and pod labels come from the runtime milliseconds later. A filter
on ``container.name`` (or a ``-pc`` line) must see the name from the first
syscall on, so when a batch has rows of a cgroup whose metadata lookup is in
flight (``ContainerResolver.pending``; the resolver's cgroup watcher starts the
lookup at the cgroup's ``mkdir``), that batch and every later one wait here, in
order, until no held cgroup is pending — at most ``timeout_s`` and ``max_rows``
rows, after which they pass with the container's id only (counted in
``released_early``). Holding the whole stream, not just the container's rows,
keeps every record in order (a fork in one cgroup, its child's syscalls in
another); the cost is that other output waits too, for milliseconds, only
while a container starts.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

import numpy as np

from .batch import EventBatch


class ContainerHold:
    """Batches in, batches out in the same order, later when a cgroup is pending."""

    def __init__(self, pending: Callable[[int], bool], timeout_s: float = 2.0,
                 max_rows: int = 1 << 20, clock: Callable[[], float] = time.monotonic) -> None:
        self.pending = pending
        self.timeout_s = timeout_s
        self.max_rows = max_rows
        self.clock = clock
        self._queue: deque[EventBatch] = deque()
        self._rows = 0
        self._since = 0.0
        self._waiting: set[int] = set()
        self._settled: set[int] = set()
        self.held_batches = 0
        self.max_held_s = 0.0  # the longest wait (the latency this stage added)
        self.released_early = 0  # batches let through before their container was named

    def _pending_in(self, b: EventBatch) -> set[int]:
        cg = b.rec["cgroup_id"]
        if not len(cg):
            return set()
        first = int(cg[0])
        if first in self._settled and bool((cg == first).all()):
            return set()
        out = set()
        for c in np.unique(cg).tolist():
            if c in self._settled:
                continue
            if self.pending(c):
                out.add(c)
            else:
                self._settled.add(c)
                if len(self._settled) > 1 << 16:
                    self._settled.clear()
        return out

    def admit(self, b: EventBatch) -> list[EventBatch]:
        """The batches ready to go on (``b`` and/or earlier held ones), in order."""
        now = self.clock()
        if not self._queue:
            waiting = self._pending_in(b)
            if not waiting:
                return [b]
            self._waiting = waiting
            self._since = now
        if len(b):
            self._queue.append(b)
            self._rows += len(b)
            self.held_batches += 1
            self._waiting |= self._pending_in(b)
        self._waiting = {c for c in self._waiting if self.pending(c)}
        late = now - self._since >= self.timeout_s or self._rows >= self.max_rows
        if self._waiting and not late:
            return []
        if self._waiting:
            self.released_early += len(self._queue)
            self._settled |= self._waiting
            self._waiting = set()
        self.max_held_s = max(self.max_held_s, now - self._since)
        return self.drain()

    def drain(self) -> list[EventBatch]:
        """Everything held, in order (the end of the source)."""
        out = list(self._queue)
        self._queue.clear()
        self._rows = 0
        return out
