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
            for first in {0, min(3, len(k1) - 1)}:
                _check_headers_cls(u8, k1, first, name)
        damaged += native[-1][2] == "damaged"
    assert damaged >= 10  # the variants do reach the damaged-block paths


def _check_headers_cls(u8: np.ndarray, blks: np.ndarray, first: int, name: str) -> None:
    """scap_headers_cls: scap_headers' rows and columns, and chunk.py's numpy lines for
    its other columns and counts (a random category table; a small one, so that some
    types fall past it)."""
    from cdig.collector.scap.base import EVF_BLOCK
    from cdig.collector.scap.chunk import _CLS_TYPES

    k = native_scap.kernels()
    assert k is not None
    rows_p, h = headers.numpy_headers(u8, blks, first)
    rng = np.random.default_rng(len(blks) + first)
    for n_types in (400, 4200):
        lut = rng.integers(0, 3, n_types).astype(np.int8)
        rows, cols, x, stats = k.headers_cls(u8, blks, first, EVF_BLOCK, lut, _CLS_TYPES)
        assert np.array_equal(rows, rows_p), name
        for col in headers.HEADER_COLUMNS:
            assert np.array_equal(cols[col], h[col].astype(np.int64)), (name, col)
        et, v2, p, e = h["etype"], h["v2"].astype(bool), h["p"], h["e"]
        cat = np.where(et < n_types, lut[np.minimum(et, n_types - 1)], 0)
        cont = (et == _CLS_TYPES[4]) | (et == _CLS_TYPES[5])
        assert np.array_equal(x["lp"], p + np.where(v2, 26, 22)), name
        assert np.array_equal(x["evend"], np.minimum(p + h["elen"], e)), name
        assert np.array_equal(x["cat"], cat) and x["cat"].dtype == np.int8, name
        assert np.array_equal(x["is_enter"], (et & 1) == 0), name
        assert np.array_equal(x["part"], (cat > 0) & ~cont), name
        general = ~v2 | (et == _CLS_TYPES[0]) | ((h["dflags"] & _CLS_TYPES[1]) != 0) | \
            (et >= n_types)
        ts = h["ts"][h["ts"] > 0]
        want = [np.count_nonzero(general), np.count_nonzero(cat == 0),
                np.count_nonzero(et == _CLS_TYPES[2]), np.count_nonzero(et == _CLS_TYPES[3]),
                np.count_nonzero(cont), len(ts), ts.min() if len(ts) else 0,
                ts.max() if len(ts) else 0]
        assert stats.tolist() == [int(v) for v in want] + [len(rows_p)], name
        # lean: the same counts and columns, of the header columns only some
        none, lean, x2, stats2 = k.headers_cls(u8, blks, first, EVF_BLOCK, lut, _CLS_TYPES,
                                               lean=True)
        assert none is None and stats2.tolist() == stats.tolist(), name
        assert set(lean) == {"etype", "dflags", "nparams", "cpu", "ts", "tid"}, name
        for col, a in lean.items():
            assert np.array_equal(a, h[col].astype(np.int64)), (name, col)
        for col, a in x2.items():
            assert np.array_equal(a, x[col]), (name, col)


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


def _read(path: Path, prune: bool = False, hash_nr: bool = True) -> tuple[str, dict]:
    h = hashlib.sha256()
    losses: list[str] = []
    src = ScapSource([str(path)], on_loss=lambda loss: losses.append(loss.message()))
    if prune:  # a prefilter on the syscall numbers the reader finds before parsing
        def keep(pre: columns.PreColumns, _len2: np.ndarray) -> np.ndarray:
            nr = pre["nr"]
            if hash_nr:
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


