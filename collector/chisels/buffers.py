"""sysdig's chisels over I/O data (``evt.buffer``, ``-s N`` bytes of each call):
``echo_fds``, ``stdin``, ``stdout``, ``stderr``, ``spy_file [R|W [FILE]]``,
``spy_ip IP`` and ``spy_port PORT``.

Filters, headers, colours and quirks are sysdig 0.29.3's Lua chisels' (spy_ip and
spy_port print their last header again before every buffer; spy_ip's write header
says "Read"). The data is untrusted and stays data: where sysdig prints a buffer's
raw bytes (stdin, stdout, stderr) cdig prints its printable ASCII and newlines and
drops the rest; elsewhere it is rendered as sysdig renders ``evt.arg.data`` (the
-A/-x/-X/-b mode). sysdig raises the snaplen for these chisels (1000-2000 bytes);
cdig's probe copies at most 768 (``-s``): what was captured is what is shown.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..fields import resolve
from ..fields.buffer import ASCII, render
from .base import Arg, Chisel, ChiselError
from .stream import BLUE, RED, RESET, Printer, text_of
from .tables import format_bytes

GREEN, CYAN = "\x1b[32m", "\x1b[36m"


# printable ASCII, newlines and tabs: every other byte (escapes, CR …) is dropped
_DROP = bytes(b for b in range(256) if not (0x20 <= b < 0x7F or b in (0x09, 0x0A)))


def raw_text(data: bytes) -> str:
    """What sysdig's print() of a raw buffer shows, kept to printable ASCII, newlines
    and tabs (sysdig writes the bytes as they are, terminal escapes included)."""
    return data.translate(None, _DROP).decode("ascii")


class BufferRun(Printer):
    """A line printer over the matched I/O calls that carry data."""

    def __init__(self, line: Callable[[Any, bytes, int], list[str]], color: bool,
                 end_reset: bool = True) -> None:
        super().__init__()
        self.line, self.color, self.end_reset = line, color, end_reset

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        out: list[str] = []
        res = b.cols["ret"]
        for i in np.flatnonzero(matched).tolist():
            ev = b.event(i)
            data = ev.buffer  # the bytes the probe (or the capture) kept; None: none
            if data is None:
                continue
            out += self.line(ev, data, int(res[i]))
        self.write(out)

    def table(self, delta_ns: int = 0) -> str:
        if self.end_reset:
            self.write([RESET if self.color else ""])
        return ""


def _colors(on: bool) -> tuple[str, str, str, str]:
    return (RED, BLUE, GREEN, CYAN) if on else ("", "", "", "")


def _echo_fds(args: Sequence[str], pc: bool) -> BufferRun:
    color = not (args and args[0] == "disable_color")
    red, blue, green, cyan = _colors(color)

    def line(ev: Any, data: bytes, res: int) -> list[str]:
        if res <= 0:
            return []
        name = text_of("fd.name", ev) or "<NA>"
        pname = text_of("proc.name", ev) or "<NA>"
        container = ""
        if pc:
            cname, cid = text_of("container.name", ev), text_of("container.id", ev)
            container = f"{green if cname == 'host' else cyan} [{cname}] [{cid}]"
        read = bool(resolve("evt.is_io_read").get(ev))
        c = red if read else blue
        what = f"Read {format_bytes(res)} from" if read else f"Write {format_bytes(res)} to"
        # the info line, then the event formatter's %evt.arg.data
        return [f"{c}------ {what} {container} {c} {name} ({pname})", render(data)]

    return BufferRun(line, color)


def _std(args: Sequence[str], pc: bool) -> BufferRun:
    return BufferRun(lambda ev, data, res: [raw_text(data)], False, end_reset=False)


def _spy_net(header_write: str) -> Callable[[Sequence[str], bool], BufferRun]:
    def make(args: Sequence[str], pc: bool) -> BufferRun:
        color = not (len(args) > 1 and args[1] == "disable_colors")
        red, blue, _, _ = _colors(color)
        last: dict[str, Any] = {"dir": None, "info": None}

        def line(ev: Any, data: bytes, res: int) -> list[str]:
            if res <= 0:
                return []
            read = bool(resolve("evt.is_io_read").get(ev))
            if read and last["dir"] != "r":
                last["dir"], last["info"] = "r", f"{red}------ Read {format_bytes(res)}"
            elif not read and last["dir"] != "w":
                last["dir"] = "w"
                last["info"] = f"{blue}------ {header_write} {format_bytes(res)}"
            return [last["info"], render(data)]

        return BufferRun(line, color)

    return make


def _spy_file(args: Sequence[str], pc: bool) -> BufferRun:
    def line(ev: Any, data: bytes, res: int) -> list[str]:
        rw = "W" if resolve("evt.is_io_write").get(ev) else "R"
        return [f"{text_of('evt.time', ev)} {text_of('proc.name', ev)}({ev.pid}) {rw} "
                f"{format_bytes(res)} {text_of('fd.name', ev)} {render(data, ASCII)}"]

    return BufferRun(line, False, end_reset=False)


def _spy_file_filter(args: Sequence[str], pc: bool) -> str:
    rw = args[0] if args else ""
    name = args[1] if len(args) > 1 else ""
    flt = f"(fd.name={name}) and " if name else \
        "(not fd.name contains /dev/pt and not fd.name contains /dev/tty) and "
    flt += "evt.is_io_read=true and " if rw in ("R", "r") else \
        "evt.is_io_write=true and " if rw in ("W", "w") else "evt.is_io=true and "
    return flt + "fd.type=file and evt.dir=< and evt.failed=false"


def _net_filter(field: str) -> Callable[[Sequence[str], bool], str]:
    def flt(args: Sequence[str], pc: bool) -> str:
        v = args[0]
        ok = v.isdigit() if field == "fd.port" else all(
            p.isdigit() for p in v.split(".")) and v.count(".") == 3
        if not ok:
            raise ChiselError(f"{'host_port' if field == 'fd.port' else 'host_ip'} must be "
                              f"{'a port number' if field == 'fd.port' else 'an IPv4 address'}"
                              f", not {v!r}")
        return f"evt.is_io=true and (fd.type=ipv4 or fd.type=ipv6) and {field}={v}"

    return flt


_COLOR = "Set to 'disable_colors' if you want to disable color output"
CHISELS: tuple[Chisel, ...] = (
    Chisel("echo_fds", "I/O", "Print the data read and written by processes.", make=_echo_fds,
           filter=lambda args, pc: "evt.is_io=true and evt.dir=< and evt.rawres>0",
           args=(Arg("disable_color", _COLOR, optional=True),), interval=False),
    Chisel("stdin", "I/O", "Print stdin of processes", make=_std,
           filter=lambda args, pc: "fd.num=0 and evt.is_io=true", interval=False),
    Chisel("stdout", "I/O", "Print stdout of processes", make=_std,
           filter=lambda args, pc: "fd.num=1 and evt.is_io=true", interval=False),
    Chisel("stderr", "I/O", "Print stderr of processes", make=_std,
           filter=lambda args, pc: "fd.num=2 and evt.is_io=true", interval=False),
    Chisel("spy_file", "I/O", "Echo any read/write made by any process to all files. "
           "Optionally, you can provide the name of one file to only intercept reads/writes "
           "to that file.", make=_spy_file, filter=_spy_file_filter,
           args=(Arg("read_or_write", "Specify 'R' to capture only read events; 'W' to "
                     "capture only write events; 'RW' to capture read and write events. By "
                     "default both read and write events are captured.", optional=True),
                 Arg("spy_on_file_name", "The name of the file which the chisel should spy "
                     "on for all read and write activity.", optional=True)),
           interval=False),
    Chisel("spy_ip", "Net", "Show the data exchanged with the given IP address",
           make=_spy_net("Read"), filter=_net_filter("fd.ip"),
           args=(Arg("host_ip", "The remote host IP address"),
                 Arg("disable_color", _COLOR, optional=True)), interval=False),
    Chisel("spy_port", "Net", "Show the data exchanged using the given IP port number",
           make=_spy_net("Write"), filter=_net_filter("fd.port"),
           args=(Arg("host_port", "The remote host IP port number"),
                 Arg("disable_color", _COLOR, optional=True)), interval=False),
)
