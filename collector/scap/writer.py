""".scap writer: what cdig sees, as a file sysdig 0.29.3 and current libs read.

``ScapWriter(path_or_file)`` then ``write(raw, state)`` per RawBatch (after the
pipeline has applied the batch to ``state``) and ``close()``. The first write
puts the state blocks first, as ``scap_setup_dump`` does: a 28-byte section
header, machine info, the process list (v9, 0.29 layout) with each process's
cgroups, one fd list (v2) per process, and one ``CONTAINER_JSON_2_E`` per
container (FORMAT.md §1.8). Then each record becomes what sysdig expects:

* a completed syscall: its enter event (arguments) and its exit event (result,
  and the parameters the exit carries), at ``ts - latency`` and ``ts``;
* an enter-only record: the enter event alone (execve's filename, exit_group);
* a completed execve: its exit with the 20 parameters sysdig takes the new
  process image from (exe, args, comm, cgroups …); the EXEC record itself has
  no event of its own;
* a FORK record: the child's clone exit (res=0, the child's thread info), in
  an EVF block with flags 0 — cdig's reader takes such a block for the FORK
  record alone, sysdig shows it as the child's ``clone <``;
* a thread first seen after the process list was written: a state-only
  (``SCAP_DF_STATE_ONLY``) child clone exit before its first event, so sysdig
  names it; neither reader shows it;
* an EXIT record: ``procexit``.

Containers are written as sysdig's docker engine recognises them: the cgroups
of a process are ``/docker/<64 hex>`` (the container's id, or a SHA-256 of it
when it is not 64 hex, e.g. a runc name), and the JSON names that id with the
container's name, image and labels, ``type`` 0 (0.29.3 prints no type for
podman). cdig's own id, runtime and cgroup path ride along in ``cdig_*`` keys
that sysdig ignores and cdig's reader prefers, so a round trip keeps them.

Writing to a pipe (``-``) flushes after every batch: ``cdig trace -w - |
sysdig -r -`` sees events as they come.
"""

from __future__ import annotations

import copy
import gzip
import os
import struct
import sys
import time
from collections.abc import Callable, Collection
from typing import Any, BinaryIO

import numpy as np

from ...probes.syscall_table import SyscallTable, table
from ...probes.syscalls import layout
from ..capture.writer import Rotation
from ..decode import RawBatch, io_data
from ..events import HOST, Container, FdInfo
from ..state import State
from . import blocks as B
from . import events as E
from .encode import (
    _U32,
    PL_MAX_ARGS,
    PL_MAX_PATH,
    _s64,
    block,
    cgroups_param,
    container_hex_id,
    encode_event,
    fd_entry,
    machine_info,
    proclist_entry,
    shb,
)
from .records import RecordEvents, _Proc


