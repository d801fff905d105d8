"""probes/objcache.py against the kernel: the cached object is the compiled one
with only SELF_TGID and the map fds left open, and a probe loaded from the cache
(no bcc) records exactly what a compiled one does, and nothing of cdig itself.

Needs root, BPF, bcc and tracefs."""

from __future__ import annotations

import os
import subprocess
import sys
import time

import numpy as np
import pytest

from cdig.probes.loader import probe_dir
from cdig.probes.objcache import ObjectCache
from cdig.probes.objload import SENTINEL_TGID, compile_object
from cdig.probes.syscalls import layout
from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

from .containers import require

SYS_GETPPID = 110


@pytest.fixture(autouse=True)
def _needs():
    require("root", "bpf", "bcc", "tracefs")


def test_only_the_tgid_immediates_and_map_fds_differ_between_compiles():
    """Compiled with two SELF_TGID values, the programs differ exactly at the
    instructions recorded for SELF_TGID and at the map loads (other fds)."""
    p = SyscallProbe(ProbeConfig(), cache=False)
    inc = [f"-I{probe_dir('syscalls')}"]
    a = compile_object(p.source(), [*inc, *p.cflags(SENTINEL_TGID)])
    b = compile_object(p.source(), [*inc, *p.cflags(SENTINEL_TGID + 1)], SENTINEL_TGID + 1)
    assert [m.name for m in a.maps] == [m.name for m in b.maps]
    assert sum(len(x.tgid_at) for x in a.progs) >= 2  # the two SELF_TGID tests in the C
    for pa, pb in zip(a.progs, b.progs, strict=True):
        assert pa.name == pb.name and len(pa.insns) == len(pb.insns)
        ia = np.frombuffer(pa.insns, dtype="<u8")
        ib = np.frombuffer(pb.insns, dtype="<u8")
        differ = set(np.flatnonzero(ia != ib).tolist())
        maps = {i for i, _ in pa.map_refs}
        assert set(pa.tgid_at) <= differ
        assert differ <= set(pa.tgid_at) | maps, pa.name
        assert pa.map_refs == pb.map_refs


def _count(probe: SyscallProbe, pid: int, want: int) -> int:
    """getppid exits of ``pid`` drained until ``want`` (and 0.2 s more) or 10 s."""
    n = 0
    start = time.monotonic()
    done_at = None
    while time.monotonic() - start < 10:
        a = probe.rings[0].drain()["rec"]
        n += int(np.count_nonzero((a["pid"] == pid) & (a["nr"] == SYS_GETPPID)
                                  & (a["kind"] == layout.KIND_SYSCALL)))
        if n >= want and done_at is None:
            done_at = time.monotonic()
        if done_at is not None and time.monotonic() - done_at > 0.2:
            break
        time.sleep(0.01)
    return n


def test_probe_from_the_cache_records_exactly(tmp_path, workload_bin):
    cache = ObjectCache(tmp_path)
    cold = SyscallProbe(ProbeConfig(), cache=cache)
    cold.load()
    cold.close()
    assert cold.loaded_from == "compiled"
    # the workload is not the loader's descendant (those are never traced): started
    # here, held at a FIFO that the loading process opens once attached
    gate = tmp_path / "gate"
    os.mkfifo(gate)
    w = subprocess.Popen([str(workload_bin), "gate", str(gate), "getppid", "1234"])
    # a new process (no bcc imported yet) loads it from the cache
    code = f"""
import os, sys
from pathlib import Path
from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe
from cdig.probes.objcache import ObjectCache
sys.path.insert(0, {str(os.path.dirname(__file__) + "/../..")!r})
from tests.integration.test_objcache_live import _count
p = SyscallProbe(ProbeConfig(), cache=ObjectCache(Path({str(tmp_path)!r})))
p.load()
bcc = "bcc" in sys.modules
for _ in range(500):
    os.getppid()  # cdig's own: never recorded
with open({str(gate)!r}, "w") as g:
    g.write("x")
n = _count(p, {w.pid}, 1234)
own = _count(p, os.getpid(), 0)
print(p.loaded_from, bcc, n, own, p.stats()["dropped_ring"])
p.close()
"""
    try:
        out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                             timeout=60)
    finally:
        w.kill()
        w.wait()
    assert out.returncode == 0, out.stderr
    assert out.stdout.split() == ["cache", "False", "1234", "0", "0"]


