#!/usr/bin/env python3
"""What ``cdig exporter`` costs: per-syscall overhead and scrape latency.

Overhead, on a C loop of getppid() calls (built here with gcc), in one run,
configurations interleaved round by round (medians reported):

  baseline         the loop with nothing attached
  floor-exit       an empty BPF program on raw_syscalls:sys_exit (the floor for
                   --no-latency: what any program on that tracepoint costs)
  floor-both       empty programs on sys_enter and sys_exit (the floor with latency)
  floor-exit-typed floor-exit and an empty program on the typed
                   syscalls:sys_enter_exit_group tracepoint: the hooks of
                   --no-latency before it found exit/exit_group, execveat and
                   rt_sigreturn without them (a typed sys_enter_* program hooks
                   every syscall's entry, which then tests a per-syscall
                   bitmap); still the hooks on kernels without bpf_task_pt_regs
  floor-raw-both   empty RAW_TRACEPOINT_PROBE programs on sys_enter and sys_exit
                   (the hooks cdig's latency mode uses)
  floor-raw-exit   an empty RAW_TRACEPOINT_PROBE on sys_exit: the hook of
                   --no-latency (0.6-0.7x what floor-exit adds in most runs here)
  bpftrace         bpftrace -e 'tracepoint:raw_syscalls:sys_exit
                   { @[cgroup, args->id] = count(); }'   (the same count map)
  cdig-nolat       cdig exporter --no-latency
  cdig-lat         cdig exporter (latency: task-local storage pairing)
  cdig-lat-hash    cdig exporter --pairing hash (latency through a tid hash)
  probe-lat        the shipped metrics probe alone, latency on (no exporter
                   process, no scrapes)
  bpftrace-lat     bpftrace doing latency mode's work: each syscall's time in a
                   hist() per (cgroup, syscall), the enter time in a tid map
  lat1..lat5, lat5-row
                   bench-only programs, latency mode's work piece by piece
                   (exporter_breakdown.py): the cost breakdown

Each cdig configuration is the real CLI, scraped once a second meanwhile
(as Prometheus would). A run's figure is the loop's CPU time per call in its
least disturbed of CHUNKS chunks (other load on a small host moved whole-run
figures by tens of ns). Reported: ns per call, ns added over baseline, the
spread over the rounds, and the added cost relative to bpftrace and to the
floor.

Goals (issue 14), from the same run: --no-latency adds <= 1.2x what floor-exit
adds (the empty classic sys_exit program); latency mode adds <= 1.0x what
bpftrace adds.

Scrape latency with 100 containers x 50 syscalls (as served: the default
per-class histograms, and the per-syscall fine histograms of
--latency-syscalls all --latency-buckets fine for comparison; goal <= 2 MB
and <= 50 ms with latency on):

  synthetic        the collector over synthetic map contents (no kernel):
                   Python cost of one scrape as served (exposition + gzip), next
                   to prometheus_client's generate_latest, latency on/off
  real-maps        the same 5,000 (cgroup, syscall) entries written into the
                   loaded probe's real BPF maps, read back with bpf(2) batch
                   lookups, then the whole scrape

Needs root, BPF, gcc and bpftrace. Never touches the network (the exporter
listens on 127.0.0.1).

--old-tree DIR adds cdig-nolat-old and cdig-lat-old: the exporter of another
checkout (git archive REV | tar -x -C DIR), run as python -m cdig over a link
tree of it, interleaved with this tree's in the same rounds: a before/after of
the goals' ratios in one run.

The ratios are computed round by round (each config's added cost over baseline
runs made just before it, divided by the reference's of the same round) and
reported as the median with the per-round spread: the ratio of two small added
costs moved 10-20% between runs when each side drifted on its own.

--variant NAME=FILE adds NAME-nolat and NAME-lat: the metrics probe built from
another metrics.bpf.c (e.g. an older commit's, from git show), loaded alone, for
an A/B of a probe change in the same run as cdig-nolat and cdig-lat.

--toggle: one loop process runs for the whole measurement (pinned to one CPU,
timing chunks of 20,000 getppid calls) while each config is attached and
detached around it in turn, every config window between two baseline windows
(1.5 s each); a window's figure is the 20th percentile of its chunks, a
config's added cost its window minus the mean of the two baselines, the
ratios again round by round. The host's load then falls on both sides of each
difference, seconds apart, instead of on separate processes.

Run:  sudo .venv/bin/python benchmarks/exporter_overhead.py [--calls N] [--rounds R]
"""

from __future__ import annotations

import argparse
import contextlib
import math
import os
import re
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import threading
import time
import urllib.request
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
sys.path.insert(0, str(REPO))
import exporter_breakdown as breakdown  # noqa: E402 - after the path

