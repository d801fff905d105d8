"""render.c gives the same bytes as the Python line builder, on hostile text too.

Random streams of records whose process names, paths, argv and container names
hold quotes, backslashes, control bytes, terminal escapes and bytes that are not
UTF-8, rendered by two renderers of each format (one with the compiled kernel,
one without, as under ``CDIG_NATIVE=0``) through the Session's line sink: the
output bytes are equal, ``-j`` lines parse as JSON, and ``-p`` lines hold no
control character but the newline.
"""

from __future__ import annotations

import io
import json

import numpy as np
import pytest
from hypothesis import HealthCheck, example, given, settings
from hypothesis import strategies as st
from records import T, ext, record

from cdig.collector import native
from cdig.collector.decode import Decoder, RawBatch
from cdig.collector.events import HOST, Container
from cdig.collector.formatter import CONTAINER_FORMAT, DEFAULT_FORMAT
from cdig.collector.native import render as native_render
from cdig.collector.render import BatchRenderer
from cdig.collector.session import LineSink, Session, binary_of
from cdig.collector.state import State
from cdig.collector.vector import group
from cdig.probes.syscalls import layout


@pytest.fixture(scope="module")
def asm(tmp_path_factory: pytest.TempPathFactory) -> native_render.Assembler:
    """The compiled kernel (setup.sh installs gcc): the native path is the one under
    test, never skipped. Built in a private cache of the test's if the user's has
    none (e.g. no ~/.cache)."""
    a = native_render.assembler()
    if a is None:
        with pytest.MonkeyPatch.context() as mp:
            mp.setenv("CDIG_CACHE_DIR", str(tmp_path_factory.mktemp("cache") / "c"))
            mp.delenv("CDIG_NATIVE", raising=False)
            mp.setattr(native, "_loaded", {})
            lib = native.load("render")
        assert lib is not None, "render.c did not compile"
        a = native_render.Assembler(lib)
    return a

AT_FDCWD = 0xFFFFFF9C
HOSTILE = [b'"', b"\\", b"\x1b[31m", b"\x00", b"\n", b"\t", b"\x7f", b"\xff", b"\xc3(",
           b"\xe2\x80\xae", b"\xc2\x9b", "é".encode(), "😀".encode(), b"\\u0041", b"}", b"%"]
text_st = st.lists(st.one_of(st.sampled_from(HOSTILE), st.binary(max_size=4)),
                   max_size=6).map(b"".join)
rec_st = st.tuples(
    st.sampled_from(["open", "read", "close", "getppid", "exec", "fork", "exit", "write_fail"]),
    st.sampled_from([100, 101]), st.integers(3, 5), text_st, st.sampled_from([7, 8]),
    st.integers(0, 3))

FORMATS = [
    DEFAULT_FORMAT,
    CONTAINER_FORMAT + " %fd.name %proc.cmdline %evt.latency %evt.rawtime %evt.datetime",
    "%evt.num %fd.name %proc.name",  # no '*': rows missing fd.name are skipped
    "*é\x1b\\ %proc.name\"%evt.deltatime %evt.time}%evt.num%%",
    "*%evt.deltatime.s %evt.deltatime.ns",
    "*",
]


