"""What ``cdig top`` costs: its own CPU, idle and under a syscall storm, its RSS
after a long storm, whether its counts stay exact under the storm, and how long a
refresh takes with 2,000 processes on the host.

Runs the real ``cdig top`` (live, root) in a tmux pane — a real terminal — and
reads the CPU time of its process from /proc/PID/stat before and after each
phase: CPU seconds per wall second (1.0 = one CPU busy). The refresh timings come
from the app itself (``CDIG_TOP_TIMINGS``: per frame, the worker's build time
and the UI thread's apply time).

    sudo .venv/bin/python benchmarks/tui_cost.py              # ~13 minutes
    sudo .venv/bin/python benchmarks/tui_cost.py --seconds 5 --storm-seconds 60 \
        --procs 500                                             # quicker
    ... --env PYTHONPATH=DIR   # another tree's cdig (DIR/cdig), for a baseline

Phases: idle (nothing started by the benchmark); storm: a getppid loop of
tests/integration/workload.c (built with gcc) on one CPU for ``--storm-seconds``
(600: the issue's "after 10 minutes"), CPU measured over the first
``--seconds`` and the last ``--seconds``, RSS (/proc/PID/status VmRSS) at the
end; exactness: a second loop makes exactly ``--exact-calls`` getppid calls and
sleeps, under the storm, and its SYSCALLS cell in the Processes view (found with
the row text filter) must grow by exactly calls + 1 (its first nanosleep) from what
it read during that first sleep; 2,000 sleeping
processes (``sleep`` children, killed at the end) with the Processes view shown.
Every process the benchmark starts is stopped, also on Ctrl-C.

``--churn-seconds N`` runs another test instead: the RSS of cdig top every 30 s
while short-lived processes come and go, each with a new file and a TCP
connection, and a podman container every 20 s (``--churn-against DIR``: DIR's
cdig top beside it, seeing the same workload):

    sudo .venv/bin/python benchmarks/tui_cost.py --churn-seconds 600 \
        --churn-against DIR
"""

from __future__ import annotations

import argparse
import os
import re
import shutil
import signal
import socket
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

from benchlib import CLK_TCK, background_cpu, proc_ticks

ROOT = Path(__file__).resolve().parent.parent
CDIG = Path(sys.executable).parent / "cdig"


def sh(*args: str, **kw) -> str:
    return subprocess.run(args, check=True, capture_output=True, text=True, **kw).stdout


def cpu_s(pid: int) -> float:
    """CPU seconds (user + system, all threads) of ``pid`` so far."""
    return proc_ticks(pid) / CLK_TCK


def top_pid(session: str) -> int:
    pane = int(sh("tmux", "display-message", "-p", "-t", session, "#{pane_pid}").strip())
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        if b"top" in Path(f"/proc/{pane}/cmdline").read_bytes():  # env exec'd cdig itself
            return pane
        for child in Path(f"/proc/{pane}/task/{pane}/children").read_text().split():
            cmd = Path(f"/proc/{child}/cmdline").read_bytes().split(b"\0")
            if any(b"cdig" in c for c in cmd[:2]):
                return int(child)
        time.sleep(0.1)
    raise RuntimeError("cdig top did not start")


def screen(session: str) -> str:
    return sh("tmux", "capture-pane", "-p", "-t", session)


def wait_screen(session: str, pattern: str, timeout: float = 40) -> str:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        s = screen(session)
        if re.search(pattern, s):
            return s
        time.sleep(0.2)
    raise RuntimeError(f"timed out waiting for {pattern!r}:\n{screen(session)}")


def busy_others(pid: int, seconds: float = 1.0) -> float:
    """CPUs' worth of work done meanwhile by everything but ``pid``."""
    return background_cpu([pid], seconds)


def wait_quiet(pid: int, limit: float = 0.15, timeout: float = 300) -> float:
    """Wait (up to ``timeout``) until the rest of the machine uses < ``limit`` CPUs:
    another benchmark or test run makes every figure here meaningless."""
    t0 = time.monotonic()
    while time.monotonic() - t0 < timeout:
        b = busy_others(pid)
        if b < limit:
            return b
        print(f"waiting for quiet: others use {b:.2f} CPUs", file=sys.stderr)
    return busy_others(pid)


