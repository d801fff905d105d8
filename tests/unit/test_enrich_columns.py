"""Enrichment from columns on batches large enough for its Arrow path.

``collector.batch.factorize`` groups a batch of 4096 rows or more through Arrow's
hash table (and smaller ones with ``np.unique``), and ``collector.state_rows``
applies the common state rows without Events: the engine must still agree with
the per-event reference (``test_batch_engine``) on such batches.
"""

from __future__ import annotations

import random

import numpy as np
from records import T
from test_batch_engine import build, engine, reference, tables

from cdig.collector.batch import factorize
from cdig.collector.filter import compile_filter
from cdig.collector.formatter import CONTAINER_FORMAT, Formatter
from cdig.collector.render import BatchRenderer


def _rows(n: int, seed: int) -> list[tuple]:
    rnd = random.Random(seed)
    what = ["open", "open_fail", "close", "read", "write", "write_fail", "dup", "socket",
            "connect", "connect_nb", "connect_fail", "getppid", "fork", "exec", "exit",
            "bind", "send", "sendto"]
    weights = [3, 1, 3, 20, 20, 2, 1, 2, 2, 1, 1, 10, 1, 1, 1, 1, 2, 1]
    return [(rnd.choices(what, weights)[0], rnd.choice([100, 101, 102]), rnd.randint(3, 6),
             rnd.randint(0, 3), rnd.choice([7, 8])) for _ in range(n)]


def test_large_batches_agree_with_the_per_event_reference():
    f = Formatter(CONTAINER_FORMAT + " %fd.name %proc.cmdline %fd.sport %fd.cport %fd.type")
    for seed in (1, 2):
        rows = _rows(12000, seed)
        assert max(len(b) for b in build(rows)) >= 4096  # the Arrow path runs
        for text in ("", "fd.name contains f4", "evt.type=write and fd.type=file",
                     "container.name=web and fd.sport=80"):
            flt = compile_filter(text)
            want, agg_ref = reference(build(rows), flt, f.format)
            got, agg = engine(build(rows), flt, BatchRenderer.text(f.fmt, T))
            assert got == want, (seed, text)
            assert tables(agg) == tables(agg_ref), (seed, text)


def test_factorize_groups_exactly_both_ways():
    rng = np.random.default_rng(3)
    for n in (0, 1, 100, 5000, 70000):
        col = rng.integers(-5, 40, n).astype(np.int64) * (1 << 40)
        codes, first, k = factorize(col)
        assert k == len(np.unique(col))
        assert np.array_equal(col[first][codes], col)  # a code's value is its rows' value
        assert len(set(col[first].tolist())) == k  # distinct codes, distinct values
        assert np.array_equal(np.sort(first), first)  # numbered in order of first sight
        if n:  # the first row of each code is its first occurrence
            for c in range(min(k, 20)):
                assert first[c] == np.flatnonzero(codes == c)[0]
