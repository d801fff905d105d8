"""A workload for the probes' enter/exit pairing tests: calls that stay on their
CPU, calls that block, and calls whose thread is moved to another CPU while it is
blocked (test_probe_pairing_live, test_metrics_latency_live)."""

from __future__ import annotations

import os
import threading
import time


def stay_block_hop(getppid: int, sleeps: int, sleep_s: float, hops: int) -> tuple[int, int]:
    """``getppid`` getppid calls (no switch), ``sleeps`` sleeps of ``sleep_s``
    (each switches out), and ``hops`` one-byte reads of a pipe by a second thread,
    each blocked while this thread sleeps ``sleep_s`` and moves that thread to
    another CPU, then woken by a write, which it acknowledges (one more read here
    than hops). Returns (the reader's tid, the pipe's read fd)."""
    for _ in range(getppid):
        os.getppid()
    for _ in range(sleeps):
        time.sleep(sleep_s)  # clock_nanosleep
    cpus = sorted(os.sched_getaffinity(0))
    r, w = os.pipe()
    ack_r, ack_w = os.pipe()
    tid: list[int] = []

    def reader() -> None:
        tid.append(threading.get_native_id())
        os.write(ack_w, b"r")
        for _ in range(hops):
            os.read(r, 1)
            os.write(ack_w, b"a")

    t = threading.Thread(target=reader)
    t.start()
    os.read(ack_r, 1)
    for i in range(hops):
        time.sleep(sleep_s)  # the reader is blocked in its read by now (most times)
        os.sched_setaffinity(tid[0], {cpus[i % len(cpus)]})
        os.write(w, b"x")
        os.read(ack_r, 1)
    t.join()
    return tid[0], r
