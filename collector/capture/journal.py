"""The /proc journal of a capture: every answer the live State got from /proc,
recorded with the record number at which it was asked, and answered back on replay."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import Any, cast

import numpy as np

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


class FdJournal:
    """A batch's journal of stamped fd answers only, as columns: what json.loads makes
    of the state text the writer wrote for it, read by ``kernels.fd_journal`` without
    making ~1000 objects a batch (``reader.parse_state``). ``cols`` (5, m): each entry's
    pid, fd, answer's start and end in ``text`` (-1: null; the answer is ASCII without
    escapes, its text is its value) and the evt.num of the record that asked. It reads
    as the list of its entries (``["fd", pid, fd, answer, at]``)."""

    __slots__ = ("cols", "text")

    def __init__(self, cols: np.ndarray, text: bytes) -> None:
        self.cols, self.text = cols, text

    def __len__(self) -> int:
        return int(self.cols.shape[1])

    def __iter__(self) -> Iterator[list[Any]]:
        return iter(self.entries(self.cols))

    def entries(self, cols: np.ndarray) -> list[list[Any]]:
        """The entries of some of the columns (``cols``: a selection of ``self.cols``)."""
        text = self.text
        return [["fd", p, f, None if s < 0 else text[s:e].decode("ascii"), at]
                for p, f, s, e, at in cols.T.tolist()]

    def __eq__(self, other: object) -> bool:
        if isinstance(other, FdJournal | list):
            return list(self) == list(other)
        return NotImplemented

    __hash__ = None  # type: ignore[assignment]  # compared as a list, and as mutable

    def __repr__(self) -> str:
        return f"FdJournal({list(self)!r})"

    @staticmethod
    def concat(parts: Sequence[FdJournal]) -> FdJournal:
        """The journals one after the other (their texts joined, the answers moved)."""
        if len(parts) == 1:
            return parts[0]
        cols = [p.cols.copy() for p in parts]
        at = 0
        for p, c in zip(parts, cols, strict=True):
            if at:
                ans = c[2:4]
                ans[ans >= 0] += at
            at += len(p.text)
        return FdJournal(np.concatenate(cols, axis=1), b"".join(p.text for p in parts))


def join_journals(journals: Sequence[Any]) -> Any:
    """Journals (lists or ``FdJournal``) one after the other: an FdJournal when all
    are, else the list of all their entries."""
    if all(isinstance(j, FdJournal) for j in journals):
        return FdJournal.concat(journals)
    out: list[Any] = []
    for j in journals:
        out += j
    return out


def stamped_only(journal: Any) -> bool:
    """Whether every answer of ``journal`` names the record that asked (its evt.num):
    then applying it together with the journals of the batches before it gives each
    of their records the same answers (``ReplayProcFS.apply`` keeps every stamp)."""
    if isinstance(journal, FdJournal):
        return True
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

    def apply(self, journal: Any, pids: frozenset[int] | None = None,
              fdless: bool = False) -> None:
        """Learn a batch's answers (a list of entries or an ``FdJournal``); with
        ``pids``, the fd, cwd and socket answers of those processes only (a replay that
        applies no other process's fd rows); ``fdless``: none of the fd and socket
        answers (a replay that looks up no fd)."""
        a = self.answers
        stamped = self.stamped
        stamped.clear()  # stamps name records of the batch this journal precedes
        if isinstance(journal, FdJournal):
            self._apply_fds(journal, pids, fdless)
            return
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
        self._bound()

    def _bound(self) -> None:
        a = self.answers
        if len(a) > 1 << 20:  # bounded, as the live tables are
            for k in list(a)[: len(a) // 2]:
                del a[k]

    _pid_list: tuple[frozenset[int] | None, np.ndarray] = (None, np.zeros(0, np.int64))

    def _apply_fds(self, journal: FdJournal, pids: frozenset[int] | None,
                   fdless: bool) -> None:
        """``apply`` of an FdJournal: the same answers, in the same order, learnt for
        the entries the loop over its entries would not skip (picked by numpy)."""
        if fdless or not len(journal):
            return
        cols = journal.cols
        if pids is not None:
            if self._pid_list[0] is not pids:
                self._pid_list = (pids, np.array(sorted(pids), dtype=np.int64))
            cols = cols[:, np.isin(cols[0], self._pid_list[1])]
        a = self.answers
        stamped = self.stamped
        for _, pid, fd, value, at in journal.entries(cols):
            key = ("fd", pid, fd)
            a[key] = value
            stamped[key, at] = value
        self._bound()

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
