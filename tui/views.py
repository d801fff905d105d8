"""The views of ``cdig top``: from snapshots to rows, with no Textual in sight.

``build(view, ctx)`` turns the latest ``Snapshot`` (and the one before it, for
rates) into a ``ViewData``: columns, sorted rows capped at ``max_rows`` with their
cells already rendered (``format.plain`` for every untrusted string), a line of
totals, and for each row what Enter on it drills into. It runs on the refresh
worker's thread; the UI thread only copies cells into a DataTable.

A ``Scope`` is what the drill-down path has narrowed to (a container, a process,
a syscall, a file); every view honours the parts of it that apply.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field, replace
from functools import cached_property
from typing import Any

from rich.text import Text

from ..collector.aggregate import READS, WRITES, ProcStats, percentile
from ..collector.events import Container, Event
from ..collector.fields import user_name
from ..collector.formatter import CONTAINER_FORMAT, Formatter
from .format import human_bytes, human_count, human_ns, num, pct, plain, sparkline
from .model import Snapshot
from .resources import SHARED_KINDS, NoResources

VIEWS: dict[str, str] = {
    "procs": "Processes",
    "containers": "Containers",
    "syscalls": "Syscalls",
    "errors": "Errors",
    "files": "Files",
    "conns": "Connections",
    "execs": "Execs",
    "events": "Live events",
    "security": "Security",
    "tree": "Process tree",
    "spectro": "Latency spectrogram",
    "threads": "Threads",
    "dirs": "Directories",
    "ports": "Server ports",
    "slowio": "Slow file I/O",
}
# one key per view (1-9, then letters), shown in the help and the view picker
VIEW_KEYS: dict[str, str] = {v: str(i + 1) for i, v in enumerate(list(VIEWS)[:9])}
VIEW_KEYS["tree"] = "t"
VIEW_KEYS["spectro"] = "f12"
VIEW_KEYS.update(threads="H", dirs="D", ports="P", slowio="I")
# F12: one column per kernel latency bucket (base 4: 4^k < d <= 4^(k+1) ns)
_SPECTRO_LABELS = ("4n", "16n", "64n", "256n", "1u", "4u", "16u", "65u", "262u", "1m",
                   "4m", "16m", "67m", "268m", "1s", "4s", "17s", ">17s")
SHADES = " ░▒▓█"
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

    def narrow(self, **kw: Any) -> Scope:
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


@dataclass(frozen=True)
class Drill:
    """Where Enter on a row goes: a view, a narrower scope, a label for the crumb."""

    view: str
    scope: Scope  # builders give a dict of Scope.narrow arguments; build() resolves it
    label: str


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


# -- columns of each view ------------------------------------------------------------
COLUMNS: dict[str, tuple[Col, ...]] = {
    "procs": (Col("pid", "PID", "id"), Col("name", "NAME", "text", 16),
              Col("cpu", "CPU%", "pct"),
              Col("sc", "SC/S", "rate"), Col("err", "ERR/S", "rate"),
              Col("file", "FILE B/S", "brate"), Col("net", "NET B/S", "brate"),
              Col("virt", "VIRT", "bytes"), Col("res", "RES", "bytes"),
              Col("container", "CONTAINER", "text", 16), Col("events", "SYSCALLS", "exact"),
              Col("state", "ST", "text"),
              Col("user", "USER", "text", 10), Col("cmd", "COMMAND", "text", 60)),
    "containers": (Col("name", "CONTAINER", "text", 20), Col("cpu", "CPU%", "pct"),
                   Col("sc", "SC/S", "rate"), Col("err", "ERR/S", "rate"),
                   Col("file", "FILE B/S", "brate"), Col("net", "NET B/S", "brate"),
                   Col("pids", "PROCS"), Col("mem", "MEMORY", "bytes"),
                   Col("spark", "ACTIVITY 60s", "spark"), Col("events", "SYSCALLS", "exact"),
                   Col("stream", "STREAM%", "pct"),
                   Col("image", "IMAGE", "text", 30), Col("pod", "POD", "text", 24),
                   Col("runtime", "RUNTIME", "text"), Col("id", "ID", "text", 12)),
    "syscalls": (Col("syscall", "SYSCALL", "text", 18), Col("count", "COUNT", "exact"),
                 Col("rate", "RATE/S", "rate"), Col("errors", "ERRORS", "exact"),
                 Col("avg", "AVG", "ns"), Col("p99", "P99", "ns"), Col("time", "TIME", "ns")),
    # the Errors view groups by errno; Enter: that errno's syscalls, then their processes
    "errors": (Col("count", "COUNT", "exact"), Col("rate", "RATE/S", "rate"),
               Col("errno", "ERRNO", "text", 12), Col("syscall", "SYSCALL", "text", 24),
               Col("pid", "PID", "id"), Col("name", "PROCESS", "text", 16),
               Col("container", "CONTAINER", "text", 24)),
    "files": (Col("path", "PATH", "text", 48), Col("in_rate", "IN B/S", "brate"),
              Col("out_rate", "OUT B/S", "brate"), Col("read", "READ", "bytes"),
              Col("written", "WRITTEN", "bytes"), Col("opens", "OPENS"), Col("ops", "OPS")),
    "conns": (Col("name", "CONNECTION", "text", 44), Col("proto", "L4", "text"),
              Col("in_rate", "IN B/S", "brate"), Col("out_rate", "OUT B/S", "brate"),
              Col("in", "IN", "bytes"), Col("out", "OUT", "bytes"),
              Col("proc", "PROCESS", "text", 16), Col("pid", "PID", "id"),
              Col("container", "CONTAINER", "text", 16)),
    "execs": (Col("time", "TIME", "text"), Col("pid", "PID", "id"), Col("user", "USER", "text", 10),
              Col("container", "CONTAINER", "text", 16), Col("cmd", "COMMAND", "text", 80)),
    "events": (),
    "spectro": (Col("time", "TIME", "text"), Col("calls", "CALLS", "exact"),
                *[Col(f"b{i}", lab, "shade") for i, lab in enumerate(_SPECTRO_LABELS)]),
    "tree": (Col("pid", "PID", "id"), Col("ppid", "PPID", "id"),
             Col("name", "NAME", "text", 40), Col("sc", "SC/S", "rate"),
             Col("err", "ERR/S", "rate"), Col("container", "CONTAINER", "text", 16),
             Col("cmd", "COMMAND", "text", 60)),
    "threads": (Col("tid", "TID", "id"), Col("pid", "PID", "id"), Col("name", "NAME", "text", 16),
                Col("sc", "EV/S", "rate"), Col("err", "ERR/S", "rate"),
                Col("file", "FILE B/S", "brate"), Col("net", "NET B/S", "brate"),
                Col("events", "EVENTS", "exact"), Col("state", "ST", "text"),
                Col("container", "CONTAINER", "text", 16), Col("cmd", "COMMAND", "text", 60)),
    "dirs": (Col("dir", "DIRECTORY", "text", 48), Col("in_rate", "IN B/S", "brate"),
             Col("out_rate", "OUT B/S", "brate"), Col("read", "READ", "bytes"),
             Col("written", "WRITTEN", "bytes"), Col("opens", "OPENS"), Col("ops", "OPS"),
             Col("files", "FILES")),
    "ports": (Col("port", "PORT", "id"), Col("proto", "L4", "text"), Col("conns", "CONNS"),
              Col("in_rate", "IN B/S", "brate"), Col("out_rate", "OUT B/S", "brate"),
              Col("in", "IN", "bytes"), Col("out", "OUT", "bytes"),
              Col("proc", "PROCESS", "text", 24), Col("container", "CONTAINER", "text", 24)),
    "slowio": (Col("time", "TIME", "text"), Col("latency", "LATENCY", "ns"),
               Col("syscall", "SYSCALL", "text", 10), Col("bytes", "BYTES", "bytes"),
               Col("pid", "PID", "id"), Col("name", "PROCESS", "text", 16),
               Col("container", "CONTAINER", "text", 16), Col("path", "FILE", "text", 60)),
    "security": (Col("name", "CONTAINER", "text", 20), Col("net", "NET", "text"),
                 Col("pid", "PID", "text"), Col("ipc", "IPC", "text"),
                 Col("uts", "UTS", "text"), Col("user", "USER", "text"),
                 Col("root", "ROOT", "text"), Col("cpu_lim", "CPU LIM", "text"),
                 Col("mem_lim", "MEM LIM", "text"), Col("risks", "RISKS", "text", 60),
                 Col("runtime", "RUNTIME", "text")),
}
# natural sort of each view: column, descending
DEFAULT_SORT: dict[str, tuple[str, bool]] = {
    "procs": ("sc", True), "containers": ("sc", True), "syscalls": ("count", True),
    "errors": ("count", True), "files": ("ops", True), "conns": ("in", True),
    "execs": ("time", True), "events": ("", False), "security": ("risks", True),
    "tree": ("order", False), "spectro": ("ts", True),
    "threads": ("sc", True), "dirs": ("ops", True), "ports": ("in", True),
    "slowio": ("time", True),
}


def _cname(c: Container) -> str:
    return c.name or c.short_id


def _in_container(scope: Scope, c: Container) -> bool:
    return scope.container is None or c.id == scope.container


# -- builders: raw rows ---------------------------------------------------------------
def _procs(ctx: Ctx) -> tuple[list[Row], str]:
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    rows = []
    tot_sc = tot_err = 0.0
    # live processes, and those that exited during this interval (short-lived ones
    # included): listed once, marked, then let go (the model prunes them)
    keys = set(s.procs) | set(s.pids)
    per_call = s.syscall_pids if sc.syscall is not None else None
    if per_call is not None:  # Syscalls > Enter: the processes making that syscall
        keys = set(per_call)
    for pid in keys:
        info = s.procs.get(pid)
        st = s.pids.get(pid)
        if info is None and st is None:
            continue
        c = info.container if info is not None else st.container  # type: ignore[union-attr]
        if not _in_container(sc, c) or (sc.pid is not None and pid != sc.pid):
            continue
        old = b.pids.get(pid) if b is not None else None
        if st is not None and st.exited and info is None and b is not None and \
                old is not None and old.exited and old.events == st.events:
            continue  # exited before this interval, nothing since: gone
        ev = st.events if st else 0
        err = st.errors if st else 0
        if per_call is not None:
            ev, err = per_call[pid][0], per_call[pid][1]
            oc = b.syscall_pids.get(pid) if b is not None else None
            old = ProcStats("", c, -1, oc[0], oc[1]) if oc else None
        fio = (st.file_in + st.file_out) if st else 0
        nio = (st.net_in + st.net_out) if st else 0
        r_sc = ctx.rate(ev, old.events if old else 0)
        r_err = ctx.rate(err, old.errors if old else 0)
        tot_sc += r_sc
        tot_err += r_err
        name = info.name if info is not None else st.name  # type: ignore[union-attr]
        if st is not None and st.name and st.name != "?":
            name = st.name
        uid = info.uid if info is not None else (st.uid if st else -1)
        exited = st is not None and st.exited and info is None
        cmd = ctx.cmdline(pid) or (info.cmdline if info is not None else name)
        rows.append(Row(str(pid), {
            "pid": pid, "name": name, "cpu": ctx.cpu.get(pid), "sc": r_sc, "err": r_err,
            "file": ctx.rate(fio, (old.file_in + old.file_out) if old else 0),
            "net": ctx.rate(nio, (old.net_in + old.net_out) if old else 0),
            "container": _cname(c), "events": ev, "state": "exit" if exited else "",
            "virt": ctx.mem[pid][0] if pid in ctx.mem else None,
            "res": ctx.mem[pid][1] if pid in ctx.mem else None,
            "user": user_name(uid) if uid >= 0 else "",
            "cmd": cmd},
            Drill("syscalls", dict(pid=pid), f"{name} ({pid})"), pid, c.id))
    what = f" making {sc.syscall}" if sc.syscall is not None else ""
    return rows, (f"{len(rows)} processes{what} · {human_count(tot_sc)} syscalls/s · "
                  f"{human_count(tot_err)} errors/s{_source(ctx)}")


def _source(ctx: Ctx) -> str:
    """Where the counts come from, for the totals line."""
    if ctx.snap.exact:
        return " · exact (kernel counters)"
    if ctx.snap.filtered:
        return " · from the event stream (filtered)"
    return ""


def _containers(ctx: Ctx) -> tuple[list[Row], str]:
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    cpu_by: dict[str, float] = {}
    uids: dict[str, list[int]] = {}
    for pid, info in s.procs.items():
        cid = info.container.id
        if pid in ctx.cpu:
            cpu_by[cid] = cpu_by.get(cid, 0.0) + ctx.cpu[pid]
        uids.setdefault(cid, []).append(info.uid)
    rows = []
    tot = 0.0
    for cid, (c, cnt) in s.containers.items():
        if not _in_container(sc, c):
            continue
        old = b.containers.get(cid, (c, {}))[1] if b is not None else {}
        ev = cnt.get("events", 0)
        r_sc = ctx.rate(ev, old.get("events", 0))
        tot += r_sc
        res = ctx.resources.container(c)
        stream = None
        if s.exact:  # how much of this container's syscalls reached the event stream
            d_sys = ev - old.get("events", 0)
            d_ev = s.stream.get(cid, 0) - (b.stream.get(cid, 0) if b is not None else 0)
            if d_sys > 0:
                stream = min(100.0, 100.0 * d_ev / d_sys)
        rows.append(Row(cid, {
            "stream": stream,
            "name": _cname(c),
            "cpu": ctx.container_cpu.get(cid, cpu_by.get(cid) if ctx.cpu else None), "sc": r_sc,
            "err": ctx.rate(cnt.get("errors", 0), old.get("errors", 0)),
            "file": ctx.rate(cnt.get("file_in", 0) + cnt.get("file_out", 0),
                             old.get("file_in", 0) + old.get("file_out", 0)),
            "net": ctx.rate(cnt.get("net_in", 0) + cnt.get("net_out", 0),
                            old.get("net_in", 0) + old.get("net_out", 0)),
            "pids": s.container_pids.get(cid, 0), "mem": res.memory,
            "spark": ctx.history.get(cid, []), "events": ev, "image": c.image,
            "pod": f"{c.pod_namespace}/{c.pod_name}" if c.pod_name else "",
            "runtime": c.runtime, "id": c.short_id},
            Drill("procs", dict(container=cid), _cname(c)), None, cid))
    return rows, f"{len(rows)} containers · {human_count(tot)} syscalls/s · " \
                 f"{s.events} {'syscalls' if s.exact else 'events'} in all{_source(ctx)}"


def _sum_pids(ctx: Ctx, pick: Callable[[Snapshot], dict]) -> tuple[dict, dict]:
    """A scoped detail table (pid_syscalls …) now and at the base."""
    cur = pick(ctx.snap)
    old = pick(ctx.base) if ctx.base is not None and ctx.base.scope_key == ctx.snap.scope_key \
        else {}
    return cur, old


def _syscalls(ctx: Ctx) -> tuple[list[Row], str]:
    s, sc = ctx.snap, ctx.scope
    rows = []
    if sc.pid is not None or sc.container is not None:
        cur, old = _sum_pids(ctx, lambda x: x.pid_syscalls)
        hist: dict[str, Any] = s.pid_lat
    else:
        cur = s.syscalls
        old = ctx.base.syscalls if ctx.base is not None else {}
        hist = s.lat_hist  # type: ignore[assignment]
    slots = s.lat_slots if sc.pid is None and sc.container is None else {}
    calls = errs = 0
    for typ, (n, e, t) in cur.items():
        if sc.syscall is not None and typ != sc.syscall:
            continue
        calls += n
        errs += e
        o = old.get(typ, (0, 0, 0))
        h = hist.get(typ)
        p99 = percentile(h, 0.99) if h else (slot_percentile(slots[typ], 0.99)
                                               if typ in slots else None)
        # Enter: the processes making this syscall (of a process: its events)
        drill = Drill("events", dict(syscall=typ), typ) if sc.pid is not None else \
            Drill("procs", dict(syscall=typ), typ)
        rows.append(Row(typ, {"syscall": typ, "count": n, "rate": ctx.rate(n, o[0]),
                              "errors": e, "avg": t // n if n else 0,
                              "p99": p99, "time": t}, drill, sc.pid, sc.container))
    where = f" of pid {sc.pid}" if sc.pid is not None else \
        (" in this container" if sc.container is not None else "")
    return rows, f"{len(rows)} syscalls{where} · {calls} calls · " \
                 f"{errs} errors{_source(ctx)}"


def slot_percentile(slots: list[int], q: float) -> int | None:
    """The ``q`` quantile of a kernel latency histogram (base-4 slots), as its
    slot's upper bound in ns (the last slot: its lower bound)."""
    total = sum(slots)
    if not total:
        return None
    seen = 0
    for i, n in enumerate(slots):
        seen += n
        if n and seen >= q * total:
            return 4 ** (i + 1) if i < len(slots) - 1 else 4 ** i
    return 4 ** (len(slots) - 1)


