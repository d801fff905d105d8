""".scap block framing: the section header, block types, and the state blocks
(machine info, process list, fd lists, interfaces, users).

A .scap file is a pcapng-like sequence of blocks, all little-endian:
``u32 type, u32 total_length, body, padding to 4 bytes, u32 total_length``,
optionally gzip-compressed as a whole (``../shared/scap/FORMAT.md`` §1.1).
``BlockStream`` cuts a file (plain or gzip, read in chunks) into blocks and
stops, with a reason, at the first one that is cut short or whose trailer does
not repeat its length: everything before it is intact.

The state block parsers follow what libscap's reader accepts for every
version (PL v1-v9, FDL v1-v2, IL v1-v2, UL v1-v2); each entry's own length
field, where the version has one, lets a reader skip fields it does not know.
"""

from __future__ import annotations

import ipaddress
import struct
import zlib
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import BinaryIO, TypeVar

import numpy as np

from ..read_ahead import read_ahead as _read_ahead

SHB = 0x0A0D0D0A
BYTE_ORDER_MAGIC = 0x1A2B3C4D
SHB_MAGIC_BYTES = struct.pack("<I", SHB)
GZIP_MAGIC = b"\x1f\x8b"

MI, MI_INT = 0x201, 0x8002ABCD
PL_VERSION = {0x202: 1, 0x8000ABCD: 1, 0x207: 2, 0x8013ABCD: 2, 0x209: 3, 0x8014ABCD: 3,
              0x210: 4, 0x211: 5, 0x212: 6, 0x213: 7, 0x214: 8, 0x215: 9}
PL_V9 = 0x215
FDL, FDL_INT, FDL_V2 = 0x203, 0x8001ABCD, 0x218
IL, IL_INT, IL_V2 = 0x205, 0x8011ABCD, 0x219
UL, UL_INT, UL_V2 = 0x206, 0x8012ABCD, 0x220
# event blocks: type -> (has nparams in the header, has u32 flags after cpuid)
EV, EV_INT, EV_V2, EV_V2_LARGE = 0x204, 0x8010ABCD, 0x216, 0x221
EVF, EVF_V2, EVF_V2_LARGE = 0x208, 0x217, 0x222
EVENT_BLOCKS = {EV: (False, False), EV_INT: (False, False), EV_V2: (True, False),
                EV_V2_LARGE: (True, False), EVF: (False, True), EVF_V2: (True, True),
                EVF_V2_LARGE: (True, True)}
STATE_ONLY = 1  # EVF flag SCAP_DF_STATE_ONLY: apply the event's effects, do not show it

_HDR = struct.Struct("<II")
_U16, _U32, _U64, _I64 = (struct.Struct(f) for f in ("<H", "<I", "<Q", "<q"))
CHUNK = 8 << 20


def _chain(buf: bytes) -> tuple[np.ndarray, int]:
    """(the start offsets of the blocks of ``buf`` that follow each other from offset 0,
    the offset after the last): the block lengths followed with numpy, not in Python.

    Blocks start at multiples of 4 (every block length is one). A word can start a
    block if the length after it is valid, the block fits, and its trailer repeats
    the length; the chain from word 0 through such words, found by doubling (n log n
    vector steps), is the list of blocks. It stops before the first block that is
    incomplete or not valid: the caller's loop decides what that block is."""
    nw = len(buf) // 4
    if nw < 3:
        return np.zeros(0, dtype=np.int64), 0
    w = np.frombuffer(buf, dtype="<u4", count=nw)
    length = w[1:]
    cand = np.flatnonzero((length >= 12) & ((length & 3) == 0))  # u32 passes first
    nxt = cand + (length[cand] >> 2).astype(np.int64)  # the word after the block
    fits = nxt <= nw
    cand, nxt = cand[fits], nxt[fits]
    trailer = w[nxt - 1] == length[cand]
    cand, nxt = cand[trailer], nxt[trailer]
    if not len(cand) or cand[0] != 0:
        return np.zeros(0, dtype=np.int64), 0
    m = len(cand)
    # the candidate index each candidate's block leads to (m: none, the chain ends)
    j = np.searchsorted(cand, nxt)
    hit = j < m
    hit[hit] = cand[j[hit]] == nxt[hit]
    jump = np.append(np.where(hit, j, m), m)
    path = np.zeros(1, dtype=np.int64)
    while True:
        more = jump[path]
        end = np.flatnonzero(more == m)
        if len(end):
            path = np.concatenate([path, more[:end[0]]])
            break
        path = np.concatenate([path, more])
        jump = jump[jump]
    return cand[path] * 4, int(nxt[path[-1]]) * 4


