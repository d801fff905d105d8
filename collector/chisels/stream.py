"""sysdig's chisels that follow the event stream: ``iobytes`` (``_file``, ``_net``),
``fdcount_by FIELD``, ``bottlenecks``, ``proc_exec_time``, ``spy_users``,
``list_login_shells`` and ``around FILE [MS]``.

What each one selects, keeps and prints is sysdig 0.29.3's (its Lua chisels under
``/usr/share/sysdig/chisels``), down to the quirks users see: ``iobytes`` prints a
line when an event opens a new second, with that event's time and the totals of
the second before, and never the last second; ``list_login_shells`` prints the last
matching shell once per key of its Lua table (three times).
Per batch the work is numpy masks and groups; Events only for the lines printed.
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from ...probes.syscalls import layout
from ..fields import resolve
from ..filter import compile_filter
from ..filter.batch import BatchFilter
from ..vector import ArgRelevance, depends, group
from .base import Arg, Chisel, ChiselError

RESET, GREEN, YELLOW, RED, BLUE = "\x1b[0m", "\x1b[32m", "\x1b[33m", "\x1b[31m", "\x1b[34m"
SECOND = 1_000_000_000


def text_of(name: str, ev: Any) -> str | None:
    """A field's output text for one event, None when it has none (sysdig's nil)."""
    f = resolve(name)
    return f.text(ev) if f.get(ev) is not None else None


def late_rows(b: Any, run: Any) -> np.ndarray:
    """Rows numbered below one before them (``run.max_num`` carries the highest seen).

    A call still in flight at the end of a capture comes last, with its enter's
    (earlier) number and time: sysdig saw it in its place, so it must not open an
    interval of a chisel that ticks by event time."""
    num = b.num.astype(np.int64)
    late: np.ndarray = num < np.maximum.accumulate(np.maximum(num, run.max_num))
    if len(num):
        run.max_num = max(run.max_num, int(num.max()))
    return late


class OwnFilter:
    """A chisel's own filter, compiled once per syscall table (a capture brings its own)."""

    def __init__(self, text: str) -> None:
        self.flt = compile_filter(text)
        self._by_table: tuple[object, BatchFilter] | None = None

    def mask(self, b: Any) -> np.ndarray:
        table = b.decoder.table
        if self._by_table is None or self._by_table[0] is not table:
            self._by_table = (table, BatchFilter(self.flt, table))
        return self._by_table[1].mask(b)


class Printer:
    """Lines written as they come (stdout unless told)."""

    batch_sink = True

    def __init__(self, out: TextIO | None = None) -> None:
        self.out = out

    def write(self, lines: Sequence[str]) -> None:
        if lines:
            out = self.out if self.out is not None else sys.stdout
            out.write("\n".join(lines) + "\n")

    def table(self, delta_ns: int = 0) -> str:
        return ""


# ----------------------------------------------------------------------- iobytes


class IoBytesRun(Printer):
    """``iobytes``: bytes of I/O calls per second. As sysdig's chisel interval does
    it, an event in a new second (of those the user's filter passes) prints the
    totals so far with its own ``evt.time.s`` and starts again."""

    def __init__(self, own: str, out: TextIO | None = None) -> None:
        super().__init__(out)
        self.own = OwnFilter(own)
        self.reads = OwnFilter("evt.is_io_read=true")
        self.second: int | None = None  # the current second (ns, aligned)
        self.tin = self.tout = 0
        self.max_num = -1

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched & ~late_rows(b, self))
        if not len(rows):
            return
        rec = b.cols
        res = np.where(rec["kind"] == layout.KIND_SYSCALL, rec["ret"].astype(np.int64), 0)
        io = self.own.mask(b) & (res > 0)
        rd = io & self.reads.mask(b)
        vin = np.where(rd, res, 0)[rows]
        vout = np.where(io & ~rd, res, 0)[rows]
        ts = b.ts[rows].astype(np.int64)
        sec = ts - ts % SECOND
        prev = np.concatenate(([self.second if self.second is not None else sec[0]], sec[:-1]))
        ticks = np.flatnonzero(sec != prev)
        # totals before each tick: cumulative sums of what came before the row
        cin, cout = np.cumsum(vin) - vin, np.cumsum(vout) - vout
        lines, base_in, base_out = [], 0, 0
        field = resolve("evt.time.s")
        for t in ticks.tolist():
            tin, tout = self.tin + int(cin[t]) - base_in, self.tout + int(cout[t]) - base_out
            ev = b.event(int(rows[t]))
            lines.append(f"{field.text(ev)} in:{tin} out:{tout} tot:{tin + tout}")
            self.tin = self.tout = 0
            base_in, base_out = int(cin[t]), int(cout[t])
        self.tin += int(vin.sum()) - base_in
        self.tout += int(vout.sum()) - base_out
        self.second = int(sec[-1])
        self.write(lines)


