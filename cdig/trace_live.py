"""``cdig trace`` live: the probe's rings → decode → state → filter → sinks.

Imported by ``cdig.trace`` only once a live trace is asked for (and by ``cdig probe``):
its modules (the probe, the ring reader, the runtimes' clients, the .scap writer)
are no part of a replay's start-up."""

from __future__ import annotations

import argparse
import gc
import signal
import sys
import time
from typing import Any

from .capture_cmd import close_recorder, open_recorder, rotation, start_recorder
from .collector.containers import ContainerResolver
from .collector.decode import Decoder
from .collector.enrich import Enricher
from .collector.filter import Filter, compile_filter
from .collector.scap.sink import ScapSink
from .collector.scap.writer import ScapWriter
from .collector.session import LineSink, Session
from .collector.sources import LiveSource
from .collector.state import State
from .errors import EXIT_OK, EXIT_USAGE, CliError
from .probes.kernel_filter import KernelFilter
from .probes.syscall_table import table
from .probes.syscalls.probe import ProbeConfig, SyscallProbe
from .report import shown_summary
from .trace import args_filter, container_select, wants_enter_events, wants_scap

# Longest start-up wait for the runtimes to name the running containers.
METADATA_WAIT_S = 3.0


def kernel_filter(flt: Filter, resolver: ContainerResolver | None = None,
                  containers: list[str] | None = None) -> KernelFilter:
    """The KernelFilter (probe side) a user filter and ``-c`` imply."""
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
    """``cdig probe --dump-bpf``: the probe's C with the -D defines a filter implies."""
    flt = compile_filter(filter_text)
    return SyscallProbe(ProbeConfig(filter=kernel_filter(flt))).dump()


def run_live(args: argparse.Namespace, flt: Filter, fmt: Any, chisel: Any) -> int:
    """The live trace, its arguments checked by ``trace.run_trace``: ``fmt`` builds the
    line renderer, ``chisel`` is a ``chisel_cmd.ChiselPlan`` or None."""
    mb = args.buffer_mb
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
        scap = ScapWriter(args.write, container_of=resolver.resolve,
                          compress=args.write.lower().endswith(".gz"), rotation=rotation(args))
        scap.drop_counter = source.drops  # marked in the file as sysdig's drop events
    elif args.write:  # -w: the recorder keeps what State learns from /proc and runtimes
        rec = open_recorder(args, args_filter(args), resolver.resolve)
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

    def on_sigint(signum: int, frame: Any) -> None:
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
        line_sinks: list[LineSink] = []

        def sinks(decoder: Decoder) -> list[Any]:
            if show:
                line_sinks.append(LineSink(fmt(decoder.table), out))
            out_sinks: list[Any] = list(line_sinks)
            if chisel is not None:
                out_sinks.append(chisel.run)
            out_sinks.extend(getattr(args, "extra_sinks", ()))  # -S, -v (trace_flags.py)
            if rec is not None:
                start_recorder(rec, state, decoder, source, resolver)
                out_sinks.append(rec)
            if scap is not None:  # matched rows + state rows (state-only), as -w does
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
