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
    # What sysdig's thread table holds and the kernel record does not (read once,
    # at the process's first sighting; None when /proc did not say).
    gid: int | None = None
    vpid: int | None = None  # the pid in its own pid namespace (NSpid's last)
    vpgid: int | None = None
    sid: int | None = None
    pgid: int | None = None
    tty: int | None = None  # tty_nr of /proc/PID/stat (0: none)
    loginuid: int | None = None  # the audit uid (4294967295: unset)
    nthreads: int | None = None
    start_ns: int | None = None  # epoch ns of the process start (stat starttime + btime)
    fdlimit: int | None = None  # the soft RLIMIT_NOFILE
    vmsize: int | None = None  # kB
    vmrss: int | None = None
    vmswap: int | None = None
    pfmajor: int | None = None
    pfminor: int | None = None
    cwd: str | None = None
    env: list[str] | None = None
    cgroups: str | None = None  # "subsys=path ..." as sysdig's thread.cgroups
    nfds: int | None = None  # open fds
    exe_writable: bool | None = None  # the executable is writable by the process's uid

    def extras(self) -> dict[str, object]:
        """The optional part, for a capture's /proc journal."""
        return {k: getattr(self, k) for k in _EXTRAS if getattr(self, k) is not None}


_EXTRAS = ("gid", "vpid", "vpgid", "sid", "pgid", "tty", "loginuid", "nthreads", "start_ns",
           "fdlimit", "vmsize", "vmrss", "vmswap", "pfmajor", "pfminor", "cwd", "env",
           "cgroups", "nfds", "exe_writable")
MAX_ENV = 4096  # bytes of /proc/PID/environ kept (proc.env)
_CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
_BOOT_NS: dict[str, int | None] = {}


def _boot_ns(proc_root: str) -> int | None:
    """The boot time (epoch ns) from ``btime`` of /proc/stat, cached per root."""
    if proc_root not in _BOOT_NS:
        data = _read(f"{proc_root}/stat") or b""
        btime = next((int(ln.split()[1]) for ln in data.splitlines()
                      if ln.startswith(b"btime ")), None)
        _BOOT_NS[proc_root] = None if btime is None else btime * 1_000_000_000
    return _BOOT_NS[proc_root]


def _last_int(val: str) -> int | None:
    parts = val.split()
    return int(parts[-1]) if parts and parts[-1].lstrip("-").isdigit() else None


def _kb(val: str) -> int | None:
    parts = val.split()
    return int(parts[0]) if parts and parts[0].isdigit() else None


def _read_extras(info: ProcInfo, base: str, status: dict[str, str], proc_root: str) -> None:
    gids = status.get("Gid", "").split()
    info.gid = int(gids[0]) if gids else None
    info.vpid = _last_int(status.get("NSpid", ""))
    info.vpgid = _last_int(status.get("NSpgid", ""))
    info.nthreads = _last_int(status.get("Threads", ""))
    info.vmsize = _kb(status.get("VmSize", ""))
    info.vmrss = _kb(status.get("VmRSS", ""))
    info.vmswap = _kb(status.get("VmSwap", ""))
    stat = _read(f"{base}/stat")
    if stat:
        # the name (field 2) may hold spaces and ')': the rest follows its last ')'
        rest = stat[stat.rfind(b")") + 2:].split()
        if len(rest) >= 20:
            info.pgid, info.sid, info.tty = int(rest[2]), int(rest[3]), int(rest[4])
            info.pfminor, info.pfmajor = int(rest[7]), int(rest[9])
            boot = _boot_ns(proc_root)
            if boot is not None:
                info.start_ns = boot + int(rest[19]) * 1_000_000_000 // _CLK_TCK
    loginuid = _read(f"{base}/loginuid")
    if loginuid and loginuid.strip().isdigit():
        info.loginuid = int(loginuid)
    env = _read(f"{base}/environ")
    if env is not None:  # bounded: every process keeps it, and captures record it
        info.env = [a.decode("utf-8", "backslashreplace")
                    for a in env[:MAX_ENV].split(b"\0") if a]
    info.cwd = cwd(info.pid, proc_root)
    cg = _read(f"{base}/cgroup")
    if cg:
        items = []
        for line in cg.decode("utf-8", "backslashreplace").splitlines():
            _, subsys, path = (line.split(":", 2) + ["", ""])[:3]
            for name in (subsys.split(",") if subsys else ["unified"]):
                items.append(f"{name.removeprefix('name=')}={path}")
        info.cgroups = " ".join(items)
    try:
        info.nfds = len(os.listdir(f"{base}/fd"))
    except OSError:
        pass
    try:
        st = os.stat(f"{base}/exe")
        gid = info.gid if info.gid is not None else -1
        info.exe_writable = bool(info.uid == 0 or st.st_mode & 0o002
                                 or (st.st_uid == info.uid and st.st_mode & 0o200)
                                 or (st.st_gid == gid and st.st_mode & 0o020))
    except OSError:
        pass
    limits = _read(f"{base}/limits")
    for ln in (limits or b"").splitlines():
        if ln.startswith(b"Max open files"):
            soft = ln.split()[3]
            info.fdlimit = int(soft) if soft.isdigit() else -1


