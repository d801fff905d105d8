"""Raw probe records → ``Event`` objects.

The probe's two rings (plain records, records with strings) are drained as
numpy arrays; a ``RawBatch`` holds one drain of each. Decoding merges them by
timestamp, converts columns to Python in bulk (``tolist``) and builds one
``Event`` per record with its arguments decoded per the syscall table.
Enrichment (process, container, fd) is ``collector.state``'s job.
"""

from __future__ import annotations

import functools
import ipaddress
import signal
import struct
import time
from collections.abc import Callable, Iterator
from typing import Any

import numpy as np

from ..probes.syscall_table import SyscallSpec, SyscallTable, table
from ..probes.syscalls import layout
from .batch import Columns, EventBatch, concat_records, take_records
from .events import Event, EventKind

AT_FDCWD = -100

_OPEN_FLAGS = [
    (0o100, "O_CREAT"), (0o200, "O_EXCL"), (0o400, "O_NOCTTY"), (0o1000, "O_TRUNC"),
    (0o2000, "O_APPEND"), (0o4000, "O_NONBLOCK"), (0o10000, "O_DSYNC"),
    (0o200000, "O_DIRECTORY"), (0o400000, "O_NOFOLLOW"), (0o1000000, "O_NOATIME"),
    (0o2000000, "O_CLOEXEC"), (0o4010000, "O_SYNC"), (0o10000000, "O_PATH"),
    (0o20200000, "O_TMPFILE"), (0o40000, "O_DIRECT"), (0o100000, "O_LARGEFILE"),
]
_ACCMODE = {0: "O_RDONLY", 1: "O_WRONLY", 2: "O_RDWR"}
O_DIRECTORY = 0o200000

_CLONE_FLAGS = [
    (0x100, "CLONE_VM"), (0x200, "CLONE_FS"), (0x400, "CLONE_FILES"), (0x800, "CLONE_SIGHAND"),
    (0x1000, "CLONE_PIDFD"), (0x2000, "CLONE_PTRACE"), (0x4000, "CLONE_VFORK"),
    (0x8000, "CLONE_PARENT"), (0x10000, "CLONE_THREAD"), (0x20000, "CLONE_NEWNS"),
    (0x40000, "CLONE_SYSVSEM"), (0x80000, "CLONE_SETTLS"), (0x100000, "CLONE_PARENT_SETTID"),
    (0x200000, "CLONE_CHILD_CLEARTID"), (0x800000, "CLONE_UNTRACED"),
    (0x1000000, "CLONE_CHILD_SETTID"), (0x2000000, "CLONE_NEWCGROUP"),
    (0x4000000, "CLONE_NEWUTS"), (0x8000000, "CLONE_NEWIPC"), (0x10000000, "CLONE_NEWUSER"),
    (0x20000000, "CLONE_NEWPID"), (0x40000000, "CLONE_NEWNET"), (0x80000000, "CLONE_IO"),
]
CLONE_THREAD = 0x10000


def open_flags(v: int) -> str:
    """open(2) flags as ``O_WRONLY|O_CREAT|...``."""
    names = [_ACCMODE.get(v & 3, "O_ACCMODE")]
    for bit, name in _OPEN_FLAGS:
        if v & bit == bit and bit:
            names.append(name)
    return "|".join(names)


def clone_flags(v: int) -> str:
    names = [name for bit, name in _CLONE_FLAGS if v & bit]
    sig = v & 0xFF
    if sig:
        names.append(signal_name(sig))
    return "|".join(names) or "0"


def signal_name(v: int) -> str:
    try:
        return signal.Signals(v).name
    except ValueError:
        return str(v)


