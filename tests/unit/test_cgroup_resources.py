"""The one cgroup resource reader (exporter metrics, ``cdig top``'s limits): this
host's real cgroup files, then crafted v2, v1 and bind-mounted trees for the
cases this host does not have."""

from __future__ import annotations

import os
from pathlib import Path

from cdig.collector.cgroup_resources import (
    V1_MEMORY_UNLIMITED,
    CgroupResources,
    parse_limit,
    parse_v1_memory_limit,
)
from cdig.collector.cgroups import CgroupLayout, CgroupMount, cgroup_layout

LONG_MAX = (1 << 63) - 1


def _text(path: str) -> str | None:
    try:
        with open(path) as f:
            return f.read().strip()
    except OSError:
        return None


def _own_cgroups() -> dict[str, str]:
    """{v1 controller or "": this process's cgroup path} from /proc/self/cgroup."""
    out = {}
    with open("/proc/self/cgroup") as f:
        for line in f:
            _, ctls, path = line.rstrip("\n").split(":", 2)
            for c in ctls.split(",") if ctls else [""]:
                out[c] = path
    return out


def test_this_hosts_no_limit_values_read_as_no_limit():
    # what the kernel writes for "no limit" here: v1 memory PAGE_COUNTER_MAX pages
    # in bytes, v2 "max"; both must read as None, never as a 9 EB limit
    layout = cgroup_layout()
    reader = CgroupResources(layout)
    page = os.sysconf("SC_PAGE_SIZE")
    seen = 0
    mem = layout.v1_mount("memory")
    if mem is not None:  # hybrid/v1 host: the root memcg cannot have a limit
        raw = _text(os.path.join(mem.mountpoint, "memory.limit_in_bytes"))
        assert raw is not None and int(raw) == LONG_MAX // page * page
        assert int(raw) >= V1_MEMORY_UNLIMITED
        assert parse_v1_memory_limit(raw) is None
        assert reader.limits(mem.root).memory_max is None
        assert reader.read(mem.root).memory_limit_bytes is None
        seen += 1
    v2 = layout.unified
    assert v2 is not None or mem is not None, "no cgroup hierarchy mounted"
    if v2 is not None:  # every v2 memory.max / pids.max under the mount, as the kernel wrote it
        for d, _, files in os.walk(v2.mountpoint):
            for name in ("memory.max", "pids.max"):
                if name in files:
                    raw = _text(os.path.join(d, name))
                    want = None if raw in (None, "max") else int(raw)
                    assert parse_limit(raw) == want, (d, name, raw)
                    seen += 1
    assert seen


def test_this_process_cgroup_reads_like_its_files():
    layout = cgroup_layout()
    reader = CgroupResources(layout)
    own = _own_cgroups()
    v2 = layout.unified
    if v2 is not None:
        path = own[""]
        # the file first, then the reader: the counter only grows in between (read the
        # other way round, a busy cgroup's later file value was larger: failed in CI)
        raw = _text(os.path.join(v2.mountpoint, path.lstrip("/"), "cpu.stat"))
        usage = reader.cpu_usage_ns(path)
        if raw is not None and "usage_usec" in raw:  # cgroup2 always counts CPU time
            before = int(raw.split("usage_usec ")[1].split()[0]) * 1000
            assert usage is not None and usage >= before
    mem = layout.v1_mount("memory")
    if mem is not None and "memory" in own:
        d = os.path.join(mem.mountpoint, own["memory"].lstrip("/"))
        lim = reader.limits(own["memory"])
        assert lim.known and lim.memory is not None and lim.memory > 0
        raw = int(_text(os.path.join(d, "memory.limit_in_bytes")) or 0)
        assert lim.memory_max == (None if raw >= V1_MEMORY_UNLIMITED else raw)
    assert v2 is not None or mem is not None


def _write(root: Path, rel: str, files: dict[str, str]) -> None:
    d = root / rel.lstrip("/")
    d.mkdir(parents=True, exist_ok=True)
    for k, v in files.items():
        (d / k).write_text(v)


def test_v2_limits(tmp_path):
    reader = CgroupResources(CgroupLayout("v2", (CgroupMount(str(tmp_path), 2),)))
    _write(tmp_path, "/a", {"memory.current": "4096\n", "memory.max": "max\n",
                            "cpu.max": "max 100000\n", "pids.current": "3\n", "pids.max": "max\n"})
    _write(tmp_path, "/b", {"memory.current": "4096\n", "memory.max": "1073741824\n",
                            "cpu.max": "200000 100000\n", "pids.current": "3\n",
                            "pids.max": "64\n"})
    a, b = reader.limits("/a"), reader.limits("/b")
    assert (a.known, a.memory, a.memory_max, a.cpu_max) == (True, 4096, None, None)
    assert (b.known, b.memory, b.memory_max, b.cpu_max) == (True, 4096, 1 << 30, "200000 100000")
    assert (reader.read("/a").pids_limit, reader.read("/b").pids_limit) == (None, 64)
    assert reader.limits("/gone").known is False and reader.read("/gone").memory_bytes is None


def test_v1_limits_at_every_page_size(tmp_path):
    ctl = {c: tmp_path / c for c in ("memory", "cpu", "cpuacct")}
    reader = CgroupResources(CgroupLayout("v1", tuple(
        CgroupMount(str(p), 1, controllers=(c,)) for c, p in ctl.items())))
    for page in (4096, 16384, 65536):  # x86_64, arm64 16K and 64K kernels
        no_limit = LONG_MAX // page * page
        _write(ctl["memory"], f"/p{page}", {"memory.usage_in_bytes": "8192\n",
                                            "memory.limit_in_bytes": f"{no_limit}\n"})
        assert reader.limits(f"/p{page}").memory_max is None
        assert reader.read(f"/p{page}").memory_limit_bytes is None
    # a real limit, even a large one below the 64K-page no-limit value, is a limit
    big = V1_MEMORY_UNLIMITED - 65536
    _write(ctl["memory"], "/big", {"memory.usage_in_bytes": "1\n",
                                   "memory.limit_in_bytes": f"{big}\n"})
    assert reader.read("/big").memory_limit_bytes == big
    _write(ctl["memory"], "/c", {"memory.usage_in_bytes": "8192\n",
                                 "memory.limit_in_bytes": "536870912\n"})
    _write(ctl["cpu"], "/c", {"cpu.cfs_quota_us": "50000\n", "cpu.cfs_period_us": "100000\n"})
    _write(ctl["cpu"], "/p4096", {"cpu.cfs_quota_us": "-1\n", "cpu.cfs_period_us": "100000\n"})
    _write(ctl["cpuacct"], "/c", {"cpuacct.usage": "123456789\n"})
    c = reader.limits("/c")
    assert (c.memory, c.memory_max, c.cpu_max) == (8192, 512 << 20, "50000 100000")
    assert reader.limits("/p4096").cpu_max is None  # quota -1: no limit
    assert reader.cpu_usage_ns("/c") == 123456789
    assert reader.read("/c").cpu_seconds == 0.123456789


def test_a_bind_mounted_subtree_reads_only_below_its_root(tmp_path):
    # a container with the host's /sys/fs/cgroup/kubepods mounted at tmp_path
    reader = CgroupResources(CgroupLayout("v2", (CgroupMount(str(tmp_path), 2,
                                                             root="/kubepods"),)))
    _write(tmp_path, "/pod1", {"memory.current": "10\n", "memory.max": "20\n"})
    assert reader.limits("/kubepods/pod1").memory_max == 20
    assert reader.limits("/other/pod1").known is False
