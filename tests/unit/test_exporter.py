"""The Prometheus exporter without root: the collector over synthetic map
contents (a fake ``MapReader`` and fake cgroup names), the series bookkeeping
over time, the web config, resource files, and the exposition itself
(golden text, ``promtool check metrics``)."""

from __future__ import annotations

import base64
import errno
import os
import re
import shutil
import subprocess
from importlib import resources
from pathlib import Path

import numpy as np
import pytest
from factories import make_event
from prometheus_client import CollectorRegistry, generate_latest

from cdig import cli
from cdig.collector.cgroup_resources import CgroupResources
from cdig.collector.cgroups import CgroupLayout, CgroupMount
from cdig.collector.events import HOST, Container
from cdig.collector.fields import resolve
from cdig.exporters import basic_auth, listen, web, web_config
from cdig.exporters.prometheus import (
    DEFAULT_BUCKET_SLOTS,
    FINE_BUCKET_SLOTS,
    ExporterCollector,
)
from cdig.exporters.series import Options
from cdig.probes.io_calls import byte_direction
from cdig.probes.metrics.config import Features, MetricsConfig
from cdig.probes.metrics.layout import (
    CLS_FORK,
    CLS_NET,
    CLS_RW,
    CLS_SOCKCLR,
    LAT_SLOTS,
    LATSTAT,
    MKEY,
    MSTAT_NAMES,
    PROCSTAT,
    SYSSTAT,
    sysclass,
)
from cdig.probes.metrics.maps import MapSnapshot, MapUsage
from cdig.probes.syscall_table import table

T = table("x86_64")
NR = {n: T.nr(n) for n in ("read", "write", "openat", "close", "getppid", "sendto",
                           "recvfrom", "futex", "sendfile", "execve")}
GOLDEN = Path(__file__).resolve().parent.parent / "fixtures" / "exporter" / "exposition.prom"
LABELS = ("container_id", "container_name", "image", "pod", "namespace")

WEB1 = Container(id="a" * 64, name="web1", runtime="podman", image="localhost/bb:1",
                 cgroup_path="/libpod_parent/libpod-" + "a" * 64, pod_name="web-0",
                 pod_namespace="shop")
DB1 = Container(id="b" * 64, name="db1", runtime="podman", image="localhost/db:2",
                cgroup_path="/libpod_parent/libpod-" + "b" * 64)


# --------------------------------------------------------------------------
# fakes


class FakeReader:
    """``MapReader`` over dicts: syscalls[(cg, nr)] = {field: value}."""

    def __init__(self, latency: bool = True) -> None:
        self.latency = latency
        self.syscalls: dict[tuple[int, int], dict] = {}
        self.errors: dict[tuple[int, int, int], int] = {}
        self.procs: dict[int, tuple[int, int, int]] = {}
        self.drops: dict[str, int] = {}
        self.forgotten: list[int] = []

    def bump(self, cg: int, name: str, n: int = 1, **fields) -> None:
        v = self.syscalls.setdefault((cg, NR[name] if name in NR else T.nr(name)), {})
        v["count"] = v.get("count", 0) + n
        for k, x in fields.items():
            if k == "lat_slots":
                slots = v.setdefault(k, {})
                for i, m in x.items():
                    slots[i] = slots.get(i, 0) + m
            else:
                v[k] = v.get(k, 0) + x

    def fail(self, cg: int, name: str, errno_: int, n: int = 1) -> None:
        self.bump(cg, name, n, errors=n)
        key = (cg, T.nr(name), errno_)
        self.errors[key] = self.errors.get(key, 0) + n

    def read(self) -> MapSnapshot:
        return MapSnapshot.build(
            self.syscalls, self.errors, self.procs, latency=self.latency, drops=self.drops,
            maps=[MapUsage("syscalls", len(self.syscalls), 1024),
                  MapUsage("errors", len(self.errors), 512),
                  MapUsage("procs", len(self.procs), 256)])

    def forget(self, cgroup_ids) -> None:
        ids = set(cgroup_ids)
        self.forgotten += sorted(ids)
        self.syscalls = {k: v for k, v in self.syscalls.items() if k[0] not in ids}
        self.errors = {k: v for k, v in self.errors.items() if k[0] not in ids}
        self.procs = {k: v for k, v in self.procs.items() if k not in ids}


class FakeNames:
    """``CgroupNames`` over dicts: which cgroups exist, and whose they are."""

    def __init__(self) -> None:
        self.paths: dict[int, str] = {1: "/"}
        self.owner: dict[str, Container] = {"/": HOST}
        self.undecided: set[str] = set()
        self.walks = 0

    def add(self, cg: int, path: str, container: Container | None) -> None:
        self.paths[cg] = path
        if container is not None:
            self.owner[path] = container

    def walk(self) -> dict[int, str]:
        self.walks += 1
        return dict(self.paths)

    def path_of(self, cgroup_id: int) -> str | None:
        return self.paths.get(cgroup_id)

    def container_of(self, path: str) -> Container | None:
        if path in self.undecided:
            return None
        return self.owner.get(path, HOST)

    def settle(self, timeout: float) -> None:
        pass


class Clock:
    def __init__(self) -> None:
        self.t = 1000.0

    def __call__(self) -> float:
        return self.t

    def tick(self, s: float) -> None:
        self.t += s


class Rig:
    """A collector in its own registry over the fakes."""

    def __init__(self, latency: bool = True, bucket_slots=DEFAULT_BUCKET_SLOTS, **opts) -> None:
        self.reader = FakeReader(latency)
        self.names = FakeNames()
        self.clock = Clock()
        opts.setdefault("walk_interval", 0.0)  # walk at every update: deterministic
        opts.setdefault("grace", 30.0)
        self.collector = ExporterCollector(
            self.reader, self.names, T, options=Options(**opts), clock=self.clock,
            bucket_slots=bucket_slots, build_info={"version": "test", "python": "test"})
        self.registry = CollectorRegistry()
        self.registry.register(self.collector)

    def value(self, name: str, c: Container | str, **labels: str) -> float | None:
        return self.registry.get_sample_value(name, {**clabels(c), **labels})

    def text(self) -> str:
        return generate_latest(self.registry).decode()

    def container_ids(self, metric: str = "cdig_file_bytes_total") -> set[str]:
        out = set()
        for fam in self.registry.collect():
            for s in fam.samples:
                if s.name == metric:
                    out.add(s.labels["container_id"])
        return out

    def samples(self, metric: str) -> list:
        return [s for fam in self.registry.collect() for s in fam.samples if s.name == metric]


