""".scap writer: what cdig sees, as a file sysdig 0.29.3 and current libs read.

``ScapWriter(path_or_file)`` then ``write(raw, state)`` per RawBatch (after the
pipeline has applied the batch to ``state``) and ``close()``. The first write
puts the state blocks first, as ``scap_setup_dump`` does: a 28-byte section
header, machine info, the process list (v9, 0.29 layout) with each process's
cgroups, one fd list (v2) per process, and one ``CONTAINER_JSON_2_E`` per
container (FORMAT.md §1.8). Then each record becomes what sysdig expects:

* a completed syscall: its enter event (arguments) and its exit event (result,
  and the parameters the exit carries), at ``ts - latency`` and ``ts``;
* an enter-only record: the enter event alone (execve's filename, exit_group);
* a completed execve: its exit with the 20 parameters sysdig takes the new
  process image from (exe, args, comm, cgroups …); the EXEC record itself has
  no event of its own;
* a FORK record: the child's clone exit (res=0, the child's thread info), in
  an EVF block with flags 0 — cdig's reader takes such a block for the FORK
  record alone, sysdig shows it as the child's ``clone <``;
* a thread first seen after the process list was written: a state-only
  (``SCAP_DF_STATE_ONLY``) child clone exit before its first event, so sysdig
  names it; neither reader shows it;
* an EXIT record: ``procexit``.

Containers are written as sysdig's docker engine recognises them: the cgroups
of a process are ``/docker/<64 hex>`` (the container's id, or a SHA-256 of it
when it is not 64 hex, e.g. a runc name), and the JSON names that id with the
container's name, image and labels, ``type`` 0 (0.29.3 prints no type for
podman). cdig's own id, runtime and cgroup path ride along in ``cdig_*`` keys
that sysdig ignores and cdig's reader prefers, so a round trip keeps them.

Writing to a pipe (``-``) flushes after every batch: ``cdig trace -w - |
sysdig -r -`` sees events as they come.
"""

from __future__ import annotations

import copy
import gzip
import hashlib
import ipaddress
import json
import os
import struct
import sys
import time
from collections.abc import Callable, Collection
from typing import Any, BinaryIO

import numpy as np

from ...probes.syscall_table import SyscallSpec, SyscallTable, table
from ...probes.syscalls import layout
from ..capture.writer import Rotation
from ..decode import RawBatch, io_data
from ..events import HOST, Container, FdInfo, Process
from ..state import State
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


# --------------------------------------------------------------------------- the writer


class _Proc:
    """What the writer has told sysdig about a process (the clone/execve parameters)."""

    __slots__ = ("name", "exe", "args", "cwd", "ppid", "uid", "container")

    def __init__(self, name: str, exe: str, args: list[str], cwd: str, ppid: int, uid: int,
                 container: Container) -> None:
        self.name, self.exe, self.args, self.cwd = name, exe, args, cwd
        self.ppid, self.uid, self.container = ppid, uid, container

    @classmethod
    def of(cls, p: Process) -> _Proc:
        return cls(p.name, p.exe, list(p.args), p.cwd, p.ppid, max(p.uid, 0), p.container)

    def copy(self) -> _Proc:
        return _Proc(self.name, self.exe, list(self.args), self.cwd, self.ppid, self.uid,
                     self.container)


