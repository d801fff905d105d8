"""The reader's chunk step: the events of one decompressed chunk as one RawBatch.

The event headers of every block of the chunk are read at once; each exit is
paired with its thread's enter (sorted by thread, then neighbours); the events
that need Python go to the per-event path (``perevent``), the common types to
the bulk path (``fastrows``); an enter whose exit may come in the next chunk
waits in ``_pending``. Records keep the order of their events (``key``).
"""

from __future__ import annotations

import json
import os
import struct

import numpy as np

from ..decode import RawBatch
from ..native import scap as ns
from ..native.scap import kernels
from . import blocks as B
from . import bulk, headers
from . import events as E
from .base import CDIG_FD_EVENT, EVF_BLOCK, FD_INTRO
from .columns import Columns
from .fastrows import Attrs, FastRows

_U16 = struct.Struct("<H")
# what scap.c scap_headers_cls tells apart (Kernels.headers_cls' ``k``)
_CLS_TYPES = np.array([CDIG_FD_EVENT, FD_INTRO, E.DROP_E, E.PROCINFO_E, E.CONTAINER_E,
                       E.CONTAINER_JSON_2_E], dtype=np.int64)


def pair_numpy(tid: np.ndarray, etype: np.ndarray, part: np.ndarray
               ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """(enter_of, paired, first_of, last_of): among the events where ``part``, each
    exit's enter (its thread's previous event, when that is an enter of its type - 1;
    else -1), the enters so paired, and each thread's first and last event. By a
    stable sort by thread, then neighbours; the reference of scap.c ``scap_pair``."""
    n = len(tid)
    is_enter = etype % 2 == 0
    ix = np.flatnonzero(part)
    o = ix[np.argsort(tid[ix], kind="stable")]
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
    return enter_of, paired, first_of, last_of


def _without(mask: np.ndarray, at: np.ndarray) -> np.ndarray:
    """``mask`` with the rows ``at`` set False (a copy)."""
    out = mask.copy()
    out[at] = False
    return out


class ChunkPath(FastRows):
    """One chunk's events: headers, pairing, and the two paths."""

    _ahead: ns.AsyncPass | None = None

    def ahead_start(self, buf: bytes, blks: np.ndarray) -> bool:
        """Start the C pass of a whole chunk (what ``_chunk`` with ``first`` 0 takes from
        C: header columns, counts, pairing) on scap.c's worker thread, to run while the
        caller parses the chunk before (``ahead_wait`` gives it); False without the C
        kernels or a thread (``_chunk`` then makes it itself)."""
        ahead = self.ahead_pass() if len(blks) else None
        if ahead is None:
            return False
        ahead.start(buf, blks, self._cat, _CLS_TYPES, EVF_BLOCK, self.ahead_prune())
        return True

    def ahead_pass(self) -> ns.AsyncPass | None:
        """scap.c's worker thread (made at the first call); None without the C kernels,
        a thread, or a second CPU (on one CPU a thread would only take turns)."""
        if self._ahead is None:
            k_ = kernels()
            if k_ is None or len(os.sched_getaffinity(0)) < 2:
                return None
            self._ahead = k_.async_pass()
        return self._ahead

    def ahead_prune(self) -> ns.PruneArgs | None:
        """The prune's tables for a pass made ahead, once ``_fast_rows`` made them (the
        prune is asked nothing here), else None."""
        made = self.__dict__.get("_lut")
        lut = made[1] if made is not None and self.prune is not None and \
            made[0] is self.prune else None
        return (self._prune_tables(), lut[0], lut[1], B.STATE_ONLY, E.PROCEXIT_E,
                E.PROCEXIT_OLD_E) if lut is not None else None

    def ahead_wait(self) -> ns.Pre | None:
        """The C pass ``ahead_start`` started, once done (None if none runs)."""
        return self._ahead.wait() if self._ahead is not None else None

    def ahead_close(self) -> None:
        if self._ahead is not None:
            self._ahead.close()
            self._ahead = None

    def _chunk(self, buf: bytes, blks: np.ndarray, first: int, pre: ns.Pre | None = None
               ) -> RawBatch | None:
        """The events of one decompressed chunk as one RawBatch (see the module doc);
        ``pre``: its C pass from ``ahead_wait`` (when ``first`` is 0), else made here."""
        arr = blks[first:]
        if not len(arr):
            return None
        u8 = np.frombuffer(buf, dtype=np.uint8)
        k_ = kernels()
        cls: dict[str, np.ndarray] | None = None
        scratch = None
        got: ns.Pairing | None = None
        pruned: ns.Pruned | None = None
        if pre is not None:
            h, cls, stats, got, pruned = pre
        elif k_ is not None:  # the columns in reused pages (valid for this chunk: none is kept)
            scratch = self._hscratch = k_.header_scratch(getattr(self, "_hscratch", None),
                                                         len(blks))
            _, h, cls, stats = k_.headers_cls(u8, blks, first, EVF_BLOCK, self._cat,
                                              _CLS_TYPES, scratch, lean=True)
        # fd events, fd introductions, unknown types, v1, blocks that are not events: the
        # whole header columns, and the numpy lines
        if cls is not None and (stats[ns.STAT_GENERAL] or stats[ns.STAT_EVENTS] < len(arr)):
            cls = None
        if cls is None:
            rows, h = headers.read(u8, blks, first, scratch)
            if len(rows) < len(arr):  # not event blocks, or too short for an event header
                bad = np.ones(len(arr), dtype=bool)
                bad[rows - first] = False
                for t, c in zip(*np.unique(arr[bad, 0], return_counts=True), strict=True):
                    self.skipped_blocks[int(t)] = self.skipped_blocks.get(int(t), 0) + int(c)
        etype, dflags = h["etype"], h["dflags"]
        if cls is not None:  # the common chunk: every event kept, its columns made in C
            lp, evend, cat, is_enter, part = (cls["lp"], cls["evend"], cls["cat"],
                                              cls["is_enter"], cls["part"])
            nparams = h["nparams"]
            cpu, ts, tid = h["cpu"], h["ts"], h["tid"]
            if not len(etype):
                return None
            n_timed, n_cat0, n_drop, n_pinfo = (int(stats[ns.STAT_TIMED]),
                                                int(stats[ns.STAT_CAT0]),
                                                int(stats[ns.STAT_DROP]),
                                                int(stats[ns.STAT_PROCINFO]))
            lo_hi: tuple[int, int] | None = (int(stats[ns.STAT_TS_LO]),
                                             int(stats[ns.STAT_TS_HI])) if n_timed else None
            no_cont = not stats[ns.STAT_CONTAINER]  # no container events
        else:
            e, p = h["e"], h["p"]
            v2 = h["v2"].astype(bool)
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
            nparams, elen = h["nparams"].copy(), h["elen"]  # nparams: v1's counted below
            for k in np.flatnonzero(valid & ~v2).tolist():  # old captures: count parameters
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
            cpu, ts, tid = h["cpu"], h["ts"], h["tid"]
            if len(idx) < len(valid):  # else every event is kept (the common chunk): no copies
                e, p, lp, elen = e[idx], p[idx], lp[idx], elen[idx]
                etype, nparams, dflags = etype[idx], nparams[idx], dflags[idx]
                cpu, ts, tid = cpu[idx], ts[idx], tid[idx]
            # where each event's parameters must end: its length, within its block
            evend = np.minimum(p + elen, e)
            timed = ts[ts > 0]  # a container event may have none
            lo_hi = (int(timed.min()), int(timed.max())) if len(timed) else None
            cat = self._cat[etype]
            n_cat0 = int(np.count_nonzero(cat == 0))
            n_drop = n_pinfo = 1  # looked for below
            is_enter = (etype & 1) == 0
            container = (etype == E.CONTAINER_E) | (etype == E.CONTAINER_JSON_2_E)
            part = (cat > 0) & ~container
            no_cont = False
        self._evend = evend
        n = len(etype)
        if lo_hi is not None:
            lo, hi = lo_hi
            self.span = (lo, hi) if self.span is None else (min(self.span[0], lo),
                                                            max(self.span[1], hi))
        num = np.arange(self.events + 1, self.events + 1 + n, dtype=np.int64)
        self.events += n
        self.internal_events += n_cat0
        for k in np.flatnonzero(etype == E.DROP_E).tolist() if n_drop else ():
            self._drop_mark(buf, int(lp[k]), int(nparams[k]), int(evend[k]))
        for k in np.flatnonzero(etype == E.PROCINFO_E).tolist() if n_pinfo else ():
            self._procinfo(buf, int(ts[k]), int(tid[k]), int(lp[k]), int(nparams[k]),
                           int(evend[k]))
        # pair each exit with its thread's previous event when that is its enter
        if got is None or cls is None:
            got = k_.pair(tid, etype, part) if k_ is not None else None
        enter_of, paired, first_of, last_of = got if got is not None else \
            pair_numpy(tid, etype, part)
        cols = Columns()
        override = np.zeros(n, dtype=bool)
        overrides = False  # (most chunks: none; their masks below skip it)
        # enters left pending by the previous chunk
        if self._pending:
            for k in np.flatnonzero(first_of).tolist():
                t = int(tid[k])
                pend = self._pending.get(t)
                if pend is None:
                    continue
                if not is_enter[k] and etype[k] == pend[0].id + 1:
                    override[k] = overrides = True  # its exit: the slow path pairs them
                else:
                    del self._pending[t]
                    self._key = k * 8
                    self._enter_only(pend, cols)
        # the enters whose exit may come in the next chunk: among each thread's last
        # event (a few a chunk: looked at by index, not by masks of the whole chunk)
        last = np.flatnonzero(last_of)
        et_l = etype[last]
        carry_at = last[is_enter[last] & ~paired[last] & part[last] &
                        (et_l != E.PROCEXIT_E) & (et_l != E.PROCEXIT_OLD_E)]
        slow = ((cat == 2) | override) if overrides else (cat == 2)
        slow[carry_at] = False
        # the threads as the chunk starts, for the fast rows (the slow path changes them)
        if no_cont:  # part is cat > 0: its threads are those of first_of, one event each
            utids = np.sort(tid[first_of]).tolist()
        else:
            utids = bulk.uniq(tid[cat > 0]).tolist()
        base = {t: self._thread(t) for t in utids}
        base_attrs = {t: (th.pid, th.comm, th.uid, th.gid, th.cgroup) for t, th in base.items()}
        changes: list[tuple[int, int, Attrs]] = []
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
        for k in carry_at.tolist():
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
        handled = slow.copy()
        handled[carry_at] = True
        kept = self._pruned_ahead(pruned, u8, etype, is_enter, cat,
                                  _without(override, carry_at) if overrides else None,
                                  enter_of, paired, lp, nparams, dflags, ts) \
            if pruned is not None and cls is not None else None
        fast = self._fast_rows(u8, etype, is_enter, cat, handled, enter_of, paired, ts,
                               tid, cpu, num, dflags, lp, nparams, base_attrs, changes, kept,
                               len(cols.ext_row))
        if fast is not None:
            self._thread_columns(fast, base_attrs, changes)
        if len(cols) and self.prune is not None and self.records:
            self._prune_slow(cols)  # (not the session's first batch: its first time)
        if not len(cols) and fast is None:
            return None
        batch, shown = cols.to_batch(fast)
        return self._finish_batch(batch, shown)

    def _pruned_ahead(self, pruned: ns.Pruned, u8: np.ndarray, etype: np.ndarray,
                      is_enter: np.ndarray, cat: np.ndarray, override: np.ndarray | None,
                      enter_of: np.ndarray, paired: np.ndarray, lp: np.ndarray,
                      nparams: np.ndarray, dflags: np.ndarray, ts: np.ndarray
                      ) -> tuple[np.ndarray, int, int, int] | None:
        """What ``prune_rows`` gives for this chunk, from the one made ahead (``pruned``,
        whose ``handled`` lacked ``override``: the exits of enters the chunk before left
        pending; None: none): its rows and counts less those of the ``override`` events
        (a record's row and counts are its own: first_ts aside, which is why the
        session's first batch takes none). None where it does not apply: ``_fast_rows``
        makes it."""
        lut = self._prune_lut() if self.prune is not None and self.records else None
        k_ = kernels()
        if lut is None or lut[0] is not pruned.keep_x or pruned.got is None or k_ is None:
            return None
        rows, left, shown, none = pruned.got
        ov = override & (cat == 1) if override is not None else None
        if ov is not None and ov.any():
            fix = k_.prune_rows(u8, etype, is_enter, cat, ~ov, enter_of, paired, lp, nparams,
                                self._evend, self._prune_tables(), lut[0], lut[1], dflags,
                                B.STATE_ONLY, ts, False)
            if fix is None:
                return None
            o_rows, o_left, o_shown, o_none = fix
            if len(o_rows):
                rows = rows[~np.isin(rows, o_rows)]
            left, shown, none = left - o_left, shown - o_shown, none - o_none
        return rows, left, shown, none

    def _finish_batch(self, raw: RawBatch, shown: np.ndarray) -> RawBatch:
        hidden = ~shown
        num = raw.num
        assert num is not None  # Columns.to_batch numbers every record
        self._hidden = frozenset(num[hidden].tolist()) if hidden.any() else frozenset()
        if hidden.any() and hasattr(raw, "ctx"):  # the session's "kept for state only"
            raw.ctx = hidden
        self.records += len(raw) + self._left
        self.left_out, self._left = self._left, 0
        return raw

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

