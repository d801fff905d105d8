#!/usr/bin/env python3
"""Throughput and overhead of ``cdig trace`` on a syscall-heavy workload.

One run measures, on a static C program that calls getppid() N times
(``tests/integration/workload.c``, built here with gcc into a temp dir):

  baseline      the loop untraced (ns/call)
  cdig-null     ``cdig trace -j proc.name=<comm> > /dev/null``
  cdig-write    ``cdig trace -w FILE proc.name=<comm>`` to tmpfs: the loop's
                records in the capture counted
  cdig-file     the same, stdout to a tmpfs file: the loop's lines counted (by
                pid), and the file's mtime says when the last line was written
  drain         cdig's probe (probes/loader.py) + bulk ring reader
                (probes/ringbuf.py) only: records counted, nothing decoded
  stock         a minimal 48-byte-record program (stock_ringbuf.bpf.c) read with
                bcc's open_ring_buffer(callback) + ring_buffer_poll()
  bulk48        the same program read with cdig's bulk reader
  bpftrace      ``bpftrace -e 'tracepoint:raw_syscalls:sys_exit /pid == PID/
                { printf(...) }'``
  ttfe          time from starting ``cdig trace -n 1`` to its first line, and
                where that time goes
  cdig-file-old, cdig-write-old, ttfe-old   with ``--old-tree DIR``: the same
                with the cdig of another checkout (before/after in one run)
  profile       where cdig's userspace time goes per record (decode to
                columns, pruning, enrichment, filter, JSON lines, write), on
                recorded batches

Every configuration is repeated ``--repeat`` times; medians are reported. The
workload waits on a FIFO ("gate") until the tracer is attached, so the timed
part is only the loop (plus its close/exit, calibrated away). Needs root, BPF,
gcc and bpftrace; never touches the network. See benchmarks/README.md.

Run:  sudo .venv/bin/python benchmarks/trace_throughput.py [--calls N] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import datetime
import json
import os
import platform
import re
import select
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from benchlib import (
    CLK_TCK,
    BenchError,
    background_cpu,
    capture_rows_of,
    count_in_file,
    foreign_bpf,
    host_busy_ticks,
    log,
    proc_ticks,
    ring_consumer_positions,
)
from trace_children import CHILDREN, on_stop
from trace_report import fmt, render, summarise

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOAD_C = REPO / "tests" / "integration" / "workload.c"
GCC_FLAGS = ["-static", "-nostdlib", "-no-pie", "-ffreestanding", "-fno-builtin",
             "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-O2"]
ALL_CONFIGS = ("baseline", "cdig-null", "cdig-file", "cdig-write", "drain", "stock", "bulk48",
               "bpftrace", "cdig-file-old", "cdig-write-old",
               "ttfe", "ttfe-old", "profile")
BPFTRACE_PROG = ('tracepoint:raw_syscalls:sys_exit /pid == {pid}/ '
                 '{{ printf("%d %d %d %ld\\n", pid, tid, args->id, args->ret); }}')
SUMMARY_RE = re.compile(
    rb"cdig: (\d+) events shown, (\d+) seen, (\d+) dropped"
    rb"(?: \(ring (\d+), strings (\d+), in-flight (\d+)\))?")
LOST_RE = re.compile(rb"Lost (\d+) events")


class Gate:
    """A workload process blocked on a FIFO until released."""

    def __init__(self, proc: subprocess.Popen, fifo: Path, calls: int) -> None:
        self.proc = proc
        self.fifo = fifo
        self.calls = calls


class Bench:
    """Owns the temp dirs and every process it starts; ``close()`` undoes both."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.procs: dict[int, subprocess.Popen] = {}
        self.work = Path(tempfile.mkdtemp(prefix="cdig-bench-"))
        shm = "/dev/shm" if os.access("/dev/shm", os.W_OK) else None
        # big outputs (≈ 0.5 GB of JSON per 1 M events) go to tmpfs, not the disk
        self.outdir = Path(tempfile.mkdtemp(prefix="cdig-bench-out-", dir=shm))
        self.comm = args.comm
        self.bin = self.work / self.comm
        self.cdig = str(Path(sys.executable).with_name("cdig"))
        if not os.access(self.cdig, os.X_OK):
            self.cdig = shutil.which("cdig") or "cdig"
        self.commands: dict[str, str] = {}
        self._gates = 0
        self.fixed_ns = 0
        # cdig keeps its compiled probe between starts (probes/objcache.py): every
        # cdig and child here uses a cache of this run's own, so ttfe can time a
        # start without it (cold) and with it (warm), and no run sees an older one
        self.cache = self.work / "cache"
        os.environ["CDIG_CACHE_DIR"] = str(self.cache)
        # another checkout's cdig: python -m cdig over a link tree of it (--old-tree for
        # the -old configurations; --tree for the others and the probe children)
        self.old_env = self._tree_env(args.old_tree, "old") if args.old_tree else None
        self.new_env = self._tree_env(args.tree, "new") if args.tree else None
        for flag, tree in (("tree", args.tree), ("old-tree", args.old_tree)):
            if tree:
                self.commands[flag] = f"cdig imported from {Path(tree).resolve()}"

    def _tree_env(self, tree: str, name: str) -> dict[str, str]:
        """The environment that imports cdig from ``tree`` (laid out as installed)."""
        sys.path.insert(0, str(REPO / "scripts"))
        from typecheck import link_tree

        link_tree(Path(tree).resolve(), self.work / name)
        env = dict(os.environ, PYTHONPATH=str(self.work / name))
        # python -m puts its cwd first on sys.path: run it where no cdig/ is, and
        # check that the tree's modules are the ones imported
        where = subprocess.run(
            [sys.executable, "-c", "import cdig.collector.session as s, cdig.probes.ringbuf as r;"
             " print(s.__file__, r.__file__)"],
            env=env, cwd=self.work, capture_output=True, text=True, check=True)
        if any(not f.startswith(str(self.work / name)) for f in where.stdout.split()):
            flag = "--old-tree" if name == "old" else "--tree"
            raise BenchError(f"{flag}: cdig imports from {where.stdout.strip()}")
        return env

    def cdig_env(self, old: bool) -> dict[str, Any]:
        """``env`` and ``cwd`` for a cdig process (``old``: the --old-tree's)."""
        env = self.old_env if old else self.new_env
        return {"env": env, "cwd": self.work if env is not None else None}

    def cdig_argv(self, old: bool) -> list[str]:
        """The command that runs cdig (``old``: the --old-tree's)."""
        if old:
            if self.old_env is None:
                raise BenchError("the -old configurations need --old-tree DIR")
            return [sys.executable, "-m", "cdig"]
        if self.new_env is not None:
            return [sys.executable, "-m", "cdig"]
        return [self.cdig]

    # -- processes -------------------------------------------------------------------
    def spawn(self, argv: list[str], **kw: Any) -> subprocess.Popen:
        # own session: a Ctrl-C at the terminal reaches only us; we stop the children
        p = subprocess.Popen(argv, start_new_session=True, **kw)
        self.procs[p.pid] = p
        return p

    def reap(self, p: subprocess.Popen, timeout: float) -> Any:
        """Wait for ``p`` (up to ``timeout`` s); its rusage, or None on timeout."""
        deadline = time.monotonic() + timeout
        while True:
            if p.returncode is not None:
                return None  # reaped elsewhere (Popen.poll): no rusage left
            try:
                pid, status, ru = os.wait4(p.pid, os.WNOHANG)
            except ChildProcessError:
                return None
            if pid:
                p.returncode = os.waitstatus_to_exitcode(status)
                self.procs.pop(p.pid, None)
                return ru
            if time.monotonic() >= deadline:
                return None
            time.sleep(0.005)

    def kill(self, p: subprocess.Popen, grace: float = 3.0) -> None:
        """SIGINT (tracers detach cleanly), then SIGKILL the process group."""
        if p.returncode is None and p.poll() is None:
            try:
                os.killpg(p.pid, signal.SIGINT)
            except ProcessLookupError:
                pass
            if self.reap(p, grace) is None:
                try:
                    os.killpg(p.pid, signal.SIGKILL)
                except ProcessLookupError:
                    pass
                self.reap(p, 5)
        self.procs.pop(p.pid, None)
        for stream in (p.stdout, p.stderr):
            if stream is not None:
                stream.close()

    def close(self) -> None:
        for p in list(self.procs.values()):
            self.kill(p, grace=2.0)
        shutil.rmtree(self.work, ignore_errors=True)
        shutil.rmtree(self.outdir, ignore_errors=True)

    def record(self, label: str, argv: list[str], redirect: str = "") -> None:
        self.commands[label] = shlex.join(argv) + (f" {redirect}" if redirect else "")

    # -- workload --------------------------------------------------------------------
    def build(self) -> None:
        argv = ["gcc", *GCC_FLAGS, "-o", str(self.bin), str(WORKLOAD_C)]
        subprocess.run(argv, check=True)
        self.record("build", argv)

    def gate(self, calls: int) -> Gate:
        """Start ``<comm> gate FIFO getppid N`` and wait until it blocks in read()."""
        fifo = self.work / f"gate{self._gates}"
        self._gates += 1
        os.mkfifo(fifo, 0o600)
        argv = [str(self.bin), "gate", str(fifo), "getppid", str(calls)]
        p = self.spawn(argv, stdin=subprocess.DEVNULL)
        if "workload" not in self.commands and calls:
            self.record("workload", argv)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                with open(f"/proc/{p.pid}/syscall") as f:
                    if f.read().split(" ", 1)[0] == "0":  # blocked in read(2)
                        return Gate(p, fifo, calls)
            except OSError:
                pass
            if p.poll() is not None:
                break
            time.sleep(0.002)
        raise BenchError("the workload did not reach its gate")

    def release(self, g: Gate, tracer: int | None = None) -> dict[str, Any]:
        """Open the gate, wait for the workload to exit; wall time, CPU and contention."""
        fd = os.open(g.fifo, os.O_WRONLY | os.O_NONBLOCK)
        b0, tr0 = host_busy_ticks(), proc_ticks(tracer)
        w0 = time.time_ns()
        t0 = time.perf_counter_ns()
        os.write(fd, b"x")
        os.close(fd)
        _, status, ru = os.wait4(g.proc.pid, 0)
        t1 = time.perf_counter_ns()
        w1 = time.time_ns()
        b1, tr1 = host_busy_ticks(), proc_ticks(tracer)
        g.proc.returncode = os.waitstatus_to_exitcode(status)
        self.procs.pop(g.proc.pid, None)
        g.fifo.unlink()
        if g.proc.returncode != 0:
            raise BenchError(f"the workload exited with {g.proc.returncode}")
        wall = t1 - t0
        cpu = (ru.ru_utime + ru.ru_stime) * 1e9
        window = wall / 1e9
        busy = (b1 - b0) / CLK_TCK
        tracer_cpu = (tr1 - tr0) / CLK_TCK
        n = max(g.calls, 1)
        return {
            "wall_s": wall / 1e9,
            "ns_per_call": (wall - self.fixed_ns) / n,
            "cpu_ns_per_call": cpu / n,
            "t_release_wall_ns": w0,
            "t_end_wall_ns": w1,
            "tracer_ticks_at_release": tr0,
            # CPUs' worth of work during the loop, by whom (clock-tick resolution)
            "workload_cpus": cpu / 1e9 / window,
            "tracer_cpus": tracer_cpu / window,
            "other_cpus": max(0.0, busy - cpu / 1e9 - tracer_cpu) / window,
        }

    def quiet(self, exclude: Iterable[int] = ()) -> dict[str, Any]:
        """Wait (bounded) until other processes use little CPU and hold no BPF
        programs; returns what was seen last."""
        exclude = list(exclude)
        deadline = time.monotonic() + self.args.quiet_timeout
        while True:
            bg = background_cpu(exclude)
            bpf = foreign_bpf([*exclude, *self.procs])
            if (bg <= self.args.max_background and not bpf) or time.monotonic() >= deadline:
                if bg > self.args.max_background:
                    log(f"  host still busy ({bg:.2f} CPUs used by other processes); measuring")
                if bpf:
                    log(f"  other processes hold BPF programs: {', '.join(bpf)}; measuring")
                return {"background_cpus_before": bg, "foreign_bpf": bpf}

    # -- configurations ----------------------------------------------------------------
    def calibrate(self) -> None:
        """The fixed cost of release → exit with 0 calls, subtracted from every run."""
        runs = []
        for _ in range(5):
            g = self.gate(0)
            runs.append(self.release(g)["wall_s"] * 1e9)
        self.fixed_ns = int(statistics.median(runs))

    def run_baseline(self) -> dict[str, Any]:
        q = self.quiet()
        m = self.release(self.gate(self.args.calls))
        m.update(q)
        return m

    def run_cdig(self, to_file: bool, capture: bool = False, old: bool = False) -> dict[str, Any]:
        """``cdig trace -j`` to /dev/null or a file, or (``capture``) ``cdig trace -w``."""
        n = self.args.calls
        cdig = self.cdig_argv(old)
        g = self.gate(n)
        argv = [*cdig, "trace", "-j", f"proc.name={self.comm}"]
        out = self.outdir / "cdig.jsonl"
        err = self.outdir / "cdig.err"
        label = "cdig-file" if to_file else "cdig-null"
        if capture:
            out = self.outdir / "cdig.cdig"
            argv = [*cdig, "trace", "-w", str(out), f"proc.name={self.comm}"]
            label, to_file = "cdig-write", True
        if old:
            label += "-old"
        self.record(label, argv, f"> {out if to_file and not capture else '/dev/null'} 2> {err}")
        with open(err, "wb") as fe, open(out if to_file and not capture else os.devnull,
                                          "wb") as fo:
            t_spawn = time.perf_counter()
            p = self.spawn(argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL,
                           **self.cdig_env(old))
        try:
            self._wait_cdig_ready(p, err)
            ready_s = time.perf_counter() - t_spawn
            q = self.quiet([p.pid])
            m = self.release(g, tracer=p.pid)
            t_sig = time.time_ns()
            os.kill(p.pid, signal.SIGINT)  # cdig: stop reading, show the backlog, exit
            # cdig's CPU time when its output last grew (file) — sampled every 20 ms
            last_size, last_ticks = -1, proc_ticks(p.pid)
            deadline = time.monotonic() + self.args.drain_timeout
            ru = None
            while ru is None and time.monotonic() < deadline:
                ticks = proc_ticks(p.pid)
                size = out.stat().st_size if to_file else 0
                if size != last_size:
                    last_size, last_ticks = size, ticks
                ru = self.reap(p, 0.02)
            t_exit = time.time_ns()
            if ru is None:
                raise BenchError(f"cdig did not finish within {self.args.drain_timeout} s")
        finally:
            self.kill(p)
        errtext = err.read_bytes()
        s = SUMMARY_RE.search(errtext)
        if p.returncode != 0 or s is None:
            raise BenchError(f"cdig exited with {p.returncode}: {errtext[-300:]!r}")
        shown, seen, dropped = int(s[1]), int(s[2]), int(s[3])
        m.update(q)
        m.update(startup_s=ready_s, shown=shown, seen=seen,
                 kernel_dropped=dropped, expected=n + 3,
                 signal_to_exit_s=(t_exit - t_sig) / 1e9,
                 start_to_exit_s=(t_exit - m["t_release_wall_ns"]) / 1e9)
        # CPU cdig spent from the release to its last line (file) or exit (null),
        # per event it decoded (it decodes every process's events: proc.name is
        # filtered in userspace)
        if to_file:
            cpu_s = (last_ticks - m["tracer_ticks_at_release"]) / CLK_TCK
        else:
            cpu_s = (ru.ru_utime + ru.ru_stime) - m["tracer_ticks_at_release"] / CLK_TCK
        m["consumer_us_per_event"] = cpu_s / max(seen, 1) * 1e6
        m["consumer_us_per_event_shown"] = cpu_s / max(shown, 1) * 1e6
        m["capacity_events_per_cpu_s"] = seen / cpu_s if cpu_s > 0 else None
        if capture:
            t_last = out.stat().st_mtime_ns
            mine = capture_rows_of(out, g.proc.pid)
            out.unlink()
            m.update(delivered=mine, deliver_s=(t_last - m["t_release_wall_ns"]) / 1e9,
                     drain_after_end_s=(t_last - m["t_end_wall_ns"]) / 1e9,
                     last_line_to_exit_s=(t_exit - t_last) / 1e9)
            m["events_per_s"] = mine / m["deliver_s"]
        elif to_file:
            lines, mine = count_in_file(out, [b"\n", b'"proc.pid":%d,' % g.proc.pid])
            t_last = out.stat().st_mtime_ns
            out.unlink()
            m.update(delivered=mine, lines_written=lines,
                     deliver_s=(t_last - m["t_release_wall_ns"]) / 1e9,
                     drain_after_end_s=(t_last - m["t_end_wall_ns"]) / 1e9,
                     last_line_to_exit_s=(t_exit - t_last) / 1e9)
            m["events_per_s"] = mine / m["deliver_s"]
        else:
            # no output to look at: shown == lines written; the time runs to cdig's exit
            m.update(delivered=shown, deliver_s=m["start_to_exit_s"],
                     drain_after_end_s=(t_exit - m["t_end_wall_ns"]) / 1e9)
            m["events_per_s"] = shown / m["deliver_s"]
        m["lost"] = max(0, m["expected"] - m["delivered"])
        return m

    def _wait_cdig_ready(self, p: subprocess.Popen, err: Path) -> None:
        """Ready = cdig's reader thread has consumed from its ring (its consumer
        position, read from /proc/PID/mem, has moved). cdig loads the probe,
        seeds /proc and waits for container metadata before it starts reading;
        a loop released earlier would fill the ring. A helper binary named
        ``sentinel`` (not matching the filter) makes a few syscalls meanwhile."""
        sentinel = self.work / "sentinel"
        if not sentinel.exists():
            shutil.copy(self.bin, sentinel)
        deadline = time.monotonic() + 120
        fallback = None
        while time.monotonic() < deadline:
            if p.poll() is not None:
                raise BenchError(f"cdig exited early ({p.returncode}): "
                                 f"{err.read_bytes()[-300:]!r}")
            pos = ring_consumer_positions(p.pid)
            if pos is None:  # /proc/PID/mem not readable: wait out cdig's start-up
                fallback = fallback or time.monotonic() + 6.0
                if time.monotonic() >= fallback:
                    break
            elif len(pos) >= 2 and any(pos):
                break
            subprocess.run([str(sentinel), "getppid", "0"], check=False)
            time.sleep(0.05)
        else:
            raise BenchError("cdig did not start reading within 120 s")
        time.sleep(self.args.settle)

    def _child(self, mode: str, extra: list[str], label: str) -> tuple[subprocess.Popen, Path]:
        argv = [sys.executable, str(Path(__file__).resolve()), "--child", mode,
                "--comm", self.comm, *extra]
        err = self.outdir / f"{mode}.err"
        self.record(label, argv)
        with open(err, "wb") as fe:
            p = self.spawn(argv, stdout=subprocess.PIPE, stderr=fe, stdin=subprocess.DEVNULL,
                           env=self.new_env)
        return p, err

    def _read_json(self, p: subprocess.Popen, err: Path, timeout: float) -> dict[str, Any]:
        assert p.stdout is not None
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            r, _, _ = select.select([p.stdout], [], [], 0.2)
            if r:
                line = p.stdout.readline()
                if not line:
                    break
                return json.loads(line)
        raise BenchError(f"{p.args[3] if len(p.args) > 3 else p.args}: no answer "
                         f"(rc {p.poll()}): {err.read_bytes()[-400:]!r}")

    def run_ring_child(self, mode: str) -> dict[str, Any]:
        """drain / stock / bulk48: a child that loads a probe, says ready, counts
        what it reads until SIGINT, then reports as one JSON line."""
        n = self.args.calls
        g = self.gate(n)
        extra = ["--pid", str(g.proc.pid), "--ring-mb", str(self.args.stock_ring_mb)]
        if mode == "drain":
            extra = []
        p, err = self._child(mode, extra, mode)
        try:
            self._read_json(p, err, 120)  # {"ready": ...}
            time.sleep(self.args.settle)
            q = self.quiet([p.pid])
            m = self.release(g, tracer=p.pid)
            t_sig = time.time_ns()
            os.kill(p.pid, signal.SIGINT)
            res = self._read_json(p, err, self.args.drain_timeout)
            t_exit = time.time_ns()
        finally:
            self.kill(p)
        m.update(q)
        m.update(res)
        m["expected"] = n + 3 if mode == "drain" else n + 2
        m["signal_to_exit_s"] = (t_exit - t_sig) / 1e9
        if res.get("t_last_ns"):
            m["deliver_s"] = (res["t_last_ns"] - m["t_release_wall_ns"]) / 1e9
            m["drain_after_end_s"] = (res["t_last_ns"] - m["t_end_wall_ns"]) / 1e9
            m["events_per_s"] = m["delivered"] / m["deliver_s"]
        m["lost"] = max(0, m["expected"] - m["delivered"])
        if res.get("consumer_cpu_s"):
            m["consumer_us_per_event"] = res["consumer_cpu_s"] / res["records_read"] * 1e6
            m["capacity_events_per_cpu_s"] = res["records_read"] / res["consumer_cpu_s"]
        return m

    def run_bpftrace(self) -> dict[str, Any]:
        n = self.args.calls
        g = self.gate(n)
        argv = ["bpftrace", "-e", BPFTRACE_PROG.format(pid=g.proc.pid)]
        out = self.outdir / "bpftrace.out"
        err = self.outdir / "bpftrace.err"
        self.record("bpftrace", argv, f"> {out} 2> {err}")
        with open(out, "wb") as fo, open(err, "wb") as fe:
            p = self.spawn(argv, stdout=fo, stderr=fe, stdin=subprocess.DEVNULL)
        try:
            deadline = time.monotonic() + 60
            while b"Attaching" not in out.read_bytes()[:200]:
                if p.poll() is not None or time.monotonic() > deadline:
                    raise BenchError(f"bpftrace did not start: {err.read_bytes()[-300:]!r}")
                time.sleep(0.02)
            time.sleep(max(1.0, self.args.settle))  # "Attaching" is printed before attach
            q = self.quiet([p.pid])
            m = self.release(g, tracer=p.pid)
            # bpftrace keeps printing what is in its perf buffers: wait until it stops
            last_size, last_change = -1, time.monotonic()
            last_ticks = proc_ticks(p.pid)
            deadline = time.monotonic() + self.args.drain_timeout
            while time.monotonic() < deadline:
                size, ticks = out.stat().st_size, proc_ticks(p.pid)
                if size != last_size:
                    last_size, last_change, last_ticks = size, time.monotonic(), ticks
                elif time.monotonic() - last_change > 1.0:
                    break
                time.sleep(0.05)
            t_last = out.stat().st_mtime_ns
        finally:
            self.kill(p)
        data = out.read_bytes()
        out.unlink()
        events = getppid = 0
        first_id = None
        for line in data.splitlines():
            parts = line.split()
            if len(parts) == 4 and parts[0].isdigit():
                events += 1
                if first_id is None:
                    first_id = int(parts[2])
                if parts[2] == b"110":
                    getppid += 1
        lost = sum(int(x) for x in LOST_RE.findall(data + err.read_bytes()))
        m.update(q)
        m.update(delivered=events, getppid_delivered=getppid,
                 kernel_dropped=lost, expected=n + 2,
                 first_event_was_gate_read=first_id == 0,
                 deliver_s=(t_last - m["t_release_wall_ns"]) / 1e9,
                 drain_after_end_s=(t_last - m["t_end_wall_ns"]) / 1e9)
        m["events_per_s"] = events / m["deliver_s"]
        m["lost"] = max(0, m["expected"] - events)
        cpu_s = (last_ticks - m["tracer_ticks_at_release"]) / CLK_TCK
        if cpu_s > 0 and events:
            m["consumer_us_per_event"] = cpu_s / events * 1e6
            m["capacity_events_per_cpu_s"] = events / cpu_s
        return m

    # -- time to first event ---------------------------------------------------------------
    def run_ttfe(self, old: bool = False) -> dict[str, Any]:
        """``cdig trace -n 1 proc.name=<comm>`` while a low-rate generator of that
        comm runs (getppid + 5 ms sleep, ~400 events/s). ``old``: the --old-tree's
        cdig, start to first line only."""
        cdig = self.cdig_argv(old)
        gen = self.spawn([str(self.bin), *(["getppid", "1", "sleep", "5"] * 30000)],
                         stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL)
        argv = [*cdig, "trace", "-n", "1", f"proc.name={self.comm}"]
        self.record("ttfe-old" if old else "ttfe", argv)
        py = [sys.executable, "-c", "pass"]
        res: dict[str, Any] = {"e2e_s": [], "exit_s": [], "interpreter_s": [],
                               "breakdown": [], "breakdown_pyc": [], "e2e_cold_s": []}
        try:
            for _ in range(self.args.repeat):
                t0 = time.perf_counter()
                subprocess.run(py, check=True)
                res["interpreter_s"].append(time.perf_counter() - t0)
            for i in range(self.args.repeat + 1):  # the first without the probe cache
                cold = i == 0
                if cold:
                    shutil.rmtree(self.cache, ignore_errors=True)
                self.quiet()
                t0 = time.perf_counter()
                p = self.spawn(argv, stdout=subprocess.PIPE, stderr=subprocess.DEVNULL,
                               stdin=subprocess.DEVNULL, **self.cdig_env(old))
                assert p.stdout is not None
                r, _, _ = select.select([p.stdout], [], [], 120)
                line = p.stdout.readline() if r else b""
                t1 = time.perf_counter()
                if not line:
                    self.kill(p)
                    raise BenchError("cdig trace -n 1 printed nothing within 120 s")
                self.reap(p, 30)
                self.kill(p)
                if cold:
                    res["e2e_cold_s"].append(t1 - t0)
                    continue
                res["e2e_s"].append(t1 - t0)
                res["exit_s"].append(time.perf_counter() - t0)
            if old:
                return res
            # the same steps inside one interpreter, timed one by one
            bargv = [sys.executable, str(Path(__file__).resolve()), "--child", "startup",
                     "--comm", self.comm]
            self.record("ttfe-breakdown", bargv)
            for key, env in (("breakdown", self.new_env), ("breakdown_pyc", self._pyc_env())):
                if env is not None:  # fill the bytecode cache first
                    subprocess.run(bargv, env=env, check=True, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
                for _ in range(self.args.repeat):
                    out = subprocess.run(bargv, env=env, check=True, capture_output=True,
                                         timeout=180)
                    res[key].append(json.loads(out.stdout.splitlines()[-1]))
        finally:
            self.kill(gen)
        return res

    def _pyc_env(self) -> dict[str, str]:
        """This environment sets PYTHONDONTWRITEBYTECODE, so cdig's own modules are
        compiled at every start; a private cache dir shows what .pyc files save."""
        env = dict(self.new_env or os.environ)
        env.pop("PYTHONDONTWRITEBYTECODE", None)
        env["PYTHONPYCACHEPREFIX"] = str(self.work / "pycache")
        return env

    def run_profile(self) -> dict[str, Any]:
        """Record cdig's probe output for a loop (the parent starts the loop: the
        probe ignores its loader's descendants), then profile offline."""
        g = self.gate(self.args.profile_calls)
        p, err = self._child("profile", ["--profile-rounds", str(self.args.profile_rounds),
                                         "--profile-batch", str(self.args.profile_batch),
                                         "--profile-top", str(self.args.profile_top)],
                             "profile")
        try:
            self._read_json(p, err, 120)
            time.sleep(self.args.settle)
            self.release(g, tracer=p.pid)
            time.sleep(0.2)
            os.kill(p.pid, signal.SIGINT)
            return self._read_json(p, err, 1800)
        finally:
            self.kill(p)


def meta_info(args: argparse.Namespace, fixed_ns: int) -> dict[str, Any]:
    cpu = ""
    try:
        for line in open("/proc/cpuinfo"):
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    try:
        bt = subprocess.run(["bpftrace", "--version"], capture_output=True, text=True).stdout
    except OSError:
        bt = ""
    def git(*a: str) -> str:
        try:
            return subprocess.run(["git", "-C", str(REPO), *a], capture_output=True,
                                  text=True, timeout=10).stdout.rstrip()
        except (OSError, subprocess.SubprocessError):
            return ""

    dirty = [line[3:] for line in git("status", "--porcelain", "--untracked-files=no")
             .splitlines() if line]
    return {"date": datetime.datetime.now().astimezone().isoformat(timespec="seconds"),
            "git_head": git("rev-parse", "--short", "HEAD"), "git_modified": dirty,
            "tree": args.tree, "old_tree": args.old_tree,
            "nproc": os.cpu_count(), "kernel": platform.release(), "cpu": cpu,
            "python": platform.python_version(), "bpftrace": bt.strip(),
            "calls": args.calls, "repeat": args.repeat, "comm": args.comm,
            "fixed_us": fixed_ns / 1e3, "profile_calls": args.profile_calls,
            "profile_rounds": args.profile_rounds, "loadavg": os.getloadavg()}


# --------------------------------------------------------------------------- main


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(
        description="Throughput and overhead of cdig trace vs bcc's stock ring-buffer "
                    "callback and bpftrace, on a getppid loop.",
        formatter_class=argparse.RawDescriptionHelpFormatter,
        epilog="examples:\n"
               "  sudo .venv/bin/python benchmarks/trace_throughput.py\n"
               "  sudo .venv/bin/python benchmarks/trace_throughput.py --calls 500000 "
               "--repeat 1 --configs baseline,cdig-null\n"
               "  sudo .venv/bin/python benchmarks/trace_throughput.py --json > bench.json")
    p.add_argument("--calls", type=int, default=2_000_000, help="getppid calls per run")
    p.add_argument("--repeat", type=int, default=3, help="runs per configuration (median)")
    p.add_argument("--configs", default=",".join(ALL_CONFIGS),
                   help=f"comma-separated subset of {','.join(ALL_CONFIGS)}")
    p.add_argument("--json", action="store_true",
                   help="print JSON on stdout (the table then goes to stderr)")
    p.add_argument("--comm", default=f"cdigbench{os.getpid() % 1000000}",
                   help="the workload's process name (default: cdigbench<pid>), unique so "
                        "that other programs on the host (integration tests running "
                        "cdigwork, another run of this benchmark) do not match the filter")
    p.add_argument("--stock-ring-mb", type=int, default=16,
                   help="ring size of the minimal program (stock, bulk48)")
    p.add_argument("--settle", type=float, default=0.5,
                   help="seconds to wait after a tracer is attached before releasing")
    p.add_argument("--drain-timeout", type=float, default=900.0,
                   help="seconds a tracer may take to emit its backlog")
    p.add_argument("--max-background", type=float, default=0.15,
                   help="wait before each run until other processes use fewer CPUs than this")
    p.add_argument("--quiet-timeout", type=float, default=20.0,
                   help="…but at most this many seconds")
    p.add_argument("--profile-calls", type=int, default=200_000,
                   help="loop length recorded for the per-event profile")
    p.add_argument("--profile-rounds", type=int, default=5,
                   help="interleaved rounds per profile stage (the best is kept)")
    p.add_argument("--profile-batch", type=int, default=1024,
                   help="records per batch for the per-stage profile")
    p.add_argument("--profile-top", type=int, default=15)
    p.add_argument("--tree", metavar="DIR",
                   help="a checkout (e.g. a git archive of HEAD) run by the configurations "
                        "without -old and imported by the probe children (default: the "
                        "installed cdig)")
    p.add_argument("--old-tree", metavar="DIR",
                   help="a checkout of another cdig (e.g. git worktree add DIR COMMIT), run by "
                        "the -old configurations")
    # internal: the measured children
    p.add_argument("--child", choices=sorted(CHILDREN), help=argparse.SUPPRESS)
    p.add_argument("--pid", type=int, help=argparse.SUPPRESS)
    p.add_argument("--ring-mb", type=int, default=16, help=argparse.SUPPRESS)
    p.add_argument("--bin", help=argparse.SUPPRESS)
    a = p.parse_args(argv)
    if len(a.comm.encode()) > 15 or not re.fullmatch(r"[A-Za-z0-9_.-]+", a.comm):
        p.error("--comm must be at most 15 characters of [A-Za-z0-9_.-]")
    return a


def run(args: argparse.Namespace) -> int:
    configs = [c.strip() for c in args.configs.split(",") if c.strip()]
    unknown = set(configs) - set(ALL_CONFIGS)
    if unknown:
        print(f"unknown configuration(s): {', '.join(sorted(unknown))}", file=sys.stderr)
        return 2
    if os.geteuid() != 0:
        print("needs root (BPF)", file=sys.stderr)
        return 1
    if platform.machine() != "x86_64":
        print("the workload (tests/integration/workload.c) is x86_64-only", file=sys.stderr)
        return 1
    for tool in ("gcc",) + (("bpftrace",) if "bpftrace" in configs else ()):
        if shutil.which(tool) is None:
            print(f"{tool} not found", file=sys.stderr)
            return 1

    bench = Bench(args)
    results: dict[str, Any] = {}
    try:
        bench.build()
        bench.calibrate()
        log(f"fixed release→exit cost {bench.fixed_ns / 1e3:.0f} us; "
            f"{args.calls:,} calls x {args.repeat} runs")
        plan: list[tuple[str, Callable[[], dict[str, Any]]]] = [
            ("baseline", bench.run_baseline),
            ("cdig-null", lambda: bench.run_cdig(to_file=False)),
            ("cdig-file", lambda: bench.run_cdig(to_file=True)),
            ("cdig-write", lambda: bench.run_cdig(to_file=True, capture=True)),
            ("drain", lambda: bench.run_ring_child("drain")),
            ("stock", lambda: bench.run_ring_child("stock")),
            ("bulk48", lambda: bench.run_ring_child("bulk48")),
            ("bpftrace", bench.run_bpftrace),
            ("cdig-file-old", lambda: bench.run_cdig(to_file=True, old=True)),
            ("cdig-write-old", lambda: bench.run_cdig(to_file=True, capture=True, old=True)),
        ]
        # interleave the configurations (round-robin) so that a burst of load from
        # elsewhere on the host does not land on one configuration only
        for i in range(args.repeat):
            for key, fn in plan:
                if key not in configs:
                    continue
                log(f"{key} run {i + 1}/{args.repeat}")
                try:
                    r = fn()
                except BenchError as e:
                    log(f"  {key}: {e}")
                    r = {"error": str(e)}
                results.setdefault(key, []).append(r)
                if "error" not in r:
                    log("  " + ", ".join(f"{k}={fmt(r.get(k), '.3g')}" for k in (
                        "ns_per_call", "cpu_ns_per_call", "delivered", "kernel_dropped",
                        "events_per_s", "drain_after_end_s", "other_cpus") if k in r))
        if "ttfe" in configs:
            log("time to first event")
            try:
                results["ttfe"] = bench.run_ttfe()
            except (BenchError, subprocess.SubprocessError) as e:
                results["ttfe"] = {"error": str(e)}
        if "ttfe-old" in configs:
            log("time to first event, --old-tree")
            try:
                results["ttfe-old"] = bench.run_ttfe(old=True)
            except (BenchError, subprocess.SubprocessError) as e:
                results["ttfe-old"] = {"error": str(e)}
        if "profile" in configs:
            log("profile")
            try:
                results["profile"] = bench.run_profile()
            except (BenchError, subprocess.SubprocessError) as e:
                results["profile"] = {"error": str(e)}
        meta = meta_info(args, bench.fixed_ns)
        summary = summarise(results)
        table = render(meta, summary, results, bench.commands)
        if args.json:
            print(table, file=sys.stderr)
            json.dump({"meta": meta, "summary": summary, "runs": results,
                       "commands": bench.commands}, sys.stdout, indent=1, default=str)
            sys.stdout.write("\n")
        else:
            print(table)
    finally:
        # a second Ctrl-C must not interrupt the clean-up
        old = signal.signal(signal.SIGINT, signal.SIG_IGN)
        bench.close()
        signal.signal(signal.SIGINT, old)
    return 0


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if args.child:
        signal.signal(signal.SIGINT, on_stop)
        signal.signal(signal.SIGTERM, on_stop)
        CHILDREN[args.child](args)
        return 0

    def on_term(signum: int, frame: Any) -> None:
        raise KeyboardInterrupt

    signal.signal(signal.SIGTERM, on_term)
    # a shell starts background jobs with SIGINT ignored; take it back, so that
    # `kill -INT` stops the benchmark (and its tracers) like Ctrl-C does
    signal.signal(signal.SIGINT, signal.default_int_handler)
    try:
        return run(args)
    except KeyboardInterrupt:
        log("interrupted; tracers stopped, temp files removed")
        return 130


if __name__ == "__main__":
    sys.exit(main())
