"""The .scap encoding: blocks, event and parameter bytes, the state blocks' entries.

Pure functions and constants of the byte layout (FORMAT.md): ``block``, ``encode_event``,
``encode_param``, the section header, machine info, process-list and fd-list entries,
the container JSON; ``writer.ScapWriter`` and ``records.RecordEvents`` put them together.
"""

from __future__ import annotations

import hashlib
import ipaddress
import json
import struct
from typing import Any

from ..events import Container, FdInfo
from . import blocks as B
from . import events as E

_MASK64 = (1 << 64) - 1
_PACK = {"i1": "<b", "u1": "<B", "i2": "<h", "u2": "<H", "i4": "<i", "u4": "<I",
         "i8": "<q", "u8": "<Q", "f8": "<d"}
_PACKERS = {k: struct.Struct(v) for k, v in _PACK.items()}
_RANGE = {k: (-(1 << (8 * s.size - 1)), (1 << (8 * s.size - 1)) - 1) if k[0] == "i"
          else (0, (1 << (8 * s.size)) - 1) for k, s in _PACKERS.items() if k != "f8"}
_HEADS: dict[tuple[int, bool, bool], struct.Struct] = {}
_PADS = (b"", b"\0", b"\0\0", b"\0\0\0")
_U32 = struct.Struct("<I")
_GEN_E = struct.Struct("<HH")
_GEN_X = struct.Struct("<q6Q")
EVF_NOT_STATE = 0  # an EVF block with flags 0: cdig's FORK record (see the module docstring)
FD_INTRO = 0x100  # EVF flag (with STATE_ONLY): names an fd for sysdig; cdig's reader skips it
CDIG_FD_EVENT = 4096  # what /proc told cdig about an fd; type >= 336: sysdig skips it

# syscalls whose result is an fd that cdig's State (and sysdig) then name from the event
# itself; others (pipes, eventfds …) are named from /proc when first used, so the writer
# introduces them then (see _known_fds)
_NEW_FD = frozenset("open openat openat2 creat socket accept accept4 memfd_create".split())
_DUP_FD = frozenset("dup dup2 dup3".split())  # the new fd is known if the old one is

# runtime -> sysdig container type (0.29.3 has no name for podman's 11: say docker)
_CONTAINER_TYPE = {"docker": 0, "podman": 0, "lxc": 1, "containerd": 7, "cri-o": 8,
                   "kubernetes": 6}


def _u64(v: int) -> int:
    return v & _MASK64


