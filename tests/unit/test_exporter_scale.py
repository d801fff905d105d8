"""Issue 14's scrape at scale, as a test: 100 containers x 50 syscalls with
latency on, served as the exporter serves it by default (per-class histograms,
the default buckets), is at most 2 MB of text; without latency, far less. The
time of a scrape is measured by ``benchmarks/exporter_overhead.py`` (figures in
the README): on a shared test host a time bound would fail for other reasons."""

from __future__ import annotations

from test_exporter import FakeNames, FakeReader

from cdig.collector.events import Container
from cdig.exporters.prometheus import ExporterCollector
from cdig.exporters.series import Options
from cdig.probes.metrics.layout import LAT_SLOTS
from cdig.probes.syscall_table import table

T = table("x86_64")
CONTAINERS, SYSCALLS = 100, 50


def scrape(latency: bool) -> bytes:
    reader, names = FakeReader(latency=latency), FakeNames()
    nrs = sorted(T.by_nr)[:SYSCALLS]
    for c in range(CONTAINERS):
        cg = 1000 + c
        cid = f"{c:064x}"
        names.add(cg, f"/libpod_parent/libpod-{cid}",
                  Container(id=cid, name=f"c{c}", runtime="podman", image="bench:1",
                            pod_name=f"pod-{c}", pod_namespace="shop"))
        for nr in nrs:
            fields = {"errors": nr % 3, "file_bytes": 10 * nr, "net_bytes": nr}
            if latency:
                fields |= {"lat_sum_ns": 5000 * nr,
                           "lat_slots": {s: 1 + s for s in range(3, 12)} | {LAT_SLOTS - 1: 1}}
            reader.bump(cg, T.name(nr), 1000 + nr, **fields)
            if nr in nrs[:5]:
                reader.fail(cg, T.name(nr), 2, 3)
        reader.procs[cg] = (1, 2, 1)
    col = ExporterCollector(reader, names, T, options=Options(max_containers=CONTAINERS,
                                                             max_syscalls=SYSCALLS))
    col.exposition()  # the first scrape admits the containers and syscalls
    return col.exposition()


def test_100_containers_x_50_syscalls_with_latency_is_at_most_2_mb():
    body = scrape(latency=True)
    text = body.decode()
    assert len(body) <= 2_000_000, len(body)
    # every container's every syscall is there: the bound is not met by leaving series out
    calls = [ln for ln in text.splitlines() if ln.startswith("cdig_syscalls_total{")]
    assert len(calls) == CONTAINERS * SYSCALLS
    assert text.count('cdig_syscall_class_duration_seconds_count{') >= CONTAINERS
    assert "cdig_syscall_duration_seconds_bucket" not in text  # per syscall: an allow-list


def test_without_latency_a_fraction_of_it():
    on, off = scrape(latency=True), scrape(latency=False)
    assert len(off) < len(on) and "_duration_seconds_bucket" not in off.decode()
