"""From per-cgroup kernel counters to monotonic, bounded per-container series.

The BPF maps count per cgroup id. Prometheus wants one series per container
(and syscall), monotonic for as long as it exists, with a bounded number of
label values. ``SeriesState`` does the bookkeeping between the two; it knows
nothing of prometheus_client (``exporters.prometheus`` renders it).

Decisions:

- A container (an *owner*) may span several cgroups (children, nested
  containers); its value is the sum over them. Each cgroup contributes
  ``last - baseline``: what its map entries counted since it became the owner's.
- A cgroup that disappears is *retired*: its final contribution moves into the
  owner's ``retired`` counters (so the owner's sum never goes down), and its map
  entries are deleted from the kernel. The walk of the cgroup tree happens
  before the maps are read, so the values read are final.
- An owner left without cgroups keeps its series for ``grace`` seconds (so the
  last increase is scraped), then its series are removed. A container that comes
  back meanwhile (same runtime and id) continues from where it was.
- cgroup ids are inode numbers and can be reused. A known id that shows up at
  a different path, or again after it was seen gone, is a new cgroup: the old
  owner keeps what was counted up to the previous read (``last``), the new owner
  starts from there (``baseline = last``). Counts made between that read and the
  reuse go to the new owner; the kernel cannot say which task made them.
- Cardinality: at most ``max_containers`` owners get their own label values
  (the host always does); later ones are folded into ``container_id="other"``
  for their whole life (assignment is sticky, so "other" only grows). The
  syscall label is the syscall's name for at most ``max_syscalls`` syscalls,
  admitted by count when first seen and never evicted (optionally only names
  from an allow-list), else ``"other"``.
- A cgroup whose path cannot be learnt before it is gone (a container that
  lived less than a walk interval) is counted in ``"other"``.
- A cgroup whose container is not decided yet (a runc container whose state
  file is not written yet) is not exported until it is: its kernel counters
  keep counting meanwhile, so nothing is lost.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Protocol

import numpy as np

from ..collector.errnos import errno_name
from ..collector.events import HOST, Container
from ..probes.io_calls import byte_direction
from ..probes.metrics.layout import LAT_SLOTS
from ..probes.metrics.maps import MapReader, MapSnapshot, MapUsage
from ..probes.syscall_table import SyscallTable

log = logging.getLogger(__name__)

OTHER = "other"
HOST_KEY = ("host", "host")
OTHER_KEY = ("other", "other")

# columns of a syscall counter vector
COUNT, ERRORS, FILE_BYTES, NET_BYTES, LAT_SUM = range(5)
SLOTS = 5  # first latency slot column

PROC_FIELDS = ("execs", "forks", "exits")


def vector_width(latency: bool) -> int:
    return SLOTS + LAT_SLOTS if latency else LAT_SUM


class CgroupNames(Protocol):
    """What the series need to know about cgroup ids (``ResolverNames`` over
    ``collector.containers.ContainerResolver`` in production, dicts in tests)."""

    def walk(self) -> dict[int, str]:
        """Every cgroup now: id -> path (a full walk of the tree)."""
        ...

    def path_of(self, cgroup_id: int) -> str | None:
        """The path of one id (may rescan, rate-limited); None if unknown."""
        ...

    def container_of(self, path: str) -> Container | None:
        """The container of a cgroup path; None while undecided."""
        ...

    def settle(self, timeout: float) -> None:
        """Wait (bounded) for container metadata lookups in flight."""
        ...


class Counters:
    """Kernel counters of one cgroup or owner, at the kernel's granularity."""

    __slots__ = ("sys", "err", "proc")

    def __init__(self) -> None:
        self.sys: dict[int, np.ndarray] = {}  # nr -> vector (COUNT, ERRORS, ...)
        self.err: dict[tuple[int, int], int] = {}  # (nr, errno) -> count
        self.proc = np.zeros(len(PROC_FIELDS), dtype=np.uint64)

    def add(self, other: Counters) -> None:
        # vectors are never changed in place, so they can be shared; into an
        # empty one (an owner's first cgroup) the dicts are copied whole
        if not self.sys:
            self.sys = dict(other.sys)
        else:
            for nr, v in other.sys.items():
                cur = self.sys.get(nr)
                self.sys[nr] = v if cur is None else cur + v
        if not self.err:
            self.err = dict(other.err)
        else:
            for k, n in other.err.items():
                self.err[k] = self.err.get(k, 0) + n
        self.proc = self.proc + other.proc

    def minus(self, base: Counters) -> Counters:
        """self - base, never below zero (a kernel entry that restarted counts
        from zero contributes what it holds)."""
        if not base.sys and not base.err and not base.proc.any():
            return self
        out = Counters()
        for nr, v in self.sys.items():
            b = base.sys.get(nr)
            out.sys[nr] = v if b is None else np.where(v >= b, v - b, v)
        for k, n in self.err.items():
            m = base.err.get(k, 0)
            out.err[k] = n - m if n >= m else n
        out.proc = np.where(self.proc >= base.proc, self.proc - base.proc, self.proc)
        return out

    def total(self) -> int:
        return int(sum(int(v[COUNT]) for v in self.sys.values()))


