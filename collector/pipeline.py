"""source → decode → state → filter → sinks, one way.

The pipeline owns no policy: the CLI and the TUI assemble it. Sinks are
callables taking an Event; they must not reach back into the pipeline.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

from .decode import Decoder
from .events import Event
from .prefilter import Prefilter
from .sources import EventSource
from .state import State

Sink = Callable[[Event], None]
Predicate = Callable[[Event], bool]


@dataclass
class Counters:
    """What the pipeline saw: ``events`` decoded, ``matched`` the filter."""

    records: int = 0  # raw records received from the source
    events: int = 0  # decoded (not skipped by the prefilter)
    matched: int = 0
    batches: int = 0
    first_event_at: float | None = None  # time.monotonic() of the first matched event


class Pipeline:
    def __init__(self, source: EventSource, decoder: Decoder, state: State,
                 predicate: Predicate | None, sinks: list[Sink],
                 on_batch: Callable[[], None] | None = None,
                 prefilter: Prefilter | None = None) -> None:
        self.source = source
        self.decoder = decoder
        self.state = state
        self.predicate = predicate
        self.sinks = sinks
        self.on_batch = on_batch
        self.prefilter = prefilter
        self.counters = Counters()

    def run(self, max_events: int | None = None, duration_s: float | None = None) -> Counters:
        """Run until the source ends, ``max_events`` matched, or ``duration_s`` passed."""
        c = self.counters
        deadline = None if duration_s is None else time.monotonic() + duration_s
        pred = self.predicate
        update = self.state.update
        sinks = self.sinks
        done = False
        for batch in self.source.batches():
            c.batches += 1
            c.records += len(batch)
            keep = self.prefilter(batch) if self.prefilter is not None and len(batch) else None
            for ev in self.decoder.decode(batch, keep):
                c.events += 1
                update(ev)
                if pred is not None and not pred(ev):
                    continue
                c.matched += 1
                if c.first_event_at is None:
                    c.first_event_at = time.monotonic()
                for sink in sinks:
                    sink(ev)
                if max_events is not None and c.matched >= max_events:
                    done = True
                    break
            if self.on_batch is not None:
                self.on_batch()
            if done or (deadline is not None and time.monotonic() >= deadline):
                self.source.stop()
                if done:
                    break
        return c