from tests.cdig_cli import cdig_command  # noqa: E402 - after the path

LOOP_C = r"""
#include <stdio.h>
#include <stdlib.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
static double ns(struct timespec a, struct timespec b) {
    return (b.tv_sec - a.tv_sec) * 1e9 + (b.tv_nsec - a.tv_nsec);
}
int main(int argc, char **argv) {
    long n = atol(argv[1]), chunks = argc > 2 ? atol(argv[2]) : 1;
    long per = n / chunks;
    double best = -1;
    struct timespec a, b, ca, cb;
    clock_gettime(CLOCK_MONOTONIC, &a);
    for (long c = 0; c < chunks; c++) {
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &ca);
        for (long i = 0; i < per; i++)
            syscall(SYS_getppid);
        clock_gettime(CLOCK_THREAD_CPUTIME_ID, &cb);
        double t = ns(ca, cb) / per;
        if (best < 0 || t < best)
            best = t;
    }
    clock_gettime(CLOCK_MONOTONIC, &b);
    /* CPU time of this thread per call in its least disturbed chunk (the BPF
       programs run in its syscalls, so they are in it; time spent preempted
       is not, and the chunk minimum leaves out the chunks whose caches other
       load disturbed), then wall time per call over the whole run */
    printf("%.2f %.2f\n", best, ns(a, b) / (per * chunks));
    return 0;
}
"""

EMPTY_EXIT = "TRACEPOINT_PROBE(raw_syscalls, sys_exit) { return 0; }"
EMPTY_BOTH = ("TRACEPOINT_PROBE(raw_syscalls, sys_enter) { return 0; }\n" + EMPTY_EXIT)
EMPTY_EXIT_TYPED = (EMPTY_EXIT + "\n"
                    "TRACEPOINT_PROBE(syscalls, sys_enter_exit_group) { return 0; }")
EMPTY_RAW_EXIT = "RAW_TRACEPOINT_PROBE(sys_exit) { return 0; }"
EMPTY_RAW_BOTH = "RAW_TRACEPOINT_PROBE(sys_enter) { return 0; }\n" + EMPTY_RAW_EXIT
BPFTRACE = "tracepoint:raw_syscalls:sys_exit { @[cgroup, args->id] = count(); }"


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


# --------------------------------------------------------------------------- tracers


@contextlib.contextmanager
def nothing() -> Iterator[str]:
    yield "(nothing attached)"


@contextlib.contextmanager
def bcc_program(text: str) -> Iterator[str]:
    from bcc import BPF  # benchmarks may import bcc; the package does it in probes/loader only

    b = BPF(text=text)
    try:
        yield f"bcc: {text}"
    finally:
        b.cleanup()


@contextlib.contextmanager
def bpftrace(script: str = BPFTRACE) -> Iterator[str]:
    p = subprocess.Popen(["bpftrace", "-e", script], stdout=subprocess.PIPE,
                         stderr=subprocess.DEVNULL, stdin=subprocess.DEVNULL)
    try:
        line = p.stdout.readline().decode()  # "Attaching 1 probe..."
        if "Attaching" not in line:
            raise RuntimeError(f"bpftrace did not attach: {line!r}")
        yield f"bpftrace -e '{script}'"
    finally:
        p.send_signal(signal.SIGINT)
        threading.Thread(target=p.stdout.read, daemon=True).start()  # the map it prints
        try:
            p.wait(30)
        except subprocess.TimeoutExpired:
            p.kill()
            p.wait()


@contextlib.contextmanager
def exporter(*args: str, old: bool = False) -> Iterator[str]:
    """``cdig exporter ARGS`` (``old``: the --old-tree's), scraped once a second."""
    if old:
        if OLD_TREE["env"] is None:
            raise RuntimeError("the -old configurations need --old-tree DIR")
        cmd = [sys.executable, "-m", "cdig", "exporter", "--listen", "127.0.0.1:0", *args]
        env, cwd = OLD_TREE["env"], OLD_TREE["cwd"]
    else:
        cmd = [*cdig_command(), "exporter", "--listen", "127.0.0.1:0", *args]
        env, cwd = None, None
    with tempfile.TemporaryFile() as err:
        p = subprocess.Popen(cmd, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                             stderr=err, env=env, cwd=cwd)
        stop = threading.Event()
        try:
            url = None
            deadline = time.monotonic() + 60
            while url is None:
                err.seek(0)
                m = re.search(rb"serving (\S+)", err.read())
                if m:
                    url = m.group(1).decode()
                elif p.poll() is not None or time.monotonic() > deadline:
                    err.seek(0)
                    raise RuntimeError(f"exporter failed: {err.read().decode()}")
                else:
                    time.sleep(0.05)

            def scraper() -> None:  # as Prometheus would, once a second
                while not stop.wait(1.0):
                    with contextlib.suppress(OSError):
                        urllib.request.urlopen(url, timeout=10).read()

            threading.Thread(target=scraper, daemon=True).start()
            yield " ".join(["cdig", "exporter", *args]) + (" (--old-tree)" if old else "")
        finally:
            stop.set()
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(30)
            except subprocess.TimeoutExpired:
                p.kill()
                p.wait()


