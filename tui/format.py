"""Cell text for the TUI: numbers for people, untrusted strings made inert.

Every string that came from a traced program (process names, paths, argv,
container names) goes through ``plain``: terminal escapes and other control
characters become visible escapes (``collector.formatter.escape_text``), and the
result is a ``rich.text.Text`` — Textual renders it as is, never as markup, so
``[bold red]x`` shows those very characters.
"""

from __future__ import annotations

from rich.text import Text

from ..collector.durations import human_ns as human_ns  # the views format durations here
from ..collector.formatter import escape_text

SPARK = "▁▂▃▄▅▆▇█"


def safe(s: object, width: int | None = None) -> str:
    """An untrusted value as escaped text, cut to ``width`` columns (with …)."""
    t = escape_text(str(s))
    if width is not None and len(t) > width:
        t = t[: max(1, width - 1)] + "…"
    return t


def plain(s: object, width: int | None = None, style: str = "") -> Text:
    """An untrusted value as a Text cell: escaped, never markup."""
    return Text(safe(s, width), style=style, no_wrap=True, overflow="ellipsis")


def num(v: float | int | None, style: str = "") -> Text:
    return Text(human_count(v), style=style, justify="right", no_wrap=True)


def human_count(v: float | int | None) -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and v < 100:
        return f"{v:.1f}" if v else "0"
    v = int(round(v))
    for unit, div in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(v) >= 10 * div:
            return f"{v / div:.1f}{unit}"
    return str(v)


def human_bytes(v: float | int | None) -> str:
    if v is None:
        return "-"
    v = float(v)
    for unit in ("B", "K", "M", "G", "T"):
        if abs(v) < 1024 or unit == "T":
            return f"{v:.0f}{unit}" if unit == "B" else f"{v:.1f}{unit}"
        v /= 1024
    return f"{v:.1f}T"


def pct(v: float | None) -> str:
    return "-" if v is None else f"{v:.1f}"


def sparkline(values: list[float], width: int) -> str:
    """Values as at most ``width`` block characters (groups of neighbours averaged),
    scaled to their maximum."""
    vals = list(values)
    if len(vals) > width:
        size = -(-len(vals) // width)
        vals = [sum(vals[i:i + size]) / len(vals[i:i + size]) for i in range(0, len(vals), size)]
    if not vals:
        return ""
    top = max(vals)
    if top <= 0:
        return SPARK[0] * len(vals)
    n = len(SPARK) - 1
    return "".join(SPARK[min(n, int(round(v / top * n)))] for v in vals)
