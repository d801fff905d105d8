"""A selective replay joins consecutive pruned batches into one
(``collector/capture/batch_read.py``): each kept only a few rows, and each batch
costs the engine a fixed time. Lines, numbers and counts must stay those of a
replay that converts every row of every batch on its own; a batch whose state is
not only stamped /proc answers never joins the batches before it."""

from __future__ import annotations

import pyarrow as pa
from test_capture import batches, live_capture
from test_replay_prune import _pruned, _whole

from cdig.collector.capture import CaptureFile
from cdig.collector.capture.batch_read import _joined, _joins, read_ahead
from cdig.collector.capture.format import SCHEMA
from cdig.collector.capture.reader import CaptureBatch


def test_joined_replay_equals_the_whole_one_in_fewer_batches(tmp_path):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(8, 60), flush_rows=40)
    n_file = sum(1 for _ in CaptureFile.open(str(path)).batches())
    for text in ("evt.type=write", "proc.pid=60 and fd.name exists",
                 "evt.type=close and fd.name contains srv"):
        want, n_want = _whole(path, text)
        got, n_got, src = _pruned(path, text)
        assert want and got == want
        assert n_got == n_want == src.records
    # the pruned batches reached the session joined (fewer than the file's)
    joined = list(read_ahead(CaptureFile.open(str(path)).batches(),
                             lambda rb: (rb.slice(0, 1), rb.num_rows - 1)))
    assert 1 <= len(joined) < n_file
    assert sum(len(c[0]) + left for _, c, left in joined if c is not None) == \
        sum(cb.records.num_rows for cb in CaptureFile.open(str(path)).batches())


def test_only_stamped_answers_join():
    assert _joins({})
    assert _joins({"journal": [["fd", 7, 3, "/x", 17], ["proc", 7, None, 18],
                               ["sock", 7, 9, None, 19], ["cwd", 7, "/", 20],
                               ["dir", "/a", True, 21]]})
    assert not _joins({"journal": [["fd", 7, 3, "/x"]]})  # an older capture: no evt.num
    assert not _joins({"journal": [["pids", [1, 2]]]})
    assert not _joins({"journal": [["fd", 7, 3, "/x", 17]], "containers": []})
    assert not _joins({"cgroups": {"5": 1}})
    assert _joins({"drops": 3, "journal": [["fd", 7, 3, "/x", 17]]})


def _batch(rows: int) -> pa.RecordBatch:
    cols = [pa.nulls(rows, f.type) if f.nullable else
            pa.array([False] * rows) if pa.types.is_boolean(f.type) else
            pa.array([b"w"] * rows, f.type) if pa.types.is_binary(f.type) else
            pa.array(list(range(rows)), f.type) for f in SCHEMA]
    return pa.RecordBatch.from_arrays(cols, schema=SCHEMA)


def test_a_group_keeps_the_first_state_and_every_journal_in_order():
    a = CaptureBatch(_batch(2), {"containers": [{"key": 1}], "journal": [["fd", 1, 3, "/a", 1]]},
                     end=10)
    b = CaptureBatch(_batch(0), {"journal": [["fd", 1, 3, "/b", 5]], "drops": 4}, end=20)
    c = CaptureBatch(_batch(3), {"journal": [["fd", 1, 3, "/c", 9]]}, end=30)
    cb, converted, left = _joined([(a, a.records, 5), (b, b.records, 4), (c, c.records, 2)])
    assert cb.state == {"containers": [{"key": 1}],
                        "journal": [["fd", 1, 3, "/a", 1], ["fd", 1, 3, "/b", 5],
                                    ["fd", 1, 3, "/c", 9]], "drops": 4}
    assert cb.end == 30 and left == 11
    assert converted is not None and len(converted[0]) == 5 == cb.records.num_rows


def test_joined_journals_answer_each_record_as_its_own_batch_did():
    from cdig.collector.capture.journal import ReplayProcFS

    first, second = [["fd", 1, 3, "/a", 1]], [["fd", 1, 3, "/b", 5]]
    alone, joined = ReplayProcFS(), ReplayProcFS()
    alone.apply(first)
    alone.at = 1
    want = [alone.fd_target(1, 3)]
    alone.apply(second)
    alone.at = 5
    want.append(alone.fd_target(1, 3))
    joined.apply(first + second)
    got = []
    for at in (1, 5):
        joined.at = at
        got.append(joined.fd_target(1, 3))
    assert got == want == ["/a", "/b"]
