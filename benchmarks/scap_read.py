#!/usr/bin/env python3
"""Reading a large .scap: cdig against sysdig 0.29.3 on the same file, in one run.

A live capture of a static C workload (``tests/integration/workload.c``: opens of
/etc/hostname, 1-byte writes to /dev/null, getppid), taken with ``cdig trace -w
F.cdig proc.pid=PID``, is converted with ``cdig convert F.cdig F.scap``. Then, on
F.scap, each of these runs ``--repeat`` times (medians; process start included):

  filter    ``cdig trace -r F.scap -p FMT 'evt.type=openat and fd.name=/etc/hostname'``
            vs ``sysdig -r F.scap -p FMT`` with the same filter (the outputs must
            name the same events)
  summary   ``cdig summary -r F.scap --by syscall`` vs ``sysdig -r F.scap -c topscalls``
            (the counts must agree: topscalls counts an enter and an exit per call)
  files     ``cdig summary -r F.scap --by file`` vs ``sysdig -r F.scap -c topfiles_bytes``

Rates are the file's scap events (enter + exit, sysdig's ``evt.num``) per second
of wall time; the ratio is cdig's rate over sysdig's. The commands of a step run in
turns (cdig, sysdig, the baseline's cdig; ``--repeat`` rounds), so a change in the
host's load falls on each alike; their CPU seconds (user + system) are printed too.
Every cdig runs as installed would: its modules byte-compiled first (``pip install``
compiles them; an editable install under PYTHONDONTWRITEBYTECODE=1 would compile ~150
modules at every start, about 0.25 s), with a private cache directory for its compiled
C kernels (``collector/native``; built by an untimed run of each tree first).
Also reported: the reader alone (``ScapSource.batches()`` in a process of its own),
and ``cdig convert`` itself.

``--baseline TREE`` runs every cdig step a second time with the cdig of another
source tree (``git archive REV | tar -x -C TREE``), right after this tree's and
sysdig's runs of the step: before and after in one run (``--tree TREE``: time a
tree's cdig instead of the installed one). ``--scap FILE`` reads a .scap made before
(``--keep``) instead of capturing and converting a new one.

Needs root, BPF, gcc and sysdig. Run under the shared lock:
    flock /tmp/cdig-heavy.lock .venv/bin/python benchmarks/scap_read.py [--calls N]
"""

from __future__ import annotations

import argparse
import json
import os
import re
import resource
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))
from tests.cdig_cli import cdig_command  # noqa: E402 - after the path

SELECTIVE = "evt.type=openat and fd.name=/etc/hostname"
FMT = "%evt.num %proc.name %evt.type %fd.name"


class Cdig:
    """How to run one tree's cdig: its console script, or ``python -m cdig`` over a
    link tree of another checkout laid out as the package (``scripts/typecheck.py``).
    Its modules are byte-compiled now, into the tree's ``__pycache__`` (git ignores
    them; no timed run compiles), its C kernels go to ``tmp/cache``."""

    def __init__(self, tree: Path | None, links: Path, tmp: Path) -> None:
        cache = tmp / "cache"
        cache.mkdir(mode=0o700, exist_ok=True)
        self.env = {**os.environ, "CDIG_CACHE_DIR": str(cache)}
        for var in ("CDIG_NATIVE", "PYTHONPYCACHEPREFIX"):  # a prefix hides the stdlib's
            self.env.pop(var, None)
        if tree is None:
            self.cmd = cdig_command()
            src = ROOT
        else:
            sys.path.insert(0, str(ROOT / "scripts"))
            from typecheck import link_tree

            link_tree(tree.resolve(), links)
            self.cmd = [sys.executable, "-m", "cdig"]
            self.env["PYTHONPATH"] = str(links)
            src = tree
            # the package's own modules (cdig/*.py) are imported by their links' paths:
            # their byte code goes beside the links (the folders' is the tree's)
            subprocess.run([sys.executable, "-m", "compileall", "-q", "-l",
                            str(links / "cdig")], check=False, capture_output=True,
                           env=self.env)
        subprocess.run([sys.executable, "-m", "compileall", "-q", "-x", r"/\.venv/|/\.git/",
                        str(src)], check=False, capture_output=True, env=self.env)

    def __call__(self, *args: str) -> list[str]:
        return [*self.cmd, *args]


