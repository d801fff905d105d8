"""Process and fd tables, kept current from events; enrichment of events.

Seeded from /proc (a process that started before cdig still has a name),
then updated from exec/fork/exit and open/close/dup/socket/connect/accept
events. Both tables are bounded: exited processes are evicted after a grace
period, and the oldest entries go first when a table is full.
"""

from __future__ import annotations

import copy
import posixpath
from collections import OrderedDict
from collections.abc import Callable
from typing import Any, Protocol

from . import procfs
from .decode import AT_FDCWD
from .events import HOST, Container, Event, EventKind, FdInfo, Process
from .fd_names import SOCK_DOMAIN, SOCK_TYPE, accepted, fd_from_target, name_socket
from .procfs import ProcFS

ContainerLookup = Callable[[int, int], Container]  # (cgroup_id, pid) -> Container

# connect(2) of a non-blocking socket: the handshake was started, and the socket
# is connecting to the address it was given (curl, Go, Java … connect this way)
EINPROGRESS = 115
_FD_SINCE_MAX = 1 << 20  # creation times kept for close (then forgotten, all at once)
_EXEC_CALLS = frozenset({"execve", "execveat"})
_OPEN_CALLS = frozenset({"open", "openat", "openat2", "creat", "memfd_create"})


class Sighting(Protocol):
    """What ``State.process`` reads of an event: an Event, or state_rows' stand-in row."""

    pid: int
    comm: str
    cgroup_id: int
    uid: int
    ts_ns: int


