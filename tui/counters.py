"""Exact counters for ``cdig top``, from the kernel.

``probes/metrics/program.bpf.c`` built with ``-DTOP_COUNTERS`` counts every completed syscall
in per-CPU maps keyed by (cgroup, process, syscall) — count, errors, file and
network bytes, time — and failures by (cgroup, process, syscall, errno), next
to the exporter's own (cgroup, syscall) maps with their latency histograms.
Nothing per event reaches userspace: at each refresh ``KernelCounters.sample``
reads the maps (one batch lookup each, ``probes.bpf_syscall``) and turns them into
the tables the views read. So the Containers, Processes, Syscalls and Errors
views are exact whatever the event stream drops; the stream still feeds what
needs events (files, connections, execs, dig, echo).

A process that is gone (no /proc entry) is listed once more, marked exited,
then its rows are deleted from the kernel maps: the per-container and
per-syscall totals come from the (cgroup, syscall) maps, which keep counting,
so nothing is lost when a process's rows go.

The kernel is reached only through a ``CounterReader`` (``read()``,
``forget()``): ``TopCounterMaps`` over the loaded probe, or a synthetic one in
unit tests.
"""

from __future__ import annotations

import os
from collections.abc import Callable, Collection, Mapping
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from ..collector.aggregate import ProcStats
from ..collector.events import HOST, Container
from ..collector.fields import errno_name
from ..probes.io_calls import byte_direction
from ..probes.metrics.layout import LAT_SLOTS, SYSSTAT_FIELDS
from ..probes.metrics.maps import MapSnapshot

# struct cdig_tkey / cdig_tstat / cdig_tekey of probes/metrics/program.bpf.c (TOP_COUNTERS)
TKEY = np.dtype([("cgroup_id", "<u8"), ("tgid", "<u4"), ("nr", "<u4")])
TSTAT_FIELDS = ("count", "errors", "file_bytes", "net_bytes", "time_ns")
TSTAT = np.dtype([(f, "<u8") for f in TSTAT_FIELDS])
TEKEY = np.dtype([("cgroup_id", "<u8"), ("tgid", "<u4"), ("nr", "<u2"), ("errno", "<u2")])
PROC_ROWS = np.dtype([*TKEY.descr, *TSTAT.descr])
PROC_ERROR_ROWS = np.dtype([*TEKEY.descr, ("count", "<u8")])
LOST_NAMES = ("process_map_full", "process_errors_map_full")  # top_lost indices


@dataclass
class CounterReading:
    """The maps at one instant, summed over CPUs."""

    procs: np.ndarray  # PROC_ROWS: (cgroup, tgid, syscall) rows
    proc_errors: np.ndarray  # PROC_ERROR_ROWS
    totals: MapSnapshot  # the exporter's (cgroup, syscall) maps
    lost: dict[str, int] = field(default_factory=dict)  # LOST_NAMES + metrics' drops
    comms: dict[int, str] = field(default_factory=dict)  # tgid -> comm at fork/exec

    @classmethod
    def build(cls, procs: Mapping[tuple[int, int, int], Mapping[str, int]] | None = None,
              proc_errors: Mapping[tuple[int, int, int, int], int] | None = None,
              totals: MapSnapshot | None = None,
              lost: Mapping[str, int] | None = None) -> CounterReading:
        """A reading from plain dicts (unit tests)::

            CounterReading.build({(cgid, tgid, nr): {"count": 3}}, {(cgid, tgid, nr, 2): 1})

        Without ``totals``, the (cgroup, syscall) totals are the sums of ``procs``."""
        procs = procs or {}
        rows = np.zeros(len(procs), dtype=PROC_ROWS)
        for i, ((cg, tgid, nr), vals) in enumerate(procs.items()):
            rows[i]["cgroup_id"], rows[i]["tgid"], rows[i]["nr"] = cg, tgid, nr
            for col, v in vals.items():
                rows[i][col] = v
        proc_errors = proc_errors or {}
        err = np.zeros(len(proc_errors), dtype=PROC_ERROR_ROWS)
        for i, (k, n) in enumerate(proc_errors.items()):
            err[i] = (*k, n)
        if totals is None:
            sums: dict[tuple[int, int], dict[str, Any]] = {}
            for r in rows:
                d = sums.setdefault((int(r["cgroup_id"]), int(r["nr"])),
                                    {f: 0 for f in SYSSTAT_FIELDS} | {"lat_sum_ns": 0})
                for f in SYSSTAT_FIELDS:
                    d[f] += int(r[f])
                d["lat_sum_ns"] += int(r["time_ns"])
            errs: dict[tuple[int, int, int], int] = {}
            for e in err:
                k3 = (int(e["cgroup_id"]), int(e["nr"]), int(e["errno"]))
                errs[k3] = errs.get(k3, 0) + int(e["count"])
            totals = MapSnapshot.build(sums, errs, latency=True)
        return cls(rows, err, totals, dict(lost or {}))


