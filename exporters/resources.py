"""Per-container resource usage from cgroup files: what cAdvisor is used for.

CPU time, CPU throttling, memory usage and limit, block I/O bytes, tasks and
their limit, for a container's cgroup path. Each value is read from the
cgroup2 file when the cgroup2 hierarchy has it (pure v2 hosts, or cgroup2's
always-present ``cpu.stat`` usage on hybrid hosts), else from the v1
controller's hierarchy (hybrid hosts such as this one keep memory, blkio, pids
and CPU throttling in v1). Missing files give ``None``: the metric is omitted
for that container, never reported as zero.
"""

from __future__ import annotations

import os
from dataclasses import dataclass

from ..collector.cgroups import CgroupLayout, CgroupMount

# v1 memory.limit_in_bytes for "no limit" is PAGE_COUNTER_MAX pages, about
# 2^63; anything this large is no limit.
_V1_UNLIMITED = 1 << 62


@dataclass
class Resources:
    """One container's resource counters (None: not available here)."""

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


def _limit(text: str | None) -> int | None:
    """A v2 ``max``-style limit: None for ``max`` or unreadable."""
    if text is None or text.strip() == "max":
        return None
    return _int(text)


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
    """Reads ``Resources`` for cgroup paths on one host's cgroup layout."""

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

    def _v1(self, controller: str, path: str, name: str) -> str | None:
        d = self._dir(self.layout.v1_mount(controller), path)
        return _read(os.path.join(d, name)) if d else None

    def read(self, path: str) -> Resources:
        r = Resources()
        v2 = self._dir(self.v2, path)

        def f2(name: str) -> str | None:
            return _read(os.path.join(v2, name)) if v2 else None

        cpu = _kv(f2("cpu.stat"))
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

        cur = f2("memory.current")
        if cur is not None:
            r.memory_bytes = _int(cur)
            r.memory_limit_bytes = _limit(f2("memory.max"))
        else:
            r.memory_bytes = _int(self._v1("memory", path, "memory.usage_in_bytes"))
            lim = _int(self._v1("memory", path, "memory.limit_in_bytes"))
            r.memory_limit_bytes = lim if lim is not None and lim < _V1_UNLIMITED else None

        io = parse_io_stat(f2("io.stat"))
        if io is None:
            io = parse_blkio(
                self._v1("blkio", path, "blkio.throttle.io_service_bytes_recursive")
                or self._v1("blkio", path, "blkio.throttle.io_service_bytes"))
        if io is not None:
            r.io_read_bytes, r.io_write_bytes = io

        pids = f2("pids.current")
        if pids is not None:
            r.pids, r.pids_limit = _int(pids), _limit(f2("pids.max"))
        else:
            r.pids = _int(self._v1("pids", path, "pids.current"))
            r.pids_limit = _limit(self._v1("pids", path, "pids.max"))
        return r
