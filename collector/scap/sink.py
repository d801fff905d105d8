"""``cdig trace -w FILE.scap``: the .scap writer as a session stage.

It gets each enriched batch with its matched mask, like the cdig capture writer,
and writes the matched rows plus the rows that change state — those marked
state-only, so sysdig applies them and does not show them — in decoding order.
"""

from __future__ import annotations

from typing import Any

import numpy as np

from ..batch import EventBatch, take_records
from ..decode import RawBatch
from ..state import State
from .writer import ScapWriter


class ScapSink:
    """A batch sink writing to ``writer``; ``state`` is the session's State."""

    batch_sink = True

    def __init__(self, writer: ScapWriter, state: State, state_rows: Any) -> None:
        self.writer = writer
        self.state = state
        self.state_rows = state_rows  # Enricher.state_rows
        self.written = 0
        # built before the first batch: the file starts with the tables as they are now
        # (each batch comes with the State after it)
        if not writer.started:
            writer.prime(state)

    def __call__(self, b: EventBatch, matched: np.ndarray) -> None:
        if not len(b):
            return
        keep = matched | self.state_rows(b.cols)
        rows = np.flatnonzero(keep)
        if not len(rows):
            return
        recs = take_records(b.rec, rows)
        xr = b.ext_row[rows]
        is_ext = xr >= 0
        plain = np.flatnonzero(~is_ext)
        ext_pos = np.flatnonzero(is_ext)
        order = np.empty(len(rows), dtype=np.int64)
        order[plain] = np.arange(len(plain))
        order[ext_pos] = len(plain) + np.arange(len(ext_pos))
        raw = RawBatch(take_records(recs, plain), b.ext[xr[is_ext]], order,
                       b.num[rows].astype(np.uint64), ctx=~matched[rows])
        self.writer.write(raw, self.state, after=True)
        self.written += int(np.count_nonzero(matched))
