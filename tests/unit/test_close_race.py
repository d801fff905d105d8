"""A close whose number another thread's open or accept took before the close's exit
was recorded (the kernel frees the number inside close) must not unname the new file:
a server closing connection i while accepting i+1 (test_accept_live's flake)."""

from __future__ import annotations

import numpy as np
import pytest
from records import T, ext, record
from test_batch_engine import engine, reference

from cdig.collector.decode import RawBatch
from cdig.collector.filter import compile_filter
from cdig.collector.formatter import Formatter
from cdig.collector.render import BatchRenderer

AT_FDCWD = 0xFFFFFF9C


def batches(close_latency: int) -> list[RawBatch]:
    """Thread 101 opens /d/old as fd 4; thread 102 closes it and, while its close runs,
    thread 101 opens /d/new and gets fd 4; then 101 reads fd 4. The close exits at
    3,000 ns, after the new open's exit at 2,000; it was entered at 3,000 - latency."""
    exts = [ext("openat", ts=500, pid=100, tid=101, ret=4, args=(AT_FDCWD, 0, 0),
                str1=b"/d/old\0", latency=100),
            ext("openat", ts=2000, pid=100, tid=101, ret=4, args=(AT_FDCWD, 0, 0),
                str1=b"/d/new\0", latency=100)]
    small = [record("close", ts=3000, pid=100, tid=102, args=(4,), latency=close_latency),
             record("read", ts=4000, pid=100, tid=101, ret=1, args=(4, 0, 1), latency=100)]
    return [RawBatch(np.concatenate(small), np.concatenate(exts))]


FMT = Formatter("*%evt.type %fd.name")  # *: a line without fd.name shows <NA>


@pytest.mark.parametrize("close_latency,read_names", [
    (2000, "/d/new"),  # entered at 1,000: before /d/new existed, so it closed /d/old
    (500, "<NA>"),  # entered at 2,500: it closed /d/new
])
def test_close_entered_before_the_new_file_keeps_it(close_latency, read_names):
    flt = compile_filter("")
    want, _ = reference(batches(close_latency), flt, FMT.format)
    got, _ = engine(batches(close_latency), flt, BatchRenderer.text(FMT.fmt, T))
    assert got == want  # the columnar engine and the per-event reference agree
    assert want[-1] == f"read {read_names}", want
