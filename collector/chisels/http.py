"""sysdig's ``httplog`` and ``httptop [ncalls|time|bytes]``: HTTP requests and their
responses, matched per (process, fd) from the I/O data of socket calls.

The parsing is sysdig 0.29.3's http.lua: a buffer (as ``evt.buffer`` prints it,
non-printable bytes as '.') that begins ``METHOD URL`` opens a transaction on its
(pid, fd), with ``Host: H..`` prefixed to the URL; the next buffer there with
``HTTP/x CODE`` closes it, with ``Content-Length: N..`` as its size (0 if absent).
Lua's patterns become the equivalent regular expressions (%u: [A-Z], %g: [!-~]).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from typing import Any

import numpy as np

from ..fields.buffer import DOTS, render
from .base import Arg, Chisel, ChiselError
from .stream import Printer, text_of
from .tables import _CELL, _RULE, _extend, format_bytes, format_time

_REQUEST = re.compile(r"^([A-Z]+) ([!-~]+)")
_HOST = re.compile(r"Host: ([!-~]+)\.\.")
_RESPONSE = re.compile(r"HTTP/[!-~]+ (\d+)")
_LENGTH = re.compile(r"Content-Length: (\d+)\.\.")
FILTER = "evt.is_io=true and evt.buflen>0 and (fd.sockfamily=ip or fd.sockfamily=unix)"


class HttpParser:
    """Open transactions by (pid, fd); ``feed`` returns a finished one or None."""

    def __init__(self) -> None:
        self.partial: dict[tuple[int, int], dict[str, Any]] = {}

    def feed(self, ev: Any, text: str) -> dict[str, Any] | None:
        key = (ev.pid, ev.fd.num if ev.fd is not None else -1)
        t = self.partial.get(key)
        if t is None:
            m = _REQUEST.search(text)
            if m:
                url = m.group(2)
                h = _HOST.search(text)
                if h:
                    url = h.group(1) + url
                d = text_of("evt.io_dir", ev)
                self.partial[key] = {"method": m.group(1), "url": url, "ts": ev.ts_ns,
                                     "dir": "<" if d == "read" else ">" if d == "write"
                                     else "<NA>",
                                     "container": text_of("container.name", ev) or ""}
            return None
        m = _RESPONSE.search(text)
        if not m:
            return None
        n = _LENGTH.search(text)
        del self.partial[key]
        return {**t, "code": int(m.group(1)), "length": int(n.group(1)) if n else 0,
                "end": ev.ts_ns}


class HttpRun(Printer):
    """A batch sink feeding the parser the I/O data of the matched socket calls."""

    def __init__(self) -> None:
        super().__init__()
        self.parser = HttpParser()

    def __call__(self, b: Any, matched: np.ndarray) -> None:
        done = []
        for i in np.flatnonzero(matched).tolist():
            ev = b.event(i)
            if ev.buffer:
                t = self.parser.feed(ev, render(ev.buffer, DOTS))
                if t is not None:
                    done.append((ev, t))
        self.transactions(done)

    def transactions(self, done: list[tuple[Any, dict[str, Any]]]) -> None:
        raise NotImplementedError


class HttpLogRun(HttpRun):
    def __init__(self, pc: bool) -> None:
        super().__init__()
        self.pc = pc

    def transactions(self, done: list[tuple[Any, dict[str, Any]]]) -> None:
        lines = []
        for ev, t in done:
            container = f" {t['container']} " if self.pc else " "
            lines.append(f"{text_of('evt.datetime', ev)}{container}{t['dir']} "
                         f"method={t['method']} url={t['url']} response_code={t['code']} "
                         f"latency={(t['end'] - t['ts']) // 1_000_000}ms size={t['length']}B")
        self.write(lines)


class HttpTopRun(HttpRun):
    def __init__(self, by: str, pc: bool) -> None:
        super().__init__()
        self.by, self.pc = by, pc
        self.groups: dict[tuple[str, ...], list[dict[str, Any]]] = {}

    def transactions(self, done: list[tuple[Any, dict[str, Any]]]) -> None:
        for _ev, t in done:
            key = ((t["container"],) if self.pc else ()) + (t["method"], t["url"])
            self.groups.setdefault(key, []).append(t)

    def table(self, delta_ns: int = 0) -> str:
        vals: dict[tuple[str, ...], float] = {}
        for k, ts in self.groups.items():
            if self.by == "ncalls":
                vals[k] = len(ts)
            elif self.by == "bytes":
                vals[k] = sum(t["length"] for t in ts)
            else:
                vals[k] = sum(t["end"] - t["ts"] for t in ts) / len(ts)
        self.groups = {}
        fmts: dict[str, Callable[[int], str]] = {"ncalls": str, "bytes": format_bytes,
                                                 "time": format_time}
        fmt = fmts[self.by]
        titles = (["container"] if self.pc else []) + ["method", "url"]
        lines = [_extend(self.by, _CELL) + "".join(_extend(t, _CELL) for t in titles), _RULE]
        for k, v in sorted(vals.items(), key=lambda kv: -kv[1])[:30]:
            lines.append(_extend(fmt(int(v)), _CELL) + "".join(_extend(p[:_CELL], _CELL)
                                                              for p in k[:-1]) + k[-1])
        return "\n".join(lines)


def _httptop(args: Sequence[str], pc: bool) -> HttpTopRun:
    by = args[0] if args else "ncalls"
    if by not in ("ncalls", "time", "bytes"):
        raise ChiselError("Invalid argument! Valid options: ncalls, bytes, time")
    return HttpTopRun(by, pc)


CHISELS: tuple[Chisel, ...] = (
    Chisel("httplog", "Application", "HTTP requests log",
           make=lambda args, pc: HttpLogRun(pc), filter=lambda args, pc: FILTER, interval=False),
    Chisel("httptop", "Application", "Top HTTP requests", make=_httptop,
           filter=lambda args, pc: FILTER,
           args=(Arg("by", "Show top HTTP transactions by: ncalls, time or bytes, default is "
                     "ncalls", optional=True),)),
)
