"""What configures the metrics probe: the kernel's features, the map sizes and
options (``MetricsConfig``), and the ``-D`` defines they become (``cflags``)."""

from __future__ import annotations

import os
import platform
from dataclasses import dataclass

from ..btf import Btf, BtfError
from ..syscall_table import SyscallTable


def tracefs_root() -> str | None:
    for p in ("/sys/kernel/tracing", "/sys/kernel/debug/tracing"):
        if os.path.isdir(os.path.join(p, "events")):
            return p
    return None


def _kernel_at_least(major: int, minor: int, release: str | None = None) -> bool:
    rel = release or platform.release()
    try:
        got = tuple(int(x) for x in rel.split("-")[0].split(".")[:2])
    except ValueError:
        return False
    return got >= (major, minor)


@dataclass(frozen=True)
class Features:
    """What the running kernel offers the metrics probe (``Features.detect()``)."""

    sock_split: bool = False  # sock:sock_{send,recv}_length (6.3+)
    group_dead: bool = False  # sched_process_exit.group_dead
    no_prealloc: bool = False  # non-preallocated hash maps in tracing programs (6.1+)
    task_storage: bool = False  # task-local storage + BTF (5.11+): cheap latency pairing
    task_pt_regs: bool = False  # bpf_task_pt_regs + BTF (5.15+): no typed hooks without latency
    # byte offsets of task_struct.cgroups, css_set.dfl_cgrp, cgroup.kn and
    # kernfs_node.id in the running kernel (its BTF): the probe reads the task's
    # cgroup id through bpf_get_current_task_btf() with them, as the helper
    # bpf_get_current_cgroup_id() does, without the helper call (None: the helper)
    cgroup_chain: tuple[int, int, int, int] | None = None
    # the -D offsets (name, byte offset) at which the syscall probe reads the task's
    # ids, cgroup, credentials and name (``TASK_READS``); None: its helpers
    task_reads: tuple[tuple[str, int], ...] | None = None

    @classmethod
    def detect(cls, tracefs: str | None = None, release: str | None = None) -> Features:
        root = tracefs or tracefs_root()
        btf = os.path.exists("/sys/kernel/btf/vmlinux")

        def fmt(event: str) -> str:
            if root is None:
                return ""
            try:
                with open(os.path.join(root, "events", event, "format"), encoding="utf-8") as f:
                    return f.read()
            except OSError:
                return ""

        kernel_btf = None
        if btf and _kernel_at_least(5, 11, release):
            try:
                kernel_btf = Btf.kernel()
            except BtfError:
                pass
        return cls(
            sock_split=bool(fmt("sock/sock_send_length")) and bool(fmt("sock/sock_recv_length")),
            group_dead="group_dead" in fmt("sched/sched_process_exit"),
            no_prealloc=_kernel_at_least(6, 1, release),
            task_storage=_kernel_at_least(5, 11, release) and btf,
            task_pt_regs=_kernel_at_least(5, 15, release) and btf,
            cgroup_chain=cgroup_chain(kernel_btf) if kernel_btf else None,
            task_reads=task_reads(kernel_btf) if kernel_btf else None,
        )


# the loads of bpf_get_current_cgroup_id(): task_dfl_cgroup(current)->kn->id
CGROUP_CHAIN = (("task_struct", "cgroups"), ("css_set", "dfl_cgrp"), ("cgroup", "kn"),
                ("kernfs_node", "id"))


def cgroup_chain(btf: Btf | None = None) -> tuple[int, int, int, int] | None:
    """The offsets of ``CGROUP_CHAIN`` in the kernel's BTF: three pointers, then the
    8-byte id; None if any is missing or of another shape (the helper is used)."""
    try:
        b = btf or Btf.kernel()
        offs = []
        for i, (struct_name, field) in enumerate(CGROUP_CHAIN):
            off, size = b.field(struct_name, field)
            if size != 8 or b.is_pointer(struct_name, field) != (i < 3):
                return None
            offs.append(off)
    except BtfError:
        return None
    return offs[0], offs[1], offs[2], offs[3]


# what the syscall probe's TASK_READS reads (probes/syscalls/program.bpf.c,
# cur_task): define name, (struct, field), size, whether it is a pointer
TASK_READS = (
    ("TASK_PID", ("task_struct", "pid"), 4, False),
    ("TASK_TGID", ("task_struct", "tgid"), 4, False),
    ("TASK_CRED", ("task_struct", "cred"), 8, True),
    ("CRED_UID", ("cred", "uid"), 4, False),
    ("CRED_GID", ("cred", "gid"), 4, False),
    ("TASK_COMM", ("task_struct", "comm"), 16, False),
)


def task_reads(btf: Btf | None = None) -> tuple[tuple[str, int], ...] | None:
    """The offsets of ``TASK_READS`` and of the cgroup chain in the kernel's BTF, as
    (define name, offset) pairs; None if any is missing or of another shape (the
    probe calls the helpers)."""
    try:
        b = btf or Btf.kernel()
        chain = cgroup_chain(b)
        if chain is None:
            return None
        out = list(zip(("TASK_CGROUPS", "CSS_SET_DFL_CGRP", "CGROUP_KN", "KERNFS_NODE_ID"),
                       chain, strict=True))
        for name, (struct_name, field), size, pointer in TASK_READS:
            off, got = b.field(struct_name, field)
            if got != size or b.is_pointer(struct_name, field) != pointer:
                return None
            out.append((name, off))
    except BtfError:
        return None
    return tuple(out)


