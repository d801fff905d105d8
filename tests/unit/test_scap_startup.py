"""Reading a .scap imports no pyarrow (~90 ms of every start-up): ``collector.capture``
loads its names on first use, and the .scap path needs only ``capture.files``."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

FIXTURES = Path(__file__).resolve().parents[1] / "fixtures" / "scap"

_RUN = """
import json, sys
from cdig.cli import main
code = main(sys.argv[2:])
sys.stdout.flush()
with open(sys.argv[1], "w") as f:
    json.dump({"code": code,
               "arrow": sorted(m for m in sys.modules if m.split(".")[0] == "pyarrow")}, f)
"""


def _run(tmp: Path, *args: str) -> dict:
    res = tmp / "res.json"
    r = subprocess.run([sys.executable, "-c", _RUN, str(res), *args], capture_output=True,
                       text=True, check=True, timeout=120)
    return {**json.loads(res.read_text()), "lines": len(r.stdout.splitlines())}


def test_trace_of_a_scap_imports_no_pyarrow(tmp_path: Path) -> None:
    got = _run(tmp_path, "trace", "-r", str(FIXTURES / "cat_write.scap"), "-p",
               "%evt.num %proc.name %evt.type %fd.name", "evt.type=write or fd.name contains /")
    assert got["code"] == 0
    assert got["lines"] > 0  # it did read the events
    assert got["arrow"] == []


def test_summary_of_a_scap_imports_no_pyarrow(tmp_path: Path) -> None:
    got = _run(tmp_path, "summary", "-r", str(FIXTURES / "cat_write.scap"), "--by", "syscall")
    assert got["code"] == 0 and got["lines"] > 0
    assert got["arrow"] == []


def test_capture_names_still_resolve() -> None:
    """Every name the package exports loads (and is the one its module defines)."""
    from cdig.collector import capture
    from cdig.collector.capture import files, format, reader, replay, writer

    for name in capture.__all__:
        assert getattr(capture, name) is not None
    assert capture.CaptureError is format.CaptureError is files.CaptureError
    assert capture.Loss is reader.Loss is files.Loss
    assert capture.ReplaySource is replay.ReplaySource
    assert capture.Rotation is writer.Rotation
    try:
        capture.NoSuchName  # noqa: B018 - the lookup is the test
    except AttributeError as e:
        assert "NoSuchName" in str(e)
    else:
        raise AssertionError("an unknown name must raise AttributeError")
