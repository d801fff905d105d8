"""sysdig's terminal heat maps: ``spectrogram [MS]`` (how many calls took how long,
a row per interval, log10 of the latency across) and ``subsecoffset [MS]`` (when
in the interval the calls began).

Cells, colours (xterm-256 palettes), characters, the axis labels and the interval
(a new row when an event's time enters a new multiple of the refresh time) are
sysdig 0.29.3's Lua chisels', computed with the same double-precision arithmetic,
including their quirks (subsecoffset's bucket 0 is never drawn, its empty cells
set the background twice). sysdig's subsecoffset counts enter events; a cdig
record is a completed call: its enter time is its time minus its latency.
"""

from __future__ import annotations

import math
import shutil
import sys
from collections.abc import Sequence
from typing import Any, TextIO

import numpy as np

from ...probes.syscalls import layout
from .base import Arg, Chisel, ChiselError
from .stream import late_rows
from .tables import format_time

RESET = "\x1b[0m"
HIDE, SHOW, UP = "\x1b[?25l", "\x1b[?25h", "\x1b[1F"
END = "\x1b[00m"  # what sysdig writes to a terminal when the capture ends
PALETTE = (22, 28, 64, 34, 2, 76, 46, 118, 154, 191, 227, 226, 11, 220, 209, 208, 202, 197,
           9, 1)
CHARS = (" ", "░", "▒", "░")
NOT_A_TTY = "This chisel only works on ANSI terminals. Aborting."


def fg(c: int) -> str:
    return f"\x1b[38;5;{c}m"


def bg(c: int) -> str:
    return f"\x1b[48;5;{c}m"


def mkcol(n: int, per_sec: float) -> tuple[int, int, str]:
    """The Lua's mkcol: (foreground, background, character) for n calls."""
    col = math.log10(n * per_sec + 1) / math.log10(1.6)
    col = min(max(col, 1), len(PALETTE))
    low, high = math.floor(col), math.ceil(col)
    delta = col - low
    ch = CHARS[math.floor(1 + delta * len(CHARS)) - 1]
    if delta > .75:
        return PALETTE[high - 1], PALETTE[low - 1], ch
    return PALETTE[low - 1], PALETTE[high - 1], ch


def lua_number(v: float) -> str:
    """Lua's tostring of a number (%.14g)."""
    return f"{v:.14g}"


def lua_mod(a: float, b: float) -> float:
    """LuaJIT's a % b: a - floor(a / b) * b."""
    return a - math.floor(a / b) * b


class HeatRun:
    """One heat map: counts per cell, a row each time an interval ends."""

    batch_sink = True

    def __init__(self, refresh_ns: int, width: int, out: TextIO | None = None) -> None:
        self.refresh_ns, self.w, self.out = refresh_ns, width, out
        self.per_sec = 1_000_000_000 / refresh_ns
        self.freq: dict[int, int] = {}
        self.sample: int | None = None
        self.max_num = -1

    def write(self, text: str) -> None:
        (self.out if self.out is not None else sys.stdout).write(text)

    def bucket(self, b: Any, rows: np.ndarray) -> list[int | None]:
        raise NotImplementedError

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched & ~late_rows(b, self))
        if not len(rows):
            return
        ts = b.ts[rows].astype(np.int64)
        # every event ticks (as sysdig's interval); completed calls are counted
        calls = b.cols["kind"][rows] == layout.KIND_SYSCALL
        counted = self.bucket(b, rows[calls])
        cells: list[int | None] = [None] * len(rows)
        for i, c in zip(np.flatnonzero(calls).tolist(), counted, strict=True):
            cells[i] = c
        for t, cell in zip((ts - ts % self.refresh_ns).tolist(), cells, strict=True):
            if self.sample is None:
                self.sample = t
            elif t != self.sample:  # sysdig's interval: checked before the event counts
                self.sample = t
                self.row()
            if cell is not None:
                self.freq[cell] = self.freq.get(cell, 0) + 1

    def cells(self, empty: str) -> str:
        out = [UP]
        for x in range(1, self.w + 1):
            n = self.freq.get(x, 0)
            if not n:
                out.append(empty + " ")
            else:
                f, g, ch = mkcol(n, self.per_sec)
                out.append(fg(f) + bg(g) + ch)
        out.append(RESET + "\n")
        return "".join(out)

    # the axis line under the newest row: ``ticks`` labels across, ``empty`` the
    # colours of a cell nothing fell in
    ticks = 10
    empty = ""

    def label(self, x: int, tick: int) -> str | None:
        """The axis label starting at column ``x``, where ``tick`` begins; None: a blank."""
        raise NotImplementedError

    def row(self) -> None:
        """The interval's row, then the axis line (the next row's UP overwrites it)."""
        text = [self.cells(self.empty)]
        x = 0
        w = self.w
        while x < w:
            cur, prev = math.floor(x * self.ticks / w), math.floor((x - 1) * self.ticks / w)
            label = self.label(x, cur) if cur != prev else None
            if label is not None:
                text.append(label)
                x += len(label)
            else:
                text.append(" ")
                x += 1
        text.append("\n")
        self.freq = {}
        self.write("".join(text))


