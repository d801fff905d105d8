"""A stateless replay whose sinks name the record fields they read (``cdig summary
--by syscall``: kind, nr, ret, latency_ns) gets a ScapSource that parses no argument
or string: the same values of those fields, no ext rows."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from cdig.collector.aggregate import Aggregator
from cdig.collector.scap.reader import ScapSource
from cdig.collector.session import Session
from cdig.collector.summary import BatchAggregator
from cdig.probes.syscalls import layout

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scap"
SAMPLES = sorted(FIXTURES.glob("*.scap"))
KEPT = ("ts_ns", "latency_ns", "ret", "nr", "kind", "tid", "pid")


def _merged(src: ScapSource) -> tuple[np.ndarray, np.ndarray, int]:
    recs, nums, ext = [], [], 0
    for b in src.batches():
        assert b.merged is not None and b.num is not None
        recs.append(b.merged)
        nums.append(b.num)
        ext += len(b.ext)
    src.close()
    if not recs:
        return np.zeros(0, dtype=layout.RECORD), np.zeros(0, dtype=np.uint64), 0
    return np.concatenate(recs), np.concatenate(nums), ext


@pytest.mark.parametrize("path", SAMPLES, ids=[p.name for p in SAMPLES])
def test_named_fields_read_equal_values(path: Path) -> None:
    full, full_num, _ = _merged(ScapSource([str(path)]))
    lean_src = ScapSource([str(path)])
    lean_src.fields = ("ctx", "kind", "latency_ns", "nr", "ret")
    lean, lean_num, _ = _merged(lean_src)
    assert len(lean) == len(full)
    assert np.array_equal(lean_num, full_num)
    for name in KEPT:
        assert np.array_equal(lean[name], full[name]), name


def test_the_summary_of_syscalls_asks_for_its_fields_only() -> None:
    src = ScapSource([str(FIXTURES / "cat_write.scap")])
    try:
        Session.replay(src, None, lambda d: [BatchAggregator(Aggregator(["syscall"]),
                                                              d.table)])
        assert src.fields is not None and "args" not in src.fields \
            and "str1" not in src.fields and "nr" in src.fields
        src2 = ScapSource([str(FIXTURES / "cat_write.scap")])
        Session.replay(src2, None, lambda d: [BatchAggregator(Aggregator(["file"]), d.table)])
        assert src2.fields is None  # a view of fds: every field
        src2.close()
    finally:
        src.close()


def test_the_lean_read_leaves_out_the_strings_of_the_bulk_path() -> None:
    path = str(FIXTURES / "cat_write.scap")  # its writes carry data
    _, _, full_ext = _merged(ScapSource([path]))
    lean_src = ScapSource([path])
    lean_src.fields = ("ctx", "kind", "latency_ns", "nr", "ret")
    _, _, lean_ext = _merged(lean_src)
    assert full_ext > 0 and lean_ext < full_ext
