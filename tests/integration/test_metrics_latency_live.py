"""The metrics probe's latency pairing, live: a call's enter is kept in its CPU's
slot, and carried into the task's storage when the task is switched out inside
the call (``program.bpf.c``: ``lat_cpu``, ``sched_switch``). Calls that never
leave their CPU, calls that block, and calls whose thread is moved to another
CPU while blocked are each counted exactly once, under their own syscall, with
a duration at least as long as they blocked.

The probe is loaded alone (task-storage pairing); the workload runs in a cgroup
of its own, made the way runc makes one. Needs root, BPF, bcc: a failure, not
a skip, when CI=true.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cdig.probes.metrics.config import MetricsConfig
from cdig.probes.metrics.layout import slot_upper_ns
from cdig.probes.metrics.probe import MetricsProbe
from cdig.probes.syscall_table import table

from .blocking import stay_block_hop
from .containers import cgroup2_mountpoint, require

pytestmark = pytest.mark.integration

GETPPID, SLEEPS, SLEEP_S, HOPS = 5000, 20, 0.002, 200


def _run_in(d: Path) -> None:
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:
        code = 1
        try:
            os.close(w)
            os.read(r, 1)  # entered before the move: counted in the parent's cgroup
            stay_block_hop(GETPPID, SLEEPS, SLEEP_S, HOPS)
            code = 0
        finally:
            os._exit(code)
    os.close(r)
    (d / "cgroup.procs").write_text(str(pid))
    os.write(w, b"x")
    os.close(w)
    assert os.waitpid(pid, 0)[1] == 0


def test_calls_that_stay_block_or_move_cpu_are_each_timed_once():
    require("root", "bpf", "bcc", "tracefs")
    root = cgroup2_mountpoint()
    if root is None:
        pytest.skip("no cgroup2 hierarchy")
    tbl = table()
    nr = {name: tbl.nr(name) for name in ("getppid", "clock_nanosleep", "read")}
    probe = MetricsProbe(MetricsConfig(latency=True, pairing="task"), tbl)
    probe.load()
    d = root / f"cdiglat-{os.getpid()}"
    d.mkdir()
    try:
        assert probe.maps is not None and probe.pairing == "task"
        cg = d.stat().st_ino
        _run_in(d)
        rows = {int(x["nr"]): x for x in probe.maps.read().syscalls if int(x["cgroup_id"]) == cg}
        # the reader's HOPS reads, and the main thread's acknowledgements (one
        # more) and waits
        want = {"getppid": GETPPID, "clock_nanosleep": SLEEPS + HOPS, "read": 2 * HOPS + 1}
        for name in want:
            row = rows[nr[name]]
            # every call counted once and timed (a call whose enter was lost is
            # not counted at all; one paired with another's enter would count
            # under the other's syscall)
            assert int(row["count"]) == want[name], name
            assert int(row["lat_slots"].sum()) == want[name], name
        # each sleep blocked >= 2 ms: its duration was taken from its own enter,
        # carried through the switch
        sleeps = rows[nr["clock_nanosleep"]]
        short = [s for s in range(len(sleeps["lat_slots"])) if slot_upper_ns(s) < SLEEP_S * 1e9]
        assert int(sleeps["lat_slots"][short].sum()) == 0
        assert int(sleeps["lat_sum_ns"]) >= want["clock_nanosleep"] * SLEEP_S * 1e9
    finally:
        probe.close()
        for _ in range(100):  # the exited child leaves the cgroup asynchronously
            try:
                d.rmdir()
                break
            except OSError:
                time.sleep(0.02)
