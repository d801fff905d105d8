"""Builds, loads and attaches the BPF programs. The only module that imports bcc.

The C lives in ``bpf/*.bpf.c``; it is configured with ``-D`` defines (as bcc's
syscount does), never by editing the C text, so ``cdig probe --dump-bpf``
shows exactly what is compiled.
"""

from __future__ import annotations

import contextlib
import ctypes
import os
import sys
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass, field
from importlib import resources
from typing import Any

import numpy as np

from . import layout, metrics
from .kernel_filter import KernelFilter
from .ringbuf import PAGE_SIZE, RingBuffer
from .syscalls import NO_ARG, SyscallTable, table


class ProbeError(Exception):
    """The probe could not be built, loaded or attached. The message is one line."""


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
    # a ring wakes its reader at most this often (syscalls.bpf.c: wakeup())
    wakeup_ns: int = 1_000_000
    # bytes of each I/O buffer copied at exit (sysdig's -s; 0: none, and the
    # I/O calls cost what any other call does)
    snaplen: int = 0
    # an enter record for every syscall (sysdig's '>'): a call that blocks is seen
    # while it blocks. Off, only execve/exit have one and the rest cost nothing more
    enter_events: bool = False
    filter: KernelFilter = field(default_factory=KernelFilter)


def _bpf_dir() -> resources.abc.Traversable:
    return resources.files(__package__) / "bpf"


