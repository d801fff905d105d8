"""scap events ↔ cdig's syscall vocabulary: event types, parameter encoding, flags.

The event table (``eventtable``) says what each scap event type is called and
which parameters it has; this module decodes and encodes those parameters and
translates between scap's conventions and the probe's raw records:

* names: a scap event is named like the syscall (``openat``, ``read``), with a
  few exceptions (``pread`` is pread64 …, ``NAME_ALIAS``); the generic events
  (ids 0/1) carry the native syscall number in ``nativeID``;
* arguments: cdig keeps raw syscall arguments (``probes.syscalls``); scap keeps
  named parameters, some of them in the enter event, some in the exit event.
  ``PARAM_ALIAS`` maps cdig's argument names to scap's;
* flags: scap re-encodes open and clone flags (``PPM_O_*``, ``PPM_CL_*``);
  modes and socket families use the kernel's numbers;
* addresses: scap's sockaddr is ``u8 family, addr, u16 port (host order)``, its
  socket tuple ``family, src addr, src port, dst addr, dst port``; the probe
  copies the kernel's ``struct sockaddr`` (u16 family, big-endian port).
"""

from __future__ import annotations

import struct
from dataclasses import dataclass

from .eventtable import EVENTS, PPM_EVENT_MAX, PPM_SC, SYSCALL_EVENT, SYSCALL_SC

_SIZES = {"i1": 1, "u1": 1, "i2": 2, "u2": 2, "i4": 4, "u4": 4, "i8": 8, "u8": 8, "f8": 8}
_INT_FMT = {"i1": "<b", "u1": "<B", "i2": "<h", "u2": "<H", "i4": "<i", "u4": "<I",
            "i8": "<q", "u8": "<Q", "f8": "<d"}


@dataclass(frozen=True, slots=True)
class EventInfo:
    """One scap event type: name, direction, parameter names and type codes."""

    id: int
    name: str
    enter: bool  # even ids are enter events, odd ids exit events
    large: bool  # u32 parameter length slots
    old: bool
    unused: bool
    params: tuple[tuple[str, str], ...]


def _load() -> tuple[EventInfo, ...]:
    out = []
    for i, (name, flags, params) in enumerate(EVENTS):
        ps = tuple(tuple(tok.split(":", 1)) for tok in params.split())
        out.append(EventInfo(i, name, i % 2 == 0, "L" in flags, "O" in flags, "U" in flags,
                             ps))  # type: ignore[arg-type]
    return tuple(out)


INFO: tuple[EventInfo, ...] = _load()
MAX = PPM_EVENT_MAX

# Events that are not syscalls and not shown by cdig (their effects are applied).
GENERIC_E, GENERIC_X = 0, 1
PROCEXIT_E = 186  # PROCEXIT_1_E: status, ret, sig, core
PROCEXIT_OLD_E = 16
SCHEDSWITCH_E = 152
PROCINFO_E = 234
CONTAINER_E, CONTAINER_JSON_2_E = 272, 324
DROP_E, DROP_X = 148, 149
CLONE_EXITS = frozenset(i.id for i in INFO if not i.enter and not i.unused
                        and i.name in ("clone", "fork", "vfork", "clone3"))
EXECVE_EXITS = frozenset(i.id for i in INFO if not i.enter and not i.unused
                         and i.name in ("execve", "execveat"))

NAME_ALIAS = {"pread": "pread64", "pwrite": "pwrite64", "prlimit": "prlimit64",
              "umount": "umount2", "recv": "recvfrom", "send": "sendto", "stat64": "stat",
              "lstat64": "lstat", "fstat64": "fstat", "mmap2": "mmap", "llseek": "lseek",
              "fstatat64": "newfstatat", "signaldeliver": "signaldeliver"}
SCAP_NAME = {v: k for k, v in NAME_ALIAS.items() if k not in ("recv", "send", "stat64", "lstat64",
                                                                "fstat64", "mmap2", "llseek",
                                                                "fstatat64", "signaldeliver")}

# cdig argument name -> scap parameter names, in order of preference
PARAM_ALIAS: dict[str, tuple[str, ...]] = {
    "path": ("name", "path", "filename", "pathname"),
    "filename": ("filename", "pathname"),
    "protocol": ("proto",),
    "tgid": ("pid",),
    "olddirfd": ("olddirfd", "olddir"),
    "newdirfd": ("newdirfd", "newdir", "linkdirfd"),
    "arg": ("argument",),
    "count": ("size",),
    "len": ("size",),
    "source": ("dev",),
    "target": ("target", "dir"),
    "oldfd": ("fd",),
    "uaddr": ("addr",),
    "timeout": ("timeout",),
}