def clabels(c: Container | str) -> dict[str, str]:
    if c == "other":
        return dict(zip(LABELS, ("other", "other", "", "", ""), strict=True))
    assert isinstance(c, Container)
    return dict(zip(LABELS, (c.id, c.name, c.image, c.pod_name, c.pod_namespace), strict=True))


def calls(rig: Rig, c, syscall: str) -> float | None:
    return rig.value("cdig_syscalls_total", c, syscall=syscall)


# --------------------------------------------------------------------------
# values


def test_counts_errors_bytes_procs():
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "getppid", 500)
    rig.reader.fail(10, "openat", 2, 7)  # ENOENT
    rig.reader.bump(10, "openat", 3)
    rig.reader.bump(10, "write", 100, file_bytes=100)
    rig.reader.bump(10, "read", 4, file_bytes=10, net_bytes=30)  # a socket read among them
    rig.reader.bump(10, "sendto", 2, net_bytes=64)
    rig.reader.bump(10, "sendfile", 1, net_bytes=4096)
    rig.reader.procs[10] = (2, 5, 1)
    rig.reader.bump(1, "futex", 9)
    assert calls(rig, WEB1, "getppid") == 500
    assert calls(rig, WEB1, "openat") == 10
    assert rig.value("cdig_syscall_errors_total", WEB1, syscall="openat", errno="ENOENT") == 7
    assert rig.value("cdig_file_bytes_total", WEB1, direction="write") == 100
    assert rig.value("cdig_file_bytes_total", WEB1, direction="read") == 10
    assert rig.value("cdig_network_bytes_total", WEB1, direction="receive") == 30
    assert rig.value("cdig_network_bytes_total", WEB1, direction="transmit") == 64 + 4096
    assert rig.value("cdig_process_execs_total", WEB1) == 2
    assert rig.value("cdig_process_forks_total", WEB1) == 5
    assert rig.value("cdig_process_exits_total", WEB1) == 1
    assert calls(rig, HOST, "futex") == 9
    assert rig.value("cdig_syscalls_total", HOST, syscall="getppid") is None
    assert rig.container_ids() == {"host", WEB1.id}  # no "other" until something overflows


def test_counters_grow_between_scrapes_by_exactly_the_increase():
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "getppid", 3)
    before = calls(rig, WEB1, "getppid")
    rig.reader.bump(10, "getppid", 1000)
    assert calls(rig, WEB1, "getppid") - before == 1000


def test_kernel_restart_codes_are_named():
    rig = Rig()
    rig.reader.fail(1, "futex", 512)
    rig.reader.fail(1, "futex", 999)
    assert rig.value("cdig_syscall_errors_total", HOST, syscall="futex",
                     errno="ERESTARTSYS") == 1
    assert rig.value("cdig_syscall_errors_total", HOST, syscall="futex", errno="E999") == 1


def test_errno_labels_are_the_names_cdig_trace_prints_for_every_errno():
    # the exporter's errno label and evt.res of `cdig trace` read one table: 95 is
    # EOPNOTSUPP and 35 EDEADLK in both (Python's errno.errorcode says ENOTSUP, EDEADLOCK)
    evt_res = resolve("evt.res")
    numbers = sorted({*errno.errorcode, *range(512, 531), 999})
    rig = Rig()
    for n in numbers:
        rig.reader.fail(1, "openat", n)
    labels = {s.labels["errno"] for s in rig.samples("cdig_syscall_errors_total")}
    trace = {evt_res.text(make_event(type="openat", res=-n)) for n in numbers}
    assert labels == trace
    assert len(labels) == len(numbers)  # one series per number: no two share a name
    assert {"EOPNOTSUPP", "EDEADLK", "EAGAIN", "ERESTARTSYS", "E999"} <= labels
    assert not {"ENOTSUP", "EDEADLOCK", "EWOULDBLOCK"} & labels


def test_histogram_buckets_are_cumulative_with_sum_and_count():
    rig = Rig(bucket_slots=FINE_BUCKET_SLOTS, latency_syscalls=frozenset({"read"}))
    # base-4 slots: slot k counts 4^k < d <= 4^(k+1) ns. 3 calls of <= 4^5 ns
    # (~1 us), 4 of (4^5, 4^6], 2 of (4^16, 4^17], 1 beyond 4^17 ns (~17 s)
    slots = {1: 1, 4: 2, 5: 4, 16: 2, LAT_SLOTS - 1: 1}
    rig.reader.bump(1, "read", 10, lat_sum_ns=123_456_789_000, lat_slots=slots)
    samples = [s for s in rig.samples("cdig_syscall_duration_seconds_bucket")
               if s.labels["syscall"] == "read"]
    les = [s.labels["le"] for s in samples]
    counts = [s.value for s in samples]
    assert les[-1] == "+Inf" and les[0] == "1.024e-06"
    bounds = [float(x) for x in les[:-1]]
    assert bounds == sorted(bounds) and [round(b * 1e9) for b in bounds] == [
        4 ** k for k in range(5, 18)]
    assert counts == sorted(counts), "buckets must be cumulative"
    by_le = dict(zip(les, counts, strict=True))
    assert by_le["1.024e-06"] == 3  # slots 0..4: d <= 4^5 ns
    assert by_le["4.096e-06"] == 7  # slots 0..5: d <= 4^6 ns
    assert by_le[les[-3]] == 7  # d <= 4^16 ns
    assert by_le[les[-2]] == 9  # d <= 4^17 ns
    assert by_le["+Inf"] == 10
    lab = {**clabels(HOST), "syscall": "read"}
    assert rig.registry.get_sample_value("cdig_syscall_duration_seconds_count", lab) == 10
    assert rig.registry.get_sample_value("cdig_syscall_duration_seconds_sum", lab) == \
        pytest.approx(123.456789)