@contextlib.contextmanager
def probe_variant(path: Path, latency: bool) -> Iterator[str]:
    from cdig.probes.metrics.config import MetricsConfig
    from cdig.probes.metrics.probe import MetricsProbe

    class Variant(MetricsProbe):
        def source(self) -> str:
            return path.read_text()

    # pairing "task": a variant that does not build with task storage fails here
    # rather than falling back to the tid hash unnoticed, as "auto" would
    p = Variant(MetricsConfig(latency=latency, pairing="task" if latency else "auto"))
    p.load()
    try:
        yield f"the metrics probe of {path} alone, latency={latency}"
    finally:
        p.close()


CONFIGS = {
    "baseline": lambda: nothing(),
    "floor-exit": lambda: bcc_program(EMPTY_EXIT),
    "floor-both": lambda: bcc_program(EMPTY_BOTH),
    "floor-exit-typed": lambda: bcc_program(EMPTY_EXIT_TYPED),
    "floor-raw-both": lambda: bcc_program(EMPTY_RAW_BOTH),
    "floor-raw-exit": lambda: bcc_program(EMPTY_RAW_EXIT),
    "bpftrace": lambda: bpftrace(),
    "bpftrace-lat": lambda: bpftrace(breakdown.BPFTRACE_LAT),
    "cdig-nolat": lambda: exporter("--no-latency"),
    "cdig-lat": lambda: exporter(),
    "cdig-lat-hash": lambda: exporter("--pairing", "hash"),
    "cdig-nolat-old": lambda: exporter("--no-latency", old=True),
    "cdig-lat-old": lambda: exporter(old=True),
    # the shipped probe alone (no exporter process, no scrapes)
    "probe-lat": lambda: probe_variant(REPO / "probes" / "metrics" / "program.bpf.c", True),
    **breakdown.configs(),  # lat1..lat5, lat5-row: latency mode's cost, piece by piece
}
# --old-tree: the environment that runs that tree's cdig (python -m cdig over a link tree)
OLD_TREE: dict = {"env": None, "cwd": None}


def use_old_tree(tree: Path, work: Path) -> None:
    """Run the -old configurations from ``tree`` (another checkout, e.g. git archive
    of an older commit): its package laid out as installed (scripts/typecheck.py's
    link tree) first on PYTHONPATH, run from a directory without a cdig/ in it."""
    sys.path.insert(0, str(REPO / "scripts"))
    from typecheck import link_tree

    link_tree(tree.resolve(), work / "old")
    env = dict(os.environ, PYTHONPATH=str(work / "old"))
    where = subprocess.run(
        [sys.executable, "-c", "import cdig.exporters.series as s; print(s.__file__)"],
        env=env, cwd=work, capture_output=True, text=True, check=True)
    if not where.stdout.startswith(str(work / "old")):
        raise RuntimeError(f"--old-tree: cdig imports from {where.stdout.strip()}")
    OLD_TREE.update(env=env, cwd=str(work))


CHUNKS = 100  # a run's calls timed in chunks; its figure is the least disturbed chunk's


def run_loop(binary: Path, calls: int) -> tuple[float, float]:
    """(CPU ns per call in the run's least disturbed chunk, wall ns per call) of one run."""
    # on one CPU, the same for every run: a run that migrates mid-way mixes two
    # CPUs' caches and loads into its figure
    cpu = max(os.sched_getaffinity(0))
    out = subprocess.run([str(binary), str(calls), str(CHUNKS)], capture_output=True,
                         text=True, check=True,
                         preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))
    cpu, wall = out.stdout.split()
    return float(cpu), float(wall)


