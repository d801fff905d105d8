"""The record types every part of cdig speaks.

One vocabulary for probe, collector, capture, exporter and TUI. Each type says
who produces it. Times are nanoseconds; ``ts_ns`` is wall-clock (Unix epoch).
"""

from __future__ import annotations

import enum
from dataclasses import dataclass, field
from typing import Any, Protocol


class EventKind(enum.IntEnum):
    """What a record is. Values are shared with the BPF side (``CDIG_KIND_*``)."""

    SYSCALL = 0  # a completed syscall: enter + exit paired in the kernel
    SYSCALL_ENTER = 1  # enter-only: syscalls that do not return (execve ok, exit)
    EXEC = 2  # sched_process_exec: a process image was replaced
    FORK = 3  # sched_process_fork: a new task
    EXIT = 4  # sched_process_exit: a task ended


@dataclass(slots=True)
class Container:
    """A container (or the host). Produced by ``collector.containers``.

    ``id`` is the runtime's full id (64 hex for docker/podman/CRI), the runc
    container name, the unit name for systemd services, or ``host``.
    """

    id: str
    name: str
    runtime: str  # host, docker, podman, containerd, cri-o, kubernetes, runc, lxc, systemd,
    # or unknown (a container-shaped cgroup no runtime claims)
    image: str = ""
    labels: dict[str, str] = field(default_factory=dict)
    cgroup_path: str = ""
    pod_name: str = ""
    pod_namespace: str = ""
    pod_uid: str = ""
    # what the runtime says beyond names (sysdig's container.privileged, .mounts …);
    # a mount is (source, destination, mode, read-write, propagation)
    privileged: bool | None = None
    mounts: tuple[tuple[str, str, str, bool, str], ...] = ()
    image_id: str = ""
    image_digest: str = ""
    healthcheck: tuple[str, ...] = ()  # the command, exe first; ("NONE",) when disabled

    @property
    def short_id(self) -> str:
        """The 12-character id users know from docker/podman ps (for 64-hex ids)."""
        if len(self.id) == 64 and all(c in "0123456789abcdef" for c in self.id):
            return self.id[:12]
        return self.id

    @property
    def is_host(self) -> bool:
        return self.runtime == "host"


HOST = Container(id="host", name="host", runtime="host")


class SocketEnds(Protocol):
    """A socket's two ends with sysdig's meaning (an FdInfo, a .scap fd list entry)."""

    @property
    def cip(self) -> str: ...
    @property
    def cport(self) -> int: ...
    @property
    def sip(self) -> str: ...
    @property
    def sport(self) -> int: ...


def sock_name(s: SocketEnds) -> str:
    """sysdig's fd.name of a socket: ``cip:cport->sip:sport``, or ``sip:sport`` for a
    server socket with no client end yet; IPv6 addresses as sysdig prints them (no
    brackets). One rule for the live state and the .scap reader's fd lists."""
    if s.cip or s.cport:
        return f"{s.cip}:{s.cport}->{s.sip}:{s.sport}"
    return f"{s.sip}:{s.sport}"


@dataclass(slots=True)
class FdInfo:
    """What a file descriptor refers to. Produced by ``collector.state``.

    ``type`` follows sysdig's fd.type: file, directory, ipv4, ipv6, unix, pipe,
    event, signalfd, eventpoll, inotify, timerfd, memfd, netlink, other.
    """

    num: int
    type: str
    name: str  # path, "client:port->server:port" for sockets, "pipe:[1234]" ...
    l4proto: str = ""  # tcp, udp, raw, "" for non-sockets
    # Socket ends with sysdig's meaning: s = server, c = client (not source /
    # destination). A connect()ed socket is the client end; accept()ed, the server.
    cip: str = ""
    cport: int = 0
    sip: str = ""
    sport: int = 0
    local_is_client: bool = True

    @property
    def lip(self) -> str:
        return self.cip if self.local_is_client else self.sip

    @property
    def lport(self) -> int:
        return self.cport if self.local_is_client else self.sport

    @property
    def rip(self) -> str:
        return self.sip if self.local_is_client else self.cip

    @property
    def rport(self) -> int:
        return self.sport if self.local_is_client else self.cport


@dataclass(slots=True)
class Process:
    """A process (thread group) as cdig knows it. Produced by ``collector.state``."""

    pid: int
    ppid: int
    name: str  # comm, or basename of exe after an exec
    exe: str = ""
    args: list[str] = field(default_factory=list)  # argv[1:]
    uid: int = -1
    cgroup_id: int = 0
    container: Container = field(default_factory=lambda: HOST)  # HOST is shared, not copied
    start_ns: int = 0
    exited: bool = False
    namespaces: dict[str, int] = field(default_factory=dict)  # ns name -> inode
    cwd: str = ""  # known working directory, "" until needed
    # what /proc said at the first sighting (sid, tty, vpid, env …; procfs.ProcInfo),
    # None for a process first seen at its fork: fields then ask its ancestors
    info: Any = None
    parent: Process | None = None  # the parent's Process when it became known

    @property
    def cmdline(self) -> str:
        return " ".join([self.name, *self.args]) if self.args else self.name


@dataclass(slots=True)
class Event:
    """One decoded, enriched event: a row of an EventBatch built as an object, for the
    rows that need one (``EventBatch.event``; ``collector.batch``).

    Raw values come from the BPF record (``probes``); ``proc``, ``container``
    and ``fd`` are filled from state at the time the event was seen.
    """

    num: int  # evt.num: sequence number within this session
    ts_ns: int  # wall-clock ns of the exit (or of the enter, for enter-only)
    cpu: int
    kind: EventKind
    type: str  # syscall name, or execve/clone/procexit for sched events
    dir: str  # "<" exit (completed syscall), ">" enter-only
    res: int  # return value (rawres); 0 for sched events
    latency_ns: int
    pid: int  # tgid
    tid: int
    uid: int
    gid: int
    comm: str
    cgroup_id: int
    syscall_nr: int = -1
    args: dict[str, Any] = field(default_factory=dict)  # decoded arguments, in order
    proc: Process | None = None
    container: Container = field(default_factory=lambda: HOST)  # HOST is shared, not copied
    fd: FdInfo | None = None
    t0_ns: int = 0  # the session's first record (evt.reltime), from the decoder
    # the first bytes of an I/O call's buffer (sysdig's data, evt.buffer; at most the
    # snaplen), None for events without one
    buffer: bytes | None = None

    @property
    def failed(self) -> bool:
        return self.kind == EventKind.SYSCALL and self.res < 0 and self.res > -4096