def build(rows, container_name: str):
    small, exts = [], []
    ts = 1_000
    for i, (what, pid, fd, text, cg, gap) in enumerate(rows):
        # gaps of up to hours: a batch spanning more seconds than the kernel's table
        ts += 7 + (10 ** (4 * gap) if gap else 0)
        comm = (text or b"x").replace(b"\0", b"")[:15] or b"x"
        kw = dict(ts=ts, pid=pid, cgroup=cg, latency=37 * i, comm=comm)
        if what == "open":
            exts.append(ext("openat", ret=fd, args=(AT_FDCWD, 0, 1),
                            str1=b"/d/" + text.replace(b"\0", b"") + b"\0", **kw))
        elif what == "read":
            small.append(record("read", ret=i, args=(fd, 0, 10), **kw))
        elif what == "write_fail":
            small.append(record("write", ret=-9, args=(fd, 0, 1), **kw))
        elif what == "close":
            small.append(record("close", args=(fd,), **kw))
        elif what == "getppid":
            # arguments getppid does not have: they must not split groups
            small.append(record("getppid", ret=1, args=(i % 3, fd), **kw))
        elif what == "fork":
            small.append(record(kind=layout.KIND_FORK, args=(pid + 10, pid), **kw))
        elif what == "exit":
            small.append(record(kind=layout.KIND_EXIT, **kw))
        elif what == "exec":
            arg = text.replace(b"\0", b"") or b"a"
            exts.append(ext("execve", kind=layout.KIND_SYSCALL_ENTER, str1=b"/bin/" + arg + b"\0",
                            str2=b"id\0" + arg + b"\0", argc=2, **kw))
            small.append(record("execve", ret=0, args=(1, 2, 3), **{**kw, "ts": ts + 1}))
            ts += 1
    web = Container(id="b" * 64, name=container_name, runtime="podman", image=container_name)
    cont = {7: HOST, 8: web}
    half = len(small) // 2, len(exts) // 2

    def raw(s, x):
        return RawBatch(np.concatenate(s) if s else np.zeros(0, layout.RECORD),
                        np.concatenate(x) if x else np.zeros(0, layout.EXT_RECORD))

    batches = [raw(small[:half[0]], exts[:half[1]]), raw(small[half[0]:], exts[half[1]:])]
    return batches, cont


class _Source:
    def __init__(self, batches) -> None:
        self.b = batches

    def batches(self):
        yield from self.b

    def stop(self) -> None:
        pass

    def drops(self) -> int:
        return 0


def _outputs(asm, rows, container_name: str, make) -> tuple[bytes, bytes]:
    """(native bytes, Python bytes) of the renderers ``make()`` builds, each in a
    sink of its own over the same session."""
    batches, cont = build(rows, container_name)
    fast, slow = make(), make()
    fast.native, slow.native = asm, None
    outs = [io.TextIOWrapper(io.BytesIO(), encoding="utf-8", errors="surrogateescape",
                             newline="\n") for _ in range(2)]
    state = State(container_of=lambda cg, pid: cont.get(cg, HOST), proc_root="/nonexistent")
    sinks = [LineSink(fast, outs[0]), LineSink(slow, outs[1])]
    assert sinks[0]._bin is not None
    Session(_Source(batches), Decoder(T, 1_700_000_000_000_000_000), state, None, sinks).run()
    for o in outs:
        o.flush()
    got = outs[0].buffer.getvalue()  # type: ignore[attr-defined]
    want = outs[1].buffer.getvalue()  # type: ignore[attr-defined]
    assert sinks[0].printed == sinks[1].printed and sinks[0].skipped == sinks[1].skipped
    return got, want


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rec_st, min_size=1, max_size=30), text_st, st.sampled_from(FORMATS))
def test_text_lines_are_the_python_bytes(asm, rows, name, fmt):
    cname = name.decode("utf-8", "surrogateescape")
    got, want = _outputs(asm, rows, cname, lambda: BatchRenderer.text(fmt, T))
    assert got == want
    for line in got.decode("utf-8", "surrogateescape").split("\n")[:-1]:
        # the format's own ESC is the user's; field values never add one
        assert all(c.isprintable() or c == "\x1b" for c in line.replace("\x1b\\", ""))


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rec_st, min_size=1, max_size=30), text_st,
       st.sampled_from([None, *FORMATS[1:5]]))
def test_json_lines_are_the_python_bytes_and_valid_json(asm, rows, name, fmt):
    cname = name.decode("utf-8", "surrogateescape")
    got, want = _outputs(asm, rows, cname, lambda: BatchRenderer.json(T, fmt))
    assert got == want
    text = got.decode("utf-8")  # strict: valid UTF-8
    for line in text.split("\n")[:-1]:
        obj = json.loads(line)
        assert isinstance(obj, dict) and obj
        assert line.isprintable()


