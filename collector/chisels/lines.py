"""sysdig's "slower" chisels (``fileslower``, ``netlower``, ``scallslower MIN_MS``): one
line per completed call slower than a threshold, as the events come.

Columns, widths, the threshold test (latency / 10^6 > MIN_MS, in floating point)
and the colours (green: the host, blue: a container; ``disable_color`` turns them
off) are sysdig 0.29.3's (its chisels under ``/usr/share/sysdig/chisels``).
Per batch the threshold is a numpy mask; only the lines printed become Events.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Sequence
from typing import Any, TextIO

import numpy as np

from ...probes.syscalls import layout
from ..fields import resolve
from .base import Arg, Chisel, ChiselError

GREEN, BLUE = "\x1b[32m", "\x1b[34m"
_ARGS = (Arg("min_ms", "Minimum millisecond threshold for showing the call"),
         Arg("disable_color", "Set to 'disable_color' to disable colors", optional=True))


def _lua_number(v: float) -> str:
    """Lua's tostring of a number (%.14g), as sysdig prints a latency with %s."""
    return f"{v:.14g}"


def _cut(s: str, w: int) -> str:
    """C's %-W.Ws."""
    return f"{s[:w]:<{w}}"


class LinesRun:
    """A batch sink printing a line per matched row over the threshold."""

    batch_sink = True

    def __init__(self, header: list[str], line: Callable[[Any, float, str], str | None],
                 min_ms: float, color: bool, out: TextIO | None = None) -> None:
        self.header, self.line, self.min_ms, self.color = header, line, min_ms, color
        self.out = out
        self._started = False
        self.fields = {n: resolve(n) for n in ("evt.datetime", "proc.name", "evt.type",
                                               "fd.name", "container.name", "container.id")}

    def text(self, ev: Any, name: str) -> str:
        f = self.fields[name]
        t = f.text(ev) if f.get(ev) is not None else None
        return "<NA>" if t is None else t

    def _write(self, lines: list[str]) -> None:
        out = self.out if self.out is not None else sys.stdout
        if not self._started:
            self._started = True
            lines = self.header + lines
        if lines:
            out.write("\n".join(lines) + "\n")

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        rec = b.cols
        lat_ms = rec["latency_ns"].astype(np.float64) / 1_000_000
        rows = np.flatnonzero(matched & (rec["kind"] == layout.KIND_SYSCALL) &
                              (lat_ms > self.min_ms))
        lines = []
        for i in rows.tolist():
            ev = b.event(i)
            color = "" if not self.color else (
                GREEN if self.text(ev, "container.name") == "host" else BLUE)
            ln = self.line(ev, float(lat_ms[i]), color)
            if ln is not None:
                lines.append(ln)
        self._write(lines)

    def table(self, delta_ns: int = 0) -> str:
        if not self._started:  # nothing was slow: the header alone, as sysdig's
            self._write([])
        return ""


def _min_ms(args: Sequence[str]) -> tuple[float, bool]:
    try:
        v = float(args[0])
    except ValueError:
        raise ChiselError(f"Input min_ms must be a number, not {args[0]!r}") from None
    return v, not (len(args) > 1 and args[1] == "disable_color")


def _io_slower(name: str, description: str, flt: str, skip_dev: bool) -> Chisel:
    heads = ("evt.datetime", "proc.name", "evt.type", "LATENCY(ms)", "fd.name")
    rules = ("-" * 23, "-" * 12, "-" * 8, "-" * 12, "-" * 41)
    pc_heads = ("evt.datetime", "container.id", "container.name", "proc.name", "evt.type",
                "LATENCY(ms)", "fd.name")
    pc_rules = ("-" * 23, "-" * 30, "-" * 30, "-" * 12, "-" * 8, "-" * 12, "-" * 41)

    def plain(cells: Sequence[str]) -> str:
        return f"{_cut(cells[0], 23)} {_cut(cells[1], 12)} {cells[2]:<8} {cells[3]:<12} " \
               f"{cells[4]}"

    def with_container(cells: Sequence[str]) -> str:
        return f"{_cut(cells[0], 23)} {_cut(cells[1], 20)} {_cut(cells[2], 20)} " \
               f"{_cut(cells[3], 12)} {cells[4]:<8} {cells[5]:<12} {cells[6]}"

    def make(args: Sequence[str], pc: bool) -> LinesRun:
        min_ms, color = _min_ms(args)
        run: LinesRun

        def line(ev: Any, lat: float, c: str) -> str | None:
            fn = run.text(ev, "fd.name")
            if skip_dev and fn.startswith("/dev/"):
                return None
            # the header's layout; the latency right-aligned in its 12 columns (%12d)
            names = pc_heads if pc else heads
            cells = [f"{int(lat):12d}" if n == "LATENCY(ms)" else fn if n == "fd.name"
                     else run.text(ev, n) for n in names]
            return c + (with_container(cells) if pc else plain(cells))

        header = [with_container(pc_heads), with_container(pc_rules)] if pc else \
            [plain(heads), plain(rules)]
        run = LinesRun(header, line, min_ms, color)
        return run

    return Chisel(name, "Performance", description, make=make,
                  filter=lambda args, pc: flt, args=_ARGS, interval=False)


def _scalls_slower() -> Chisel:
    def make(args: Sequence[str], pc: bool) -> LinesRun:
        min_ms, color = _min_ms(args)
        run: LinesRun

        def line(ev: Any, lat: float, c: str) -> str:
            t = run.text
            if pc:
                return c + f"{_cut(t(ev, 'evt.datetime'), 23)} {_cut(t(ev, 'container.id'), 20)} " \
                    f"{_cut(t(ev, 'container.name'), 20)} {_cut(t(ev, 'proc.name'), 23)} " \
                    f"{_lua_number(lat):<20} {t(ev, 'evt.type')}"
            return c + f"{_cut(t(ev, 'evt.datetime'), 23)} {_cut(t(ev, 'proc.name'), 23)} " \
                f"{_lua_number(lat):<20} {t(ev, 'evt.type')}"

        if pc:  # sysdig's header has two spaces after container.id; its rule has one
            header = [f"{'evt.datetime':<23} {'container.id':<20}  {'container.name':<20} "
                      f"{'proc.name':<23} {'LATENCY(ms)':<20} evt.type",
                      f"{'-' * 23} {'-' * 20} {'-' * 20} {'-' * 23} {'-' * 20} {'-' * 20}"]
        else:
            header = [f"{'evt.datetime':<23} {'proc.name':<23} {'LATENCY(ms)':<20} evt.type",
                      f"{'-' * 23} {'-' * 23} {'-' * 20} {'-' * 20}"]
        run = LinesRun(header, line, min_ms, color)
        return run

    return Chisel("scallslower", "Performance", "Trace slow syscalls", make=make,
                  filter=lambda args, pc: "", args=_ARGS, interval=False)


CHISELS: tuple[Chisel, ...] = (
    _io_slower("fileslower", "Trace slow file I/O", "evt.is_io=true and fd.type=file",
               skip_dev=True),
    _io_slower("netlower", "Trace slow network I/0",
               "evt.is_io=true and (fd.type=ipv4 or fd.type=ipv6)", skip_dev=False),
    _scalls_slower(),
)
