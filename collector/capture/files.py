"""What every capture reader shares, without pyarrow: the one-line ``CaptureError``,
the ``Loss`` of a damaged file, and the files a list of paths and globs names.

Kept apart from ``format``/``reader`` (which import pyarrow, ~90 ms) so that a
reader of other files (``collector.scap``, a .scap) imports none of Arrow."""

from __future__ import annotations

import glob
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any


class CaptureError(Exception):
    """A file that cannot be read as a capture at all. The message is one line."""


@dataclass
class Loss:
    """What a damaged file lost: ``events`` read before the damage, bytes after it."""

    path: str
    events: int
    unreadable: int
    reason: str  # damaged, truncated, or skipped (only records of unknown kinds)
    skipped: int = 0  # records of a kind this cdig does not know, left out

    def message(self) -> str:
        unknown = f"{self.skipped} records of an unknown kind skipped"
        if self.reason == "skipped":
            return f"capture {self.path}: {unknown} (written by a newer cdig?)"
        return (f"capture {self.reason} after {self.events} events "
                f"({self.unreadable} bytes unreadable) in {self.path}"
                + (f"; {unknown}" if self.skipped else ""))


def expand_paths(specs: Sequence[str]) -> list[str]:
    """Files, and globs of rotation sets; CaptureError if one names nothing."""
    out: list[str] = []
    for spec in specs:
        if any(ch in spec for ch in "*?[") and not os.path.exists(spec):
            hits = sorted(glob.glob(spec))
            if not hits:
                raise CaptureError(f"{spec}: no such file")
            out += hits
        else:
            out.append(spec)
    seen: set[str] = set()
    return [p for p in out if not (p in seen or seen.add(p))]  # type: ignore[func-returns-value]


def open_all(paths: Sequence[str], opener: Callable[[str], Any]) -> list[Any]:
    """Every file of ``paths`` (globs and rotation sets expanded), opened with ``opener``;
    on a CaptureError those already open are closed again. None at all is an error."""
    files: list[Any] = []
    try:
        for p in expand_paths(paths):
            files.append(opener(p))
    except CaptureError:
        for f in files:
            f.close()
        raise
    if not files:
        raise CaptureError("no capture file given")
    return files
