"""state_rows' open+close runs: opens of one path each followed by its own close,
applied in one step (``_pair_runs``), give the lines and tables of the per-event
reference (State.update per Event) and of the rows applied one by one: with the close
race (a close entered before the open), relative paths, failed opens and closes, reads
in between, other processes and cgroups, O_DIRECTORY, full fd tables and sweeps."""

from __future__ import annotations

import random

import numpy as np
import pytest
import test_batch_engine as tbe
from records import T, ext, record
from test_batch_engine import engine, reference, tables

from cdig.collector import state_rows
from cdig.collector.decode import RawBatch
from cdig.collector.events import HOST
from cdig.collector.filter import compile_filter
from cdig.collector.formatter import Formatter
from cdig.collector.render import BatchRenderer
from cdig.collector.state import State
from cdig.probes.syscalls import layout

AT_FDCWD = 0xFFFFFF9C
O_DIRECTORY = 0o200000


def _batches(seed: int, n: int) -> list[RawBatch]:
    rnd = random.Random(seed)
    small: list[np.ndarray] = []
    exts: list[np.ndarray] = []
    out = []
    ts = 1000
    paths = [b"/etc/hostname", b"/d/f1", b"/d//f2/../f3", b"rel/x", b"/d/dir"]
    i = 0
    while i < n:
        pid = rnd.choice([100, 100, 100, 101])
        cg = rnd.choice([7, 7, 7, 8, 0])
        fd = rnd.choice([3, 3, 3, 4])
        comm = b"web" if pid == 100 else b"db"
        path = rnd.choice(paths)
        flags = O_DIRECTORY if path == b"/d/dir" else 0
        run = rnd.choice([1, 1, 3, 20])
        for _ in range(run):
            ts += rnd.choice([3, 3, 3, 40])
            kw = dict(pid=pid, cgroup=cg, comm=comm)
            ok = rnd.random() > 0.05
            exts.append(ext("openat", ts=ts, ret=fd if ok else -2,
                            args=(AT_FDCWD, 0, flags), str1=path + b"\0", latency=50, **kw))
            what = rnd.random()
            if what < 0.05:  # a read of the new fd before its close
                ts += 3
                small.append(record("read", ts=ts, ret=1, args=(fd, 0, 1), latency=20, **kw))
            elif what < 0.08:  # another process's row in between
                ts += 3
                small.append(record("getppid", ts=ts, ret=1, pid=102, cgroup=7, comm=b"x"))
            ts += 3
            # a close entered before the open (the race) now and then, or one that failed,
            # or of another fd
            lat = 10_000 if rnd.random() < 0.05 else 2
            cfd = fd if rnd.random() > 0.05 else fd + 1
            cret = 0 if rnd.random() > 0.05 else -9
            small.append(record("close", ts=ts, ret=cret, args=(cfd,), latency=lat, **kw))
            i += 1
        if rnd.random() < 0.1:
            ts += 3
            small.append(record("write", ts=ts, ret=1, args=(fd, 0, 1), pid=pid, cgroup=cg,
                                comm=comm))
        if rnd.random() < 0.02:
            ts += 3
            small.append(record(kind=layout.KIND_EXIT, ts=ts, pid=101, cgroup=7, comm=b"db"))
        if rnd.random() < 0.05:
            out.append(RawBatch(np.concatenate(small) if small else np.zeros(0, layout.RECORD),
                                np.concatenate(exts) if exts else
                                np.zeros(0, layout.EXT_RECORD)))
            small, exts = [], []
    out.append(RawBatch(np.concatenate(small) if small else np.zeros(0, layout.RECORD),
                        np.concatenate(exts) if exts else np.zeros(0, layout.EXT_RECORD)))
    return out


FMT = Formatter("*%evt.type %evt.res %fd.num %fd.name %fd.type %proc.name %container.id")


@pytest.mark.parametrize("max_fds,grace_s", [(4096, 5.0), (2, 5.0), (4096, 2e-8)])
@pytest.mark.parametrize("text", ["", "evt.type=openat and fd.name=/etc/hostname",
                                  "fd.type=directory", "evt.type=read"])
def test_pair_runs_agree_with_the_reference_and_row_by_row(
        max_fds: int, grace_s: float, text: str, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(tbe, "_state", lambda: State(
        container_of=lambda cg, pid: tbe.CONTAINERS.get(cg, HOST), proc_root="/nonexistent",
        max_fds_per_proc=max_fds, exit_grace_s=grace_s))
    flt = compile_filter(text)
    runs = 0
    real = state_rows._pair_runs

    def counted(*a):  # type: ignore[no-untyped-def]
        nonlocal runs
        got = real(*a)
        if got is not None:
            runs += int(np.count_nonzero(got[0] >= 4))
        return got

    for seed in (1, 2, 3):
        want, agg_ref = reference(_batches(seed, 3000), flt, FMT.format)
        with monkeypatch.context() as m:
            m.setattr(state_rows, "_pair_runs", counted)
            got, agg = engine(_batches(seed, 3000), flt, BatchRenderer.text(FMT.fmt, T))
        with monkeypatch.context() as m:
            m.setattr(state_rows, "_pair_runs", lambda *a: None)
            one, agg_one = engine(_batches(seed, 3000), flt, BatchRenderer.text(FMT.fmt, T))
        assert got == want == one, (seed, text)
        assert tables(agg) == tables(agg_ref) == tables(agg_one), (seed, text)
    assert runs > 50  # runs of two pairs or more were found and applied
