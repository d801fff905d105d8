"""What the TUI reads from the host besides events: CPU of processes, memory and
limits of containers, namespaces, and cdig's own cost.

All of it is read on the refresh worker's thread, never the UI's. ``proc_root``
and ``cgroup_root`` are parameters (fixture trees in tests, a host /proc mounted
elsewhere in a container). A replay reads none of it: ``NoResources`` answers
"unknown" — the capture's host is not this one.
"""

from __future__ import annotations

import os
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass

from ..collector.cgroup_resources import CgroupResources, Limits
from ..collector.cgroups import CgroupLayout
from ..collector.events import Container
from ..collector.namespaces import host_namespaces, namespaces_of

CLK_TCK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100
SHARED_KINDS = ("net", "pid", "ipc", "uts", "user")
PAGE = os.sysconf("SC_PAGE_SIZE") if hasattr(os, "sysconf") else 4096


def stat_ticks(path: str) -> int | None:
    """utime + stime (clock ticks) from a ``/proc/.../stat`` file; None if gone."""
    try:
        with open(path, "rb") as f:
            data = f.read()
    except OSError:
        return None
    rest = data[data.rfind(b")") + 2:].split()
    try:
        return int(rest[11]) + int(rest[12])  # fields 14 and 15 of proc(5)
    except (IndexError, ValueError):
        return None


