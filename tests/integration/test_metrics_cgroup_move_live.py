"""The metrics probe's per-CPU cgroup cache, live (``program.bpf.c``:
``cached_cgroup``, ``cggen``; --no-latency): a process moved between cgroups
while it runs has its calls counted in the new cgroup from the move on. The
same in latency mode, which reads the cgroup at each entry (no cache).

The child stays on one CPU, spinning without a syscall between its bursts
of getppid calls, and the parent, on the other CPU, moves it back and forth
between two cgroups (made the way runc makes one) while it spins: the child's
cache entry (task, generation, cgroup) is still on its CPU when it resumes,
so only the move's invalidation makes the count land right (without it the
test fails: the calls after a move count in the old cgroup). Needs root,
BPF, bcc and two CPUs: a failure, not a skip, when CI=true.
"""

from __future__ import annotations

import mmap
import os
import time
from pathlib import Path

import pytest

from cdig.probes.metrics.config import MetricsConfig
from cdig.probes.metrics.probe import MetricsProbe
from cdig.probes.syscall_table import table

from .containers import cgroup2_mountpoint, require

pytestmark = pytest.mark.integration

ROUNDS = 40


def _rmdir(d: Path) -> None:
    for _ in range(100):  # the exited child leaves the cgroup asynchronously
        try:
            d.rmdir()
            return
        except FileNotFoundError:
            return
        except OSError:
            time.sleep(0.02)
    d.rmdir()


def _child(cpu: int, shm: mmap.mmap) -> None:
    """Pinned to ``cpu``: spins (no syscall: the CPU's cache entry stays its own)
    until byte 0 of ``shm`` changes, then makes byte 1 hundred getppid calls and
    acknowledges in byte 2; byte 1 = 0 ends it."""
    os.sched_setaffinity(0, {cpu})
    # real-time: the host's other tasks (whose syscalls would take the CPU's cache
    # entry) do not run on this CPU while it spins, but for the kernel's RT throttling
    os.sched_setscheduler(0, os.SCHED_FIFO, os.sched_param(1))
    seen = 0
    shm[2] = 1
    while True:
        while shm[0] == seen:
            pass
        seen = shm[0]
        k = shm[1]
        if not k:
            os._exit(0)
        for _ in range(k * 100):
            os.getppid()
        shm[2] = seen


def _wait(shm: mmap.mmap, v: int) -> None:
    deadline = time.monotonic() + 10
    while shm[2] != v:
        assert time.monotonic() < deadline, "the child did not answer"


@pytest.mark.parametrize("latency", [False, True], ids=["nolat", "lat"])
def test_a_moved_process_counts_in_its_new_cgroup(latency: bool) -> None:
    require("root", "bpf", "bcc", "tracefs")
    root = cgroup2_mountpoint()
    if root is None:
        pytest.skip("no cgroup2 hierarchy")
    cpus = sorted(os.sched_getaffinity(0))
    assert len(cpus) >= 2, "needs two CPUs (the mover and the moved)"
    nr = table().nr("getppid")
    tag = f"cdigmove-{os.getpid()}"
    dirs = [root / f"{tag}-a", root / f"{tag}-b"]
    for d in dirs:
        d.mkdir()
    ids = [d.stat().st_ino for d in dirs]  # the cgroup ids the program sees
    probe = MetricsProbe(MetricsConfig(latency=latency))
    probe.load()
    saved = os.sched_getaffinity(0)
    pid = 0
    try:
        assert probe.maps is not None
        os.sched_setaffinity(0, {cpus[0]})
        shm = mmap.mmap(-1, 4096)  # shared with the child
        pid = os.fork()
        if pid == 0:
            _child(cpus[1], shm)
        _wait(shm, 1)
        want = [0, 0]
        for i in range(ROUNDS):
            k = 1 + i % 7
            (dirs[i % 2] / "cgroup.procs").write_text(str(pid))  # moved while it spins
            shm[1] = k
            shm[0] = 2 + i % 250
            _wait(shm, 2 + i % 250)
            want[i % 2] += k * 100
        shm[1] = 0
        shm[0] = 1
        assert os.waitpid(pid, 0)[1] == 0
        pid = 0
        got = {int(r["cgroup_id"]): int(r["count"]) for r in probe.maps.read().syscalls
               if int(r["nr"]) == nr and int(r["cgroup_id"]) in ids}
        assert [got.get(cg, 0) for cg in ids] == want
    finally:
        os.sched_setaffinity(0, saved)
        if pid:
            os.kill(pid, 9)
            os.waitpid(pid, 0)
        probe.close()
        for d in dirs:
            _rmdir(d)
