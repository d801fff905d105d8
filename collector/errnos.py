"""Errno names: the one table ``cdig trace`` (``evt.res``), the summaries, the TUI
and the exporter's ``errno`` label read.

The names are the kernel's, as sysdig and strace print them. Python's
``errno.errorcode`` picks glibc's alias for a few numbers (ENOTSUP for 95,
EDEADLOCK for 35); the kernel's own name wins for those. Kernel-internal codes
(512 and up) have no libc name but can reach a syscall's exit tracepoint.
"""

from __future__ import annotations

import errno

# the kernel's name where errno.errorcode gives glibc's alias
_PREFERRED = {
    errno.EAGAIN: "EAGAIN",
    errno.EDEADLK: "EDEADLK",
    errno.EOPNOTSUPP: "EOPNOTSUPP",
}
# kernel-internal codes that reach sys_exit of a syscall that will be restarted
# or that a driver leaked (include/linux/errno.h); userspace never sees most
_KERNEL = {
    512: "ERESTARTSYS",
    513: "ERESTARTNOINTR",
    514: "ERESTARTNOHAND",
    515: "ENOIOCTLCMD",
    516: "ERESTART_RESTARTBLOCK",
    517: "EPROBE_DEFER",
    518: "EOPENSTALE",
    519: "ENOPARAM",
    521: "EBADHANDLE",
    522: "ENOTSYNC",
    523: "EBADCOOKIE",
    524: "ENOTSUPP",
    525: "ETOOSMALL",
    526: "ESERVERFAULT",
    527: "EBADTYPE",
    528: "EJUKEBOX",
    529: "EIOCBQUEUED",
    530: "ERECALLCONFLICT",
}
ERRNO_NAMES: dict[int, str] = {**errno.errorcode, **_PREFERRED, **_KERNEL}
# name -> number, aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) included.
_NUMBERS: dict[str, int] = {
    **{n: getattr(errno, n) for n in dir(errno) if n.startswith("E") and n.isupper()},
    **{v: k for k, v in ERRNO_NAMES.items()},
}


def errno_name(number: int) -> str:
    """The errno name of a positive errno number (``2`` → ``"ENOENT"``).

    Unknown numbers come back as ``"E<number>"`` so the result is never empty.
    """
    return ERRNO_NAMES.get(number) or f"E{number}"


def errno_number(name: str) -> int | None:
    """The number of an errno name (``"ENOENT"`` → 2), aliases included; None if unknown."""
    number = _NUMBERS.get(name)
    if number is None and name.startswith("E") and name[1:].isdigit() and name[1:].isascii():
        return int(name[1:])  # the inverse of errno_name's fallback
    return number


def canonical_errno_name(name: str) -> str:
    """``EWOULDBLOCK`` → ``EAGAIN``: the name ``evt.res`` shows for an alias (else unchanged)."""
    number = errno_number(name)
    return name if number is None else errno_name(number)
