""".scap files as a replay source: ``ScapSource`` yields the probe's RawBatches.

A .scap file records each syscall as an enter event and an exit event with
named parameters; cdig's probe records one completed syscall with its raw
arguments (``probes.layout.RECORD``). The reader walks the event blocks once,
pairs each exit with the pending enter of its thread (latency = exit − enter),
and appends one record per pair to column lists that become numpy arrays per
batch; an enter whose exit never came (exit, exit_group, a file cut short) is
an enter-only record, as the probe gives for syscalls that do not return.
Process events follow the probe's conventions: an execve exit that succeeded
adds an EXEC record (new comm, filename), a clone exit in the child a FORK
record of the parent, procexit an EXIT record.

``num`` is sysdig's ``evt.num`` of the exit event (or of the enter, for
enter-only records), so ``cdig trace -r x.scap -p %evt.num`` and
``sysdig -r x.scap -p %evt.num`` name the same events.

State comes from the blocks before the events (process list, fd lists, users,
machine info) and from the container JSON events; every thread's container is
found from its cgroups (PL entry, clone/execve exit), as sysdig does. Each
container gets a synthetic cgroup id, so the rest of cdig attributes records to
containers exactly as for a live capture.

Unknown block types and event types (newer libs) are skipped and counted
(``skipped``); a damaged or truncated file yields its intact blocks and then one
``Loss``.
"""

from __future__ import annotations

import json
import os
import struct
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np

from ...probes import layout
from ...probes.syscalls import SyscallTable, table
from ..capture import CaptureError, Loss
from ..capture.reader import open_all
from ..containers import parse_cgroup_path
from ..decode import RawBatch
from ..events import HOST, Container, Event, FdInfo, Process
from ..procfs import ProcFS, ProcInfo
from ..state import State
from . import blocks as B
from . import bulk
from . import events as E

BATCH = 65536  # records per RawBatch (of the per-event path; the bulk path: per chunk)
_EV_TYPES = np.array(sorted(B.EVENT_BLOCKS), dtype=np.int64)
_V2_TYPES = np.array([t for t, (v2, _) in B.EVENT_BLOCKS.items() if v2], dtype=np.int64)
_EVF_TYPES = np.array([t for t, (_, f) in B.EVENT_BLOCKS.items() if f], dtype=np.int64)
_STR1_AT = layout.EXT_RECORD.fields["str1"][1]  # str2 follows it: one copy for both
assert layout.EXT_RECORD.fields["str2"][1] == _STR1_AT + layout.STR1_LEN
EVF_BLOCK = 1 << 31  # in the flags passed along: the event came in an EVF block
CDIG_FD_EVENT = 4096  # cdig's writer: what /proc told the live session about an fd
FD_INTRO = 0x100  # EVF flag of cdig's writer: a state-only open naming that fd for sysdig
SYNTH_CGROUP_BASE = 0x5CA9 << 48  # synthetic cgroup ids of a .scap's containers
_MASK64 = (1 << 64) - 1
_EVHDR = struct.Struct("<QQIH")
_U32 = struct.Struct("<I")
_U16 = struct.Struct("<H")

# scap container type -> cdig runtime (sinsp_container_type.h)
CONTAINER_TYPES = {0: "docker", 1: "lxc", 2: "libvirt-lxc", 3: "mesos", 4: "rkt", 5: "custom",
                   6: "cri", 7: "containerd", 8: "cri-o", 9: "bpm", 10: "static", 11: "podman"}
# runtimes whose cgroup names a container the way sysdig's engines see it (not systemd units)
_CONTAINER_RUNTIMES = frozenset({"docker", "podman", "containerd", "cri-o", "kubernetes",
                                 "unknown"})


class _Thread:
    """What the reader knows about one thread, for the records of its events."""

    __slots__ = ("tid", "pid", "ptid", "comm", "uid", "gid", "cgroup", "exe", "args", "cwd",
                 "table")

    def __init__(self, tid: int, pid: int, ptid: int, comm: bytes, uid: int, gid: int,
                 cgroup: int, exe: str = "", args: list[str] | None = None,
                 cwd: str = "") -> None:
        self.tid, self.pid, self.ptid, self.comm = tid, pid, ptid, comm
        self.uid, self.gid, self.cgroup = uid, gid, cgroup
        self.exe, self.args, self.cwd = exe, args or [], cwd
        self.table: B.ThreadInfo | None = None  # the file's entry, for a process it lists


def _proc_info(t: _Thread, parent: _Thread | None) -> ProcInfo:
    """What the file says of a process, as /proc would."""
    e = t.table  # what sysdig's ps shows of it: its size, resident set, fd limit
    return ProcInfo(pid=t.pid, ppid=parent.pid if parent else t.ptid,
                    name=t.comm.decode("utf-8", "backslashreplace"), exe=t.exe,
                    argv=[t.exe, *t.args], uid=t.uid,
                    fdlimit=e.fdlimit if e is not None else None,
                    vmsize=e.vmsize_kb if e is not None else None,
                    vmrss=e.vmrss_kb if e is not None else None)


class ScapProcFS(ProcFS):
    """Answers State's /proc questions from the capture's threads (never this host)."""

    def __init__(self, src: ScapSource) -> None:
        super().__init__("/nonexistent")
        self.src = src
        self.answers: dict[tuple, Any] = {}  # from CDIG_FD_EVENTs (cdig-written files)

    def list_pids(self) -> list[int]:
        return sorted({t.pid for t in self.src.threads.values()})

    def read_proc(self, pid: int) -> ProcInfo | None:
        t = self.src.threads.get(pid)
        return None if t is None else _proc_info(t, self.src.threads.get(t.ptid))

    def fd_target(self, pid: int, fd: int) -> str | None:
        return self.answers.get(("fd", pid, fd))

    def cwd(self, pid: int) -> str | None:
        t = self.src.threads.get(pid)
        return t.cwd if t is not None and t.cwd else None

    def is_dir(self, path: str) -> bool:
        return bool(self.answers.get(("dir", path), False))

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        return self.answers.get(("sock", pid, inode))


class _Columns:
    """Records of one batch as column lists (then numpy arrays)."""

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.lat: list[int] = []
        self.cg: list[int] = []
        self.ret: list[int] = []
        self.args: list[tuple[int, ...]] = []
        self.pid: list[int] = []
        self.tid: list[int] = []
        self.uid: list[int] = []
        self.gid: list[int] = []
        self.nr: list[int] = []
        self.kind: list[int] = []
        self.flags: list[int] = []
        self.cpu: list[int] = []
        self.comm: list[bytes] = []
        self.num: list[int] = []
        self.shown: list[bool] = []
        self.ext_row: list[int] = []  # index of the record of each ext entry
        self.s1: list[bytes] = []
        self.s2: list[bytes] = []
        self.l1: list[int] = []
        self.l2: list[int] = []
        self.argc: list[int] = []
        self.pad: list[int] = []
        self.key: list[int] = []  # position in the chunk (event index * 8 + sub-index)

    def __len__(self) -> int:
        return len(self.ts)

    def to_batch(self, fast: dict[str, np.ndarray] | None = None
                 ) -> tuple[RawBatch, np.ndarray]:
        """These records, merged with the fast path's (``fast``) by position."""
        n_slow = len(self.ts)
        n_fast = len(fast["ts"]) if fast is not None else 0
        n = n_slow + n_fast
        rec = np.empty(n, dtype=layout.RECORD)  # every field of every row is written
        l1 = np.zeros(n, dtype=np.int16)
        l2 = np.zeros(n, dtype=np.int16)
        argc = np.zeros(n, dtype=np.uint16)
        is_ext = np.zeros(n, dtype=bool)
        num = np.empty(n, dtype=np.uint64)
        shown = np.ones(n, dtype=bool)
        key = np.empty(n, dtype=np.int64)
        slow_ext = np.array(self.ext_row, dtype=np.int64)  # slow rows with strings
        if n_slow:
            sl = slice(0, n_slow)
            rec["ts_ns"][sl] = self.ts
            rec["latency_ns"][sl] = self.lat
            rec["cgroup_id"][sl] = self.cg
            rec["ret"][sl] = self.ret
            rec["args"][sl] = np.array(self.args, dtype=np.uint64).reshape(n_slow, 6)
            rec["pid"][sl] = self.pid
            rec["tid"][sl] = self.tid
            rec["uid"][sl] = self.uid
            rec["gid"][sl] = self.gid
            rec["nr"][sl] = self.nr
            rec["kind"][sl] = self.kind
            rec["flags"][sl] = self.flags
            rec["cpu"][sl] = self.cpu
            rec["comm"][sl] = self.comm
            num[sl] = self.num
            shown[sl] = self.shown
            key[sl] = self.key if len(self.key) == n_slow else np.arange(n_slow)
            if len(slow_ext):
                is_ext[slow_ext] = True
                l1[slow_ext] = self.l1
                l2[slow_ext] = self.l2
                argc[slow_ext] = self.argc
        if n_fast:
            assert fast is not None
            fl = slice(n_slow, n)
            for name, col in (("ts_ns", "ts"), ("latency_ns", "lat"), ("cgroup_id", "cg"),
                              ("ret", "ret"), ("pid", "pid"), ("tid", "tid"), ("uid", "uid"),
                              ("gid", "gid"), ("nr", "nr"), ("kind", "kind"), ("cpu", "cpu"),
                              ("comm", "comm"), ("flags", "flags")):
                rec[name][fl] = fast[col]
            rec["args"][fl] = fast["args"]
            num[fl] = fast["num"]
            shown[fl] = fast["shown"]
            key[fl] = fast["key"]
            x = fast["is_ext"]
            if x.any():
                is_ext[fl] = x
                l1[fl] = fast["l1"]
                l2[fl] = fast["l2"]
        src = np.arange(n)  # each row's place before sorting
        o = np.argsort(key, kind="stable")
        if (o != src).any():
            rec, l1, l2, argc = rec[o], l1[o], l2[o], argc[o]
            is_ext, num, shown, src = is_ext[o], num[o], shown[o], o
        ext_rows = np.flatnonzero(is_ext)
        k = len(ext_rows)
        ext = np.zeros(k, dtype=layout.EXT_RECORD)
        if k:
            ext["ev"] = rec[ext_rows]
            ext["len1"] = l1[ext_rows]
            ext["len2"] = l2[ext_rows]
            ext["argc"] = argc[ext_rows]
            # the strings straight into their rows of ext (one copy each)
            raw8 = ext.view(np.uint8).reshape(k, layout.EXT_RECORD.itemsize)
            o1, o2 = _STR1_AT, _STR1_AT + layout.STR1_LEN
            s1v = raw8[:, o1:o1 + layout.STR1_LEN]
            s2v = raw8[:, o2:o2 + layout.STR2_LEN]
            was = src[ext_rows]
            from_slow = np.flatnonzero(was < n_slow)
            if len(from_slow):  # their place among the slow ext rows (in row order)
                at = np.searchsorted(slow_ext, was[from_slow])
                s1v[from_slow] = np.frombuffer(
                    b"".join(b.ljust(layout.STR1_LEN, b"\0") for b in self.s1),
                    np.uint8).reshape(len(slow_ext), layout.STR1_LEN)[at]
                s2v[from_slow] = np.frombuffer(
                    b"".join(b.ljust(layout.STR2_LEN, b"\0") for b in self.s2),
                    np.uint8).reshape(len(slow_ext), layout.STR2_LEN)[at]
            from_fast = np.flatnonzero(was >= n_slow)
            if len(from_fast):
                assert fast is not None
                f = was[from_fast] - n_slow  # str1 and str2 are side by side in both
                raw8[from_fast, o1:o2 + layout.STR2_LEN] = fast["S"][fast["srow"][f]]
        plain_rows = np.flatnonzero(~is_ext)
        order = np.empty(n, dtype=np.int64)
        order[plain_rows] = np.arange(len(plain_rows))
        order[ext_rows] = len(plain_rows) + np.arange(k)
        raw = RawBatch(rec[plain_rows], ext, order, num)
        if hasattr(raw, "merged"):  # the records in decoding order already: no merge
            raw.merged = rec
        return raw, shown