@functools.lru_cache(maxsize=4096)  # a host talks to few addresses; ipaddress is slow
def sockaddr(raw: bytes) -> str:
    """A struct sockaddr as text: ``1.2.3.4:80``, ``[::1]:80``, ``/path`` or ``@abstract``."""
    if len(raw) < 2:
        return ""
    family = struct.unpack_from("<H", raw)[0]
    if family == 2 and len(raw) >= 8:
        port = struct.unpack_from(">H", raw, 2)[0]
        return f"{ipaddress.IPv4Address(raw[4:8])}:{port}"
    if family == 10 and len(raw) >= 24:
        port = struct.unpack_from(">H", raw, 2)[0]
        return f"[{ipaddress.IPv6Address(raw[8:24])}]:{port}"
    if family == 1:
        path = raw[2:]
        if path[:1] == b"\0":
            return "@" + path[1:].split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
        return path.split(b"\0", 1)[0].decode("utf-8", "backslashreplace")
    if family == 16:
        return "netlink"
    return f"family={family}"


def split_addr(text: str) -> tuple[str, int]:
    """``1.2.3.4:80`` / ``[::1]:80`` → (ip, port); ("", 0) for non-IP addresses."""
    host, sep, port = text.rpartition(":")
    if not sep or not port.isdigit():
        return "", 0
    return host.strip("[]"), int(port)


def _cstr(raw: bytes, n: int) -> str:
    if n <= 0:
        return ""
    return raw[: n - 1 if raw[n - 1 : n] == b"\0" else n].decode("utf-8", "backslashreplace")


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def decode_args(spec: SyscallSpec, raw: list[int], str1: str, str2: str,
                addr: str, argv: list[str] | None) -> dict[str, Any]:
    """Decode a syscall's arguments per its spec. Strings come from the ext record."""
    out: dict[str, Any] = {}
    paths = iter((str1, str2))
    for a in spec.args:
        v = raw[a.index]
        k = a.kind
        if k in ("fd", "int", "dirfd"):
            out[a.name] = _s32(v)
        elif k == "uint":
            out[a.name] = v
        elif k == "hex":
            out[a.name] = hex(v)
        elif k == "oct":
            out[a.name] = f"0{v & 0xFFFFFFFF:o}" if v & 0xFFFFFFFF else "0"
        elif k == "path":
            out[a.name] = next(paths)
        elif k in ("addr", "addrp"):
            out[a.name] = addr
        elif k == "oflags":
            out[a.name] = open_flags(v)
        elif k == "signal":
            out[a.name] = signal_name(_s32(v))
        elif k == "cflags":
            out[a.name] = clone_flags(v)
        elif k == "argv":
            out[a.name] = argv if argv is not None else []
        else:
            out[a.name] = v
    return out


_KINDS = tuple(EventKind)


def _plain_decoder(spec: SyscallSpec) -> Callable[[list[int]], dict[str, Any]]:
    """A fast decoder for records that carry no strings, built once per syscall."""
    simple = all(a.kind in ("fd", "int", "dirfd", "uint") for a in spec.args)
    if not simple:
        return lambda raw: decode_args(spec, raw, "", "", "", None)
    signed = tuple((a.name, a.index, a.kind != "uint") for a in spec.args)
    if len(signed) == 1:
        (name, idx, sgn), = signed
        if sgn:
            return lambda raw: {name: _s32(raw[idx])}
        return lambda raw: {name: raw[idx]}

    def dec(raw: list[int]) -> dict[str, Any]:
        return {n: (_s32(raw[i]) if sg else raw[i]) for n, i, sg in signed}
    return dec


class RawBatch:
    """One drain of the probe's rings (or one batch of a capture).

    A capture replays its records in the order and with the numbers the live
    session gave them: ``order`` (indexes into ``events`` then ``ext``, in
    decoding order) replaces the timestamp merge, ``num`` (one per record, in
    decoding order) replaces the running ``evt.num``. Live batches leave both None.

    A plain class (of arrays: nothing compares or prints one), not a dataclass: one
    is ~0.3 ms to make at every start.
    """

    __slots__ = ("columns", "ctx", "events", "ext", "merged", "num", "order")

    def __init__(self, events: np.ndarray, ext: np.ndarray, order: np.ndarray | None = None,
                 num: np.ndarray | None = None, ctx: np.ndarray | None = None,
                 merged: np.ndarray | None = None,
                 columns: dict[str, np.ndarray] | None = None) -> None:
        self.events = events  # layout.RECORD
        self.ext = ext  # layout.EXT_RECORD
        self.order = order
        self.num = num
        self.ctx = ctx  # a capture: records kept only for state, decoding order
        self.merged = merged  # a capture: all records (RECORD) in decoding order
        # a capture: some of ``merged``'s fields as contiguous arrays already (the Arrow
        # columns read), which the batch's ``cols`` takes instead of copying them out again
        self.columns = columns

    def __len__(self) -> int:
        return len(self.events) + len(self.ext)


