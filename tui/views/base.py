"""What every view of ``cdig top`` is made of, with no Textual in sight.

A ``View`` (``registry.py`` holds one per view) names its columns, its natural
sort, its builder, where Enter on a row can lead and its F7 legend. A builder
turns a ``Ctx`` (the latest ``Snapshot``, the one rates are measured from, the
scope, the host readings) into ``Row``s of plain values; ``build.py`` sorts
them, caps them and renders their cells. A ``Scope`` is what the drill-down path
has narrowed to (a container, a process, a syscall, a file); every view honours
the parts of it that apply.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any, TypedDict, Unpack

from rich.text import Text

from ...collector.aggregate import READS, WRITES
from ...collector.events import Container, Event
from ..model import Snapshot
from ..resources import NoResources

IO_TYPES = READS | WRITES


@dataclass(frozen=True)
class Scope:
    """What the drill-down path narrowed to; None: everything."""

    container: str | None = None  # container id
    pid: int | None = None
    syscall: str | None = None
    fd: str | None = None  # a file path or a connection's name
    errno: str | None = None  # the Errors view: one errno (then its syscalls, processes)
    dir: str | None = None  # Directories > Enter: the files directly in it
    port: tuple[str, int] | None = None  # Server ports > Enter: (l4 proto, port)
    io: bool = False  # echo: only I/O events
    failed: bool = False

    def narrow(self, **kw: Unpack[Narrowing]) -> Scope:
        return replace(self, **kw)

    def admits(self, ev: Event) -> bool:
        """Whether an event of the ring is inside this scope."""
        if self.pid is not None and ev.pid != self.pid:
            return False
        if self.container is not None and ev.container.id != self.container:
            return False
        if self.syscall is not None and ev.type != self.syscall:
            return False
        if self.fd is not None and (ev.fd is None or ev.fd.name != self.fd):
            return False
        if self.io and ev.type not in IO_TYPES:
            return False
        return not self.failed or ev.failed


class Narrowing(TypedDict, total=False):
    """``Scope.narrow``'s arguments: what a row narrows the scope it is shown in to."""

    container: str | None
    pid: int | None
    syscall: str | None
    fd: str | None
    errno: str | None
    dir: str | None
    port: tuple[str, int] | None
    io: bool
    failed: bool


@dataclass(frozen=True)
class Drill:
    """Where Enter on a row goes: a view, a narrower scope, a label for the crumb."""

    view: str
    scope: Scope | Narrowing  # builders give a Narrowing; build() resolves it
    label: str

    def target(self, scope: Scope) -> Scope:
        """The scope this drill goes to from ``scope``: its own once resolved."""
        return self.scope if isinstance(self.scope, Scope) else scope.narrow(**self.scope)


@dataclass(frozen=True)
class Col:
    key: str
    label: str
    kind: str = "int"  # text, int, exact, id, rate, bytes, brate, pct, ns, spark
    width: int | None = None  # text columns: cut to this many columns


@dataclass
class Row:
    key: str
    values: dict[str, Any]
    drill: Drill | None = None
    pid: int | None = None  # the process this row is about (echo / dig)
    container: str | None = None


@dataclass
class ViewData:
    view: str
    columns: tuple[Col, ...]
    rows: list[tuple[str, tuple[Text, ...]]]
    meta: dict[str, Row]
    total_rows: int
    totals: str
    sort: str
    desc: bool
    lines: list[tuple[int, str]] = field(default_factory=list)  # events view: (num, text)
    note: str = ""  # e.g. "not recorded in captures"
    data_lines: bool = False  # lines are echo's data bytes, not event lines


@dataclass
class Ctx:
    """Everything a view is built from."""

    snap: Snapshot
    base: Snapshot | None  # the snapshot rates are measured from (None: the start)
    scope: Scope = field(default_factory=Scope)
    resources: Any = field(default_factory=NoResources)
    cpu: dict[int, float] = field(default_factory=dict)  # pid -> % of one CPU
    history: dict[str, list[float]] = field(default_factory=dict)  # container id -> ev/s
    max_rows: int = 500
    spark_width: int = 20
    container_cpu: dict[str, float] = field(default_factory=dict)  # id -> % (cgroup usage)
    cmdlines: Callable[[int], str | None] | None = None  # pid -> argv (argv[0] included)
    mem: dict[int, tuple[int, int]] = field(default_factory=dict)  # pid -> VIRT, RES bytes
    # rows [start, stop) of the sorted rows are on screen; ``fill`` completes those
    # rows only (what costs a /proc read per row), after the sort, before rendering
    window: tuple[int, int] | None = None
    fill: Callable[[list[Row]], None] | None = None

    def cmdline(self, pid: int) -> str | None:
        return self.cmdlines(pid) if self.cmdlines is not None else None

    @cached_property
    def dt(self) -> float:
        t0 = self.base.clock_ns if self.base is not None else self.snap.since_ns
        return max(0.0, (self.snap.clock_ns - t0) / 1e9)

    def rate(self, cur: float, prev: float) -> float:
        dt = self.dt
        # under a millisecond (a replay paused at its first event) is no interval
        # to measure a rate over; a count never goes down (max: rows retired)
        return max(0.0, (cur - prev) / dt) if dt >= 1e-3 else 0.0


Builder = Callable[[Ctx], tuple[list[Row], str]]  # the rows, the totals line


@dataclass(frozen=True)
class View:
    """One view: what the screen binds, the refresher builds and F7 explains."""

    name: str  # its id: ``--view NAME``, ``Request.view``
    title: str
    key: str  # the key that shows it (1-9, then letters)
    columns: tuple[Col, ...]
    sort: tuple[str, bool]  # natural sort: column key, descending
    build: Builder | None  # None: the events view (lines, not rows)
    legend: Mapping[str, str]  # column key -> what it is and its unit (F7)
    drills: tuple[str, ...] = ()  # the views Enter on one of its rows can lead to
    sort_by: Mapping[str, str] = field(default_factory=dict)  # column -> the value sorted on
    full_stream: bool = False  # needs every event in the stream, not only the I/O ones
    replay_note: str = ""  # said beside the totals in a replay
    about: str = ""  # F7's first line, before the columns

    def column(self, key: str) -> Col | None:
        return next((c for c in self.columns if c.key == key), None)

    def default_desc(self, key: str) -> bool:
        """The direction a newly chosen sort column starts in: text ascending,
        numbers descending (the busiest first)."""
        c = self.column(key)
        return c is None or c.kind != "text"


def cname(c: Container) -> str:
    return c.name or c.short_id


def in_container(scope: Scope, c: Container) -> bool:
    return scope.container is None or c.id == scope.container


def source(ctx: Ctx) -> str:
    """Where the counts come from, for the totals line."""
    if ctx.snap.exact:
        return " · exact (kernel counters)"
    if ctx.snap.filtered:
        return " · from the event stream (filtered)"
    return ""


def sum_pids(ctx: Ctx, pick: Callable[[Snapshot], dict]) -> tuple[dict, dict]:
    """A scoped detail table (pid_syscalls …) now and at the base."""
    cur = pick(ctx.snap)
    old = pick(ctx.base) if ctx.base is not None and ctx.base.scope_key == ctx.snap.scope_key \
        else {}
    return cur, old
