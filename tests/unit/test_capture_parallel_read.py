"""A capture's batches decoded and checked on the decoding threads
(``CaptureFile._in_parallel``: whole reads, and reads widened per batch, which it can
do though only whole reads take it) give what the stream reader read in turn gives:
the same batches, ends and ``Loss`` for every damaged or cut file."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_capture import batches, live_capture

from cdig.collector.capture import CaptureError, CaptureFile
from cdig.collector.capture import reader as capture_reader

FIELDS = ("ctx", "kind", "nr", "ret")


@pytest.fixture(scope="module")
def base(tmp_path_factory):
    d = tmp_path_factory.mktemp("par")
    path = d / "c.cdig"
    live_capture(path, batches(8, 40), flush_rows=25)
    return d, path.read_bytes()


def _widen(rb):  # a function of the columns only, as the session's
    return rb.num_rows % 2 == 1


def _read(path, parallel, fields, monkeypatch):
    monkeypatch.setattr(capture_reader, "_parallel", lambda read: parallel)
    monkeypatch.setattr(capture_reader, "_DEPTH", 3)
    try:
        f = CaptureFile.open(str(path))
    except CaptureError as e:
        return str(e)
    try:
        got = [(cb.records, cb.state, cb.end)
               for cb in f.batches(fields, _widen if fields else None)]
    finally:
        f.close()
    return got, f.loss, f.events, f.skipped


def _same(a, b):
    if isinstance(a, str) or isinstance(b, str):
        return a == b
    (ga, la, ea, sa), (gb, lb, eb, sb) = a, b
    return (la, ea, sa) == (lb, eb, sb) and len(ga) == len(gb) and all(
        ra.equals(rb) and xa == xb and ea == eb
        for (ra, xa, ea), (rb, xb, eb) in zip(ga, gb, strict=True))


def test_an_intact_file_reads_the_same_both_ways(base, monkeypatch):
    d, _ = base
    for fields in (None, FIELDS):
        par = _read(d / "c.cdig", True, fields, monkeypatch)
        assert len(par[0]) > 6 and par[1] is None  # more batches than are in flight
        assert _same(par, _read(d / "c.cdig", False, fields, monkeypatch))


def test_every_cut_reads_the_same_both_ways(base, monkeypatch):
    d, data = base
    p = d / f"cut{os.getpid()}.cdig"
    for cut in range(0, len(data), max(1, len(data) // 300)):
        p.write_bytes(data[:cut])
        for fields in (None, FIELDS):
            par = _read(p, True, fields, monkeypatch)
            assert _same(par, _read(p, False, fields, monkeypatch)), cut


@settings(max_examples=200, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=10**9), bit=st.integers(0, 7),
       projected=st.booleans())
def test_a_flipped_bit_reads_the_same_both_ways(base, monkeypatch, pos, bit, projected):
    d, data = base
    buf = bytearray(data)
    buf[pos % len(buf)] ^= 1 << bit
    p = d / f"flip{os.getpid()}.cdig"
    p.write_bytes(bytes(buf))
    fields = FIELDS if projected else None
    par = _read(p, True, fields, monkeypatch)
    assert _same(par, _read(p, False, fields, monkeypatch))
