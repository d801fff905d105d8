"""CLI glue for chisels: ``cdig trace -c NAME [ARGS] [filter]``, ``-cl``, ``-i NAME``.

As in sysdig, the chisel's arguments are the first words after it (or the words of
a quoted ``-c 'NAME ARGS'``); the rest is the filter, ANDed with the chisel's own.
A chisel prints its table at the end of a capture (``-r``) or of a live trace;
live on a terminal it also redraws it every second, as sysdig does.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections.abc import Callable
from typing import Any, TextIO

from .collector.chisels import ChiselError, describe, list_text, lookup
from .errors import EXIT_OK, EXIT_USAGE, CliError

CLEAR = "\x1b[H\x1b[2J"  # cursor home, clear screen


def listing(args: argparse.Namespace) -> int | None:
    """``-cl`` / ``-i NAME``: print and return the exit status; None otherwise."""
    if getattr(args, "list_chisels", False) or getattr(args, "chisel", None) == "l":
        sys.stdout.write(list_text() + "\n")
        return EXIT_OK
    name = getattr(args, "chisel_info", None)
    if name:
        try:
            sys.stdout.write(describe(name) + "\n")
        except ChiselError as e:
            raise CliError(str(e), EXIT_USAGE) from None
        return EXIT_OK
    return None


class ChiselPlan:
    """A chisel chosen on the command line: its run (a batch sink), the filter to
    compile (the chisel's AND the user's) and how it prints."""

    def __init__(self, args: argparse.Namespace) -> None:
        words = args.chisel.split()
        name, args_in_c = words[0], words[1:]
        try:
            chisel = lookup(name)
            rest = list(args.filter or [])
            # unquoted, only the required arguments come from the words after it (the
            # rest is the filter); optional ones go in the quoted form, as in sysdig
            wanted = sum(1 for a in chisel.args if not a.optional) - len(args_in_c)
            chisel_args = args_in_c + rest[:max(wanted, 0)]
            args.filter = rest[max(wanted, 0):]  # what is left is the user's filter
            chisel.check(chisel_args)
            pc = (args.format or "") in ("c", "container")
            self.run = chisel.make(chisel_args, pc)
            self.own_filter = chisel.filter(chisel_args, pc)
            bind = getattr(self.run, "bind", None)
            if bind is not None:  # a chisel that reads the capture again (around)
                bind(getattr(args, "read", None), " ".join(args.filter))
            if chisel.first_event:  # the state at the first event: ps, lsof, netstat …
                args.numevents = 1
        except ChiselError as e:
            raise CliError(str(e), EXIT_USAGE) from None
        self.chisel = chisel

    def start(self, state: Any, source: Any = None) -> None:
        """The session's State, seeded, before its first event (what ps, lsof and
        netstat list), and its source (a .scap's procinfo events: topprocs_cpu)."""
        start = getattr(self.run, "start", None)
        if start is not None:
            start(state, source)

    def filter_text(self, user: str) -> str:
        parts = [p for p in (self.own_filter, user) if p.strip()]
        return " and ".join(f"({p})" for p in parts) if len(parts) > 1 else "".join(parts)

    def live_ticker(self, out: TextIO, interval_s: float = 1.0,
                    clock: Callable[[], float] = time.monotonic) -> Callable[[], None] | None:
        """An on_batch callback redrawing the table every ``interval_s`` on a terminal
        (sysdig's live chisels); None when ``out`` is not one (a pipe gets the table
        of the whole trace at the end)."""
        if not self.chisel.interval or not out.isatty():
            return None
        last = [clock()]

        def tick() -> None:
            now = clock()
            if now - last[0] >= interval_s:
                out.write(CLEAR + self.run.table(int((now - last[0]) * 1e9)) + "\n")
                out.flush()
                last[0] = now

        return tick

    def finish(self, out: TextIO, delta_ns: int = 0) -> None:
        text = self.run.table(delta_ns)  # "" for a chisel that printed as it went
        if text:
            out.write(text + "\n")
        out.flush()


def plan(args: argparse.Namespace) -> Any:  # -> ChiselPlan | None
    return ChiselPlan(args) if getattr(args, "chisel", None) else None
