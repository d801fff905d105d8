#!/usr/bin/env python3
"""Kernel-side ring-buffer drops while the ring is nearly empty: a torn
consumer-position store in probes/ringbuf.py.

Seen while writing trace_throughput.py (kernel 6.18, 2 vCPUs): with the 48-byte
program of stock_ringbuf.bpf.c and cdig's bulk reader keeping up, tens to
hundreds of single-record ``bpf_ringbuf_reserve()`` failures per 2 M records —
only once the ring has wrapped, while the reader never saw more than ~1 MB
pending, and none with libbpf's consumer (bcc's ``ring_buffer_poll``) on the
same program.

The cause: ``RingBuffer`` writes the consumer position with
``struct.Struct("<Q").pack_into``, which CPython performs one byte at a time
(``_PyLong_AsByteArray``). The kernel reads the position concurrently, can see a
half-written value far below the real one, computes ``new_prod_pos - cons_pos >
mask`` and refuses the reservation as if the ring were full. Before the first
wrap the positions are smaller than the ring, so a torn value cannot look a whole
ring behind — hence "only after a wrap", and fewer with bigger rings. (The reads
of the positions have the same byte-wise shape.) One aligned 8-byte store —
``ctypes.c_uint64.from_buffer(page).value = pos`` — makes the drops disappear.

probes/ringbuf.py now does exactly that. This script is the regression check:
it runs the reader as it is and prints the kernel's drops per run (0 expected
on a quiet machine; before the fix, 4-1,468 per run of 2 M records).

    sudo .venv/bin/python benchmarks/ringbuf_wrap_drops.py [--calls N] [--ring-mb 16] [--repeat 4]
"""

from __future__ import annotations

import argparse
import ctypes
import json
import os
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from benchlib import unmet_needs

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE.parent))
from tests.integration.containers import build_workload  # noqa: E402 - after the path


def one(binary: Path, work: Path, calls: int, ring_mb: int, tag: str) -> dict[str, object]:
    import numpy as np
    from bcc import BPF

    from cdig.probes.ringbuf import RingBuffer, RingPoller
    from cdig.probes.syscalls.layout import slot_dtype

    fifo = work / f"gate-{tag}"
    os.mkfifo(fifo, 0o600)
    w = subprocess.Popen([str(binary), "gate", str(fifo), "getppid", str(calls)])
    b = None
    try:
        pages = (ring_mb << 20) // os.sysconf("SC_PAGE_SIZE")
        b = BPF(text=(HERE / "stock_ringbuf.bpf.c").read_text(),
                cflags=[f"-DRING_PAGES={pages}"])
        b["target"][ctypes.c_int(0)] = ctypes.c_uint32(w.pid)
        rec = np.dtype([("ts_ns", "<u8"), ("cgroup_id", "<u8"), ("ret", "<i8"), ("id", "<u8"),
                        ("pid", "<u4"), ("tid", "<u4"), ("cpu", "<u4"), ("pad", "<u4")])
        ring = RingBuffer(b["events"].map_fd, ring_mb << 20, slot_dtype(rec))
        poller = RingPoller([ring])

        def drops() -> int:
            return int(sum(b["counters"][ctypes.c_int(0)]))

        fd = os.open(fifo, os.O_WRONLY | os.O_NONBLOCK)
        os.write(fd, b"x")
        os.close(fd)
        total = max_pending = 0
        first_drop_written = largest_pending_at_drop = None
        while True:
            done = w.poll() is not None
            pending = ring.pending()
            max_pending = max(max_pending, pending)
            d0 = drops()
            got = len(ring.drain())
            total += got
            if drops() != d0:
                if first_drop_written is None:
                    first_drop_written = ring.producer_pos()
                largest_pending_at_drop = max(largest_pending_at_drop or 0, pending)
            if done and not got:
                break
            if got < 1024:
                poller.wait(0.005)
        poller.close()
        ring.close()
        return {"reader": tag, "ring_mb": ring_mb, "records": total,
                "kernel_drops": drops(), "max_pending_bytes": max_pending,
                "bytes_written_at_first_drop": first_drop_written,
                "largest_pending_at_a_drop": largest_pending_at_drop}
    finally:
        if w.poll() is None:
            w.kill()
        w.wait()
        fifo.unlink()
        if b is not None:
            b.cleanup()


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--calls", type=int, default=2_000_000)
    p.add_argument("--ring-mb", type=int, default=16)
    p.add_argument("--repeat", type=int, default=4)
    a = p.parse_args()
    lacking = unmet_needs(tools=["gcc"])  # root: BPF
    if lacking:
        print(lacking, file=sys.stderr)
        return 1
    drops_per_run: list[int] = []
    with tempfile.TemporaryDirectory(prefix="cdig-rbdrops-") as d:
        work = Path(d)
        binary = build_workload(work / "rbdrops")
        for i in range(a.repeat):
            r = one(binary, work, a.calls, a.ring_mb, f"{i}")
            r["reader"] = "probes/ringbuf.py"
            drops_per_run.append(int(r["kernel_drops"]))
            print(json.dumps(r), flush=True)
            time.sleep(0.2)
    print(f"kernel drops per run: {drops_per_run}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
