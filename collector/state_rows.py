"""The rows enrichment applies in order, from columns: no Event per row.

``Enricher.enrich`` applies a batch's state-changing rows, and looks up the first
row of each (process, fd) segment, one by one in order. Building an Event for each
(arguments decoded into a dict, then ``State.update``) cost ~20 µs a row; here the
common rows — every completed syscall but exec, chdir and the rare opens below,
and enter-only records but execve's — are applied from plain Python ints and bytes
(``tolist``) with the very State methods ``State.update`` calls, in the same order,
so the tables, the /proc questions asked and the objects each row gets are the
same. The other rows (sched records, exec, chdir …) take ``State.update`` on their
Event as before. The rows' Events, when a sink wants them, are built later from
the columns and the code columns (``EventBatch.materialize``): what ``update``
would have attached to them is exactly process, fd and container.
"""

from __future__ import annotations

import copy
import posixpath
from typing import Any, Protocol, cast

import numpy as np

from ..probes.syscall_table import SyscallTable
from ..probes.syscalls import layout
from .batch import EventBatch
from .decode import AT_FDCWD, O_DIRECTORY, _cstr, sockaddr
from .events import Container, FdInfo, Process
from .fd_names import SOCK_DOMAIN, SOCK_TYPE, accepted, name_socket
from .state import _FD_SINCE_MAX, EINPROGRESS, State

# what a completed syscall does to the tables (State._syscall's branches)
_LOOKUP, _OPEN, _OPENAT, _CREAT, _CLOSE, _DUP, _FCNTL, _SOCKET, _CONNECT, _BIND, _SENDTO, \
    _ACCEPT = range(12)
_FAST = {"open": _OPEN, "openat": _OPENAT, "creat": _CREAT, "close": _CLOSE, "dup": _DUP,
         "dup2": _DUP, "dup3": _DUP, "fcntl": _FCNTL, "socket": _SOCKET, "connect": _CONNECT,
         "bind": _BIND, "sendto": _SENDTO, "sendmsg": _SENDTO, "accept": _ACCEPT,
         "accept4": _ACCEPT}
# completed syscalls left to State.update (the Event is needed: exec rewrites its
# arguments; the others are rare enough)
_SLOW = frozenset({"execve", "execveat", "openat2", "memfd_create", "chdir", "fchdir"})
# enter-only records State.update does more than look up the process for
_SLOW_ENTER = frozenset({"execve", "execveat"})
_SLOW_KIND, _ENTER_ONLY = -1, -2


class _Row:
    """What ``State.process`` reads of an Event (one instance, refilled per row)."""

    __slots__ = ("pid", "comm", "cgroup_id", "uid", "ts_ns")
    pid: int
    comm: str
    cgroup_id: int
    uid: int
    ts_ns: int


class _Stamped(Protocol):
    """A recording or replaying /proc (capture.journal): told which record asks."""

    at: int


