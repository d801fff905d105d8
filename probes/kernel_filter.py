"""What the kernel drops before an event costs a ring-buffer slot: the one
``KernelFilter``, made by the filter's pushdown (``collector.filter.pushdown``)
and compiled into the syscall probe's ``-D`` defines (``probes.loader``)."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from ..collector.events import Event


@dataclass(frozen=True, slots=True)
class KernelFilter:
    """What the kernel may drop before it costs a ring-buffer slot.

    None means "no restriction". An event passes when it passes every restriction
    (:meth:`admits` is the reference semantics).

    The probe applies ``pids`` (tgids), ``cgroup_ids``, ``syscalls`` and
    ``failed_only``. ``syscalls`` holds evt.type names — for sched events that is
    execve/clone/procexit — and the caller keeps it only when the syscall table
    knows every name. ``container_refs`` (container.id short, container.full_id
    and container.name values) and ``tids`` are what a filter says; the caller
    resolves the references to ``cgroup_ids``, and tids stay userspace's.
    """

    pids: frozenset[int] | None = None
    tids: frozenset[int] | None = None
    syscalls: frozenset[str] | None = None
    failed_only: bool = False
    container_refs: frozenset[str] | None = None
    cgroup_ids: frozenset[int] | None = None

    @property
    def restricts(self) -> bool:
        """True when there is anything to push into the kernel."""
        return self.failed_only or any(
            s is not None
            for s in (self.pids, self.tids, self.syscalls, self.container_refs, self.cgroup_ids)
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
        if self.cgroup_ids is not None and event.cgroup_id not in self.cgroup_ids:
            return False
        if self.container_refs is not None:
            c = event.container
            if not {c.id, c.short_id, c.name} & self.container_refs:
                return False
        return True