class _NotHere(KeyError):
    """A column the reader's prefilter columns do not have."""


class _PreColumns:
    """The columns of fast records the raw prefilter reads, before their parameters
    are parsed: syscall number, kind, thread, latency, and (made when first read) the
    thread's process, comm and ids. Any other column: _NotHere."""

    def __init__(self, cols: dict[str, np.ndarray],
                 threads: Callable[[], dict[str, np.ndarray]]) -> None:
        self._c = cols
        self._threads: Callable[[], dict[str, np.ndarray]] | None = threads

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._c.get(name)
        if a is None and self._threads is not None:
            self._c.update(self._threads())
            self._threads = None
            a = self._c.get(name)
        if a is None:
            raise _NotHere(name)
        return a

    def __len__(self) -> int:
        return len(self._c["nr"])


def _sockaddr(ip: str, port: int) -> bytes:
    """A kernel struct sockaddr for an address of the fd list."""
    import ipaddress

    a = ipaddress.ip_address(ip or "0.0.0.0")
    if a.version == 4:
        return struct.pack("<H", 2) + struct.pack(">H", port) + a.packed + b"\0" * 8
    return struct.pack("<H", 10) + struct.pack(">H", port) + b"\0" * 4 + a.packed + b"\0" * 4


def _s64(v: int) -> int:
    v &= _MASK64
    return v - (1 << 64) if v >> 63 else v


def _same_endpoint(bound: bytes, server: bytes) -> bool:
    """A socket bound to ``bound`` (maybe the wildcard address) serves ``server``."""
    if bound[:4] != server[:4]:  # family and port
        return False
    if bound[:2] == b"\2\0":
        return bound[4:8] in (server[4:8], b"\0\0\0\0")
    return bound[8:24] in (server[8:24], b"\0" * 16)


def _s(b: Any) -> str:
    return b.decode("utf-8", "backslashreplace") if isinstance(b, bytes) else ""


class ScapFile:
    """One .scap file, opened: header and state blocks read, events on demand."""

    def __init__(self, path: str) -> None:
        self.path = path
        try:
            self.size = os.path.getsize(path)
            self.f = open(path, "rb")  # closed by close()
        except OSError as e:
            raise CaptureError(f"{path}: {e.strerror or e}") from None
        self.stream = B.BlockStream(self.f, path)
        try:
            self.stream.read_header()
        except B.ScapError as e:
            self.f.close()
            raise CaptureError(str(e)) from None
        self.at = B.StreamAt()  # the stream as of the chunk last taken from ``chunks``
        self.chunks = self._chunks()

    def _chunks(self) -> Iterator[tuple[bytes, np.ndarray]]:
        """The stream's chunks, read ahead on a thread; ``at`` follows the caller."""
        st = self.stream

        def produce() -> Iterator[tuple[bytes | None, np.ndarray | None, B.StreamAt]]:
            for buf, blks in st.chunks():
                yield buf, blks, st.at()
            yield None, None, st.at()  # where it ended

        ahead = B.read_ahead(produce())
        try:
            for buf, blks, at in ahead:
                self.at = at
                if buf is None or blks is None:
                    return
                yield buf, blks
        finally:
            ahead.close()

    def close(self) -> None:
        self.chunks.close()  # the read-ahead thread first: it reads the file
        self.f.close()