@settings(max_examples=60, deadline=None)
@given(st.integers(1, 300), st.lists(st.tuples(st.sampled_from(["u1", "i2", "u4", "i8", "u8",
                                                                 "?"]), st.integers(1, 5)),
                                     min_size=1, max_size=5), st.integers(0, 2**32))
def test_group_is_vector_group(asm, n, specs, seed):
    rng = np.random.default_rng(seed)
    cols = []
    for dt, card in specs:
        vals = rng.integers(0, card, n)
        c = np.zeros(n, dtype=[("pad", "u1"), ("v", dt)])  # a strided view, as rec fields
        c["v"] = vals.astype(dt)
        cols.append(c["v"])
    codes, first = asm.group(cols, n)
    key = np.stack([c.astype(np.int64) for c in cols], axis=1)
    _, want_first, want_codes = np.unique(key, axis=0, return_index=True, return_inverse=True)
    order = np.argsort(want_first)
    rank = np.empty(len(order), dtype=np.int64)
    rank[order] = np.arange(len(order))
    assert np.array_equal(codes, rank[want_codes.reshape(-1)])
    assert np.array_equal(first, np.sort(want_first))


@settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(st.lists(rec_st, min_size=1, max_size=30), st.sampled_from([None, CONTAINER_FORMAT]),
       st.booleans())
@example(rows=[("getppid", 100, 3 + i % 3, b"", 7, 0) for i in range(8)], fmt=None, plain=True)
def test_group_is_vector_group_on_batches(asm, rows, fmt, plain):
    """The renderer's grouping (arguments masked in C) partitions a batch's rows as
    vector.group does (numpy-masked arguments, hashed and checked). ``plain``: one
    name for every process, so rows differ in what a field does not show."""
    if plain:
        rows = [(w, p, fd, b"", cg, 0) for w, p, fd, _, cg, _ in rows]
    batches, cont = build(rows, "web")
    r = BatchRenderer.json(T) if fmt is None else BatchRenderer.text(fmt, T)
    r.native = asm
    state = State(container_of=lambda cg, pid: cont.get(cg, HOST), proc_root="/nonexistent")
    seen = []

    def check(b, m) -> None:
        want_codes, want_first = group(b, r.keys, r.rel)
        b._cache.clear()  # no masked_args, no cached group: the C path from scratch
        every = np.arange(len(b))
        codes, first = r._group(b, every)
        assert np.array_equal(codes, want_codes) and np.array_equal(first, want_first)
        # printed rows only (the others a filter rejected): the same partition
        some = every[::2]
        for kernel in (asm, None):
            b._cache.clear()
            r.native = kernel
            sub, sub_first = r._group(b, some)
            r.native = asm
            assert len(sub_first) == len(np.unique(want_codes[some]))
            assert np.array_equal(want_codes[sub_first[sub]], want_codes[some])
            pairs = set(zip(sub.tolist(), want_codes[some].tolist(), strict=True))
            assert len(pairs) == len(sub_first)  # one vector code per code, and back
        seen.append(len(first))

    Session(_Source(batches), Decoder(T, 0), state, None, [check]).run()
    assert seen


