"""Where ``cdig top``'s events come from: the live probe, a capture, or a list.

A feed's ``run(model)`` runs on the collector thread: it builds the usual
pipeline (source → decode → state → ``model.predicate`` → ``model.sink``) and
returns when the source ends; ``model`` raises ``Restart`` through it to end a
run early. A finite feed is run again from its start after a filter change.
Only ``LiveFeed`` touches the probe, through ``collector.sources``.
"""

from __future__ import annotations

import asyncio
import os
import threading
import time
from collections.abc import Callable, Iterable, Iterator, Sequence
from typing import Any, Protocol

from ..collector.events import Event
from .model import Restart, TopModel
from .resources import NoResources, Resources


def model_sink(model: TopModel) -> Any:
    """The session stage feeding ``model``: every shown event goes through
    ``model.predicate`` (it notes process lives, then filters), those it passes
    to ``model.sink``."""
    from ..collector.session import EventSink

    pred, sink = model.predicate, model.sink

    def feed(ev: Event) -> None:
        if pred(ev):
            sink(ev)

    return EventSink(feed)


class Feed(Protocol):
    live: bool
    label: str
    resources: Any

    def run(self, model: TopModel) -> None: ...

    def close(self) -> None: ...


class EventFeed:
    """Events already decoded and enriched (tests, synthetic data). ``live=True``
    makes it behave as a live source: the events are fed, then it idles until
    stopped (rates over the wall clock)."""

    def __init__(self, events: Iterable[Event], live: bool = False, label: str = "events",
                 resources: Any = None, drops: int = 0) -> None:
        self.events = list(events)
        self.live = live
        self.label = label
        self.resources = resources if resources is not None else NoResources()
        self._drops = drops
        self._stop = threading.Event()
        self.more: list[Event] = []  # tests append here to feed more while running
        self._more_lock = threading.Lock()
        self._fed = threading.Event()  # every event given so far is in the model

    def push(self, events: Iterable[Event]) -> None:
        """More events for a running live feed (tests)."""
        with self._more_lock:
            self.more.extend(events)
            self._fed.clear()

    async def fed(self, timeout: float = 10.0) -> None:
        """Wait until every event given (and pushed) so far is in the model (tests)."""
        deadline = time.monotonic() + timeout
        while not self._fed.is_set():
            if time.monotonic() > deadline:
                raise TimeoutError("the feed did not take its events")
            await asyncio.sleep(0.005)

    def _done(self) -> None:
        with self._more_lock:
            if not self.more:
                self._fed.set()

    def run(self, model: TopModel) -> None:
        model.drops_fn = lambda: self._drops
        model.begin_run(None)
        pred, sink = model.predicate, model.sink
        for ev in self.events:
            if pred(ev):
                sink(ev)
        model.on_batch()
        self._done()
        while self.live and not model.stopping:
            with self._more_lock:
                more, self.more = self.more, []
            for ev in more:
                if pred(ev):
                    sink(ev)
            model.on_batch()
            self._done()
            self._stop.wait(0.02)

    def close(self) -> None:
        self._stop.set()


class ReplayFeed:
    """A capture (or a rotation set): ``collector.capture.ReplaySource`` through
    the same decode → state path as ``cdig trace -r``. Damage is reported to the
    model as a note (shown in the UI), never raised."""

    live = False

    def __init__(self, paths: Sequence[str]) -> None:
        from ..collector.scap import replay_source  # .scap or cdig capture

        self.paths = list(paths)
        self.label = ", ".join(paths) if len(paths) <= 2 else f"{paths[0]} (+{len(paths) - 1})"
        self.resources = NoResources()
        src = replay_source(self.paths)  # CaptureError now, before the TUI starts
        self.header = src.header
        src.close()
        self._src: Any = None
        # what damaged files lost, once each however often the capture is re-read
        # (a filter change reads it again): `cdig top -r` exits 3 if any
        self.losses: list[str] = []

    def _loss(self, model: TopModel, loss: Any) -> None:
        text = loss.message()
        if text not in self.losses:
            self.losses.append(text)
        model.note(text)

    def run(self, model: TopModel) -> None:
        from ..collector.scap import replay_source  # .scap or cdig capture
        from ..collector.session import Session

        src = self._src = replay_source(self.paths,
                                        on_loss=lambda loss: self._loss(model, loss))
        try:
            session = Session.replay(src, sinks=lambda d: [model_sink(model)],
                                     on_batch=model.on_batch)
            model.drops_fn = src.drops
            model.begin_run(session.state)
            session.run()
        finally:
            src.close()

    def close(self) -> None:
        if self._src is not None:
            self._src.stop()