def _iobytes(name: str, category: str, description: str, own: str) -> Chisel:
    return Chisel(name, category, description, make=lambda args, pc: IoBytesRun(own),
                  filter=lambda args, pc: "", interval=False)


# ----------------------------------------------------------------------- fdcount_by


class FdCountRun:
    """``fdcount_by KEY``: distinct (fd number, fd name) per key, "KEY\\tCOUNT" lines
    at the end, the largest count first."""

    batch_sink = True

    def __init__(self, key: str) -> None:
        self.key = resolve(key)
        self.deps = depends(key) | depends("fd.num") | depends("fd.name")
        self.fds: dict[str, set[tuple[int, str]]] = {}
        self._rel: tuple[object, ArgRelevance] | None = None

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched & (b.fd_numbers() > 0))
        if not len(rows):
            return
        sub = b if len(rows) == len(b) else b.take(rows)
        table = sub.decoder.table
        if self._rel is None or self._rel[0] is not table:
            self._rel = (table, ArgRelevance(table))
        _codes, first = group(sub, self.deps, self._rel[1])
        for i in np.sort(first).tolist():
            ev = sub.event(int(i))
            if ev.fd is None or not ev.fd.name or self.key.get(ev) is None:
                continue
            key = self.key.text(ev) or ""
            self.fds.setdefault(key, set()).add((ev.fd.num, ev.fd.name))

    def table(self, delta_ns: int = 0) -> str:
        ranked = sorted(self.fds.items(), key=lambda kv: -len(kv[1]))
        self.fds = {}
        return "\n".join(f"{k}\t{len(v)}" for k, v in ranked)


# ----------------------------------------------------------------------- bottlenecks


class BottlenecksRun:
    """``bottlenecks``: the 10 slowest calls, the first of equals kept first (the Lua
    inserts a call after those at least as slow). sysdig prints each call's enter
    event before its exit; cdig's records are completed calls: the exit lines."""

    batch_sink = True
    HOW_MANY = 10

    def __init__(self) -> None:
        self.slow: list[tuple[int, str]] = []  # (latency, line), slowest first

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        rec = b.cols
        lat = rec["latency_ns"].astype(np.int64)
        ok = matched & (rec["kind"] == layout.KIND_SYSCALL) & (lat > 0)
        if len(self.slow) == self.HOW_MANY:
            ok &= lat > self.slow[-1][0]
        rows = np.flatnonzero(ok)
        if not len(rows):
            return
        top = rows[np.argsort(-lat[rows], kind="stable")[:self.HOW_MANY]]
        new = []
        for i in np.sort(top).tolist():
            ev = b.event(i)
            la = int(lat[i])
            new.append((la, f"{ev.num}) {la // SECOND}.{la % SECOND:09d} "
                            f"{text_of('proc.name', ev) or ''} ({ev.tid}) < "
                            f"{text_of('evt.type', ev)} {text_of('evt.args', ev) or ''}"))
        merged = self.slow + new  # sorted() is stable: the earlier of equals first
        self.slow = sorted(merged, key=lambda t: -t[0])[:self.HOW_MANY]

    def table(self, delta_ns: int = 0) -> str:
        return "\n".join(line for _, line in self.slow)


# ----------------------------------------------------------------------- proc_exec_time


