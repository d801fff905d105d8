"""The binding of ``render.c``: a batch's lines assembled into one buffer, and rows
grouped by their key columns.

A line is a program of pieces (``OP_*``, as in render.c): literals and entries of
per-batch tables (picked by a per-row code), all in one blob of encoded entries,
and numbers of the rows' columns. :func:`assembler` gives None without the
compiled kernel (``collector.native``): ``collector.render`` then builds the lines
in Python, with the same bytes.
"""

from __future__ import annotations

import ctypes
from collections.abc import Sequence

import numpy as np

from . import address, function, load

OP_LIT, OP_TAB, OP_U64, OP_I64, OP_NS9, OP_SEC = range(6)
NUMBER_MAX = 20  # digits of 2**64 - 1, or '-' and those of 2**63
NS_DIGITS = 9

_I64, _P = ctypes.c_int64, ctypes.c_void_p


class Assembler:
    """Runs line programs and groupings; reuses its buffers between calls."""

    def __init__(self, lib: ctypes.CDLL) -> None:
        self._render = function(lib, "cdig_render_lines", _I64,
                                [_P, _I64, _P, _I64, _P, _P, _I64, _I64, _I64, _P, _I64])
        self._group = function(lib, "cdig_group_rows", _I64,
                               [_P, _I64, _P, _I64, _P, _P, _P, _I64, _P])
        self._buf = np.empty(0, dtype=np.uint8)
        self._slots = np.empty(0, dtype=np.int64)

    def lines(self, ops: np.ndarray, cols: Sequence[np.ndarray], entries: Sequence[bytes],
              nrows: int, row_max: int) -> memoryview | None:
        """The ``nrows`` lines of ``ops`` (an (n, 5) int64 program) over ``cols``
        (columns of 8-byte integers, a value per row) and the table ``entries``, each line
        ending in a newline; None if a code was outside its table. ``row_max``
        bounds a line's bytes. The view is valid until the next call (its buffer is
        reused)."""
        ops = np.ascontiguousarray(ops, dtype=np.int64)
        if ops.ndim != 2 or ops.shape[1] != 5:
            raise ValueError("render: ops must be (n, 5)")
        for c in cols:
            if c.ndim != 1 or len(c) != nrows or c.dtype.kind not in "iu" or \
                    c.itemsize != 8 or not c.flags.c_contiguous:
                raise ValueError("render: columns must be contiguous 8-byte integers, "
                                 "one per row")
        ptrs = np.array([address(c) for c in cols] or [0], dtype=np.uint64)
        lens = np.fromiter((len(e) for e in entries), dtype=np.int64, count=len(entries))
        off = np.zeros(len(entries) + 1, dtype=np.int64)
        np.cumsum(lens, out=off[1:])
        # one spare byte: never a NULL or zero-length buffer, even for empty entries
        blob = np.frombuffer(b"".join(entries) + b"\0", dtype=np.uint8)
        cap = nrows * row_max
        if len(self._buf) < cap:
            self._buf = np.empty(max(cap, 2 * len(self._buf)), dtype=np.uint8)
        n = self._render(address(ops), len(ops), address(ptrs), len(cols), address(blob),
                         address(off), len(entries), nrows, row_max, address(self._buf),
                         len(self._buf))
        if n == -3:
            raise ValueError("render: an op names a column or entry that is not there")
        if n == -1:  # row_max was not an upper bound: a bug in the caller
            raise RuntimeError("render: line longer than its bound")
        if n < 0:
            return None
        return self._buf.data[:n]

    def group(self, keys: Sequence[np.ndarray | tuple[np.ndarray, np.ndarray, int]],
              nrows: int, rows: np.ndarray | None = None) -> tuple[np.ndarray, np.ndarray]:
        """(code per row, first row of each code) of rows equal on every column of
        ``keys`` (``nrows`` long): 1-D integer or bool arrays (strided views allowed),
        or (column, ``shown``, bit) where the value counts only in rows whose
        ``shown`` byte (uint8, contiguous) has that bit set, else reads as 0. Codes
        number the combinations in order of first sight, as
        ``collector.vector.group``. With ``rows`` (row numbers), only those rows:
        a code per item of ``rows``, and the first row of each code."""
        desc = np.zeros((max(len(keys), 1), 5), dtype=np.int64)
        hold = []
        for i, k in enumerate(keys):
            col, shown, bit = k if isinstance(k, tuple) else (k, None, 0)
            if col.ndim != 1 or len(col) != nrows or col.dtype.kind not in "biu" or \
                    col.itemsize not in (1, 2, 4, 8):
                raise ValueError("group: keys must be 1-D integer columns of every row")
            desc[i, :3] = (address(col), col.strides[0], col.itemsize)
            if shown is not None:
                shown = np.ascontiguousarray(shown, dtype=np.uint8)
                if len(shown) != nrows or not 0 <= bit < 8:
                    raise ValueError("group: a shown mask of every row, bits 0-7")
                hold.append(shown)
                desc[i, 3:] = (address(shown), bit)
        sel = 0
        count = nrows
        if rows is not None:
            rows = np.ascontiguousarray(rows, dtype=np.int64)
            if len(rows) and (rows.min() < 0 or rows.max() >= nrows):
                raise ValueError("group: a row outside the columns")
            sel, count = address(rows), len(rows)
        nslots = 1 << max(4, (2 * count).bit_length())
        if len(self._slots) < nslots:
            self._slots = np.empty(nslots, dtype=np.int64)
        codes = np.empty(count, dtype=np.int64)
        first = np.empty(count, dtype=np.int64)
        hashes = np.empty(count, dtype=np.uint64)
        n = self._group(address(desc), len(keys), sel or None, count, address(codes),
                        address(first), address(self._slots), nslots, address(hashes))
        if n < 0:
            raise RuntimeError("group: bad sizes")
        return codes, first[:n].copy()


_assembler: list[Assembler | None] = []


def assembler() -> Assembler | None:
    """The assembler over the compiled kernel (once per process), or None."""
    if not _assembler:
        lib = load("render")
        _assembler.append(Assembler(lib) if lib is not None else None)
    return _assembler[0]
