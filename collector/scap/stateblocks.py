"""The .scap state blocks before the events: machine info, process list, fd lists,
users (interfaces are read past: cdig names sockets by their addresses).

The parsers follow what libscap's reader accepts for every version (PL v1-v9,
FDL v1-v2, IL v1-v2, UL v1-v2); each entry's own length field, where the
version has one, lets a reader skip fields it does not know. A malformed entry
ends its list; nothing here raises on a file's bytes.
"""

from __future__ import annotations

import ipaddress
import struct
from collections.abc import Iterator
from dataclasses import dataclass, field

from ..events import sock_name
from .blocktypes import FDL_V2, PL_VERSION, UL_V2

_U16, _U32, _U64, _I64 = (struct.Struct(f) for f in ("<H", "<I", "<Q", "<q"))

@dataclass
class MachineInfo:
    num_cpus: int = 0
    memory_bytes: int = 0
    max_pid: int = 0
    hostname: str = ""


def parse_machine_info(body: memoryview) -> MachineInfo:
    b = bytes(body)
    if len(b) < 148:
        return MachineInfo()
    ncpu, mem, maxpid = struct.unpack_from("<IQQ", b)
    host = b[20:148].split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
    return MachineInfo(ncpu, mem, maxpid, host)


@dataclass
class ThreadInfo:
    """One process-list entry (a thread), as much of it as cdig uses."""

    tid: int
    pid: int
    ptid: int
    comm: str = ""
    exe: str = ""
    exepath: str = ""
    args: list[str] = field(default_factory=list)  # argv[1:]
    cwd: str = ""
    uid: int = 0
    gid: int = 0
    vtid: int = -1
    vpid: int = -1
    cgroups: str = ""  # the first cgroup path (any subsystem)
    flags: int = 0
    fdlimit: int = 0
    loginuid: int = -1
    vmsize_kb: int = 0
    vmrss_kb: int = 0


class _Cursor:
    __slots__ = ("b", "pos", "end")

    def __init__(self, b: bytes, pos: int, end: int) -> None:
        self.b, self.pos, self.end = b, pos, end

    def take(self, n: int) -> bytes:
        if self.pos + n > self.end:
            raise ValueError("entry ends early")
        v = self.b[self.pos:self.pos + n]
        self.pos += n
        return v

    def num(self, st: struct.Struct) -> int:
        """The next integer, of ``st``'s one-field format."""
        v: int = st.unpack(self.take(st.size))[0]
        return v

    def u16(self) -> int:
        return self.num(_U16)

    def u32(self) -> int:
        return self.num(_U32)

    def u64(self) -> int:
        return self.num(_U64)

    def i64(self) -> int:
        return self.num(_I64)

    def lstr(self) -> bytes:
        return self.take(self.u16())


def _entries(b: bytes, pos: int, sized: bool, min_len: int, min_left: int) -> Iterator[_Cursor]:
    """A cursor over each entry of a list block, from ``pos`` while ``min_left`` bytes
    are left. ``sized`` entries begin with their u32 length (one under ``min_len`` or
    past the block ends the list) and the next starts after it, whatever the reader
    took; an unsized one runs on to the block's end and the next starts where the
    reader stopped."""
    n = len(b)
    while n - pos >= min_left:
        if sized:
            sub_len = _U32.unpack_from(b, pos)[0]
            if sub_len < min_len or pos + sub_len > n:
                return
            yield _Cursor(b, pos + 4, pos + sub_len)
            pos += sub_len
        else:
            c = _Cursor(b, pos, n)
            yield c
            pos = c.pos


def _text(b: bytes) -> str:
    return b.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")


def cgroup_path(cgroups: bytes) -> str:
    """The cgroup path of a NUL-separated ``subsys=path`` list (v2's forged ``cpu=/p``
    or any v1 subsystem: the container id is in every one of them)."""
    best = ""
    for item in cgroups.split(b"\0"):
        sub, sep, path = item.partition(b"=")
        if not sep:
            continue
        p = path.decode("utf-8", "backslashreplace")
        if len(p) > len(best):
            best = p
    return best


def parse_proclist(body: memoryview, btype: int) -> list[ThreadInfo]:
    """Entries of a PL block (any version). A malformed entry ends the list."""
    version = PL_VERSION[btype]
    b = bytes(body)
    out: list[ThreadInfo] = []
    sized = version == 9
    for c in _entries(b, 0, sized, 4, 4):
        try:
            tid, pid, ptid = c.u64(), c.u64(), c.u64()
            if version >= 6:
                c.u64()  # sid
            if version >= 8:
                c.u64()  # vpgid
            comm = _text(c.lstr())
            exe = _text(c.lstr())
            exepath = _text(c.lstr()) if version >= 7 else ""
            args = c.lstr()
            cwd = _text(c.lstr())
            fdlimit = c.u64()
            flags, uid, gid = c.u32(), c.u32(), c.u32()
            vtid = vpid = -1
            vmsize = vmrss = 0
            cg = b""
            if version >= 2:
                vmsize, vmrss = c.u32(), c.u32()
                c.take(4 + 16)  # vmswap, pfmajor, pfminor
                if version >= 3:
                    c.lstr()  # env
                if version >= 4:
                    vtid, vpid = c.i64(), c.i64()
                    cg = c.lstr()
                    if version >= 5:
                        c.lstr()  # root
            loginuid = -1
            if sized:
                left = c.end - c.pos
                if left > 29:  # libs >= 0.10: pidns_init_start_ts u64, tty u32 come first
                    c.take(12)
                if c.end - c.pos >= 4:
                    loginuid = struct.unpack("<i", c.take(4))[0]
        except ValueError:
            break
        argv = [_text(a) for a in args.split(b"\0")] if args else []
        if argv and argv[-1] == "":
            argv.pop()
        out.append(ThreadInfo(tid=tid, pid=pid, ptid=ptid, comm=comm, exe=exe, exepath=exepath,
                              args=argv, cwd=cwd, uid=uid, gid=gid, vtid=vtid, vpid=vpid,
                              cgroups=cgroup_path(cg), flags=flags, fdlimit=fdlimit,
                              loginuid=loginuid, vmsize_kb=vmsize, vmrss_kb=vmrss))
    return out


