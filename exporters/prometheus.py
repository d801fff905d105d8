"""The Prometheus exporter's collector: BPF maps and cgroup files -> metric families.

``ExporterCollector`` is a prometheus_client custom collector: each
``collect()`` (one scrape) reads the maps through a ``MapReader``, lets
``series.SeriesState`` apply its bookkeeping, and yields fresh families.
Nothing is done per event in Python. Register it in its own
``CollectorRegistry``.

``exposition()`` renders the same families as text (``exposition.render``)
without building prometheus_client's per-sample objects; the HTTP server uses
it, and a unit test checks that it is byte for byte what ``generate_latest``
makes of ``collect()``.

Families (labels ``container_id, container_name, image, pod, namespace``,
abbreviated ``C``):

    cdig_syscalls_total{C,syscall}                 syscalls, under their entry number
    cdig_syscall_errors_total{C,syscall,errno}     failed ones (-4095..-1), by errno
    cdig_syscall_class_duration_seconds{C,class}   histogram per syscall class
                                                   (syscall_classes; unless --no-latency)
    cdig_syscall_duration_seconds{C,syscall}       histogram, for --latency-syscalls only
    cdig_file_bytes_total{C,direction}             read/write bytes to files
    cdig_network_bytes_total{C,direction}          receive/transmit bytes through sockets
    cdig_process_execs_total{C} / _forks_total / _exits_total
    cdig_container_*                               cgroup resource usage (cAdvisor's job)
    cdig_events_dropped_total{reason}, cdig_bpf_map_entries{map},
    cdig_bpf_map_capacity{map}, cdig_label_limit{label}, cdig_label_values{label},
    cdig_containers_folded, cdig_scrape_duration_seconds, cdig_build_info{...}

The host is ``container_id="host"``; see ``series`` for "other". ``C`` can be
narrowed to an allow-list (``Options.labels``): containers that agree on the
labels kept share one series, their values summed.
"""

from __future__ import annotations

import logging
import platform
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from itertools import chain

import numpy as np
from prometheus_client.core import Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from .. import __version__
from ..collector.cgroup_resources import CgroupResources, Resources
from ..probes.io_calls import byte_direction
from ..probes.metrics.layout import LAT_SLOTS, slot_upper_ns
from ..probes.metrics.maps import MapReader
from ..probes.syscall_table import SyscallTable
from .exposition import Family, LabelCache, render
from .series import (
    COUNT,
    FILE_BYTES,
    LAT_SUM,
    NET_BYTES,
    OTHER,
    OTHER_KEY,
    PROC_FIELDS,
    CgroupNames,
    Options,
    Owner,
    SeriesState,
    errno_name,
)
from .syscall_classes import CLASSES, syscall_class

log = logging.getLogger(__name__)

CONTAINER_LABELS = ("container_id", "container_name", "image", "pod", "namespace")

# Latency buckets exported by default: every third kernel slot boundary from
# 4^5 ns (~1 us) to 4^14 ns (~268 ms), i.e. 1 us, 66 us, 4.2 ms, 268 ms and
# +Inf: a factor of 64 apart, 4 buckets instead of the kernel's 13 (the scrape
# size is mostly bucket lines: with 6 buckets the 100 x 50 benchmark scrape
# was 2.3 MB). Bounds are exact powers of four nanoseconds, so each bucket is
# exactly the kernel's slots below it.
DEFAULT_BUCKET_SLOTS: tuple[int, ...] = (4, 7, 10, 13)
# ... and all of them (--latency-buckets fine)
FINE_BUCKET_SLOTS: tuple[int, ...] = tuple(range(4, LAT_SLOTS - 1))

DROP_REASONS = ("syscalls_map_full", "errors_map_full", "procs_map_full",
                "latency_map_full", "latency_no_storage")

SCRAPE_HELP = "Time the previous scrape took to read the maps and render the metrics."


def check_labels(labels: Sequence[str]) -> tuple[str, ...]:
    """An allow-list of container labels, in CONTAINER_LABELS order; ValueError
    names the first unknown one."""
    for name in labels:
        if name not in CONTAINER_LABELS:
            raise ValueError(f"unknown label {name!r} (known: {', '.join(CONTAINER_LABELS)})")
    return tuple(n for n in CONTAINER_LABELS if n in labels)


def container_labels(owner: Owner) -> tuple[str, ...]:
    if owner.key == OTHER_KEY or owner.container is None:
        return (OTHER, OTHER, "", "", "")
    c = owner.container
    return (c.id, c.name, c.image, c.pod_name, c.pod_namespace)


SORTED_CLASSES = sorted(CLASSES)


