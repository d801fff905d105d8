"""State over columns: which process, fd and container each row of a batch has.

The State (``collector.state``) is kept current by the few records that change it —
exec/fork/exit, open/close/dup/socket/connect/accept … — applied one by one, in
order, exactly as the per-event pipeline did. Every other row only *reads* state,
and what it reads can change only at a state-changing row of its own process. So
rows are grouped by (process, segment), where a process's segment number counts
its state-changing rows before the row: within a group nothing the rows read can
change. The first row of each group (and of each (process, fd, segment) group) is
looked up in order like a state-changing row; every other row takes the objects
of its group's first row. That is an as-of join by (pid, fd) and time, with the
per-record Python work limited to the rows that change state and one row per group.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..probes.syscall_table import SyscallTable
from ..probes.syscalls import layout
from .batch import EventBatch, factorize, stable_order
from .events import Container, FdInfo, Process
from .state import State
from .state_rows import RowApplier

# Syscalls whose records State.update() changes something for (besides lookups):
# the fd/process-table syscalls, and sendto *with an address*, which names an
# unconnected socket (glibc's send() is sendto without one: most of them).
ADDRESSED_SENDS = frozenset({"sendto", "sendmsg"})


_BY_ARG, _BY_RES, _ALL = 1, 2, 3
_TOUCH_BY_ARG = frozenset({"close", "connect", "bind", "sendto", "sendmsg"})
_TOUCH_BY_RES = frozenset({"open", "openat", "openat2", "creat", "memfd_create", "socket",
                           "accept", "accept4", "dup", "dup2", "dup3", "fcntl", "eventfd2",
                           "timerfd_create", "signalfd4", "inotify_init1", "epoll_create1"})
# state syscalls that change no fd of their own process (process-level, or the
# child's table, copied when the child is first seen)
_TOUCH_NONE = frozenset({"execve", "execveat", "clone", "clone3", "fork", "vfork", "exit",
                         "exit_group", "chdir", "fchdir"})


# the record columns an enrichment without fds reads of rows that change no process
# (a capture's others are read only for batches with such rows: Session.replay)
PROCESS_COLUMNS = ("ctx", "num", "ts_ns", "kind", "nr", "pid", "cgroup_id", "uid", "comm")


class Enricher:
    """Applies a batch's state changes to ``state`` and fills the batch's code columns."""

    def __init__(self, state: State, syscalls: SyscallTable) -> None:
        self.state = state
        mutating = np.zeros(1 << 16, dtype=bool)
        addressed = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            mutating[spec.nr] = spec.state
            addressed[spec.nr] = spec.name in ADDRESSED_SENDS
        self._mutating = mutating
        self._addressed = addressed
        how = np.zeros(1 << 16, dtype=np.int8)
        for spec in syscalls.by_nr.values():
            if spec.name in _TOUCH_BY_ARG:
                how[spec.nr] = _BY_ARG
            elif spec.name in _TOUCH_BY_RES:
                how[spec.nr] = _BY_RES
            elif spec.state and spec.name not in _TOUCH_NONE:
                how[spec.nr] = _ALL  # a state syscall not classified: every fd, to be safe
        self._touch_how = how
        state_nr = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            if spec.state:
                state_nr[spec.nr] = True
        self.state_nr = state_nr
        proc_nr = np.zeros(1 << 16, dtype=bool)  # state syscalls that change no fd
        for spec in syscalls.by_nr.values():
            proc_nr[spec.nr] = spec.state and spec.name in _TOUCH_NONE
        self._proc_nr = proc_nr
        self._rows = RowApplier(syscalls)
        # False when no stage reads an fd (Session: cdig summary --by proc): the rows
        # that change only fd tables are not applied, no fd is looked up, fd codes 0
        self.fds = True

    def state_rows(self, rec: Any) -> np.ndarray:
        """Records that keep the fd/process tables current (a capture keeps them).
        ``rec``: records, or an EventBatch's ``cols``."""
        rows: np.ndarray = (rec["kind"] >= layout.KIND_EXEC) | self.state_nr[rec["nr"]]
        return rows

    def process_rows(self, rec: Any) -> np.ndarray:
        """Rows that change a process (sched records, exec, chdir, clone …): what an
        enrichment without fds applies (``fds = False``)."""
        rows: np.ndarray = (rec["kind"] >= layout.KIND_EXEC) | self._proc_nr.take(rec["nr"])
        return rows

    def mutating_rows(self, b: EventBatch) -> np.ndarray:
        """Rows whose State.update() changes state (sched records included)."""
        rec = b.cols
        nr = rec["nr"]  # tables looked up by take: ~1.7x a fancy index's speed
        mut: np.ndarray = (rec["kind"] >= layout.KIND_EXEC) | self._mutating.take(nr)
        sends = self._addressed.take(nr) & (b.ext_row >= 0)
        if sends.any():
            rows = np.flatnonzero(sends)
            mut[rows] |= b.ext["len2"][b.ext_row[rows]] > 0
        return mut

    def mutating_columns(self, cols: Any, len2: np.ndarray) -> np.ndarray:
        """:meth:`mutating_rows` over record columns (``cols["kind"]``, ``cols["nr"]``)
        and each row's ``len2`` (<= 0 for a record without strings)."""
        nr = cols["nr"]
        mut: np.ndarray = (cols["kind"] >= layout.KIND_EXEC) | self._mutating.take(nr) | \
            (self._addressed.take(nr) & (len2 > 0))
        return mut

    def _touches(self, b: EventBatch, mut: np.ndarray,
                 fdnum: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(fd each state row changes or -1, rows that may change any fd of their
        process): by argument (close, connect …), by result (open, socket, dup …),
        or all (pipe, socketpair, close_range — fds in user memory —, exits)."""
        rec = b.cols
        how = np.where(mut, self._touch_how[rec["nr"]], 0)
        how = np.where(rec["kind"] >= layout.KIND_EXEC,
                       np.where(rec["kind"] == layout.KIND_EXIT, _ALL, 0), how)
        ret = rec["ret"]
        touched = np.where(how == _BY_ARG, fdnum,
                           np.where((how == _BY_RES) & (ret >= 0) & (ret < 1 << 31), ret, -1))
        return touched.astype(np.int64), how == _ALL

    def without_state(self, b: EventBatch) -> None:
        """Leave ``b`` unenriched, for sinks that read no process, fd or container
        (``Session.stateless``): no codes, no state changes applied."""
        b.procs, b.fds, b.containers = [], [None], []
        b.proc_code = b.fd_code = b.cont_code = None

    def enrich(self, b: EventBatch) -> list[int]:
        """Apply ``b``'s state changes in order and fill its proc/fd/container codes.

        Returns the rows handled one by one, in order (``collector.state_rows``)."""
        n = len(b)
        procs: list[Process | None] = []
        fds: list[FdInfo | None] = [None]
        conts: list[Container] = []
        b.procs, b.fds, b.containers = procs, fds, conts
        if n == 0:
            b.proc_code = np.zeros(0, dtype=np.int64)
            b.fd_code = np.zeros(0, dtype=np.int64)
            b.cont_code = np.zeros(0, dtype=np.int64)
            return []
        rec = b.cols
        kind = rec["kind"]
        if self.fds:
            mut = self.mutating_rows(b)
            fdnum = b.fd_numbers()
        else:  # the process-level state rows only (exec, fork, exit, chdir …)
            mut = self.process_rows(rec)
            fdnum = np.full(n, -1, dtype=np.int64)
        pid = rec["pid"].astype(np.int64)
        cg = rec["cgroup_id"]
        if mut.all():
            # every row a state row (a filter's prefilter left only opens and closes):
            # each is applied and gets its own objects, no group is looked at (and
            # each row starts a run of its own: never the runs path)
            row_a = np.arange(n, dtype=np.int64)
            rows = row_a.tolist()
            b.proc_code, b.fd_code, b.cont_code = self._apply(b, rows, row_a, fdnum)
            return rows
        runs = _run_starts(pid, cg, fdnum, kind, mut)
        if len(runs) * RUNS_PER_ROW <= n:
            return self._enrich_runs(b, runs, fdnum)
        sched = kind >= layout.KIND_EXEC
        pid_code: np.ndarray | None = None
        n_pids = 0
        if sched.any():
            pid_code, _, n_pids = factorize(pid)
        # processes change only at sched records (exec gives a new Process) and
        # cgroup moves (in the key): a segment per exec/fork/exit of the process
        k_ps = pid << 24 if pid_code is None else (pid << 24) | _segments(pid_code, n_pids, sched)
        hit = None if pid_code is not None else \
            _pairs(pid if self.fds else rec["pid"], cg, exact=not self.fds)
        if hit is not None:  # no sched record: (process, cgroup) by one hash, checked
            p_inv, p_first = hit
        elif cg[0] == cg.min() == cg.max():
            p_inv, p_first, _ = factorize(k_ps)
        else:
            cg_code, _, n_cg = factorize(cg)
            if int(k_ps.max()) < (1 << 62) // n_cg:  # (process, segment, cgroup) as one int
                p_inv, p_first, _ = factorize(k_ps * n_cg + cg_code)
            else:
                ps_code, _, _ = factorize(k_ps)
                p_inv, p_first, _ = factorize(ps_code * n_cg + cg_code)
        has_fd = fdnum >= 0
        ordered = mut.copy()
        ordered[p_first] = True
        f_inv = None
        if has_fd.any():
            # an fd's name changes only at a state row that touches that fd (or all
            # of the process's fds): a segment per such row of the (process, fd)
            touched, every = self._touches(b, mut, fdnum)
            seg_every = None
            if every.any():
                if pid_code is None:
                    pid_code, _, n_pids = factorize(pid)
                seg_every = _segments(pid_code, n_pids, every)
            f_inv, f_first = _fd_groups(pid, fdnum, has_fd, touched, seg_every)
            ordered[f_first] = True
        row_a = np.flatnonzero(ordered)
        rows = row_a.tolist()
        o_proc, o_fd, o_cont = self._apply(b, rows, row_a, fdnum)
        pos = np.full(n, -1, dtype=np.int64)
        pos[row_a] = np.arange(len(rows))
        # every row: its group's first row's objects; ordered rows: their own
        first_pos = pos[p_first][p_inv]
        proc_code = o_proc[first_pos]
        cont_code = o_cont[first_pos]
        if f_inv is not None:
            ffirst = pos[f_first][f_inv]
            fd_code = np.where(has_fd, o_fd[np.maximum(ffirst, 0)], 0)
        else:
            fd_code = np.zeros(n, dtype=np.int64)
        own = pos >= 0
        opos = pos[own]
        proc_code[own] = o_proc[opos]
        cont_code[own] = o_cont[opos]
        fd_code[own] = o_fd[opos]
        b.proc_code, b.fd_code, b.cont_code = proc_code, fd_code, cont_code
        return rows


    def _apply(self, b: EventBatch, rows: list[int], row_a: np.ndarray,
               fdnum: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """Apply ``rows`` (``row_a``: the same as an array) to the state: each row's
        proc, fd and container codes, the objects appended to ``b``'s tables."""
        p_objs, f_objs, c_objs, reps = self._rows.apply(self.state, b, rows, fdnum, row_a)
        o_proc = _intern(p_objs, b.procs)
        o_cont = _intern(c_objs, b.containers)
        fds = b.fds
        fds.clear()  # None first again: fd code 0 is no fd
        o_fd = _intern([None, *f_objs], fds)[1:]
        if reps is not None:  # entries standing for runs of rows
            rep = np.asarray(reps, dtype=np.int64)
            o_proc, o_fd, o_cont = o_proc.repeat(rep), o_fd.repeat(rep), o_cont.repeat(rep)
        return o_proc, o_fd, o_cont

    def _enrich_runs(self, b: EventBatch, runs: np.ndarray, fdnum: np.ndarray) -> list[int]:
        """``enrich`` when the batch is long runs of rows that read what the row before
        them read (``_run_starts``): each run's first row applied in order, every other
        row takes its run's objects. No sort: a storm of one process's syscalls costs a
        few passes over its columns."""
        rows: list[int] = runs.tolist()
        o_proc, o_fd, o_cont = self._apply(b, rows, runs.astype(np.int64, copy=False), fdnum)
        start = np.zeros(len(b), dtype=np.int64)
        start[runs[1:]] = 1
        run = np.cumsum(start)  # each row's run, an index into ``rows``
        b.proc_code, b.fd_code, b.cont_code = o_proc[run], o_fd[run], o_cont[run]
        return rows


# ``enrich`` takes the runs path when a batch has at most one run per this many rows:
# a run's first row costs ~1-2 us of Python, the grouping path ~0.3-0.4 us per row
RUNS_PER_ROW = 8


def _run_starts(pid: np.ndarray, cg: np.ndarray, fdnum: np.ndarray, kind: np.ndarray,
                mut: np.ndarray) -> np.ndarray:
    """The rows that may read other objects than the row before them: the first row,
    each state-changing row and the row after it, and each row whose process, cgroup,
    fd number or record kind differs from the row before's. Any other row is of its
    predecessor's (process, segment) and (process, fd) groups (see the module doc),
    so it gets what its predecessor got."""
    same = (pid[1:] == pid[:-1]) & (cg[1:] == cg[:-1]) & (fdnum[1:] == fdnum[:-1]) & \
        (kind[1:] == kind[:-1]) & ~mut[1:] & ~mut[:-1]
    starts = np.flatnonzero(~same) + 1
    return np.concatenate(([0], starts)) if len(starts) else np.zeros(1, dtype=np.int64)


_MIX = np.uint64(0x9E3779B97F4A7C15)


def _pairs(pid: np.ndarray, cg: np.ndarray, exact: bool = False
           ) -> tuple[np.ndarray, np.ndarray] | None:
    """(group per row, first row of each group) of rows equal on (pid, cgroup), the
    groups numbered in order of first sight (as ``factorize`` of the pair), by one
    hash of both; None on a hash collision (never seen: the caller groups exactly).
    ``exact`` (the enrichment without fds, cdig summary): both columns straight into
    render.c's hash table, which compares the keys (no numpy hash passes, no check
    pass), when compiled."""
    if exact and len(pid) >= 4096:
        from .native.render import assembler

        asm = assembler()
        if asm is not None:
            return asm.group([pid, cg], len(pid))
    with np.errstate(over="ignore"):
        h = (pid.astype(np.uint64) * _MIX) ^ cg.astype(np.uint64, copy=False)
    inv, first, _ = factorize(h)
    rep = first[inv]
    if np.array_equal(pid[rep], pid) and np.array_equal(cg[rep], cg):
        return inv, first
    return None


def _intern(objs: list[Any], table: list[Any]) -> np.ndarray:
    """Each object's index in ``table`` (by identity), the distinct objects appended
    to ``table`` in order of first sight."""
    if not objs:
        return np.zeros(0, dtype=np.int64)
    codes, first, _ = factorize(np.fromiter(map(id, objs), dtype=np.int64, count=len(objs)))
    table.extend(objs[i] for i in first.tolist())
    return codes


def _fd_groups(pid: np.ndarray, fdnum: np.ndarray, has_fd: np.ndarray, touched: np.ndarray,
               seg_every: np.ndarray | None) -> tuple[np.ndarray, np.ndarray]:
    """(group per row, -1 without an fd; first row of each group): rows of one
    (process, fd) with no state row touching that fd between them (``touched``: the
    fd a state row changes, -1 for none; ``seg_every``: per row, how many rows that
    touch every fd of the process came before it)."""
    n = len(pid)
    has_touch = touched >= 0
    # items in row order, a row's read of its fd before its own touch (it sees the
    # old fd): slot 2i the read, 2i+1 the touch; grouped by (process, fd), stably
    keys = np.empty(2 * n, dtype=np.int64)
    keys[0::2] = (pid << 32) | np.where(has_fd, fdnum, 0)
    keys[1::2] = (pid << 32) | np.where(has_touch, touched, 0)
    valid = np.empty(2 * n, dtype=bool)
    valid[0::2] = has_fd
    valid[1::2] = has_touch
    sel = np.flatnonzero(valid)
    codes, _, k = factorize(keys[sel])
    if seg_every is not None:
        se = seg_every[sel >> 1]
        codes, _, k = factorize(codes * (int(se.max()) + 1) + se)
    order = stable_order(codes, k)
    sk = codes[order]
    item = sel[order]
    is_read = (item & 1) == 0
    # a read starts a group unless the item before it, of the same key, is a read
    start = is_read.copy()
    start[1:] &= ~((sk[1:] == sk[:-1]) & is_read[:-1])
    gid = np.cumsum(start) - 1
    f_inv = np.full(n, -1, dtype=np.int64)
    f_inv[item[is_read] >> 1] = gid[is_read]
    return f_inv, item[start] >> 1


def _segments(code: np.ndarray, k: int, mut: np.ndarray) -> np.ndarray:
    """Per row: how many state-changing rows of its process come before it
    (``code``: the row's process as a code below ``k``)."""
    n = len(code)
    if not mut.any():
        return np.zeros(n, dtype=np.int64)
    order = stable_order(code, k)
    ps = code[order]
    ms = mut[order].astype(np.int64)
    cs = np.cumsum(ms) - ms  # exclusive running count over the sorted rows
    starts = np.ones(n, dtype=bool)
    starts[1:] = ps[1:] != ps[:-1]
    start_idx = np.maximum.accumulate(np.where(starts, np.arange(n), 0))
    seg = np.empty(n, dtype=np.int64)
    seg[order] = cs - cs[start_idx]
    return seg