@pytest.mark.parametrize("want_data", [True, False])
def test_fill_at_is_the_lines_it_replaces(want_data: bool, tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    """scap_fill_at (a fast type's parameters, result, arguments with their codecs and
    paths, in one loop) gives the batches _fill's own lines give with the other kernels,
    on every sample and damaged variant, read in small chunks and the reader's own,
    with and without I/O data (the types with data then take it too), and with the
    fields a trace of no argument and of no string reads."""
    used = 0
    orig = native_scap.Kernels.fill_at

    def counted(self: native_scap.Kernels, *a: object, **k: object) -> np.ndarray:
        nonlocal used
        used += 1
        return orig(self, *a, **k)  # type: ignore[arg-type]

    for chunk in (4096, B.CHUNK):
        monkeypatch.setattr(B, "CHUNK", chunk)
        for name, data in VARIANTS:
            path = tmp_path / f"{name}.scap"
            path.write_bytes(data)
            for fields in (None, ("nr", "str1", "str2", "len1", "len2"), ("args", "nr")):
                def read(path: Path = path, fields: tuple[str, ...] | None = fields
                         ) -> tuple[str, dict]:
                    src = ScapSource([str(path)])
                    src.want_data = want_data
                    src.fields = fields
                    h = hashlib.sha256()
                    for b in src.batches():
                        for part in (b.events, b.ext, b.order, b.num, b.ctx, b.merged):
                            if isinstance(part, np.ndarray):
                                h.update(np.ascontiguousarray(part).tobytes())
                    src.close()
                    return h.hexdigest(), {"records": src.records, "left": src._left,
                                           "internal": src.internal_events,
                                           "skipped": src.skipped_events}

                with monkeypatch.context() as m:
                    m.setattr(native_scap.Kernels, "fill_at", counted)
                    got = read()
                with monkeypatch.context() as m:
                    m.setattr(fastrows.FastRows, "_fill_plan", lambda self, et, side: None)
                    ref = read()
                assert got == ref, (name, chunk, fields)
    assert used > 1000


def test_ext_rows_laid_after_the_slow_ones_are_the_copied_ones(tmp_path: Path,
                                                                monkeypatch: pytest.MonkeyPatch
                                                                ) -> None:
    """The ext array made of the fast path's string rows with the per-event path's
    ext rows in the spare rows before them (an exit of an enter left pending by the
    chunk before) is the one to_batch copies row by row without the spare rows: the
    same batches on every sample and damaged variant, in small chunks (many pending
    exits) and the reader's own."""
    laid = 0
    real_to_batch = columns.Columns.to_batch

    def counting(self: columns.Columns, fast: dict | None = None) -> tuple:
        nonlocal laid
        got = real_to_batch(self, fast)
        base = fast.get("S_base") if fast is not None else None
        laid += base is not None and len(self.ext_row) > 0 and \
            np.shares_memory(got[0].ext, base)
        return got

    def no_spare(self: fastrows.FastRows, *a: object, **k: object) -> dict | None:
        out = real_fast_rows(self, *a, **k)  # type: ignore[arg-type]
        if out is not None:
            out.pop("S_base")
        return out

    real_fast_rows = fastrows.FastRows._fast_rows
    for chunk in (4096, B.CHUNK):
        monkeypatch.setattr(B, "CHUNK", chunk)
        for name, data in VARIANTS:
            path = tmp_path / f"{name}.scap"
            path.write_bytes(data)
            for prune in (False, True):
                with monkeypatch.context() as m:
                    m.setattr(columns.Columns, "to_batch", counting)
                    got = _read(path, prune=prune)
                with monkeypatch.context() as m:
                    m.setattr(fastrows.FastRows, "_fast_rows", no_spare)
                    ref = _read(path, prune=prune)
                assert got == ref, (name, chunk, prune)
    assert laid >= 100, laid


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_pruned_batches_are_the_numpy_ones(chunk: int, tmp_path: Path,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    """With a prefilter: the syscall numbers scap_prune_nr finds before any parameter
    is parsed, the rows kept and left out, are _prune_nr's (the numpy reference); and
    those of scap_prune_rows (the prefilter, a function of the number, as tables)."""
    monkeypatch.setattr(B, "CHUNK", chunk)
    pruned = 0
    for name, data in VARIANTS:
        path = tmp_path / f"{name}.scap"
        path.write_bytes(data)
        with monkeypatch.context() as m:
            m.setattr(fastrows.FastRows, "_prune_lut", lambda self: None)  # chunk by chunk
            native = _read(path, prune=True)
        with monkeypatch.context() as m:
            m.setattr(fastrows, "kernels", lambda: None)  # only the prune's numbers
            ref = _read(path, prune=True)
            ref_rows = _read(path, prune=True, hash_nr=False)
        assert native == ref, name
        assert _read(path, prune=True, hash_nr=False) == ref_rows, name
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


def _exit_outputs(nr0: np.ndarray) -> list[np.ndarray]:
    """Fresh (nr, ret, args, have) rows for scap_generic_exit*: nr from ``nr0``."""
    rows = len(nr0)
    return [nr0.copy(), np.zeros(rows, np.int64), np.zeros((rows, 6), np.int64),
            np.zeros((rows, 6), np.int8)]


def _param_events(rng: np.random.Generator, m: int, npar: int, slot: int, span: int,
                  lens_from: list[int], read: int
                  ) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(buf, lp, end) of ``m`` events with ``npar`` length slots of ``slot`` bytes:
    random starts, ends and lengths (overrunning now and then), and every third event
    whose slots fit given lengths from ``lens_from`` and an end just past its first
    ``read`` parameters (0-2 bytes more)."""
    buf = rng.integers(0, 256, 1 << 16, dtype=np.uint8)
    lp = rng.integers(-8, len(buf) - 64, m).astype(np.int64)
    end = np.minimum(lp + rng.integers(0, span, m), len(buf) + 8).astype(np.int64)
    for i in range(0, m, 3):
        if lp[i] >= 0:
            lens = rng.choice(lens_from, npar)
            for j, ln in enumerate(lens):
                buf[lp[i] + slot * j: lp[i] + slot * j + slot] = np.frombuffer(
                    int(ln).to_bytes(slot, "little"), np.uint8)
            end[i] = lp[i] + npar * slot + int(lens[:read].sum()) + int(rng.integers(0, 3))
    return buf, lp, end


@pytest.mark.parametrize("n", [0, 1, 2, 7, 8])
def test_generic_exit_is_the_numpy_branch(n: int) -> None:
    """scap.c scap_generic_exit against fastrows._fill's numpy branch for generic exit
    events: the syscall (PPM_SC id -> nr, only into rows without one), the result and
    the six raw arguments (cdig's writer), parameters short or absent now and then,
    with and without arguments wanted."""
    rng = np.random.default_rng(n)
    buf = rng.integers(0, 256, 4096, dtype=np.uint8)
    m, rows = 300, 400
    lens = rng.choice([0, 1, 2, 4, 8, 8, 8, 9], size=(m, max(n, 1))).astype(np.int64)
    starts = rng.integers(0, 4096 - 8, size=(m, max(n, 1))).astype(np.int64)
    w = rng.choice(rows, m, replace=False).astype(np.int64)
    sc_nr = rng.integers(-1, 500, 1024).astype(np.int64)
    nr0 = np.where(rng.random(rows) < 0.2, 5, -1).astype(np.int64)
    k = native_scap.kernels()
    assert k is not None
    for want in (True, False):
        got = _exit_outputs(nr0)
        k.generic_exit(buf, lens, starts, n, w, sc_nr, want, *got)
        nr, ret, args, have = [a.copy() for a in (nr0, got[1] * 0, got[2] * 0, got[3] * 0)]
        ln, st = lens[:, :n], starts[:, :n]
        if n >= 1:
            sc, pres = bulk.numpy_int_param(buf, ln[:, 0], st[:, 0], "u2")
            v = np.where(pres, sc_nr[np.clip(sc, 0, 1023)], -1)
            unset = nr[w] < 0
            nr[w[unset]] = v[unset]
        if n >= 8:
            r, pres = bulk.numpy_int_param(buf, ln[:, 1], st[:, 1], "i8")
            ret[w[pres]] = r[pres]
            for j in range(6 if want else 0):
                v, pj = bulk.numpy_int_param(buf, ln[:, 2 + j], st[:, 2 + j], "u8")
                args[w[pj], j] = v[pj]
                have[w[pj], j] = 2
        for a, b in zip(got, (nr, ret, args, have), strict=True):
            assert np.array_equal(a, b), (n, want)
        if n >= 8:
            assert have.any() == want and (ret != 0).any()


def test_pack_records_is_numpys_field_assignment() -> None:
    """scap.c scap_pack_records writes what ``rec[field][rows] = column`` per field
    writes (numpy's casts: modulo the field's width), rows before and after untouched."""
    from cdig.probes.syscalls import layout

    rng = np.random.default_rng(5)
    m, at = 257, 11
    big = np.iinfo(np.int64)
    cols = {c: rng.integers(big.min, big.max, m, dtype=np.int64)
            for c in ("ts", "lat", "ret", "pid", "tid", "uid", "gid", "nr", "kind", "cpu")}
    cols["cg"] = rng.integers(0, np.iinfo(np.uint64).max, m, dtype=np.uint64)
    cols["flags"] = rng.integers(0, 256, m).astype(np.uint8)
    cols["args"] = rng.integers(0, np.iinfo(np.uint64).max, (m, 6), dtype=np.uint64)
    cols["comm"] = np.array([bytes(rng.integers(1, 256, rng.integers(0, 17)).astype(np.uint8))
                             for _ in range(m)], dtype="S16")
    fill = rng.integers(0, 256, (m + 2 * at) * layout.RECORD.itemsize).astype(np.uint8)
    got = fill.copy().view(layout.RECORD)
    want = fill.copy().view(layout.RECORD)
    k = native_scap.kernels()
    assert k is not None and k.pack_records(got, at, cols, columns._PACKED)
    sl = slice(at, at + m)
    for name, col in columns._SCALARS:  # what to_batch does without the kernel
        want[name][sl] = cols[col]
    want["args"][sl] = cols["args"]
    assert got.tobytes() == want.tobytes()


@pytest.mark.parametrize("npar,slot", [(1, 2), (2, 2), (7, 2), (8, 2), (9, 2), (8, 4)])
def test_generic_exit_at_is_params_then_generic_exit(npar: int, slot: int) -> None:
    """scap_generic_exit_at (the parameters checked and read where they lie) gives what
    scap_params' rows, then scap_generic_exit on the events that fit, give: events
    whose slots or lengths overrun them (random lengths, ends and starts) give none."""
    rng = np.random.default_rng(npar * 10 + slot)
    m, rows = 500, 600
    buf, lp, end = _param_events(rng, m, npar, slot, 120, [0, 2, 8, 8, 9], 8)
    w = rng.choice(rows, m, replace=False).astype(np.int64)
    sc_nr = rng.integers(-1, 500, 1024).astype(np.int64)
    nr0 = np.where(rng.random(rows) < 0.2, 5, -1).astype(np.int64)
    k = native_scap.kernels()
    assert k is not None
    for want in (True, False):
        got = _exit_outputs(nr0)
        ok = k.generic_exit_at(buf, lp, end, npar, slot, w, sc_nr, want, *got)
        ref = _exit_outputs(nr0)
        n = min(npar, 8)
        ok_p, lens, starts = k.params(buf, lp, end, npar, n, slot)
        k.generic_exit(buf, lens, starts, n, w[ok_p], sc_nr, want, *ref)
        assert np.array_equal(ok, ok_p) and ok.any() and not ok.all()
        for a, b in zip(got, ref, strict=True):
            assert np.array_equal(a, b), (npar, slot, want)


@pytest.mark.parametrize("npar,slot", [(1, 2), (2, 2), (3, 2), (2, 4)])
def test_generic_enter_at_is_params_then_the_native_id(npar: int, slot: int) -> None:
    """scap_generic_enter_at gives fastrows._fill's numpy branch for generic enter
    events: scap_params' check of the first min(npar, 2) parameters, then the u16 of
    parameter 1 (where it has 2 bytes) as the row's syscall number."""
    rng = np.random.default_rng(npar * 7 + slot)
    m, rows = 500, 600
    buf, lp, end = _param_events(rng, m, npar, slot, 40, [0, 1, 2, 2, 3], 2)
    w = rng.choice(rows, m, replace=False).astype(np.int64)
    nr0 = rng.integers(-1, 400, rows).astype(np.int64)
    k = native_scap.kernels()
    assert k is not None
    n_all = min(npar, 2)
    got = nr0.copy()
    ok = k.generic_enter_at(buf, lp, end, npar, n_all, slot, w, got)
    ref = nr0.copy()
    ok_p, lens, starts = k.params(buf, lp, end, npar, n_all, slot)
    if n_all >= 2:
        v, pres = bulk.numpy_int_param(buf, lens[:, 1], starts[:, 1], "u2")
        ref[w[ok_p][pres]] = v[pres]
    assert np.array_equal(ok, ok_p) and ok.any() and not ok.all()
    assert np.array_equal(got, ref)


@pytest.mark.parametrize("native", [True, False])
def test_without_data_the_records_are_the_same(native: bool,
                                               monkeypatch: pytest.MonkeyPatch) -> None:
    """``want_data = False`` (nothing reads I/O data): every record the same but for
    the I/O data flag of the bulk path's (the per-event path's keep their data), and
    the ext rows of the others (paths, addresses, those data) the same rows, in order."""
    from cdig.probes.syscalls import layout

    if not native:
        for mod in (B, headers, fastrows, bulk, columns):
            monkeypatch.setattr(mod, "kernels", lambda: None)
    io = np.uint8(layout.FLAG_IO_DATA)
    dropped = 0
    for path in SAMPLES:
        got = []
        for want in (True, False):
            src = ScapSource([str(path)])
            src.want_data = want
            got.append([(b.merged.copy(), b.ext.copy()) for b in src.batches()])
            src.close()
        assert len(got[0]) == len(got[1]), path.name
        for (m1, x1), (m2, x2) in zip(*got, strict=True):
            lost = ((m1["flags"] & io) != 0) & ((m2["flags"] & io) == 0)
            dropped += int(np.count_nonzero(lost))
            f1 = m1.copy()
            f1["flags"][lost] &= ~io
            assert f1.tobytes() == m2.tobytes(), path.name
            # the ext rows of the records that lost their data are the ones gone
            lost_recs = {r.tobytes() for r in m1[lost]}
            gone = np.array([r.tobytes() in lost_recs for r in x1["ev"]], dtype=bool)
            assert int(np.count_nonzero(gone)) == int(np.count_nonzero(lost)), path.name
            assert x1[~gone].tobytes() == x2.tobytes(), path.name
    assert dropped > 100  # the samples' bulk path does carry I/O data
