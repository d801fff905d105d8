"""Synthetic probe records (numpy, as the rings deliver them) for unit tests."""

from __future__ import annotations

import socket
import struct
from typing import Any

import numpy as np

from cdig.probes.syscall_table import table
from cdig.probes.syscalls import layout

T = table("x86_64")


def record(name: str | None = None, *, kind: int = layout.KIND_SYSCALL, ret: int = 0,
           args: tuple[int, ...] = (), ts: int = 1000, pid: int = 100, tid: int | None = None,
           comm: bytes = b"app", cgroup: int = 7, latency: int = 500, uid: int = 0,
           flags: int = 0) -> np.ndarray:
    r = np.zeros(1, dtype=layout.RECORD)
    r["ts_ns"] = ts
    r["latency_ns"] = latency
    r["cgroup_id"] = cgroup
    r["ret"] = ret
    a = list(args) + [0] * (6 - len(args))
    r["args"] = [x & 0xFFFFFFFFFFFFFFFF for x in a]
    r["pid"] = pid
    r["tid"] = pid if tid is None else tid
    r["uid"] = uid
    r["nr"] = T.nr(name) if name else 0
    r["kind"] = kind
    r["flags"] = flags
    r["comm"] = comm
    return r


def ext(name: str | None = None, *, str1: bytes = b"", str2: bytes = b"", argc: int = 0,
        len1: int | None = None, len2: int | None = None, **kw: Any) -> np.ndarray:
    x = np.zeros(1, dtype=layout.EXT_RECORD)
    x["ev"] = record(name, **kw)[0]
    buf1 = np.frombuffer(str1.ljust(layout.STR1_LEN, b"\0")[: layout.STR1_LEN], dtype="V256")
    buf2 = np.frombuffer(str2.ljust(layout.STR2_LEN, b"\0")[: layout.STR2_LEN], dtype="V512")
    x["str1"] = buf1[0]
    x["str2"] = buf2[0]
    x["len1"] = len(str1) if len1 is None else len1
    x["len2"] = len(str2) if len2 is None else len2
    x["argc"] = argc
    return x


def sockaddr_in(ip: str, port: int) -> bytes:
    return struct.pack("<H", 2) + struct.pack(">H", port) + socket.inet_aton(ip) + b"\0" * 8


def sockaddr_in6(ip: str, port: int) -> bytes:
    return (struct.pack("<H", 10) + struct.pack(">H", port) + b"\0" * 4
            + socket.inet_pton(socket.AF_INET6, ip) + b"\0" * 4)


def concat(*parts: np.ndarray) -> np.ndarray:
    return np.concatenate(parts) if parts else parts
