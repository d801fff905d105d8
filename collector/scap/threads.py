"""What the .scap reader knows of each thread, and the /proc answers it gives from it.

A .scap file names its threads in the process list and in clone/execve exits;
State asks /proc-like questions about them (``ScapProcFS``), answered from the
file and never from this host.
"""

from __future__ import annotations

from typing import Any

from ..procfs import ProcFS, ProcInfo
from .blocks import ThreadInfo


class Thread:
    """What the reader knows about one thread, for the records of its events."""

    __slots__ = ("tid", "pid", "ptid", "comm", "uid", "gid", "cgroup", "exe", "args", "cwd",
                 "table")

    def __init__(self, tid: int, pid: int, ptid: int, comm: bytes, uid: int, gid: int,
                 cgroup: int, exe: str = "", args: list[str] | None = None,
                 cwd: str = "") -> None:
        self.tid, self.pid, self.ptid, self.comm = tid, pid, ptid, comm
        self.uid, self.gid, self.cgroup = uid, gid, cgroup
        self.exe, self.args, self.cwd = exe, args or [], cwd
        self.table: ThreadInfo | None = None  # the file's entry, for a process it lists


def proc_info(t: Thread, parent: Thread | None) -> ProcInfo:
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

    def __init__(self, threads: dict[int, Thread]) -> None:
        super().__init__("/nonexistent")
        self.threads = threads  # the reader's, updated as it reads
        self.answers: dict[tuple[Any, ...], Any] = {}  # from CDIG_FD_EVENTs (cdig-written files)

    def list_pids(self) -> list[int]:
        return sorted({t.pid for t in self.threads.values()})

    def read_proc(self, pid: int) -> ProcInfo | None:
        t = self.threads.get(pid)
        return None if t is None else proc_info(t, self.threads.get(t.ptid))

    def fd_target(self, pid: int, fd: int) -> str | None:
        return self.answers.get(("fd", pid, fd))

    def cwd(self, pid: int) -> str | None:
        t = self.threads.get(pid)
        return t.cwd if t is not None and t.cwd else None

    def is_dir(self, path: str) -> bool:
        return bool(self.answers.get(("dir", path), False))

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        return self.answers.get(("sock", pid, inode))

