"""Bulk reader of a BPF ring buffer through its mmapped pages.

bcc's ``open_ring_buffer(callback)`` calls into Python once per record; at a
million records a second that costs more than the records and the ring
overflows (measured on this project's reference machine: 46 % dropped). The
ring's pages can instead be mapped directly (as libbpf does): the consumer
position page read-write at offset 0, then the producer page and the data area
read-only at offset PAGE_SIZE. The kernel lets the data area be mapped twice
in a row, so that a record range never wraps, but every page mapped counts in
the reader's RSS (twice, then: 48 MB for cdig top's rings). It is mapped once:
a drain of fixed-size records is one numpy view, copied once (two pieces when
the range wraps at the end of the area), and the consumer position advances
once per drain.

This module does not import bcc: it needs only the map's fd and size.
"""

from __future__ import annotations

import ctypes
import mmap
import select

import numpy as np

from .syscalls.layout import BUSY_BIT, DISCARD_BIT

PAGE_SIZE = mmap.PAGESIZE


class RingBuffer:
    """Consumer side of one BPF_MAP_TYPE_RINGBUF of fixed-size slots.

    ``data_size`` is the ring's size in bytes (a power of two, a multiple of
    the page size); ``slot`` is the numpy dtype of one slot (header + record).
    """

    def __init__(self, map_fd: int, data_size: int, slot: np.dtype) -> None:
        if data_size & (data_size - 1) or data_size % PAGE_SIZE:
            raise ValueError(f"ring size {data_size} is not a power-of-two number of pages")
        self.fd = map_fd
        self.size = data_size
        self.mask = data_size - 1
        self.slot = slot
        self._cons = mmap.mmap(map_fd, PAGE_SIZE, mmap.MAP_SHARED,
                               mmap.PROT_READ | mmap.PROT_WRITE, offset=0)
        self._prod = mmap.mmap(map_fd, PAGE_SIZE + data_size, mmap.MAP_SHARED,
                               mmap.PROT_READ, offset=PAGE_SIZE)
        # The positions are read and written with single aligned 8-byte
        # accesses, as the kernel does. struct.pack_into stores byte by byte:
        # the kernel could see a half-written consumer position, far behind
        # the real one, and refuse reservations as if the ring were full.
        self._cons_pos = ctypes.c_uint64.from_buffer(self._cons)
        self._prod_pos = np.frombuffer(self._prod, dtype=np.uint64, count=1)

    def consumer_pos(self) -> int:
        return self._cons_pos.value

    def producer_pos(self) -> int:
        return int(self._prod_pos[0])

    def pending(self) -> int:
        """Bytes written by the kernel and not yet consumed."""
        return self.producer_pos() - self.consumer_pos()

    def drain(self, max_records: int = 1 << 20) -> np.ndarray:
        """Copy out every committed record (up to ``max_records``) and release them.

        Returns a structured array of slots (``rec`` holds the record). Stops
        at the first record still being written (BUSY): records are committed
        in reservation order from the consumer's point of view.
        """
        cons = self.consumer_pos()
        prod = self.producer_pos()
        avail = prod - cons
        step = self.slot.itemsize
        n = min(avail // step, max_records)
        if n <= 0:
            return np.empty(0, dtype=self.slot)
        start = cons & self.mask
        if start + n * step <= self.size:
            view = np.frombuffer(self._prod, dtype=self.slot, count=n, offset=PAGE_SIZE + start)
            lens = view["hdr_len"]
        else:  # wraps: the headers where they are (8-aligned, never split), then two pieces
            words = np.frombuffer(self._prod, dtype=np.uint32, count=self.size // 4,
                                  offset=PAGE_SIZE)
            lens = words[((start + np.arange(n) * step) & self.mask) // 4]
        busy = np.flatnonzero(lens & BUSY_BIT)
        if busy.size:
            n = int(busy[0])
            lens = lens[:n]
        if start + n * step <= self.size:
            out = np.frombuffer(self._prod, dtype=self.slot, count=n,
                                offset=PAGE_SIZE + start).copy()
        else:
            data = np.frombuffer(self._prod, dtype=np.uint8, count=self.size, offset=PAGE_SIZE)
            head = self.size - start
            out = np.empty(n, dtype=self.slot)
            raw = out.view(np.uint8)
            raw[:head] = data[start:]
            raw[head:] = data[:n * step - head]
        if n:
            discarded = (lens & DISCARD_BIT) != 0
            if discarded.any():
                out = out[~discarded]
            # release the slots to the kernel only after the copy
            self._cons_pos.value = cons + n * step
        return out

    def close(self) -> None:
        for view in ("_cons_pos", "_prod_pos"):  # views must go before the maps close
            self.__dict__.pop(view, None)
        for m in (self._cons, self._prod):
            try:
                m.close()
            except BufferError:  # a numpy view is still alive; the GC will unmap
                pass


class RingPoller:
    """Waits on several ring buffers' fds (the kernel wakes epoll on commit)."""

    def __init__(self, rings: list[RingBuffer]) -> None:
        self._ep = select.epoll()
        for r in rings:
            self._ep.register(r.fd, select.EPOLLIN)

    def wait(self, timeout_s: float) -> None:
        try:
            self._ep.poll(timeout_s)
        except InterruptedError:
            pass

    def close(self) -> None:
        self._ep.close()
