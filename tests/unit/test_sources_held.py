"""collector/sources.py's _Held: drained chunks released by the watermark, in ring
order, cut where the mark falls inside a chunk, bounds kept per chunk."""

from __future__ import annotations

import numpy as np

from cdig.collector.sources import _Held
from cdig.probes.syscalls import layout


def slots(*ts: int) -> np.ndarray:
    s = np.zeros(len(ts), dtype=layout.EVENT_SLOT)
    s["rec"]["ts_ns"] = ts
    s["rec"]["pid"] = np.arange(len(ts)) + 100
    return s


def held() -> _Held:
    return _Held(layout.EVENT_SLOT, lambda c: c["rec"]["ts_ns"])


def test_take_releases_older_than_the_mark_in_ring_order():
    h = held()
    h.add(slots(10, 30, 20))
    h.add(slots(40, 50))
    h.add(slots())
    assert h.oldest() == 10
    out = h.take(35)  # cuts the first chunk? no: 10, 30, 20 < 35; the second stays
    assert out["rec"]["ts_ns"].tolist() == [10, 30, 20]
    assert h.oldest() == 40
    assert len(h.take(40)) == 0
    out = h.take(45)  # the mark inside the chunk: the older part goes, the rest stays
    assert out["rec"]["ts_ns"].tolist() == [40]
    assert out["rec"]["pid"].tolist() == [100]
    assert h.oldest() == 50
    assert h.chunks[0][1:] == (50, 50)
    assert h.take(None)["rec"]["ts_ns"].tolist() == [50]
    assert h.oldest() is None and not h.chunks


def test_a_cut_keeps_the_young_rows_bounds():
    h = held()
    h.add(slots(5, 90, 7, 60, 8))
    out = h.take(50)
    assert out["rec"]["ts_ns"].tolist() == [5, 7, 8]
    (rest, lo, hi), = h.chunks
    assert rest["rec"]["ts_ns"].tolist() == [90, 60]
    assert (lo, hi) == (60, 90)
    assert h.take(None)["rec"]["pid"].tolist() == [101, 103]


def test_take_joins_chunks():
    h = held()
    h.add(slots(1, 2))
    h.add(slots(3))
    out = h.take(None)
    assert out.dtype == layout.EVENT_SLOT
    assert out["rec"]["ts_ns"].tolist() == [1, 2, 3]