class ScapError(Exception):
    """A file that is not a readable .scap at all. The message is one line."""


def is_scap(path: str) -> bool:
    """True if ``path`` starts with a .scap section header, plain or gzip-compressed."""
    try:
        with open(path, "rb") as f:
            head = f.read(4)
            if head[:2] == GZIP_MAGIC:
                f.seek(0)
                d = zlib.decompressobj(wbits=31)
                head = d.decompress(f.read(4096), 4)
    except (OSError, zlib.error):
        return False
    return head[:4] == SHB_MAGIC_BYTES


class _Input:
    """Bytes of a file, gunzipped on the fly if it is gzip-compressed.

    ``error`` says why reading ended early (a damaged or cut gzip stream)."""

    def __init__(self, f: BinaryIO) -> None:
        self.f = f
        head = f.read(2)
        self.gz = zlib.decompressobj(wbits=31) if head == GZIP_MAGIC else None
        self.pending = head
        self.error = ""
        self.eof = False
        self.started_member = False
        self.taken = 0  # bytes of the file behind what read() returned (-P's progress)
        self.given = 0  # bytes read() returned

    def file_offset(self, stream_offset: int) -> int:
        """About where in the file the stream's byte ``stream_offset`` came from: itself
        for a plain file; for gzip, in proportion to what was inflated so far."""
        if self.gz is None:
            return stream_offset
        return self.taken * stream_offset // self.given if self.given else 0

    def read(self, n: int) -> bytes:
        """Up to about ``n`` bytes (more for gzip); b"" at the end."""
        if self.eof:
            return b""
        if self.gz is None:
            raw = self.pending + self.f.read(n)
            self.pending = b""
            if not raw:
                self.eof = True
            return raw
        while True:
            data = self.gz.unconsumed_tail
            if not data:
                data = self.pending + self.f.read(n)
                self.pending = b""
                if not data:
                    if self.started_member:
                        self.error = "truncated"  # the gzip stream ends inside a member
                    self.eof = True
                    return b""
            try:
                out = self.gz.decompress(data, n * 4)
            except zlib.error:
                self.error = "damaged"
                self.eof = True
                return b""
            self.taken += len(data) - len(self.gz.unconsumed_tail) - len(self.gz.unused_data)
            self.given += len(out)
            self.started_member = True
            if self.gz.eof:  # a member ends; another may follow (concatenated gzip)
                self.pending = self.gz.unused_data
                self.gz = zlib.decompressobj(wbits=31)
                self.started_member = False
            if out:
                return out


@dataclass
class Block:
    """One block: its type, and its body (without header, padding-aware trailer)."""

    type: int
    body: memoryview
    offset: int  # of the block's first byte in the (uncompressed) stream


