"""The raw part of a filter drops rows before enrichment, invisibly.

Rows the filter's raw-record terms reject and that change no state are dropped
before the Enricher sees them; they still count in ``evt.num`` (the selected
events keep their numbers) and state rows (close) are kept, so fds stay named.
"""

import numpy as np
from records import T, ext, record

from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.filter import compile_filter
from cdig.collector.filter.batch import BatchFilter
from cdig.collector.session import EventSink, Session
from cdig.collector.state import State


class Src:
    def __init__(self, b):
        self.b = b

    def batches(self):
        yield from self.b

    def stop(self):
        pass

    def drops(self):
        return 0


def run(text, batch):
    flt = compile_filter(text)
    got = []
    s = Session(Src([batch]), Decoder(T, 0), State(proc_root="/nonexistent"),
                BatchFilter(flt, T), [EventSink(lambda e: got.append((e.num, e.type, e.fd)))])
    s.run()
    return got, s.counters


def test_raw_part_skips_rows_keeps_state_and_numbers():
    small = np.concatenate([record("read", ret=1, args=(3, 0, 1), ts=i) for i in range(5)]
                           + [record("close", args=(3,), ts=10),
                              record("write", ret=1, args=(3, 0, 1), ts=11)])
    opened = ext("openat", ret=3, args=(0xFFFFFF9C, 0, 1), str1=b"/x\0", ts=0)
    got, c = run("evt.type=write or evt.type=close", RawBatch(small, opened))
    # the five reads were never enriched; the open (state) was, so close and write
    # name the fd; numbers are those of the whole batch
    assert c.records == 8 and c.events == 3 and c.matched == 2
    assert [(n, t) for n, t, _ in got] == [(7, "close"), (8, "write")]
    assert got[0][2].name == "/x" and got[1][2] is None  # closed before the write


def test_no_raw_part_when_nothing_is_raw():
    assert BatchFilter(compile_filter("fd.name=/x or container.name=a"), T).raw is None
    assert BatchFilter(compile_filter(""), T).raw is None
    assert BatchFilter(compile_filter("proc.pid=1 and fd.name=/x"), T).raw is not None
