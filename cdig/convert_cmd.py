"""``cdig convert IN OUT``: cdig capture ↔ sysdig/Falco ``.scap``, either way.

The input is read by the replay source its first bytes call for (a .scap file
by ``collector.scap.reader.ScapSource``, a cdig capture by
``collector.capture.ReplaySource``); the output format is chosen by ``--to``,
else by OUT's extension (``.scap``/``.scap.gz`` → scap, anything else → cdig
capture), else the other format than the input's. Every record goes through the
same Decoder → State path as ``cdig trace -r``, so the output names processes,
fds and containers as a replay of the input does.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from .capture_cmd import close_recorder, open_recorder, open_replay, start_recorder
from .collector.scap import any_scap
from .collector.scap.writer import ScapWriter
from .collector.session import Session
from .errors import EXIT_OK, EXIT_USAGE, CliError


def _target(args: argparse.Namespace, input_is_scap: bool) -> str:
    if args.to:
        return args.to
    out = args.output.lower()
    if out.endswith((".scap", ".scap.gz")):
        return "scap"
    if out.endswith((".cdig", ".arrow")):
        return "cdig"
    return "cdig" if input_is_scap else "scap"


def run_convert(args: argparse.Namespace) -> int:
    if args.output != "-" and os.path.exists(args.input) and os.path.exists(args.output) and \
            os.path.samefile(args.input, args.output):
        raise CliError(f"{args.output} would overwrite the input", EXIT_USAGE)
    input_is_scap = any_scap([args.input])
    target = _target(args, input_is_scap)
    if target == "cdig" and args.output == "-":
        raise CliError("a cdig capture cannot go to stdout: name a file, or use --to scap",
                       EXIT_USAGE)
    src = open_replay([args.input])
    try:
        if target == "scap":
            n, size = _to_scap(args, src)
            print(f"cdig: {n} records written to {args.output} as .scap, {size} bytes"
                  + _losses(src), file=sys.stderr)
        else:
            line = _to_cdig(args, src)
            print(line + _losses(src), file=sys.stderr)
    finally:
        src.close()
    return EXIT_OK


def _losses(src) -> str:
    return f" (input {src.losses[0].message()})" if getattr(src, "losses", None) else ""


def _run(session) -> None:
    gc.freeze()  # the State's objects live long and form no cycles: see trace.py
    try:
        session.run()
    finally:
        gc.unfreeze()


def _to_scap(args: argparse.Namespace, src) -> tuple[int, int]:
    compress = args.compress or args.output.lower().endswith(".gz")
    try:
        writer = ScapWriter(args.output, src.syscalls, src.mono_to_wall_ns,
                            container_of=src.container_of,
                            hostname=src.header.get("hostname") or None, compress=compress)
    except OSError as e:
        raise CliError(f"cannot write {args.output}: {e.strerror or e}") from None
    session = Session.replay(src)
    # the writer sees each batch with the State as it was before the batch: a batch
    # sink would see the fd table of the batch's end (an fd closed early in the first
    # batch and reused later was written with the later name)
    session.source = writer.tee(src, session.state)
    try:
        _run(session)
        writer.close()
    except BrokenPipeError:
        raise CliError(f"{args.output}: the reader went away") from None
    except OSError as e:
        raise CliError(f"writing {args.output} failed: {e.strerror or e}") from None
    return writer.records, writer.bytes_written


def _to_cdig(args: argparse.Namespace, src) -> str:
    ns = argparse.Namespace(write=args.output, snaplen=None, file_size=None, seconds=None,
                            files=None)
    rec = open_recorder(ns, "", src.container_of, src.procfs, syscalls=src.syscalls,
                        host=src.header)
    try:
        session = Session.replay(src, sinks=lambda decoder: [rec], recorder=rec)
        start_recorder(rec, session.state, session.decoder, src)
        _run(session)
        line = close_recorder(rec)
        rec = None
        return line
    finally:
        if rec is not None:
            rec.writer.close()
