"""trace_throughput.py's child programs: each loads one probe, prints
{"ready": true}, counts until SIGINT, then prints one JSON line with its counts.
They run as separate processes (``trace_throughput.py --child NAME``) so that
their CPU time is measured like any tracer's."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
REPO = HERE.parent
STOCK_BPF = HERE / "stock_ringbuf.bpf.c"
SYS_GETPPID = 110  # x86_64; workload.c is x86_64-only




_STOP = [False]


def on_stop(signum: int, frame: Any) -> None:
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
