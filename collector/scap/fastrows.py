"""The reader's bulk path: records of the common event types, column-wise.

For an event type whose parameters are integers and paths (and I/O data), the
records of all its events in a chunk are made with numpy: parameter lengths
and offsets of every event at once (``bulk``), each argument in one gather,
exit parameters first and the enter's over them, as sysdig merges them.
``_fast_plan`` decides per event type which path it takes and which parameter
fills which argument; ``_pruned`` drops the records the session's raw
prefilter rejects before any parameter is parsed.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ...probes.syscalls import layout
from ..native.scap import FILL_MAX_PARAMS, FillPlan, PruneTables, kernels
from . import blocks as B
from . import bulk
from . import events as E
from .columns import Columns, NotHere, PreColumns
from .eventtable import PPM_SC
from .perevent import EventPath

_XFIELDS = layout.EXT_RECORD.fields
assert _XFIELDS is not None
_STR1_AT: int = _XFIELDS["str1"][1]  # str2 follows it (columns.py checks)

# the record fields (as a capture's columns) that need the bulk path's arguments, and
# its strings (ext rows, the I/O data flag)
_ARG_FIELDS = frozenset({"args", "arg0", "arg1", "arg2", "arg3", "arg4", "arg5"})
_STR_FIELDS = frozenset({"flags", "len1", "len2", "argc", "pad", "str1", "str2"})

# the syscall numbers the prune's tables cover (scap_prune_rows): x86_64's are below 512
_LUT_NRS = 1024

# per thread as a chunk starts / after a change: (pid, comm, uid, gid, cgroup)
Attrs = tuple[int, bytes, int, int, int]


class FastRows(EventPath):
    """The bulk path's plan and its records."""

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
        self._no_str = np.zeros(n, dtype=bool)  # when no string field is read
        self._has_path = np.zeros(n, dtype=bool)  # when no I/O data is (want_data)
        for i in (i for i, pm in self._pathmap.items() if pm):
            self._has_path[i] = True
        self._sc_nr = np.full(1024, -1, dtype=np.int64)  # PPM_SC id -> x86_64 nr
        for sc, name in PPM_SC.items():
            spec = self.syscalls.by_name.get(name)
            if spec is not None and sc < 1024:
                self._sc_nr[sc] = spec.nr


    def _fast_rows(self, u8: np.ndarray, etype: np.ndarray, is_enter: np.ndarray,
                   cat: np.ndarray, handled: np.ndarray, enter_of: np.ndarray,
                   paired: np.ndarray, ts: np.ndarray, tid: np.ndarray, cpu: np.ndarray,
                   num: np.ndarray, dflags: np.ndarray, lp: np.ndarray, nparams: np.ndarray,
                   base: dict[int, Attrs], changes: list[tuple[int, int, Attrs]],
                   kept: tuple[np.ndarray, int, int, int] | None = None, spare: int = 0
                   ) -> dict[str, np.ndarray] | None:
        """The records of the fast event types, column-wise (thread columns added later).
        ``kept``: what ``prune_rows`` gives for the chunk, made ahead (ChunkPath);
        ``spare``: ext rows to leave before the strings' (the per-event path's so far)."""
        kern = kernels()
        got = kept if kern is not None else None
        if got is None and kern is not None and self.prune is not None:
            lut = self._prune_lut()
            if lut is not None:
                got = kern.prune_rows(u8, etype, is_enter, cat, handled, enter_of, paired, lp,
                                      nparams, self._evend, self._prune_tables(), lut[0],
                                      lut[1], dflags, B.STATE_ONLY, ts, not self.records)
        if got is not None:  # scap.c: the rows below and what _pruned keeps of them
            rows, n_left, n_shown, n_none = got
            self.internal_events += n_none
            self._left += n_left
            self.left_shown += n_shown
            if not len(rows):
                return None
        else:
            fast = (cat == 1) & ~handled
            exits = fast & ~is_enter
            lone = fast & is_enter & ~paired  # enter-only
            rows = np.flatnonzero(exits | lone)
            if not len(rows):
                return None
            if self.prune is not None:
                rows = self._pruned(u8, rows, etype, is_enter, enter_of, ts, tid, lp, nparams,
                                    base, changes, dflags)
                if not len(rows):
                    return None
        m = len(rows)
        fields = self.fields  # None: every field is read
        self._want_args = fields is None or not _ARG_FIELDS.isdisjoint(fields)
        self._want_strs = fields is None or not _STR_FIELDS.isdisjoint(fields)
        if kern is not None:  # scap.c: the columns below (the numpy lines), in one pass
            out, ent, srow, n_str = kern.fast_base(
                rows, is_enter, enter_of, ts, tid, cpu, num, dflags, etype,
                (self._has_str if self.want_data else self._has_path) if self._want_strs
                else self._no_str, B.STATE_ONLY,
                layout.KIND_SYSCALL_ENTER, layout.KIND_SYSCALL)
        else:
            out = {
                "ts": ts[rows], "lat": np.zeros(m, np.int64), "tid": tid[rows],
                "cpu": cpu[rows], "num": num[rows].copy(), "key": rows * 8 + 1,
                "kind": np.where(is_enter[rows], layout.KIND_SYSCALL_ENTER,
                                 layout.KIND_SYSCALL),
                "shown": (dflags[rows] & B.STATE_ONLY) == 0,
            }
            ent = np.where(is_enter[rows], rows, enter_of[rows])  # each row's enter, or -1
            # str1 and str2 side by side (I/O data runs on from one into the other), one
            # row of "S" for each record of a type that has strings ("srow"; others: -1)
            has = self._has_str if self.want_data else self._has_path
            may = has[etype[rows]] | ((ent >= 0) & has[etype[ent]])
            if not self._want_strs:
                may[:] = False
            n_str = int(np.count_nonzero(may))
            srow = np.full(m, -1, np.int64)
            srow[may] = np.arange(n_str)
            paired_rows = np.flatnonzero((ent >= 0) & ~is_enter[rows])
            out["lat"][paired_rows] = ts[rows[paired_rows]] - ts[ent[paired_rows]]
        out.update({
            "ret": np.zeros(m, np.int64), "nr": np.full(m, -1, np.int64),
            "args": np.zeros((m, 6), np.uint64), "is_ext": np.zeros(m, bool),
            "l1": np.zeros(m, np.int16), "l2": np.zeros(m, np.int16),
            "flags": np.zeros(m, np.uint8), "srow": srow,
        })
        args = out["args"].view(np.int64)
        have = np.zeros((m, 6), dtype=np.int8)  # 2: from the enter, 1: from the exit
        # "S" is laid out as the batch's ext rows (EXT_RECORD), the strings at str1: when
        # every row of it becomes an ext row, in order (the common chunk), to_batch takes
        # it as the ext array itself, with no second copy of the strings
        # (after ``spare`` rows: those of the per-event path's records that come before
        # them, the exit of an enter the chunk before left pending, go there: no copy)
        xbase = np.zeros(n_str + spare if n_str else 0, dtype=layout.EXT_RECORD)
        xrows = xbase[len(xbase) - n_str:]
        strs = xrows.view(np.uint8).reshape(len(xrows), layout.EXT_RECORD.itemsize)[
            :, _STR1_AT:_STR1_AT + layout.IO_MAX]
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
            kvs = bulk.uniq(key).tolist()
            for kv in kvs:
                if len(kvs) == 1:  # one type (a storm's chunk): all of them, no selection
                    w, evs = who, ev
                else:  # by index: a boolean mask of mixed types took ~6x longer
                    sel = np.flatnonzero(key == kv)
                    w, evs = who[sel], ev[sel]
                et, npar = kv // 4096, kv % 4096
                self._fill(u8, et, npar, w, evs, lp, out, args, have, side, strs, xrows)
        # an fd the file does not give is no fd (-1), not fd 0
        by_nr = self.syscalls.by_nr
        for nr in bulk.uniq(out["nr"]).tolist() if self._want_args else ():
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
        out["S"] = xrows  # the rows srow names
        out["S_base"] = xbase  # (its spare rows before them)
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
        k = kernels()
        if k is not None and 0 < n_all and npar <= 4096:  # scap.c: one loop, same result
            ok, lens, starts = k.params(u8, lp[evs], end, npar, n_all, slot)
            if not len(lens):
                lens = starts = np.zeros((0, 0), np.int64)
            return (ok, lens, starts) if offsets else (ok, lens)
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
                lp: np.ndarray, nparams: np.ndarray, base: dict[int, Attrs],
                changes: list[tuple[int, int, Attrs]], dflags: np.ndarray) -> np.ndarray:
        """``rows`` (fast records) without those the session's raw prefilter drops and
        that change no state (``prune``), decided on the few columns it reads before
        the parameters are parsed; counted in ``_left`` (the session's records seen).

        Each row's syscall number as ``_fill`` would find it: from the event type, or
        a generic event's parameters; -1 where no side is readable (no record)."""
        ie = is_enter[rows]
        ent = np.where(ie, rows, enter_of[rows])
        k = kernels()
        if k is not None:  # scap.c: one loop, the same numbers
            nr = k.prune_nr(u8, np.where(ie, -1, rows), ent, etype, lp, nparams,
                            self._evend, self._prune_tables())
        else:
            nr = self._prune_nr(u8, rows, etype, is_enter, ent, lp, nparams)
        none = nr < 0
        if none.any():  # as _fast_rows would: not a record
            self.internal_events += int(np.count_nonzero(none))
            keep = ~none
            rows, ent, nr, ie = rows[keep], ent[keep], nr[keep], ie[keep]
            if not len(rows):
                return rows
        r, e = rows, ent  # the columns the filter does not read are not made (lazy)
        pre = PreColumns({
            "nr": nr,
            "kind": np.where(ie, layout.KIND_SYSCALL_ENTER, layout.KIND_SYSCALL),
        }, lambda: self._thread_only(tid[r], r, base, changes), lazy={
            "tid": lambda: tid[r],
            "latency_ns": lambda: np.where((e >= 0) & ~is_enter[r], ts[r] - ts[np.maximum(e, 0)],
                                           0),
        })
        return self._kept(pre, rows, ts, dflags)

    def _prune_slow(self, cols: Columns) -> None:
        """Leave out the per-event path's records that the prune rejects (of fast types
        paired across a chunk end, enters left pending …), as the bulk path leaves out
        its own, and count them alike: by the prune's tables (``_prune_lut``), else by
        asking it about their columns (NotHere: all kept)."""
        n = len(cols)
        kern = kernels()
        lut = self._prune_lut() if kern is not None else None
        if lut is not None:
            keep_x, keep_e = lut
            n_lut = len(keep_x)
            keep = [kind >= layout.KIND_EXEC or not 0 <= nr < n_lut or
                    bool((keep_e if kind == layout.KIND_SYSCALL_ENTER else keep_x)[nr])
                    for kind, nr in zip(cols.kind, cols.nr, strict=True)]
        else:
            assert self.prune is not None
            c = cols
            pre = PreColumns({"nr": np.array(c.nr, np.int64), "kind": np.array(c.kind, np.int64)},
                             lambda: {"pid": np.array(c.pid, np.int64),
                                      "comm": np.array(c.comm, dtype=f"S{layout.COMM_LEN}"),
                                      "uid": np.array(c.uid, np.int64),
                                      "gid": np.array(c.gid, np.int64),
                                      "cgroup_id": np.array(c.cg, np.uint64)},
                             lazy={"tid": lambda: np.array(c.tid, np.int64),
                                   "latency_ns": lambda: np.array(c.lat, np.int64)})
            try:
                keep = np.asarray(self.prune(pre, np.ones(n, np.int64)), dtype=bool).tolist()
            except NotHere:
                return
        left = n - sum(keep)
        if left:
            self.left_shown += sum(s for s, k in zip(cols.shown, keep, strict=True) if not k)
            self._left += left
            cols.keep_only(keep)

    def _prune_lut(self) -> tuple[np.ndarray, np.ndarray] | None:
        """(keep by syscall number of exits, of enter-only records), int8[_LUT_NRS] each,
        when the prune reads no column but the number and the kind (else None: it
        reads the thread, latency …, or a column not known before the parameters, and
        ``_pruned`` asks it chunk by chunk). Found by asking it once about every number
        and both kinds; kept while ``prune`` is the same function. A chunk with a
        number past the tables (a generic enter's odd native id) takes ``_pruned``."""
        prune = self.prune
        got = getattr(self, "_lut", None)
        if got is not None and got[0] is prune:
            lut: tuple[np.ndarray, np.ndarray] | None = got[1]
            return lut
        lut = None
        if prune is not None:
            nr = np.tile(np.arange(_LUT_NRS, dtype=np.int64), 2)
            kind = np.repeat(np.array([layout.KIND_SYSCALL, layout.KIND_SYSCALL_ENTER],
                                      dtype=nr.dtype), _LUT_NRS)

            def other() -> Any:
                raise NotHere("")

            cols = PreColumns({"nr": nr, "kind": kind}, other,
                              lazy={"tid": other, "latency_ns": other})
            try:
                keep = np.array(prune(cols, np.ones(len(nr), np.int64)), dtype=bool)
            except NotHere:
                keep = None
            if keep is not None and keep.shape == nr.shape:
                k8 = keep.view(np.int8)
                lut = (k8[:_LUT_NRS].copy(), k8[_LUT_NRS:].copy())
        self._lut = (prune, lut)
        return lut

    def _prune_tables(self) -> PruneTables:
        t: PruneTables | None = getattr(self, "_ptables", None)
        if t is None:
            ncap = [8 if info.id == E.GENERIC_X else max(len(info.params), 1)
                    for info in E.INFO]
            t = self._ptables = PruneTables(self._nr_of, np.array([i.large for i in E.INFO]),
                                            np.array(ncap), self._sc_nr, E.GENERIC_E,
                                            E.GENERIC_X)
        return t

    def _prune_nr(self, u8: np.ndarray, rows: np.ndarray, etype: np.ndarray,
                  is_enter: np.ndarray, ent: np.ndarray, lp: np.ndarray, nparams: np.ndarray
                  ) -> np.ndarray:
        """Each row's syscall number as ``_fill`` would find it: from the event type, or
        a generic event's parameters; -1 where no side is readable (no record). The
        reference of scap.c's ``scap_prune_nr``."""
        nr = np.full(len(rows), -1, np.int64)
        for side in ("exit", "enter"):
            who = np.flatnonzero(~is_enter[rows]) if side == "exit" else np.flatnonzero(ent >= 0)
            ev = rows[who] if side == "exit" else ent[who]
            key = etype[ev] * 4096 + np.minimum(nparams[ev], 4095)
            for kv in bulk.uniq(key).tolist():
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
        return nr

    def _kept(self, pre: PreColumns, rows: np.ndarray, ts: np.ndarray, dflags: np.ndarray
              ) -> np.ndarray:
        """The rows the prefilter keeps (the rest counted in ``_left``, and those of shown
        events in ``left_shown``; ``_left`` rides on the next batch yielded, or on a
        batch of no records at the file's end: ``ScapSource.batches``)."""
        assert self.prune is not None
        try:
            keep = np.array(self.prune(pre, np.ones(len(rows), np.int64)),  # len2: as if
                            dtype=bool)  # addressed (kept); a copy: a row may be set
        except NotHere:  # the filter reads a column not known yet (evt.res): keep all
            return rows
        if not self.records:  # the session's first batch: its first time (evt.reltime's 0)
            keep[int(np.argmin(ts[rows]))] = True
        n_left = int(len(keep) - np.count_nonzero(keep))
        self._left += n_left
        if n_left:
            left = rows[~keep]
            self.left_shown += n_left - int(np.count_nonzero(dflags[left] & B.STATE_ONLY))
        kept: np.ndarray = rows[keep]
        return kept

    def _thread_only(self, tids: np.ndarray, rows: np.ndarray, base: dict[int, Attrs],
                     changes: list[tuple[int, int, Attrs]]) -> dict[str, np.ndarray]:
        d = {"tid": tids, "key": rows * 8 + 1}
        self._thread_columns(d, base, changes)
        return {"pid": d["pid"], "comm": d["comm"], "uid": d["uid"], "gid": d["gid"],
                "cgroup_id": d["cg"]}

    def _fill(self, u8: np.ndarray, et: int, npar: int, w: np.ndarray, evs: np.ndarray,
              lp: np.ndarray, out: dict[str, np.ndarray], args: np.ndarray, have: np.ndarray,
              side: str, strs: np.ndarray, xrows: np.ndarray) -> None:
        """Parameters of events ``evs`` (type ``et``, ``npar`` parameters) into rows ``w``.
        Events whose length slots or lengths overrun the event (a damaged file) give none."""
        info = E.INFO[et]
        kern = kernels()
        if et == E.GENERIC_X and kern is not None and 0 < npar <= 4096 and \
                out["nr"].flags.c_contiguous:
            # scap.c: the parameters checked and read where they lie, one loop
            kern.generic_exit_at(u8, lp[evs], self._evend[evs], npar, 4 if info.large else 2,
                                 w, self._sc_nr, self._want_args, out["nr"], out["ret"], args,
                                 have)
            return
        if et == E.GENERIC_E and kern is not None and 0 < npar <= 4096 and \
                out["nr"].flags.c_contiguous:  # scap.c: the same, the native id
            kern.generic_enter_at(u8, lp[evs], self._evend[evs], npar,
                                  min(npar, max(len(info.params), 1)), 4 if info.large else 2,
                                  w, out["nr"])
            return
        plan = self._fill_plan(et, side) if kern is not None else None
        if plan is not None and 0 < npar <= 4096 and out["nr"].flags.c_contiguous:
            # scap.c: the lines below (the parameters checked, the result, arguments and
            # paths written where they go) in one loop
            assert kern is not None
            need, ret_param, data_pi = plan[1], plan[2], plan[3]
            n_use = min(npar, need, len(info.params))
            if not 0 <= data_pi < n_use:  # (the I/O data: below)
                kern.fill_at(u8, lp[evs], self._evend[evs], npar, min(npar, len(info.params)),
                             4 if info.large else 2, n_use, w, int(self._nr_of[et]),
                             ret_param if side == "exit" else (0, 0), plan[0],
                             2 if side == "enter" else 1, out, args, have, xrows)
                return
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
            elif (kern := kernels()) is not None and out["nr"].flags.c_contiguous:
                # scap.c: the syscall, result and six arguments of each event, one loop
                kern.generic_exit(u8, lens_all, starts_all, n, w, self._sc_nr, self._want_args,
                                  out["nr"], out["ret"], args, have)
            else:
                if n >= 1:
                    sc, pres = bulk.int_param(u8, lens[:, 0], starts[:, 0], "u2")
                    nr = np.where(pres, self._sc_nr[np.clip(sc, 0, 1023)], -1)
                    unset = out["nr"][w] < 0
                    out["nr"][w[unset]] = nr[unset]
                if n >= 8:  # cdig's writer: res and the six raw arguments
                    r, pres = bulk.int_param(u8, lens[:, 1], starts[:, 1], "i8")
                    out["ret"][w[pres]] = r[pres]
                    for j in range(6 if self._want_args else 0):
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
        amap, pmap, data_pi, need = self._maps(et, side)
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
            lcol = "l1" if which == 0 else "l2"
            at = 0 if which == 0 else layout.STR1_LEN
            pres = lens[:, pi] > 0
            take = pres & ((out[lcol][w] == 0) | (rank == 2))
            kern = kernels()
            if kern is not None:  # scap.c: straight into the strided ext rows, one pass
                slen = kern.str_into(u8, lens[take, pi], starts[take, pi], xrows,
                                     _STR1_AT + at, out["srow"][w[take]], width)
            else:
                rows_, slen = bulk.str_param(u8, lens[:, pi], starts[:, pi], width)
                strs[out["srow"][w[take]], at:at + width] = rows_[take]
                slen = slen[take]
            out[lcol][w[take]] = (slen + 1).astype(np.int16)
            out["is_ext"][w[take]] = True
        if 0 <= data_pi < n:  # the data: str1 on into str2, as the probe writes it
            dlen = np.minimum(lens[:, data_pi], layout.IO_MAX).astype(np.int64)
            ww = w
            had = out["is_ext"][ww]
            if had.any():  # a string written before: the data replaces it
                strs[out["srow"][ww[had]]] = 0
            kern = kernels()
            if kern is not None:  # scap.c: a memcpy per row
                kern.bytes_into(u8, dlen, starts[:, data_pi], xrows, _STR1_AT,
                                out["srow"][ww], layout.IO_MAX)
            else:
                bulk.rows_into(u8, dlen, starts[:, data_pi], strs, out["srow"][ww])
            out["l1"][ww] = dlen.astype(np.int16)
            out["l2"][ww] = 0
            out["flags"][ww] |= layout.FLAG_IO_DATA
            out["is_ext"][ww] = True

    def _maps(self, et: int, side: str
              ) -> tuple[list[tuple[int, str, int, str, Any]], list[tuple[int, int]], int, int]:
        """What ``_fill`` reads of type ``et`` on ``side`` for the fields read now: its
        argument map, path map, I/O data parameter (-1: none), and how many parameters
        that takes."""
        amap = self._argmap.get(et, []) if self._want_args else []
        pmap = self._pathmap.get(et, []) if self._want_strs else []
        data_pi = self._datamap.get(et, -1) if side == "exit" and self._want_strs and \
            self.want_data else -1
        need = max([x[0] for x in amap] + [x[0] for x in pmap] + [data_pi] +
                   ([0] if et in self._ret_param else []) + [-1]) + 1
        return amap, pmap, data_pi, need

    def _fill_plan(self, et: int, side: str) -> tuple[FillPlan, int, tuple[int, int], int] | None:
        """(what ``Kernels.fill_at`` writes of events of type ``et`` on ``side``, the
        parameters ``_fill`` reads (``need``), the result's (bytes, signed), the I/O
        data's parameter or -1), for the fields read now; None where ``_fill``'s own
        lines run: generic types, types with no parameters, more than the loop reads,
        a codec it does not know."""
        key = (et, side, self._want_args, self._want_strs, self.want_data)
        plans: dict[tuple[Any, ...], Any] = self.__dict__.setdefault("_fill_plans", {})
        if key in plans:
            got: tuple[FillPlan, int, tuple[int, int], int] | None = plans[key]
            return got
        info = E.INFO[et]
        plan = None
        if et not in (E.GENERIC_E, E.GENERIC_X) and info.params and \
                len(info.params) <= FILL_MAX_PARAMS:
            amap_, pmap_, data_pi, need = self._maps(et, side)
            amap: list[tuple[int, int, int, int, int, int]] = []
            tables: list[np.ndarray | None] = []
            for pi, pt, ai, _kind, codec in amap_:  # (codec kind, its length, its table)
                if codec is None:
                    kind, cn, table = 0, 0, None
                elif isinstance(codec, bulk.ByteCodec):
                    kind, cn, table = 1, codec.nbytes, codec.tables()
                elif isinstance(codec, bulk.LutCodec):
                    kind, cn, table = 2, len(codec.lut), codec.lut
                else:
                    break
                amap.append((pi, int(pt[1]), int(pt[0] == "i"), ai, kind, cn))
                tables.append(table)
            else:
                pmap = [(pi, which, bulk.STR_WIDTH[which],
                         _STR1_AT + (0 if which == 0 else layout.STR1_LEN))
                        for pi, which in pmap_ if which <= 1]
                rp = self._ret_param.get(et)
                plan = (FillPlan(amap, tables, pmap), need,
                        (int(rp[1]), int(rp[0] == "i")) if rp is not None else (0, 0), data_pi)
        plans[key] = plan
        return plan

    def _thread_columns(self, fast: dict[str, np.ndarray], base: dict[int, Attrs],
                        changes: list[tuple[int, int, Attrs]]) -> None:
        """pid, comm, uid, gid, cgroup of each fast row: its thread as of that row."""
        tids = fast["tid"]
        uniq = bulk.uniq(tids)
        attrs = [base.get(int(t)) or self._attrs(int(t)) for t in uniq.tolist()]
        comm_t = f"S{layout.COMM_LEN}"
        if len(attrs) == 1:  # one thread (a storm's chunk): its values, no gather by row
            (a,), n = attrs, len(tids)
            pid = np.full(n, a[0], dtype=np.int64)
            comm = np.full(n, a[1], dtype=comm_t)
            uid = np.full(n, a[2], dtype=np.int64)
            gid = np.full(n, a[3], dtype=np.int64)
            cg = np.full(n, a[4], dtype=np.uint64)
        else:
            inv = np.searchsorted(uniq, tids)  # np.unique's inverse, without its sort
            pid = np.array([a[0] for a in attrs], dtype=np.int64)[inv]
            comm = np.array([a[1] for a in attrs], dtype=comm_t)[inv]
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

