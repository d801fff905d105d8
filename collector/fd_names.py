"""What an fd is named: from its ``/proc/PID/fd`` link, and a socket's two ends.

A socket's name comes from its records (connect, bind, sendto/sendmsg, accept
arguments) and, where a record lacks an end (the port the kernel picked, a
listener opened before the trace), from the socket's line in /proc. ``State``
and the in-order row path (``state_rows``) both name sockets here.
"""

from __future__ import annotations

import ipaddress

from .decode import split_addr
from .events import FdInfo, sock_name
from .procfs import ProcFS

SOCK_DOMAIN = {1: "unix", 2: "ipv4", 10: "ipv6", 16: "netlink"}
SOCK_TYPE = {1: "tcp", 2: "udp", 3: "raw", 5: "tcp"}  # SOCK_STREAM, DGRAM, RAW, SEQPACKET
_ANON_TYPES = {
    "[eventfd]": "event", "[signalfd]": "signalfd", "[eventpoll]": "eventpoll",
    "inotify": "inotify", "[timerfd]": "timerfd", "[pidfd]": "pidfd", "[io_uring]": "other",
}


def fd_from_target(pid: int, fd: int, target: str, proc: str | ProcFS) -> FdInfo:
    """An FdInfo from a ``/proc/PID/fd`` link target (``proc``: a proc root or a ProcFS)."""
    if isinstance(proc, str):
        proc = ProcFS(proc)
    if target.startswith("/"):
        typ = "directory" if proc.is_dir(target) else "file"
        if target.startswith("/memfd:"):
            typ = "memfd"
        return FdInfo(num=fd, type=typ, name=target)
    if target.startswith("socket:["):
        inode = int(target[8:-1])
        t = proc.socket_tuple(pid, inode)
        if t is None:
            return FdInfo(num=fd, type="unix", name=target)
        proto, lip, lport, rip, rport = t
        typ = "ipv6" if ":" in lip else "ipv4"
        if rport == 0:  # listening or unconnected: the local end is a server
            return FdInfo(num=fd, type=typ, name=f"{lip}:{lport}", l4proto=proto,
                          sip=lip, sport=lport, local_is_client=False)
        return FdInfo(num=fd, type=typ, name=f"{lip}:{lport}->{rip}:{rport}", l4proto=proto,
                      cip=lip, cport=lport, sip=rip, sport=rport)
    if target.startswith("pipe:"):
        return FdInfo(num=fd, type="pipe", name=target)
    if target.startswith("anon_inode:"):
        kind = target[11:]
        return FdInfo(num=fd, type=_ANON_TYPES.get(kind, "other"), name=target)
    return FdInfo(num=fd, type="other", name=target)


def socket_line(procfs: ProcFS, pid: int, fd: int) -> tuple[str, str, int, str, int] | None:
    """(l4proto, local ip, port, remote ip, port) of an inet socket fd, from /proc."""
    target = procfs.fd_target(pid, fd)
    if not target or not target.startswith("socket:[") or not target[8:-1].isdigit():
        return None
    return procfs.socket_tuple(pid, int(target[8:-1]))


def accepted(procfs: ProcFS, pid: int, res: int, lst: FdInfo | None, addr: str) -> FdInfo:
    """The connection ``accept`` returned as fd ``res``, from the listener ``lst``
    and the peer's address (or /proc when none was asked for)."""
    peer_ip, peer_port = split_addr(addr)
    info = FdInfo(num=res, type=lst.type if lst else "ipv4", name="",
                  l4proto=lst.l4proto if lst else "tcp",
                  sip=lst.sip if lst else "", sport=lst.sport if lst else 0,
                  cip=peer_ip, cport=peer_port, local_is_client=False)
    t = None
    if info.type in ("ipv4", "ipv6") and (not peer_ip or not info.sport):
        # no address asked for, or a listener the State cannot name (opened before
        # the trace and gone from /proc since, or bound to port 0 before it): the
        # accepted socket's own /proc line, the client end first as in sysdig
        t = socket_line(procfs, pid, res)
    if t is not None:
        info.l4proto, info.sip, info.sport, info.cip, info.cport = t
        info.type = "ipv6" if ":" in t[1] else "ipv4"
    elif not peer_ip:  # a unix socket, or gone: what /proc says
        target = procfs.fd_target(pid, res)
        if target:
            info = fd_from_target(pid, res, target, procfs)
            info.local_is_client = False
    info.name = sock_name(info)
    return info


