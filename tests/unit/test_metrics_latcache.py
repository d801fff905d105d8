"""The latency histograms' per-CPU cache (``record.h``: ``cdig_latent``) as
``MetricsMaps`` reads it, without bpf(2): every CPU's copy of an entry under its
own key, summed with the ``latency`` hash's values; the entries of forgotten
cgroups left out, and listed for the program to take over."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np
from test_metrics_slots import FakeMap

from cdig.probes.metrics.config import Features, MetricsConfig, cflags, latcache_entries
from cdig.probes.metrics.layout import LAT_SLOTS, LATENT, LATSTAT, MKEY, SYSSTAT
from cdig.probes.metrics.maps import MetricsMaps
from cdig.probes.syscall_table import table

T = table("x86_64")
READ, GETPPID = T.nr("read"), T.nr("getppid")


class FakeCpuMap:
    """A per-CPU array's read_cpus(): entries x CPUs."""

    def __init__(self, per: np.ndarray) -> None:
        self.per = per
        self.capacity, self.ncpus = per.shape

    def read_cpus(self):
        return np.arange(self.capacity, dtype=np.uint32), self.per


def entry(cg: int, nr: int, sum_ns: int, slots: dict[int, int]) -> np.ndarray:
    e = np.zeros(1, dtype=LATENT)[0]
    e["cgroup_id"], e["nr"], e["sum_ns"] = cg, nr, sum_ns
    for s, n in slots.items():
        e["slots"][s] = n
    return e


def maps(per: np.ndarray, lat: dict, sysc: dict | None = None) -> MetricsMaps:
    m = MetricsMaps.__new__(MetricsMaps)
    m.latency, m.slots = True, None
    m.syscalls = FakeMap(MKEY, SYSSTAT, 1024, sysc or {})
    m.lat = FakeMap(MKEY, LATSTAT, 1024, lat)
    m.errors = FakeMap(MKEY, np.dtype("<u8"), 512)
    m.procs = FakeMap(np.dtype("<u8"), np.dtype([("execs", "<u8"), ("forks", "<u8"),
                                                 ("exits", "<u8")]), 256)
    m.mstats = FakeMap(np.dtype("<u4"), np.dtype("<u8"), 6)
    m.latcache = FakeCpuMap(per)
    m.deadcg = FakeMap(np.dtype("<u8"), np.dtype("<u1"), 64)
    m.deadgen = FakeMap(np.dtype("<u4"), np.dtype("<u4"), 1, {0: 0})
    m._dead, m._cache_held = set(), 0
    return m


def latstat(sum_ns: int, slots: dict[int, int]) -> np.ndarray:
    v = np.zeros(1, dtype=LATSTAT)[0]
    v["sum_ns"] = sum_ns
    for s, n in slots.items():
        v["slots"][s] = n
    return v


def rows_of(snap) -> dict:
    return {(int(r["cgroup_id"]), int(r["nr"])): (int(r["count"]), int(r["errors"]),
                                                  int(r["lat_sum_ns"]),
                                                  r["lat_slots"].tolist())
            for r in snap.syscalls}


def slots_list(d: dict[int, int]) -> list[int]:
    out = [0] * LAT_SLOTS
    for s, n in d.items():
        out[s] = n
    return out


def test_layout_matches_header():
    h = (resources.files("cdig.probes") / "metrics" / "record.h").read_text()
    assert "struct cdig_latent {" in h
    assert LATENT.itemsize == 16 + 8 * (1 + LAT_SLOTS)
    m = re.search(r"sizeof\(struct cdig_latent\) == 16 \+ 8 \* \(1 \+ CDIG_LAT_SLOTS\)", h)
    assert m is not None
    flags = cflags(MetricsConfig(latcache_max=1024), Features(), T, False)
    assert "-DLAT_CACHE_MAX=1024" in flags
    assert "-DLAT_CACHE_MAX=0" in cflags(MetricsConfig(latcache_max=0), Features(), T, False)
    auto = cflags(MetricsConfig(), Features(), T, False)
    assert f"-DLAT_CACHE_MAX={latcache_entries(MetricsConfig())}" in auto


def test_cache_size_follows_the_cpus():
    c = MetricsConfig()
    assert [latcache_entries(c, n) for n in (1, 2, 8, 9, 16, 64, 256, 1024)] == [
        2048, 2048, 2048, 1024, 1024, 256, 64, 64]
    assert latcache_entries(MetricsConfig(latcache_max=8), 64) == 8


def test_cpus_copies_and_the_hash_are_summed_by_key():
    per = np.zeros((8, 2), dtype=LATENT)
    per[3, 0] = entry(100, GETPPID, 50, {2: 4})  # the same pair on both CPUs,
    per[6, 1] = entry(100, GETPPID, 30, {2: 1, 3: 1})  # at other sets' entries
    per[3, 1] = entry(200, READ, 900, {5: 2})  # another pair at the same index
    key = (100, READ, 0)
    m = maps(per, {(100, GETPPID, 0): latstat(10, {1: 1}), key: latstat(7, {1: 1})},
             {key: (1, 1, 0, 0)})
    snap = m.read()
    assert rows_of(snap) == {
        (100, GETPPID): (7, 0, 90, slots_list({1: 1, 2: 5, 3: 1})),
        (100, READ): (2, 1, 7, slots_list({1: 1})),  # an untimed (failed) call + 1 timed
        (200, READ): (2, 0, 900, slots_list({5: 2})),
    }
    usage = {u.name: (u.entries, u.capacity) for u in snap.maps}
    assert usage["latency_cache"] == (3, 16) and usage["latency"] == (2, 1024)


def test_forgotten_cgroups_are_left_out_and_offered_for_taking_over():
    per = np.zeros((4, 2), dtype=LATENT)
    per[0, 0] = entry(100, GETPPID, 50, {2: 4})
    per[1, 1] = entry(300, READ, 5, {0: 1})
    m = maps(per, {})
    m.forget([300, 400])
    assert sorted(m.deadcg.d) == [300, 400]
    assert m.deadgen.d[0] == 1  # the program looks the holders up again
    assert set(rows_of(m.read())) == {(100, GETPPID)}
    assert m._dead == {300}  # 400 holds no entry: nothing to filter
    per[1, 1] = entry(500, READ, 1, {0: 1})  # taken over
    assert set(rows_of(m.read())) == {(100, GETPPID), (500, READ)}
    assert m._dead == set()
    m.forget([100])
    assert m.deadgen.d[0] == 2 and set(rows_of(m.read())) == {(500, READ)}
