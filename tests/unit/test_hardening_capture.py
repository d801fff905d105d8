"""Capture files read back under an adversary (issue 11, items 2, 3, 4 and 7):
exit status of damage, bounded decompression and metadata, a file that shrinks
while read, outputs that alias inputs. No root needed.
"""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from test_capture import batches, live_capture

from cdig.cli import main


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
