"""Which container (or Kubernetes pod, or the host) a cgroup belongs to.

Two layers:

- ``parse_cgroup_path(path)`` (``collector.cgroup_paths``) is pure: it reads the
  runtime, the container id and the pod uid / QoS class out of a cgroup path's
  shape, for docker, podman, containerd/CRI, CRI-O, Kubernetes pod slices (systemd
  and cgroupfs drivers), LXC, runc's systemd driver and systemd services.
- ``ContainerResolver`` turns BPF cgroup ids (through ``cgroups.CgroupIndex``)
  and pids into shared ``events.Container`` records, asks the runtimes for
  names, images and labels (``runtimes.RuntimeClient``) off the caller's thread,
  and answers the questions the CLI and the kernel-side filter ask: which
  containers are there, which one is "web1", which cgroup ids does it cover.

Decisions (the rest of cdig relies on them): what a path's shape means — the
host, systemd services, unknown 64-hex ids, nested containers — is listed in
``collector.cgroup_paths``. Here:

- An unrecognised path is the host unless a runc state file places a runc
  container at it (plain ``runc run NAME`` uses ``/NAME``); such answers stay
  provisional for a few seconds while runc may still write the file.
- v1-only hosts: BPF cgroup ids carry no information (see ``collector.cgroups``);
  ``resolve(cgroup_id, pid)`` falls back to ``resolve_pid(pid)``, which reads
  ``/proc/PID/cgroup``, and ``cgroup_ids_for`` returns an empty set (no
  kernel-side filtering by container: the filter runs in userspace). On hybrid
  hosts the same fallback covers processes whose cgroup2 path is the root.
"""

from __future__ import annotations

import builtins
import logging
import os
import threading
import time
from collections.abc import Callable

from .cgroup_paths import (
    ContainerRef,
    default_name,
    is_within,
    parse_cgroup_path,
)
from .cgroup_watch import WatchThread
from .cgroups import CgroupIndex, CgroupLayout, cgroup_layout, cgroup_of_pid, nspawn_supervised
from .container_watch import _PENDING_GRACE, ContainerWatch
from .events import HOST, Container
from .metadata_lookups import MetadataLookups
from .runtimes import RuntimeClient

log = logging.getLogger(__name__)

__all__ = ["ContainerRef", "ContainerResolver", "parse_cgroup_path"]


_PID_CACHE_MAX = 65536  # entries; the per-pid cache is cleared when it fills up
# An unrecognised path is the host unless runc claims it; runc may do so a moment
# after the container's first syscalls. Such answers are re-checked this often
# (seconds) during this long (seconds) before they are final.
_PROVISIONAL_RECHECK = 0.5
_PROVISIONAL_WINDOW = 10.0

# Runtimes ``RuntimeClient`` can ask; lxc and systemd have nothing more to say.
_ASKABLE = frozenset({"docker", "podman", "containerd", "cri-o", "runc", "kubernetes", "unknown"})


