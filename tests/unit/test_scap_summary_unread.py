"""cdig summary --by file of a .scap with no filter: the reader leaves out the records
the view does not read (no read or write call) and that change no state, and the view
counts them (``capture_cmd._prune_unread``). The tables, the JSON and the stderr line
must be those of a read that builds every record, on the sample captures read whole
and in small chunks (records cut across chunks, pending enters), and on a capture of
cdig's writer."""

from __future__ import annotations

from pathlib import Path

import pytest
from test_scap_prune import _synthetic

from cdig import capture_cmd
from cdig.cli import main
from cdig.collector.scap import blocks

FIXTURES = Path(__file__).resolve().parent.parent / "fixtures" / "scap"
SAMPLES = sorted(FIXTURES.glob("*.scap"))


def _run(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    rc = main(argv)
    out = capsys.readouterr()
    return rc, out.out, out.err


def _both(path: Path, capsys: pytest.CaptureFixture[str], monkeypatch: pytest.MonkeyPatch
          ) -> int:
    """Compare the pruned and the whole reads of ``path``; the records left out."""
    left: list[int] = []
    real = capture_cmd._prune_unread

    def spy(session, src):  # type: ignore[no-untyped-def]
        sinks = real(session, src)
        left.append(len(sinks))
        return sinks

    real_replay = capture_cmd.replay_events

    def counted(*a, **k):  # type: ignore[no-untyped-def]
        counters, src = real_replay(*a, **k)
        left.append(src.left_shown)
        return counters, src

    monkeypatch.setattr(capture_cmd, "_prune_unread", spy)
    monkeypatch.setattr(capture_cmd, "replay_events", counted)
    import cdig.summary_cmd as sc
    monkeypatch.setattr(sc, "replay_events", counted)
    shown = 0
    for extra in ([], ["--json"]):
        argv = ["summary", "-r", str(path), "--by", "file", "--top", "0", *extra]
        pruned = _run(argv, capsys)
        assert left[-2] == 1  # the summary's sink was told
        shown += left[-1]
        monkeypatch.setattr(capture_cmd, "_prune_unread", lambda session, src: [])
        whole = _run(argv, capsys)
        assert left[-1] == 0
        monkeypatch.setattr(capture_cmd, "_prune_unread", spy)
        assert pruned == whole
    return shown


@pytest.mark.parametrize("chunk", [blocks.CHUNK, 2048], ids=["whole", "2KiB-chunks"])
@pytest.mark.parametrize("sample", SAMPLES, ids=lambda p: p.name)
def test_by_file_without_the_unread_records(sample, chunk, capsys, monkeypatch):
    monkeypatch.setattr(blocks, "CHUNK", chunk)
    left = _both(sample, capsys, monkeypatch)
    if sample.name in ("curl_google.scap", "cat_write.scap"):
        assert left > 0, "records should have been left out"


@pytest.mark.parametrize("chunk", [blocks.CHUNK, 4096], ids=["whole", "4KiB-chunks"])
def test_by_file_of_a_written_scap(tmp_path, chunk, capsys, monkeypatch):
    path = tmp_path / "w.scap"
    _synthetic(path)
    monkeypatch.setattr(blocks, "CHUNK", chunk)
    _both(path, capsys, monkeypatch)  # its records are I/O or state: few or none left out


def test_not_with_a_filter_or_another_view(capsys, monkeypatch):
    told: list[int] = []
    real = capture_cmd._prune_unread

    def spy(session, src):  # type: ignore[no-untyped-def]
        sinks = real(session, src)
        told.append(len(sinks))
        return sinks

    monkeypatch.setattr(capture_cmd, "_prune_unread", spy)
    path = str(FIXTURES / "curl_google.scap")
    for argv in (["--by", "file", "proc.name=curl"], ["--by", "proc"],
                 ["--by", "conn"], ["--by", "syscall"]):
        _run(["summary", "-r", path, *argv], capsys)
    assert told == [0, 0, 0, 0]