class ScapWriter:
    """Writes RawBatches (with the State the pipeline keeps) as a .scap stream.

    ``out``: a path (created mode 0600; ``-`` is stdout) or a binary file object.
    ``container_of(cgroup_id, pid)`` names a record's container (default: the
    State's own lookup); ``mono_to_wall_ns`` turns the probe's monotonic
    timestamps into the wall clock .scap files use; ``compress`` gzips the file
    (as ``sysdig -z``).
    """

    def __init__(self, out: str | BinaryIO, syscalls: SyscallTable | None = None,
                 mono_to_wall_ns: int = 0, container_of: Callable[[int, int], Container] | None
                 = None, hostname: str | None = None, ncpus: int | None = None,
                 compress: bool = False, rotation: Rotation | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = out if isinstance(out, str) else getattr(out, "name", "<stream>")
        self._own = isinstance(out, str)
        self.pipe = out == "-"
        self.compress = compress
        self.rotation = rotation if rotation is not None and rotation.active else None
        if self.rotation is not None and (self.pipe or not isinstance(out, str)):
            raise ValueError("rotation needs a file name")
        self.clock = clock
        self.files: list[str] = []  # every file created, in order (rotation)
        self._identity: dict[str, os.stat_result] = {}
        self._opened_at = 0.0
        if out == "-":
            f: BinaryIO = sys.stdout.buffer
            self._own = False
        elif isinstance(out, str):
            f = self._create(self._name(0, clock()))
        else:
            f = out
        self._set_file(f)
        self.syscalls = syscalls or table()
        self.offset = mono_to_wall_ns
        self.container_of = container_of
        self.hostname = hostname if hostname is not None else os.uname().nodename
        self.ncpus = ncpus if ncpus is not None else (os.cpu_count() or 1)
        self.pairs = E.event_pairs()
        self._exec_nrs = {n for n in (self.syscalls.nr("execve"), self.syscalls.nr("execveat"))
                          if n is not None}
        self.started = False
        self.closed = False
        self.events = 0  # scap events written
        self.bytes_written = 0
        self.records = 0
        self._threads: set[int] = set()  # tids sysdig knows (PL, clone exits)
        self._containers: dict[int, Container] = {}  # id(container) -> written
        self._argv: dict[int, list[bytes]] = {}  # tid -> argv of its pending execve
        # tid -> syscall whose enter event an enter record wrote (trace --enter): its
        # completed record then writes the exit only
        self._entered: dict[int, int] = {}
        self._out: list[bytes] = []
        self._pid_of: dict[int, int] = {}  # tid -> pid, from the batch being written
        self._procs: dict[int, _Proc] = {}  # pid -> what sysdig was told about it
        self._evf: int | None = None  # EVF flags of the record being written
        self._fds: dict[int, set[int]] = {}  # pid -> fds sysdig knows (fd list, results)
        self._comm: dict[int, bytes] = {}  # tid -> the name sysdig knows it by
        # the source's count of events it lost (ring full …), e.g. ``source.drops``:
        # read before each batch and at close, and marked in the file (``_mark_drops``)
        self.drop_counter: Callable[[], int] | None = None
        self.dropped = 0  # the count the file carries so far
        self._last_ts = 0

    # -- helpers --------------------------------------------------------------------
    def _emit(self, data: bytes) -> None:
        self._out.append(data)

    def _event(self, etype: int, ts: int, tid: int, cpu: int, values: list[bytes],
               evf_flags: int | None = None) -> None:
        """One event block: block header, cpu (and EVF flags), event header, length
        slots and values, padding, trailer (the layout of ``block(encode_event(…))``,
        packed with one cached Struct per shape: this runs twice per record)."""
        if evf_flags is None:
            evf_flags = self._evf
        large = E.INFO[etype].large
        n = len(values)
        evf = evf_flags is not None
        hdr = _HEADS.get((n, large, evf))
        if hdr is None:
            hdr = _HEADS[n, large, evf] = struct.Struct(
                f"<IIH{'I' if evf else ''}QQIHI{n}{'I' if large else 'H'}")
        lens = [len(v) for v in values]
        size = sum(lens)
        ev_len = 26 + n * (4 if large else 2) + size
        body = 2 + (4 if evf else 0) + ev_len
        pad = (-body) & 3
        total = 12 + body + pad
        if evf:
            head = hdr.pack(B.EVF_V2_LARGE if large else B.EVF_V2, total, cpu, evf_flags,
                            ts & _MASK64, tid & _MASK64, ev_len, etype, n, *lens)
        else:
            head = hdr.pack(B.EV_V2_LARGE if large else B.EV_V2, total, cpu, ts & _MASK64,
                            tid & _MASK64, ev_len, etype, n, *lens)
        self._out.append(b"".join((head, *values, _PADS[pad], _U32.pack(total))))
        self.events += 1

    def _container(self, state: State, cg: int, pid: int) -> Container:
        p = state.procs.get(pid)
        if p is not None and p.cgroup_id == cg:
            return p.container
        if self.container_of is not None:
            return self.container_of(cg, pid)
        return state.container_of(cg, pid)

    def _note_container(self, c: Container, ts: int) -> None:
        if c.is_host or id(c) in self._containers:
            return
        self._containers[id(c)] = c
        self._event(E.CONTAINER_JSON_2_E, ts, -1, 0, [encode_param("s", container_json(c))])

    # -- the header -----------------------------------------------------------------
    def prime(self, state: State) -> None:
        """Take the process and fd tables the next file starts with from ``state`` as
        it is now. A batch sink calls this before the first batch (then with the
        State after each batch, at a rotation): the State it is handed with a batch
        is the one *after* it, whose fd table no longer holds an fd the batch closed
        (measured: an fd closed early and reused later was written under the later
        name, and a file begun by a rotation lacked the fd the batch still wrote to)."""
        self._primed = ({p.pid: _Proc.of(p) for p in state.procs.values()},
                        {pid: {fd: copy.copy(i) for fd, i in t.items()}
                         for pid, t in state.fds.items()})

    _primed: tuple[dict[int, _Proc], dict[int, dict[int, FdInfo]]] | None = None
    _state: State | None = None  # the State and pid of the record being written
    _pid = 0
    _rotate_next = False

    def _start(self, raw: RawBatch, state: State) -> None:
        self.started = True
        self._emit(shb())
        self._emit(machine_info(self.hostname, self.ncpus))
        self._file_records = 0
        entries: list[bytes] = []
        procs = {p.pid: _Proc.of(p) for p in state.procs.values()}
        fd_tables = state.fds
        if self._primed is not None:  # the tables before the batch, and the processes
            primed, fd_tables = self._primed  # the batch made known (seen first there)
            self._primed = None
            procs = {**procs, **primed}
        self._procs.update(procs)
        for pid, wp in self._procs.items():
            entries.append(self._pl_entry(pid, pid, wp))
            self._threads.add(pid)
            self._comm[pid] = wp.name.encode()[:layout.COMM_LEN]
        # threads of the first batch, so that sysdig names them from the start
        base = np.concatenate([raw.events, raw.ext["ev"]]) if len(raw.ext) else raw.events
        for pid, tid in set(zip(base["pid"].tolist(), base["tid"].tolist(), strict=True)):
            if tid not in self._threads and pid in self._procs:
                entries.append(self._pl_entry(tid, pid, self._procs[pid]))
                self._threads.add(tid)
                self._comm[tid] = self._procs[pid].name.encode()[:layout.COMM_LEN]
        self._emit(block(B.PL_V9, b"".join(entries)))
        for pid, fds in fd_tables.items():
            self._fds[pid] = set(fds)
            if pid in self._threads and fds:
                self._emit(block(B.FDL_V2, struct.pack("<Q", pid)
                                 + b"".join(fd_entry(i) for i in fds.values())))
        ts0 = int(base["ts_ns"].min()) + self.offset if len(base) else 0
        for wp in self._procs.values():
            self._note_container(wp.container, ts0)

    # -- files and rotation ---------------------------------------------------------
    def _set_file(self, f: BinaryIO) -> None:
        self.raw_file = f
        self.f: BinaryIO = gzip.GzipFile(fileobj=f, mode="wb", compresslevel=5) \
            if self.compress else f  # type: ignore[assignment]
        self._opened_at = self.clock()
        self._file_bytes = 0
        self._file_records = 0

    def _name(self, index: int, now: float) -> str:
        """The file names of a cdig capture's rotation, which are sysdig's: FILE0, FILE1 …
        for -C; FILE.YYYYmmdd-HHMMSS (or FILE as a strftime pattern) for -G."""
        base, r = str(self.path), self.rotation
        if r is None:
            return base
        if r.period_s is not None:
            name = time.strftime(base, time.localtime(now)) if "%" in base else \
                base + time.strftime(".%Y%m%d-%H%M%S", time.localtime(now))
            if name in self.files or os.path.lexists(name) and index:
                name = f"{name}.{index}"
            return name
        return f"{base}{index}"

    def _create(self, name: str) -> BinaryIO:
        from ..safe_open import create_private

        f, st = create_private(name)
        self._identity[name] = st
        self.files.append(name)
        if self.rotation is not None and self.rotation.keep is not None:
            from ..safe_open import same_file

            # only files this writer created and that are still there
            live = [p for p in self.files if p in self._identity and
                    same_file(self._identity[p], p)]
            for old in live[:max(0, len(live) - self.rotation.keep)]:
                del self._identity[old]
                try:
                    os.unlink(old)
                except OSError:
                    pass
        return f

    def _due(self) -> bool:
        r = self.rotation
        if r is None or not self.started or not self._file_records:
            return False
        size = self.raw_file.tell() if self.compress else self._file_bytes  # as on disk
        if r.size_bytes is not None and size >= r.size_bytes:
            return True
        return r.period_s is not None and self.clock() - self._opened_at >= r.period_s

    def _rotate(self) -> None:
        """Close the file and start the next one, which begins with its own header
        (process list, fd lists, container events from the State as it is now), so
        that sysdig reads every file of the set alone."""
        self._mark_drops(self._last_ts)
        self.flush()
        if self.f is not self.raw_file:
            self.f.close()
        self.raw_file.close()
        self._set_file(self._create(self._name(len(self.files), self.clock())))
        self.started = False
        self._threads = set()
        self._containers = {}
        self._procs = {}
        self._fds = {}
        self._comm = {}

    def _pl_entry(self, tid: int, pid: int, p: _Proc) -> bytes:
        return proclist_entry(tid, pid, p.ppid, p.name, p.exe, list(p.args), p.cwd, p.uid, 0,
                              cgroups_param(p.container))

    def _proc(self, pid: int, comm: bytes, uid: int, c: Container) -> _Proc:
        wp = self._procs.get(pid)
        if wp is None:
            wp = self._procs[pid] = _Proc(comm.rstrip(b"\0").decode("utf-8", "replace"), "",
                                          [], "", 0, uid, c)
        return wp

    # -- records --------------------------------------------------------------------
    def write(self, raw: RawBatch, state: State, hidden: Collection[int] | None = None,
              after: bool = False) -> None:
        """Append a batch; ``state`` is the pipeline's State as it was *before* this batch
        (a tee of the source), so the process list written first holds the names
        processes had before the batch's execs — or, with ``after``, the State after it
        (a batch sink, which calls :meth:`prime` for the first file before its first batch).
        Records whose ``num`` is in ``hidden`` (kept for state only) are written
        state-only: sysdig applies them and does not show them. A file is rotated when
        the next batch comes (a file always has events: sysdig refuses one without,
        "no events in file"); one due at a batch's end starts with the tables as they
        were then. (Only a -G period that ends between two batches of a batch sink
        starts its file from the State after the batch that comes.)"""
        if self._rotate_next or self._due():
            self._rotate_next = False
            self._rotate()
        if not self.started:
            self._start(raw, state)
        ev, ext = raw.events, raw.ext
        if self.drop_counter is not None:
            first = np.concatenate([ev["ts_ns"][:1], ext["ev"]["ts_ns"][:1]]) if len(ext) \
                else ev["ts_ns"][:1]
            self._mark_drops(int(first.min()) + self.offset if len(first) else self._last_ts)
        n_small = len(ev)
        base = np.concatenate([ev, ext["ev"]]) if len(ext) else ev
        if len(base):
            order = raw.order if raw.order is not None else \
                np.argsort(base["ts_ns"], kind="stable")
            cols = [base[name][order].tolist() for name in
                    ("ts_ns", "latency_ns", "cgroup_id", "ret", "pid", "tid", "uid", "gid", "nr",
                     "kind", "flags", "cpu")]
            args_l = base["args"][order].tolist()
            comm_l = base["comm"][order].tolist()
            src_l = order.tolist()
            if len(ext):
                l1, l2 = ext["len1"].tolist(), ext["len2"].tolist()
                argc = ext["argc"].tolist()
            ctx = getattr(raw, "ctx", None)  # a capture's records kept for state only
            if ctx is not None and len(ctx) == len(base):
                hidden_rows: list[bool] | None = ctx.tolist()
            elif hidden and raw.num is not None:
                hidden_rows = [n in hidden for n in raw.num.tolist()]  # in decoding order
            else:
                hidden_rows = None
            self._pid_of = dict(zip(reversed(cols[5]), reversed(cols[4]), strict=True))
            for i, (ts, lat, cg, ret, pid, tid, uid, gid, nr, kind, flags, cpu) in \
                    enumerate(zip(*cols, strict=True)):
                x = src_l[i] - n_small
                s1 = s2 = buf = None
                ac = 0
                if x >= 0:
                    if flags & layout.FLAG_IO_DATA:  # sysdig's data parameter
                        buf = io_data(ext[x])
                    else:
                        s1 = bytes(ext["str1"][x])[:max(l1[x], 0)]
                    s2 = bytes(ext["str2"][x])[:max(l2[x], 0)]
                    ac = argc[x]
                self._evf = B.STATE_ONLY if hidden_rows is not None and hidden_rows[i] else None
                self._record(state, ts + self.offset, lat, cg, _s64(ret), pid, tid, uid, gid,
                             nr, kind, flags, cpu, comm_l[i], args_l[i], s1, s2, ac, buf)
                self.records += 1
            self._file_records += len(cols[0])
            self._last_ts = max(self._last_ts, max(cols[0]) + self.offset)
        self._evf = None
        self.flush()
        self._rotate_next = self._due()
        if self._rotate_next and after:  # the next file's tables: as of this batch's end
            self.prime(state)

    def _mark_drops(self, ts: int) -> None:
        """Events the source lost since the last mark, marked as sysdig's drivers mark
        where they dropped events: a DROP_E/DROP_X pair (``ratio`` 1: nothing sampled,
        tid -1: no thread). The number lost rides in a second parameter of DROP_E,
        which sysdig 0.29.3 ignores (it reads as many parameters as its table has);
        cdig's reader adds them up. sysdig counts the pair as two ``drop`` events
        (``evt.num``, ``-c topscalls``) and shows neither."""
        total = int(self.drop_counter()) if self.drop_counter is not None else 0
        new = total - self.dropped
        if new <= 0:
            return
        self.dropped = total
        self._event(E.DROP_E, ts, -1, 0, [_U32.pack(1), struct.pack("<Q", new)], None)
        self._event(E.DROP_X, ts, -1, 0, [_U32.pack(1)], None)

    def tee(self, source: Any, state: State) -> ScapTee:
        """``source`` with every batch written here before it is handed on: the one-line
        way to add this writer to a session (``Session(writer.tee(src, state), …)``)."""
        return ScapTee(self, source, state)

    def flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self.f.write(data)
            self.bytes_written += len(data)
            self._file_bytes += len(data)
        self.f.flush()
        if self.f is not self.raw_file:
            self.raw_file.flush()

    def _intro_thread(self, wp: _Proc, tid: int, pid: int, ts: int, cpu: int,
                      comm: bytes) -> None:
        """A thread sysdig has not seen: a state-only clone exit that describes it (with
        the thread's own name: threads rename themselves)."""
        self._threads.add(tid)
        self._comm[tid] = comm.rstrip(b"\0")
        info = wp.copy()
        info.name = comm.rstrip(b"\0").decode("utf-8", "replace")
        self._clone_child(info, tid, pid, wp.ppid if tid == pid else pid, ts, cpu,
                          B.STATE_ONLY)

    def _clone_child(self, p: _Proc, tid: int, pid: int, ptid: int, ts: int, cpu: int,
                     evf_flags: int) -> None:
        vals = {"res": 0, "exe": p.exe.encode(), "args": b"\0".join(a.encode() for a in p.args),
                "tid": tid, "pid": pid, "ptid": ptid, "cwd": p.cwd.encode(), "fdlimit": 1024,
                "comm": p.name.encode(), "cgroups": cgroups_param(p.container),
                "flags": E.PPM_CL_CLONE_THREAD if tid != pid else 0,
                "uid": p.uid, "gid": 0, "vtid": tid, "vpid": pid}
        self._note_container(p.container, ts)
        self._event(223, ts, tid, cpu, self._values(223, vals), evf_flags)

    def _known_fds(self, state: State, spec: SyscallSpec, pid: int, tid: int,
                   args: list[int], ts: int, cpu: int) -> None:
        """Fds a record uses that sysdig was never told about (opened before the capture,
        pipes, fds cdig named from /proc): what /proc says about them, for cdig's reader
        (a CDIG_FD_EVENT) and for sysdig (a state-only open exit with the fd's name)."""
        known = self._fds.setdefault(pid, set())
        for a in spec.args:
            if a.kind != "fd":
                continue
            fd = args[a.index] & 0xFFFFFFFF
            if fd & 0x80000000 or fd in known:
                continue
            target = state.procfs.fd_target(pid, fd)
            if target is None:  # cdig's State cannot name it either (yet)
                continue
            known.add(fd)
            from ..state import fd_from_target

            info = fd_from_target(pid, fd, target, state.procfs)
            answer: dict[str, Any] = {"pid": pid, "fd": fd, "target": target}
            if target.startswith("/"):
                answer["dir"] = info.type == "directory"
            elif target.startswith("socket:[") and target[8:-1].isdigit():
                t = state.procfs.socket_tuple(pid, int(target[8:-1]))
                answer["sock"] = list(t) if t else None
            self._event_raw(CDIG_FD_EVENT, ts, tid, cpu,
                            [json.dumps(answer, separators=(",", ":")).encode()])
            self._intro_for_sysdig(info, fd, ts, tid, cpu)

    def _intro_for_sysdig(self, info: FdInfo, fd: int, ts: int, tid: int, cpu: int) -> None:
        """State-only events after which sysdig names ``fd`` as cdig does: an open exit for
        a path, socket + connect/accept/bind exits for an inet socket."""
        flags = B.STATE_ONLY | FD_INTRO

        def ev(etype: int, **vals: Any) -> None:
            self._event(etype, ts, tid, cpu, self._values(etype, vals), flags)

        if info.type in ("file", "directory", "memfd") and info.name.startswith("/"):
            oflags = E.open_flags_to_ppm(0o200000 if info.type == "directory" else 0)
            ev(3, fd=fd, name=info.name.encode(), flags=oflags, mode=0, dev=0)
            return
        if info.type not in ("ipv4", "ipv6") or not (info.sip or info.cip):
            return  # sysdig has no name for pipes and anonymous fds: cdig's reader does
        v6 = info.type == "ipv6"
        fam = 10 if v6 else 2
        ev(18, domain=fam, type=1 if info.l4proto != "udp" else 2, proto=0)
        ev(19, fd=fd)
        server = _sockaddr(info.sip, info.sport, v6)
        if not info.cip and not info.cport:  # a listening / bound server socket
            ev(20, fd=fd)
            ev(21, res=0, addr=E.sockaddr_from_linux(server))
            return
        client = _sockaddr(info.cip, info.cport, v6)
        tup = E.tuple_from_linux(client, server)
        if info.local_is_client:
            ev(22, fd=fd, addr=E.sockaddr_from_linux(server))
            ev(23, res=0, tuple=tup)
        else:  # an accepted connection: the new fd and its tuple
            ev(246)
            ev(247, fd=fd, tuple=tup, queuepct=0, queuelen=0, queuemax=0)

    def _event_raw(self, etype: int, ts: int, tid: int, cpu: int, values: list[bytes]) -> None:
        """An event of a type outside the table (u16 slots)."""
        lens = struct.pack(f"<{len(values)}H", *[len(v) for v in values])
        payload = lens + b"".join(values)
        ev = struct.pack("<QQIHI", ts, _u64(tid), 26 + len(payload), etype, len(values)) + payload
        self._emit(block(B.EV_V2, struct.pack("<H", cpu) + ev))

    def _values(self, etype: int, vals: dict[str, Any]) -> list[bytes]:
        return [encode_param(pt, vals.get(name)) for name, pt in E.INFO[etype].params]

    def _record(self, state: State, ts: int, lat: int, cg: int, ret: int, pid: int, tid: int,
                uid: int, gid: int, nr: int, kind: int, flags: int, cpu: int, comm: bytes,
                args: list[int], s1: bytes | None, s2: bytes | None, argc: int,
                buf: bytes | None = None) -> None:
        c = self._container(state, cg, pid)
        self._note_container(c, ts)
        self._state, self._pid = state, pid  # the record's, for _local_end
        wp = self._proc(pid, comm, uid, c)
        if tid not in self._threads or (self._comm.get(tid) != comm.rstrip(b"\0") and
                                        kind in (layout.KIND_SYSCALL, layout.KIND_SYSCALL_ENTER)
                                        and nr not in self._exec_nrs):
            # new to sysdig, or renamed (prctl PR_SET_NAME): describe the thread again
            self._intro_thread(wp, tid, pid, ts - lat, cpu, comm)
        if kind == layout.KIND_FORK:
            child = args[0] & 0xFFFFFFFF
            self._threads.add(child)
            self._comm[child] = comm.rstrip(b"\0")
            cpid = self._pid_of.get(child, child)  # a thread of pid, or a new process
            info = wp
            if cpid == child:
                info = self._procs[child] = wp.copy()
                info.ppid = pid
                info.name = comm.rstrip(b"\0").decode("utf-8", "replace")
            self._clone_child(info, child, cpid, tid, ts, cpu, EVF_NOT_STATE)
            return
        if kind == layout.KIND_EXIT:
            self._event(E.PROCEXIT_E, ts, tid, cpu, self._values(E.PROCEXIT_E, {}))
            return
        if kind == layout.KIND_EXEC:
            return  # the completed execve's exit event carries the new image
        spec = self.syscalls.by_nr.get(nr)
        if spec is not None:
            self._known_fds(state, spec, pid, tid, args, ts - lat, cpu)
        if kind == layout.KIND_SYSCALL and spec is not None and ret >= 0:
            known = self._fds.setdefault(pid, set())
            name = spec.name
            if name in _NEW_FD:
                known.add(ret)
            elif name in _DUP_FD or name == "fcntl" and args[1] & 0xFFFFFFFF in (0, 1030):
                if args[0] & 0xFFFFFFFF in known:
                    known.add(ret)
                else:
                    known.discard(ret)
            elif name == "close":
                known.discard(args[0] & 0xFFFFFFFF)
        if kind == layout.KIND_SYSCALL_ENTER:
            if spec is not None and spec.name in ("execve", "execveat") and s2 is not None:
                self._argv[tid] = s2.split(b"\0")[:argc] if argc else []
            elif spec is None or not spec.enter:
                self._entered[tid] = nr
            self._enter(spec, nr, ts, tid, cpu, args, s1, s2, flags)
            return
        self._completed(state, spec, nr, ts, lat, ret, pid, tid, cpu, comm, args, s1, s2, flags,
                        c, buf)

    def _enter(self, spec: SyscallSpec | None, nr: int, ts: int, tid: int, cpu: int,
               args: list[int], s1: bytes | None, s2: bytes | None, flags: int) -> None:
        pair = self.pairs.get(spec.name) if spec is not None else None
        if pair is None:
            sc = E.PPM_SC_ID.get(spec.name, 0) if spec is not None else 0
            self._event(E.GENERIC_E, ts, tid, cpu, [struct.pack("<H", sc),
                                                     struct.pack("<H", nr & 0xFFFF)])
            return
        assert spec is not None
        vals = self._arg_values(spec, args, s1, s2, flags, enter=True)
        self._event(pair[0], ts, tid, cpu, self._values(pair[0], vals))

    def _arg_values(self, spec: SyscallSpec, args: list[int], s1: bytes | None,
                    s2: bytes | None, flags: int, enter: bool) -> dict[str, Any]:
        vals: dict[str, Any] = {}
        paths = iter((s1, s2))
        for a in spec.args:
            k = a.kind
            if k in ("addr", "addrp", "argv"):
                continue
            if k == "path":
                v: Any = next(paths) or b""
                v = v.split(b"\0", 1)[0]
            else:
                v = args[a.index]
                codec = E.ARG_CODECS.get((spec.name, a.name))
                if codec is not None:
                    v = codec[1](v)
                elif k in ("fd", "dirfd", "int", "signal"):  # ints: the low 32 bits, signed
                    v &= 0xFFFFFFFF
                    v = v - (1 << 32) if v & 0x80000000 else v
                elif k == "oflags":
                    v = E.open_flags_to_ppm(v)
                elif k == "cflags":
                    v = E.clone_flags_to_ppm(v)
            for name in (a.name, *E.PARAM_ALIAS.get(a.name, ())):
                vals.setdefault(name, v)
        # sockets: the kernel sockaddrs the probe copied
        name = spec.name
        remote = s2 or b""
        local = s1 if flags & layout.FLAG_LOCAL_ADDR and s1 else b""
        if not local and name in ("connect", "sendto", "sendmsg") and self._state is not None:
            local = self._local_end(args[0] & 0xFFFFFFFF, remote, name == "connect")
        if name == "connect":
            vals["addr"] = E.sockaddr_from_linux(remote)
            # a UDP or unix connect (and a TCP one whose port /proc has): the tuple,
            # the local end zero when unknown; without it sysdig names no fd
            vals["tuple"] = E.tuple_from_linux(local, remote)
        elif name == "bind":
            vals["addr"] = E.sockaddr_from_linux(remote)
        elif name in ("accept", "accept4", "recvfrom", "recvmsg"):
            # the peer, then this end (a listener's or the receiving socket's address; an
            # all-zero one of the peer's family when unknown: a tuple without a
            # destination family is NULL to sysdig, which then names no fd)
            vals["tuple"] = E.tuple_from_linux(remote, self._own_end(args[0] & 0xFFFFFFFF,
                                                                      remote)) \
                if remote and len(remote) >= 8 else b""
        elif name in ("sendto", "sendmsg"):
            vals["tuple"] = E.tuple_from_linux(local, remote) if remote else b""
        return vals

    def _own_end(self, fd: int, remote: bytes) -> bytes:
        """The address of socket ``fd`` itself as State knows it, as a kernel sockaddr of
        ``remote``'s family (zero address and port when unknown)."""
        v6 = remote[:2] == b"\x0a\0"
        st = self._state
        info = st.fds.get(self._pid, {}).get(fd) if st is not None else None
        ip, port = "", 0
        if info is not None and info.type in ("ipv4", "ipv6") and (info.type == "ipv6") == v6:
            ip, port = (info.cip, info.cport) if info.local_is_client else (info.sip, info.sport)
        return _sockaddr(ip or ("::" if v6 else "0.0.0.0"), port, v6)

    def _local_end(self, fd: int, remote: bytes, connected: bool) -> bytes:
        """The local end of inet socket ``fd`` of the record's process as a kernel
        sockaddr, from its /proc line (what State reads for the same record: a UDP
        socket's port, a TCP connect's that returned before SYN_SENT ended); b"" if
        unknown. A connected line must lead to ``remote``, an unconnected one (a UDP
        sendto/sendmsg to an address) has no remote end."""
        st, pid = self._state, self._pid
        if st is None or len(remote) < 8 or remote[:2] not in (b"\x02\0", b"\x0a\0"):
            return b""
        info = st.fds.get(pid, {}).get(fd)
        if info is not None and info.cport and not connected:  # named by an earlier call
            return _sockaddr(info.cip or ("::" if remote[0] == 10 else "0.0.0.0"), info.cport,
                             remote[0] == 10)
        t = st._socket_line(pid, fd)
        if t is None or not t[2]:
            return b""
        _, lip, lport, _, rport = t
        if connected != bool(rport) or connected and rport != int.from_bytes(remote[2:4], "big"):
            return b""
        v6 = ":" in lip
        if v6 != (remote[0] == 10):
            return b""
        return _sockaddr(lip, lport, v6)

    def _completed(self, state: State, spec: SyscallSpec | None, nr: int, ts: int, lat: int,
                   ret: int, pid: int, tid: int, cpu: int, comm: bytes, args: list[int],
                   s1: bytes | None, s2: bytes | None, flags: int, c: Container,
                   buf: bytes | None = None) -> None:
        t_enter = ts - lat
        name = spec.name if spec is not None else ""
        pair = self.pairs.get(name)
        entered = self._entered.pop(tid, None) == nr  # its enter event is written already
        if pair is None:
            sc = E.PPM_SC_ID.get(name, 0)
            ids = _GEN_E.pack(sc, nr & 0xFFFF)
            if not entered:
                self._event(E.GENERIC_E, t_enter, tid, cpu, [ids[:2], ids[2:]])
            # cdig extension: res and the six raw arguments after ID (0.29.3 reads only
            # the table's one parameter; cdig's reader reads them back)
            rest = _GEN_X.pack(_s64(ret), *(a & _MASK64 for a in args))
            self._event(E.GENERIC_X, ts, tid, cpu, [ids[:2], rest[:8], rest[8:16], rest[16:24],
                                                     rest[24:32], rest[32:40], rest[40:48],
                                                     rest[48:56]])
            return
        assert spec is not None
        enter_id, exit_id = pair
        vals = self._arg_values(spec, args, s1, s2, flags, enter=False)
        if name in ("execve", "execveat"):
            argv = self._argv.pop(tid, None)
            if argv is None:  # no enter-only record: a state-only enter keeps the latency
                argv = [(s1 or b"").split(b"\0", 1)[0]]
                evf, self._evf = self._evf, B.STATE_ONLY
                self._event(enter_id, t_enter, tid, cpu, self._values(enter_id, vals))
                self._evf = evf
            wp = self._proc(pid, comm, 0, c)
            vals.update(res=ret, exe=argv[0] if argv else b"",
                        args=b"\0".join(argv[1:]) + (b"\0" if len(argv) > 1 else b""),
                        tid=tid, pid=pid, ptid=wp.ppid, cwd=wp.cwd.encode(), fdlimit=1024,
                        comm=comm.rstrip(b"\0"), cgroups=cgroups_param(c), env=b"", tty=0,
                        pgid=pid, loginuid=-1, flags=0)
            self._event(exit_id, ts, tid, cpu, self._values(exit_id, vals))
            if ret == 0:  # the new image, for the clones that follow
                self._comm[tid] = comm.rstrip(b"\0")
                wp.name = comm.rstrip(b"\0").decode("utf-8", "replace")
                wp.exe = (s1 or (argv[0] if argv else b"")).split(b"\0", 1)[0].decode(
                    "utf-8", "replace")
                wp.args = [a.decode("utf-8", "replace") for a in argv[1:]]
                wp.container = c
            return
        if not entered:
            self._event(enter_id, t_enter, tid, cpu, self._values(enter_id, vals))
        if name in ("clone", "fork", "vfork", "clone3"):
            wp = self._proc(pid, comm, 0, c)
            vals.update(res=ret, exe=wp.exe.encode(),
                        args=b"\0".join(a.encode() for a in wp.args), tid=tid, pid=pid,
                        ptid=wp.ppid, cwd=wp.cwd.encode(), fdlimit=1024,
                        comm=comm.rstrip(b"\0"), cgroups=cgroups_param(c), uid=wp.uid,
                        gid=0, vtid=tid, vpid=pid)
            self._event(exit_id, ts, tid, cpu, self._values(exit_id, vals))
            return
        xinfo = E.INFO[exit_id]
        if xinfo.params and xinfo.params[0][0] in ("res", "fd"):
            vals[xinfo.params[0][0]] = ret
        elif not xinfo.params:  # an exit without parameters: the result, as cdig's extension
            self._event(exit_id, ts, tid, cpu, [struct.pack("<q", ret)])
            return
        if name in ("readv", "recvmsg", "preadv") and ret >= 0:
            vals["size"] = ret
        if buf is not None:
            vals["data"] = buf
        self._event(exit_id, ts, tid, cpu, self._values(exit_id, vals))

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.started:  # an empty capture is still a valid file
            self._emit(shb())
            self._emit(machine_info(self.hostname, self.ncpus))
            self._emit(block(B.PL_V9, b""))
            self.started = True
        self._mark_drops(self._last_ts)
        self.flush()
        if self.f is not self.raw_file:
            self.f.close()
        if self._own:
            self.raw_file.close()
        else:
            self.raw_file.flush()


class ScapTee:
    """A source that writes each batch to a ScapWriter (with the State as it is before
    the session applies the batch) and hands it on; everything else is the source's."""

    def __init__(self, writer: ScapWriter, source: Any, state: State) -> None:
        self.writer, self.source, self.state = writer, source, state

    def batches(self) -> Any:
        if self.writer.drop_counter is None and hasattr(self.source, "drops"):
            self.writer.drop_counter = self.source.drops
        for raw in self.source.batches():
            self.writer.write(raw, self.state)
            yield raw

    def __getattr__(self, name: str) -> Any:  # stop(), drops(), stats() … of the source
        return getattr(self.source, name)


__all__ = ["HOST", "ScapTee", "ScapWriter", "container_hex_id"]
