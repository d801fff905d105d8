"""The capture reader's kernels (collector/native/replay.c) against the paths they
stand in for (zlib, numpy, Python): the same values and bytes, for random input."""

from __future__ import annotations

import json
import shutil
import zlib

import numpy as np
import pyarrow as pa
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from records import T

from cdig.collector import bounded
from cdig.collector.capture import format as fmt
from cdig.collector.capture import kernels
from cdig.collector.capture.format import _Rows, _Snaplen, batch_digest, batch_to_raw, rows_to_batch
from cdig.probes.syscalls import layout


@pytest.fixture(autouse=True)
def _fresh_kernels():
    kernels.reset()
    yield
    kernels.reset()


def _native() -> None:
    """The kernels loaded (a compiler is installed wherever the tests run)."""
    assert shutil.which("cc") or shutil.which("gcc"), "no C compiler"
    assert kernels.lib() is not None, "collector/native/replay.c did not build"


def _numpy(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("CDIG_NATIVE", "0")
    monkeypatch.setattr(kernels.native, "_loaded", {})
    kernels.reset()
    assert kernels.lib() is None


@settings(max_examples=60, deadline=None)
@given(st.binary(min_size=0, max_size=20_000), st.integers(0, 0xFFFFFFFF),
       st.integers(0, 40))
def test_crc32_is_zlibs(data, start, skip):
    _native()
    view = memoryview(data)[min(skip, len(data)):]  # any alignment
    assert kernels.crc32(view, start) == zlib.crc32(view, start)


def test_crc32_of_large_buffers_is_zlibs():
    _native()
    rng = np.random.default_rng(3)
    for n in (4096, 4097, 4111, 65536 + 7, 1 << 20):
        b = rng.bytes(n)
        assert kernels.crc32(b, 12345) == zlib.crc32(b, 12345)
        assert kernels.crc32(np.frombuffer(b, np.uint8).data, 0) == zlib.crc32(b)


def _batch(seed: int, n: int, ext_share: float) -> pa.RecordBatch:
    """A capture batch of random records (random bytes in every field), some with
    strings of random lengths (I/O data, paths, addresses) and random comms."""
    rng = np.random.default_rng(seed)
    rec = np.frombuffer(rng.bytes(n * layout.RECORD.itemsize), dtype=layout.RECORD).copy()
    names = [b"", b"a", b"bash", b"x" * 15, b"y" * 16, b"\0z"]
    rec["comm"] = np.array(names, dtype="S16")[rng.integers(0, len(names), n)]
    rec["kind"] = rng.integers(0, 3, n)
    rec["flags"] &= ~np.uint8(layout.FLAG_IO_DATA)
    is_ext = rng.random(n) < ext_share
    m = int(is_ext.sum())
    ext = np.frombuffer(rng.bytes(m * layout.EXT_RECORD.itemsize),
                        dtype=layout.EXT_RECORD).copy()
    ext["ev"] = rec[is_ext]
    ext["len1"] = rng.integers(-1, layout.STR1_LEN + 40, m)
    ext["len2"] = rng.integers(-1, layout.STR2_LEN + 40, m)
    num = np.arange(1, n + 1, dtype=np.uint64) + np.uint64(seed)
    ctx = rng.random(n) < 0.1
    return rows_to_batch(_Rows(rec, ext, is_ext, num, ctx), _Snaplen(None, T))


def _converted(rb: pa.RecordBatch) -> list[bytes]:
    raw, ctx = batch_to_raw(rb)
    assert raw.merged is not None and raw.order is not None and raw.num is not None
    return [raw.merged.tobytes(), raw.events.tobytes(), raw.ext.tobytes(),
            raw.order.tobytes(), raw.num.tobytes(), np.asarray(ctx).tobytes()]


@pytest.mark.parametrize("seed,n,share", [(1, 1, 0.0), (2, 1, 1.0), (3, 700, 0.0),
                                          (4, 700, 1.0), (5, 5000, 0.05), (6, 20_000, 0.3)])
def test_batch_to_raw_and_digest_agree_with_numpy(seed, n, share, monkeypatch):
    rb = _batch(seed, n, share)
    sliced = rb.slice(n // 3, n - n // 3) if n > 3 else rb  # Arrow offsets into buffers
    _native()
    fast = [_converted(b) for b in (rb, sliced)]
    fast_crc = [batch_digest(b, b"{}") for b in (rb, sliced)]
    _numpy(monkeypatch)
    assert fast == [_converted(b) for b in (rb, sliced)]
    assert fast_crc == [batch_digest(b, b"{}") for b in (rb, sliced)]


def test_fixed_rows_never_read_outside_a_crafted_column():
    _native()
    out = np.zeros(3, dtype=layout.RECORD)
    offsets = np.array([0, 5, 1 << 30, -7], dtype=np.int32)  # past the data, negative
    assert kernels.fill_fixed(out, fmt._COMM_AT, layout.COMM_LEN, offsets, b"hello")
    assert out["comm"].tolist() == [b"hello", b"", b""]


# -- bounded JSON: the fast path (C scanner, bracket count) against the checked one ---

_json = st.recursive(
    st.none() | st.booleans() | st.integers(-(1 << 70), 1 << 70) | st.text(
        alphabet='[]{}"\\ab1', max_size=8),
    lambda kids: st.lists(kids, max_size=6) | st.dictionaries(st.text(max_size=4), kids,
                                                              max_size=6),
    max_leaves=40)


def _outcome(fn, raw):
    try:
        return "ok", fn(raw)
    except bounded.MetadataError as e:
        return "error", str(e)


def _checked(raw: bytes):
    """load_json as it was: every integer and container checked in Python."""
    try:
        obj = json.loads(raw, parse_int=bounded._int)
    except RecursionError:
        raise bounded.MetadataError("metadata nested too deep") from None
    if not bounded._depth_ok(obj):
        raise bounded.MetadataError("metadata nested too deep")
    return obj


@settings(max_examples=150, deadline=None)
@given(_json, st.integers(0, 40), st.integers(0, 300))
def test_load_json_agrees_with_the_checked_parse(obj, depth, pad):
    raw = json.dumps(["p" * pad * 20, "[" * pad, obj]).encode()  # long enough for numpy
    for _ in range(depth):
        raw = b"[" + raw + b"]"
    assert _outcome(bounded.load_json, raw) == _outcome(_checked, raw)


def test_brackets_in_strings_do_not_count_and_deep_nesting_does():
    filler = '"' + "]]]}}\\\"[[[" * 600 + '"'
    ok = ("[" * 30 + filler + "]" * 30).encode()
    assert len(ok) > 4096 and bounded.load_json(ok)
    deep = ("[" * 33 + filler + "]" * 33).encode()
    with pytest.raises(bounded.MetadataError, match="nested too deep"):
        bounded.load_json(deep)


_entry = st.lists(st.one_of(st.sampled_from(["fd", "proc", "sock", "dir", "cwd", "pids", "?"]),
                            st.integers(-3, 3), st.none(), st.booleans(), st.text(max_size=2),
                            st.lists(st.integers(0, 3), max_size=6)), max_size=6)


@settings(max_examples=300, deadline=None)
@given(st.lists(_entry | st.integers(), max_size=5))
def test_journal_fast_path_accepts_what_the_full_check_accepts(entries):
    def full(v):
        for e in v:
            bounded._journal_entry(e)

    assert _outcome(bounded._journal, entries)[0] == _outcome(full, entries)[0]


@pytest.mark.parametrize("run", [18, 19, 25])
@pytest.mark.parametrize("where", ["start", "middle", "end", "string"])
def test_a_run_of_digits_long_enough_takes_the_checked_parse(run, where):
    """Without a backslash (quotes counted by numpy) and with one (the regexes):
    brackets in strings never count, and an integer of 19+ digits is range-checked."""
    for esc in ("", "\\\\"):
        filler = '"' + ("]]}}" + esc + "[[") * 700 + '"'
        big = "1" * run
        if where == "string":
            raw = f'["{big}", {filler}]'
        elif where == "start":
            raw = f'{big}' if run > 4096 else f'[{big}, {filler}]'
        elif where == "middle":
            raw = f'[{filler}, {big}, {filler}]'
        else:
            raw = f'[{filler}, {big}]'
        assert len(raw) > 4096
        assert _outcome(bounded.load_json, raw.encode()) == _outcome(_checked, raw.encode())
        deep = ("[" * 33 + f'{filler}, {big}' + "]" * 33).encode()
        assert _outcome(bounded.load_json, deep) == _outcome(_checked, deep)
        assert _outcome(bounded.load_json, deep)[0] == "error"
    too_big = "9" * 25
    with pytest.raises(bounded.MetadataError, match="64-bit"):
        bounded.load_json(f'[{too_big}, "{"x" * 5000}"]'.encode())
