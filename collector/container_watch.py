"""New containers before their first syscall: ``ContainerResolver``'s cgroup watcher.

``watch()`` sees every cgroup the moment it is made (inotify on the hierarchy,
``cgroup_watch.CgroupWatcher``), classifies it and starts its metadata lookup;
``pending(cgroup_id)`` says whether a record must wait for its container's name
and ``wait_for(ids, timeout)`` blocks until none is pending. A part of
``containers.ContainerResolver`` (whose state it reads), kept apart because it
is its own concept: the timing of cgroups, runc state files and lookups.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable

from .cgroup_paths import surely_host
from .cgroup_watch import CgroupChange, CgroupWatcher, WatchThread
from .cgroups import CgroupIndex, CgroupLayout
from .events import Container
from .metadata_lookups import MetadataLookups
from .runtimes import RuntimeClient

log = logging.getLogger("cdig.collector.containers")  # one logger for the resolver

# How long (seconds) ``pending`` says True for a cgroup id the index does not hold
# yet (the watcher has not reported it) or for an unrecognised cgroup made while
# a runc container is being created (its state file may still claim it).
_PENDING_GRACE = 0.5
# While such cgroups wait for a runc state file, the watcher re-checks this often (s),
# for at most this long (s) after the cgroup appeared.
_RUNC_POLL = 0.01
_RUNC_WAIT = 2.0
_UNKNOWN_MAX = 4096  # cgroup ids remembered as "not in the index yet"


class ContainerWatch:
    """The watcher half of ``ContainerResolver``: the state below is its (set in
    ``ContainerResolver.__init__``)."""

    cgroups: CgroupIndex | None
    layout: CgroupLayout
    runtimes: RuntimeClient
    lookups: MetadataLookups
    pending_grace: float
    _lock: threading.RLock
    _idle: threading.Condition
    _closed: bool
    _v1_watch: bool
    _watch: WatchThread | None
    _by_cgid: dict[int, Container]
    _by_path: dict[str, Container]
    _index_paths: set[str]
    _provisional: dict[str, tuple[float, float]]
    _unknown: dict[int, float]

    def resolve_path(self, cgroup_path: str) -> Container:
        raise NotImplementedError  # ContainerResolver's

    @property
    def watching(self) -> bool:
        """Whether the cgroup watcher runs (``watch()`` succeeded)."""
        return self._watch is not None

    def watch(self) -> bool:
        """Start seeing cgroups as they are made; True if the watcher runs.

        Returns once every cgroup that exists now is known and its container's
        metadata lookup has started (a ``scan()``); from then on a new cgroup is
        classified within milliseconds of its ``mkdir`` — before the runtime
        moves the container's first process into it — and its lookup starts at
        once. False (logged once) without cgroups or inotify: then ``pending``
        cannot know about cgroups the index has not seen and answers False for
        them. Idempotent.
        """
        with self._lock:
            if self._watch is not None or self._closed:
                return self._watch is not None
        try:
            watcher = CgroupWatcher.for_layout(self.layout)
            if watcher is None:
                log.info("no cgroup hierarchy to watch: new containers resolved on first sight")
                return False
            changes = watcher.start()
        except OSError as e:
            log.warning("cannot watch cgroups (%s): new containers resolved on first sight", e)
            return False
        self._v1_watch = self.cgroups is None  # the watcher sees v1 paths, not cgroup2 ids
        for ch in changes:
            self._learn(ch)
        # runc writes its state file after the container's cgroup exists: while
        # one may still claim a cgroup, re-checked every _RUNC_POLL s
        watch = WatchThread(watcher, self._learn, self._recheck_provisional, fast=_RUNC_POLL)
        with self._lock:
            self._watch = watch
        return True

    def _learn(self, ch: CgroupChange) -> None:
        """A cgroup appeared (or went): index it, classify it, start its lookup."""
        if ch.kind == "created":
            if self.cgroups is not None and not self._v1_watch:
                self.cgroups.add(ch.id, ch.path)
            c = self.resolve_path(ch.path)
            if ch.path in self._by_path and self.cgroups is not None and not self._v1_watch:
                with self._lock:
                    self._by_cgid[ch.id] = c
                    self._index_paths.add(ch.path)
                    self._unknown.pop(ch.id, None)
            with self._idle:
                self._idle.notify_all()
        elif ch.kind == "removed" and self.cgroups is not None and not self._v1_watch:
            # Keep _by_cgid: the ring may still hold its events. prune() forgets it.
            self.cgroups.discard(ch.path)

    def _reclassify(self, path: str, cgroup_id: int | None = None) -> Container | None:
        """Classify a provisional path again now; its container once final."""
        with self._lock:
            prov = self._provisional.get(path)
            if prov is not None:
                self._provisional[path] = (prov[0], 0.0)  # due now
        c = self.resolve_path(path)
        if path not in self._by_path:
            return None
        if cgroup_id is None and self.cgroups is not None and not self._v1_watch:
            cgroup_id = self.cgroups.id_of(path)
        if cgroup_id is not None:
            with self._lock:
                self._by_cgid[cgroup_id] = c
                self._index_paths.add(path)
        return c

    def _recheck_provisional(self) -> bool:
        """Classify again the unrecognised cgroups a runc container being created
        may still claim; True while some are left to wait for."""
        now = time.monotonic()
        with self._lock:
            young = [p for p, (first, _) in self._provisional.items() if now - first < _RUNC_WAIT]
        if not young:
            return False
        # before: a state file landing after this check is read by the next round
        creating = self.runtimes.runc_in_creation()
        # systemd-nspawn --keep-unit makes payload before it moves into supervisor
        creating = creating or any(p.endswith("/payload") for p in young)
        for path in young:
            self._reclassify(path)
        with self._idle:
            self._idle.notify_all()
        return creating and any(p in self._provisional for p in young)

    def pending(self, cgroup_id: int) -> bool:
        """Whether records of ``cgroup_id`` should wait for its container's metadata.

        True while the cgroup is a container's and its metadata lookup is queued
        or running; for a cgroup id the index does not hold yet (the watcher has
        not reported it; ``pending_grace`` seconds at most, and only while
        watching); and for an unrecognised cgroup made while a runc container
        is being created (its state file, written after the container's init
        runs, may claim it; 2 s at most). False once the container is named
        or its lookup found nothing, and for the host. Never blocks on a
        runtime; thread-safe. Cheap for ids seen before (a dict lookup); the
        first call for an id may classify its path. On v1-only hosts ids say nothing: always False.
        """
        c = self._by_cgid.get(cgroup_id)
        if c is not None:
            return self.lookups.in_flight(c)
        if self.cgroups is None:
            return False
        path = self.cgroups.peek(cgroup_id)
        now = time.monotonic()
        if path is None:
            if not self.watching:
                return False
            with self._lock:
                if len(self._unknown) >= _UNKNOWN_MAX:
                    self._unknown.clear()
                first = self._unknown.setdefault(cgroup_id, now)
            return now - first < self.pending_grace
        c = self.resolve_path(path)
        if path in self._by_path:
            with self._lock:
                self._by_cgid[cgroup_id] = c
                self._index_paths.add(path)
            return self.lookups.in_flight(c)
        prov = self._provisional.get(path)
        if prov is None or now - prov[0] >= _RUNC_WAIT or surely_host(path):
            return False
        creating = self.runtimes.runc_in_creation() or path.endswith("/payload")
        c = self._reclassify(path, cgroup_id)
        if c is not None:
            return self.lookups.in_flight(c)
        return creating

    def wait_for(self, cgroup_ids: Iterable[int], timeout: float) -> bool:
        """Block until no id in ``cgroup_ids`` is ``pending``, at most ``timeout``
        seconds; True if none is left pending."""
        ids = set(cgroup_ids)
        deadline = time.monotonic() + timeout
        while True:
            ids = {i for i in ids if self.pending(i)}
            if not ids:
                return True
            left = deadline - time.monotonic()
            if left <= 0:
                return False
            with self._idle:
                # woken by every lookup that ends and every cgroup learned; the
                # slice bounds the wait for grace periods that run out silently
                self._idle.wait(min(left, 0.02))