def measure(pid: int, seconds: float) -> float:
    c0, t0 = cpu_s(pid), time.monotonic()
    time.sleep(seconds)
    return (cpu_s(pid) - c0) / (time.monotonic() - t0)


def dropped(text: str) -> str:
    m = re.search(r"dropped (\S+)", text)
    return m.group(1) if m else "?"


def rss_mb(pid: int) -> float:
    for line in Path(f"/proc/{pid}/status").read_text().splitlines():
        if line.startswith("VmRSS:"):
            return int(line.split()[1]) / 1024
    return float("nan")


def rss_parts(pid: int, top: int = 6) -> str:
    """The largest parts of the RSS (MB) from /proc/PID/smaps: anonymous memory
    (the Python heap), the BPF maps and rings, and files by package directory."""
    parts: dict[str, int] = {}
    name = "?"
    for line in Path(f"/proc/{pid}/smaps").read_text().splitlines():
        head = line.split(None, 5)
        if head and not head[0].endswith(":"):  # a mapping's first line
            path = head[5] if len(head) > 5 else ""
            if "site-packages/" in path or "dist-packages/" in path:
                name = re.split(r"[sd]i[st][et]-packages/", path)[1].split("/")[0]
            elif path.startswith("/"):
                name = "other files"
            else:
                name = path or "anon"
        elif head[:1] == ["Rss:"]:
            parts[name] = parts.get(name, 0) + int(head[1])
    big = sorted(parts.items(), key=lambda kv: -kv[1])[:top]
    return ", ".join(f"{k} {v / 1024:.0f}" for k, v in big)


def syscalls_cell(text: str, pid: int) -> str | None:
    """The SYSCALLS cell of ``pid``'s row in the Processes view on screen."""
    lines = text.splitlines()
    header = next((ln for ln in lines if "PID" in ln and "SYSCALLS" in ln), None)
    row = next((ln for ln in lines if ln.split()[:1] == [str(pid)]), None)
    if header is None or row is None:
        return None
    at = header.index("SYSCALLS")
    end = at + len("SYSCALLS") + 2
    best = max(re.finditer(r"\S+", row), key=lambda m: min(m.end(), end) - max(m.start(), at))
    return best.group(0)


def timings(path: Path, since: int) -> list[tuple[float, float, int, str]]:
    out = []
    for line in path.read_text().splitlines()[since:]:
        b, a, rows, view = line.split()
        out.append((float(b), float(a), int(rows), view))
    return out


CHURN_SH = r"""
i=0
while :; do
  i=$((i+1))
  echo "$i" > "$1/f$i"; cat "$1/f$i" > /dev/null; rm -f "$1/f$i"
  (exec 3<>/dev/tcp/127.0.0.1/$2 && echo hi >&3) 2>/dev/null
  /bin/sleep 0.02
done
"""


def serve(port_out: list[int], stop: threading.Event) -> None:
    """A TCP server on localhost that takes a line from each client and closes."""
    srv = socket.socket()
    srv.bind(("127.0.0.1", 0))
    srv.listen(128)
    srv.settimeout(0.2)
    port_out.append(srv.getsockname()[1])
    while not stop.is_set():
        try:
            conn, _ = srv.accept()
        except TimeoutError:
            continue
        with conn:
            conn.settimeout(0.2)
            try:
                conn.recv(64)
            except OSError:
                pass
    srv.close()


