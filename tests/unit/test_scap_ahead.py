"""The .scap reader's header pass made ahead on scap.c's worker thread (AsyncPass,
ChunkPath.ahead_start / ahead_wait, ScapFile._chunks): the columns it gives are
those of headers_cls and pair made in the caller's thread, and the batches, counts
and losses of a read with it are those of a read without it, on every sample capture
and its damaged, truncated and unknown-typed variants (test_scap_native's), in small
chunks and in the reader's own, with and without a prefilter."""

from __future__ import annotations

import io
from pathlib import Path

import numpy as np
import pytest
from test_scap_native import VARIANTS, _read
from test_scap_native import _compiled as _compiled  # autouse: the kernels, loaded afresh

from cdig.collector.native import scap as native_scap
from cdig.collector.scap import blocks as B
from cdig.collector.scap import chunk as chunk_mod
from cdig.collector.scap.base import EVF_BLOCK
from cdig.collector.scap.chunk import ChunkPath
from cdig.collector.scap.reader import ScapSource


def _chunks(data: bytes, chunk: int, monkeypatch: pytest.MonkeyPatch
            ) -> list[tuple[bytes, np.ndarray]]:
    monkeypatch.setattr(B, "CHUNK", chunk)
    s = B.BlockStream(io.BytesIO(data))
    s.read_header()
    return [(buf, blks.copy()) for buf, blks in s.chunks()]


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_async_pass_is_headers_cls_and_pair(chunk: int, tmp_path: Path,
                                            monkeypatch: pytest.MonkeyPatch) -> None:
    k = native_scap.kernels()
    assert k is not None
    path = tmp_path / "x.scap"
    path.write_bytes(VARIANTS[0][1])
    src = ScapSource([str(path)])  # its category table
    cat = src._cat
    src.close()
    ap = k.async_pass()
    assert ap is not None
    seen = paired = general = 0
    try:
        for name, data in VARIANTS:
            if data[:2] == b"\x1f\x8b" or len(data) < 28:
                continue
            try:
                got = _chunks(data, chunk, monkeypatch)
            except B.ScapError:
                continue
            if got:
                ap.start(*got[0], cat, chunk_mod._CLS_TYPES, EVF_BLOCK)
            for i, (buf, blks) in enumerate(got):
                pre = ap.wait()
                if i + 1 < len(got):  # the next runs while this one's columns are read
                    ap.start(*got[i + 1], cat, chunk_mod._CLS_TYPES, EVF_BLOCK)
                u8 = np.frombuffer(buf, dtype=np.uint8)
                _, h, cls, stats = k.headers_cls(u8, blks, 0, EVF_BLOCK, cat,
                                                 chunk_mod._CLS_TYPES, lean=True)
                assert pre is not None, name
                h2, cls2, stats2, pairing, pruned = pre
                assert pruned is None, name  # none asked
                assert np.array_equal(stats, stats2), name
                for a, b in ((h, h2), (cls, cls2)):
                    assert a.keys() == b.keys(), name
                    for key in a:
                        assert np.array_equal(a[key], b[key]), (name, key)
                common = not stats[native_scap.STAT_GENERAL] and \
                    stats[native_scap.STAT_EVENTS] == len(blks)
                assert (pairing is not None) == common, name
                if pairing is not None:
                    ref = k.pair(h["tid"], h["etype"], cls["part"])
                    assert ref is not None
                    for a_, b_ in zip(ref, pairing, strict=True):
                        assert np.array_equal(a_, b_), name
                    paired += 1
                else:
                    general += 1
                seen += 1
        assert ap.wait() is None  # none started
    finally:
        ap.close()
    # (in 2 MiB chunks each sample is one chunk, its state blocks with its events)
    assert seen >= 50 and paired >= (10 if chunk < B.CHUNK else 0) and general >= 5


