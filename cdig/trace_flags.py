"""sysdig's output flags of ``cdig trace``: ``-L`` (the events), ``-t h|a|r|d|D`` (the
time column), ``-S`` (the event summary at the end), ``-v`` (sysdig's closing
figures), ``-P`` (progress while reading captures) and ``--unbuffered``.

``TraceFlags`` is set up around one trace: it may answer at once (``-L``), makes
stdout line-buffered for ``--unbuffered``, and hands the session batch sinks
(``args.extra_sinks``): one that counts what ``-S``/``-v`` print when the trace ends,
one that prints ``-P``'s progress once the replay names its source (``reading``).
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Iterable
from typing import Any

import numpy as np

# sysdig's type names for cdig's argument kinds (sysdig -L)
_TYPES = {"fd": "FD", "dirfd": "FD", "path": "FSPATH", "uint": "UINT64", "int": "INT64",
          "oct": "UINT32", "hex": "UINT64", "oflags": "FLAGS32", "cflags": "FLAGS64",
          "signal": "SIGTYPE", "addr": "SOCKADDR", "addrp": "SOCKADDR", "argv": "BYTEBUF"}
# what sysdig's -t puts in the time column of its formats
TIME_FIELDS = {"h": "%evt.outputtime", "a": "%evt.rawtime.s.%evt.rawtime.ns",
               "r": "%evt.reltime.s.%evt.reltime.ns", "d": "%evt.latency.s.%evt.latency.ns",
               "D": "%evt.deltatime.s.%evt.deltatime.ns"}


def list_events(specs: Iterable[Any]) -> str:
    """``-L``: each syscall's enter and exit events with their arguments, sysdig's
    layout (``> open(FSPATH name, …)`` / ``< open(ERRNO res)``), then the process
    events cdig records."""
    out = []
    for s in sorted(specs, key=lambda s: s.nr):
        args = ", ".join(f"{_TYPES.get(a.kind, 'UINT64')} {a.name}" for a in s.args)
        out += [f"> {s.name}({args})", f"< {s.name}(ERRNO res)"]
    out += ["> procexec(FSPATH filename, PID old_pid)", "> procfork(PID child_tid, PID pid)",
            "> procexit(ERRNO status)"]
    return "\n".join(out)


def timetype_format(fmt: str, timetype: str | None) -> str:
    """A named format (default, -pc, -pk) with -t's time column."""
    if not timetype or timetype == "h":
        return fmt
    return fmt.replace("%evt.outputtime", TIME_FIELDS[timetype], 1)


class EndCounts:
    """The batch sink behind ``-S`` and ``-v``: events seen, matched, by type."""

    batch_sink = True

    def __init__(self) -> None:
        self.seen = 0
        self.matched = 0
        self.by_type: dict[tuple[str, str], int] = {}
        self.started = time.monotonic()

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        self.seen += len(b)
        rows = np.flatnonzero(matched)
        if not len(rows):
            return
        self.matched += len(rows)
        rec = b.cols
        key = rec["kind"][rows].astype(np.int64) << 32 | rec["nr"][rows].astype(np.int64)
        _, first, counts = np.unique(key, return_index=True, return_counts=True)
        for i, n in zip(rows[first].tolist(), counts.tolist(), strict=True):
            ev = b.event(i)
            # a completed call is sysdig's enter and exit event: both directions count
            dirs = (">", "<") if ev.dir == "<" else (ev.dir,)
            for d in dirs:
                k = (d, ev.type)
                self.by_type[k] = self.by_type.get(k, 0) + n

    def summary(self) -> str:
        """sysdig -S's table: most calls first."""
        rule = "-" * 22
        lines = [rule, "Event           #Calls", rule]
        for (d, t), n in sorted(self.by_type.items(), key=lambda kv: -kv[1]):
            lines.append(f"{d} {t:<15} {n}")
        return "\n".join(lines)

    def verbose(self, drops: int) -> str:
        """sysdig -v's closing lines."""
        took = time.monotonic() - self.started
        eps = self.seen / took if took > 0 else 0.0
        return "\n".join([f"Driver Events:{self.seen}", f"Driver Drops:{drops}",
                          "Suppressed by Comm:0",
                          f"Elapsed time: {took:.3f}, Captured Events: {self.seen}, "
                          f"{eps:.2f} eps"])


class Progress:
    """``-P``: how far into the capture files the replay is, in percent on stderr, as
    sysdig 0.29.3 prints it: each figure overwrites the last (``\\r``, blanks, ``\\r``,
    ``%.2f``), and a replay read to the end closes with ``100.00`` and a newline. A
    figure is printed after a batch that moved it (sysdig: every 10,000 events); one
    stopped early (``-n``, Ctrl-C) has its figure erased instead."""

    batch_sink = True

    def __init__(self) -> None:
        self.source: Any = None  # set by reading(): has progress() -> (done, total)
        self.last = ""

    def _show(self, text: str, end: str = "") -> None:
        """``text`` over the last figure (unless it is that figure), then ``end``."""
        if text != self.last:
            sys.stderr.write("\r" + " " * len(self.last) + "\r" + text)
            self.last = text
        sys.stderr.write(end)
        sys.stderr.flush()

    def percent(self) -> str:
        done, total = self.source.progress()
        return f"{100.0 * done / total:.2f}" if total else "100.00"

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        if self.source is not None:
            self._show(self.percent())

    def finish(self) -> None:
        if self.source is None:
            return
        text = self.percent()
        if text == "100.00":
            self._show(text, "\n")
        elif self.last:  # stopped early: the line is left to what follows
            self._show("")


class TraceFlags:
    """The flags around one ``cdig trace`` (see the module docstring)."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.done: str | None = None
        self.counts: EndCounts | None = None
        self.progress: Progress | None = None
        if getattr(args, "list_events", False):
            from .probes.syscall_table import table

            self.done = list_events(table().by_name.values())
            return
        args.trace_flags = self  # the trace calls finish() with its drops at the end
        if getattr(args, "summary", False) or getattr(args, "verbose", False):
            self.counts = EndCounts()
            args.extra_sinks = [*getattr(args, "extra_sinks", ()), self.counts]
        if getattr(args, "progress", False) and getattr(args, "read", None):
            self.progress = Progress()  # live, -P is ignored, as sysdig ignores it
            args.extra_sinks = [*getattr(args, "extra_sinks", ()), self.progress]
        if getattr(args, "unbuffered", False) and hasattr(sys.stdout, "reconfigure"):
            sys.stdout.reconfigure(line_buffering=True)

    def reading(self, source: Any) -> None:
        """The replay's source is open (its ``progress()`` is what -P prints)."""
        if self.progress is not None:
            self.progress.source = source

    def finish(self, drops: int) -> None:
        """At the end of the trace: -P's last figure, -S on stdout, -v on stderr."""
        if self.progress is not None:
            self.progress.finish()
        c = self.counts
        if c is None:
            return
        if getattr(self.args, "summary", False):
            sys.stdout.write(c.summary() + "\n")
            sys.stdout.flush()
        if getattr(self.args, "verbose", False):
            print(c.verbose(drops), file=sys.stderr)
