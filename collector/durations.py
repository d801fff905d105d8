"""Durations for people, as ``cdig summary`` and ``cdig top`` print them.

(``evt.latency.human`` keeps sysdig's own rendering: ``collector/fields/evt.py``.)
"""

from __future__ import annotations


def human_ns(ns: float | int | None) -> str:
    """850ns, 12.3us, 4.56ms, 1.23s: three significant digits from a microsecond up;
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
    return f"{ns / 1e9:.2f}s"
