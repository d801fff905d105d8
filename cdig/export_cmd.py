"""``cdig export``: a capture as Parquet, CSV or JSON lines (columns named like fields)."""

from __future__ import annotations

import argparse
import sys

from .capture_cmd import replay_events
from .collector.capture import open_private
from .collector.export import EXPORT_FIELDS, columns_help, exporter
from .collector.fields import FilterOnlyFieldError, UnknownFieldError, resolve
from .collector.filter import compile_filter
from .collector.safe_open import aliases
from .errors import EXIT_OK, EXIT_USAGE, CliError, replay_status


def run_export(args: argparse.Namespace) -> int:
    fields = list(EXPORT_FIELDS)
    if args.fields:
        fields = [f.strip() for f in args.fields.split(",") if f.strip()]
        try:
            for f in fields:
                field = resolve(f)
                if field.any_of:  # fd.port, proc.aname …: no value to export
                    raise FilterOnlyFieldError(f)
                if field.per_output is not None:  # evt.deltatime: a -p line's, not a row's
                    raise CliError(f"--fields: {field.name} is a value of -p output (the "
                                   "time since the previous event shown); export "
                                   "evt.rawtime", EXIT_USAGE)
        except UnknownFieldError as e:
            raise CliError(f"--fields: {e}", EXIT_USAGE) from None
    if args.list_columns:
        sys.stdout.write(columns_help(fields) + "\n")
        return EXIT_OK
    if not args.read or not args.output:
        raise CliError("export needs -r CAPTURE and -o OUT", EXIT_USAGE)
    flt = compile_filter(" ".join(args.filter or []))
    to_stdout = args.output == "-"
    if to_stdout and args.format == "parquet":
        raise CliError("parquet needs a file (-o FILE); use jsonl or csv for stdout", EXIT_USAGE)
    if not to_stdout and (hit := aliases(args.output, args.read)):  # as files, not names
        raise CliError(f"-o {args.output} is {hit}, one of the captures being read", EXIT_USAGE)
    try:
        out = sys.stdout.buffer if to_stdout else open_private(args.output)
    except OSError as e:
        raise CliError(f"cannot write {args.output}: {e.strerror or e}") from None
    sink = exporter(out, args.format, fields)
    try:
        counters, src = replay_events(args.read, flt, sink)
        sink.close()
    finally:
        if not to_stdout:
            out.close()
    where = "stdout" if to_stdout else args.output
    print(f"cdig: {sink.rows} events exported to {where} ({args.format}), "
          f"{counters.records} records read", file=sys.stderr)
    return replay_status(src)  # 3 if a capture was damaged or truncated
