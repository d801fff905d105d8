"""Replays that leave out more than the raw prefilter: a filter that holds only some
processes (``proc.pid=``) leaves out the other processes' state rows, but for sched
records and the ancestors the shown ones inherit from (``ReplaySource.state_pids``);
a summary that reads no fd (``--by proc``) applies no fd rows (``Enricher.fds``) and
reads only some columns but of batches with process-level state rows.
The lines and tables must be those of a replay that applies everything."""

from __future__ import annotations

import numpy as np
import pytest
from records import ext, record, sockaddr_in
from test_capture import _Lines, batches, live_capture
from test_replay_prune import FMT, _whole

from cdig.collector.aggregate import Aggregator
from cdig.collector.capture import ReplaySource
from cdig.collector.decode import RawBatch
from cdig.collector.filter import compile_filter
from cdig.collector.render import BatchRenderer
from cdig.collector.session import LineSink, Session
from cdig.collector.summary import BatchAggregator
from cdig.probes.syscalls import layout


def _forking() -> list[RawBatch]:
    """Process 50 opens /srv/a and connects a socket, then forks 80 (and 90, a child
    of 80); 80 and 90 use the inherited fds; process 60 opens and closes the same fd
    numbers all along (its rows are the ones left out)."""
    out, ts = [], 1000
    for b in range(6):
        small, big = [], []
        for i in range(40):
            ts += 10
            if b == 0 and i == 0:
                big.append(ext("openat", str1=b"/srv/a\0", ret=5, args=(2**64 - 100, 0, 0),
                               ts=ts, pid=50))
                big.append(ext("connect", str2=sockaddr_in("10.0.0.9", 443), ret=0,
                               args=(6, 0, 16), ts=ts + 1, pid=50))
            elif b == 1 and i == 0:
                small.append(record(None, kind=layout.KIND_FORK, args=(80, 50), ts=ts, pid=50))
            elif b == 2 and i == 0:
                small.append(record(None, kind=layout.KIND_FORK, args=(90, 80), ts=ts, pid=80))
            elif i % 4 == 0:
                big.append(ext("openat", str1=b"/tmp/b%d\0" % i, ret=5 + i % 3,
                               args=(2**64 - 100, 0, 0), ts=ts, pid=60))
            elif i % 4 == 1:
                small.append(record("close", ret=0, args=(5 + i % 3,), ts=ts, pid=60))
            else:
                pid = (50, 80, 90)[(i // 4) % 3] if b >= 3 else (50, 60)[i % 2]
                small.append(record("read", ret=7, args=(5 + i % 2, 0, 64), ts=ts, pid=pid))
        out.append(RawBatch(np.concatenate(small) if small else np.zeros(0, layout.RECORD),
                            np.concatenate(big) if big else np.zeros(0, layout.EXT_RECORD)))
    return out


def _replayed(path, text):
    src = ReplaySource([str(path)])
    out = _Lines()
    s = Session.replay(src, compile_filter(text),
                       lambda d: [LineSink(BatchRenderer.text(FMT, d.table), out)])
    c = s.run()
    return out.lines(), c.records, src


@pytest.mark.parametrize("text", ["proc.pid=80 and evt.type=read",
                                  "proc.pid in (90, 60) and fd.name exists",
                                  "proc.pid=50 and evt.type in (read, openat, connect)"])
def test_the_processes_filtered_on_are_shown_as_a_whole_replay_shows_them(tmp_path, text):
    path = tmp_path / "c.cdig"
    live_capture(path, _forking(), flush_rows=30)
    want, n_want = _whole(path, text)
    got, n_got, src = _replayed(path, text)
    assert want and any("/srv/a" in line or "10.0.0.9" in line for line in want) or \
        "60" in text
    assert got == want
    assert n_got == n_want == src.records
    assert src.only_pids is not None and 60 not in src.only_pids or "60" in text


def test_ancestors_by_fork_records_are_kept(tmp_path):
    path = tmp_path / "c.cdig"
    live_capture(path, _forking(), flush_rows=30)
    src = ReplaySource([str(path)])
    assert src.state_pids(frozenset({90})) == {90, 80, 50}
    assert src.state_pids(frozenset({60})) == {60}


@pytest.mark.parametrize("text", ["proc.pid=60", "proc.pid=50 and fd.name exists",
                                  "proc.pid in (50, 70) and evt.type=read"])
def test_pruned_by_pid_on_mixed_records(tmp_path, text):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(8, 60), flush_rows=40)
    want, _ = _whole(path, text)
    got, _, _ = _replayed(path, text)
    assert want and got == want


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_summary_without_fds_equals_the_full_enrichment(tmp_path, seed):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(8, 60, seed=seed), flush_rows=40)
    tables = []
    for fds in (False, True):
        src = ReplaySource([str(path)])
        agg = Aggregator(["proc", "user", "syscall"])
        s = Session.replay(src, None, lambda d, agg=agg: [BatchAggregator(agg, d.table)])
        assert s.enricher.fds is False and src.fields is not None  # some columns only
        if fds:  # the reference: every row applied, every column read
            s.enricher.fds, src.fdless, src.fields, src.widen = True, False, None, None
        s.run()
        tables.append([agg.table(v).rows for v in ("proc", "user", "syscall")])
    assert tables[0] == tables[1] and tables[0][0]


