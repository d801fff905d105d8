"""The metrics probe's data: numpy mirrors of ``bpf/metrics.h``, which syscalls
move bytes, what the kernel supports, and the snapshot the exporter reads.

The exporter sees the kernel only through ``MapReader`` (``read()`` a
``MapSnapshot``, ``forget()`` cgroups): ``MetricsMaps`` implements it over the
loaded probe's map fds, and unit tests implement it over synthetic contents.
Building and loading the program (bcc) is ``probes.loader.MetricsProbe``.
"""

from __future__ import annotations

import os
import platform
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import numpy as np

from .io_calls import FILE_READS, FILE_WRITES, NET_RECEIVES, NET_SENDS
from .syscalls import SyscallTable

LAT_SLOTS = 18  # CDIG_LAT_SLOTS: base-4 slots

CLS_RW = 1
CLS_NET = 2
CLS_SOCKCLR = 4
CLS_FORK = 8
CLS_NORET = 16

MSTAT_NAMES = ("syscalls_map_full", "errors_map_full", "procs_map_full",
               "latency_unpaired", "latency_no_storage", "latency_map_full")  # CDIG_MSTAT_*

# struct cdig_mkey
MKEY = np.dtype([("cgroup_id", "<u8"), ("nr", "<u4"), ("errno", "<u4")])
# struct cdig_procstat
PROCSTAT = np.dtype([("execs", "<u8"), ("forks", "<u8"), ("exits", "<u8")])

SYSSTAT_FIELDS = ("count", "errors", "file_bytes", "net_bytes")
# struct cdig_sysstat
SYSSTAT = np.dtype([(f, "<u8") for f in SYSSTAT_FIELDS])
# struct cdig_latstat
LATSTAT = np.dtype([("sum_ns", "<u8"), ("slots", "<u8", (LAT_SLOTS,))])


def slot_upper_ns(slot: int) -> float:
    """The upper bound (inclusive) of latency slot ``slot`` in ns; inf for the last."""
    return float("inf") if slot >= LAT_SLOTS - 1 else float(4 ** (slot + 1))


# The kernel adds a return value >= 0 of CLS_RW calls (io_calls: FILE_READS,
# FILE_WRITES) to file bytes unless a socket moved bytes during the call (then to
# network bytes), of CLS_NET calls (NET_RECEIVES, NET_SENDS) to network bytes.

# may move socket bytes but return no byte count (messages, pipe transfers,
# io_uring submissions): they only clear the thread's socket mark
SOCKET_OTHER = frozenset({"sendmmsg", "recvmmsg", "splice", "io_uring_enter"})
# return twice: in the parent (the child's id) and in the new task (0)
FORKS = frozenset({"fork", "vfork", "clone", "clone3"})


def sysclass(table: SyscallTable) -> np.ndarray:
    """The ``sysclass`` array (one byte per syscall number)."""
    out = np.zeros(table.max_nr, dtype=np.uint8)
    for nr, spec in table.by_nr.items():
        if spec.name in FILE_READS or spec.name in FILE_WRITES:
            out[nr] = CLS_RW
        elif spec.name in NET_RECEIVES or spec.name in NET_SENDS:
            out[nr] = CLS_NET
        elif spec.name in SOCKET_OTHER:
            out[nr] = CLS_SOCKCLR
        elif spec.name in FORKS:
            out[nr] = CLS_FORK
        elif spec.name == "rt_sigreturn":
            out[nr] = CLS_NORET
    return out


# -- kernel features ------------------------------------------------------------------


def tracefs_root() -> str | None:
    for p in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(p, "events")):
            return p
    return None


