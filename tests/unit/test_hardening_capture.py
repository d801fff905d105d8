"""Capture files read back under an adversary (issue 11, items 2, 3, 4 and 7):
exit status of damage, bounded decompression and metadata, a file that shrinks
while read, outputs that alias inputs. No root needed.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import tempfile
import zlib

import numpy as np
import pyarrow as pa
import pytest
from capture_craft import rewrite
from test_capture import batches, live_capture

from cdig.cli import main
from cdig.collector.capture import CaptureFile


@pytest.fixture
def damaged(tmp_path):
    p = tmp_path / "c.cdig"
    live_capture(p, batches(4, 40), flush_rows=20)
    data = p.read_bytes()
    cut = tmp_path / "cut.cdig"
    cut.write_bytes(data[: len(data) * 2 // 3])
    return p, cut


def test_a_damaged_capture_exits_3(damaged, tmp_path, capsys):
    good, cut = damaged
    assert main(["trace", "-r", str(good)]) == 0
    capsys.readouterr()
    assert main(["trace", "-r", str(cut)]) == 3
    assert "capture truncated after" in capsys.readouterr().err
    assert main(["summary", "-r", str(cut)]) == 3
    assert main(["summary", "-r", str(cut), "--json"]) == 3
    assert main(["export", "-r", str(cut), "-o", str(tmp_path / "o.jsonl"),
                 "--format", "jsonl"]) == 3
    assert main(["summary", "-r", str(good)]) == 0
    capsys.readouterr()
    for cmd in ("trace", "summary", "export"):
        with pytest.raises(SystemExit):
            main([cmd, "--help"])
        out = " ".join(capsys.readouterr().out.split())
        assert "3 a capture read with -r was damaged or truncated" in out, cmd
    assert os.path.exists(tmp_path / "o.jsonl")


# --------------------------------------------------------------------------- item 3

SHRINK = """
import os, sys
from cdig.collector.capture import CaptureFile
path = sys.argv[1]
f = CaptureFile.open(path)            # the header is read ...
os.truncate(path, os.path.getsize(path) // 3)   # ... then someone cuts the file
n = sum(b.records.num_rows for b in f.batches())
print(n, f.loss.message() if f.loss else "no loss")
"""


def test_a_capture_that_shrinks_while_read_is_damage_not_sigbus(tmp_path):
    p = tmp_path / "c.cdig"
    live_capture(p, batches(8, 60), flush_rows=20)
    r = subprocess.run([sys.executable, "-c", SHRINK, str(p)], capture_output=True, text=True,
                       timeout=60)
    assert r.returncode == 0, (r.returncode, r.stderr)  # it was -7 (SIGBUS) with the mapping
    n, _, message = r.stdout.partition(" ")
    assert int(n) < 8 * 60 and message.startswith(f"capture truncated after {n} events"), r.stdout


# --------------------------------------------------------------------------- item 4


@pytest.fixture
def capture_dir(tmp_path):
    d = tmp_path / "real"
    d.mkdir()
    live_capture(d / "a.cdig", batches(2))
    (tmp_path / "link").symlink_to(d)  # the same directory under another name
    return d


@pytest.mark.parametrize("read,out", [
    ("link/a.cdig", "real/a.cdig"),  # a symlinked directory: other string, same file
    ("real/a.cdig", "real/hard.cdig"),  # a hard link
    ("real/*.cdig", "real/a.cdig"),  # a glob that matches the output
    ("real/*.cdig", "link/a.cdig"),
])
@pytest.mark.parametrize("cmd", ["trace", "export"])
def test_an_output_that_is_an_input_is_refused(capture_dir, capsys, read, out, cmd):
    base = capture_dir.parent
    os.link(capture_dir / "a.cdig", capture_dir / "hard.cdig")
    before = (capture_dir / "a.cdig").read_bytes()
    argv = ["trace", "-r", str(base / read), "-w", str(base / out)] if cmd == "trace" else \
        ["export", "-r", str(base / read), "-o", str(base / out), "--format", "jsonl"]
    assert main(argv) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "a capture being read" in err or \
        "one of the captures being read" in err, err
    assert (capture_dir / "a.cdig").read_bytes() == before
    assert os.path.samefile(capture_dir / "a.cdig", capture_dir / "hard.cdig")


# --------------------------------------------------------------------------- item 2


def _run_measured(argv: list[str]) -> tuple[int, str, int]:
    """cdig in a child: (exit status, stderr, its peak RSS in MB). The child reports its
    own VmHWM, which execve resets: ru_maxrss would also count the forked test process."""
    code = ("import sys\nfrom cdig.cli import main\ntry:\n    rc = main(sys.argv[2:])\n"
            "finally:\n    hwm = [ln for ln in open('/proc/self/status') "
            "if ln.startswith('VmHWM')][0]\n    open(sys.argv[1], 'w').write(hwm.split()[1])\n"
            "sys.exit(rc)\n")
    with tempfile.NamedTemporaryFile("r") as hwm:
        p = subprocess.run([sys.executable, "-c", code, hwm.name, *argv],
                           stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True,
                           timeout=300)
        return p.returncode, p.stderr, int(open(hwm.name).read()) // 1024


def _bomb(mib: int) -> bytes:
    """``mib`` MiB of JSON whitespace, zlib-compressed to about 1/1000 (in pieces: the
    test process must stay small, its children start as copies of it)."""
    c = zlib.compressobj(9)
    piece = b" " * (1 << 20)
    return b"".join(c.compress(piece) for _ in range(mib)) + c.flush()


BOMB = _bomb(768)


@pytest.fixture(scope="module")
def plain(tmp_path_factory):
    p = tmp_path_factory.mktemp("plain") / "c.cdig"
    live_capture(p, batches(4, 40), flush_rows=20)
    return p


def test_a_snapshot_bomb_is_refused_in_bounded_memory(plain, tmp_path):
    bomb = tmp_path / "bomb.cdig"

    def meta(m):
        m.pop(b"cdig.snapshot", None)
        m[b"cdig.snapshot.z"] = BOMB
        return m

    rewrite(plain, bomb, schema_meta=meta)
    assert bomb.stat().st_size < 2 << 20
    code, err, rss = _run_measured(["trace", "-r", str(bomb)])
    assert (code, err) == (1, f"cdig: {bomb}: damaged capture header (metadata inflates to "
                              f"more than {64 << 20} bytes)\n")
    assert rss < 400, f"peak RSS {rss} MB"  # over 800 MB before


def test_a_batch_state_bomb_loses_only_that_batch(plain, tmp_path):
    bomb = tmp_path / "bomb.cdig"

    def batch(i, rb, md):
        if i == 3:
            md.pop(b"cdig.state", None)
            md[b"cdig.state.z"] = BOMB
        return rb, md

    rewrite(plain, bomb, batch=batch)
    code, err, rss = _run_measured(["trace", "-r", str(bomb), "-p", "%evt.num"])
    assert code == 3 and "internal error" not in err, err
    assert re.match(r"cdig: capture damaged after \d+ events", err), err
    assert rss < 400, f"peak RSS {rss} MB"


# the audit's crafted captures (valid CRCs) and what they ended in
SHAPES = {
    "deep": (b"[" * 100_000 + b"]" * 100_000, "nested too deep"),  # RecursionError
    "huge int": (b'{"drops": 99999999999999999999999999}', "64-bit range"),  # OverflowError
    "container without keys": (b'{"containers": [{"key": 5}]}', "containers"),  # KeyError
    "short journal entry": (b'{"journal": [["fd", 1]]}', "journal entry (fd)"),  # IndexError
    "journal not a list": (b'{"journal": 7}', "journal"),
    "cgroups of strings": (b'{"cgroups": {"x": "y"}}', "cgroups"),
    "not an object": (b"[1, 2]", "batch state"),
}


@pytest.mark.parametrize("name", list(SHAPES))
def test_crafted_batch_state_is_damage_not_an_internal_error(plain, tmp_path, capsys, name):
    text, _ = SHAPES[name]
    bad = tmp_path / "bad.cdig"

    def batch(i, rb, md):
        if i == 3:
            md.pop(b"cdig.state.z", None)
            md[b"cdig.state"] = text
        return rb, md

    rewrite(plain, bad, batch=batch)
    assert main(["trace", "-r", str(bad), "-p", "%evt.num"]) == 3
    err = capsys.readouterr().err
    assert "internal error" not in err and "capture damaged after" in err, err


@pytest.mark.parametrize("name", ["deep", "huge int", "not an object"])
def test_crafted_header_is_one_line(plain, tmp_path, capsys, name):
    text, reason = SHAPES[name]
    bad = tmp_path / "bad.cdig"

    def meta(m):
        m[b"cdig.header"] = text
        return m

    rewrite(plain, bad, schema_meta=meta)
    assert main(["trace", "-r", str(bad)]) == 1
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "damaged capture header" in err, err


def test_records_of_unknown_kinds_are_skipped_and_counted(plain, tmp_path, capsys):
    bad = tmp_path / "k.cdig"
    changed = []

    def batch(i, rb, md):
        if i == 2 and rb.num_rows:
            cols = list(rb.columns)
            cols[rb.schema.get_field_index("kind")] = pa.array(np.full(rb.num_rows, 99, np.uint8))
            changed.append(rb.num_rows)
            rb = pa.RecordBatch.from_arrays(cols, schema=rb.schema)
        return rb, md

    rewrite(plain, bad, batch=batch)
    assert main(["trace", "-r", str(plain), "-p", "%evt.num"]) == 0
    everything = capsys.readouterr().out.split()
    assert main(["trace", "-r", str(bad), "-p", "%evt.num"]) == 3  # was an internal error
    out, err = capsys.readouterr()
    assert f"{changed[0]} records of an unknown kind skipped" in err, err
    assert "internal error" not in err
    assert 0 < len(out.split()) < len(everything)  # the other batches are all there


CRAFT_ROWS = """
import sys
sys.path[:0] = [sys.argv[1]]
from capture_craft import rewrite, zero_batch
rows = int(sys.argv[4])
rewrite(sys.argv[2], sys.argv[3], compression=sys.argv[5],
        batch=lambda i, rb, md: (zero_batch(rb.schema, rows) if i == 2 else rb, md))
"""


@pytest.mark.parametrize("codec", ["zstd", "lz4"])
def test_a_batch_that_inflates_past_its_bounds_is_never_inflated(plain, tmp_path, codec):
    # Arrow's own zstd (or lz4, the writer's default): 4 M rows of zeros in a few
    # hundred kB (crafted in a child, so this process stays small for the measured one)
    bomb = tmp_path / "rows.cdig"
    here = os.path.dirname(os.path.abspath(__file__))
    subprocess.run([sys.executable, "-c", CRAFT_ROWS, here, str(plain), str(bomb),
                    str(4 << 20), codec], check=True, timeout=300)
    assert bomb.stat().st_size < 4 << 20
    code, err, rss = _run_measured(["trace", "-r", str(bomb), "-p", "%evt.num"])
    assert code == 3 and "internal error" not in err, err
    assert re.match(r"cdig: capture damaged after \d+ events", err), err
    assert rss < 400, f"peak RSS {rss} MB"
    # a batch as big as a capture's can be (400 k rows, under the bound) still reads
    big = tmp_path / "big.cdig"
    subprocess.run([sys.executable, "-c", CRAFT_ROWS, here, str(plain), str(big),
                    str(400_000), codec], check=True, timeout=300)
    f = CaptureFile.open(str(big))
    assert sum(b.records.num_rows for b in f.batches()) > 400_000 and f.loss is None
    f.close()
