"""Vectorised reads out of a decompressed .scap chunk (numpy over the whole chunk).

The reader's fast path: the event headers of every block of a chunk, the
parameter offsets of every event of one type, and integer or string parameters,
each gathered with one fancy-indexing operation instead of a Python loop.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ...probes.syscalls import layout
from ..native.scap import kernels
from . import events as E

_U8 = np.uint8


def uniq(a: np.ndarray) -> np.ndarray:
    """``np.unique(a)`` of a 1-D array, by a sort: numpy 2's hash-based unique takes
    ~7 ms per 100,000 int64 (a chunk's thread ids), a sort and a compare ~0.6 ms."""
    s = np.sort(a)
    if len(s) < 2:
        return s
    keep = np.empty(len(s), dtype=bool)
    keep[0] = True
    np.not_equal(s[1:], s[:-1], out=keep[1:])
    return s[keep]


def gather(u8: np.ndarray, off: np.ndarray, dtype: str) -> np.ndarray:
    """The ``dtype`` value at each byte offset ``off`` of ``u8`` (little-endian).

    One fancy-indexing pass over an overlapping view of ``u8`` whose element i is
    the value starting at byte i (stride 1): any alignment in one gather, ten times
    faster than a gather per alignment class or of itemsize bytes per value."""
    dt = np.dtype(dtype)
    if not len(off):
        return np.zeros(0, dtype=dt)
    got: np.ndarray = at_bytes(u8, dt)[off]
    return got


def at_bytes(u8: np.ndarray, dt: np.dtype) -> np.ndarray:
    """``u8`` seen as ``dt`` values starting at every byte (a read-only view)."""
    size = dt.itemsize
    if size == 1:
        return u8.view(dt)
    n = max(len(u8) - size + 1, 0)
    v = np.ndarray((n,), dtype=dt, buffer=u8, strides=(1,))
    v.flags.writeable = False
    return v


def length_slots(u8: np.ndarray, lp: np.ndarray, n: int, large: bool) -> np.ndarray:
    """(m, n): the first ``n`` parameter lengths of each event whose length slots start
    at ``lp``, in one gather of n-slot rows from a view of ``u8`` with a row at every
    byte (not an (m, n) matrix of byte indexes)."""
    dt = np.dtype("<u4" if large else "<u2")
    rows = max(len(u8) - n * dt.itemsize + 1, 0)
    v = np.ndarray((rows, n), dtype=dt, buffer=u8, strides=(1, dt.itemsize))
    v.flags.writeable = False
    rows_: np.ndarray = v[lp]
    return rows_


def param_offsets(u8: np.ndarray, lp: np.ndarray, nparams: int, n: int, large: bool
                  ) -> tuple[np.ndarray, np.ndarray]:
    """(lengths, value offsets), each (m, n), of the first ``n`` parameters of events
    whose length slots start at ``lp`` and that have ``nparams`` parameters."""
    m = len(lp)
    if not n or not m:
        return np.zeros((m, n), np.int64), np.zeros((m, n), np.int64)
    lens = length_slots(u8, lp, n, large).astype(np.int64)
    slot = 4 if large else 2
    starts = np.empty((m, n), np.int64)
    starts[:, 0] = lp + nparams * slot
    if n > 1:
        starts[:, 1:] = starts[:, :1] + np.cumsum(lens[:, :-1], axis=1)
    return lens, starts


def int_param(u8: np.ndarray, lens: np.ndarray, starts: np.ndarray, ptype: str
              ) -> tuple[np.ndarray, np.ndarray]:
    """(values as int64, present) of an integer parameter (absent: length 0); by the C
    kernel when there is one (``numpy_int_param`` is its reference)."""
    k = kernels()
    if k is not None:
        return k.int_param(u8, lens, starts, int(ptype[1]), ptype[0] == "i")
    return numpy_int_param(u8, lens, starts, ptype)


def numpy_int_param(u8: np.ndarray, lens: np.ndarray, starts: np.ndarray, ptype: str
                    ) -> tuple[np.ndarray, np.ndarray]:
    """``int_param`` in numpy."""
    size = {"1": 1, "2": 2, "4": 4, "8": 8}[ptype[1]]
    present = lens >= size
    if present.all():  # the common case: one gather, no selection
        v = gather(u8, starts, "<" + ptype)
        return (v.astype(np.int64) if ptype != "u8" else v.view(np.int64)), present
    out = np.zeros(len(lens), dtype=np.int64)
    if present.any():
        rows = np.flatnonzero(present)
        v = gather(u8, starts[rows], "<" + ptype)
        out[rows] = v.astype(np.int64) if ptype != "u8" else v.view(np.int64)
    return out, present


def str_param(u8: np.ndarray, lens: np.ndarray, starts: np.ndarray, width: int
              ) -> tuple[np.ndarray, np.ndarray]:
    """(rows (m, width) uint8, string lengths without NUL) of a string parameter, cut to
    ``width - 1`` bytes (the probe's buffers keep room for the NUL)."""
    m = len(lens)
    ln = np.minimum(lens, width - 1)
    out = _rows(u8, ln, starts, width)
    # the stored length counts a trailing NUL when there is one: drop it
    has_nul = (ln > 0) & (out[np.arange(m), np.maximum(ln - 1, 0)] == 0)
    slen = np.where(has_nul, ln - 1, ln)
    # a NUL inside (never in a path) ends the C string: cut those rows there (past
    # slen the rows are zeros already); bool matrices, not one of int64 positions
    pos = np.arange(width)[None, :]
    inside = (out == 0) & (pos < slen[:, None])
    cut = np.flatnonzero(inside.any(axis=1))
    if len(cut):
        first = inside[cut].argmax(axis=1)
        slen[cut] = first
        out[cut] = np.where(pos < first[:, None], out[cut], 0)
    return out, slen


def _rows(u8: np.ndarray, ln: np.ndarray, starts: np.ndarray, width: int) -> np.ndarray:
    """(len(ln), width) uint8: row i holds the ``ln[i]`` bytes at ``starts[i]``, then
    zeros (one scatter for all rows)."""
    out = np.zeros((len(ln), width), dtype=_U8)
    rows_into(u8, ln, starts, out, np.arange(len(ln), dtype=np.int64))
    return out


def rows_into(u8: np.ndarray, ln: np.ndarray, starts: np.ndarray, out: np.ndarray,
              rows: np.ndarray) -> None:
    """Row ``rows[i]`` of ``out`` (an (m, width) uint8 array whose rows are contiguous,
    zeros where nothing is written; its rows may be apart, as the str1..str2 columns of
    ext rows) gets the ``ln[i]`` bytes at ``starts[i]`` (at most width), in one
    scatter, without an intermediate matrix of all the rows."""
    assert out.dtype == _U8 and out.ndim == 2 and out.strides[1] == 1 and out.flags.writeable
    total = int(ln.sum())
    if total and len(out):
        stride = out.strides[0]
        # the bytes from the first row's start to the last row's end, as one axis
        flat = np.lib.stride_tricks.as_strided(
            out, shape=((len(out) - 1) * stride + out.shape[1],), strides=(1,))
        cum = np.cumsum(ln) - ln
        rel = np.arange(total, dtype=np.int64) - np.repeat(cum, ln)
        src = np.repeat(starts, ln) + rel
        dst = np.repeat(rows * stride, ln) + rel
        flat[dst] = u8[src]


# --------------------------------------------------------------------------- codecs


def numpy_open_flags_from_ppm(v: np.ndarray) -> np.ndarray:
    """``open_flags_from_ppm``'s reference: a select and a where per flag."""
    acc = v & 3
    out = np.select([acc == 2, acc == 3], [1, 2], 0).astype(np.int64)
    for ppm, linux in E._PPM_O:
        out |= np.where(v & ppm, linux, 0)
    return out


def numpy_clone_flags_from_ppm(v: np.ndarray) -> np.ndarray:
    """``clone_flags_from_ppm``'s reference: a where per flag."""
    out = np.zeros(len(v), dtype=np.int64)
    for ppm, linux in E._PPM_CL:
        out |= np.where(v & ppm, linux, 0)
    return out


class ByteCodec:
    """``ref``, a map of flag bits (``flags``: its (bit, value) pairs) that is an OR over
    the bytes of its value (each output bit depends on one byte; ``ref(0)`` is 0), as
    one table lookup per byte: the 12 to 22 wheres of ``ref`` on a chunk's 15,000
    opens took ~0.13 ms a call. The tables are ``ref``'s own, made at the first use;
    scap.c's ``codec_of`` reads them as they are (kind 1)."""

    def __init__(self, ref: Callable[[np.ndarray], np.ndarray], flags: list[tuple[int, int]]
                 ) -> None:
        self.ref = ref
        self.nbytes = max(bit.bit_length() - 1 for bit, _ in flags) // 8 + 1
        self._tables: np.ndarray | None = None

    def tables(self) -> np.ndarray:
        """(nbytes, 256) int64: row i maps byte i of a value."""
        if self._tables is None:
            self._tables = np.stack([self.ref(np.arange(256, dtype=np.int64) << (8 * i))
                                     for i in range(self.nbytes)]).astype(np.int64)
        return self._tables

    def __call__(self, v: np.ndarray) -> np.ndarray:
        t = self.tables()
        out: np.ndarray = t[0][v & 0xFF]
        for i in range(1, self.nbytes):
            out |= t[i][(v >> (8 * i)) & 0xFF]
        return out


class LutCodec:
    """A command number's map as a table, at the value clipped to the table
    (scap.c's ``codec_of``, kind 2)."""

    def __init__(self, lut: np.ndarray) -> None:
        self.lut = np.ascontiguousarray(lut, dtype=np.int64)

    def __call__(self, v: np.ndarray) -> np.ndarray:
        out: np.ndarray = self.lut[np.clip(v, 0, len(self.lut) - 1)]
        return out


open_flags_from_ppm = ByteCodec(numpy_open_flags_from_ppm, E._PPM_O)
clone_flags_from_ppm = ByteCodec(numpy_clone_flags_from_ppm, E._PPM_CL)


def _fcntl_lut() -> np.ndarray:
    lut = np.full(64, 0xFFFF, dtype=np.int64)
    for k, val in E._PPM_FCNTL.items():
        lut[k] = val
    return lut


fcntl_cmd_from_ppm = LutCodec(_fcntl_lut())


CODECS = {"oflags": open_flags_from_ppm, "cflags": clone_flags_from_ppm}
ARG_CODECS = {("fcntl", "cmd"): fcntl_cmd_from_ppm}

STR_WIDTH = (layout.STR1_LEN, layout.STR2_LEN)