@pytest.mark.parametrize("latency", [False, True], ids=["no-latency", "latency"])
def test_metrics_probe_from_the_cache_counts_exactly(tmp_path, latency):
    """The exporter's / cdig top's probe (no SELF_TGID in it) is kept too: a new
    process loads it without bcc and counts its own getppid calls exactly."""
    from cdig.probes.metrics.config import MetricsConfig
    from cdig.probes.metrics.probe import MetricsProbe

    cold = MetricsProbe(MetricsConfig(latency=latency), cache=ObjectCache(tmp_path))
    cold.load()
    cold.close()
    assert cold.loaded_from == "compiled"
    code = f"""
import os, sys
from pathlib import Path
from cdig.probes.metrics.config import MetricsConfig
from cdig.probes.metrics.probe import MetricsProbe
from cdig.probes.objcache import ObjectCache
p = MetricsProbe(MetricsConfig(latency={latency}), cache=ObjectCache(Path({str(tmp_path)!r})))
p.load()
bcc = "bcc" in sys.modules
for _ in range(4321):
    os.getppid()
snap = p.maps.read()
nr = p.table.nr("getppid")
sys.path.insert(0, {str(os.path.dirname(__file__) + "/../..")!r})
from tests.integration.containers import cgroup_id, proc_cgroup
own = cgroup_id(proc_cgroup(os.getpid()))  # this cgroup's id, as BPF sees it
rows = snap.syscalls[(snap.syscalls["nr"] == nr) & (snap.syscalls["cgroup_id"] == own)]
print(p.loaded_from, bcc, int(rows["count"].sum()))
p.close()
"""
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         timeout=60)
    assert out.returncode == 0, out.stderr
    loaded, bcc, n = out.stdout.split()
    assert (loaded, bcc) == ("cache", "False")
    # this process's 4321, and at most a few of whatever else shares its cgroup
    assert 4321 <= int(n) <= 4321 + 100


def test_a_cold_start_compiles_in_a_child_process(tmp_path):
    """An empty cache: the object is compiled by a child process, so the loading
    process imports no bcc and maps no libLLVM/libclang (cdig top kept ~190 MB of
    them resident when it compiled itself); the next start loads what it stored."""
    code = f"""
import sys
from pathlib import Path
from cdig.probes.metrics.config import MetricsConfig
from cdig.probes.metrics.probe import MetricsProbe
from cdig.probes.objcache import ObjectCache
from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe
cache = ObjectCache(Path({str(tmp_path)!r}))
for p in (MetricsProbe(MetricsConfig(), cache=cache), SyscallProbe(ProbeConfig(), cache=cache)):
    p.load()
    print(p.loaded_from, end=" ")
    p.close()
llvm = any("libLLVM" in ln or "libclang" in ln for ln in open("/proc/self/maps"))
print("bcc" in sys.modules, llvm)
"""
    runs = [subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                           timeout=120) for _ in range(2)]
    for r in runs:
        assert r.returncode == 0, r.stderr
    assert runs[0].stdout.split() == ["compiled", "compiled", "False", "False"]
    assert runs[1].stdout.split() == ["cache", "cache", "False", "False"]
    assert len(list((tmp_path / "bpf").glob("*.json"))) == 2


def test_a_compile_error_in_the_child_is_one_line_with_clangs_reason(tmp_path):
    from cdig.probes.loader import ProbeError, load_probe

    with pytest.raises(ProbeError) as e:
        load_probe("metrics", "int broken( {\n", lambda _: [], None, ObjectCache(tmp_path))
    msg = str(e.value)
    assert "\n" not in msg
    assert msg.startswith("cannot load the BPF program: ") and "error" in msg, msg
    assert not (tmp_path / "bpf").exists() or not list((tmp_path / "bpf").glob("*.json"))
