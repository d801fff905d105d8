"""cdig summary --by proc on batches large enough for render.c's group-by (the
enrichment's (pid, cgroup) groups and the proc view's (container, pid, comm) rows
both through ``cdig_group_rows``): the same table as the per-event reference, with
execs renaming processes, forks, exits and two containers in the rows."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records import T
from test_batch_engine import _state, build, iter_source, rec_st, reference

from cdig.collector.aggregate import Aggregator
from cdig.collector.decode import Decoder
from cdig.collector.filter import compile_filter
from cdig.collector.native.render import assembler
from cdig.collector.session import Session
from cdig.collector.summary import _NATIVE_MIN, BatchAggregator

ROWS = 2 * _NATIVE_MIN + 200  # build() cuts the rows into two batches


@settings(max_examples=12, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rec_st, min_size=5, max_size=30))
def test_proc_view_of_large_batches_equals_the_reference(pattern):
    assert assembler() is not None  # the kernel this test is about is compiled
    rows = (pattern * (ROWS // len(pattern) + 1))[:ROWS]
    batches = build(rows)
    assert min(len(b) for b in batches) >= _NATIVE_MIN
    agg = Aggregator(["proc"])
    session = Session(iter_source(batches), Decoder(T, 1_700_000_000_000_000_000), _state(),
                      None, [BatchAggregator(agg, T)])
    assert not session.enricher.fds  # the enrichment without fds: the exact (pid, cgroup)
    session.run()
    _, ref = reference(build(rows), compile_filter(""), lambda ev: None)
    assert agg.table("proc").rows == ref.table("proc").rows
    assert agg.events == ref.events
