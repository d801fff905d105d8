"""CLI glue for capture files: ``cdig trace -w`` (record) and ``-r`` (replay).

The format, the writer and the reader live in ``collector.capture``; this
module turns options into them and their errors into one-line CliErrors.
Nothing here imports bcc or the probe loader: reading needs neither root nor BPF.
"""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
from collections.abc import Callable
from typing import Any

from .collector import capture  # names load on first use: a .scap read imports no pyarrow
from .collector.safe_open import aliases
from .collector.scap import any_scap, replay_source
from .collector.session import EventSink, LineSink, Session
from .errors import EXIT_USAGE, CliError, replay_status
from .probes.syscall_table import table
from .report import shown_summary


def check_capture_args(args: argparse.Namespace) -> None:
    """Usage errors of -w/-r/-C/-G/-W/-s, before anything starts."""
    write = getattr(args, "write", None)
    for flag, name in (("file_size", "-C"), ("seconds", "-G"), ("files", "-W"),
                       ("string_len", "--string-len")):
        v = getattr(args, flag, None)
        if v is None:
            continue
        if not write:
            raise CliError(f"{name} applies to a capture being written: add -w FILE", EXIT_USAGE)
        if v <= 0:
            raise CliError(f"{name} needs a positive number, not {v}", EXIT_USAGE)
    reads = getattr(args, "read", None) or []
    if write and reads:  # as files: symlinks, hard links, globs, rotation names
        if hit := aliases(write, reads, prefix=True):
            raise CliError(f"-w {write} would overwrite {hit}, a capture being read", EXIT_USAGE)
    events = getattr(args, "events", None)
    if events is not None and not write:
        raise CliError("-e applies to a capture being written: add -w FILE", EXIT_USAGE)
    if events is not None and events <= 0:
        raise CliError(f"-e needs a positive number of events per file, not {events}",
                       EXIT_USAGE)
    if getattr(args, "files", None) is not None and args.file_size is None and \
            args.seconds is None and events is None:
        raise CliError("-W needs -C or -G or -e (it limits how many rotated files are kept)",
                       EXIT_USAGE)


def rotation(args: argparse.Namespace) -> capture.Rotation:
    size = getattr(args, "file_size", None)
    return capture.Rotation(size_bytes=int(size * capture.MB) if size is not None else None,
                            period_s=getattr(args, "seconds", None),
                            keep=getattr(args, "files", None),
                            events=getattr(args, "events", None))


def open_recorder(args: argparse.Namespace, filter_text: str, container_of: Callable,
                  procfs=None, syscalls=None, host: dict[str, Any] | None = None):
    """A CaptureRecorder for ``-w`` (its file is created by ``start_recorder``).

    ``host`` (a capture's header, when re-capturing a capture) replaces this host's
    info; the decoder's clock offset and syscall table are set at start."""
    where = os.path.dirname(os.path.abspath(args.write))
    if not os.path.isdir(where) or not os.access(where, os.W_OK | os.X_OK):
        # say so now, not after seconds of BPF compilation
        why = "no such directory" if not os.path.isdir(where) else "permission denied"
        raise CliError(f"cannot write {args.write}: {why} ({where})")
    syscalls = syscalls or table()
    header = dict(host) if host else capture.host_info(syscalls, 0)
    for k in ("session", "session_started_ns", "file_index", "file_started_ns"):
        header.pop(k, None)
    # "snaplen": the bound of paths and argv (--string-len); "io_snaplen": of I/O data (-s)
    header.update(filter=filter_text, snaplen=getattr(args, "string_len", None),
                  io_snaplen=getattr(args, "snaplen", None))
    writer = capture.CaptureWriter(args.write, header, rotation(args),
                                   compression=getattr(args, "compress", None) or capture.CODECS[0])
    return capture.CaptureRecorder(writer, syscalls, live_container_of=container_of,
                                   live_procfs=procfs, snaplen=getattr(args, "string_len", None))


