"""The fd class: the file or socket the event used (collector.state's FdInfo).

Socket ends have sysdig's meaning: c = client, s = server, l = local, r = remote.
sysdig's "(FILTER ONLY)" fields (fd.ip, fd.port, fd.proto, fd.net and its c/s/l/r
forms) match when either end matches and cannot be printed.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Callable
from typing import Any

from ..events import Event, FdInfo
from .base import FD_TYPE_CHARS, IP, NET, B, Field, N, P, S, make_field

_INET = ("ipv4", "ipv6")


def _fd(get: Callable[[FdInfo], Any], inet_only: bool = False) -> Callable[[Event], Any]:
    def f(e: Event) -> Any:
        fd = e.fd
        if fd is None or (inet_only and fd.type not in _INET):
            return None
        return get(fd)

    return f


def _attr(attr: str, inet_only: bool = False) -> Callable[[Event], Any]:
    return _fd(lambda fd: getattr(fd, attr) or None, inet_only)


def fd_num(e: Event) -> int | None:
    if e.fd is not None:
        return e.fd.num
    v = e.args.get("fd")
    return v if type(v) is int else None


def fd_directory(e: Event) -> str | None:
    fd = e.fd
    if fd is None or fd.type not in ("file", "directory") or not fd.name:
        return None
    return fd.name if fd.type == "directory" else os.path.dirname(fd.name)


def _filename(e: Event) -> str | None:
    fd = e.fd
    if fd is None or fd.type != "file" or not fd.name:
        return None
    return os.path.basename(fd.name)


@functools.lru_cache(maxsize=4096)
def service_name(port: int, proto: str) -> str | None:
    """The /etc/services name of a port (``80``/tcp → ``http``); None when it has none."""
    if not port or proto not in ("tcp", "udp"):
        return None
    import socket  # here: only the fd.*proto fields ask (~1.4 ms of every start)

    try:
        return socket.getservbyport(port, proto)
    except (OSError, OverflowError):
        return None


def _proto(attr: str) -> Callable[[Event], str | None]:
    return _fd(lambda fd: service_name(getattr(fd, attr), fd.l4proto), inet_only=True)


def _both(a: str, b: str, conv: Callable[[FdInfo, Any], Any] | None = None
          ) -> Callable[[Event], tuple[Any, ...]]:
    """Both ends' values (the non-empty ones), for the filter-only fields."""
    def get(e: Event) -> tuple[Any, ...]:
        fd = e.fd
        if fd is None or fd.type not in _INET:
            return ()
        vals = (getattr(fd, a), getattr(fd, b))
        if conv is not None:
            vals = tuple(conv(fd, v) for v in vals)
        return tuple(v for v in vals if v)

    return get


def _one(a: str) -> Callable[[Event], tuple[Any, ...]]:
    def get(e: Event) -> tuple[Any, ...]:
        fd = e.fd
        if fd is None or fd.type not in _INET:
            return ()
        v = getattr(fd, a)
        return (v,) if v else ()

    return get


def _typechar(fd: FdInfo) -> str:
    return FD_TYPE_CHARS.get(fd.type, "o")


def _sockfamily(fd: FdInfo) -> str | None:
    if fd.type in _INET:
        return "ip"
    return "unix" if fd.type == "unix" else None


def _connected(fd: FdInfo) -> bool:
    """A TCP/UDP socket with a peer: a client that connected, a server end accepted."""
    return bool(fd.sip if fd.local_is_client else fd.cip)


def _uid(e: Event) -> str | None:
    n = fd_num(e)
    return None if n is None or e.fd is None else f"{e.tid}{n}"


def _containername(e: Event) -> str | None:
    fd = e.fd
    return None if fd is None else f"{e.container.short_id}:{fd.name}"


def _containerdirectory(e: Event) -> str | None:
    d = fd_directory(e)
    return None if d is None else f"{e.container.short_id}:{d}"


_f = make_field