@pytest.mark.parametrize("flush_rows", [20, 1000])
def test_forks_are_the_fork_records_of_the_whole_read(tmp_path, flush_rows):
    """``CaptureFile.forks`` (a pass over the kind column, each batch holding forks read
    again from where the pass found it) lists what a whole read's fork records say."""
    from cdig.collector.capture import CaptureFile

    p = tmp_path / "f.cdig"
    live_capture(p, _forking(), flush_rows=flush_rows)
    f = CaptureFile.open(str(p))
    want = []
    for cb in f.batches():
        rb = cb.records.to_pydict()
        want += [(a, pid) for k, a, pid in zip(rb["kind"], rb["arg0"], rb["pid"], strict=True)
                 if k == layout.KIND_FORK]
    assert want == [(80, 50), (90, 80)]
    assert f.forks() == want
    f.close()


N_FLIPS = 120  # bytes changed, one a variant


def _scanned_kinds(f):
    """(message start, kind column) of each batch ``scan(())`` reads (the stream
    reader's projected read: every message's whole body)."""
    from cdig.collector.capture.digest import _values

    scan = f.scan(())
    if scan is None:  # the first batch unreadable again: no pass either way
        return None
    out, start = [], f._schema_end
    for cb in scan:
        rb = cb.records
        out.append((start, _values(rb.column(rb.schema.get_field_index("kind"))).tolist()))
        start = cb.end
    return out


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_the_kind_pass_reads_what_the_projected_stream_reads(tmp_path, codec):
    """``CaptureFile._kinds`` (each message's metadata and the kind column's buffers,
    nothing else of its body) yields the batches and kinds ``scan(())`` does, and stops
    where it stops: the whole file, cut anywhere, and a byte changed anywhere."""
    from cdig.collector.capture import CaptureError, CaptureFile

    p = tmp_path / "f.cdig"
    live_capture(p, _forking(), flush_rows=20, compression=codec)
    data = p.read_bytes()
    rng = np.random.default_rng(5)
    variants = [data] + [data[:int(c)] for c in rng.integers(0, len(data), 40)] + \
        [data[:int(c)] + bytes([data[int(c)] ^ (1 << int(b))]) + data[int(c) + 1:]
         for c, b in zip(rng.integers(0, len(data), N_FLIPS), rng.integers(0, 8, N_FLIPS),
                         strict=True)]
    checked = 0
    for i, v in enumerate(variants):
        q = tmp_path / f"v{i}.cdig"
        q.write_bytes(v)
        try:
            f = CaptureFile.open(str(q))
        except CaptureError:
            continue
        proj = f._projected((), own=False)
        if proj is None:
            f.close()
            continue
        proj[0].close()
        got = [(at, k.tolist()) for at, k in f._kinds(proj[1])]
        want = _scanned_kinds(f)
        assert want is None or got == want, i
        checked += 1
        f.close()
    assert checked > 100