class CpuSampler:
    """CPU% (of one CPU) of processes, from /proc/PID/stat deltas between samples."""

    def __init__(self, proc_root: str = "/proc",
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.proc_root = proc_root
        self.monotonic = monotonic
        self._last: dict[int, int] = {}
        self._at = 0.0

    def sample(self, pids: Iterable[int]) -> dict[int, float]:
        now = self.monotonic()
        dt = now - self._at if self._at else 0.0
        cur: dict[int, int] = {}
        out: dict[int, float] = {}
        root = self.proc_root
        for pid in pids:
            t = stat_ticks(f"{root}/{pid}/stat")
            if t is None:
                continue
            cur[pid] = t
            prev = self._last.get(pid)
            if prev is not None and dt > 0:
                out[pid] = max(0.0, (t - prev) / CLK_TCK / dt * 100.0)
        self._last, self._at = cur, now
        return out


# a container's memory and CPU limits (the cgroup reader's record)
ContainerResources = Limits


@dataclass
class SecurityRow:
    """The namespaces/security view's facts about one container."""

    shared: tuple[str, ...]  # the kinds of SHARED_KINDS shared with the host
    root: bool | None  # a process runs as uid 0 (host uid)
    userns: bool | None  # has its own user namespace
    memory_limit: bool | None
    cpu_limit: bool | None
    known: bool


@dataclass
class SelfCost:
    """cdig's own cost over the last interval."""

    cpu_pct: float | None = None  # the whole cdig process, % of one CPU
    bpf_pct: float | None = None  # the probes' run time, % of one CPU
    bpf_runs: int = 0  # program runs in the interval
    bpf_avg_ns: float | None = None


class Resources:
    """Host readings for a live ``cdig top``."""

    live = True

    def __init__(self, proc_root: str = "/proc", layout: CgroupLayout | None = None,
                 bpf_stats: Callable[[], dict[str, tuple[int, int]]] | None = None,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.proc_root = proc_root
        # hybrid hosts: the reader finds memory/cpu in v1 when cgroup2 lacks them
        self.cgroups = CgroupResources(layout) if layout is not None else None
        self._ccpu_last: dict[str, int] = {}
        self._ccpu_at = 0.0
        self._host_last: tuple[float, int] | None = None
        self.cpu = CpuSampler(proc_root, monotonic)
        self._cmd: dict[int, tuple[str | None, float]] = {}
        self.bpf_stats = bpf_stats
        self.monotonic = monotonic
        self._self_last: tuple[float, int] | None = None
        self._bpf_last: tuple[float, int, int] | None = None
        self._host_ns: dict[str, int] | None = None

    def cpu_percent(self, pids: Iterable[int]) -> dict[int, float]:
        return self.cpu.sample(pids)

    def proc_memory(self, pids: Iterable[int]) -> dict[int, tuple[int, int]]:
        """VIRT and RES (bytes) of live processes, from /proc/PID/statm."""
        out: dict[int, tuple[int, int]] = {}
        for pid in pids:
            try:
                with open(f"{self.proc_root}/{pid}/statm", "rb") as f:
                    v = f.read().split()
                out[pid] = (int(v[0]) * PAGE, int(v[1]) * PAGE)
            except (OSError, IndexError, ValueError):
                continue
        return out

    def cmdline(self, pid: int) -> str | None:
        """argv of a live process (argv[0] included), from /proc; cached for 10 s."""
        now = self.monotonic()
        got = self._cmd.get(pid)
        if got is not None and now - got[1] < 10:
            return got[0]
        try:
            with open(f"{self.proc_root}/{pid}/cmdline", "rb") as f:
                raw = f.read(4096)
        except OSError:
            return got[0] if got is not None else None
        cmd = " ".join(a.decode("utf-8", "backslashreplace") for a in raw.split(b"\0") if a)
        if len(self._cmd) > 65536:
            self._cmd.clear()
        self._cmd[pid] = (cmd or None, now)
        return cmd or None

    def container_cpu(self, containers: Iterable[Container]) -> dict[str, float]:
        """CPU% (of one CPU) of containers from their cgroup's usage counter: it
        counts processes too short-lived for /proc/PID/stat sampling to see."""
        now = self.monotonic()
        out: dict[str, float] = {}
        cur: dict[str, int] = {}
        for c in containers:
            ns = self._cgroup_cpu_ns(c)
            if ns is None:
                continue
            cur[c.id] = ns
            prev = self._ccpu_last.get(c.id)
            if prev is not None and now > self._ccpu_at:
                out[c.id] = max(0.0, (ns - prev) / 1e9 / (now - self._ccpu_at) * 100.0)
        self._ccpu_last, self._ccpu_at = cur, now
        return out

    def host_cpu(self, container_cpu: dict[str, float]) -> float | None:
        """CPU% (of one CPU) of everything outside containers: the machine's user +
        nice + system time (/proc/stat, one read) less the containers' cgroup
        figures (``container_cpu``, of the same interval). One file instead of every
        host process's /proc/PID/stat at every refresh (the Containers view's cost
        on an idle host); None for the first interval or without /proc/stat."""
        now = self.monotonic()
        try:
            with open(f"{self.proc_root}/stat", "rb") as f:
                v = f.readline().split()
            ticks = int(v[1]) + int(v[2]) + int(v[3])  # "cpu" user nice system
        except (OSError, IndexError, ValueError):
            return None
        last, self._host_last = self._host_last, (now, ticks)
        if last is None or now <= last[0]:
            return None
        busy = (ticks - last[1]) / CLK_TCK / (now - last[0]) * 100.0
        return max(0.0, busy - sum(container_cpu.values()))

    def _cgroup_cpu_ns(self, c: Container) -> int | None:
        if c.is_host or not c.cgroup_path or self.cgroups is None:
            return None
        return self.cgroups.cpu_usage_ns(c.cgroup_path)

    def container(self, c: Container) -> ContainerResources:
        if c.is_host or not c.cgroup_path or self.cgroups is None:
            return ContainerResources()
        return self.cgroups.limits(c.cgroup_path)

    def security(self, c: Container, pids: list[int], uids: list[int]) -> SecurityRow:
        if self._host_ns is None:
            self._host_ns = host_namespaces(self.proc_root)
        ns: dict[str, int] = {}
        for pid in pids[:4]:  # the first process whose links are readable
            ns = namespaces_of(pid, self.proc_root)
            if ns:
                break
        res = self.container(c)
        if not ns:
            return SecurityRow((), 0 in uids if uids else None, None,
                               res.memory_max is not None if res.known else None,
                               res.cpu_max is not None if res.known else None, False)
        shared = tuple(k for k in SHARED_KINDS
                       if k in ns and self._host_ns.get(k) == ns[k])
        return SecurityRow(shared, 0 in uids if uids else None, "user" not in shared,
                           res.memory_max is not None if res.known else None,
                           res.cpu_max is not None if res.known else None, True)

    def self_cost(self) -> SelfCost:
        now = self.monotonic()
        ticks = stat_ticks(f"{self.proc_root}/self/stat")
        out = SelfCost()
        if ticks is not None:
            if self._self_last is not None and now > self._self_last[0]:
                out.cpu_pct = (ticks - self._self_last[1]) / CLK_TCK / \
                    (now - self._self_last[0]) * 100.0
            self._self_last = (now, ticks)
        if self.bpf_stats is not None:
            try:
                st = self.bpf_stats()
            except OSError:
                st = {}
            if st:
                rt = sum(v[0] for v in st.values())
                cnt = sum(v[1] for v in st.values())
                if self._bpf_last is not None and now > self._bpf_last[0]:
                    d_rt, d_cnt = rt - self._bpf_last[1], cnt - self._bpf_last[2]
                    out.bpf_pct = d_rt / 1e9 / (now - self._bpf_last[0]) * 100.0
                    out.bpf_runs = d_cnt
                    out.bpf_avg_ns = d_rt / d_cnt if d_cnt else None
                self._bpf_last = (now, rt, cnt)
        return out


class NoResources:
    """A replay or a test: no host readings (the capture's host is not this one)."""

    live = False

    def container_cpu(self, containers: Iterable[Container]) -> dict[str, float]:
        return {}

    def cpu_percent(self, pids: Iterable[int]) -> dict[int, float]:
        return {}

    def host_cpu(self, container_cpu: dict[str, float]) -> float | None:
        return None

    def cmdline(self, pid: int) -> str | None:
        return None

    def proc_memory(self, pids: Iterable[int]) -> dict[int, tuple[int, int]]:
        return {}

    def container(self, c: Container) -> ContainerResources:
        return ContainerResources()

    def security(self, c: Container, pids: list[int], uids: list[int]) -> SecurityRow:
        return SecurityRow((), 0 in uids if uids else None, None, None, None, False)

    def self_cost(self) -> SelfCost:
        return SelfCost()
