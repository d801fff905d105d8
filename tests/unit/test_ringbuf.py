"""The bulk ring-buffer consumer over a memfd laid out like a BPF ring buffer.

The reader maps the data area once (RSS), so a range of records can wrap at its
end, a record too: the tests check the protocol (BUSY stops the drain, DISCARD
is skipped, the consumer position advances once) within one lap and across
the end of the area.
"""

import mmap
import os
import struct

import numpy as np
import pytest

from cdig.probes.ringbuf import PAGE_SIZE, RingBuffer
from cdig.probes.syscalls import layout

SIZE = 4 * PAGE_SIZE


@pytest.fixture
def ring():
    fd = os.memfd_create("ring")
    os.ftruncate(fd, PAGE_SIZE * 2 + SIZE * 2)
    rb = RingBuffer(fd, SIZE, layout.EVENT_SLOT)
    m = mmap.mmap(fd, PAGE_SIZE * 2 + SIZE * 2)
    yield rb, m
    del rb
    m.close()
    os.close(fd)


def put(m, pos, pid, hdr_flags=0):
    off = 2 * PAGE_SIZE + pos
    struct.pack_into("<II", m, off, layout.RECORD.itemsize | hdr_flags, 0)
    rec = np.zeros(1, layout.RECORD)
    rec["pid"] = pid
    m[off + 8: off + 8 + layout.RECORD.itemsize] = rec.tobytes()


def set_prod(m, pos):
    struct.pack_into("<Q", m, PAGE_SIZE, pos)


def test_drain_copies_committed_records_and_advances_consumer(ring):
    rb, m = ring
    step = layout.EVENT_SLOT.itemsize
    for i in range(5):
        put(m, i * step, 100 + i)
    set_prod(m, 5 * step)
    out = rb.drain()
    assert out["rec"]["pid"].tolist() == [100, 101, 102, 103, 104]
    assert rb.consumer_pos() == 5 * step and rb.pending() == 0
    assert len(rb.drain()) == 0


def test_busy_record_stops_the_drain(ring):
    rb, m = ring
    step = layout.EVENT_SLOT.itemsize
    put(m, 0, 1)
    put(m, step, 2, layout.BUSY_BIT)  # still being written
    put(m, 2 * step, 3)
    set_prod(m, 3 * step)
    assert rb.drain()["rec"]["pid"].tolist() == [1]
    assert rb.consumer_pos() == step
    put(m, step, 2)  # committed now
    assert rb.drain()["rec"]["pid"].tolist() == [2, 3]


def test_discarded_records_are_skipped_but_consumed(ring):
    rb, m = ring
    step = layout.EVENT_SLOT.itemsize
    put(m, 0, 1, layout.DISCARD_BIT)
    put(m, step, 2)
    set_prod(m, 2 * step)
    assert rb.drain()["rec"]["pid"].tolist() == [2]
    assert rb.consumer_pos() == 2 * step


def test_copy_survives_reuse_of_the_slots(ring):
    rb, m = ring
    put(m, 0, 7)
    set_prod(m, layout.EVENT_SLOT.itemsize)
    out = rb.drain()
    put(m, 0, 8)  # the kernel reuses the slot
    assert out["rec"]["pid"][0] == 7


def test_rejects_bad_sizes():
    with pytest.raises(ValueError):
        RingBuffer(-1, 3 * PAGE_SIZE, layout.EVENT_SLOT)



ODD = layout.slot_dtype(np.dtype([("pid", "<u4"), ("pad", "<u4", (9,))]))  # 48 bytes


def put_at(m, pos, pid, hdr_flags=0):
    """An ODD slot at ring position ``pos``, split at the end of the area as the
    kernel's double mapping writes it."""
    slot = np.zeros(1, ODD)
    slot["hdr_len"] = ODD["rec"].itemsize | hdr_flags
    slot["rec"]["pid"] = pid
    for i, b in enumerate(slot.tobytes()):
        m[2 * PAGE_SIZE + (pos + i) % SIZE] = b


@pytest.mark.parametrize("busy", [False, True])
def test_records_across_the_end_of_the_area(busy):
    fd = os.memfd_create("ring")
    os.ftruncate(fd, PAGE_SIZE * 2 + SIZE)
    rb = RingBuffer(fd, SIZE, ODD)
    m = mmap.mmap(fd, PAGE_SIZE * 2 + SIZE)
    step = ODD.itemsize
    start = (SIZE // step - 2) * step  # two slots before the end; the third is split
    assert (start + 2 * step) % SIZE > 0 and (start + 3 * step) % SIZE < step
    rb._cons_pos.value = start
    for i in range(5):
        put_at(m, start + i * step, 10 + i, layout.BUSY_BIT if busy and i == 3 else 0)
    set_prod(m, start + 5 * step)
    got = rb.drain()["rec"]["pid"].tolist()
    assert got == ([10, 11, 12] if busy else [10, 11, 12, 13, 14])
    assert rb.consumer_pos() == start + len(got) * step
    rb.close()
    m.close()
    os.close(fd)