def io_data(xr: Any) -> bytes:
    """The I/O data of an ext record with FLAG_IO_DATA: ``len1`` bytes from str1 on
    (running on into str2 when the call has no socket address there)."""
    n = int(xr["len1"])
    if n <= 0:
        return b""
    raw = xr.tobytes() if hasattr(xr, "tobytes") else bytes(xr)
    start = layout.STR1_OFFSET
    return raw[start:start + min(n, layout.IO_MAX)]


class Decoder:
    """Turns RawBatches into columnar EventBatches (and rows into Events on demand),
    numbering records and converting clocks.

    ``mono_to_wall_ns`` is added to the probe's CLOCK_MONOTONIC timestamps.
    """

    def __init__(self, syscalls: SyscallTable | None = None,
                 mono_to_wall_ns: int | None = None) -> None:
        self.table = syscalls or table()
        if mono_to_wall_ns is None:
            mono_to_wall_ns = time.time_ns() - time.clock_gettime_ns(time.CLOCK_MONOTONIC)
        self.offset = mono_to_wall_ns
        self.num = 0
        self.first_ts: int | None = None  # wall-clock ns of the session's first record
        self._comms: dict[bytes, str] = {}
        self._plain: dict[int, Callable[[list[int]], dict[str, Any]]] = {}
        # per syscall number: the argument that names the Event's fd (or -1)
        fd_arg = np.full(1 << 16, -1, dtype=np.int8)
        for spec in self.table.by_nr.values():
            if spec.name in _NO_FD_LOOKUP:
                continue
            names = {a.name: a for a in spec.args}
            for key in _FD_ARG_ORDER:
                a = names.get(key)
                if a is not None:
                    if a.kind in ("fd", "int", "dirfd", "uint"):
                        fd_arg[spec.nr] = a.index
                    break
        self._fd_arg = fd_arg

    # -- columns ------------------------------------------------------------------------
    def batch(self, raw: RawBatch) -> EventBatch:
        """The records of ``raw`` as one EventBatch, in decoding order, numbered."""
        ev, ext = raw.events, raw.ext
        n_small = len(ev)
        n_total = n_small + len(ext)
        if raw.merged is not None and raw.order is not None:
            base = raw.merged  # base[j] is [events, ext][order[j]] already
            src = raw.order.astype(np.int64)
        elif n_small and len(ext) and raw.order is None and _sorted(ev["ts_ns"]) \
                and _sorted(ext["ev"]["ts_ns"]):
            base, src = _merge(ev, ext["ev"])
        elif n_small and len(ext):
            base = concat_records([ev, ext["ev"]])
            order = raw.order if raw.order is not None else \
                np.argsort(base["ts_ns"], kind="stable")
            base = take_records(base, order)
            src = order.astype(np.int64)
        elif n_small:
            base = ev
            src = np.arange(n_small, dtype=np.int64)
        else:
            base = ext["ev"].copy() if len(ext) else np.zeros(0, dtype=layout.RECORD)
            src = np.arange(len(ext), dtype=np.int64)
        ext_row = np.where(src >= n_small, src - n_small, -1)
        if raw.num is not None:  # a capture: the live session's numbers
            num = raw.num.astype(np.uint64, copy=False)
            if len(num):
                self.num = max(self.num, int(num.max()))
        else:
            num = np.arange(self.num + 1, self.num + 1 + n_total, dtype=np.uint64)
            self.num += n_total
        offset = self.offset
        ts: np.ndarray  # uint64, or int64 when the offset is negative
        if offset >= 0:
            ts = base["ts_ns"] + np.uint64(offset)
        else:
            ts = base["ts_ns"].astype(np.int64) + np.int64(offset)
        if self.first_ts is None and len(ts):  # evt.reltime counts from here
            self.first_ts = int(ts.min())
        b = EventBatch(self, base, ext, ext_row, num, ts, ctx=raw.ctx, src=src)
        if raw.columns is not None and base is raw.merged:
            b._cache["cols"] = Columns(base, raw.columns)
        else:  # every stage reads most fields: all of them in one pass (Columns.split)
            b._cache["cols"] = Columns(base).split()
        return b

    def fd_numbers(self, rec: Any) -> np.ndarray:
        """Per record, the fd number the Event looks up (-1: none), as the decoder
        names arguments: ``fd``, else ``oldfd``, ``out_fd``, ``epfd`` when an int."""
        if not len(rec):
            return np.zeros(0, dtype=np.int64)
        idx = self._fd_arg[rec["nr"]]
        has = (idx >= 0) & (rec["kind"] <= layout.KIND_SYSCALL_ENTER)  # syscall kinds
        args = rec["args"]
        raw = args[:, 0].copy()  # the fd is nearly always the first argument
        other = np.flatnonzero(has & (idx > 0))
        if len(other):
            raw[other] = args[other, idx[other].astype(np.int64)]
        fd = (raw & np.uint64(0xFFFFFFFF)).astype(np.int64)
        fd = np.where(fd >= 1 << 31, fd - (1 << 32), fd)
        return np.where(has & (fd >= 0), fd, -1)

    # -- rows ---------------------------------------------------------------------------
    def _comm(self, comm_b: bytes) -> str:
        comms = self._comms
        comm = comms.get(comm_b)
        if comm is None:
            comm = comms[comm_b] = comm_b.decode("utf-8", "backslashreplace")
            if len(comms) > 4096:
                comms.clear()
        return comm

    def events_at(self, batch: EventBatch, rows: list[int]) -> list[Event]:
        """Rows of ``batch`` as Events (arguments decoded; no enrichment).

        Columns are converted to Python once for all the rows asked (``tolist``),
        as the per-record decoder did."""
        if not rows:
            return []
        idx = np.asarray(rows, dtype=np.int64)
        base = take_records(batch.rec, idx)
        xs = batch.ext_row[idx].tolist()
        ts_l = batch.ts[idx].tolist()
        nums = batch.num[idx].tolist()
        ext = batch.ext
        by_nr = self.table.by_nr
        comm_of = self._comm
        plain = self._plain
        SYSCALL, ENTER = EventKind.SYSCALL, EventKind.SYSCALL_ENTER
        out: list[Event] = []
        append = out.append
        for (num, x, ts, lat, cg, ret, raw_args, pid, tid, uid, gid, nr, kind, flags, cpu,
             comm_b) in zip(nums, xs, ts_l, base["latency_ns"].tolist(),
                            base["cgroup_id"].tolist(), base["ret"].tolist(),
                            base["args"].tolist(), base["pid"].tolist(), base["tid"].tolist(),
                            base["uid"].tolist(), base["gid"].tolist(), base["nr"].tolist(),
                            base["kind"].tolist(), base["flags"].tolist(), base["cpu"].tolist(),
                            base["comm"].tolist(), strict=True):
            comm = comm_of(comm_b)
            ekind = _KINDS[kind]
            if ekind is SYSCALL or ekind is ENTER:
                spec = by_nr.get(nr)
                if spec is None:
                    typ = f"syscall_{nr}"
                    args: dict[str, Any] = {f"arg{j}": hex(raw_args[j]) for j in range(3)}
                elif x < 0:
                    typ = spec.name
                    dec = plain.get(nr)
                    if dec is None:
                        dec = plain[nr] = _plain_decoder(spec)
                    args = dec(raw_args)
                else:
                    typ = spec.name
                    args = self._ext_args(spec, raw_args, ext[x], flags)
                    if flags & layout.FLAG_IO_DATA:
                        append(Event(num, ts, cpu, ekind, typ, "<" if ekind is SYSCALL else ">",
                                     ret if ekind is SYSCALL else 0, lat, pid, tid, uid, gid,
                                     comm, cg, nr, args, buffer=io_data(ext[x])))
                        continue
                append(Event(num, ts, cpu, ekind, typ, "<" if ekind is SYSCALL else ">",
                             ret if ekind is SYSCALL else 0, lat, pid, tid, uid, gid, comm,
                             cg, nr, args))
                continue
            if ekind is EventKind.EXEC:
                typ = "procexec"
                args = {"filename": _cstr(bytes(ext[x]["str1"]), int(ext[x]["len1"]))
                        if x >= 0 else "", "old_pid": raw_args[0]}
            elif ekind is EventKind.FORK:
                typ, args = "procfork", {"child_tid": raw_args[0], "parent_tid": raw_args[1]}
            else:
                typ, args = "procexit", {}
            append(Event(num, ts, cpu, ekind, typ, ">", 0, 0, pid, tid, uid, gid, comm, cg,
                         -1, args))
        t0 = self.first_ts or 0
        for ev in out:
            ev.t0_ns = t0
        return out

    @staticmethod
    def _ext_args(spec: SyscallSpec, raw_args: list[int], xr: Any, flags: int) -> dict[str, Any]:
        s2 = addr = ""
        argv: list[str] | None = None
        b1 = bytes(xr["str1"])
        b2 = bytes(xr["str2"])
        l1, l2 = int(xr["len1"]), int(xr["len2"])
        s1 = "" if flags & layout.FLAG_IO_DATA else _cstr(b1, l1)
        if spec.argv_arg != 255:
            argv = [a.decode("utf-8", "backslashreplace")
                    for a in b2[: max(l2, 0)].split(b"\0")[: int(xr["argc"])]]
            if int(xr["pad"]):
                argv.append("...")
        elif spec.addr_arg != 255:
            addr = sockaddr(b2[:l2]) if l2 > 0 else ""
        else:
            s2 = _cstr(b2, l2)
        args = decode_args(spec, raw_args, s1, s2, addr, argv)
        if flags & layout.FLAG_LOCAL_ADDR:
            args["local"] = sockaddr(b1[:l1])
        return args

    def decode(self, raw: RawBatch,
               keep: tuple[np.ndarray, np.ndarray] | None = None) -> Iterator[Event]:
        """Events of ``raw`` in decoding order (row by row; the engine uses :meth:`batch`).

        ``keep`` (masks over the plain and ext records) skips records; they still
        count in ``evt.num``.
        """
        b = self.batch(raw)
        rows = np.arange(len(b))
        if keep is not None:
            full = np.concatenate([keep[0][: len(raw.events)], keep[1][: len(raw.ext)]])
            rows = rows[full[b.src]] if len(full) else rows[:0]
        yield from self.events_at(b, rows.tolist())


