"""``cdig trace``: assemble source → decode → state → filter → formatter."""

from __future__ import annotations

import argparse
import gc
import os
import signal
import sys
import time

from .errors import EXIT_OK, EXIT_USAGE, CliError


def _filter_text(args: argparse.Namespace) -> str:
    text = " ".join(args.filter or [])
    if getattr(args, "failed", False):
        text = f"evt.failed=true and ({text})" if text.strip() else "evt.failed=true"
    return text


def _compile(text: str):  # -> Filter
    """The compiled filter; a FilterError goes up to main(), which prints the
    message, the filter and a caret under the column (cdig/errors.py)."""
    from .collector.filter import compile_filter

    return compile_filter(text)


# Longest start-up wait for the runtimes to name the running containers.
METADATA_WAIT_S = 3.0

# sysdig's -pk: the pod instead of the container name
K8S_FORMAT = (
    "*%evt.num %evt.outputtime %evt.cpu %k8s.pod.name (%container.id) "
    "%proc.name (%thread.tid:%thread.vtid) %evt.dir %evt.type %evt.info"
)


def _formatter(args: argparse.Namespace):  # -> (SyscallTable -> BatchRenderer)
    """What -p/-j ask for, checked now (a bad field is a usage error); the renderer
    is built once the syscall table of the source is known."""
    from .collector.fields import UnknownFieldError
    from .collector.formatter import CONTAINER_FORMAT, DEFAULT_FORMAT, Formatter
    from .collector.session import renderer_for
    from .trace_flags import timetype_format

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


def shown_summary(matched: int, line_sinks: list) -> tuple[int, str | None]:
    """(the events shown, a line on the ones a missing field skipped, or None).

    sysdig prints a -p line only when every field of the format has a value (unless
    the format begins with '*'): a matched event can print nothing, and is then not
    shown. Without a line sink (-w alone) every matched event counts as shown."""
    if not line_sinks:
        return matched, None
    printed = sum(s.printed for s in line_sinks)
    skipped = sum(s.skipped for s in line_sinks)
    if not skipped:
        return printed, None
    return printed, (f"cdig: {matched} events matched the filter, {printed} printed, "
                     f"{skipped} skipped because a field of the format was missing "
                     "(begin the format with '*' to print those too, with <NA>)")


def _buffer_options(args: argparse.Namespace) -> None:
    """-s (the I/O snaplen) checked; -A/-x/-X/-b: how data= and evt.buffer print."""
    from cdig.collector.fields.buffer import DOTS, set_print_mode
    from cdig.probes.syscalls.layout import IO_MAX

    snaplen = getattr(args, "snaplen", None)
    if snaplen is not None and not 0 <= snaplen <= IO_MAX:
        raise CliError(f"-s takes 0 to {IO_MAX} bytes of I/O data, not {snaplen}", EXIT_USAGE)
    set_print_mode(getattr(args, "buffer_mode", None) or DOTS)


def wants_enter_events(flt) -> bool:
    """Whether the filter can select enter events ('>'): a comparison of evt.dir
    other than evt.dir=< (or !=>), or any under a 'not'. Only then does the probe
    send an enter record for every syscall."""
    from cdig.collector.filter.syntax import And, Compare, Not, Or

    def walk(e, negated: bool) -> bool:
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


def kernel_filter(flt, resolver=None, containers: list[str] | None = None):
    """The KernelFilter (probe side) a user filter and ``-c`` imply."""
    from .probes.kernel_filter import KernelFilter
    from .probes.syscall_table import table

    push = flt.pushdown()
    cgroup_ids: frozenset[int] | None = None
    refs = set(push.container_refs or ())
    if containers:
        refs |= set(containers)
    if refs and resolver is not None and resolver.cgroup_ids_usable:
        # Push down only when every reference names a running container: one
        # that has not started yet has no cgroup, so userspace filters alone.
        ids: set[int] = set()
        for ref in refs:
            matches = resolver.by_ref(ref)
            if not matches:
                ids = set()
                break
            for c in matches:
                ids |= resolver.cgroup_ids_for(c)
        if ids:
            cgroup_ids = frozenset(ids)
    syscalls = None
    if push.syscalls is not None:
        known = table().by_name
        syscalls = frozenset(s for s in push.syscalls if s in known)
        if len(syscalls) != len(push.syscalls):
            syscalls = None  # a sched event type (procexit...) or unknown: no pushdown
    return KernelFilter(pids=push.pids, cgroup_ids=cgroup_ids, syscalls=syscalls,
                        failed_only=push.failed_only)