def _errors(ctx: Ctx) -> tuple[list[Row], str]:
    """By errno; with an errno in the scope, its syscalls; with both, the processes."""
    s, sc = ctx.snap, ctx.scope
    base = ctx.base
    rows = []
    total = 0
    if sc.pid is not None or (sc.errno is not None and sc.syscall is not None):
        old_d = base.err_detail if base is not None else {}
        for (typ, errno, pid), n in s.err_detail.items():
            st = s.pids.get(pid)
            c = st.container if st else None
            if sc.pid is not None and pid != sc.pid:
                continue
            if sc.container is not None and (c is None or c.id != sc.container):
                continue
            if (sc.syscall is not None and typ != sc.syscall) or \
                    (sc.errno is not None and errno != sc.errno):
                continue
            total += n
            name = st.name if st else "?"
            rows.append(Row(f"{typ}/{errno}/{pid}", {
                "count": n, "rate": ctx.rate(n, old_d.get((typ, errno, pid), 0)),
                "syscall": typ, "errno": errno, "pid": pid, "name": name,
                "container": _cname(c) if c else ""},
                Drill("events", dict(pid=pid, syscall=typ, failed=True),
                      f"{typ} {errno} ({pid})"), pid, c.id if c else None))
        return rows, f"{len(rows)} processes · {total} failed syscalls{_source(ctx)}"
    old_t = base.err_totals if base is not None else {}
    groups: dict[str, list[Any]] = {}  # key -> [count, old count, {syscalls or errnos}]
    for (typ, errno, cid), n in s.err_totals.items():
        if sc.container is not None and cid != sc.container:
            continue
        if (sc.syscall is not None and typ != sc.syscall) or \
                (sc.errno is not None and errno != sc.errno):
            continue
        key = typ if sc.errno is not None else errno
        g = groups.setdefault(key, [0, 0, {}, set()])
        g[0] += n
        g[1] += old_t.get((typ, errno, cid), 0)
        other = errno if sc.errno is not None else typ
        g[2][other] = g[2].get(other, 0) + n
        g[3].add(cid)
        total += n
    names = {cid: _cname(c) for cid, (c, _) in s.containers.items()}
    for key, (n, o, parts, cids) in groups.items():
        top = sorted(parts.items(), key=lambda kv: -kv[1])
        part = " ".join(f"{k}:{v}" for k, v in top[:4]) + (" …" if len(top) > 4 else "")
        where = ", ".join(sorted(names.get(c, c[:12]) for c in cids))
        if sc.errno is None:
            v = {"count": n, "rate": ctx.rate(n, o), "errno": key, "syscall": part,
                 "container": where}
            drill = Drill("errors", dict(errno=key), key)
        else:
            v = {"count": n, "rate": ctx.rate(n, o), "errno": sc.errno, "syscall": key,
                 "container": where}
            drill = Drill("errors", dict(syscall=key), key)
        rows.append(Row(key, v, drill, None, sc.container))
    what = "syscalls failing with " + sc.errno if sc.errno is not None else "kinds of error"
    return rows, f"{len(rows)} {what} · {total} failed syscalls{_source(ctx)}"