def _pages(nbytes: int) -> int:
    pages = max(1, nbytes // PAGE_SIZE)
    if pages & (pages - 1):
        raise ProbeError(f"ring size {nbytes} bytes is not a power-of-two number of pages")
    return pages


def compile_bpf(source: str, cflags: list[str]) -> Any:  # a bcc.BPF (bcc is untyped)
    """Compile and load ``source`` with bcc (``bpf/`` on the include path).

    bcc prints compiler and verifier diagnostics on fd 2 itself; they are
    captured and folded into one ProbeError line. Warnings of a successful
    load stay visible.
    """
    try:
        from bcc import BPF  # only here: replay and unit tests need no bcc
    except ImportError as e:
        raise ProbeError(
            f"the bcc Python module is not importable ({e}); run scripts/setup.sh"
        ) from None
    failed: Exception | None = None
    bpf = None
    with resources.as_file(_bpf_dir()) as bpf_dir, _stderr_captured() as diagnostics:
        try:
            bpf = BPF(text=source, cflags=[f"-I{bpf_dir}", *cflags])
        except Exception as e:  # bcc raises bare Exception for compile/load failures
            failed = e
    if failed is not None:
        raise ProbeError(
            f"cannot load the BPF program: {_load_reason(failed, diagnostics[0])}"
        ) from None
    if diagnostics[0].strip():
        os.write(2, diagnostics[0].encode())
    return bpf


class SyscallProbe:
    """The syscall + process-lifecycle probe (``bpf/syscalls.bpf.c``).

    ``pairing`` says where a syscall's enter waits for its exit: ``task``
    (task-local storage, kernel >= 5.11 with BTF) or ``hash`` (a tid-keyed
    hash, about 3x the per-syscall cost: ``benchmarks/probe_overhead.py``).
    ``auto`` picks task storage where the kernel has it, and falls back to
    the hash if the kernel refuses the program anyway.
    """

    def __init__(self, config: ProbeConfig | None = None, syscalls: SyscallTable | None = None,
                 self_tgid: int | None = None, pairing: str = "auto") -> None:
        if pairing not in ("auto", "task", "hash"):
            raise ProbeError(f"unknown enter/exit pairing {pairing!r}")
        self.config = config or ProbeConfig()
        if not 0 <= self.config.snaplen <= layout.IO_MAX:
            raise ProbeError(f"the I/O snaplen is 0 to {layout.IO_MAX} bytes, not "
                             f"{self.config.snaplen}")
        self.table = syscalls or table()
        self.self_tgid = os.getpid() if self_tgid is None else self_tgid
        self._want_pairing = pairing
        if pairing == "auto":
            pairing = "task" if metrics.Features.detect().task_storage else "hash"
        self.pairing = pairing
        self._bpf: Any = None  # the loaded bcc.BPF
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
        if cfg.enter_events:
            flags.append("-DENTER_EVENTS")
        if flt.pids is not None:
            flags.append("-DFILTER_PID")
        if flt.cgroup_ids is not None:
            flags.append("-DFILTER_CGROUP")
        if flt.syscalls is not None:
            flags.append("-DFILTER_SYSCALL")
        if flt.failed_only:
            flags.append("-DFILTER_FAILED")
        return flags

    def io_ring_bytes(self) -> int:
        """The io ring's size: unused (one page) without a snaplen."""
        return self.config.io_bytes if self.config.snaplen else PAGE_SIZE

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
            if spec.io and self.config.snaplen:
                flags |= layout.SYS_IO | {"buf": 0, "iov": layout.SYS_IOV,
                                          "msg": layout.SYS_MSG}[spec.io]
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
            self._bpf = compile_bpf(self.source(), self.cflags())
        except ProbeError:
            if self.pairing != "task" or self._want_pairing == "task":
                raise
            self.pairing = "hash"  # task storage refused (older kernel, no BTF): fall back
            self._bpf = compile_bpf(self.source(), self.cflags())
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
            RingBuffer(b["events_io"].map_fd, self.io_ring_bytes(),
                       layout.slot_dtype(layout.io_record(self.config.snaplen))),
        ]

    def want_syscalls(self, names: frozenset[str] | None) -> bool:
        """Narrow (``None``: widen to all) the syscalls this loaded probe sends, by
        rewriting their WANT flags; the ones that keep the fd/process tables
        current pass whatever. Only a probe loaded with a syscall filter checks
        the flags: False for any other (nothing changed)."""
        if self._bpf is None or self.config.filter.syscalls is None:
            return False
        self._set_flag(layout.SYS_WANT, {nr: names is None or spec.name in names
                                         for nr, spec in self.table.by_nr.items()})
        return True

    def want_io_data(self, on: bool) -> bool:
        """Copy the I/O calls' data from now on (``on``) or not, by rewriting their
        IO flags (off: they go as plain records, as with snaplen 0). Only a probe
        loaded with a snaplen copies data: False for any other (nothing changed)."""
        if self._bpf is None or not self.config.snaplen:
            return False
        self._set_flag(layout.SYS_IO, {nr: on for nr, spec in self.table.by_nr.items()
                                       if spec.io})
        return True

    def _set_flag(self, bit: int, on: dict[int, bool]) -> None:
        """Set (True) or clear (False) ``bit`` in the sysinfo flags of each syscall
        number of ``on``; only the entries that change are written back."""
        assert self._bpf is not None
        arr = self._bpf["sysinfo"]
        for nr, want in on.items():
            v = arr[ctypes.c_int(nr)]
            flags = v.flags | bit if want else v.flags & ~bit
            if flags != v.flags:
                v.flags = flags
                arr[ctypes.c_int(nr)] = v

    def prog_fds(self) -> dict[str, int]:
        """Name -> fd of each loaded program (for ``bpf_syscall.prog_run_stats``)."""
        if self._bpf is None:
            return {}
        return {str(name.decode() if isinstance(name, bytes) else name): f.fd
                for name, f in self._bpf.funcs.items()}

    def stats(self) -> dict[str, int]:
        """Kernel-side counters summed over CPUs: drops by cause and records sent."""
        if self._bpf is None:
            return {}
        t = self._bpf["stats"]
        names = {layout.STAT_DROP_EVENTS: "dropped_ring", layout.STAT_DROP_EXT: "dropped_ext",
                 layout.STAT_DROP_INFLIGHT: "dropped_inflight", layout.STAT_SEEN: "sent",
                 layout.STAT_DROP_IO: "dropped_io"}
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


