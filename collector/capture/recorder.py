"""The capture writer as a session stage: which rows and which state go into a file."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterable, Sequence
from typing import Any

import numpy as np

from ...probes.syscall_table import SyscallTable
from ...probes.syscalls import layout
from ..events import HOST, Container
from ..procfs import PROC_ROOT, ProcFS
from ..state import State
from .format import PLAIN_FIELDS, _Cols, _empty_batch, _Snaplen, rows_to_batch
from .journal import RecordingProcFS
from .writer import CaptureWriter

# --------------------------------------------------------------------------- tables


def _container_dict(key: int, c: Container, cgroup_ids: Iterable[int] = ()) -> dict[str, Any]:
    return {"key": key, "id": c.id, "name": c.name, "runtime": c.runtime, "image": c.image,
            "labels": dict(c.labels), "cgroup_path": c.cgroup_path, "pod_name": c.pod_name,
            "pod_namespace": c.pod_namespace, "pod_uid": c.pod_uid,
            "cgroup_ids": sorted(cgroup_ids), "privileged": c.privileged,
            "mounts": [list(m) for m in c.mounts], "image_id": c.image_id,
            "image_digest": c.image_digest, "healthcheck": list(c.healthcheck)}


def _container_fingerprint(c: Container) -> tuple[object, ...]:
    """Cheap enough per event: the resolver replaces ``labels`` (never edits it) when
    the runtime answers, so the dict's identity stands for its content."""
    return (c.id, c.name, c.runtime, c.image, id(c.labels), c.cgroup_path, c.pod_name,
            c.pod_namespace, c.pod_uid, c.privileged, c.mounts, c.image_id, c.healthcheck)