class ScapSource:
    """Events of .scap files as the ``EventSource`` of a replay pipeline.

    The same interface as ``collector.capture.ReplaySource``: ``attach(state)``
    seeds a State (built with ``container_of`` and ``procfs`` from here) from the
    files' process and fd lists; ``batches()`` yields RawBatches; ``losses``
    says what a damaged file lost (``on_loss`` is called at once).
    """

    def __init__(self, paths: Sequence[str], on_loss: Callable[[Loss], None] | None = None,
                 batch: int = BATCH) -> None:
        self.files: list[ScapFile] = open_all(paths, ScapFile)
        files = self.files
        self._size = sum(f.size for f in files)
        self.on_loss = on_loss
        self.losses: list[Loss] = []
        self.batch_size = batch
        self.syscalls: SyscallTable = table("x86_64")  # the drivers' events carry x86_64 ids
        self.mono_to_wall_ns = 0  # scap timestamps are wall-clock already
        self.procfs = ScapProcFS(self)
        self.threads: dict[int, _Thread] = {}
        self.fdlists: dict[int, list[B.FdEntry]] = {}
        self.users: dict[int, str] = {}
        self.machine = B.MachineInfo()
        self.containers: dict[int, Container] = {0: HOST}  # synthetic cgroup id -> container
        self._cg_of_id: dict[str, int] = {}  # 12-hex container id -> synthetic cgroup id
        self._cg_of_path: dict[str, int] = {}
        self._json_named: set[int] = set()  # containers named by a cdig-written JSON
        self._listening: dict[int, dict[int, bytes]] = {}  # pid -> fd -> bound sockaddr
        self.skipped_blocks: dict[int, int] = {}
        self.skipped_events: dict[int, int] = {}
        self.internal_events = 0  # procinfo, switch, drop … : not syscalls
        # sysdig's procinfo events, (ts, tid, cpu_usr + cpu_sys in clock ticks): its
        # topprocs_cpu's figures (collector/chisels/cpu.py)
        self.procinfo: list[tuple[int, int, int]] = []
        self.span: tuple[int, int] | None = None  # first and last event's time, any event
        self.state_only = 0
        self.records = 0
        # set by Session.replay (as for a cdig capture): (columns, len2) -> rows to keep;
        # fast records it rejects are left out before their parameters are parsed, and
        # ``left_out`` says how many went with the batch last yielded
        self.prune: Callable[[Any, np.ndarray], np.ndarray] | None = None
        self.left_out = 0
        self._left = 0  # left out since the last batch yielded
        self.events = 0  # scap events read (sysdig's evt.num)
        self._state: State | None = None
        self._stop = False
        self._hidden: frozenset[int] = frozenset()
        self._pending_chunk: tuple[bytes, list[tuple[int, int, int, int]], int] | None = None
        self._by_nr = self.syscalls.by_name
        self._prepare_handlers()
        self._read_state(files[0])
        self.header: dict[str, Any] = {
            "format": "scap", "hostname": self.machine.hostname, "ncpus": self.machine.num_cpus,
            "syscall_arch": self.syscalls.arch, "mono_to_wall_ns": 0,
            "scap_version": ".".join(map(str, getattr(files[0].stream, "version", (0, 0)))),
        }

    # -- state blocks ----------------------------------------------------------------
    def _read_state(self, f: ScapFile) -> None:
        """Read the blocks before the first event: machine, threads, fds, users."""
        for buf, blks in f.chunks:
            mv = memoryview(buf)
            ev = np.flatnonzero(np.isin(blks[:, 0], _EV_TYPES))
            upto = int(ev[0]) if len(ev) else len(blks)  # the blocks as Python: these only
            for btype, s, e, _off in blks[:upto].tolist():
                self._state_block(btype, mv[s:e])
            if len(ev):
                self._pending_chunk = (buf, blks, upto)
                return
        self._pending_chunk = None

    def _state_block(self, btype: int, body: memoryview) -> None:
        if btype in (B.MI, B.MI_INT):
            self.machine = B.parse_machine_info(body)
        elif btype in B.PL_VERSION:
            for t in B.parse_proclist(body, btype):
                th = self.threads[t.tid] = _Thread(
                    t.tid, t.pid, t.ptid, t.comm.encode()[:layout.COMM_LEN], t.uid, t.gid,
                    self._cgroup_of(t.cgroups), t.exe, t.args, t.cwd)
                th.table = t
        elif btype in (B.FDL, B.FDL_INT, B.FDL_V2):
            tid, fds = B.parse_fdlist(body, btype)
            if tid >= 0:
                self.fdlists.setdefault(tid, []).extend(fds)
        elif btype in (B.UL, B.UL_INT, B.UL_V2):
            self.users.update(B.parse_userlist(body, btype))
        elif btype in (B.IL, B.IL_INT, B.IL_V2):
            pass  # interfaces: cdig names sockets by their addresses alone
        else:
            self.skipped_blocks[btype] = self.skipped_blocks.get(btype, 0) + 1

    # -- containers ------------------------------------------------------------------
    def _cgroup_of(self, cgroups: str) -> int:
        """The synthetic cgroup id of the container a cgroup path belongs to (0: host)."""
        cg = self._cg_of_path.get(cgroups)
        if cg is not None:
            return cg
        ref = parse_cgroup_path(cgroups) if cgroups else None
        cg = 0
        if ref is not None and ref.runtime in _CONTAINER_RUNTIMES:
            short = ref.id[:12]
            cg = self._cg_of_id.get(short, 0)
            if not cg:
                cg = self._new_container(short, Container(id=ref.id, name=short,
                                                          runtime=ref.runtime,
                                                          cgroup_path=ref.cgroup_path))
            c = self.containers[cg]
            if len(c.id) < len(ref.id) and cg not in self._json_named:
                c.id = ref.id
            if not c.cgroup_path:
                c.cgroup_path = ref.cgroup_path
        self._cg_of_path[cgroups] = cg
        return cg

    def _new_container(self, short: str, c: Container) -> int:
        cg = SYNTH_CGROUP_BASE + len(self._cg_of_id) + 1
        self._cg_of_id[short] = cg
        self.containers[cg] = c
        return cg

    def _container_json(self, raw: bytes) -> None:
        try:
            d = json.loads(raw.rstrip(b"\0").decode("utf-8", "replace"))["container"]
            cid = str(d.get("id") or "")
        except (ValueError, KeyError, TypeError, AttributeError):
            return
        if not cid or cid == "host":
            return
        short = cid[:12]
        cg = self._cg_of_id.get(short)
        if cg is None:
            cg = self._new_container(short, Container(id=cid, name=short, runtime="unknown"))
        c = self.containers[cg]
        full = str(d.get("full_id") or "")
        if len(full) > len(c.id):
            c.id = full
        if d.get("cdig_id"):  # written by cdig: its own id, runtime and cgroup path
            c.id = str(d["cdig_id"])
            self._json_named.add(cg)
            c.cgroup_path = str(d.get("cdig_cgroup_path") or c.cgroup_path)
        c.name = str(d.get("name") or c.name)
        c.image = str(d.get("image") or "")
        try:
            c.runtime = CONTAINER_TYPES.get(int(d.get("type", -1)), c.runtime)
        except (TypeError, ValueError):
            pass
        if d.get("cdig_runtime"):
            c.runtime = str(d["cdig_runtime"])
        labels = d.get("labels")
        if isinstance(labels, dict):
            c.labels = {str(k): str(v) for k, v in labels.items()}
            c.pod_name = c.labels.get("io.kubernetes.pod.name", "")
            c.pod_namespace = c.labels.get("io.kubernetes.pod.namespace", "")
            c.pod_uid = c.labels.get("io.kubernetes.pod.uid", "")

    def container_of(self, cgroup_id: int, pid: int) -> Container:
        return self.containers.get(cgroup_id, HOST)

    # -- State -----------------------------------------------------------------------
    def attach(self, state: State) -> None:
        """Seed ``state`` with the file's processes and their fds."""
        self._state = state
        for t in self.threads.values():
            if t.tid != t.pid:
                continue
            parent = self.threads.get(t.ptid)
            # through the State's lookup: a capture recorder wrapping it learns the
            # (synthetic) cgroup ids of these containers too
            c = state.container_of(t.cgroup, t.pid) if t.cgroup else HOST
            p = Process(pid=t.pid, ppid=parent.pid if parent else t.ptid,
                        name=t.comm.decode("utf-8", "backslashreplace"), exe=t.exe,
                        args=list(t.args), uid=t.uid, cgroup_id=t.cgroup, container=c,
                        cwd=t.cwd, info=_proc_info(t, parent))
            state.procs[p.pid] = p
        # sinsp's rule for a connected socket of the fd list (local end first in the
        # file): if its local port is a port something listens on, the local end is
        # the server, else the client.
        server_ports = {e.sport for fds in self.fdlists.values() for e in fds
                        if not e.local_is_client}
        for fds in self.fdlists.values():
            for e in fds:
                if e.local_is_client and e.type in ("ipv4", "ipv6") and e.cport in server_ports:
                    e.cip, e.cport, e.sip, e.sport = e.sip, e.sport, e.cip, e.cport
                    e.local_is_client = False
                    e.name = B.sock_name(e)
        for tid, fds in self.fdlists.items():
            t = self.threads.get(tid)
            pid = t.pid if t is not None else tid
            for e in fds:
                if not e.local_is_client and e.type in ("ipv4", "ipv6") and not e.cport:
                    self._listening.setdefault(pid, {})[e.fd] = _sockaddr(e.sip, e.sport)
            table_ = state.fds.setdefault(pid, {})
            for e in fds:
                table_[e.fd] = FdInfo(num=e.fd, type=e.type, name=e.name, l4proto=e.l4proto,
                                      cip=e.cip, cport=e.cport, sip=e.sip, sport=e.sport,
                                      local_is_client=e.local_is_client)

    def shown(self, ev: Event) -> bool:
        """False for records of state-only events (EVF blocks with SCAP_DF_STATE_ONLY)."""
        return not self._hidden or ev.num not in self._hidden

    def progress(self) -> tuple[int, int]:
        """(bytes of the files behind the events yielded so far, all the files' bytes):
        ``cdig trace -P``. A gzip file's share is in proportion to what was inflated."""
        done = 0
        for f in self.files:
            if not f.f.closed:  # the one being read (or, after a stop, the last read)
                return done + min(f.size, f.at.file_offset), self._size
            done += f.size
        return done, self._size

    def stop(self) -> None:
        self._stop = True

    def drops(self) -> int:
        """Events the capture says were lost: the counts cdig's writer puts in its drop
        marks (``ScapWriter._mark_drops``). sysdig's own marks (sampling) carry no count:
        they are counted in ``drop_marks`` only."""
        return self.dropped

    dropped = 0
    drop_marks = 0

    def _drop_mark(self, buf: bytes, lp: int, nparams: int, end: int) -> None:
        self.drop_marks += 1
        if nparams < 2 or lp + 4 > end:
            return
        l0, l1 = struct.unpack_from("<HH", buf, lp)
        at = lp + 2 * nparams + l0
        if l1 == 8 and at + 8 <= end:
            self.dropped += struct.unpack_from("<Q", buf, at)[0]

    def _procinfo(self, buf: bytes, ts: int, tid: int, lp: int, nparams: int,
                  end: int) -> None:
        if nparams < 2 or lp + 4 > end:
            return
        l0, l1 = struct.unpack_from("<HH", buf, lp)
        at = lp + 2 * nparams
        if l0 == 8 and l1 == 8 and at + 16 <= end:
            usr, sys_ = struct.unpack_from("<QQ", buf, at)
            self.procinfo.append((ts, tid, usr + sys_))

    def close(self) -> None:
        for f in self.files:
            f.close()

    # -- events ----------------------------------------------------------------------
    def _prepare_handlers(self) -> None:
        """Per event type: the cdig syscall and where its arguments come from."""
        by_name = self.syscalls.by_name
        self._spec_of: dict[int, Any] = {}
        for info in E.INFO:
            name = E.NAME_ALIAS.get(info.name, info.name)
            spec = by_name.get(name)
            if spec is not None:
                self._spec_of[info.id] = spec
        self._pending: dict[int, tuple] = {}
        self._key = 0  # sort key of the next record (see _Columns.key)
        self._enter_key: int | None = None  # key of the enter of the exit being handled
        self._evend = np.zeros(0, dtype=np.int64)  # per event of the chunk: where it ends
        self._fast_plan()

    def batches(self) -> Iterator[RawBatch]:
        for i, f in enumerate(self.files):
            if self._stop:
                break
            if i:
                self._read_state(f)
            cols = _Columns()
            chunk = self._pending_chunk
            self._pending_chunk = None
            if chunk is not None:
                for batch in self._events(f, chunk, cols):
                    yield batch
                    if self._stop:
                        break
            if not self._stop:
                self._flush_pending(cols)
                if len(cols):
                    yield self._emit_batch(cols)
            st = f.at
            if st.stop:
                # bytes of the (uncompressed) stream after the last intact block
                unread = max(0, f.size - st.offset) if st.plain else st.unread
                loss = Loss(f.path, self.events, unread,
                            "damaged" if st.stop == "damaged" else "truncated")
                self.losses.append(loss)
                if self.on_loss:
                    self.on_loss(loss)
            f.close()

    def _emit_batch(self, cols: _Columns) -> RawBatch:
        raw, shown = cols.to_batch()
        hidden = ~shown
        self._hidden = frozenset(raw.num[hidden].tolist()) if hidden.any() else frozenset()
        if hidden.any() and hasattr(raw, "ctx"):  # the session's "kept for state only"
            raw.ctx = hidden
        self.records += len(cols) + self._left
        self.left_out, self._left = self._left, 0
        return raw

    def _events(self, f: ScapFile, chunk: tuple, cols: _Columns) -> Iterator[RawBatch]:
        buf, blks, first = chunk
        it = f.chunks  # the same generator: it holds the bytes of a block cut by a chunk end
        while True:
            raw = self._chunk(buf, blks, first)
            if raw is not None:
                yield raw
            if self._stop:
                return
            nxt = next(it, None)
            if nxt is None:
                return
            buf, blks = nxt
            first = 0

    # -- the bulk path ---------------------------------------------------------------
    def _fast_plan(self) -> None:
        """Per event type: slow (Python, per event) or fast (numpy), and for the fast
        ones which parameter fills which argument of the probe's record."""
        n = E.MAX
        self._cat = np.zeros(n, dtype=np.int8)  # 0 internal, 1 fast, 2 slow
        self._nr_of = np.full(n, -1, dtype=np.int64)
        self._argmap: dict[int, list[tuple[int, str, int, str, Any]]] = {}
        self._pathmap: dict[int, list[tuple[int, int]]] = {}
        self._ret_param: dict[int, str] = {}
        self._datamap: dict[int, int] = {}  # I/O exits: the index of their data parameter
        slow = {E.PROCEXIT_E, E.PROCEXIT_OLD_E, E.CONTAINER_E, E.CONTAINER_JSON_2_E}
        slow |= set(E.CLONE_EXITS) | {i - 1 for i in E.CLONE_EXITS}
        slow |= set(E.EXECVE_EXITS) | {i - 1 for i in E.EXECVE_EXITS}
        for info in E.INFO:
            i = info.id
            if i in slow:
                self._cat[i] = 2
                continue
            if i in (E.GENERIC_E, E.GENERIC_X):
                self._cat[i] = 1
                continue
            spec = self._spec_of.get(i)
            if spec is None or info.unused:
                continue
            kinds = {a.kind for a in spec.args}
            if spec.addr_arg != 255 or "argv" in kinds:
                self._cat[i] = 2
                continue
            self._cat[i] = 1
            self._nr_of[i] = spec.nr
            names = {pn: (k, pt) for k, (pn, pt) in enumerate(info.params)}
            amap, pmap = [], []
            npath = 0
            for a in spec.args:
                hit = next((names[c] for c in (a.name, *E.PARAM_ALIAS.get(a.name, ()))
                            if c in names), None)
                if a.kind == "path":
                    if hit is not None and hit[1] == "s":
                        pmap.append((hit[0], npath))
                    npath += 1
                    continue
                if hit is None or hit[1] not in ("i1", "i2", "i4", "i8", "u1", "u2", "u4",
                                                 "u8"):
                    continue
                if not info.enter and hit[0] == 0 and info.params[0][0] in ("res", "fd"):
                    continue  # the exit's first parameter is the result
                codec = bulk.ARG_CODECS.get((spec.name, a.name)) or bulk.CODECS.get(a.kind)
                amap.append((hit[0], hit[1], a.index, a.kind, codec))
            self._argmap[i] = amap
            self._pathmap[i] = pmap
            if spec.io and not info.enter and "data" in names and names["data"][1] == "b":
                self._datamap[i] = names["data"][0]
            if not info.enter and info.params and info.params[0][0] in ("res", "fd") and \
                    info.params[0][1] != "d":
                self._ret_param[i] = info.params[0][1]
        # event types whose parameters the fast path may copy to str1/str2
        self._has_str = np.zeros(n, dtype=bool)
        for i in (*(i for i, pm in self._pathmap.items() if pm), *self._datamap):
            self._has_str[i] = True
        self._sc_nr = np.full(1024, -1, dtype=np.int64)  # PPM_SC id -> x86_64 nr
        for sc, name in E.PPM_SC.items():
            spec = self.syscalls.by_name.get(name)
            if spec is not None and sc < 1024:
                self._sc_nr[sc] = spec.nr

    def _chunk(self, buf: bytes, blks: list, first: int) -> RawBatch | None:
        """The events of one decompressed chunk as one RawBatch (see the module doc)."""
        arr = blks[first:]
        if not len(arr):
            return None
        u8 = np.frombuffer(buf, dtype=np.uint8)
        bt, s, e = arr[:, 0], arr[:, 1], arr[:, 2]
        is_ev = np.isin(bt, _EV_TYPES)
        v2 = np.isin(bt, _V2_TYPES)
        hasf = np.isin(bt, _EVF_TYPES)
        need = 2 + 4 * hasf + np.where(v2, 26, 22)
        ok = is_ev & (e - s >= need)
        if not ok.all():
            for t, c in zip(*np.unique(bt[~ok], return_counts=True), strict=True):
                self.skipped_blocks[int(t)] = self.skipped_blocks.get(int(t), 0) + int(c)
            s, e, v2, hasf = s[ok], e[ok], v2[ok], hasf[ok]
        p = s + 2 + 4 * hasf
        etype = bulk.gather(u8, p + 20, "<u2").astype(np.int64)
        dflags = np.where(hasf, bulk.gather(u8, s + 2, "<u4").astype(np.int64) | EVF_BLOCK, 0)
        fdev = (etype == CDIG_FD_EVENT) & v2
        for k in np.flatnonzero(fdev).tolist():
            self._fd_answer(buf, int(p[k]), int(e[k]))
        intro = (dflags & FD_INTRO) != 0
        unknown = (etype >= E.MAX) & ~fdev
        if unknown.any():
            for t, c in zip(*np.unique(etype[unknown], return_counts=True), strict=True):
                self.skipped_events[int(t)] = self.skipped_events.get(int(t), 0) + int(c)
        valid = ~fdev & ~intro & ~unknown
        lp = p + np.where(v2, 26, 22)
        nparams = np.where(v2, bulk.gather(u8, p + 22, "<u4").astype(np.int64), -1)
        elen = bulk.gather(u8, p + 16, "<u4").astype(np.int64)
        for k in np.flatnonzero(valid & ~v2).tolist():  # old captures: count the parameters
            end = min(int(p[k] + elen[k]), int(e[k]))
            n_ = E.v1_nparams(buf, int(lp[k]), end, len(E.INFO[int(etype[k])].params))
            if n_ < 0:
                valid[k] = False
                t = int(etype[k])
                self.skipped_events[t] = self.skipped_events.get(t, 0) + 1
            nparams[k] = n_
        idx = np.flatnonzero(valid)
        if not len(idx):
            return None
        s, e, p, lp = s[idx], e[idx], p[idx], lp[idx]
        etype, nparams, dflags = etype[idx], nparams[idx], dflags[idx]
        # where each event's parameters must end: its length, within its block
        evend = np.minimum(p + elen[idx], e)
        self._evend = evend
        cpu = bulk.gather(u8, s, "<u2").astype(np.int64)
        ts = bulk.gather(u8, p, "<u8").view(np.int64)
        tid = bulk.gather(u8, p + 8, "<u8").view(np.int64)
        n = len(idx)
        timed = ts[ts > 0]  # a container event may have none
        if len(timed):
            lo, hi = int(timed.min()), int(timed.max())
            self.span = (lo, hi) if self.span is None else (min(self.span[0], lo),
                                                            max(self.span[1], hi))
        num = self.events + 1 + np.arange(n, dtype=np.int64)
        self.events += n
        cat = self._cat[etype]
        self.internal_events += int(np.count_nonzero(cat == 0))
        for k in np.flatnonzero(etype == E.DROP_E).tolist():
            self._drop_mark(buf, int(lp[k]), int(nparams[k]), int(evend[k]))
        for k in np.flatnonzero(etype == E.PROCINFO_E).tolist():
            self._procinfo(buf, int(ts[k]), int(tid[k]), int(lp[k]), int(nparams[k]),
                           int(evend[k]))
        is_enter = etype % 2 == 0
        container = (etype == E.CONTAINER_E) | (etype == E.CONTAINER_JSON_2_E)
        # pair each exit with its thread's previous event when that is its enter
        part = np.flatnonzero((cat > 0) & ~container)
        o = part[np.argsort(tid[part], kind="stable")]
        a, b = o[:-1], o[1:]
        same = tid[a] == tid[b]
        m = same & is_enter[a] & (etype[b] == etype[a] + 1)
        enter_of = np.full(n, -1, dtype=np.int64)
        enter_of[b[m]] = a[m]
        paired = np.zeros(n, dtype=bool)
        paired[a[m]] = True
        first_of = np.zeros(n, dtype=bool)
        last_of = np.zeros(n, dtype=bool)
        if len(o):
            first_of[o[np.concatenate([[True], ~same])]] = True
            last_of[o[np.concatenate([~same, [True]])]] = True
        cols = _Columns()
        override = np.zeros(n, dtype=bool)
        # enters left pending by the previous chunk
        if self._pending:
            for k in np.flatnonzero(first_of).tolist():
                t = int(tid[k])
                pend = self._pending.get(t)
                if pend is None:
                    continue
                if not is_enter[k] and etype[k] == pend[0].id + 1:
                    override[k] = True  # its exit: the slow path pairs them
                else:
                    del self._pending[t]
                    self._key = k * 8
                    self._enter_only(pend, cols)
        carry = is_enter & ~paired & last_of & (cat > 0) & ~container & \
            (etype != E.PROCEXIT_E) & (etype != E.PROCEXIT_OLD_E)
        slow = ((cat == 2) | override) & ~carry
        # the threads as the chunk starts, for the fast rows (the slow path changes them)
        utids = np.unique(tid[cat > 0]).tolist()
        base = {t: self._thread(t) for t in utids}
        base_attrs = {t: (th.pid, th.comm, th.uid, th.gid, th.cgroup) for t, th in base.items()}
        changes: list[tuple[int, int, tuple]] = []
        info = E.INFO
        clone_execve = E.CLONE_EXITS | E.EXECVE_EXITS
        for k in np.flatnonzero(slow).tolist():
            t = int(tid[k])
            et = int(etype[k])
            ei = info[et]
            raw = self._raw_params(buf, ei, int(lp[k]), int(nparams[k]), et, int(evend[k]))
            self.events = int(num[k])
            self._key = k * 8 + 1
            df = int(dflags[k])
            if ei.enter and et not in (E.PROCEXIT_E, E.PROCEXIT_OLD_E, E.CONTAINER_E,
                                       E.CONTAINER_JSON_2_E):
                if paired[k]:
                    continue  # its exit makes the record
                self._key = k * 8
                self._enter_only((ei, int(ts[k]), int(cpu[k]), raw, int(num[k]), df, t), cols)
                continue
            j = int(enter_of[k])
            self._enter_key = j * 8 if j >= 0 else None
            if j >= 0:
                ej = info[int(etype[j])]
                self._pending[t] = (ej, int(ts[j]), int(cpu[j]),
                                    self._raw_params(buf, ej, int(lp[j]), int(nparams[j]),
                                                     int(etype[j]), int(evend[j])),
                                    int(num[j]), int(dflags[j]), t)
            self._event(ei, int(ts[k]), t, int(cpu[k]), raw, df, cols)
            if et in clone_execve:
                th = self._thread(t)
                changes.append((t, k, (th.pid, th.comm, th.uid, th.gid, th.cgroup)))
        # enters whose exit may come in the next chunk
        for k in np.flatnonzero(carry).tolist():
            t = int(tid[k])
            et = int(etype[k])
            ei = info[et]
            old = self._pending.pop(t, None)
            if old is not None:
                self._key = k * 8
                self._enter_only(old, cols)
            params = self._raw_params(buf, ei, int(lp[k]), int(nparams[k]), et, int(evend[k]))
            self._pending[t] = (ei, int(ts[k]), int(cpu[k]), params, int(num[k]),
                                int(dflags[k]), t)
        self.events = int(num[-1])
        fast = self._fast_rows(u8, etype, is_enter, cat, slow | carry, enter_of, paired, ts,
                               tid, cpu, num, dflags, lp, nparams, base_attrs, changes)
        if fast is not None:
            self._thread_columns(fast, base_attrs, changes)
        if not len(cols) and fast is None:
            return None
        raw, shown = cols.to_batch(fast)
        return self._finish_batch(raw, shown)

    def _finish_batch(self, raw: RawBatch, shown: np.ndarray) -> RawBatch:
        hidden = ~shown
        self._hidden = frozenset(raw.num[hidden].tolist()) if hidden.any() else frozenset()
        if hidden.any() and hasattr(raw, "ctx"):  # the session's "kept for state only"
            raw.ctx = hidden
        self.records += len(raw) + self._left
        self.left_out, self._left = self._left, 0
        return raw

    def _raw_params(self, buf: bytes, ei: E.EventInfo, lp: int, nparams: int, et: int,
                    end: int) -> list[bytes]:
        """The parameters of one event (none if its lengths overrun the event)."""
        n = min(nparams, 8 if et == E.GENERIC_X else len(ei.params))
        if n <= 0:
            return []
        large = ei.large
        pos = lp + nparams * (4 if large else 2)
        if pos > end:
            return []
        lens = E.lens_struct(n, large).unpack_from(buf, lp)
        raw = []
        for ln in lens:
            if pos + ln > end:
                return []
            raw.append(buf[pos:pos + ln])
            pos += ln
        return raw

    def _fast_rows(self, u8: np.ndarray, etype: np.ndarray, is_enter: np.ndarray,
                   cat: np.ndarray, handled: np.ndarray, enter_of: np.ndarray,
                   paired: np.ndarray, ts: np.ndarray, tid: np.ndarray, cpu: np.ndarray,
                   num: np.ndarray, dflags: np.ndarray, lp: np.ndarray, nparams: np.ndarray,
                   base: dict[int, tuple], changes: list[tuple[int, int, tuple]]
                   ) -> dict[str, np.ndarray] | None:
        """The records of the fast event types, column-wise (thread columns added later)."""
        fast = (cat == 1) & ~handled
        exits = fast & ~is_enter
        lone = fast & is_enter & ~paired  # enter-only
        rows = np.flatnonzero(exits | lone)
        if not len(rows):
            return None
        if self.prune is not None:
            rows = self._pruned(u8, rows, etype, is_enter, enter_of, ts, tid, lp, nparams,
                                base, changes)
            if not len(rows):
                return None
        m = len(rows)
        out: dict[str, np.ndarray] = {
            "ts": ts[rows], "lat": np.zeros(m, np.int64), "tid": tid[rows],
            "cpu": cpu[rows], "num": num[rows].copy(), "key": rows * 8 + 1,
            "kind": np.where(is_enter[rows], layout.KIND_SYSCALL_ENTER, layout.KIND_SYSCALL),
            "ret": np.zeros(m, np.int64), "nr": np.full(m, -1, np.int64),
            "args": np.zeros((m, 6), np.uint64), "shown": (dflags[rows] & B.STATE_ONLY) == 0,
            "is_ext": np.zeros(m, bool),
            "l1": np.zeros(m, np.int16), "l2": np.zeros(m, np.int16),
            "flags": np.zeros(m, np.uint8),
        }
        args = out["args"].view(np.int64)
        have = np.zeros((m, 6), dtype=np.int8)  # 2: from the enter, 1: from the exit
        ent = np.where(is_enter[rows], rows, enter_of[rows])  # the enter of each row, or -1
        # str1 and str2 side by side (I/O data runs on from one into the other), one row
        # of "S" for each record of a type that has strings ("srow"; the others: -1)
        may = self._has_str[etype[rows]] | ((ent >= 0) & self._has_str[etype[ent]])
        srow = np.full(m, -1, np.int64)
        srow[may] = np.arange(int(np.count_nonzero(may)))
        out["srow"] = srow
        strs = np.zeros((int(np.count_nonzero(may)), layout.IO_MAX), np.uint8)
        paired_rows = np.flatnonzero((ent >= 0) & ~is_enter[rows])
        out["lat"][paired_rows] = ts[rows[paired_rows]] - ts[ent[paired_rows]]
        # parameters: the exit's first, then the enter's over them
        for side in ("exit", "enter"):
            if side == "exit":
                who = np.flatnonzero(~is_enter[rows])
                ev = rows[who]
            else:
                who = np.flatnonzero(ent >= 0)
                ev = ent[who]
            if not len(who):
                continue
            et_ev = etype[ev]
            key = et_ev * 4096 + np.minimum(nparams[ev], 4095)
            for kv in np.unique(key).tolist():
                sel = key == kv
                w, evs = who[sel], ev[sel]
                et, npar = kv // 4096, kv % 4096
                self._fill(u8, et, npar, w, evs, lp, out, args, have, side, strs)
        # an fd the file does not give is no fd (-1), not fd 0
        by_nr = self.syscalls.by_nr
        for nr in np.unique(out["nr"]).tolist():
            spec = by_nr.get(nr)
            if spec is None:
                continue
            sel = out["nr"] == nr
            for a in spec.args:
                if a.kind in ("fd", "dirfd"):
                    miss = sel & (have[:, a.index] == 0)
                    args[miss, a.index] = -1
        ok = out["nr"] >= 0
        self.internal_events += int(np.count_nonzero(~ok))
        if not ok.all():
            out = {k: v[ok] for k, v in out.items()}
        out["S"] = strs  # the rows srow names
        return out

    def _readable(self, u8: np.ndarray, et: int, npar: int, evs: np.ndarray, lp: np.ndarray,
                  offsets: bool = True) -> tuple[np.ndarray, ...]:
        """(which of events ``evs`` (type ``et``, ``npar`` parameters) have length slots
        and parameters within the event, and the lengths and (with ``offsets``) offsets
        of the parameters the fast path reads, for those): a damaged file's other events
        give nothing."""
        info = E.INFO[et]
        large = info.large
        slot = 4 if large else 2
        n_all = min(npar, 8 if et == E.GENERIC_X else max(len(info.params), 1))
        end = self._evend[evs]
        ok = (lp[evs] + npar * slot) <= end
        if npar > 4096 or not ok.any():
            ok[:] = False
            n_all = 0
        sane = np.flatnonzero(ok)
        if not n_all:
            empty = np.zeros((len(sane), n_all), np.int64)
            return (ok, empty, empty) if offsets else (ok, empty)
        if not offsets:  # the last parameter's end is where they all end (lengths >= 0)
            lens = bulk.length_slots(u8, lp[evs[sane]], n_all, large).astype(np.int64)
            fits = lp[evs[sane]] + npar * slot + lens.sum(axis=1) <= end[sane]
            ok[sane[~fits]] = False
            return ok, lens[fits]
        lens, starts = bulk.param_offsets(u8, lp[evs[sane]], npar, n_all, large)
        fits = (starts + lens).max(axis=1) <= end[sane]
        ok[sane[~fits]] = False
        return ok, lens[fits], starts[fits]

    def _pruned(self, u8: np.ndarray, rows: np.ndarray, etype: np.ndarray,
                is_enter: np.ndarray, enter_of: np.ndarray, ts: np.ndarray, tid: np.ndarray,
                lp: np.ndarray, nparams: np.ndarray, base: dict[int, tuple],
                changes: list[tuple[int, int, tuple]]) -> np.ndarray:
        """``rows`` (fast records) without those the session's raw prefilter drops and
        that change no state (``prune``), decided on the few columns it reads before
        the parameters are parsed; counted in ``_left`` (the session's records seen).

        Each row's syscall number as ``_fill`` would find it: from the event type, or
        a generic event's parameters; -1 where no side is readable (no record)."""
        ent = np.where(is_enter[rows], rows, enter_of[rows])
        nr = np.full(len(rows), -1, np.int64)
        for side in ("exit", "enter"):
            who = np.flatnonzero(~is_enter[rows]) if side == "exit" else np.flatnonzero(ent >= 0)
            ev = rows[who] if side == "exit" else ent[who]
            key = etype[ev] * 4096 + np.minimum(nparams[ev], 4095)
            for kv in np.unique(key).tolist():
                sel = key == kv
                w, evs = who[sel], ev[sel]
                et, npar = kv // 4096, kv % 4096
                ok, lens = self._readable(u8, et, npar, evs, lp, offsets=False)
                w = w[ok]
                slot = 4 if E.INFO[et].large else 2
                if et == E.GENERIC_X:
                    if lens.shape[1] >= 1:
                        at = lp[evs[ok]] + npar * slot
                        sc, pres = bulk.int_param(u8, lens[:, 0], at, "u2")
                        nr[w] = np.where(pres, self._sc_nr[np.clip(sc, 0, 1023)], -1)
                elif et == E.GENERIC_E:
                    if lens.shape[1] >= 2:
                        at = lp[evs[ok]] + npar * slot + lens[:, 0]
                        v, pres = bulk.int_param(u8, lens[:, 1], at, "u2")
                        nr[w[pres]] = v[pres]
                else:
                    nr[w] = self._nr_of[et]
        none = nr < 0
        if none.any():  # as _fast_rows would: not a record
            self.internal_events += int(np.count_nonzero(none))
            rows, ent, nr = rows[~none], ent[~none], nr[~none]
            if not len(rows):
                return rows
        lat = np.where((ent >= 0) & ~is_enter[rows], ts[rows] - ts[np.maximum(ent, 0)], 0)
        pre = _PreColumns({
            "nr": nr, "tid": tid[rows], "latency_ns": lat,
            "kind": np.where(is_enter[rows], layout.KIND_SYSCALL_ENTER, layout.KIND_SYSCALL),
        }, lambda: self._thread_only(tid[rows], rows, base, changes))
        assert self.prune is not None
        try:
            keep = np.array(self.prune(pre, np.ones(len(rows), np.int64)),  # len2: as if
                            dtype=bool)  # addressed (kept); a copy: the last row is set
        except _NotHere:  # the filter reads a column not known yet (evt.res): keep all
            return rows
        keep[-1] = True  # every chunk yields a batch: it carries the count left out
        if not self.records:  # the session's first batch: its first time (evt.reltime's 0)
            keep[int(np.argmin(ts[rows]))] = True
        self._left += int(len(keep) - np.count_nonzero(keep))
        return rows[keep]

    def _thread_only(self, tids: np.ndarray, rows: np.ndarray, base: dict[int, tuple],
                     changes: list[tuple[int, int, tuple]]) -> dict[str, np.ndarray]:
        d = {"tid": tids, "key": rows * 8 + 1}
        self._thread_columns(d, base, changes)
        return {"pid": d["pid"], "comm": d["comm"], "uid": d["uid"], "gid": d["gid"],
                "cgroup_id": d["cg"]}

    def _fill(self, u8: np.ndarray, et: int, npar: int, w: np.ndarray, evs: np.ndarray,
              lp: np.ndarray, out: dict, args: np.ndarray, have: np.ndarray, side: str,
              strs: np.ndarray) -> None:
        """Parameters of events ``evs`` (type ``et``, ``npar`` parameters) into rows ``w``.
        Events whose length slots or lengths overrun the event (a damaged file) give none."""
        info = E.INFO[et]
        ok, lens_all, starts_all = self._readable(u8, et, npar, evs, lp)
        if not ok.all():
            w, evs = w[ok], evs[ok]
            if not len(evs):
                return
        if et in (E.GENERIC_E, E.GENERIC_X):
            n = min(npar, 8 if et == E.GENERIC_X else 2)
            lens, starts = lens_all[:, :n], starts_all[:, :n]
            if et == E.GENERIC_E:
                if n >= 2:
                    v, pres = bulk.int_param(u8, lens[:, 1], starts[:, 1], "u2")
                    out["nr"][w[pres]] = v[pres]
            else:
                if n >= 1:
                    sc, pres = bulk.int_param(u8, lens[:, 0], starts[:, 0], "u2")
                    nr = np.where(pres, self._sc_nr[np.clip(sc, 0, 1023)], -1)
                    unset = out["nr"][w] < 0
                    out["nr"][w[unset]] = nr[unset]
                if n >= 8:  # cdig's writer: res and the six raw arguments
                    r, pres = bulk.int_param(u8, lens[:, 1], starts[:, 1], "i8")
                    out["ret"][w[pres]] = r[pres]
                    for j in range(6):
                        v, pj = bulk.int_param(u8, lens[:, 2 + j], starts[:, 2 + j], "u8")
                        args[w[pj], j] = v[pj]
                        have[w[pj], j] = 2
            return
        nr = self._nr_of[et]
        out["nr"][w] = nr
        if side == "exit" and not info.params and npar >= 1:  # cdig's writer: the result
            v, pres = bulk.int_param(u8, lens_all[:, 0], starts_all[:, 0], "i8")
            out["ret"][w[pres]] = v[pres]
            return
        amap = self._argmap.get(et, [])
        pmap = self._pathmap.get(et, [])
        data_pi = self._datamap.get(et, -1) if side == "exit" else -1
        need = max([x[0] for x in amap] + [x[0] for x in pmap] + [data_pi] +
                   ([0] if et in self._ret_param else []) + [-1]) + 1
        n = min(npar, need, len(info.params))
        if n <= 0:
            return
        lens, starts = lens_all[:, :n], starts_all[:, :n]
        rank = 2 if side == "enter" else 1
        if side == "exit" and et in self._ret_param:
            v, pres = bulk.int_param(u8, lens[:, 0], starts[:, 0], self._ret_param[et])
            out["ret"][w[pres]] = v[pres]
        for pi, pt, ai, _kind, codec in amap:
            if pi >= n:
                continue
            v, pres = bulk.int_param(u8, lens[:, pi], starts[:, pi], pt)
            if codec is not None:
                v = codec(v)
            take = pres & (have[w, ai] < rank)
            args[w[take], ai] = v[take]
            have[w[take], ai] = rank
        for pi, which in pmap:
            if pi >= n or which > 1:
                continue
            width = bulk.STR_WIDTH[which]
            rows_, slen = bulk.str_param(u8, lens[:, pi], starts[:, pi], width)
            lcol = "l1" if which == 0 else "l2"
            at = 0 if which == 0 else layout.STR1_LEN
            pres = lens[:, pi] > 0
            take = pres & ((out[lcol][w] == 0) | (rank == 2))
            strs[out["srow"][w[take]], at:at + width] = rows_[take]
            out[lcol][w[take]] = (slen[take] + 1).astype(np.int16)
            out["is_ext"][w[take]] = True
        if 0 <= data_pi < n:  # the data: str1 on into str2, as the probe writes it
            dlen = np.minimum(lens[:, data_pi], layout.IO_MAX).astype(np.int64)
            ww = w
            had = out["is_ext"][ww]
            if had.any():  # a string written before: the data replaces it
                strs[out["srow"][ww[had]]] = 0
            bulk.rows_into(u8, dlen, starts[:, data_pi], strs, out["srow"][ww])
            out["l1"][ww] = dlen.astype(np.int16)
            out["l2"][ww] = 0
            out["flags"][ww] |= layout.FLAG_IO_DATA
            out["is_ext"][ww] = True

    def _thread_columns(self, fast: dict[str, np.ndarray], base: dict[int, tuple],
                        changes: list[tuple[int, int, tuple]]) -> None:
        """pid, comm, uid, gid, cgroup of each fast row: its thread as of that row."""
        tids = fast["tid"]
        uniq, inv = np.unique(tids, return_inverse=True)
        attrs = [base.get(int(t)) or self._attrs(int(t)) for t in uniq.tolist()]
        pid = np.array([a[0] for a in attrs], dtype=np.int64)[inv]
        comm = np.array([a[1] for a in attrs], dtype=f"S{layout.COMM_LEN}")[inv]
        uid = np.array([a[2] for a in attrs], dtype=np.int64)[inv]
        gid = np.array([a[3] for a in attrs], dtype=np.int64)[inv]
        cg = np.array([a[4] for a in attrs], dtype=np.uint64)[inv]
        if changes:  # as-of: the last change of the row's thread at or before the row
            changes.sort(key=lambda c: (c[0], c[1]))
            ct = np.array([c[0] for c in changes], dtype=np.int64)
            ck = (ct << 32) | np.array([c[1] for c in changes], dtype=np.int64)
            fk = (tids << 32) | (fast["key"] // 8)
            at = np.searchsorted(ck, fk, side="right") - 1
            ok = at >= 0
            ok[ok] = ct[at[ok]] == tids[ok]
            if ok.any():
                r, i = np.flatnonzero(ok), at[ok]
                pid[r] = np.array([c[2][0] for c in changes], dtype=np.int64)[i]
                comm[r] = np.array([c[2][1] for c in changes], dtype=f"S{layout.COMM_LEN}")[i]
                uid[r] = np.array([c[2][2] for c in changes], dtype=np.int64)[i]
                gid[r] = np.array([c[2][3] for c in changes], dtype=np.int64)[i]
                cg[r] = np.array([c[2][4] for c in changes], dtype=np.uint64)[i]
        fast["pid"], fast["comm"], fast["uid"], fast["gid"], fast["cg"] = pid, comm, uid, gid, cg

    def _attrs(self, tid: int) -> tuple:
        th = self._thread(tid)
        return (th.pid, th.comm, th.uid, th.gid, th.cgroup)

    def _fd_answer(self, buf: bytes, p: int, end: int) -> None:
        """A CDIG_FD_EVENT: the /proc answers about one fd, for ScapProcFS."""
        try:
            ln = _U16.unpack_from(buf, p + 26)[0]
            d = json.loads(bytes(buf[p + 28:min(p + 28 + ln, end)]))
            pid, fd, target = int(d["pid"]), int(d["fd"]), str(d["target"])
        except (ValueError, KeyError, TypeError, struct.error):
            self.skipped_events[CDIG_FD_EVENT] = self.skipped_events.get(CDIG_FD_EVENT, 0) + 1
            return
        a = self.procfs.answers
        a["fd", pid, fd] = target
        if "dir" in d:
            a["dir", target] = bool(d["dir"])
        if target.startswith("socket:[") and target[8:-1].isdigit():
            t = d.get("sock")
            a["sock", pid, int(target[8:-1])] = (str(t[0]), str(t[1]), int(t[2]), str(t[3]),
                                                 int(t[4])) if isinstance(t, list) and \
                len(t) == 5 else None

    # -- one event -------------------------------------------------------------------
    def _thread(self, tid: int) -> _Thread:
        t = self.threads.get(tid)
        if t is None:
            t = self.threads[tid] = _Thread(tid, tid, 0, b"<NA>", 0, 0, 0)
        return t

    def _event(self, ei: E.EventInfo, ts: int, tid: int, cpu: int, raw: list[bytes],
               dflags: int, cols: _Columns) -> None:
        etype = ei.id
        if ei.enter:
            if etype in (E.PROCEXIT_E, E.PROCEXIT_OLD_E):
                self._flush_tid(tid, cols)
                self._record(cols, layout.KIND_EXIT, ts, 0, tid, 0, 0, (0,) * 6, cpu,
                             self.events, dflags)
                return
            if etype in (E.CONTAINER_E, E.CONTAINER_JSON_2_E):
                if raw:
                    self._container_json(raw[0])
                return
            if etype == E.GENERIC_E or etype in self._spec_of:
                old = self._pending.get(tid)
                if old is not None:
                    self._enter_only(old, cols)
                self._pending[tid] = (ei, ts, cpu, raw, self.events, dflags, tid)
                return
            if etype == E.PROCINFO_E and len(raw) >= 2 and len(raw[0]) == len(raw[1]) == 8:
                self.procinfo.append((ts, tid, int.from_bytes(raw[0], "little") +
                                      int.from_bytes(raw[1], "little")))
            self.internal_events += 1  # switch, procinfo, drop, signaldeliver …
            return
        # an exit event
        pend = self._pending.pop(tid, None)
        if pend is not None and pend[0].id != etype - 1:
            self._enter_only(pend, cols)
            pend = None
        if etype == E.GENERIC_X:
            if pend is None:
                nr = self._ppm_sc_nr(raw)
            else:
                native = E.value("u2", pend[3][1]) if len(pend[3]) > 1 else None
                nr = native if isinstance(native, int) else self._ppm_sc_nr(raw)
            if nr is None:
                self.internal_events += 1
                return
            spec = self.syscalls.by_nr.get(nr)
            ret = 0
            args6: tuple[int, ...] | None = None
            if len(raw) >= 8 and len(raw[1]) == 8 and all(len(a) == 8 for a in raw[2:8]):
                ret = struct.unpack("<q", raw[1])[0]
                args6 = struct.unpack("<6Q", b"".join(raw[2:8]))
            self._syscall_record(spec, nr, ei, pend, ts, tid, cpu, raw, ret, dflags, cols,
                                 generic=True, raw_args=args6)
            return
        spec = self._spec_of.get(etype)
        if spec is None:
            self.internal_events += 1
            return
        first = ei.params[0] if ei.params else None
        ret = 0
        if first is not None and raw and first[0] in ("res", "fd", "res_or_fd") and \
                first[1] != "d":
            v = E.value(first[1], raw[0])
            ret = v if isinstance(v, int) else 0
        if etype in E.CLONE_EXITS:
            self._clone_exit(ei, pend, ts, tid, cpu, raw, ret, dflags, cols, spec)
            return
        if etype in E.EXECVE_EXITS:
            self._execve_exit(ei, pend, ts, tid, cpu, raw, ret, dflags, cols, spec)
            return
        self._syscall_record(spec, spec.nr, ei, pend, ts, tid, cpu, raw, ret, dflags, cols)

    def _ppm_sc_nr(self, raw: list[bytes]) -> int | None:
        if not raw:
            return None
        sc = E.value("u2", raw[0])
        name = E.PPM_SC.get(sc) if isinstance(sc, int) else None
        spec = self.syscalls.by_name.get(name) if name else None
        return spec.nr if spec is not None else None

    def _params(self, ei: E.EventInfo, raw: list[bytes]) -> dict[str, Any]:
        return {name: E.value(pt, raw[i]) for i, (name, pt) in enumerate(ei.params[:len(raw)])
                if raw[i]}

    def _args(self, spec: Any, p: dict[str, Any], cols_strs: list[bytes]) -> list[int]:
        """cdig raw arguments of ``spec`` from merged scap parameters ``p``; paths are
        appended to ``cols_strs``."""
        args = [0] * 6
        for a in spec.args:
            k = a.kind
            if k in ("addr", "addrp", "argv"):
                continue
            v = None
            for name in (a.name, *E.PARAM_ALIAS.get(a.name, ())):
                if name in p:
                    v = p[name]
                    break
            if k == "path":
                cols_strs.append(v if isinstance(v, bytes) else b"")
                continue
            if not isinstance(v, int):
                if k in ("fd", "dirfd"):  # not in the file: no fd, rather than fd 0
                    args[a.index] = _MASK64
                continue
            codec = E.ARG_CODECS.get((spec.name, a.name))
            if codec is not None:
                v = codec[0](v)
            elif k == "oflags":
                v = E.open_flags_from_ppm(v)
            elif k == "cflags":
                v = E.clone_flags_from_ppm(v)
            args[a.index] = v & _MASK64
        return args

    def _syscall_record(self, spec: Any, nr: int, ei: E.EventInfo, pend: tuple | None, ts: int,
                        tid: int, cpu: int, raw: list[bytes], ret: int, dflags: int,
                        cols: _Columns, generic: bool = False,
                        raw_args: tuple[int, ...] | None = None) -> None:
        if spec is None or raw_args is not None:  # unknown to cdig's table, or cdig-written
            self._record(cols, layout.KIND_SYSCALL, ts, ts - pend[1] if pend else 0, tid, nr,
                         ret, raw_args or (0,) * 6, cpu, self.events, dflags)
            return
        p: dict[str, Any] = {}
        if not generic:
            if pend is not None:
                p = self._params(pend[0], pend[3])
            xp = self._params(ei, raw)
            if ei.params and ei.params[0][0] in ("res", "fd"):
                xp.pop(ei.params[0][0], None)  # the return value, not an argument
            for k, v in xp.items():
                p.setdefault(k, v)
        strs: list[bytes] = []
        args = self._args(spec, p, strs)
        s1 = strs[0] if strs else None
        s2 = strs[1] if len(strs) > 1 else None
        flags = 0
        if spec.addr_arg != 255:
            s2, s1, flags = self._addr(spec.name, p)
            if s1 is None and strs:
                s1 = strs[0]
            name = spec.name
            pid = self._thread(tid).pid
            if name == "bind" and ret == 0 and s2 and isinstance(p.get("fd"), int):
                self._listening.setdefault(pid, {})[p["fd"]] = s2[:8] if s2[:2] == b"\2\0" \
                    else s2[:24]
            elif name in ("accept", "accept4") and args[0] == _MASK64:
                # scap's accept has no listening fd: the one bound to the tuple's server end
                server = E.tuple_ends(p["tuple"])[1] if isinstance(p.get("tuple"), bytes) else b""
                for fd, bound in self._listening.get(pid, {}).items():
                    if server and _same_endpoint(bound, server):
                        args[0] = fd
                        break
        lat = ts - pend[1] if pend is not None else 0
        data = p.get("data") if spec.io else None
        if data is None and spec.io and not generic and any(n == "data" for n, _ in ei.params):
            data = b""  # an empty data parameter (a failed call): sysdig's data=
        if isinstance(data, bytes):  # the data: str1 on into str2, unless str2 is an address
            flags |= layout.FLAG_IO_DATA
            if spec.addr_arg != 255:
                s1 = data[:layout.STR1_LEN]
            else:
                s1, s2 = data[:layout.STR1_LEN], data[layout.STR1_LEN:layout.IO_MAX]
        self._record(cols, layout.KIND_SYSCALL, ts, lat, tid, nr, ret, args, cpu, self.events,
                     dflags, s1, s2, flags=flags, s2_raw=spec.addr_arg != 255)

    def _addr(self, name: str, p: dict[str, Any]) -> tuple[bytes | None, bytes | None, int]:
        """(str2 sockaddr, str1 local sockaddr or None, record flags) of a socket call."""
        tup = p.get("tuple")
        addr = p.get("addr")
        if name == "connect":
            if isinstance(tup, bytes) and tup:
                src, dst = E.tuple_ends(tup)
                if dst:
                    return dst, src or None, layout.FLAG_LOCAL_ADDR if src else 0
            if isinstance(addr, bytes):
                return E.sockaddr_to_linux(addr), None, 0
            return b"", None, 0
        if name == "bind":
            return (E.sockaddr_to_linux(addr) if isinstance(addr, bytes) else b""), None, 0
        if isinstance(tup, bytes) and tup:
            src, dst = E.tuple_ends(tup)
            if name in ("accept", "accept4", "recvfrom", "recvmsg"):
                return src, None, 0
            return dst, None, 0
        return b"", None, 0

    def _enter_only(self, pend: tuple, cols: _Columns) -> None:
        ei, ts, cpu, raw, num, dflags, tid = pend
        strs: list[bytes] = []
        if ei.id == E.GENERIC_E:
            native = E.value("u2", raw[1]) if len(raw) > 1 else None
            if not isinstance(native, int):
                return
            nr = native
            args: list[int] | tuple[int, ...] = (0,) * 6
        else:
            spec = self._spec_of[ei.id]
            nr = spec.nr
            args = self._args(spec, self._params(ei, raw), strs)
        self._record(cols, layout.KIND_SYSCALL_ENTER, ts, 0, tid, nr, 0, args, cpu, num, dflags,
                     strs[0] if strs else None, strs[1] if len(strs) > 1 else None)

    def _flush_tid(self, tid: int, cols: _Columns) -> None:
        pend = self._pending.pop(tid, None)
        if pend is not None:
            self._enter_only(pend, cols)

    def _flush_pending(self, cols: _Columns) -> None:
        for _tid, pend in sorted(self._pending.items(), key=lambda kv: kv[1][4]):
            self._enter_only(pend, cols)
        self._pending.clear()

    def _clone_exit(self, ei: E.EventInfo, pend: tuple | None, ts: int, tid: int, cpu: int,
                    raw: list[bytes], ret: int, dflags: int, cols: _Columns, spec: Any) -> None:
        p = self._params(ei, raw)
        pflags = p.get("flags", 0) if isinstance(p.get("flags"), int) else 0
        if ret == 0:  # in the child: its thread info, and the probe's FORK record
            child = p.get("tid", tid)
            ptid = p.get("ptid", 0)
            parent = self.threads.get(ptid) if isinstance(ptid, int) else None
            pid = p.get("pid", tid)
            cg = self._cgroup_of(B.cgroup_path(p["cgroups"])) if isinstance(
                p.get("cgroups"), bytes) else (parent.cgroup if parent else 0)
            args = p.get("args")
            argv = [_s(a) for a in args.split(b"\0")] if isinstance(args, bytes) and args else []
            if argv and not argv[-1]:
                argv.pop()
            comm = p.get("comm") if isinstance(p.get("comm"), bytes) else \
                (parent.comm if parent else b"<NA>")
            self.threads[tid] = _Thread(tid, pid if isinstance(pid, int) else tid,
                                        ptid if isinstance(ptid, int) else 0,
                                        comm[:layout.COMM_LEN],
                                        p.get("uid", 0) if isinstance(p.get("uid"), int) else 0,
                                        p.get("gid", 0) if isinstance(p.get("gid"), int) else 0,
                                        cg, _s(p.get("exe")), argv, _s(p.get("cwd")))
            if dflags & B.STATE_ONLY:  # cdig's writer introducing a thread: state only
                return
            if parent is not None:  # the probe's FORK record, in the parent
                self._record(cols, layout.KIND_FORK, ts, 0, parent.tid, 0, 0,
                             (child & _MASK64, parent.tid, 0, 0, 0, 0), cpu, self.events, 0)
            if dflags & EVF_BLOCK:  # cdig's writer: the FORK record alone
                return
            # sysdig shows the child's return from clone (cdig's probe cannot see it):
            # a completed record too
            self._record(cols, layout.KIND_SYSCALL, ts, 0, tid, spec.nr, 0,
                         (E.clone_flags_from_ppm(pflags) if spec.name == "clone" else 0,
                          0, 0, 0, 0, 0), cpu, self.events, dflags)
            return
        args6 = [0] * 6
        if spec.name == "clone":
            args6[0] = E.clone_flags_from_ppm(pflags)
        lat = ts - pend[1] if pend is not None else 0
        self._record(cols, layout.KIND_SYSCALL, ts, lat, tid, spec.nr, ret, args6, cpu,
                     self.events, dflags)

    def _execve_exit(self, ei: E.EventInfo, pend: tuple | None, ts: int, tid: int, cpu: int,
                     raw: list[bytes], ret: int, dflags: int, cols: _Columns, spec: Any) -> None:
        p = self._params(ei, raw)
        filename = b""
        if pend is not None:
            ep = self._params(pend[0], pend[3])
            v = ep.get("filename", ep.get("pathname"))
            filename = v if isinstance(v, bytes) else b""
        exe = p.get("exe") if isinstance(p.get("exe"), bytes) else b""
        args = p.get("args") if isinstance(p.get("args"), bytes) else b""
        argv = [exe] + [a for a in args.split(b"\0")] if exe or args else []
        if argv and argv[-1] == b"" and len(argv) > 1:
            argv.pop()
        packed = b"\0".join(argv) + b"\0" if argv else b""
        if pend is not None:  # the probe's enter-only record: filename and argv
            key = self._key
            if self._enter_key is not None:  # in the place of the enter
                self._key = self._enter_key
            self._record(cols, layout.KIND_SYSCALL_ENTER, pend[1], 0, tid, spec.nr, 0,
                         (0,) * 6, pend[2], pend[4], pend[5], filename or exe,
                         packed[:layout.STR2_LEN], argc=len(argv), s2_raw=True)
            self._key = key
        t = self._thread(tid)
        if ret == 0:
            comm = p.get("comm")
            if isinstance(comm, bytes):
                t.comm = comm[:layout.COMM_LEN]
            if isinstance(p.get("cgroups"), bytes):
                t.cgroup = self._cgroup_of(B.cgroup_path(p["cgroups"]))
            t.exe = _s(exe)
            t.args = [_s(a) for a in argv[1:]]
            if isinstance(p.get("cwd"), bytes):
                t.cwd = _s(p["cwd"])
            if isinstance(p.get("pid"), int):
                t.pid = p["pid"]
            self._record(cols, layout.KIND_EXEC, ts, 0, tid, 0, 0, (t.pid, 0, 0, 0, 0, 0), cpu,
                         self.events, dflags, filename or exe)
        self._record(cols, layout.KIND_SYSCALL, ts, ts - pend[1] if pend else 0, tid, spec.nr,
                     ret, (0,) * 6, cpu, self.events, dflags, filename or exe)

    def _record(self, cols: _Columns, kind: int, ts: int, lat: int, tid: int, nr: int, ret: int,
                args: Sequence[int], cpu: int, num: int, dflags: int, s1: bytes | None = None,
                s2: bytes | None = None, flags: int = 0, argc: int = 0,
                s2_raw: bool = False) -> None:
        t = self._thread(tid)
        row = len(cols.ts)
        cols.key.append(self._key)
        self._key += 1
        # values from the file go into fixed-width columns: a damaged file must not
        # overflow them (the probe's widths: u64 times, u32 ids, u16 syscall numbers)
        cols.ts.append(ts & _MASK64)
        cols.lat.append(min(max(lat, 0), _MASK64))
        cols.cg.append(t.cgroup)
        cols.ret.append(_s64(ret))
        cols.args.append(tuple(a & _MASK64 for a in args))
        cols.pid.append(t.pid & 0xFFFFFFFF)
        cols.tid.append(tid & 0xFFFFFFFF)
        cols.uid.append(t.uid & 0xFFFFFFFF)
        cols.gid.append(t.gid & 0xFFFFFFFF)
        cols.nr.append(nr & 0xFFFF)
        cols.kind.append(kind)
        cols.flags.append(flags)
        cols.cpu.append(cpu & 0xFFFFFFFF)
        cols.comm.append(t.comm)
        cols.num.append(num)
        cols.shown.append(not dflags & B.STATE_ONLY)
        if flags & layout.FLAG_IO_DATA:  # s1 (and s2 when no address) hold the data
            b1 = s1 or b""
            b2 = s2 or b""
            cols.ext_row.append(row)
            cols.s1.append(b1)
            cols.s2.append(b2)
            cols.l1.append(len(b1) + (0 if s2_raw else len(b2)))
            cols.l2.append(len(b2) if s2_raw else 0)
            cols.argc.append(argc)
            cols.pad.append(0)
        elif s1 is not None or s2 is not None or kind == layout.KIND_EXEC:
            b1 = (s1 or b"")[:layout.STR1_LEN - 1]
            b2 = (s2 or b"")[:layout.STR2_LEN if s2_raw else layout.STR2_LEN - 1]
            cols.ext_row.append(row)
            cols.s1.append(b1)
            cols.s2.append(b2)
            # C strings count their NUL, as bpf_probe_read_user_str does; sockaddrs
            # and packed argv are raw bytes
            cols.l1.append(len(b1) if flags & layout.FLAG_LOCAL_ADDR or s1 is None
                           else len(b1) + 1)
            cols.l2.append(len(b2) if s2_raw or s2 is None else min(len(b2) + 1,
                                                                   layout.STR2_LEN))
            cols.argc.append(argc)
            cols.pad.append(0)
