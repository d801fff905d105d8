"""cdig summary's record-keyed views (syscall, errors) run without State: the same
tables as the per-event reference, and the session keeps no state only then."""

from __future__ import annotations

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records import T
from test_batch_engine import _state, build, iter_source, rec_st, reference

from cdig.collector.aggregate import Aggregator
from cdig.collector.decode import Decoder
from cdig.collector.filter import compile_filter
from cdig.collector.filter.batch import BatchFilter
from cdig.collector.session import Session
from cdig.collector.summary import BatchAggregator


def _session(rows, views, filter_text=""):
    dec, state, agg = Decoder(T, 1_700_000_000_000_000_000), _state(), Aggregator(views)
    flt = compile_filter(filter_text)
    bf = BatchFilter(flt, T) if flt.expr is not None else None
    return Session(iter_source(build(rows)), dec, state, bf, [BatchAggregator(agg, T)]), agg


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rec_st, min_size=1, max_size=40))
def test_record_views_without_state_equal_the_reference(rows):
    for view in ("syscall", "errors"):
        session, agg = _session(rows, [view])
        assert session.stateless
        session.run()
        assert session.state.procs == {}  # nothing applied
        _, ref = reference(build(rows), compile_filter(""), lambda ev: None)
        assert agg.table(view).rows == ref.table(view).rows
        assert agg.events == ref.events


def test_state_is_kept_for_the_other_views_and_any_filter():
    rows = [("open", 100, 3, 0, 7), ("read", 100, 3, 1, 7)]
    for views, text in ((["proc"], ""), (["file"], ""), (["syscall", "proc"], ""),
                        (["syscall"], "proc.name=web"), (["syscall"], "evt.type=read")):
        session, _ = _session(rows, views, text)
        assert not session.stateless
        session.run()
        assert session.state.procs
