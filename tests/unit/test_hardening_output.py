"""Output files (``-w``, ``export -o``, rotation): a new inode of the user, never
someone else's (issue 11, items 1 and 7). No root needed.

Another user's pre-created file is the integration test's part
(tests/integration/test_hardening_live.py); here the same hole shows through
what needs no second user: a handle opened on the path before cdig writes, and
a hard link to a precious file.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys

import pytest
from records import T
from test_capture import OFFSET, batches, live_capture, replay

from cdig.cli import main
from cdig.collector.capture import CaptureWriter, Rotation, host_info
from cdig.collector.capture.format import _empty_batch
from cdig.collector.safe_open import OutputRefused, create_private


def cli(*argv: str) -> subprocess.CompletedProcess:
    """cdig in a subprocess: what used to hang (a FIFO) fails the test by its timeout."""
    code = "import sys; from cdig.cli import main; sys.exit(main(sys.argv[1:]))"
    return subprocess.run([sys.executable, "-c", code, *argv], capture_output=True, text=True,
                          timeout=60)


def test_a_handle_opened_before_gets_nothing_of_the_capture(tmp_path):
    p = tmp_path / "c.cdig"
    p.write_bytes(b"bait")
    with open(p, "rb") as early:  # what the other user holds open, waiting
        live_capture(p, batches(2))
        assert early.read() == b"bait"  # today: the capture's bytes, through O_TRUNC
    assert p.read_bytes()[:4] != b"bait" and p.stat().st_size > 1000
    assert (p.stat().st_mode & 0o777) == 0o600


def test_a_hard_link_is_replaced_not_written_through(tmp_path):
    precious = tmp_path / "precious"
    precious.write_bytes(b"keep me")
    link = tmp_path / "out.cdig"
    os.link(precious, link)
    live_capture(link, batches(1))
    assert precious.read_bytes() == b"keep me"
    assert not os.path.samefile(precious, link)
    cap = tmp_path / "a.cdig"
    live_capture(cap, batches(1))
    out = tmp_path / "out.jsonl"
    os.link(precious, out)
    assert main(["export", "-r", str(cap), "-o", str(out), "--format", "jsonl"]) == 0
    assert precious.read_bytes() == b"keep me" and out.stat().st_size > 100


@pytest.mark.parametrize("kind", ["fifo", "dir", "symlink"])
def test_not_a_regular_file_is_one_line_at_once(tmp_path, kind):
    # a FIFO hung open(O_TRUNC) until a reader came; now refused before anything starts
    cap = tmp_path / "a.cdig"
    live_capture(cap, batches(1))
    out = tmp_path / "out"
    if kind == "fifo":
        os.mkfifo(out)
    elif kind == "dir":
        out.mkdir()
    else:
        out.symlink_to(tmp_path / "elsewhere")
    for argv in (["trace", "-r", str(cap), "-w", str(out)],
                 ["export", "-r", str(cap), "-o", str(out), "--format", "jsonl"]):
        r = cli(*argv)
        assert r.returncode == 1, r.stderr
        assert r.stderr.count("\n") == 1 and r.stderr.startswith(f"cdig: cannot write {out}: ")
        assert ("symbolic link" if kind == "symlink" else "not a regular file") in r.stderr
    assert not (tmp_path / "elsewhere").exists()


def test_replacing_leaves_no_temporary_file(tmp_path):
    p = tmp_path / "x"
    p.write_bytes(b"old")
    f, st = create_private(str(p))
    f.write(b"new")
    f.close()
    assert sorted(os.listdir(tmp_path)) == ["x"] and p.read_bytes() == b"new"
    assert (os.stat(p).st_ino, st.st_uid) == (st.st_ino, os.geteuid())


def test_foreign_owner_refused(tmp_path, monkeypatch):
    # another user's file, as the check sees it: an euid that is not the owner's
    p = tmp_path / "x"
    p.write_bytes(b"theirs")
    monkeypatch.setattr(os, "geteuid", lambda: os.stat(p).st_uid + 1)
    with pytest.raises(OutputRefused, match=r"exists and belongs to uid \d+.*not to uid"):
        create_private(str(p))
    with pytest.raises(OutputRefused):
        CaptureWriter(str(p), {})  # at construction: before a probe compiles
    assert p.read_bytes() == b"theirs"


def test_rotation_prunes_only_files_it_created(tmp_path):
    base = tmp_path / "cap"
    w = CaptureWriter(str(base), host_info(T, OFFSET), Rotation(size_bytes=1, keep=1),
                      sync=False)
    first = w.open({})
    w.write(_empty_batch(), {})
    # someone puts their own file where the first one was
    other = tmp_path / "other"
    other.write_bytes(b"not cdig's")
    os.replace(other, first)
    w.rotate({})
    w.rotate({})
    w.close()
    assert open(first, "rb").read() == b"not cdig's"  # today: unlinked by -W
    assert sorted(os.listdir(tmp_path)) == ["cap0", "cap2"]


# --------------------------------------------------------------------------- a full disk

# RLIMIT_FSIZE stands in for a full disk without root (EFBIG instead of ENOSPC, the
# same code path); the integration test fills a real tmpfs.
LIMITED = """
import resource, signal, sys
sys.path[:0] = sys.argv[1].split(":")
signal.signal(signal.SIGXFSZ, signal.SIG_IGN)  # a write past the limit fails with EFBIG
limit = int(sys.argv[2])
resource.setrlimit(resource.RLIMIT_FSIZE, (limit, resource.getrlimit(resource.RLIMIT_FSIZE)[1]))
if sys.argv[3] == "recorder":
    from test_capture import batches, live_capture
    try:
        live_capture(sys.argv[4], batches(40, 60), flush_rows=50)
    except Exception as e:
        print(type(e).__name__, e)
    sys.exit(0)