class ProcExecTimeRun(Printer):
    """``proc_exec_time``: a line per process exit with its run time, coloured by it
    (red over 10 s, yellow over 3 s, else blue in a container, green on the host)."""

    def __init__(self, pc: bool, color: bool) -> None:
        super().__init__()
        self.pc, self.color = pc, color
        self.started = False

    def header(self) -> list[str]:
        if self.pc:
            return [_fmt((13, 20, 20, 12), ("proc.duration", "container.id", "container.name",
                                          "proc.name", "proc.args")),
                    _fmt((13, 20, 20, 12), ("-" * 13, "-" * 20, "-" * 20, "-" * 12, "-" * 20))]
        return [_fmt((13, 12), ("proc.duration", "proc.name", "proc.args")),
                _fmt((13, 12), ("-" * 13, "-" * 12, "-" * 20))]

    def _start(self) -> list[str]:
        if self.started:
            return []
        self.started = True
        return self.header()

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        from .tables import format_time

        lines = self._start()
        for i in np.flatnonzero(matched).tolist():
            ev = b.event(i)
            dur = resolve("proc.duration").get(ev)
            if dur is None:
                continue
            cname = text_of("container.name", ev) or "<NA>"
            c = RED if dur > 10 * SECOND else YELLOW if dur > 3 * SECOND else \
                BLUE if cname != "host" else GREEN
            cells = [format_time(int(dur))]
            if self.pc:
                cells += [text_of("container.id", ev) or "<NA>", cname]
            cells += [text_of("proc.name", ev) or "<NA>", text_of("proc.args", ev) or ""]
            widths = (13, 20, 20, 12) if self.pc else (13, 12)
            lines.append((c if self.color else "") + _fmt(widths, cells))
        self.write(lines)

    def table(self, delta_ns: int = 0) -> str:
        self.write([*self._start(), RESET if self.color else ""])  # the Lua's last print
        return ""


def _fmt(widths: Sequence[int], cells: Sequence[str]) -> str:
    """C's "%-W.Ws " per width, the last cell as it is."""
    return " ".join([f"{c[:w]:<{w}}" for w, c in zip(widths, cells, strict=False)] +
                    [cells[-1]])


def _color_arg(args: Sequence[str], word: str) -> bool:
    return not any(a == word for a in args)


# ----------------------------------------------------------------------- spy_users

_MAX_ANCESTORS = 16


class SpyUsersRun(Printer):
    """``spy_users [MAX_DEPTH [disable_color]]``: commands run and directories entered
    under a shell, indented by how deep under it (the Lua's process tree)."""

    def __init__(self, pc: bool, max_depth: int, color: bool) -> None:
        super().__init__()
        self.pc, self.max_depth, self.color = pc, max_depth, color
        self.tree: dict[int, tuple[int, int]] = {}  # pid -> (depth, shell pid); (-1, 0): none

    def _ancestors(self, ev: Any) -> list[tuple[str | None, int]]:
        out: list[tuple[str | None, int]] = []
        p = ev.proc.parent if ev.proc is not None else None
        for _ in range(_MAX_ANCESTORS):
            if p is None:
                break
            out.append((p.name, p.pid))
            p = p.parent
        return out

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        lines = []
        for i in np.flatnonzero(matched).tolist():
            ln = self._line(b.event(i))
            if ln is not None:
                lines.append(ln)
        self.write(lines)

    def _line(self, ev: Any) -> str | None:
        user = text_of("user.name", ev) or "<NA>"
        dtime = text_of("evt.time.s", ev)
        pid = ev.pid
        ppid = resolve("proc.ppid").get(ev)
        chdir = ev.type == "chdir"
        icorr = 1
        anc = self._ancestors(ev)
        if chdir:  # the Lua shifts its ancestor list by one: the process itself is [1]
            ppid, icorr = pid, 0
            anc = [(ev.proc.name if ev.proc else None, pid), *anc]
        tree = self.tree
        if ppid not in tree:
            tree[ppid] = (-1, 0)
            for j, (aname, apid) in enumerate(anc[:_MAX_ANCESTORS], start=1):
                if aname is not None and len(aname) >= 2 and aname.endswith("sh"):
                    tree[ppid] = (j - 1, apid) if apid in tree else (0, apid)
        if tree[ppid][0] == -1:
            return None
        if pid not in tree:
            tree[pid] = (1 + tree[ppid][0], tree[ppid][1])
        depth, shell = tree[pid]
        cname = text_of("container.name", ev) or "<NA>"
        color = ""
        if self.pc and self.color:
            color = GREEN if cname == "host" else BLUE
        who = f"{user}@{cname}" if self.pc else user
        if chdir:
            if self.max_depth != -1 and depth - icorr > self.max_depth:
                return None
            return f"{color}{' ' * (4 * (depth - icorr))}{shell} {dtime} {who}) cd " \
                   f"{text_of('evt.arg.path', ev) or ''}"
        if self.max_depth != -1 and depth - 1 > self.max_depth:
            return None
        indent = (4 if self.pc else 3) * (depth - 1)
        return f"{color}{' ' * indent}{shell} {dtime} {who}) " \
               f"{text_of('proc.exe', ev) or ''} {text_of('proc.args', ev) or ''}"

    def table(self, delta_ns: int = 0) -> str:
        self.write([RESET if self.color else ""])
        return ""


