"""Durations for people, as ``cdig summary`` and ``cdig top`` print them.

(``evt.latency.human`` keeps sysdig's own rendering: ``collector/fields/evt.py``.)
"""

from __future__ import annotations


def human_ns(ns: float | int | None, second_digits: int = 2) -> str:
    """850ns, 12.3us, 4.56ms, 1.23s: three significant digits from a microsecond up
    (``second_digits`` decimals of a second: ``cdig summary`` prints 3, 1.234s);
    ``-`` for None (not known)."""
    if ns is None:
        return "-"
    ns = int(ns)
    if ns < 1_000:
        return f"{ns}ns"
    if ns < 1_000_000:
        return f"{ns / 1e3:.1f}us"
    if ns < 1_000_000_000:
        return f"{ns / 1e6:.2f}ms"
    return f"{ns / 1e9:.{second_digits}f}s"