def per_cgroup(snap: MapSnapshot) -> dict[int, Counters]:
    """Group a snapshot's rows by cgroup id."""
    out: dict[int, Counters] = {}
    rows = snap.syscalls
    if len(rows):
        cols = [rows[f].astype(np.uint64) for f in ("count", "errors", "file_bytes", "net_bytes")]
        if snap.latency:
            cols.append(rows["lat_sum_ns"].astype(np.uint64))
            mat = np.column_stack([*cols, rows["lat_slots"].astype(np.uint64)])
        else:
            mat = np.column_stack(cols)
        # one block per cgroup (a stable sort keeps each block's row order):
        # a dict per block instead of a lookup per row
        cgs = rows["cgroup_id"]
        order = np.argsort(cgs, kind="stable")
        cg_s = cgs[order]
        nr_s = rows["nr"][order].tolist()
        vecs = list(mat[order])
        bounds = np.flatnonzero(cg_s[1:] != cg_s[:-1]) + 1
        starts = [0, *bounds.tolist()]
        ends = [*starts[1:], len(vecs)]
        for cg, a, b in zip(cg_s[starts].tolist(), starts, ends, strict=True):
            c = out[cg] = Counters()
            c.sys = dict(zip(nr_s[a:b], vecs[a:b], strict=True))
    for cg, nr, en, n in zip(snap.errors["cgroup_id"].tolist(), snap.errors["nr"].tolist(),
                             snap.errors["errno"].tolist(), snap.errors["count"].tolist(),
                             strict=True):
        got = out.get(cg)
        if got is None:
            got = out[cg] = Counters()
        got.err[(nr, en)] = n
    for row in snap.procs.tolist():
        cg = row[0]
        got = out.get(cg)
        if got is None:
            got = out[cg] = Counters()
        got.proc = np.array(row[1:], dtype=np.uint64)
    return out


@dataclass
class CgroupState:
    """A cgroup id the series account for."""

    cgroup_id: int
    path: str | None  # None: never learnt (gone before a walk saw it)
    owner: tuple[str, str]
    baseline: Counters = field(default_factory=Counters)
    last: Counters = field(default_factory=Counters)

    def contribution(self) -> Counters:
        return self.last.minus(self.baseline)


@dataclass
class Owner:
    """A container, the host, or "other": one set of label values."""

    key: tuple[str, str]  # (runtime, id)
    container: Container | None  # None for "other"
    own: bool  # its own label values, or folded into "other"
    retired: Counters = field(default_factory=Counters)
    cgroups: set[int] = field(default_factory=set)
    empty_since: float | None = None  # monotonic s when its last cgroup went


@dataclass
class Options:
    """Bounds and timing of the series (see the module docstring)."""

    max_containers: int = 100  # own label values besides host and other
    max_syscalls: int = 100  # syscall names besides "other"
    syscall_allow: frozenset[str] | None = None  # only these names may be admitted
    # latency histograms per syscall class always; per syscall only for these
    # names (None: for every syscall label, as before the classes)
    latency_syscalls: frozenset[str] | None = frozenset()
    # container labels the series carry (a subset of prometheus.CONTAINER_LABELS,
    # like Tetragon's --metrics-label-filter); containers that agree on all of
    # them share series, summed
    labels: tuple[str, ...] | None = None
    grace: float = 60.0  # seconds a gone container's series stay
    walk_interval: float = 5.0  # seconds between full walks of the cgroup tree
    settle_timeout: float = 1.0  # seconds to wait for a new container's name