def foreign_tracers(mine: set[int]) -> list[str]:
    """Other processes holding BPF programs (e.g. someone's ``cdig trace`` or
    bpftrace): attached to the syscall tracepoints, they would run in every
    getppid of the loop and be measured as if they were ours."""
    out = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in mine:
            continue
        try:
            links = {os.readlink(f"/proc/{d}/fd/{fd}") for fd in os.listdir(f"/proc/{d}/fd")}
        except OSError:
            continue
        # a program attached to a tracepoint: a BPF program fd and a perf event
        # fd (systemd's cgroup programs, for one, have no perf event)
        if any("bpf-prog" in x for x in links) and any("perf_event" in x for x in links):
            try:
                with open(f"/proc/{d}/comm") as f:
                    out.append(f"{d}:{f.read().strip()}")
            except OSError:
                pass
    return out


def _descendants(pid: int) -> set[int]:
    out = {pid}
    for d in os.listdir("/proc"):
        if d.isdigit():
            try:
                with open(f"/proc/{d}/stat") as f:
                    ppid = int(f.read().rsplit(")", 1)[1].split()[1])
            except (OSError, ValueError, IndexError):
                continue
            if ppid in out:
                out.add(int(d))
    return out


def _clean_runs(binary: Path, calls: int, runs: int) -> tuple[list[tuple[float, float]], int]:
    """``runs`` runs of the loop during which no other process held BPF programs
    (bounded retries), and how many were discarded."""
    vals: list[tuple[float, float]] = []
    discarded = 0
    for _attempt in range(20):
        if foreign_tracers(_descendants(os.getpid())):
            discarded += 1
            time.sleep(3)
            continue
        v = run_loop(binary, calls)
        if foreign_tracers(_descendants(os.getpid())):
            discarded += 1
            continue
        vals.append(v)
        if len(vals) == runs:
            break
    return vals, discarded


@dataclass
class Overhead:
    """Per config, one figure per round (None: no clean figure that round)."""

    cpu: dict[str, list[float | None]]  # the best CPU ns/call of the runs
    wall: dict[str, list[float | None]]
    added: dict[str, list[float | None]]  # cpu minus the baseline measured just before


def overhead(binary: Path, calls: int, rounds: int, runs: int, configs: list[str]) -> Overhead:
    """Per config and round: the lowest CPU ns/call of ``runs`` runs (the least
    disturbed by other load on the machine), and what it adds over ``runs``
    baseline runs (nothing attached) made just before it. The local baseline
    takes out the host's drift between configurations (CPU frequency, other
    load), which moved a ratio of two small added costs by 10-20% from run to
    run. Configs run in a different order each round; runs during which another
    process held BPF programs are discarded and retried (bounded)."""
    import random

    rng = random.Random(5)
    out = Overhead({k: [] for k in configs}, {k: [] for k in configs}, {k: [] for k in configs})
    commands: dict[str, str] = {}
    discarded = 0
    for r in range(rounds):
        order = list(configs)
        rng.shuffle(order)
        for name in order:
            base, n = _clean_runs(binary, calls, runs)
            discarded += n
            with CONFIGS[name]() as what:
                commands[name] = what.replace("\n", " ")
                time.sleep(0.3)
                vals, n = _clean_runs(binary, calls, runs)
                discarded += n
            if not vals or not base:  # this round has no clean figure for this config
                log(f"round {r + 1}/{rounds} {name}: other BPF tracers never went "
                    "away; no figure")
                for d in (out.cpu, out.wall, out.added):
                    d[name].append(None)
                continue
            cpu = min(v[0] for v in vals)
            out.cpu[name].append(cpu)
            out.wall[name].append(min(v[1] for v in vals))
            out.added[name].append(cpu - min(v[0] for v in base))
            log(f"round {r + 1}/{rounds} {name:16s} cpu {cpu:8.1f} "
                f"added {out.added[name][-1]:7.1f} ns/call")
    print("\ncommands:")
    for name in configs:
        print(f"  {name:16s} {commands.get(name, '(no run)')}")
    print(f"runs discarded because another process held BPF programs: {discarded}")
    return out


def _med(xs: list[float | None]) -> float | None:
    got = [x for x in xs if x is not None]
    return statistics.median(got) if got else None


def round_ratios(added: dict[str, list[float | None]], num: str, den: str) -> list[float]:
    """added[num] / added[den], round by round (both measured in the same round)."""
    out = []
    for a, b in zip(added.get(num, []), added.get(den, []), strict=False):
        if a is not None and b is not None and b > 0:
            out.append(a / b)
    return out


def median_interval(xs: list[float], level: float = 0.95) -> tuple[float, float] | None:
    """The distribution-free interval of the median of ``xs`` (order statistics:
    the k-th smallest and k-th largest, k the largest with P(Binomial(n, 1/2) < k)
    on each side <= (1 - level) / 2); None when n is too small for ``level``
    (n < 6 at 95 %). Assumes nothing about the rounds' distribution, so every
    config's ratio gets the same rule."""
    n = len(xs)
    tail, k, p = (1.0 - level) / 2, 0, 0.0
    while k < n // 2:
        p += math.comb(n, k) / 2**n  # P(X <= k)
        if p > tail:
            break
        k += 1
    if k == 0:
        return None
    got = sorted(xs)
    return got[k - 1], got[n - k]