def _scoped_files(ctx: Ctx) -> tuple[dict, dict]:
    """(files now, files at the rate base) of the scope: its processes' own tables for
    a process or a container, the host's otherwise."""
    sc = ctx.scope
    if sc.pid is not None or sc.container is not None:
        return _sum_pids(ctx, lambda x: x.pid_files)
    return ctx.snap.files, ctx.base.files if ctx.base is not None else {}


def _files(ctx: Ctx) -> tuple[list[Row], str]:
    sc = ctx.scope
    cur, old = _scoped_files(ctx)
    rows = []
    tin = tout = 0
    for path, (rd, wr, ops, opens) in cur.items():
        if sc.dir is not None and _dirname(path) != sc.dir:
            continue
        o = old.get(path, (0, 0, 0, 0))
        tin += rd
        tout += wr
        rows.append(Row(path, {"path": path, "in_rate": ctx.rate(rd, o[0]),
                               "out_rate": ctx.rate(wr, o[1]), "read": rd, "written": wr,
                               "opens": opens, "ops": ops},
                        Drill("events", dict(fd=path), path), sc.pid, sc.container))
    where = f" in {sc.dir}" if sc.dir is not None else ""
    return rows, f"{len(rows)} files{where} · {human_bytes(tin)} read · " \
                 f"{human_bytes(tout)} written"


