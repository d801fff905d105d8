#!/usr/bin/env python3
"""Capture files (``cdig trace -w`` / ``-r``) against JSON lines, in one run.

On a static C workload (``tests/integration/workload.c``: N x getppid, K x
open+close of /etc/hostname, W x write of 1 byte to /dev/null), built here:

  write     ``cdig trace -w F proc.pid=PID`` live, vs ``cdig trace -j
            proc.pid=PID > F.jsonl`` live (the pid is pushed into the kernel,
            so other load on the machine does not count). Burst: the workload
            at full speed; events/s from its start until cdig has processed
            (and written) the last event = the capacity, with the drops. Paced:
            getppid in chunks with 20 ms sleeps at a few offered rates; the
            drops of each mode say which rates it sustains
  size      bytes per event of the capture (zstd Arrow, with its snapshot) vs
            the same events as JSON lines (``cdig trace -r F -j``)
  read      ``cdig trace -r F -p FMT 'evt.type=openat and fd.name=/etc/hostname'``
            (records scanned per second, process start included) vs a plain
            Python loop (json.loads + the same test) over the JSON lines
  prefilter the same replay in-process with and without the raw-part pruning
            (rows the filter's raw-record terms reject dropped before enrichment)

Needs root, BPF and gcc. Run:
    sudo .venv/bin/python benchmarks/capture_throughput.py [--calls N] [--repeat R] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import shlex
import shutil
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import unmet_needs

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.cdig_cli import cdig_command  # noqa: E402 - after the path

SIGTERM_BIT = 1 << (signal.SIGTERM - 1)
SELECTIVE = "evt.type=openat and fd.name=/etc/hostname"
FMT = "%evt.num %evt.time %proc.name %evt.type %fd.name"
# cdig's default -j fields but proc.cmdline: the paced workload's argv is long, and
# would make the JSON side pay for the benchmark's own command line
JSON_FMT = "*" + " ".join(
    "%" + f for f in ("evt.num evt.rawtime evt.time evt.cpu evt.type evt.dir evt.res "
                      "evt.rawres evt.failed evt.latency evt.info proc.name proc.pid proc.ppid "
                      "thread.tid user.uid user.name container.id container.name "
                      "container.image k8s.pod.name k8s.ns.name fd.num fd.type fd.name").split())

JSON_READER = r"""
import json, sys
n = hits = 0
with open(sys.argv[1], "rb") as f:
    for line in f:
        n += 1
        e = json.loads(line)
        if e["evt.type"] == "openat" and e["fd.name"] == "/etc/hostname":
            hits += 1
            sys.stdout.write(f'{e["evt.num"]} {e["evt.time"]} {e["proc.name"]} '
                             f'{e["evt.type"]} {e["fd.name"]}\n')
