"""F5 echo: the data bytes of the selection's I/O calls, as csysdig's echo shows them.

One header line per call (time, direction, bytes, the file or connection, the
process), then its data: printable ASCII kept, each newline starts a new line,
every other byte (escapes, control characters, UTF-8 included) shown as ``.`` —
the bytes are whatever a process wrote and never reach the terminal as they are.
"""

from __future__ import annotations

from ...collector.aggregate import READS
from ...collector.events import Event
from ...collector.fields import format_time
from ..format import safe
from .base import Ctx

# byte -> itself if printable ASCII or a newline, else '.'
_SHOWN = bytes(b if 0x20 <= b < 0x7F or b == 0x0A else 0x2E for b in range(256))
MAX_LINE = 200  # a data line longer than this is cut (a binary blob has no newlines)


def data_lines(data: bytes) -> list[str]:
    """The bytes as lines of printable ASCII (never an escape or a control byte)."""
    text = data.translate(_SHOWN).decode("ascii")
    lines = text.split("\n")
    if lines and lines[-1] == "":
        lines.pop()
    return [ln if len(ln) <= MAX_LINE else ln[:MAX_LINE] + "…" for ln in lines]


def header(ev: Event) -> str:
    way = "<" if ev.type in READS else ">"
    if ev.fd is not None and ev.fd.name:
        where = safe(ev.fd.name, 80)
    else:
        where = f"fd {safe(str(ev.args.get('fd', '?')), 12)}"
    return (f"{format_time(ev.ts_ns)[:15]} {way} {ev.res}B {where}  "
            f"{safe(ev.comm, 16)} ({ev.pid})")


def echo_lines(ctx: Ctx, limit: int = 2000) -> tuple[list[tuple[int, str]], int]:
    """(evt.num, line) of the latest I/O calls of the scope with their data, oldest
    first, at most ``limit`` lines; and how many calls they show."""
    sc = ctx.scope
    out: list[list[tuple[int, str]]] = []
    n = 0
    calls = 0
    for ev in reversed(ctx.snap.events_ring):
        buf = ev.buffer
        if buf is None or not sc.admits(ev):
            continue
        block = [(ev.num, header(ev))] + [(ev.num, "  " + ln) for ln in data_lines(buf)]
        out.append(block)
        calls += 1
        n += len(block)
        if n >= limit:
            break
    out.reverse()
    return [line for block in out for line in block], calls