class ContainerResolver(ContainerWatch):
    """cgroup id / pid -> ``Container``, with runtime metadata filled in.

    ``resolve`` and ``resolve_pid`` never wait for a runtime: a container seen
    for the first time is returned at once with its id (and pod uid) and its
    name, image and labels are fetched on a background thread, then written
    into that same ``Container`` object, so every process and event holding it
    sees them. ``wait_for_metadata`` waits for lookups in flight (e.g. at
    start-up). With ``background=False`` lookups run inline instead, each
    still bounded by the runtime client's timeout. One ``Container`` object per
    container; ``HOST`` for the host. Thread-safe.

    Lookups that found nothing are retried ``retries`` times, ``retry_delay``
    seconds apart (a container's first syscalls can precede the runtime's
    bookkeeping). Where the cgroup id cannot place a task (v1-only hosts, the
    root cgroup of hybrid hosts) ``resolve(id, pid)`` reads ``/proc/PID/cgroup``
    and remembers the answer for ``pid_cache_ttl`` seconds.

    New containers before their first syscall: ``watch()`` (or ``watch=True``)
    starts a thread that sees every cgroup the moment it is made (inotify on the
    hierarchy, ``cgroups.CgroupWatcher``), classifies it and starts its metadata
    lookup at once, so ``resolve`` answers from its cache. A consumer that must
    not judge a record before its container is named (a ``container.name=``
    filter) asks ``pending(cgroup_id)`` and holds the record while it is True,
    or blocks in ``wait_for(ids, timeout)``. ``workers`` lookups run at once
    (one slow runtime does not delay the others' containers).
    """

    def __init__(
        self,
        cgroups: CgroupIndex | None,
        *,
        proc_root: str = "/proc",
        layout: CgroupLayout | None = None,
        runtimes: RuntimeClient | None = None,
        runc_root: str = "/run/runc",
        systemd_services: bool = True,
        background: bool = True,
        retries: int = 2,
        retry_delay: float = 2.0,
        pid_cache_ttl: float = 1.0,
        watch: bool = False,
        workers: int = 4,
        pending_grace: float = _PENDING_GRACE,
    ) -> None:
        self.cgroups = cgroups
        self.proc_root = proc_root
        self.layout = layout if layout is not None else cgroup_layout(proc_root)
        self.runtimes = runtimes or RuntimeClient(runc_root=runc_root, layout=self.layout)
        self.systemd_services = systemd_services
        self.pid_cache_ttl = pid_cache_ttl  # seconds
        self._by_pid: dict[int, tuple[float, Container]] = {}  # pid -> (monotonic s, container)
        self._lock = threading.RLock()
        self._by_cgid: dict[int, Container] = {}
        self._by_path: dict[str, Container] = {}
        self._containers: dict[tuple[str, str], Container] = {}
        self._index_paths: set[str] = set()  # paths that came from the cgroup2 index
        # path -> (first seen, next check), monotonic seconds: host answers that
        # a runc state file may still overturn (see _classify)
        self._provisional: dict[str, tuple[float, float]] = {}
        self._root_id = cgroups.root_id if cgroups is not None else None
        self._v1_watch = False
        self.lookups = MetadataLookups(self.runtimes, self._lock, background=background,
                                       retries=retries, retry_delay=retry_delay,
                                       workers=workers)
        self._idle = self.lookups.idle  # also notified when a watched cgroup is learnt
        self._closed = False
        self.pending_grace = pending_grace  # seconds
        # cgroup id -> when ``pending`` first saw it missing from the index (monotonic s)
        self._unknown: dict[int, float] = {}
        # the cgroup watcher (``watch``)
        self._watch: WatchThread | None = None
        if watch:
            self.watch()

    @classmethod
    def for_host(cls, proc_root: str = "/proc", **kwargs: object) -> ContainerResolver:
        """A resolver for this host: finds the cgroup mounts, indexes cgroup2."""
        layout = cgroup_layout(proc_root)
        index = CgroupIndex.for_host(proc_root, layout)
        return cls(index, proc_root=proc_root, layout=layout, **kwargs)  # type: ignore[arg-type]

    # --- lifecycle -----------------------------------------------------------

    def close(self) -> None:
        """Stop the watcher and the background workers (lookups in flight
        finish on their own). Idempotent."""
        with self._lock:
            self._closed = True
            watch, self._watch = self._watch, None
        self.lookups.close()
        if watch is not None:
            watch.close()

    def __enter__(self) -> ContainerResolver:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- resolution ------------------------------------------------------------

    @property
    def cgroup_ids_usable(self) -> bool:
        """Whether BPF cgroup ids identify containers here (False on v1-only hosts:
        resolve by pid instead)."""
        return self.cgroups is not None

    def resolve(self, cgroup_id: int, pid: int | None = None) -> Container:
        """The container of a task whose BPF cgroup id is ``cgroup_id``.

        ``pid`` (optional) is used when the id cannot tell: no cgroup2 (v1-only
        host), an id not (or no longer) in the tree, or the root cgroup on a
        hybrid host. Cheap when the id was seen before.
        """
        if pid is not None and (
            self.cgroups is None or (cgroup_id == self._root_id and self.layout.mode != "v2")
        ):
            return self._resolve_pid_cached(pid)  # v1 controllers may say more; per pid
        c = self._by_cgid.get(cgroup_id)
        if c is not None:
            return c
        if self.cgroups is None:
            return HOST
        path = self.cgroups.path_of(cgroup_id)
        if path is None:
            # gone already (short-lived cgroup) or not created yet: do not cache
            return self.resolve_pid(pid) if pid is not None else HOST
        c = self.resolve_path(path)
        if path in self._by_path:  # final, not a provisional host answer
            with self._lock:
                self._by_cgid[cgroup_id] = c
                self._index_paths.add(path)
        return c

    def _resolve_pid_cached(self, pid: int) -> Container:
        """``resolve_pid`` behind a short-lived per-pid cache: on v1-only and
        hybrid hosts ``resolve(root_id, pid)`` may come once per event."""
        now = time.monotonic()
        hit = self._by_pid.get(pid)
        if hit is not None and now - hit[0] < self.pid_cache_ttl:
            return hit[1]
        c = self.resolve_pid(pid)
        with self._lock:
            if len(self._by_pid) >= _PID_CACHE_MAX:
                self._by_pid.clear()
            self._by_pid[pid] = (now, c)
        return c

    def forget_pid(self, pid: int) -> None:
        """Drop what the per-pid cache holds for ``pid`` (call on process exit/exec)."""
        with self._lock:
            self._by_pid.pop(pid, None)

    def resolve_pid(self, pid: int) -> Container:
        """The container of process ``pid`` from ``/proc/PID/cgroup``; ``HOST``
        if the process is gone. Reads /proc each time: callers cache per process."""
        path = cgroup_of_pid(pid, self.proc_root)
        return HOST if path is None else self.resolve_path(path)

    def resolve_path(self, cgroup_path: str) -> Container:
        """The container of the cgroup at hierarchy path ``cgroup_path``."""
        c = self._by_path.get(cgroup_path)
        if c is not None:
            return c
        now = time.monotonic()
        prov = self._provisional.get(cgroup_path)
        if prov is not None and now < prov[1]:
            return HOST
        c, final = self._classify(cgroup_path)
        with self._lock:
            if final or (prov is not None and now - prov[0] >= _PROVISIONAL_WINDOW):
                self._by_path[cgroup_path] = c
                self._provisional.pop(cgroup_path, None)
            else:
                first = prov[0] if prov is not None else now
                self._provisional[cgroup_path] = (first, now + _PROVISIONAL_RECHECK)
        return c

    def is_final(self, cgroup_path: str) -> bool:
        """Whether ``resolve_path``'s answer for this path is final, not a
        provisional host answer that a runc state file may still overturn
        (the exporter waits for final answers before it attributes counts)."""
        return cgroup_path in self._by_path

    def _classify(self, cgroup_path: str) -> tuple[Container, bool]:
        """(container, final) for a path. Not final: a host answer for a path a
        runc container may still claim (runc writes its state file after the
        container's init already runs), so it is checked again for a while."""
        ref = parse_cgroup_path(cgroup_path)
        if ref is None or ref.runtime == "unknown":
            task = self.runtimes.containerd_task(cgroup_path)
            if task is not None:
                return self._container_for(
                    ContainerRef("containerd", task[1], f"/{task[0]}/{task[1]}")
                ), True
            if ref is None and cgroup_path.endswith("/payload"):
                name = nspawn_supervised(self.cgroups, self.proc_root, cgroup_path)
                if name:
                    return self._container_for(ContainerRef("nspawn", name, cgroup_path)), True
            st = self.runtimes.runc_for_cgroup(cgroup_path)
            if st is not None:
                own = max(
                    (p for p in st.cgroup_paths if is_within(cgroup_path, p)), key=len, default="/"
                )
                ref = ContainerRef("runc", st.id, own)
        if ref is None:
            return HOST, cgroup_path.strip("/") == ""
        if ref.runtime == "systemd" and not self.systemd_services:
            return HOST, True
        return self._container_for(ref), True

    def _container_for(self, ref: ContainerRef) -> Container:
        key = (ref.runtime, ref.id)
        with self._lock:
            c = self._containers.get(key)
            if c is not None:
                return c
            c = Container(
                id=ref.id,
                name=default_name(ref),
                runtime=ref.runtime,
                cgroup_path=ref.cgroup_path,
                pod_uid=ref.pod_uid,
            )
            self._containers[key] = c
        if ref.runtime in _ASKABLE:
            self.lookups.start(c, ref.runtime)
        return c

    # --- metadata ----------------------------------------------------------------

    def wait_for_metadata(self, timeout: float) -> bool:
        """Wait up to ``timeout`` seconds for lookups in flight; True if none is left."""
        return self.lookups.wait(timeout)

    def lookup_times(self) -> dict[tuple[str, str], tuple[float, float, str]]:
        """(runtime, id) -> (lookup started, ended or 0.0 while in flight, source
        that answered or ""), ``time.monotonic()`` seconds, for the most recent
        containers (benchmarks, ``cdig doctor``)."""
        return self.lookups.times()

    # --- queries -------------------------------------------------------------------

    def list(self, include_host: bool = False) -> list[Container]:
        """The containers seen so far (resolved or found by ``scan``), by runtime and id."""
        with self._lock:
            out = sorted(self._containers.values(), key=lambda c: (c.runtime, c.id))
        return [HOST, *out] if include_host else out

    def scan(self) -> builtins.list[Container]:
        """Resolve every cgroup now (every process on a v1-only host) so containers
        that have not made a syscall yet are known; returns ``list()``."""
        if self.cgroups is not None:
            for cgid, path in self.cgroups.items(refresh=True):
                c = self.resolve_path(path)
                if path in self._by_path:
                    with self._lock:
                        self._by_cgid.setdefault(cgid, c)
                        self._index_paths.add(path)
        else:
            try:
                pids = [int(p) for p in os.listdir(self.proc_root) if p.isdigit()]
            except OSError as e:
                log.debug("cannot list %s: %s", self.proc_root, e)
                pids = []
            for pid in pids:
                self.resolve_pid(pid)
        return self.list()

    def by_ref(self, name_or_id: str) -> builtins.list[Container]:
        """Containers that ``name_or_id`` names, as users type it after ``-c``.

        Exact id matches first; else exact names; else ids starting with it (at
        least 3 characters). ``host`` is the host. Scans and waits (bounded)
        for metadata when nothing seen so far matches.
        """
        if name_or_id in ("host", HOST.id):
            return [HOST]

        def find() -> builtins.list[Container]:
            seen = self.list()
            tests: tuple[Callable[[Container], bool], ...] = (
                lambda c: c.id == name_or_id,
                lambda c: c.name == name_or_id,
                lambda c: len(name_or_id) >= 3 and c.id.startswith(name_or_id),
            )
            for ok in tests:
                hits = [c for c in seen if ok(c)]
                if hits:
                    return hits
            return []

        hits = find()
        if not hits:
            self.scan()
            self.wait_for_metadata(self.runtimes.timeout * 2)
            hits = find()
        return hits

    def cgroup_ids_for(self, container: Container) -> set[int]:
        """Ids of every cgroup that belongs to ``container`` now, child cgroups
        included (for kernel-side filtering). Empty on v1-only hosts. Cgroups
        created later are not included: call again to refresh."""
        if self.cgroups is None:
            return set()
        out: set[int] = set()
        for cgid, path in self.cgroups.items(refresh=True):
            c = self.resolve_path(path)
            if c is container or (c.id == container.id and c.runtime == container.runtime):
                out.add(cgid)
        return out

    def prune(self) -> builtins.list[Container]:
        """Forget cgroups that no longer exist and containers left with none;
        returns the containers forgotten (e.g. to drop their metrics series).

        Only cgroups known from the cgroup2 index can be checked; containers
        known only from v1 paths (``resolve_pid`` on v1/hybrid hosts) are kept.
        """
        if self.cgroups is None:
            return []
        live = self.cgroups.items(refresh=True)
        live_ids = {i for i, _ in live}
        live_paths = {p for _, p in live}
        with self._lock:
            dead_paths = self._index_paths - live_paths
            self._index_paths -= dead_paths
            self._by_cgid = {i: c for i, c in self._by_cgid.items() if i in live_ids}
            self._by_path = {p: c for p, c in self._by_path.items() if p not in dead_paths}
            self._provisional = {p: v for p, v in self._provisional.items() if p in live_paths}
            alive = {id(c) for c in (*self._by_cgid.values(), *self._by_path.values())}
            gone = [c for c in self._containers.values() if id(c) not in alive]
            self._containers = {k: c for k, c in self._containers.items() if id(c) in alive}
        return gone
