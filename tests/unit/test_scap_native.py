"""The .scap reader's C kernels (collector/native/scap.c) against its numpy path.

Both must give the same block lists, stop reasons, event header columns and, in
the end (parameter offsets, integer parameters, rows copied into the ext records
too), the same batches, on every sample capture and on damaged, truncated and
unknown-typed variants of them, read in small chunks (so blocks and enter/exit
pairs straddle chunk ends) and in the reader's own chunks.
"""

from __future__ import annotations

import gzip
import hashlib
import random
import struct
from collections.abc import Iterator
from pathlib import Path

import numpy as np
import pytest

from cdig.collector.native import scap as native_scap
from cdig.collector.scap import blocks as B
from cdig.collector.scap import bulk, columns, fastrows, headers
from cdig.collector.scap.reader import ScapSource

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


def _plain(path: Path) -> bytes:
    raw = path.read_bytes()
    return gzip.decompress(raw) if raw[:2] == b"\x1f\x8b" else raw


def _event_blocks(data: bytes) -> list[tuple[int, int, int]]:
    out, pos = [], 28
    while pos + 12 <= len(data):
        t, ln = struct.unpack_from("<II", data, pos)
        if ln < 12 or pos + ln > len(data):
            break
        out.append((pos, t, ln))
        pos += ln
    return out