def dump_bpf(filter_text: str = "") -> str:
    from .probes.syscalls.probe import ProbeConfig, SyscallProbe

    flt = _compile(filter_text)
    return SyscallProbe(ProbeConfig(filter=kernel_filter(flt))).dump()


def container_select(refs: list[str]):  # -> Select (EventBatch -> mask)
    """--container NAME|ID: rows whose container matches by name, full id or id prefix, also
    for containers that start after the trace does. Tested once per container."""
    import numpy as np

    def match(c) -> bool:
        for r in refs:
            if c.name == r or c.id == r or (len(r) >= 3 and c.id.startswith(r)):
                return True
        return False

    def select(b):
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
        from .collector.fields import format_field_list, format_field_markdown

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
            args.filter, args.failed = [chisel.filter_text(_filter_text(args))], False
    flt = _compile(_filter_text(args))
    _buffer_options(args)
    fmt = _formatter(args)
    if args.numevents is not None and args.numevents <= 0:
        raise CliError("-n needs a positive number of events", EXIT_USAGE)
    from .capture_cmd import check_capture_args, run_trace_replay

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
        return run_trace_replay(args, flt, fmt, _filter_text(args), select, chisel)
    if os.geteuid() != 0:
        raise CliError("live tracing needs root (BPF); run with sudo")
    mb = args.buffer_mb
    if mb <= 0 or mb & (mb - 1):
        raise CliError(f"--buffer-mb must be a power of two, not {mb}", EXIT_USAGE)

    from .collector.containers import ContainerResolver
    from .collector.session import LineSink, Session
    from .collector.sources import LiveSource
    from .collector.state import State
    from .probes.syscalls.probe import ProbeConfig

    resolver = ContainerResolver.for_host()
    # Look up names, images and pod labels of the containers already running
    # (on the resolver's thread) while the probe compiles; waited for below.
    resolver.scan()
    kf = kernel_filter(flt, resolver, args.container)
    backlog = getattr(args, "backlog_mb", 512)
    if backlog <= 0:
        raise CliError(f"--backlog-mb needs a positive number, not {backlog}", EXIT_USAGE)
    source = LiveSource(ProbeConfig(events_bytes=mb << 20, ext_bytes=2 * mb << 20,
                                    io_bytes=mb << 20, filter=kf,
                                    snaplen=getattr(args, "snaplen", 0) or 0,
                                    enter_events=getattr(args, "enter", False)
                                    or wants_enter_events(flt)),
                        max_backlog_bytes=backlog << 20)
    state = State(container_of=resolver.resolve)
    rec = None
    scap = None
    if args.write and wants_scap(args):  # sysdig's format: the writer sees each batch first
        from .capture_cmd import rotation
        from .collector.scap.writer import ScapWriter

        scap = ScapWriter(args.write, container_of=resolver.resolve,
                          compress=args.write.lower().endswith(".gz"), rotation=rotation(args))
        scap.drop_counter = source.drops  # marked in the file as sysdig's drop events
    elif args.write:  # -w: the recorder keeps what State learns from /proc and runtimes
        from .capture_cmd import close_recorder, open_recorder, start_recorder

        rec = open_recorder(args, _filter_text(args), resolver.resolve)
        state = State(container_of=rec.container_of, procfs=rec.procfs)
    select = container_select(args.container) if args.container else None

    out = sys.stdout
    last_drops = [0, time.monotonic()]

    def on_batch() -> None:
        out.flush()
        now = time.monotonic()
        if now - last_drops[1] >= 1.0:  # report new drops at most once a second
            last_drops[1] = now
            d = source.drops()
            if d > last_drops[0]:
                print(f"cdig: {d - last_drops[0]} events dropped (kernel ring buffer full); "
                      f"{d} in all", file=sys.stderr)
                last_drops[0] = d

    stopping = [False]

    def on_sigint(signum, frame) -> None:
        # first Ctrl-C: stop reading, show what was already read; second: now
        if stopping[0]:
            raise KeyboardInterrupt
        stopping[0] = True
        source.stop()
        left = source.backlog_bytes()
        if left >= 1 << 20:  # seconds of work may be queued: say so, and how to skip it
            print(f"cdig: stopping; {left / (1 << 20):.0f} MB read from the kernel are still "
                  "being processed (Ctrl-C again to stop now)", file=sys.stderr)

    interrupted = False
    try:
        source.start()
        state.seed()
        # Events of containers that ran before the trace must show their names
        # and pod labels from the first event on: filters such as
        # k8s.pod.name=web-0 match nothing until the metadata has landed.
        resolver.wait_for_metadata(METADATA_WAIT_S)
        # The State's objects live long and form no cycles: the cyclic GC's
        # passes over them cost more than the work.
        gc.freeze()
        gc.set_threshold(200_000, 50, 1000)
        # the ring reader thread must get the GIL often, or the kernel ring fills
        sys.setswitchinterval(0.001)
        signal.signal(signal.SIGINT, on_sigint)
        signal.signal(signal.SIGTERM, on_sigint)
        show = chisel is None and ((rec is None and scap is None) or args.format or args.json)
        line_sinks: list = []

        def sinks(decoder):
            if show:
                line_sinks.append(LineSink(fmt(decoder.table), out))
            out_sinks: list = list(line_sinks)
            if chisel is not None:
                out_sinks.append(chisel.run)
            out_sinks.extend(getattr(args, "extra_sinks", ()))  # -S, -v (trace_flags.py)
            if rec is not None:
                start_recorder(rec, state, decoder, source, resolver)
                out_sinks.append(rec)
            if scap is not None:  # matched rows + state rows (state-only), as -w does
                from .collector.enrich import Enricher
                from .collector.scap.sink import ScapSink

                scap.offset = decoder.offset  # the wall clock of the probe's timestamps
                out_sinks.append(ScapSink(scap, state, Enricher(state, decoder.table).state_rows))
            return out_sinks

        tick = chisel.live_ticker(out) if chisel is not None else None
        if chisel is not None:
            chisel.start(state, source)

        def on_batch_all() -> None:
            on_batch()
            if tick is not None:
                tick()

        session = Session.live(source, resolver, state, flt, sinks, select=select,
                               on_batch=on_batch_all)
        hold = session.hold
        try:
            session.run(max_events=args.numevents, duration_s=args.duration)
        except KeyboardInterrupt:
            interrupted = True
        if chisel is not None:
            chisel.finish(out)
        out.flush()
        c = session.counters
        stats = source.stats()
        dropped = source.drops()
        if getattr(args, "trace_flags", None) is not None:
            args.trace_flags.finish(dropped)
        lost = ""
        if interrupted and source.backlog_bytes():
            lost = f", {source.backlog_bytes()} bytes read but not shown (interrupted)"
        shown, skipped_line = shown_summary(c.matched, line_sinks)
        print(f"cdig: {shown} events shown, {c.records} seen, {dropped} dropped"
              + (f" (ring {stats.get('dropped_ring', 0)}, strings {stats.get('dropped_ext', 0)},"
                 f" I/O data {stats.get('dropped_io', 0)},"
                 f" in-flight {stats.get('dropped_inflight', 0)})" if dropped else "") + lost,
              file=sys.stderr)
        if skipped_line:
            print(skipped_line, file=sys.stderr)
        if hold is not None and hold.held_batches:
            late = f", {hold.released_early} passed unnamed after {hold.timeout_s:g} s" \
                if hold.released_early else ""
            print(f"cdig: the stream waited up to {hold.max_held_s * 1000:.1f} ms for new "
                  f"containers' names ({hold.held_batches} batches{late})", file=sys.stderr)
        if rec is not None:
            print(close_recorder(rec), file=sys.stderr)
        if scap is not None:
            scap.close()
            print(f"cdig: {c.matched} events + {scap.records - c.matched} state records written "
                  f"to {args.write} as .scap, {scap.bytes_written} bytes"
                  + (f" in {len(scap.files)} files" if scap.rotation is not None else "")
                  + (f", {scap.dropped} dropped events marked" if scap.dropped else ""),
                  file=sys.stderr)
    finally:
        if rec is not None:
            rec.writer.close()
        if scap is not None and not scap.closed:
            scap.close()
        source.close()
        resolver.close()
    return EXIT_OK