def timed(cmd: list[str], repeat: int, env: dict[str, str] | None = None
          ) -> tuple[float, str]:
    """Median wall seconds of ``cmd`` over ``repeat`` runs, and its last stdout."""
    return rounds([(cmd, env)], repeat)[0][::2]


def rounds(cmds: list[tuple[list[str], dict[str, str] | None]], repeat: int
           ) -> list[tuple[float, float, str]]:
    """Per command: (median wall seconds, median CPU seconds (user + system of the
    process), its last stdout), the commands run in turn ``repeat`` times (a round
    each), so that a change in the host's load falls on all of them alike."""
    for cmd, _ in cmds:
        print("  $ " + shlex.join(cmd), flush=True)
    walls: list[list[float]] = [[] for _ in cmds]
    cpus: list[list[float]] = [[] for _ in cmds]
    outs = [""] * len(cmds)
    for _ in range(repeat):
        for i, (cmd, env) in enumerate(cmds):
            r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
            t0 = time.monotonic()
            r = subprocess.run(cmd, capture_output=True, text=True, env=env, cwd="/")
            walls[i].append(time.monotonic() - t0)
            r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
            cpus[i].append(r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
            if r.returncode:
                sys.exit(f"{shlex.join(cmd)} failed: {r.stderr}")
            outs[i] = r.stdout
    return [(statistics.median(w), statistics.median(c), o)
            for w, c, o in zip(walls, cpus, outs, strict=True)]


_READER = """
import json, sys, time
from cdig.collector.scap.reader import ScapSource
times = []
for _ in range(int(sys.argv[2])):
    t0 = time.perf_counter()
    src = ScapSource([sys.argv[1]])
    records = sum(len(b) for b in src.batches())
    times.append(time.perf_counter() - t0)
    src.close()
print(json.dumps({"times": times, "events": src.events, "records": records}))
"""


def reader_alone(path: Path, repeat: int, env: dict[str, str] | None = None
                 ) -> tuple[float, int, int]:
    """Median seconds of ``ScapSource.batches()`` over the file, in a process of its own
    (the tree's reader, imported once), its events and records."""
    r = subprocess.run([sys.executable, "-c", _READER, str(path), str(repeat)],
                       capture_output=True, text=True, env=env, cwd="/", check=True)
    d = json.loads(r.stdout)
    return statistics.median(d["times"]), d["events"], d["records"]


def topscalls(text: str) -> dict[str, int]:
    out = {}
    for ln in text.splitlines():
        m = re.match(r"^\s*(\d+)\s+(\S+)\s*$", ln)
        if m:
            out[m.group(2)] = int(m.group(1))
    return out


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--calls", type=int, default=400_000,
                    help="getppid calls of the workload (default 400000)")
    ap.add_argument("--opens", type=int, default=20_000, help="opens of /etc/hostname")
    ap.add_argument("--writes", type=int, default=100_000, help="1-byte writes")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--keep", metavar="DIR", help="keep the files in DIR")
    ap.add_argument("--scap", metavar="FILE", help="read this .scap (from --keep) instead of "
                    "capturing a new one")
    ap.add_argument("--baseline", metavar="TREE", help="also time the cdig of this source "
                    "tree (another commit's files), step by step")
    ap.add_argument("--tree", metavar="TREE", help="time the cdig of this source tree instead "
                    "of the installed one (a commit's files, without work in progress)")
    ap.add_argument("--json", action="store_true", help="results as JSON on stdout")
    a = ap.parse_args()
    sysdig = shutil.which("sysdig")
    if not sysdig:
        sys.exit("sysdig is not installed (scripts/setup.sh installs it)")

    tmp = Path(a.keep or tempfile.mkdtemp(prefix="cdig-scap-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    cdig = Cdig(Path(a.tree) if a.tree else None, tmp / "tree-links", tmp)
    base = Cdig(Path(a.baseline), tmp / "baseline-links", tmp) if a.baseline else None
    t_conv = None
    if a.scap:
        scap = Path(a.scap)
    else:
        from benchmarks.capture_throughput import live
        from tests.integration.containers import build_workload

        work = build_workload(tmp / f"cdigbench{os.getpid()}")
        cap, scap = tmp / "big.cdig", tmp / "big.scap"
        steps = ["open", str(a.opens), "/etc/hostname", "write", str(a.writes), "/dev/null",
                 "getppid", str(a.calls)]
        print("capture:", flush=True)
        got = live(["-w", str(cap)], tmp / "live.out", [str(work), *steps])
        if got["dropped"]:
            print(f"  note: {got['dropped']} events dropped while capturing", flush=True)
        print("convert:", flush=True)
        t_conv, _ = timed(cdig("convert", str(cap), str(scap)), 1, cdig.env)
    small = str(ROOT / "tests" / "fixtures" / "scap" / "cat_write.scap")
    for tree in (cdig, base) if base is not None else (cdig,):  # builds its C kernels
        subprocess.run(tree("trace", "-r", small, "-p", FMT), env=tree.env, cwd="/",
                       capture_output=True, check=True)
        reader_alone(Path(small), 1, tree.env)
    mine_r, base_r = [], []
    for _ in range(a.repeat):  # in turns, one process each
        mine_r.append(reader_alone(scap, 1, cdig.env))
        if base is not None:
            base_r.append(reader_alone(scap, 1, base.env))
    t_read = statistics.median(r[0] for r in mine_r)
    events, records = mine_r[0][1], mine_r[0][2]
    t_read_base = statistics.median(r[0] for r in base_r) if base_r else None
    print(f"  {events} scap events, {records} cdig records, {scap.stat().st_size} bytes",
          flush=True)

    rows = []

    def pair(name: str, mine: list[str], theirs: list[str]) -> tuple[str, str]:
        cmds = [(cdig(*mine), cdig.env), ([sysdig, *theirs], None)]
        if base is not None:
            cmds.append((base(*mine), base.env))
        got = rounds(cmds, a.repeat)
        (t_c, c_c, out_c), (t_s, c_s, out_s) = got[0], got[1]
        row = {"what": name, "cdig_s": t_c, "sysdig_s": t_s,
               "cdig_events_per_s": events / t_c, "sysdig_events_per_s": events / t_s,
               "ratio": t_s / t_c, "cdig_cpu_s": c_c, "sysdig_cpu_s": c_s}
        if base is not None:
            t_b, c_b, out_b = got[2]
            if out_b != out_c:
                sys.exit(f"{name}: the baseline's output differs from this tree's")
            row.update(baseline_s=t_b, baseline_events_per_s=events / t_b,
                       baseline_ratio=t_s / t_b, baseline_cpu_s=c_b)
        rows.append(row)
        return out_c, out_s

    print("runs:", flush=True)
    # the fixed cost of a start: the same filter on a 345-event sample capture
    start = [(cdig("trace", "-r", small, "-p", FMT, SELECTIVE), cdig.env),
             ([sysdig, "-r", small, "-p", FMT, SELECTIVE], None)]
    if base is not None:
        start.append((base("trace", "-r", small, "-p", FMT, SELECTIVE), base.env))
    got = rounds(start, a.repeat)
    t_start, t_start_s = got[0][0], got[1][0]
    t_start_b = got[2][0] if base else None
    c_out, s_out = pair("trace -r, selective filter",
                        ["trace", "-r", str(scap), "-p", FMT, SELECTIVE],
                        ["-r", str(scap), "-p", FMT, SELECTIVE])
    c_lines = [ln.split(" ", 1)[1] for ln in c_out.splitlines()]
    s_lines = [ln.split(" ", 1)[1] for ln in s_out.splitlines()]
    if c_lines != s_lines or (not a.scap and len(c_lines) != a.opens):
        sys.exit(f"the outputs differ: cdig {len(c_lines)} lines, sysdig {len(s_lines)}")
    c_out, s_out = pair("summary --by syscall / -c topscalls",
                        ["summary", "-r", str(scap), "--by", "syscall", "--json", "--top", "0"],
                        ["-r", str(scap), "-c", "topscalls"])
    mine = {r["evt.type"]: r["calls"] for r in json.loads(c_out)["rows"]}
    theirs = topscalls(s_out)  # topscalls counts events: an enter and an exit per call
    for name in ("openat", "write", "getppid"):
        if 2 * mine.get(name, 0) != theirs.get(name):
            sys.exit(f"{name}: cdig {mine.get(name)} calls, sysdig {theirs.get(name)} events")
    pair("summary --by file / -c topfiles_bytes",
         ["summary", "-r", str(scap), "--by", "file"],
         ["-r", str(scap), "-c", "topfiles_bytes"])

    print(f"\n{events} scap events ({records} cdig records) in {scap.name}; medians of "
          f"{a.repeat}; events/s = scap events / wall seconds\n")
    head = f"{'':42} {'cdig ev/s':>12} {'sysdig ev/s':>12} {'cdig/sysdig':>12}"
    if base is not None:
        head += f" {'baseline ev/s':>14} {'base/sysdig':>12} {'after/before':>13}"
    print(head)
    for r in rows:
        line = (f"{r['what']:42} {r['cdig_events_per_s']:12,.0f} "
                f"{r['sysdig_events_per_s']:12,.0f} {r['ratio']:12.2f}")
        if base is not None:
            line += (f" {r['baseline_events_per_s']:14,.0f} {r['baseline_ratio']:12.2f} "
                     f"{r['baseline_s'] / r['cdig_s']:13.2f}")
        print(line)
    print("\nCPU seconds (user + system of the process; medians): less moved by the "
          "host's other load than wall time\n")
    head = f"{'':42} {'cdig CPU':>12} {'sysdig CPU':>12} {'cdig/sysdig':>12}"
    if base is not None:
        head += f" {'baseline CPU':>14} {'after/before':>13}"
    print(head)
    for r in rows:
        line = (f"{r['what']:42} {r['cdig_cpu_s']:11.3f}s {r['sysdig_cpu_s']:11.3f}s "
                f"{r['sysdig_cpu_s'] / r['cdig_cpu_s']:12.2f}")
        if base is not None:
            line += f" {r['baseline_cpu_s']:13.3f}s {r['baseline_cpu_s'] / r['cdig_cpu_s']:13.2f}"
        print(line)
    print()
    line = f"{'ScapSource.batches() alone':42} {events / t_read:12,.0f}"
    if t_read_base is not None:
        line += f" {'':12} {'':12} {events / t_read_base:14,.0f} {'':12} " \
                f"{t_read_base / t_read:13.2f}"
    print(line)
    line = f"{'start-up: trace -r of a 345-event sample':42} {t_start:11.3f}s {t_start_s:11.3f}s"
    if t_start_b is not None:
        line += f" {'':12} {t_start_b:13.3f}s"
    print(line)
    if t_conv is not None:
        print(f"{'cdig convert .cdig -> .scap':42} {records / t_conv:12,.0f}  records/s")
    if a.json:
        json.dump({"events": events, "records": records, "rows": rows,
                   "reader_events_per_s": events / t_read,
                   "baseline_reader_events_per_s": events / t_read_base if t_read_base
                   else None,
                   "convert_records_per_s": records / t_conv if t_conv else None,
                   "startup_s": {"cdig": t_start, "sysdig": t_start_s, "baseline": t_start_b}},
                  sys.stdout)
        print()
    if not a.keep:
        shutil.rmtree(tmp, ignore_errors=True)
    return 0


if __name__ == "__main__":
    sys.exit(main())