FIELDS: tuple[Field, ...] = (
    _f("fd.num", N, "file descriptor number", fd_num),
    _f("fd.type", S, "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, "
       "eventpoll, inotify, timerfd, memfd, netlink, other", _attr("type")),
    _f("fd.typechar", S, "fd type as one character: f file, d directory, 4 ipv4, 6 ipv6, "
       "u unix, p pipe, e eventfd, s signalfd, l eventpoll, i inotify, t timerfd, m memfd, "
       "n netlink, o other", _fd(_typechar)),
    _f("fd.name", S, "fd name: path, 'cip:cport->sip:sport', pipe:[inode] …", _attr("name")),
    _f("fd.directory", S, "directory of a file fd (the fd itself for a directory)",
       fd_directory),
    _f("fd.filename", S, "file name of a file fd, without its directory", _filename),
    _f("fd.ip", IP, "(filters only) matches the client or the server IP address",
       _both("cip", "sip"), any_of=True),
    _f("fd.cip", IP, "client IP address of a socket", _attr("cip", True)),
    _f("fd.sip", IP, "server IP address of a socket", _attr("sip", True)),
    _f("fd.lip", IP, "local IP address of a socket", _attr("lip", True)),
    _f("fd.rip", IP, "remote IP address of a socket", _attr("rip", True)),
    _f("fd.port", P, "(filters only) matches the client or the server port",
       _both("cport", "sport"), any_of=True),
    _f("fd.cport", P, "client port of a socket", _attr("cport", True)),
    _f("fd.sport", P, "server port of a socket", _attr("sport", True)),
    _f("fd.lport", P, "local port of a socket", _attr("lport", True)),
    _f("fd.rport", P, "remote port of a socket", _attr("rport", True)),
    _f("fd.l4proto", S, "layer-4 protocol of a socket: tcp, udp, raw", _attr("l4proto", True)),
    _f("fd.sockfamily", S, "socket family: 'ip' (ipv4/ipv6) or 'unix'", _fd(_sockfamily)),
    _f("fd.is_server", B, "true if the process owns the server end of the TCP/UDP socket",
       _fd(lambda fd: not fd.local_is_client, inet_only=True)),
    _f("fd.uid", S, "a unique id of the fd: the thread id followed by the fd number", _uid),
    _f("fd.containername", S, "container id ':' fd name", _containername),
    _f("fd.containerdirectory", S, "container id ':' fd.directory", _containerdirectory),
    _f("fd.proto", S, "(filters only) matches the client or the server protocol "
       "(/etc/services name of the port)",
       _both("cport", "sport", lambda fd, port: service_name(port, fd.l4proto)), any_of=True),
    _f("fd.cproto", S, "protocol of the client port (/etc/services name: http …)",
       _proto("cport")),
    _f("fd.sproto", S, "protocol of the server port (/etc/services name)", _proto("sport")),
    _f("fd.lproto", S, "protocol of the local port (/etc/services name)", _proto("lport")),
    _f("fd.rproto", S, "protocol of the remote port (/etc/services name)", _proto("rport")),
    _f("fd.net", NET, "(filters only) matches the client or server IP network: "
       "fd.net=127.0.0.0/8", _both("cip", "sip"), any_of=True),
    _f("fd.cnet", NET, "(filters only) matches the client IP network", _one("cip"),
       any_of=True),
    _f("fd.snet", NET, "(filters only) matches the server IP network", _one("sip"),
       any_of=True),
    _f("fd.lnet", NET, "(filters only) matches the local IP network", _one("lip"),
       any_of=True),
    _f("fd.rnet", NET, "(filters only) matches the remote IP network", _one("rip"),
       any_of=True),
    _f("fd.connected", B, "true for a TCP/UDP socket with a peer (connected, or accepted)",
       _fd(_connected, inet_only=True)),
)

_PATH_ARG_NAMES = ("path", "pathname", "filename", "name")


def _fs_path_name(e: Event) -> str | None:
    args = e.args
    for key in _PATH_ARG_NAMES:
        v = args.get(key)
        if isinstance(v, str):
            return v
    fd = e.fd
    if fd is not None and fd.type in ("file", "directory") and fd.name:
        return fd.name
    return None


FS_FIELDS: tuple[Field, ...] = (
    _f("fs.path.name", S, "path argument of a path syscall, else the file of its fd",
       _fs_path_name),
)
