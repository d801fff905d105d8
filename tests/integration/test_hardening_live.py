"""Issue 11's audit reproductions, as root with the real probe: an unprivileged
user who prepares an output path first gets nothing of root's capture.

The directory is like /tmp (mode 1777, sticky) and ``nobody`` creates the file
world-readable before root runs ``cdig trace -w`` / ``cdig export -o`` or
reaches that name in a rotation. Before the fix the capture of the whole host
went into that file, owned and readable by ``nobody``.
"""

from __future__ import annotations

import os
import pwd
import re
import shutil
import subprocess
import tempfile
from pathlib import Path

import pytest

from ..cdig_cli import cdig_command
from .test_capture_live import live_capture, run, stop

pytestmark = pytest.mark.integration

NOBODY = pwd.getpwnam("nobody").pw_uid


@pytest.fixture
def shared_dir():
    """A world-writable sticky directory, as /tmp is (tmp_path is root's, 0700)."""
    d = tempfile.mkdtemp(prefix="cdig-shared-")
    os.chmod(d, 0o1777)
    yield Path(d)
    shutil.rmtree(d, ignore_errors=True)


def as_nobody(script: str) -> None:
    r = subprocess.run(["setpriv", f"--reuid={NOBODY}", f"--regid={NOBODY}", "--clear-groups",
                        "sh", "-c", script], capture_output=True, text=True, timeout=30)
    assert r.returncode == 0, r.stderr


def prepared(path: Path) -> None:
    """``nobody`` creates ``path`` mode 0666, as the audit's attacker did."""
    as_nobody(f"umask 0; : > '{path}'")
    st = path.stat()
    assert (st.st_uid, st.st_size, st.st_mode & 0o777) == (NOBODY, 0, 0o666)


def untouched(path: Path) -> None:
    st = path.stat()
    assert (st.st_uid, st.st_size) == (NOBODY, 0), "root's capture reached nobody's file"


def one_refusal(r: subprocess.CompletedProcess, path: Path) -> None:
    assert r.returncode == 1, (r.returncode, r.stderr)
    assert r.stderr.count("\n") == 1, r.stderr
    assert f"cdig: cannot write {path}: exists and belongs to uid {NOBODY} (nobody)" in r.stderr


def test_prepared_capture_path_gets_nothing(shared_dir):
    target = shared_dir / "cap.cdig"
    prepared(target)
    r = subprocess.run([*cdig_command(), "trace", "-w", str(target), "-n", "100"],
                       capture_output=True, text=True, timeout=120)
    one_refusal(r, target)
    untouched(target)


@pytest.fixture(scope="module")
def host_capture(tmp_path_factory) -> Path:
    """A real capture of this host (a few hundred kB), in root's own directory."""
    d = tmp_path_factory.mktemp("host-capture")
    src = d / "src.cdig"
    p, _, err = live_capture(d, ["-w", str(src)])
    for _ in range(40):  # some activity to record
        subprocess.run(["ls", "-la", "/proc/self/fd", "/etc"], capture_output=True)
    text = stop(p, err)
    assert f"written to {src}" in text and src.stat().st_size > 100_000, text
    return src


def test_prepared_export_and_rotation_paths_get_nothing(shared_dir, host_capture):
    src = host_capture
    out = shared_dir / "events.jsonl"
    prepared(out)
    one_refusal(run("export", "-r", str(src), "-o", str(out), "--format", "jsonl"), out)
    untouched(out)

    # the second file of a live rotation (-C 0.01: 10 kB files) is nobody's
    base = shared_dir / "rot"
    second = shared_dir / "rot1"
    prepared(second)
    busy = subprocess.Popen(["sh", "-c", "while :; do ls /etc > /dev/null; done"])
    try:
        r = subprocess.run([*cdig_command(), "trace", "-M", "60", "-w", str(base), "-C", "0.01"],
                           capture_output=True, text=True, timeout=120)
    finally:
        busy.kill()
        busy.wait()
    one_refusal(r, second)
    untouched(second)
    first = shared_dir / "rot0"
    assert first.stat().st_uid == 0 and (first.stat().st_mode & 0o777) == 0o600

    # and an own file is replaced by a new inode, not written through
    mine = shared_dir / "mine.jsonl"
    mine.write_bytes(b"old")
    with open(mine, "rb") as early:
        r = run("export", "-r", str(src), "-o", str(mine), "--format", "jsonl")
        assert r.returncode == 0, r.stderr
        assert early.read() == b"old"
    assert mine.stat().st_size > 1000


@pytest.fixture
def small_disk(tmp_path):
    """A 64 kB tmpfs: the disk that fills up."""
    mnt = tmp_path / "small"
    mnt.mkdir()
    subprocess.run(["mount", "-t", "tmpfs", "-o", "size=64k,mode=0700", "cdig-test-full",
                    str(mnt)], check=True)
    yield mnt
    subprocess.run(["umount", "-l", str(mnt)], check=False)


def test_full_disk_is_one_line_with_what_was_written(small_disk, host_capture):
    out = small_disk / "out.cdig"
    busy = subprocess.Popen(["sh", "-c", "while :; do ls /etc > /dev/null; done"])
    try:  # a live capture of a busy host fills 64 kB within seconds
        r = subprocess.run([*cdig_command(), "trace", "-M", "60", "-w", str(out)],
                           capture_output=True, text=True, timeout=120)
    finally:
        busy.kill()
        busy.wait()
    assert r.returncode == 1 and "internal error" not in r.stderr, r.stderr
    m = re.fullmatch(rf"cdig: writing {out} failed: No space left on device; (\d+) bytes were "
                     r"written \((\d+) events in complete batches, readable with cdig trace -r\)",
                     r.stderr.splitlines()[-1])
    assert m, r.stderr
    assert int(m.group(1)) == out.stat().st_size
    # what it says can be read is what a reader gets
    back = run("trace", "-r", str(out), "-p", "%evt.num")
    assert f"capture truncated after {m.group(2)} events" in back.stderr, back.stderr

    jl = small_disk / "out.jsonl"
    out.unlink()
    r = run("export", "-r", str(host_capture), "-o", str(jl), "--format", "jsonl")
    assert r.returncode == 1, r.stderr
    m = re.fullmatch(rf"cdig: writing {jl} failed: No space left on device; (\d+) bytes were "
                     r"written\n", r.stderr)
    assert m and int(m.group(1)) == jl.stat().st_size > 0, r.stderr
