"""A capture read by some columns only (``CaptureFile.batches(fields)``, what a
stateless ``cdig summary`` asks): the columns checked by the batch's column digests,
the same tables as a whole read, and a file without column digests read whole."""

from __future__ import annotations

import os
import zlib

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from capture_craft import rewrite
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_capture import batches, live_capture

from cdig.cli import main
from cdig.collector.capture import CaptureError, CaptureFile, kernels
from cdig.collector.capture.digest import K_COLDIGEST, batch_digest, check_columns, digests

FIELDS = ("ctx", "kind", "nr", "ret", "latency_ns")


@pytest.fixture(scope="module")
def damaged_base(tmp_path_factory):
    """(dir, the file's bytes, where each batch ends, each batch read whole)."""
    d = tmp_path_factory.mktemp("proj")
    path = d / "c.cdig"
    live_capture(path, batches(5, 40), flush_rows=30)
    ends, good = [], []
    with pa.memory_map(str(path)) as src:
        r = ipc.open_stream(src)
        while True:
            try:
                rb, _ = r.read_next_batch_with_custom_metadata()
            except StopIteration:
                break
            ends.append(src.tell())
            good.append(rb)
    return d, path.read_bytes(), ends, good


def _read(path, fields=FIELDS, widen=None):
    f = CaptureFile.open(str(path))
    got = [cb.records for cb in f.batches(fields, widen)]
    f.close()
    return got, f.loss


def test_only_the_columns_asked_are_read_and_they_equal_the_whole_read(damaged_base):
    d, data, ends, good = damaged_base
    got, loss = _read(d / "c.cdig")
    assert loss is None and len(got) == len(good)
    for rb, whole in zip(got, good, strict=True):
        assert rb.schema.names == [n for n in whole.schema.names if n in FIELDS]
        assert rb.equals(whole.select(rb.schema.names))
    # batches widened: read whole, the same as a whole read
    seen = []
    got, loss = _read(d / "c.cdig", widen=lambda rb: seen.append(rb) or len(seen) % 2 == 0)
    assert loss is None and len(got) == len(good)
    assert {rb.num_columns for rb in got if rb.num_rows} == {len(FIELDS), good[0].num_columns}
    for rb, whole in zip(got, good, strict=True):
        assert rb.equals(whole.select(rb.schema.names))


@settings(max_examples=150, deadline=None,
          suppress_health_check=[HealthCheck.function_scoped_fixture])
@given(pos=st.integers(min_value=0, max_value=10**9), bit=st.integers(0, 7))
def test_flipped_byte_never_returns_damaged_columns(damaged_base, pos, bit):
    d, data, ends, good = damaged_base
    pos = pos % len(data)
    buf = bytearray(data)
    buf[pos] ^= 1 << bit
    p = d / f"pflip{os.getpid()}.cdig"
    p.write_bytes(bytes(buf))
    # every other batch read whole (``widen``: a batch with process-level state rows)
    odd = {"n": 0}

    def widen(rb):
        odd["n"] += 1
        return odd["n"] % 2 == 0

    try:
        got, loss = _read(p, widen=widen if bit % 2 else None)
    except CaptureError:
        assert pos < ends[0]  # the header (schema + first empty batch) was hit
        return
    assert len(got) >= sum(1 for e in ends if e <= pos)
    for rb, whole in zip(got, good, strict=False):
        assert rb.equals(whole.select(rb.schema.names))  # never a damaged column
        assert rb.num_columns in (len(FIELDS), whole.num_columns)
    if len(got) < len(good):
        assert loss is not None


def test_column_digests_catch_each_column_the_metadata_and_the_count(damaged_base):
    _, _, _, good = damaged_base
    rb = next(b for b in good if b.num_rows)
    md = digests(rb, b"{}")
    every = list(range(rb.num_columns))
    assert md[b"cdig.digest"] == batch_digest(rb, b"{}").encode()
    assert check_columns(rb, b"{}", md[K_COLDIGEST], every, rb.num_columns)
    assert not check_columns(rb, b"{ }", md[K_COLDIGEST], every, rb.num_columns)
    assert not check_columns(rb.slice(1), b"{}", md[K_COLDIGEST], every, rb.num_columns)
    i = rb.schema.get_field_index("ret")
    other = pa.array(rb.column(i).to_numpy() + 1)
    changed = rb.set_column(i, "ret", other)
    assert not check_columns(changed, b"{}", md[K_COLDIGEST], every, rb.num_columns)
    # a column not read does not matter; the index still covers the whole list
    cols = [j for j in every if j != i]
    assert check_columns(changed.select(cols), b"{}", md[K_COLDIGEST], cols, rb.num_columns)
    flipped = bytearray(md[K_COLDIGEST])
    flipped[4 + 4 * i] ^= 1
    assert not check_columns(changed.select(cols), b"{}", bytes(flipped), cols, rb.num_columns)


def test_crc32_combine_is_the_crc_of_the_concatenation():
    assert kernels.lib() is not None, "collector/native/replay.c did not build"
    for a, b in ((b"", b""), (b"abc", b""), (b"", b"xyz"), (os.urandom(100), os.urandom(5000))):
        assert kernels.crc32_combine(zlib.crc32(a), zlib.crc32(b), len(b)) == zlib.crc32(a + b)


def test_digests_without_the_kernel_are_the_same(damaged_base, monkeypatch):
    _, _, _, good = damaged_base
    native = [digests(rb, b"{}") for rb in good]
    monkeypatch.setenv("CDIG_NATIVE", "0")
    monkeypatch.setattr(kernels.native, "_loaded", {})
    kernels.reset()
    try:
        assert kernels.crc32_combine(1, 2, 3) is None
        assert [digests(rb, b"{}") for rb in good] == native
    finally:
        kernels.reset()


def test_a_file_without_column_digests_is_read_whole(damaged_base, tmp_path):
    d, _, _, good = damaged_base
    old = tmp_path / "old.cdig"

    rewrite(d / "c.cdig", old, column_digests=False)
    got, loss = _read(old)
    assert loss is None
    assert [rb.num_columns for rb in got] == [good[0].num_columns] * len(good)


@pytest.mark.parametrize("view", ["syscall", "errors"])
def test_summary_by_columns_equals_the_whole_read(tmp_path, capsys, view):
    path = tmp_path / "c.cdig"
    live_capture(path, batches(6, 50), flush_rows=40)
    old = tmp_path / "old.cdig"
    rewrite(path, old, column_digests=False)
    out = []
    for p in (path, old):
        assert main(["summary", "-r", str(p), "--by", view]) == 0
        out.append(capsys.readouterr().out)
    assert out[0] == out[1] and len(out[0].splitlines()) > 2