def _dirname(path: str) -> str:
    """The directory of a file's path ("" for a name that is not a path)."""
    if not path.startswith("/"):
        return ""
    d = path.rsplit("/", 1)[0]
    return d or "/"


def server_port(name: str) -> int | None:
    """The server end's port of a socket's name ("cip:cport->sip:sport"; sysdig's
    s = server side, whichever end is local), None for other names."""
    _, sep, server = name.rpartition("->")
    if not sep:
        return None
    port = server.rpartition(":")[2]
    return int(port) if port.isdigit() else None


def _conns(ctx: Ctx) -> tuple[list[Row], str]:
    s, sc = ctx.snap, ctx.scope
    rows = []
    tin = tout = 0
    if sc.pid is not None:
        cur, old = _sum_pids(ctx, lambda x: x.pid_conns)
        st = s.pids.get(sc.pid)
        for (proto, name), (bi, bo, _ops) in cur.items():
            if sc.port is not None and (proto, server_port(name)) != sc.port:
                continue
            o = old.get((proto, name), (0, 0, 0))
            tin += bi
            tout += bo
            rows.append(Row(f"{proto}/{name}", {
                "name": name, "proto": proto, "in_rate": ctx.rate(bi, o[0]),
                "out_rate": ctx.rate(bo, o[1]), "in": bi, "out": bo,
                "proc": st.name if st else "", "pid": sc.pid,
                "container": _cname(st.container) if st else ""},
                Drill("events", dict(fd=name), name), sc.pid, sc.container))
    else:
        old_all = ctx.base.conns if ctx.base is not None else {}
        for (proto, name), (bi, bo, _ops, proc, pid, cid) in s.conns.items():
            if sc.container is not None and cid != sc.container:
                continue
            if sc.port is not None and (proto, server_port(name)) != sc.port:
                continue
            o = old_all.get((proto, name), (0, 0))
            tin += bi
            tout += bo
            c = s.containers.get(cid, (None, {}))[0]
            rows.append(Row(f"{proto}/{name}", {
                "name": name, "proto": proto, "in_rate": ctx.rate(bi, o[0]),
                "out_rate": ctx.rate(bo, o[1]), "in": bi, "out": bo, "proc": proc,
                "pid": pid, "container": _cname(c) if c is not None else ""},
                Drill("events", dict(fd=name), name), pid, cid))
    return rows, f"{len(rows)} connections · {human_bytes(tin)} in · {human_bytes(tout)} out"