class CounterReader(Protocol):
    def read(self) -> CounterReading: ...

    def forget(self, tgids: Collection[int], reading: CounterReading | None = None) -> None:
        """Delete the (cgroup, process, syscall) rows of these processes (those of
        ``reading``, read just now, when given: no second read of the maps)."""
        ...


@dataclass
class CounterTables:
    """What the views read, from one reading (see ``model.Snapshot``)."""

    clock_ns: int
    events: int  # syscalls completed, all containers
    failed: int
    pids: dict[int, ProcStats]
    containers: dict[str, tuple[Container, dict[str, int]]]
    syscalls: dict[str, tuple[int, int, int]]  # type -> calls, errors, time
    lat_slots: dict[str, list[int]]  # type -> base-4 slots (LAT_SLOTS)
    err_totals: dict[tuple[str, str, str], int]  # (type, errno, container id) -> count
    err_detail: dict[tuple[str, str, int], int]  # (type, errno, pid) -> count
    rows: np.ndarray  # PROC_ROWS, for the scoped detail
    cid_of_cgroup: dict[int, str]
    lost: dict[str, int]
    lat_by_cid: dict[str, list[int]] = field(default_factory=dict)  # container -> slots


class KernelCounters:
    """Turns readings into ``CounterTables`` and retires processes that are gone.

    ``name_of(tgid)`` → (name, uid) or None; ``alive(tgid)``; ``container_of(cgroup
    id)`` → Container; ``syscall_name(nr)``."""

    def __init__(self, reader: CounterReader, container_of: Callable[[int], Container],
                 syscall_name: Callable[[int], str],
                 name_of: Callable[[int], tuple[str, int] | None] | None = None,
                 alive: Callable[[int], bool] | None = None,
                 proc_root: str = "/proc") -> None:
        self.reader = reader
        self.container_of = container_of
        self.syscall_name = syscall_name
        self.proc_root = proc_root
        self.name_of = name_of
        self.alive = alive or (lambda tgid: os.path.exists(f"{self.proc_root}/{tgid}"))
        self._names: dict[int, tuple[str, int, int]] = {}  # tgid -> name, uid, sample no
        self._samples = 0
        self._dying: set[int] = set()  # gone at the last sample: listed once, exited
        self._cg: dict[int, Container] = {}
        self._sc: dict[int, str] = {}
        self.closed = False

    def _proc_name(self, tgid: int) -> tuple[str, int] | None:
        try:
            with open(f"{self.proc_root}/{tgid}/comm", encoding="utf-8", errors="replace") as f:
                name = f.read().rstrip("\n")
            uid = os.stat(f"{self.proc_root}/{tgid}").st_uid
        except OSError:
            return None
        return name, uid

    def _container(self, cg: int) -> Container:
        c = self._cg.get(cg)
        if c is None or not c.name:  # metadata may arrive later: ask again until named
            try:
                c = self.container_of(cg)
            except Exception:  # a vanished cgroup: attribute to the host
                c = HOST
            self._cg[cg] = c
        return c

    def _sysname(self, nr: int) -> str:
        n = self._sc.get(nr)
        if n is None:
            n = self._sc[nr] = self.syscall_name(nr)
        return n

    def sample(self, clock_ns: int) -> CounterTables:
        r = self.reader.read()
        # processes gone at the last sample were listed once as exited: forget them now
        if self._dying:
            self.reader.forget(self._dying, r)
            gone = np.isin(r.procs["tgid"], np.fromiter(self._dying, np.uint32))
            r.procs = r.procs[~gone]
            egone = np.isin(r.proc_errors["tgid"], np.fromiter(self._dying, np.uint32))
            r.proc_errors = r.proc_errors[~egone]
            for t in self._dying:
                self._names.pop(t, None)
        rows = r.procs
        tgids = np.unique(rows["tgid"]) if len(rows) else np.zeros(0, np.uint32)
        dying = set()
        pids: dict[int, ProcStats] = {}
        if len(rows):
            # per process: sums of every column, with the bytes split by direction
            inv = np.searchsorted(tgids, rows["tgid"])
            n = len(tgids)
            sums = {f: np.bincount(inv, weights=rows[f].astype(np.float64), minlength=n)
                    for f in ("count", "errors", "time_ns")}
            # which rows read: decided once per syscall number, not per row
            nrs, nr_at = np.unique(rows["nr"], return_inverse=True)
            dirs = np.array([byte_direction(self._sysname(x)) == "read"
                             for x in nrs.tolist()], dtype=bool)[nr_at]
            fb, nb = rows["file_bytes"].astype(np.float64), rows["net_bytes"].astype(np.float64)
            f_in = np.bincount(inv, weights=np.where(dirs, fb, 0), minlength=n)
            f_out = np.bincount(inv, weights=np.where(dirs, 0, fb), minlength=n)
            n_in = np.bincount(inv, weights=np.where(dirs, nb, 0), minlength=n)
            n_out = np.bincount(inv, weights=np.where(dirs, 0, nb), minlength=n)
            # a process's cgroup: the one of its last row (a move is rare)
            last_cg = np.zeros(n, np.uint64)
            last_cg[inv] = rows["cgroup_id"]
            self._samples += 1
            for i, t in enumerate(tgids.tolist()):
                info = self.name_of(t) if self.name_of is not None else None
                if info is None and t in r.comms and not self.alive(t):
                    info = (r.comms[t], -1)  # too short-lived for /proc
                if info is None:  # not in the process table: /proc, re-read now and then
                    got = self._names.get(t)
                    if got is None or self._samples - got[2] > 5:
                        info = self._proc_name(t)
                        if info is not None:
                            self._names[t] = (*info, self._samples)
                        elif got is not None:
                            info = got[:2]
                    else:
                        info = got[:2]
                if info is None and t in r.comms:  # gone while /proc was read
                    info = (r.comms[t], -1)
                exited = not self.alive(t)
                if exited:
                    dying.add(t)
                name, uid = info if info is not None else ("?", -1)
                pids[t] = ProcStats(name, self._container(int(last_cg[i])), uid,
                                    int(sums["count"][i]), int(sums["errors"][i]),
                                    int(sums["time_ns"][i]), int(f_in[i]), int(f_out[i]),
                                    int(n_in[i]), int(n_out[i]), exited)
        self._dying = dying
        tot = r.totals.syscalls
        containers: dict[str, tuple[Container, dict[str, int]]] = {}
        cid_of: dict[int, str] = {}
        syscalls: dict[str, list[int]] = {}
        lat: dict[str, list[int]] = {}
        lat_cid: dict[str, list[int]] = {}
        events = failed = 0
        has_lat = "lat_slots" in (tot.dtype.names or ())
        for row in tot:
            cg, nr = int(row["cgroup_id"]), int(row["nr"])
            c = self._container(cg)
            cid_of[cg] = c.id
            typ = self._sysname(nr)
            cnt, err = int(row["count"]), int(row["errors"])
            t_ns = int(row["lat_sum_ns"]) if has_lat else 0
            events += cnt
            failed += err
            entry = containers.get(c.id)
            if entry is None:
                entry = containers[c.id] = (c, {"events": 0, "errors": 0, "time": 0,
                                                "file_in": 0, "file_out": 0, "net_in": 0,
                                                "net_out": 0})
            d = entry[1]
            d["events"] += cnt
            d["errors"] += err
            d["time"] += t_ns
            rd = byte_direction(typ) == "read"
            d["file_in" if rd else "file_out"] += int(row["file_bytes"])
            d["net_in" if rd else "net_out"] += int(row["net_bytes"])
            s = syscalls.setdefault(typ, [0, 0, 0])
            s[0] += cnt
            s[1] += err
            s[2] += t_ns
            if has_lat:
                h = lat.setdefault(typ, [0] * LAT_SLOTS)
                hc = lat_cid.setdefault(c.id, [0] * LAT_SLOTS)
                for i, v in enumerate(row["lat_slots"].tolist()):
                    h[i] += v
                    hc[i] += v
        err_totals: dict[tuple[str, str, str], int] = {}
        for e in r.totals.errors:
            k = (self._sysname(int(e["nr"])), errno_name(int(e["errno"])),
                 self._container(int(e["cgroup_id"])).id)
            err_totals[k] = err_totals.get(k, 0) + int(e["count"])
        err_detail: dict[tuple[str, str, int], int] = {}
        for e in r.proc_errors:
            k2 = (self._sysname(int(e["nr"])), errno_name(int(e["errno"])), int(e["tgid"]))
            err_detail[k2] = err_detail.get(k2, 0) + int(e["count"])
        for cg in np.unique(rows["cgroup_id"]).tolist() if len(rows) else ():
            cid_of.setdefault(cg, self._container(cg).id)
        if len(self._cg) > 4096:  # cgroups come and go: keep those still counted
            self._cg = {cg: c for cg, c in self._cg.items() if cg in cid_of}
        return CounterTables(clock_ns, events, failed, pids, containers,
                             {k: (v[0], v[1], v[2]) for k, v in syscalls.items()}, lat,
                             err_totals, err_detail, rows, cid_of,
                             {**r.totals.drops, **r.lost}, lat_cid)

    def scoped(self, t: CounterTables, pid: int | None, container: str | None
               ) -> dict[str, tuple[int, int, int]]:
        """Per syscall (calls, errors, time) of one process or one container."""
        rows = t.rows
        if not len(rows):
            return {}
        if pid is not None:
            rows = rows[rows["tgid"] == pid]
        if container is not None:
            cgs = [cg for cg, cid in t.cid_of_cgroup.items() if cid == container]
            rows = rows[np.isin(rows["cgroup_id"], np.array(cgs, dtype=np.uint64))]
        out: dict[str, list[int]] = {}
        for r in rows:
            s = out.setdefault(self._sysname(int(r["nr"])), [0, 0, 0])
            s[0] += int(r["count"])
            s[1] += int(r["errors"])
            s[2] += int(r["time_ns"])
        return {k: (v[0], v[1], v[2]) for k, v in out.items()}

    def close(self) -> None:
        self.closed = True
        close = getattr(self.reader, "close", None)
        if close is not None:
            close()