@dataclass
class MetricsConfig:
    """Sizes and options of the metrics probe. Map sizes are entries."""

    latency: bool = True
    syscalls_max: int = 16384  # (cgroup, syscall) pairs
    latency_max: int = 16384  # (cgroup, syscall) pairs with a histogram
    # (cgroup, syscall) histograms cached per CPU in front of the latency hash
    # (a power of two; 0: none; None: latcache_entries() for this host's CPUs):
    # 168 bytes each per CPU, and every scrape reads every CPU's copy
    latcache_max: int | None = None
    deadcg_max: int = 4096  # forgotten cgroups whose cache entries may be taken over
    errors_max: int = 8192  # (cgroup, syscall, errno) triples
    procs_max: int = 4096  # cgroups with exec/fork/exit activity
    sockio_max: int = 16384  # threads inside a syscall that moved socket bytes
    inflight_max: int = 65536  # threads inside a syscall (latency without task storage)
    entry_max: int = 4096  # threads inside execveat (--no-latency), rt_sigreturn (old kernels)
    pairing: str = "auto"  # latency pairing: "task" storage, tid "hash", or "auto"
    # without latency: cgroups counted in a row of the count array (the others, in
    # the `syscalls` hash); a row is 8 bytes per syscall number per CPU
    slots_max: int = 128
    cgslot_max: int = 4096  # cgroups with a slot, or marked as refused one


LATCACHE_PER_CPU = 2048  # the histogram cache's entries per CPU, at most
LATCACHE_TOTAL = 16384  # ... and over all CPUs: a scrape reads them all (~0.5 us each)


def latcache_entries(config: MetricsConfig, cpus: int | None = None) -> int:
    """The histogram cache's entries per CPU: ``config.latcache_max`` if set, else
    the largest power of two up to LATCACHE_PER_CPU with at most LATCACHE_TOTAL
    over the possible CPUs (2048 up to 8 CPUs, 256 at 64), at least 64."""
    if config.latcache_max is not None:
        return config.latcache_max
    if cpus is None:
        from ..bpf_syscall import possible_cpus

        cpus = possible_cpus()
    n = LATCACHE_PER_CPU
    while n > 64 and n * max(cpus, 1) > LATCACHE_TOTAL:
        n //= 2
    return n


def slot_nrs(table: SyscallTable) -> int:
    """Syscall numbers in a row of the count array (higher ones go to the hash)."""
    return max(table.max_nr, 1)


def _nr(table: SyscallTable, name: str) -> int:
    nr = table.nr(name)
    return -2 if nr is None else nr  # never a syscall number, nor the -1 of sys_exit


def cflags(config: MetricsConfig, features: Features, table: SyscallTable,
           task_storage: bool) -> list[str]:
    """The -D defines that configure ``program.bpf.c``."""
    flags = [
        # room for syscalls newer than the table: counted, named syscall_NNN
        f"-DNR_SYSCALLS={max(table.max_nr, 1024)}",
        f"-DSYSCALLS_MAX={config.syscalls_max}",
        f"-DERRORS_MAX={config.errors_max}",
        f"-DPROCS_MAX={config.procs_max}",
        f"-DSOCKIO_MAX={config.sockio_max}",
        f"-DINFLIGHT_MAX={config.inflight_max}",
        f"-DENTRY_MAX={config.entry_max}",
        f"-DSLOTS_MAX={config.slots_max}",
        f"-DSLOT_NRS={slot_nrs(table)}",
        f"-DCGSLOT_MAX={config.cgslot_max}",
        # syscalls whose number at exit is not the one they were entered with,
        # and the two that never exit
        *(f"-DNR_{name.upper()}={_nr(table, name)}"
          for name in ("execve", "execveat", "rt_sigreturn", "exit", "exit_group")),
    ]
    if config.latency:
        # preallocated, the latency map costs capacity x 152 bytes x CPUs: on
        # kernels that cannot allocate on demand its capacity is kept small
        cap = config.latency_max if features.no_prealloc else min(config.latency_max, 4096)
        cache = latcache_entries(config)
        if cache & (cache - 1):
            raise ValueError(f"latcache_max {cache} is not a power of two")
        flags += [f"-DLAT_CACHE_MAX={cache}", f"-DDEADCG_MAX={config.deadcg_max}"]
        flags += ["-DLATENCY", f"-DLATENCY_MAX={cap}",
                  "-DLAT_MAP_FLAGS=" + ("BPF_F_NO_PREALLOC" if features.no_prealloc else "0")]
        if task_storage:
            flags.append("-DLAT_TASK_STORAGE")
    if features.sock_split:
        flags.append("-DSOCK_SPLIT")
    if features.group_dead:
        flags.append("-DHAVE_GROUP_DEAD")
    if features.task_pt_regs:
        flags.append("-DHAVE_TASK_PT_REGS")
    if features.cgroup_chain is not None:
        flags += ["-DCGROUP_CHAIN"] + [
            f"-DOFF_{name.upper()}={off}" for name, off in
            zip(("task_cgroups", "css_set_dfl_cgrp", "cgroup_kn", "kernfs_node_id"),
                features.cgroup_chain, strict=True)]
    return flags
