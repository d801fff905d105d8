"""What the benchmarks share: a quiet-host check (the host's and a process's CPU
ticks, other processes' CPU while a loop runs, other BPF programs loaded), and
the small numeric and file helpers their reports use."""

from __future__ import annotations

import os
import statistics
import sys
import time
from collections.abc import Iterable
from pathlib import Path

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


# --------------------------------------------------------------------------- the bench
