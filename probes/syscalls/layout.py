"""numpy mirrors of the C records in ``record.h``.

Every ring holds fixed-size records, so a whole drain is viewed as one
structured array. The ``hdr`` field is the ring buffer's own 8-byte record
header (length with BUSY/DISCARD bits, page offset); ``RECORD``/``EXT_RECORD``
and ``io_record(snaplen)`` are what the probe wrote. The io ring's record size
is fixed when the probe is compiled (``-DSNAPLEN``), so its dtype is built from
the same snaplen.
"""

from __future__ import annotations

import numpy as np

COMM_LEN = 16
STR1_LEN = 256
STR2_LEN = 512

KIND_SYSCALL = 0
KIND_SYSCALL_ENTER = 1
KIND_EXEC = 2
KIND_FORK = 3
KIND_EXIT = 4

FLAG_LOCAL_ADDR = 1
FLAG_IO_DATA = 2  # str1 (on into str2) holds len1 bytes of the I/O buffer

STAT_DROP_EVENTS = 0
STAT_DROP_EXT = 1
STAT_DROP_INFLIGHT = 2
STAT_SEEN = 3
STAT_DROP_IO = 4
STAT_MAX = 5

SYS_WANT = 1
SYS_STATE = 2
SYS_ENTER = 4
SYS_ADDRP = 8
SYS_ARGV = 16
SYS_IO = 32
SYS_IOV = 64
SYS_MSG = 128
NO_ARG = 0xFF

IO_MAX = STR1_LEN + STR2_LEN  # the most I/O data a record holds (CDIG_IO_MAX)
STR1_OFFSET = 128  # offsetof(struct cdig_event_ext, str1)

# struct cdig_event (120 bytes)
RECORD = np.dtype(
    [
        ("ts_ns", "<u8"),
        ("latency_ns", "<u8"),
        ("cgroup_id", "<u8"),
        ("ret", "<i8"),
        ("args", "<u8", (6,)),
        ("pid", "<u4"),
        ("tid", "<u4"),
        ("uid", "<u4"),
        ("gid", "<u4"),
        ("nr", "<u2"),
        ("kind", "u1"),
        ("flags", "u1"),
        ("cpu", "<u4"),
        ("comm", f"S{COMM_LEN}"),
    ]
)

# struct cdig_event_ext (896 bytes)
EXT_RECORD = np.dtype(
    [
        ("ev", RECORD),
        ("len1", "<i2"),
        ("len2", "<i2"),
        ("argc", "<u2"),
        ("pad", "<u2"),
        ("str1", f"V{STR1_LEN}"),
        ("str2", f"V{STR2_LEN}"),
    ]
)



def io_data_len(snaplen: int) -> int:
    """The data bytes of an io record: the snaplen rounded up to 8 (CDIG_IO_DATA_LEN)."""
    return (snaplen + 7) & ~7


def io_record(snaplen: int) -> np.dtype:
    """struct cdig_event_io of a probe compiled with ``-DSNAPLEN=snaplen``."""
    return np.dtype(
        [
            ("ev", RECORD),
            ("len", "<i2"),
            ("pad", "<u2", (3,)),
            ("data", f"V{io_data_len(snaplen)}") if snaplen else ("data", "V0"),
        ]
    )


def io_as_ext(io_slots: np.ndarray) -> np.ndarray:
    """A drain of the io ring as ext ring slots: the records that carried the same
    calls before the io ring (FLAG_IO_DATA, ``len1`` bytes of data from str1 on),
    so everything past the reader sees one kind of record with strings. An io
    record is a prefix of an ext record byte for byte (``len`` at len1's offset,
    the zero pad where len2/argc/pad are, data at str1): one byte copy."""
    n = len(io_slots)
    out = np.zeros(n, dtype=EXT_SLOT)
    if not n:
        return out
    size = io_slots.dtype.itemsize - RINGBUF_HDR  # the record, and the slot's padding
    width = min(size, EXT_RECORD.itemsize)
    src = np.ascontiguousarray(io_slots).view(np.uint8).reshape(n, io_slots.dtype.itemsize)
    dst = out.view(np.uint8).reshape(n, EXT_SLOT.itemsize)
    dst[:, RINGBUF_HDR:RINGBUF_HDR + width] = src[:, RINGBUF_HDR:RINGBUF_HDR + width]
    return out


# struct cdig_sysinfo
SYSINFO = np.dtype([("flags", "u1"), ("str1_arg", "u1"), ("str2_arg", "u1"), ("addr_arg", "u1")])

RINGBUF_HDR = 8
BUSY_BIT = 1 << 31
DISCARD_BIT = 1 << 30


def slot_dtype(record: np.dtype) -> np.dtype:
    """A ring slot: the 8-byte header, the record, padding to 8 bytes."""
    size = (RINGBUF_HDR + record.itemsize + 7) & ~7
    return np.dtype(
        {"names": ["hdr_len", "hdr_pgoff", "rec"], "formats": ["<u4", "<u4", record],
         "offsets": [0, 4, RINGBUF_HDR], "itemsize": size}
    )


EVENT_SLOT = slot_dtype(RECORD)
EXT_SLOT = slot_dtype(EXT_RECORD)