def _spy_users(args: Sequence[str], pc: bool) -> SpyUsersRun:
    depth = -1
    if args:
        try:
            depth = int(args[0])
        except ValueError:
            raise ChiselError(f"Input max_depth must be a number, not {args[0]!r}") from None
    return SpyUsersRun(pc, depth, _color_arg(args[1:], "disable_color"))


# ----------------------------------------------------------------------- list_login_shells


class LoginShellsRun:
    """``list_login_shells [COMMAND [ARGUMENTS]]``: the login shell of the last exec
    that matches. sysdig's Lua prints it once per key of the table it keeps (shell,
    container name, container id): the same line three times; so does cdig."""

    batch_sink = True

    def __init__(self, pc: bool, command: str | None, arguments: str | None) -> None:
        self.pc, self.command, self.arguments = pc, command, arguments
        self.last: tuple[str, str, str] | None = None

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        for i in np.flatnonzero(matched).tolist()[::-1]:
            ev = b.event(i)
            sid, exe = text_of("proc.loginshellid", ev), text_of("evt.arg.exe", ev)
            if sid is None or exe is None:
                continue
            if self.command is not None and self.command not in exe:
                continue
            args = text_of("evt.arg.args", ev)
            if self.arguments is not None and args is not None and self.arguments not in args:
                continue
            self.last = (sid, text_of("container.name", ev) or "", text_of("container.id", ev)
                         or "")
            return

    def table(self, delta_ns: int = 0) -> str:
        head = f"Shells containing {self.command}:" if self.command else "All shells:"
        if self.last is None:
            return head
        line = " ".join(self.last) if self.pc else self.last[0]
        return "\n".join([head, line, line, line])


def _login_shells(args: Sequence[str], pc: bool) -> LoginShellsRun:
    command = args[0] if args and args[0] != "*" else None
    return LoginShellsRun(pc, command, args[1] if len(args) > 1 else None)


# ----------------------------------------------------------------------- around


