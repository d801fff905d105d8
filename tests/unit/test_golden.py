"""Live and replay lines stay byte-identical across the columnar engine.

``tests/fixtures/golden/expected`` was written by the cdig of commit 47d770b (the
per-event pipeline) over two recorded captures; see ``tests/fixtures/golden/cases.py``.
"""

from __future__ import annotations

import hashlib
import io
import subprocess
import sys
import time
from pathlib import Path

import pytest

from cdig.cli import main
from cdig.collector.fields import clear_time_cache

GOLDEN = Path(__file__).resolve().parents[1] / "fixtures" / "golden"
sys.path.insert(0, str(GOLDEN))
from cases import CASES, hashed  # noqa: E402

sys.path.remove(str(GOLDEN))


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    clear_time_cache()
    yield
    monkeypatch.undo()
    time.tzset()
    clear_time_cache()


def _run(capture: str, argv: list[str]) -> subprocess.CompletedProcess[bytes]:
    """``cdig ARGV -r CAPTURE`` in this process (a subprocess per case costs seconds
    of start-up), stdout as the bytes a pipe would get."""
    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8", newline="\n")
    err = io.StringIO()
    full = [*argv[:1], "-r", str(GOLDEN / capture), *argv[1:]]
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        rc = main(full)
    except SystemExit as e:
        rc = e.code if isinstance(e.code, int) else 1
    finally:
        sys.stdout, sys.stderr = old
    out.flush()
    return subprocess.CompletedProcess(full, rc, out.buffer.getvalue(), err.getvalue().encode())


@pytest.mark.parametrize(("name", "capture", "argv"), CASES, ids=[c[0] for c in CASES])
def test_same_bytes_as_before(name: str, capture: str, argv: list[str]) -> None:
    p = _run(capture, argv)
    if hashed(name):
        digest, lines, rc = (GOLDEN / "expected" / f"{name}.sha256").read_text().split()
        lines_got = p.stdout.count(b"\n")
        got = f"{hashlib.sha256(p.stdout).hexdigest()} {lines_got} rc={p.returncode}"
        assert got == f"{digest} {lines} {rc}", p.stderr.decode()[-2000:]
        return
    want = (GOLDEN / "expected" / f"{name}.out").read_bytes()
    want_rc = int((GOLDEN / "expected" / f"{name}.rc").read_text())
    assert p.returncode == want_rc, p.stderr.decode()[-2000:]
    if p.stdout != want:
        got_lines, want_lines = p.stdout.split(b"\n"), want.split(b"\n")
        for i, (g, w) in enumerate(zip(got_lines, want_lines, strict=False)):
            assert g == w, f"first difference at line {i + 1}"
        assert len(got_lines) == len(want_lines)