def test_bad_programs_are_refused(asm) -> None:
    cols = [np.zeros(3, dtype=np.int64)]
    ok = np.array([[native_render.OP_TAB, 0, 2, 0, 0]], dtype=np.int64)
    assert bytes(asm.lines(ok, cols, [b"a", b"b"], 3, 2) or b"") == b"a\na\na\n"
    cols[0][1] = 2  # a code past its table: C stops, the caller falls back
    assert asm.lines(ok, cols, [b"a", b"b"], 3, 2) is None
    for bad in ([native_render.OP_TAB, 0, 3, 0, 0], [native_render.OP_TAB, 1, 2, 0, 0],
                [native_render.OP_U64, 1, 0, 0, 0], [native_render.OP_LIT, 2, 0, 0, 0],
                [native_render.OP_SEC, 0, 0, 3, 0], [native_render.OP_NS9, -1, 0, 0, 0],
                [9, 0, 0, 0, 0]):
        with pytest.raises(ValueError):
            asm.lines(np.array([bad], dtype=np.int64), cols, [b"a", b"b"], 3, 24)
    with pytest.raises(ValueError):  # a column shorter than the rows
        asm.lines(ok, [np.zeros(2, dtype=np.int64)], [b"a", b"b"], 3, 2)


def test_numbers_at_their_limits(asm) -> None:
    vals = [0, 9, 10, 99, 100, 2**63 - 1, -(2**63), -1, -10, 10**10 - 1, 10**10, 10**10 + 7,
            10**19 - 2**64, -(10**10), 1_796_238_080_209_789_576]
    ns = [0, 1, 999_999_999, 10**9, 2**63 - 1, 5, 123, 7, 1, 2, 3, 4, 5, 6, 7]
    cols = [np.array(vals, dtype=np.int64), np.array(ns, dtype=np.int64)]
    ops = np.array([[native_render.OP_I64, 0, 0, 0, 0], [native_render.OP_LIT, 0, 0, 0, 0],
                    [native_render.OP_U64, 0, 0, 0, 0], [native_render.OP_LIT, 0, 0, 0, 0],
                    [native_render.OP_NS9, 0, 0, 0, 0], [native_render.OP_LIT, 0, 0, 0, 0],
                    [native_render.OP_NS9, 1, 0, 0, 0]], dtype=np.int64)
    out = bytes(asm.lines(ops, cols, [b" "], len(vals), 80) or b"").decode().split("\n")[:-1]
    want = [f"{v} {v % 2**64} {v % 10**9:09d} {w % 10**9:09d}"
            for v, w in zip(vals, ns, strict=True)]
    assert out == want


def test_sink_keeps_the_order_of_text_written_before(asm) -> None:
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n")
    assert binary_of(out)[0] is not None
    assert binary_of(io.StringIO())[0] is None
    latin = io.TextIOWrapper(io.BytesIO(), encoding="latin-1")
    assert binary_of(latin)[0] is None  # lines are UTF-8: a latin-1 stream gets text
    batches, cont = build([("getppid", 100, 3, b"x", 7, 0)] * 4, "web")
    state = State(container_of=lambda cg, pid: cont.get(cg, HOST), proc_root="/nonexistent")

    r = BatchRenderer.text("*%evt.num", T)
    r.native = asm

    def header(b, m) -> None:
        out.write("batch\n")  # another sink's text, still in the text layer's buffer

    Session(_Source(batches), Decoder(T, 0), state, None,
            [header, LineSink(r, out)]).run()
    out.flush()
    assert out.buffer.getvalue() == b"batch\n1\n2\nbatch\n3\n4\n"  # type: ignore[attr-defined]


def test_line_buffered_output_is_flushed_per_batch(asm) -> None:
    """-U (stdout line-buffered): each batch's lines reach the file at once."""
    raw = io.BytesIO()
    out = io.TextIOWrapper(raw, encoding="utf-8", newline="\n", line_buffering=True)
    r = BatchRenderer.text("*%evt.num %proc.name", T)
    r.native = asm
    batches, cont = build([("getppid", 100, 3, b"x", 7, 0)] * 2, "web")
    state = State(container_of=lambda cg, pid: cont.get(cg, HOST), proc_root="/nonexistent")
    seen = []
    Session(_Source(batches), Decoder(T, 0), state, None,
            [LineSink(r, out), lambda b, m: seen.append(raw.getvalue())]).run()
    assert seen == [b"1 x\n", b"1 x\n2 x\n"]
