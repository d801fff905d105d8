"""From a view's rows to what the screen shows: sorted, cut to ``max_rows``, every
cell rendered (``format.plain`` for every untrusted string). Runs on the refresh
worker's thread; the UI thread only copies cells into a DataTable."""

from __future__ import annotations

from typing import Any

from rich.text import Text

from ...collector.formatter import CONTAINER_FORMAT, Formatter
from ..format import human_bytes, human_count, human_ns, num, pct, plain, sparkline
from .base import Col, Ctx, Drill, Row, View, ViewData
from .echo import echo_lines
from .registry import VIEWS
from .syscalls import SHADES

_EVENT_FMT: Formatter | None = None


def render_cell(col: Col, v: Any, ctx: Ctx) -> Text:
    k = col.kind
    if k == "text":
        return plain("" if v is None else v, col.width)
    if k == "int":
        return num(v)
    if k in ("exact", "id"):  # counts and pids: every digit (a PID is acted on)
        return Text("-" if v is None else str(v), justify="right", no_wrap=True)
    if k == "rate":
        return num(float(v) if v is not None else None)
    if k == "bytes":
        return Text(human_bytes(v), justify="right", no_wrap=True)
    if k == "brate":
        return Text(human_bytes(v) if v is not None else "-", justify="right", no_wrap=True)
    if k == "pct":
        return Text(pct(v), justify="right", no_wrap=True)
    if k == "ns":
        return Text(human_ns(v), justify="right", no_wrap=True)
    if k == "shade":
        return Text(SHADES[min(int(v or 0), len(SHADES) - 1)] * 3, style="cyan",
                    no_wrap=True)
    if k == "spark":
        return Text(sparkline(v or [], ctx.spark_width), style="green", no_wrap=True)
    return plain(v)


def _sort_rows(view: View, rows: list[Row], sort: str, desc: bool) -> None:
    col = view.column(sort)
    key = view.sort_by.get(sort, sort)
    text = col is not None and col.kind == "text" and key == sort
    rows.sort(key=lambda r: r.key)  # a stable order for ties

    def k(r: Row) -> Any:
        v = r.values.get(key)
        if text:
            return str(v or "").lower()
        if isinstance(v, list):
            return v[-1] if v else 0
        return v if v is not None else -1

    rows.sort(key=k, reverse=desc)


def event_lines(ctx: Ctx, limit: int = 2000) -> list[tuple[int, str]]:
    global _EVENT_FMT
    if _EVENT_FMT is None:
        _EVENT_FMT = Formatter(CONTAINER_FORMAT)
    sc = ctx.scope
    out = []
    for ev in reversed(ctx.snap.events_ring):
        if sc.admits(ev):
            line = _EVENT_FMT.format(ev)
            if line is not None:
                out.append((ev.num, line))
            if len(out) >= limit:
                break
    out.reverse()
    return out


def build(name: str, ctx: Ctx, sort: str | None = None, desc: bool | None = None,
          row_text: str = "") -> ViewData:
    """The rows of view ``name`` for this context, sorted and cut to ``ctx.max_rows``."""
    view = VIEWS[name]
    cols = view.columns
    dsort, ddesc = view.sort
    sort = sort if sort and view.column(sort) is not None else dsort
    desc = ddesc if desc is None else desc
    if view.build is None:  # the events view
        if ctx.scope.io:  # echo: the data bytes, where the stream carries them
            lines, calls = echo_lines(ctx)
            if calls:
                return ViewData(name, cols, [], {}, len(lines),
                                f"the data of {calls} recent I/O calls (printable ASCII; "
                                "other bytes as .)", sort, desc, lines=lines,
                                data_lines=True)
        lines = event_lines(ctx)
        what = "I/O events" if ctx.scope.io else "events"
        return ViewData(name, cols, [], {}, len(lines), f"{len(lines)} recent {what} "
                        f"(of {human_count(ctx.snap.events)} since the start)", sort, desc,
                        lines=lines)
    rows, totals = view.build(ctx)
    if row_text:  # the row text filter: the cells as they would be shown
        needle = row_text.lower()
        rows = [r for r in rows if any(
            needle in render_cell(c, r.values.get(c.key), ctx).plain.lower() for c in cols
            if c.kind in ("text", "id", "exact"))]
        totals += f" · {len(rows)} containing {row_text!r}"
    _sort_rows(view, rows, sort, desc)
    total = len(rows)
    shown = rows[: ctx.max_rows] if ctx.max_rows else rows
    if ctx.fill is not None:
        start, stop = ctx.window if ctx.window is not None else (0, len(shown))
        ctx.fill(shown[start:stop])
    for r in shown:  # narrowed scopes only for the rows shown (thousands of rows)
        d = r.drill
        if d is not None and isinstance(d.scope, dict):
            r.drill = Drill(d.view, ctx.scope.narrow(**d.scope), d.label)
    out = [(r.key, tuple(render_cell(c, r.values.get(c.key), ctx) for c in cols))
           for r in shown]
    if total > len(shown):
        totals += f" · showing {len(shown)} of {total}"
    note = view.replay_note if not ctx.resources.live else ""
    return ViewData(name, cols, out, {r.key: r for r in shown}, total, totals, sort, desc,
                    note=note)


def legend_lines(name: str) -> list[str]:
    """F7: one line per column of view ``name``: its header, what it is, its unit."""
    view = VIEWS[name]
    out = [f"{view.title}:"]
    if view.about:
        out.append(view.about)
    for c in view.columns:
        out.append(f"  {c.label:<14} {view.legend.get(c.key, '')}")
    out.append("")
    out.append("Rates are per second over the last refresh interval (the capture's "
               "clock in a replay).")
    return out
