"""``cdig summary``: a capture's top-N tables (sysdig's chisels), text or JSON."""

from __future__ import annotations

import argparse
import json
import sys

from .capture_cmd import replay_events
from .collector.aggregate import Aggregator, columns
from .collector.durations import human_ns
from .collector.filter import compile_filter
from .collector.formatter import escape_text
from .collector.summary import BatchAggregator
from .errors import EXIT_USAGE, CliError, replay_status
from .trace_flags import Progress


def render_table(table) -> str:
    """Aligned columns: numbers right-aligned, text left-aligned, text escaped."""
    cols = table.columns
    cells = [[c.name for c in cols]]
    for r in table.rows:
        row = []
        for c in cols:
            v = r[c.name]
            if c.kind == "ns":
                row.append(human_ns(int(v), second_digits=3))
            elif c.kind == "text":
                row.append(escape_text(str(v)))
            else:
                row.append(str(v))
        cells.append(row)
    widths = [max(len(row[i]) for row in cells) for i in range(len(cols))]
    lines = []
    for row in cells:
        parts = []
        for i, c in enumerate(cols):
            last = i == len(cols) - 1
            if c.kind == "text":
                parts.append(row[i] if last else row[i].ljust(widths[i]))
            else:
                parts.append(row[i].rjust(widths[i]))
        lines.append("  ".join(parts).rstrip())
    lines.insert(1, "  ".join("-" * w for w in widths))
    return "\n".join(lines)


def run_summary(args: argparse.Namespace) -> int:
    if args.top is not None and args.top < 0:
        raise CliError("--top needs 0 (all) or a positive number", EXIT_USAGE)
    if args.sort and args.sort not in {c.name for c in columns(args.by)}:
        raise CliError(f"--sort: no column {args.sort!r} in --by {args.by}; columns: "
                       + ", ".join(c.name for c in columns(args.by)), EXIT_USAGE)
    flt = compile_filter(" ".join(args.filter or []))
    agg = Aggregator([args.by])
    def sink(syscalls):  # vectorised group-bys over whole batches
        return BatchAggregator(agg, syscalls)

    sink.batch_sink_factory = True  # type: ignore[attr-defined]
    progress = Progress() if getattr(args, "progress", False) else None  # -P
    # no summary view reads an I/O call's data (only its byte counts)
    counters, src = replay_events(args.read, flt, sink, progress=progress, want_data=False)
    table = agg.table(args.by, sort=args.sort, top=args.top)
    if args.json:
        out = {"view": args.by, "events": agg.events, "rows": table.rows,
               "total_rows": table.total_rows, "dropped": src.drops()}
        sys.stdout.write(json.dumps(out) + "\n")
        return replay_status(src)
    sys.stdout.write(render_table(table) + "\n")
    more = f" ({table.total_rows - len(table.rows)} more rows)" \
        if table.total_rows > len(table.rows) else ""
    print(f"cdig: {agg.events} events summarised, {counters.records} records read"
          + (f", {src.drops()} dropped while capturing" if src.drops() else "") + more,
          file=sys.stderr)
    return replay_status(src)  # 3 if a capture was damaged or truncated