class SeriesState:
    """Bookkeeping between the kernel's per-cgroup counters and the series.

    ``update()`` reads the maps (through ``reader``) and applies one step of the
    rules above; the exporter calls it at every scrape and on a timer. The
    accessors (``groups()``, ``syscall_label()``...) describe the state after the
    last update. Not thread-safe: the caller holds a lock.
    """

    def __init__(self, reader: MapReader, names: CgroupNames, table: SyscallTable,
                 options: Options | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.reader = reader
        self.names = names
        self.table = table
        self.options = options or Options()
        self.clock = clock
        self.latency = reader.latency
        self.width = vector_width(self.latency)
        self._cg: dict[int, CgroupState] = {}
        self._owners: dict[tuple[str, str], Owner] = {
            HOST_KEY: Owner(HOST_KEY, HOST, own=True),
            OTHER_KEY: Owner(OTHER_KEY, None, own=True),
        }
        self._unknown: dict[int, float] = {}  # cgroup id -> when first seen without a path
        self._pending_base: dict[int, Counters] = {}  # reused ids whose new owner is undecided
        self._paths: dict[int, str] = {}  # the last walk
        self._walked_at: float | None = None
        self._admitted: dict[int, str] = {}  # syscall nr -> label value
        self.snapshot: MapSnapshot | None = None
        self.forgotten_cgroups = 0  # cgroups whose kernel entries were deleted
        self.reused_cgroups = 0  # cgroup ids seen reused by a new cgroup

    # -- one step ------------------------------------------------------------------
    def update(self) -> None:
        now = self.clock()
        walked = self._walked_at is None or now - self._walked_at >= self.options.walk_interval
        if walked:
            walk_started = now
            self._paths = self.names.walk()
            self._walked_at = walk_started
        snap = self.reader.read()  # after the walk: a gone cgroup's values are final
        self.snapshot = snap
        current = per_cgroup(snap)
        new_owners: dict[tuple[str, str], int] = {}  # key -> activity, for admission
        gone: list[int] = []
        adopted: set[int] = set()

        for cgid in set(current) | set(self._cg):
            st = self._cg.get(cgid)
            vals = current.get(cgid)
            path = self._paths.get(cgid)
            if st is None:
                if vals is None:
                    continue
                st = self._adopt(cgid, vals, path, walked, now, new_owners)
                if st is None:
                    continue  # undecided: try again next time
                if st.path is not None:
                    adopted.add(cgid)  # its path may be newer than the walk
            else:
                if walked and path is not None and st.path is not None and path != st.path:
                    st = self._reused(st, path, now, new_owners)
                    if st is None:
                        continue
                if vals is not None:
                    st.last = vals
            if walked and cgid not in self._paths and cgid not in adopted:
                gone.append(cgid)
        for cgid in gone:
            self._retire(cgid, now)
        self._expire_owners(now)  # first: an expired container frees its slot
        if new_owners:
            self._admit_containers(new_owners)
        self._admit_syscalls(current)

    def _adopt(self, cgid: int, vals: Counters, path: str | None, walked: bool, now: float,
               new_owners: dict[tuple[str, str], int]) -> CgroupState | None:
        """A cgroup id seen for the first time; None while it cannot be placed."""
        if path is None:
            path = self.names.path_of(cgid)
        if path is None:
            first = self._unknown.setdefault(cgid, now)
            # a walk that began after it was first seen did not find it: it is gone
            if not (walked and self._walked_at is not None and self._walked_at > first
                    and cgid not in self._paths):
                return None
            self._unknown.pop(cgid, None)
            st = CgroupState(cgid, None, OTHER_KEY, last=vals)
            self._owners[OTHER_KEY].cgroups.add(cgid)
            self._cg[cgid] = st
            return st
        self._unknown.pop(cgid, None)
        owner = self._owner_for(path, vals, new_owners)
        if owner is None:
            return None
        base = self._pending_base.pop(cgid, None) or Counters()
        st = CgroupState(cgid, path, owner.key, baseline=base, last=vals)
        owner.cgroups.add(cgid)
        self._cg[cgid] = st
        return st

    def _owner_for(self, path: str, vals: Counters,
                   new_owners: dict[tuple[str, str], int]) -> Owner | None:
        c = self.names.container_of(path)
        if c is None:
            return None
        key = HOST_KEY if c.is_host else (c.runtime, c.id)
        owner = self._owners.get(key)
        if owner is None:
            owner = self._owners[key] = Owner(key, c, own=False)
            new_owners[key] = 0
        if key in new_owners:
            new_owners[key] += vals.total()
        owner.empty_since = None
        return owner

    def _reused(self, st: CgroupState, path: str, now: float,
                new_owners: dict[tuple[str, str], int]) -> CgroupState | None:
        """cgroup id ``st.cgroup_id`` now names another cgroup (at ``path``)."""
        self.reused_cgroups += 1
        log.debug("cgroup id %d reused: %s -> %s", st.cgroup_id, st.path, path)
        boundary = st.last
        self._detach(st, now)
        owner = self._owner_for(path, boundary, new_owners)
        if owner is None:  # undecided: adopted later, from this boundary on
            self._pending_base[st.cgroup_id] = boundary
            return None
        new = CgroupState(st.cgroup_id, path, owner.key, baseline=boundary, last=boundary)
        owner.cgroups.add(st.cgroup_id)
        self._cg[st.cgroup_id] = new
        return new

    def _detach(self, st: CgroupState, now: float) -> None:
        """Move a cgroup's contribution into its owner's retired counters."""
        owner = self._owners[st.owner]
        owner.retired.add(st.contribution())
        owner.cgroups.discard(st.cgroup_id)
        del self._cg[st.cgroup_id]
        if not owner.cgroups and owner.key not in (HOST_KEY, OTHER_KEY):
            owner.empty_since = now  # its series go after the grace period

    def _retire(self, cgid: int, now: float) -> None:
        st = self._cg.get(cgid)
        if st is None:
            return
        self._detach(st, now)
        try:
            self.reader.forget([cgid])
            self.forgotten_cgroups += 1
        except OSError as e:  # the entries stay; they are re-read and retired again later
            log.warning("cannot delete the map entries of cgroup %d: %s", cgid, e)

    def _expire_owners(self, now: float) -> None:
        other = self._owners[OTHER_KEY]
        for key, owner in list(self._owners.items()):
            if owner.empty_since is None or owner.cgroups:
                continue
            if now - owner.empty_since < self.options.grace:
                continue
            if not owner.own:
                other.retired.add(owner.retired)  # "other" never goes down
            del self._owners[key]

    def _admit_containers(self, new_owners: dict[tuple[str, str], int]) -> None:
        own = sum(1 for o in self._owners.values()
                  if o.own and o.key not in (HOST_KEY, OTHER_KEY))
        for key in sorted(new_owners, key=lambda k: (-new_owners[k], k)):
            owner = self._owners.get(key)
            if owner is None:
                continue
            if key == HOST_KEY:
                owner.own = True
            elif own < self.options.max_containers:
                owner.own = True
                own += 1
        self.names.settle(self.options.settle_timeout)

    def _admit_syscalls(self, current: dict[int, Counters]) -> None:
        opts = self.options
        if len(self._admitted) >= opts.max_syscalls:
            return
        totals: dict[int, int] = {}
        for c in current.values():
            for nr, v in c.sys.items():
                if nr not in self._admitted:
                    totals[nr] = totals.get(nr, 0) + int(v[COUNT])
        for nr in sorted(totals, key=lambda n: (-totals[n], n)):
            if len(self._admitted) >= opts.max_syscalls:
                break
            name = self.table.name(nr)
            if opts.syscall_allow is not None and name not in opts.syscall_allow:
                continue
            self._admitted[nr] = name

    # -- reading the state -----------------------------------------------------------
    def syscall_label(self, nr: int) -> str:
        return self._admitted.get(nr, OTHER)

    def groups(self) -> list[tuple[Owner, Counters]]:
        """(owner, its counters) for every owner with its own label values, and
        "other" with everything folded into it."""
        other_acc = Counters()
        out: list[tuple[Owner, Counters]] = []
        for owner in self._owners.values():
            acc = Counters()
            acc.add(owner.retired)
            for cgid in owner.cgroups:
                acc.add(self._cg[cgid].contribution())
            if owner.key == OTHER_KEY or not owner.own:
                other_acc.add(acc)
            else:
                out.append((owner, acc))
        other = self._owners[OTHER_KEY]
        if other_acc.sys or other_acc.err or other_acc.proc.any() or other.cgroups \
                or self.folded_containers:
            out.append((other, other_acc))  # only once something was folded into it
        return out

    def live_containers(self) -> list[Owner]:
        """Owners with their own series whose cgroups exist now (resource metrics)."""
        return [o for o in self._owners.values()
                if o.own and o.cgroups and o.key not in (HOST_KEY, OTHER_KEY)]

    @property
    def folded_containers(self) -> int:
        return sum(1 for o in self._owners.values() if not o.own)

    def map_usage(self) -> list[MapUsage]:
        return self.snapshot.maps if self.snapshot else []


def bytes_by_direction(acc: Counters, table: SyscallTable) -> dict[tuple[str, str], int]:
    """{("file"|"network", "read"|"write"): bytes} of one owner."""
    out = {("file", "read"): 0, ("file", "write"): 0,
           ("network", "read"): 0, ("network", "write"): 0}
    for nr, v in acc.sys.items():
        d = byte_direction(table.name(nr))
        if d is None:
            continue
        out[("file", d)] += int(v[FILE_BYTES])
        out[("network", d)] += int(v[NET_BYTES])
    return out


def by_syscall_label(acc: Counters, label: Callable[[int], str]) -> dict[str, np.ndarray]:
    out: dict[str, np.ndarray] = {}
    for nr, v in acc.sys.items():
        k = label(nr)
        cur = out.get(k)
        out[k] = v.copy() if cur is None else cur + v
    return out


def errors_by_label(acc: Counters, label: Callable[[int], str]) -> dict[tuple[str, str], int]:
    out: dict[tuple[str, str], int] = {}
    for (nr, en), n in acc.err.items():
        k = (label(nr), errno_name(en))
        out[k] = out.get(k, 0) + n
    return out
