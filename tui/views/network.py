"""The network views: Connections and Server ports."""

from __future__ import annotations

from typing import Any

from ..format import human_bytes
from .base import Ctx, Drill, Narrowing, Row, cname, sum_pids


def server_port(name: str) -> int | None:
    """The server end's port of a socket's name ("cip:cport->sip:sport"; sysdig's
    s = server side, whichever end is local), None for other names."""
    _, sep, server = name.rpartition("->")
    if not sep:
        return None
    port = server.rpartition(":")[2]
    return int(port) if port.isdigit() else None


def conns_rows(ctx: Ctx) -> tuple[list[Row], str]:
    s, sc = ctx.snap, ctx.scope
    rows = []
    tin = tout = 0
    if sc.pid is not None:
        cur, old = sum_pids(ctx, lambda x: x.pid_conns)
        st = s.pids.get(sc.pid)
        for (proto, name), (bi, bo, _ops) in cur.items():
            if sc.port is not None and (proto, server_port(name)) != sc.port:
                continue
            o = old.get((proto, name), (0, 0, 0))
            tin += bi
            tout += bo
            rows.append(Row(f"{proto}/{name}", {
                "name": name, "proto": proto, "in_rate": ctx.rate(bi, o[0]),
                "out_rate": ctx.rate(bo, o[1]), "in": bi, "out": bo,
                "proc": st.name if st else "", "pid": sc.pid,
                "container": cname(st.container) if st else ""},
                Drill("events", Narrowing(fd=name), name), sc.pid, sc.container))
    else:
        old_all = ctx.base.conns if ctx.base is not None else {}
        for (proto, name), (bi, bo, _ops, proc, pid, cid) in s.conns.items():
            if sc.container is not None and cid != sc.container:
                continue
            if sc.port is not None and (proto, server_port(name)) != sc.port:
                continue
            o = old_all.get((proto, name), (0, 0))
            tin += bi
            tout += bo
            c = s.containers.get(cid, (None, {}))[0]
            rows.append(Row(f"{proto}/{name}", {
                "name": name, "proto": proto, "in_rate": ctx.rate(bi, o[0]),
                "out_rate": ctx.rate(bo, o[1]), "in": bi, "out": bo, "proc": proc,
                "pid": pid, "container": cname(c) if c is not None else ""},
                Drill("events", Narrowing(fd=name), name), pid, cid))
    return rows, f"{len(rows)} connections · {human_bytes(tin)} in · {human_bytes(tout)} out"


def ports_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """The Connections view's figures summed by server port (the port connections
    were made to, on this host or from it)."""
    s, sc = ctx.snap, ctx.scope
    old_all = ctx.base.conns if ctx.base is not None else {}
    by: dict[tuple[str, int], list[Any]] = {}
    for (proto, name), (bi, bo, _ops, proc, _pid, cid) in s.conns.items():
        if sc.container is not None and cid != sc.container:
            continue
        port = server_port(name)
        if port is None:
            continue
        o = old_all.get((proto, name), (0, 0))
        g = by.setdefault((proto, port), [0, 0, 0, 0, 0, {}, set()])
        g[0] += bi
        g[1] += bo
        g[2] += o[0]
        g[3] += o[1]
        g[4] += 1
        g[5][proc] = g[5].get(proc, 0) + 1
        g[6].add(cid)
    names = {cid: cname(c) for cid, (c, _) in s.containers.items()}
    rows = []
    for (proto, port), (bi, bo, oi, oo, n, procs, cids) in by.items():
        top = sorted(procs, key=lambda p: (-procs[p], p))
        rows.append(Row(f"{proto}/{port}", {
            "port": port, "proto": proto, "conns": n, "in_rate": ctx.rate(bi, oi),
            "out_rate": ctx.rate(bo, oo), "in": bi, "out": bo,
            "proc": ", ".join(top[:3]) + (" …" if len(top) > 3 else ""),
            "container": ", ".join(sorted(names.get(c, c[:12]) for c in cids))},
            Drill("conns", Narrowing(port=(proto, port)), f"{proto} port {port}"), None,
            sc.container))
    return rows, f"{len(rows)} server ports · {sum(g[4] for g in by.values())} connections"
