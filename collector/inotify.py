"""A minimal inotify(7) binding over ctypes: enough to see directories appear.

Used by ``collector.cgroups.CgroupWatcher`` (new cgroups) and the container
resolver (runtime state directories). No dependency: libc's
``inotify_init1``/``inotify_add_watch``/``inotify_rm_watch`` and ``read(2)``.
cgroupfs (v1 and v2) reports ``mkdir``/``rmdir`` through inotify like any
filesystem (``vfs_mkdir`` calls ``fsnotify_mkdir``), which is what makes
resolving a cgroup the moment it appears possible.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import errno
import os
import select
import struct
from dataclasses import dataclass

IN_MODIFY = 0x00000002
IN_CLOSE_WRITE = 0x00000008
IN_MOVED_FROM = 0x00000040
IN_MOVED_TO = 0x00000080
IN_CREATE = 0x00000100
IN_DELETE = 0x00000200
IN_DELETE_SELF = 0x00000400
IN_MOVE_SELF = 0x00000800
IN_UNMOUNT = 0x00002000
IN_Q_OVERFLOW = 0x00004000
IN_IGNORED = 0x00008000
IN_ONLYDIR = 0x01000000
IN_ISDIR = 0x40000000

IN_NONBLOCK = os.O_NONBLOCK
IN_CLOEXEC = os.O_CLOEXEC

_HEADER = struct.Struct("iIII")  # wd, mask, cookie, len (struct inotify_event)
_READ_SIZE = 256 * 1024  # bytes per read: ~4,000 events with 64-byte names


@dataclass(frozen=True, slots=True)
class InotifyEvent:
    """One ``struct inotify_event``; ``name`` is the entry in the watched directory."""

    wd: int
    mask: int
    cookie: int
    name: str


class InotifyError(OSError):
    """inotify is unavailable or a watch could not be added."""


def _libc() -> ctypes.CDLL:
    return ctypes.CDLL(ctypes.util.find_library("c") or None, use_errno=True)


def parse_events(buf: bytes) -> list[InotifyEvent]:
    """The events in the bytes of one ``read(2)`` of an inotify fd.

    Names are NUL-padded in the buffer; they are decoded with
    ``surrogateescape`` so any byte string round-trips to ``os.fsencode``.
    A truncated trailing event (impossible from the kernel) is ignored.
    """
    out: list[InotifyEvent] = []
    off = 0
    n = len(buf)
    while off + _HEADER.size <= n:
        wd, mask, cookie, ln = _HEADER.unpack_from(buf, off)
        start = off + _HEADER.size
        if start + ln > n:
            break
        raw = buf[start : start + ln].split(b"\0", 1)[0]
        out.append(InotifyEvent(wd, mask, cookie, os.fsdecode(raw)))
        off = start + ln
    return out


class Inotify:
    """One inotify instance (a non-blocking, close-on-exec fd). Not thread-safe:
    one thread reads it; ``add_watch`` from that thread or before it starts."""

    def __init__(self) -> None:
        self._libc = _libc()
        fd = self._libc.inotify_init1(IN_NONBLOCK | IN_CLOEXEC)
        if fd < 0:
            e = ctypes.get_errno()
            raise InotifyError(e, f"inotify_init1: {os.strerror(e)}")
        self.fd: int = fd

    def add_watch(self, path: str, mask: int) -> int:
        """Watch ``path``; the watch descriptor. Raises ``InotifyError`` (ENOENT
        if it vanished, ENOSPC when fs.inotify.max_user_watches is reached)."""
        wd = self._libc.inotify_add_watch(self.fd, os.fsencode(path), ctypes.c_uint32(mask))
        if wd < 0:
            e = ctypes.get_errno()
            raise InotifyError(e, f"inotify_add_watch {path}: {os.strerror(e)}")
        return int(wd)

    def rm_watch(self, wd: int) -> None:
        """Stop watch ``wd``; a watch the kernel already dropped is fine."""
        self._libc.inotify_rm_watch(self.fd, wd)

    def read(self, timeout: float | None) -> list[InotifyEvent]:
        """Events ready within ``timeout`` seconds (``None``: wait); [] if none."""
        if timeout is None or timeout > 0:
            r, _, _ = select.select([self.fd], [], [], timeout)
            if not r:
                return []
        try:
            buf = os.read(self.fd, _READ_SIZE)
        except BlockingIOError:
            return []
        except OSError as e:
            if e.errno == errno.EINTR:
                return []
            raise
        return parse_events(buf)

    def close(self) -> None:
        if self.fd >= 0:
            os.close(self.fd)
            self.fd = -1

    def __enter__(self) -> Inotify:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