def start_recorder(rec, state, decoder, source, resolver=None) -> None:
    """Open the first file; CliError if it cannot be created."""
    if resolver is not None and resolver.cgroups is not None:
        # the containers running now, with their cgroup ids, for the file's header
        known = []
        for cgid, path in resolver.cgroups.items():
            c = resolver.resolve_path(path)
            if not c.is_host:
                known.append((cgid, c))
        rec.add_containers(known)
    rec.writer.header.update(mono_to_wall_ns=decoder.offset, syscall_arch=decoder.table.arch)
    try:
        rec.start(state, decoder, source)
    except OSError as e:
        raise CliError(f"cannot write {rec.writer.base}: {e.strerror or e}") from None


def close_recorder(rec) -> str:
    """Close the capture; the line that says what it holds."""
    try:
        rec.close()
    except OSError as e:
        raise CliError(f"writing the capture failed: {e.strerror or e}") from None
    w = rec.writer
    files = w.files[0] if len(w.files) == 1 else f"{len(w.files)} files ({w.files[0]} …)"
    extra = f" + {rec.context} state records" if rec.context else ""
    return f"cdig: {rec.written} events{extra} written to {files}, {w.bytes_written} bytes"


def open_replay(paths: list[str], quiet: bool = False):  # -> ReplaySource
    """A ReplaySource over capture files; each loss is reported on stderr as found."""
    def report(loss) -> None:
        if not quiet:
            print(f"cdig: {loss.message()}", file=sys.stderr)

    # a CaptureError (one line) reaches main(), which prints it (cdig/errors.py)
    if any_scap(paths):  # a sysdig/Falco .scap: the same interface (collector.scap)
        return replay_source(paths, on_loss=report)
    return capture.ReplaySource(paths, on_loss=report)


# the fields that never read an I/O call's data (evt.buffer, evt.args, evt.info,
# evt.arg.data … do): a filter of only these, and sinks that read none (``want_data``
# of replay_events), let a .scap read copy no read/write data (ScapSource.want_data)
_NO_DATA_PREFIXES = ("proc.", "thread.", "fd.", "container.", "k8s.", "user.", "group.")
_NO_DATA_EVT = frozenset((
    "evt.num", "evt.time", "evt.time.s", "evt.outputtime", "evt.datetime", "evt.datetime.s",
    "evt.rawtime", "evt.rawtime.s", "evt.rawtime.ns", "evt.reltime", "evt.reltime.s",
    "evt.reltime.ns", "evt.deltatime", "evt.deltatime.s", "evt.deltatime.ns", "evt.latency",
    "evt.latency.s", "evt.latency.ns", "evt.latency.human", "evt.type", "evt.category",
    "evt.dir", "evt.cpu", "evt.res", "evt.rawres", "evt.failed", "evt.is_io",
    "evt.is_io_read", "evt.is_io_write", "evt.io_dir", "evt.is_wait", "evt.count",
    "evt.count.error", "evt.count.error.file", "evt.count.error.net",
    "evt.count.error.memory", "evt.count.error.other", "evt.count.exit"))


def reads_data(flt) -> bool:
    """Whether the filter may read an I/O call's data (any field not known not to)."""
    if flt is None:
        return False
    return not all(f in _NO_DATA_EVT or f.startswith(_NO_DATA_PREFIXES) for f in flt.fields)


def replay_events(paths: list[str], flt, on_event: Callable, quiet: bool = False,
                  max_events: int | None = None, progress: Any = None,
                  want_data: bool = True) -> tuple[Any, Any]:
    """Run a replay session: every shown event passing ``flt`` goes to ``on_event``.

    Returns (counters, source). ``on_event`` may also be a batch sink (it has
    ``batch_sink = True``): it then gets (batch, matched mask) instead; or a
    factory of one (``batch_sink_factory = True``), called with the syscall table.
    ``progress``: a trace_flags.Progress (-P), given the source and every batch.
    ``want_data=False``: ``on_event`` reads no I/O data; if the filter reads none
    either, a .scap source copies none (the events are otherwise the same)."""
    def sinks(decoder):
        more = [progress] if progress is not None else []
        if getattr(on_event, "batch_sink_factory", False):  # built for the capture's syscalls
            return [on_event(decoder.table), *more]
        return [on_event if getattr(on_event, "batch_sink", False) else EventSink(on_event),
                *more]

    src = open_replay(paths, quiet)
    if progress is not None:
        progress.source = src
    if not want_data and not reads_data(flt) and hasattr(src, "want_data"):
        src.want_data = False
    session = Session.replay(src, flt, sinks)
    unread = _prune_unread(session, src) if max_events is None else []
    gc.freeze()  # the State's objects live long and form no cycles: see trace.py
    try:
        session.run(max_events=max_events)
        if progress is not None:
            progress.finish()
    finally:
        gc.unfreeze()
        src.close()
    for sink in unread:
        sink.add_unread(src.left_shown)
    return session.counters, src


