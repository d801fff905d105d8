"""``cdig top``: the interactive TUI (``cdig.tui``), live or on a capture.

Everything the user can get wrong (a bad filter, no root, an unreadable
capture, no terminal) is a one-line CliError before the screen is taken over.
"""

from __future__ import annotations

import argparse
import gc
import os
import sys

from .collector.filter import compile_filter
from .errors import EXIT_DAMAGED, EXIT_ERROR, EXIT_OK, EXIT_USAGE, CliError

METADATA_WAIT_S = 3.0
ECHO_SNAPLEN = 256  # bytes of each I/O call's data that F5 echo shows


def _feed_live(args: argparse.Namespace):  # -> (LiveFeed, cleanup)
    from .collector.containers import ContainerResolver
    from .collector.sources import LiveSource
    from .collector.state import State
    from .probes.bpf_syscall import BpfRunStats, prog_run_stats
    from .probes.kernel_filter import KernelFilter
    from .probes.syscall_table import table
    from .probes.syscalls.probe import ProbeConfig
    from .tui.feeds import READER_TICK_S, READER_TRICKLE_GAP_S, LiveFeed

    if os.geteuid() != 0:
        raise CliError("live cdig top needs root (BPF); run with sudo, or read a capture "
                       "with -r FILE")
    mb = args.buffer_mb
    if mb <= 0 or mb & (mb - 1):
        raise CliError(f"--buffer-mb must be a power of two, not {mb}", EXIT_USAGE)
    resolver = ContainerResolver.for_host()
    resolver.scan()
    # A smaller userspace backlog than `trace`: a TUI that cannot keep up should
    # show drops (in its header) rather than grow: the counts come from the
    # kernel's counters, the stream only feeds the views that need events. The
    # rings' pages are resident once written (8 + 16 MB by default; the I/O data ring's 8
    # MB only once F5 echo has copied some).
    # every syscall wanted to start with, but checked in the kernel: the app narrows
    # the stream at run time to what needs events once the kernel counters count
    every = frozenset(s.name for s in table().by_nr.values())
    # the I/O calls' data (F5 echo) is compiled in, and copied only while echo is
    # shown (the app turns it on and off at run time)
    source = LiveSource(ProbeConfig(events_bytes=mb << 20, ext_bytes=2 * mb << 20,
                                    io_bytes=mb << 20,
                                    filter=KernelFilter(syscalls=every),
                                    snaplen=ECHO_SNAPLEN),
                        max_backlog_bytes=64 << 20, trickle_gap_s=READER_TRICKLE_GAP_S,
                        tick_s=READER_TICK_S)
    print("cdig: loading the BPF probe…", file=sys.stderr, flush=True)
    try:
        source.start()  # a ProbeError is worded by the loader, printed by main()
    except BaseException:
        resolver.close()
        raise
    source.probe.want_io_data(False)  # until echo is shown
    stats = BpfRunStats()
    fds = source.probe.prog_fds()
    state = State(container_of=resolver.resolve)
    state.seed()
    resolver.wait_for_metadata(METADATA_WAIT_S)
    return LiveFeed(source, resolver, state, bpf_stats=lambda: prog_run_stats(fds),
                    on_close=stats.close)


def run_top(args: argparse.Namespace) -> int:
    from .tui.views import VIEWS

    filter_text = " ".join(args.filter or [])
    compile_filter(filter_text)  # a bad filter: CliError with the caret, before the screen
    if args.delay <= 0:
        raise CliError("-d needs a positive number of milliseconds", EXIT_USAGE)
    if args.view not in VIEWS:
        raise CliError(f"-v/--view: no view {args.view!r}; views: {', '.join(VIEWS)}",
                       EXIT_USAGE)
    if args.speed < 0:
        raise CliError("--speed needs 0 (as fast as possible) or a positive factor",
                       EXIT_USAGE)
    if not (sys.stdin.isatty() and sys.stdout.isatty()):
        raise CliError("cdig top needs a terminal; for a stream use cdig trace, for "
                       "tables cdig summary -r FILE", EXIT_USAGE)
    from .tui.terminal_guard import TerminalGuard

    # before any thread: whatever ends this process, the terminal is given back
    guard = TerminalGuard(TerminalGuard.stdout_fd()).start()
    feed = app = None
    try:
        if args.read:
            from .tui.feeds import ReplayFeed

            feed = ReplayFeed(args.read)  # a CaptureError: one line, from main()
        else:
            feed = _feed_live(args)
        from .tui.app import make_app

        # Events form no reference cycles: young-generation GC passes are pure cost.
        gc.set_threshold(100_000, 50, 100)
        sys.setswitchinterval(0.002)  # the ring reader and the UI both need the GIL often
        app = make_app(feed, interval=args.delay / 1000, filter_text=filter_text,
                       max_rows=args.max_rows, speed=args.speed, start_view=args.view,
                       start_paused=args.paused, handle_signals=True,
                       full_stream=args.full_stream)
        app.run()
    finally:
        try:
            if feed is not None:
                feed.close()
        finally:
            guard.release()  # Textual restored the terminal (or never took it)
    if app.crash is not None:  # Textual printed the traceback if CDIG_DEBUG is set
        e = app.crash
        print(f"cdig: internal error in cdig top: {type(e).__name__}: {e} "
              "(set CDIG_DEBUG=1 for the traceback)", file=sys.stderr)
        return EXIT_ERROR
    if app.exit_signal is not None:
        return 128 + app.exit_signal
    if app.feed_error:
        print(f"cdig: the collector stopped: {app.feed_error}", file=sys.stderr)
        return EXIT_ERROR
    losses = getattr(feed, "losses", None)
    if losses:  # as `cdig trace -r`: what was lost, and exit status 3
        print(f"cdig: {losses[0]}" + (f" (and {len(losses) - 1} more damaged files)"
                                      if len(losses) > 1 else ""), file=sys.stderr)
        return EXIT_DAMAGED
    return EXIT_OK
