"""numpy mirrors of the metrics probe's maps (``record.h``) and the per-syscall
class byte the program reads (which syscalls move bytes, fork, never return)."""

from __future__ import annotations

import numpy as np

from ..io_calls import FILE_READS, FILE_WRITES, NET_RECEIVES, NET_SENDS
from ..syscall_table import SyscallTable

LAT_SLOTS = 18  # CDIG_LAT_SLOTS: base-4 slots

CLS_RW = 1
CLS_NET = 2
CLS_SOCKCLR = 4
CLS_FORK = 8
CLS_NORET = 16

MSTAT_NAMES = ("syscalls_map_full", "errors_map_full", "procs_map_full",
               "latency_unpaired", "latency_no_storage", "latency_map_full")  # CDIG_MSTAT_*

# struct cdig_mkey
MKEY = np.dtype([("cgroup_id", "<u8"), ("nr", "<u4"), ("errno", "<u4")])
# struct cdig_procstat
PROCSTAT = np.dtype([("execs", "<u8"), ("forks", "<u8"), ("exits", "<u8")])

SYSSTAT_FIELDS = ("count", "errors", "file_bytes", "net_bytes")
# struct cdig_sysstat
SYSSTAT = np.dtype([(f, "<u8") for f in SYSSTAT_FIELDS])
# struct cdig_latstat
LATSTAT = np.dtype([("sum_ns", "<u8"), ("slots", "<u8", (LAT_SLOTS,))])

# struct cdig_latent: one entry of the per-CPU histogram cache (cgroup_id 0: free)
LATENT = np.dtype([("cgroup_id", "<u8"), ("nr", "<u4"), ("checked", "<u4"), *LATSTAT.descr])

SLOT_NONE = 0xFFFFFFFF  # CDIG_SLOT_NONE: in `cgslot`, a cgroup that found no free slot


def slotrow(slot_nrs: int) -> np.dtype:
    """struct cdig_slotrow: one cgroup's calls by syscall number (SLOT_NRS of them)."""
    return np.dtype([("count", "<u8", (slot_nrs,))])


def slot_upper_ns(slot: int) -> float:
    """The upper bound (inclusive) of latency slot ``slot`` in ns; inf for the last."""
    return float("inf") if slot >= LAT_SLOTS - 1 else float(4 ** (slot + 1))


# The kernel adds a return value >= 0 of CLS_RW calls (io_calls: FILE_READS,
# FILE_WRITES) to file bytes unless a socket moved bytes during the call (then to
# network bytes), of CLS_NET calls (NET_RECEIVES, NET_SENDS) to network bytes.

# may move socket bytes but return no byte count (messages, pipe transfers,
# io_uring submissions): they only clear the thread's socket mark
SOCKET_OTHER = frozenset({"sendmmsg", "recvmmsg", "splice", "io_uring_enter"})
# return twice: in the parent (the child's id) and in the new task (0)
FORKS = frozenset({"fork", "vfork", "clone", "clone3"})


def sysclass(table: SyscallTable) -> np.ndarray:
    """The ``sysclass`` array (one byte per syscall number)."""
    out = np.zeros(table.max_nr, dtype=np.uint8)
    for nr, spec in table.by_nr.items():
        if spec.name in FILE_READS or spec.name in FILE_WRITES:
            out[nr] = CLS_RW
        elif spec.name in NET_RECEIVES or spec.name in NET_SENDS:
            out[nr] = CLS_NET
        elif spec.name in SOCKET_OTHER:
            out[nr] = CLS_SOCKCLR
        elif spec.name in FORKS:
            out[nr] = CLS_FORK
        elif spec.name == "rt_sigreturn":
            out[nr] = CLS_NORET
    return out