def churn(args: argparse.Namespace, tmp: Path, started: list, sessions: list[str]) -> int:
    """``--churn-seconds``: cdig top (and, with ``--churn-against DIR``, DIR's cdig
    top beside it, the same workload seen by both) while short-lived processes
    come and go, each with a new file and a new TCP connection, and a podman
    container every 20 s; the RSS of each every 30 s."""
    trees = [("this tree", [])]
    if args.churn_against:
        trees.append((args.churn_against, [f"PYTHONPATH={args.churn_against}"]))
    pids = []
    for n, (_, env) in enumerate(trees):
        session = f"cdigchurn{os.getpid()}x{n}"
        sessions.append(session)
        cmd = f"{CDIG} top -d {args.delay:g} --view procs {args.top_args}".strip()
        sh("tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45", "env",
           "TERM=xterm-256color", *args.env, *env, *cmd.split())
        pids.append(top_pid(session))
        wait_screen(session, r"PID +NAME", timeout=90)
    time.sleep(3)
    stop = threading.Event()
    port: list[int] = []
    server = threading.Thread(target=serve, args=(port, stop), daemon=True)
    server.start()
    while not port:
        time.sleep(0.01)
    files = tmp / "churn"
    files.mkdir()
    started.append(subprocess.Popen(["bash", "-c", CHURN_SH, "churn", str(files),
                                     str(port[0])], stdin=subprocess.DEVNULL))
    podman = shutil.which("podman") and subprocess.run(
        ["podman", "image", "exists", CHURN_IMAGE], capture_output=True).returncode == 0
    series: list[list[str]] = [[] for _ in trees]
    t0 = time.monotonic()
    next_ctr = next_rss = t0
    names: list[str] = []
    try:
        while (now := time.monotonic()) - t0 < args.churn_seconds:
            if podman and now >= next_ctr:  # lives ~10 s, then is removed
                names.append(f"cdigchurn{os.getpid()}c{len(names)}")
                started.append(subprocess.Popen(
                    ["podman", "run", "--rm", "--name", names[-1], CHURN_IMAGE, "sh", "-c",
                     "for i in $(seq 100); do echo $i > /tmp/x; sleep 0.1; done"],
                    stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
                next_ctr += 20
            if now >= next_rss:
                for i, pid in enumerate(pids):
                    series[i].append(f"{rss_mb(pid):.0f}@{(now - t0) / 60:.1f}")
                print("  RSS " + " | ".join(s[-1] for s in series), file=sys.stderr)
                next_rss += 30
            time.sleep(0.25)
        for i, pid in enumerate(pids):
            series[i].append(f"{rss_mb(pid):.0f}@{(time.monotonic() - t0) / 60:.1f}")
    finally:
        stop.set()
        for name in names:
            subprocess.run(["podman", "rm", "-f", "-t", "0", name], capture_output=True)
    n_ctr = len(names)
    print()
    print(f"cdig top -d {args.delay:g} --view procs {' '.join(args.env)}: RSS (MB) at "
          f"minutes of churn ({n_ctr} containers started)")
    for (name, _), s in zip(trees, series, strict=True):
        print(f"  {name:<28} {', '.join(s)}")
    for session in sessions:
        sh("tmux", "send-keys", "-t", session, "q")
    time.sleep(2)
    return 0


CHURN_IMAGE = "localhost/cdig-bb:test"  # the integration tests' image, if built


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--seconds", type=float, default=15, help="length of each phase")
    ap.add_argument("--procs", type=int, default=2000, help="sleeping processes to start")
    ap.add_argument("--delay", type=float, default=1000,
                    help="cdig top -d: the refresh interval in milliseconds")
    ap.add_argument("--storm-seconds", type=float, default=600,
                    help="how long the storm runs (RSS is read at its end)")
    ap.add_argument("--exact-calls", type=int, default=20_000_000,
                    help="getppid calls of the counted loop, under the storm")
    ap.add_argument("--top-args", default="",
                    help="more arguments of cdig top, e.g. --full-stream (every syscall "
                         "in the event stream, as before the stream was narrowed)")
    ap.add_argument("--env", action="append", default=[], metavar="VAR=VALUE",
                    help="in cdig top's environment (PYTHONPATH=DIR: the cdig of DIR/cdig)")
    ap.add_argument("--churn-seconds", type=float, default=0,
                    help="instead of the other phases: RSS every 30 s while short-lived "
                         "processes, files, connections and containers come and go")
    ap.add_argument("--churn-against", metavar="DIR",
                    help="with --churn-seconds: DIR's cdig top beside this one's "
                         "(PYTHONPATH=DIR, a link tree as scripts/typecheck.link_tree "
                         "makes)")
    args = ap.parse_args()
    if os.geteuid() != 0 or not shutil.which("tmux") or not shutil.which("gcc"):
        print("needs root, tmux and gcc", file=sys.stderr)
        return 2
    tmp = Path(tempfile.mkdtemp(prefix="cdig-tuicost-"))
    work = tmp / "cdigstorm"
    sh("gcc", "-static", "-nostdlib", "-no-pie", "-ffreestanding", "-fno-builtin",
       "-fno-stack-protector", "-O2", "-o", str(work), str(ROOT / "tests/integration/workload.c"))
    stats = tmp / "timings"
    session = f"cdigcost{os.getpid()}"
    started: list[subprocess.Popen] = []
    churn_sessions: list[str] = []

    def cleanup(*_: object) -> None:
        for p in started:
            if p.poll() is None:
                p.kill()
        for p in started:
            p.wait()
        for sess in [session, *churn_sessions]:
            subprocess.run(["tmux", "kill-session", "-t", sess], capture_output=True)
        shutil.rmtree(tmp, ignore_errors=True)

    signal.signal(signal.SIGTERM, lambda *a: (cleanup(), sys.exit(130)))
    results: list[tuple[str, str]] = []
    if args.churn_seconds > 0:
        try:
            return churn(args, tmp, started, churn_sessions)
        finally:
            cleanup()
    try:
        cmd = f"{CDIG} top -d {args.delay:g} --view containers {args.top_args}".strip()
        print(f"$ {' '.join(args.env)} CDIG_TOP_TIMINGS={stats} {cmd}   (in tmux, 160x45)",
              file=sys.stderr)
        sh("tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45",
           "env", f"CDIG_TOP_TIMINGS={stats}", "TERM=xterm-256color", *args.env,
           *cmd.split())
        pid = top_pid(session)
        wait_screen(session, r"CONTAINER")
        time.sleep(3)  # settle: the first refreshes, the seeding, metadata
        others = wait_quiet(pid)
        idle = measure(pid, args.seconds)
        results.append(("idle", f"{idle:.3f} CPU s / s  (dropped {dropped(screen(session))}; "
                                f"the rest of the machine: {others:.2f} CPUs)"))
        print(f"idle: {idle:.3f}", file=sys.stderr)

        rss0 = rss_mb(pid)
        storm = subprocess.Popen([str(work), "getppid", "100000000000"])
        started.append(storm)
        t_storm = time.monotonic()
        time.sleep(2)
        busy = measure(pid, args.seconds)
        text = screen(session)
        m = re.search(r"(?:events|syscalls) \S+ \((\S+)/s", text)
        results.append(("syscall storm (1 getppid loop), first",
                        f"{busy:.3f} CPU s / s  ({m.group(1) if m else '?'} syscalls/s shown, "
                        f"stream dropped {dropped(text)})"))
        print(f"storm: {busy:.3f}", file=sys.stderr)
        # exactness under the storm: a loop of a known number of calls between two
        # sleeps. Its row is read during the first sleep (what the process did
        # before it: Popen's child between fork and execve, ~67 syscalls, the
        # execve), then after the loop: it must have grown by the first nanosleep
        # and the calls, exactly
        exact = subprocess.Popen([str(work), "sleep", "8000", "getppid",
                                  str(args.exact_calls), "sleep", "3600000"])
        started.append(exact)
        sh("tmux", "send-keys", "-t", session, "1")  # Processes
        time.sleep(1)
        sh("tmux", "send-keys", "-t", session, "\\")
        time.sleep(1)
        sh("tmux", "send-keys", "-t", session, "-l", str(exact.pid))
        sh("tmux", "send-keys", "-t", session, "Enter")

        def asleep() -> bool:  # in nanosleep (35 on x86_64)
            return Path(f"/proc/{exact.pid}/syscall").read_text().split()[:1] == ["35"]

        base = None
        deadline = time.monotonic() + 5.5  # inside the first sleep: the cell, twice alike
        while time.monotonic() < deadline and asleep():
            cell = syscalls_cell(screen(session), exact.pid)
            if cell is not None and cell.isdigit() and cell == base:
                break
            base = cell
            time.sleep(0.3)
        want = str(int(base) + 1 + args.exact_calls) if base and base.isdigit() else "?"
        while asleep():  # the first sleep
            time.sleep(0.1)
        deadline = time.monotonic() + max(300.0, args.exact_calls / 5e4)
        while time.monotonic() < deadline and not asleep():  # the loop
            time.sleep(0.5)
        loop_s = time.monotonic() - t_storm
        got = None
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            got = syscalls_cell(screen(session), exact.pid)
            if got == want:
                break
            time.sleep(0.5)
        print(f"counted loop done after {loop_s:.0f} s of storm", file=sys.stderr)
        results.append((f"exactness under the storm ({args.exact_calls} getppid)",
                        f"SYSCALLS shown {got}, expected {want}: "
                        f"{'EXACT' if got == want else 'WRONG'}"))
        print(f"exact: {got} vs {want}", file=sys.stderr)
        exact.kill()
        exact.wait()
        sh("tmux", "send-keys", "-t", session, "2")  # back to Containers
        left = args.storm_seconds - (time.monotonic() - t_storm) - args.seconds
        rss_series = [(0.0, rss0)]
        if left > 0:  # RSS sampled each minute: growth over time shows as a slope
            print(f"storm: {left:.0f} s more", file=sys.stderr)
            end = time.monotonic() + left
            while (now := time.monotonic()) < end:
                time.sleep(min(60.0, end - now))
                rss_series.append(((time.monotonic() - t_storm) / 60, rss_mb(pid)))
                print(f"  RSS {rss_series[-1][1]:.0f} MB at {rss_series[-1][0]:.1f} min",
                      file=sys.stderr)
        late = measure(pid, args.seconds)
        rss1 = rss_mb(pid)
        parts = rss_parts(pid)
        text = screen(session)
        storm.kill()
        storm.wait()
        mins = (time.monotonic() - t_storm) / 60
        results.append((f"syscall storm, after {mins:.1f} min",
                        f"{late:.3f} CPU s / s; RSS {rss1:.0f} MB (was {rss0:.0f} MB before "
                        f"the storm); stream dropped {dropped(text)}"))
        results.append(("RSS by part, MB", parts))
        results.append(("RSS over the storm, MB at min",
                        ", ".join(f"{r:.0f}@{m:.0f}" for m, r in rss_series)))
        # a fresh cdig top for the next phase: the storm left a backlog (drained from
        # the kernel, not yet decoded) that would be measured with it
        sh("tmux", "send-keys", "-t", session, "q")
        time.sleep(2)
        subprocess.run(["tmux", "kill-session", "-t", session], capture_output=True)

        print(f"starting {args.procs} sleeping processes", file=sys.stderr)
        for _ in range(args.procs):
            started.append(subprocess.Popen(["sleep", "3600"], stdin=subprocess.DEVNULL))
        time.sleep(2)
        cmd = f"{CDIG} top -d {args.delay:g} --view procs {args.top_args}".strip()
        print(f"$ {' '.join(args.env)} CDIG_TOP_TIMINGS={stats} {cmd}   (in tmux, 160x45)",
              file=sys.stderr)
        sh("tmux", "new-session", "-d", "-s", session, "-x", "160", "-y", "45",
           "env", f"CDIG_TOP_TIMINGS={stats}", "TERM=xterm-256color", *args.env,
           *cmd.split())
        pid = top_pid(session)
        wait_screen(session, r"PID +NAME")
        time.sleep(3)
        wait_quiet(pid)
        n0 = len(stats.read_text().splitlines())
        time.sleep(args.seconds)
        rows = [t for t in timings(stats, n0) if t[3] == "procs"][1:]  # the first: warm-up
        many = measure(pid, args.seconds)
        if rows:
            build = [r[0] for r in rows]
            apply_ = [r[1] for r in rows]
            results.append((f"refresh, Processes view, {rows[-1][2]} processes",
                            f"build median {statistics.median(build):.0f} ms, max "
                            f"{max(build):.0f} ms (worker thread); apply median "
                            f"{statistics.median(apply_):.0f} ms, max {max(apply_):.0f} ms "
                            f"(UI thread); {len(rows)} refreshes"))
        results.append((f"CPU with {args.procs} processes listed", f"{many:.3f} CPU s / s"))
        sh("tmux", "send-keys", "-t", session, "q")
        time.sleep(1)
    finally:
        cleanup()
    print()
    print(f"cdig top -d {args.delay:g} {' '.join(args.env)}: CPU of the cdig process "
          "(user+sys from /proc/PID/stat)")
    for what, figure in results:
        print(f"  {what:<44} {figure}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