class BlockStream:
    """The blocks of a .scap stream, in order; ``stop`` says why it ended early.

    ``chunks()`` yields (buffer, [(type, body_start, body_end, offset)…]): the
    event reader parses events straight out of the buffer, without a copy per block.
    """

    def __init__(self, f: BinaryIO, path: str = "") -> None:
        self.path = path
        self.inp = _Input(f)
        self.offset = 0  # bytes of stream consumed (complete blocks)
        self.stop = ""  # "", "truncated" or "damaged"
        self.stop_detail = ""
        self.unread = 0  # bytes of an incomplete last block
        self.shb_read = False
        self.through = 0  # stream offset after the blocks of the last chunk yielded

    def read_header(self) -> None:
        """Check the section header block; ScapError if this is not a .scap stream."""
        head = self.inp.read(28)
        while len(head) < 28 and not self.inp.eof:
            more = self.inp.read(28 - len(head))
            if not more:
                break
            head += more
        if len(head) < 12:
            raise ScapError(f"{self.path}: not a .scap file (too short)")
        btype, blen = _HDR.unpack_from(head)
        if btype != SHB:
            raise ScapError(f"{self.path}: not a .scap file (no section header block)")
        if len(head) < 24:
            raise ScapError(f"{self.path}: truncated .scap section header")
        magic = _U32.unpack_from(head, 8)[0]
        if magic != BYTE_ORDER_MAGIC:
            if magic == 0x4D3C2B1A:
                raise ScapError(f"{self.path}: a big-endian .scap file (not supported)")
            raise ScapError(f"{self.path}: bad .scap byte-order magic {magic:#x}")
        major, minor = struct.unpack_from("<HH", head, 12)
        self.version = (major, minor)
        if blen < 28 or blen % 4:
            raise ScapError(f"{self.path}: bad .scap section header length {blen}")
        # Current libs and editcap write SHB options (comments): skip them.
        data = head
        while len(data) < blen and not self.inp.eof:
            more = self.inp.read(CHUNK)
            if not more:
                break
            data += more
        if len(data) < blen:
            raise ScapError(f"{self.path}: truncated .scap section header")
        if _U32.unpack_from(data, blen - 4)[0] != blen:
            raise ScapError(f"{self.path}: damaged .scap section header")
        self._rest = data[blen:]
        self.offset = blen
        self.shb_read = True

    def chunks(self) -> Iterator[tuple[bytes, np.ndarray]]:
        """(buffer, blocks): blocks is an (n, 4) int64 array of (type, body start, body
        end, stream offset) rows, for every complete block in the buffer."""
        buf = self._rest
        self._rest = b""
        base = self.offset
        u32 = _U32.unpack_from
        while True:
            more = self.inp.read(CHUNK)
            if more:
                buf = buf + more if buf else more
            n = len(buf)
            chained, pos = _chain(buf)
            starts: list[int] = []
            app = starts.append
            while pos + 12 <= n:  # what _chain left: the block it stopped at, Python
                blen = u32(buf, pos + 4)[0]
                if blen < 12 or blen & 3:
                    self._damaged(f"bad block length {blen} at offset {base + pos}")
                    break
                end = pos + blen
                if end > n:
                    break
                app(pos)
                pos = end
            if starts or len(chained):
                st = np.concatenate([chained, np.array(starts, dtype=np.int64)])
                w32 = np.frombuffer(buf, dtype="<u4", count=n // 4)  # blocks are 4-aligned
                btype = w32[st >> 2].astype(np.int64)
                blen_a = w32[(st >> 2) + 1].astype(np.int64)
                bad = np.flatnonzero(w32[(st + blen_a - 4) >> 2] != blen_a)
                if len(bad):  # the first block whose trailer does not repeat its length
                    k = int(bad[0])
                    self._damaged(f"block trailer mismatch at offset {base + int(st[k])}")
                    st, btype, blen_a = st[:k], btype[:k], blen_a[:k]
                    pos = int(st[-1] + blen_a[-1]) if k else 0
                if len(st):
                    self.through = base + pos
                    yield buf, np.stack([btype, st + 8, st + blen_a - 4, base + st], axis=1)
            if self.stop:
                self.offset = base + pos
                return
            base += pos
            buf = buf[pos:]
            self.offset = base
            if not more:
                if buf or self.inp.error:
                    self.stop = self.inp.error or "truncated"
                    self.stop_detail = f"{len(buf)} bytes of an incomplete block" if buf else \
                        "the gzip stream ends early"
                    self.unread = len(buf)
                return

    def _damaged(self, detail: str) -> None:
        self.stop = "damaged"
        self.stop_detail = detail

    def at(self) -> StreamAt:
        """Where the stream is now (what a reader reports when it stops here)."""
        return StreamAt(self.stop, self.offset, self.unread,
                        self.inp.gz is None and not self.inp.started_member,
                        self.inp.file_offset(self.through))


@dataclass(frozen=True)
class StreamAt:
    """A BlockStream's position as of one chunk: why it stopped ("" if it did not),
    the stream bytes consumed, those of an incomplete last block, whether the bytes
    are the file's own (plain, no gzip member started), and the file offset the
    chunk's blocks reach (``cdig trace -P``)."""

    stop: str = ""
    offset: int = 0
    unread: int = 0
    plain: bool = True
    file_offset: int = 0


_T = TypeVar("_T")


def read_ahead(items: Iterator[_T], depth: int = 2) -> Iterator[_T]:
    """``items`` produced on a thread up to ``depth`` ahead (``collector.read_ahead``):
    reading the file, gunzip (zlib releases the GIL) and the block chain's numpy passes
    run while the caller parses the previous chunk."""
    return _read_ahead(items, depth, "cdig-scap-read")


# --------------------------------------------------------------------------- state blocks


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

    def u16(self) -> int:
        return _U16.unpack(self.take(2))[0]

    def u32(self) -> int:
        return _U32.unpack(self.take(4))[0]

    def u64(self) -> int:
        return _U64.unpack(self.take(8))[0]

    def i64(self) -> int:
        return _I64.unpack(self.take(8))[0]

    def lstr(self) -> bytes:
        return self.take(self.u16())


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
    pos = 0
    n = len(b)
    while n - pos >= 4:
        start = pos
        if version == 9:
            sub_len = _U32.unpack_from(b, pos)[0]
            if sub_len < 4 or start + sub_len > n:
                break
            c = _Cursor(b, pos + 4, start + sub_len)
        else:
            sub_len = 0
            c = _Cursor(b, pos, n)
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
            if sub_len:
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
        pos = start + sub_len if sub_len else c.pos
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
    pos = 8
    n = len(b)
    out: list[FdEntry] = []
    v2 = btype == FDL_V2
    while n - pos >= 4:
        start = pos
        try:
            if v2:
                sub_len = _U32.unpack_from(b, pos)[0]
                if sub_len < 21 or start + sub_len > n:
                    break
                c = _Cursor(b, pos + 4, start + sub_len)
            else:
                sub_len = 0
                c = _Cursor(b, pos, n)
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
        pos = start + sub_len if sub_len else c.pos
    return tid, out


def sock_name(e: FdEntry) -> str:
    """sysdig's fd.name of a socket: ``cip:cport->sip:sport``, or ``sip:sport`` for a
    server socket; IPv6 addresses as sysdig prints them (no brackets)."""
    if e.cip or e.cport:
        return f"{e.cip}:{e.cport}->{e.sip}:{e.sport}"
    return f"{e.sip}:{e.sport}"


def parse_userlist(body: memoryview, btype: int) -> dict[int, str]:
    """uid -> user name from a UL block (v2: each entry has its length)."""
    b = bytes(body)
    users: dict[int, str] = {}
    pos, n = 0, len(b)
    v2 = btype == UL_V2
    while n - pos >= 5:
        start = pos
        try:
            if v2:
                sub_len = _U32.unpack_from(b, pos)[0]
                if sub_len < 5 or start + sub_len > n:
                    break
                c = _Cursor(b, pos + 4, start + sub_len)
            else:
                sub_len = 0
                c = _Cursor(b, pos, n)
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
        pos = start + sub_len if sub_len else c.pos
    return users
