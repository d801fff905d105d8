"""The syscall + process-lifecycle probe: builds its ``-D`` defines and sysinfo
table, loads it (through ``objcache``, else bcc), fills its maps, maps its rings.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field

import numpy as np

from .. import objcache
from ..bpf_syscall import BpfMap
from ..kernel_filter import KernelFilter
from ..loader import (
    LoadedProgram,
    ProbeError,
    dump,
    load_probe,
    one_line,
    probe_dir,
)
from ..metrics.config import Features
from ..ringbuf import PAGE_SIZE, RingBuffer
from ..syscall_table import NO_ARG, SyscallTable, table
from . import layout

PROBE = "syscalls"


@dataclass
class ProbeConfig:
    """Sizes of the kernel-side buffers, in bytes (ring sizes: powers of two)."""

    events_bytes: int = 32 << 20
    ext_bytes: int = 64 << 20  # 904-byte records: ~74k of them
    # the I/O calls' data records (snaplen > 0; one page otherwise): at snaplen
    # 80, 216-byte records: ~155k of them
    io_bytes: int = 32 << 20
    inflight_max: int = 65536  # threads inside a syscall (hash pairing only)
    connecting_max: int = 4096  # TCP connects waiting for their local port
    # a ring wakes its reader at most this often (program.bpf.c: wakeup())
    wakeup_ns: int = 1_000_000
    # bytes of each I/O buffer copied at exit (sysdig's -s; 0: none, and the
    # I/O calls cost what any other call does)
    snaplen: int = 0
    # an enter record for every syscall (sysdig's '>'): a call that blocks is seen
    # while it blocks. Off, only execve/exit have one and the rest cost nothing more
    enter_events: bool = False
    # sys_enter as a classic tracepoint instead of a raw one (program.bpf.c:
    # enter_args); only benchmarks/probe_overhead.py sets it, to compare
    classic_enter: bool = False
    filter: KernelFilter = field(default_factory=KernelFilter)


def _pages(nbytes: int) -> int:
    pages = max(1, nbytes // PAGE_SIZE)
    if pages & (pages - 1):
        raise ProbeError(f"ring size {nbytes} bytes is not a power-of-two number of pages")
    return pages


class SyscallProbe:
    """The syscall + process-lifecycle probe (``program.bpf.c``).

    ``pairing`` says where a syscall's enter waits for its exit: ``task``
    (its CPU's slot, carried into task-local storage when the task is switched
    out mid-call; kernel >= 5.11 with BTF), ``task-only`` (task storage at both
    hooks, the probe until 2026-12-06: what ``benchmarks/probe_overhead.py``
    compares against) or ``hash`` (a tid-keyed hash, about 3x the per-syscall
    cost).
    ``auto`` picks task storage where the kernel has it, and falls back to
    the hash if the kernel refuses the program anyway.

    ``task_reads``: read the task's ids, cgroup, credentials and name through
    its BTF-typed pointer at the running kernel's offsets (``TASK_READS`` in
    program.bpf.c) where its BTF has them, instead of a helper call each
    (~100 ns a syscall less here); the helpers where not, or if the kernel
    refuses the loads. False: the helpers (what benchmarks/probe_overhead.py
    compares against).
    """

    def __init__(self, config: ProbeConfig | None = None, syscalls: SyscallTable | None = None,
                 self_tgid: int | None = None, pairing: str = "auto",
                 cache: objcache.ObjectCache | None | bool = True,
                 task_reads: bool = True) -> None:
        if pairing not in ("auto", "task", "task-only", "hash"):
            raise ProbeError(f"unknown enter/exit pairing {pairing!r}")
        self.config = config or ProbeConfig()
        if not 0 <= self.config.snaplen <= layout.IO_MAX:
            raise ProbeError(f"the I/O snaplen is 0 to {layout.IO_MAX} bytes, not "
                             f"{self.config.snaplen}")
        self.table = syscalls or table()
        self.self_tgid = os.getpid() if self_tgid is None else self_tgid
        self._want_pairing = pairing
        features = Features.detect() if pairing == "auto" or task_reads else Features()
        # (define, offset) pairs of TASK_READS, or None: the helpers
        self.task_offsets = features.task_reads if task_reads else None
        self.task_pt_regs = features.task_pt_regs  # with them, the arguments through it
        if pairing == "auto":
            pairing = "task" if features.task_storage else "hash"
        self.pairing = pairing
        # compiled objects kept between starts (objcache); False: compile every time
        self.cache = objcache.ObjectCache() if cache is True else cache or None
        self.loaded_from = ""  # "cache", "compiled" (and cached) or "bcc"
        self._obj: LoadedProgram | None = None
        self._sysinfo: BpfMap | None = None
        self._stats: BpfMap | None = None
        self.rings: list[RingBuffer] = []

    # -- building -----------------------------------------------------------------
    def source(self) -> str:
        """The C text handed to bcc (the header is included through ``-I``)."""
        return (probe_dir(PROBE) / "program.bpf.c").read_text()

    def cflags(self, self_tgid: int | None = None) -> list[str]:
        """The -D defines (``self_tgid``: SELF_TGID's value, default cdig's pid)."""
        cfg = self.config
        flt = cfg.filter
        flags = [
            f"-DSELF_TGID={self.self_tgid if self_tgid is None else self_tgid}",
            f"-DEVENTS_PAGES={_pages(cfg.events_bytes)}",
            f"-DEXT_PAGES={_pages(cfg.ext_bytes)}",
            f"-DIO_PAGES={_pages(self.io_ring_bytes())}",
            f"-DINFLIGHT_MAX={cfg.inflight_max}",
            f"-DCONNECTING_MAX={cfg.connecting_max}",
            f"-DWAKEUP_NS={cfg.wakeup_ns}",
            f"-DNR_SYSCALLS={self.table.max_nr}",
            f"-DNR_CONNECT={self.table.nr('connect')}",
            f"-DSNAPLEN={cfg.snaplen}",
        ]
        if self.pairing == "hash":
            flags.append("-DPAIR_HASH")
        elif self.pairing == "task-only":
            flags.append("-DPAIR_TASK_ONLY")
        if cfg.enter_events:
            flags.append("-DENTER_EVENTS")
        if cfg.classic_enter:
            flags.append("-DENTER_TP")
        if flt.pids is not None:
            flags.append("-DFILTER_PID")
        if flt.cgroup_ids is not None:
            flags.append("-DFILTER_CGROUP")
        if flt.syscalls is not None:
            flags.append("-DFILTER_SYSCALL")
        if flt.failed_only:
            flags.append("-DFILTER_FAILED")
        if self.task_offsets is not None:
            flags.append("-DTASK_READS")
            flags += [f"-DOFF_{name}={off}" for name, off in self.task_offsets]
            if self.task_pt_regs:
                flags.append("-DTASK_PT_REGS")
        return flags

    def io_ring_bytes(self) -> int:
        """The io ring's size: unused (one page) without a snaplen."""
        return self.config.io_bytes if self.config.snaplen else PAGE_SIZE

    def dump(self) -> str:
        """The program as bcc will compile it: defines, then header, then source."""
        return dump(PROBE, self.cflags(), self.source())

    def sysinfo(self) -> np.ndarray:
        """The per-syscall table the probe consults (``struct cdig_sysinfo[]``)."""
        info = np.zeros(self.table.max_nr, dtype=layout.SYSINFO)
        info["str1_arg"] = NO_ARG
        info["str2_arg"] = NO_ARG
        info["addr_arg"] = NO_ARG
        wanted = self.config.filter.syscalls
        for nr, spec in self.table.by_nr.items():
            flags = 0
            if wanted is None or spec.name in wanted:
                flags |= layout.SYS_WANT
            if spec.state:
                flags |= layout.SYS_STATE
            if spec.enter:
                flags |= layout.SYS_ENTER
            if spec.addr_len_ptr:
                flags |= layout.SYS_ADDRP
            if spec.argv_arg != NO_ARG:
                flags |= layout.SYS_ARGV
            if spec.io and self.config.snaplen:
                flags |= layout.SYS_IO | {"buf": 0, "iov": layout.SYS_IOV,
                                          "msg": layout.SYS_MSG}[spec.io]
            if spec.io == "msg":  # also where msg_name is (sendmsg's address), with -s 0
                flags |= layout.SYS_MSG
            info[nr]["flags"] = flags
            if spec.path_args:
                info[nr]["str1_arg"] = spec.path_args[0]
            if len(spec.path_args) > 1:
                info[nr]["str2_arg"] = spec.path_args[1]
            info[nr]["addr_arg"] = spec.addr_arg
        return info

    # -- loading ------------------------------------------------------------------
    def load(self) -> None:
        """Compile (or take from the cache), load and attach. Raises ProbeError with a
        one-line reason."""
        try:
            self._obj = self._load()
        except ProbeError:
            if self.task_offsets is not None:
                # the BTF-typed loads refused (a verifier that does not walk them
                # in these programs): the helpers read the same values
                self.task_offsets = None
                self.load()
                return
            if self.pairing == "hash" or self._want_pairing != "auto":
                raise
            self.pairing = "hash"  # task storage refused (older kernel, no BTF): fall back
            self._obj = self._load()
        obj = self._obj
        try:
            self._sysinfo = BpfMap(obj.map_fd("sysinfo"), np.dtype(np.uint32), layout.SYSINFO)
            self._stats = BpfMap(obj.map_fd("stats"), np.dtype(np.uint32), np.dtype(np.uint64))
            info = self.sysinfo()
            self._sysinfo.update(np.arange(len(info), dtype=np.uint32), info)
            flt = self.config.filter
            one = np.dtype(np.uint8)
            if flt.pids is not None:
                pids = np.array(sorted(flt.pids), dtype=np.uint32)
                BpfMap(obj.map_fd("filter_pid"), np.dtype(np.uint32), one).update(
                    pids, np.ones(len(pids), dtype=one))
            if flt.cgroup_ids is not None:
                cgs = np.array(sorted(flt.cgroup_ids), dtype=np.uint64)
                BpfMap(obj.map_fd("filter_cgroup"), np.dtype(np.uint64), one).update(
                    cgs, np.ones(len(cgs), dtype=one))
            self.rings = [
                RingBuffer(obj.map_fd("events"), self.config.events_bytes, layout.EVENT_SLOT),
                RingBuffer(obj.map_fd("events_ext"), self.config.ext_bytes, layout.EXT_SLOT),
                RingBuffer(obj.map_fd("events_io"), self.io_ring_bytes(),
                           layout.slot_dtype(layout.io_record(self.config.snaplen))),
            ]
        except Exception as e:
            self.close()
            raise ProbeError(f"cannot configure the BPF maps: {one_line(e)}") from None

    def _load(self) -> LoadedProgram:
        """The object through ``objcache`` (SELF_TGID patched in), else bcc."""
        obj, self.loaded_from = load_probe(PROBE, self.source(), self.cflags, self.self_tgid,
                                           self.cache)
        return obj

    def want_syscalls(self, names: frozenset[str] | None) -> bool:
        """Narrow (``None``: widen to all) the syscalls this loaded probe sends, by
        rewriting their WANT flags; the ones that keep the fd/process tables
        current pass whatever. Only a probe loaded with a syscall filter checks
        the flags: False for any other (nothing changed)."""
        if self._obj is None or self.config.filter.syscalls is None:
            return False
        self._set_flag(layout.SYS_WANT, {nr: names is None or spec.name in names
                                         for nr, spec in self.table.by_nr.items()})
        return True

    def want_io_data(self, on: bool) -> bool:
        """Copy the I/O calls' data from now on (``on``) or not, by rewriting their
        IO flags (off: they go as plain records, as with snaplen 0). Only a probe
        loaded with a snaplen copies data: False for any other (nothing changed)."""
        if self._obj is None or not self.config.snaplen:
            return False
        self._set_flag(layout.SYS_IO, {nr: on for nr, spec in self.table.by_nr.items()
                                       if spec.io})
        return True

    def _set_flag(self, bit: int, on: dict[int, bool]) -> None:
        """Set (True) or clear (False) ``bit`` in the sysinfo flags of each syscall
        number of ``on``; only the entries that change are written back."""
        assert self._sysinfo is not None
        keys, values = self._sysinfo.read()
        flags = values["flags"].copy()
        row = {k: i for i, k in enumerate(keys.tolist())}
        for nr, want in on.items():
            i = row.get(nr)
            if i is not None:
                f = int(flags[i])
                flags[i] = f | bit if want else f & ~bit & 0xFF
        changed = flags != values["flags"]
        if changed.any():
            values = values[changed].copy()
            values["flags"] = flags[changed]
            self._sysinfo.update(keys[changed], values)

    def prog_fds(self) -> dict[str, int]:
        """Name -> fd of each loaded program (for ``bpf_syscall.prog_run_stats``)."""
        return dict(self._obj.prog_fds) if self._obj is not None else {}

    def stats(self) -> dict[str, int]:
        """Kernel-side counters summed over CPUs: drops by cause and records sent."""
        if self._stats is None:
            return {}
        keys, values = self._stats.read()
        by_idx = dict(zip(keys.tolist(), values.tolist(), strict=True))
        names = {layout.STAT_DROP_EVENTS: "dropped_ring", layout.STAT_DROP_EXT: "dropped_ext",
                 layout.STAT_DROP_INFLIGHT: "dropped_inflight", layout.STAT_SEEN: "sent",
                 layout.STAT_DROP_IO: "dropped_io"}
        return {name: int(by_idx.get(idx, 0)) for idx, name in names.items()}

    def close(self) -> None:
        for r in self.rings:
            r.close()
        self.rings = []
        self._sysinfo = self._stats = None
        if self._obj is not None:
            self._obj.close()
            self._obj = None