def _sorted(ts: np.ndarray) -> bool:
    return len(ts) < 2 or bool((ts[1:] >= ts[:-1]).all())


def _merge(small: np.ndarray, ext: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Two rings' records, each in time order, merged in time order: what the stable
    sort of the two one after the other gives (a plain record before an ext record
    of the same time), without the sort, and one copy less. (records, each row's
    index into [small, ext])."""
    n_small, n = len(small), len(small) + len(ext)
    at = np.searchsorted(small["ts_ns"], ext["ts_ns"], side="right") + np.arange(len(ext))
    is_ext = np.zeros(n, dtype=bool)
    is_ext[at] = True
    src = np.empty(n, dtype=np.int64)
    src[at] = np.arange(n_small, n)
    src[~is_ext] = np.arange(n_small)
    raw = np.dtype((np.void, small.dtype.itemsize))
    out = np.empty(n, dtype=raw)
    out[~is_ext] = np.ascontiguousarray(small).view(raw)
    out[at] = np.ascontiguousarray(ext).view(raw)
    return out.view(small.dtype), src


# The Event's fd is the first of these arguments that holds an int (State._syscall).
_FD_ARG_ORDER = ("fd", "oldfd", "out_fd", "epfd")
_NO_FD_LOOKUP = frozenset({"close_range", "signalfd4", "epoll_ctl"})
