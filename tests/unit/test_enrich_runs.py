"""Enrichment's runs path (``enrich._run_starts``): a batch of long runs of rows
that read what the row before them read (a syscall storm) is enriched by applying
each run's first row and giving the others its objects, without the grouping
sorts. Both paths must agree with the per-event reference, and with each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import numpy as np
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from records import T
from test_batch_engine import build, engine, filter_st, rec_st, reference, tables

from cdig.collector import enrich
from cdig.collector.decode import Decoder
from cdig.collector.filter import FilterError, compile_filter
from cdig.collector.formatter import CONTAINER_FORMAT, Formatter
from cdig.collector.render import BatchRenderer
from cdig.collector.session import Session

ALWAYS, NEVER = 0, 1 << 40  # RUNS_PER_ROW: the runs path for every batch, or for none


@contextmanager
def runs_per_row(value: int) -> Iterator[None]:
    old = enrich.RUNS_PER_ROW
    enrich.RUNS_PER_ROW = value
    try:
        yield
    finally:
        enrich.RUNS_PER_ROW = old


# records repeated in runs, as a storm's are (the same process, fd and call)
runs_st = st.lists(st.tuples(rec_st, st.integers(1, 6)), min_size=1, max_size=20).map(
    lambda xs: [r for r, k in xs for _ in range(k)])


@settings(max_examples=120, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(runs_st, filter_st)
def test_runs_path_equals_per_event_reference(rows, text):
    try:
        flt = compile_filter(text)
    except FilterError:
        return
    f = Formatter(CONTAINER_FORMAT + " %fd.name %proc.cmdline %evt.latency %fd.sport %fd.cport")
    want, agg_ref = reference(build(rows), flt, f.format)
    for mode in (ALWAYS, NEVER):
        with runs_per_row(mode):
            got, agg = engine(build(rows), flt, BatchRenderer.text(f.fmt, T))
        assert got == want, mode
        assert tables(agg) == tables(agg_ref), mode


def _codes(rows: list[tuple], mode: int) -> list[list[tuple]]:
    """Per batch, each row's (process, fd, container) objects, by identity of what
    they hold (the two runs build their own State)."""
    from test_batch_engine import _state, iter_source

    out: list[list[tuple]] = []

    def sink(b, matched) -> None:
        out.append([((b.procs[p].pid, b.procs[p].name, b.procs[p].exe, b.procs[p].ppid),
                     b.fds[f] and (b.fds[f].num, b.fds[f].name, b.fds[f].type),
                     b.containers[c].name)
                    for p, f, c in zip(b.proc_code.tolist(), b.fd_code.tolist(),
                                       b.cont_code.tolist(), strict=True)])

    with runs_per_row(mode):
        Session(iter_source(build(rows)), Decoder(T, 1_700_000_000_000_000_000), _state(),
                None, [sink]).run()
    return out


def test_a_storm_takes_the_runs_path_and_gets_the_grouping_paths_objects():
    # one process's getppid storm with another's opens, closes and writes between
    other = [("open", 101, 4, 0, 8), ("write", 101, 4, 1, 8), ("close", 101, 4, 0, 8),
             ("read", 102, 5, 1, 7), ("fork", 100, 3, 0, 7), ("exit", 102, 5, 0, 7),
             ("write", 100, 4, 1, 7), ("exec", 100, 3, 0, 7)]
    rows = [r for o in other for r in ([("getppid", 100, 3, 0, 7)] * 400 + [o])]
    # an fd written, closed (a state row), then written again: the write after the
    # close reads the table as the close left it
    rows = [("open", 100, 4, 0, 7)] + [("write", 100, 4, 1, 7)] * 3 + \
        [("close", 100, 4, 0, 7)] + [("write", 100, 4, 1, 7)] * 3 + rows
    taken = []
    real = enrich.Enricher._enrich_runs

    def spy(self, b, runs, fdnum):
        taken.append((len(b), len(runs)))
        return real(self, b, runs, fdnum)

    enrich.Enricher._enrich_runs = spy  # type: ignore[method-assign]
    try:
        runs = _codes(rows, enrich.RUNS_PER_ROW)
    finally:
        enrich.Enricher._enrich_runs = real  # type: ignore[method-assign]
    assert taken and all(k * enrich.RUNS_PER_ROW <= n for n, k in taken)
    assert runs == _codes(rows, NEVER)


def test_run_starts_break_at_every_change_of_what_a_row_reads():
    pid = np.array([1, 1, 1, 2, 2, 2, 2, 2, 2], dtype=np.int64)
    cg = np.array([7, 7, 7, 7, 8, 8, 8, 8, 8], dtype=np.uint64)
    fd = np.array([-1, -1, -1, -1, -1, 3, 3, 3, 3], dtype=np.int64)
    kind = np.array([0, 0, 0, 0, 0, 0, 0, 1, 1], dtype=np.uint8)
    mut = np.array([0, 1, 0, 0, 0, 0, 0, 0, 0], dtype=bool)
    # 0 first; 1 a state row; 2 after one; 3 pid; 4 cgroup; 5 fd; 7 record kind
    assert enrich._run_starts(pid, cg, fd, kind, mut).tolist() == [0, 1, 2, 3, 4, 5, 7]
    one = np.zeros(1, dtype=np.int64)
    assert enrich._run_starts(one, one, one, one, np.zeros(1, bool)).tolist() == [0]
