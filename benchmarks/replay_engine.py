#!/usr/bin/env python3
"""Replay speed of the columnar engine: ``cdig trace -r`` and ``cdig summary``.

One run (no root, no BPF):

1. writes a capture of ``--records`` records through the real ``-w`` stage
   (Decoder → Enricher → CaptureRecorder, ``collector.session``) from synthetic
   probe records shaped like a busy host: 16 processes in 4 containers, mostly
   plain syscalls (reads, writes, getppid, futex …) and ``--state-pct`` % that
   change state (open/close/socket/connect), cut into ring-sized drains; the
   CPU time of that stage per record is the offline ``-w`` consumer cost;
2. times, as subprocesses: pyarrow reading every batch of the file (the floor:
   decompression and Arrow decoding only), ``cdig trace -r FILE`` with a
   selective filter, and ``cdig summary -r FILE`` (--by proc and syscall);
3. prints records/s and the ratios to the floor.

``--columns`` (with ``--read FILE``) instead measures the file column by column:
each column's batches written alone as the writer writes them (zstd level 1), their
bytes and the time to read them back on one thread (best of 3), and the same for the
column stored at the narrowest unsigned width its values' range in each batch needs
(num and ts_ns as deltas from the row before): what a per-column transform could
save on the decoding threads.

With ``--against DIR`` (a checkout of another commit, e.g. ``git worktree add``),
each cdig command runs ``--runs`` times from this tree and from DIR's, interleaved
(the order alternating each round), and the medians are compared on the same file.

``--tree DIR`` runs DIR's cdig the same way in place of the installed one (for the
in-process -w stage, put DIR's package first with PYTHONPATH).

Run:  .venv/bin/python benchmarks/replay_engine.py [--records 10000000] [--keep DIR]
          [--compress lz4|zstd] [--read FILE] [--against DIR] [--tree DIR] [--runs 3]
      .venv/bin/python benchmarks/replay_engine.py --read FILE --columns
"""

from __future__ import annotations

import argparse
import hashlib
import os
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import numpy as np

REPO = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(REPO / "tests" / "unit"))

# the connects of one process to port 5432: ~0.02 % of the records, found through the
# fd state (fd.sport is the socket's server port, known once socket() made it a socket)
SELECTIVE = "evt.type=connect and fd.sport=5432 and proc.pid=1003"
ORIGIN = REPO
OUTPUTS: dict[tuple[Path | None, tuple[str, ...]], set[str]] = {}
CPU: dict[tuple[Path | None, tuple[str, ...]], list[float]] = {}  # user+sys s per run


