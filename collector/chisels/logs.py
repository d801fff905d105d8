"""sysdig's log chisels: ``spy_logs [dump_file_name [dump_range_ms [disable_color]]]``,
each line written to a log file (a name with ``.log``, ``_log`` or ``/var/log``), and
``spy_syslog`` (the same arguments), each message written to syslog (``/dev/log``).

The layout, colours and filter are sysdig 0.29.3's Lua chisel's: the data of each
successful write, rendered as sysdig's ``ascii`` output format (``-A``: printable
ASCII and newlines), is split at newlines and every non-empty piece printed as
``[CONTAINER ]PROC FILE MESSAGE`` (the container with ``-pc``); on a terminal each
line is coloured by its text (yellow with "warn" in any case, red with "err", else
green) and the colour is reset at the end. With ``dump_file_name`` (captures only)
the events of each writing thread within ``dump_range_ms`` (default 1000) of each
write are saved to that file (a cdig capture), as ``around`` does.

spy_syslog decodes each write as sysdig's syslog decoder does (``syslog_message``):
``FACILITY.SEVERITY PROC[TID] MESSAGE``, ``nil.nil PROC[TID] nil`` for data that is no
syslog message. The message is untrusted: sysdig prints its raw bytes, cdig its
printable ASCII, tabs and newlines (``buffers.raw_text``).
"""

from __future__ import annotations

import sys
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..fields.buffer import ASCII, render
from .base import Arg, Chisel, ChiselError
from .buffers import raw_text
from .stream import BLUE, GREEN, RED, RESET, YELLOW, AroundRun, Printer, text_of
from .visual import END

LOG_FILES = ("(fd.name contains .log or fd.name contains _log or fd.name contains /var/log) "
             "and not (fd.name contains .gz or fd.name contains .tgz)")


class SpyLogsRun(Printer):
    """The lines of each log write as they come (see the module docstring)."""

    def __init__(self, pc: bool, color: bool, tty: bool,
                 dump: AroundRun | None = None) -> None:
        super().__init__()
        self.pc, self.tty, self.dump = pc, tty, dump
        self.colors = (GREEN, YELLOW, RED, BLUE, RESET) if color else ("",) * 5

    def line(self, ev: Any, msg: str) -> str:
        info = f"{text_of('proc.name', ev) or '<NA>'} {text_of('fd.name', ev) or '<NA>'} "
        cname = text_of("container.name", ev) or "<NA>"
        if not self.tty:
            return f"{cname} {info}{msg}" if self.pc else f"{info}{msg}"
        green, yellow, red, blue, _ = self.colors
        # sysdig tests "warn" in the lower-cased text, "err" in the text as written
        c = yellow if "warn" in msg.lower() else red if "err" in msg else green
        if not self.pc:
            return f"{c} {info}{msg}"
        container = f"{blue if cname != 'host' else c} {cname}"
        return f"{c} {container} {c} {info}{msg}"

    def lines(self, ev: Any, data: bytes) -> list[str]:
        return [self.line(ev, m) for m in render(data, ASCII).split("\n") if m]

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        out: list[str] = []
        for i in np.flatnonzero(matched).tolist():
            ev = b.event(i)
            data = ev.buffer
            if data is None:
                continue
            out += self.lines(ev, data)
            if self.dump is not None:
                self.dump.hits.append((ev.ts_ns, ev.tid))
        self.write(out)

    def table(self, delta_ns: int = 0) -> str:
        if self.tty:  # what sysdig writes at the end on a terminal, then print(terminal.reset)
            self.write([END + self.colors[4]])
        if self.dump is not None and self.dump.sources:
            self.dump.write_around(f"Writing events for {len(self.dump.hits)} log entries")
        return ""

    def bind(self, reads: Sequence[str] | None, user_filter: str) -> None:
        """With dump_file_name: the capture to read again (not live, as sysdig)."""
        if self.dump is None:
            return
        if not reads:
            raise ChiselError("events export not supported on live captures")
        self.dump.sources = list(reads)


SEVERITIES = ("emerg", "alert", "crit", "err", "warn", "notice", "info", "debug")
FACILITIES = ("kern", "user", "mail", "daemon", "auth", "syslog", "lpr", "news", "uucp",
              "clock", "authpriv", "ftp", "ntp", "logaudit", "logalert", "cron",
              *(f"local{i}" for i in range(8)))
_PRI_MAX = 15  # sysdig reads at most 15 bytes of priority (a 16-byte buffer)


