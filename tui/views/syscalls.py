"""The syscall views: Syscalls, Errors (by errno) and the F12 latency spectrogram."""

from __future__ import annotations

import math
from typing import Any

from ...collector.aggregate import percentile
from ...collector.fields import format_time
from .base import Ctx, Drill, Narrowing, Row, cname, source, sum_pids

# F12: one column per kernel latency bucket (base 4: 4^k < d <= 4^(k+1) ns)
SPECTRO_LABELS = ("4n", "16n", "64n", "256n", "1u", "4u", "16u", "65u", "262u", "1m",
                  "4m", "16m", "67m", "268m", "1s", "4s", "17s", ">17s")
SHADES = " ░▒▓█"

def syscalls_rows(ctx: Ctx) -> tuple[list[Row], str]:
    s, sc = ctx.snap, ctx.scope
    rows = []
    if sc.pid is not None or sc.container is not None:
        cur, old = sum_pids(ctx, lambda x: x.pid_syscalls)
        hist: dict[str, Any] = s.pid_lat
    else:
        cur = s.syscalls
        old = ctx.base.syscalls if ctx.base is not None else {}
        hist = s.lat_hist  # type: ignore[assignment]
    slots = s.lat_slots if sc.pid is None and sc.container is None else {}
    calls = errs = 0
    for typ, (n, e, t) in cur.items():
        if sc.syscall is not None and typ != sc.syscall:
            continue
        calls += n
        errs += e
        o = old.get(typ, (0, 0, 0))
        h = hist.get(typ)
        p99 = percentile(h, 0.99) if h else (slot_percentile(slots[typ], 0.99)
                                               if typ in slots else None)
        # Enter: the processes making this syscall (of a process: its events)
        drill = Drill("events", Narrowing(syscall=typ), typ) if sc.pid is not None else \
            Drill("procs", Narrowing(syscall=typ), typ)
        rows.append(Row(typ, {"syscall": typ, "count": n, "rate": ctx.rate(n, o[0]),
                              "errors": e, "avg": t // n if n else 0,
                              "p99": p99, "time": t}, drill, sc.pid, sc.container))
    where = f" of pid {sc.pid}" if sc.pid is not None else \
        (" in this container" if sc.container is not None else "")
    return rows, f"{len(rows)} syscalls{where} · {calls} calls · " \
                 f"{errs} errors{source(ctx)}"


def slot_percentile(slots: list[int], q: float) -> int | None:
    """The ``q`` quantile of a kernel latency histogram (base-4 slots), as its
    slot's upper bound in ns (the last slot: its lower bound)."""
    total = sum(slots)
    if not total:
        return None
    seen = 0
    for i, n in enumerate(slots):
        seen += n
        if n and seen >= q * total:
            return 4 ** (i + 1) if i < len(slots) - 1 else 4 ** i
    return 4 ** (len(slots) - 1)


def errors_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """By errno; with an errno in the scope, its syscalls; with both, the processes."""
    s, sc = ctx.snap, ctx.scope
    base = ctx.base
    rows = []
    total = 0
    if sc.pid is not None or (sc.errno is not None and sc.syscall is not None):
        old_d = base.err_detail if base is not None else {}
        for (typ, errno, pid), n in s.err_detail.items():
            st = s.pids.get(pid)
            c = st.container if st else None
            if sc.pid is not None and pid != sc.pid:
                continue
            if sc.container is not None and (c is None or c.id != sc.container):
                continue
            if (sc.syscall is not None and typ != sc.syscall) or \
                    (sc.errno is not None and errno != sc.errno):
                continue
            total += n
            name = st.name if st else "?"
            rows.append(Row(f"{typ}/{errno}/{pid}", {
                "count": n, "rate": ctx.rate(n, old_d.get((typ, errno, pid), 0)),
                "syscall": typ, "errno": errno, "pid": pid, "name": name,
                "container": cname(c) if c else ""},
                Drill("events", Narrowing(pid=pid, syscall=typ, failed=True),
                      f"{typ} {errno} ({pid})"), pid, c.id if c else None))
        return rows, f"{len(rows)} processes · {total} failed syscalls{source(ctx)}"
    old_t = base.err_totals if base is not None else {}
    groups: dict[str, list[Any]] = {}  # key -> [count, old count, {syscalls or errnos}]
    for (typ, errno, cid), n in s.err_totals.items():
        if sc.container is not None and cid != sc.container:
            continue
        if (sc.syscall is not None and typ != sc.syscall) or \
                (sc.errno is not None and errno != sc.errno):
            continue
        key = typ if sc.errno is not None else errno
        g = groups.setdefault(key, [0, 0, {}, set()])
        g[0] += n
        g[1] += old_t.get((typ, errno, cid), 0)
        other = errno if sc.errno is not None else typ
        g[2][other] = g[2].get(other, 0) + n
        g[3].add(cid)
        total += n
    names = {cid: cname(c) for cid, (c, _) in s.containers.items()}
    for key, (n, o, parts, cids) in groups.items():
        top = sorted(parts.items(), key=lambda kv: -kv[1])
        part = " ".join(f"{k}:{v}" for k, v in top[:4]) + (" …" if len(top) > 4 else "")
        where = ", ".join(sorted(names.get(c, c[:12]) for c in cids))
        if sc.errno is None:
            v = {"count": n, "rate": ctx.rate(n, o), "errno": key, "syscall": part,
                 "container": where}
            drill = Drill("errors", Narrowing(errno=key), key)
        else:
            v = {"count": n, "rate": ctx.rate(n, o), "errno": sc.errno, "syscall": key,
                 "container": where}
            drill = Drill("errors", Narrowing(syscall=key), key)
        rows.append(Row(key, v, drill, None, sc.container))
    what = "syscalls failing with " + sc.errno if sc.errno is not None else "kinds of error"
    return rows, f"{len(rows)} {what} · {total} failed syscalls{source(ctx)}"


def spectro_rows(ctx: Ctx) -> tuple[list[Row], str]:
    """F12: one row per refresh interval (newest first), one column per latency
    bucket, shaded by how many syscalls of the scope took that long (log scale
    against the busiest cell). From the kernel's histograms: live only."""
    hist = ctx.snap.spectro
    if len(hist) < 2:
        what = "needs the kernel's histograms (live)" if not ctx.snap.exact else \
            "filling (one row per refresh)"
        return [], f"latency spectrogram: {what}"
    deltas = [(t1, [max(0, b - a) for a, b in zip(h0, h1, strict=False)])
              for (_t0, h0), (t1, h1) in zip(hist, hist[1:], strict=False)]
    top = max((max(d) for _, d in deltas), default=0)
    rows = []
    for ts, d in deltas:
        v: dict[str, Any] = {"time": format_time(ts)[:8], "ts": ts, "calls": sum(d)}
        for i, n in enumerate(d):
            v[f"b{i}"] = 0 if not n or not top else \
                1 + int((len(SHADES) - 2) * math.log1p(n) / math.log1p(top))
        rows.append(Row(str(ts), v))
    sc = ctx.scope
    what = f"{sc.syscall}" if sc.syscall else ("this container" if sc.container else
                                              "all syscalls")
    return rows, f"latency of {what}: one row per refresh, darker = more calls (log scale)"
