"""Builds, loads and attaches the BPF programs. The only module that imports bcc.

The C lives in ``bpf/*.bpf.c``; it is configured with ``-D`` defines (as bcc's
syscount does), never by editing the C text, so ``cdig probe --dump-bpf``
shows exactly what is compiled.
"""

from __future__ import annotations

import ctypes
import os
from dataclasses import dataclass, field
from importlib import resources

import numpy as np

from . import layout
from .ringbuf import PAGE_SIZE, RingBuffer
from .syscalls import NO_ARG, SyscallTable, table


class ProbeError(Exception):
    """The probe could not be built, loaded or attached. The message is one line."""


@dataclass(frozen=True)
class KernelFilter:
    """What the kernel drops before it costs a ring-buffer slot.

    ``None`` means "no restriction". Syscall names the table does not know are
    ignored here (userspace still filters on them).
    """

    pids: frozenset[int] | None = None
    cgroup_ids: frozenset[int] | None = None
    syscalls: frozenset[str] | None = None
    failed_only: bool = False


@dataclass
class ProbeConfig:
    """Sizes of the kernel-side buffers, in bytes (ring sizes: powers of two)."""

    events_bytes: int = 32 << 20
    ext_bytes: int = 64 << 20  # 904-byte records: ~74k of them
    inflight_max: int = 65536
    filter: KernelFilter = field(default_factory=KernelFilter)


def _bpf_dir() -> resources.abc.Traversable:
    return resources.files(__package__) / "bpf"


def _pages(nbytes: int) -> int:
    pages = max(1, nbytes // PAGE_SIZE)
    if pages & (pages - 1):
        raise ProbeError(f"ring size {nbytes} bytes is not a power-of-two number of pages")
    return pages


class SyscallProbe:
    """The syscall + process-lifecycle probe (``bpf/syscalls.bpf.c``)."""

    def __init__(self, config: ProbeConfig | None = None, syscalls: SyscallTable | None = None,
                 self_tgid: int | None = None) -> None:
        self.config = config or ProbeConfig()
        self.table = syscalls or table()
        self.self_tgid = os.getpid() if self_tgid is None else self_tgid
        self._bpf = None
        self.rings: list[RingBuffer] = []

    # -- building -----------------------------------------------------------------
    def source(self) -> str:
        """The C text handed to bcc (the header is included through ``-I``)."""
        return (_bpf_dir() / "syscalls.bpf.c").read_text()

    def cflags(self) -> list[str]:
        cfg = self.config
        flt = cfg.filter
        flags = [
            f"-DSELF_TGID={self.self_tgid}",
            f"-DEVENTS_PAGES={_pages(cfg.events_bytes)}",
            f"-DEXT_PAGES={_pages(cfg.ext_bytes)}",
            f"-DINFLIGHT_MAX={cfg.inflight_max}",
            f"-DNR_SYSCALLS={self.table.max_nr}",
            f"-DNR_CONNECT={self.table.nr('connect')}",
        ]
        if flt.pids is not None:
            flags.append("-DFILTER_PID")
        if flt.cgroup_ids is not None:
            flags.append("-DFILTER_CGROUP")
        if flt.syscalls is not None:
            flags.append("-DFILTER_SYSCALL")
        if flt.failed_only:
            flags.append("-DFILTER_FAILED")
        return flags

    def dump(self) -> str:
        """The program as bcc will compile it: defines, then header, then source."""
        defines = "\n".join(
            "#define " + f[2:].replace("=", " ", 1) for f in self.cflags()
        )
        header = (_bpf_dir() / "cdig.h").read_text()
        return f"/* cflags */\n{defines}\n\n/* cdig.h */\n{header}\n/* syscalls.bpf.c */\n" + \
            self.source()

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
            info[nr]["flags"] = flags
            if spec.path_args:
                info[nr]["str1_arg"] = spec.path_args[0]
            if len(spec.path_args) > 1:
                info[nr]["str2_arg"] = spec.path_args[1]
            info[nr]["addr_arg"] = spec.addr_arg
        return info

    # -- loading ------------------------------------------------------------------
    def load(self) -> None:
        """Compile, load and attach. Raises ProbeError with a one-line reason."""
        try:
            from bcc import BPF  # noqa: PLC0415 - only here: replay needs no bcc
        except ImportError as e:
            raise ProbeError(
                f"the bcc Python module is not importable ({e}); run scripts/setup.sh"
            ) from None
        with resources.as_file(_bpf_dir()) as bpf_dir:
            try:
                self._bpf = BPF(text=self.source(), cflags=[f"-I{bpf_dir}", *self.cflags()])
            except Exception as e:  # bcc raises bare Exception for compile/load failures
                raise ProbeError(f"cannot load the BPF program: {_one_line(e)}") from None
        b = self._bpf
        try:
            arr = b["sysinfo"]
            info = self.sysinfo()
            for nr in range(len(info)):
                v = arr.Leaf(*(int(x) for x in info[nr].tolist()))
                arr[ctypes.c_int(nr)] = v
            flt = self.config.filter
            if flt.pids is not None:
                t = b["filter_pid"]
                for pid in flt.pids:
                    t[t.Key(pid)] = t.Leaf(1)
            if flt.cgroup_ids is not None:
                t = b["filter_cgroup"]
                for cg in flt.cgroup_ids:
                    t[t.Key(cg)] = t.Leaf(1)
        except Exception as e:
            raise ProbeError(f"cannot configure the BPF maps: {_one_line(e)}") from None
        self.rings = [
            RingBuffer(b["events"].map_fd, self.config.events_bytes, layout.EVENT_SLOT),
            RingBuffer(b["events_ext"].map_fd, self.config.ext_bytes, layout.EXT_SLOT),
        ]

    def stats(self) -> dict[str, int]:
        """Kernel-side counters summed over CPUs: drops by cause and records sent."""
        if self._bpf is None:
            return {}
        t = self._bpf["stats"]
        names = {layout.STAT_DROP_EVENTS: "dropped_ring", layout.STAT_DROP_EXT: "dropped_ext",
                 layout.STAT_DROP_INFLIGHT: "dropped_inflight", layout.STAT_SEEN: "sent"}
        out = {}
        for idx, name in names.items():
            out[name] = int(sum(t[ctypes.c_int(idx)]))
        return out

    def close(self) -> None:
        for r in self.rings:
            r.close()
        self.rings = []
        if self._bpf is not None:
            self._bpf.cleanup()
            self._bpf = None


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__