# -- the kernel side: the metrics probe with TOP_COUNTERS ------------------------------


class TopCounterMaps:
    """``CounterReader`` over a loaded ``TopCounterProbe`` (maps by fd)."""

    def __init__(self, probe: Any) -> None:
        from ..probes.bpf_syscall import BpfMap  # bpf(2) only when live

        self.probe = probe
        self.totals = probe.maps
        self.procs = BpfMap(probe.map_fd("top_sys"), TKEY, TSTAT)
        self.errors = BpfMap(probe.map_fd("top_err"), TEKEY, np.dtype("<u8"))
        self.lost_map = BpfMap(probe.map_fd("top_lost"), np.dtype("<u4"), np.dtype("<u8"))
        self.comm_map = BpfMap(probe.map_fd("top_comm"), np.dtype("<u4"), np.dtype("S16"))

    def read(self) -> CounterReading:
        k, v = self.procs.read()
        rows = np.zeros(len(k), dtype=PROC_ROWS)
        for f in TKEY.names or ():
            rows[f] = k[f]
        for f in TSTAT_FIELDS:
            rows[f] = v[f]
        ek, ev = self.errors.read()
        err = np.zeros(len(ek), dtype=PROC_ERROR_ROWS)
        for f in TEKEY.names or ():
            err[f] = ek[f]
        err["count"] = ev
        lk, lv = self.lost_map.read()
        lost = {LOST_NAMES[int(i)]: int(n) for i, n in zip(lk, lv, strict=True)
                if int(i) < len(LOST_NAMES)}
        # the comms of the processes counted only: the map keeps up to TOP_MAX of
        # them (threads' ids too), and a busy host fills it
        ck, cv = self.comm_map.read()
        mine = np.isin(ck, rows["tgid"])
        comms = {int(t): c.decode("utf-8", "replace")
                 for t, c in zip(ck[mine].tolist(), cv[mine].tolist(), strict=True)}
        return CounterReading(rows, err, self.totals.read(), lost, comms)

    def forget(self, tgids: Collection[int], reading: CounterReading | None = None) -> None:
        ids = np.fromiter(tgids, dtype=np.uint32)
        if not len(ids):
            return
        for m, rows in ((self.procs, reading.procs if reading else None),
                        (self.errors, reading.proc_errors if reading else None)):
            if rows is None:
                keys, _ = m.read()
            else:  # the keys of the rows just read (a gone process makes no new ones)
                keys = np.zeros(len(rows), dtype=m.key)
                for f in m.key.names or ():
                    keys[f] = rows[f]
            m.delete_batch(keys[np.isin(keys["tgid"], ids)])

    def close(self) -> None:
        self.probe.close()




def load_top_counters(container_of: Callable[[int], Container],
                      name_of: Callable[[int], tuple[str, int] | None] | None = None,
                      top_max: int = 65536, top_err_max: int = 16384) -> KernelCounters:
    """Compile and attach the metrics probe with ``-DTOP_COUNTERS`` (root); raises
    ``probes.loader.ProbeError`` with a one-line reason."""
    from ..probes.metrics.probe import MetricsProbe  # bcc only when live

    class TopCounterProbe(MetricsProbe):
        """The exporter's probe, with cdig top's per-process maps added."""

        def cflags(self) -> list[str]:
            return [*super().cflags(), "-DTOP_COUNTERS", f"-DTOP_MAX={top_max}",
                    f"-DTOP_ERR_MAX={top_err_max}"]

    probe = TopCounterProbe()
    probe.load()
    try:
        maps = TopCounterMaps(probe)
    except Exception:
        probe.close()
        raise
    return KernelCounters(maps, container_of, probe.table.name, name_of=name_of)