print(n, hits, file=sys.stderr)
"""


def show(cmd: list[str] | str) -> None:
    print("  $ " + (cmd if isinstance(cmd, str) else shlex.join(cmd)), flush=True)


def _running(pid: int) -> bool:
    try:
        status = Path(f"/proc/{pid}/status").read_text()
        fds = [os.readlink(f"/proc/{pid}/fd/{fd}") for fd in os.listdir(f"/proc/{pid}/fd")]
    except OSError:
        return False
    m = re.search(r"^SigCgt:\s*([0-9a-f]+)", status, re.M)
    return bool(m and int(m.group(1), 16) & SIGTERM_BIT) and any(
        "perf_event" in t or "bpf" in t for t in fds)


def live(args: list[str], stdout: Path, workload: list[str]) -> dict:
    """Start the workload (blocked at its gate), then cdig on its pid (the kernel drops
    every other process's syscalls: other load on the machine does not count),
    release the gate, stop cdig once the workload is done; timings."""
    from tests.integration.containers import Gate

    gate = Gate(stdout.parent / "gate")
    wp = subprocess.Popen([workload[0], "gate", str(gate.path), *workload[1:]],
                          stdout=subprocess.DEVNULL)
    while not gate.waiting():
        time.sleep(0.005)
    cmd = [*cdig_command(), "trace", "-M", "300", *args, f"proc.pid={wp.pid}"]
    show(cmd + [">", str(stdout)])
    err = stdout.with_suffix(".err")
    with open(stdout, "wb") as o, open(err, "wb") as e:
        p = subprocess.Popen(cmd, stdout=o, stderr=e, stdin=subprocess.DEVNULL)
    deadline = time.monotonic() + 60
    while not _running(p.pid):
        if p.poll() is not None or time.monotonic() > deadline:
            p.kill()
            sys.exit(f"cdig did not start: {err.read_text()}")
        time.sleep(0.02)
    t0 = time.monotonic()
    gate.open()
    if wp.wait(600):
        sys.exit("the workload failed")
    t_work = time.monotonic() - t0
    gate.close()
    p.send_signal(signal.SIGINT)  # drains what the kernel wrote, processes the backlog
    p.wait(600)
    elapsed = time.monotonic() - t0
    text = err.read_text()
    m = re.search(r"cdig: (\d+) events shown, (\d+) seen, (\d+) dropped", text)
    if not m:
        sys.exit(f"no summary from cdig:\n{text}")
    shown, seen, dropped = (int(x) for x in m.groups())
    w = re.search(r"cdig: (\d+) events(?: \+ (\d+) state records)? written", text)
    events = int(w.group(1)) if w else shown
    return {"events": events, "seen": seen, "dropped": dropped, "seconds": elapsed,
            "workload_seconds": t_work, "events_per_s": events / elapsed}


def paced_workload(work: Path, chunk: int, seconds: float) -> list[str]:
    """getppid CHUNK, 40 opens, 800 writes, then 20 ms of sleep, for about ``seconds``."""
    period = 0.020 + chunk * 0.6e-6 + 840 * 2e-6
    steps = ["getppid", str(chunk), "open", "40", "/etc/hostname", "write", "800", "/dev/null",
             "sleep", "20"]
    return [str(work)] + steps * max(1, int(seconds / period))


def timed(cmd: list[str], stdout: Path) -> tuple[float, str]:
    show(cmd + [">", str(stdout)])
    t0 = time.monotonic()
    with open(stdout, "wb") as o:
        r = subprocess.run(cmd, stdout=o, stderr=subprocess.PIPE, text=True)
    dt = time.monotonic() - t0
    if r.returncode:
        sys.exit(f"{shlex.join(cmd)} failed: {r.stderr}")
    return dt, r.stderr


def _replay(capture: Path, use_prefilter: bool) -> tuple[float, int, int]:
    """The replay session in-process, with or without the raw-part pruning (rows the
    filter's raw-record terms reject are dropped before enrichment)."""
    from cdig.capture_cmd import open_replay
    from cdig.collector.filter import compile_filter
    from cdig.collector.render import BatchRenderer
    from cdig.collector.session import LineSink, Session

    class Count:
        n = 0

        def write(self, s: str) -> None:
            self.n += s.count("\n")

        def flush(self) -> None:
            pass

    out = Count()
    flt = compile_filter(SELECTIVE)
    src = open_replay([str(capture)], quiet=True)
    session = Session.replay(src, flt, lambda d: [LineSink(BatchRenderer.text(FMT, d.table),
                                                           out)])
    if not use_prefilter:  # neither in the session nor in the reader (Session.replay
        session._raw = None  # hands the reader the same test as src.prune)
        src.prune = None
    t0 = time.perf_counter()
    session.run()
    dt = time.perf_counter() - t0
    src.close()
    return dt, session.counters.records, out.n


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=600_000, help="getppid calls (default 600k)")
    ap.add_argument("--opens", type=int, default=2_000, help="open+close pairs (default 2000)")
    ap.add_argument("--writes", type=int, default=100_000, help="1-byte writes (default 100k)")
    ap.add_argument("--repeat", type=int, default=3, help="runs of each timing (median)")
    ap.add_argument("--paced", type=lambda t: [int(x) for x in t.split(",")],
                    default=[2000, 4000, 8000],
                    help="getppid calls per 20 ms step (default 2000,4000,8000)")
    ap.add_argument("--paced-seconds", type=float, default=3.0, help="length of a paced run")
    ap.add_argument("--json", action="store_true", help="print the figures as JSON too")
    ap.add_argument("--keep", action="store_true", help="keep the temporary files")
    a = ap.parse_args()
    lacking = unmet_needs(tools=["gcc"])  # root: a live capture with BPF
    if lacking:
        sys.exit(lacking)
    from tests.integration.containers import build_workload

    tmp = Path(tempfile.mkdtemp(prefix="cdig-capbench-"))
    work = build_workload(tmp / "cdigwork")
    workload = [str(work), "getppid", str(a.calls), "open", str(a.opens), "/etc/hostname",
                "write", str(a.writes), "/dev/null"]
    print(f"workload: {shlex.join(workload)}\n")
    cap = tmp / "w.cdig"
    res: dict = {"workload": shlex.join(workload)}

    print("write, burst (live, median of runs): capacity = events / time to process them")
    runs_w = [live(["-w", str(cap)], tmp / "w.out", workload)
              for _ in range(a.repeat)]
    runs_j = [live(["-j", "-p", JSON_FMT], tmp / "live.jsonl", workload)
              for _ in range(a.repeat)]
    wr = statistics.median(r["events_per_s"] for r in runs_w)
    jr = statistics.median(r["events_per_s"] for r in runs_j)
    res["write"] = {"capture_events_per_s": wr, "jsonl_events_per_s": jr,
                    "capture_drops": [r["dropped"] for r in runs_w],
                    "jsonl_drops": [r["dropped"] for r in runs_j],
                    "events": runs_w[-1]["events"]}

    print("write, paced (live): the offered rate, and what each mode dropped")
    paced = []
    for chunk in a.paced:
        wl = paced_workload(work, chunk, a.paced_seconds)
        print(f"  workload: {wl[0]} (getppid {chunk} ; open 40 ; write 800 ; sleep 20ms) "
              f"x {(len(wl) - 1) // 10}")
        rw = live(["-w", str(tmp / "p.cdig")], tmp / "p.out", wl)
        rj = live(["-j", "-p", JSON_FMT], tmp / "p.jsonl", wl)
        paced.append({"chunk": chunk, "offered_per_s": rw["events"] / rw["workload_seconds"],
                      "capture_dropped": rw["dropped"], "jsonl_dropped": rj["dropped"],
                      "events": rw["events"]})
    res["paced"] = paced

    print("size:")
    same = tmp / "same.jsonl"
    timed([*cdig_command(), "trace", "-r", str(cap), "-j", "-p", JSON_FMT], same)
    n_lines = sum(1 for _ in open(same, "rb"))
    cap_bpe = cap.stat().st_size / runs_w[-1]["events"]
    json_bpe = same.stat().st_size / max(n_lines, 1)
    res["size"] = {"capture_bytes": cap.stat().st_size, "events": runs_w[-1]["events"],
                   "capture_bytes_per_event": cap_bpe, "jsonl_bytes_per_event": json_bpe}

    print("read + selective filter (median of runs, process start included):")
    rd, jd = [], []
    for _ in range(a.repeat):
        dt, err = timed([*cdig_command(), "trace", "-r", str(cap), "-p", FMT, SELECTIVE],
                        tmp / "r.out")
        rd.append(dt)
        dt2, _ = timed([sys.executable, "-c", JSON_READER, str(same)], tmp / "j.out")
        jd.append(dt2)
    records = int(re.search(r"(\d+) seen", err).group(1))
    hits_cdig = sum(1 for _ in open(tmp / "r.out"))
    hits_json = sum(1 for _ in open(tmp / "j.out"))
    res["read"] = {"records": records, "cdig_seconds": statistics.median(rd),
                   "cdig_records_per_s": records / statistics.median(rd),
                   "json_seconds": statistics.median(jd),
                   "json_records_per_s": n_lines / statistics.median(jd),
                   "hits": [hits_cdig, hits_json]}

    print("prefilter gain (in-process replay, median):")
    _replay(cap, True)  # imports and first-use costs: in neither figure
    pairs = [(_replay(cap, True), _replay(cap, False)) for _ in range(a.repeat)]
    with_pf, without = [w for w, _ in pairs], [wo for _, wo in pairs]
    res["prefilter"] = {"with_s": statistics.median(t for t, _, _ in with_pf),
                        "without_s": statistics.median(t for t, _, _ in without),
                        "records": [with_pf[0][1], without[0][1]],
                        "hits": [with_pf[0][2], without[0][2]]}

    w, s, r, p = res["write"], res["size"], res["read"], res["prefilter"]
    size_ratio = s["jsonl_bytes_per_event"] / s["capture_bytes_per_event"]
    write_ratio = w["capture_events_per_s"] / w["jsonl_events_per_s"]
    read_ratio = r["cdig_records_per_s"] / r["json_records_per_s"]
    print(f"\nfigures ({w['events']} events of the workload per capture):")
    print(f"  bytes/event     capture {s['capture_bytes_per_event']:9.1f}   JSON lines "
          f"{s['jsonl_bytes_per_event']:9.1f}   {size_ratio:.1f}x smaller")
    print(f"  write events/s  capture {w['capture_events_per_s']:9.0f}   JSON lines "
          f"{w['jsonl_events_per_s']:9.0f}   ratio {write_ratio:.2f}x   "
          f"drops {w['capture_drops']} / {w['jsonl_drops']}")
    for pr in res["paced"]:
        print(f"  paced {pr['offered_per_s']:9.0f} events/s offered: dropped capture "
              f"{pr['capture_dropped']}, JSON lines {pr['jsonl_dropped']}")
    print(f"  read+filter /s  cdig -r {r['cdig_records_per_s']:9.0f}   python+json "
          f"{r['json_records_per_s']:9.0f}   ratio {read_ratio:.2f}x   "
          f"hits {r['hits'][0]} / {r['hits'][1]}")
    print(f"  prefilter       with {p['with_s']:.3f}s   without {p['without_s']:.3f}s   "
          f"gain {p['without_s'] / p['with_s']:.2f}x; records converted "
          f"{p['records'][0]} / {p['records'][1]} (hits {p['hits']})")
    if a.json:
        print(json.dumps(res, indent=2))
    if a.keep:
        print(f"files kept in {tmp}")
    else:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