def name_socket(procfs: ProcFS, pid: int, info: FdInfo, typ: str, addr: str,
                local: str) -> None:
    """Name ``info`` (changed in place) from a ``typ`` record (connect, bind, sendto,
    sendmsg) to ``addr`` with local end ``local``; an end the record lacks from /proc."""
    _address(info, typ, addr, local)
    if typ == "connect" and info.sip and not info.cport and info.type != "unix":
        _local_end(procfs, pid, info)
    elif typ == "bind" and info.sip and not info.sport:
        _bound_port(procfs, pid, info)
    elif typ != "bind" and info.sip and not info.cport and info.l4proto == "udp":
        _local_end(procfs, pid, info, connected=False)  # a send to an address


def _address(info: FdInfo, typ: str, addr: str, local: str) -> None:
    if info.type == "unix" or addr.startswith("/") or addr.startswith("@"):
        if addr:
            info.name = addr
        return
    ip, port = split_addr(addr)
    if typ == "bind":
        info.sip, info.sport, info.local_is_client = ip, port, False
        info.name = f"{ip}:{port}"
        return
    if not ip:
        return
    same_peer = info.local_is_client and (info.sip, info.sport) == (ip, port)
    info.sip, info.sport, info.local_is_client = ip, port, True
    lip, lport = split_addr(local)
    if lip:
        info.cip, info.cport = lip, lport
    elif typ == "connect" and not same_peer:
        # a new peer: whatever local end the socket had shown is not this one's
        info.cip, info.cport = "", 0
    info.name = sock_name(info)


def _local_end(procfs: ProcFS, pid: int, info: FdInfo, connected: bool = True) -> None:
    """Fill the local port of a connect whose record lacks it.

    The probe learns the port the kernel picked when the socket leaves
    SYN_SENT; a non-blocking connect returns before that (EINPROGRESS), and
    a UDP connect has no state change at all. The kernel has picked the port
    by the time connect() returns, so the socket's line in the process's
    /proc/PID/net tables has it. The line is taken only if its remote end is
    the address connected to (the fd may have been closed and reused by the
    time this record is read); else the port stays 0. (A repeated connect to
    the same peer — a poll-style completion check — kept the local end the
    socket had, see _address.)"""
    t = socket_line(procfs, pid, info.num)
    if t is None:
        return
    _, lip, lport, rip, rport = t
    if not connected:  # an unconnected UDP socket sending to an address: no remote end
        if not lport or rport:
            return
    elif not lport or rport != info.sport or not _same_ip(rip, info.sip):
        return
    info.cip, info.cport = lip, lport
    info.name = sock_name(info)


def _bound_port(procfs: ProcFS, pid: int, info: FdInfo) -> None:
    """The port the kernel picked for a bind to port 0 (a test server's
    ``bind(("127.0.0.1", 0))``): the socket's /proc line, if its address is the one
    bound; the accepted sockets then name their server end."""
    t = socket_line(procfs, pid, info.num)
    if t is not None and t[2] and not t[4] and _same_ip(t[1], info.sip):
        info.sport = t[2]
        info.name = f"{info.sip}:{info.sport}"


def _same_ip(a: str, b: str) -> bool:
    """Equal addresses, however written (an IPv4-mapped IPv6 address is its IPv4)."""
    try:
        x, y = ipaddress.ip_address(a), ipaddress.ip_address(b)
    except ValueError:
        return a == b
    if isinstance(x, ipaddress.IPv6Address) and x.ipv4_mapped:
        x = x.ipv4_mapped
    if isinstance(y, ipaddress.IPv6Address) and y.ipv4_mapped:
        y = y.ipv4_mapped
    return x == y