from cdig.cli import main
sys.exit(main(sys.argv[3:]))
"""


def limited(limit: int, *argv: str) -> subprocess.CompletedProcess:
    here = os.path.dirname(os.path.abspath(__file__))
    return subprocess.run([sys.executable, "-c", LIMITED, here, str(limit), *argv],
                          capture_output=True, text=True, timeout=120)


def test_a_full_disk_is_one_line_with_what_was_written(tmp_path):
    out = tmp_path / "out.cdig"
    r = limited(30_000, "recorder", str(out))
    m = re.fullmatch(rf"OutputFailed writing {out} failed: File too large; (\d+) bytes were "
                     r"written \((\d+) events in complete batches, readable with cdig trace -r\)"
                     "\n", r.stdout)
    assert m, (r.stdout, r.stderr)
    size, events = int(m.group(1)), int(m.group(2))
    assert size == out.stat().st_size and 0 < size <= 30_000 and events > 0
    # the events it promises are the ones a reader gets back
    losses: list = []
    back, _ = replay([out], losses=losses)
    assert len(back) <= events and losses and losses[0].events == events


@pytest.mark.parametrize("fmt", ["jsonl", "csv", "parquet"])
def test_a_full_disk_under_export_and_trace(tmp_path, fmt):
    cap = tmp_path / "a.cdig"
    live_capture(cap, batches(30, 200))
    assert cap.stat().st_size > 60_000
    out = tmp_path / f"out.{fmt}"
    r = limited(20_000, "export", "-r", str(cap), "-o", str(out), "--format", fmt)
    assert r.returncode == 1, r.stderr
    assert re.fullmatch(rf"cdig: writing {out} failed: File too large; \d+ bytes were written\n",
                        r.stderr), r.stderr
    w = tmp_path / "w.cdig"
    r = limited(20_000, "trace", "-r", str(cap), "-w", str(w))
    assert r.returncode == 1, r.stderr
    # (the replay's own summary line may come first: the last batch is written at the end)
    assert "internal error" not in r.stderr and "Traceback" not in r.stderr
    assert re.fullmatch(rf"cdig: writing {w} failed: File too large; \d+ bytes were written "
                        r"\(\d+ events in complete batches, readable with cdig trace -r\)",
                        r.stderr.splitlines()[-1]), r.stderr
