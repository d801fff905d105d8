"""One Session: source → decode → enrich → filter → sinks, batch by batch.

Every command assembles its pipeline here — ``trace`` (live, ``-r``, ``-w``),
``top``, ``summary``, ``export`` — from a source (the live probe or a capture),
a filter and sinks. A batch stays columnar from the ring drain to the sinks:

1. ``Decoder.batch``: the drain's two rings merged in order, numbered, timed;
2. rows the raw part of the filter rejects and that change no state are dropped
   (they still count in ``evt.num``);
3. ``Enricher``: state-changing rows applied in order; every row gets its
   process, fd and container as of that row (``collector.enrich``);
4. ``BatchFilter``: the filter as a mask; rows a capture kept only for state
   (``ctx``) and rows of ``select`` (``-c``) apply too;
5. sinks get ``(batch, matched mask)``: lines (``LineSink``), a capture writer,
   aggregators, or per-event callbacks (``EventSink``) where one is needed.

Data flows one way; sinks never reach back into the session.
"""

from __future__ import annotations

import codecs
import copy
import time
from collections.abc import Callable, Iterable, Sequence
from typing import IO, TYPE_CHECKING, Any, Protocol

import numpy as np

from ..probes.syscalls.layout import KIND_EXEC
from .batch import EventBatch
from .decode import Decoder
from .enrich import PROCESS_COLUMNS, Enricher
from .events import Event
from .filter import Filter
from .filter.batch import BatchFilter
from .filter.raw import Mask
from .hold import ContainerHold
from .state import State

if TYPE_CHECKING:
    from .render import BatchRenderer

BatchSink = Callable[[EventBatch, np.ndarray], None]
Select = Callable[[EventBatch], np.ndarray]


class Source(Protocol):
    def batches(self) -> Iterable[Any]: ...

    def stop(self) -> None: ...

    def drops(self) -> int: ...


class Counters:
    """What the session saw: ``records`` from the source, ``events`` enriched,
    ``matched`` by the filter (and passed to the sinks). A plain class, not a dataclass
    (~0.3 ms to make at every start): only read and counted up."""

    __slots__ = ("batches", "events", "first_event_at", "matched", "records")

    def __init__(self) -> None:
        self.records = 0
        self.events = 0
        self.matched = 0
        self.batches = 0
        self.first_event_at: float | None = None  # time.monotonic() of the first matched event