def _prune_unread(session: Session, src: Any) -> list[Any]:
    """No filter, and every sink reads only some rows beyond counting them all
    (``rows_read``: cdig summary --by file, the I/O calls): a .scap source leaves the
    others out, as for a filter's prefilter, but for the rows that change state; the
    sinks then count them (``add_unread``, after the run). The sinks so told (or none)."""
    sinks = session.sinks
    if session.filter is not None or session.select is not None or session.hold is not None \
            or not sinks or getattr(src, "prune", True) is not None or \
            not hasattr(src, "left_shown") or session.stateless:
        return []
    reads: list[Callable[[Any], Any]] = []
    for s in sinks:
        r = getattr(s, "rows_read", None)
        if r is None:
            return []
        reads.append(r)
    mutating = session.enricher.mutating_columns

    def prune(cols: Any, len2: Any) -> Any:
        keep = mutating(cols, len2)
        for r in reads:
            keep = keep | r(cols)
        return keep

    src.prune = prune
    return list(sinks)


def run_trace_replay(args: argparse.Namespace, flt, fmt: Any, filter_text: str,
                     select: Callable | None, chisel: Any = None) -> int:
    """``cdig trace -r FILE…``: the live session over a capture's records (with
    ``chisel``, a ``chisel_cmd.ChiselPlan``: its table at the end instead of lines)."""
    src = open_replay(args.read)
    if getattr(args, "trace_flags", None) is not None:
        args.trace_flags.reading(src)  # -P reads its progress()
    rec = None
    try:
        if args.write:  # re-filter a capture into a new one
            rec = open_recorder(args, filter_text, src.container_of, src.procfs,
                                syscalls=src.syscalls, host=src.header)
        show = chisel is None and (rec is None or args.format or args.json)
        out = sys.stdout
        lines: list = []

        def sinks(decoder):
            if show:
                lines.append(LineSink(fmt(decoder.table), out))
            return lines + ([rec] if rec is not None else []) + \
                ([chisel.run] if chisel is not None else []) + \
                list(getattr(args, "extra_sinks", ()))  # -S, -v (cdig/trace_flags.py)

        session = Session.replay(src, flt, sinks, select=select,
                                 on_batch=out.flush if show else None, recorder=rec)
        if rec is not None:
            start_recorder(rec, session.state, session.decoder, src)
        if chisel is not None:
            chisel.start(session.state, src)
        gc.freeze()
        signal.signal(signal.SIGINT, lambda s, f: src.stop())
        try:
            session.run(max_events=args.numevents, duration_s=args.duration)
        finally:
            gc.unfreeze()
            signal.signal(signal.SIGINT, signal.default_int_handler)
        if chisel is not None:
            chisel.finish(out)
        out.flush()
        if getattr(args, "trace_flags", None) is not None:
            args.trace_flags.finish(src.drops())
        c = session.counters
        shown, skipped_line = shown_summary(c.matched, lines)
        print(f"cdig: {shown} events shown, {c.records} seen, {src.drops()} dropped"
              + (" (while capturing)" if src.drops() else ""), file=sys.stderr)
        if skipped_line:
            print(skipped_line, file=sys.stderr)
        if rec is not None:
            print(close_recorder(rec), file=sys.stderr)
            rec = None
    finally:
        if rec is not None:
            rec.writer.close()
        src.close()
    return replay_status(src)  # 3 if a capture was damaged or truncated
