"""The /proc journal of a capture: every answer the live State got from /proc,
recorded with the record number at which it was asked, and answered back on replay."""

from __future__ import annotations

from typing import Any, cast

from ..procfs import ProcFS, ProcInfo

_MISSING = object()


def _info_json(info: ProcInfo | None) -> list[Any] | None:
    if info is None:
        return None
    extras = info.extras()
    base: list[Any] = [info.ppid, info.name, info.exe, info.argv, info.uid]
    return [*base, extras] if extras else base


def _info_from_json(pid: int, v: list[Any] | None) -> ProcInfo | None:
    if v is None:
        return None
    info = ProcInfo(pid=pid, ppid=v[0], name=v[1], exe=v[2], argv=list(v[3]), uid=v[4])
    for k, x in (v[5] if len(v) > 5 else {}).items():  # what sysdig's fields read
        if k in ProcInfo.__slots__:
            setattr(info, k, x)
    return info


class RecordingProcFS(ProcFS):
    """Answers from the real /proc, each one appended to ``journal`` with the evt.num
    of the record that asked (``at``, set by the enricher): a replay gives each
    record the answer live gave it, even when the same question got two answers
    in one batch (an fd closed and reused between two lookups)."""

    def __init__(self, inner: ProcFS, journal: list[list[Any]]) -> None:
        super().__init__(inner.root)
        self.inner = inner
        self.journal = journal
        self.at = 0

    def list_pids(self) -> list[int]:
        pids = self.inner.list_pids()
        self.journal.append(["pids", pids])
        return pids

    def read_proc(self, pid: int) -> ProcInfo | None:
        info = self.inner.read_proc(pid)
        self.journal.append(["proc", pid, _info_json(info), self.at])
        return info

    def fd_target(self, pid: int, fd: int) -> str | None:
        t = self.inner.fd_target(pid, fd)
        self.journal.append(["fd", pid, fd, t, self.at])
        return t

    def cwd(self, pid: int) -> str | None:
        c = self.inner.cwd(pid)
        self.journal.append(["cwd", pid, c, self.at])
        return c

    def is_dir(self, path: str) -> bool:
        d = self.inner.is_dir(path)
        self.journal.append(["dir", path, d, self.at])
        return d

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        t = self.inner.socket_tuple(pid, inode)
        self.journal.append(["sock", pid, inode, list(t) if t else None, self.at])
        return t


_PER_PID = frozenset({"fd", "cwd", "sock"})  # questions about one process's fds
_FD_ONLY = frozenset({"fd", "sock"})
_STAMP_AT = {"proc": 3, "fd": 4, "cwd": 3, "dir": 3, "sock": 4}  # index of the evt.num


def stamped_only(journal: list[list[Any]]) -> bool:
    """Whether every answer of ``journal`` names the record that asked (its evt.num):
    then applying it together with the journals of the batches before it gives each
    of their records the same answers (``ReplayProcFS.apply`` keeps every stamp)."""
    for entry in journal:
        i = _STAMP_AT.get(entry[0]) if entry else None
        if i is None or len(entry) <= i or not isinstance(entry[i], int):
            return False
    return True


class ReplayProcFS(ProcFS):
    """Answers from a capture's journal: what the live state was told — the answer
    given to the very record asking (``at``) when the journal says, else the latest;
    unknown questions get the answer of a process that is gone (None)."""

    def __init__(self) -> None:
        super().__init__("/nonexistent")
        self.pids: list[int] = []
        self.answers: dict[tuple[Any, ...], Any] = {}
        # (question, evt.num) -> answer
        self.stamped: dict[tuple[tuple[Any, ...], int], Any] = {}
        self.at = 0

    def apply(self, journal: list[list[Any]], pids: frozenset[int] | None = None,
              fdless: bool = False) -> None:
        """Learn a batch's answers; with ``pids``, the fd, cwd and socket answers of
        those processes only (a replay that applies no other process's fd rows);
        ``fdless``: none of the fd and socket answers (a replay that looks up no fd)."""
        a = self.answers
        stamped = self.stamped
        stamped.clear()  # stamps name records of the batch this journal precedes
        for entry in journal:
            kind = entry[0]
            if (fdless and kind in _FD_ONLY) or \
                    (pids is not None and kind in _PER_PID and entry[1] not in pids):
                continue
            key: tuple[Any, ...]
            value: Any
            if kind == "pids":
                self.pids = list(entry[1])
                continue
            if kind == "proc":
                key, value = ("proc", entry[1]), _info_from_json(entry[1], entry[2])
            elif kind == "fd":
                key, value = ("fd", entry[1], entry[2]), entry[3]
            elif kind == "cwd":
                key, value = ("cwd", entry[1]), entry[2]
            elif kind == "dir":
                key, value = ("dir", entry[1]), bool(entry[2])
            elif kind == "sock":
                key, value = ("sock", entry[1], entry[2]), tuple(entry[3]) if entry[3] else None
            else:
                continue
            a[key] = value
            i = _STAMP_AT[kind]
            if len(entry) > i and isinstance(entry[i], int):
                stamped[key, entry[i]] = value
        if len(a) > 1 << 20:  # bounded, as the live tables are
            for k in list(a)[: len(a) // 2]:
                del a[k]

    def _get(self, key: tuple[Any, ...], default: Any = None) -> Any:
        hit = self.stamped.get((key, self.at), _MISSING)
        return self.answers.get(key, default) if hit is _MISSING else hit

    def list_pids(self) -> list[int]:
        return list(self.pids)

    def read_proc(self, pid: int) -> ProcInfo | None:
        return cast("ProcInfo | None", self._get(("proc", pid)))

    def fd_target(self, pid: int, fd: int) -> str | None:
        return cast("str | None", self._get(("fd", pid, fd)))

    def cwd(self, pid: int) -> str | None:
        return cast("str | None", self._get(("cwd", pid)))

    def is_dir(self, path: str) -> bool:
        return bool(self._get(("dir", path), False))

    def socket_tuple(self, pid: int, inode: int) -> tuple[str, str, int, str, int] | None:
        return cast("tuple[str, str, int, str, int] | None", self._get(("sock", pid, inode)))