def synth(n: int, state_pct: float, seed: int = 1):  # -> Iterator[RawBatch]
    from records import T, sockaddr_in

    from cdig.collector.decode import RawBatch
    from cdig.probes.syscalls import layout

    rng = np.random.default_rng(seed)
    names = ["read", "write", "getppid", "futex", "epoll_wait", "pread64", "pwrite64", "lseek"]
    nrs = np.array([T.nr(x) for x in names], dtype=np.uint16)
    drain = 16384
    made = 0
    ts = 10**12
    sock = sockaddr_in("10.1.2.3", 5432)
    sock_v = np.frombuffer(sock.ljust(layout.STR2_LEN, b"\0"), dtype=f"V{layout.STR2_LEN}")[0]
    while made < n:
        k = min(drain, n - made)
        n_state = int(k * state_pct / 100)
        ev = np.zeros(k - n_state, dtype=layout.RECORD)
        pid = rng.integers(1000, 1016, len(ev)).astype(np.uint32)
        ev["pid"] = pid
        ev["tid"] = pid
        ev["cgroup_id"] = 100 + pid % 4
        ev["nr"] = nrs[rng.integers(0, len(nrs), len(ev))]
        ev["ret"] = rng.integers(-11, 4096, len(ev))
        ev["args"][:, 0] = rng.integers(3, 12, len(ev))
        ev["args"][:, 2] = 4096
        ev["latency_ns"] = rng.integers(100, 50_000, len(ev))
        ev["comm"] = np.array([b"app%d" % (p % 8) for p in pid.tolist()], dtype="S16")
        ev["ts_ns"] = ts + np.arange(len(ev)) * 7
        ex = np.zeros(n_state, dtype=layout.EXT_RECORD)
        if n_state:
            e = ex["ev"]
            pid_s = rng.integers(1000, 1016, n_state).astype(np.uint32)
            e["pid"] = pid_s
            e["tid"] = pid_s
            e["cgroup_id"] = 100 + pid_s % 4
            e["comm"] = np.array([b"app%d" % (p % 8) for p in pid_s.tolist()], dtype="S16")
            e["ts_ns"] = ts + rng.integers(0, len(ev) * 7 + 1, n_state)
            e["latency_ns"] = 2000
            kinds = rng.integers(0, 3, n_state)
            opens = kinds == 0
            e["nr"][opens] = T.nr("openat")
            e["ret"][opens] = rng.integers(3, 12, int(opens.sum()))
            e["args"][opens, 0] = 0xFFFFFF9C
            ex["str1"][opens] = np.frombuffer(b"/var/lib/data.db".ljust(256, b"\0"),
                                              dtype="V256")[0]
            ex["len1"][opens] = 17
            closes = kinds == 1
            e["nr"][closes] = T.nr("close")
            e["args"][closes, 0] = rng.integers(3, 12, int(closes.sum()))
            # half of the rest connect a socket to 10.1.2.3:5432, each socket() made
            # by its process just before it (so the connect has a socket to name)
            rest = np.flatnonzero(kinds == 2)
            socks, conns = rest[0::2][: len(rest) // 2], rest[1::2]
            e["nr"][conns] = T.nr("connect")
            e["ret"][conns] = -115
            e["args"][conns, 0] = rng.integers(3, 12, len(conns))
            e["args"][conns, 2] = 16
            ex["str2"][conns] = sock_v
            ex["len2"][conns] = 16
            for f in ("pid", "tid", "cgroup_id", "comm"):
                e[f][socks] = e[f][conns]
            e["ts_ns"][socks] = e["ts_ns"][conns] - 1
            e["nr"][socks] = T.nr("socket")
            e["ret"][socks] = e["args"][conns, 0]
            e["args"][socks, 0] = 2  # AF_INET
            e["args"][socks, 1] = 1  # SOCK_STREAM
        ts += len(ev) * 7 + 1
        made += k
        yield RawBatch(ev, ex)


def write_capture(path: Path, n: int, state_pct: float,
                  compress: str | None = None) -> tuple[float, int]:
    """The -w stage over synthetic records (``compress``: the writer's codec, None its
    default); (CPU seconds, records)."""
    from records import T

    from cdig.collector.capture import CaptureRecorder, CaptureWriter, host_info
    from cdig.collector.decode import Decoder
    from cdig.collector.events import HOST, Container
    from cdig.collector.session import Session
    from cdig.collector.state import State

    conts = {100 + i: Container(id=f"{i:x}" * 64, name=f"svc{i}", runtime="podman")
             for i in range(4)}
    writer = CaptureWriter(str(path), host_info(T, 0),
                           **({"compression": compress} if compress else {}))
    rec = CaptureRecorder(writer, T, live_container_of=lambda cg, pid: conts.get(cg, HOST))
    state = State(container_of=rec.container_of, procfs=rec.procfs)
    dec = Decoder(T, 1_700_000_000_000_000_000)
    rec.start(state, dec)

    class Src:
        def batches(self):
            return synth(n, state_pct)

        def stop(self):
            pass

        def drops(self):
            return 0

    t0 = time.process_time()
    Session(Src(), dec, state, None, [rec]).run()
    rec.close()
    return time.process_time() - t0, rec.written + rec.context


def _narrowed(name: str, col):  # -> np.ndarray | None
    """``col``'s values at the narrowest unsigned width their range needs (the
    monotone num and ts_ns as deltas from the row before), or None (not an integer
    column)."""
    import pyarrow as pa

    if not pa.types.is_integer(col.type) or not len(col):
        return None
    x = col.fill_null(0).to_numpy()
    if name in ("num", "ts_ns"):
        d = np.zeros_like(x)
        np.subtract(x[1:], x[:-1], out=d[1:])  # wraps: lossless with a cumsum back
        x = d
    lo = x.min()
    span = int(x.max()) - int(lo)
    for dt in (np.uint8, np.uint16, np.uint32, np.uint64):
        if span <= np.iinfo(dt).max:
            return (x - lo).astype(dt)
    return None


def column_costs(cap: Path) -> None:
    """--columns: per column, stored bytes and one-thread read time, as stored and
    narrowed (``_narrowed``)."""
    import pyarrow as pa
    import pyarrow.ipc as ipc

    with ipc.open_stream(pa.memory_map(str(cap))) as stream:
        schema = stream.schema
        batches = [b for b in stream if b.num_rows]
    opts = ipc.IpcWriteOptions(compression=pa.Codec("zstd", 1))
    one = ipc.IpcReadOptions(use_threads=False)

    def cost(arrays: list) -> tuple[int, float]:
        sch = pa.schema([pa.field("c", arrays[0].type)])
        sink = pa.BufferOutputStream()
        with ipc.new_stream(sink, sch, options=opts) as w:
            for a in arrays:
                w.write_batch(pa.RecordBatch.from_arrays([a], schema=sch))
        buf = sink.getvalue()
        best = float("inf")
        for _ in range(3):
            t0 = time.perf_counter()
            with ipc.open_stream(buf, options=one) as r:
                for _b in r:
                    pass
            best = min(best, time.perf_counter() - t0)
        return buf.size, best

    rows = []
    for i, f in enumerate(schema):
        cols = [b.column(i) for b in batches]
        raw = sum(x.size for c in cols for x in c.buffers() if x is not None)
        size, t = cost(cols)
        narrow = [_narrowed(f.name, c) for c in cols]
        nsize = nt = None
        width = ""
        if all(x is not None for x in narrow):
            w = max(x.dtype.itemsize for x in narrow if x is not None)
            width = f"u{8 * w}"
            nsize, nt = cost([pa.array(x.astype(f"u{w}")) for x in narrow if x is not None])
        rows.append((f.name, raw, size, t, width, nsize, nt))
    total, total_t = sum(r[2] for r in rows), sum(r[3] for r in rows)
    print(f"{len(batches)} batches, {sum(b.num_rows for b in batches):,} records; "
          "each column alone, zstd level 1, read back on one thread (best of 3)")
    print(f"{'column':11} {'raw MB':>7} {'zstd MB':>8} {'share':>6} {'read ms':>8} "
          f"{'share':>6}  {'narrow':>6} {'zstd MB':>8} {'read ms':>8}")
    for name, raw, size, t, width, nsize, nt in sorted(rows, key=lambda r: -r[3]):
        line = (f"{name:11} {raw / 1e6:7.1f} {size / 1e6:8.2f} {100 * size / total:5.1f}% "
                f"{t * 1e3:8.1f} {100 * t / total_t:5.1f}%")
        if nsize is not None and nt is not None:
            line += f"  {width:>6} {nsize / 1e6:8.2f} {nt * 1e3:8.1f}"
        print(line)
    n_t = sum(r[6] if r[6] is not None else r[3] for r in rows)
    n_b = sum(r[5] if r[5] is not None else r[2] for r in rows)
    print(f"{'total':11} {'':7} {total / 1e6:8.2f} {'':6} {total_t * 1e3:8.1f} {'':6}  "
          f"{'':6} {n_b / 1e6:8.2f} {n_t * 1e3:8.1f}  (narrowed where it applies)")


def package_tree(checkout: Path, into: Path) -> Path:
    """``checkout`` laid out as the installed package (pyproject's package-dir), for
    PYTHONPATH: cdig/ itself, the other folders linked in as its subpackages."""
    top = into / "cdig"
    top.mkdir(parents=True)
    for entry in (checkout / "cdig").iterdir():
        (top / entry.name).symlink_to(entry.resolve())
    for sub in ("probes", "collector", "tui", "exporters"):
        (top / sub).symlink_to((checkout / sub).resolve())
    compiled(checkout, into)
    return into


def compiled(checkout: Path, into: Path) -> None:
    """Each module's bytecode written beside it, as an install writes it: a run then
    reads it instead of compiling every module again (which it does where nothing
    writes bytecode: PYTHONDONTWRITEBYTECODE=1 here, ~0.08 s of each cdig run)."""
    import compileall

    for sub in ("cdig", "probes", "collector", "tui", "exporters"):
        compileall.compile_dir(str(checkout / sub), quiet=2)
    compileall.compile_dir(str(into / "cdig"), maxlevels=0, quiet=2)  # its own links


def timed(cmd: list[str], tree: Path | None = None) -> tuple[float, str]:
    """Wall seconds of ``cmd`` and its last stderr line; with ``tree``, run from
    there (its package first on the path, not this checkout's). The digest of its
    stdout is kept in ``OUTPUTS`` (tree, command) to compare the trees' outputs."""
    env = None
    if tree is not None:
        env = dict(os.environ, PYTHONPATH=str(tree))
    r0 = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    p = subprocess.run(cmd, capture_output=True, text=True, env=env,
                       cwd=None if tree is None else str(tree))
    dt = time.perf_counter() - t0
    r1 = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode:
        sys.exit(f"{' '.join(cmd)} failed: {p.stderr[-500:]}")
    digest = hashlib.sha256(p.stdout.encode()).hexdigest()
    OUTPUTS.setdefault((tree, tuple(cmd)), set()).add(digest)
    CPU.setdefault((tree, tuple(cmd)), []).append(
        r1.ru_utime - r0.ru_utime + r1.ru_stime - r0.ru_stime)
    return dt, p.stderr.strip().splitlines()[-1] if p.stderr.strip() else ""


def slot_order(old: object) -> list:
    """The slots of a round, ``None`` standing for the --tree one: A B B A, so
    each slot goes first and second equally often in every round."""
    return [None] if old is None else [None, old, old, None]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--records", type=int, default=10_000_000)
    ap.add_argument("--state-pct", type=float, default=2.0)
    ap.add_argument("--keep", help="keep the capture in this directory")
    ap.add_argument("--compress", choices=("lz4", "zstd"), help="the written capture's "
                    "codec (cdig trace -w --compress; default: the writer's, lz4)")
    ap.add_argument("--read", metavar="FILE", help="time this capture (made by an earlier "
                    "--keep run) instead of writing one")
    ap.add_argument("--against", metavar="DIR", help="also run each command from this "
                    "checkout, interleaved, and compare medians")
    ap.add_argument("--runs", type=int, default=1, help="runs of each command (median)")
    ap.add_argument("--columns", action="store_true", help="with --read: each column's "
                    "stored bytes and read time, as stored and narrowed (no cdig runs)")
    ap.add_argument("--tree", metavar="DIR", help="run this checkout's cdig (laid out as "
                    "the package, like --against's) instead of the installed one")
    a = ap.parse_args()
    for k in ("keep", "read", "against", "tree"):
        if getattr(a, k):
            setattr(a, k, str(ORIGIN / getattr(a, k)))
    tmp = Path(a.keep or tempfile.mkdtemp(prefix="cdig-replay-bench-"))
    tmp.mkdir(parents=True, exist_ok=True)
    cap = Path(a.read) if a.read else tmp / "big.cdig"
    if a.columns:
        if not a.read:
            sys.exit("--columns measures an existing capture: give --read FILE")
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}")
        column_costs(cap)
        print(f"load average {' '.join(f'{x:.2f}' for x in os.getloadavg())}\n"
              f"command: {sys.executable} benchmarks/replay_engine.py --read {a.read} --columns")
        return 0
    py = sys.executable
    cdig = [py, "-m", "cdig"]
    load0 = " ".join(f"{x:.2f}" for x in os.getloadavg())
    old = package_tree(Path(a.against), Path(tempfile.mkdtemp(prefix="cdig-old-"))) \
        if a.against else None
    new = package_tree(Path(a.tree), Path(tempfile.mkdtemp(prefix="cdig-new-"))) \
        if a.tree else None
    try:
        cpu = 0.0
        if a.read:
            import pyarrow.ipc as ipc

            with ipc.open_stream(str(cap)) as stream:
                n = sum(b.num_rows for b in stream)
        else:
            cpu, n = write_capture(cap, a.records, a.state_pct, a.compress)
        if old or new:
            print("trees: bytecode compiled before the runs (as installed)")
        print(f"capture: {n:,} records, {cap.stat().st_size / 1e6:.0f} MB "
              f"({cap.stat().st_size / n:.1f} B/record)")
        if cpu:
            print(f"  -w stage offline (decode + enrich + capture writer), CPU: "
                  f"{cpu / n * 1e9:.0f} ns/record = {n / cpu:,.0f} records/s")
        floor_code = ("import pyarrow.ipc as i,sys\nn=0\nwith i.open_stream(sys.argv[1]) as r:\n"
                      "    for b in r: n+=b.num_rows\nprint(n)")
        t_floor = statistics.median(timed([py, "-c", floor_code, str(cap)])[0]
                                    for _ in range(a.runs))
        t_start, _ = timed([*cdig, "trace", "-r", str(cap), "-n", "1"], new)
        if old is not None:  # both slots warmed alike before any timed run
            timed([*cdig, "trace", "-r", str(cap), "-n", "1"], old)
        commands = (
            (f"cdig trace -r FILE '{SELECTIVE}'", ["trace", "-r", str(cap), SELECTIVE]),
            ("cdig summary -r FILE --by proc", ["summary", "-r", str(cap)]),
            ("cdig summary -r FILE --by syscall", ["summary", "-r", str(cap), "--by", "syscall"]))
        new_t: dict[str, list[float]] = {label: [] for label, _ in commands}
        old_t: dict[str, list[float]] = {label: [] for label, _ in commands}
        lasts: dict[str, str] = {}
        for label, args in commands:
            # each command's runs together, after one untimed run from each slot:
            # a run right after another command cost ~0.1 s more (0.93x / 1.16x with
            # the trees swapped, 0.87x for one archive in both slots, CPU 1.31 vs
            # 1.07 s), and the rounds were command by command, so the slot put first
            # always took it. Then A B B A each round: each slot first equally often.
            for tree in (new, old) if old is not None else (new,):
                timed([*cdig, *args], tree)
            for _ in range(a.runs):
                for tree in slot_order(old):
                    if tree is None:
                        dt, lasts[label] = timed([*cdig, *args], new)
                        new_t[label].append(dt)
                    elif old is not None:
                        dt, _ = timed([*cdig, *args], tree)
                        old_t[label].append(dt)
        rows = [("pyarrow: read every batch (floor)", t_floor)]
        rows += [(label, statistics.median(new_t[label])) for label, _ in commands]
        w = max(len(label) for label, _ in rows)
        print(f"\n{'command':{w}} {'seconds':>8} {'records/s':>12} {'x floor':>8}"
              + (f" {'before':>8} {'speedup':>8}" if old is not None else ""))
        for label, dt in rows:
            line = f"{label:{w}} {dt:8.2f} {n / dt:12,.0f} {t_floor / dt:8.2f}"
            if old is not None and label in old_t:
                before = statistics.median(old_t[label])
                line += f" {before:8.2f} {before / dt:7.2f}x"
            print(line)
        print(f"(medians of {a.runs * (2 if old is not None else 1)}, A B B A, after a warm run"
              f"; cdig start-up, trace -r -n 1: {t_start:.2f} s, "
              "included above)")
        print(f"\nCPU seconds (user+sys, all threads; medians) — less moved by other load "
              f"than the wall clock (load average {load0} at the start, "
              f"{' '.join(f'{x:.2f}' for x in os.getloadavg())} now)")
        for label, args in commands:
            cmd = (*cdig, *args)
            line = f"  {label:{w - 2}} {statistics.median(CPU[(new, cmd)]):8.2f}"
            if old is not None:
                before = statistics.median(CPU[(old, cmd)])
                line += f" {before:8.2f} {before / statistics.median(CPU[(new, cmd)]):7.2f}x"
            print(line)
        for label, args in commands:
            print(f"  {label}: {lasts[label]}")
            if old is not None:
                cmd = (*cdig, *args)
                mine, theirs = OUTPUTS[(new, cmd)], OUTPUTS[(old, cmd)]
                same = len(mine) == 1 and mine == theirs
                verdict = "identical" if same else "DIFFERENT"
                print(f"    stdout of every run, both trees: {verdict}")
        made = f"--read {a.read}" if a.read else \
            f"--records {a.records} --state-pct {a.state_pct}"
        print(f"\ncommand: {py} benchmarks/replay_engine.py {made} --runs {a.runs}"
              + (f" --tree {a.tree}" if a.tree else "")
              + (f" --against {a.against}" if a.against else ""))
    finally:
        if not a.keep:
            shutil.rmtree(tmp, ignore_errors=True)
        for tree in (old, new):
            if tree is not None:
                shutil.rmtree(tree, ignore_errors=True)
    return 0


if __name__ == "__main__":
    ORIGIN = Path.cwd()  # where relative paths given on the command line start
    os.chdir(REPO)
    raise SystemExit(main())