class CaptureRecorder:
    """The capture writer as a session stage (a batch sink of ``collector.session``).

    * ``container_of``/``procfs`` wrap the live lookups State uses and record
      their answers; pass them to ``State``.
    * Called with each enriched batch and its matched mask, it keeps the matched
      rows plus those that change state (so a reader names fds and processes as
      live did; marked ``ctx``), with the batch's own numbers.
    * Batches are written every ``flush_rows`` records or ``flush_s`` seconds;
      files rotate per the writer's Rotation. ``flush_rows`` is the live source's
      largest batch (16384 records, collector.sources): under load every session
      batch is written as it is, never first concatenated with others.
    """

    batch_sink = True

    def __init__(self, writer: CaptureWriter, syscalls: SyscallTable,
                 live_container_of: Callable[[int, int], Container] | None = None,
                 live_procfs: ProcFS | None = None, snaplen: int | None = None,
                 flush_rows: int = 16384, flush_s: float = 1.0,
                 monotonic: Callable[[], float] = time.monotonic) -> None:
        self.writer = writer
        self.syscalls = syscalls
        self.snap = _Snaplen(snaplen, syscalls)
        self.flush_rows = flush_rows
        self.flush_s = flush_s
        self.monotonic = monotonic
        self._live_container_of = live_container_of or (lambda cg, pid: HOST)
        self.journal: list[list[Any]] = []
        self.procfs = RecordingProcFS(live_procfs or ProcFS(PROC_ROOT), self.journal)
        self._keys: dict[int, int] = {id(HOST): 0}  # id(Container) -> key
        self._tracked: list[tuple[int, Container]] = []
        self._seen: dict[int, tuple[object, ...]] = {}  # key -> fingerprint last recorded
        self._queued: list[tuple[int, dict[str, Any]]] = []  # container dicts for next batch
        self._cgroup_ids: dict[int, set[int]] = {}  # key -> cgroup ids seen
        self._cg_map: dict[str, int] = {}
        self._pid_map: dict[str, int] = {}
        self.state: State | None = None
        self.source: Any = None
        self._pending: list[_Cols] = []
        self._pending_rows = 0
        self._last_flush = monotonic()
        self.written = 0  # records shown on replay (matched the filter)
        self.context = 0  # records written only for state
        state_nr = np.zeros(1 << 16, dtype=bool)
        for spec in syscalls.by_nr.values():
            if spec.state:
                state_nr[spec.nr] = True
        self._state_nr = state_nr

    # -- lookups State makes --------------------------------------------------------
    def key_of(self, c: Container, seen_as: Container | None = None) -> int:
        """The capture's key of a live container (``seen_as``: the copy a batch's
        sinks saw, recorded when the container is new)."""
        k = self._keys.get(id(c))
        if k is None:
            k = self._keys[id(c)] = len(self._keys)
            self._tracked.append((k, c))
            shown = seen_as if seen_as is not None else c
            self._seen[k] = _container_fingerprint(shown)
            self._queued.append((k, _container_dict(k, shown)))  # as it is when first seen
        return k

    def container_of(self, cgroup_id: int, pid: int) -> Container:
        c = self._live_container_of(cgroup_id, pid)
        k = self.key_of(c)
        if cgroup_id:
            self._cg_map[str(cgroup_id)] = k
            self._cgroup_ids.setdefault(k, set()).add(cgroup_id)
        else:
            self._pid_map[str(pid)] = k
        return c

    def add_containers(self, by_cgroup: Sequence[tuple[int, Container]]) -> None:
        """Containers known at start with their cgroup ids (for the header)."""
        for cg, c in by_cgroup:
            self._cgroup_ids.setdefault(self.key_of(c), set()).add(cg)

    def _containers_changed(self, everything: bool = False) -> list[dict[str, Any]]:
        """Container dicts to write: those queued (as they were when seen), then any
        whose metadata changed unseen since (all of them with ``everything``)."""
        out = []
        queued, self._queued = self._queued, []
        for k, d in queued:
            d["cgroup_ids"] = sorted(self._cgroup_ids.get(k, ()))
            out.append(d)
        if everything:  # a new file: every container as it is now
            for k, c in self._tracked:
                self._seen[k] = _container_fingerprint(c)
                out.append(_container_dict(k, c, self._cgroup_ids.get(k, ())))
        return out

    # -- life cycle -------------------------------------------------------------------
    def start(self, state: State, decoder: Any = None, source: Any = None) -> str:
        """Open the first file with the state as it is now (after seed)."""
        self.state, self.source = state, source
        return self.writer.open(self._snapshot())

    def _snapshot(self) -> dict[str, Any]:
        assert self.state is not None
        snap = self.state.snapshot(self.key_of)
        snap["containers"] = self._containers_changed(everything=True)
        snap["pids"] = dict(self._pid_map)  # seeded processes' containers, by pid
        self.journal.clear()  # answers the snapshot's tables already hold
        self._cg_map.clear()
        self._pid_map.clear()
        return snap

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        """A session stage: keep the batch's matched rows and its state rows."""
        origin = b.container_origin or b.containers
        changed = []
        for live, seen in zip(origin, b.containers, strict=True):
            k = self.key_of(live, seen)
            fp = _container_fingerprint(seen)
            if fp != self._seen.get(k):  # metadata landed: from this batch on
                self._seen[k] = fp
                changed.append((k, _container_dict(k, seen)))
        if changed:
            if self._pending:
                self.flush()
            self._queued += changed
        rec = b.rec
        if len(rec):
            cols = b.cols  # contiguous columns, most made already by the session's stages
            is_state = (cols["kind"] >= layout.KIND_EXEC) | self._state_nr[cols["nr"]]
            keep = matched | is_state
            if keep.any():
                k = int(np.count_nonzero(matched))
                self.written += k
                if keep.all():  # the usual case: every column as it is, no copy
                    n = len(keep)
                    plain = {name: cols[name] for name in PLAIN_FIELDS}
                    xr = b.ext_row
                    ctx = ~matched
                    num = b.num
                else:
                    rows = np.flatnonzero(keep)
                    n = len(rows)
                    plain = {name: cols[name][rows] for name in PLAIN_FIELDS}
                    xr = b.ext_row[rows]
                    ctx = ~matched[rows]
                    num = b.num[rows]
                is_ext = xr >= 0
                self.context += n - k
                self._pending.append(_Cols(plain, b.ext[xr[is_ext]], is_ext,
                                           num.astype(np.uint64), ctx))
                self._pending_rows += n
        now = self.monotonic()
        if self._pending_rows >= self.flush_rows or (
                now - self._last_flush >= self.flush_s and (self._pending_rows or self.journal
                                                            or self._cg_map or self._pid_map)):
            self.flush()
        per_file = self.writer.rotation.events  # -e: the records pending count too
        if self.writer.due() or per_file is not None and \
                self.writer.file_rows + self._pending_rows >= per_file:
            self.flush()
            self.writer.rotate(self._snapshot())

    def flush(self) -> None:
        """Write what is pending as one batch, with the state changes behind it."""
        self._last_flush = self.monotonic()
        pieces, self._pending, self._pending_rows = self._pending, [], 0
        if pieces:
            rb = rows_to_batch(_Cols.concat(pieces), self.snap)
        else:
            rb = _empty_batch()
        state: dict[str, Any] = {}
        changed = self._containers_changed()
        if changed:
            state["containers"] = changed
        if self._cg_map:
            state["cgroups"] = dict(self._cg_map)
        if self._pid_map:
            state["pids"] = dict(self._pid_map)
        if self.journal:
            state["journal"] = self.journal[:]
        if self.source is not None:
            state["drops"] = int(self.source.drops())
        self.journal.clear()
        self._cg_map.clear()
        self._pid_map.clear()
        self.writer.write(rb, state)

    def close(self) -> None:
        """Write the last batch and close the file (also after -n or Ctrl-C)."""
        if self.state is None:
            self.writer.close()
            return
        self.flush()
        self.writer.close()

    @property
    def sink(self) -> CaptureRecorder:
        return self