def syslog_message(data: bytes) -> tuple[str, str, int, bytes] | None:
    """(facility, severity, severity code, message) of a write to syslog as sysdig
    0.29.3's decoder reads it, or None where it finds no message (its nil).

    The priority is the bytes after the first, up to '>', a NUL or 15 bytes, read
    as a 32-bit integer (wrapping, as its C does; -1 is its "invalid" mark); the
    message is what follows the priority and one more byte."""
    pri = bytearray()
    for c in data[1:1 + _PRI_MAX]:
        if c in (0x3E, 0):  # '>', NUL
            break
        pri.append(c)
    if not pri or len(data) < len(pri) + 2:
        return None
    digits = pri[1:] if pri[:1] == b"-" else pri
    if not digits.isdigit():
        return None
    v = 0
    for d in digits:
        v = (v * 10 + d - 0x30) & 0xFFFFFFFF
    if pri[:1] == b"-":
        v = -v & 0xFFFFFFFF
    if v == 0xFFFFFFFF:  # -1: sysdig's invalid priority
        return None
    sev, fac = v & 7, v >> 3  # a negative priority's facility is past the table too
    facility = FACILITIES[fac] if fac < len(FACILITIES) else "<NA>"
    return facility, SEVERITIES[sev], sev, data[len(pri) + 2:]


class SpySyslogRun(SpyLogsRun):
    """``spy_syslog``: a line per message written to syslog (the module docstring)."""

    def lines(self, ev: Any, data: bytes) -> list[str]:
        green, yellow, red, blue, _ = self.colors
        m = syslog_message(data)
        fac, sev, code, msg = (m[0], m[1], m[2], raw_text(m[3])) if m else \
            ("nil", "nil", None, "nil")
        who = f"{text_of('proc.name', ev) or '<NA>'}[{ev.tid}]"
        cname = text_of("container.name", ev) or "<NA>"
        cid = text_of("container.id", ev) or "<NA>"
        if not self.tty:
            # sysdig's format has the facility where the container id goes
            return [f"{fac:<20} {cid:<20} {cname}.{sev} {who} {msg}" if self.pc
                    else f"{fac}.{sev} {who} {msg}"]
        c = green if code is None else yellow if code == 4 else red if code < 4 else \
            blue if cname != "host" else green
        return [f"{c}{cid:<20} {cname:<20} {fac}.{sev} {who} {msg}" if self.pc
                else f"{c}{fac}.{sev} {who} {msg}"]


def _dump(args: Sequence[str]) -> AroundRun | None:
    if not args or not args[0]:
        return None
    rng = args[1] if len(args) > 1 else "1000"
    if not rng.isdigit():
        raise ChiselError(f"dump_range_ms must be a number, not {rng!r}")
    return AroundRun(args[0], rng)


def _spy_logs(args: Sequence[str], pc: bool) -> SpyLogsRun:
    color = not (len(args) > 2 and args[2] == "disable_color")
    return SpyLogsRun(pc, color, sys.stdout.isatty(), _dump(args))


def _spy_syslog(args: Sequence[str], pc: bool) -> SpySyslogRun:
    color = not (len(args) > 2 and args[2] == "disable_color")
    return SpySyslogRun(pc, color, sys.stdout.isatty(), _dump(args))


_DUMP = Arg("dump_file_name", "The name of the file where the chisel will write the events "
            "related to each syslog entry.", optional=True)
_RANGE = Arg("dump_range_ms", "The time interval to capture *before* and *after* each event, "
             "in milliseconds. For example, 500 means that 1 second around each displayed "
             "event (.5s before and .5s after) will be saved to <dump_file_name>. The default "
             "value for dump_range_ms is 1000.", optional=True)
_COLOR = Arg("disable_color", "Set to 'disable_colors' if you want to disable color output",
             optional=True)

CHISELS: tuple[Chisel, ...] = (
    Chisel("spy_logs", "Logs", "Echo any write made by any process to a log file. Optionally, "
           "export the events around each log message to file.", make=_spy_logs,
           filter=lambda args, pc: f"({LOG_FILES}) and evt.is_io_write=true and evt.dir=< "
           "and evt.failed=false", args=(_DUMP, _RANGE, _COLOR), interval=False),
    Chisel("spy_syslog", "Logs", "Print every message written to syslog. Optionally, export "
           "the events around each syslog message to file.", make=_spy_syslog,
           filter=lambda args, pc: "fd.name contains /dev/log and evt.is_io_write=true and "
           "evt.dir=< and evt.failed=false", args=(_DUMP, _RANGE, _COLOR), interval=False),
)
