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

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
WORKLOAD_C = REPO / "tests" / "integration" / "workload.c"
STOCK_BPF = HERE / "stock_ringbuf.bpf.c"
GCC_FLAGS = ["-static", "-nostdlib", "-no-pie", "-ffreestanding", "-fno-builtin",
             "-fno-stack-protector", "-fno-asynchronous-unwind-tables", "-O2"]
SYS_GETPPID = 110  # x86_64; workload.c is x86_64-only
CLK_TCK = os.sysconf("SC_CLK_TCK")
ALL_CONFIGS = ("baseline", "cdig-null", "cdig-file", "cdig-write", "drain", "stock", "bulk48",
               "bpftrace", "cdig-file-old", "cdig-write-old",
               "ttfe", "ttfe-old", "profile")
BPFTRACE_PROG = ('tracepoint:raw_syscalls:sys_exit /pid == {pid}/ '
                 '{{ printf("%d %d %d %ld\\n", pid, tid, args->id, args->ret); }}')
SUMMARY_RE = re.compile(
    rb"cdig: (\d+) events shown, (\d+) seen, (\d+) dropped"
    rb"(?: \(ring (\d+), strings (\d+), in-flight (\d+)\))?")
LOST_RE = re.compile(rb"Lost (\d+) events")


def log(msg: str) -> None:
    print(f"[bench {time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


class BenchError(Exception):
    """A run could not be measured; the message says why."""


# --------------------------------------------------------------------------- /proc sampling


def host_busy_ticks() -> int:
    """Busy CPU time of the whole host (all CPUs), in clock ticks."""
    with open("/proc/stat") as f:
        v = [int(x) for x in f.readline().split()[1:]]
    user, nice, system, _idle, _iowait, irq, softirq, steal = v[:8]
    return user + nice + system + irq + softirq + steal


def proc_ticks(pid: int | None) -> int:
    """utime + stime of a process (all its threads), in clock ticks; 0 if gone."""
    if pid is None:
        return 0
    try:
        with open(f"/proc/{pid}/stat") as f:
            fields = f.read().rsplit(")", 1)[1].split()
    except (FileNotFoundError, ProcessLookupError, IndexError):
        return 0
    return int(fields[11]) + int(fields[12])


def background_cpu(exclude: Iterable[int], interval: float = 0.5) -> float:
    """CPUs' worth of busy time over ``interval`` not spent by ``exclude`` pids."""
    exclude = list(exclude)
    b0, o0 = host_busy_ticks(), sum(proc_ticks(p) for p in exclude)
    time.sleep(interval)
    b1, o1 = host_busy_ticks(), sum(proc_ticks(p) for p in exclude)
    return max(0.0, ((b1 - b0) - (o1 - o0)) / CLK_TCK / interval)


def foreign_bpf(own: Iterable[int]) -> list[str]:
    """Other processes holding BPF programs (``pid:comm``). A tracer someone else
    runs on the syscall tracepoints slows every configuration, the baseline too."""
    skip = {1, os.getpid(), *own}
    found = []
    for d in os.listdir("/proc"):
        if not d.isdigit() or int(d) in skip:
            continue
        try:
            fds = os.listdir(f"/proc/{d}/fd")
        except OSError:
            continue
        n = 0
        for fd in fds:
            try:
                target = os.readlink(f"/proc/{d}/fd/{fd}")
            except OSError:
                continue
            if target.startswith(("anon_inode:bpf-prog", "anon_inode:bpf_link",
                                  "anon_inode:bpf-link")):
                n += 1
        if n:
            try:
                comm = Path(f"/proc/{d}/comm").read_text().strip()
            except OSError:
                comm = "?"
            found.append(f"{d}:{comm}")
    return found


def ring_consumer_positions(pid: int) -> list[int] | None:
    """Consumer positions of the BPF ring buffers a process has mapped (the
    one-page read-write mapping at offset 0, as probes/ringbuf.py maps it)."""
    page = os.sysconf("SC_PAGE_SIZE")
    try:
        maps = Path(f"/proc/{pid}/maps").read_text()
        found = []
        with open(f"/proc/{pid}/mem", "rb", buffering=0) as mem:
            for line in maps.splitlines():
                f = line.split()
                if (len(f) >= 6 and f[1] == "rw-s" and f[5].startswith("anon_inode:bpf")
                        and int(f[2], 16) == 0):
                    lo, hi = (int(x, 16) for x in f[0].split("-"))
                    if hi - lo == page:
                        mem.seek(lo)
                        found.append(int.from_bytes(mem.read(8), "little"))
        return found
    except OSError:
        return None


def count_in_file(path: Path, patterns: list[bytes]) -> list[int]:
    """Occurrences of each pattern in a (large) file, read in chunks."""
    counts = [0] * len(patterns)
    keep = max(len(p) for p in patterns) - 1
    tail = b""
    with open(path, "rb") as f:
        while True:
            chunk = f.read(16 << 20)
            if not chunk:
                break
            data = tail + chunk
            for i, p in enumerate(patterns):
                # a match inside the carried-over tail was counted with the last chunk
                counts[i] += data.count(p) - tail.count(p)
            tail = data[-keep:] if keep else b""
    return counts


def capture_rows_of(path: Path, pid: int) -> int:
    """Records of ``pid`` a cdig capture shows (not kept only for state)."""
    import pyarrow.compute as pc
    import pyarrow.ipc as ipc

    n = 0
    with ipc.open_stream(str(path)) as r:
        for rb in r:
            if rb.num_rows:
                mask = pc.and_(pc.equal(rb.column("pid"), pid), pc.invert(rb.column("ctx")))
                n += pc.sum(mask.cast("int64")).as_py() or 0
    return n


def med(values: Iterable[float | int | None]) -> float | None:
    vals = [v for v in values if v is not None]
    return statistics.median(vals) if vals else None


# --------------------------------------------------------------------------- the bench


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
        self.old_env: dict[str, str] | None = None
        if args.old_tree:  # another checkout's cdig: python -m cdig over a link tree of it
            sys.path.insert(0, str(REPO / "scripts"))
            from typecheck import link_tree

            link_tree(Path(args.old_tree).resolve(), self.work / "old")
            self.old_env = dict(os.environ, PYTHONPATH=str(self.work / "old"))
            # python -m puts its cwd first on sys.path: run it where no cdig/ is, and
            # check that the old tree's modules are the ones imported
            where = subprocess.run(
                [sys.executable, "-c", "import cdig.collector.session as s; print(s.__file__)"],
                env=self.old_env, cwd=self.work, capture_output=True, text=True, check=True)
            if not where.stdout.startswith(str(self.work / "old")):
                raise BenchError(f"--old-tree: cdig imports from {where.stdout.strip()}")

    def cdig_argv(self, old: bool) -> list[str]:
        """The command that runs cdig (``old``: the --old-tree's)."""
        if old:
            if self.old_env is None:
                raise BenchError("the -old configurations need --old-tree DIR")
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
                           env=self.old_env if old else None, cwd=self.work if old else None)
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
            p = self.spawn(argv, stdout=subprocess.PIPE, stderr=fe, stdin=subprocess.DEVNULL)
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
                               stdin=subprocess.DEVNULL, env=self.old_env if old else None,
                               cwd=self.work if old else None)
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
            for key, env in (("breakdown", None), ("breakdown_pyc", self._pyc_env())):
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
        env = dict(os.environ)
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


