"""What a container's cgroup files say: CPU time and throttling, memory and its
limit, CPU quota, block I/O bytes, tasks and their limit. The one reader of
these files: the exporter's resource metrics and ``cdig top`` read them here.

Each value comes from the cgroup2 file when the unified hierarchy has it (pure
v2 hosts, or cgroup2's always-present ``cpu.stat`` usage on hybrid hosts), else
from the v1 controller's hierarchy (hybrid hosts keep memory, blkio, pids and
CPU throttling in v1). Missing or unreadable files give ``None``: unknown,
never zero.

"No limit", as the kernel writes it:

- v2 ``memory.max``, ``pids.max``, v1 ``pids.max``: ``max``; v2 ``cpu.max``:
  ``max 100000`` (the period follows).
- v1 ``memory.limit_in_bytes``: PAGE_COUNTER_MAX pages in bytes,
  ``(LONG_MAX / PAGE_SIZE) * PAGE_SIZE`` (mm/memcontrol-v1.c, RES_LIMIT):
  9223372036854771712 with 4 KiB pages, 2^63 - 65536 with arm64's 64 KiB. A
  limit written larger is clamped to that, so anything at or above the
  smallest of these (64 KiB pages) is no limit.
- v1 ``cpu.cfs_quota_us``: ``-1``.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from .cgroups import CgroupLayout, CgroupMount

_LONG_MAX = (1 << 63) - 1
# the v1 "no memory limit" value with the largest page size Linux has (64 KiB):
# 4 KiB and 16 KiB pages write a larger one
V1_MEMORY_UNLIMITED = _LONG_MAX // 65536 * 65536


@dataclass
class Resources:
    """One cgroup's resource counters (None: not available here)."""

    cpu_seconds: float | None = None
    cpu_periods: int | None = None
    cpu_throttled_periods: int | None = None
    cpu_throttled_seconds: float | None = None
    memory_bytes: int | None = None
    memory_limit_bytes: int | None = None  # None also when unlimited
    io_read_bytes: int | None = None
    io_write_bytes: int | None = None
    pids: int | None = None
    pids_limit: int | None = None  # None also when unlimited


@dataclass
class Limits:
    """A cgroup's memory and CPU limits, as ``cdig top`` shows them."""

    memory: int | None = None  # bytes
    memory_max: int | None = None  # bytes; None: no limit (or unknown: see ``known``)
    cpu_max: str | None = None  # v2 form: "200000 100000" = 2 CPUs; None: no limit
    known: bool = False  # a memory or CPU file was readable


def _read(path: str) -> str | None:
    try:
        with open(path, encoding="ascii", errors="replace") as f:
            return f.read(1 << 16)
    except OSError:
        return None


def _int(text: str | None) -> int | None:
    if text is None:
        return None
    try:
        return int(text.strip())
    except ValueError:
        return None


def parse_limit(text: str | None) -> int | None:
    """A ``max``-style limit (v2 ``memory.max``, ``pids.max``): None for ``max`` or
    unreadable."""
    if text is None or text.strip() == "max":
        return None
    return _int(text)


def parse_v1_memory_limit(text: str | None) -> int | None:
    """v1 ``memory.limit_in_bytes``: None for no limit (PAGE_COUNTER_MAX pages) or
    unreadable."""
    n = _int(text)
    return n if n is not None and n < V1_MEMORY_UNLIMITED else None


def parse_v1_cpu_max(quota: str | None, period: str | None) -> str | None:
    """v1 ``cpu.cfs_quota_us`` and ``cpu.cfs_period_us`` in v2's ``cpu.max`` form:
    ``"max 100000"`` for no quota (-1), None when the quota is unreadable."""
    if quota is None:
        return None
    q = quota.strip()
    p = (period or "").strip() or "100000"
    return f"max {p}" if q.startswith("-") else f"{q} {p}"


def _kv(text: str | None) -> dict[str, int]:
    out: dict[str, int] = {}
    for line in (text or "").splitlines():
        parts = line.split()
        if len(parts) == 2:
            try:
                out[parts[0]] = int(parts[1])
            except ValueError:
                pass
    return out


def parse_io_stat(text: str | None) -> tuple[int, int] | None:
    """(read bytes, write bytes) summed over devices from v2 ``io.stat``."""
    if text is None:
        return None
    rd = wr = 0
    for line in text.splitlines():
        for tok in line.split()[1:]:
            k, _, v = tok.partition("=")
            if k == "rbytes":
                rd += int(v)
            elif k == "wbytes":
                wr += int(v)
    return rd, wr


def parse_blkio(text: str | None) -> tuple[int, int] | None:
    """(read bytes, write bytes) from v1 ``blkio.throttle.io_service_bytes``."""
    if text is None:
        return None
    rd = wr = 0
    for line in text.splitlines():
        parts = line.split()
        if len(parts) == 3 and parts[1] in ("Read", "Write"):
            try:
                n = int(parts[2])
            except ValueError:
                continue
            if parts[1] == "Read":
                rd += n
            else:
                wr += n
    return rd, wr


