"""The capture reader's read-ahead (``collector/capture/batch_read.py``): while a capture
is read the interpreter's switch interval is short (the engine's numpy calls release
the GIL, and the reader thread would keep it up to 5 ms each time), and set back after;
the batches are those of the file, in order."""

from __future__ import annotations

import sys

from test_capture import batches, live_capture

from cdig.collector.capture import CaptureFile
from cdig.collector.capture.batch_read import _SWITCH_S, read_ahead


def test_switch_interval_is_short_while_reading_and_set_back_after(tmp_path):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(3))
    before = sys.getswitchinterval()
    assert before > _SWITCH_S  # the interpreter's default (5 ms): the test can fail
    f = CaptureFile.open(str(path))
    direct = [cb.records.num_rows for cb in CaptureFile.open(str(path)).batches()]
    seen, during = [], []
    it = read_ahead(f.batches())
    for cb, converted, left_out in it:
        during.append(sys.getswitchinterval())
        seen.append(cb.records.num_rows)
        assert left_out == 0
        assert (converted is None) == (cb.records.num_rows == 0)  # an empty batch: None
        if converted is not None:
            assert len(converted[0].order) == cb.records.num_rows
    assert seen == direct and len(seen) >= 2
    assert max(during) <= _SWITCH_S
    assert sys.getswitchinterval() == before


def test_switch_interval_set_back_when_the_reader_is_closed_early(tmp_path):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(3))
    before = sys.getswitchinterval()
    it = read_ahead(CaptureFile.open(str(path)).batches())
    next(it)
    assert sys.getswitchinterval() <= _SWITCH_S
    it.close()  # a trace -r -n N stops reading
    assert sys.getswitchinterval() == before
