"""The container views: Containers and Security."""

from __future__ import annotations

from typing import Any

from ..format import human_count
from ..resources import SHARED_KINDS
from .base import Ctx, Drill, Narrowing, Row, cname, in_container, source


def containers_rows(ctx: Ctx) -> tuple[list[Row], str]:
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    cpu_by: dict[str, float] = {}
    uids: dict[str, list[int]] = {}
    for pid, info in s.procs.items():
        cid = info.container.id
        if pid in ctx.cpu:
            cpu_by[cid] = cpu_by.get(cid, 0.0) + ctx.cpu[pid]
        uids.setdefault(cid, []).append(info.uid)
    rows = []
    tot = 0.0
    for cid, (c, cnt) in s.containers.items():
        if not in_container(sc, c):
            continue
        old = b.containers.get(cid, (c, {}))[1] if b is not None else {}
        ev = cnt.get("events", 0)
        r_sc = ctx.rate(ev, old.get("events", 0))
        tot += r_sc
        res = ctx.resources.container(c)
        stream = None
        if s.exact:  # how much of this container's syscalls reached the event stream
            d_sys = ev - old.get("events", 0)
            d_ev = s.stream.get(cid, 0) - (b.stream.get(cid, 0) if b is not None else 0)
            if d_sys > 0:
                stream = min(100.0, 100.0 * d_ev / d_sys)
        rows.append(Row(cid, {
            "stream": stream,
            "name": cname(c),
            "cpu": ctx.container_cpu.get(cid, cpu_by.get(cid) if ctx.cpu else None), "sc": r_sc,
            "err": ctx.rate(cnt.get("errors", 0), old.get("errors", 0)),
            "file": ctx.rate(cnt.get("file_in", 0) + cnt.get("file_out", 0),
                             old.get("file_in", 0) + old.get("file_out", 0)),
            "net": ctx.rate(cnt.get("net_in", 0) + cnt.get("net_out", 0),
                            old.get("net_in", 0) + old.get("net_out", 0)),
            "pids": s.container_pids.get(cid, 0), "mem": res.memory,
            "spark": ctx.history.get(cid, []), "events": ev, "image": c.image,
            "pod": f"{c.pod_namespace}/{c.pod_name}" if c.pod_name else "",
            "runtime": c.runtime, "id": c.short_id},
            Drill("procs", Narrowing(container=cid), cname(c)), None, cid))
    return rows, f"{len(rows)} containers · {human_count(tot)} syscalls/s · " \
                 f"{s.events} {'syscalls' if s.exact else 'events'} in all{source(ctx)}"


def _mark(v: bool | None, bad_if: bool = True) -> str:
    if v is None:
        return "?"
    return "yes" if v else "no"


def security_rows(ctx: Ctx) -> tuple[list[Row], str]:
    s, sc = ctx.snap, ctx.scope
    by_c: dict[str, list[int]] = {}
    uids: dict[str, list[int]] = {}
    for pid, info in s.procs.items():
        by_c.setdefault(info.container.id, []).append(pid)
        uids.setdefault(info.container.id, []).append(info.uid)
    rows = []
    risky = 0
    for cid, (c, _cnt) in s.containers.items():
        if c.is_host or not in_container(sc, c):
            continue
        row = ctx.resources.security(c, sorted(by_c.get(cid, [])), uids.get(cid, []))
        v: dict[str, Any] = {"name": cname(c), "runtime": c.runtime}
        risks = []
        for k in SHARED_KINDS:
            shared = k in row.shared if row.known else None
            v[k] = "host" if shared else ("own" if shared is False else "?")
            if shared:
                risks.append(f"host {k} ns")
        v["root"] = _mark(row.root)
        if row.root and row.userns is False:
            risks.append("root without user ns")
        v["cpu_lim"] = "?" if row.cpu_limit is None else ("yes" if row.cpu_limit else "none")
        v["mem_lim"] = "?" if row.memory_limit is None else ("yes" if row.memory_limit
                                                             else "none")
        if row.cpu_limit is False:
            risks.append("no CPU limit")
        if row.memory_limit is False:
            risks.append("no memory limit")
        v["risks"] = ", ".join(risks) if row.known else "unknown (not live)"
        v["nrisks"] = len(risks)
        risky += bool(risks)
        rows.append(Row(cid, v, Drill("procs", Narrowing(container=cid), cname(c)), None, cid))
    return rows, f"{len(rows)} containers · {risky} with risks"
