"""A .scap replay with a raw filter: the reader leaves out, before their parameters
are parsed, the fast records the session's raw prefilter would drop (``Session.replay``
sets ``ScapSource.prune``). Lines, numbers, times and counts must be those of a
session that builds every record (``Session`` built by hand), on the sample captures
read whole and in small chunks (records cut across chunks, pending enters)."""

from __future__ import annotations

from pathlib import Path

import pytest

from cdig.collector.decode import Decoder
from cdig.collector.events import HOST
from cdig.collector.filter import compile_filter
from cdig.collector.render import BatchRenderer
from cdig.collector.scap import blocks
from cdig.collector.scap.reader import ScapSource
from cdig.collector.session import LineSink, Session, batch_filter
from cdig.collector.state import State

SAMPLES = Path(__file__).resolve().parents[1] / "fixtures" / "scap"
FMT = "*%evt.num %evt.reltime %evt.type %evt.res %fd.name %proc.name %proc.pid %thread.tid"


class _Lines:
    def __init__(self) -> None:
        self.parts: list[str] = []

    def write(self, s: str) -> None:
        self.parts.append(s)

    def flush(self) -> None:
        pass

    def lines(self) -> list[str]:
        return "".join(self.parts).splitlines()


def _whole(path: Path, text: str) -> tuple[list[str], int]:
    src = ScapSource([str(path)])
    state = State(container_of=src.container_of, procfs=src.procfs)
    src.attach(state)
    dec = Decoder(src.syscalls, src.mono_to_wall_ns)
    out = _Lines()
    s = Session(src, dec, state, batch_filter(compile_filter(text), dec.table),
                [LineSink(BatchRenderer.text(FMT, dec.table), out)])
    c = s.run()
    assert src.prune is None  # nothing left out here
    return out.lines(), c.records


def _pruned(path: Path, text: str) -> tuple[list[str], int, ScapSource, int]:
    src = ScapSource([str(path)])
    out = _Lines()
    s = Session.replay(src, compile_filter(text),
                       lambda d: [LineSink(BatchRenderer.text(FMT, d.table), out)])
    prune, left = src.prune, []
    assert prune is not None

    def counted(cols, len2):
        keep = prune(cols, len2)
        left.append(len(keep) - int(keep.sum()))
        return keep

    src.prune = counted
    c = s.run()
    return out.lines(), c.records, src, sum(left)


FILTERS = ["evt.type=openat", "evt.type in (read, write) and proc.name=curl",
           "evt.type=close", "evt.type=connect or evt.type=socket",
           "evt.type=openat and fd.name contains etc", "proc.name=cat",
           "evt.type=write and thread.tid>0", "evt.type=mmap or evt.type=brk"]


@pytest.mark.parametrize("chunk", [blocks.CHUNK, 2048], ids=["whole", "2KiB-chunks"])
@pytest.mark.parametrize("sample", sorted(p.name for p in SAMPLES.glob("*.scap")))
def test_pruned_scap_replay_equals_the_whole_one(monkeypatch, sample, chunk):
    monkeypatch.setattr(blocks, "CHUNK", chunk)
    path = SAMPLES / sample
    selected = left_out = 0
    for text in FILTERS:
        want, n_want = _whole(path, text)
        got, n_got, src, left = _pruned(path, text)
        assert got == want, text
        assert n_got == n_want == src.records, text  # records left out still count as read
        selected += len(want)
        left_out += left
    if n_want > 100:  # connect_localhost holds 4 records, all of the filtered calls
        assert selected, "the filters should select something"
        assert left_out, "rows should have been left out"


def test_a_filter_on_a_result_is_not_pruned_early(monkeypatch):
    """evt.rawres is not known before the parameters are parsed: nothing is left out by the
    reader (the session's own prefilter still drops the rows), the lines are the same."""
    path = SAMPLES / "curl_google.scap"
    text = "evt.rawres>=0 and evt.type in (openat, read, close)"
    want, n_want = _whole(path, text)
    got, n_got, src, left = _pruned(path, text)
    assert want and got == want
    assert n_got == n_want
    assert left == 0


def _synthetic(path: Path) -> None:
    """A .scap of the capture tests' mixed records (writes, opens, connects, an execve,
    forks, failures) over many batches, as cdig's writer makes it."""
    from test_capture import batches

    from cdig.collector.scap.writer import ScapWriter
    from cdig.probes.syscall_table import table

    t = table("x86_64")
    state = State(container_of=lambda cg, pid: HOST)
    dec = Decoder(t, 0)
    w = ScapWriter(str(path), t, 0, hostname="h", ncpus=2)
    for raw in batches(40, 120):
        w.write(raw, state)
        for ev in dec.decode(raw):
            state.update(ev)
    w.close()


@pytest.mark.parametrize("chunk", [blocks.CHUNK, 4096], ids=["whole", "4KiB-chunks"])
def test_pruned_replay_of_a_written_scap(tmp_path, monkeypatch, chunk):
    path = tmp_path / "w.scap"
    _synthetic(path)
    monkeypatch.setattr(blocks, "CHUNK", chunk)
    for text in ["evt.type=write", "evt.type=openat and proc.pid=60",
                 "evt.type in (openat, connect) and proc.name!=x", "proc.pid=60",
                 "evt.type=close and fd.name contains srv", "evt.type=read and evt.latency>0"]:
        want, n_want = _whole(path, text)
        got, n_got, src, left = _pruned(path, text)
        assert want, text
        assert got == want, text
        assert n_got == n_want == src.records, text
        assert left > 0, text