def _group_sum(keys: np.ndarray, vals: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """(distinct keys ascending, the sum of ``vals`` rows of each), exact in uint64."""
    if not len(keys):
        return keys, vals[:0]
    order = np.argsort(keys, kind="stable")
    k = keys[order]
    starts = np.flatnonzero(np.r_[True, k[1:] != k[:-1]])
    return k[starts], np.add.reduceat(vals[order], starts, axis=0)


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
        opts = self.state.options
        self.labels = CONTAINER_LABELS if opts.labels is None else check_labels(opts.labels)
        self._label_idx = tuple(CONTAINER_LABELS.index(n) for n in self.labels)
        self._render_cache = LabelCache()
        # per syscall number: its class and, for byte counters, the direction
        self._class_of = np.zeros(0, np.intp)
        self._class_rank = np.zeros(0, np.int64)
        self._dir_of = np.zeros(0, np.intp)
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
        fams = self.families()
        with self._lock:  # the label cache is shared between scrapes
            text = "".join(render(fams, cache=self._render_cache))
        self.last_scrape_seconds = time.perf_counter() - t0
        return text.encode("utf-8")

    # -- building ----------------------------------------------------------------------
    def _labels_of(self, owner: Owner) -> tuple[str, ...]:
        full = container_labels(owner)
        return tuple(full[i] for i in self._label_idx)

    def _per_nr(self, nrs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(index in CLASSES of the class, byte direction: 0 read-like, 1 write-like,
        -1 none) of each syscall number."""
        if len(nrs) and int(nrs.max()) >= len(self._class_of):
            self._grow_per_nr(int(nrs.max()) + 1)
        return self._class_of[nrs], self._dir_of[nrs]

    def _grow_per_nr(self, n: int) -> None:
        n = max(n, self.table.max_nr, 1024)
        names = [self.table.name(nr) for nr in range(n)]
        self._class_of = np.array([CLASSES.index(syscall_class(x)) for x in names], np.intp)
        # by class name: the order the histogram rows are rendered in
        self._class_rank = np.array([SORTED_CLASSES.index(c) for c in CLASSES],
                                    np.int64)[self._class_of]
        ways = [byte_direction(x) for x in names]
        self._dir_of = np.array([-1 if w is None else (0 if w == "read" else 1) for w in ways],
                                np.intp)

    def _families(self) -> list[Family]:
        st = self.state
        opts = st.options
        lab = self.labels
        allow = opts.latency_syscalls  # None: every syscall label
        if st.latency:
            calls_doc = ("System calls, by the number they were entered with (exit and "
                         "exit_group included: counted at entry, the others at exit).")
        else:
            calls_doc = ("System calls, counted at exit (in the cgroup they exit in) by the "
                         "number they were entered with. "
                         "exit and exit_group never return: counted when the task that "
                         "called one exits.")
        calls = Family("cdig_syscalls", "counter", calls_doc, (*lab, "syscall"))
        errs = Family("cdig_syscall_errors", "counter",
                      "System calls that returned an error (-4095..-1), by errno.",
                      (*lab, "syscall", "errno"))
        chist = Family("cdig_syscall_class_duration_seconds", "histogram",
                       "Time from syscall entry to exit, by syscall class (file, net, process, "
                       "wait: calls that block by design, other). Bucket bounds are "
                       "powers of four nanoseconds.", (*lab, "class")) if st.latency else None
        shist = Family("cdig_syscall_duration_seconds", "histogram",
                       "Time from syscall entry to exit, for the syscalls given to "
                       "--latency-syscalls. Bucket bounds are powers of four nanoseconds.",
                       (*lab, "syscall")) if st.latency and allow != frozenset() else None
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
        label = st.syscall_label
        # label sets in order of the first owner seen; with an allow-list of
        # labels, containers that agree on them share series (values summed)
        gindex: dict[tuple, int] = {}
        nr_parts: list[list[int]] = []
        vecs: list[np.ndarray] = []
        g_of: list[int] = []
        g_len: list[int] = []
        errs_acc: dict[tuple, dict[tuple[str, str], int]] = {}
        procs_acc: dict[tuple, np.ndarray] = {}
        for owner, acc in groups:
            cl = self._labels_of(owner)
            g = gindex.setdefault(cl, len(gindex))
            if acc.sys:
                nr_parts.append(list(acc.sys))
                vecs.extend(acc.sys.values())
                g_of.append(g)
                g_len.append(len(acc.sys))
            e_d = errs_acc.setdefault(cl, {})
            for (nr, en), n in acc.err.items():
                k2 = (label(nr), errno_name(en))
                e_d[k2] = e_d.get(k2, 0) + n
            cur = procs_acc.get(cl)
            procs_acc[cl] = acc.proc if cur is None else cur + acc.proc
        cls = list(gindex)
        byts = np.zeros((len(cls), 4), dtype=np.uint64)  # file r/w, network r/w
        syscall_values: list[str] = []
        if vecs:
            # every (label set, syscall) row in one matrix, summed per series
            # with one sort: Python per row costs more than the rows' numbers
            mat = np.stack(vecs)
            nrs = np.fromiter(chain.from_iterable(nr_parts), np.intp, len(vecs))
            gs = np.repeat(np.array(g_of, np.int64), g_len)
            uniq, inv = np.unique(nrs, return_inverse=True)
            u_names = [label(nr) for nr in uniq.tolist()]
            syscall_values = sorted(set(u_names))
            rank = {name: i for i, name in enumerate(syscall_values)}
            n_names = len(syscall_values)
            srank = np.array([rank[x] for x in u_names], np.int64)[inv]
            keys, counts = _group_sum(gs * n_names + srank, mat[:, COUNT])
            rows = calls.rows
            for k, n in zip(keys.tolist(), counts.tolist(), strict=True):
                g, r = divmod(k, n_names)
                rows.append(((*cls[g], syscall_values[r]), n))
            cidx, way = self._per_nr(nrs)
            for j in (0, 1):
                sel = way == j
                if sel.any():
                    keys, sums = _group_sum(gs[sel], mat[sel][:, [FILE_BYTES, NET_BYTES]])
                    byts[keys, j] = sums[:, 0]
                    byts[keys, 2 + j] = sums[:, 1]
            if st.latency:
                lat = mat[:, LAT_SUM:]  # sum, then the slots
                crank = self._class_rank[nrs]
                keys, sums = _group_sum(gs * len(CLASSES) + crank, lat)
                self._hist_rows(chist, cls, keys, sums, len(CLASSES), SORTED_CLASSES)
                if shist is not None:
                    if allow is None:
                        sel = slice(None)
                    else:
                        ok = np.array([x in allow for x in syscall_values], bool)
                        sel = ok[srank]
                    keys, sums = _group_sum((gs * n_names + srank)[sel], lat[sel])
                    self._hist_rows(shist, cls, keys, sums, n_names, syscall_values)
        rows = errs.rows
        for cl, e_d in errs_acc.items():
            rows.extend(((*cl, *k2), e_d[k2]) for k2 in sorted(e_d))
        for cl, b in zip(cls, byts.tolist(), strict=True):
            fbytes.add((*cl, "read"), b[0])
            fbytes.add((*cl, "write"), b[1])
            nbytes.add((*cl, "receive"), b[2])
            nbytes.add((*cl, "transmit"), b[3])
        for cl, pv in procs_acc.items():
            for i, f in enumerate(PROC_FIELDS):
                procs[f].add(cl, int(pv[i]))
        out = [calls, errs, *(f for f in (chist, shist) if f is not None), fbytes, nbytes,
               *procs.values()]
        if self.resources is not None:
            out += self._resource_families(st.live_containers())
        out += self._self_families(len(cls), len(syscall_values))
        return out

    def _hist_rows(self, fam: Family | None, cls: list[tuple], keys: np.ndarray,
                   sums: np.ndarray, n: int, names: Sequence[str]) -> None:
        """Rows of a histogram family from summed [sum_ns, slots...] vectors, one
        per key = label set index * n + index in ``names``."""
        if fam is None or not len(keys):
            return
        fam.les = tuple(self._les)
        cum = sums[:, 1:].cumsum(axis=1)
        counts = cum[:, [*self.bucket_slots, cum.shape[1] - 1]].tolist()
        totals = (sums[:, 0] / 1e9).tolist()
        rows = fam.rows
        for k, c, t in zip(keys.tolist(), counts, totals, strict=True):
            g, r = divmod(k, n)
            rows.append(((*cls[g], names[r]), c, t))

    def _resource_families(self, owners: list[Owner]) -> list[Family]:
        lab = self.labels
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
        fams = [cpu, periods, thr, thr_s, mem, mem_l, io, pids, pids_l]
        # summed per label set: with a label allow-list, containers share series
        sums: list[dict[tuple, float]] = [{} for _ in fams]

        def put(i: int, key: tuple, val: float) -> None:
            sums[i][key] = sums[i].get(key, 0) + val

        for owner in owners:
            c = owner.container
            if c is None or not c.cgroup_path:
                continue
            r: Resources = self.resources.read(c.cgroup_path)  # type: ignore[union-attr]
            cl = self._labels_of(owner)
            for i, val in ((0, r.cpu_seconds), (1, r.cpu_periods),
                           (2, r.cpu_throttled_periods), (3, r.cpu_throttled_seconds),
                           (4, r.memory_bytes), (5, r.memory_limit_bytes),
                           (7, r.pids), (8, r.pids_limit)):
                if val is not None:
                    put(i, cl, val)
            if r.io_read_bytes is not None:
                put(6, (*cl, "read"), r.io_read_bytes)
                put(6, (*cl, "write"), r.io_write_bytes or 0)
        for fam, d in zip(fams, sums, strict=True):
            for key, val in d.items():
                fam.add(key, val)
        return fams

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