def test_latency_by_class_by_default_and_per_syscall_only_for_the_allow_list():
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "read", 3, lat_sum_ns=3000, lat_slots={4: 3})
    rig.reader.bump(10, "write", 2, lat_sum_ns=9000, lat_slots={6: 2})
    rig.reader.bump(10, "futex", 4, lat_sum_ns=4 * 10 ** 9, lat_slots={15: 4})
    rig.reader.bump(10, "connect", 1, lat_sum_ns=70_000, lat_slots={7: 1})
    text = rig.text()
    assert "cdig_syscall_duration_seconds" not in text  # no per-syscall histogram
    cnt = "cdig_syscall_class_duration_seconds_count"
    assert rig.value(cnt, WEB1, **{"class": "file"}) == 5  # read + write
    assert rig.value(cnt, WEB1, **{"class": "wait"}) == 4  # futex blocks by design
    assert rig.value(cnt, WEB1, **{"class": "net"}) == 1
    assert rig.value(cnt, WEB1, **{"class": "other"}) is None  # none seen: no series
    assert rig.value("cdig_syscall_class_duration_seconds_sum", WEB1,
                     **{"class": "file"}) == pytest.approx(12e-6)
    les = [s.labels["le"] for s in rig.samples("cdig_syscall_class_duration_seconds_bucket")
           if s.labels["class"] == "file"]
    assert les == ["1.024e-06", "6.5536e-05", "0.004194304", "0.268435456", "+Inf"]
    b = "cdig_syscall_class_duration_seconds_bucket"
    assert rig.value(b, WEB1, **{"class": "file", "le": "1.024e-06"}) == 3
    assert rig.value(b, WEB1, **{"class": "file", "le": "6.5536e-05"}) == 5
    assert rig.value(b, WEB1, **{"class": "wait", "le": "0.268435456"}) == 0
    assert rig.value(b, WEB1, **{"class": "wait", "le": "+Inf"}) == 4

    rig = Rig(latency_syscalls=frozenset({"write"}))
    rig.reader.bump(1, "read", 3, lat_sum_ns=3000, lat_slots={4: 3})
    rig.reader.bump(1, "write", 2, lat_sum_ns=9000, lat_slots={6: 2})
    assert rig.value("cdig_syscall_duration_seconds_count", HOST, syscall="write") == 2
    assert rig.value("cdig_syscall_duration_seconds_count", HOST, syscall="read") is None
    assert rig.value(cnt, HOST, **{"class": "file"}) == 5

    rig = Rig(latency_syscalls=None)  # --latency-syscalls all
    rig.reader.bump(1, "read", 3, lat_sum_ns=3000, lat_slots={4: 3})
    assert rig.value("cdig_syscall_duration_seconds_count", HOST, syscall="read") == 3


def test_label_allow_list_merges_containers_that_agree():
    rig = Rig(labels=("namespace", "pod"))
    web2 = Container(id="c" * 64, name="web2", runtime="podman", image="localhost/bb:2",
                     cgroup_path="/libpod_parent/libpod-" + "c" * 64, pod_name="web-0",
                     pod_namespace="shop")
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.names.add(11, web2.cgroup_path, web2)
    rig.names.add(12, DB1.cgroup_path, DB1)
    rig.reader.bump(10, "write", 100, file_bytes=100, lat_sum_ns=100, lat_slots={4: 100})
    rig.reader.bump(11, "write", 5, file_bytes=50, lat_sum_ns=5, lat_slots={4: 5})
    rig.reader.fail(10, "openat", 2, 2)
    rig.reader.fail(11, "openat", 2, 3)
    rig.reader.bump(12, "write", 7)
    shop = {"namespace": "shop", "pod": "web-0"}
    g = rig.registry.get_sample_value
    assert g("cdig_syscalls_total", {**shop, "syscall": "write"}) == 105
    assert g("cdig_syscall_errors_total", {**shop, "syscall": "openat", "errno": "ENOENT"}) == 5
    assert g("cdig_file_bytes_total", {**shop, "direction": "write"}) == 150
    assert g("cdig_syscall_class_duration_seconds_count", {**shop, "class": "file"}) == 105
    assert g("cdig_syscalls_total", {"namespace": "", "pod": "", "syscall": "write"}) == 7
    text = rig.text()
    assert not re.search(r"[{,](container_id|container_name|image)=", text)
    _same(rig)
    with pytest.raises(ValueError, match="unknown label 'binary'"):
        Rig(labels=("binary",))


def test_no_latency_means_no_histogram():
    rig = Rig(latency=False)
    rig.reader.bump(1, "read", 5)
    text = rig.text()
    assert "cdig_syscall_duration_seconds" not in text
    assert calls(rig, HOST, "read") == 5
    assert 'latency="false"' in text


def test_self_metrics():
    rig = Rig(max_containers=7, max_syscalls=9)
    rig.reader.drops = {"syscalls_map_full": 4, "latency_unpaired": 2}
    rig.reader.bump(1, "read")
    g = rig.registry.get_sample_value
    assert g("cdig_events_dropped_total", {"reason": "syscalls_map_full"}) == 4
    assert g("cdig_events_dropped_total", {"reason": "errors_map_full"}) == 0
    assert g("cdig_syscall_latency_unpaired_total") == 2
    assert g("cdig_bpf_map_entries", {"map": "syscalls"}) == 1
    assert g("cdig_bpf_map_capacity", {"map": "syscalls"}) == 1024
    assert g("cdig_label_limit", {"label": "container_id"}) == 7
    assert g("cdig_label_limit", {"label": "syscall"}) == 9
    assert g("cdig_label_values", {"label": "syscall"}) == 1  # read
    assert g("cdig_label_values", {"label": "container_id"}) == 1  # host
    assert g("cdig_scrape_duration_seconds") >= 0
    assert g("cdig_build_info", {"version": "test", "python": "test", "latency": "true"}) == 1