class State:
    """The collector's view of processes and their fds.

    ``container_of(cgroup_id, pid)`` names the container of a record; it is
    called once per new (cgroup, pid) and cached by the caller's resolver.
    ``procfs`` answers the /proc questions (default: ``ProcFS(proc_root)``);
    capture and replay substitute recording and recorded ones.
    """

    def __init__(self, container_of: ContainerLookup | None = None,
                 proc_root: str = procfs.PROC_ROOT, max_procs: int = 65536,
                 max_fds_per_proc: int = 4096, exit_grace_s: float = 5.0,
                 procfs: ProcFS | None = None) -> None:
        self.proc_root = proc_root
        self.procfs = procfs or ProcFS(proc_root)
        self.container_of = container_of or (lambda cg, pid: HOST)
        self.procs: OrderedDict[int, Process] = OrderedDict()
        self.fds: dict[int, dict[int, FdInfo]] = {}
        self.max_procs = max_procs
        self.max_fds = max_fds_per_proc
        self.exit_grace_ns = int(exit_grace_s * 1e9)
        self._parent_of: dict[int, int] = {}  # child tid -> parent tgid, from fork records
        self._born: dict[int, int] = {}  # child tid -> ts_ns of its fork record
        # (pid, fd) -> ts_ns of the record that created the fd's current file (close)
        self._fd_since: dict[tuple[int, int], int] = {}
        self.now_ns = 0  # the record being applied
        self._argv: dict[int, tuple[str, list[str]]] = {}  # tid -> execve (filename, argv)
        self._exited: dict[int, int] = {}  # pid -> ts_ns of its exit
        self._containers: dict[int, Container] = {}  # cgroup id -> container
        self._last_sweep = 0

    # -- processes -----------------------------------------------------------------
    def seed(self) -> int:
        """Read every process from /proc; returns how many were found."""
        for pid in self.procfs.list_pids():
            if pid not in self.procs:
                self._from_proc(pid, None, 0)
        for p in self.procs.values():  # parents read after their children
            if p.parent is None:
                p.parent = self.procs.get(p.ppid)
        return len(self.procs)

    def _container(self, cgroup_id: int, pid: int) -> Container:
        c = self._containers.get(cgroup_id)
        if c is None:
            c = self.container_of(cgroup_id, pid)
            if cgroup_id:
                self._containers[cgroup_id] = c
        return c

    def _from_proc(self, pid: int, comm: str | None, cgroup_id: int) -> Process:
        info = self.procfs.read_proc(pid)
        if info is None:  # vanished: what the record says is all we have
            p = Process(pid=pid, ppid=self._parent_of.pop(pid, 0), name=comm or "<NA>",
                        cgroup_id=cgroup_id)
        else:
            args = info.argv[1:] if info.argv else []
            p = Process(pid=pid, ppid=info.ppid, name=comm or info.name, exe=info.exe,
                        args=args, uid=info.uid, cgroup_id=cgroup_id,
                        start_ns=info.start_ns or 0, info=info,
                        parent=self.procs.get(info.ppid))
        p.container = self._container(cgroup_id, pid)
        self._add(p)
        return p

    def _replace(self, p: Process) -> Process:
        """A copy of ``p`` put in its place: events already enriched keep the old
        one (what was true when they happened), later ones see the copy."""
        q = copy.copy(p)
        q.args = list(p.args)
        self.procs[p.pid] = q
        return q

    def _add(self, p: Process) -> None:
        self.procs[p.pid] = p
        if len(self.procs) > self.max_procs:
            old, _ = self.procs.popitem(last=False)
            self.fds.pop(old, None)

    def process(self, ev: Sighting) -> Process:
        """The Process of an event's tgid, created on first sight."""
        p = self.procs.get(ev.pid)
        if p is None:
            parent = self._parent_of.pop(ev.pid, None)
            born = self._born.pop(ev.pid, ev.ts_ns)
            if parent is not None:
                # a fork we saw: the child inherits the parent's image
                pp = self.procs.get(parent)
                p = Process(pid=ev.pid, ppid=parent, name=ev.comm, cgroup_id=ev.cgroup_id,
                            exe=pp.exe if pp else "", args=list(pp.args) if pp else [],
                            uid=ev.uid, start_ns=born, cwd=pp.cwd if pp else "",
                            parent=pp)
                p.container = self._container(ev.cgroup_id, ev.pid)
                self._add(p)
                if pp is not None and ev.pid not in self.fds and pp.pid in self.fds:
                    self.fds[ev.pid] = dict(self.fds[pp.pid])
            else:
                p = self._from_proc(ev.pid, ev.comm, ev.cgroup_id)
        elif p.cgroup_id != ev.cgroup_id and ev.cgroup_id:
            # moved to another cgroup (e.g. runc puts its init into the container's)
            p = self._replace(p)
            p.cgroup_id = ev.cgroup_id
            p.container = self._container(ev.cgroup_id, ev.pid)
        return p

    # -- fds -----------------------------------------------------------------------
    def fd(self, pid: int, fd: int) -> FdInfo | None:
        """What ``fd`` of ``pid`` refers to, from events or else from /proc."""
        if fd < 0:
            return None
        table = self.fds.setdefault(pid, {})
        info = table.get(fd)
        if info is None:
            target = self.procfs.fd_target(pid, fd)
            if target is None:
                return None
            info = fd_from_target(pid, fd, target, self.procfs)
            self._set_fd(pid, info)
        return info

    def _set_fd(self, pid: int, info: FdInfo, created: bool = False) -> None:
        """``info`` as ``pid``'s fd ``info.num``; ``created``: by the record being
        applied (an open, socket, accept, dup), not a rename of the same file."""
        table = self.fds.setdefault(pid, {})
        table[info.num] = info
        if created:
            if len(self._fd_since) > _FD_SINCE_MAX:
                self._fd_since.clear()  # then closes are applied as they come, as before
            self._fd_since[(pid, info.num)] = self.now_ns
        if len(table) > self.max_fds:
            table.pop(next(iter(table)))

    def _close_fd(self, pid: int, num: int, latency_ns: int) -> None:
        """close(num) by ``pid``, whose record is the one being applied.

        The kernel frees the number inside close, before its exit is recorded: another
        thread's accept or open can take the number and exit first (a server whose
        handler closes a connection while the next one is accepted). A close entered
        before the fd's current file was created closed the earlier one: kept."""
        entered = self.now_ns - latency_ns
        if 0 < latency_ns < self.now_ns and entered < self._fd_since.get((pid, num), 0):
            return
        self.fds.get(pid, {}).pop(num, None)
        self._fd_since.pop((pid, num), None)

    def _abspath(self, proc: Process, dirfd: int, path: str) -> str:
        if not path or path.startswith("/"):
            return posixpath.normpath(path) if path else path
        if dirfd == AT_FDCWD:
            if not proc.cwd:
                proc.cwd = self.procfs.cwd(proc.pid) or ""
            base = proc.cwd
        else:
            d = self.fd(proc.pid, dirfd)
            base = d.name if d else ""
        return posixpath.normpath(posixpath.join(base, path)) if base else path

    # -- the update ----------------------------------------------------------------
    def update(self, ev: Event) -> Event:
        """Attach process, container and fd to ``ev`` and apply its effects."""
        self.now_ns = ev.ts_ns
        kind = ev.kind
        if kind == EventKind.FORK:
            # dated by the fork itself, not by the child's first event that gets here
            # (a filter or a prune may hide the child's first syscalls)
            child = ev.args["child_tid"]
            self._parent_of[child] = ev.pid
            self._born[child] = ev.ts_ns
            if len(self._parent_of) > self.max_procs:
                oldest = next(iter(self._parent_of))
                del self._parent_of[oldest]
                self._born.pop(oldest, None)
        proc = self.process(ev)
        ev.proc = proc
        ev.container = proc.container if proc.cgroup_id == ev.cgroup_id else \
            self._container(ev.cgroup_id, ev.pid)
        if kind == EventKind.SYSCALL:
            self._syscall(ev, proc)
        elif kind == EventKind.SYSCALL_ENTER:
            if ev.type in ("execve", "execveat"):
                self._argv[ev.tid] = (ev.args.get("filename", ""), ev.args.get("argv", []))
            elif ev.type == "exit_group":
                pass
        elif kind == EventKind.EXEC:
            filename, argv = self._argv.pop(ev.tid, ("", []))
            proc = ev.proc = self._replace(proc)
            proc.name = ev.comm
            proc.exe = ev.args.get("filename") or filename
            proc.args = argv[1:] if argv else []
            if ev.args.get("old_pid") and ev.args["old_pid"] != ev.pid:
                # a non-leader thread exec'd: the kernel gave it the leader's pid
                self.procs.pop(ev.args["old_pid"], None)
        elif kind == EventKind.EXIT:
            self._argv.pop(ev.tid, None)
            if ev.tid == ev.pid:
                proc.exited = True
                self._exited[ev.pid] = ev.ts_ns
        if ev.ts_ns - self._last_sweep > self.exit_grace_ns:
            self._sweep(ev.ts_ns)
        return ev

    def _sweep(self, now_ns: int) -> None:
        self._last_sweep = now_ns
        for pid, ts in list(self._exited.items()):
            if now_ns - ts > self.exit_grace_ns:
                del self._exited[pid]
                p = self.procs.get(pid)
                if p is not None and p.exited:
                    del self.procs[pid]
                    self.fds.pop(pid, None)

    def _syscall(self, ev: Event, proc: Process) -> None:
        typ = ev.type
        args = ev.args
        pid = ev.pid
        res = ev.res
        fdnum = args.get("fd", args.get("oldfd", args.get("out_fd", args.get("epfd"))))
        if isinstance(fdnum, int) and typ not in ("close_range", "signalfd4", "epoll_ctl"):
            ev.fd = self.fd(pid, fdnum)
        if res < 0 and not (res == -EINPROGRESS and typ == "connect"):
            return
        if typ in _EXEC_CALLS:
            ev.args = self._exec_args(ev, proc)
        elif typ in _OPEN_CALLS:
            if typ == "memfd_create":
                info = FdInfo(num=res, type="memfd", name="memfd:" + args.get("name", ""))
            else:
                path = self._abspath(proc, args.get("dirfd", AT_FDCWD), args.get("path", ""))
                flags = args.get("flags", "")
                typ_ = "directory" if "O_DIRECTORY" in str(flags) else "file"
                info = FdInfo(num=res, type=typ_, name=path)
            self._set_fd(pid, info, created=True)
            ev.fd = info
        elif typ == "close":
            self._close_fd(pid, args.get("fd", -1), ev.latency_ns)
        elif typ in ("dup", "dup2", "dup3") or (typ == "fcntl" and args.get("cmd") in (0, 1030)):
            old = ev.fd
            if old is not None:
                new = FdInfo(**{s: getattr(old, s) for s in FdInfo.__slots__})
                new.num = res
                self._set_fd(pid, new, created=True)
        elif typ == "socket":
            domain = args.get("domain", 0)
            stype = args.get("type", 0) & 0xF
            info = FdInfo(num=res, type=SOCK_DOMAIN.get(domain, "other"), name="",
                          l4proto=SOCK_TYPE.get(stype, "") if domain in (2, 10) else "")
            self._set_fd(pid, info, created=True)
            ev.fd = info
        elif typ in ("connect", "bind", "sendto", "sendmsg") and ev.fd is not None and \
                (typ in ("connect", "bind") or args.get("addr")):
            # a copy: events before this one keep the socket's name as it was then
            info = ev.fd = copy.copy(ev.fd)
            self._set_fd(pid, info)
            name_socket(self.procfs, pid, info, typ, args.get("addr", ""), args.get("local", ""))
        elif typ in ("accept", "accept4"):
            info = ev.fd = accepted(self.procfs, pid, res, ev.fd, args.get("addr", ""))
            self._set_fd(pid, info, created=True)
        elif typ in ("pipe", "pipe2", "socketpair"):
            pass  # the fds are in user memory; named from /proc when first used
        elif typ in ("chdir", "fchdir"):
            # a copy: events before this one keep the directory they ran in (proc.cwd)
            if typ == "chdir":
                cwd = self._abspath(proc, AT_FDCWD, args.get("path", ""))
            else:
                cwd = ev.fd.name if ev.fd is not None and ev.fd.type == "directory" else ""
            proc = ev.proc = self._replace(proc)
            proc.cwd = cwd if cwd.startswith("/") else ""  # else re-read lazily

    def _exec_args(self, ev: Event, proc: Process) -> dict[str, Any]:
        """What sysdig's execve exit event carries, from the process the exec made:
        the new image (the record itself has only the enter's pointers), the tid,
        pid and parent with their names, the working directory and the comm."""
        if not proc.cwd:
            proc.cwd = self.procfs.cwd(proc.pid) or ""
        parent = self.procs.get(proc.ppid)
        return {"exe": proc.exe, "args": list(proc.args), "tid": f"{ev.tid}({proc.name})",
                "pid": f"{proc.pid}({proc.name})",
                "ptid": f"{proc.ppid}({parent.name})" if parent else str(proc.ppid),
                "cwd": proc.cwd, "comm": ev.comm}

    # -- persistence ---------------------------------------------------------------
    def snapshot(self, key_of: Callable[[Container], int]) -> dict[str, Any]:
        """The tables as JSON-able data (a capture file's header); ``key_of`` names
        each container by the key the capture stores it under."""
        procs = []
        for p in self.procs.values():
            procs.append({"pid": p.pid, "ppid": p.ppid, "name": p.name, "exe": p.exe,
                          "args": list(p.args), "uid": p.uid, "cgroup_id": p.cgroup_id,
                          "container": key_of(p.container), "start_ns": p.start_ns,
                          "exited": p.exited, "cwd": p.cwd})
        fds = {str(pid): [_fd_list(i) for i in t.values()] for pid, t in self.fds.items() if t}
        return {
            "processes": procs,
            "fds": fds,
            "cgroups": {str(cg): key_of(c) for cg, c in self._containers.items()},
            "parent_of": {str(k): v for k, v in self._parent_of.items()},
            "born": {str(k): v for k, v in self._born.items()},
            "argv": {str(k): [v[0], v[1]] for k, v in self._argv.items()},
            "exited": {str(k): v for k, v in self._exited.items()},
            "last_sweep": self._last_sweep,
            # the creation times closes are checked against (_close_fd): without them a
            # file read alone would apply a close that live kept, and lose the fd's name
            "fd_since": [[pid, num, ns] for (pid, num), ns in self._fd_since.items()],
        }

    def restore(self, snap: dict[str, Any], container: Callable[[int], Container]) -> None:
        """Replace the tables with a snapshot's (the inverse of :meth:`snapshot`)."""
        self.procs.clear()
        self.fds.clear()
        for d in snap.get("processes", []):
            p = Process(pid=d["pid"], ppid=d["ppid"], name=d["name"], exe=d["exe"],
                        args=list(d["args"]), uid=d["uid"], cgroup_id=d["cgroup_id"],
                        container=container(d["container"]), start_ns=d["start_ns"],
                        exited=d["exited"], cwd=d["cwd"])
            self.procs[p.pid] = p
        for pid, lst in snap.get("fds", {}).items():
            self.fds[int(pid)] = {v[0]: _fd_from_list(v) for v in lst}
        self._containers = {int(cg): container(k) for cg, k in snap.get("cgroups", {}).items()}
        self._parent_of = {int(k): v for k, v in snap.get("parent_of", {}).items()}
        self._born = {int(k): v for k, v in snap.get("born", {}).items()}  # absent before 2026-12
        self._argv = {int(k): (v[0], list(v[1])) for k, v in snap.get("argv", {}).items()}
        self._exited = {int(k): v for k, v in snap.get("exited", {}).items()}
        self._last_sweep = snap.get("last_sweep", 0)
        self._fd_since = {(v[0], v[1]): v[2] for v in snap.get("fd_since", [])}  # absent before


def _fd_list(info: FdInfo) -> list[Any]:
    return [info.num, info.type, info.name, info.l4proto, info.cip, info.cport, info.sip,
            info.sport, info.local_is_client]


def _fd_from_list(v: list[Any]) -> FdInfo:
    return FdInfo(num=v[0], type=v[1], name=v[2], l4proto=v[3], cip=v[4], cport=v[5],
                  sip=v[6], sport=v[7], local_is_client=v[8])

