"""What the views of ``cdig top`` read: a ``Snapshot`` of the model, taken under
its lock by ``TopModel.snapshot`` (``model.py``), and the rows it holds that are
not the Aggregator's (threads, slow file I/O, processes as listed)."""

from __future__ import annotations

from dataclasses import dataclass, field

from ..collector.aggregate import ExecRecord, ProcStats
from ..collector.events import Container, Event


@dataclass
class ThreadStats:
    """One thread as the Threads view lists it: counts from the event stream."""

    pid: int
    name: str  # the thread's comm
    container: Container
    events: int = 0
    errors: int = 0
    file_io: int = 0  # bytes read + written on files
    net_io: int = 0  # bytes sent + received on sockets
    exited_ns: int = 0


@dataclass(frozen=True)
class SlowIO:
    """A file read or write that took SLOW_IO_NS or more (Slow file I/O view)."""

    ts_ns: int
    latency_ns: int
    type: str
    res: int
    pid: int
    tid: int
    name: str
    container: Container
    path: str
    num: int


@dataclass
class ProcInfoRow:
    """A process as the Processes view lists it (from State or from events)."""

    pid: int
    ppid: int
    name: str
    container: Container
    uid: int
    cmdline: str


@dataclass
class Snapshot:
    """A consistent copy of the model at one moment (``clock_ns``).

    Counters are cumulative since ``since_ns`` (the start, or the last filter
    change); the views turn two snapshots into rates.
    """

    clock_ns: int
    since_ns: int
    generation: int
    events: int
    failed: int
    drops: int
    filter_text: str
    pids: dict[int, ProcStats]
    procs: dict[int, ProcInfoRow]  # every live process known (state + events)
    containers: dict[str, tuple[Container, dict[str, int]]]  # id -> (c, counters)
    container_pids: dict[str, int]  # id -> live processes
    exited_containers: dict[str, Container]
    exited_pids: set[int]
    syscalls: dict[str, tuple[int, int, int]]  # type -> calls, errors, time
    lat_hist: dict[str, list[int]]
    err_detail: dict[tuple[str, str, int], int]
    files: dict[str, tuple[int, int, int, int]]  # path -> read, written, ops, opens
    conns: dict[tuple[str, str], tuple[int, int, int, str, int, str]]
    # (proto, name) -> in, out, ops, proc name, pid, container id
    execs: list[ExecRecord]
    execs_seen: int
    events_ring: list[Event]
    ring_seq: int  # events ever put in the ring (to know what is new)
    scope_key: tuple[int | None, str | None] = (None, None)  # what pid_* are summed over
    pid_syscalls: dict[str, tuple[int, int, int]] = field(default_factory=dict)
    pid_lat: dict[str, dict[int, int]] = field(default_factory=dict)  # sparse histograms
    pid_files: dict[str, tuple[int, int, int, int]] = field(default_factory=dict)
    pid_conns: dict[tuple[str, str], tuple[int, int, int]] = field(default_factory=dict)
    live: bool = True
    ended: bool = False
    position: str = ""  # replay: where the play position is
    paused: bool = False
    notes: list[str] = field(default_factory=list)  # messages from the collector
    filtered: bool = False  # a filter is set: only what matched is listed
    activity: dict[str, list[float]] = field(default_factory=dict)  # id -> events/s, 60 s
    err_totals: dict[tuple[str, str, str], int] = field(default_factory=dict)
    # (type, errno, container id) -> count: kept when the processes go
    lat_slots: dict[str, list[int]] = field(default_factory=dict)  # kernel: base-4 slots
    lat_by_cid: dict[str, list[int]] = field(default_factory=dict)  # container -> slots
    spectro: list[tuple[int, list[int]]] = field(default_factory=list)  # F12: (ts, slots)
    exact: bool = False  # counts from the kernel's counters (tui/counters.py)
    stream: dict[str, int] = field(default_factory=dict)  # container id -> events received
    syscall_pids: dict[int, tuple[int, int, int]] = field(default_factory=dict)
    # scope.syscall: pid -> calls, errors, time of that syscall
    lost: dict[str, int] = field(default_factory=dict)  # the counters' own losses
    alive_cids: set[str] = field(default_factory=set)  # containers with a live process
    argv: dict[int, str] = field(default_factory=dict)  # pid -> argv seen at its exec
    threads: dict[int, ThreadStats] = field(default_factory=dict)  # tid -> (a copy)
    slow_io: list[SlowIO] = field(default_factory=list)  # oldest first
