"""What of a filter the kernel can drop before it costs a ring-buffer slot
(:class:`~cdig.probes.kernel_filter.KernelFilter`)."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from ...probes.kernel_filter import KernelFilter
from ..errnos import canonical_errno_name
from .compile import parse_bool, parse_int
from .tree import And, Compare, Expr

# --------------------------------------------------------------------------- pushdown


_PUSH_INT_FIELDS = {"proc.pid": "pids", "thread.tid": "tids"}
_CONTAINER_FIELDS = ("container.id", "container.full_id", "container.name")


def _conjuncts(expr: Expr) -> Iterator[Expr]:
    if isinstance(expr, And):
        for item in expr.items:
            yield from _conjuncts(item)
    else:
        yield expr


def pushdown(expr: Expr | None) -> KernelFilter:
    """Extract the kernel-side restrictions a filter implies.

    Only top-level conjuncts (a chain of ``and``) with ``=``/``==``/``in`` are used;
    anything under ``or``/``not`` is left to userspace, which still evaluates the
    whole filter. So the result never drops an event the filter would accept.
    """
    if expr is None:
        return KernelFilter()
    sets: dict[str, frozenset[Any]] = {}
    failed_only = False

    def narrow(key: str, values: frozenset[Any]) -> None:
        sets[key] = sets[key] & values if key in sets else values

    for node in _conjuncts(expr):
        if not isinstance(node, Compare) or node.op not in ("=", "==", "in"):
            continue
        name, values = node.field, node.values
        if name in _PUSH_INT_FIELDS:
            ints = [parse_int(v) for v in values]
            if all(n is not None for n in ints):
                narrow(_PUSH_INT_FIELDS[name], frozenset(ints))
        elif name == "evt.type":
            narrow("syscalls", frozenset(values))
        elif name in _CONTAINER_FIELDS:
            narrow(name, frozenset(values))
        elif name == "evt.failed":
            if all(parse_bool(v) is True for v in values):
                failed_only = True
        elif name == "evt.res":
            # evt.res is an errno name only when the syscall failed.
            if all(canonical_errno_name(v) != "SUCCESS" for v in values):
                failed_only = True

    # Each container field alone bounds the set of containers; with several
    # (container.id = a and container.name = b), one is enough and stays safe.
    refs = next((sets[k] for k in _CONTAINER_FIELDS if k in sets), None)
    return KernelFilter(
        pids=sets.get("pids"),
        tids=sets.get("tids"),
        syscalls=sets.get("syscalls"),
        failed_only=failed_only,
        container_refs=refs,
    )


