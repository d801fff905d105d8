"""proc.name on a contiguous comm column is compared as 8-byte words
(collector/filter/raw.py): the answer must be numpy's S16 comparison, the one the
strided (structured-array) path still computes with np.isin."""

from __future__ import annotations

import numpy as np

from cdig.collector.batch import Columns
from cdig.collector.filter import RawColumns, compile_vectorized, parse
from cdig.probes.syscalls import layout

COMMS = [b"python", b"python3", b"pytho", b"py\0thon", b"x" * 16, b"x" * 15, b"", b"bash",
         b"python\0\0\0\0\0\0\0\0\0z"]


def _records() -> np.ndarray:
    rec = np.zeros(len(COMMS) * 3, dtype=layout.RECORD)
    rec["comm"] = COMMS * 3
    return rec


def test_word_compare_equals_isin_on_the_structured_records() -> None:
    rec = _records()
    cols = RawColumns(lambda nr: f"sys{nr}")
    for text, want in (("proc.name=python", [b"python"]),
                       ("proc.name in (python, bash, xxxxxxxxxxxxxxxx)",
                        [b"python", b"bash", b"x" * 16]),
                       ("proc.name!=python", None)):
        mask = compile_vectorized(parse(text), cols)
        assert mask is not None
        fast = mask(Columns(rec).split())  # contiguous columns: the word compare
        slow = mask(rec)  # a strided field: np.isin
        assert np.array_equal(fast, slow), text
        if want is not None:
            assert [c for c, m in zip(rec["comm"].tolist(), fast.tolist(), strict=True) if m] == \
                [c for c in rec["comm"].tolist() if c in want], text
    # garbage after the NUL is not padding: numpy's answer, kept
    assert not compile_vectorized(parse("proc.name=python"), cols)(
        Columns(rec).split())[COMMS.index(b"python\0\0\0\0\0\0\0\0\0z")]
