"""The .scap reader's prefault (reader._Prefault): the heap pages a large file's first
chunks take are faulted in on a thread while the reader starts, and the batches are
the same with it as without."""

from __future__ import annotations

import hashlib
import mmap
import resource
from pathlib import Path

import numpy as np
import pytest

from cdig.collector.scap import reader

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scap"


def _faults_touching(buf: np.ndarray) -> int:
    """Minor faults of this thread while writing a byte of each page of ``buf``."""
    before = resource.getrusage(resource.RUSAGE_THREAD).ru_minflt
    buf[::4096] = 1
    return resource.getrusage(resource.RUSAGE_THREAD).ru_minflt - before


def test_prefault_populates_its_blocks() -> None:
    pf = reader._Prefault(3 << 20)  # one block, under numpy's huge-page size
    assert pf.blocks, "no madvise in the C library"
    pf.thread.join(timeout=30)
    assert not pf.thread.is_alive()
    got = _faults_touching(pf.blocks[0])
    with mmap.mmap(-1, 3 << 20) as fresh:  # a new mapping: a fault a page
        arr = np.frombuffer(fresh, np.uint8)
        ref = _faults_touching(arr)
        del arr
    assert ref >= 500, ref
    assert got <= 8, got  # (the block's partial first and last pages are not asked)
    pf.release()
    assert pf.blocks == []


def _batches(path: Path) -> tuple[str, int]:
    src = reader.ScapSource([str(path)])
    h = hashlib.sha256()
    n = 0
    for b in src.batches():
        assert src._prefault is None  # released before the first batch is made
        for part in (b.events, b.ext, b.order, b.num):
            h.update(np.ascontiguousarray(part).tobytes())
        n += len(b)
    src.close()
    return h.hexdigest(), n


@pytest.mark.parametrize("name", ["cat_write.scap", "curl_google.scap"])
def test_batches_with_the_prefault_are_those_without(name: str,
                                                     monkeypatch: pytest.MonkeyPatch) -> None:
    path = FIXTURES / name
    monkeypatch.setattr(reader, "_PREFAULT_BYTES", 8 << 20)
    monkeypatch.setattr(reader, "_PREFAULT_MIN", 0)
    made: list[reader._Prefault] = []
    real = reader._Prefault

    def counted(nbytes: int) -> reader._Prefault:
        made.append(real(nbytes))
        return made[-1]

    monkeypatch.setattr(reader, "_Prefault", counted)
    got = _batches(path)
    assert len(made) == 1 and made[0].blocks == []
    monkeypatch.setattr(reader, "_PREFAULT_MIN", 1 << 62)
    assert _batches(path) == got and got[1] > 0
    assert len(made) == 1  # none for a file under the size
