"""sysdig's table chisels (``topfiles_bytes``, ``topprocs_net``, ``fdbytes_by FIELD`` …):
group the matching events by key fields and sum one value per key.

What each chisel groups, sums and filters is sysdig 0.29.3's (its chisels under
``/usr/share/sysdig/chisels``, which hand these to its ``table_generator``); the
output is laid out as that prints it: 20-column cells, 80 dashes, the value first.

A chisel here is data (``_TABLES``: keys, value, filter, units) over the one
group-by engine ``cdig summary``'s tables use (``collector.vector.totals``): per
batch, the matched rows with a positive value (sysdig adds a value only when it
is above 0: ``ret``, ``latency_ns`` or 1) are grouped by what the key fields depend
on, summed per group, and each key is evaluated once per group with the per-event
getter.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

import numpy as np

from ...probes.syscalls import layout
from ..fields import resolve
from ..vector import ArgRelevance, depends, totals
from .base import Arg, Chisel

if TYPE_CHECKING:
    from ..batch import EventBatch

_CELL = 20
_RULE = "-" * 80
_SEP = "\x01\x01"


def _extend(s: str, n: int) -> str:
    """sysdig's extend_string: pad to n, or cut to n-1 and one space."""
    return s + " " * (n - len(s)) if len(s) < n else (s[:n - 1] + " " if n > 0 else "")


def format_bytes(v: int) -> str:
    """sysdig's format_bytes: 1.23KB, 4.56M, 812B (powers of 1024, strict >). Its
    LuaJIT's %.2f rounds a tie up (10880 KB: 10.63M in sysdig's ps), C's to even: the
    hundredths are rounded here in integers."""
    for unit, div in (("P", 1 << 50), ("T", 1 << 40), ("G", 1 << 30), ("M", 1 << 20),
                      ("KB", 1 << 10)):
        if v > div:
            h = (v * 200 + div) // (2 * div)  # hundredths, half up
            return f"{h // 100}.{h % 100:02d}{unit}"
    return f"{v}B"


def format_time(ns: int) -> str:
    """sysdig's format_time_interval: 1.05s, 312ms, 4.12ms, 87us, 3.02us, 950ns."""
    if ns >= 1_000_000_000:
        return f"{ns // 1_000_000_000}.{ns % 1_000_000_000 // 10_000_000:02d}s"
    if ns >= 10_000_000:
        return f"{ns // 1_000_000}ms"
    if ns >= 1_000_000:
        return f"{ns // 1_000_000}.{ns % 1_000_000 // 10_000:02d}ms"
    if ns >= 10_000:
        return f"{ns // 1_000}us"
    if ns >= 1_000:
        return f"{ns // 1_000}.{ns % 1_000 // 10:02d}us"
    return f"{ns}ns"


_UNITS: dict[str, Callable[[int], str]] = {"bytes": format_bytes, "time": format_time, "none": str}


@dataclass(frozen=True, slots=True)
class TableSpec:
    """One table: key fields with their titles, the value, the filter, how many rows."""

    keys: tuple[str, ...]
    titles: tuple[str, ...]
    value: str  # evt.rawarg.res | evt.latency | evt.count
    value_title: str
    filter: str
    top: int  # 0: every row
    units: str  # bytes | time | none


class TableRun:
    """One run of a table chisel: a batch sink and its table."""

    batch_sink = True

    def __init__(self, spec: TableSpec) -> None:
        self.spec = spec
        self.fields = [resolve(k) for k in spec.keys]
        self.deps = frozenset().union(*(depends(k) for k in spec.keys))
        self.totals: dict[str, int] = {}
        self._rel: tuple[object, ArgRelevance] | None = None

    def _relevance(self, b: EventBatch) -> ArgRelevance:
        table = b.decoder.table
        if self._rel is None or self._rel[0] is not table:
            self._rel = (table, ArgRelevance(table))
        return self._rel[1]

    def _values(self, b: EventBatch) -> np.ndarray:
        rec = b.cols
        if self.spec.value == "evt.count":
            return np.ones(len(b), dtype=np.int64)
        exit_ = rec["kind"] == layout.KIND_SYSCALL  # res and latency: exit events only
        col = rec["ret"] if self.spec.value == "evt.rawarg.res" else rec["latency_ns"]
        return np.where(exit_, col.astype(np.int64), 0)

    def __call__(self, b: EventBatch, matched: np.ndarray) -> None:
        rows = np.flatnonzero(matched)
        if not len(rows):
            return
        sub = b if len(rows) == len(b) else b.take(rows)
        vals = self._values(sub)
        pos = np.flatnonzero(vals > 0)  # sysdig adds a value only when it is above 0
        if not len(pos):
            return
        groups = totals(sub, self.deps, self._relevance(sub), pos, (vals[pos],))
        sub.materialize([g[0] for g in groups])
        totals_ = self.totals
        for r, _, (v,) in groups:
            ev = sub.event(r)
            parts = []
            for f in self.fields:
                t = f.text(ev) if f.get(ev) is not None else None
                if t is None:  # sysdig skips an event whose key field is missing
                    break
                parts.append(t)
            else:
                key = _SEP.join(parts)
                totals_[key] = totals_.get(key, 0) + v

    def table(self, delta_ns: int = 0) -> str:
        spec = self.spec
        fmt = _UNITS[spec.units]
        lines = [_extend(spec.value_title, _CELL) + "".join(_extend(t, _CELL) for t in spec.titles),
                 _RULE]
        ranked = sorted(self.totals.items(), key=lambda kv: -kv[1])
        if spec.top:
            ranked = ranked[:spec.top]
        for key, v in ranked:
            parts = key.split(_SEP)
            text = "".join(_extend(p[:_CELL], _CELL) for p in parts[:-1]) + parts[-1]
            lines.append(_extend(fmt(v), _CELL) + text)
        self.totals = {}
        return "\n".join(lines)