# scap fd types (scap.h)
FD_FILE, FD_DIRECTORY, FD_IPV4_SOCK, FD_IPV6_SOCK = 1, 2, 3, 4
FD_IPV4_SERVSOCK, FD_IPV6_SERVSOCK, FD_FIFO, FD_UNIX_SOCK = 5, 6, 7, 8
FD_EVENT, FD_UNSUPPORTED, FD_SIGNALFD, FD_EVENTPOLL = 9, 10, 11, 12
FD_INOTIFY, FD_TIMERFD, FD_NETLINK, FD_FILE_V2 = 13, 14, 15, 16
L4PROTO = {2: "tcp", 3: "udp", 4: "icmp", 5: "raw"}  # SCAP_L4_*
L4PROTO_ID = {v: k for k, v in L4PROTO.items()}


@dataclass
class FdEntry:
    """One fd-list entry, already in cdig's terms (``collector.events.FdInfo`` fields)."""

    fd: int
    type: str
    name: str
    l4proto: str = ""
    cip: str = ""
    cport: int = 0
    sip: str = ""
    sport: int = 0
    local_is_client: bool = True
    open_flags: int = 0


_FD_TYPE_NAMES = {FD_FILE: "file", FD_FILE_V2: "file", FD_DIRECTORY: "directory",
                  FD_FIFO: "pipe", FD_EVENT: "event", FD_UNSUPPORTED: "other",
                  FD_SIGNALFD: "signalfd", FD_EVENTPOLL: "eventpoll", FD_INOTIFY: "inotify",
                  FD_TIMERFD: "timerfd", FD_NETLINK: "netlink"}


def _ip4(raw: bytes) -> str:
    return str(ipaddress.IPv4Address(raw))


def _ip6(raw: bytes) -> str:
    a = ipaddress.IPv6Address(raw)
    return str(a.ipv4_mapped) if a.ipv4_mapped else str(a)


def parse_fdlist(body: memoryview, btype: int) -> tuple[int, list[FdEntry]]:
    """(tid, entries) of an FDL block (v1 or v2). A malformed entry ends the list."""
    b = bytes(body)
    if len(b) < 8:
        return -1, []
    tid = _U64.unpack_from(b)[0]
    out: list[FdEntry] = []
    for c in _entries(b, 8, btype == FDL_V2, 21, 4):
        try:
            fd = _I64.unpack(c.take(8))[0]
            c.u64()  # ino
            typ = c.take(1)[0]
            e: FdEntry
            if typ == FD_IPV4_SOCK:
                sip, dip = c.take(4), c.take(4)
                sport, dport, proto = c.u16(), c.u16(), c.take(1)[0]
                e = FdEntry(fd, "ipv4", "", L4PROTO.get(proto, ""), _ip4(sip), sport,
                            _ip4(dip), dport)
            elif typ == FD_IPV6_SOCK:
                sip, dip = c.take(16), c.take(16)
                sport, dport, proto = c.u16(), c.u16(), c.take(1)[0]
                e = FdEntry(fd, "ipv6", "", L4PROTO.get(proto, ""), _ip6(sip), sport,
                            _ip6(dip), dport)
            elif typ == FD_IPV4_SERVSOCK:
                ip, port, proto = c.take(4), c.u16(), c.take(1)[0]
                e = FdEntry(fd, "ipv4", "", L4PROTO.get(proto, ""), sip=_ip4(ip), sport=port,
                            local_is_client=False)
            elif typ == FD_IPV6_SERVSOCK:
                ip, port, proto = c.take(16), c.u16(), c.take(1)[0]
                e = FdEntry(fd, "ipv6", "", L4PROTO.get(proto, ""), sip=_ip6(ip), sport=port,
                            local_is_client=False)
            elif typ == FD_UNIX_SOCK:
                c.take(16)  # source, destination (kernel socket pointers)
                # the proc scanner keeps /proc/net/unix's line end; sysdig does not show it
                e = FdEntry(fd, "unix", _text(c.lstr()).rstrip("\n"))
            elif typ == FD_FILE_V2:
                flags = c.u32()
                e = FdEntry(fd, "file", _text(c.lstr()), open_flags=flags)
            elif typ in _FD_TYPE_NAMES:
                e = FdEntry(fd, _FD_TYPE_NAMES[typ], _text(c.lstr()))
            else:
                break  # libscap fails on an unknown fd type too
        except ValueError:
            break
        if e.type in ("ipv4", "ipv6"):
            e.name = sock_name(e)
        out.append(e)
    return tid, out


def parse_userlist(body: memoryview, btype: int) -> dict[int, str]:
    """uid -> user name from a UL block (v2: each entry has its length)."""
    b = bytes(body)
    users: dict[int, str] = {}
    for c in _entries(b, 0, btype == UL_V2, 5, 5):
        try:
            typ = c.take(1)[0]
            if typ == 0:
                uid, _gid = c.u32(), c.u32()
                name = _text(c.lstr())
                c.lstr()  # home
                c.lstr()  # shell
                users[uid] = name
            else:
                c.u32()
                c.lstr()
        except ValueError:
            break
    return users

