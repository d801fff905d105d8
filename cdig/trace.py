"""``cdig trace``: assemble source → decode → state → filter → formatter."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import numpy as np

from .capture_cmd import check_capture_args, run_trace_replay
from .collector.fields import UnknownFieldError, format_field_list, format_field_markdown
from .collector.fields.buffer import DOTS, set_print_mode
from .collector.filter import Filter, compile_filter
from .collector.filter.tree import And, Compare, Not, Or
from .collector.formatter import CONTAINER_FORMAT, DEFAULT_FORMAT, Formatter
from .collector.session import renderer_for
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .probes.syscalls.layout import IO_MAX
from .report import shown_summary
from .trace_flags import timetype_format

__all__ = ["K8S_FORMAT", "args_filter", "run_trace", "shown_summary", "wants_enter_events"]


def args_filter(args: argparse.Namespace) -> str:
    """The filter of the command line, with --failed folded in."""
    text = " ".join(args.filter or [])
    if getattr(args, "failed", False):
        text = f"evt.failed=true and ({text})" if text.strip() else "evt.failed=true"
    return text


# sysdig's -pk: the pod instead of the container name
K8S_FORMAT = (
    "*%evt.num %evt.outputtime %evt.cpu %k8s.pod.name (%container.id) "
    "%proc.name (%thread.tid:%thread.vtid) %evt.dir %evt.type %evt.info"
)


def _formatter(args: argparse.Namespace) -> Callable[[Any], Any]:
    """What -p/-j ask for, checked now (a bad field is a usage error); the renderer
    (SyscallTable -> BatchRenderer) is built once the syscall table of the source
    is known."""
    fmt = args.format
    named = {"c": CONTAINER_FORMAT, "container": CONTAINER_FORMAT, "k": K8S_FORMAT,
             "kubernetes": K8S_FORMAT}
    if fmt in ("m", "mesos"):  # sysdig -pm: its Mesos format (mesos.task.name)
        raise CliError("-pm/-pmesos is sysdig's Mesos format; cdig has no Mesos fields: "
                       "use -pc (containers) or -pk (Kubernetes), or -p with a format",
                       EXIT_USAGE)
    if args.json:
        fmt = None if not fmt or fmt in named else fmt
    else:
        fmt = named.get(fmt, fmt) if fmt else DEFAULT_FORMAT
        if fmt in (DEFAULT_FORMAT, CONTAINER_FORMAT, K8S_FORMAT):  # -t: their time column
            fmt = timetype_format(fmt, getattr(args, "timetype", None))
    try:
        if fmt is not None:
            Formatter(fmt)
    except UnknownFieldError as e:
        raise CliError(f"bad format: {e}", EXIT_USAGE) from None
    return lambda syscalls: renderer_for(fmt, args.json, syscalls, DEFAULT_FORMAT)


def _buffer_options(args: argparse.Namespace) -> None:
    """-s (the I/O snaplen) checked; -A/-x/-X/-b: how data= and evt.buffer print."""
    snaplen = getattr(args, "snaplen", None)
    if snaplen is not None and not 0 <= snaplen <= IO_MAX:
        raise CliError(f"-s takes 0 to {IO_MAX} bytes of I/O data, not {snaplen}", EXIT_USAGE)
    set_print_mode(getattr(args, "buffer_mode", None) or DOTS)


def wants_enter_events(flt: Filter) -> bool:
    """Whether the filter can select enter events ('>'): a comparison of evt.dir
    other than evt.dir=< (or !=>), or any under a 'not'. Only then does the probe
    send an enter record for every syscall."""

    def walk(e: Any, negated: bool) -> bool:
        if isinstance(e, Compare):
            if e.field != "evt.dir":
                return False
            if negated:
                return True
            if e.op in ("=", "==", "in"):
                return ">" in e.values
            return not (e.op == "!=" and e.values == (">",))
        if isinstance(e, Not):
            return walk(e.item, not negated)
        if isinstance(e, And | Or):
            return any(walk(i, negated) for i in e.items)
        return False

    return flt.expr is not None and walk(flt.expr, False)


def container_select(refs: list[str]) -> Callable[[Any], np.ndarray]:
    """--container NAME|ID: rows whose container matches by name, full id or id prefix, also
    for containers that start after the trace does (a ``Select``: EventBatch -> mask).
    Tested once per container."""

    def match(c: Any) -> bool:
        for r in refs:
            if c.name == r or c.id == r or (len(r) >= 3 and c.id.startswith(r)):
                return True
        return False

    def select(b: Any) -> np.ndarray:
        lut = np.fromiter((match(c) for c in b.containers), dtype=bool,
                          count=len(b.containers))
        return lut[b.cont_code] if len(lut) else np.zeros(len(b), dtype=bool)

    return select


def wants_scap(args: argparse.Namespace) -> bool:
    """-w writes sysdig's .scap: by --format, by the name (.scap, .scap.gz), or to stdout."""
    fmt = getattr(args, "write_format", None)
    if fmt is not None:
        return fmt == "scap"
    name = (args.write or "").lower()
    return name == "-" or name.endswith((".scap", ".scap.gz"))


def wants_chisels(args: argparse.Namespace) -> bool:
    """-c NAME, -cl or -i NAME."""
    return bool(getattr(args, "chisel", None) or getattr(args, "list_chisels", False)
                or getattr(args, "chisel_info", None))


def run_trace(args: argparse.Namespace) -> int:
    if args.list is not None or getattr(args, "list_markdown", False):
        text = format_field_markdown() if args.list_markdown else \
            format_field_list(verbose=args.list == "v")
        sys.stdout.write(text + "\n")
        return EXIT_OK
    chisel = None
    if wants_chisels(args):  # the chisels' modules only then (~35 ms of start-up)
        from .chisel_cmd import listing, plan

        done = listing(args)  # -cl, -i NAME
        if done is not None:
            return done
        chisel = plan(args)  # -c NAME ARGS: its arguments are the first filter words
        if chisel is not None:  # from here on "the filter" is the chisel's AND the user's
            args.filter, args.failed = [chisel.filter_text(args_filter(args))], False
    flt = compile_filter(args_filter(args))
    _buffer_options(args)
    fmt = _formatter(args)
    if args.numevents is not None and args.numevents <= 0:
        raise CliError("-n needs a positive number of events", EXIT_USAGE)
    check_capture_args(args)
    if args.write and wants_scap(args):
        if args.write == "-" and (args.format or args.json):
            raise CliError("-w - streams .scap to stdout: -p/-j lines cannot go there too",
                           EXIT_USAGE)
        if args.write == "-" and (args.file_size is not None or args.seconds is not None):
            raise CliError("-w - streams .scap to stdout: rotation (-C/-G) needs a file name",
                           EXIT_USAGE)
        if args.read:
            raise CliError(".scap output: re-filtering a capture (-r) writes cdig captures "
                           "only (cdig convert turns one into .scap)", EXIT_USAGE)
    if args.read:  # a capture: no root, no BPF, the same pipeline
        select = container_select(args.container) if args.container else None
        return run_trace_replay(args, flt, fmt, args_filter(args), select, chisel)
    if os.geteuid() != 0:
        raise CliError("live tracing needs root (BPF); run with sudo")
    mb = args.buffer_mb
    if mb <= 0 or mb & (mb - 1):
        raise CliError(f"--buffer-mb must be a power of two, not {mb}", EXIT_USAGE)
    # the one lazy import: the live path's modules (probe, ring reader, runtimes'
    # clients, .scap writer) cost a replay ~150 ms of start-up it would never use
    from .trace_live import run_live

    return run_live(args, flt, fmt, chisel)
