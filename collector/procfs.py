"""Reading /proc for one process: the boundary where a vanished process
becomes ``None``, never an exception (short-lived processes are the normal
case for a syscall tracer). ``proc_root`` is a parameter everywhere, for
fixture trees in tests and for running with the host's /proc mounted elsewhere.
"""

from __future__ import annotations

import os
import stat
from dataclasses import dataclass

PROC_ROOT = "/proc"


@dataclass(slots=True)
class ProcInfo:
    """What /proc says about one process at one moment."""

    pid: int
    ppid: int
    name: str
    exe: str
    argv: list[str]
    uid: int


def _read(path: str) -> bytes | None:
    try:
        with open(path, "rb") as f:
            return f.read()
    except OSError:  # ENOENT/ESRCH: gone; EACCES: not ours to read
        return None


def read_proc(pid: int, proc_root: str = PROC_ROOT) -> ProcInfo | None:
    """Name, parent, exe, argv and real uid of ``pid``; None if it is gone."""
    base = f"{proc_root}/{pid}"
    status = _read(f"{base}/status")
    if status is None:
        return None
    name, ppid, uid = "", 0, -1
    for line in status.decode("utf-8", "backslashreplace").splitlines():
        key, _, val = line.partition(":")
        if key == "Name":
            name = val.strip()
        elif key == "PPid":
            ppid = int(val)
        elif key == "Uid":
            uid = int(val.split()[0])
            break
    cmdline = _read(f"{base}/cmdline") or b""
    argv = [a.decode("utf-8", "backslashreplace") for a in cmdline.split(b"\0")[:-1]]
    try:
        exe = os.readlink(f"{base}/exe")
    except OSError:
        exe = ""
    return ProcInfo(pid=pid, ppid=ppid, name=name, exe=exe, argv=argv, uid=uid)


def list_pids(proc_root: str = PROC_ROOT) -> list[int]:
    """Every process id under ``proc_root``."""
    try:
        return [int(n) for n in os.listdir(proc_root) if n.isdigit()]
    except OSError:
        return []


def fd_target(pid: int, fd: int, proc_root: str = PROC_ROOT) -> str | None:
    """What ``/proc/PID/fd/FD`` points to (``/etc/passwd``, ``socket:[123]``)."""
    try:
        return os.readlink(f"{proc_root}/{pid}/fd/{fd}")
    except OSError:
        return None


def list_fds(pid: int, proc_root: str = PROC_ROOT) -> dict[int, str]:
    """Every open fd of ``pid`` with its target; {} if the process is gone."""
    base = f"{proc_root}/{pid}/fd"
    out: dict[int, str] = {}
    try:
        names = os.listdir(base)
    except OSError:
        return out
    for n in names:
        try:
            out[int(n)] = os.readlink(f"{base}/{n}")
        except (OSError, ValueError):
            continue
    return out


def cwd(pid: int, proc_root: str = PROC_ROOT) -> str | None:
    try:
        return os.readlink(f"{proc_root}/{pid}/cwd")
    except OSError:
        return None


def is_dir(path: str) -> bool:
    try:
        return stat.S_ISDIR(os.stat(path).st_mode)
    except OSError:
        return False


def _hex_addr(text: str) -> tuple[str, int]:
    """``0100007F:1F90`` (tcp) or the 32-hex-digit IPv6 form → ('127.0.0.1', 8080)."""
    import ipaddress

    addr, port = text.split(":")
    raw = bytes.fromhex(addr)
    if len(raw) == 4:
        ip = str(ipaddress.IPv4Address(raw[::-1]))
    else:
        # /proc prints each 32-bit word in host (little-endian) order
        words = b"".join(raw[i : i + 4][::-1] for i in range(0, 16, 4))
        v6 = ipaddress.IPv6Address(words)
        ip = str(v6.ipv4_mapped) if v6.ipv4_mapped else str(v6)
    return ip, int(port, 16)


def socket_tuple(pid: int, inode: int, proc_root: str = PROC_ROOT
                 ) -> tuple[str, str, int, str, int] | None:
    """(l4proto, local ip, local port, remote ip, remote port) of a socket inode,
    from the process's own network namespace tables; None if not an inet socket."""
    for proto in ("tcp", "udp", "tcp6", "udp6"):
        data = _read(f"{proc_root}/{pid}/net/{proto}")
        if not data:
            continue
        needle = f" {inode} ".encode()
        for line in data.splitlines()[1:]:
            if needle not in line:
                continue
            parts = line.split()
            if len(parts) < 10 or parts[9] != str(inode).encode():
                continue
            lip, lport = _hex_addr(parts[1].decode())
            rip, rport = _hex_addr(parts[2].decode())
            return proto.rstrip("6"), lip, lport, rip, rport
    return None


class ProcFS:
    """The questions ``collector.state`` asks /proc, bound to one proc root.

    A seam, not an abstraction for its own sake: a capture writer wraps it to
    record every answer the live state got (``collector.capture``), and replay
    answers from that record, so a capture read on another machine names
    processes and fds exactly as the live trace did, without reading this
    machine's /proc.
    """

    def __init__(self, root: str = PROC_ROOT) -> None:
        self.root = root

    def list_pids(self) -> list[int]:
        return list_pids(self.root)

    def read_proc(self, pid: int) -> ProcInfo | None:
        return read_proc(pid, self.root)

    def fd_target(self, pid: int, fd: int) -> str | None:
        return fd_target(pid, fd, self.root)

    def cwd(self, pid: int) -> str | None:
        return cwd(pid, self.root)

    def is_dir(self, path: str) -> bool:
        return is_dir(path)

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        return socket_tuple(pid, inode, self.root)