@contextlib.contextmanager
def _stderr_captured() -> Iterator[list[str]]:
    """Collect what is written to file descriptor 2 meanwhile (bcc, clang and
    libbpf print their diagnostics there, not through Python), so a failed
    load is reported as one line instead of a screenful. Yields a list that
    holds the text once the block has ended."""
    out: list[str] = []
    sys.stderr.flush()
    saved = os.dup(2)
    try:
        with tempfile.TemporaryFile() as tmp:
            os.dup2(tmp.fileno(), 2)
            try:
                yield out
            finally:
                os.dup2(saved, 2)
                tmp.seek(0)
                out.append(tmp.read(1 << 20).decode("utf-8", "replace"))
    finally:
        os.close(saved)


def _load_reason(e: BaseException, diagnostics: str) -> str:
    """One line saying why bcc could not load the program."""
    lines = [ln.strip() for ln in diagnostics.splitlines() if ln.strip()]
    text = " ".join([*lines, str(e)])
    if "Operation not permitted" in text or "Permission denied" in text:
        return ("the kernel refused (Operation not permitted): BPF needs root with "
                "CAP_BPF and CAP_PERFMON, or CAP_SYS_ADMIN")
    detail = next((ln for ln in lines if "error" in ln.lower()), None)
    return f"{_one_line(e)}: {detail}" if detail else _one_line(e)


def _one_line(e: BaseException) -> str:
    text = str(e).strip().splitlines()
    return text[-1] if text else type(e).__name__


class MetricsProbe:
    """The in-kernel aggregation probe of ``cdig exporter`` (``bpf/metrics.bpf.c``).

    After ``load()``, ``maps`` is a ``metrics.MapReader`` over its maps.
    ``pairing`` says how latency is measured: ``task`` (task-local storage),
    ``hash`` (a tid-keyed hash, where task storage is not available) or
    ``off``. With ``config.pairing == "auto"`` task storage is tried first.
    """

    def __init__(self, config: metrics.MetricsConfig | None = None,
                 syscalls: SyscallTable | None = None,
                 features: metrics.Features | None = None) -> None:
        self.config = config or metrics.MetricsConfig()
        self.table = syscalls or table()
        self.features = features or metrics.Features.detect()
        if self.config.pairing not in ("auto", "task", "hash"):
            raise ProbeError(f"unknown latency pairing {self.config.pairing!r}")
        self.pairing = "off"
        if self.config.latency:
            want_task = self.config.pairing == "task" or (
                self.config.pairing == "auto" and self.features.task_storage)
            self.pairing = "task" if want_task else "hash"
        self._bpf: Any = None  # the loaded bcc.BPF
        self.maps: metrics.MetricsMaps | None = None

    def source(self) -> str:
        return (_bpf_dir() / "metrics.bpf.c").read_text()

    def cflags(self) -> list[str]:
        return metrics.cflags(self.config, self.features, self.table, self.pairing == "task")

    def dump(self) -> str:
        """The program as bcc will compile it: defines, then header, then source."""
        defines = "\n".join("#define " + f[2:].replace("=", " ", 1) for f in self.cflags())
        header = (_bpf_dir() / "metrics.h").read_text()
        return (f"/* cflags */\n{defines}\n\n/* metrics.h */\n{header}\n/* metrics.bpf.c */\n"
                + self.source())

    def load(self) -> None:
        """Compile, load and attach. Raises ProbeError with a one-line reason."""
        try:
            self._compile()
        except ProbeError:
            if self.pairing != "task" or self.config.pairing == "task":
                raise
            self.pairing = "hash"  # task storage refused (older kernel, no BTF): fall back
            self._compile()
        b = self._bpf
        try:
            arr = b["sysclass"]
            for nr, cls in enumerate(metrics.sysclass(self.table).tolist()):
                if cls:
                    arr[ctypes.c_int(nr)] = ctypes.c_uint8(cls)
            names = ["syscalls", "errors", "procs", "mstats"]
            if self.config.latency:
                names.append("latency")
            fds = {name: b[name].map_fd for name in names}
            self.maps = metrics.MetricsMaps(fds, latency=self.config.latency)
        except Exception as e:
            self.close()
            raise ProbeError(f"cannot configure the BPF maps: {_one_line(e)}") from None

    def _compile(self) -> None:
        self._bpf = compile_bpf(self.source(), self.cflags())

    def close(self) -> None:
        self.maps = None
        if self._bpf is not None:
            self._bpf.cleanup()
            self._bpf = None
