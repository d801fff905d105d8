"""The process views: Processes, Process tree, Threads, Execs."""

from __future__ import annotations

from ...collector.aggregate import ProcStats
from ...collector.fields import format_time, user_name
from ..format import human_count
from .base import Ctx, Drill, Narrowing, Row, cname, in_container, source


def procs_rows(ctx: Ctx) -> tuple[list[Row], str]:
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    rows = []
    tot_sc = tot_err = 0.0
    # live processes, and those that exited during this interval (short-lived ones
    # included): listed once, marked, then let go (the model prunes them)
    keys = set(s.procs) | set(s.pids)
    per_call = s.syscall_pids if sc.syscall is not None else None
    if per_call is not None:  # Syscalls > Enter: the processes making that syscall
        keys = set(per_call)
    for pid in keys:
        info = s.procs.get(pid)
        st = s.pids.get(pid)
        if info is None and st is None:
            continue
        c = info.container if info is not None else st.container  # type: ignore[union-attr]
        if not in_container(sc, c) or (sc.pid is not None and pid != sc.pid):
            continue
        old = b.pids.get(pid) if b is not None else None
        if st is not None and st.exited and info is None and b is not None and \
                old is not None and old.exited and old.events == st.events:
            continue  # exited before this interval, nothing since: gone
        ev = st.events if st else 0
        err = st.errors if st else 0
        if per_call is not None:
            ev, err = per_call[pid][0], per_call[pid][1]
            oc = b.syscall_pids.get(pid) if b is not None else None
            old = ProcStats("", c, -1, oc[0], oc[1]) if oc else None
        fio = (st.file_in + st.file_out) if st else 0
        nio = (st.net_in + st.net_out) if st else 0
        r_sc = ctx.rate(ev, old.events if old else 0)
        r_err = ctx.rate(err, old.errors if old else 0)
        tot_sc += r_sc
        tot_err += r_err
        name = info.name if info is not None else st.name  # type: ignore[union-attr]
        if st is not None and st.name and st.name != "?":
            name = st.name
        uid = info.uid if info is not None else (st.uid if st else -1)
        exited = st is not None and st.exited and info is None
        cmd = ctx.cmdline(pid) or (info.cmdline if info is not None else name)
        rows.append(Row(str(pid), {
            "pid": pid, "name": name, "cpu": ctx.cpu.get(pid), "sc": r_sc, "err": r_err,
            "file": ctx.rate(fio, (old.file_in + old.file_out) if old else 0),
            "net": ctx.rate(nio, (old.net_in + old.net_out) if old else 0),
            "container": cname(c), "events": ev, "state": "exit" if exited else "",
            "virt": ctx.mem[pid][0] if pid in ctx.mem else None,
            "res": ctx.mem[pid][1] if pid in ctx.mem else None,
            "user": user_name(uid) if uid >= 0 else "",
            "cmd": cmd},
            Drill("syscalls", Narrowing(pid=pid), f"{name} ({pid})"), pid, c.id))
    what = f" making {sc.syscall}" if sc.syscall is not None else ""
    return rows, (f"{len(rows)} processes{what} · {human_count(tot_sc)} syscalls/s · "
                  f"{human_count(tot_err)} errors/s{source(ctx)}")


def tree_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """Live processes by parent (PPID), children under their parent, indented;
    the order is the tree's (a sort by another column flattens it)."""
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    procs = {pid: p for pid, p in s.procs.items() if in_container(sc, p.container)}
    children: dict[int, list[int]] = {}
    for pid, p in procs.items():
        parent = p.ppid if p.ppid in procs and p.ppid != pid else 0
        children.setdefault(parent, []).append(pid)
    rows: list[Row] = []
    seen: set[int] = set()

    def walk(pid: int, depth: int) -> None:
        if pid in seen:  # a cycle in stale data: list once
            return
        seen.add(pid)
        p = procs[pid]
        st = s.pids.get(pid)
        old = b.pids.get(pid) if b is not None else None
        name = st.name if st is not None and st.name != "?" else p.name
        rows.append(Row(str(pid), {
            "pid": pid, "ppid": p.ppid, "name": "  " * depth + ("└ " if depth else "") + name,
            "sc": ctx.rate(st.events if st else 0, old.events if old else 0),
            "err": ctx.rate(st.errors if st else 0, old.errors if old else 0),
            "container": cname(p.container), "order": len(rows),
            "cmd": ctx.cmdline(pid) or p.cmdline},
            Drill("syscalls", Narrowing(pid=pid), f"{name} ({pid})"), pid, p.container.id))
        for child in sorted(children.get(pid, ())):
            walk(child, depth + 1)

    for root in sorted(children.get(0, ())):
        walk(root, 0)
    for pid in sorted(procs):  # anything left (a cycle): at the top level
        if pid not in seen:
            walk(pid, 0)
    return rows, f"{len(rows)} processes in {len(children.get(0, ()))} trees"


def threads_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """One row per thread of the event stream (the kernel counts per process); a
    thread that exited is listed, marked, for the interval it exited in."""
    s, b, sc = ctx.snap, ctx.base, ctx.scope
    old_t = b.threads if b is not None else {}
    rows = []
    tot = 0.0
    for tid, t in s.threads.items():
        if not in_container(sc, t.container) or (sc.pid is not None and t.pid != sc.pid):
            continue
        o = old_t.get(tid)
        if t.exited_ns and o is not None and o.exited_ns and o.events == t.events:
            continue  # exited before this interval: gone
        r = ctx.rate(t.events, o.events if o else 0)
        tot += r
        info = s.procs.get(t.pid)
        rows.append(Row(str(tid), {
            "tid": tid, "pid": t.pid, "name": t.name, "sc": r,
            "err": ctx.rate(t.errors, o.errors if o else 0),
            "file": ctx.rate(t.file_io, o.file_io if o else 0),
            "net": ctx.rate(t.net_io, o.net_io if o else 0), "events": t.events,
            "state": "exit" if t.exited_ns else "", "container": cname(t.container),
            "cmd": ctx.cmdline(t.pid) or (info.cmdline if info is not None else "")},
            Drill("syscalls", Narrowing(pid=t.pid), f"{t.name} ({t.pid})"), t.pid, t.container.id))
    return rows, f"{len(rows)} threads · {human_count(tot)} events/s (the event stream)"


def execs_rows(ctx: Ctx) -> tuple[list[Row], str]:
    sc = ctx.scope
    rows = []
    for i, x in enumerate(ctx.snap.execs):
        if sc.pid is not None and x.pid != sc.pid:
            continue
        if not in_container(sc, x.container):
            continue
        rows.append(Row(f"{x.ts_ns}/{x.pid}/{i}", {
            "time": format_time(x.ts_ns)[:12], "ts": x.ts_ns, "pid": x.pid,
            "user": user_name(x.uid), "container": cname(x.container), "cmd": x.cmdline},
            Drill("syscalls", Narrowing(pid=x.pid), f"{x.cmdline.split(' ')[0]} ({x.pid})"),
            x.pid, x.container.id))
    return rows, f"{len(rows)} commands run ({ctx.snap.execs_seen} in all)"
