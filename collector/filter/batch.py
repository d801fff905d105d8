"""A filter evaluated over a whole batch: a boolean mask, column-wise.

The expression tree is compiled once. Each subtree becomes one of:

* a **raw mask**: only fields of the raw record (evt.type, proc.pid, evt.res …):
  numpy over the record columns (``filter.compile_vectorized``);
* a **keyed test**: no row-level field (fd.name, container.name, proc.cmdline …):
  the per-event predicate runs once per distinct value of what the subtree reads
  (``collector.vector``) and is taken back onto the rows;
* otherwise ``and``/``or``/``not`` of its children, and row-level comparisons
  (evt.num, evt.rawtime, evt.cpu) as numpy; string tests on the time texts run
  per row (nothing faster gives the same answers).

Each path computes exactly what the per-event predicate computes;
``tests/unit/test_batch_engine.py`` checks that on random filters.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, Protocol, cast

import numpy as np

from ...probes.syscall_table import SyscallTable
from ..batch import EventBatch
from ..events import Event
from ..vector import ROW_FIELDS, ArgRelevance, depends, group
from . import (
    VECTOR_FIELDS,
    And,
    Compare,
    Expr,
    Filter,
    Not,
    Or,
    RawColumns,
    _compile_compare,
    _convert,
    _vec_int,
    _vec_isin,
    compile_expr,
    compile_vectorized,
    fields_used,
)
from .raw import logical_mask

Mask = Callable[[EventBatch], np.ndarray]


class _KeyedMask(Protocol):
    """A Mask that can be asked for some rows only (False elsewhere)."""

    def __call__(self, b: EventBatch, within: np.ndarray | None = None) -> np.ndarray: ...

# row-level fields numpy can compare directly: name -> column of the batch
_ROW_INT = {"evt.num": lambda b: b.num, "evt.rawtime": lambda b: b.ts}


class BatchFilter:
    """``mask(batch)``: the rows of an enriched batch that pass ``flt``."""

    def __init__(self, flt: Filter, syscalls: SyscallTable) -> None:
        self.filter = flt
        self.rel = ArgRelevance(syscalls)
        self.cols = RawColumns(syscall_name=syscalls.name)
        self._mask = None if flt.expr is None else self._compile(flt.expr)
        # what can be decided before enrichment: the raw part, the container part
        self.raw = _raw_part(flt.expr, self.cols)
        self.container = _container_part(flt.expr)

    @property
    def everything(self) -> bool:
        return self._mask is None

    def mask(self, b: EventBatch) -> np.ndarray:
        if self._mask is None:
            return np.ones(len(b), dtype=bool)
        return self._mask(b)

    # -- compilation -------------------------------------------------------------------
    def _compile(self, expr: Expr) -> Mask:
        used = fields_used(expr)
        if used <= VECTOR_FIELDS:
            whole = compile_vectorized(expr, self.cols)
            if whole is not None:
                return lambda b: whole(b.cols)
        if isinstance(expr, And) and not (used & ROW_FIELDS):
            # the raw terms first: the rest is evaluated on the rows they pass (its
            # representative Events built for those only; the terms have no effects)
            raw_items = [e for e in expr.items if fields_used(e) <= VECTOR_FIELDS]
            rest = [e for e in expr.items if not fields_used(e) <= VECTOR_FIELDS]
            if raw_items and rest:
                first = compile_vectorized(_all(raw_items), self.cols)
                rest_expr = _all(rest)
                keyed = self._keyed(rest_expr, fields_used(rest_expr))
                if first is not None:
                    return lambda b: keyed(b, first(b.cols))
        if not (used & ROW_FIELDS):
            return self._keyed(expr, used)
        if isinstance(expr, Not | And | Or):
            return logical_mask(expr, self._compile, np)
        return self._row_compare(expr)

    def _keyed(self, expr: Expr, used: frozenset[str]) -> _KeyedMask:
        pred = compile_expr(expr)
        keys: frozenset[str] = frozenset().union(*(depends(f) for f in used))
        rel = self.rel

        def keyed(b: EventBatch, within: np.ndarray | None = None) -> np.ndarray:
            """The mask of ``expr``; with ``within``, only for those rows (False elsewhere)."""
            if within is not None and not within.any():
                return within
            codes, first = group(b, keys, rel)
            if not len(first):
                return np.zeros(len(b), dtype=bool)
            if within is None:
                reps = b.events(first)
                lut = np.fromiter((bool(pred(e)) for e in reps), dtype=bool, count=len(reps))
                return np.asarray(lut[codes])
            need = np.zeros(len(first), dtype=bool)
            need[codes[within]] = True
            asked = np.flatnonzero(need)
            lut = np.zeros(len(first), dtype=bool)
            lut[asked] = [bool(pred(e)) for e in b.events(first[asked])]
            return np.asarray(lut[codes] & within)

        return keyed

    def _row_compare(self, node: Compare) -> Mask:
        name, op = node.field, node.op
        if op == "exists":
            return lambda b: np.ones(len(b), dtype=bool)
        if name == "evt.latency":
            raw = compile_vectorized(node, self.cols)
            assert raw is not None
            return lambda b: raw(b.cols)
        col = _ROW_INT.get(name)
        if col is not None:
            from ..fields import resolve

            val = _convert(node, resolve(name), "")
            if op == "in":
                return lambda b: _vec_isin(_signed(col(b)), val.typed, np)
            if op in ("=", "==", "!=", "<", "<=", ">", ">="):
                x = val.typed[0]
                return lambda b: _vec_int(_signed(col(b)), op, x, np)
        pred = _compile_compare(node, "")  # evt.time texts and string ops: per row

        def per_row(b: EventBatch) -> np.ndarray:
            return np.fromiter((bool(pred(e)) for e in b.events()), dtype=bool, count=len(b))

        return per_row


def _all(items: list[Expr]) -> Expr:
    return items[0] if len(items) == 1 else And(tuple(items))


def _signed(col: np.ndarray) -> np.ndarray:
    """uint64 counters and timestamps as int64 (they stay far below 2**63)."""
    return col.astype(np.int64) if col.dtype == np.uint64 else col


class _OnlyContainer:
    """Enough of an Event for the getters of container.* and k8s.* fields."""

    __slots__ = ("container",)

    def __init__(self, container: Any) -> None:
        self.container = container


def _container_part(expr: Expr | None) -> Callable[[Any], bool] | None:
    """A Container → bool test for the top-level ``and`` terms that read only the
    container (container.*, k8s.*): rows of a container that fails it fail the
    filter, whatever else they hold."""
    if expr is None:
        return None
    items = expr.items if isinstance(expr, And) else (expr,)
    keep = [e for e in items if fields_used(e) and all(
        f.split(".", 1)[0] in ("container", "k8s") for f in fields_used(e))]
    if not keep:
        return None
    pred = compile_expr(keep[0] if len(keep) == 1 else And(tuple(keep)))
    return lambda c: bool(pred(cast("Event", _OnlyContainer(c))))  # reads .container only


def _raw_part(expr: Expr | None, cols: RawColumns) -> Callable[[np.ndarray], np.ndarray] | None:
    """A records → mask function for the top-level ``and`` terms of the filter that
    read only raw-record fields; rows it rejects fail the whole filter, so they need
    no enrichment (state-changing rows are kept anyway by the caller)."""
    if expr is None:
        return None
    items = expr.items if isinstance(expr, And) else (expr,)
    keep = [e for e in items if fields_used(e) <= VECTOR_FIELDS]
    if not keep:
        return None
    part = keep[0] if len(keep) == 1 else And(tuple(keep))
    return compile_vectorized(part, cols)
