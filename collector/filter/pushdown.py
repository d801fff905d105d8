"""What of a filter the kernel can drop before it costs a ring-buffer slot."""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from ..events import Event
from ..fields import (
    canonical_errno_name,
)

if TYPE_CHECKING:
    pass

from .compile import parse_bool, parse_int
from .syntax import And, Compare, Expr

# --------------------------------------------------------------------------- pushdown


@dataclass(frozen=True, slots=True)
class KernelFilter:
    """What the kernel may drop before it costs a ring-buffer slot.

    None means "no restriction". An event passes when it passes every restriction
    (:meth:`admits` is the reference semantics). ``syscalls`` holds evt.type names —
    for sched events that is execve/clone/procexit; the caller maps names to numbers.
    ``container_refs`` holds container.id (short), container.full_id and
    container.name values; the caller resolves them to cgroup ids.
    """

    pids: frozenset[int] | None = None
    tids: frozenset[int] | None = None
    syscalls: frozenset[str] | None = None
    failed_only: bool = False
    container_refs: frozenset[str] | None = None

    @property
    def restricts(self) -> bool:
        """True when there is anything to push into the kernel."""
        return self.failed_only or any(
            s is not None for s in (self.pids, self.tids, self.syscalls, self.container_refs)
        )

    def admits(self, event: Event) -> bool:
        """Whether the kernel side would let ``event`` through."""
        if self.pids is not None and event.pid not in self.pids:
            return False
        if self.tids is not None and event.tid not in self.tids:
            return False
        if self.syscalls is not None and event.type not in self.syscalls:
            return False
        if self.failed_only and not event.failed:
            return False
        if self.container_refs is not None:
            c = event.container
            if not {c.id, c.short_id, c.name} & self.container_refs:
                return False
        return True


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


