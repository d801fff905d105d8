"""scap.c ``scap_prune_rows`` (the prune of a filter on the syscall and kind alone, made
in the chunk's one C pass) against ``FastRows._pruned`` (the prefilter asked chunk by
chunk): the same lines, records seen, records left out (and of shown events), internal
events, on every sample capture and its damaged, truncated and unknown-typed variants
(``test_scap_native``), read in small chunks and in the reader's own."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scap_native import VARIANTS, _compiled  # noqa: F401 - the autouse fixture
from test_scap_prune import FMT, _Lines

from cdig.collector.filter import compile_filter
from cdig.collector.native import scap as native_scap
from cdig.collector.render import BatchRenderer
from cdig.collector.scap import blocks, fastrows
from cdig.collector.scap.reader import ScapSource
from cdig.collector.session import LineSink, Session
from cdig.probes.syscalls import layout

FILTERS = ["evt.type=openat", "evt.type in (read, write, close) and fd.name contains e",
           "proc.name=cat or evt.type=brk"]


def _run(path: Path, text: str) -> tuple[list[str], int, tuple[int, ...]]:
    try:
        src = ScapSource([str(path)])
    except Exception as e:  # a variant whose header is cut: both alike
        return [type(e).__name__], 0, ()
    out = _Lines()
    s = Session.replay(src, compile_filter(text),
                       lambda d: [LineSink(BatchRenderer.text(FMT, d.table), out)])
    c = s.run()
    src.close()
    return out.lines(), c.records, (src.records, src.internal_events, src.left_shown,
                                    len(src.losses))


@pytest.mark.parametrize("chunk", [2048, blocks.CHUNK], ids=["2KiB-chunks", "whole"])
def test_prune_rows_is_the_prefilter_chunk_by_chunk(tmp_path, monkeypatch, chunk):
    monkeypatch.setattr(blocks, "CHUNK", chunk)
    calls = [0]
    real = native_scap.Kernels.prune_rows

    def counted(self, *a, **k):  # type: ignore[no-untyped-def]
        got = real(self, *a, **k)
        calls[0] += got is not None
        return got

    monkeypatch.setattr(native_scap.Kernels, "prune_rows", counted)
    path = tmp_path / "v.scap"
    left = 0
    for name, data in VARIANTS:
        path.write_bytes(data)
        for text in FILTERS:
            got = _run(path, text)
            with monkeypatch.context() as m:
                m.setattr(fastrows.FastRows, "_prune_lut", lambda self: None)
                want = _run(path, text)
            assert got == want, (name, text)
            left += got[2][2] if got[2] else 0  # records of shown events left out
    assert calls[0] > 100  # the C pass did decide those chunks
    assert left > 0


def test_a_filter_on_the_thread_is_asked_chunk_by_chunk(tmp_path):
    src = ScapSource([str(Path(__file__).resolve().parents[1] / "fixtures" / "scap" /
                          "curl_google.scap")])
    Session.replay(src, compile_filter("evt.type=openat and thread.tid>5"),
                   lambda d: [])
    assert src._prune_lut() is None
    src.close()
    src = ScapSource([str(Path(__file__).resolve().parents[1] / "fixtures" / "scap" /
                          "curl_google.scap")])
    Session.replay(src, compile_filter("evt.type=openat and fd.name contains x"),
                   lambda d: [])
    lut = src._prune_lut()
    assert lut is not None
    nr = src.syscalls.by_name["openat"].nr
    assert lut[0][nr] == 1 and lut[1][nr] == 1
    assert lut[0][src.syscalls.by_name["getppid"].nr] == 0
    assert layout.KIND_SYSCALL != layout.KIND_SYSCALL_ENTER
    src.close()
