"""The in-kernel aggregation probe: compiled once and kept (``objcache``; bcc alone
when the object cannot be kept), its class array filled, its maps handed to
``MetricsMaps``."""

from __future__ import annotations

import dataclasses

import numpy as np

from ..bpf_syscall import BpfMap
from ..loader import LoadedProgram, ProbeError, dump, load_probe, one_line, probe_dir
from ..objcache import ObjectCache
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
                 features: Features | None = None,
                 cache: ObjectCache | None | bool = True) -> None:
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
        # compiled objects kept between starts (objcache); False: compile every time
        self.cache = ObjectCache() if cache is True else cache or None
        self.loaded_from = ""  # "cache", "compiled" (and cached) or "bcc"
        self._obj: LoadedProgram | None = None
        self.maps: MetricsMaps | None = None

    def source(self) -> str:
        return (probe_dir(PROBE) / "program.bpf.c").read_text()

    def cflags(self) -> list[str]:
        return config.cflags(self.config, self.features, self.table, self.pairing == "task")

    def dump(self) -> str:
        """The program as bcc will compile it: defines, then header, then source."""
        return dump(PROBE, self.cflags(), self.source())

    def load(self) -> None:
        """Compile (or take from the cache), load and attach. Raises ProbeError with a
        one-line reason."""
        try:
            self._compile()
        except ProbeError:
            if self.features.cgroup_chain is not None:
                # the BTF-typed loads refused (a kernel whose verifier does not
                # walk them): the helper reads the same id
                self.features = dataclasses.replace(self.features, cgroup_chain=None)
                self.load()
                return
            if self.pairing != "task" or self.config.pairing == "task":
                raise
            self.pairing = "hash"  # task storage refused (older kernel, no BTF): fall back
            self._compile()
        try:
            classes = sysclass(self.table)
            nrs = np.flatnonzero(classes).astype(np.uint32)
            BpfMap(self.map_fd("sysclass"), np.dtype(np.uint32), np.dtype(np.uint8)).update(
                nrs, classes[nrs])
            names = ["syscalls", "errors", "procs", "mstats"]
            names += (["latency"] + (["latcache", "deadcg", "deadgen"]
                                     if config.latcache_entries(self.config) else [])
                      if self.config.latency else ["slotrows", "cgslot", "slotowner"])
            fds = {name: self.map_fd(name) for name in names}
            self.maps = MetricsMaps(fds, latency=self.config.latency,
                                    slot_nrs=config.slot_nrs(self.table))
        except Exception as e:
            self.close()
            raise ProbeError(f"cannot configure the BPF maps: {one_line(e)}") from None

    def _compile(self) -> None:
        self._obj, self.loaded_from = load_probe(PROBE, self.source(), lambda _: self.cflags(),
                                                 None, self.cache)  # no SELF_TGID in it

    def map_fd(self, name: str) -> int:
        """A map of the loaded program, by name."""
        if self._obj is None:
            raise ProbeError("the metrics probe is not loaded")
        return self._obj.map_fd(name)

    def prog_fds(self) -> dict[str, int]:
        """Name -> fd of each loaded program (for ``bpf_syscall.prog_run_stats``)."""
        return dict(self._obj.prog_fds) if self._obj is not None else {}

    def close(self) -> None:
        self.maps = None
        if self._obj is not None:
            self._obj.close()
            self._obj = None