# (config, reference, goal): the goals of issue 14, and the same ratios for --old-tree
GOALS = [("cdig-nolat", "floor-exit", 1.2), ("cdig-lat", "bpftrace", 1.0),
         ("cdig-nolat-old", "floor-exit", 1.2), ("cdig-lat-old", "bpftrace", 1.0)]


def report_overhead(res: Overhead, calls: int, rounds: int) -> None:
    print(f"\noverhead on a getppid loop ({calls:,} calls; per round the best of the runs, "
          f"in CPU time of the loop; 'added' over the baseline runs made just before; "
          f"medians of the clean rounds (of {rounds}), spread = min..max)")
    print(f"  {'config (rounds)':20s} {'ns/call':>9s} {'added ns':>9s} {'spread':>11s} "
          f"{'added/bpftrace':>15s} {'added/floor':>12s}  wall ns/call")
    for k in res.cpu:
        got = [x for x in res.added[k] if x is not None]
        if not got:
            print(f"  {k:20s} (no clean run)")
            continue
        cpu, add, wall = _med(res.cpu[k]), statistics.median(got), _med(res.wall[k])
        floor = "floor-both" if k in ("cdig-lat", "cdig-lat-hash", "cdig-lat-old",
                                      "floor-both", "floor-raw-both") else "floor-exit"
        bt = round_ratios(res.added, k, "bpftrace")
        fl = round_ratios(res.added, k, floor)
        rel_bt = f"{statistics.median(bt):.2f}" if bt else "-"
        rel_fl = f"{statistics.median(fl):.2f}" if fl and k != "baseline" else "-"
        k_n = f"{k} ({len(got)})"
        print(f"  {k_n:20s} {cpu:9.1f} {add:9.1f} {f'{min(got):.0f}..{max(got):.0f}':>11s} "
              f"{rel_bt:>15s} {rel_fl:>12s}  {wall:.1f}")
    print("  (ratios: median of the per-round ratios; added/floor is over floor-both for "
          "latency modes, floor-exit otherwise)")
    for k, ref, goal in GOALS:
        rs = round_ratios(res.added, k, ref)
        if not rs:
            continue
        m = statistics.median(rs)
        print(f"goal {k} <= {goal}x {ref}: {m:.2f}x (per round {min(rs):.2f}..{max(rs):.2f}, "
              f"{len(rs)} rounds: {' '.join(f'{x:.2f}' for x in rs)}) "
              f"({'met' if m <= goal else 'NOT met'})")
        ci = median_interval(rs)
        if ci is None:
            print(f"  {k}: too few rounds for a 95 % interval of the median (>= 6)")
        else:
            lo, hi = ci
            shown = ("met" if hi <= goal else "NOT met" if lo > goal
                     else "undecided at this noise")
            print(f"  {k}: 95 % interval of the median ratio {lo:.2f}..{hi:.2f}: {shown}")


# --------------------------------------------------------------------------- toggle mode

# One loop process for the whole run: it times chunks of getppid calls
# (CLOCK_MONOTONIC end time, CPU ns per call) until stdin closes. A config is
# attached and detached around it, alternating with windows where nothing is
# attached, so every config and its baseline are measured in the same process,
# on the same CPU, seconds apart: what the host's other load does to the loop
# is in both sides of each difference.
STREAM_C = r"""
#include <stdio.h>
#include <sys/syscall.h>
#include <time.h>
#include <unistd.h>
#include <poll.h>
static long long now(clockid_t c) {
    struct timespec t;
    clock_gettime(c, &t);
    return t.tv_sec * 1000000000LL + t.tv_nsec;
}
int main(void) {
    const long per = 20000;
    struct pollfd in = {.fd = 0, .events = POLLIN};
    setvbuf(stdout, NULL, _IOFBF, 1 << 16);
    for (;;) {
        long long c0 = now(CLOCK_THREAD_CPUTIME_ID);
        for (long i = 0; i < per; i++)
            syscall(SYS_getppid);
        long long c1 = now(CLOCK_THREAD_CPUTIME_ID);
        printf("%lld %.2f\n", now(CLOCK_MONOTONIC), (double)(c1 - c0) / per);
        if (poll(&in, 1, 0) > 0)  /* stdin closed (or written): stop */
            break;
    }
    fflush(stdout);
    return 0;
}
"""

