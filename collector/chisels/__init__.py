"""Chisels: sysdig's ``-c NAME [ARGS]`` over the columnar engine.

Each chisel is data plus a small function (``base.Chisel``): its own filter,
which the session ANDs with the user's, and a batch sink that renders a table.
``cdig trace -cl`` lists them, ``-i NAME`` describes one, ``-c NAME ARGS`` runs it
on live data or on a capture (``-r``), the same either way.
"""

from __future__ import annotations

import difflib
import textwrap

from .base import Arg, Chisel, ChiselError, ChiselRun
from .buffers import CHISELS as _BUFFER_CHISELS
from .cpu import CHISELS as _CPU_CHISELS
from .http import CHISELS as _HTTP_CHISELS
from .lines import CHISELS as _LINE_CHISELS
from .logs import CHISELS as _LOG_CHISELS
from .memcached import CHISELS as _MEMCACHED_CHISELS
from .snapshot import CHISELS as _SNAPSHOT_CHISELS
from .stream import CHISELS as _STREAM_CHISELS
from .tables import CHISELS as _TABLE_CHISELS
from .visual import CHISELS as _VISUAL_CHISELS

CHISELS: dict[str, Chisel] = {c.name: c for c in (*_TABLE_CHISELS, *_LINE_CHISELS,
                                                  *_STREAM_CHISELS, *_SNAPSHOT_CHISELS,
                                                  *_CPU_CHISELS, *_VISUAL_CHISELS,
                                                  *_BUFFER_CHISELS, *_HTTP_CHISELS,
                                                  *_LOG_CHISELS, *_MEMCACHED_CHISELS)}


def lookup(name: str) -> Chisel:
    """The chisel called ``name``; ChiselError (with the closest name) otherwise."""
    c = CHISELS.get(name)
    if c is not None:
        return c
    close = difflib.get_close_matches(name, list(CHISELS), n=1)
    hint = f" (did you mean {close[0]}?)" if close else ""
    raise ChiselError(f"unknown chisel {name!r}{hint}; cdig trace -cl lists them")


def _entry(c: Chisel) -> str:
    # sysdig's -cl layout: the name in 16 columns, the description wrapped at 64
    desc = textwrap.wrap(c.description, 64) or [""]
    if len(c.name) >= 16:
        return "\n".join([c.name, *(" " * 16 + d for d in desc)])
    return "\n".join([f"{c.name:<16}{desc[0]}", *(" " * 16 + d for d in desc[1:])])


def list_text() -> str:
    """``-cl``: the chisels by category, as ``sysdig -cl`` lays them out."""
    out = []
    for cat in sorted({c.category for c in CHISELS.values()}):
        out += ["", f"Category: {cat}", "-" * len(f"Category: {cat}")]
        out += [_entry(c) for c in sorted(CHISELS.values(), key=lambda c: c.name)
                if c.category == cat]
    out += ["", "Use the -i flag to get detailed information about a specific chisel"]
    return "\n".join(out)


def describe(name: str) -> str:
    """``-i NAME``: what ``sysdig -i`` says about a chisel."""
    c = lookup(name)
    head = f"Category: {c.category}"
    args = [f"[string] {a.name} - {a.description}" for a in c.args] or ["(None)"]
    return "\n".join(["", head, "-" * len(head), _entry(c), "", "Args:", *args])


__all__ = ["CHISELS", "Arg", "Chisel", "ChiselError", "ChiselRun", "describe", "list_text",
           "lookup"]