# The event stream's batches as cdig top takes them: at most one per this many
# seconds. A batch's cost is mostly fixed (decode, state, the model's lock, the
# engine's numpy calls); the ring reader hands over a drain every few
# milliseconds when a quiet host makes a trickle of syscalls, so taking them one
# by one kept the collector thread busy for a few events. The drains queued
# meanwhile come as one batch (the source joins its backlog), and a consumer
# that falls behind never waits. The counts come from the kernel's counters; the
# stream's views refresh once a second, so two batches a second lose nothing
# they show (0.1 s before: the idle host's fixed costs, ten times a second).
STREAM_PACE_S = 0.5
# The ring reader's sleep while it holds a trickle of records, and its longest
# wait for the kernel (the source's defaults, 10 and 100 ms, serve `cdig trace`'s
# latency). cdig top takes the drains every STREAM_PACE_S, so draining more often
# than twice as often only costs wakeups: 0.05 s was ~22 wakeups a second of the
# reader on an idle host (0.0075 CPU-s/s, 'voluntary_ctxt_switches' of the thread).
# A trickle is under 1,024 records a drain by definition (more: no sleep), so a
# ring holds thousands of such sleeps. Quitting waits for at most one of them.
READER_TRICKLE_GAP_S = 0.25
READER_TICK_S = 0.25


class Paced:
    """``source``'s batches, no more often than every ``interval_s`` (the
    attributes are the source's). A batch of ``max_batch`` records or more (the
    consumer is behind) is followed by the next at once; ``wake()`` ends a wait
    (quitting)."""

    def __init__(self, source: Any, interval_s: float = STREAM_PACE_S,
                 max_batch: int = 1 << 16) -> None:
        self.source = source
        self.interval_s = interval_s
        self.max_batch = max_batch
        self._woken = threading.Event()

    def __getattr__(self, name: str) -> Any:
        return getattr(self.source, name)

    def wake(self) -> None:
        self._woken.set()

    def batches(self) -> Iterator[Any]:
        for raw in self.source.batches():
            taken = time.monotonic()
            yield raw
            if len(raw) >= self.max_batch or self._woken.is_set():
                continue
            wait = taken + self.interval_s - time.monotonic()
            if wait > 0:  # meanwhile the reader queues its drains
                self._woken.wait(wait)


def _in_proc(pid: int) -> bool:
    return os.path.exists(f"/proc/{pid}")


class LiveFeed:
    """The kernel probe: a started ``LiveSource``, its ``ContainerResolver`` and a
    ``State`` seeded from /proc. Runs once; a new filter resets the counters
    without stopping the probe. ``close()`` detaches everything."""

    live = True
    label = "live"

    def __init__(self, source: Any, resolver: Any, state: Any,
                 bpf_stats: Callable[[], dict[str, tuple[int, int]]] | None = None,
                 on_close: Callable[[], None] | None = None) -> None:
        self.source = source
        self.resolver = resolver
        self.state = state
        self.resources = Resources(layout=resolver.layout if resolver is not None else None,
                                   bpf_stats=bpf_stats)
        self.on_close = on_close
        self._closed = False
        self._close_lock = threading.Lock()
        self._paced: Paced | None = None

    def run(self, model: TopModel) -> None:
        from ..collector.session import Session

        model.drops_fn = self.source.drops
        model.begin_run(self.state)
        if model.ager is not None:  # an exit the stream dropped: /proc says it
            model.ager.proc_alive = _in_proc
        paced = self._paced = Paced(self.source)
        session = Session.live(paced, self.resolver, self.state,
                               sinks=lambda d: [model_sink(model)], on_batch=model.on_batch)
        try:
            session.run()
        except Restart:
            self.source.stop()
            raise

    def want_syscalls(self, names: frozenset[str] | None) -> bool:
        """What the kernel sends to the event stream (``None``: every syscall); see
        ``app.STREAM_SYSCALLS``."""
        return self.source.probe.want_syscalls(names)

    def want_io_data(self, on: bool) -> bool:
        """Whether the kernel copies the I/O calls' data (echo shows it)."""
        return self.source.probe.want_io_data(on)

    def close(self) -> None:
        with self._close_lock:  # the UI (quit) and the collector thread (its end) both call
            if self._closed:
                return
            self._closed = True
        self.source.stop()
        if self._paced is not None:  # the collector thread, out of its pause
            self._paced.wake()
        try:
            self.source.close()
        finally:
            if self.resolver is not None:
                self.resolver.close()
            if self.on_close is not None:
                self.on_close()
