"""sysdig's ``memcachelog [method [size]]``: a line per memcached ``get``/``set``
command seen in I/O data (port 11211 or a process named memcached).

sysdig 0.29.3's Lua chisel, quirks included: the call's data is rendered as sysdig
renders ``evt.arg[1]`` (printable ASCII, ``.`` for any other byte: the CR LF ending a
command are two dots), split at single spaces; a first word beginning ``get`` or
``set`` with a second word is printed as ``DATETIME method=WORD size=NB key=WORD``,
the size being the fifth word read as a Lua number (0 if it is not one: a ``set``
whose data follows in the same buffer has ``5..hello..`` there). ``readv``,
``preadv`` and ``recvmsg`` are skipped: their ``evt.arg[1]`` is a size, not the data.
A command is printed for each side that was traced (the client's write, the
server's read). ``method`` keeps only that word; with ``set``, ``size`` keeps the
sets of at least that size (sysdig's chisel stops with a Lua error when ``set`` is
given without a size; cdig keeps every set then).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Any

import numpy as np

from ..fields.buffer import render
from .base import Arg, Chisel, ChiselError
from .stream import Printer, text_of

# what Lua's tonumber() reads: decimal (with a fraction or an exponent) or hex
_LUA_NUMBER = re.compile(r"\s*[+-]?(0[xX][0-9a-fA-F]+|(\d+\.?\d*|\.\d+)([eE][+-]?\d+)?)\s*")
_SIZE_NOT_DATA = frozenset({"readv", "preadv", "recvmsg"})


def lua_number(word: str) -> int:
    """The integer sysdig's ``%d`` prints of ``tonumber(word) or 0``."""
    if not _LUA_NUMBER.fullmatch(word):
        return 0
    w = word.strip()
    sign = -1 if w.startswith("-") else 1
    w = w.lstrip("+-")
    if w[:2] in ("0x", "0X"):
        return sign * int(w, 16)
    return sign * int(float(w))


class MemcacheLogRun(Printer):
    def __init__(self, method: str | None, size: int | None) -> None:
        super().__init__()
        self.method, self.size = method, size

    def line(self, ev: Any, text: str) -> str | None:
        words = text.split(" ")
        if not re.match(r"[gs]et", words[0]) or len(words) < 2:
            return None
        method, key = words[0], words[1]
        size = lua_number(words[4]) if len(words) > 4 else 0
        if self.method is not None and self.method != method:
            return None
        if self.method == "set" and self.size is not None and size < self.size:
            return None
        return f"{text_of('evt.datetime', ev)} method={method} size={size}B key={key}"

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        out: list[str] = []
        for i in np.flatnonzero(matched).tolist():
            ev = b.event(i)
            data = ev.buffer
            if data is None or ev.type in _SIZE_NOT_DATA:
                continue
            ln = self.line(ev, render(data))
            if ln is not None:
                out.append(ln)
        self.write(out)


def _memcachelog(args: Sequence[str], pc: bool) -> MemcacheLogRun:
    size = None
    if len(args) > 1:
        if not _LUA_NUMBER.fullmatch(args[1]):
            raise ChiselError(f"memcachelog: size must be a number, not {args[1]!r}")
        size = lua_number(args[1])
    return MemcacheLogRun(args[0] if args else None, size)


CHISELS: tuple[Chisel, ...] = (
    Chisel("memcachelog", "Application", "memcached requests log", make=_memcachelog,
           filter=lambda args, pc: "(fd.sport=11211 or proc.name=memcached) and "
           "evt.is_io=true",
           args=(Arg("method", "get/set", optional=True),
                 Arg("size", "object size", optional=True)), interval=False),
)