class Session:
    """Runs a source through the columnar stages into ``sinks`` (see module doc)."""

    def __init__(self, source: Source, decoder: Decoder, state: State,
                 flt: BatchFilter | None = None, sinks: Sequence[BatchSink] = (),
                 select: Select | None = None, on_batch: Callable[[], None] | None = None,
                 hold: Any = None) -> None:
        self.source = source
        self.decoder = decoder
        self.state = state
        self.filter = flt
        self.sinks = list(sinks)
        self.select = select
        self.on_batch = on_batch
        self.hold = hold  # collector.hold.ContainerHold: batches wait for new containers' names
        self.enricher = Enricher(state, decoder.table)
        self.counters = Counters()
        self._raw: Mask | None = flt.raw if flt is not None else None
        self._by_container = flt.container if flt is not None else None
        # no filter, selection or hold, and every sink says it reads no process, fd or
        # container (``needs_state = False``, cdig summary --by syscall): no State kept
        self.stateless = flt is None and select is None and hold is None and \
            bool(self.sinks) and \
            all(getattr(s, "needs_state", True) is False for s in self.sinks)
        # nor a filter or selection, and the sinks read processes and containers but no
        # fd (``needs_fds = False``, cdig summary --by proc): fd rows not applied
        self.enricher.fds = not (flt is None and select is None and hold is None and
                                 bool(self.sinks) and
                                 all(getattr(s, "needs_fds", True) is False for s in self.sinks))

    def _container_prune(self, b: EventBatch) -> EventBatch:
        """Drop the rows of containers the filter's container terms reject, but for
        those that change state: a process can move into a container (runc's init
        does), and must arrive there with its history (exec, open fds)."""
        cg = b.cols["cgroup_id"]
        uniq, first, inv = np.unique(cg, return_index=True, return_inverse=True)
        pids = b.cols["pid"][first].tolist()
        test = self._by_container
        assert test is not None  # called only with a container filter
        state = self.state
        lut = np.fromiter((c == 0 or test(state._container(c, p))
                           for c, p in zip(uniq.tolist(), pids, strict=True)),
                          dtype=np.bool_, count=len(uniq))
        keep = lut[inv.reshape(-1)]
        if keep.all():
            return b
        keep = keep | self.enricher.mutating_rows(b)
        return b if keep.all() else b.take(np.flatnonzero(keep))

    # -- assembly --------------------------------------------------------------------
    @classmethod
    def replay(cls, src: Any, flt: Filter | None = None,
               sinks: Callable[[Decoder], Sequence[BatchSink]] = lambda d: (),
               select: Select | None = None, on_batch: Callable[[], None] | None = None,
               recorder: Any = None) -> Session:
        """A session over a capture source (``collector.capture.ReplaySource`` or
        ``collector.scap``): its State answers from the capture (through
        ``recorder``'s recording lookups when re-capturing), seeded from the
        file's snapshot; ``sinks(decoder)`` builds the sinks."""
        lookups = recorder if recorder is not None else src
        state = State(container_of=lookups.container_of, procfs=lookups.procfs)
        src.attach(state)
        decoder = Decoder(src.syscalls, src.mono_to_wall_ns)
        session = cls(src, decoder, state, batch_filter(flt, decoder.table), sinks(decoder),
                      select=select, on_batch=on_batch)
        wanted = [getattr(s, "columns", None) for s in session.sinks]
        named = all(w is not None for w in wanted)
        if not session.enricher.fds and hasattr(src, "fdless"):
            src.fdless = True  # the journal's fd answers are not asked
            if named and hasattr(src, "widen"):
                # the columns the enrichment of processes reads, and the sinks'; a batch
                # with process-level state rows (exec, fork …) is read whole
                src.fields = tuple(sorted({*PROCESS_COLUMNS}.union(*(w for w in wanted if w))))
                src.widen = lambda cols: bool(session.enricher.process_rows(cols).any())
        if session.stateless and hasattr(src, "fields"):
            # no State kept: the journal is not needed, and sinks that name the columns
            # they read (``columns``) get only those decompressed
            src.stateless = True
            if named:
                src.fields = tuple(sorted({"ctx"}.union(*(w for w in wanted if w))))
                src.widen = None  # no state: no batch needs more
        if session._raw is not None and hasattr(src, "prune"):
            # the rows the raw prefilter drops (step 2) left out by the reader, before
            # they are converted to records (a capture's own numbers and times stay)
            raw, mutating = session._raw, session.enricher.mutating_columns
            session._only_pids(flt, src)
            kept = session._state_kept
            if kept is None:
                src.prune = lambda cols, len2: raw(cols) | mutating(cols, len2)
            else:
                src.prune = lambda cols, len2: raw(cols) | (mutating(cols, len2) & kept(cols))
        return session

    def _only_pids(self, flt: Filter | None, src: Any) -> None:
        """A filter that holds only rows of some processes (``proc.pid=``/``in``, a
        top-level term), and sinks that read only the matched rows (``matched_only``):
        the state rows of the other processes are left out too, but for sched records
        and the ancestors that the shown processes inherit from (``src.state_pids``)."""
        if flt is None or not self.sinks or not hasattr(src, "state_pids") or \
                not all(getattr(s, "matched_only", False) for s in self.sinks):
            return
        want = flt.pushdown().pids
        pids = src.state_pids(want) if want is not None else None
        if pids is not None:
            self._pid_set = np.array(sorted(pids), dtype=np.int64)

    _pid_set: np.ndarray | None = None

    @property
    def _state_kept(self) -> Callable[[Any], np.ndarray] | None:
        pid_set = self._pid_set
        if pid_set is None:
            return None

        few = pid_set.tolist() if len(pid_set) <= 8 else None

        def kept(cols: Any) -> np.ndarray:
            pid = cols["pid"]
            kept_rows: np.ndarray = cols["kind"] >= KIND_EXEC
            if few is None:
                kept_rows |= np.isin(pid, pid_set)
            else:  # a compare per pid: np.isin of a 16k batch cost ~20x one compare
                for p in few:
                    kept_rows |= pid == p
            return kept_rows

        return kept

    @classmethod
    def live(cls, source: Any, resolver: Any, state: State, flt: Filter | None = None,
             sinks: Callable[[Decoder], Sequence[BatchSink]] = lambda d: (),
             select: Select | None = None, on_batch: Callable[[], None] | None = None,
             hold: bool = True) -> Session:
        """A session over the started probe (``collector.sources.LiveSource``) with a
        seeded ``state``. With ``hold``, a container that starts now is named from its
        first syscall on: the resolver's cgroup watcher starts its lookup at mkdir and
        the stream waits for it (``collector.hold``)."""
        decoder = Decoder()
        waits = ContainerHold(resolver.pending) if hold and resolver is not None and \
            resolver.watch() else None
        return cls(source, decoder, state, batch_filter(flt, decoder.table), sinks(decoder),
                   select=select, on_batch=on_batch, hold=waits)

    def step(self, raw: Any) -> None:
        """One source batch through every stage (also what ``run`` does per batch)."""
        c = self.counters
        c.batches += 1
        c.records += len(raw) + getattr(self.source, "left_out", 0)
        b = self.decoder.batch(raw)
        for ready in (self.hold.admit(b) if self.hold is not None else (b,)):
            self._process(ready)

    def _process(self, b: EventBatch) -> None:
        if self._by_container is not None and len(b):
            b = self._container_prune(b)
        if self._raw is not None and len(b):
            # every row that changes state, addressed sendto included (not a state
            # syscall by number: glibc's send() is sendto without an address)
            mut = self.enricher.mutating_rows(b)
            kept = self._state_kept
            keep = self._raw(b.cols) | (mut if kept is None else mut & kept(b.cols))
            if not keep.all():
                b = b.take(np.flatnonzero(keep))
        if self.stateless:
            self.enricher.without_state(b)
        else:
            self.enricher.enrich(b)
        freeze_containers(b)
        self.counters.events += len(b)
        matched = self.filter.mask(b) if self.filter is not None else \
            np.ones(len(b), dtype=bool)
        if b.ctx is not None:
            matched &= ~b.ctx
        if self.select is not None:
            matched &= self.select(b)
        self._deliver(b, matched)

    def _deliver(self, b: EventBatch, matched: np.ndarray) -> None:
        c = self.counters
        if self._limit is not None:
            room = self._limit - c.matched
            hits = np.flatnonzero(matched)
            if len(hits) > room:
                matched = matched.copy()
                matched[hits[max(room, 0):]] = False
        k = int(np.count_nonzero(matched))
        if k and c.first_event_at is None:
            c.first_event_at = time.monotonic()
        c.matched += k
        for sink in self.sinks:
            sink(b, matched)

    _limit: int | None = None

    def run(self, max_events: int | None = None, duration_s: float | None = None) -> Counters:
        """Until the source ends, ``max_events`` matched, or ``duration_s`` passed."""
        c = self.counters
        self._limit = max_events
        deadline = None if duration_s is None else time.monotonic() + duration_s
        hold = self.hold
        for raw in self.source.batches():
            self.step(raw)
            if self.on_batch is not None:
                self.on_batch()
            done = max_events is not None and c.matched >= max_events
            if done or (deadline is not None and time.monotonic() >= deadline):
                self.source.stop()
                if done:
                    break
        if hold is not None:  # what was held back when the source ended
            for b in hold.drain():
                self._process(b)
        return c


