"""LiveSource joins queued drains as raw slot bytes (collector/sources.py): the
joined batch must hold the same records, in order, as np.concatenate of the
drains' record views did."""

from __future__ import annotations

import numpy as np

from cdig.collector.decode import RawBatch
from cdig.collector.sources import LiveSource
from cdig.probes.syscalls import layout


def _slots(dtype: np.dtype, n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    s = np.zeros(n, dtype=dtype)
    s.view(np.uint8)[:] = rng.integers(0, 256, size=n * dtype.itemsize, dtype=np.uint8)
    return s


def test_queued_drains_join_to_the_same_records() -> None:
    src = LiveSource(max_batch=1 << 20)
    drains = [(_slots(layout.EVENT_SLOT, n, i), _slots(layout.EXT_SLOT, m, 10 + i))
              for i, (n, m) in enumerate(((5, 2), (0, 3), (7, 0)))]
    for a, b in drains:
        batch = RawBatch(a["rec"], b["rec"])
        src._backlog.append((batch, a, b))
        src._backlog_bytes += batch.events.nbytes + batch.ext.nbytes
    joined = src._take_backlog()
    want_ev = np.concatenate([a["rec"] for a, _ in drains])
    want_ext = np.concatenate([b["rec"] for _, b in drains])
    assert joined.events.dtype == layout.RECORD and joined.ext.dtype == layout.EXT_RECORD
    assert joined.events.tobytes() == want_ev.tobytes()
    assert joined.ext.tobytes() == want_ext.tobytes()
    assert src.backlog_bytes() == 0 and not src._backlog
