"""The event headers of a decompressed chunk's blocks, as columns.

Each event block's body is ``u16 cpuid``, ``u32 flags`` (EVF blocks), then the
event header ``u64 ts, u64 tid, u32 len, u16 type`` and (v2 blocks) ``u32
nparams`` (``FORMAT.md`` §1.4). ``read`` gives, for the blocks of a chunk that
are event blocks long enough to hold their header, the block row and the
columns ``HEADER_COLUMNS``: from the C kernel (``collector/native/scap.c``, one
loop) when it is available, else from numpy (a gather per field); both the same.
"""

from __future__ import annotations

import numpy as np

from ..native.scap import HEADER_COLUMNS, kernels
from . import blocks as B
from . import bulk
from .base import EVF_BLOCK

_EV_TYPES = np.array(sorted(B.EVENT_BLOCKS), dtype=np.int64)
_V2_TYPES = np.array([t for t, (v2, _) in B.EVENT_BLOCKS.items() if v2], dtype=np.int64)
_EVF_TYPES = np.array([t for t, (_, f) in B.EVENT_BLOCKS.items() if f], dtype=np.int64)

__all__ = ["HEADER_COLUMNS", "numpy_headers", "read"]


def numpy_headers(u8: np.ndarray, blks: np.ndarray, first: int
                  ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """``read`` in numpy: the reference the C kernel is tested against."""
    arr = blks[first:]
    bt, s, e = arr[:, 0], arr[:, 1], arr[:, 2]
    v2 = np.isin(bt, _V2_TYPES)
    hasf = np.isin(bt, _EVF_TYPES)
    need = 2 + 4 * hasf + np.where(v2, 26, 22)
    row = np.flatnonzero(np.isin(bt, _EV_TYPES) & (e - s >= need))
    s, e, v2, hasf = s[row], e[row], v2[row], hasf[row]
    p = s + 2 + 4 * hasf
    cols = {
        "s": s, "e": e, "p": p, "v2": v2.astype(np.int64),
        "etype": bulk.gather(u8, p + 20, "<u2").astype(np.int64),
        "dflags": np.where(hasf, bulk.gather(u8, s + 2, "<u4").astype(np.int64) | EVF_BLOCK,
                           0),
        "nparams": np.where(v2, bulk.gather(u8, p + 22, "<u4").astype(np.int64), -1),
        "elen": bulk.gather(u8, p + 16, "<u4").astype(np.int64),
        "cpu": bulk.gather(u8, s, "<u2").astype(np.int64),
        "ts": bulk.gather(u8, p, "<u8").view(np.int64),
        "tid": bulk.gather(u8, p + 8, "<u8").view(np.int64),
    }
    return row + first, cols


def read(u8: np.ndarray, blks: np.ndarray, first: int, scratch: np.ndarray | None = None
         ) -> tuple[np.ndarray, dict[str, np.ndarray]]:
    """(the block row of each event, its header columns) of blocks ``blks[first:]``
    (rows of type, body start, body end, stream offset) in the chunk ``u8``. With
    ``scratch`` (``Kernels.header_scratch``) the C kernel's columns are views into it,
    valid until the next call with it."""
    k = kernels()
    if k is None:
        return numpy_headers(u8, blks, first)
    return k.headers(u8, blks, first, EVF_BLOCK, scratch)
