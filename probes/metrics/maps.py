"""The snapshot the exporter reads (``MapSnapshot``) and where it comes from.

The exporter sees the kernel only through ``MapReader`` (``read()`` a
``MapSnapshot``, ``forget()`` cgroups): ``MetricsMaps`` implements it over the
loaded probe's map fds, and unit tests implement it over synthetic contents.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .layout import (
    LAT_SLOTS,
    LATENT,
    LATSTAT,
    MKEY,
    MSTAT_NAMES,
    PROCSTAT,
    SYSSTAT,
    SYSSTAT_FIELDS,
)
from .slots import SlotCounts


@dataclass(frozen=True, slots=True)
class MapUsage:
    name: str
    entries: int
    capacity: int


def syscall_rows_dtype(latency: bool) -> np.dtype:
    """One row per (cgroup, syscall): the key, struct cdig_sysstat and, with
    latency, struct cdig_latstat (zero where the latency map has no entry)."""
    fields: list[tuple[Any, ...]] = [("cgroup_id", "<u8"), ("nr", "<u4"), *SYSSTAT.descr]
    if latency:
        fields += [("lat_sum_ns", "<u8"), ("lat_slots", "<u8", (LAT_SLOTS,))]
    return np.dtype(fields)


ERROR_ROWS = np.dtype([("cgroup_id", "<u8"), ("nr", "<u4"), ("errno", "<u4"), ("count", "<u8")])
PROC_ROWS = np.dtype([("cgroup_id", "<u8"), *PROCSTAT.descr])


@dataclass
class MapSnapshot:
    """The metrics maps at one instant, summed over CPUs. Produced by a
    ``MapReader``; consumed by ``exporters.prometheus``."""

    latency: bool
    syscalls: np.ndarray  # syscall_rows_dtype(latency)
    errors: np.ndarray  # ERROR_ROWS
    procs: np.ndarray  # PROC_ROWS
    drops: dict[str, int] = field(default_factory=dict)  # MSTAT_NAMES -> count
    maps: list[MapUsage] = field(default_factory=list)

    @classmethod
    def build(
        cls,
        syscalls: Mapping[tuple[int, int], Mapping[str, object]] | None = None,
        errors: Mapping[tuple[int, int, int], int] | None = None,
        procs: Mapping[int, Sequence[int]] | None = None,
        latency: bool = False,
        drops: Mapping[str, int] | None = None,
        maps: Sequence[MapUsage] = (),
    ) -> MapSnapshot:
        """A snapshot from plain dicts (tests, benchmarks)::

            MapSnapshot.build({(cgid, nr): {"count": 3, "lat_slots": {9: 3}}},
                              errors={(cgid, nr, 2): 1}, procs={cgid: (execs, forks, exits)})
        """
        syscalls = syscalls or {}
        rows = np.zeros(len(syscalls), dtype=syscall_rows_dtype(latency))
        for i, ((cg, nr), vals) in enumerate(syscalls.items()):
            rows[i]["cgroup_id"], rows[i]["nr"] = cg, nr
            for k, v in vals.items():
                if k == "lat_slots":
                    slots = np.zeros(LAT_SLOTS, dtype=np.uint64)
                    for s, n in dict(v).items():  # type: ignore[call-overload]
                        slots[s] = n
                    rows[i]["lat_slots"] = slots
                else:
                    rows[i][k] = v
        errors = errors or {}
        err = np.zeros(len(errors), dtype=ERROR_ROWS)
        for i, ((cg, nr, en), n) in enumerate(errors.items()):
            err[i] = (cg, nr, en, n)
        procs = procs or {}
        pr = np.zeros(len(procs), dtype=PROC_ROWS)
        for i, (cg, counts) in enumerate(procs.items()):
            pr[i] = (cg, *counts)
        return cls(latency, rows, err, pr, dict(drops or {}), list(maps))


def _union(k: np.ndarray, v: np.ndarray, other: np.ndarray, latency: bool
           ) -> tuple[np.ndarray, np.ndarray]:
    """One row per key of the ``syscalls`` hash (keys ``k``, values ``v``) or of
    ``other`` (MKEY keys of another map), the hash's fields filled in; and the
    sorted keys (as 16-byte blobs) to place the other map's values with."""
    keys = np.unique(np.concatenate([k.view("V16"), other.view("V16")]))
    rows = np.zeros(len(keys), dtype=syscall_rows_dtype(latency))
    both = keys.view(MKEY)
    rows["cgroup_id"], rows["nr"] = both["cgroup_id"], both["nr"]
    if len(k):
        at = np.searchsorted(keys, k.view("V16"))
        for name in SYSSTAT_FIELDS:
            rows[name][at] = v[name]
    return rows, keys


