"""The closing lines of ``cdig trace`` (live and ``-r``) on what was shown."""

from __future__ import annotations

from typing import Any


def shown_summary(matched: int, line_sinks: list[Any]) -> tuple[int, str | None]:
    """(the events shown, a line on the ones a missing field skipped, or None).

    sysdig prints a -p line only when every field of the format has a value (unless
    the format begins with '*'): a matched event can print nothing, and is then not
    shown. Without a line sink (-w alone) every matched event counts as shown."""
    if not line_sinks:
        return matched, None
    printed = sum(s.printed for s in line_sinks)
    skipped = sum(s.skipped for s in line_sinks)
    if not skipped:
        return printed, None
    return printed, (f"cdig: {matched} events matched the filter, {printed} printed, "
                     f"{skipped} skipped because a field of the format was missing "
                     "(begin the format with '*' to print those too, with <NA>)")
