"""The raw-record prefilter never changes which events a filter selects, nor their numbers."""

import numpy as np
from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.filter import compile_filter
from cdig.collector.prefilter import build_prefilter
from cdig.collector.state import State
from cdig.probes import layout
from hypothesis import given, settings
from hypothesis import strategies as st
from records import T, ext, record

NAMES = ["write", "read", "openat", "close", "getppid", "connect", "socket"]
FILTERS = [
    "evt.type=write", "proc.name=web and evt.res=ENOENT", "evt.failed=true",
    "evt.type in (read, write) and proc.pid=2", "proc.pid=1 and fd.name=/x",
    "not evt.type=close", "evt.latency>100 and container.name=host", "proc.name startswith w",
]

rec_st = st.tuples(st.sampled_from(NAMES), st.integers(-3, 3), st.sampled_from([1, 2]),
                   st.sampled_from([b"web", b"db"]), st.integers(0, 300))


def batch_of(rows):
    small, exts = [], []
    for i, (name, ret, pid, comm, lat) in enumerate(rows):
        kw = dict(ret=ret, pid=pid, comm=comm, latency=lat, ts=i, args=(3, 0, 1))
        if name in ("openat", "connect"):
            exts.append(ext(name, str1=b"/x\0", **kw))
        else:
            small.append(record(name, **kw))
    return RawBatch(np.concatenate(small) if small else np.zeros(0, layout.RECORD),
                    np.concatenate(exts) if exts else np.zeros(0, layout.EXT_RECORD))


def selected(batch, flt, use_prefilter):
    dec = Decoder(T, 0)
    state = State(proc_root="/nonexistent")
    pre = build_prefilter(flt, T) if use_prefilter else None
    keep = pre(batch) if pre else None
    return [(e.num, e.type, e.pid) for e in dec.decode(batch, keep)
            if flt.match(state.update(e))]


@settings(max_examples=150, deadline=None)
@given(st.lists(rec_st, max_size=40), st.sampled_from(FILTERS))
def test_prefilter_is_invisible(rows, text):
    flt = compile_filter(text)
    batch = batch_of(rows)
    assert selected(batch, flt, True) == selected(batch, flt, False)


def test_prefilter_skips_decoding_and_keeps_state_records():
    flt = compile_filter("evt.type=write")
    batch = batch_of([("read", 1, 1, b"web", 0)] * 5 + [("write", 1, 1, b"web", 0),
                                                         ("close", 0, 1, b"web", 0)])
    small, _ = build_prefilter(flt, T)(batch)
    assert small.tolist() == [False] * 5 + [True, True]  # close kept: it changes fd state


def test_no_prefilter_when_nothing_is_raw():
    assert build_prefilter(compile_filter("fd.name=/x or container.name=a"), T) is None
    assert build_prefilter(compile_filter(""), T) is None
