"""A replay with a raw filter: the reader leaves out, before converting them, the
rows the session's raw prefilter would drop (``Session.replay`` sets the source's
``prune``). Lines, numbers, times and counts must be those of a session that
converts every row (``Session`` built by hand, as ``test_capture.replay``)."""

from __future__ import annotations

import pytest
from test_capture import _Lines, batches, live_capture

from cdig.collector.capture import ReplaySource
from cdig.collector.decode import Decoder
from cdig.collector.filter import compile_filter
from cdig.collector.render import BatchRenderer
from cdig.collector.session import LineSink, Session, batch_filter
from cdig.collector.state import State

FMT = "*%evt.num %evt.reltime %evt.type %evt.res %fd.name %proc.name %proc.pid %proc.cmdline"


def _whole(path, text):
    src = ReplaySource([str(path)])
    state = State(container_of=src.container_of, procfs=src.procfs)
    src.attach(state)
    dec = Decoder(src.syscalls, src.mono_to_wall_ns)
    out = _Lines()
    s = Session(src, dec, state, batch_filter(compile_filter(text), dec.table),
                [LineSink(BatchRenderer.text(FMT, dec.table), out)])
    c = s.run()
    assert src.prune is None  # nothing left out here
    return out.lines(), c.records


def _pruned(path, text):
    src = ReplaySource([str(path)])
    out = _Lines()
    s = Session.replay(src, compile_filter(text),
                       lambda d: [LineSink(BatchRenderer.text(FMT, d.table), out)])
    prune, left = src.prune, []

    def counted(cols, len2):
        keep = prune(cols, len2)
        left.append(len(keep) - int(keep.sum()))
        return keep

    src.prune = counted
    c = s.run()
    assert sum(left) > 0  # rows were left out
    return out.lines(), c.records, src


@pytest.mark.parametrize("text", ["evt.type=write", "evt.type=read and proc.name=worker",
                                  "evt.failed=true", "proc.pid=60 and fd.name exists",
                                  "evt.type in (openat, connect) and evt.res!=SUCCESS",
                                  "evt.type=write and proc.cmdline contains tool",
                                  "evt.type=close and fd.name contains srv"])
def test_pruned_replay_equals_the_whole_one(tmp_path, text):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(8, 60), flush_rows=40)
    want, n_want = _whole(path, text)
    got, n_got, src = _pruned(path, text)
    assert src.prune is not None
    assert want, "the filter should select something"
    assert got == want
    assert n_got == n_want == src.records  # records left out still count as read