TOGGLE_WINDOW = 1.5  # seconds measured per window (after a config has attached)
TOGGLE_SETTLE = 0.2  # seconds left out after attaching and after detaching


def _window_figure(chunks: list[tuple[int, float]], t0: int, t1: int) -> float | None:
    """The 20th percentile of the chunks that ended in [t0, t1] (a chunk is ~5 ms):
    low enough to leave out the chunks that other load preempted or whose caches
    it disturbed, high enough not to be one lucky chunk."""
    got = sorted(v for t, v in chunks if t0 <= t <= t1)
    if len(got) < 10:
        return None
    return got[len(got) // 5]


def toggle_overhead(work: Path, rounds: int, configs: list[str],
                    pingpong: bool = False) -> Overhead:
    """Per config and round: its window's figure minus the mean of the baseline
    windows just before and after it, all in one running loop process (the
    getppid stream, or with ``pingpong`` a pipe ping-pong: ns per round trip)."""
    import random

    src = work / "stream.c"
    src.write_text(breakdown.PINGPONG_C if pingpong else STREAM_C)
    binary = work / "getppid-stream"
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(src)], check=True)
    cpu = max(os.sched_getaffinity(0))
    out_path = work / "chunks.txt"
    rng = random.Random(5)
    windows: list[tuple[str, int, int]] = []  # (config or "baseline", start, end) in ns
    commands: dict[str, str] = {}
    names = [c for c in configs if c != "baseline"]
    with open(out_path, "w") as out:
        loop = subprocess.Popen([str(binary)], stdin=subprocess.PIPE, stdout=out,
                                preexec_fn=lambda: os.sched_setaffinity(0, {cpu}))

        def measure(label: str) -> None:
            time.sleep(TOGGLE_SETTLE)
            t0 = time.monotonic_ns()
            time.sleep(TOGGLE_WINDOW)
            t1 = time.monotonic_ns()
            if foreign_tracers(_descendants(os.getpid())):  # measured as if ours: no figure
                t1 = t0
            windows.append((label, t0, t1))

        try:
            measure("baseline")
            for r in range(rounds):
                order = list(names)
                rng.shuffle(order)
                for name in order:
                    with CONFIGS[name]() as what:
                        commands[name] = what.replace("\n", " ")
                        measure(name)
                    measure("baseline")
                log(f"toggle round {r + 1}/{rounds} done")
        finally:
            assert loop.stdin is not None
            loop.stdin.close()
            loop.wait(30)
    chunks = []
    for line in out_path.read_text().splitlines():
        t, v = line.split()
        chunks.append((int(t), float(v)))
    res = Overhead({k: [] for k in configs}, {k: [] for k in configs},
                   {k: [] for k in configs})
    for i, (label, t0, t1) in enumerate(windows):
        if label == "baseline":
            continue
        fig = _window_figure(chunks, t0, t1)
        before = _window_figure(chunks, *windows[i - 1][1:])
        after = _window_figure(chunks, *windows[i + 1][1:])
        if fig is None or before is None or after is None:
            res.cpu[label].append(None)
            res.wall[label].append(None)
            res.added[label].append(None)
            continue
        base = (before + after) / 2
        res.cpu[label].append(fig)
        res.wall[label].append(fig)  # one process: no separate wall figure
        res.added[label].append(fig - base)
        res.cpu.setdefault("baseline", []).append(base)
        res.wall.setdefault("baseline", []).append(base)
        res.added.setdefault("baseline", []).append(after - before)
    # the k-th window of every config belongs to round k (configs are shuffled
    # within a round, so round_ratios pairs figures of the same round)
    print("\ncommands (toggle mode: one loop process, configs attached in turn):")
    for name in names:
        print(f"  {name:16s} {commands.get(name, '(no run)')}")
    return res


# --------------------------------------------------------------------------- scrape latency


def synthetic(containers: int, syscalls: int, latency: bool):
    """A collector over 100 x 50 synthetic entries (fake reader and names)."""
    from cdig.collector.events import Container
    from cdig.exporters.prometheus import ExporterCollector
    from cdig.exporters.series import Options
    from cdig.probes.metrics.layout import LAT_SLOTS
    from cdig.probes.metrics.maps import MapSnapshot
    from cdig.probes.syscall_table import table

    tbl = table()
    nrs = sorted(tbl.by_nr)[:syscalls]
    rows = {}
    for c in range(containers):
        for nr in nrs:
            v = {"count": 1000 + nr, "errors": nr % 3, "file_bytes": 10 * nr, "net_bytes": nr}
            if latency:
                v["lat_sum_ns"] = 5000 * nr
                v["lat_slots"] = {s: 1 + s for s in range(3, 12)} | {LAT_SLOTS - 1: 1}
            rows[(1000 + c, nr)] = v
    errors = {(1000 + c, nr, 2): 3 for c in range(containers) for nr in nrs[:5]}
    procs = {1000 + c: (1, 2, 1) for c in range(containers)}
    snap = MapSnapshot.build(rows, errors, procs, latency=latency)

    class Reader:
        def __init__(self) -> None:
            self.latency = latency

        def read(self):
            return snap

        def forget(self, ids) -> None:
            pass

    return Reader(), rows, errors, procs, Container, ExporterCollector, Options, tbl