def _execs(ctx: Ctx) -> tuple[list[Row], str]:
    from ..collector.fields import format_time

    sc = ctx.scope
    rows = []
    for i, x in enumerate(ctx.snap.execs):
        if sc.pid is not None and x.pid != sc.pid:
            continue
        if not _in_container(sc, x.container):
            continue
        rows.append(Row(f"{x.ts_ns}/{x.pid}/{i}", {
            "time": format_time(x.ts_ns)[:12], "ts": x.ts_ns, "pid": x.pid,
            "user": user_name(x.uid), "container": _cname(x.container), "cmd": x.cmdline},
            Drill("syscalls", dict(pid=x.pid), f"{x.cmdline.split(' ')[0]} ({x.pid})"),
            x.pid, x.container.id))
    return rows, f"{len(rows)} commands run ({ctx.snap.execs_seen} in all)"


def _mark(v: bool | None, bad_if: bool = True) -> str:
    if v is None:
        return "?"
    return "yes" if v else "no"


def _security(ctx: Ctx) -> tuple[list[Row], str]:
    s, sc = ctx.snap, ctx.scope
    by_c: dict[str, list[int]] = {}
    uids: dict[str, list[int]] = {}
    for pid, info in s.procs.items():
        by_c.setdefault(info.container.id, []).append(pid)
        uids.setdefault(info.container.id, []).append(info.uid)
    rows = []
    risky = 0
    for cid, (c, _cnt) in s.containers.items():
        if c.is_host or not _in_container(sc, c):
            continue
        row = ctx.resources.security(c, sorted(by_c.get(cid, [])), uids.get(cid, []))
        v: dict[str, Any] = {"name": _cname(c), "runtime": c.runtime}
        risks = []
        for k in SHARED_KINDS:
            shared = k in row.shared if row.known else None
            v[k] = "host" if shared else ("own" if shared is False else "?")
            if shared:
                risks.append(f"host {k} ns")
        v["root"] = _mark(row.root)
        if row.root and row.userns is False:
            risks.append("root without user ns")
        v["cpu_lim"] = "?" if row.cpu_limit is None else ("yes" if row.cpu_limit else "none")
        v["mem_lim"] = "?" if row.memory_limit is None else ("yes" if row.memory_limit
                                                             else "none")
        if row.cpu_limit is False:
            risks.append("no CPU limit")
        if row.memory_limit is False:
            risks.append("no memory limit")
        v["risks"] = ", ".join(risks) if row.known else "unknown (not live)"
        v["nrisks"] = len(risks)
        risky += bool(risks)
        rows.append(Row(cid, v, Drill("procs", dict(container=cid), _cname(c)), None, cid))
    return rows, f"{len(rows)} containers · {risky} with risks"


def _tree(ctx: Ctx) -> tuple[list[Row], str]:
    """Live processes by parent (PPID), children under their parent, indented;
    the order is the tree's (a sort by another column flattens it)."""
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    procs = {pid: p for pid, p in s.procs.items() if _in_container(sc, p.container)}
    children: dict[int, list[int]] = {}
    for pid, p in procs.items():
        parent = p.ppid if p.ppid in procs and p.ppid != pid else 0
        children.setdefault(parent, []).append(pid)
    rows: list[Row] = []
    seen: set[int] = set()

    def walk(pid: int, depth: int) -> None:
        if pid in seen:  # a cycle in stale data: list once
            return
        seen.add(pid)
        p = procs[pid]
        st = s.pids.get(pid)
        old = b.pids.get(pid) if b is not None else None
        name = st.name if st is not None and st.name != "?" else p.name
        rows.append(Row(str(pid), {
            "pid": pid, "ppid": p.ppid, "name": "  " * depth + ("└ " if depth else "") + name,
            "sc": ctx.rate(st.events if st else 0, old.events if old else 0),
            "err": ctx.rate(st.errors if st else 0, old.errors if old else 0),
            "container": _cname(p.container), "order": len(rows),
            "cmd": ctx.cmdline(pid) or p.cmdline},
            Drill("syscalls", dict(pid=pid), f"{name} ({pid})"), pid, p.container.id))
        for child in sorted(children.get(pid, ())):
            walk(child, depth + 1)

    for root in sorted(children.get(0, ())):
        walk(root, 0)
    for pid in sorted(procs):  # anything left (a cycle): at the top level
        if pid not in seen:
            walk(pid, 0)
    return rows, f"{len(rows)} processes in {len(children.get(0, ()))} trees"


