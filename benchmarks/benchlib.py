"""What the benchmarks share: a quiet-host check (the host's and a process's CPU
ticks, other processes' CPU while a loop runs, other BPF programs loaded), the
small numeric and file helpers their reports use, and the parts of running one
(what the host lacks, the report's first line, a C loop built, a child tracer
process that reports as JSON and the signal that stops it)."""

from __future__ import annotations

import contextlib
import json
import os
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from types import FrameType
from typing import Any

CLK_TCK = os.sysconf("SC_CLK_TCK")


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


# --------------------------------------------------------------------------- running one


def unmet_needs(root: bool = True, tools: Iterable[str] = ()) -> str | None:
    """What this host lacks to run a benchmark (``needs root and gcc``), else None."""
    lacking = ["root"] if root and os.geteuid() != 0 else []
    lacking += [t for t in tools if shutil.which(t) is None]
    return f"needs {' and '.join(lacking)}" if lacking else None


def host_header(repo: Path) -> str:
    """The line a report starts with: kernel, CPUs, the load now, ``repo``'s revision."""
    git = subprocess.run(["git", "-C", str(repo), "rev-parse", "--short", "HEAD"],
                         capture_output=True, text=True).stdout.strip()
    return (f"kernel {os.uname().release}, {os.cpu_count()} CPUs; load average "
            f"{os.getloadavg()[0]:.2f} at start; git {git}")


def compile_c(source: str, binary: Path) -> Path:
    """``source`` built by ``gcc -O2`` into ``binary`` (the source kept next to it)."""
    src = binary.parent / f"{binary.name}.c"
    src.write_text(source)
    subprocess.run(["gcc", "-O2", "-o", str(binary), str(src)], check=True)
    return binary


class StopSignal:
    """SIGINT and SIGTERM noted instead of raised: a child's read loop sees ``set``
    at its next check, drains once more and reports, rather than dying mid-report."""

    def __init__(self) -> None:
        self.set = False
        signal.signal(signal.SIGINT, self._note)
        signal.signal(signal.SIGTERM, self._note)

    def _note(self, signum: int, frame: FrameType | None) -> None:
        self.set = True


def drain_until_stopped(drain: Callable[[], int], wait: Callable[[float], object],
                        stop: StopSignal) -> None:
    """A child's read loop: ``drain()`` (it returns how many records it read) until
    ``stop`` is set, and once more after that (what the last syscalls wrote). After
    a small drain it waits on the rings (``wait(seconds)``): 5 ms after a few
    records, 100 ms after none; after a big one (the reader behind) it drains at once."""
    while True:
        stopping = stop.set
        n = drain()
        if stopping:
            return
        if n < 1024:
            wait(0.1 if n == 0 else 0.005)


class JsonChild:
    """A child program (a tracer measured as a process of its own) that prints one
    JSON line once it is ready and, after SIGINT, its report as its last JSON line:
    ``result`` once ``running()`` has ended."""

    def __init__(self, argv: list[str]) -> None:
        self.argv = argv
        self.result: dict[str, Any] = {}

    @contextlib.contextmanager
    def running(self) -> Iterator[dict[str, Any]]:
        """The child runs while the block does; yields its ready line."""
        p = subprocess.Popen(self.argv, stdin=subprocess.DEVNULL, stdout=subprocess.PIPE,
                             stderr=subprocess.PIPE, text=True)
        assert p.stdout is not None and p.stderr is not None  # both are pipes
        try:
            line = p.stdout.readline()
            if not line.startswith("{"):
                raise BenchError(f"{shlex.join(self.argv)} did not start: "
                                 f"{line}{p.stderr.read()}")
            yield json.loads(line)
        finally:
            p.send_signal(signal.SIGINT)
            try:
                out, _ = p.communicate(timeout=60)
            except subprocess.TimeoutExpired:
                p.kill()
                out, _ = p.communicate()
            lines = [ln for ln in (out or "").splitlines() if ln.startswith("{")]
            self.result = json.loads(lines[-1]) if lines else {}
