"""sysdig/Falco ``.scap`` captures: read them as a replay source, write them.

``reader.ScapSource`` is a replay source like ``collector.capture.ReplaySource``;
``writer.ScapWriter`` writes what a live or replayed session sees as a .scap
file that sysdig 0.29.3 (and current libs) read. ``replay_source(paths)`` picks
the right reader for a list of files by their first bytes.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from .blocktypes import is_scap


def any_scap(paths: Sequence[str]) -> bool:
    """True if the first existing file named (after glob expansion) is a .scap file."""
    from ..capture import CaptureError, expand_paths

    try:
        files = expand_paths(paths)
    except CaptureError:
        return False
    return bool(files) and is_scap(files[0])


def replay_source(paths: Sequence[str], on_loss: Callable[[Any], None] | None = None) -> Any:
    """A ScapSource if the files are .scap, else a cdig ReplaySource (CaptureError if
    neither can read them)."""
    if any_scap(paths):
        from .reader import ScapSource

        return ScapSource(paths, on_loss=on_loss)
    from ..capture import ReplaySource

    return ReplaySource(paths, on_loss=on_loss)


__all__ = ["any_scap", "is_scap", "replay_source"]
