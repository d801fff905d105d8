"""Runtime metadata lookups off the caller's thread, written into the shared
``Container`` records (``ContainerResolver`` owns one).

A container seen for the first time is returned at once with its id; its name,
image and labels are asked of the runtimes (``runtimes.RuntimeClient``, each call
bounded by its timeout) on up to ``workers`` threads, so one slow runtime does
not delay the others' containers, then written into that same ``Container``
object, so every process and event holding it sees them. Lookups that found
nothing are retried ``retries`` times, ``retry_delay`` seconds apart (a
container's first syscalls can precede the runtime's bookkeeping). With
``background=False`` they run inline instead.
"""

from __future__ import annotations

import logging
import queue
import threading
import time

from .events import Container
from .runtimes import Metadata, RuntimeClient

log = logging.getLogger(__name__)

_TIMINGS_MAX = 1024  # lookups whose timing is kept (``times``)


class MetadataLookups:
    """Lookups queued or running, their workers and timings. ``idle`` is notified
    (under the owner's ``lock``) whenever one ends."""

    def __init__(self, runtimes: RuntimeClient, lock: threading.RLock, *,
                 background: bool = True, retries: int = 2, retry_delay: float = 2.0,
                 workers: int = 4) -> None:
        self.runtimes = runtimes
        self.background = background
        self.retries = retries
        self.retry_delay = retry_delay  # seconds
        self.max_workers = max(1, workers)
        self._lock = lock
        self.idle = threading.Condition(lock)
        self._queue: queue.Queue[tuple[Container, str, int] | None] = queue.Queue()
        self._workers: list[threading.Thread] = []
        self._pending = 0
        self._closed = False
        # id(container) -> lookups queued or running for it (``in_flight``)
        self._looking: dict[int, int] = {}
        # (runtime, id) -> (lookup queued, metadata landed or gave up, source), monotonic s
        self._timings: dict[tuple[str, str], tuple[float, float, str]] = {}

    def close(self) -> None:
        """Stop the workers (lookups in flight finish on their own). Idempotent."""
        with self._lock:
            self._closed = True
            workers, self._workers = self._workers, []
        for _ in workers:
            self._queue.put(None)
        for w in workers:
            w.join(timeout=0.1)

    def in_flight(self, c: Container) -> bool:
        """A lookup for ``c`` is queued or running (call with the lock held)."""
        return id(c) in self._looking

    def start(self, c: Container, runtime: str, attempt: int = 0) -> None:
        """Ask the runtime about ``c`` (on a worker, unless ``background`` is off)."""
        key = (runtime, c.id)
        if attempt == 0:
            with self._lock:
                if len(self._timings) >= _TIMINGS_MAX:
                    self._timings.clear()
                self._timings[key] = (time.monotonic(), 0.0, "")
        if not self.background:
            md = self.runtimes.metadata(runtime, c.id)
            self._apply(c, md)
            self._landed(key, md)
            return
        with self._lock:
            if self._closed:
                return
            self._pending += 1
            self._looking[id(c)] = self._looking.get(id(c), 0) + 1
            if len(self._workers) < self.max_workers and self._pending > len(self._workers):
                w = threading.Thread(
                    target=self._work,
                    name=f"cdig-container-metadata-{len(self._workers)}",
                    daemon=True,
                )
                self._workers.append(w)
                w.start()
        self._queue.put((c, runtime, attempt))

    def _landed(self, key: tuple[str, str], md: Metadata) -> None:
        """Note when a lookup ended: the first attempt, or a retry that found it."""
        with self._lock:
            t = self._timings.get(key)
            if t is not None and (not t[1] or (md.found and not t[2])):
                self._timings[key] = (t[0], time.monotonic(), md.source)

    def _work(self) -> None:
        while True:
            item = self._queue.get()
            if item is None:
                return
            c, runtime, attempt = item
            try:
                md = self.runtimes.metadata(runtime, c.id)  # never raises, bounded
                self._apply(c, md)
                self._landed((runtime, c.id), md)
                if not md.found and attempt < self.retries and not self._closed:
                    t = threading.Timer(self.retry_delay, self.start, (c, runtime, attempt + 1))
                    t.daemon = True
                    t.start()
            except Exception:  # a bug here must not stop all later lookups
                log.exception("container metadata for %s %s", runtime, c.id)
            finally:
                with self._lock:
                    self._pending -= 1
                    n = self._looking.get(id(c), 0) - 1
                    if n > 0:
                        self._looking[id(c)] = n
                    else:
                        self._looking.pop(id(c), None)
                    self.idle.notify_all()

    def _apply(self, c: Container, md: Metadata) -> None:
        """Write what the runtime said into the shared ``Container``."""
        if not md.found:
            return
        with self._lock:
            if md.runtime and c.runtime in ("kubernetes", "unknown"):
                c.runtime = md.runtime
            if md.name:
                c.name = md.name
            c.image = md.image or c.image
            c.labels = md.labels or c.labels
            c.pod_name = md.pod_name or c.pod_name
            c.pod_namespace = md.pod_namespace or c.pod_namespace
            c.pod_uid = md.pod_uid or c.pod_uid
            if md.privileged is not None:
                c.privileged = md.privileged
            c.mounts = md.mounts or c.mounts
            c.image_id = md.image_id or c.image_id
            c.image_digest = md.image_digest or c.image_digest
            c.healthcheck = md.healthcheck or c.healthcheck

    def wait(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for lookups in flight; True if none is left."""
        with self.idle:
            return self.idle.wait_for(lambda: self._pending == 0, timeout=timeout)

    def times(self) -> dict[tuple[str, str], tuple[float, float, str]]:
        """(runtime, id) -> (lookup started, ended or 0.0 while in flight, source
        that answered or ""), ``time.monotonic()`` seconds, for the most recent
        containers (benchmarks, ``cdig doctor``)."""
        with self._lock:
            return dict(self._timings)
