"""The metrics probe's count array (``probes/metrics/slots.py``) without bpf(2):
rows read as (cgroup, syscall, count), merged with the ``syscalls`` hash, and
slots freed in the order that keeps a reclaimed row empty."""

from __future__ import annotations

import re
from importlib import resources

import numpy as np

from cdig.probes.metrics.config import Features, MetricsConfig, cflags, slot_nrs
from cdig.probes.metrics.layout import MKEY, SLOT_NONE, SYSSTAT, slotrow
from cdig.probes.metrics.maps import MetricsMaps
from cdig.probes.metrics.slots import SlotCounts
from cdig.probes.syscall_table import table

T = table("x86_64")
NRS = 512  # syscall numbers in a row, here


class FakeMap:
    """A BpfMap's read/update/delete over a dict (values already summed over CPUs)."""

    def __init__(self, key: np.dtype, value: np.dtype, capacity: int,
                 entries: dict | None = None, log: list | None = None,
                 name: str = "") -> None:
        self.key, self.value, self.capacity = np.dtype(key), np.dtype(value), capacity
        self.d = dict(entries or {})
        self.log: list[tuple[str, str, list]] = [] if log is None else log
        self.name = name

    def read(self):
        ks = sorted(self.d)
        k = np.array(ks, dtype=self.key)
        v = np.zeros(len(ks), dtype=self.value)
        for i, x in enumerate(ks):
            v[i] = self.d[x]
        return k, v

    def update(self, keys, values):
        self.log.append((self.name, "update", keys.tolist()))
        for k, v in zip(keys.tolist(), values, strict=True):
            self.d[k] = v

    def delete(self, keys):
        self.log.append((self.name, "delete", keys.tolist()))
        for k in keys.tolist():
            self.d.pop(k, None)
        return len(keys)


def row(**counts: int) -> np.ndarray:
    r = np.zeros(1, dtype=slotrow(NRS))[0]
    for name, n in counts.items():
        r["count"][T.nr(name)] = n
    return r


def slot_counts(cgslot: dict[int, int], rows: dict[int, np.ndarray],
                capacity: int = 4) -> SlotCounts:
    s = SlotCounts.__new__(SlotCounts)
    log: list = []
    s.rows = FakeMap(np.dtype("<u4"), slotrow(NRS), capacity,
                     {i: rows.get(i, row()) for i in range(capacity)}, log, "rows")
    s.cgslot = FakeMap(np.dtype("<u8"), np.dtype("<u4"), 64, cgslot, log, "cgslot")
    s.owner = FakeMap(np.dtype("<u4"), np.dtype("<u8"), capacity,
                      {v: k for k, v in cgslot.items() if v != SLOT_NONE}, log, "owner")
    return s


def test_layout_matches_header():
    h = (resources.files("cdig.probes") / "metrics" / "record.h").read_text()
    assert int(re.search(r"#define CDIG_SLOT_NONE (0x[0-9a-f]+)u", h).group(1), 16) == SLOT_NONE
    assert slotrow(451).itemsize == 8 * 451
    flags = cflags(MetricsConfig(latency=False, slots_max=32), Features(), T, False)
    assert "-DSLOTS_MAX=32" in flags and f"-DSLOT_NRS={slot_nrs(T)}" in flags
    assert slot_nrs(T) == T.max_nr  # every syscall of the table has a column


def test_rows_read_as_triples():
    s = slot_counts({100: 0, 200: 2, 300: SLOT_NONE},
                    {0: row(getppid=5, read=1), 2: row(write=7), 1: row(close=9)})
    got, held, refused = s.read()
    triples = sorted((int(r["cgroup_id"]), int(r["nr"]), int(r["count"])) for r in got)
    assert triples == sorted([(100, T.nr("getppid"), 5), (100, T.nr("read"), 1),
                              (200, T.nr("write"), 7)])  # slot 1 has no cgroup: not read
    assert (held, refused) == (2, 1)


def test_merge_with_the_hash_sums_counts_and_keeps_errors_and_bytes():
    m = MetricsMaps.__new__(MetricsMaps)
    m.latency, m.lat = False, None
    m.slots = slot_counts({100: 0}, {0: row(read=10, getppid=3)})
    k = np.zeros(2, dtype=MKEY)
    k["cgroup_id"], k["nr"] = (100, 300), (T.nr("read"), T.nr("getppid"))
    v = np.zeros(2, dtype=SYSSTAT)
    v["count"], v["errors"], v["file_bytes"] = (2, 4), (1, 0), (4096, 0)
    m.syscalls = FakeMap(MKEY, SYSSTAT, 1024)
    m.syscalls.read = lambda: (k, v)
    m.errors = FakeMap(MKEY, np.dtype("<u8"), 512)
    m.procs = FakeMap(np.dtype("<u8"), np.dtype([("execs", "<u8"), ("forks", "<u8"),
                                                 ("exits", "<u8")]), 256)
    m.mstats = FakeMap(np.dtype("<u4"), np.dtype("<u8"), 6)
    snap = m.read()
    rows = {(int(r["cgroup_id"]), int(r["nr"])): (int(r["count"]), int(r["errors"]),
                                                  int(r["file_bytes"]))
            for r in snap.syscalls}
    # read: 2 counted in the hash (before the cgroup had its slot) + 10 in its row
    assert rows == {(100, T.nr("read")): (12, 1, 4096), (100, T.nr("getppid")): (3, 0, 0),
                    (300, T.nr("getppid")): (4, 0, 0)}
    usage = {u.name: (u.entries, u.capacity) for u in snap.maps}
    assert usage["slots"] == (1, 4) and usage["slotless_cgroups"] == (0, 64)


def test_free_zeroes_the_row_before_releasing_the_slot():
    s = slot_counts({100: 0, 200: 1, 300: SLOT_NONE}, {0: row(getppid=5), 1: row(read=2)})
    s.free([100, 999])
    assert 100 not in s.cgslot.d and 0 not in s.owner.d and 1 in s.owner.d
    assert int(s.rows.d[0]["count"].sum()) == 0 and int(s.rows.d[1]["count"].sum()) == 2
    ops = [(name, op) for name, op, keys in s.rows.log if keys]
    # the cgroup's entry first (no new lookups), the row zeroed, then the slot free
    assert ops == [("cgslot", "delete"), ("rows", "update"), ("owner", "delete"),
                   ("cgslot", "delete")]
    # the cgroup refused a slot may try again now one is free
    assert 300 not in s.cgslot.d and s.cgslot.d[200] == 1
    # a cgroup without a slot going frees nothing and keeps the refusals
    s = slot_counts({300: SLOT_NONE, 400: SLOT_NONE}, {})
    s.free([300])
    assert s.cgslot.d == {400: SLOT_NONE}
    assert [op for name, op, keys in s.rows.log if name != "cgslot" and keys] == []