# --------------------------------------------------------------------------
# correctness over time


def test_gone_container_series_removed_after_grace_and_map_entries_deleted():
    rig = Rig(grace=30)
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "getppid", 5)
    assert calls(rig, WEB1, "getppid") == 5
    rig.reader.bump(10, "getppid", 2)  # its last calls, then the cgroup goes
    del rig.names.paths[10]
    assert calls(rig, WEB1, "getppid") == 7  # final value still scraped
    assert rig.reader.forgotten == [10]  # kernel entries freed at once
    rig.clock.tick(29)
    assert calls(rig, WEB1, "getppid") == 7
    rig.clock.tick(2)
    assert calls(rig, WEB1, "getppid") is None
    assert rig.container_ids() == {"host"}


def test_container_back_within_grace_continues():
    rig = Rig(grace=30)
    rig.names.add(10, "/runc-x", WEB1)
    rig.reader.bump(10, "read", 5)
    calls(rig, WEB1, "read")
    del rig.names.paths[10]
    calls(rig, WEB1, "read")
    rig.clock.tick(10)
    rig.names.add(11, "/runc-x", WEB1)  # same container, new cgroup
    rig.reader.bump(11, "read", 1)
    assert calls(rig, WEB1, "read") == 6


def test_child_cgroup_going_away_does_not_lower_the_sum():
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.names.add(11, WEB1.cgroup_path + "/sub", WEB1)
    rig.reader.bump(10, "read", 5)
    rig.reader.bump(11, "read", 7)
    assert calls(rig, WEB1, "read") == 12
    del rig.names.paths[11]
    assert calls(rig, WEB1, "read") == 12
    rig.reader.bump(10, "read", 1)
    assert calls(rig, WEB1, "read") == 13


def test_reused_cgroup_id_does_not_inherit_counts():
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "write", 40)
    assert calls(rig, WEB1, "write") == 40
    # web1 goes and db1's cgroup gets the same inode number before the next
    # walk: the kernel keeps counting into the same map entries
    del rig.names.paths[10]
    rig.names.add(10, DB1.cgroup_path, DB1)
    rig.reader.bump(10, "write", 3)
    assert calls(rig, DB1, "write") == 3
    assert calls(rig, WEB1, "write") == 40
    rig.reader.bump(10, "write", 1)
    assert calls(rig, DB1, "write") == 4
    rig.clock.tick(31)  # web1 has no cgroup left: gone after the grace period
    assert calls(rig, WEB1, "write") is None and calls(rig, DB1, "write") == 4


def test_reused_id_after_it_was_forgotten_starts_from_zero():
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "write", 40)
    calls(rig, WEB1, "write")
    del rig.names.paths[10]
    calls(rig, WEB1, "write")  # seen gone: entries deleted
    rig.names.add(10, DB1.cgroup_path, DB1)
    rig.reader.bump(10, "write", 2)
    assert calls(rig, DB1, "write") == 2


def test_undecided_cgroup_is_exported_later_with_all_its_counts():
    rig = Rig()
    rig.names.add(10, "/r1", Container(id="r1", name="r1", runtime="runc", cgroup_path="/r1"))
    rig.names.undecided.add("/r1")  # e.g. runc has not written its state yet
    rig.reader.bump(10, "getppid", 4)
    assert "r1" not in rig.container_ids()
    assert rig.value("cdig_syscalls_total", HOST, syscall="getppid") is None
    rig.names.undecided.clear()
    rig.reader.bump(10, "getppid", 1)
    assert rig.registry.get_sample_value(
        "cdig_syscalls_total",
        {**dict(zip(LABELS, ("r1", "r1", "", "", ""), strict=True)), "syscall": "getppid"}) == 5


def test_cgroup_gone_before_it_was_named_counts_as_other():
    rig = Rig()
    rig.reader.bump(99, "getppid", 3)  # no path: created and removed between walks
    assert "other" not in rig.container_ids()  # not yet: a later walk may find it
    rig.clock.tick(1)
    assert calls(rig, "other", "getppid") == 3
    assert 99 in rig.reader.forgotten


def test_counters_are_monotonic_through_churn():
    """Random churn of containers, child cgroups, reuse and overflow: every
    exported counter series only grows while it exists."""
    rng = np.random.default_rng(7)
    rig = Rig(max_containers=3, max_syscalls=4, grace=5)
    seen: dict[tuple, float] = {}
    next_cg = 100
    live: dict[int, Container] = {}
    for step in range(150):
        op = rng.integers(0, 6)
        if op == 0 or not live:
            i = next_cg
            next_cg += 1
            c = Container(id=f"c{i:062d}", name=f"c{i}", runtime="podman",
                          cgroup_path=f"/libpod_parent/libpod-c{i}")
            rig.names.add(i, c.cgroup_path, c)
            live[i] = c
        elif op == 1:
            cg = int(rng.choice(list(live)))
            del rig.names.paths[cg]
            del live[cg]
        elif op == 2 and live:  # reuse an id for a new container
            cg = int(rng.choice(list(live)))
            c = Container(id=f"r{step:062d}", name=f"r{step}", runtime="podman",
                          cgroup_path=f"/libpod_parent/libpod-r{step}")
            rig.names.add(cg, c.cgroup_path, c)
            live[cg] = c
        for cg in list(live) + [1]:
            name = ["read", "write", "openat", "close", "futex", "getppid"][rng.integers(0, 6)]
            rig.reader.bump(cg, name, int(rng.integers(1, 50)))
        rig.clock.tick(float(rng.integers(0, 3)))
        for s in rig.samples("cdig_syscalls_total"):
            key = tuple(sorted(s.labels.items()))
            assert s.value >= seen.get(key, 0), (step, key)
            seen[key] = s.value
        assert len(rig.container_ids()) <= 3 + 2