def event_pairs() -> dict[str, tuple[int, int]]:
    """cdig (x86_64) syscall name -> (enter id, exit id) of the event the drivers of
    0.29.3 emit for it; syscalls they cover with the generic events are not listed."""
    out: dict[str, tuple[int, int]] = {}
    for name, enter in SYSCALL_EVENT.items():
        if enter not in (GENERIC_E,) and enter + 1 < MAX and not INFO[enter].unused:
            out[name] = (enter, enter + 1)
    return out


PPM_SC_ID = {**{v: k for k, v in PPM_SC.items()}, **SYSCALL_SC}

# --------------------------------------------------------------------------- flags

_PPM_O = [(1 << 2, 0o100), (1 << 3, 0o2000), (1 << 4, 0o10000), (1 << 5, 0o200),
          (1 << 6, 0o4000), (1 << 7, 0o4010000), (1 << 8, 0o1000), (1 << 9, 0o40000),
          (1 << 10, 0o200000), (1 << 11, 0o100000), (1 << 12, 0o2000000),
          (1 << 13, 0o20200000)]


def open_flags_from_ppm(v: int) -> int:
    """PPM_O_* → the kernel's O_* (x86_64)."""
    acc = v & 3
    out = {1: 0, 2: 1, 3: 2, 0: 0}[acc]
    for ppm, linux in _PPM_O:
        if v & ppm:
            out |= linux
    return out


def open_flags_to_ppm(v: int) -> int:
    acc = v & 3
    out = {0: 1, 1: 2, 2: 3, 3: 3}[acc]
    for ppm, linux in _PPM_O:
        if v & linux == linux:
            out |= ppm
    return out


_PPM_CL = [(1 << 0, 0x400), (1 << 1, 0x200), (1 << 2, 0x80000000), (1 << 3, 0x8000000),
           (1 << 4, 0x40000000), (1 << 5, 0x20000), (1 << 6, 0x20000000), (1 << 7, 0x4000000),
           (1 << 8, 0x8000), (1 << 9, 0x100000), (1 << 10, 0x2000), (1 << 11, 0x800),
           (1 << 12, 0x40000), (1 << 13, 0x10000), (1 << 14, 0x800000), (1 << 15, 0x100),
           (1 << 20, 0x10000000), (1 << 23, 0x200000), (1 << 24, 0x1000000),
           (1 << 25, 0x80000), (1 << 27, 0x4000), (1 << 28, 0x2000000)]
PPM_CL_CLONE_THREAD = 1 << 13


def clone_flags_from_ppm(v: int) -> int:
    out = 0
    for ppm, linux in _PPM_CL:
        if v & ppm:
            out |= linux
    return out


def clone_flags_to_ppm(v: int) -> int:
    out = 0
    for ppm, linux in _PPM_CL:
        if v & linux:
            out |= ppm
    return out


# PPM_FCNTL_* -> the kernel's F_* (x86_64)
_PPM_FCNTL = {1: 0, 2: 1, 3: 2, 4: 3, 5: 4, 6: 5, 8: 6, 9: 7, 10: 8, 12: 9, 13: 10, 15: 11,
              17: 5, 18: 6, 19: 7, 21: 15, 22: 16, 23: 1024, 24: 1025, 25: 1029, 26: 1030,
              27: 1026, 28: 1031, 29: 1032, 30: 36, 31: 37, 32: 38}
_FCNTL_PPM = {v: k for k, v in _PPM_FCNTL.items() if k not in (17, 18, 19)}


def fcntl_cmd_from_ppm(v: int) -> int:
    return _PPM_FCNTL.get(v, 0xFFFF)  # PPM_FCNTL_UNKNOWN: no kernel command


def fcntl_cmd_to_ppm(v: int) -> int:
    return _FCNTL_PPM.get(v & 0xFFFFFFFF, 0)


# (cdig syscall, argument) -> how scap encodes it: (from scap, to scap)
ARG_CODECS = {("fcntl", "cmd"): (fcntl_cmd_from_ppm, fcntl_cmd_to_ppm)}


# --------------------------------------------------------------------------- addresses

AF_UNIX, AF_INET, AF_INET6 = 1, 2, 10