# --------------------------------------------------------------------------- children
# Each child loads one probe, prints {"ready": true}, counts until SIGINT, then
# prints one JSON line with its counts. They run as separate processes so that
# their CPU time is measured like any tracer's.

_STOP = [False]


def _on_stop(signum: int, frame: Any) -> None:
    _STOP[0] = True


def _say(obj: dict[str, Any]) -> None:
    sys.stdout.write(json.dumps(obj) + "\n")
    sys.stdout.flush()


def _rec48() -> Any:
    import numpy as np

    return np.dtype([("ts_ns", "<u8"), ("cgroup_id", "<u8"), ("ret", "<i8"), ("id", "<u8"),
                     ("pid", "<u4"), ("tid", "<u4"), ("cpu", "<u4"), ("pad", "<u4")])


def _load_stock(a: argparse.Namespace) -> Any:
    import ctypes

    from bcc import BPF

    pages = (a.ring_mb << 20) // os.sysconf("SC_PAGE_SIZE")
    b = BPF(text=STOCK_BPF.read_text(), cflags=[f"-DRING_PAGES={pages}"])
    b["target"][ctypes.c_int(0)] = ctypes.c_uint32(a.pid)
    return b


def _stock_counters(b: Any) -> tuple[int, int]:
    import ctypes

    c = b["counters"]
    return int(sum(c[ctypes.c_int(0)])), int(sum(c[ctypes.c_int(1)]))


def child_stock(a: argparse.Namespace) -> None:
    """bcc's documented way: one Python callback per record."""
    b = _load_stock(a)
    count = [0]

    def callback(ctx: Any, data: Any, size: int) -> None:
        count[0] += 1

    b["events"].open_ring_buffer(callback)
    polls = 0
    t_last = 0
    _say({"ready": True})
    cpu0 = time.process_time()
    while not _STOP[0]:
        before = count[0]
        b.ring_buffer_poll(50)
        polls += 1
        if count[0] != before:
            t_last = time.time_ns()
    before = count[0]
    b.ring_buffer_consume()
    if count[0] != before:
        t_last = time.time_ns()
    cpu = time.process_time() - cpu0
    dropped, sent = _stock_counters(b)
    b.cleanup()
    _say({"delivered": count[0], "getppid_delivered": None, "kernel_dropped": dropped,
          "kernel_sent": sent, "polls": polls, "t_last_ns": t_last, "consumer_cpu_s": cpu,
          "records_read": count[0]})