_FILE_IO = "fd.type=file and evt.is_io=true"
_NET_IO = "(fd.type=ipv4 or fd.type=ipv6) and evt.is_io=true"
_PROC_PC = ("proc.name,proc.pid,thread.vtid,container.name",
            "Process,Host_pid,Container_pid,container.name")

# name, category, description, value, value title, units, top, filter,
# (keys, titles), (keys, titles) with -pc (None: the same)
_TABLES: tuple[tuple[Any, ...], ...] = (
    ("topfiles_bytes", "I/O", "Top files by R+W bytes", "evt.rawarg.res", "Bytes", "bytes", 10,
     _FILE_IO, ("fd.name", "Filename"), ("container.name,fd.name", "container.name,Filename")),
    ("topfiles_time", "I/O", "Top files by time", "evt.latency", "Time", "time", 10,
     _FILE_IO, ("fd.name", "Filename"), ("fd.name,container.name", "Filename,container.name")),
    ("topfiles_errors", "Errors", "Top files by number of errors", "evt.count", "#Errors",
     "none", 100, "fd.type=file and evt.failed=true", ("fd.name", "Filename"),
     ("fd.name,container.name", "Filename,container.name")),
    ("topprocs_file", "I/O", "Top processes by R+W disk bytes", "evt.rawarg.res", "Bytes",
     "bytes", 10, _FILE_IO, ("proc.name,proc.pid", "Process,PID"), _PROC_PC),
    ("topprocs_net", "Net", "Top processes by network I/O", "evt.rawarg.res", "Bytes", "bytes",
     100, _NET_IO, ("proc.name,proc.pid", "Process,PID"), _PROC_PC),
    ("topprocs_errors", "Errors", "top processes by number of errors", "evt.count", "#Errors",
     "none", 100, "evt.failed=true", ("proc.name,proc.pid", "Process,PID"), _PROC_PC),
    ("topconns", "Net", "Top network connections by total bytes", "evt.rawarg.res", "Bytes",
     "bytes", 30, _NET_IO, ("fd.l4proto,fd.name", "Proto,Conn"),
     ("container.name,fd.l4proto,fd.name", "container.name,Proto,Conn")),
    ("topports_server", "Net", "Top TCP/UDP server ports by R+W bytes", "evt.rawarg.res",
     "Bytes", "bytes", 100, _NET_IO, ("fd.sport", "Srv Port"),
     ("fd.sport,container.name", "Srv Port,container.name")),
    # sysdig counts enter and exit events (two per call); cdig's records are completed
    # calls (with their entry's arguments): one per call
    ("topscalls", "Performance", "Top system calls by number of calls", "evt.count", "# Calls",
     "none", 30, "", ("evt.type", "Syscall"),
     ("evt.type,container.name", "Syscall,container.name")),
    ("topscalls_time", "Performance", "Top system calls by time", "evt.latency", "Time", "time",
     30, "", ("evt.type", "Syscall"), ("evt.type,container.name", "Syscall,container.name")),
    ("topcontainers_file", "I/O", "Top containers by R+W disk bytes", "evt.rawarg.res", "Bytes",
     "bytes", 10, _FILE_IO + " and container.name!=host", ("container.name", "container.name"),
     None),
    ("topcontainers_net", "Net", "Top containers by network I/O", "evt.rawarg.res", "Bytes",
     "bytes", 100, _NET_IO + " and container.name!=host", ("container.name", "container.name"),
     None),
    ("topcontainers_error", "Errors", "Top containers by number of errors", "evt.count",
     "#Errors", "none", 100, "evt.failed=true and container.name!=host",
     ("container.name", "container.name"), None),
)

_BY_KEY = (  # name, category, description, value, title, units, top, filter
    ("fdbytes_by", "I/O", "I/O bytes, aggregated by an arbitrary filter field",
     "evt.rawarg.res", "Bytes", "bytes", 30, "evt.is_io=true and evt.failed=false"),
    ("fdtime_by", "I/O", "FD time group by", "evt.latency", "Time", "time", 10, "evt.is_io=true"),
)
_KEY_ARG = (Arg("key", "The filter field used for grouping"),)


def _fixed(name: str, category: str, description: str, value: str, title: str, units: str,
           top: int, flt: str, plain: tuple[str, str], pc: tuple[str, str] | None) -> Chisel:
    def spec(pc_on: bool) -> TableSpec:
        keys, titles = pc if pc_on and pc is not None else plain
        return TableSpec(tuple(keys.split(",")), tuple(titles.split(",")), value, title, flt,
                         top, units)

    return Chisel(name, category, description,
                  make=lambda args, pc_on: TableRun(spec(pc_on)),
                  filter=lambda args, pc_on: flt)


def _by_key(name: str, category: str, description: str, value: str, title: str, units: str,
            top: int, flt: str) -> Chisel:
    def make(args: Sequence[str], pc_on: bool) -> TableRun:
        resolve(args[0])  # an unknown field: UnknownFieldError, with a suggestion
        return TableRun(TableSpec((args[0],), (args[0],), value, title, flt, top, units))

    return Chisel(name, category, description, make=make, filter=lambda args, pc_on: flt,
                  args=_KEY_ARG)


CHISELS: tuple[Chisel, ...] = tuple(_fixed(*t) for t in _TABLES) + \
    tuple(_by_key(*t) for t in _BY_KEY)
