"""The capture writer's Arrow IPC compression: lz4 (LZ4_FRAME) by default, zstd on
request (``cdig trace -w --compress zstd``); the reader reads both, and a capture of
either codec prints the same ``trace -r`` lines."""

from __future__ import annotations

import pyarrow as pa
import pyarrow.ipc as ipc
import pytest
from capture_craft import rewrite
from test_capture import batches, live_capture

from cdig.cli import build_parser, main
from cdig.collector.capture import CODECS, CaptureFile, CaptureWriter

LZ4_FRAME_MAGIC = b"\x04\x22\x4d\x18"
ZSTD_MAGIC = b"\x28\xb5\x2f\xfd"


def test_the_writer_writes_lz4_by_default(tmp_path):
    p = tmp_path / "c.cdig"
    live_capture(p, batches(4, 40), flush_rows=20)
    data = p.read_bytes()
    assert LZ4_FRAME_MAGIC in data and ZSTD_MAGIC not in data
    assert CODECS[0] == "lz4"


@pytest.mark.parametrize("codec", ["lz4", "zstd"])
def test_both_codecs_read_back_the_same_lines(tmp_path, capsys, codec):
    """A capture's batches rewritten with each codec (digests unchanged: they are of
    the values, not the bytes) read back whole, with the same lines as the original."""
    orig = tmp_path / "c.cdig"
    live_capture(orig, batches(4, 40), flush_rows=20)
    assert main(["trace", "-r", str(orig), "-p", "%evt.num %proc.name %fd.name"]) == 0
    want = capsys.readouterr().out
    other = tmp_path / f"{codec}.cdig"
    rewrite(orig, other, compression=codec)
    data = other.read_bytes()
    assert (LZ4_FRAME_MAGIC if codec == "lz4" else ZSTD_MAGIC) in data
    assert main(["trace", "-r", str(other), "-p", "%evt.num %proc.name %fd.name"]) == 0
    assert capsys.readouterr().out == want
    f = CaptureFile.open(str(other))
    assert sum(b.records.num_rows for b in f.batches()) > 0 and f.loss is None
    f.close()
    # what any Arrow reader sees: the same table as the original's
    with ipc.open_stream(pa.OSFile(str(orig))) as a, ipc.open_stream(pa.OSFile(str(other))) as b:
        assert a.read_all().equals(b.read_all())


def test_the_writer_takes_only_known_codecs(tmp_path):
    with pytest.raises(ValueError, match="lz4, zstd"):
        CaptureWriter(str(tmp_path / "c.cdig"), {}, compression="gzip")


def test_trace_w_compress_choice():
    p = build_parser()
    assert p.parse_args(["trace", "-w", "x.cdig"]).compress == "lz4"
    assert p.parse_args(["trace", "-w", "x.cdig", "--compress", "zstd"]).compress == "zstd"
    with pytest.raises(SystemExit):
        p.parse_args(["trace", "-w", "x.cdig", "--compress", "gzip"])
