"""The capture CRC kernel (``kernels.crc32``: collector/native/replay.c) equals zlib's
CRC-32 by both of its folds, the 512-bit one (VPCLMULQDQ, where the CPU has it) and
the 128-bit one (``CDIG_CRC_SSE``): every length around the fold sizes, unaligned
starts, a running CRC carried in, and pieces of a batch CRCed one after the other."""

from __future__ import annotations

import zlib

import numpy as np
import pytest

from cdig.collector.capture import kernels

_DATA = np.random.default_rng(7).integers(0, 256, (1 << 20) + 300, dtype=np.uint8).tobytes()
_LENGTHS = sorted({*range(0, 600), *range(4090, 4110), *range(8180, 8200), 65535, 65536,
                   65537, 131072 + 48, 1 << 20})


@pytest.fixture(params=["wide", "sse"])
def fold(request, monkeypatch: pytest.MonkeyPatch) -> str:
    kernels.reset()
    assert kernels.lib() is not None, "collector/native/replay.c did not build"
    if request.param == "sse":
        monkeypatch.setenv("CDIG_CRC_SSE", "1")
    else:
        monkeypatch.delenv("CDIG_CRC_SSE", raising=False)
    yield request.param
    kernels.reset()


def test_every_length_and_start(fold):
    for n in _LENGTHS:
        for start in (0, 1, 13, 64):
            piece = memoryview(_DATA)[start:start + n]
            for crc in (0, 0xFFFFFFFF, 0x1234ABCD):
                assert kernels.crc32(piece, crc) == zlib.crc32(piece, crc), (fold, n, start)


def test_pieces_carried_on(fold):
    rng = np.random.default_rng(3)
    cuts = np.sort(rng.integers(0, len(_DATA), 40))
    crc = 0
    for a, b in zip([0, *cuts.tolist()], [*cuts.tolist(), len(_DATA)], strict=True):
        crc = kernels.crc32(memoryview(_DATA)[a:b], crc)
    assert crc == zlib.crc32(_DATA)