class CgroupResources:
    """Reads the resource files of cgroup paths on one host's cgroup layout."""

    def __init__(self, layout: CgroupLayout) -> None:
        self.layout = layout
        self.v2 = layout.unified

    @staticmethod
    def _dir(mount: CgroupMount | None, path: str) -> str | None:
        if mount is None:
            return None
        root = mount.root.rstrip("/")
        if root and path != root and not path.startswith(root + "/"):
            return None  # outside what is mounted here
        rel = path[len(root):] if root else path
        return os.path.join(mount.mountpoint, rel.lstrip("/"))

    def _f2(self, path: str, name: str) -> str | None:
        d = self._dir(self.v2, path)
        return _read(os.path.join(d, name)) if d else None

    def _v1(self, controller: str, path: str, name: str) -> str | None:
        d = self._dir(self.layout.v1_mount(controller), path)
        return _read(os.path.join(d, name)) if d else None

    def cpu_usage_ns(self, path: str) -> int | None:
        """The CPU time the cgroup's tasks used, ns (v2 ``cpu.stat`` usage_usec, v1
        ``cpuacct.usage``)."""
        usec = _kv(self._f2(path, "cpu.stat")).get("usage_usec")
        if usec is not None:
            return usec * 1000
        return _int(self._v1("cpuacct", path, "cpuacct.usage"))

    def limits(self, path: str) -> Limits:
        """Memory use, memory limit and CPU quota of one cgroup."""
        out = Limits()
        cur = self._f2(path, "memory.current")
        if cur is not None:
            out.memory = _int(cur)
            out.memory_max = parse_limit(self._f2(path, "memory.max"))
            out.known = True
        else:
            use = self._v1("memory", path, "memory.usage_in_bytes")
            lim = self._v1("memory", path, "memory.limit_in_bytes")
            out.memory = _int(use)
            out.memory_max = parse_v1_memory_limit(lim)
            out.known = use is not None or lim is not None
        cpu_max = self._f2(path, "cpu.max")
        if cpu_max is None:
            cpu_max = parse_v1_cpu_max(self._v1("cpu", path, "cpu.cfs_quota_us"),
                                       self._v1("cpu", path, "cpu.cfs_period_us"))
        if cpu_max is not None:
            out.known = True
            cpu_max = cpu_max.strip()
            out.cpu_max = None if not cpu_max or cpu_max.startswith("max") else cpu_max
        return out

    def read(self, path: str) -> Resources:
        """Every counter of one cgroup (the exporter's per-container metrics)."""
        r = Resources()
        cpu = _kv(self._f2(path, "cpu.stat"))
        if "usage_usec" in cpu:
            r.cpu_seconds = cpu["usage_usec"] / 1e6
        else:
            ns = _int(self._v1("cpuacct", path, "cpuacct.usage"))
            r.cpu_seconds = ns / 1e9 if ns is not None else None
        if "nr_periods" in cpu:
            r.cpu_periods, r.cpu_throttled_periods = cpu["nr_periods"], cpu.get("nr_throttled")
            t = cpu.get("throttled_usec")
            r.cpu_throttled_seconds = t / 1e6 if t is not None else None
        else:
            v1 = _kv(self._v1("cpu", path, "cpu.stat"))
            if "nr_periods" in v1:
                r.cpu_periods, r.cpu_throttled_periods = v1["nr_periods"], v1.get("nr_throttled")
                t = v1.get("throttled_time")  # ns
                r.cpu_throttled_seconds = t / 1e9 if t is not None else None

        cur = self._f2(path, "memory.current")
        if cur is not None:
            r.memory_bytes = _int(cur)
            r.memory_limit_bytes = parse_limit(self._f2(path, "memory.max"))
        else:
            r.memory_bytes = _int(self._v1("memory", path, "memory.usage_in_bytes"))
            r.memory_limit_bytes = parse_v1_memory_limit(
                self._v1("memory", path, "memory.limit_in_bytes"))

        io = parse_io_stat(self._f2(path, "io.stat"))
        if io is None:
            io = parse_blkio(
                self._v1("blkio", path, "blkio.throttle.io_service_bytes_recursive")
                or self._v1("blkio", path, "blkio.throttle.io_service_bytes"))
        if io is not None:
            r.io_read_bytes, r.io_write_bytes = io

        pids = self._f2(path, "pids.current")
        if pids is not None:
            r.pids, r.pids_limit = _int(pids), parse_limit(self._f2(path, "pids.max"))
        else:
            r.pids = _int(self._v1("pids", path, "pids.current"))
            r.pids_limit = parse_limit(self._v1("pids", path, "pids.max"))
        return r