def child_bulk48(a: argparse.Namespace) -> None:
    """The same program, its ring read with cdig's bulk reader (probes/ringbuf.py)."""
    import numpy as np

    from cdig.probes.ringbuf import RingBuffer, RingPoller
    from cdig.probes.syscalls.layout import slot_dtype

    b = _load_stock(a)
    ring = RingBuffer(b["events"].map_fd, a.ring_mb << 20, slot_dtype(_rec48()))
    poller = RingPoller([ring])
    total = getppid = drains = 0
    t_last = 0
    _say({"ready": True})
    cpu0 = time.process_time()
    while True:
        stopping = _STOP[0]
        recs = ring.drain()
        n = len(recs)
        if n:
            drains += 1
            total += n
            getppid += int(np.count_nonzero(recs["rec"]["id"] == SYS_GETPPID))
            t_last = time.time_ns()
        if stopping:
            break
        if n < 1024:
            poller.wait(0.1 if n == 0 else 0.005)
    cpu = time.process_time() - cpu0
    dropped, sent = _stock_counters(b)
    poller.close()
    ring.close()
    b.cleanup()
    _say({"delivered": total, "getppid_delivered": getppid, "kernel_dropped": dropped,
          "kernel_sent": sent, "drains": drains, "t_last_ns": t_last, "consumer_cpu_s": cpu,
          "records_read": total})


def child_drain(a: argparse.Namespace) -> None:
    """cdig's own probe and ring reader, no decode: the collection ceiling."""
    import numpy as np

    from cdig.probes.ringbuf import RingPoller
    from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

    # as `cdig trace proc.name=X` builds it: default ring sizes, and no kernel
    # filter (proc.name is not pushed into the kernel)
    probe = SyscallProbe(ProbeConfig())
    probe.load()
    small, ext, _io = probe.rings  # no snaplen: the io ring stays empty
    poller = RingPoller(probe.rings)
    comm = a.comm.encode()
    total = mine = getppid = drains = 0
    t_last = 0
    _say({"ready": True})
    cpu0 = time.process_time()
    while True:
        stopping = _STOP[0]
        x = small.drain()
        y = ext.drain()
        n = len(x) + len(y)
        if n:
            drains += 1
            total += n
            rec = x["rec"]
            is_mine = rec["comm"] == comm
            k = int(np.count_nonzero(is_mine))
            getppid += int(np.count_nonzero(is_mine & (rec["nr"] == SYS_GETPPID)
                                            & (rec["kind"] == 0)))
            if len(y):
                k += int(np.count_nonzero(y["rec"]["ev"]["comm"] == comm))
            if k:
                mine += k
                t_last = time.time_ns()
        if stopping:
            break
        if n < 1024:
            poller.wait(0.1 if n == 0 else 0.005)
    cpu = time.process_time() - cpu0
    stats = probe.stats()
    poller.close()
    probe.close()
    _say({"consumer_cpu_s": cpu, "records_read": total, "delivered": mine,
          "getppid_delivered": getppid, "records_all_processes": total,
          "kernel_dropped": stats.get("dropped_ring", 0) + stats.get("dropped_ext", 0)
          + stats.get("dropped_inflight", 0), "kernel_stats": stats, "drains": drains,
          "t_last_ns": t_last})