def _kernel_at_least(major: int, minor: int, release: str | None = None) -> bool:
    rel = release or platform.release()
    try:
        got = tuple(int(x) for x in rel.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return got >= (major, minor)


@dataclass(frozen=True)
class Features:
    """What the running kernel offers the metrics probe (``Features.detect()``)."""

    sock_split: bool = False  # sock:sock_{send,recv}_length (6.3+)
    group_dead: bool = False  # sched_process_exit.group_dead
    no_prealloc: bool = False  # non-preallocated hash maps in tracing programs (6.1+)
    task_storage: bool = False  # task-local storage + BTF (5.11+): cheap latency pairing
    task_pt_regs: bool = False  # bpf_task_pt_regs + BTF (5.15+): no typed hooks without latency

    @classmethod
    def detect(cls, tracefs: str | None = None, release: str | None = None) -> Features:
        root = tracefs or tracefs_root()
        btf = os.path.exists("/sys/kernel/btf/vmlinux")

        def fmt(event: str) -> str:
            if root is None:
                return ""
            try:
                with open(os.path.join(root, "events", event, "format"), encoding="utf-8") as f:
                    return f.read()
            except OSError:
                return ""

        return cls(
            sock_split=bool(fmt("sock/sock_send_length")) and bool(fmt("sock/sock_recv_length")),
            group_dead="group_dead" in fmt("sched/sched_process_exit"),
            no_prealloc=_kernel_at_least(6, 1, release),
            task_storage=_kernel_at_least(5, 11, release) and btf,
            task_pt_regs=_kernel_at_least(5, 15, release) and btf,
        )


@dataclass
class MetricsConfig:
    """Sizes and options of the metrics probe. Map sizes are entries."""

    latency: bool = True
    syscalls_max: int = 16384  # (cgroup, syscall) pairs
    latency_max: int = 16384  # (cgroup, syscall) pairs with a histogram
    errors_max: int = 8192  # (cgroup, syscall, errno) triples
    procs_max: int = 4096  # cgroups with exec/fork/exit activity
    sockio_max: int = 16384  # threads inside a syscall that moved socket bytes
    inflight_max: int = 65536  # threads inside a syscall (latency without task storage)
    entry_max: int = 4096  # threads inside execveat (--no-latency), rt_sigreturn (old kernels)
    pairing: str = "auto"  # latency pairing: "task" storage, tid "hash", or "auto"


def _nr(table: SyscallTable, name: str) -> int:
    nr = table.nr(name)
    return -2 if nr is None else nr  # never a syscall number, nor the -1 of sys_exit


def cflags(config: MetricsConfig, features: Features, table: SyscallTable,
           task_storage: bool) -> list[str]:
    """The -D defines that configure ``metrics.bpf.c``."""
    flags = [
        # room for syscalls newer than the table: counted, named syscall_NNN
        f"-DNR_SYSCALLS={max(table.max_nr, 1024)}",
        f"-DSYSCALLS_MAX={config.syscalls_max}",
        f"-DERRORS_MAX={config.errors_max}",
        f"-DPROCS_MAX={config.procs_max}",
        f"-DSOCKIO_MAX={config.sockio_max}",
        f"-DINFLIGHT_MAX={config.inflight_max}",
        f"-DENTRY_MAX={config.entry_max}",
        # syscalls whose number at exit is not the one they were entered with,
        # and the two that never exit
        *(f"-DNR_{name.upper()}={_nr(table, name)}"
          for name in ("execve", "execveat", "rt_sigreturn", "exit", "exit_group")),
    ]
    if config.latency:
        # preallocated, the latency map costs capacity x 152 bytes x CPUs: on
        # kernels that cannot allocate on demand its capacity is kept small
        cap = config.latency_max if features.no_prealloc else min(config.latency_max, 4096)
        flags += ["-DLATENCY", f"-DLATENCY_MAX={cap}",
                  "-DLAT_MAP_FLAGS=" + ("BPF_F_NO_PREALLOC" if features.no_prealloc else "0")]
        if task_storage:
            flags.append("-DLAT_TASK_STORAGE")
    if features.sock_split:
        flags.append("-DSOCK_SPLIT")
    if features.group_dead:
        flags.append("-DHAVE_GROUP_DEAD")
    if features.task_pt_regs:
        flags.append("-DHAVE_TASK_PT_REGS")
    return flags


# -- what the exporter reads ------------------------------------------------------------


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

    def __init__(self, fds: Mapping[str, int], latency: bool) -> None:
        from .bpf_syscall import BpfMap  # unit tests of the layout need no bpf(2)

        self.latency = latency
        self.syscalls = BpfMap(fds["syscalls"], MKEY, SYSSTAT)
        self.lat = BpfMap(fds["latency"], MKEY, LATSTAT) if latency else None
        self.errors = BpfMap(fds["errors"], MKEY, np.dtype("<u8"))
        self.procs = BpfMap(fds["procs"], np.dtype("<u8"), PROCSTAT)
        self.mstats = BpfMap(fds["mstats"], np.dtype("<u4"), np.dtype("<u8"))
        self._sockio_fd = fds.get("sockio")

    def read(self) -> MapSnapshot:
        k, v = self.syscalls.read()
        sys_n = len(k)
        lat_n = 0
        if self.lat is None:
            rows = np.zeros(sys_n, dtype=syscall_rows_dtype(False))
            rows["cgroup_id"], rows["nr"] = k["cgroup_id"], k["nr"]
            for name in SYSSTAT_FIELDS:
                rows[name] = v[name]
        else:
            # With latency, a timed call is counted by its histogram slot only
            # (metrics.bpf.c: one map update per syscall); `syscalls` holds
            # errors, bytes and untimed calls. One row per key of either map.
            lk, lv = self.lat.read()
            lat_n = len(lk)
            keys = np.unique(np.concatenate([k.view("V16"), lk.view("V16")]))
            rows = np.zeros(len(keys), dtype=syscall_rows_dtype(True))
            both = keys.view(MKEY)
            rows["cgroup_id"], rows["nr"] = both["cgroup_id"], both["nr"]
            if sys_n:
                at = np.searchsorted(keys, k.view("V16"))
                for name in SYSSTAT_FIELDS:
                    rows[name][at] = v[name]
            if lat_n:
                at = np.searchsorted(keys, lk.view("V16"))
                rows["lat_sum_ns"][at] = lv["sum_ns"]
                rows["lat_slots"][at] = lv["slots"]
                rows["count"][at] += lv["slots"].sum(axis=1, dtype=np.uint64)
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
            MapUsage("errors", len(err), self.errors.capacity),
            MapUsage("procs", len(pr), self.procs.capacity),
        ]
        return MapSnapshot(self.latency, rows, err, pr, drops, maps)

    def forget(self, cgroup_ids: Collection[int]) -> None:
        ids = np.fromiter(cgroup_ids, dtype=np.uint64)
        if not len(ids):
            return
        for m in (self.syscalls, self.errors, self.lat):
            if m is None:
                continue
            keys, _ = m.read()
            m.delete(keys[np.isin(keys["cgroup_id"], ids)])
        pk, _ = self.procs.read()
        self.procs.delete(pk[np.isin(pk, ids)])

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

            from .bpf_syscall import BpfMapError

            for i in range(0, len(keys), 256):
                for attempt in range(100):
                    try:
                        self.lat.update(keys[i:i + 256], lv[i:i + 256])
                        break
                    except BpfMapError as e:
                        if e.errno != errno.ENOMEM or attempt == 99:
                            raise
                        time.sleep(0.01)
