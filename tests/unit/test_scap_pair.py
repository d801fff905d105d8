"""scap.c's enter/exit pairing and its reused header columns against the numpy
references, on the real sample captures and on shuffled threads.

``scap_pair`` (a thread -> last event hash table) must give what
``chunk.pair_numpy`` (a stable sort by thread, then neighbours) gives; ``headers``
with a scratch array must give the columns of fresh arrays, chunk after chunk.
"""

from __future__ import annotations

import io
import random
from pathlib import Path

import numpy as np
import pytest

from cdig.collector.native import scap as native_scap
from cdig.collector.scap import blocks as B
from cdig.collector.scap import events as E
from cdig.collector.scap import headers
from cdig.collector.scap.base import EVF_BLOCK
from cdig.collector.scap.chunk import pair_numpy

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scap"
SAMPLES = sorted(FIXTURES.glob("*.scap"))


@pytest.fixture(autouse=True)
def _compiled(tmp_path_factory: pytest.TempPathFactory, monkeypatch: pytest.MonkeyPatch) -> None:
    cache = tmp_path_factory.getbasetemp() / "native-cache"
    cache.mkdir(mode=0o700, exist_ok=True)
    monkeypatch.setenv("CDIG_CACHE_DIR", str(cache))
    monkeypatch.delenv("CDIG_NATIVE", raising=False)
    monkeypatch.setattr(native_scap, "_tried", False)
    monkeypatch.setattr(native_scap, "_kernels", None)
    from cdig.collector import native

    monkeypatch.setattr(native, "_loaded", {})
    assert native_scap.kernels() is not None, "scap.c did not compile (setup.sh installs gcc)"


def _kernels() -> native_scap.Kernels:
    k = native_scap.kernels()
    assert k is not None
    return k


def _chunk_headers(path: Path, chunk: int, monkeypatch: pytest.MonkeyPatch
                   ) -> list[tuple[np.ndarray, np.ndarray, dict[str, np.ndarray]]]:
    """(u8, blocks, numpy header columns) of every chunk of a capture."""
    import gzip

    raw = path.read_bytes()
    data = gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw
    monkeypatch.setattr(B, "CHUNK", chunk)
    s = B.BlockStream(io.BytesIO(data))
    s.read_header()
    out = []
    for buf, blks in s.chunks():
        u8 = np.frombuffer(buf, np.uint8)
        _rows, cols = headers.numpy_headers(u8, blks, 0)
        out.append((u8, blks.copy(), cols))
    return out


def _same_pairing(tid: np.ndarray, etype: np.ndarray, part: np.ndarray) -> int:
    got = _kernels().pair(tid, etype, part)
    assert got is not None
    ref = pair_numpy(tid, etype, part)
    for g, r, name in zip(got, ref, ("enter_of", "paired", "first_of", "last_of"), strict=True):
        assert g.dtype == r.dtype, name
        assert np.array_equal(g, r), name
    return int(np.count_nonzero(ref[0] >= 0))


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_pairing_is_the_numpy_one_on_the_samples(chunk: int,
                                                 monkeypatch: pytest.MonkeyPatch) -> None:
    assert SAMPLES
    pairs = 0
    for p in SAMPLES:
        for _u8, _blks, h in _chunk_headers(p, chunk, monkeypatch):
            etype = h["etype"]
            cat_ok = etype < E.MAX
            container = (etype == E.CONTAINER_E) | (etype == E.CONTAINER_JSON_2_E)
            pairs += _same_pairing(h["tid"], etype, cat_ok & ~container)
    assert pairs > 1000  # the captures do pair enters and exits


def test_pairing_is_the_numpy_one_on_shuffled_threads() -> None:
    """Many threads interleaved (the hash table grows past its first 256 slots),
    negative and colliding thread ids, enters without exits, exits of other types,
    and events left out of the pairing."""
    rnd = random.Random(13)
    for n, nthreads in ((0, 1), (1, 1), (50, 3), (5000, 40), (20000, 900), (20000, 20000)):
        tids = [rnd.choice([-1, 0, 1 << 40, -(1 << 62)]) if rnd.random() < 0.05
                else rnd.randrange(nthreads) * 1024 for _ in range(n)]
        etype = np.array([rnd.choice([306, 307, 6, 7, 8, 9, 5, 4, 307, 7]) for _ in range(n)],
                         dtype=np.int64)
        part = np.array([rnd.random() > 0.1 for _ in range(n)], dtype=bool)
        _same_pairing(np.array(tids, dtype=np.int64), etype, part)


def test_headers_into_scratch_are_fresh_headers(monkeypatch: pytest.MonkeyPatch) -> None:
    """One scratch array reused over every chunk of every sample (small chunks, so it
    is reused many times, and grown) gives the columns of fresh arrays."""
    k = _kernels()
    scratch: np.ndarray | None = None
    used = 0
    for p in SAMPLES:
        for u8, blks, ref in _chunk_headers(p, 4096, monkeypatch):
            for first in (0, len(blks) // 2):
                scratch = k.header_scratch(scratch, len(blks))
                rows_s, cols_s = k.headers(u8, blks, first, EVF_BLOCK, scratch)
                rows_f, cols_f = k.headers(u8, blks, first, EVF_BLOCK)
                assert np.array_equal(rows_s, rows_f)
                for col in headers.HEADER_COLUMNS:
                    assert np.array_equal(cols_s[col], cols_f[col]), col
                    if first == 0:
                        assert np.array_equal(cols_s[col], ref[col].astype(np.int64)), col
                used += 1
    assert used > 100
    small = np.empty(3, dtype=np.int64)  # too small: not used, fresh arrays instead
    u8, blks, ref = _chunk_headers(SAMPLES[0], 4096, monkeypatch)[0]
    _rows, cols = k.headers(u8, blks, 0, EVF_BLOCK, small)
    assert np.array_equal(cols["ts"], ref["ts"])