def child_startup(a: argparse.Namespace) -> None:
    """``cdig trace -n 1 proc.name=<comm>`` run in-process through ``cdig.cli.main``,
    with its start-up steps timed by wrapping the functions run_trace calls (so the
    breakdown follows cdig/trace.py as it is, whatever its order)."""
    import importlib
    import io

    marks: list[tuple[str, float]] = []
    t_begin = time.perf_counter()

    def timed_import(label: str, names: list[str]) -> None:
        t0 = time.perf_counter()
        for name in names:
            try:
                importlib.import_module(name)
            except ImportError:
                pass
        marks.append((label, time.perf_counter() - t0))

    timed_import("import numpy", ["numpy"])
    timed_import("import cdig (cli, trace, collector, probes)", [
        "cdig.cli", "cdig.trace", "cdig.collector.filter", "cdig.collector.fields",
        "cdig.collector.formatter", "cdig.collector.containers", "cdig.collector.decode",
        "cdig.collector.session", "cdig.collector.enrich", "cdig.collector.sources",
        "cdig.collector.state", "cdig.probes.loader", "cdig.capture_cmd"])
    timed_import("import bcc", ["bcc"])

    calls: list[tuple[str, float, float]] = []

    def timed(label: str, fn: Callable[..., Any]) -> Callable[..., Any]:
        def wrapper(*args: Any, **kw: Any) -> Any:
            t0 = time.perf_counter()
            try:
                return fn(*args, **kw)
            finally:
                calls.append((label, t0, time.perf_counter()))
        return wrapper

    import cdig.cli
    import cdig.trace
    from cdig.collector.containers import ContainerResolver
    from cdig.collector.sources import LiveSource
    from cdig.collector.state import State

    wraps: list[tuple[Any, str, str, bool]] = [
        (cdig.trace, "_compile", "compile filter", False),
        (ContainerResolver, "for_host", "container resolver (for_host)", True),
        (ContainerResolver, "scan", "container scan (starts a thread)", False),
        (ContainerResolver, "wait_for_metadata", "wait for container metadata", False),
        (LiveSource, "start", "probe compile (or cache) + load + attach", False),
        (State, "seed", "seed processes from /proc", False),
        (LiveSource, "close", "detach + close (after the event)", False),
    ]
    for owner, name, label, is_classmethod in wraps:
        orig = getattr(owner, name, None)
        if orig is None:
            continue
        w = timed(label, orig)
        setattr(owner, name, classmethod(lambda cls, *a, _w=w, **k: _w(*a, **k))
                if is_classmethod else w)

    class FirstWrite(io.TextIOBase):
        first: float | None = None

        def write(self, text: str) -> int:
            if self.first is None and text:
                self.first = time.perf_counter()
            return len(text)

    out = FirstWrite()
    sys.stdout = out
    t_main = time.perf_counter()
    try:
        rc = cdig.cli.main(["trace", "-n", "1", f"proc.name={a.comm}"])
    finally:
        sys.stdout = sys.__stdout__
    t_end = time.perf_counter()
    first = out.first or t_end
    before = sum(d for _, d in marks)
    steps = dict(marks)
    inside = 0.0
    for label, t0, t1 in calls:
        if t0 < first:
            steps[label] = steps.get(label, 0.0) + (t1 - t0)
            inside += t1 - t0
    steps["rest of run_trace until the first line"] = (first - t_main) - inside
    for label, t0, t1 in calls:
        if t0 >= first:
            steps[label] = steps.get(label, 0.0) + (t1 - t0)
    _say({"rc": rc, "steps": steps, "imports_s": before,
          "main_to_first_line_s": first - t_main, "first_line_to_exit_s": t_end - first,
          "child_total_s": t_end - t_begin})


class _ListSource:
    """Recorded batches as an EventSource, for running the real Pipeline offline."""

    def __init__(self, batches: list[Any]) -> None:
        self._batches = batches

    def batches(self) -> Iterable[Any]:
        yield from self._batches

    def stop(self) -> None:
        pass

    def drops(self) -> int:
        return 0