def _read(path: str) -> bytes | None:
    # os.open/os.read: a buffered file object costs more than the read of a small
    # /proc file (~half the time of a first sighting's ten reads)
    try:
        fd = os.open(path, os.O_RDONLY | os.O_CLOEXEC)
    except OSError:  # ENOENT/ESRCH: gone; EACCES: not ours to read
        return None
    try:
        chunks = []
        while True:
            b = os.read(fd, 65536)
            chunks.append(b)
            if len(b) < 65536:  # /proc's files fill a read up to their end
                return b"".join(chunks)
    except OSError:
        return None
    finally:
        os.close(fd)


def read_proc(pid: int, proc_root: str = PROC_ROOT) -> ProcInfo | None:
    """Name, parent, exe, argv and real uid of ``pid``; None if it is gone."""
    base = f"{proc_root}/{pid}"
    status = _read(f"{base}/status")
    if status is None:
        return None
    fields: dict[str, str] = {}
    for line in status.decode("utf-8", "backslashreplace").splitlines():
        key, _, val = line.partition(":")
        fields[key] = val
    name = fields.get("Name", "").strip()
    ppid = int(fields.get("PPid", "0") or 0)
    uids = fields.get("Uid", "").split()
    uid = int(uids[0]) if uids else -1
    cmdline = _read(f"{base}/cmdline") or b""
    argv = [a.decode("utf-8", "backslashreplace") for a in cmdline.split(b"\0")[:-1]]
    try:
        exe = os.readlink(f"{base}/exe")
    except OSError:
        exe = ""
    info = ProcInfo(pid=pid, ppid=ppid, name=name, exe=exe, argv=argv, uid=uid)
    _read_extras(info, base, fields, proc_root)
    return info


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


# Connected inet sockets by (proc root, inode): their ends never change. Reading
# /proc/PID/net/tcp costs ~9 ms here whatever the number of sockets (the kernel walks
# every bucket of a large TCP hash), and a batch may hold many connects: the first
# lookup reads the tables once, the next ones of that batch find their socket in
# this cache. Unconnected and listening sockets are read every time.
_CONNECTED: dict[tuple[str, int], tuple[str, str, int, str, int]] = {}
_CONNECTED_MAX = 1 << 16


def socket_tuple(pid: int, inode: int, proc_root: str = PROC_ROOT
                 ) -> tuple[str, str, int, str, int] | None:
    """(l4proto, local ip, local port, remote ip, remote port) of a socket inode,
    from the process's own network namespace tables; None if not an inet socket."""
    hit = _CONNECTED.get((proc_root, inode))
    if hit is not None:
        return hit
    found = None
    want = str(inode).encode()
    for proto in ("tcp", "udp", "tcp6", "udp6"):
        data = _read(f"{proc_root}/{pid}/net/{proto}")
        if not data:
            continue
        for line in data.splitlines()[1:]:
            parts = line.split()
            if len(parts) < 10 or not parts[9].isdigit():
                continue
            lip, lport = _hex_addr(parts[1].decode())
            rip, rport = _hex_addr(parts[2].decode())
            t = (proto.rstrip("6"), lip, lport, rip, rport)
            if parts[9] == want:
                found = t
            if lport and rport:
                if len(_CONNECTED) >= _CONNECTED_MAX:
                    _CONNECTED.clear()
                _CONNECTED[proc_root, int(parts[9])] = t
        if found is not None:
            return found
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