def sockaddr_to_linux(raw: bytes) -> bytes:
    """A scap sockaddr parameter as the kernel's struct sockaddr ("" if unknown)."""
    if not raw:
        return b""
    fam = raw[0]
    if fam == AF_INET and len(raw) >= 7:
        port = struct.unpack_from("<H", raw, 5)[0]
        return struct.pack("<H", AF_INET) + struct.pack(">H", port) + raw[1:5] + b"\0" * 8
    if fam == AF_INET6 and len(raw) >= 19:
        port = struct.unpack_from("<H", raw, 17)[0]
        return struct.pack("<H", AF_INET6) + struct.pack(">H", port) + b"\0" * 4 + raw[1:17] + \
            b"\0" * 4
    if fam == AF_UNIX:
        return struct.pack("<H", AF_UNIX) + raw[1:].split(b"\0", 1)[0] + b"\0"
    return b""


def tuple_ends(raw: bytes) -> tuple[bytes, bytes]:
    """(source, destination) of a scap socket tuple, each as a kernel struct sockaddr."""
    if not raw:
        return b"", b""
    fam = raw[0]
    if fam == AF_INET and len(raw) >= 13:
        return (sockaddr_to_linux(bytes([AF_INET]) + raw[1:7]),
                sockaddr_to_linux(bytes([AF_INET]) + raw[7:13]))
    if fam == AF_INET6 and len(raw) >= 37:
        return (sockaddr_to_linux(bytes([AF_INET6]) + raw[1:19]),
                sockaddr_to_linux(bytes([AF_INET6]) + raw[19:37]))
    if fam == AF_UNIX and len(raw) >= 17:
        path = raw[17:].split(b"\0", 1)[0]
        return b"", struct.pack("<H", AF_UNIX) + path + b"\0" if path else b""
    return b"", b""


def sockaddr_from_linux(raw: bytes) -> bytes:
    """A kernel struct sockaddr as a scap sockaddr parameter."""
    if len(raw) < 2:
        return b""
    fam = struct.unpack_from("<H", raw)[0]
    if fam == AF_INET and len(raw) >= 8:
        port = struct.unpack_from(">H", raw, 2)[0]
        return bytes([AF_INET]) + raw[4:8] + struct.pack("<H", port)
    if fam == AF_INET6 and len(raw) >= 24:
        port = struct.unpack_from(">H", raw, 2)[0]
        return bytes([AF_INET6]) + raw[8:24] + struct.pack("<H", port)
    if fam == AF_UNIX:
        return bytes([AF_UNIX]) + raw[2:].split(b"\0", 1)[0] + b"\0"
    return b""


def tuple_from_linux(src: bytes, dst: bytes) -> bytes:
    """A scap socket tuple from two kernel sockaddrs (same family)."""
    s, d = sockaddr_from_linux(src), sockaddr_from_linux(dst)
    if not d:
        return b""
    fam = d[0]
    if fam == AF_UNIX:
        return bytes([AF_UNIX]) + b"\0" * 16 + d[1:]
    if not s or s[0] != fam:
        s = bytes([fam]) + b"\0" * (len(d) - 1)
    return bytes([fam]) + s[1:] + d[1:]


# --------------------------------------------------------------------------- decoding

_LENS: dict[tuple[int, bool], struct.Struct] = {}


def lens_struct(n: int, large: bool) -> struct.Struct:
    key = (n, large)
    s = _LENS.get(key)
    if s is None:
        s = _LENS[key] = struct.Struct(f"<{n}{'I' if large else 'H'}")
    return s


def value(ptype: str, raw: bytes) -> object:
    """One parameter's value: an int, bytes (strings without their NUL), or raw bytes."""
    fmt = _INT_FMT.get(ptype)
    if fmt is not None:
        size = _SIZES[ptype]
        if len(raw) < size:
            if not raw:
                return None
            raw = raw + b"\0" * (size - len(raw))
        return struct.unpack_from(fmt, raw)[0]
    if ptype == "s":
        return raw[:-1] if raw.endswith(b"\0") else raw
    return raw


def v1_nparams(buf: bytes, start: int, end: int, table_n: int) -> int:
    """The parameter count of a v1 event (no nparams in its header): the largest
    count up to the table's whose length slots add up to the event's end."""
    for n in range(table_n, -1, -1):
        vals = start + 2 * n
        if vals > end:
            continue
        total = vals + sum(struct.unpack_from(f"<{n}H", buf, start)) if n else vals
        if total == end:
            return n
        if total < end:
            return -1
    return -1
