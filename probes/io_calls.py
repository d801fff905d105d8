"""Which syscalls move bytes, which way, and whether their return value counts
them: the one list the metrics probe's syscall classes, the exporter's byte
counters, the summaries, ``cdig top`` and the ``evt.is_io*`` fields read."""

from __future__ import annotations

# The calls whose return value (>= 0) is a byte count, by where the bytes
# usually go. sendfile usually feeds a socket, sometimes a file: the metrics
# probe's socket mark decides, like it does for read/write.
FILE_READS = frozenset({"read", "pread64", "readv", "preadv", "preadv2"})
FILE_WRITES = frozenset({"write", "pwrite64", "writev", "pwritev", "pwritev2", "sendfile"})
NET_RECEIVES = frozenset({"recvfrom", "recvmsg"})
NET_SENDS = frozenset({"sendto", "sendmsg"})
BYTE_READS = FILE_READS | NET_RECEIVES
BYTE_WRITES = FILE_WRITES | NET_SENDS

# sysdig's I/O calls (EC_IO_READ / EC_IO_WRITE: evt.is_io_read, evt.io_dir) add
# the multi-message calls, whose return value counts messages, not bytes
IO_READS = BYTE_READS | {"recvmmsg"}
IO_WRITES = BYTE_WRITES | {"sendmmsg"}


def byte_direction(name: str) -> str | None:
    """``"read"``/``"write"`` for the calls whose return value is a byte count."""
    if name in BYTE_READS:
        return "read"
    if name in BYTE_WRITES:
        return "write"
    return None