def batch_filter(flt: Filter | None, syscalls: Any) -> BatchFilter | None:
    """The BatchFilter of ``flt``, or None when it selects everything."""
    if flt is None or flt.expr is None:
        return None
    return BatchFilter(flt, syscalls)


def freeze_containers(b: EventBatch) -> None:
    """Give every sink of ``b`` the same view of its containers.

    A runtime's answer (name, image, labels) lands on the resolver's thread at any
    moment; sinks run one after the other. Each sink sees copies taken once per
    batch, so the lines printed and the capture written agree on the names.
    ``b.container_origin`` keeps the live objects (the capture keys them)."""
    origin = b.containers
    frozen = [copy.copy(c) for c in origin]
    by_id = {id(o): f for o, f in zip(origin, frozen, strict=True)}
    for ev in b._events.values():
        ev.container = by_id.get(id(ev.container), ev.container)
    b.containers = frozen
    b.container_origin = origin


# --------------------------------------------------------------------------- sinks


class LineSink:
    """``-p``/``-j`` lines of the matched rows, written to ``out`` per batch: as one
    block of UTF-8 to its binary buffer when the renderer's compiled kernel is
    there (``BatchRenderer.encoded``), else as text."""

    matched_only = True  # reads the matched rows and their objects only (Session._only_pids)

    def __init__(self, renderer: BatchRenderer, out: IO[str]) -> None:
        self.renderer = renderer
        self.out = out
        self.printed = 0
        self.skipped = 0  # matched, but a field of the format was missing
        self._bin, self._errors = binary_of(out)

    def __call__(self, b: EventBatch, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched)
        if not len(rows):
            return
        block = self.renderer.encoded(b, rows, self._errors)
        if block is not None:
            data, n, skipped = block
            self.skipped += skipped
            if n:
                self.printed += n
                self._write(data)
            return
        lines, skipped = self.renderer.lines(b, rows)
        self.skipped += skipped
        if lines:
            self.printed += len(lines)
            lines.append("")
            self.out.write("\n".join(lines))

    def _write(self, data: memoryview) -> None:
        if self._bin is None:
            self.out.write(str(data, "utf-8", self._errors))
            return
        self.out.flush()  # text written before (by another sink) goes first
        self._bin.write(data)
        if getattr(self.out, "line_buffering", False):
            self._bin.flush()

    def flush(self) -> None:
        self.out.flush()


