"""The pacing of a replay in ``cdig top``: the capture's clock against the wall
(``Playback``), and ``Restart``, which ends a run of the collector early."""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class Restart(Exception):
    """Raised inside the collector thread to end a run early (new filter on a
    finite source, or quitting): the feed starts again or stops."""



class Playback:
    """Pacing of a finite source: the capture's own clock against the wall.

    ``speed`` is capture seconds per wall second (0: as fast as possible). The
    collector calls ``gate(ts_ns)`` for each event; it returns at once while the
    event is behind the play position, else waits. ``step(ns)`` moves a paused
    play position forward by ``ns``.
    """

    def __init__(self, speed: float = 1.0, paused: bool = False,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.speed = speed
        self.paused = paused
        self.monotonic = monotonic
        self.cond = threading.Condition()
        self.origin_ts: int | None = None  # capture ts at origin_wall
        self.origin_wall = 0.0
        self.position: int | None = None  # capture ts of the play position while paused
        self.until = -1  # events with ts <= until pass without locking
        self.aborted = False
        self.cancelled: Callable[[], bool] = lambda: False  # the worker was cancelled

    def _target(self) -> float:
        if self.origin_ts is None:
            return float("-inf")
        if self.paused:
            return float(self.position if self.position is not None else self.origin_ts)
        if self.speed <= 0:
            return float("inf")
        return self.origin_ts + (self.monotonic() - self.origin_wall) * self.speed * 1e9

    def gate(self, ts: int) -> None:
        if ts <= self.until:
            return
        with self.cond:
            if self.origin_ts is None:  # the first event: the play position starts here
                self.origin_ts, self.origin_wall = ts, self.monotonic()
                if self.position is None:
                    self.position = ts
            while not self.aborted:
                if self.cancelled():
                    break
                target = self._target()
                if ts <= target:
                    self.until = int(min(target, 2**62))
                    return
                if not self.paused:
                    wait = (ts - target) / 1e9 / self.speed if self.speed > 0 else 0.05
                    self.cond.wait(min(max(wait, 0.001), 0.05))
                else:
                    self.cond.wait(0.1)
            raise Restart

    def now(self) -> int | None:
        """The play position (capture ns), None before the first event."""
        with self.cond:
            t = self._target()
        if t in (float("inf"), float("-inf")):
            return None
        return int(t)

    def set_paused(self, paused: bool) -> None:
        with self.cond:
            if paused == self.paused:
                return
            if paused:
                t = self._target()
                self.position = int(t) if t not in (float("inf"), float("-inf")) else \
                    self.position
                self.paused = True
            else:
                self.paused = False
                if self.position is not None:
                    self.origin_ts, self.origin_wall = self.position, self.monotonic()
            self.until = -1
            self.cond.notify_all()

    def step(self, ns: int) -> None:
        """Pause (if playing) and move the play position ``ns`` forward."""
        with self.cond:
            if not self.paused:
                self.set_paused(True)
            if self.position is not None:
                self.position += ns
            self.until = -1
            self.cond.notify_all()

    def abort(self) -> None:
        with self.cond:
            self.aborted = True
            self.until = -1
            self.cond.notify_all()

    def reset(self) -> None:
        """Back to the start (a restart of the source)."""
        with self.cond:
            self.origin_ts = None
            self.position = None
            self.until = -1
            self.aborted = False
            self.cond.notify_all()
