"""What every part of the .scap reader shares: its tables of the file's state, the
per-event-type handlers, and the markers cdig's own writer puts in a file.

``ScapSource`` (``reader``) is built in layers, one concept each, each layer a
class over the one before: ``SourceBase`` (here) → ``containers.ContainerTable``
(containers from cgroups and JSON events) → ``perevent.EventPath`` (one event at a
time, in Python: process events, sockets, enter-only records) →
``fastrows.FastRows`` (the records of the common event types, column-wise) →
``chunk.ChunkPath`` (one decompressed chunk: headers, pairing, dispatch) →
``reader.ScapSource`` (files, state blocks, the EventSource interface).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from ...probes.syscall_table import SyscallSpec, SyscallTable, table
from ..events import HOST, Container
from ..state import State
from . import blocks as B
from . import events as E
from .threads import ScapProcFS, Thread

EVF_BLOCK = 1 << 31  # in the flags passed along: the event came in an EVF block
CDIG_FD_EVENT = 4096  # cdig's writer: what /proc told the live session about an fd
FD_INTRO = 0x100  # EVF flag of cdig's writer: a state-only open naming that fd for sysdig
SYNTH_CGROUP_BASE = 0x5CA9 << 48  # synthetic cgroup ids of a .scap's containers
MASK64 = (1 << 64) - 1

# an enter waiting for its exit: (event info, ts, cpu, raw params, evt.num, flags, tid)
Pending = tuple[E.EventInfo, int, int, list[bytes], int, int, int]


class SourceBase:
    """The reader's state as of the events read so far."""

    def __init__(self) -> None:
        self.syscalls: SyscallTable = table("x86_64")  # the drivers' events carry x86_64 ids
        self.mono_to_wall_ns = 0  # scap timestamps are wall-clock already
        self.threads: dict[int, Thread] = {}
        self.procfs = ScapProcFS(self.threads)
        self.fdlists: dict[int, list[B.FdEntry]] = {}
        self.users: dict[int, str] = {}
        self.machine = B.MachineInfo()
        self.containers: dict[int, Container] = {0: HOST}  # synthetic cgroup id -> container
        self._cg_of_id: dict[str, int] = {}  # 12-hex container id -> synthetic cgroup id
        self._cg_of_path: dict[str, int] = {}
        self._json_named: set[int] = set()  # containers named by a cdig-written JSON
        self._listening: dict[int, dict[int, bytes]] = {}  # pid -> fd -> bound sockaddr
        self.skipped_blocks: dict[int, int] = {}
        self.skipped_events: dict[int, int] = {}
        self.internal_events = 0  # procinfo, switch, drop … : not syscalls
        # sysdig's procinfo events, (ts, tid, cpu_usr + cpu_sys in clock ticks): its
        # topprocs_cpu's figures (collector/chisels/cpu.py)
        self.procinfo: list[tuple[int, int, int]] = []
        self.span: tuple[int, int] | None = None  # first and last event's time, any event
        self.state_only = 0
        self.records = 0
        # set by Session.replay (as for a cdig capture): (columns, len2) -> rows to keep;
        # fast records it rejects are left out before their parameters are parsed, and
        # ``left_out`` says how many went with the batch last yielded
        self.prune: Callable[[Any, np.ndarray], np.ndarray] | None = None
        self.left_out = 0
        self._left = 0  # left out since the last batch yielded
        # of all those left out, the records of events shown (not SCAP_DF_STATE_ONLY): what
        # a sink that counts every shown record but reads only some (cdig summary --by
        # file: ``replay_events``) adds for the rows it was not given
        self.left_shown = 0
        # set by Session.replay when no State is kept and every sink names the record
        # fields it reads (cdig summary --by syscall: kind, nr, ret, latency_ns): the
        # bulk path then parses no argument or string the batch would carry unread
        self.fields: tuple[str, ...] | None = None
        self.stateless = False
        # False when nothing reads the I/O data of read/write … records (no filter term,
        # field or sink that reads evt.buffer / evt.arg.data / evt.args of them): the bulk
        # path then copies none, and such records are plain, not ext rows of 768 bytes of
        # data each. For a session to set; the records are otherwise the same
        self.want_data = True
        self._want_args = self._want_strs = True  # per chunk, from ``fields``
        self.events = 0  # scap events read (sysdig's evt.num)
        self.dropped = 0  # events the capture says were lost (cdig's drop marks)
        self.drop_marks = 0
        self._state: State | None = None
        self._stop = False
        self._hidden: frozenset[int] = frozenset()
        # per event type: the cdig syscall it is
        by_name = self.syscalls.by_name
        self._spec_of: dict[int, SyscallSpec] = {}
        for info in E.INFO:
            spec = by_name.get(E.NAME_ALIAS.get(info.name, info.name))
            if spec is not None:
                self._spec_of[info.id] = spec
        self._pending: dict[int, Pending] = {}
        self._key = 0  # sort key of the next record (see columns.Columns.key)
        self._enter_key: int | None = None  # key of the enter of the exit being handled
        self._evend = np.zeros(0, dtype=np.int64)  # per event of the chunk: where it ends

    def _thread(self, tid: int) -> Thread:
        t = self.threads.get(tid)
        if t is None:
            t = self.threads[tid] = Thread(tid, tid, 0, b"<NA>", 0, 0, 0)
        return t

    def _attrs(self, tid: int) -> tuple[int, bytes, int, int, int]:
        th = self._thread(tid)
        return (th.pid, th.comm, th.uid, th.gid, th.cgroup)