class SpectrogramRun(HeatRun):
    def bucket(self, b: Any, rows: np.ndarray) -> list[int | None]:
        lat = b.cols["latency_ns"][rows].tolist()
        w = self.w
        out: list[int | None] = []
        for v in lat:
            if v == 0:
                out.append(None)
                continue
            ll = min(math.log10(v), 11)
            out.append(math.floor(ll * w / 11) + 1)
        return out

    ticks = 11  # 1 ns to 100 s, log10
    empty = fg(0) + bg(0)

    def label(self, x: int, tick: int) -> str | None:
        return "|" + format_time(10 ** tick)

    def table(self, delta_ns: int = 0) -> str:
        self.write(END)
        self.row()
        self.write(RESET + "\n" + SHOW)
        return ""


class SubsecRun(HeatRun):
    def __init__(self, refresh_ns: int, width: int, out: TextIO | None = None) -> None:
        super().__init__(refresh_ns, width, out)
        self.max_label = len("|" + lua_number(0.9 * refresh_ns / 10_000_000) + "ms")

    def bucket(self, b: Any, rows: np.ndarray) -> list[int | None]:
        enter = (b.ts[rows].astype(np.int64) - b.cols["latency_ns"][rows].astype(np.int64))
        r, w = float(self.refresh_ns), self.w
        return [math.floor((lua_mod(float(t) * 1000 / r, 1000) / 1000) * w)
                for t in enter.tolist()]

    empty = bg(0) + bg(0)  # sysdig's: the background set twice

    def label(self, x: int, tick: int) -> str | None:
        if x > self.w - self.max_label:  # no room for the last label
            return None
        return "|" + lua_number(tick * self.refresh_ns / 10_000_000) + "ms"

    def table(self, delta_ns: int = 0) -> str:
        self.write(END + RESET + "\n" + SHOW)
        return ""


def _refresh(args: Sequence[str], default_ms: int) -> int:
    if not args:
        return default_ms * 1_000_000
    try:
        return int(float(args[0]) * 1_000_000)
    except ValueError:
        raise ChiselError(f"Input refresh_time must be a number, not {args[0]!r}") from None


def _terminal(out: TextIO) -> int:
    if not out.isatty():
        raise ChiselError(NOT_A_TTY)
    return shutil.get_terminal_size().columns


def _spectrogram(args: Sequence[str], pc: bool) -> SpectrogramRun:
    refresh = _refresh(args, 500)
    run = SpectrogramRun(refresh, _terminal(sys.stdout))
    run.write(HIDE)
    return run


def _subsec(args: Sequence[str], pc: bool) -> SubsecRun:
    refresh = _refresh(args, 1000)
    run = SubsecRun(refresh, _terminal(sys.stdout))
    run.write(HIDE + "Tracing syscalls... red (hot) == high frequency <-> green == low "
                     "frequency.\n\n")
    return run


_REFRESH = "Chart refresh time in milliseconds"
CHISELS: tuple[Chisel, ...] = (
    Chisel("spectrogram", "CPU Usage", "Visualize OS latency in real time.", make=_spectrogram,
           filter=lambda args, pc: "", args=(Arg("refresh_time", _REFRESH, optional=True),),
           interval=False),
    Chisel("subsecoffset", "CPU Usage", "Visualize subsecond offset execution time.",
           make=_subsec, filter=lambda args, pc: "",
           args=(Arg("refresh_time", "chart refresh time in milliseconds", optional=True),),
           interval=False),
)
