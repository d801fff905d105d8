"""Event sources: where raw batches come from. Live (the BPF probe) for now;
a capture file reader joins later through the same protocol.

Only ``LiveSource`` touches the probe, and only through ``cdig.probes``.
"""

from __future__ import annotations

import threading
import time
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

    Yields an empty batch at least every ``tick_s`` seconds so the consumer
    can check its own limits (``-M``) even when nothing happens.
    """

    def __init__(self, config: ProbeConfig | None = None, tick_s: float = 0.1) -> None:
        self.probe = SyscallProbe(config)
        self.tick_s = tick_s
        self._stop = threading.Event()
        self.loaded_at: float | None = None

    def start(self) -> None:
        """Compile, load and attach (seconds: bcc compiles the C here)."""
        self.probe.load()
        self.loaded_at = time.monotonic()

    def batches(self) -> Iterator[RawBatch]:
        if not self.probe.rings:
            self.start()
        small, ext = self.probe.rings
        poller = RingPoller(self.probe.rings)
        empty_small = np.empty(0, dtype=layout.RECORD)
        empty_ext = np.empty(0, dtype=layout.EXT_RECORD)
        try:
            while not self._stop.is_set():
                a = small.drain()
                b = ext.drain()
                if len(a) or len(b):
                    yield RawBatch(a["rec"] if len(a) else empty_small,
                                   b["rec"] if len(b) else empty_ext)
                    # at high rates, let records accumulate: fewer, larger drains
                    if len(a) + len(b) < 256:
                        poller.wait(0.01)
                else:
                    yield RawBatch(empty_small, empty_ext)
                    poller.wait(self.tick_s)
            # what the kernel wrote before the stop is still delivered
            a, b = small.drain(), ext.drain()
            if len(a) or len(b):
                yield RawBatch(a["rec"] if len(a) else empty_small,
                               b["rec"] if len(b) else empty_ext)
        finally:
            poller.close()

    def stop(self) -> None:
        self._stop.set()

    def stats(self) -> dict[str, int]:
        return self.probe.stats()

    def drops(self) -> int:
        s = self.probe.stats()
        return s.get("dropped_ring", 0) + s.get("dropped_ext", 0) + s.get("dropped_inflight", 0)

    def close(self) -> None:
        self.probe.close()