def _variants() -> Iterator[tuple[str, bytes]]:
    """Every sample, and damaged versions of each."""
    rnd = random.Random(13)
    for p in SAMPLES:
        data = _plain(p)
        blocks = _event_blocks(data)
        evs = [b for b in blocks if b[1] in B.EVENT_BLOCKS]
        yield p.stem, data
        yield p.stem + "-gz", p.read_bytes()
        for cut in (0.25, 0.5, 0.9):
            yield f"{p.stem}-cut{cut}", data[:int(len(data) * cut)]
        yield p.stem + "-gzcut", p.read_bytes()[: len(p.read_bytes()) * 2 // 3]
        if len(evs) < 80:
            continue
        b = bytearray(data)
        pos, _t, ln = evs[len(evs) // 2]
        b[pos + ln - 4] ^= 0x10  # a trailer that does not repeat the length
        yield p.stem + "-trailer", bytes(b)
        b = bytearray(data)
        pos, _t, ln = evs[len(evs) // 3]
        struct.pack_into("<I", b, pos + 4, 7)  # an impossible length
        yield p.stem + "-length", bytes(b)
        b = bytearray(data)
        for pos, _t, _ln in evs[len(evs) // 4: len(evs) // 4 + 5]:
            struct.pack_into("<I", b, pos, 0xBAD0)  # unknown block types
        for pos, t, _ln in evs[len(evs) // 2: len(evs) // 2 + 30]:
            at = pos + 8 + 2 + 4 * B.EVENT_BLOCKS[t][1] + 20
            struct.pack_into("<H", b, at, 1000 + (pos & 7))  # unknown event types
        pos, t, ln = evs[len(evs) // 4 + 6]
        struct.pack_into("<I", b, pos, B.EV_V2)
        struct.pack_into("<I", b, pos + 4, 20)  # an event block too short for a header
        struct.pack_into("<I", b, pos + 16, 20)
        b[pos + 20:pos + ln] = b""
        yield p.stem + "-unknown", bytes(b)
        for k in range(3):
            b = bytearray(data)
            for _ in range(25):
                b[rnd.randrange(28, len(b))] = rnd.randrange(256)
            yield f"{p.stem}-flip{k}", bytes(b)


VARIANTS = list(_variants())


def _chunks(data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch
            ) -> list[tuple[bytes, np.ndarray, str, str]]:
    import io

    monkeypatch.setattr(B, "CHUNK", chunk)
    s = B.BlockStream(io.BytesIO(data))
    s.read_header()
    out = [(buf, blks.copy(), s.stop, s.stop_detail) for buf, blks in s.chunks()]
    out.append((b"", np.zeros((0, 4), np.int64), s.stop, s.stop_detail))
    return out


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_blocks_and_headers_are_the_numpy_ones(chunk: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    damaged = 0
    for name, data in VARIANTS:
        native = _chunks(data, chunk, monkeypatch)
        with monkeypatch.context() as m:
            m.setattr(B, "kernels", lambda: None)
            ref = _chunks(data, chunk, monkeypatch)
        assert len(native) == len(ref), name
        for (b1, k1, s1, d1), (b2, k2, s2, d2) in zip(native, ref, strict=True):
            assert b1 == b2 and s1 == s2 and d1 == d2, name
            assert np.array_equal(k1, k2), name
            if not len(k1):
                continue
            u8 = np.frombuffer(b1, np.uint8)
            rows_n, cols_n = headers.read(u8, k1, 0)
            rows_p, cols_p = headers.numpy_headers(u8, k1, 0)
            assert np.array_equal(rows_n, rows_p), name
            for col in headers.HEADER_COLUMNS:
                assert np.array_equal(cols_n[col].astype(np.int64),
                                      cols_p[col].astype(np.int64)), (name, col)
        damaged += native[-1][2] == "damaged"
    assert damaged >= 10  # the variants do reach the damaged-block paths


class _Pipe:
    """A file that cannot seek (a pipe): BlockStream.chunks joins each incomplete
    last block to the next read instead of reading it again."""

    def __init__(self, data: bytes) -> None:
        import io

        self._f = io.BytesIO(data)

    def read(self, n: int = -1) -> bytes:
        return self._f.read(n)

    def seekable(self) -> bool:
        return False


@pytest.mark.parametrize("chunk", [4096, 65536])
def test_chunks_read_again_are_the_joined_ones(chunk: int,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """A plain seekable file's incomplete last block, read again from the file with the
    next chunk (no ``buf + more`` copy), gives the chunks, block tables, stop reasons
    and offsets that joining the bytes gives; with the C block table and without."""
    for name, data in VARIANTS:
        if data[:2] == b"\x1f\x8b":
            continue
        for kern in (True, False):
            with monkeypatch.context() as m:
                if not kern:
                    m.setattr(B, "kernels", lambda: None)
                m.setattr(B, "CHUNK", chunk)
                got = []
                for f in (None, _Pipe(data)):
                    import io

                    s = B.BlockStream(io.BytesIO(data) if f is None else f)  # type: ignore[arg-type]
                    s.read_header()
                    out = [(buf, blks.copy(), s.offset, s.through) for buf, blks in s.chunks()]
                    got.append((out, s.stop, s.stop_detail, s.offset, s.unread))
            a, b = got
            assert a[1:] == b[1:], name
            assert len(a[0]) == len(b[0]), name
            for (b1, k1, o1, t1), (b2, k2, o2, t2) in zip(a[0], b[0], strict=True):
                assert b1 == b2 and o1 == o2 and t1 == t2, name
                assert np.array_equal(k1, k2), name


def _read(path: Path, prune: bool = False) -> tuple[str, dict]:
    h = hashlib.sha256()
    losses: list[str] = []
    src = ScapSource([str(path)], on_loss=lambda loss: losses.append(loss.message()))
    if prune:  # a prefilter on the syscall numbers the reader finds before parsing
        def keep(pre: columns.PreColumns, _len2: np.ndarray) -> np.ndarray:
            nr = pre["nr"]
            h.update(np.ascontiguousarray(nr, dtype=np.int64).tobytes())
            return np.asarray(nr % 3 == 0)

        src.prune = keep
    for b in src.batches():
        for part in (b.events, b.ext, b.order, b.num, b.ctx, b.merged):
            if isinstance(part, np.ndarray):
                h.update(np.ascontiguousarray(part).tobytes())
    src.close()
    st = src.files[0].stream
    info = {"events": src.events, "records": src.records, "losses": losses, "left": src._left,
            "skipped_blocks": src.skipped_blocks, "skipped_events": src.skipped_events,
            "internal": src.internal_events, "stop": (st.stop, st.stop_detail)}
    return h.hexdigest(), info


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_batches_are_the_numpy_ones(chunk: int, tmp_path: Path,
                                    monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(B, "CHUNK", chunk)
    seen_loss = seen_skip = 0
    for name, data in VARIANTS:
        path = tmp_path / f"{name}.scap"
        path.write_bytes(data)
        native = _read(path)
        with monkeypatch.context() as m:
            m.setattr(B, "kernels", lambda: None)
            m.setattr(headers, "kernels", lambda: None)
            m.setattr(fastrows, "kernels", lambda: None)
            m.setattr(bulk, "kernels", lambda: None)
            m.setattr(columns, "kernels", lambda: None)
            ref = _read(path)
        assert native == ref, name
        info = native[1]
        if info["stop"][0]:  # read to the last intact block, and said so in one line
            (msg,) = info["losses"]
            assert info["stop"][0] in msg and "\n" not in msg
            seen_loss += 1
        if name.endswith("-unknown"):
            assert 0xBAD0 in info["skipped_blocks"] and info["skipped_blocks"][B.EV_V2] == 1
            assert sum(v for k, v in info["skipped_events"].items() if k >= 1000) == 30
            seen_skip += 1
    assert seen_loss >= 30 and seen_skip >= 5


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_pruned_batches_are_the_numpy_ones(chunk: int, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With a prefilter: the syscall numbers scap_prune_nr finds before any parameter
    is parsed, the rows kept and left out, are _prune_nr's (the numpy reference)."""
    monkeypatch.setattr(B, "CHUNK", chunk)
    pruned = 0
    for name, data in VARIANTS:
        path = tmp_path / f"{name}.scap"
        path.write_bytes(data)
        native = _read(path, prune=True)
        with monkeypatch.context() as m:
            m.setattr(fastrows, "kernels", lambda: None)  # only the prune's numbers
            ref = _read(path, prune=True)
        assert native == ref, name
        pruned += native[1]["internal"] > 0
    assert pruned >= 5


@pytest.mark.parametrize("ptype", ["i1", "u1", "i2", "u2", "i4", "u4", "i8", "u8"])
def test_int_param_is_the_numpy_one(ptype: str) -> None:
    rnd = np.random.default_rng(int(ptype[1]) * 2 + (ptype[0] == "i"))
    u8 = rnd.integers(0, 256, 4096, dtype=np.uint8)
    size = int(ptype[1])
    starts = rnd.integers(0, len(u8) - 8, 500).astype(np.int64)
    lens = rnd.integers(0, 2 * size + 1, 500).astype(np.int64)  # some absent (< size)
    k = native_scap.kernels()
    assert k is not None
    got = k.int_param(u8, lens, starts, size, ptype[0] == "i")
    want = bulk.numpy_int_param(u8, lens, starts, ptype)
    assert np.array_equal(got[0], want[0]) and np.array_equal(got[1], want[1])
    assert got[1].any() and not got[1].all()
    assert (got[0] < 0).any() == (ptype[0] == "i" or ptype == "u8")


def test_gather_rows_is_numpys_fancy_index() -> None:
    rnd = np.random.default_rng(5)
    src = rnd.integers(0, 256, (50, 40), dtype=np.uint8)
    dst = np.zeros((30, 64), dtype=np.uint8)
    idx = rnd.integers(0, 50, 30)
    k = native_scap.kernels()
    assert k is not None
    k.gather_rows(dst, 8, src, idx, 40)
    want = np.zeros((30, 64), dtype=np.uint8)
    want[:, 8:48] = src[idx]
    assert np.array_equal(dst, want)
    with pytest.raises(AssertionError):  # a row that does not fit is refused, not written
        k.gather_rows(dst, 30, src, idx, 40)