def child_profile(a: argparse.Namespace) -> None:
    """Record the probe's output while the parent runs a loop, then time each
    userspace stage on the recorded batches (no tracing running while timing).
    Times are this thread's CPU time, so other load on the host inflates them
    less than it would wall time (cache and SMT sharing still show)."""
    import cProfile
    import gc
    import pstats

    import numpy as np

    from cdig.collector.containers import ContainerResolver
    from cdig.collector.decode import Decoder, RawBatch
    from cdig.collector.filter import compile_filter
    from cdig.collector.filter.batch import BatchFilter
    from cdig.collector.render import BatchRenderer
    from cdig.collector.session import LineSink, Session
    from cdig.collector.state import State
    from cdig.probes.ringbuf import RingPoller
    from cdig.probes.syscalls import layout
    from cdig.probes.syscalls.probe import ProbeConfig, SyscallProbe

    probe = SyscallProbe(ProbeConfig())
    probe.load()
    small, ext, _io = probe.rings  # no snaplen: the io ring stays empty
    poller = RingPoller(probe.rings)
    recorded: list[RawBatch] = []
    max_drain = 16384  # LiveSource's bound per drain (collector/sources.py)
    empty_ext = np.empty(0, dtype=layout.EXT_RECORD)
    empty_small = np.empty(0, dtype=layout.RECORD)

    def drain() -> int:
        x, y = small.drain(max_drain), ext.drain(max_drain // 4)
        if len(x) or len(y):
            recorded.append(RawBatch(x["rec"] if len(x) else empty_small,
                                     y["rec"] if len(y) else empty_ext))
        return len(x) + len(y)

    _say({"ready": True})
    while True:
        stopping = _STOP[0]
        n = drain()
        if stopping and not n:
            break
        if n < 1024 and not stopping:
            poller.wait(0.1 if n == 0 else 0.005)
    stats = probe.stats()
    poller.close()
    probe.close()
    live_batches = len(recorded)
    n_records = sum(len(b) for b in recorded)
    mine = sum(int(np.count_nonzero(b.events["comm"] == a.comm.encode())) for b in recorded)
    # Batches as the live reader cut them depend on how it races the kernel (a
    # reader that keeps up drains a few records at a time). Re-cut the records
    # into fixed sizes so that per-batch and per-record costs can be told apart.
    small_all = np.concatenate([b.events for b in recorded if len(b.events)] or [empty_small])
    ext_all = np.concatenate([b.ext for b in recorded if len(b.ext)] or [empty_ext])
    # Only the loop's records: per record is then per event, whatever else the
    # host was doing while recording (other processes' records are measured once,
    # for the prefilter, below).
    comm = a.comm.encode()
    others_small = small_all[small_all["comm"] != comm]
    small_all = small_all[small_all["comm"] == comm]
    ext_all = ext_all[ext_all["ev"]["comm"] == comm]
    n_records = len(small_all) + len(ext_all)

    def rebatch(size: int) -> list[RawBatch]:
        starts = list(range(0, len(small_all), size))
        edges = small_all["ts_ns"][starts[1:]]
        chunk_of_ext = np.searchsorted(edges, ext_all["ev"]["ts_ns"], side="right")
        return [RawBatch(small_all[i:i + size], ext_all[chunk_of_ext == k])
                for k, i in enumerate(starts)]

    recorded = rebatch(a.profile_batch)

    resolver = ContainerResolver.for_host()
    flt = compile_filter(f"proc.name={a.comm}")
    gc.freeze()
    gc.set_threshold(200_000, 50, 1000)  # as cdig trace does
    devnull = open(os.devnull, "w")

    def fresh() -> tuple[Any, Any, Any, Any]:
        dec = Decoder()
        st = State(container_of=resolver.resolve)
        st.seed()
        session = Session(_ListSource([]), dec, st, BatchFilter(flt, dec.table))
        return dec, st, session, BatchRenderer.json(dec.table)

    def split_pass() -> tuple[list[int], int]:
        """The Session's stages one at a time per batch, each timed within the same
        pass: decode to columns, raw-part pruning, enrichment, filter mask, JSON
        lines, join + write. ns per stage, and the events matched."""
        dec, st, session, rend = fresh()
        clock = time.thread_time_ns
        acc = [0] * 6
        matched_n = 0
        for raw in recorded:
            c0 = clock()
            b = dec.batch(raw)
            c1 = clock()
            keep = session.filter.raw(b.rec) | session.enricher.state_rows(b.rec)
            if not keep.all():
                b = b.take(np.flatnonzero(keep))
            c2 = clock()
            session.enricher.enrich(b)
            c3 = clock()
            rows = np.flatnonzero(session.filter.mask(b))
            c4 = clock()
            lines, _ = rend.lines(b, rows)
            c5 = clock()
            if lines:
                lines.append("")
                devnull.write("\n".join(lines))
                devnull.flush()
            c6 = clock()
            matched_n += len(rows)
            for i, (x, y) in enumerate(((c0, c1), (c1, c2), (c2, c3), (c3, c4), (c4, c5),
                                        (c5, c6))):
                acc[i] += y - x
        return acc, matched_n

    def real_session(batches: list[Any] | None = None) -> int:
        """cdig's own Session over the recorded batches, with trace's LineSink."""
        dec, st, _, rend = fresh()
        session = Session(_ListSource(recorded if batches is None else batches), dec, st,
                          BatchFilter(flt, dec.table), [LineSink(rend, devnull)],
                          on_batch=devnull.flush)
        t0 = time.thread_time_ns()
        session.run()
        return time.thread_time_ns() - t0

    names = ["decode (rings → columns)", "raw-part pruning", "enrich (state as of each row)",
             "filter mask (proc.name=…)", "JSON lines (per-key segments + f-string)",
             "join + write"]
    best = [float("inf")] * 6
    events = 0
    for _ in range(a.profile_rounds):
        acc, events = split_pass()
        for i, ns in enumerate(acc):
            best[i] = min(best[i], ns)
    stages = []
    cum = 0.0
    for name, ns in zip(names, best, strict=True):
        cum += ns
        stages.append({"stage": name, "ns_per_record": ns / n_records,
                       "cumulative_ns_per_record": cum / n_records})
    real_ns = min(real_session() for _ in range(a.profile_rounds))
    sweep = []
    for size in (64, 512, 4096, 16384, 131072):
        batches = rebatch(size)
        ns = min(real_session(batches) for _ in range(max(1, a.profile_rounds // 2)))
        sweep.append({"batch": size, "ns_per_record": ns / n_records})
    dec, _, _, rend = fresh()
    sample = dec.batch(recorded[0])
    Session(_ListSource([]), dec, State(container_of=resolver.resolve)).enricher.enrich(sample)
    some, _ = rend.lines(sample, np.arange(min(len(sample), 1000)))
    line_bytes = sum(len(x) + 1 for x in some) / max(len(some), 1)

    prof = cProfile.Profile()
    prof.enable()
    real_session()
    prof.disable()
    ps = pstats.Stats(prof)
    top = []
    for (file, line, func), (_cc, nc, tt, ct, _callers) in sorted(
            ps.stats.items(), key=lambda kv: -kv[1][2])[:a.profile_top]:
        short = file.replace(str(REPO) + "/", "")
        top.append({"function": f"{short}:{line}({func})", "calls_per_record": nc / n_records,
                    "tottime_ns_per_record": tt * 1e9 / n_records,
                    "cumtime_ns_per_record": ct * 1e9 / n_records})
    devnull.close()
    resolver.close()
    _say({"records": n_records, "records_of_workload": mine, "events_decoded": events,
          "other_records": len(others_small), "matched": events, "live_batches": live_batches,
          "live_mean_batch": n_records / max(1, live_batches), "batch": a.profile_batch,
          "batch_sweep": sweep, "kernel_stats": stats, "stages": stages,
          "real_pipeline_ns_per_record": real_ns / n_records, "json_line_bytes": line_bytes,
          "cprofile_top": top})


CHILDREN = {"stock": child_stock, "bulk48": child_bulk48, "drain": child_drain,
            "startup": child_startup, "profile": child_profile}


# --------------------------------------------------------------------------- reporting


def _fmt(v: Any, spec: str = ",.0f", suffix: str = "") -> str:
    if v is None:
        return "-"
    if isinstance(v, float) and spec.endswith("f") and abs(v) >= 1e4 and "," not in spec:
        spec = "," + spec
    return f"{v:{spec}}{suffix}"


ROW_LABELS = {
    "baseline": "baseline (untraced)",
    "cdig-null": "cdig trace -j > /dev/null",
    "cdig-file": "cdig trace -j > tmpfs file",
    "cdig-write": "cdig trace -w tmpfs file",
    "drain": "cdig probe + bulk drain, no decode",
    "stock": "bcc stock callback (48 B recs)",
    "bulk48": "same 48 B prog + cdig bulk drain",
    "bpftrace": "bpftrace printf > tmpfs file",
    "cdig-file-old": "--old-tree: cdig trace -j > file",
    "cdig-write-old": "--old-tree: cdig trace -w file",
}


def summarise(results: dict[str, Any]) -> dict[str, Any]:
    """Medians per configuration and the ratios asked for."""
    summary: dict[str, Any] = {}
    for key, runs in results.items():
        if key in ("ttfe", "ttfe-old", "profile") or not runs:
            continue
        ok = [r for r in runs if "error" not in r]
        if not ok:
            summary[key] = {"error": runs[-1].get("error")}
            continue
        keys = {k for r in ok for k, v in r.items() if isinstance(v, int | float)
                and not isinstance(v, bool) and not k.startswith("t_")}
        summary[key] = {k: med(r.get(k) for r in ok) for k in sorted(keys)}
        summary[key]["runs_ok"] = len(ok)
        summary[key]["runs_with_foreign_bpf"] = sum(1 for r in ok if r.get("foreign_bpf"))
        summary[key]["runs_failed"] = len(runs) - len(ok)
        exp = summary[key].get("expected")
        if exp:
            summary[key]["lost_pct"] = 100.0 * (summary[key].get("lost") or 0) / exp
    base = summary.get("baseline", {}).get("ns_per_call")
    base_cpu = summary.get("baseline", {}).get("cpu_ns_per_call")
    ref_bt = summary.get("bpftrace", {}).get("events_per_s")
    ref_stock = summary.get("stock", {}).get("events_per_s")
    for s in summary.values():
        if "error" in s:
            continue
        if base and s.get("ns_per_call"):
            s["x_baseline"] = s["ns_per_call"] / base
            s["added_ns_per_call"] = s["ns_per_call"] - base
        if base_cpu and s.get("cpu_ns_per_call"):
            s["added_cpu_ns_per_call"] = s["cpu_ns_per_call"] - base_cpu
        if s.get("events_per_s"):
            s["x_bpftrace_events_per_s"] = s["events_per_s"] / ref_bt if ref_bt else None
            s["x_stock_events_per_s"] = s["events_per_s"] / ref_stock if ref_stock else None
    return summary


def render(meta: dict[str, Any], summary: dict[str, Any], results: dict[str, Any],
           commands: dict[str, str]) -> str:
    L: list[str] = []
    L.append(f"cdig trace throughput — {meta['date']}, {meta['nproc']} vCPU, "
             f"kernel {meta['kernel']}, {meta['cpu']}")
    L.append(f"code: git {meta['git_head']}"
             + (f" + uncommitted changes in {', '.join(meta['git_modified'])}"
                if meta["git_modified"] else ""))
    L.append(f"workload: {meta['calls']:,} x getppid() in a static C loop "
             f"('{meta['comm']}'), median of {meta['repeat']} runs; "
             f"fixed exit cost {meta['fixed_us']:.0f} us subtracted")
    L.append("")
    hdr = (f"{'configuration':36} {'ns/call':>8} {'x base':>7} {'+ns':>7} {'cpu ns':>7} "
           f"{'+cpu':>7} {'tracer':>6} {'others':>6}")
    L.append("A. the traced loop")
    L.append(hdr)
    L.append("-" * len(hdr))
    rows = [(k, lbl, summary[k]) for k, lbl in ROW_LABELS.items() if k in summary]
    for _key, label, s in rows:
        if "error" in s:
            L.append(f"{label:36} failed: {s['error']}")
            continue
        L.append(
            f"{label:36} {_fmt(s.get('ns_per_call')):>8} {_fmt(s.get('x_baseline'), '.2f'):>7} "
            f"{_fmt(s.get('added_ns_per_call')):>7} {_fmt(s.get('cpu_ns_per_call')):>7} "
            f"{_fmt(s.get('added_cpu_ns_per_call')):>7} "
            f"{_fmt(s.get('tracer_cpus'), '.2f'):>6} {_fmt(s.get('other_cpus'), '.2f'):>6}")
    L.append("ns/call: wall time per call of the loop (x base: ÷ baseline, +ns: − baseline).")
    L.append("cpu ns: the loop's own CPU per call (user + sys, BPF programs included; +cpu:")
    L.append("− baseline's, i.e. the in-kernel cost of the probes, less sensitive to contention);")
    L.append("wall > cpu means it waited for a CPU. tracer, others: CPUs' worth of time used")
    L.append("during the loop by the tracer and by every other process (2 = both vCPUs).")
    foreign = {k: s.get("runs_with_foreign_bpf") for k, _, s in rows
               if s.get("runs_with_foreign_bpf")}
    if foreign:
        L.append("WARNING: another process held BPF programs during some runs (its probes may")
        L.append("slow the loop in every configuration, the baseline too): "
                 + ", ".join(f"{k} {v}" for k, v in foreign.items()))
    L.append("")
    hdr = (f"{'configuration':36} {'delivered':>10} {'lost %':>7} {'kdrops':>9} "
           f"{'events/s':>10} {'/bpftr':>6} {'/stock':>6} {'drain s':>7} {'us/ev':>6} "
           f"{'ev/CPU-s':>10}")
    L.append("B. delivery")
    L.append(hdr)
    L.append("-" * len(hdr))
    for key, label, s in rows:
        if key == "baseline" or "error" in s:
            continue
        drain = s.get("drain_after_end_s")
        L.append(
            f"{label:36} {_fmt(s.get('delivered')):>10} {_fmt(s.get('lost_pct'), '.2f'):>7} "
            f"{_fmt(s.get('kernel_dropped')):>9} {_fmt(s.get('events_per_s')):>10} "
            f"{_fmt(s.get('x_bpftrace_events_per_s'), '.2f'):>6} "
            f"{_fmt(s.get('x_stock_events_per_s'), '.2f'):>6} "
            f"{_fmt(None if drain is None else max(0.0, drain), '.2f'):>7} "
            f"{_fmt(s.get('consumer_us_per_event'), '.2f'):>6} "
            f"{_fmt(s.get('capacity_events_per_cpu_s')):>10}")
    L.append("delivered: the loop's events that reached the consumer (expected: N + 3 for")
    L.append("cdig's probe, N + 2 for sys_exit-only programs); lost %: (expected − delivered)")
    L.append("÷ expected. kdrops: drops counted in the kernel (for cdig, of every process:")
    L.append("proc.name is filtered in userspace, so the probe streams the whole host).")
    L.append("events/s: delivered ÷ (release of the loop → last event out); for cdig >")
    L.append("/dev/null the end is cdig's exit (a lower bound). A consumer that keeps up")
    L.append("cannot beat the loop's own rate (1e9 ÷ ns/call): see ev/CPU-s for capacity.")
    L.append("/bpftr, /stock: events/s ÷ bpftrace's, ÷ the stock callback's. drain s: last")
    L.append("event out − loop end. us/ev: the consumer's CPU per record it read (cdig: per")
    L.append("event decoded, all processes, both threads); ev/CPU-s: records per CPU-second.")
    for key in ("cdig-null", "cdig-file", "cdig-write"):
        s = summary.get(key)
        if s and "error" not in s:
            L.append(f"{key}: seen {_fmt(s.get('seen'))} events (all processes), "
                     f"cdig CPU {_fmt(s.get('consumer_us_per_event'), '.1f')} us per "
                     f"event seen, {_fmt(s.get('consumer_us_per_event_shown'), '.1f')} us per "
                     f"event shown; tracer CPUs during the loop "
                     f"{_fmt(s.get('tracer_cpus'), '.2f')}; SIGINT → exit "
                     f"{_fmt(s.get('signal_to_exit_s'), '.1f')} s"
                     + (f"; last line → exit {_fmt(s.get('last_line_to_exit_s'), '.2f')} s"
                        if key in ("cdig-file", "cdig-write") else ""))
    t = results.get("ttfe")
    if t and "error" not in t:
        L.append("")
        L.append(f"C. time to first event: cdig trace -n 1 proc.name={meta['comm']} while "
                 f"'{meta['comm']}' makes ~200 syscalls/s (median of {len(t['e2e_s'])})")
        L.append(f"  start → first line {med(t['e2e_s']):.2f} s; start → exit "
                 f"{med(t['exit_s']):.2f} s (compiled probe cached); without the cache "
                 f"(the first start) {_fmt(med(t.get('e2e_cold_s') or []), '.2f')} s")
        L.append("  breakdown (cdig.cli.main run in-process, steps timed by wrapping; "
                 "median of runs):")
        L.append(f"    {'interpreter start (python -c pass)':46} "
                 f"{med(t['interpreter_s']) * 1e3:7.0f} ms")
        for key, title in (("breakdown", "as installed"), ("breakdown_pyc", "with .pyc cache")):
            runs = t.get(key) or []
            if not runs:
                continue
            if key == "breakdown_pyc":
                L.append(f"    with a bytecode cache for cdig's modules (this environment "
                         f"sets PYTHONDONTWRITEBYTECODE): imports "
                         f"{med(r['imports_s'] for r in runs) * 1e3:.0f} ms instead of "
                         f"{med(r['imports_s'] for r in t['breakdown']) * 1e3:.0f} ms")
                continue
            steps = list(runs[0]["steps"])
            for step in steps:
                v = med(r["steps"].get(step) for r in runs)
                L.append(f"    {step:46} {v * 1e3:7.0f} ms")
            L.append(f"    {'= main() start → first line':46} "
                     f"{med(r['main_to_first_line_s'] for r in runs) * 1e3:7.0f} ms "
                     f"(+ imports {med(r['imports_s'] for r in runs) * 1e3:.0f} ms); first "
                     f"line → exit {med(r['first_line_to_exit_s'] for r in runs) * 1e3:.0f} ms"
                     f" ({title})")
    elif t:
        L.append(f"time to first event: failed: {t['error']}")
    t = results.get("ttfe-old")
    if t and "error" not in t:
        L.append(f"  --old-tree: start → first line {med(t['e2e_s']):.2f} s (median of "
                 f"{len(t['e2e_s'])}), the first start {_fmt(med(t['e2e_cold_s']), '.2f')} s")
    elif t:
        L.append(f"time to first event, --old-tree: failed: {t['error']}")
    p = results.get("profile")
    if p and "error" not in p:
        L.append("")
        L.append(f"D. cdig userspace cost per event: the loop's {p['records']:,} records, "
                 f"recorded live (the reader drained {p['live_mean_batch']:.0f} records per "
                 f"drain), re-cut into batches of {p['batch']}; thread CPU time, best of "
                 f"{meta['profile_rounds']}; JSON lines of {p['json_line_bytes']:.0f} bytes")
        for st in p["stages"]:
            cum = st["cumulative_ns_per_record"]
            L.append(f"  {st['stage']:40} {st['ns_per_record']:7,.0f} ns   (cumulative "
                     f"{cum:6,.0f} ns = {1e9 / cum if cum else 0:9,.0f} events/s, one core)")
        rp = p["real_pipeline_ns_per_record"]
        L.append(f"  {'cdig Session.run, all of it (check)':40} {rp:7,.0f} ns   "
                 f"= {1e9 / rp:,.0f} events/s")
        L.append("  Session.run by batch size, ns/record: " + ", ".join(
            f"{b['batch']}: {b['ns_per_record']:,.0f}" for b in p["batch_sweep"]))
        L.append("  cProfile of Session.run (it inflates small calls), by own time, "
                 "ns per record:")
        for f in p["cprofile_top"]:
            L.append(f"    {f['tottime_ns_per_record']:7,.0f}  x{f['calls_per_record']:<5.2f} "
                     f"{f['function']}")
    elif p:
        L.append(f"profile: failed: {p['error']}")
    L.append("")
    L.append("commands:")
    for k, v in commands.items():
        L.append(f"  {k:15} {v}")
    return "\n".join(L)


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
                    log("  " + ", ".join(f"{k}={_fmt(r.get(k), '.3g')}" for k in (
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
        signal.signal(signal.SIGINT, _on_stop)
        signal.signal(signal.SIGTERM, _on_stop)
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
