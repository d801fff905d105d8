"""Vectorised pre-filtering of raw batches, before any per-event Python work.

The part of a filter that reads only raw-record fields (evt.type, proc.pid,
proc.name, evt.res …) is evaluated with numpy over a whole batch; records it
rejects are never decoded. Records that change state (fd- and process-table
syscalls, sched records) are always kept, so names stay right for the events
that do pass. The full filter still runs per event afterwards: the prefilter
only has to be a superset, and it is, because it uses only top-level
``and`` terms of the filter.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np

from ..probes import layout
from ..probes.syscalls import SyscallTable
from .decode import RawBatch
from .filter import VECTOR_FIELDS, And, Filter, RawColumns, compile_vectorized, fields_used

Prefilter = Callable[[RawBatch], tuple[np.ndarray, np.ndarray]]


def _vector_part(expr):  # -> Expr | None
    items = expr.items if isinstance(expr, And) else (expr,)
    keep = [e for e in items if fields_used(e) <= VECTOR_FIELDS]
    if not keep:
        return None
    return keep[0] if len(keep) == 1 else And(tuple(keep))


def build_prefilter(flt: Filter, syscalls: SyscallTable) -> Prefilter | None:
    """A function giving (keep mask of plain records, keep mask of ext records),
    or None when no part of the filter can be evaluated on raw records."""
    if flt.expr is None:
        return None
    part = _vector_part(flt.expr)
    if part is None:
        return None
    mask = compile_vectorized(part, RawColumns(syscall_name=syscalls.name))
    if mask is None:
        return None
    state_nr = np.zeros(max(syscalls.max_nr, 1 << 16), dtype=bool)
    for spec in syscalls.by_nr.values():
        if spec.state:
            state_nr[spec.nr] = True

    def keep(records: np.ndarray) -> np.ndarray:
        if not len(records):
            return np.zeros(0, dtype=bool)
        kind = records["kind"]
        is_state = (kind >= layout.KIND_EXEC) | state_nr[records["nr"]]
        return mask(records) | is_state

    def prefilter(batch: RawBatch) -> tuple[np.ndarray, np.ndarray]:
        return keep(batch.events), keep(batch.ext["ev"]) if len(batch.ext) else \
            np.zeros(0, dtype=bool)

    return prefilter
