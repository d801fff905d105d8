"""``series.CgroupNames`` over ``collector.containers.ContainerResolver``."""

from __future__ import annotations

from ..collector.containers import ContainerResolver
from ..collector.events import HOST, Container


class ResolverNames:
    """cgroup ids -> paths -> containers, as the exporter's series need them.

    On hosts without cgroup2 (v1 only) BPF cgroup ids say nothing: every id is
    the host there (per-container syscall metrics need cgroup2; resource
    metrics from v1 files still work).
    """

    def __init__(self, resolver: ContainerResolver) -> None:
        self.resolver = resolver
        self.index = resolver.cgroups

    def walk(self) -> dict[int, str]:
        if self.index is None:
            return {}
        self.resolver.prune()  # walks the tree; forgets containers that are gone
        return dict(self.index.items())

    def path_of(self, cgroup_id: int) -> str | None:
        if self.index is None:
            return "/"
        return self.index.path_of(cgroup_id)

    def container_of(self, path: str) -> Container | None:
        if self.index is None:
            return HOST
        c = self.resolver.resolve_path(path)
        return c if self.resolver.is_final(path) else None

    def settle(self, timeout: float) -> None:
        self.resolver.wait_for_metadata(timeout)
