"""The metrics probe's count array (without latency): a row of per-syscall
counters for each cgroup that holds a slot (``record.h``: ``cdig_slotrow``).

The program finds a cgroup's slot through a per-CPU cache of the last task
seen (its cgroup and slot), else the ``cgslot`` hash, and claims a free one on the cgroup's first
call; a cgroup that found none (``SLOT_NONE``) and a syscall number beyond the
row are counted in the ``syscalls`` hash, like every error and byte count, so
a count is exact either way. Here: the rows read as (cgroup, syscall, count)
triples, and the slots of gone cgroups freed for new ones.
"""

from __future__ import annotations

from collections.abc import Collection, Mapping

import numpy as np

from .layout import SLOT_NONE, slotrow

SLOT_COUNTS = np.dtype([("cgroup_id", "<u8"), ("nr", "<u4"), ("count", "<u8")])


class SlotCounts:
    """The ``slotrows``, ``cgslot`` and ``slotowner`` maps of a loaded probe (by fd)."""

    def __init__(self, fds: Mapping[str, int], slot_nrs: int) -> None:
        from ..bpf_syscall import BpfMap  # unit tests of the layout need no bpf(2)

        self.rows = BpfMap(fds["slotrows"], np.dtype("<u4"), slotrow(slot_nrs))
        self.cgslot = BpfMap(fds["cgslot"], np.dtype("<u8"), np.dtype("<u4"))
        self.owner = BpfMap(fds["slotowner"], np.dtype("<u4"), np.dtype("<u8"))

    def read(self) -> tuple[np.ndarray, int, int]:
        """(SLOT_COUNTS rows with a count, cgroups with a slot, cgroups refused one)."""
        cgs, slots = self.cgslot.read()
        held = slots != SLOT_NONE
        cgs, slots = cgs[held], slots[held]
        _, rows = self.rows.read()  # every slot's row, summed over CPUs
        mat = rows["count"][slots] if len(slots) else np.zeros((0, 0), np.uint64)
        i, nr = np.nonzero(mat)
        out = np.zeros(len(i), dtype=SLOT_COUNTS)
        out["cgroup_id"], out["nr"], out["count"] = cgs[i], nr, mat[i, nr]
        return out, len(slots), int((~held).sum())

    @property
    def capacity(self) -> int:
        return self.rows.capacity

    def free(self, cgroup_ids: Collection[int]) -> None:
        """Give up the slots of these cgroups (gone for good: their ids are never
        reused, so no task can match them again). The row is zeroed before its
        owner entry goes, so a slot is claimed again only with an empty row; and
        the cgroups that found no slot free try again."""
        ids = np.fromiter(cgroup_ids, dtype=np.uint64)
        if not len(ids):
            return
        cgs, slots = self.cgslot.read()
        gone = np.isin(cgs, ids)
        freed = slots[gone & (slots != SLOT_NONE)]
        self.cgslot.delete(cgs[gone])
        if not len(freed):
            return
        self.rows.update(freed, np.zeros(len(freed), dtype=self.rows.value))
        self.owner.delete(freed)
        self.cgslot.delete(cgs[~gone & (slots == SLOT_NONE)])
