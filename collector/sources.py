"""Event sources: where raw batches come from. Live (the BPF probe) for now;
a capture file reader joins later through the same protocol.

Only ``LiveSource`` touches the probe, and only through ``cdig.probes``.
"""

from __future__ import annotations

import threading
import time
from collections import deque
from collections.abc import Iterator
from typing import Protocol

import numpy as np

from ..probes import layout
from ..probes.loader import ProbeConfig, SyscallProbe
from ..probes.ringbuf import RingPoller
from .decode import RawBatch


class EventSource(Protocol):
    """Yields RawBatches until stopped or exhausted."""

    def batches(self) -> Iterator[RawBatch]: ...

    def stop(self) -> None: ...

    def drops(self) -> int:
        """Events lost before they reached userspace, so far."""
        ...


class LiveSource:
    """Records from the kernel, drained in bulk from the probe's two rings.

    A reader thread empties the rings as fast as the kernel fills them (one
    numpy copy per drain) into an in-memory backlog; ``batches()`` hands the
    backlog to the consumer. Bursts that Python cannot decode as fast as the
    kernel produces them wait in userspace memory instead of overflowing the
    ring. Past ``max_backlog_bytes`` the reader stops draining, the ring fills
    and the kernel counts what it drops: loss is never silent.

    ``batches()`` yields an empty batch at least every ``tick_s`` seconds so the
    consumer can check its own limits (``-M``) even when nothing happens.
    """

    def __init__(self, config: ProbeConfig | None = None, tick_s: float = 0.1,
                 max_backlog_bytes: int = 1 << 30, max_drain: int = 16384) -> None:
        self.probe = SyscallProbe(config)
        self.max_drain = max_drain
        self.tick_s = tick_s
        self.max_backlog = max_backlog_bytes
        self._stop = threading.Event()
        self._done = threading.Event()
        self._backlog: deque[RawBatch] = deque()
        self._backlog_bytes = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._reader: threading.Thread | None = None
        self._error: BaseException | None = None
        self.peak_backlog_bytes = 0

    def start(self) -> None:
        """Compile, load and attach (seconds: bcc compiles the C here)."""
        self.probe.load()

    def _read(self) -> None:
        small, ext = self.probe.rings
        poller = RingPoller(self.probe.rings)
        empty_small = np.empty(0, dtype=layout.RECORD)
        empty_ext = np.empty(0, dtype=layout.EXT_RECORD)
        try:
            while True:
                stopping = self._stop.is_set()
                if self._backlog_bytes > self.max_backlog and not stopping:
                    time.sleep(0.01)  # let the consumer catch up; the kernel counts drops
                    continue
                # bounded drains: the consumer converts each batch to Python
                # objects while holding the GIL; small batches keep those holds
                # short, so this thread gets back to the rings in time
                a = small.drain(self.max_drain)
                b = ext.drain(self.max_drain // 4)
                n = len(a) + len(b)
                if n:
                    batch = RawBatch(a["rec"] if len(a) else empty_small,
                                     b["rec"] if len(b) else empty_ext)
                    with self._ready:
                        self._backlog.append(batch)
                        self._backlog_bytes += a.nbytes + b.nbytes
                        self.peak_backlog_bytes = max(self.peak_backlog_bytes,
                                                      self._backlog_bytes)
                        self._ready.notify()
                if stopping:
                    break  # what the kernel wrote before the stop has been drained
                if n < 1024:
                    # few records: wait for more (the kernel wakes epoll on commit)
                    poller.wait(self.tick_s if n == 0 else 0.005)
        except BaseException as e:  # surfaced in batches(), never lost in a thread
            self._error = e
        finally:
            poller.close()
            with self._ready:
                self._done.set()
                self._ready.notify()

    def batches(self) -> Iterator[RawBatch]:
        if not self.probe.rings:
            self.start()
        if self._reader is None:
            self._reader = threading.Thread(target=self._read, name="cdig-ring-reader",
                                            daemon=True)
            self._reader.start()
        empty = RawBatch(np.empty(0, dtype=layout.RECORD), np.empty(0, dtype=layout.EXT_RECORD))
        while True:
            with self._ready:
                if not self._backlog and not self._done.is_set():
                    self._ready.wait(self.tick_s)
                if self._backlog:
                    batch = self._backlog.popleft()
                    self._backlog_bytes -= batch.events.nbytes + batch.ext.nbytes
                elif self._done.is_set():
                    break
                else:
                    batch = empty
            yield batch
        if self._error is not None:
            raise self._error

    def backlog_bytes(self) -> int:
        """Bytes drained from the kernel and not yet handed to the consumer."""
        return self._backlog_bytes

    def stop(self) -> None:
        """Stop reading; batches() ends after what was already read."""
        self._stop.set()

    def stats(self) -> dict[str, int]:
        return self.probe.stats()

    def drops(self) -> int:
        s = self.probe.stats()
        return s.get("dropped_ring", 0) + s.get("dropped_ext", 0) + s.get("dropped_inflight", 0)

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.probe.close()