class MapReader(Protocol):
    """The exporter's view of the kernel side."""

    latency: bool

    def read(self) -> MapSnapshot:
        """Every map's contents now."""
        ...

    def forget(self, cgroup_ids: Collection[int]) -> None:
        """Delete the entries of these cgroups (gone for good)."""
        ...


class MetricsMaps:
    """``MapReader`` over the loaded probe's maps (by fd; see ``bpf_syscall``)."""

    # the histogram cache's maps (latency mode; None: none)
    latcache: Any = None
    deadcg: Any = None
    deadgen: Any = None

    def __init__(self, fds: Mapping[str, int], latency: bool,
                 slot_nrs: int | None = None) -> None:
        from ..bpf_syscall import BpfMap  # unit tests of the layout need no bpf(2)

        self.latency = latency
        # without latency, calls are counted in a cgroup's row of an array (slots.py)
        self.slots = SlotCounts(fds, slot_nrs) if slot_nrs and "slotrows" in fds else None
        self.syscalls = BpfMap(fds["syscalls"], MKEY, SYSSTAT)
        self.lat = BpfMap(fds["latency"], MKEY, LATSTAT) if latency else None
        # with latency, the histograms' per-CPU cache (record.h: cdig_latent)
        self.latcache = BpfMap(fds["latcache"], np.dtype("<u4"), LATENT) if (
            latency and "latcache" in fds) else None
        self.deadcg = BpfMap(fds["deadcg"], np.dtype("<u8"), np.dtype("<u1")) if (
            self.latcache is not None) else None
        self.deadgen = BpfMap(fds["deadgen"], np.dtype("<u4"), np.dtype("<u4")) if (
            self.latcache is not None) else None
        self._dead: set[int] = set()  # forgotten cgroups that may still hold cache entries
        self._cache_held = 0
        self.errors = BpfMap(fds["errors"], MKEY, np.dtype("<u8"))
        self.procs = BpfMap(fds["procs"], np.dtype("<u8"), PROCSTAT)
        self.mstats = BpfMap(fds["mstats"], np.dtype("<u4"), np.dtype("<u8"))
        self._sockio_fd = fds.get("sockio")

    def read(self) -> MapSnapshot:
        k, v = self.syscalls.read()
        sys_n = len(k)
        lat_n = 0
        slot_usage: list[MapUsage] = []
        if self.lat is None and self.slots is not None:
            # counts in the cgroups' array rows; `syscalls` holds errors, bytes, and
            # the calls of cgroups without a slot. One row per key of either.
            sc, held, refused = self.slots.read()
            slot_usage = [MapUsage("slots", held, self.slots.capacity),
                          MapUsage("slotless_cgroups", refused, self.slots.cgslot.capacity)]
            sk = np.zeros(len(sc), dtype=MKEY)
            sk["cgroup_id"], sk["nr"] = sc["cgroup_id"], sc["nr"]
            rows, keys = _union(k, v, sk, latency=False)
            if len(sc):
                rows["count"][np.searchsorted(keys, sk.view("V16"))] += sc["count"]
        elif self.lat is None:
            rows = np.zeros(sys_n, dtype=syscall_rows_dtype(False))
            rows["cgroup_id"], rows["nr"] = k["cgroup_id"], k["nr"]
            for name in SYSSTAT_FIELDS:
                rows[name] = v[name]
        else:
            # With latency, a timed call is counted by its histogram slot only
            # (program.bpf.c: one map update per syscall); `syscalls` holds
            # errors, bytes and untimed calls. One row per key of either map.
            lk, lv = self.lat.read()
            lat_n = len(lk)
            if self.latcache is not None:  # and the histograms cached per CPU
                ck, cv = self._cached()
                lk, lv = np.concatenate([lk, ck]), np.concatenate([lv, cv])
            rows, keys = _union(k, v, lk, latency=True)
            if len(lk):
                at = np.searchsorted(keys, lk.view("V16"))
                # a pair may be in both (the hash on one CPU, the cache on another)
                np.add.at(rows["lat_sum_ns"], at, lv["sum_ns"])
                np.add.at(rows["lat_slots"], at, lv["slots"])
                np.add.at(rows["count"], at, lv["slots"].sum(axis=1, dtype=np.uint64))
        ek, ev = self.errors.read()
        err = np.zeros(len(ek), dtype=ERROR_ROWS)
        err["cgroup_id"], err["nr"], err["errno"], err["count"] = (
            ek["cgroup_id"], ek["nr"], ek["errno"], ev)
        pk, pv = self.procs.read()
        pr = np.zeros(len(pk), dtype=PROC_ROWS)
        pr["cgroup_id"] = pk
        for name in PROCSTAT.names or ():
            pr[name] = pv[name]
        sk, sv = self.mstats.read()
        drops = {MSTAT_NAMES[int(i)]: int(n) for i, n in zip(sk, sv, strict=True)
                 if int(i) < len(MSTAT_NAMES)}
        maps = [
            MapUsage("syscalls", sys_n, self.syscalls.capacity),
            *([MapUsage("latency", lat_n, self.lat.capacity)] if self.lat is not None else []),
            *([MapUsage("latency_cache", self._cache_held,
                        self.latcache.capacity * self.latcache.ncpus)]
              if self.latcache is not None else []),
            MapUsage("errors", len(err), self.errors.capacity),
            MapUsage("procs", len(pr), self.procs.capacity),
            *slot_usage,
        ]
        return MapSnapshot(self.latency, rows, err, pr, drops, maps)

    def _cached(self) -> tuple[np.ndarray, np.ndarray]:
        """(MKEY keys, LATSTAT values) of the histogram cache's held entries, every
        CPU's copy of an entry under its own key, summed by key; the entries of
        forgotten cgroups left out (their series are gone)."""
        assert self.latcache is not None
        _, per = self.latcache.read_cpus()
        flat = per.reshape(-1)
        held = flat[flat["cgroup_id"] != 0]
        if self._dead:
            dead = np.isin(held["cgroup_id"], np.fromiter(self._dead, dtype=np.uint64))
            # a forgotten cgroup no entry holds any more needs no filter
            self._dead &= set(held["cgroup_id"][dead].tolist())
            held = held[~dead]
        self._cache_held = len(held)
        keys = np.zeros(len(held), dtype=MKEY)
        keys["cgroup_id"], keys["nr"] = held["cgroup_id"], held["nr"]
        uniq, inv = np.unique(keys.view("V16"), return_inverse=True)
        sums = np.zeros(len(uniq), dtype=LATSTAT)
        np.add.at(sums["sum_ns"], inv, held["sum_ns"])
        np.add.at(sums["slots"], inv, held["slots"])
        return uniq.view(MKEY).reshape(len(uniq)), sums

    def forget(self, cgroup_ids: Collection[int]) -> None:
        ids = np.fromiter(cgroup_ids, dtype=np.uint64)
        if not len(ids):
            return
        if self.latcache is not None and self.deadcg is not None and self.deadgen is not None:
            # their cache entries are left out of reads from now on, and may be
            # taken over: listed in `deadcg`, then a new generation so that the
            # program looks its entries' holders up again
            self._dead.update(ids.tolist())
            self.deadcg.update(ids, np.ones(len(ids), dtype=np.uint8))
            _, gen = self.deadgen.read()
            nxt = (int(gen[0]) + 1 if len(gen) else 1) & 0xFFFFFFFF
            self.deadgen.update(np.zeros(1, dtype=np.uint32), np.array([nxt], dtype=np.uint32))
        for m in (self.syscalls, self.errors, self.lat):
            if m is None:
                continue
            keys, _ = m.read()
            m.delete(keys[np.isin(keys["cgroup_id"], ids)])
        pk, _ = self.procs.read()
        self.procs.delete(pk[np.isin(pk, ids)])
        if self.slots is not None:
            self.slots.free(ids.tolist())

    def inject(self, snapshot: MapSnapshot) -> None:
        """Write synthetic entries into the real maps (benchmarks, tests)."""
        s = snapshot.syscalls
        keys = np.zeros(len(s), dtype=MKEY)
        keys["cgroup_id"], keys["nr"] = s["cgroup_id"], s["nr"]
        vals = np.zeros(len(s), dtype=SYSSTAT)
        for name in SYSSTAT_FIELDS:
            vals[name] = s[name]
        if self.lat is not None and snapshot.latency:  # read() adds the slots back
            timed = s["lat_slots"].sum(axis=1, dtype=np.uint64)
            vals["count"] = np.where(vals["count"] >= timed, vals["count"] - timed, 0)
        self.syscalls.update(keys, vals)
        if self.lat is not None and snapshot.latency:
            lv = np.zeros(len(s), dtype=LATSTAT)
            lv["sum_ns"], lv["slots"] = s["lat_sum_ns"], s["lat_slots"]
            # allocated on demand: the kernel's per-CPU element caches refill
            # asynchronously, so a burst of updates from userspace can see
            # ENOMEM for a moment; an update is idempotent, so retry it
            import errno
            import time

            from ..bpf_syscall import BpfMapError

            for i in range(0, len(keys), 256):
                for attempt in range(100):
                    try:
                        self.lat.update(keys[i:i + 256], lv[i:i + 256])
                        break
                    except BpfMapError as e:
                        if e.errno != errno.ENOMEM or attempt == 99:
                            raise
                        time.sleep(0.01)
