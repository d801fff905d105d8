"""The reader's records as columns, and the RawBatch made of them.

Two producers fill a batch: the per-event path appends Python values to
``Columns`` lists; the bulk path gives numpy columns (``fast``). ``to_batch``
merges both by position (each record's ``key``: event index * 8 + sub-index)
into the probe's record layout, strings straight into their ext rows.
``PreColumns`` is the few columns the session's raw prefilter reads before the
bulk path parses any parameter.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...probes.syscalls import layout
from ..batch import take_records
from ..decode import RawBatch
from ..native.scap import kernels

_FIELDS = layout.EXT_RECORD.fields
assert _FIELDS is not None
_STR1_AT: int = _FIELDS["str1"][1]  # str2 follows it: one copy for both
_EV_AT: int = _FIELDS["ev"][1]
assert _FIELDS["str2"][1] == _STR1_AT + layout.STR1_LEN


# (record field, Columns list / fast-path column) of the one-value fields, both producers
_SCALARS = (("ts_ns", "ts"), ("latency_ns", "lat"), ("cgroup_id", "cg"), ("ret", "ret"),
            ("pid", "pid"), ("tid", "tid"), ("uid", "uid"), ("gid", "gid"), ("nr", "nr"),
            ("kind", "kind"), ("flags", "flags"), ("cpu", "cpu"), ("comm", "comm"))


# the fast path's column of each field Kernels.pack_records writes, in its order
_PACKED = tuple("args" if f == "args" else dict(_SCALARS)[f]
                for f in ("ts_ns", "latency_ns", "cgroup_id", "ret", "args", "pid", "tid", "uid",
                          "gid", "nr", "kind", "flags", "cpu", "comm"))


def _ext_heads(ext: np.ndarray, rec: np.ndarray, ext_rows: np.ndarray, l1: np.ndarray,
               l2: np.ndarray, argc: np.ndarray, kern: Any) -> None:
    """The record and string lengths of each ext row (its strings are put apart)."""
    if kern is not None:  # one memcpy a row, no intermediate copy of them all
        kern.gather_rows(ext, _EV_AT, rec, ext_rows, layout.RECORD.itemsize)
    else:
        ext["ev"] = take_records(rec, ext_rows)
    ext["len1"] = l1[ext_rows]
    ext["len2"] = l2[ext_rows]
    ext["argc"] = argc[ext_rows]


class Columns:
    """Records of one batch as column lists (then numpy arrays)."""

    def __init__(self) -> None:
        self.ts: list[int] = []
        self.lat: list[int] = []
        self.cg: list[int] = []
        self.ret: list[int] = []
        self.args: list[tuple[int, ...]] = []
        self.pid: list[int] = []
        self.tid: list[int] = []
        self.uid: list[int] = []
        self.gid: list[int] = []
        self.nr: list[int] = []
        self.kind: list[int] = []
        self.flags: list[int] = []
        self.cpu: list[int] = []
        self.comm: list[bytes] = []
        self.num: list[int] = []
        self.shown: list[bool] = []
        self.ext_row: list[int] = []  # index of the record of each ext entry
        self.s1: list[bytes] = []
        self.s2: list[bytes] = []
        self.l1: list[int] = []
        self.l2: list[int] = []
        self.argc: list[int] = []
        self.pad: list[int] = []
        self.key: list[int] = []  # position in the chunk (event index * 8 + sub-index)

    def __len__(self) -> int:
        return len(self.ts)

    # the per-record lists (one entry a record) and the per-ext-entry ones (ext_row's)
    _RECORD_LISTS = ("ts", "lat", "cg", "ret", "args", "pid", "tid", "uid", "gid", "nr",
                     "kind", "flags", "cpu", "comm", "num", "shown", "key")
    _EXT_LISTS = ("s1", "s2", "l1", "l2", "argc", "pad")

    def keep_only(self, keep: list[bool]) -> None:
        """Leave out the records where ``keep`` is False (and their ext entries)."""
        new_row: list[int] = []
        at = 0
        for k in keep:
            new_row.append(at if k else -1)
            at += k
        for name in self._RECORD_LISTS:
            old = getattr(self, name)
            if len(old) == len(keep):  # key may be unused (empty)
                setattr(self, name, [v for v, k in zip(old, keep, strict=True) if k])
        ext = [j for j, r in enumerate(self.ext_row) if keep[r]]
        for name in self._EXT_LISTS:
            old = getattr(self, name)
            setattr(self, name, [old[j] for j in ext])
        self.ext_row = [new_row[self.ext_row[j]] for j in ext]

    def to_batch(self, fast: dict[str, np.ndarray] | None = None
                 ) -> tuple[RawBatch, np.ndarray]:
        """These records, merged with the fast path's (``fast``) by position."""
        n_slow = len(self.ts)
        n_fast = len(fast["ts"]) if fast is not None else 0
        n = n_slow + n_fast
        rec = np.empty(n, dtype=layout.RECORD)  # every field of every row is written
        l1 = np.zeros(n, dtype=np.int16)
        l2 = np.zeros(n, dtype=np.int16)
        argc = np.zeros(n, dtype=np.uint16)
        is_ext = np.zeros(n, dtype=bool)
        num = np.empty(n, dtype=np.uint64)
        shown = np.ones(n, dtype=bool)
        key = np.empty(n, dtype=np.int64)
        slow_ext = np.array(self.ext_row, dtype=np.int64)  # slow rows with strings
        if n_slow:
            sl = slice(0, n_slow)
            for name, col in _SCALARS:
                rec[name][sl] = getattr(self, col)
            rec["args"][sl] = np.array(self.args, dtype=np.uint64).reshape(n_slow, 6)
            num[sl] = self.num
            shown[sl] = self.shown
            key[sl] = self.key if len(self.key) == n_slow else np.arange(n_slow)
            if len(slow_ext):
                is_ext[slow_ext] = True
                l1[slow_ext] = self.l1
                l2[slow_ext] = self.l2
                argc[slow_ext] = self.argc
        if n_fast:
            assert fast is not None
            fl = slice(n_slow, n)
            kern = kernels()
            if kern is None or not kern.pack_records(rec, n_slow, fast, _PACKED):
                for name, col in _SCALARS:
                    rec[name][fl] = fast[col]
                rec["args"][fl] = fast["args"]
            num[fl] = fast["num"]
            shown[fl] = fast["shown"]
            key[fl] = fast["key"]
            x = fast["is_ext"]
            if x.any():
                is_ext[fl] = x
                l1[fl] = fast["l1"]
                l2[fl] = fast["l2"]
        src = np.arange(n)  # each row's place before sorting
        o = np.argsort(key, kind="stable")
        if (o != src).any():
            rec, l1, l2, argc = take_records(rec, o), l1[o], l2[o], argc[o]
            is_ext, num, shown, src = is_ext[o], num[o], shown[o], o
        ext_rows = np.flatnonzero(is_ext)
        k = len(ext_rows)
        kern = kernels()
        xs = fast["S"] if fast is not None else None
        srow: np.ndarray = fast["srow"] if fast is not None else np.zeros(0, np.int64)
        ns = len(slow_ext)
        base = fast.get("S_base") if fast is not None else None
        was = src[ext_rows]
        if xs is not None and k and len(xs) == k and not ns and \
                np.array_equal(srow[was - n_slow], np.arange(k)):
            # every row of the fast path's strings is an ext row, in order: they are
            # the ext array (laid out so), only the record and lengths to add
            ext, laid = xs, True
            _ext_heads(ext, rec, ext_rows, l1, l2, argc, kern)
        elif xs is not None and base is not None and ns and len(xs) + ns == k and \
                len(base) >= k and bool((was[:ns] < n_slow).all()) and \
                np.array_equal(srow[was[ns:] - n_slow], np.arange(len(xs))):
            # the per-event path's ext rows first (the exit of an enter the chunk before
            # left pending: the chunk's first events), then every row of the fast path's
            # strings in order: the ext array is those with them in the spare rows
            # before (zeroed), where a copy of all moved ~900 bytes a row for one
            ext, laid = base[len(base) - k:], True
            _ext_heads(ext, rec, ext_rows, l1, l2, argc, kern)
            self._slow_strings(ext.view(np.uint8).reshape(k, layout.EXT_RECORD.itemsize),
                               slice(0, ns), np.searchsorted(slow_ext, was[:ns]))
        else:  # every byte is written below (a row's strings are a slow or a fast one's)
            ext, laid = np.empty(k, dtype=layout.EXT_RECORD), False
        if k and not laid:
            _ext_heads(ext, rec, ext_rows, l1, l2, argc, kern)
            ext["pad"] = 0
            # the strings straight into their rows of ext (one copy each)
            raw8 = ext.view(np.uint8).reshape(k, layout.EXT_RECORD.itemsize)
            o1, o2 = _STR1_AT, _STR1_AT + layout.STR1_LEN
            from_slow = np.flatnonzero(was < n_slow)
            if len(from_slow):  # their place among the slow ext rows (in row order)
                self._slow_strings(raw8, from_slow, np.searchsorted(slow_ext, was[from_slow]))
            from_fast = np.flatnonzero(was >= n_slow)
            if len(from_fast):
                assert xs is not None
                f = was[from_fast] - n_slow  # str1 and str2 are side by side in both
                if kern is not None and len(from_fast) == k:  # every ext row, in order
                    kern.gather_rows(ext, o1, xs, srow[f], layout.IO_MAX, src_at=o1)
                elif kern is not None:  # one memcpy a row, not numpy's fancy-index copy
                    kern.move_rows(ext, o1, from_fast, xs, o1, srow[f], layout.IO_MAX)
                else:
                    xs8 = xs.view(np.uint8).reshape(len(xs), layout.EXT_RECORD.itemsize)
                    raw8[from_fast, o1:o2 + layout.STR2_LEN] = \
                        xs8[srow[f], o1:o2 + layout.STR2_LEN]
        plain_rows = np.flatnonzero(~is_ext)
        order = np.empty(n, dtype=np.int64)
        order[plain_rows] = np.arange(len(plain_rows))
        order[ext_rows] = len(plain_rows) + np.arange(k)
        # every row plain (the common chunk): the records themselves, no copy
        plain = rec if k == 0 else take_records(rec, plain_rows)
        raw = RawBatch(plain, ext, order, num)
        if hasattr(raw, "merged"):  # the records in decoding order already: no merge
            raw.merged = rec
        return raw, shown


    def _slow_strings(self, raw8: np.ndarray, rows: np.ndarray | slice, at: np.ndarray
                      ) -> None:
        """The strings of the per-event path's ext entries ``at`` (their order among
        them) into ``rows`` of ``raw8`` (the ext array's bytes), each field padded."""
        o2 = _STR1_AT + layout.STR1_LEN
        for strs, o, width in ((self.s1, _STR1_AT, layout.STR1_LEN),
                               (self.s2, o2, layout.STR2_LEN)):
            raw8[rows, o:o + width] = np.frombuffer(
                b"".join(b.ljust(width, b"\0") for b in strs),
                np.uint8).reshape(len(strs), width)[at]


class NotHere(KeyError):
    """A column the reader's prefilter columns do not have."""


class PreColumns:
    """The columns of fast records the raw prefilter reads, before their parameters
    are parsed: syscall number, kind, and (made when first read) thread, latency
    (``lazy``: one function a column) and the thread's process, comm and ids
    (``threads``: all of them at once). Any other column: NotHere."""

    def __init__(self, cols: dict[str, np.ndarray],
                 threads: Callable[[], dict[str, np.ndarray]],
                 lazy: dict[str, Callable[[], np.ndarray]] | None = None) -> None:
        self._c = cols
        self._threads: Callable[[], dict[str, np.ndarray]] | None = threads
        self._lazy = lazy or {}

    def __getitem__(self, name: str) -> np.ndarray:
        a = self._c.get(name)
        if a is None and name in self._lazy:
            a = self._c[name] = self._lazy.pop(name)()
        if a is None and self._threads is not None:
            self._c.update(self._threads())
            self._threads = None
            a = self._c.get(name)
        if a is None:
            raise NotHere(name)
        return a

    def __len__(self) -> int:
        return len(self._c["nr"])