def _no_ahead(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(ChunkPath, "ahead_start", lambda self, buf, blks: False)


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
@pytest.mark.parametrize("prune", [False, True])
def test_batches_with_the_pass_ahead_are_those_without(chunk: int, prune: bool,
                                                        tmp_path: Path,
                                                        monkeypatch: pytest.MonkeyPatch
                                                        ) -> None:
    monkeypatch.setattr(B, "CHUNK", chunk)
    started = []
    real_start = ChunkPath.ahead_start

    def counting(self: ChunkPath, buf: bytes, blks: np.ndarray) -> bool:
        ok = real_start(self, buf, blks)
        started.append(ok)
        return ok

    monkeypatch.setattr(ChunkPath, "ahead_start", counting)
    made, fixed = [], []  # the prunes made ahead that were taken; of them, with exits
    real_pruned = ChunkPath._pruned_ahead  # of enters the chunk before left pending

    def taking(self: ChunkPath, pruned: object, *a: np.ndarray) -> object:
        got = real_pruned(self, pruned, *a)  # type: ignore[arg-type]
        made.append(got is not None)
        fixed.append(got is not None and a[4] is not None and bool((a[4] & (a[3] == 1)).any()))
        return got

    monkeypatch.setattr(ChunkPath, "_pruned_ahead", taking)
    losses = 0
    for name, data in VARIANTS:
        path = tmp_path / f"{name}.scap"
        path.write_bytes(data)
        try:
            ahead = _read(path, prune=prune)
        except Exception as e:  # a file that does not open: alike without the pass
            with monkeypatch.context() as m:
                _no_ahead(m)
                with pytest.raises(type(e)):
                    _read(path, prune=prune)
            continue
        with monkeypatch.context() as m:
            _no_ahead(m)
            ref = _read(path, prune=prune)
        assert ahead == ref, name
        losses += bool(ahead[1]["losses"])
    assert sum(started) >= 90 and losses >= 30
    if prune and chunk < B.CHUNK:  # (in 2 MiB chunks a sample is one chunk: no prune yet)
        assert sum(made) >= 50 and sum(fixed) >= 10, (sum(made), sum(fixed))


def test_a_read_stopped_early_waits_for_the_pass(tmp_path: Path) -> None:
    """Closing the source after one batch (``-n``): the running pass is waited for
    (its buffers stay alive until then) and the thread freed."""
    name, data = max(VARIANTS, key=lambda v: len(v[1]) if v[1][:2] != b"\x1f\x8b" else 0)
    path = tmp_path / f"{name}.scap"
    path.write_bytes(data)
    src = ScapSource([str(path)], batch=64)
    it = src.batches()
    next(it, None)
    assert src._ahead is not None
    src.close()
    assert src._ahead is None


def test_sources_dropped_unclosed_leave_no_thread(tmp_path: Path) -> None:
    import gc
    import os

    name, data = max(VARIANTS, key=lambda v: len(v[1]) if v[1][:2] != b"\x1f\x8b" else 0)
    path = tmp_path / f"{name}.scap"
    path.write_bytes(data)
    gc.collect()
    before = len(os.listdir("/proc/self/task"))
    for _ in range(20):
        src = ScapSource([str(path)], batch=64)
        it = src.batches()
        next(it, None)
        assert src._ahead is not None
        del it, src
    gc.collect()
    assert len(os.listdir("/proc/self/task")) <= before


@pytest.mark.parametrize("chunk", [4096, B.CHUNK])
def test_files_read_one_after_another_are_those_without_the_pass(
        chunk: int, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """One source over several files (the pass of one file's last chunk waited for
    before the next file's first starts): the same batches and losses as without."""
    import hashlib

    monkeypatch.setattr(B, "CHUNK", chunk)
    plain = [(n, d) for n, d in VARIANTS if d[:2] != b"\x1f\x8b" and len(d) > 4096]
    big = max(plain, key=lambda v: len(v[1]))
    cut = next(v for v in plain if v[0].endswith("-cut0.5"))
    paths = []
    for i, (name, data) in enumerate([big, cut, big]):
        p = tmp_path / f"{i}-{name}.scap"
        p.write_bytes(data)
        paths.append(str(p))

    def read() -> tuple[str, int, list[str]]:
        h = hashlib.sha256()
        losses: list[str] = []
        src = ScapSource(paths, on_loss=lambda loss: losses.append(loss.message()))
        for b in src.batches():
            for part in (b.events, b.ext, b.order, b.num):
                if isinstance(part, np.ndarray):
                    h.update(np.ascontiguousarray(part).tobytes())
        src.close()
        return h.hexdigest(), src.events, losses

    got = read()
    with monkeypatch.context() as m:
        _no_ahead(m)
        assert got == read()
    assert got[1] > 0 and len(got[2]) == 1


def test_one_cpu_reads_without_the_pass(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """With one CPU to run on, no worker thread (it could only take turns with the
    parsing) and the same batches."""
    import os

    name, data = max(VARIANTS, key=lambda v: len(v[1]) if v[1][:2] != b"\x1f\x8b" else 0)
    path = tmp_path / f"{name}.scap"
    path.write_bytes(data)
    both = _read(path)
    monkeypatch.setattr(os, "sched_getaffinity", lambda pid: {0})
    src = ScapSource([str(path)])
    for _ in src.batches():
        pass
    assert src._ahead is None
    src.close()
    assert _read(path) == both
