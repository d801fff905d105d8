"""ctypes bindings of ``scap.c``: the .scap reader's block walk and event headers.

``kernels()`` is None when the C side is not available (no compiler, no private
cache, ``CDIG_NATIVE=0``): the reader then takes its numpy path, which gives the
same columns (tests/unit/test_scap_native.py).
"""

from __future__ import annotations

import ctypes
from typing import Any

import numpy as np

from . import address, function, load

__all__ = ["CHAIN_BAD_LENGTH", "CHAIN_BAD_TRAILER", "CHAIN_OK", "HEADER_COLUMNS", "STAT_CAT0",
           "STAT_CONTAINER", "STAT_DROP", "STAT_EVENTS", "STAT_GENERAL", "STAT_PROCINFO",
           "STAT_TIMED", "STAT_TS_HI", "STAT_TS_LO", "AsyncPass", "Kernels", "Pairing", "Pre",
           "FILL_MAX_PARAMS", "FillPlan", "PruneArgs", "PruneTables", "Pruned", "kernels"]

CHAIN_OK, CHAIN_BAD_LENGTH, CHAIN_BAD_TRAILER = 0, 1, 2
# scap_headers' output columns, in its argument order (after ``row``)
HEADER_COLUMNS = ("s", "e", "p", "v2", "etype", "dflags", "nparams", "elen", "cpu", "ts", "tid")

# the header columns scap_headers_cls writes when lean
_LEAN = ("etype", "dflags", "nparams", "cpu", "ts", "tid")

# the slots of headers_cls' counts (int64[9]; scap.c scap_headers_cls writes 0-7): the
# events that need the general path, of category 0, drop marks, procinfo events,
# container events, events with a time (ts > 0), their least and greatest time, and
# the events read
(STAT_GENERAL, STAT_CAT0, STAT_DROP, STAT_PROCINFO, STAT_CONTAINER, STAT_TIMED, STAT_TS_LO,
 STAT_TS_HI, STAT_EVENTS) = range(9)

_P = ctypes.c_void_p
_I = ctypes.c_int64