class RowApplier:
    """Per syscall number: how a row is applied (see the module docstring)."""

    def __init__(self, syscalls: SyscallTable) -> None:
        how = np.full(1 << 16, _LOOKUP, dtype=np.int8)  # unknown syscalls: a lookup
        enter = np.full(1 << 16, _ENTER_ONLY, dtype=np.int8)
        for spec in syscalls.by_nr.values():
            if spec.name in _SLOW:
                how[spec.nr] = _SLOW_KIND
            else:
                how[spec.nr] = _FAST.get(spec.name, _LOOKUP)
            if spec.name in _SLOW_ENTER:
                enter[spec.nr] = _SLOW_KIND
        self._how = how
        self._enter = enter

    def apply(self, state: State, b: EventBatch, rows: list[int], fdnum: np.ndarray,
              idx: np.ndarray | None = None, pairs: bool = True
              ) -> tuple[list[Process | None], list[FdInfo | None], list[Container],
                         list[int] | None]:
        """Apply ``rows`` of ``b`` (ascending; ``idx``: the same as an int64 array, if
        the caller has it) to ``state``: the process, fd and container the rows get,
        in three lists, and how many rows each entry stands for (None: one each). A
        run of open+close pairs (``_pair_runs``) is one entry for all its rows; none
        when ``pairs`` is false."""
        o_proc: list[Process | None] = []
        o_fd: list[FdInfo | None] = []
        o_cont: list[Container] = []
        if idx is None:
            if not rows:
                return o_proc, o_fd, o_cont, None
            idx = np.asarray(rows, dtype=np.int64)
        elif not len(idx):
            return o_proc, o_fd, o_cont, None
        add_proc, add_fd, add_cont = o_proc.append, o_fd.append, o_cont.append
        rec = b.cols
        # every row of the batch (rows ascend, each once): its columns as they are, read
        # only, not a copy of each
        whole = len(idx) == len(b)
        pick: Any = (lambda a: a) if whole else (lambda a: a[idx])
        kind_a = pick(rec["kind"])
        nr_a = pick(rec["nr"])
        how_a = np.full(len(idx), _SLOW_KIND, dtype=np.int8)  # sched records: update()
        sc = kind_a == layout.KIND_SYSCALL
        how_a[sc] = self._how[nr_a[sc]]
        en = kind_a == layout.KIND_SYSCALL_ENTER
        how_a[en] = self._enter[nr_a[en]]
        if b._events:  # rows already built as Events: update those
            built = np.fromiter((i in b._events for i in idx.tolist()), dtype=bool,
                                count=len(idx))
            how_a[built] = _SLOW_KIND
        xs = pick(b.ext_row)
        args = pick(rec["args"])
        cg_a = pick(rec["cgroup_id"])
        ts_a = pick(b.ts)
        pid_a = pick(rec["pid"])
        ret_a = pick(rec["ret"])
        fd_a = pick(fdnum)
        lat_a = pick(rec["latency_ns"])
        runs = _pair_runs(how_a, pid_a, cg_a, ret_a, args, fd_a, lat_a, ts_a, xs,
                          b.ext) if pairs else None
        procfs = state.procfs
        # a recording or replaying /proc: say who asks (hasattr: isinstance of a
        # runtime protocol costs ~6 us a batch)
        stamped = cast(_Stamped, procfs) if hasattr(procfs, "at") else None
        num_a = pick(b.num) if stamped is not None else None
        o_rep: list[int] | None = None
        run_l: list[int] = []
        run_ts: list[int] = []
        last_ts: list[int] = []
        last_num: list[int] = []
        vis: np.ndarray | None = None  # the rows looked at, as positions in idx
        if runs is not None:
            # only the rows looked at one by one and each run's first: a run's other
            # rows are not turned into Python
            vis = np.flatnonzero(runs[2])
            run_n = runs[0][vis]
            run_l = run_n.tolist()
            run_ts = runs[1][vis].tolist()
            last = vis + np.maximum(run_n, 1) - 1
            last_ts = ts_a[last].tolist()
            if num_a is not None:
                last_num = num_a[last].tolist()
            o_rep = []
        sel: Any = slice(None) if vis is None else vis
        sub = idx if vis is None else idx[vis]
        rows_v: list[int] = sub.tolist()
        by_row = sel if whole else sub  # a column's rows looked at
        how_v = how_a[sel]
        xs_v = xs[sel]
        # the strings of the rows applied one by one and of each run's first open
        ext_sel = np.flatnonzero(xs_v >= 0)
        strs: dict[int, tuple[bytes, int, bytes, int]] = {}
        ext = b.ext
        if len(ext_sel):
            xi = xs_v[ext_sel]
            cols = zip(ext["str1"][xi].tolist(), ext["len1"][xi].tolist(),
                       ext["str2"][xi].tolist(), ext["len2"][xi].tolist(), strict=True)
            strs = dict(zip(ext_sel.tolist(), cols, strict=True))
        args_v = args[sel]
        ret_l = ret_a[sel].tolist()
        a0_l = args_v[:, 0].tolist()
        a1_l = args_v[:, 1].tolist()
        a2_l = args_v[:, 2].tolist()
        fd_l = fd_a[sel].tolist()
        lat_l = lat_a[sel].tolist()
        flags_l = rec["flags"][by_row].tolist()
        num_l: list[int] = num_a[sel].tolist() if num_a is not None else []
        row = _Row()
        comm_of = b.decoder._comm
        process = state.process
        procs_get = state.procs.get  # a known process in its cgroup: what process() returns
        container_of = state._container
        lookup = state.fd
        set_fd = state._set_fd
        close_fd = state._close_fd
        fds = state.fds
        grace = state.exit_grace_ns
        slow_rows = [rows_v[j] for j in np.flatnonzero(how_v == _SLOW_KIND).tolist()]
        if slow_rows:
            b.materialize(slow_rows)
        events = b._events
        update = state.update
        fd_since = state._fd_since
        max_fds = state.max_fds
        add_rep = o_rep.append if o_rep is not None else None
        items = zip(how_v.tolist(), rows_v, pid_a[sel].tolist(), cg_a[sel].tolist(),
                    rec["uid"][by_row].tolist(), ts_a[sel].tolist(), rec["comm"][by_row].tolist(),
                    strict=True)
        for j, (how, i, pid, cg, uid, ts, comm_b) in enumerate(items):
            if stamped is not None:
                stamped.at = num_l[j]
            if run_l and run_l[j]:
                # a run of opens of one path, each followed by its own close
                # (_pair_runs): every row gets the same process and container, and the
                # opens one fd (FdInfos are compared by value: vector._fd_values); of
                # the opens' table changes, what the closes leave (the number gone, and
                # its creation time). When the path is absolute (its name depends on no
                # state), the table has room (no eviction) and no row of the run is due
                # for a sweep; else the rows are applied one by one as any.
                nrun = run_l[j]
                table = fds.get(pid)
                ext_j = strs[j]
                key = (ext_j[0], ext_j[1])
                path = _abs_paths.get(key)
                if path is None:
                    given = _cstr(ext_j[0], ext_j[1])
                    if given.startswith("/"):
                        path = posixpath.normpath(given)  # State._abspath's, for these
                        if len(_abs_paths) >= _ABS_PATHS_MAX:
                            _abs_paths.clear()
                        _abs_paths[key] = path
                assert add_rep is not None and vis is not None
                if path is not None and run_ts[j] - state._last_sweep <= grace and \
                        (table is None or len(table) < max_fds):
                    proc = procs_get(pid)
                    if proc is None or (proc.cgroup_id != cg and cg):
                        row.pid, row.comm, row.cgroup_id, row.uid, row.ts_ns = (
                            pid, comm_of(comm_b), cg, uid, ts)
                        proc = process(row)
                    res = ret_l[j]
                    oflags = a2_l[j] if how == _OPENAT else a1_l[j] if how == _OPEN else 0
                    info = FdInfo(res, "directory" if how != _CREAT and oflags & O_DIRECTORY
                                  else "file", path)
                    if table is None:
                        fds[pid] = {}
                    else:
                        table.pop(res, None)
                    if len(fd_since) > _FD_SINCE_MAX:
                        fd_since.clear()
                    fd_since.pop((pid, res), None)
                    state.now_ns = last_ts[j]
                    if stamped is not None:
                        stamped.at = last_num[j]
                    if proc.cgroup_id == cg:
                        add_proc(proc)
                        add_fd(info)
                        add_cont(proc.container)
                        add_rep(nrun)
                    else:
                        o_proc.extend([proc] * nrun)
                        o_fd.extend([info] * nrun)
                        o_cont.extend([container_of(cg, pid) for _ in range(nrun)])
                        o_rep.extend([1] * nrun)  # type: ignore[union-attr]
                    continue
                # one by one, as any rows
                at = int(vis[j])
                p_r, f_r, c_r, _ = self.apply(state, b, [], fdnum, idx[at:at + nrun], False)
                o_proc.extend(p_r)
                o_fd.extend(f_r)
                o_cont.extend(c_r)
                o_rep.extend([1] * nrun)  # type: ignore[union-attr]
                continue
            if how == _SLOW_KIND:
                ev = update(events[i])
                add_proc(ev.proc)
                add_fd(ev.fd)
                add_cont(ev.container)
                if add_rep is not None:
                    add_rep(1)
                continue
            proc = procs_get(pid)
            if proc is None or (proc.cgroup_id != cg and cg):  # State.process's other cases
                row.pid, row.comm, row.cgroup_id, row.uid, row.ts_ns = (pid, comm_of(comm_b), cg,
                                                                        uid, ts)
                proc = process(row)
            cont = proc.container if proc.cgroup_id == cg else container_of(cg, pid)
            fd = None
            if how >= 0:  # a completed syscall (enter-only records: no fd, no change)
                n = fd_l[j]
                if n >= 0:  # State.fd, its table's hit without the call
                    table = fds.get(pid)
                    fd = table.get(n) if table is not None else None
                    if fd is None:
                        fd = lookup(pid, n)
                res = ret_l[j]
                if how and (res >= 0 or (res == -EINPROGRESS and how == _CONNECT)):
                    state.now_ns = ts
                    if how == _CLOSE:  # the common change, without _change's call
                        close_fd(pid, _s32(a0_l[j]), lat_l[j])
                    else:
                        fd = _change(state, how, pid, proc, fd, res, a0_l[j], a1_l[j],
                                     a2_l[j], strs.get(j), flags_l[j], fds, set_fd, lat_l[j])
            if ts - state._last_sweep > grace:
                state._sweep(ts)
            add_proc(proc)
            add_fd(fd)
            add_cont(cont)
            if add_rep is not None:
                add_rep(1)
        return o_proc, o_fd, o_cont, o_rep


