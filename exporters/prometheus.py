"""The Prometheus exporter's collector: BPF maps and cgroup files -> metric families.

``ExporterCollector`` is a prometheus_client custom collector: each
``collect()`` (one scrape) reads the maps through a ``MapReader``, lets
``series.SeriesState`` apply its bookkeeping, and yields fresh families.
Nothing is done per event in Python. Register it in its own
``CollectorRegistry``.

``exposition()`` renders the same families as text without building
prometheus_client's per-sample objects: with latency histograms for 100
containers x 50 syscalls a scrape has ~80,000 samples, and prometheus_client's
``generate_latest`` spends most of its time validating label names on every
sample. The HTTP server uses ``exposition()``; a unit test checks that it is
byte for byte what ``generate_latest`` makes of ``collect()``.

Families (labels ``container_id, container_name, image, pod, namespace``,
abbreviated ``C``):

    cdig_syscalls_total{C,syscall}                 completed syscalls
    cdig_syscall_errors_total{C,syscall,errno}     failed ones (-4095..-1), by errno
    cdig_syscall_duration_seconds{C,syscall}       histogram (unless --no-latency)
    cdig_file_bytes_total{C,direction}             read/write bytes to files
    cdig_network_bytes_total{C,direction}          receive/transmit bytes through sockets
    cdig_process_execs_total{C} / _forks_total / _exits_total
    cdig_container_*                               cgroup resource usage (cAdvisor's job)
    cdig_events_dropped_total{reason}, cdig_bpf_map_entries{map},
    cdig_bpf_map_capacity{map}, cdig_label_limit{label}, cdig_label_values{label},
    cdig_containers_folded, cdig_scrape_duration_seconds, cdig_build_info{...}

The host is ``container_id="host"``; see ``series`` for "other".
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from dataclasses import dataclass, field

from prometheus_client.core import (
    CounterMetricFamily,
    GaugeMetricFamily,
    HistogramMetricFamily,
    Metric,
)
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .. import __version__
from ..probes.metrics import LAT_SLOTS, MapReader, slot_upper_ns
from ..probes.syscalls import SyscallTable
from .resources import CgroupResources, Resources
from .series import (
    COUNT,
    LAT_SUM,
    OTHER,
    OTHER_KEY,
    PROC_FIELDS,
    SLOTS,
    CgroupNames,
    Options,
    Owner,
    SeriesState,
    by_syscall_label,
    bytes_by_direction,
    errors_by_label,
)

log = logging.getLogger(__name__)

CONTAINER_LABELS = ("container_id", "container_name", "image", "pod", "namespace")

# Latency buckets exported by default: every kernel slot boundary from 4^5 ns
# (~1 us) to 4^17 ns (~17 s), 13 buckets + Inf. Bounds are exact powers of
# four nanoseconds, so each bucket is exactly the kernel's slots below it.
DEFAULT_BUCKET_SLOTS: tuple[int, ...] = tuple(range(4, LAT_SLOTS - 1))

DROP_REASONS = ("syscalls_map_full", "errors_map_full", "procs_map_full",
                "latency_map_full", "latency_no_storage")

SCRAPE_HELP = "Time the previous scrape took to read the maps and render the metrics."


def container_labels(owner: Owner) -> tuple[str, ...]:
    if owner.key == OTHER_KEY or owner.container is None:
        return (OTHER, OTHER, "", "", "")
    c = owner.container
    return (c.id, c.name, c.image, c.pod_name, c.pod_namespace)


@dataclass
class Family:
    """One metric family, before it becomes prometheus_client objects or text.

    ``rows`` hold label values in ``labels`` order, then the value; for
    histograms ``(values, buckets [(le, cumulative count)], sum)``."""

    name: str  # counters without _total
    type: str  # counter, gauge, histogram
    doc: str
    labels: tuple[str, ...]
    rows: list[tuple] = field(default_factory=list)

    def add(self, values: Sequence[str], value: float) -> None:
        self.rows.append((tuple(values), value))

    def metric(self) -> Metric:
        if self.type == "counter":
            m: Metric = CounterMetricFamily(self.name, self.doc, labels=self.labels)
            for v, x in self.rows:
                m.add_metric(v, x)
        elif self.type == "gauge":
            m = GaugeMetricFamily(self.name, self.doc, labels=self.labels)
            for v, x in self.rows:
                m.add_metric(v, x)
        else:
            m = HistogramMetricFamily(self.name, self.doc, labels=self.labels)
            for v, buckets, total in self.rows:
                m.add_metric(v, buckets, total)
        return m


# -- text rendering ------------------------------------------------------------------


def _go_float(v: float | int) -> str:
    """floatToGoString, with a fast path for the common small integers."""
    if type(v) is int and 0 <= v < 1_000_000:
        return f"{v}.0"
    return floatToGoString(v)


class _Escapes(dict):
    """Label values escaped as the text format wants, memoised (few distinct values)."""

    def __missing__(self, s: str) -> str:
        e = self[s] = s.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")
        return e


def render(families: Sequence[Family], out: list[str] | None = None) -> list[str]:
    """The text exposition (format 0.0.4) of ``families``, as generate_latest
    would write it: labels sorted by name, values as Go floats."""
    out = [] if out is None else out
    esc = _Escapes()
    for f in families:
        mname = f.name + "_total" if f.type == "counter" else f.name
        doc = f.doc.replace("\\", r"\\").replace("\n", r"\n")
        out.append(f"# HELP {mname} {doc}\n# TYPE {mname} {f.type}\n")
        names = f.labels
        order = sorted(range(len(names)), key=names.__getitem__)
        if f.type != "histogram":
            for values, x in f.rows:
                if names:
                    lab = ",".join(f'{names[i]}="{esc[values[i]]}"' for i in order)
                    out.append(f"{mname}{{{lab}}} {_go_float(x)}\n")
                else:
                    out.append(f"{mname} {_go_float(x)}\n")
            continue
        # le sorts among the other labels: split them around it
        before = [i for i in order if names[i] < "le"]
        after = [i for i in order if names[i] > "le"]
        for values, buckets, total in f.rows:
            pre = "".join(f'{names[i]}="{esc[values[i]]}",' for i in before)
            post = "".join(f',{names[i]}="{esc[values[i]]}"' for i in after)
            for le, n in buckets:
                out.append(f'{mname}_bucket{{{pre}le="{le}"{post}}} {_go_float(n)}\n')
            all_ = ",".join(f'{names[i]}="{esc[values[i]]}"' for i in order)
            count = buckets[-1][1]
            out.append(f"{mname}_count{{{all_}}} {_go_float(count)}\n")
            out.append(f"{mname}_sum{{{all_}}} {_go_float(total)}\n")
    return out


class ExporterCollector(Collector):
    """A prometheus_client collector over the metrics maps (see the module docstring).

    ``update()`` may also be called on a timer (the exporter does, so gone
    cgroups are retired and their map entries freed even when nobody scrapes).
    Thread-safe.
    """

    def __init__(
        self,
        reader: MapReader,
        names: CgroupNames,
        table: SyscallTable,
        *,
        options: Options | None = None,
        resources: CgroupResources | None = None,
        bucket_slots: Sequence[int] = DEFAULT_BUCKET_SLOTS,
        build_info: dict[str, str] | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.state = SeriesState(reader, names, table, options, clock)
        self.table = table
        self.resources = resources
        if not bucket_slots or any(not 0 <= s < LAT_SLOTS - 1 for s in bucket_slots):
            raise ValueError(f"bucket slots must be within 0..{LAT_SLOTS - 2}")
        self.bucket_slots = tuple(sorted(set(bucket_slots)))
        self._les = [floatToGoString(slot_upper_ns(s) / 1e9) for s in self.bucket_slots]
        self.build_info = {"version": __version__, "python": platform.python_version(),
                           "latency": "true" if reader.latency else "false",
                           **(build_info or {})}
        self._lock = threading.Lock()
        self.last_scrape_seconds = 0.0

    def update(self) -> None:
        with self._lock:
            self.state.update()

    def families(self) -> list[Family]:
        """Read the maps, update the series, and build every family."""
        with self._lock:
            try:
                self.state.update()
            except OSError as e:  # the maps could not be read: say so, serve the rest
                log.warning("cannot read the BPF maps: %s", e)
            return self._families()

    # -- the two outputs ---------------------------------------------------------------
    def collect(self) -> Iterator[Metric]:
        t0 = time.perf_counter()
        fams = self.families()
        out = [f.metric() for f in fams]
        self.last_scrape_seconds = time.perf_counter() - t0
        yield from out

    def exposition(self) -> bytes:
        """What ``generate_latest`` would make of ``collect()``, faster."""
        t0 = time.perf_counter()
        text = "".join(render(self.families()))
        self.last_scrape_seconds = time.perf_counter() - t0
        return text.encode("utf-8")

    # -- building ----------------------------------------------------------------------
    def _families(self) -> list[Family]:
        st = self.state
        lab = CONTAINER_LABELS
        calls = Family("cdig_syscalls", "counter", "Completed system calls (exit and "
                       "exit_group never complete: see cdig_process_exits_total).",
                       (*lab, "syscall"))
        errs = Family("cdig_syscall_errors", "counter",
                      "System calls that returned an error (-4095..-1), by errno.",
                      (*lab, "syscall", "errno"))
        hist = Family("cdig_syscall_duration_seconds", "histogram",
                      "Time from syscall entry to exit. Bucket bounds are powers of four "
                      "nanoseconds.", (*lab, "syscall")) if st.latency else None
        fbytes = Family(
            "cdig_file_bytes", "counter", "Bytes read and written by read/write-family "
            "syscalls on anything that is not a socket: files, pipes, terminals, devices.",
            (*lab, "direction"))
        nbytes = Family(
            "cdig_network_bytes", "counter", "Bytes received and transmitted through "
            "sockets of any family by read/write/send/recv-family syscalls.",
            (*lab, "direction"))
        procs = {
            "execs": Family("cdig_process_execs", "counter", "Successful execs.", lab),
            "forks": Family("cdig_process_forks", "counter",
                            "Tasks created (fork, vfork, clone: threads included).", lab),
            "exits": Family("cdig_process_exits", "counter", "Processes that exited.", lab),
        }
        groups = st.groups()
        syscall_values: set[str] = set()
        les = self._les
        slots = self.bucket_slots
        for owner, acc in groups:
            cl = container_labels(owner)
            for name, v in sorted(by_syscall_label(acc, st.syscall_label).items()):
                syscall_values.add(name)
                calls.add((*cl, name), int(v[COUNT]))
                if hist is not None:
                    counts = v[SLOTS:SLOTS + LAT_SLOTS].cumsum().tolist()
                    buckets = [(le, counts[s]) for le, s in zip(les, slots, strict=True)]
                    buckets.append(("+Inf", counts[-1]))
                    hist.rows.append(((*cl, name), buckets, int(v[LAT_SUM]) / 1e9))
            for (name, en), n in sorted(errors_by_label(acc, st.syscall_label).items()):
                errs.add((*cl, name, en), n)
            b = bytes_by_direction(acc, self.table)
            fbytes.add((*cl, "read"), b[("file", "read")])
            fbytes.add((*cl, "write"), b[("file", "write")])
            nbytes.add((*cl, "receive"), b[("network", "read")])
            nbytes.add((*cl, "transmit"), b[("network", "write")])
            for i, f in enumerate(PROC_FIELDS):
                procs[f].add(cl, int(acc.proc[i]))
        out = [calls, errs, *([hist] if hist is not None else []), fbytes, nbytes,
               *procs.values()]
        if self.resources is not None:
            out += self._resource_families(st.live_containers())
        out += self._self_families(len(groups), len(syscall_values))
        return out

    def _resource_families(self, owners: list[Owner]) -> list[Family]:
        lab = CONTAINER_LABELS
        cpu = Family("cdig_container_cpu_usage_seconds", "counter",
                     "CPU time used by the container's cgroup.", lab)
        periods = Family("cdig_container_cpu_periods", "counter",
                         "CPU bandwidth-control periods elapsed.", lab)
        thr = Family("cdig_container_cpu_throttled_periods", "counter",
                     "Periods in which the container was throttled.", lab)
        thr_s = Family("cdig_container_cpu_throttled_seconds", "counter",
                       "Time the container was throttled.", lab)
        mem = Family("cdig_container_memory_usage_bytes", "gauge",
                     "Memory charged to the container's cgroup.", lab)
        mem_l = Family("cdig_container_memory_limit_bytes", "gauge",
                       "Memory limit (absent when unlimited).", lab)
        io = Family("cdig_container_io_bytes", "counter", "Block I/O bytes.",
                    (*lab, "direction"))
        pids = Family("cdig_container_pids", "gauge", "Tasks in the container's cgroup.", lab)
        pids_l = Family("cdig_container_pids_limit", "gauge",
                        "Task limit (absent when unlimited).", lab)
        for owner in owners:
            c = owner.container
            if c is None or not c.cgroup_path:
                continue
            r: Resources = self.resources.read(c.cgroup_path)  # type: ignore[union-attr]
            cl = container_labels(owner)
            for fam, val in ((cpu, r.cpu_seconds), (periods, r.cpu_periods),
                             (thr, r.cpu_throttled_periods), (thr_s, r.cpu_throttled_seconds),
                             (mem, r.memory_bytes), (mem_l, r.memory_limit_bytes),
                             (pids, r.pids), (pids_l, r.pids_limit)):
                if val is not None:
                    fam.add(cl, val)
            if r.io_read_bytes is not None:
                io.add((*cl, "read"), r.io_read_bytes)
                io.add((*cl, "write"), r.io_write_bytes or 0)
        return [cpu, periods, thr, thr_s, mem, mem_l, io, pids, pids_l]

    def _self_families(self, container_values: int, syscall_values: int) -> list[Family]:
        st = self.state
        snap = st.snapshot
        drops = Family("cdig_events_dropped", "counter",
                       "Events the kernel could not count, by reason (a map was full...).",
                       ("reason",))
        for reason in DROP_REASONS:
            drops.add((reason,), snap.drops.get(reason, 0) if snap else 0)
        unpaired = Family("cdig_syscall_latency_unpaired", "counter",
                          "Syscall exits whose entry was not seen (in flight at start): "
                          "counted, not timed.", ())
        unpaired.add((), snap.drops.get("latency_unpaired", 0) if snap else 0)
        entries = Family("cdig_bpf_map_entries", "gauge", "Entries in a BPF map.", ("map",))
        cap = Family("cdig_bpf_map_capacity", "gauge", "Maximum entries of a BPF map.",
                     ("map",))
        for u in st.map_usage():
            entries.add((u.name,), u.entries)
            cap.add((u.name,), u.capacity)
        limit = Family("cdig_label_limit", "gauge",
                       "Most values a label takes besides the overflow value \"other\" "
                       "(container_id also has \"host\").", ("label",))
        limit.add(("container_id",), st.options.max_containers)
        limit.add(("syscall",), st.options.max_syscalls)
        values = Family("cdig_label_values", "gauge",
                        "Distinct values a label has now (host and other included).",
                        ("label",))
        values.add(("container_id",), container_values)
        values.add(("syscall",), syscall_values)
        folded = Family("cdig_containers_folded", "gauge",
                        "Containers counted under container_id=\"other\" (over the limit).", ())
        folded.add((), st.folded_containers)
        keys = tuple(sorted(self.build_info))
        info = Family("cdig_build_info", "gauge", "cdig version and configuration.", keys)
        info.add(tuple(self.build_info[k] for k in keys), 1)
        scrape = Family("cdig_scrape_duration_seconds", "gauge", SCRAPE_HELP, ())
        scrape.add((), self.last_scrape_seconds)
        return [drops, unpaired, entries, cap, limit, values, folded, info, scrape]
