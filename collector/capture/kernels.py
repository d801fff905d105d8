"""The capture reader's compiled kernels (``collector/native/replay.c``), each beside
the numpy/zlib path it stands in for: with ``CDIG_NATIVE=0`` or no compiler the
fallback runs, and ``tests/unit/test_native_replay.py`` checks both give the same
bytes. The reader's thread spends most of a batch in these three loops: the batch
digest's CRC, writing the records (one pass instead of a strided pass per field),
and padding binary values to the probe's fixed widths; the writer combines its
columns' CRCs into the batch's (``crc32_combine``) instead of a second pass."""

from __future__ import annotations

import ctypes
import zlib
from typing import Any

import numpy as np

from .. import native

_P, _I64, _U32 = ctypes.c_void_p, ctypes.c_int64, ctypes.c_uint32
_lib: Any = None
_tried = False


def lib() -> Any:
    """The loaded kernels, or None (the fallbacks run)."""
    global _lib, _tried
    if not _tried:
        _tried = True
        so = native.load("replay")
        if so is not None:
            # typed in place: ctypes keeps each function object on the library
            native.function(so, "cdig_crc32_fold", _U32, [_P, _I64, _U32, ctypes.POINTER(_I64)])
            native.function(so, "cdig_crc32_combine", _U32, [_U32, _U32, _I64])
            native.function(so, "cdig_rows", None, [_I64, _I64, _P, _P, _P, _I64, _P, _P, _P])
            native.function(so, "cdig_fixed", None,
                            [_I64, _P, _I64, _P, _P, _I64, _I64, _P, _I64, _I64])
            native.function(so, "cdig_fd_journal", _I64,
                            [ctypes.c_char_p, _I64, _I64, _P, _P, _P, _P, _P, _P])
        _lib = so
    return _lib


def reset() -> None:
    """Forget the loaded kernels (tests switch CDIG_NATIVE)."""
    global _lib, _tried
    _lib, _tried = None, False


def _addr(buf: Any) -> tuple[int, int, Any]:
    """(address, length, keep-alive) of a bytes-like buffer."""
    a = np.frombuffer(buf, dtype=np.uint8)
    return a.ctypes.data, len(a), a


def crc32(buf: Any, crc: int = 0) -> int:
    """``zlib.crc32(buf, crc)``: the 16-byte chunks by carry-less multiplication."""
    so = lib()
    if so is None or len(memoryview(buf).cast("B")) < 4096:  # the call costs more
        return zlib.crc32(buf, crc)
    ptr, n, keep = _addr(buf)
    done = _I64()
    crc = so.cdig_crc32_fold(ptr, n, crc, ctypes.byref(done))
    del keep
    return zlib.crc32(memoryview(buf).cast("B")[done.value:], crc) if done.value < n else crc


def crc32_combine(crc1: int, crc2: int, len2: int) -> int | None:
    """zlib's ``crc32_combine``: the CRC-32 of A then B from A's CRC, B's CRC and B's
    length in bytes; None without the kernel (Python's zlib does not offer it)."""
    so = lib()
    if so is None:
        return None
    return int(so.cdig_crc32_combine(crc1, crc2, len2))


def fill_rows(out: np.ndarray, columns: list[tuple[int, np.ndarray]],
              plain: np.ndarray | None = None, plain_out: np.ndarray | None = None) -> bool:
    """Write each ``(byte offset, column)`` into every record of ``out`` (contiguous,
    one record per column element) in one pass, and copy the records where ``plain``
    is True to ``plain_out`` in order. False when there is no kernel (nothing done)."""
    so = lib()
    if so is None:
        return False
    n = len(out)
    cols = [np.ascontiguousarray(c) for _, c in columns]
    ptrs = np.array([c.ctypes.data for c in cols], dtype=np.uint64)
    if any(len(c) != n or c.ndim != 1 for c in cols):
        raise ValueError("a column of another length than the records")
    sizes = np.array([c.dtype.itemsize for c in cols], dtype=np.int64)
    offs = np.array([o for o, _ in columns], dtype=np.int64)
    if any(o < 0 or o + s > out.dtype.itemsize for o, s in zip(offs.tolist(), sizes.tolist(),
                                                                strict=True)):
        raise ValueError("a column outside the record")
    mask = None if plain is None else np.ascontiguousarray(plain, dtype=np.uint8)
    if mask is not None and (len(mask) != n or plain_out is None or plain_out.dtype !=
                             out.dtype or len(plain_out) != np.count_nonzero(mask)):
        raise ValueError("plain records: not one per marked record")
    so.cdig_rows(n, len(cols), ptrs.ctypes.data, sizes.ctypes.data, offs.ctypes.data,
                 out.dtype.itemsize, out.ctypes.data,
                 None if mask is None else mask.ctypes.data,
                 None if plain_out is None else plain_out.ctypes.data)
    return True


def fill_fixed(out: np.ndarray, at: int, width: int, offsets: np.ndarray, data: Any,
               rows: np.ndarray | None = None) -> bool:
    """Into each record ``j`` of ``out`` at byte ``at``: value ``rows[j]`` (or ``j``)
    of a binary column (``offsets``: int32, ``data``: its bytes), cut to ``width`` and
    zero-padded. False when there is no kernel (nothing done)."""
    so = lib()
    if so is None:
        return False
    m = len(out) if rows is None else len(rows)
    r = None if rows is None else np.ascontiguousarray(rows, dtype=np.int64)
    offs = np.ascontiguousarray(offsets, dtype=np.int32)
    n = len(offs) - 1
    if rows is None and m > n:
        raise ValueError("fewer values than records")
    ptr, dlen, keep = 0, 0, None
    if data is not None and len(memoryview(data).cast("B")):
        ptr, dlen, keep = _addr(data)
    so.cdig_fixed(m, None if r is None else r.ctypes.data, n, offs.ctypes.data, ptr or None,
                  dlen, width, out.ctypes.data, out.dtype.itemsize, at)
    del keep
    return True


def fd_journal(text: bytes) -> tuple[np.ndarray, int | None] | None:
    """A batch state ``text`` that is only stamped fd answers (``cdig_fd_journal`` says
    which), as (a (5, m) int64 array: each entry's pid, fd, answer start and end in
    ``text`` (-1: null) and asking record's number; the drop count or None), else None:
    json reads it, as it does everywhere without the kernel."""
    so = lib()
    if so is None or not isinstance(text, bytes):
        return None
    cap = len(text) // 17 + 1  # the shortest entry, ["fd",0,0,null,0], and its comma
    cols = np.empty((5, cap), dtype=np.int64)
    ans = np.empty(2 * cap, dtype=np.int64)
    extra = np.zeros(2, dtype=np.int64)
    c = cols.ctypes.data
    m = so.cdig_fd_journal(text, len(text), cap, c, c + 8 * cap, c + 32 * cap, ans.ctypes.data,
                           extra.ctypes.data, extra.ctypes.data + 8)
    if m < 0:
        return None
    cols[2, :m] = ans[0:2 * m:2]
    cols[3, :m] = ans[1:2 * m:2]
    return cols[:, :m], int(extra[0]) if extra[1] else None