def binary_of(out: IO[str]) -> tuple[IO[bytes] | None, str]:
    """``out``'s binary buffer when it encodes UTF-8, and its errors handler; else
    (None, ``surrogatepass``): lines are decoded back to text for it, losslessly."""
    buf = getattr(out, "buffer", None)
    enc = getattr(out, "encoding", None)
    try:
        utf8 = enc is not None and codecs.lookup(enc).name == "utf-8"
    except LookupError:
        utf8 = False
    if buf is None or not utf8:
        return None, "surrogatepass"
    return buf, getattr(out, "errors", None) or "strict"


class EventSink:
    """Calls ``fn(event)`` for each matched row (for consumers that want Events).

    Their Events hold the live Container objects (not the batch's frozen copies):
    a consumer that keeps them, as the aggregators do, shows a container's latest
    name and image."""

    def __init__(self, fn: Callable[[Event], None]) -> None:
        self.fn = fn

    def __call__(self, b: EventBatch, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched)
        if len(rows):
            fn = self.fn
            origin = b.container_origin
            codes = b.cont_code.tolist() if origin is not None and b.cont_code is not None \
                else None
            for i, ev in zip(rows.tolist(), b.events(rows), strict=True):
                if codes is not None and origin is not None:
                    ev.container = origin[codes[i]]
                fn(ev)


def renderer_for(fmt: str | None, json: bool, syscalls: Any, default: str) -> BatchRenderer:
    """The renderer of ``-p FMT`` / ``-j`` / ``-j -p FMT`` (``default``: the -p format)."""
    from .render import BatchRenderer  # here: a summary prints no lines (~1.3 ms of its start)

    if json:
        return BatchRenderer.json(syscalls, fmt)
    return BatchRenderer.text(fmt or default, syscalls)