def _pair_runs(how: np.ndarray, pid: np.ndarray, cg: np.ndarray, ret: np.ndarray,
               args: np.ndarray, fdnum: np.ndarray, lat: np.ndarray, ts: np.ndarray,
               xs: np.ndarray, ext: np.ndarray | None
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
    """Runs of open+close pairs among the applied rows, or None without any.

    A pair: a successful open (open, openat, creat: its path in an ext row, no fd read)
    whose next applied row is the close of the fd it made, by the same process in the
    same cgroup, that succeeded and that State._close_fd applies (not entered before
    the open: the close-race rule); the close reads the open's fd and takes it away
    again. A run: pairs one after the other whose opens are of one path, flags and
    result. Returns (per row: the run's row count at its first row, else 0; per row:
    the latest time of the rows of the run it starts; per row: False for the rows of a
    run but its first, which are not looked at one by one)."""
    n = len(how)
    if n < 2 or ext is None:
        return None
    # the opens followed by a close: the other conditions asked of those only
    c = np.flatnonzero((how[:-1] >= _OPEN) & (how[:-1] <= _CREAT) & (how[1:] == _CLOSE))
    if not len(c):
        return None
    c1 = c + 1
    res = ret[c].astype(np.int64, copy=False)
    lat2 = lat[c1].astype(np.int64, copy=False)
    ts2 = ts[c1].astype(np.int64, copy=False)
    raced = (lat2 > 0) & (lat2 < ts2) & (ts2 - lat2 < ts[c].astype(np.int64, copy=False))
    pair = (res >= 0) & (res < 1 << 31) & (ret[c1] >= 0) & (pid[c] == pid[c1]) & \
        (cg[c] == cg[c1]) & (fdnum[c] < 0) & (fdnum[c1] == res) & \
        ((args[c1, 0].astype(np.int64) & 0xFFFFFFFF) == res) & (xs[c] >= 0) & ~raced
    at = c[pair]
    if not len(at):
        return None
    # the open's flags as _change reads them (openat: arg 2, open: arg 1, creat: none)
    h = how[at]
    oflags = np.where(h == _OPENAT, args[at, 2].astype(np.int64),
                      np.where(h == _OPEN, args[at, 1].astype(np.int64), 0)) & O_DIRECTORY
    x = xs[at]
    l1 = ext["len1"][x]
    p_at, cg_at, ret_at = pid[at], cg[at], ret[at]
    same = (at[1:] == at[:-1] + 2) & (p_at[1:] == p_at[:-1]) & (cg_at[1:] == cg_at[:-1]) & \
        (ret_at[1:] == ret_at[:-1]) & (h[1:] == h[:-1]) & (oflags[1:] == oflags[:-1]) & \
        (l1[1:] == l1[:-1])
    same &= _same_paths(ext, x, l1)
    first = np.ones(len(at), dtype=bool)
    first[1:] = ~same
    starts = at[first]
    k = np.flatnonzero(first)
    count = np.diff(np.append(k, len(at)))  # pairs per run
    run = np.zeros(n, dtype=np.int64)
    run[starts] = 2 * count
    last_ts = np.zeros(n, dtype=np.int64)
    span_ts = np.maximum(ts[at], ts[at + 1]).astype(np.int64, copy=False)  # per pair
    last_ts[starts] = np.maximum.reduceat(span_ts, k)
    look = np.ones(n, dtype=bool)
    look[at[~first]] = False
    look[at + 1] = False
    return run, last_ts, look


def _same_paths(ext: np.ndarray, x: np.ndarray, l1: np.ndarray) -> np.ndarray:
    """Per pair of ext rows ``x[k]``, ``x[k + 1]`` whose ``len1`` (``l1``) is equal:
    whether their str1 holds the same path, i.e. the same first ``len1`` bytes (all a
    path is read from: decode._cstr). Only the 8-byte words up to the longest ``len1``
    are gathered, not the whole field (a record's path is a few bytes of its 896)."""
    width = ext.dtype["str1"].itemsize
    n1 = np.clip(l1.astype(np.int64), 0, width)  # the bytes _cstr reads
    top = int(n1.max(initial=0))
    nw = (top + 7) // 8
    off: int = ext.dtype.fields["str1"][1]  # type: ignore[index]
    if ext.ndim != 1 or not ext.flags.c_contiguous or off + 8 * nw > ext.itemsize:
        s1 = ext["str1"][x]  # every byte: the same where the prefixes are
        whole: np.ndarray = s1[1:] == s1[:-1]
        return whole
    same = np.ones(max(len(x) - 1, 0), dtype=bool)
    if not nw:  # no path bytes (all empty)
        return same
    raw = np.take(ext.view(np.uint8).reshape(len(ext), ext.itemsize)[:, off:off + 8 * nw],
                  x, axis=0)
    words = raw.view("<u8")
    for w in range(nw):  # bytes past a row's len1 are not its path: masked out
        col = words[:, w] & _PREFIX_MASK[np.clip(n1 - 8 * w, 0, 8)]
        same &= col[1:] == col[:-1]
    return same


# the low k bytes of a little-endian word, k = 0..8
_PREFIX_MASK = np.array([(1 << (8 * k)) - 1 for k in range(9)], dtype=np.uint64)


# an open's absolute path (its record's bytes and length) -> State._abspath's name: the
# same file opened again (a workload's 20,000 opens of one path) is decoded and
# normalised once
_ABS_PATHS_MAX = 4096
_abs_paths: dict[tuple[bytes, int], str] = {}


def _s32(v: int) -> int:
    v &= 0xFFFFFFFF
    return v - (1 << 32) if v & 0x80000000 else v


def _clone(fd: FdInfo) -> FdInfo:
    """``copy.copy(fd)``, by the constructor (the copy module's reduce protocol cost
    ~5x more per connect row)."""
    if type(fd) is not FdInfo:
        return copy.copy(fd)
    return FdInfo(fd.num, fd.type, fd.name, fd.l4proto, fd.cip, fd.cport, fd.sip, fd.sport,
                  fd.local_is_client)


def _change(state: State, how: int, pid: int, proc: Process, fd: FdInfo | None, res: int,
            a0: int, a1: int, a2: int, ext: tuple[bytes, int, bytes, int] | None, flags: int,
            fds: dict[int, dict[int, FdInfo]], set_fd: Any, latency_ns: int) -> FdInfo | None:
    """State._syscall's change for a successful row (an EINPROGRESS connect too); the
    row's fd afterwards."""
    if how <= _CREAT:  # open, openat, creat
        if how == _OPENAT:
            dirfd, oflags = _s32(a0), a2
        else:
            dirfd, oflags = AT_FDCWD, (a1 if how == _OPEN else 0)
        key = (ext[0], ext[1]) if ext is not None else (b"", 0)
        path = _abs_paths.get(key)
        if path is None:
            given = _cstr(ext[0], ext[1]) if ext is not None else ""
            path = state._abspath(proc, dirfd, given)
            if given.startswith("/"):  # its name depends on nothing else: kept
                if len(_abs_paths) >= _ABS_PATHS_MAX:
                    _abs_paths.clear()
                _abs_paths[key] = path
        info = FdInfo(num=res, type="directory" if how != _CREAT and oflags & O_DIRECTORY
                      else "file", name=path)
        set_fd(pid, info, True)
        return info
    if how == _CLOSE:
        state._close_fd(pid, _s32(a0), latency_ns)
        return fd
    if how == _DUP or (how == _FCNTL and _s32(a1) in (0, 1030)):
        if fd is not None:
            new = _clone(fd)
            new.num = res
            set_fd(pid, new, True)
        return fd
    if how == _SOCKET:
        domain = _s32(a0)
        stype = _s32(a1) & 0xF
        info = FdInfo(num=res, type=SOCK_DOMAIN.get(domain, "other"), name="",
                      l4proto=SOCK_TYPE.get(stype, "") if domain in (2, 10) else "")
        set_fd(pid, info, True)
        return info
    addr = local = ""
    if ext is not None:
        b1, l1, b2, l2 = ext
        addr = sockaddr(b2[:l2]) if l2 > 0 else ""
        if flags & layout.FLAG_LOCAL_ADDR:
            local = sockaddr(b1[:l1])
    if how in (_CONNECT, _BIND, _SENDTO):
        if fd is None or (how == _SENDTO and not addr):
            return fd
        typ = "connect" if how == _CONNECT else "bind" if how == _BIND else "sendto"
        info = _clone(fd)
        set_fd(pid, info)
        name_socket(state.procfs, pid, info, typ, addr, local)
        return info
    if how == _ACCEPT:
        info = accepted(state.procfs, pid, res, fd, addr)
        set_fd(pid, info, True)
        return info
    return fd