def _s64(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _sockaddr(ip: str, port: int, v6: bool) -> bytes:
    """A kernel struct sockaddr (what the probe copies) for an address and port."""
    raw = _ip_bytes(ip, v6)
    if v6:
        return struct.pack("<H", 10) + struct.pack(">H", port) + b"\0" * 4 + raw + b"\0" * 4
    return struct.pack("<H", 2) + struct.pack(">H", port) + raw + b"\0" * 8


def _cstr(b: bytes) -> bytes:
    return b.split(b"\0", 1)[0] + b"\0"


def container_hex_id(c: Container) -> str:
    """The 64-hex id sysdig's engines find in a cgroup path, for any container."""
    if len(c.id) == 64 and all(ch in "0123456789abcdef" for ch in c.id):
        return c.id
    return hashlib.sha256(c.id.encode()).hexdigest()


def block(btype: int, body: bytes) -> bytes:
    """One block: header, body, padding to 4 bytes, trailer."""
    pad = (-len(body)) & 3
    total = 12 + len(body) + pad
    return struct.pack("<II", btype, total) + body + b"\0" * pad + struct.pack("<I", total)


def encode_event(etype: int, ts: int, tid: int, values: list[bytes]) -> bytes:
    """``ppm_evt_hdr`` (26 bytes) + parameter length slots + values."""
    info = E.INFO[etype]
    lens = struct.pack(f"<{len(values)}{'I' if info.large else 'H'}",
                       *[len(v) for v in values]) if values else b""
    payload = lens + b"".join(values)
    return struct.pack("<QQIHI", ts, _u64(tid), 26 + len(payload), etype, len(values)) + payload


def encode_param(ptype: str, v: Any) -> bytes:
    """A parameter value as scap stores it (ints clamped to their type's range)."""
    p = _PACKERS.get(ptype)
    if p is not None:
        if ptype == "f8":
            return p.pack(float(v or 0))
        n = int(v or 0)
        lo, hi = _RANGE[ptype]
        if n < lo or n > hi:
            n = _s64(n) if ptype[0] == "i" else n & hi
            n = max(lo, min(hi, n))
        return p.pack(n)
    if ptype == "s":
        return _cstr(v if isinstance(v, bytes) else str(v or "").encode())
    return v if isinstance(v, bytes) else b""


# --------------------------------------------------------------------------- state blocks


def shb() -> bytes:
    return block(B.SHB, struct.pack("<IHHq", B.BYTE_ORDER_MAGIC, 1, 2, -1))


def machine_info(hostname: str, ncpus: int, memory: int = 0, max_pid: int = 4194304) -> bytes:
    host = hostname.encode()[:127].ljust(128, b"\0")
    return block(B.MI, struct.pack("<IQQ", ncpus, memory, max_pid) + host + b"\0" * 32)


def _lstr(b: bytes) -> bytes:
    b = b[:0xFFFF]
    return struct.pack("<H", len(b)) + b


def cgroups_param(c: Container) -> bytes:
    """sysdig's cgroups list for a process of ``c`` (empty for the host)."""
    if c.is_host:
        return b"cpu=/\0memory=/\0cpuset=/\0"
    path = f"/docker/{container_hex_id(c)}".encode()
    return b"".join(sub + b"=" + path + b"\0" for sub in (b"cpu", b"memory", b"cpuset"))


# What sysdig 0.29.3's PL reader accepts (measured: one byte more and it refuses the whole
# file, "Could not initialize reader: invalid argslen 4097"; a host with a 25 KB command
# line made every .scap capture unreadable). Longer values are cut, as the driver cuts them.
PL_MAX_PATH = 1024  # comm, exe, exepath, cwd
PL_MAX_ARGS = 4096  # argv, NUL-separated


def proclist_entry(tid: int, pid: int, ptid: int, comm: str, exe: str, args: list[str], cwd: str,
                   uid: int, gid: int, cgroups: bytes) -> bytes:
    argb = b"\0".join(a.encode(errors="surrogateescape") for a in args)[:PL_MAX_ARGS]

    def path(s: str) -> bytes:
        return _lstr(s.encode(errors="surrogateescape")[:PL_MAX_PATH])

    exeb = path(exe)
    body = struct.pack("<QQQqq", tid, pid, ptid, pid, pid) + path(comm) + exeb + exeb + \
        _lstr(argb) + path(cwd) + \
        struct.pack("<QIII", 1024, 0, uid & 0xFFFFFFFF, gid & 0xFFFFFFFF) + \
        struct.pack("<IIIQQ", 0, 0, 0, 0, 0) + _lstr(b"") + struct.pack("<qq", tid, pid) + \
        _lstr(cgroups) + _lstr(b"/") + struct.pack("<iB", -1, 0)
    return struct.pack("<I", 4 + len(body)) + body


def _ip_bytes(ip: str, v6: bool) -> bytes:
    try:
        a = ipaddress.ip_address(ip or ("::" if v6 else "0.0.0.0"))
    except ValueError:
        a = ipaddress.ip_address("::" if v6 else "0.0.0.0")
    if v6 and a.version == 4:
        a = ipaddress.IPv6Address("::ffff:" + str(a))
    if not v6 and a.version == 6:
        return b"\0" * 4
    return a.packed


_FD_TYPES = {"file": B.FD_FILE, "memfd": B.FD_FILE, "directory": B.FD_DIRECTORY,
             "pipe": B.FD_FIFO, "event": B.FD_EVENT, "signalfd": B.FD_SIGNALFD,
             "eventpoll": B.FD_EVENTPOLL, "inotify": B.FD_INOTIFY, "timerfd": B.FD_TIMERFD,
             "netlink": B.FD_NETLINK}


def fd_entry(info: FdInfo) -> bytes:
    """One FDL v2 entry for a cdig FdInfo."""
    head = struct.pack("<qQ", info.num, 0)
    proto = B.L4PROTO_ID.get(info.l4proto, 0)
    if info.type in ("ipv4", "ipv6"):
        v6 = info.type == "ipv6"
        if not info.local_is_client and not info.cip and not info.cport:  # listening
            body = head + bytes([B.FD_IPV6_SERVSOCK if v6 else B.FD_IPV4_SERVSOCK]) + \
                _ip_bytes(info.sip, v6) + struct.pack("<HB", info.sport, proto)
        else:  # the local end first, as the proc scanner writes it
            if info.local_is_client:
                l_ip, l_port, r_ip, r_port = info.cip, info.cport, info.sip, info.sport
            else:
                l_ip, l_port, r_ip, r_port = info.sip, info.sport, info.cip, info.cport
            body = head + bytes([B.FD_IPV6_SOCK if v6 else B.FD_IPV4_SOCK]) + \
                _ip_bytes(l_ip, v6) + _ip_bytes(r_ip, v6) + \
                struct.pack("<HHB", l_port, r_port, proto)
    elif info.type == "unix":
        body = head + bytes([B.FD_UNIX_SOCK]) + b"\0" * 16 + _lstr(info.name.encode())
    else:
        body = head + bytes([_FD_TYPES.get(info.type, B.FD_UNSUPPORTED)]) + \
            _lstr(info.name.encode())
    return struct.pack("<I", 4 + len(body)) + body


def container_json(c: Container) -> bytes:
    hexid = container_hex_id(c)
    d = {"container": {
        "id": hexid[:12], "full_id": hexid, "type": _CONTAINER_TYPE.get(c.runtime, 0),
        "name": c.name, "image": c.image, "imageid": "", "imagerepo": "", "imagetag": "",
        "imagedigest": "", "privileged": False, "is_pod_sandbox": False, "lookup_state": 1,
        "Mounts": [], "labels": dict(c.labels),
        "cdig_id": c.id, "cdig_runtime": c.runtime, "cdig_cgroup_path": c.cgroup_path,
    }}
    return json.dumps(d, separators=(",", ":")).encode()

