"""A batch state of stamped fd answers only, read by the kernel as columns
(``reader.parse_state``, ``journal.FdJournal``), against json: the same state for every
text the kernel takes, the same outcome (state or MetadataError) for every other, the
same answers learnt by ``ReplayProcFS.apply``, and the same joined journals."""

from __future__ import annotations

import json
import shutil

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from cdig.collector import bounded
from cdig.collector.capture import kernels
from cdig.collector.capture.batch_read import _joins
from cdig.collector.capture.journal import FdJournal, ReplayProcFS, join_journals
from cdig.collector.capture.reader import parse_state


@pytest.fixture(autouse=True)
def _fresh_kernels():
    kernels.reset()
    assert shutil.which("cc") or shutil.which("gcc"), "no C compiler"
    assert kernels.lib() is not None, "collector/native/replay.c did not build"
    yield
    kernels.reset()


def _slow(text: bytes):
    try:
        return "ok", bounded.check_state(bounded.load_json(text))
    except bounded.MetadataError as e:
        return "error", str(e)


def _fast(text: bytes):
    try:
        return "ok", parse_state(text)
    except bounded.MetadataError as e:
        return "error", str(e)


_answer = st.one_of(st.none(), st.text(max_size=6),
                    st.text(alphabet=st.characters(min_codepoint=32, max_codepoint=126),
                            max_size=12))
_num = st.one_of(st.integers(-5, 5000), st.integers(-(10 ** 18) + 1, 10 ** 18 - 1),
                 st.integers(-(10 ** 20), 10 ** 20))
_fd_entry = st.tuples(st.just("fd"), _num, _num, _answer, _num).map(list)
_other = st.one_of(st.lists(st.one_of(st.sampled_from(["fd", "proc", "cwd"]), st.none(),
                                      st.integers(-3, 3), st.text(max_size=2)), max_size=6),
                   st.integers(), st.none())


def _dumps(obj) -> bytes:
    return json.dumps(obj, separators=(",", ":")).encode()  # as the writer writes it


@settings(max_examples=400, deadline=None)
@given(st.lists(_fd_entry, min_size=1, max_size=40), st.one_of(st.none(), _num),
       st.lists(_other, max_size=2), st.booleans())
def test_the_kernel_reads_what_json_reads(entries, drops, others, mixed):
    journal = list(entries) + (list(others) if mixed else [])
    state = {"journal": journal}
    if drops is not None:
        state["drops"] = drops
    text = _dumps(state)
    fast, slow = _fast(text), _slow(text)
    assert fast == slow
    if fast[0] == "ok" and not mixed and all(abs(x) < 10 ** 18 for e in entries
                                             for x in (e[1], e[2], e[4])) and \
            all(a is None or (a.isascii() and a.isprintable() and '"' not in a and
                              "\\" not in a) for a in (e[3] for e in entries)):
        # the common shape: taken by the kernel
        assert isinstance(fast[1]["journal"], FdJournal)


_edits = st.sampled_from([
    b" ", b"\n", b"01", b"-", b"1.5", b"1e3", b"\\", b"\\u00e9", b"\xc3\xa9", b'"', b",",
    b"]", b"[", b"}", b"{", b"null", b"true", b"9" * 19, b'"drops"', b":", b"\x00", b"\t"])


@settings(max_examples=600, deadline=None)
@given(st.lists(_fd_entry, min_size=1, max_size=6), st.one_of(st.none(), st.integers(0, 9)),
       st.lists(st.tuples(st.integers(0, 400), st.integers(0, 3), _edits), max_size=3))
def test_edited_texts_have_the_same_outcome(entries, drops, edits):
    state = {"journal": entries}
    if drops is not None:
        state["drops"] = drops
    text = _dumps(state)
    for at, cut, ins in edits:
        at %= len(text) + 1
        text = text[:at] + ins + text[at + cut:]
    assert _fast(text) == _slow(text)


@settings(max_examples=200, deadline=None)
@given(st.lists(st.lists(st.tuples(st.just("fd"), st.integers(1, 6), st.integers(0, 5),
                                   st.one_of(st.none(), st.sampled_from(["/a", "/b", "p:[1]"])),
                                   st.integers(0, 30)).map(list), min_size=1, max_size=8),
                min_size=1, max_size=4),
       st.one_of(st.none(), st.frozensets(st.integers(1, 6), max_size=3)), st.booleans())
def test_apply_learns_the_same_answers(batches, pids, fdless):
    by_list, by_cols = ReplayProcFS(), ReplayProcFS()
    for entries in batches:
        parsed = parse_state(_dumps({"journal": entries}))["journal"]
        assert isinstance(parsed, FdJournal)
        assert _joins({"journal": parsed})
        by_list.apply(entries, pids, fdless)
        by_cols.apply(parsed, pids, fdless)
        assert by_cols.answers == by_list.answers
        assert by_cols.stamped == by_list.stamped
    journals = [parse_state(_dumps({"journal": e}))["journal"] for e in batches]
    joined = join_journals(journals)
    assert isinstance(joined, FdJournal)
    assert list(joined) == [e for entries in batches for e in entries]
    mixed = join_journals([*journals, [["proc", 1, None, 3]]])
    assert mixed == [e for entries in batches for e in entries] + [["proc", 1, None, 3]]


def test_without_the_kernel_json_reads_every_state(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("CDIG_NATIVE", "0")
    monkeypatch.setattr(kernels.native, "_loaded", {})
    kernels.reset()
    state = parse_state(b'{"journal":[["fd",1,3,null,7]],"drops":2}')
    assert state == {"journal": [["fd", 1, 3, None, 7]], "drops": 2}
    assert isinstance(state["journal"], list)
