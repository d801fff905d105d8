"""cdig summary reads a .scap without its I/O data (ScapSource.want_data = False) when
the filter reads none: the tables are the same as with the data."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdig import capture_cmd
from cdig.capture_cmd import reads_data
from cdig.cli import main
from cdig.collector.filter import compile_filter

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scap"
SAMPLES = sorted(FIXTURES.glob("*.scap"))
VIEWS = ("proc", "container", "syscall", "file", "conn", "errors", "user")


@pytest.mark.parametrize(("text", "reads"), [
    ("", False),
    ("evt.type=openat and fd.name=/etc/hostname", False),
    ("proc.name=cat or container.name=web and evt.failed=true and user.uid=0", False),
    ("evt.buffer contains GET", True),
    ("evt.args contains x", True),
    ("evt.info contains x", True),
    ("evt.arg.data contains x", True),
    ("evt.rawarg.data contains x", True),
    ("evt.buflen > 3", True),
    ("proc.name=cat and evt.arg[1] contains x", True),
])
def test_reads_data(text, reads):
    assert reads_data(compile_filter(text)) is reads


def _run(argv, capsys) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_tables_without_data_are_the_same(sample, capsys, monkeypatch):
    seen: list[bool] = []
    real = capture_cmd.open_replay

    def spy(paths, quiet=False):
        src = real(paths, quiet)
        seen.append(src)
        return src

    monkeypatch.setattr(capture_cmd, "open_replay", spy)
    for view in VIEWS:
        for flt in ([], ["evt.type!=close"], ["evt.buffer contains a or evt.type=openat"]):
            argv = ["summary", "-r", str(sample), "--by", view, "--top", "0", *flt]
            without = _run(argv, capsys)
            assert seen[-1].want_data is bool(flt and "buffer" in flt[0])
            monkeypatch.setattr(capture_cmd, "reads_data", lambda f: True)
            with_data = _run(argv, capsys)
            monkeypatch.undo()
            monkeypatch.setattr(capture_cmd, "open_replay", spy)
            assert seen[-1].want_data is True
            assert without == with_data