class Kernels:
    """The compiled functions, typed."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._chain = function(lib, "scap_chain", _I, [ctypes.c_char_p, _I, _P, _I, _P, _P, _P])
        self._chain_rows = function(lib, "scap_chain_rows", _I,
                                    [ctypes.c_char_p, _I, _I, _P, _I, _P, _P, _P])
        self._generic_exit = function(lib, "scap_generic_exit", None,
                                      [_P, _I, _P, _P, _I, _I, _I, _P, _P, _I, _P, _P, _P, _P])
        self._pack = function(lib, "scap_pack_records", None, [_P, _I, _I, _I, *([_P] * 15)])
        self._generic_exit_at = function(lib, "scap_generic_exit_at", None,
                                         [_P, _I, _P, _P, _I, _I, _I, _P, _P, _I, _P, _P, _P,
                                          _P, _P])
        self._generic_enter_at = function(lib, "scap_generic_enter_at", None,
                                          [_P, _I, _P, _P, _I, _I, _I, _I, _P, _P, _P])
        self._fill_at = function(lib, "scap_fill_at", None,
                                 [_P, _I, _P, _P, _I, _I, _I, _I, _I, _P, _I, _P, _I, _I, _P, _I,
                                  _P, _P, _I, _P, _P, _I, _P, _P, _P, _P, _P, _P, _I, _I, _P])
        self._fast_base = function(lib, "scap_fast_base", _I,
                                   [_I, _P, _P, _P, _P, _P, _P, _P, _P, _P, _I, _P, _I, _I, _I,
                                    *([_P] * 10)])
        self._headers = function(lib, "scap_headers", _I,
                                 [_P, _I, _P, _I, _I, _I, _P, *([_P] * len(HEADER_COLUMNS))])
        self._headers_cls = function(lib, "scap_headers_cls", _I,
                                     [_P, _I, _P, _I, _I, _I, _P, *([_P] * len(HEADER_COLUMNS)),
                                      _P, _I, _P, *([_P] * 6), _I])
        self._params = function(lib, "scap_params", _I,
                                [_P, _I, _P, _P, _I, _I, _I, _I, _P, _P, _P])
        self._int = function(lib, "scap_int_param", None, [_P, _I, _P, _P, _I, _I, _I, _P, _P])
        self._rows = function(lib, "scap_gather_rows", None, [_P, _I, _P, _I, _I, _P, _I, _I])
        self._move = function(lib, "scap_move_rows", None,
                              [_P, _I, _I, _P, _P, _I, _I, _P, _I, _I])
        self._str = function(lib, "scap_str_into", None,
                             [_P, _I, _P, _P, _I, _I, _P, _I, _I, _P, _P])
        self._bytes = function(lib, "scap_bytes_into", None,
                               [_P, _I, _P, _P, _I, _I, _P, _I, _I, _P])
        self._pair = function(lib, "scap_pair", _I, [_P, _P, _P, _I, _P, _P, _P, _P])
        self._async_new = function(lib, "scap_async_new", _P, [])
        self._async_start = function(lib, "scap_async_start", _I,
                                     [_P, ctypes.c_char_p, _I, _P, _I, _I, _P, _I, _P, _P, _P,
                                      _P])
        self._async_wait = function(lib, "scap_async_wait", _I, [_P])
        self._async_free = function(lib, "scap_async_free", None, [_P])
        self._prune_nr = function(lib, "scap_prune_nr", None,
                                  [_P, _I, _P, _P, _I, _P, _P, _P, _P, _I, _P, _P, _P, _P, _I,
                                   _I, _P])
        self._prune_rows = function(lib, "scap_prune_rows", _I,
                                    [_P, _I, _I, *([_P] * 9), _I, _P, _P, _P, _P, _I, _I, _P,
                                     _P, _I, _P, _I, _P, _I, _P, _P])

    def chain(self, buf: bytes) -> tuple[np.ndarray, int, int, int]:
        """(block start offsets, offset after the last, status, length word of the block
        stopped at): the blocks of ``buf`` that follow each other from offset 0."""
        n = len(buf)
        starts = np.empty(n // 12 + 1, dtype=np.int64)
        out = np.zeros(3, dtype=np.int64)  # end, status, bad_len
        k = self._chain(buf, n, address(starts), len(starts), address(out[0:]), address(out[1:]),
                        address(out[2:]))
        return starts[:k], int(out[0]), int(out[1]), int(out[2])

    def chain_rows(self, buf: bytes, base: int) -> tuple[np.ndarray, int, int, int]:
        """``chain``, each block as a row (type, body start, body end, ``base`` + its
        start): BlockStream.chunks' table, with no numpy pass over the blocks."""
        n = len(buf)
        rows = np.empty((n // 12 + 1, 4), dtype=np.int64)
        out = np.zeros(3, dtype=np.int64)  # end, status, bad_len
        k = self._chain_rows(buf, n, base, address(rows), len(rows), address(out[0:]),
                             address(out[1:]), address(out[2:]))
        return rows[:k], int(out[0]), int(out[1]), int(out[2])

    def headers(self, u8: np.ndarray, blks: np.ndarray, first: int, evf_bit: int,
                scratch: np.ndarray | None = None) -> tuple[np.ndarray, dict[str, np.ndarray]]:
        """(block row of each event, its header columns) for blocks ``blks[first:]``.

        With ``scratch`` (an int64 array of at least 12 x the blocks, see
        ``header_scratch``) the columns are views into it, valid until it is used
        again: the reader's per-chunk columns (~3 MB) then reuse pages already mapped,
        where fresh arrays cost a page fault per 4 KiB at every chunk."""
        b = np.ascontiguousarray(blks, dtype=np.int64)
        cap = max(len(b) - first, 0)
        ncols = len(HEADER_COLUMNS) + 1
        if scratch is not None and scratch.dtype == np.int64 and scratch.flags.c_contiguous \
                and scratch.flags.writeable and scratch.size >= ncols * cap:
            mat = scratch.reshape(-1)[:ncols * cap].reshape(ncols, cap)
        else:
            mat = np.empty((ncols, cap), dtype=np.int64)
        row = mat[0]
        cols = {name: mat[1 + i] for i, name in enumerate(HEADER_COLUMNS)}
        m = self._headers(address(u8), len(u8), address(b), first, len(b), evf_bit, address(row),
                          *(address(cols[name]) for name in HEADER_COLUMNS))
        return row[:m], {k: v[:m] for k, v in cols.items()}

    def headers_cls(self, u8: np.ndarray, blks: np.ndarray, first: int, evf_bit: int,
                    cat_lut: np.ndarray, k: np.ndarray, scratch: np.ndarray | None = None,
                    lean: bool = False
                    ) -> tuple[np.ndarray | None, dict[str, np.ndarray], dict[str, np.ndarray],
                               np.ndarray]:
        """``headers``, and in the same loop (see scap.c ``scap_headers_cls``) the
        columns lp, evend (int64), cat, is_enter, part (bool) of each event and the
        chunk's counts (int64[9]: scap_headers_cls' eight, then the number of events).
        ``k``: int64[6] of the fd event type, the flag bits of cdig's fd introductions,
        the drop, procinfo and two container event types. ``scratch``
        (``header_scratch``) as for ``headers``. ``lean``: no block rows (None) and of
        the header columns only etype, dflags, nparams, cpu, ts, tid."""
        b = np.ascontiguousarray(blks, dtype=np.int64)
        cap = max(len(b) - first, 0)
        ncols = len(HEADER_COLUMNS) + 1
        nwords = (ncols + 2) * cap + (3 * cap + 7) // 8  # + lp, evend; 3 int8 columns
        if scratch is not None and scratch.dtype == np.int64 and scratch.flags.c_contiguous \
                and scratch.flags.writeable and scratch.size >= nwords:
            flat = scratch.reshape(-1)[:nwords]
        else:
            flat = np.empty(nwords, dtype=np.int64)
        mat = flat[:(ncols + 2) * cap].reshape(ncols + 2, cap)
        small = flat[(ncols + 2) * cap:].view(np.int8)[:3 * cap].reshape(3, cap)
        row = mat[0]
        cols = {name: mat[1 + i] for i, name in enumerate(HEADER_COLUMNS)}
        lut = np.ascontiguousarray(cat_lut, dtype=np.int8)
        kk = np.ascontiguousarray(k, dtype=np.int64)
        assert len(kk) == 6
        stats = np.zeros(STAT_EVENTS + 1, dtype=np.int64)
        lp, evend = mat[ncols], mat[ncols + 1]
        m = self._headers_cls(address(u8), len(u8), address(b), first, len(b), evf_bit,
                              address(row), *(address(cols[name]) for name in HEADER_COLUMNS),
                              address(lut), len(lut), address(kk), address(lp), address(evend),
                              address(small[0]), address(small[1]), address(small[2]),
                              address(stats), int(lean))
        stats[STAT_EVENTS] = m
        sb = small.view(np.bool_)
        extra = {"lp": lp[:m], "evend": evend[:m], "cat": small[0, :m],
                 "is_enter": sb[1, :m], "part": sb[2, :m]}
        if lean:
            return None, {k_: cols[k_][:m] for k_ in _LEAN}, extra, stats
        return row[:m], {k_: v[:m] for k_, v in cols.items()}, extra, stats

    @staticmethod
    def header_scratch(scratch: np.ndarray | None, nblocks: int) -> np.ndarray:
        """``scratch`` when it holds ``headers``' columns for ``nblocks`` blocks, else a
        new one with room to spare (kept by the caller for the next chunk)."""
        need = (len(HEADER_COLUMNS) + 3) * nblocks + (3 * nblocks + 7) // 8  # headers_cls'
        if scratch is not None and scratch.size >= need:
            return scratch
        return np.empty(need + need // 4 + 1024, dtype=np.int64)


    def params(self, u8: np.ndarray, lp: np.ndarray, end: np.ndarray, npar: int, n_all: int,
               slot: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
        """(ok, lengths, value offsets) of the first ``n_all`` parameters of events with
        ``npar`` length slots of ``slot`` bytes at ``lp``, ending by ``end``: ok says
        which lie within their event; the (m_ok, n_all) rows are those events'."""
        m = len(lp)
        lp = np.ascontiguousarray(lp, dtype=np.int64)
        end = np.ascontiguousarray(end, dtype=np.int64)
        ok = np.empty(m, dtype=np.int8)
        lens = np.empty((m, n_all), dtype=np.int64)
        starts = np.empty((m, n_all), dtype=np.int64)
        k = self._params(address(u8), len(u8), address(lp), address(end), m, npar, n_all, slot,
                         address(ok), address(lens), address(starts))
        return ok.view(bool), lens[:k], starts[:k]


    def int_param(self, u8: np.ndarray, lens: np.ndarray, starts: np.ndarray, size: int,
                  signed: bool) -> tuple[np.ndarray, np.ndarray]:
        """(values as int64, present) of an integer parameter of ``size`` bytes."""
        m = len(lens)
        lens = np.ascontiguousarray(lens, dtype=np.int64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        out = np.empty(m, dtype=np.int64)
        present = np.empty(m, dtype=np.int8)
        self._int(address(u8), len(u8), address(lens), address(starts), m, size, int(signed),
                  address(out), address(present))
        return out, present.view(bool)


    def generic_exit(self, u8: np.ndarray, lens: np.ndarray, starts: np.ndarray, n: int,
                     w: np.ndarray, sc_nr: np.ndarray, want_args: bool, nr: np.ndarray,
                     ret: np.ndarray, args: np.ndarray, have: np.ndarray) -> None:
        """fastrows._fill's generic exit events into rows ``w`` of ``nr``, ``ret``, and
        (``want_args``) ``args``/``have`` (m x 6, int64 / int8): ``lens``/``starts`` are
        (m, >= n) rows of their first parameters (see scap.c ``scap_generic_exit``)."""
        m = len(w)
        if not m:
            return
        lens = np.ascontiguousarray(lens, dtype=np.int64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        assert lens.shape == starts.shape and lens.shape[0] == m and lens.shape[1] >= n
        for a, dt in ((nr, np.int64), (ret, np.int64), (args, np.int64), (have, np.int8)):
            assert a.dtype == dt and a.flags.c_contiguous and a.flags.writeable
        assert args.shape == have.shape == (len(nr), 6) and len(ret) == len(nr)
        w = np.ascontiguousarray(w, dtype=np.int64)
        assert not len(w) or (0 <= int(w.min()) and int(w.max()) < len(nr))
        sc = np.ascontiguousarray(sc_nr, dtype=np.int64)
        assert len(sc) >= 1024
        self._generic_exit(address(u8), len(u8), address(lens), address(starts), lens.shape[1],
                           m, n, address(w), address(sc), int(want_args), address(nr),
                           address(ret), address(args), address(have))

    def generic_exit_at(self, u8: np.ndarray, lp: np.ndarray, end: np.ndarray, npar: int,
                        slot: int, w: np.ndarray, sc_nr: np.ndarray, want_args: bool,
                        nr: np.ndarray, ret: np.ndarray, args: np.ndarray, have: np.ndarray
                        ) -> np.ndarray:
        """``params`` and ``generic_exit`` in one loop for generic exit events whose
        length slots are at ``lp`` (``npar`` of ``slot`` bytes), ending by ``end``: into
        rows ``w``; returns which events' parameters fit (the others give nothing)."""
        m = len(w)
        ok = np.zeros(m, dtype=np.int8)
        if not m:
            return ok.view(bool)
        lp, end, w = _event_rows(lp, end, w, len(nr))
        assert 0 <= npar and slot in (2, 4)
        for a, dt in ((nr, np.int64), (ret, np.int64), (args, np.int64), (have, np.int8)):
            assert a.dtype == dt and a.flags.c_contiguous and a.flags.writeable
        assert args.shape == have.shape == (len(nr), 6) and len(ret) == len(nr)
        sc = np.ascontiguousarray(sc_nr, dtype=np.int64)
        assert len(sc) >= 1024
        self._generic_exit_at(address(u8), len(u8), address(lp), address(end), m, npar, slot,
                              address(w), address(sc), int(want_args), address(nr),
                              address(ret), address(args), address(have), address(ok))
        return ok.view(bool)

    def fill_at(self, u8: np.ndarray, lp: np.ndarray, end: np.ndarray, npar: int, n_all: int,
                slot: int, n_use: int, w: np.ndarray, nr_val: int, ret_param: tuple[int, int],
                plan: FillPlan, rank: int, out: dict[str, np.ndarray], args: np.ndarray,
                have: np.ndarray, xrows: np.ndarray) -> np.ndarray:
        """fastrows._fill of events of one fast type and side (``plan``: its argument and
        path maps) in one loop (scap.c ``scap_fill_at``): ``params``' check of their
        first ``n_all`` parameters (events ``lp``, ``end``), then into rows ``w`` of the
        fast columns ``out`` (nr, ret, l1, l2, is_ext, srow), ``args``/``have`` and the
        ext rows ``xrows``; ``ret_param``: (bytes, signed) of the result, (0, 0) for
        none. Returns which events' parameters fit (the others give nothing)."""
        m = len(w)
        ok = np.zeros(m, dtype=np.int8)
        if not m:
            return ok.view(bool)
        nr, ret, l1, l2, is_ext, srow = (out["nr"], out["ret"], out["l1"], out["l2"],
                                         out["is_ext"], out["srow"])
        lp, end, w = _event_rows(lp, end, w, len(nr))
        assert 0 <= npar and 0 < n_all <= FILL_MAX_PARAMS and slot in (2, 4)
        for a, dt in ((nr, np.int64), (ret, np.int64), (args, np.int64), (have, np.int8),
                      (l1, np.int16), (l2, np.int16), (is_ext, np.bool_), (srow, np.int64)):
            assert a.dtype == dt and a.flags.c_contiguous and a.flags.writeable
        assert args.shape == have.shape == (len(nr), 6)
        assert len(ret) == len(l1) == len(l2) == len(is_ext) == len(srow) == len(nr)
        assert xrows.ndim == 1 and xrows.flags.c_contiguous and xrows.flags.writeable
        assert plan.width_ok(xrows.itemsize)
        self._fill_at(address(u8), len(u8), address(lp), address(end), m, npar, n_all, slot,
                      n_use, address(w), nr_val, address(nr), ret_param[0], ret_param[1],
                      address(ret), len(plan.amap), address(plan.amap), address(plan.codecs),
                      rank, address(args), address(have), len(plan.pmap), address(plan.pmap),
                      address(l1), address(l2), address(is_ext), address(srow),
                      address(xrows) if len(xrows) else 0, xrows.itemsize, len(xrows),
                      address(ok))
        return ok.view(bool)

    def generic_enter_at(self, u8: np.ndarray, lp: np.ndarray, end: np.ndarray, npar: int,
                         n_all: int, slot: int, w: np.ndarray, nr: np.ndarray) -> np.ndarray:
        """``params`` of the first ``n_all`` parameters and the native id (parameter 1)
        as ``nr`` of rows ``w``, for generic enter events, in one loop; returns which
        events' parameters fit."""
        m = len(w)
        ok = np.zeros(m, dtype=np.int8)
        if not m:
            return ok.view(bool)
        lp, end, w = _event_rows(lp, end, w, len(nr))
        assert 0 <= n_all <= npar and slot in (2, 4)
        assert nr.dtype == np.int64 and nr.flags.c_contiguous and nr.flags.writeable
        self._generic_enter_at(address(u8), len(u8), address(lp), address(end), m, npar, n_all,
                               slot, address(w), address(nr), address(ok))
        return ok.view(bool)

    def fast_base(self, rows: np.ndarray, is_enter: np.ndarray, enter_of: np.ndarray,
                  ts: np.ndarray, tid: np.ndarray, cpu: np.ndarray, num: np.ndarray,
                  dflags: np.ndarray, etype: np.ndarray, has_str: np.ndarray,
                  state_only: int, kind_enter: int, kind_exit: int
                  ) -> tuple[dict[str, np.ndarray], np.ndarray, np.ndarray, int]:
        """fastrows._fast_rows' first columns of the records of events ``rows`` (see
        scap.c ``scap_fast_base``): ({ts, lat, tid, cpu, num, key, kind, shown}, ent,
        srow, the count of rows with strings)."""
        m = len(rows)
        n = len(etype)
        rows = np.ascontiguousarray(rows, dtype=np.int64)
        assert not m or (0 <= int(rows.min()) and int(rows.max()) < n)
        ev = [np.ascontiguousarray(a, dtype=np.int64) for a in (enter_of, ts, tid, cpu, num,
                                                                 dflags, etype)]
        assert all(len(a) == n for a in ev) and len(is_enter) == n
        en = np.ascontiguousarray(is_enter, dtype=np.bool_).view(np.int8)
        hs = np.ascontiguousarray(has_str, dtype=np.bool_).view(np.int8)
        cols = {c: np.empty(m, dtype=np.int64) for c in ("ts", "lat", "tid", "cpu", "num", "key",
                                                          "kind")}
        shown = np.empty(m, dtype=np.int8)
        ent = np.empty(m, dtype=np.int64)
        srow = np.empty(m, dtype=np.int64)
        k = self._fast_base(m, address(rows), address(en), *(address(a) for a in ev[:6]),
                            address(ev[6]), len(hs), address(hs), state_only, kind_enter,
                            kind_exit, *(address(cols[c]) for c in ("ts", "lat", "tid", "cpu",
                                                                    "num", "key", "kind")),
                            address(shown), address(ent), address(srow))
        cols["shown"] = shown.view(np.bool_)
        return cols, ent, srow, int(k)

    # the record fields pack_records writes, in scap_pack_records' order
    PACKED = ("ts_ns", "latency_ns", "cgroup_id", "ret", "args", "pid", "tid", "uid", "gid",
              "nr", "kind", "flags", "cpu", "comm")

    _PACK_TYPES = {"ts_ns": "<u8", "latency_ns": "<u8", "cgroup_id": "<u8", "ret": "<i8",
                   "args": "<u8", "pid": "<u4", "tid": "<u4", "uid": "<u4", "gid": "<u4",
                   "nr": "<u2", "kind": "|u1", "flags": "|u1", "cpu": "<u4", "comm": "|S16"}

    def _packed_offsets(self, dt: np.dtype) -> np.ndarray | None:
        """The byte offsets of PACKED's fields in record dtype ``dt``, or None when its
        layout is not the one scap_pack_records writes (checked once per dtype)."""
        cache: dict[Any, np.ndarray | None] = self.__dict__.setdefault("_pack_off", {})
        if dt in cache:
            return cache[dt]
        f = dt.fields
        ok = f is not None and tuple(f) == self.PACKED and f["args"][0].shape == (6,) and \
            all(f[k][0].base.str == v for k, v in self._PACK_TYPES.items())
        off = np.array([f[k][1] for k in self.PACKED], dtype=np.int64) if ok and f else None
        cache[dt] = off
        return off

    def pack_records(self, rec: np.ndarray, at: int, cols: dict[str, np.ndarray],
                     names: tuple[str, ...]) -> bool:
        """The fast records' columns (``cols[names[k]]`` for record field PACKED[k]) into
        rows ``at``.. of ``rec`` (a C-contiguous probes.layout.RECORD array): every
        field written in one pass over the rows. False (nothing written) when the
        layout is not the one the kernel knows."""
        m = len(cols[names[0]])
        off = self._packed_offsets(rec.dtype)
        if off is None or not rec.flags.c_contiguous or at < 0 or at + m > len(rec):
            return False
        arrs: list[np.ndarray] = []
        for k, name in zip(self.PACKED, names, strict=True):
            c = cols[name]
            if k == "comm":
                a = np.ascontiguousarray(c, dtype="S16")
            elif k == "flags":
                a = np.ascontiguousarray(c, dtype=np.uint8)
            elif k == "args":
                a = np.ascontiguousarray(c).view(np.int64)
                if a.shape != (m, 6):
                    return False
            else:
                a = np.ascontiguousarray(c).astype(np.int64, copy=False)
            if len(a) != m:
                return False
            arrs.append(a)
        self._pack(address(rec), rec.dtype.itemsize, at, m, address(off),
                   *(address(a) for a in arrs))
        return True

    def gather_rows(self, dst: np.ndarray, at: int, src: np.ndarray, idx: np.ndarray,
                    width: int, src_at: int = 0) -> None:
        """``width`` bytes of row ``idx[i]`` of ``src`` (from its byte ``src_at``) into row
        ``i`` of ``dst`` at byte ``at``: both C-contiguous, one row per element
        (structured) or per first axis."""
        assert dst.flags.c_contiguous and src.flags.c_contiguous and dst.flags.writeable
        d_stride = dst.strides[0] if dst.ndim else 0
        s_stride = src.strides[0] if src.ndim else 0
        assert at >= 0 and at + width <= d_stride
        assert src_at >= 0 and src_at + width <= s_stride
        assert len(idx) <= len(dst)
        idx = np.ascontiguousarray(idx, dtype=np.int64)
        self._rows(address(dst) + at, d_stride, address(src) + src_at, s_stride, len(src),
                   address(idx), len(idx), width)

    def move_rows(self, dst: np.ndarray, at: int, dst_idx: np.ndarray, src: np.ndarray,
                  src_at: int, src_idx: np.ndarray, width: int) -> None:
        """``width`` bytes of row ``src_idx[i]`` of ``src`` (from its byte ``src_at``) into
        row ``dst_idx[i]`` of ``dst`` at byte ``at``: both C-contiguous, one row per
        element (structured) or per first axis."""
        assert dst.flags.c_contiguous and src.flags.c_contiguous and dst.flags.writeable
        d_stride = dst.strides[0] if dst.ndim else 0
        s_stride = src.strides[0] if src.ndim else 0
        assert at >= 0 and at + width <= d_stride
        assert src_at >= 0 and src_at + width <= s_stride
        assert len(dst_idx) == len(src_idx)
        dst_idx = np.ascontiguousarray(dst_idx, dtype=np.int64)
        src_idx = np.ascontiguousarray(src_idx, dtype=np.int64)
        self._move(address(dst) + at, d_stride, len(dst), address(dst_idx),
                   address(src) + src_at, s_stride, len(src), address(src_idx), len(src_idx),
                   width)

    def str_into(self, u8: np.ndarray, lens: np.ndarray, starts: np.ndarray, dst: np.ndarray,
                 at: int, dst_idx: np.ndarray, width: int) -> np.ndarray:
        """A string parameter (``bulk.str_param``'s rows and lengths) written straight
        into row ``dst_idx[i]`` of ``dst`` at byte ``at``, ``width`` bytes (zero-padded);
        returns the strings' lengths (no NUL)."""
        m = len(lens)
        assert dst.flags.c_contiguous and dst.flags.writeable and u8.flags.c_contiguous
        d_stride = dst.strides[0] if dst.ndim else 0
        assert at >= 0 and at + width <= d_stride and len(dst_idx) == m and width >= 1
        lens = np.ascontiguousarray(lens, dtype=np.int64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        dst_idx = np.ascontiguousarray(dst_idx, dtype=np.int64)
        slen = np.empty(m, dtype=np.int64)
        self._str(address(u8), len(u8), address(lens), address(starts), m, width,
                  address(dst) + at, d_stride, len(dst), address(dst_idx), address(slen))
        return slen

    def bytes_into(self, u8: np.ndarray, ln: np.ndarray, starts: np.ndarray, dst: np.ndarray,
                   at: int, dst_idx: np.ndarray, width: int) -> None:
        """``bulk.rows_into``: ``min(ln[i], width)`` bytes at ``starts[i]`` into row
        ``dst_idx[i]`` of ``dst`` at byte ``at`` (the rest of the row untouched)."""
        m = len(ln)
        assert dst.flags.c_contiguous and dst.flags.writeable and u8.flags.c_contiguous
        d_stride = dst.strides[0] if dst.ndim else 0
        assert at >= 0 and at + width <= d_stride and len(dst_idx) == m
        ln = np.ascontiguousarray(ln, dtype=np.int64)
        starts = np.ascontiguousarray(starts, dtype=np.int64)
        dst_idx = np.ascontiguousarray(dst_idx, dtype=np.int64)
        self._bytes(address(u8), len(u8), address(ln), address(starts), m, width,
                    address(dst) + at, d_stride, len(dst), address(dst_idx))

    def async_pass(self) -> AsyncPass | None:
        """A worker thread of C for chunks' header pass (``AsyncPass``), or None when
        none could be made."""
        h = self._async_new()
        return AsyncPass(self, h) if h else None

    def pair(self, tid: np.ndarray, etype: np.ndarray, part: np.ndarray
             ) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """(enter_of, paired, first_of, last_of) of events with thread ``tid`` and type
        ``etype``, pairing among those where ``part`` (see scap.c ``scap_pair``); None
        when the kernel ran out of memory."""
        n = len(tid)
        tid = np.ascontiguousarray(tid, dtype=np.int64)
        etype = np.ascontiguousarray(etype, dtype=np.int64)
        part8 = np.ascontiguousarray(part, dtype=np.int8)
        assert len(etype) == n and len(part8) == n
        enter_of = np.empty(n, dtype=np.int64)
        flags = np.empty((3, n), dtype=np.int8)
        if self._pair(address(tid), address(etype), address(part8), n, address(enter_of),
                      address(flags[0]), address(flags[1]), address(flags[2])) != 0:
            return None
        b = flags.view(bool)
        return enter_of, b[0], b[1], b[2]

    def prune_nr(self, u8: np.ndarray, x: np.ndarray, e: np.ndarray, etype: np.ndarray,
                 lp: np.ndarray, npar: np.ndarray, end: np.ndarray, tables: PruneTables
                 ) -> np.ndarray:
        """The syscall number of each fast record from its exit event ``x`` and enter
        ``e`` (event indexes, -1: none), before its parameters are parsed; -1 where no
        side is readable (see scap.c)."""
        m = len(x)
        x = np.ascontiguousarray(x, dtype=np.int64)
        e = np.ascontiguousarray(e, dtype=np.int64)
        cols = [np.ascontiguousarray(c, dtype=np.int64) for c in (etype, lp, npar, end)]
        n_ev = len(cols[0])
        assert all(len(c) == n_ev for c in cols)
        assert not len(x) or (int(x.max()) < n_ev and int(e.max()) < n_ev)
        out = np.empty(m, dtype=np.int64)
        t = tables
        self._prune_nr(address(u8), len(u8), address(x), address(e), m,
                       *(address(c) for c in cols), len(t.nr_of), address(t.nr_of),
                       address(t.large), address(t.ncap), address(t.sc_nr), t.generic_e,
                       t.generic_x, address(out))
        return out


    def prune_rows(self, u8: np.ndarray, etype: np.ndarray, is_enter: np.ndarray,
                   cat: np.ndarray, handled: np.ndarray, enter_of: np.ndarray,
                   paired: np.ndarray, lp: np.ndarray, npar: np.ndarray, end: np.ndarray,
                   tables: PruneTables, keep_x: np.ndarray, keep_e: np.ndarray,
                   dflags: np.ndarray, state_only: int, ts: np.ndarray, first_ts: bool
                   ) -> tuple[np.ndarray, int, int, int] | None:
        """(the fast records' event rows a prune of the syscall number and kind alone
        keeps, the records it left out, those of them of shown events, the records
        without a number), for a chunk's events (see scap.c ``scap_prune_rows``;
        ``keep_x``/``keep_e``: int8 by number, for exits and enter-only records); None
        when a record's number is past the tables."""
        m = len(etype)
        i64: list[np.ndarray] = [np.ascontiguousarray(c, dtype=np.int64)
                                 for c in (etype, enter_of, lp, npar, end, dflags, ts)]
        i8: list[np.ndarray] = [np.ascontiguousarray(c).view(np.int8)
                                for c in (is_enter, cat, handled, paired)]
        assert all(len(c) == m for c in i64) and all(len(c) == m for c in i8)
        assert len(keep_x) == len(keep_e)
        kx = np.ascontiguousarray(keep_x).view(np.int8)
        ke = np.ascontiguousarray(keep_e).view(np.int8)
        rows = np.empty(m, dtype=np.int64)
        stats = np.zeros(3, dtype=np.int64)
        t = tables
        k = self._prune_rows(address(u8), len(u8), m, address(i64[0]), address(i8[0]),
                             address(i8[1]), address(i8[2]), address(i64[1]), address(i8[3]),
                             address(i64[2]), address(i64[3]), address(i64[4]), len(t.nr_of),
                             address(t.nr_of), address(t.large), address(t.ncap),
                             address(t.sc_nr), t.generic_e, t.generic_x, address(kx),
                             address(ke), len(kx), address(i64[5]), state_only,
                             address(i64[6]), int(first_ts), address(rows), address(stats))
        if k < 0:
            return None
        return rows[:k], int(stats[0]), int(stats[1]), int(stats[2])


class PruneTables:
    """Per event type, what ``prune_nr`` reads: its syscall number, u32 length slots,
    how many parameters are checked; the PPM_SC id -> number table (1024 entries)."""

    def __init__(self, nr_of: np.ndarray, large: np.ndarray, ncap: np.ndarray,
                 sc_nr: np.ndarray, generic_e: int, generic_x: int) -> None:
        self.nr_of = np.ascontiguousarray(nr_of, dtype=np.int64)
        self.large = np.ascontiguousarray(large, dtype=np.int8)
        self.ncap = np.ascontiguousarray(ncap, dtype=np.int64)
        self.sc_nr = np.ascontiguousarray(sc_nr, dtype=np.int64)
        assert len(self.nr_of) == len(self.large) == len(self.ncap) and len(self.sc_nr) == 1024
        self.generic_e, self.generic_x = generic_e, generic_x


_kernels: Kernels | None = None
_tried = False


def kernels() -> Kernels | None:
    """The .scap kernels (compiled at first use), or None: use the numpy path."""
    global _kernels, _tried
    if not _tried:
        _tried = True
        lib = load("scap")
        _kernels = Kernels(lib) if lib is not None else None
    return _kernels


def _event_rows(lp: np.ndarray, end: np.ndarray, w: np.ndarray, n_rows: int
                ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """The per-event arguments of the ``*_at`` loops as they take them (contiguous
    int64): each event's length slots ``lp``, its end ``end`` and its row ``w`` of a
    table of ``n_rows`` (events given: at least one)."""
    lp = np.ascontiguousarray(lp, dtype=np.int64)
    end = np.ascontiguousarray(end, dtype=np.int64)
    w = np.ascontiguousarray(w, dtype=np.int64)
    assert len(lp) == len(end) == len(w) and 0 <= int(w.min()) and int(w.max()) < n_rows
    return lp, end, w


FILL_MAX_PARAMS = 64  # scap.c's FILL_MAX_PARAMS


class FillPlan:
    """What ``Kernels.fill_at`` writes of one fast type and side: its argument map
    (per entry: parameter, bytes, signed, argument, codec kind, codec length), each
    entry's codec table (``tables``: kept alive here; ``codecs``: their addresses, 0
    for none) and its path map (per entry: parameter, l column 0/1, width, byte offset
    in the ext row)."""

    def __init__(self, amap: list[tuple[int, int, int, int, int, int]],
                 tables: list[np.ndarray | None], pmap: list[tuple[int, int, int, int]]) -> None:
        self.amap = np.array(amap, dtype=np.int64).reshape(len(amap), 6)
        self.tables = [None if t is None else np.ascontiguousarray(t, dtype=np.int64)
                       for t in tables]
        self.codecs = np.array([0 if t is None else address(t) for t in self.tables] or [0],
                               dtype=np.int64)
        self.pmap = np.array(pmap, dtype=np.int64).reshape(len(pmap), 4)
        for (_pi, _size, _signed, ai, kind, cn), t in zip(amap, self.tables, strict=True):
            assert 0 <= ai < 6 and kind in (0, 1, 2)
            assert kind == 0 or (t is not None and t.size == (256 * cn if kind == 1 else cn))

    def width_ok(self, itemsize: int) -> bool:
        """Whether every path entry's bytes lie within an ext row of ``itemsize``."""
        return all(0 <= at and at + width <= itemsize for _pi, _l, width, at in
                   self.pmap.tolist())


# AsyncPass' result: header columns (lean), headers_cls' extra columns, its counts
# (int64[9]), the pairing (enter_of, paired, first_of, last_of) or None
Pairing = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]
Pre = tuple[dict[str, np.ndarray], dict[str, np.ndarray], np.ndarray, Pairing | None,
            "Pruned | None"]


class Pruned:
    """What AsyncPass made of a prune (``prune_rows`` of the chunk with ``handled`` the
    slow events and the enters carried to the next chunk, first_ts off): ``got`` as
    prune_rows gives it (None: a number past the tables), for the prune whose exit
    table is ``keep_x``."""

    def __init__(self, keep_x: np.ndarray, got: tuple[np.ndarray, int, int, int] | None
                 ) -> None:
        self.keep_x = keep_x
        self.got = got


# AsyncPass.start's prune: the tables, keep_x, keep_e, the state-only flag bit, and the
# two procexit enter types (never carried)
PruneArgs = tuple["PruneTables", np.ndarray, np.ndarray, int, int, int]


class AsyncPass:
    """scap.c's worker thread (``scap_async_*``): ``start`` hands it a chunk's header
    pass (``Kernels.headers_cls`` of every block row, lean, then ``pair`` when every
    row is an event of the common path: stats[STAT_GENERAL] 0 and as many events as
    rows), which runs while the caller goes on; ``wait`` gives its columns. The
    thread is C alone: it never takes the GIL. The columns of a job are in one of
    ``SLOTS`` sets of arrays taken in turn: valid until that set is used again (the
    job ``SLOTS`` starts later). The caller keeps the buffer and rows alive until the
    wait (``_busy`` holds them too)."""

    SLOTS = 3

    def __init__(self, k: Kernels, handle: int) -> None:
        self._k = k
        self._h: int | None = handle
        self._slots: list[dict[str, Any] | None] = [None] * self.SLOTS
        self._next = 0
        self._busy: tuple[Any, ...] | None = None  # the running job's inputs and slot

    def start(self, buf: bytes, rows: np.ndarray, cat_lut: np.ndarray, k: np.ndarray,
              evf_bit: int, prune: PruneArgs | None = None) -> None:
        """Start the pass of one chunk; with ``prune``, ``prune_rows`` too once the
        chunk is paired (``Pruned``)."""
        assert self._h is not None and self._busy is None
        i = self._next
        self._next = (i + 1) % self.SLOTS
        nb = len(rows)
        slot = self._slots[i]
        if slot is None or slot["cap"] < nb:
            cap = nb + nb // 4 + 1024
            cols = np.empty((10, cap), dtype=np.int64)  # 6 header columns, lp, evend,
            small = np.empty((6, cap), dtype=np.int8)  # stats (its first 9), enter_of
            slot = self._slots[i] = {
                "cap": cap, "cols": cols, "small": small,
                "cp": np.array([address(cols[j]) for j in range(10)], dtype=np.uint64),
                "sp": np.array([address(small[j]) for j in range(6)], dtype=np.uint64),
                "handled": np.empty(cap, dtype=np.int8), "prows": np.empty(cap, np.int64),
                "pout": np.zeros(4, dtype=np.int64), "pr": np.zeros(17, dtype=np.int64)}
        r = np.ascontiguousarray(rows, dtype=np.int64)
        lut = np.ascontiguousarray(cat_lut, dtype=np.int8)
        kk = np.ascontiguousarray(k, dtype=np.int64)
        assert r.ndim == 2 and r.shape[1] == 4 and len(kk) == 6
        pr = slot["pr"]
        pr[0] = 0
        keep: tuple[Any, ...] = ()
        if prune is not None:
            t, keep_x, keep_e, state_only, px1, px2 = prune
            kx = np.ascontiguousarray(keep_x).view(np.int8)
            ke = np.ascontiguousarray(keep_e).view(np.int8)
            assert len(kx) == len(ke)
            pr[:] = [1, address(t.nr_of), len(t.nr_of), address(t.large), address(t.ncap),
                     address(t.sc_nr), t.generic_e, t.generic_x, address(kx), address(ke),
                     len(kx), state_only, px1, px2, address(slot["handled"]),
                     address(slot["prows"]), address(slot["pout"])]
            keep = (t, kx, ke, keep_x)
        self._busy = (buf, r, lut, kk, slot, keep)
        if self._k._async_start(self._h, buf, len(buf), address(r), nb, evf_bit, address(lut),
                                len(lut), address(kk), address(slot["cp"]),
                                address(slot["sp"]), address(pr)) != 0:
            raise RuntimeError("scap_async_start: a job was running")

    def wait(self) -> Pre | None:
        """The columns of the job last started (None if none was, or its pairing ran
        out of memory: the caller then makes them itself)."""
        if self._busy is None or self._h is None:
            return None
        r = self._k._async_wait(self._h)
        slot, keep = self._busy[4], self._busy[5]
        self._busy = None
        if r < 0 and r != -1:
            return None
        cols, small = slot["cols"], slot["small"]
        stats = cols[8, :STAT_EVENTS + 1]
        m = int(stats[STAT_EVENTS])
        h = {name: cols[i, :m] for i, name in enumerate(_LEAN)}
        sb = small.view(np.bool_)
        extra = {"lp": cols[6, :m], "evend": cols[7, :m], "cat": small[0, :m],
                 "is_enter": sb[1, :m], "part": sb[2, :m]}
        pairing = (cols[9, :m], sb[3, :m], sb[4, :m], sb[5, :m]) if r == 1 else None
        pruned = None
        if keep and r == 1:
            out = slot["pout"]
            n_rows = int(out[3])
            if n_rows != -2:  # made
                pruned = Pruned(keep[3], None if n_rows < 0 else
                                (slot["prows"][:n_rows], int(out[0]), int(out[1]),
                                 int(out[2])))
        return h, extra, stats, pairing, pruned

    def close(self) -> None:
        """Stop the thread (after the job it runs) and free it."""
        if self._h is not None:
            self._k._async_free(self._h)
            self._h = None
            self._busy = None

    def __del__(self) -> None:  # a source never closed: no thread left behind
        self.close()
