#!/usr/bin/env python3
"""What enter records and I/O data (snaplen) cost the traced program, per syscall.

Three C loops (built here with gcc; each times itself, CPU and wall): getppid()
calls, write()s of 128 bytes to /dev/null, and writev()s of the same 128 bytes as
four iovecs of 32 (--loops picks some). For each loop, in one run,
configurations interleaved round by round (probe_overhead.py's measure()):

  baseline     the loop with nothing attached
  exit-only    cdig's probe as ``cdig trace`` loaded it before issue 12: one record
               per completed syscall, no I/O data (-s 0)
  enter        the same plus an enter record for every syscall (--enter, or a
               filter that can select evt.dir='>')
  snap80       exit-only records plus the first 80 bytes of each I/O buffer
               (``cdig trace``'s default -s 80: a write is a 216-byte record of
               the io ring, whose records are sized by the snaplen)
  snap80-old   with --old-tree DIR: snap80 with the probe of DIR's probes/ (a
               baseline of another tree in the same run, e.g. a git worktree of
               the commit before the io ring: a write was a 904-byte record of
               the strings ring)

Each probe configuration is a child process that loads ``SyscallProbe`` (default
ring sizes, no kernel filter) and drains both rings in bulk, counting records and
nothing else, so the figure is the kernel side and the cheapest consumer.

Reported per loop and configuration: CPU ns per call of the loop (the BPF programs
run inside its syscalls), the ns added over exit-only and the ratio to exit-only.

Needs root, BPF and gcc. Never touches the network.

Run:  sudo flock /tmp/cdig-heavy.lock .venv/bin/python benchmarks/io_enter_cost.py \\
          [--calls N] [--rounds R] [--runs K] [--old-tree DIR] [--loops getppid,write,writev]
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import statistics
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from benchlib import (
    JsonChild,
    StopSignal,
    compile_c,
    drain_until_stopped,
    host_header,
    log,
    unmet_needs,
)
from exporter_overhead import LOOP_C
from probe_overhead import measure, nothing

HERE = Path(__file__).resolve().parent

_CALL = "            syscall(SYS_getppid);"
_OUTER = "    for (long c = 0; c < chunks; c++) {"
assert _CALL in LOOP_C and _OUTER in LOOP_C


def _io_loop(setup: str, call: str) -> str:
    """exporter_overhead's getppid loop with ``call`` instead, ``setup`` before it."""
    head = "#include <unistd.h>\n#include <fcntl.h>\n#include <sys/uio.h>"
    return LOOP_C.replace("#include <unistd.h>", head).replace(_OUTER, setup + _OUTER) \
        .replace(_CALL, f"            {call};")


_BUF = "    static char buf[128];\n    int fd = open(\"/dev/null\", O_WRONLY);\n"
WRITE_LOOP_C = _io_loop(_BUF, "syscall(SYS_write, fd, buf, sizeof buf)")
# writev of the same 128 bytes as four iovecs of 32: the probe gathers them (gather_iov)
WRITEV_LOOP_C = _io_loop(_BUF + "    struct iovec v[4] = {{buf, 32}, {buf + 32, 32}, "
                         "{buf + 64, 32}, {buf + 96, 32}};\n", "syscall(SYS_writev, fd, v, 4)")
LOOPS = {"getppid": LOOP_C, "write": WRITE_LOOP_C, "writev": WRITEV_LOOP_C}

CONFIGS = {"exit-only": (0, False), "enter": (0, True), "snap80": (80, False)}


def _use_probes_of(tree: str) -> None:
    """Import cdig.probes from another tree (a git worktree) instead of the
    installed one: the probe that tree builds, drained by this same loop."""
    import importlib.util

    d = Path(tree).resolve() / "probes"
    spec = importlib.util.spec_from_file_location("cdig.probes", d / "__init__.py",
                                                  submodule_search_locations=[str(d)])
    assert spec is not None and spec.loader is not None
    mod = importlib.util.module_from_spec(spec)
    sys.modules["cdig.probes"] = mod
    spec.loader.exec_module(mod)