def _spectro(ctx: Ctx) -> tuple[list[Row], str]:
    """F12: one row per refresh interval (newest first), one column per latency
    bucket, shaded by how many syscalls of the scope took that long (log scale
    against the busiest cell). From the kernel's histograms: live only."""
    from ..collector.fields import format_time

    hist = ctx.snap.spectro
    if len(hist) < 2:
        what = "needs the kernel's histograms (live)" if not ctx.snap.exact else \
            "filling (one row per refresh)"
        return [], f"latency spectrogram: {what}"
    deltas = [(t1, [max(0, b - a) for a, b in zip(h0, h1, strict=False)])
              for (_t0, h0), (t1, h1) in zip(hist, hist[1:], strict=False)]
    top = max((max(d) for _, d in deltas), default=0)
    rows = []
    import math

    for ts, d in deltas:
        v: dict[str, Any] = {"time": format_time(ts)[:8], "ts": ts, "calls": sum(d)}
        for i, n in enumerate(d):
            v[f"b{i}"] = 0 if not n or not top else \
                1 + int((len(SHADES) - 2) * math.log1p(n) / math.log1p(top))
        rows.append(Row(str(ts), v))
    sc = ctx.scope
    what = f"{sc.syscall}" if sc.syscall else ("this container" if sc.container else
                                              "all syscalls")
    return rows, f"latency of {what}: one row per refresh, darker = more calls (log scale)"


def _threads(ctx: Ctx) -> tuple[list[Row], str]:
    """One row per thread of the event stream (the kernel counts per process); a
    thread that exited is listed, marked, for the interval it exited in."""
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    old_t = b.threads if b is not None else {}
    rows = []
    tot = 0.0
    for tid, t in s.threads.items():
        if not _in_container(sc, t.container) or (sc.pid is not None and t.pid != sc.pid):
            continue
        o = old_t.get(tid)
        if t.exited_ns and o is not None and o.exited_ns and o.events == t.events:
            continue  # exited before this interval: gone
        r = ctx.rate(t.events, o.events if o else 0)
        tot += r
        info = s.procs.get(t.pid)
        rows.append(Row(str(tid), {
            "tid": tid, "pid": t.pid, "name": t.name, "sc": r,
            "err": ctx.rate(t.errors, o.errors if o else 0),
            "file": ctx.rate(t.file_io, o.file_io if o else 0),
            "net": ctx.rate(t.net_io, o.net_io if o else 0), "events": t.events,
            "state": "exit" if t.exited_ns else "", "container": _cname(t.container),
            "cmd": ctx.cmdline(t.pid) or (info.cmdline if info is not None else "")},
            Drill("syscalls", dict(pid=t.pid), f"{t.name} ({t.pid})"), t.pid, t.container.id))
    return rows, f"{len(rows)} threads · {human_count(tot)} events/s (the event stream)"


def _dirs(ctx: Ctx) -> tuple[list[Row], str]:
    """The Files view's figures summed by the directory each file is in."""
    sc = ctx.scope
    cur, old = _scoped_files(ctx)
    by: dict[str, list[int]] = {}  # dir -> read, written, ops, opens, old read, old written, n
    for path, (rd, wr, ops, opens) in cur.items():
        d = _dirname(path)
        if not d:
            continue
        o = old.get(path, (0, 0, 0, 0))
        g = by.setdefault(d, [0] * 7)
        g[0] += rd
        g[1] += wr
        g[2] += ops
        g[3] += opens
        g[4] += o[0]
        g[5] += o[1]
        g[6] += 1
    rows = [Row(d, {"dir": d, "in_rate": ctx.rate(g[0], g[4]), "out_rate": ctx.rate(g[1], g[5]),
                    "read": g[0], "written": g[1], "ops": g[2], "opens": g[3], "files": g[6]},
                Drill("files", dict(dir=d), d), sc.pid, sc.container)
            for d, g in by.items()]
    return rows, f"{len(rows)} directories · {human_bytes(sum(g[0] for g in by.values()))} " \
                 f"read · {human_bytes(sum(g[1] for g in by.values()))} written"


def _ports(ctx: Ctx) -> tuple[list[Row], str]:
    """The Connections view's figures summed by server port (the port connections
    were made to, on this host or from it)."""
    s, sc = ctx.snap, ctx.scope
    old_all = ctx.base.conns if ctx.base is not None else {}
    by: dict[tuple[str, int], list[Any]] = {}
    for (proto, name), (bi, bo, _ops, proc, _pid, cid) in s.conns.items():
        if sc.container is not None and cid != sc.container:
            continue
        port = server_port(name)
        if port is None:
            continue
        o = old_all.get((proto, name), (0, 0))
        g = by.setdefault((proto, port), [0, 0, 0, 0, 0, {}, set()])
        g[0] += bi
        g[1] += bo
        g[2] += o[0]
        g[3] += o[1]
        g[4] += 1
        g[5][proc] = g[5].get(proc, 0) + 1
        g[6].add(cid)
    names = {cid: _cname(c) for cid, (c, _) in s.containers.items()}
    rows = []
    for (proto, port), (bi, bo, oi, oo, n, procs, cids) in by.items():
        top = sorted(procs, key=lambda p: (-procs[p], p))
        rows.append(Row(f"{proto}/{port}", {
            "port": port, "proto": proto, "conns": n, "in_rate": ctx.rate(bi, oi),
            "out_rate": ctx.rate(bo, oo), "in": bi, "out": bo,
            "proc": ", ".join(top[:3]) + (" …" if len(top) > 3 else ""),
            "container": ", ".join(sorted(names.get(c, c[:12]) for c in cids))},
            Drill("conns", dict(port=(proto, port)), f"{proto} port {port}"), None,
            sc.container))
    return rows, f"{len(rows)} server ports · {sum(g[4] for g in by.values())} connections"


def _slowio(ctx: Ctx) -> tuple[list[Row], str]:
    """The latest file reads and writes that took 1 ms or more, newest first."""
    from ..collector.fields import format_time
    from .model import SLOW_IO_NS

    sc = ctx.scope
    rows = []
    for x in ctx.snap.slow_io:
        if (sc.pid is not None and x.pid != sc.pid) or not _in_container(sc, x.container):
            continue
        rows.append(Row(f"{x.num}", {
            "time": format_time(x.ts_ns)[:15], "ts": x.ts_ns, "latency": x.latency_ns,
            "syscall": x.type, "bytes": x.res, "pid": x.pid, "name": x.name,
            "container": _cname(x.container), "path": x.path},
            Drill("events", dict(pid=x.pid, fd=x.path), f"{x.name} ({x.pid}) {x.path}"),
            x.pid, x.container.id))
    return rows, f"{len(rows)} file reads/writes that took {human_ns(SLOW_IO_NS)} or more " \
                 "(the latest; the event stream)"