# --------------------------------------------------------------------------
# cardinality


def _containers(rig: Rig, n: int, start: int = 10) -> list[Container]:
    out = []
    for i in range(n):
        c = Container(id=f"{start + i:064x}", name=f"c{start + i}", runtime="podman",
                      cgroup_path=f"/libpod_parent/libpod-{start + i:064x}")
        rig.names.add(start + i, c.cgroup_path, c)
        out.append(c)
    return out


def test_container_overflow_goes_to_other_and_other_never_decreases():
    rig = Rig(max_containers=2, grace=10)
    cs = _containers(rig, 5)
    for i, _ in enumerate(cs):
        rig.reader.bump(10 + i, "getppid", 100 * (i + 1))  # the busiest get their own series
    ids = rig.container_ids()
    assert ids == {"host", cs[4].id, cs[3].id, "other"}
    assert calls(rig, "other", "getppid") == 100 + 200 + 300
    assert rig.registry.get_sample_value("cdig_containers_folded") == 3
    assert rig.registry.get_sample_value("cdig_label_values", {"label": "container_id"}) == 4
    # a folded container goes away: "other" keeps its counts, after grace too
    del rig.names.paths[10]
    assert calls(rig, "other", "getppid") == 600
    rig.clock.tick(11)
    assert calls(rig, "other", "getppid") == 600
    # an own container goes away: after grace its slot is free for a new one,
    # while containers already in "other" stay there (sticky)
    del rig.names.paths[14]
    calls(rig, cs[4], "getppid")
    rig.clock.tick(11)
    new = _containers(rig, 1, start=50)[0]
    rig.reader.bump(50, "getppid", 1)
    rig.reader.bump(11, "getppid", 1000)
    assert rig.container_ids() == {"host", cs[3].id, new.id, "other"}
    assert calls(rig, "other", "getppid") == 1600


def test_syscall_overflow_top_n_sticky():
    rig = Rig(max_syscalls=2)
    rig.reader.bump(1, "read", 50)
    rig.reader.bump(1, "write", 40)
    rig.reader.bump(1, "close", 1)
    assert calls(rig, HOST, "read") == 50 and calls(rig, HOST, "write") == 40
    assert calls(rig, HOST, "other") == 1
    rig.reader.bump(1, "getppid", 10_000)  # busier now, but the labels are taken
    assert calls(rig, HOST, "getppid") is None
    assert calls(rig, HOST, "other") == 10_001
    assert {s.labels["syscall"] for s in rig.samples("cdig_syscalls_total")} == \
        {"read", "write", "other"}


def test_syscall_allow_list():
    rig = Rig(syscall_allow=frozenset({"openat", "getppid"}))
    rig.reader.bump(1, "read", 50)
    rig.reader.bump(1, "openat", 2)
    rig.reader.fail(1, "read", 11)
    assert {s.labels["syscall"] for s in rig.samples("cdig_syscalls_total")} == \
        {"openat", "other"}
    assert rig.value("cdig_syscall_errors_total", HOST, syscall="other", errno="EAGAIN") == 1


# --------------------------------------------------------------------------
# exposition


def _golden_rig() -> Rig:
    rig = Rig()
    rig.names.add(10, WEB1.cgroup_path, WEB1)
    rig.reader.bump(10, "write", 100, file_bytes=100, lat_sum_ns=150_000,
                    lat_slots={4: 60, 5: 40})
    rig.reader.fail(10, "openat", 2, 5)
    rig.reader.bump(10, "recvfrom", 2, net_bytes=10, lat_sum_ns=9000, lat_slots={6: 2})
    rig.reader.procs[10] = (1, 2, 1)
    rig.reader.bump(1, "getppid", 7, lat_sum_ns=2100, lat_slots={4: 7})
    return rig


def _stable(text: str) -> str:
    return "\n".join(ln for ln in text.splitlines()
                     if not ln.startswith("cdig_scrape_duration_seconds ")) + "\n"


def test_exposition_golden():
    got = _stable(_golden_rig().collector.exposition().decode())
    if os.environ.get("CDIG_UPDATE_GOLDEN"):
        GOLDEN.parent.mkdir(parents=True, exist_ok=True)
        GOLDEN.write_text(got)
    assert got == GOLDEN.read_text()


def _same(rig: Rig) -> None:
    """The fast rendering is what prometheus_client makes of collect()."""
    fams = rig.collector.families()
    from cdig.exporters.exposition import render

    fast = "".join(render(fams))
    reg = CollectorRegistry()

    class Fixed:
        def collect(self):
            return [f.metric() for f in fams]

    reg.register(Fixed())
    assert fast == generate_latest(reg).decode()


def test_fast_rendering_equals_generate_latest():
    _same(_golden_rig())
    fine = Rig(bucket_slots=FINE_BUCKET_SLOTS, latency_syscalls=None)
    fine.reader.bump(1, "write", 100, lat_sum_ns=150_000, lat_slots={4: 60, 5: 40})
    _same(fine)
    rig = Rig(max_containers=1, max_syscalls=2, latency=False)
    _containers(rig, 3)
    for i in range(3):
        rig.reader.bump(10 + i, "read", 12_345_678 * (i + 1), file_bytes=10 ** (i + 5))
        rig.reader.fail(10 + i, "openat", 2, 3)
    rig.reader.procs[10] = (1, 2, 3)
    _same(rig)
    odd = Container(id="x", name='we"ird\\name\nx', runtime="podman", image="i:1")
    rig.names.add(50, "/odd", odd)
    rig.collector.state.options.max_containers = 10
    rig.reader.bump(50, "write", 1)
    _same(rig)