def child_drain(snaplen: int, enter: bool, tree: str | None = None) -> None:
    """cdig's probe and bulk ring reader, no decode; one JSON line at the end."""
    if tree:
        _use_probes_of(tree)
    from cdig.probes.ringbuf import RingPoller
    from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

    stop = StopSignal()
    probe = SyscallProbe(ProbeConfig(snaplen=snaplen, enter_events=enter))
    probe.load()
    poller = RingPoller(probe.rings)
    total = 0

    def drain() -> int:
        nonlocal total
        n = sum(len(r.drain()) for r in probe.rings)  # 2 rings before the io ring
        total += n
        return n

    print(json.dumps({"ready": True, "pairing": probe.pairing}), flush=True)
    drain_until_stopped(drain, poller.wait, stop)
    stats = probe.stats()
    poller.close()
    probe.close()
    print(json.dumps({"records": total, "kernel": stats}), flush=True)


class Drain(JsonChild):
    """A running ``--child`` drain with one configuration; ``result`` its report."""

    def __init__(self, snaplen: int, enter: bool, tree: str | None = None) -> None:
        super().__init__([sys.executable, str(Path(__file__).resolve()), "--child",
                          "--snaplen", str(snaplen), *(["--enter"] if enter else []),
                          *(["--tree", tree] if tree else [])])

    @contextlib.contextmanager
    def run(self) -> Iterator[str]:
        with self.running():
            yield " ".join(self.argv[1:])


def report(loop: str, res: dict[str, Any], calls: int, rounds: int) -> None:
    cpu = res["cpu"]
    if any(not v for v in cpu.values()):
        print(f"\n{loop}: a configuration had no clean run: no table")
        return
    med = {k: statistics.median(v) for k, v in cpu.items()}
    ref = med["exit-only"]
    print(f"\n{loop} loop ({calls:,} calls a run; per round the best run, median of "
          f"{rounds} rounds; CPU ns per call of the loop, spread = min..max)")
    print(f"  {'config':10s} {'ns/call':>8s} {'added':>7s} {'x exit-only':>11s} {'spread':>10s}")
    for k, v in cpu.items():
        print(f"  {k:10s} {med[k]:8.1f} {med[k] - ref:7.1f} {med[k] / ref:11.2f} "
              f"{f'{min(v):.0f}..{max(v):.0f}':>10s}")
    print("  added: ns per syscall over the exit-only probe in the same run")
    for k, runs in res["delivery"].items():
        for i, d in enumerate(runs):
            kern = d.get("kernel", {})
            drops = sum(v for n, v in kern.items() if n.startswith("dropped"))
            print(f"  {k} round {i + 1}: {d.get('records', 0):,} records for "
                  f"{d['expected']:,} calls, kernel drops {drops:,}")


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=1_000_000, help="calls per run")
    ap.add_argument("--runs", type=int, default=3, help="runs per config per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (configs interleaved)")
    ap.add_argument("--old-tree", metavar="DIR",
                    help="also snap80 as another cdig tree builds it (a git worktree)")
    ap.add_argument("--loops", default=",".join(LOOPS),
                    help="which loops, comma-separated (default: " + ",".join(LOOPS) + ")")
    ap.add_argument("--child", action="store_true", help=argparse.SUPPRESS)
    ap.add_argument("--tree", help=argparse.SUPPRESS)
    ap.add_argument("--snaplen", type=int, default=0, help=argparse.SUPPRESS)
    ap.add_argument("--enter", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args(argv)
    if args.child:
        child_drain(args.snaplen, args.enter, args.tree)
        return 0
    lacking = unmet_needs(tools=["gcc"])  # root: BPF
    if lacking:
        print(lacking, file=sys.stderr)
        return 1
    print(host_header(HERE))
    with tempfile.TemporaryDirectory() as d:
        for loop in args.loops.split(","):
            binary = compile_c(LOOPS[loop], Path(d) / f"cdig{loop}{os.getpid()}"[:15])
            drains = {k: Drain(*v) for k, v in CONFIGS.items()}
            if args.old_tree:
                drains["snap80-old"] = Drain(80, False, args.old_tree)
            configs = {"baseline": nothing, **{k: dr.run for k, dr in drains.items()}}
            log(f"{loop} loop")
            res = measure(binary, args.calls, args.rounds, args.runs, configs, drains)
            report(loop, res, args.calls, args.rounds)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