BUILDERS: dict[str, Callable[[Ctx], tuple[list[Row], str]]] = {
    "threads": _threads, "dirs": _dirs, "ports": _ports, "slowio": _slowio,
    "spectro": _spectro,
    "tree": _tree,
    "procs": _procs, "containers": _containers, "syscalls": _syscalls, "errors": _errors,
    "files": _files, "conns": _conns, "execs": _execs, "security": _security,
}

# columns whose sort uses another value than the one shown
_SORT_KEY = {("execs", "time"): "ts", ("security", "risks"): "nrisks",
             ("slowio", "time"): "ts"}
_EVENT_FMT: Formatter | None = None


def render_cell(col: Col, v: Any, ctx: Ctx) -> Text:
    k = col.kind
    if k == "text":
        return plain("" if v is None else v, col.width)
    if k == "int":
        return num(v)
    if k in ("exact", "id"):  # counts and pids: every digit (a PID is acted on)
        return Text("-" if v is None else str(v), justify="right", no_wrap=True)
    if k == "rate":
        return num(float(v) if v is not None else None)
    if k == "bytes":
        return Text(human_bytes(v), justify="right", no_wrap=True)
    if k == "brate":
        return Text(human_bytes(v) if v is not None else "-", justify="right", no_wrap=True)
    if k == "pct":
        return Text(pct(v), justify="right", no_wrap=True)
    if k == "ns":
        return Text(human_ns(v), justify="right", no_wrap=True)
    if k == "shade":
        return Text(SHADES[min(int(v or 0), len(SHADES) - 1)] * 3, style="cyan",
                    no_wrap=True)
    if k == "spark":
        return Text(sparkline(v or [], ctx.spark_width), style="green", no_wrap=True)
    return plain(v)


def _sort_rows(view: str, rows: list[Row], sort: str, desc: bool,
               cols: Iterable[Col]) -> None:
    kinds = {c.key: c.kind for c in cols}
    key = _SORT_KEY.get((view, sort), sort)
    text = kinds.get(sort) == "text" and key == sort
    rows.sort(key=lambda r: r.key)  # a stable order for ties

    def k(r: Row) -> Any:
        v = r.values.get(key)
        if text:
            return str(v or "").lower()
        if isinstance(v, list):
            return v[-1] if v else 0
        return v if v is not None else -1

    rows.sort(key=k, reverse=desc)


def event_lines(ctx: Ctx, limit: int = 2000) -> list[tuple[int, str]]:
    global _EVENT_FMT
    if _EVENT_FMT is None:
        _EVENT_FMT = Formatter(CONTAINER_FORMAT)
    sc = ctx.scope
    out = []
    for ev in reversed(ctx.snap.events_ring):
        if sc.admits(ev):
            line = _EVENT_FMT.format(ev)
            if line is not None:
                out.append((ev.num, line))
            if len(out) >= limit:
                break
    out.reverse()
    return out


def build(view: str, ctx: Ctx, sort: str | None = None, desc: bool | None = None,
          row_text: str = "") -> ViewData:
    """The rows of ``view`` for this context, sorted and cut to ``ctx.max_rows``."""
    cols = COLUMNS[view]
    dsort, ddesc = DEFAULT_SORT[view]
    sort = sort if sort and any(c.key == sort for c in cols) else dsort
    desc = ddesc if desc is None else desc
    if view == "events":
        lines = event_lines(ctx)
        what = "I/O events" if ctx.scope.io else "events"
        return ViewData(view, cols, [], {}, len(lines), f"{len(lines)} recent {what} "
                        f"(of {human_count(ctx.snap.events)} since the start)", sort, desc,
                        lines=lines)
    rows, totals = BUILDERS[view](ctx)
    if row_text:  # the row text filter: the cells as they would be shown
        needle = row_text.lower()
        rows = [r for r in rows if any(
            needle in render_cell(c, r.values.get(c.key), ctx).plain.lower() for c in cols
            if c.kind in ("text", "id", "exact"))]
        totals += f" · {len(rows)} containing {row_text!r}"
    _sort_rows(view, rows, sort, desc, cols)
    total = len(rows)
    shown = rows[: ctx.max_rows] if ctx.max_rows else rows
    for r in shown:  # narrowed scopes only for the rows shown (thousands of rows)
        d = r.drill
        if d is not None and isinstance(d.scope, dict):
            r.drill = Drill(d.view, ctx.scope.narrow(**d.scope), d.label)
    out = [(r.key, tuple(render_cell(c, r.values.get(c.key), ctx) for c in cols))
           for r in shown]
    if total > len(shown):
        totals += f" · showing {len(shown)} of {total}"
    note = ""
    if view == "security" and not ctx.resources.live:
        note = "namespaces and limits are read from this host: not available in a replay"
    return ViewData(view, cols, out, {r.key: r for r in shown}, total, totals, sort, desc,
                    note=note)