class Names:
    def __init__(self, containers: dict[int, object]) -> None:
        self.c = containers

    def walk(self):
        return {cg: f"/libpod_parent/libpod-{cg}" for cg in self.c} | {1: "/"}

    def path_of(self, cg):
        return self.walk().get(cg)

    def container_of(self, path):
        from cdig.collector.events import HOST

        if path == "/":
            return HOST
        return self.c[int(path.rsplit("-", 1)[1])]


_CPU = [0.0]  # the last time_scrapes' median CPU seconds per scrape


def time_scrapes(collector, n: int = 20) -> tuple[float, float, int]:
    """Median seconds of (what the HTTP server does: exposition + gzip level 1,
    prometheus_client's generate_latest over collect()), and the text size."""
    import gzip

    from prometheus_client import CollectorRegistry, generate_latest

    reg = CollectorRegistry()
    reg.register(collector)
    collector.exposition()  # the first scrape admits containers and syscalls
    fast, slow, cpu = [], [], []
    size = 0
    for _ in range(n):
        t = time.perf_counter()
        c = time.thread_time()
        body = collector.exposition()
        gzip.compress(body, compresslevel=1)
        cpu.append(time.thread_time() - c)
        fast.append(time.perf_counter() - t)
        size = len(body)
    _CPU[0] = statistics.median(cpu)
    for _ in range(max(3, n // 5)):
        t = time.perf_counter()
        generate_latest(reg)
        slow.append(time.perf_counter() - t)
    return statistics.median(fast), statistics.median(slow), size


SHAPES = {  # name -> (latency, per-syscall histograms, fine buckets)
    "off": (False, frozenset(), False),
    "on": (True, frozenset(), False),
    "on, all syscalls, fine": (True, None, True),
}


def _collector(reader, names, tbl, containers: int, syscalls: int, shape: str):
    from cdig.exporters.prometheus import (
        DEFAULT_BUCKET_SLOTS,
        FINE_BUCKET_SLOTS,
        ExporterCollector,
    )
    from cdig.exporters.series import Options

    _, per_syscall, fine = SHAPES[shape]
    return ExporterCollector(
        reader, names, tbl, bucket_slots=FINE_BUCKET_SLOTS if fine else DEFAULT_BUCKET_SLOTS,
        options=Options(max_containers=containers, max_syscalls=syscalls,
                        latency_syscalls=per_syscall))


def scrape_latency(containers: int, syscalls: int) -> None:
    print(f"\nscrape latency, {containers} containers x {syscalls} syscalls "
          f"({containers * syscalls:,} (cgroup, syscall) entries), median of 20 scrapes "
          "(wall time; CPU time of the scraping thread in brackets):")
    for shape, (latency, _, _) in SHAPES.items():
        reader, _, _, _, Container, ExporterCollector, Options, tbl = synthetic(
            containers, syscalls, latency)
        cs = {1000 + i: Container(id=f"{i:064x}", name=f"c{i}", runtime="podman",
                                  image="bench:1") for i in range(containers)}
        names = Names(cs)
        names.settle = lambda timeout: None
        col = _collector(reader, names, tbl, containers, syscalls, shape)
        t, slow, size = time_scrapes(col)
        print(f"  synthetic  latency {shape:24s} {t * 1e3:8.1f} ms [{_CPU[0] * 1e3:.1f}] "
              f"(prometheus_client generate_latest: {slow * 1e3:.0f} ms; "
              f"{size / 1e6:.2f} MB of text)")
    if os.geteuid() != 0:
        print("  real-maps  skipped (needs root)")
        return
    from cdig.probes.metrics.config import MetricsConfig
    from cdig.probes.metrics.probe import MetricsProbe

    for shape, (latency, _, _) in SHAPES.items():
        reader, _, _, _, Container, ExporterCollector, Options, tbl = synthetic(
            containers, syscalls, latency)
        probe = MetricsProbe(MetricsConfig(latency=latency))
        probe.load()
        try:
            maps = probe.maps
            maps.inject(reader.read())
            ts = []
            for _ in range(20):
                t = time.perf_counter()
                snap = maps.read()
                ts.append(time.perf_counter() - t)
            n = len(snap.syscalls)
            cs = {1000 + i: Container(id=f"{i:064x}", name=f"c{i}", runtime="podman",
                                      image="bench:1") for i in range(containers)}
            names = Names(cs)
            names.settle = lambda timeout: None
            col = _collector(maps, names, tbl, containers, 1000, shape)
            t, _, size = time_scrapes(col)
            print(f"  real-maps  latency {shape:24s} bpf(2) read of {n:,} entries "
                  f"{statistics.median(ts) * 1e3:6.1f} ms; whole scrape {t * 1e3:7.1f} ms "
                  f"[{_CPU[0] * 1e3:.1f}] ({size / 1e6:.2f} MB)")
        finally:
            probe.close()


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=2_000_000, help="getppid calls per run")
    ap.add_argument("--runs", type=int, default=3, help="runs per config per round")
    ap.add_argument("--rounds", type=int, default=3, help="rounds (configs interleaved)")
    ap.add_argument("--containers", type=int, default=100)
    ap.add_argument("--syscalls", type=int, default=50)
    ap.add_argument("--skip-overhead", action="store_true")
    ap.add_argument("--skip-scrape", action="store_true")
    ap.add_argument("--toggle", action="store_true",
                    help="one running loop process; configs attached and detached around "
                         "it in turn, each between two baseline windows (see toggle_overhead)")
    ap.add_argument("--pingpong", action="store_true",
                    help="with --toggle: the loop is a pipe ping-pong between two processes "
                         "on one CPU (figures: wall ns per round trip of 4 syscalls and 2 "
                         "context switches), where a sched_switch program costs")
    ap.add_argument("--configs", default=None,
                    help=f"overhead configurations (default all: {','.join(CONFIGS)}; "
                         "the -old ones with --old-tree only)")
    ap.add_argument("--old-tree", metavar="DIR", type=Path,
                    help="another checkout (e.g. git archive REV | tar -x -C DIR): adds "
                         "configs cdig-nolat-old, cdig-lat-old, its exporter, for a "
                         "before/after in one run")
    ap.add_argument("--variant", action="append", default=[], metavar="NAME=FILE",
                    help="add configs NAME-nolat, NAME-lat: the probe built from FILE")
    args = ap.parse_args()
    for v in args.variant:
        name, _, path = v.partition("=")
        if not name or not Path(path).is_file():
            print(f"--variant {v!r}: expected NAME=FILE", file=sys.stderr)
            return 2
        for suffix, latency in (("nolat", False), ("lat", True)):
            CONFIGS[f"{name}-{suffix}"] = (
                lambda p=Path(path), lat=latency: probe_variant(p, lat))
    if os.geteuid() != 0:
        print("needs root (BPF)", file=sys.stderr)
        return 1
    for tool in ("gcc", "bpftrace"):
        if shutil.which(tool) is None:
            print(f"needs {tool}", file=sys.stderr)
            return 1
    print(f"kernel {os.uname().release}, {os.cpu_count()} CPUs; "
          f"load average {os.getloadavg()[0]:.2f} at start")
    if not args.skip_overhead:
        with tempfile.TemporaryDirectory() as d:
            if args.old_tree:
                use_old_tree(args.old_tree, Path(d))
            src = Path(d) / "loop.c"
            src.write_text(LOOP_C)
            binary = Path(d) / "getppid-loop"
            subprocess.run(["gcc", "-O2", "-o", str(binary), str(src)], check=True)
            configs = ([c for c in args.configs.split(",") if c] if args.configs else
                       [c for c in CONFIGS if args.old_tree or not c.endswith("-old")])
            if not args.old_tree and any(c.endswith("-old") for c in configs):
                print("--configs: the -old configurations need --old-tree DIR", file=sys.stderr)
                return 2
            bad = [c for c in configs if c not in CONFIGS]
            if bad or "baseline" not in configs:
                print(f"--configs: unknown {bad} (or no baseline)", file=sys.stderr)
                return 2
            if args.toggle:
                res = toggle_overhead(Path(d), args.rounds, configs, args.pingpong)
            else:
                res = overhead(binary, args.calls, args.rounds, args.runs, configs)
        if args.pingpong:
            print("\n(--pingpong: every figure below is wall ns per ping-pong round trip)")
        report_overhead(res, args.calls, args.rounds)
    if not args.skip_scrape:
        scrape_latency(args.containers, args.syscalls)
    print(f"load average {os.getloadavg()[0]:.2f} at end")
    return 0


if __name__ == "__main__":
    sys.exit(main())
