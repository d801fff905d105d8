"""The in-kernel aggregation probe: compiled and loaded with bcc, its class array
filled, its maps handed to ``MetricsMaps``."""

from __future__ import annotations

import ctypes
from typing import Any

from ..loader import ProbeError, compile_bpf, dump, one_line, probe_dir
from ..syscall_table import SyscallTable, table
from . import config
from .config import Features, MetricsConfig
from .layout import sysclass
from .maps import MetricsMaps

PROBE = "metrics"


class MetricsProbe:
    """The in-kernel aggregation probe of ``cdig exporter`` (``program.bpf.c``).

    After ``load()``, ``maps`` is a ``maps.MapReader`` over its maps.
    ``pairing`` says how latency is measured: ``task`` (task-local storage),
    ``hash`` (a tid-keyed hash, where task storage is not available) or
    ``off``. With ``config.pairing == "auto"`` task storage is tried first.
    """

    def __init__(self, config: MetricsConfig | None = None,
                 syscalls: SyscallTable | None = None,
                 features: Features | None = None) -> None:
        self.config = config or MetricsConfig()
        self.table = syscalls or table()
        self.features = features or Features.detect()
        if self.config.pairing not in ("auto", "task", "hash"):
            raise ProbeError(f"unknown latency pairing {self.config.pairing!r}")
        self.pairing = "off"
        if self.config.latency:
            want_task = self.config.pairing == "task" or (
                self.config.pairing == "auto" and self.features.task_storage)
            self.pairing = "task" if want_task else "hash"
        self._bpf: Any = None  # the loaded bcc.BPF
        self.maps: MetricsMaps | None = None

    def source(self) -> str:
        return (probe_dir(PROBE) / "program.bpf.c").read_text()

    def cflags(self) -> list[str]:
        return config.cflags(self.config, self.features, self.table, self.pairing == "task")

    def dump(self) -> str:
        """The program as bcc will compile it: defines, then header, then source."""
        return dump(PROBE, self.cflags(), self.source())

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
            for nr, cls in enumerate(sysclass(self.table).tolist()):
                if cls:
                    arr[ctypes.c_int(nr)] = ctypes.c_uint8(cls)
            names = ["syscalls", "errors", "procs", "mstats"]
            names += ["latency"] if self.config.latency else ["slotrows", "cgslot", "slotowner"]
            fds = {name: b[name].map_fd for name in names}
            self.maps = MetricsMaps(fds, latency=self.config.latency,
                                    slot_nrs=config.slot_nrs(self.table))
        except Exception as e:
            self.close()
            raise ProbeError(f"cannot configure the BPF maps: {one_line(e)}") from None

    def _compile(self) -> None:
        self._bpf = compile_bpf(PROBE, self.source(), self.cflags())

    def close(self) -> None:
        self.maps = None
        if self._bpf is not None:
            self._bpf.cleanup()
            self._bpf = None