def test_http_serves_the_fast_rendering():
    from cdig.exporters.web import exposition_app

    rig = _golden_rig()
    app = exposition_app(rig.collector.exposition)
    got = {}

    def sr(status, headers, exc_info=None):
        got["status"], got["headers"] = status, dict(headers)

    body = b"".join(app({"REQUEST_METHOD": "GET", "HTTP_ACCEPT_ENCODING": "gzip"}, sr))
    import gzip

    assert got["headers"]["Content-Encoding"] == "gzip"
    assert got["headers"]["Content-Type"].startswith("text/plain; version=0.0.4")
    assert _stable(gzip.decompress(body).decode()) == GOLDEN.read_text()
    app({"REQUEST_METHOD": "POST"}, sr)
    assert got["status"].startswith("405")


def test_promtool_check_metrics():
    promtool = shutil.which("promtool")
    if promtool is None:
        if os.environ.get("CI") == "true":
            pytest.fail("promtool not installed (CI=true: a missing tool is a failure); "
                        "scripts/setup.sh installs it")
        pytest.skip("promtool not installed")
    rig = _golden_rig()
    rig.collector.state.options.max_containers = 0  # "other" in the output too
    rig.names.add(11, DB1.cgroup_path, DB1)
    rig.reader.bump(11, "read", 1)
    text = rig.collector.exposition().decode()
    r = subprocess.run([promtool, "check", "metrics"], input=text, capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0 and not r.stdout.strip() and not r.stderr.strip(), \
        r.stdout + r.stderr


# --------------------------------------------------------------------------
# the probe's layout and program text


def test_layout_matches_header():
    h = (resources.files("cdig.probes") / "metrics" / "record.h").read_text()
    assert int(re.search(r"#define CDIG_LAT_SLOTS (\d+)", h).group(1)) == LAT_SLOTS
    for name, val in (("CLS_RW", CLS_RW), ("CLS_NET", CLS_NET),
                      ("CLS_SOCKCLR", CLS_SOCKCLR), ("CLS_FORK", CLS_FORK)):
        assert int(re.search(rf"#define CDIG_{name} (\d+)", h).group(1)) == val
    stats = re.findall(r"#define CDIG_MSTAT_(\w+) (\d+)", h)
    assert [n.lower() for n, i in stats if n != "MAX"] == [
        "syscalls_full", "errors_full", "procs_full", "lat_unpaired", "lat_nostore", "lat_full"]
    assert len(MSTAT_NAMES) == int(dict(stats)["MAX"])
    assert MKEY.itemsize == 16 and PROCSTAT.itemsize == 24
    assert SYSSTAT.itemsize == 32
    assert LATSTAT.itemsize == 8 * (1 + LAT_SLOTS)


def test_sysclass_and_directions():
    cls = sysclass(T)
    assert cls[T.nr("read")] == CLS_RW and cls[T.nr("sendfile")] == CLS_RW
    assert cls[T.nr("recvmsg")] == CLS_NET
    assert cls[T.nr("sendmmsg")] == CLS_SOCKCLR
    assert cls[T.nr("clone3")] == CLS_FORK
    assert cls[T.nr("getppid")] == 0
    assert byte_direction("pwritev2") == "write"
    assert byte_direction("recvfrom") == "read"
    assert byte_direction("openat") is None


def test_program_defines_follow_options():
    from cdig.probes.metrics.probe import MetricsProbe

    full = Features(sock_split=True, group_dead=True, no_prealloc=True,
                            task_storage=True, task_pt_regs=True)
    p = MetricsProbe(MetricsConfig(), T, full)
    text = p.dump()
    assert p.pairing == "task"
    for d in ("LATENCY", "LAT_TASK_STORAGE", "SOCK_SPLIT", "HAVE_GROUP_DEAD"):
        assert f"#define {d}\n" in text
    assert "#define LAT_MAP_FLAGS BPF_F_NO_PREALLOC" in text
    assert "#define LATENCY_MAX 16384" in text
    assert "RAW_TRACEPOINT_PROBE(sys_exit)" in text
    # no typed sys_enter_* hooks without latency where the task's registers can be read
    nolat = MetricsProbe(MetricsConfig(latency=False), T, full).dump()
    assert "#define HAVE_TASK_PT_REGS\n" in nolat
    old = Features()
    p = MetricsProbe(MetricsConfig(latency=False), T, old)
    text = p.dump()
    assert p.pairing == "off"
    assert "#define LATENCY" not in text and "#define SOCK_SPLIT" not in text
    assert "#define HAVE_TASK_PT_REGS" not in text
    p = MetricsProbe(MetricsConfig(), T, old)
    text = p.dump()
    assert p.pairing == "hash" and "#define LAT_TASK_STORAGE" not in text
    # preallocated on old kernels: the latency map is kept small
    assert "#define LAT_MAP_FLAGS 0" in text and "#define LATENCY_MAX 4096" in text


def test_features_from_tracefs(tmp_path):
    ev = tmp_path / "events"
    (ev / "sched" / "sched_process_exit").mkdir(parents=True)
    (ev / "sched" / "sched_process_exit" / "format").write_text("field:bool group_dead;")
    f = Features.detect(str(tmp_path), release="6.0.9-foo")
    assert f.group_dead and not f.sock_split and not f.no_prealloc
    for e in ("sock_send_length", "sock_recv_length"):
        (ev / "sock" / e).mkdir(parents=True)
        (ev / "sock" / e / "format").write_text("field:int ret;")
    f = Features.detect(str(tmp_path), release="6.18.0")
    assert f.sock_split and f.no_prealloc


# --------------------------------------------------------------------------
# resources from cgroup files


def _write(root: Path, rel: str, files: dict[str, str]) -> None:
    d = root / rel.lstrip("/")
    d.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (d / k).write_text(v)


def test_resources_v2(tmp_path):
    path = "/kubepods.slice/x.scope"
    _write(tmp_path, path, {
        "cpu.stat": "usage_usec 2500000\nuser_usec 1\nsystem_usec 1\nnr_periods 10\n"
                    "nr_throttled 3\nthrottled_usec 400000\n",
        "memory.current": "1048576\n", "memory.max": "max\n",
        "io.stat": "8:0 rbytes=100 wbytes=200 rios=1 wios=2\n259:0 rbytes=1 wbytes=2\n",
        "pids.current": "4\n", "pids.max": "100\n"})
    layout = CgroupLayout("v2", (CgroupMount(str(tmp_path), 2),))
    r = CgroupResources(layout).read(path)
    assert (r.cpu_seconds, r.cpu_periods, r.cpu_throttled_periods) == (2.5, 10, 3)
    assert r.cpu_throttled_seconds == pytest.approx(0.4)
    assert (r.memory_bytes, r.memory_limit_bytes) == (1048576, None)
    assert (r.io_read_bytes, r.io_write_bytes) == (101, 202)
    assert (r.pids, r.pids_limit) == (4, 100)


def test_resources_hybrid_reads_v1_controllers(tmp_path):
    path = "/libpod_parent/libpod-x"
    v2, v1 = tmp_path / "unified", tmp_path
    _write(v2, path, {"cpu.stat": "usage_usec 1000000\n"})  # no controllers in cgroup2
    _write(v1 / "cpu", path, {"cpu.stat": "nr_periods 5\nnr_throttled 1\n"
                                          "throttled_time 2000000000\n"})
    _write(v1 / "memory", path, {"memory.usage_in_bytes": "4096\n",
                                 "memory.limit_in_bytes": "9223372036854771712\n"})
    _write(v1 / "blkio", path, {"blkio.throttle.io_service_bytes": (
        "8:0 Read 10\n8:0 Write 20\n8:0 Sync 0\n8:0 Total 30\nTotal 30\n")})
    _write(v1 / "pids", path, {"pids.current": "2\n", "pids.max": "max\n"})
    layout = CgroupLayout("hybrid", (
        CgroupMount(str(v2), 2),
        CgroupMount(str(v1 / "cpu"), 1, controllers=("cpu",)),
        CgroupMount(str(v1 / "memory"), 1, controllers=("memory",)),
        CgroupMount(str(v1 / "blkio"), 1, controllers=("blkio",)),
        CgroupMount(str(v1 / "pids"), 1, controllers=("pids",)),
    ))
    r = CgroupResources(layout).read(path)
    assert r.cpu_seconds == 1.0
    assert (r.cpu_periods, r.cpu_throttled_periods, r.cpu_throttled_seconds) == (5, 1, 2.0)
    assert (r.memory_bytes, r.memory_limit_bytes) == (4096, None)
    assert (r.io_read_bytes, r.io_write_bytes) == (10, 20)
    assert (r.pids, r.pids_limit) == (2, None)


def test_resource_metrics_exported_for_live_containers(tmp_path):
    path = WEB1.cgroup_path
    _write(tmp_path, path, {"cpu.stat": "usage_usec 3000000\n", "memory.current": "77\n",
                            "memory.max": "1000\n"})
    rig = Rig()
    rig.collector.resources = CgroupResources(CgroupLayout("v2", (CgroupMount(str(tmp_path),
                                                                              2),)))
    rig.names.add(10, path, WEB1)
    rig.reader.bump(10, "read")
    assert rig.value("cdig_container_cpu_usage_seconds_total", WEB1) == 3.0
    assert rig.value("cdig_container_memory_usage_bytes", WEB1) == 77
    assert rig.value("cdig_container_memory_limit_bytes", WEB1) == 1000
    assert rig.value("cdig_container_pids", WEB1) is None  # no file: no sample, not 0


# --------------------------------------------------------------------------
# web config, listen addresses, auth


@pytest.fixture(scope="module")
def cert(tmp_path_factory) -> tuple[Path, Path]:
    if shutil.which("openssl") is None:
        pytest.skip("openssl not installed")
    d = tmp_path_factory.mktemp("tls")
    subprocess.run(["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2",
                    "-subj", "/CN=localhost", "-keyout", str(d / "k.pem"),
                    "-out", str(d / "c.pem")], check=True, capture_output=True)
    return d / "c.pem", d / "k.pem"


HASH = "$2b$04$EIHNonp4R1dQvCW1r8S2HO2yLC2rsSL0oMbLo1.2U.CljUCvXNx7u"  # "secret"


def test_web_config_tls_and_users(cert, tmp_path):
    c, k = cert
    f = tmp_path / "web.yml"
    f.write_text(f"tls_server_config:\n  cert_file: {c}\n  key_file: {k}\n"
                 f"  min_version: TLS13\nbasic_auth_users:\n  prom: '{HASH}'\n"
                 "http_server_config:\n  headers:\n    X-Frame-Options: deny\n")
    cfg = web_config.load_web_config(str(f))
    assert cfg.tls and cfg.auth and cfg.min_version == "TLS13"
    assert cfg.headers == {"X-Frame-Options": "deny"}
    assert cfg.ssl_context() is not None


def test_web_config_relative_paths(cert, tmp_path):
    c, k = cert
    shutil.copy(c, tmp_path / "c.pem")
    shutil.copy(k, tmp_path / "k.pem")
    (tmp_path / "web.yml").write_text("tls_server_config: {cert_file: c.pem, key_file: k.pem}\n")
    cfg = web_config.load_web_config(str(tmp_path / "web.yml"))
    assert cfg.cert_file == str(tmp_path / "c.pem")


@pytest.mark.parametrize("text,needle", [
    ("tls_server_config: [", "not valid YAML at line"),
    ("- a\n- b\n", "top level: expected a mapping"),
    ("tls_config: {}\n", "unknown key 'tls_config'"),
    ("tls_server_config: {cert_file: CERT}\n", "cert_file and key_file are both required"),
    ("tls_server_config: {cert_file: /nope.pem, key_file: KEY}\n", "no such file: /nope.pem"),
    ("tls_server_config: {cert_file: KEY, key_file: KEY}\n", "cannot load cert_file"),
    ("tls_server_config: {cert_file: CERT, key_file: KEY, min_version: TLS14}\n",
     "unknown version 'TLS14'"),
    ("tls_server_config: {cert_file: CERT, key_file: KEY, cipher_suites: [x]}\n",
     "tls_server_config.cipher_suites:"),
    ("tls_server_config: {cert_file: CERT, key_file: KEY, client_auth_type: "
     "RequireAndVerifyClientCert}\n", "needs client_ca_file"),
    ("tls_server_config: {cert_file: CERT, key_file: KEY, client_auth_type: Bogus}\n",
     "unknown value 'Bogus'"),
    ("tls_server_config: {cert_file: CERT, key_file: KEY, min_version: TLS13, "
     "max_version: TLS12}\n", "max_version is below min_version"),
    ("basic_auth_users: {prom: secret}\n", "basic_auth_users.prom: not a bcrypt hash"),
    ("basic_auth_users: [prom]\n", "basic_auth_users: expected a mapping"),
    ("http_server_config: {headers: {'Bad Name': x}}\n", "bad header name"),
    ("http_server_config: {nope: 1}\n", "http_server_config: unknown key 'nope'"),
])
def test_web_config_errors(cert, tmp_path, text, needle):
    c, k = cert
    with pytest.raises(web_config.WebConfigError) as e:
        web_config.parse_web_config(text.replace("CERT", str(c)).replace("KEY", str(k)),
                             str(tmp_path))
    msg = str(e.value)
    assert needle in msg and "\n" not in msg


def test_web_config_unreadable(tmp_path):
    with pytest.raises(web_config.WebConfigError, match="cannot read"):
        web_config.load_web_config(str(tmp_path / "missing.yml"))


@pytest.mark.parametrize("text,host,port", [
    ("127.0.0.1:9464", "127.0.0.1", 9464), (":9100", "", 9100), ("[::1]:80", "::1", 80),
    ("localhost:0", "localhost", 0)])
def test_parse_listen(text, host, port):
    a = listen.parse_listen(text)
    assert (a.host, a.port) == (host, port)


@pytest.mark.parametrize("text", ["9464", "127.0.0.1", "1.2.3.4:99999", "::1:80", "a:b", ""])
def test_parse_listen_rejects(text):
    with pytest.raises(ValueError):
        listen.parse_listen(text)


def test_loopback():
    assert listen.is_loopback(listen.ListenAddress("127.0.0.1", 1))
    assert listen.is_loopback(listen.ListenAddress("127.3.4.5", 1))
    assert listen.is_loopback(listen.ListenAddress("localhost", 1))
    assert not listen.is_loopback(listen.ListenAddress("", 1))
    assert not listen.is_loopback(listen.ListenAddress("0.0.0.0", 1))


def test_basic_auth():
    auth = basic_auth.BasicAuth({"prom": HASH.encode()})

    def hdr(user: str, pw: str) -> str:
        return "Basic " + base64.b64encode(f"{user}:{pw}".encode()).decode()

    assert auth.check(hdr("prom", "secret"))
    assert auth.check(hdr("prom", "secret"))  # cached
    assert not auth.check(hdr("prom", "wrong"))
    assert not auth.check(hdr("nobody", "secret"))
    assert not auth.check("Basic !!!")
    assert not auth.check("Bearer x")
    assert not auth.check(None)


def test_app_routes_and_auth():
    calls_ = []

    def metrics_app(environ, start_response):
        start_response("200 OK", [("Content-Type", "text/plain")])
        calls_.append(1)
        return [b"m 1\n"]

    cfg = web_config.WebConfig(users={"prom": HASH.encode()}, headers={"X-A": "b"})
    app = web.make_app(metrics_app, cfg)
    got = {}

    def sr(status, headers, exc_info=None):
        got["status"], got["headers"] = status, dict(headers)

    good = "Basic " + base64.b64encode(b"prom:secret").decode()
    assert app({"PATH_INFO": "/metrics"}, sr) == [b"Unauthorized\n"]
    assert got["status"].startswith("401") and "WWW-Authenticate" in got["headers"]
    assert app({"PATH_INFO": "/metrics", "HTTP_AUTHORIZATION": good}, sr) == [b"m 1\n"]
    assert got["status"] == "200 OK" and got["headers"]["X-A"] == "b"
    app({"PATH_INFO": "/nope", "HTTP_AUTHORIZATION": good}, sr)
    assert got["status"].startswith("404")


# --------------------------------------------------------------------------
# the CLI's refusals (no root needed: they come before BPF)


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


@pytest.mark.parametrize("argv,needle,code", [
    (("--listen", "nonsense"), "cdig: --listen 'nonsense': expected HOST:PORT", 2),
    (("--listen", "0.0.0.0:9464"), "refusing to serve metrics on 0.0.0.0:9464 without TLS", 2),
    (("--listen", ":9464"), "refusing to serve metrics on :9464", 2),
    (("--syscalls", "read,nosuchcall"), "--syscalls: unknown syscall 'nosuchcall'", 2),
    (("--web-config", "/nonexistent.yml"), "cdig: --web-config /nonexistent.yml: cannot read", 1),
])
def test_cli_refusals(capsys, monkeypatch, argv, needle, code):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    got, _, err = run(capsys, "exporter", *argv)
    assert got == code, err
    assert needle in err and len(err.strip().splitlines()) == 1, err


def test_cli_rejects_non_positive_numbers(capsys):
    with pytest.raises(SystemExit) as e:
        cli.main(["exporter", "--max-containers", "0"])
    assert e.value.code == 2 and "must be positive" in capsys.readouterr().err


def test_cli_without_root(capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = run(capsys, "exporter")
    assert code == cli.EXIT_ERROR
    assert err.strip() == "cdig: the exporter needs root (BPF); run with sudo"


def test_cli_dump_bpf(capsys):
    code, out, _ = run(capsys, "exporter", "--dump-bpf", "--no-latency")
    assert code == 0 and "RAW_TRACEPOINT_PROBE(sys_exit)" in out
    assert "#define LATENCY" not in out
