"""The replay source: capture files (a rotation set continued, others each from its
own snapshot) as the ``EventSource`` the Session runs like a live one, with the State
seeded and answered from the capture, never from this host."""

from __future__ import annotations

import platform
from collections.abc import Callable, Iterator, Sequence
from typing import Any

import numpy as np
import pyarrow as pa

from ...probes.syscall_table import table
from ..decode import RawBatch
from ..events import HOST, Container
from ..state import State
from .batch_read import ArrowColumns, len2_column, read_ahead, shift_ts, take_rows
from .files import Loss, open_all
from .format import CaptureError
from .journal import ReplayProcFS
from .reader import CaptureFile


class ReplaySource:
    """Records from capture files, as the ``EventSource`` of a replay pipeline.

    Files are put in capture order (session start, file index), whatever order
    they were named in. ``attach(state)`` gives the source the State to seed
    from each file's snapshot; build that State with ``container_of`` and
    ``procfs`` from here, so it answers from the capture, never from this host.
    A damaged file yields its intact batches, then ``losses`` says what was lost
    (``on_loss`` is called at once); the next file is read as usual.
    """

    def __init__(self, paths: Sequence[str], on_loss: Callable[[Loss], None] | None = None
                 ) -> None:
        files = open_all(paths, CaptureFile.open)
        _reuse_freed_memory()
        self.losses: list[Loss] = [f.loss for f in files if f.loss is not None]
        readable = [f for f in files if f.header]
        readable.sort(key=lambda f: (f.header.get("session_started_ns", 0),
                                     f.header.get("session", ""), f.header.get("file_index", 0)))
        self.files = readable
        self.on_loss = on_loss
        for loss in self.losses:
            if on_loss:
                on_loss(loss)
        first = readable[0].header if readable else {}
        self.header = first
        arches = {f.header.get("syscall_arch") for f in readable}
        if len(arches) > 1:
            raise CaptureError("these captures come from different architectures: "
                               + ", ".join(sorted(str(a) for a in arches)))
        arch = first.get("syscall_arch") or platform.machine()
        try:
            self.syscalls = table(arch)
        except ValueError as e:
            raise CaptureError(f"{readable[0].path}: {e}") from None
        self.mono_to_wall_ns = int(first.get("mono_to_wall_ns", 0))
        self.procfs = ReplayProcFS()
        self.containers: dict[int, Container] = {0: HOST}
        self._cg_map: dict[int, int] = {}
        self._pid_map: dict[int, int] = {}
        self._state: State | None = None
        self._restored: CaptureFile | None = None
        self._stop = False
        self._drops = 0
        self._read_bytes = 0
        self.records = 0
        # set by Session.replay: (columns, len2) -> rows to keep; the others are left
        # out before conversion, and ``left_out`` says how many of the batch last yielded
        self.prune: Callable[[Any, np.ndarray], np.ndarray] | None = None
        self.left_out = 0
        # set by Session.replay for a session that keeps no State: the only columns its
        # sinks read (the others are not decompressed), and no /proc journal applied
        self.fields: tuple[str, ...] | None = None
        # with ``fields``: (record columns) -> whether a batch must be read whole
        self.widen: Callable[[Any], bool] | None = None
        self.stateless = False
        self.only_pids: frozenset[int] | None = None  # state_pids': the journal's others skipped
        self.fdless = False  # set by Session.replay: no fd is looked up (the journal's skipped)
        self._whole = True  # the session's first batch is never pruned (evt.reltime's start)

    def _widener(self) -> Callable[[pa.RecordBatch], bool] | None:
        widen = self.widen
        return None if widen is None else lambda rb: widen(ArrowColumns(rb))

    def _pruner(self) -> Callable[[pa.RecordBatch], tuple[pa.RecordBatch, int]] | None:
        prune = self.prune
        if prune is None:
            return None

        def cut(rb: pa.RecordBatch) -> tuple[pa.RecordBatch, int]:
            if self._whole:  # the decoder takes the session's first time from it
                self._whole = False
                return rb, 0
            keep = prune(ArrowColumns(rb), len2_column(rb))
            if keep.all():
                return rb, 0
            # take of the kept rows' indices: filter by the mask takes ~1.5x as long
            # for the few rows a selective filter keeps (173 vs 116 us a 16k batch, 300 kept)
            rows = np.flatnonzero(keep)
            return take_rows(rb, rows), len(keep) - len(rows)

        return cut

    def state_pids(self, pids: frozenset[int]) -> frozenset[int] | None:
        """The processes whose state rows a replay must apply to show rows of ``pids``
        only: those, and their ancestors by the captures' fork records (a child starts
        with its parent's fds, working directory and image). A pass over the kind
        column (``CaptureFile.forks``); None when a file has no column digests."""
        forks: dict[int, set[int]] = {}  # child -> parents (a pid can be reused)
        for f in self.files:
            pairs = f.forks()
            if pairs is None:
                return None
            for c, p in pairs:
                forks.setdefault(c, set()).add(p)
        keep, todo = set(pids), list(pids)
        while todo:
            for p in forks.get(todo.pop(), ()):
                if p not in keep:
                    keep.add(p)
                    todo.append(p)
        self.only_pids = frozenset(keep)
        return self.only_pids

    # -- what State asks ------------------------------------------------------------
    def container_of(self, cgroup_id: int, pid: int) -> Container:
        key = self._cg_map.get(cgroup_id) if cgroup_id else self._pid_map.get(pid)
        return self.containers.get(key, HOST) if key is not None else HOST

    def _container(self, key: int) -> Container:
        return self.containers.get(key, HOST)

    def attach(self, state: State) -> None:
        """Seed ``state`` from the first file's snapshot (replay's ``State.seed``)."""
        self._state = state
        if self.files:
            self._restore(self.files[0])
            self._restored = self.files[0]

    def _restore(self, f: CaptureFile) -> None:
        snap = f.snapshot
        self._apply({"containers": snap.get("containers", ()),
                     "cgroups": snap.get("cgroups", {}), "pids": snap.get("pids", {})})
        if self._state is not None:
            self._state.restore(snap, self._container)

    def _apply(self, state: dict[str, Any]) -> None:
        for d in state.get("containers", ()):
            key = int(d["key"])
            if key == 0:
                continue
            c = self.containers.get(key)
            if c is None:
                c = self.containers[key] = Container(id=d["id"], name=d["name"],
                                                     runtime=d["runtime"])
            c.id, c.name, c.runtime = d["id"], d["name"], d["runtime"]
            c.image, c.labels, c.cgroup_path = d["image"], dict(d["labels"]), d["cgroup_path"]
            c.pod_name, c.pod_namespace, c.pod_uid = (d["pod_name"], d["pod_namespace"],
                                                      d["pod_uid"])
            # what captures before these fields did not keep: unknown
            c.privileged = d.get("privileged")
            c.mounts = tuple((str(m[0]), str(m[1]), str(m[2]), m[3] is True, str(m[4]))
                             for m in d.get("mounts", ()) if len(m) == 5)
            c.image_id, c.image_digest = d.get("image_id", ""), d.get("image_digest", "")
            c.healthcheck = tuple(str(w) for w in d.get("healthcheck", ()))
            for cg in d.get("cgroup_ids", ()):
                self._cg_map.setdefault(int(cg), key)
        for cg, key in state.get("cgroups", {}).items():
            self._cg_map[int(cg)] = int(key)
        for pid, key in state.get("pids", {}).items():
            self._pid_map[int(pid)] = int(key)
        if "journal" in state and not self.stateless:
            self.procfs.apply(state["journal"], self.only_pids, self.fdless)
        if "drops" in state:
            self._drops = int(state["drops"])

    # -- EventSource -----------------------------------------------------------------
    def progress(self) -> tuple[int, int]:
        """(bytes of the files behind the batches yielded so far, all the files' bytes):
        ``cdig trace -P``."""
        return self._read_bytes, sum(f.size for f in self.files)

    def batches(self) -> Iterator[RawBatch]:
        prev: CaptureFile | None = None
        before = 0  # bytes of the files already read
        for f in self.files:
            if self._stop:
                break
            continues = prev is not None and prev.loss is None and \
                prev.header.get("session") == f.header.get("session") and \
                prev.header.get("file_index", 0) + 1 == f.header.get("file_index")
            if f is not self._restored:
                if continues:  # the state goes on; only learn the file's containers
                    self._apply({"containers": f.snapshot.get("containers", ())})
                else:
                    self._restore(f)
            self._restored = None
            shift = int(f.header.get("mono_to_wall_ns", self.mono_to_wall_ns)) - \
                self.mono_to_wall_ns
            for cb, converted, left_out in read_ahead(f.batches(self.fields, self._widener()),
                                                     self._pruner()):
                self._apply(cb.state)
                self._read_bytes = before + cb.end
                if converted is None:
                    continue
                raw, ctx = converted
                self.left_out = left_out
                raw.ctx = ctx if ctx.any() else None
                if shift:
                    shift_ts(raw, shift)
                self.records += len(raw) + left_out  # batches joined: rows kept + left out
                yield raw
                if self._stop:
                    break
            if f.loss is not None:
                self.losses.append(f.loss)
                if self.on_loss:
                    self.on_loss(f.loss)
            f.close()
            prev = f
            before += f.size
            if not self._stop:  # read to its end
                self._read_bytes = before

    def stop(self) -> None:
        self._stop = True

    def drops(self) -> int:
        """Events the live capture dropped (as recorded in the file)."""
        return self._drops

    def close(self) -> None:
        for f in self.files:
            f.close()


_M_TRIM_THRESHOLD, _M_MMAP_THRESHOLD = -1, -3  # glibc's mallopt parameters
_reused = False


def _reuse_freed_memory() -> None:
    """Let glibc's malloc keep freed batch-sized blocks for the next batch.

    Each batch allocates records and columns of several MB; glibc maps blocks that
    large afresh and unmaps them on free, so every batch wrote to new pages, a page
    fault per 4 kB (about half of converting a batch to records, measured). Blocks
    up to 64 MB now come from the heap, which keeps up to 256 MB freed at its top.
    Once per process; nothing where the C library is not glibc."""
    global _reused
    if _reused:
        return
    _reused = True
    try:
        import ctypes

        libc = ctypes.CDLL("libc.so.6")
        libc.mallopt(_M_MMAP_THRESHOLD, 64 << 20)
        libc.mallopt(_M_TRIM_THRESHOLD, 256 << 20)
    except (OSError, AttributeError):
        pass
