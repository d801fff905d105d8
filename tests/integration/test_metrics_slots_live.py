"""The metrics probe's count array without latency (``probes/metrics/slots.py``),
live: cgroups beyond the slots are counted in the hash, a gone cgroup's slot is
freed with its row zeroed, and a new cgroup takes it; every count exact.

The probe is loaded alone with 16 slots for 40 cgroups; each cgroup is made the way runc makes
one (mkdir under the cgroup2 mount, a process moved in) and runs exactly k
getppid calls. Needs root, BPF, bcc: a failure, not a skip, when CI=true.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from cdig.probes.metrics.config import MetricsConfig
from cdig.probes.metrics.layout import SLOT_NONE
from cdig.probes.metrics.probe import MetricsProbe
from cdig.probes.syscall_table import table

from .containers import cgroup2_mountpoint, require

pytestmark = pytest.mark.integration

SLOTS = 16  # fewer than the cgroups made; the host's busy cgroups may take some


def _getppid_in(d: Path, k: int) -> None:
    """A child moved into cgroup ``d`` makes exactly ``k`` getppid calls."""
    r, w = os.pipe()
    pid = os.fork()
    if pid == 0:  # wait to be moved, then the calls
        os.close(w)
        os.read(r, 1)
        for _ in range(k):
            os.getppid()
        os._exit(0)
    os.close(r)
    (d / "cgroup.procs").write_text(str(pid))
    os.write(w, b"x")
    os.close(w)
    assert os.waitpid(pid, 0)[1] == 0


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


class Cgroups:
    """cgroups of one test under the cgroup2 mount, made the way runc makes one (a
    mkdir, a process moved in), removed again at ``close``."""

    def __init__(self, root: Path, tag: str) -> None:
        self.root, self.tag = root, f"{tag}-{os.getpid()}"
        self.made: list[Path] = []

    def make(self, i: int) -> tuple[Path, int]:
        d = self.root / f"{self.tag}-{i}"
        d.mkdir()
        self.made.append(d)
        return d, d.stat().st_ino  # the cgroup id the program sees

    def calls(self, which: range, base: int) -> dict[int, int]:
        """A cgroup for each ``i`` of ``which``, in which ``base + i`` getppid calls
        run: cgroup id -> calls."""
        ids = {}
        for i in which:
            d, cg = self.make(i)
            _getppid_in(d, base + i)
            ids[cg] = base + i
        return ids

    def remove(self, ids: set[int] | list[int]) -> None:
        """The cgroups made here whose ids are ``ids``, gone."""
        for d in [d for d in self.made if d.stat().st_ino in ids]:
            _rmdir(d)
            self.made.remove(d)

    def close(self) -> None:
        for d in self.made:
            _rmdir(d)


def test_slots_overflow_free_and_reuse_exact():
    require("root", "bpf", "bcc", "tracefs")
    root = cgroup2_mountpoint()
    if root is None:
        pytest.skip("no cgroup2 hierarchy")
    nr = table().nr("getppid")
    probe = MetricsProbe(MetricsConfig(latency=False, slots_max=SLOTS))
    probe.load()
    cgroups = Cgroups(root, "cdigslots")
    try:
        maps = probe.maps
        assert maps is not None and maps.slots is not None

        def counts() -> dict[int, int]:
            s = maps.read().syscalls
            return {int(r["cgroup_id"]): int(r["count"]) for r in s if int(r["nr"]) == nr}

        def slot_of() -> dict[int, int]:
            k, v = maps.slots.cgslot.read()
            return dict(zip(k.tolist(), v.tolist(), strict=True))

        # more cgroups than slots: some are refused one, all exact
        ids = cgroups.calls(range(40), 100)
        got = counts()
        assert {cg: got.get(cg) for cg in ids} == ids
        slots = slot_of()
        held = {cg for cg in ids if slots.get(cg, SLOT_NONE) != SLOT_NONE}
        assert len({slots[cg] for cg in held}) == len(held) <= SLOTS
        assert held, "no cgroup was given a slot"
        refused = [cg for cg in ids if slots.get(cg) == SLOT_NONE]
        assert refused  # counted in the hash instead, exactly (above)
        usage = {u.name: u for u in maps.read().maps}
        assert usage["slots"].capacity == SLOTS
        # the test's own cgroup and the host's processes may hold slots too
        assert usage["slots"].entries >= len(held)
        assert usage["slotless_cgroups"].entries >= len(refused)

        # a cgroup with a slot goes: its slot is freed, its row zeroed, the refused
        # cgroups may try again, and a new cgroup counts exactly from zero
        gone = sorted(held)[0]
        freed = slots[gone]
        cgroups.remove([gone])
        maps.forget([gone])
        after = slot_of()
        assert gone not in after and SLOT_NONE not in after.values()
        _, rows = maps.slots.rows.read()
        assert int(rows["count"][freed].sum()) == 0
        d, cg = cgroups.make(99)
        _getppid_in(d, 77)
        got = counts()
        assert got.get(cg) == 77 and gone not in got
        assert {c: got.get(c) for c in ids if c != gone} == {c: n for c, n in ids.items()
                                                              if c != gone}
        assert slot_of().get(cg, SLOT_NONE) != SLOT_NONE  # a slot was free again
    finally:
        probe.close()
        cgroups.close()