# -- F7: what each column means, and its unit ------------------------------------------
_COMMON = {
    "cpu": "CPU used, % of ONE core (a process busy on 2 cores reads 200); from "
           "/proc/PID/stat, a container's from its cgroup's usage counter",
    "sc": "syscalls completed per second over the last interval (kernel counters: exact)",
    "err": "failed syscalls (returned -1..-4095) per second",
    "file": "bytes per second read + written by file I/O syscalls (B/K/M/G: 1024-based)",
    "net": "bytes per second sent + received on sockets",
    "events": "syscalls completed since cdig top started (exact, every digit)",
    "container": "the container (name, or short id); host: not in a container",
    "pid": "process id (thread group id), exact",
    "name": "the process's name: its comm (main thread), or its container's name",
    "user": "user name of the process's uid (the host's database)",
    "cmd": "the command line: argv, argv[0] included",
    "rate": "per second over the last interval",
    "count": "how many since the start (exact)",
    "errors": "how many failed since the start",
    "syscall": "the syscall (or the syscalls, with their counts)",
}
LEGEND: dict[str, dict[str, str]] = {
    "procs": {**_COMMON, "virt": "virtual memory size (bytes, /proc/PID/statm)",
              "res": "resident memory (bytes in RAM)",
              "state": "exit: the process exited during the last interval "
                       "(listed once more, then removed)"},
    "containers": {**_COMMON, "pids": "live processes in the container",
                   "mem": "memory used by the container's cgroup (bytes)",
                   "spark": "events per second over the last 60 s (the event stream)",
                   "stream": "% of the container's syscalls in the last interval that "
                             "reached the event stream (files, connections, dig and echo "
                             "see only those); below 100: the stream dropped or was "
                             "narrowed in the kernel",
                   "image": "the container's image", "pod": "Kubernetes namespace/pod",
                   "runtime": "podman, docker, containerd, cri-o, lxc, systemd, runc…",
                   "id": "the container id (12 characters)"},
    "syscalls": {**_COMMON, "avg": "mean latency (enter to exit), ns/us/ms/s",
                 "p99": "99th percentile latency, the upper bound of its histogram "
                        "bucket (kernel: base-4 buckets, so up to 4x high)",
                 "time": "total time spent in the syscall since the start"},
    "errors": {**_COMMON, "errno": "the error (ENOENT: no such file…); Enter: its "
                                   "syscalls, then the processes getting it",
               "name": "the process", "container": "the containers where it happened"},
    "files": {"path": "the file", "in_rate": "bytes read per second",
              "out_rate": "bytes written per second", "read": "bytes read since the start",
              "written": "bytes written since the start", "opens": "successful opens",
              "ops": "read/write syscalls on it (the event stream)"},
    "conns": {"name": "local → remote address:port", "proto": "tcp, udp…",
              "in_rate": "bytes received per second", "out_rate": "bytes sent per second",
              "in": "bytes received since the start", "out": "bytes sent since the start",
              "proc": "the process", "pid": "its pid", "container": "its container"},
    "execs": {"time": "when (HH:MM:SS.mmm)", "pid": "the new program's pid",
              "user": "its user", "container": "its container",
              "cmd": "the command line run (argv)"},
    "events": {},
    "spectro": {"time": "the end of the refresh interval", "calls": "syscalls in it",
                **{f"b{i}": f"calls taking up to {lab}s (base-4 buckets of the kernel's "
                            "histogram); the darker, the more (log scale)"
                   for i, lab in enumerate(_SPECTRO_LABELS)}},
    "tree": {**_COMMON, "ppid": "the parent's pid",
             "name": "the process's name, indented under its parent"},
    "threads": {**_COMMON, "tid": "thread id (the kernel's pid of the thread), exact",
                "pid": "its process (thread group id)",
                "name": "the thread's comm (threads can name themselves)",
                "sc": "events per second of the thread in the event stream (the kernel's "
                      "exact counters are per process; the stream can drop or be narrowed)",
                "err": "failed syscalls per second (the event stream)",
                "file": "bytes per second read + written on files (the event stream)",
                "net": "bytes per second sent + received on sockets (the event stream)",
                "events": "the thread's events in the stream since the start",
                "state": "exit: the thread exited during the last interval",
                "cmd": "its process's command line"},
    "dirs": {"dir": "the directory; the files directly in it are summed (Enter: them)",
             "in_rate": "bytes read per second from its files",
             "out_rate": "bytes written per second to its files",
             "read": "bytes read since the start", "written": "bytes written since the start",
             "opens": "successful opens of its files", "ops": "read/write syscalls on them",
             "files": "files of it seen in the event stream"},
    "ports": {"port": "the server end's port (of a connection accepted here, or made "
                      "from here); Enter: its connections",
              "proto": "tcp, udp…", "conns": "connections seen to that port",
              "in_rate": "bytes received per second on them",
              "out_rate": "bytes sent per second on them",
              "in": "bytes received since the start", "out": "bytes sent since the start",
              "proc": "the processes with the most of those connections",
              "container": "their containers"},
    "slowio": {"time": "when the call ended (HH:MM:SS.micro)",
               "latency": "how long the call took (enter to exit): 1 ms or more",
               "syscall": "read, write, pread64…",
               "bytes": "bytes it read or wrote", "pid": "the process",
               "name": "the thread's comm", "container": "its container",
               "path": "the file; the latest 2,000 such calls of the event stream"},
    "security": {"name": "the container",
                 "net": "host: shares the host's network namespace; own: its own",
                 "pid": "the pid namespace, host or own", "ipc": "the ipc namespace",
                 "uts": "the uts namespace (hostname)", "user": "the user namespace",
                 "root": "a process runs as uid 0 (host uid)",
                 "cpu_lim": "a CPU limit (cgroup cpu.max) is set",
                 "mem_lim": "a memory limit (memory.max) is set",
                 "risks": "what of the above is risky", "runtime": "the runtime"},
}


def legend_lines(view: str) -> list[str]:
    """F7: one line per column of ``view``: its header, what it is, its unit."""
    meanings = LEGEND.get(view, {})
    out = [f"{VIEWS[view]}:"]
    if view == "events":
        out.append("one line per event, as `cdig trace -pc` prints it")
    for c in COLUMNS[view]:
        out.append(f"  {c.label:<14} {meanings.get(c.key, '')}")
    out.append("")
    out.append("Rates are per second over the last refresh interval (the capture's "
               "clock in a replay).")
    return out