class AroundRun(Printer):
    """``around FILE [MS]``: a line per event the filter matches; at the end, the
    events of the same thread within MS (default 1000) of each are written to FILE
    (a cdig capture), by a second pass over the same capture with ``evt.around``."""

    def __init__(self, dump: str, range_ms: str) -> None:
        super().__init__()
        self.dump, self.range_ms = dump, range_ms
        self.hits: list[tuple[int, int]] = []  # (ts_ns, tid)
        self.sources: list[str] = []
        self.user_filter = ""

    def bind(self, reads: Sequence[str] | None, user_filter: str) -> None:
        if not reads:
            raise ChiselError("around: live capture not supported (read a capture with -r)")
        if not user_filter.strip():
            raise ChiselError("around: no filter specified")
        self.sources, self.user_filter = list(reads), user_filter

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        lines = []
        for i in np.flatnonzero(matched).tolist():
            ev = b.event(i)
            lines.append(f"{text_of('evt.time', ev)} {text_of('proc.name', ev) or '<NA>'}"
                         f"({ev.tid})")
            self.hits.append((ev.ts_ns, ev.tid))
        self.write(lines)

    def filter_text(self) -> str:
        return " or ".join(f"(evt.around[{ts}]={self.range_ms} "
                           f"and thread.tid={tid})" for ts, tid in self.hits)

    def table(self, delta_ns: int = 0) -> str:
        self.write_around(f"Saving events around {len(self.hits)} syslog entries to "
                          f"{self.dump}", blank=True)
        return ""

    def write_around(self, message: str, blank: bool = False) -> None:
        """``message``, then the events around the hits saved to the dump file."""
        from ...cli import main  # the second pass is the CLI's own -r/-w

        self.write(["", message] if blank else [message])
        sys.stdout.flush()
        if self.hits:
            reads = [w for r in self.sources for w in ("-r", r)]
            main(["trace", *reads, "-w", self.dump, self.filter_text()])


def _around(args: Sequence[str], pc: bool) -> AroundRun:
    rng = args[1] if len(args) > 1 else "1000"
    if not rng.isdigit():
        raise ChiselError(f"Input dump_range_ms must be a number, not {rng!r}")
    return AroundRun(args[0], rng)


CHISELS: tuple[Chisel, ...] = (
    _iobytes("iobytes", "I/O", "Sum of I/O bytes on any type of FD", "evt.is_io=true"),
    _iobytes("iobytes_file", "I/O", "Sum of file I/O bytes", "evt.is_io=true and fd.type=file"),
    _iobytes("iobytes_net", "Net", "Show total network I/O bytes",
             "evt.is_io=true and (fd.type=ipv4 or fd.type=ipv6)"),
    Chisel("fdcount_by", "I/O", "FD count, aggregated by an arbitrary filter field",
           make=lambda args, pc: FdCountRun(args[0]), filter=lambda args, pc: "",
           args=(Arg("key", "The filter field used for grouping"),), interval=False),
    Chisel("bottlenecks", "Performance", "Slowest system calls",
           make=lambda args, pc: BottlenecksRun(), filter=lambda args, pc: "", interval=False),
    Chisel("proc_exec_time", "Performance", "Show process execution time",
           make=lambda args, pc: ProcExecTimeRun(pc, _color_arg(args, "disable_colors")),
           filter=lambda args, pc: "evt.type=procexit",
           args=(Arg("disable_color", "Set to 'disable_colors' if you want to disable color "
                     "output", optional=True),), interval=False),
    Chisel("spy_users", "Security", "Display interactive user activity", make=_spy_users,
           filter=lambda args, pc: "((evt.type=execve and evt.dir=<) or (evt.type=chdir and "
           "evt.dir=< and proc.name contains sh and not proc.name contains sshd)) and "
           "evt.failed=false",
           args=(Arg("max_depth", "the maximum depth to show in the hierarchy of processes",
                     optional=True),
                 Arg("disable_color", "Set to 'disable_colors' if you want to disable color "
                     "output", optional=True)), interval=False),
    Chisel("list_login_shells", "Security", "List the login shell IDs", make=_login_shells,
           filter=lambda args, pc: "evt.type=execve",
           args=(Arg("command", "If this parameter is specified, only the login shells that "
                     "contain commands including the given string in their name will be "
                     "listed. * will match any command name.", optional=True),
                 Arg("arguments", "If this parameter is specified, only the login shells "
                     "that contain commands including the given string in their arguments "
                     "will be listed", optional=True)), interval=False),
    Chisel("around", "Misc", "Export to file the events around the time range where the "
           "given filter matches.", make=_around, filter=lambda args, pc: "",
           args=(Arg("dump_file_name", "The name of the file where the chisel will write the "
                     "events related to each syslog entry."),
                 Arg("dump_range_ms", "The time interval to capture *before* and *after* each "
                     "event, in milliseconds. The default value for dump_range_ms is 1000.",
                     optional=True)), interval=False),
)
