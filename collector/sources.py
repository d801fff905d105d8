"""Event sources: where raw batches come from. Live (the BPF probe) for now;
a capture file reader joins later through the same protocol.

Only ``LiveSource`` touches the probe, and only through ``cdig.probes``.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from typing import Protocol

import numpy as np

from ..probes.ringbuf import RingPoller
from ..probes.syscalls import layout
from ..probes.syscalls.probe import ProbeConfig, SyscallProbe
from .batch import concat_records
from .decode import RawBatch

# The probe writes to three rings (records without strings, with strings, with
# I/O data). One thread's records can land in any, and draining them is not one
# instant: a record committed to the first ring just after its drain can be
# older than one taken from the second ring just after. Decoding needs each
# process's records in order (socket before connect, close before the open
# that reuses the fd), so a record is released only once it is older than a
# watermark: the drain's start minus this slack, a bound on the time between
# a record's timestamp (taken in the BPF program) and its commit to the ring
# (BPF programs run without preemption: microseconds). Costs this much latency.
WATERMARK_SLACK_NS = 20_000_000
# A trickle of records (a few hundred a second) is drained at most this often: each
# wakeup costs the reader and the consumer a pass of fixed costs, and records wait
# for the watermark anyway. A burst fills a default ring in no less than ~0.1 s.
TRICKLE_GAP_S = 0.01
# Between drains of a storm (a drain of 1024 records or more that emptied every ring)
# the reader waits this long: records read straight after the probe wrote them are
# still in the producing CPU's cache, and copying them out cost ~2x more per record
# (a getppid storm read by LiveSource's rings: ~220-320 ns per record read eagerly,
# ~115-145 with a 2-5 ms wait between drains; /tmp harness, 2 M records). A default
# ring holds ~80 ms of such a storm.
STORM_GAP_S = 0.003
# the ring reader thread's nice relative to the process (benchmarks/trace_throughput.py:
# the -w storm drops in the kernel when it waits for the CPU behind the consumer)
READER_NICE = -10


# glibc's malloc returns a freed block of more than its mmap threshold (dynamic,
# 128 KiB at first) to the kernel at once, and trims the heap's free top past
# 128 KiB: every drain's copy, every batch's columns and every MB of -j text is
# then fresh memory, faulted in page by page (measured offline on a 2 M-record
# storm: 230,000 minor faults and 0.8 s of system time for -j, 0.4 s for -w).
# A live session keeps up to these sizes for reuse instead.
_M_TRIM_THRESHOLD, _M_TOP_PAD, _M_MMAP_THRESHOLD = -1, -2, -3
KEEP_FREED = {_M_MMAP_THRESHOLD: 32 << 20, _M_TRIM_THRESHOLD: 128 << 20, _M_TOP_PAD: 16 << 20}


def keep_freed_memory() -> bool:
    """Tune glibc's malloc per ``KEEP_FREED`` (False where it is not glibc's)."""
    try:
        mallopt = ctypes.CDLL(None).mallopt  # the process's own libc
    except (OSError, AttributeError):
        return False
    mallopt.argtypes = [ctypes.c_int, ctypes.c_int]
    return all(mallopt(param, value) == 1 for param, value in KEEP_FREED.items())


class _Held:
    """Drained slots of one ring not released yet, in ring order, as the
    drained chunks themselves with their oldest and youngest timestamps (taken
    once, at add: ``take`` runs at every wakeup of the reader). A chunk is
    copied only when the watermark cuts through it (through a byte view:
    copying structured arrays field by field is an order of magnitude slower)."""

    def __init__(self, slot: np.dtype, ts: Callable[[np.ndarray], np.ndarray]) -> None:
        self.slot = slot
        self.raw = np.dtype((np.void, slot.itemsize))
        self.ts = ts
        self.chunks: list[tuple[np.ndarray, int, int]] = []  # (slots, oldest, youngest)

    def add(self, slots: np.ndarray) -> None:
        if len(slots):
            ts = self.ts(slots)
            self.chunks.append((slots, int(ts.min()), int(ts.max())))

    def oldest(self) -> int | None:
        """The oldest held timestamp (None: nothing held)."""
        return min(lo for _, lo, _ in self.chunks) if self.chunks else None

    def take(self, mark: int | None) -> np.ndarray:
        """The held slots older than ``mark`` (None: all), in ring order."""
        out: list[np.ndarray] = []
        keep: list[tuple[np.ndarray, int, int]] = []
        for held in self.chunks:
            c, lo, hi = held
            if mark is None or hi < mark:
                out.append(c)
            elif lo >= mark:
                keep.append(held)
            else:
                ts = self.ts(c)
                young = ts >= mark
                raw = c.view(self.raw)
                out.append(raw[~young].view(self.slot))
                rest = raw[young].view(self.slot)
                kept = ts[young]
                keep.append((rest, int(kept.min()), int(kept.max())))
        self.chunks = keep
        if len(out) == 1:
            return out[0]
        if not out:
            return np.empty(0, dtype=self.slot)
        return concat_records(out)


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
                 max_backlog_bytes: int = 1 << 30, max_drain: int = 16384,
                 max_batch: int = 1 << 14, trickle_gap_s: float = TRICKLE_GAP_S,
                 storm_gap_s: float = STORM_GAP_S) -> None:
        self.probe = SyscallProbe(config)
        self.trickle_gap_s = trickle_gap_s  # cdig top takes batches 2/s: it waits longer
        self.storm_gap_s = storm_gap_s
        self.max_drain = max_drain
        self.tick_s = tick_s
        self.max_backlog = max_backlog_bytes
        self.max_batch = max_batch
        self._stop = threading.Event()
        self._done = threading.Event()
        # each drain as its batch and the contiguous slot arrays the batch views
        self._backlog: deque[tuple[RawBatch, np.ndarray, np.ndarray]] = deque()
        self._backlog_bytes = 0
        self._lock = threading.Lock()
        self._ready = threading.Condition(self._lock)
        self._reader: threading.Thread | None = None
        self._error: BaseException | None = None
        self.peak_backlog_bytes = 0

    def start(self) -> None:
        """Compile, load and attach (seconds: bcc compiles the C here)."""
        keep_freed_memory()
        self.probe.load()

    def _read(self) -> None:
        # The kernel drops what the rings cannot hold; the consumer only falls
        # behind into the (larger) backlog. So the draining thread goes first when
        # both want the CPU (root has CAP_SYS_NICE; elsewhere it stays as it is).
        with contextlib.suppress(OSError):
            os.setpriority(os.PRIO_PROCESS, threading.get_native_id(),
                           max(-20, os.getpriority(os.PRIO_PROCESS, 0) + READER_NICE))
        small, ext, io = self.probe.rings
        poller = RingPoller(self.probe.rings)
        # drained, not yet released: younger than the watermark
        held_small = _Held(layout.EVENT_SLOT, lambda c: c["rec"]["ts_ns"])
        held_ext = _Held(layout.EXT_SLOT, lambda c: c["rec"]["ev"]["ts_ns"])
        slack = WATERMARK_SLACK_NS
        try:
            while True:
                stopping = self._stop.is_set()
                if self._backlog_bytes > self.max_backlog and not stopping:
                    time.sleep(0.01)  # let the consumer catch up; the kernel counts drops
                    continue
                # bounded drains: the consumer converts each batch to Python
                # objects while holding the GIL; small batches keep those holds
                # short, so this thread gets back to the rings in time
                t0 = time.clock_gettime_ns(time.CLOCK_MONOTONIC)  # bpf_ktime_get_ns's clock
                a = small.drain(self.max_drain)
                b = ext.drain(self.max_drain // 4)
                c = io.drain(self.max_drain)
                n = len(a) + len(b) + len(c)
                # The watermark: every record older than it has been drained
                # from every ring (see WATERMARK_SLACK_NS). A truncated drain
                # left records behind that are no older than its last one.
                mark: int | None = None if stopping else t0 - slack
                if mark is not None and len(a) >= self.max_drain:
                    mark = min(mark, int(a["rec"]["ts_ns"][-1]) - slack)
                if mark is not None and len(b) >= self.max_drain // 4:
                    mark = min(mark, int(b["rec"]["ev"]["ts_ns"][-1]) - slack)
                if mark is not None and len(c) >= self.max_drain:
                    mark = min(mark, int(c["rec"]["ev"]["ts_ns"][-1]) - slack)
                held_small.add(a)
                held_ext.add(b)
                if len(c):
                    # as the ext records they were (decoding sorts by time anyway)
                    held_ext.add(layout.io_as_ext(c))
                out_a = held_small.take(mark)  # stopping: everything drained
                out_b = held_ext.take(mark)
                if len(out_a) or len(out_b):
                    batch = RawBatch(out_a["rec"], out_b["rec"])
                    size = batch.events.nbytes + batch.ext.nbytes
                    with self._ready:
                        self._backlog.append((batch, out_a, out_b))
                        self._backlog_bytes += size
                        self.peak_backlog_bytes = max(self.peak_backlog_bytes,
                                                      self._backlog_bytes)
                        self._ready.notify()
                if stopping and len(a) < self.max_drain and len(b) < self.max_drain // 4 \
                        and len(c) < self.max_drain:
                    # the rings are empty: what the kernel wrote before the stop is
                    # drained (a bounded drain that came back full leaves more)
                    break
                if stopping:
                    continue
                if n >= 1024:
                    if len(a) < self.max_drain and len(b) < self.max_drain // 4 and \
                            len(c) < self.max_drain:  # nothing left in the rings
                        time.sleep(self.storm_gap_s)
                else:
                    # few records: sleep until the oldest held one is older than the
                    # mark (no wakeup per commit of a trickle), or wait for the
                    # kernel's wakeup when nothing is drained or held
                    held = [t for t in (held_small.oldest(), held_ext.oldest()) if t is not None]
                    if held:
                        due = (min(held) + slack - time.clock_gettime_ns(time.CLOCK_MONOTONIC))
                        time.sleep(min(max(due / 1e9, self.trickle_gap_s), self.tick_s))
                    elif n:
                        time.sleep(self.trickle_gap_s)
                    else:
                        poller.wait(self.tick_s)
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
                    batch = self._take_backlog()
                elif self._done.is_set():
                    break
                else:
                    batch = empty
            yield batch
        if self._error is not None:
            raise self._error

    def _take_backlog(self) -> RawBatch:
        """Queued drains as one batch (up to ``max_batch`` records; lock held).

        The engine's cost per batch is mostly fixed (numpy calls, one generated
        loop), so a consumer that fell behind catches up in large batches; but
        not too large: past the CPU's caches a record costs 3x more
        (``trace_throughput.py --configs profile``, Session.run: 110 ns a record
        in batches of 16,384, 340 in batches of 131,072)."""
        parts = [self._backlog.popleft()]
        n = len(parts[0][0])
        while self._backlog and n + len(self._backlog[0][0]) <= self.max_batch:
            parts.append(self._backlog.popleft())
            n += len(parts[-1][0])
        self._backlog_bytes -= sum(b.events.nbytes + b.ext.nbytes for b, _, _ in parts)
        if len(parts) == 1:
            return parts[0][0]
        # The slots joined as bytes, then viewed as records (as one drain is): the
        # records themselves are strided views, which np.concatenate copies field by
        # field (~90-150 ns per record against ~35, measured offline on 128k records).
        return RawBatch(concat_records([a for _, a, _ in parts])["rec"],
                        concat_records([x for _, _, x in parts])["rec"])

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
        return (s.get("dropped_ring", 0) + s.get("dropped_ext", 0) + s.get("dropped_io", 0)
                + s.get("dropped_inflight", 0))

    def close(self) -> None:
        self._stop.set()
        if self._reader is not None:
            self._reader.join(timeout=5)
        self.probe.close()
