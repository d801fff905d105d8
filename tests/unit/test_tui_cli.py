"""``cdig top`` on the command line: every user mistake is one line, before the
screen is taken over (no terminal is needed to get them)."""

from __future__ import annotations

import pytest

from cdig.cli import main

pytestmark = pytest.mark.tui


def test_bad_filter_has_a_caret(capsys):
    assert main(["top", "-r", "/nonexistent", "proc.name=="]) == 2
    err = capsys.readouterr().err
    assert "bad filter" in err and "^" in err and "Traceback" not in err


@pytest.mark.parametrize("argv, code, text", [
    (["top", "-d", "0"], 2, "-d needs a positive"),
    (["top", "--view", "nope"], 2, "no view 'nope'"),
    (["top", "--speed", "-1"], 2, "--speed"),
    (["top", "-r", "x.cdig"], 2, "needs a terminal"),  # pytest's stdin is not a tty
])
def test_usage_errors_are_one_line(capsys, argv, code, text):
    assert main(argv) == code
    err = capsys.readouterr().err
    assert text in err and err.count("\n") == 1


def test_an_unreadable_capture_is_one_line(capsys, monkeypatch, tmp_path):
    monkeypatch.setattr("sys.stdin.isatty", lambda: True, raising=False)
    monkeypatch.setattr("sys.stdout.isatty", lambda: True, raising=False)
    bad = tmp_path / "bad.cdig"
    bad.write_bytes(b"not a capture at all")
    assert main(["top", "-r", str(bad)]) == 1
    err = capsys.readouterr().err
    assert "not a cdig capture" in err and err.count("\n") == 1


def test_help_lists_the_keys(capsys):
    with pytest.raises(SystemExit):
        main(["top", "--help"])
    out = capsys.readouterr().out
    assert "Enter drill down" in out and "cdig top -r web.cdig" in out
