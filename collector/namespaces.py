"""Which namespaces a process is in, and which of them it shares with the host.

A namespace is identified by the inode number of its nsfs file, the number in
``readlink /proc/PID/ns/net`` -> ``net:[4026531840]``. Two processes are in the
same namespace exactly when these numbers are equal (on one host: nsfs is a
single filesystem). Used by ``collector.state`` (``Process.namespaces``) and the
TUI's namespaces/security view ("which containers share the host's network?").
"""

from __future__ import annotations

import os
import re

# The namespace kinds cdig reports. The *_for_children links (the namespace new
# children will get after setns/unshare) are left out: they equal the process's
# own except in the middle of a container start.
NAMESPACE_TYPES: tuple[str, ...] = ("cgroup", "ipc", "mnt", "net", "pid", "time", "user", "uts")

_LINK = re.compile(r"([a-z_]+):\[(\d+)\]")


def parse_ns_link(target: str) -> int | None:
    """The inode number in an ``/proc/PID/ns/*`` link target (``net:[4026531840]``)."""
    m = _LINK.fullmatch(target)
    return int(m.group(2)) if m else None


def namespaces_of(pid: int | str, proc_root: str = "/proc") -> dict[str, int]:
    """Namespace kind -> inode number for process ``pid`` (``"self"`` works too).

    A vanished process gives ``{}``. Kinds the kernel does not have (``time``
    before 5.6, ``cgroup`` before 4.6) or that we may not read (another user's
    process without CAP_SYS_PTRACE) are left out.
    """
    base = os.path.join(proc_root, str(pid), "ns")
    out: dict[str, int] = {}
    for kind in NAMESPACE_TYPES:
        try:
            target = os.readlink(os.path.join(base, kind))
        except OSError:
            # ENOENT: process gone or kind unsupported; EACCES: not ours to read
            continue
        ino = parse_ns_link(target)
        if ino is not None:
            out[kind] = ino
    return out


def host_namespaces(proc_root: str = "/proc") -> dict[str, int]:
    """The host's namespaces: pid 1's, completed from pid 2's (kthreadd).

    Kernel threads always live in the initial namespaces, and their links stay
    readable where pid 1's may not be (a supervisor that is not dumpable, as on
    the Firecracker guests cdig is tested on). ``proc_root`` must be the host's
    /proc (in a container: the host's, mounted with hostPID).
    """
    out = namespaces_of(2, proc_root)
    out.update(namespaces_of(1, proc_root))
    return out


def shared_with_host(ns_map: dict[str, int], host_ns_map: dict[str, int]) -> set[str]:
    """Kinds of namespace in which ``ns_map`` is the same as the host's.

    Kinds missing from either map are not counted as shared (unknown).
    """
    return {k for k, ino in ns_map.items() if host_ns_map.get(k) == ino}