class ScapWriter(RecordEvents):
    """Writes RawBatches (with the State the pipeline keeps) as a .scap stream.

    ``out``: a path (created mode 0600; ``-`` is stdout) or a binary file object.
    ``container_of(cgroup_id, pid)`` names a record's container (default: the
    State's own lookup); ``mono_to_wall_ns`` turns the probe's monotonic
    timestamps into the wall clock .scap files use; ``compress`` gzips the file
    (as ``sysdig -z``).
    """

    def __init__(self, out: str | BinaryIO, syscalls: SyscallTable | None = None,
                 mono_to_wall_ns: int = 0, container_of: Callable[[int, int], Container] | None
                 = None, hostname: str | None = None, ncpus: int | None = None,
                 compress: bool = False, rotation: Rotation | None = None,
                 clock: Callable[[], float] = time.time) -> None:
        self.path = out if isinstance(out, str) else getattr(out, "name", "<stream>")
        self._own = isinstance(out, str)
        self.pipe = out == "-"
        self.compress = compress
        self.rotation = rotation if rotation is not None and rotation.active else None
        if self.rotation is not None and (self.pipe or not isinstance(out, str)):
            raise ValueError("rotation needs a file name")
        self.clock = clock
        self.files: list[str] = []  # every file created, in order (rotation)
        self._identity: dict[str, os.stat_result] = {}
        self._opened_at = 0.0
        if out == "-":
            f: BinaryIO = sys.stdout.buffer
            self._own = False
        elif isinstance(out, str):
            f = self._create(self._name(0, clock()))
        else:
            f = out
        self._set_file(f)
        self.syscalls = syscalls or table()
        self.offset = mono_to_wall_ns
        self.container_of = container_of
        self.hostname = hostname if hostname is not None else os.uname().nodename
        self.ncpus = ncpus if ncpus is not None else (os.cpu_count() or 1)
        self.pairs = E.event_pairs()
        self._exec_nrs = {n for n in (self.syscalls.nr("execve"), self.syscalls.nr("execveat"))
                          if n is not None}
        self.started = False
        self.closed = False
        self.events = 0  # scap events written
        self.bytes_written = 0
        self.records = 0
        self._threads: set[int] = set()  # tids sysdig knows (PL, clone exits)
        self._containers: dict[int, Container] = {}  # id(container) -> written
        self._argv: dict[int, list[bytes]] = {}  # tid -> argv of its pending execve
        # tid -> syscall whose enter event an enter record wrote (trace --enter): its
        # completed record then writes the exit only
        self._entered: dict[int, int] = {}
        self._out: list[bytes] = []
        self._pid_of: dict[int, int] = {}  # tid -> pid, from the batch being written
        self._procs: dict[int, _Proc] = {}  # pid -> what sysdig was told about it
        self._evf: int | None = None  # EVF flags of the record being written
        self._fds: dict[int, set[int]] = {}  # pid -> fds sysdig knows (fd list, results)
        self._comm: dict[int, bytes] = {}  # tid -> the name sysdig knows it by
        # the source's count of events it lost (ring full …), e.g. ``source.drops``:
        # read before each batch and at close, and marked in the file (``_mark_drops``)
        self.drop_counter: Callable[[], int] | None = None
        self.dropped = 0  # the count the file carries so far
        self._last_ts = 0

    # -- the header -----------------------------------------------------------------
    def prime(self, state: State) -> None:
        """Take the process and fd tables the next file starts with from ``state`` as
        it is now. A batch sink calls this before the first batch (then with the
        State after each batch, at a rotation): the State it is handed with a batch
        is the one *after* it, whose fd table no longer holds an fd the batch closed
        (measured: an fd closed early and reused later was written under the later
        name, and a file begun by a rotation lacked the fd the batch still wrote to)."""
        self._primed = ({p.pid: _Proc.of(p) for p in state.procs.values()},
                        {pid: {fd: copy.copy(i) for fd, i in t.items()}
                         for pid, t in state.fds.items()})

    _primed: tuple[dict[int, _Proc], dict[int, dict[int, FdInfo]]] | None = None
    _state: State | None = None  # the State and pid of the record being written
    _pid = 0
    _rotate_next = False

    def _start(self, raw: RawBatch, state: State) -> None:
        self.started = True
        self._emit(shb())
        self._emit(machine_info(self.hostname, self.ncpus))
        self._file_records = 0
        entries: list[bytes] = []
        procs = {p.pid: _Proc.of(p) for p in state.procs.values()}
        fd_tables = state.fds
        base = np.concatenate([raw.events, raw.ext["ev"]]) if len(raw.ext) else raw.events
        if self._primed is not None:  # the tables before the batch, and the processes
            primed, fd_tables = self._primed  # the batch made known (seen first there)
            self._primed = None
            # but not those the batch forks: their FORK records introduce them. Listed
            # already (under the name of the batch's execve), the child lacks the mark
            # its own clone exit gives it in sysdig 0.29.3 (PPM_CL_CLONE_INVERTED), so
            # the parent's clone return rebuilds it from the parent, and every later
            # event of the child shows the parent's name.
            forked = base["args"][base["kind"] == layout.KIND_FORK, 0] & 0xFFFFFFFF
            for child in forked.tolist():
                procs.pop(child, None)
            procs = {**procs, **primed}
        self._procs.update(procs)
        for pid, wp in self._procs.items():
            entries.append(self._pl_entry(pid, pid, wp))
            self._threads.add(pid)
            self._comm[pid] = wp.name.encode()[:layout.COMM_LEN]
        # threads of the first batch, so that sysdig names them from the start
        for pid, tid in set(zip(base["pid"].tolist(), base["tid"].tolist(), strict=True)):
            if tid not in self._threads and pid in self._procs:
                entries.append(self._pl_entry(tid, pid, self._procs[pid]))
                self._threads.add(tid)
                self._comm[tid] = self._procs[pid].name.encode()[:layout.COMM_LEN]
        self._emit(block(B.PL_V9, b"".join(entries)))
        for pid, fds in fd_tables.items():
            self._fds[pid] = set(fds)
            if pid in self._threads and fds:
                self._emit(block(B.FDL_V2, struct.pack("<Q", pid)
                                 + b"".join(fd_entry(i) for i in fds.values())))
        ts0 = int(base["ts_ns"].min()) + self.offset if len(base) else 0
        for wp in self._procs.values():
            self._note_container(wp.container, ts0)

    # -- files and rotation ---------------------------------------------------------
    def _set_file(self, f: BinaryIO) -> None:
        self.raw_file = f
        self.f: BinaryIO = gzip.GzipFile(fileobj=f, mode="wb", compresslevel=5) \
            if self.compress else f  # type: ignore[assignment]
        self._opened_at = self.clock()
        self._file_bytes = 0
        self._file_records = 0

    def _name(self, index: int, now: float) -> str:
        """The file names of a cdig capture's rotation, which are sysdig's: FILE0, FILE1 …
        for -C; FILE.YYYYmmdd-HHMMSS (or FILE as a strftime pattern) for -G."""
        base, r = str(self.path), self.rotation
        if r is None:
            return base
        if r.period_s is not None:
            name = time.strftime(base, time.localtime(now)) if "%" in base else \
                base + time.strftime(".%Y%m%d-%H%M%S", time.localtime(now))
            if name in self.files or os.path.lexists(name) and index:
                name = f"{name}.{index}"
            return name
        return f"{base}{index}"

    def _create(self, name: str) -> BinaryIO:
        from ..safe_open import create_private

        f, st = create_private(name)
        self._identity[name] = st
        self.files.append(name)
        if self.rotation is not None and self.rotation.keep is not None:
            from ..safe_open import same_file

            # only files this writer created and that are still there
            live = [p for p in self.files if p in self._identity and
                    same_file(self._identity[p], p)]
            for old in live[:max(0, len(live) - self.rotation.keep)]:
                del self._identity[old]
                try:
                    os.unlink(old)
                except OSError:
                    pass
        return f

    def _due(self) -> bool:
        r = self.rotation
        if r is None or not self.started or not self._file_records:
            return False
        size = self.raw_file.tell() if self.compress else self._file_bytes  # as on disk
        if r.size_bytes is not None and size >= r.size_bytes:
            return True
        return r.period_s is not None and self.clock() - self._opened_at >= r.period_s

    def _rotate(self) -> None:
        """Close the file and start the next one, which begins with its own header
        (process list, fd lists, container events from the State as it is now), so
        that sysdig reads every file of the set alone."""
        self._mark_drops(self._last_ts)
        self.flush()
        if self.f is not self.raw_file:
            self.f.close()
        self.raw_file.close()
        self._set_file(self._create(self._name(len(self.files), self.clock())))
        self.started = False
        self._threads = set()
        self._containers = {}
        self._procs = {}
        self._fds = {}
        self._comm = {}

    def _pl_entry(self, tid: int, pid: int, p: _Proc) -> bytes:
        return proclist_entry(tid, pid, p.ppid, p.name, p.exe, list(p.args), p.cwd, p.uid, 0,
                              cgroups_param(p.container))

    # -- records --------------------------------------------------------------------
    def write(self, raw: RawBatch, state: State, hidden: Collection[int] | None = None,
              after: bool = False) -> None:
        """Append a batch; ``state`` is the pipeline's State as it was *before* this batch
        (a tee of the source), so the process list written first holds the names
        processes had before the batch's execs — or, with ``after``, the State after it
        (a batch sink, which calls :meth:`prime` for the first file before its first batch).
        Records whose ``num`` is in ``hidden`` (kept for state only) are written
        state-only: sysdig applies them and does not show them. A file is rotated when
        the next batch comes (a file always has events: sysdig refuses one without,
        "no events in file"); one due at a batch's end starts with the tables as they
        were then. (Only a -G period that ends between two batches of a batch sink
        starts its file from the State after the batch that comes.)"""
        if self._rotate_next or self._due():
            self._rotate_next = False
            self._rotate()
        if not self.started:
            self._start(raw, state)
        ev, ext = raw.events, raw.ext
        if self.drop_counter is not None:
            first = np.concatenate([ev["ts_ns"][:1], ext["ev"]["ts_ns"][:1]]) if len(ext) \
                else ev["ts_ns"][:1]
            self._mark_drops(int(first.min()) + self.offset if len(first) else self._last_ts)
        n_small = len(ev)
        base = np.concatenate([ev, ext["ev"]]) if len(ext) else ev
        if len(base):
            order = raw.order if raw.order is not None else \
                np.argsort(base["ts_ns"], kind="stable")
            cols = [base[name][order].tolist() for name in
                    ("ts_ns", "latency_ns", "cgroup_id", "ret", "pid", "tid", "uid", "gid", "nr",
                     "kind", "flags", "cpu")]
            args_l = base["args"][order].tolist()
            comm_l = base["comm"][order].tolist()
            src_l = order.tolist()
            if len(ext):
                l1, l2 = ext["len1"].tolist(), ext["len2"].tolist()
                argc = ext["argc"].tolist()
            ctx = getattr(raw, "ctx", None)  # a capture's records kept for state only
            if ctx is not None and len(ctx) == len(base):
                hidden_rows: list[bool] | None = ctx.tolist()
            elif hidden and raw.num is not None:
                hidden_rows = [n in hidden for n in raw.num.tolist()]  # in decoding order
            else:
                hidden_rows = None
            self._pid_of = dict(zip(reversed(cols[5]), reversed(cols[4]), strict=True))
            for i, (ts, lat, cg, ret, pid, tid, uid, gid, nr, kind, flags, cpu) in \
                    enumerate(zip(*cols, strict=True)):
                x = src_l[i] - n_small
                s1 = s2 = buf = None
                ac = 0
                if x >= 0:
                    if flags & layout.FLAG_IO_DATA:  # sysdig's data parameter
                        buf = io_data(ext[x])
                    else:
                        s1 = bytes(ext["str1"][x])[:max(l1[x], 0)]
                    s2 = bytes(ext["str2"][x])[:max(l2[x], 0)]
                    ac = argc[x]
                self._evf = B.STATE_ONLY if hidden_rows is not None and hidden_rows[i] else None
                self._record(state, ts + self.offset, lat, cg, _s64(ret), pid, tid, uid, gid,
                             nr, kind, flags, cpu, comm_l[i], args_l[i], s1, s2, ac, buf)
                self.records += 1
            self._file_records += len(cols[0])
            self._last_ts = max(self._last_ts, max(cols[0]) + self.offset)
        self._evf = None
        self.flush()
        self._rotate_next = self._due()
        if self._rotate_next and after:  # the next file's tables: as of this batch's end
            self.prime(state)

    def _mark_drops(self, ts: int) -> None:
        """Events the source lost since the last mark, marked as sysdig's drivers mark
        where they dropped events: a DROP_E/DROP_X pair (``ratio`` 1: nothing sampled,
        tid -1: no thread). The number lost rides in a second parameter of DROP_E,
        which sysdig 0.29.3 ignores (it reads as many parameters as its table has);
        cdig's reader adds them up. sysdig counts the pair as two ``drop`` events
        (``evt.num``, ``-c topscalls``) and shows neither."""
        total = int(self.drop_counter()) if self.drop_counter is not None else 0
        new = total - self.dropped
        if new <= 0:
            return
        self.dropped = total
        self._event(E.DROP_E, ts, -1, 0, [_U32.pack(1), struct.pack("<Q", new)], None)
        self._event(E.DROP_X, ts, -1, 0, [_U32.pack(1)], None)

    def tee(self, source: Any, state: State) -> ScapTee:
        """``source`` with every batch written here before it is handed on: the one-line
        way to add this writer to a session (``Session(writer.tee(src, state), …)``)."""
        return ScapTee(self, source, state)

    def flush(self) -> None:
        if self._out:
            data = b"".join(self._out)
            self._out.clear()
            self.f.write(data)
            self.bytes_written += len(data)
            self._file_bytes += len(data)
        self.f.flush()
        if self.f is not self.raw_file:
            self.raw_file.flush()

    def close(self) -> None:
        if self.closed:
            return
        self.closed = True
        if not self.started:  # an empty capture is still a valid file
            self._emit(shb())
            self._emit(machine_info(self.hostname, self.ncpus))
            self._emit(block(B.PL_V9, b""))
            self.started = True
        self._mark_drops(self._last_ts)
        self.flush()
        if self.f is not self.raw_file:
            self.f.close()
        if self._own:
            self.raw_file.close()
        else:
            self.raw_file.flush()


class ScapTee:
    """A source that writes each batch to a ScapWriter (with the State as it is before
    the session applies the batch) and hands it on; everything else is the source's."""

    def __init__(self, writer: ScapWriter, source: Any, state: State) -> None:
        self.writer, self.source, self.state = writer, source, state

    def batches(self) -> Any:
        if self.writer.drop_counter is None and hasattr(self.source, "drops"):
            self.writer.drop_counter = self.source.drops
        for raw in self.source.batches():
            self.writer.write(raw, self.state)
            yield raw

    def __getattr__(self, name: str) -> Any:  # stop(), drops(), stats() … of the source
        return getattr(self.source, name)


# the encoding's names the tests and tools took from here before the split
__all__ = ["HOST", "PL_MAX_ARGS", "PL_MAX_PATH", "ScapTee", "ScapWriter", "block",
           "container_hex_id", "encode_event", "shb"]
