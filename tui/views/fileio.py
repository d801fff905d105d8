"""The file views: Files, Directories and Slow file I/O."""

from __future__ import annotations

from ...collector.fields import format_time
from ..format import human_bytes, human_ns
from ..model import SLOW_IO_NS
from .base import Ctx, Drill, Narrowing, Row, cname, in_container, sum_pids


def _scoped_files(ctx: Ctx) -> tuple[dict, dict]:
    """(files now, files at the rate base) of the scope: its processes' own tables for
    a process or a container, the host's otherwise."""
    sc = ctx.scope
    if sc.pid is not None or sc.container is not None:
        return sum_pids(ctx, lambda x: x.pid_files)
    return ctx.snap.files, ctx.base.files if ctx.base is not None else {}


def files_rows(ctx: Ctx) -> tuple[list[Row], str]:
    sc = ctx.scope
    cur, old = _scoped_files(ctx)
    rows = []
    tin = tout = 0
    for path, (rd, wr, ops, opens) in cur.items():
        if sc.dir is not None and _dirname(path) != sc.dir:
            continue
        o = old.get(path, (0, 0, 0, 0))
        tin += rd
        tout += wr
        rows.append(Row(path, {"path": path, "in_rate": ctx.rate(rd, o[0]),
                               "out_rate": ctx.rate(wr, o[1]), "read": rd, "written": wr,
                               "opens": opens, "ops": ops},
                        Drill("events", Narrowing(fd=path), path), sc.pid, sc.container))
    where = f" in {sc.dir}" if sc.dir is not None else ""
    return rows, f"{len(rows)} files{where} · {human_bytes(tin)} read · " \
                 f"{human_bytes(tout)} written"


def _dirname(path: str) -> str:
    """The directory of a file's path ("" for a name that is not a path)."""
    if not path.startswith("/"):
        return ""
    d = path.rsplit("/", 1)[0]
    return d or "/"


def dirs_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """The Files view's figures summed by the directory each file is in."""
    sc = ctx.scope
    cur, old = _scoped_files(ctx)
    by: dict[str, list[int]] = {}  # dir -> read, written, ops, opens, old read, old written, n
    for path, (rd, wr, ops, opens) in cur.items():
        d = _dirname(path)
        if not d:
            continue
        o = old.get(path, (0, 0, 0, 0))
        g = by.setdefault(d, [0] * 7)
        g[0] += rd
        g[1] += wr
        g[2] += ops
        g[3] += opens
        g[4] += o[0]
        g[5] += o[1]
        g[6] += 1
    rows = [Row(d, {"dir": d, "in_rate": ctx.rate(g[0], g[4]), "out_rate": ctx.rate(g[1], g[5]),
                    "read": g[0], "written": g[1], "ops": g[2], "opens": g[3], "files": g[6]},
                Drill("files", Narrowing(dir=d), d), sc.pid, sc.container)
            for d, g in by.items()]
    return rows, f"{len(rows)} directories · {human_bytes(sum(g[0] for g in by.values()))} " \
                 f"read · {human_bytes(sum(g[1] for g in by.values()))} written"


def slowio_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """The latest file reads and writes that took 1 ms or more, newest first."""
    sc = ctx.scope
    rows = []
    for x in ctx.snap.slow_io:
        if (sc.pid is not None and x.pid != sc.pid) or not in_container(sc, x.container):
            continue
        rows.append(Row(f"{x.num}", {
            "time": format_time(x.ts_ns)[:15], "ts": x.ts_ns, "latency": x.latency_ns,
            "syscall": x.type, "bytes": x.res, "pid": x.pid, "name": x.name,
            "container": cname(x.container), "path": x.path},
            Drill("events", Narrowing(pid=x.pid, fd=x.path), f"{x.name} ({x.pid}) {x.path}"),
            x.pid, x.container.id))
    return rows, f"{len(rows)} file reads/writes that took {human_ns(SLOW_IO_NS)} or more " \
                 "(the latest; the event stream)"
