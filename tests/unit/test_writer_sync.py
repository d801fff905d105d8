"""The capture writer syncs to disk at most once a second, and when it closes."""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pytest
from records import T, record

from cdig.collector.capture import CaptureWriter, host_info
from cdig.collector.capture import writer as writer_mod
from cdig.collector.capture.format import _Cols, _Snaplen, rows_to_batch
from cdig.collector.capture.reader import CaptureFile
from cdig.probes.syscalls import layout


def _batch(n: int):
    rec = np.concatenate([record("getppid", ts=1000 + i) for i in range(n)])
    plain = {name: np.ascontiguousarray(rec[name]) for name in
             ("ts_ns", "latency_ns", "cgroup_id", "ret", "pid", "tid", "uid", "gid", "nr",
              "kind", "flags", "cpu", "args", "comm")}
    ext = np.zeros(0, dtype=layout.EXT_RECORD)
    cols = _Cols(plain, ext, np.zeros(n, dtype=bool), np.arange(n, dtype=np.uint64),
                 np.zeros(n, dtype=bool))
    return rows_to_batch(cols, _Snaplen(None, T))


def test_sync_at_most_once_a_second(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    synced: list[float] = []
    now = [100.0]
    monkeypatch.setattr(writer_mod.os, "fdatasync", lambda fd: synced.append(now[0]))
    monkeypatch.setattr(writer_mod.time, "monotonic", lambda: now[0])
    w = CaptureWriter(str(tmp_path / "c.cdig"), host_info(T, 0), sync=True)
    w.open({})
    for dt in (0.0, 0.2, 0.5, 1.1, 1.3, 2.2):  # seconds after the first batch
        now[0] = 100.0 + dt
        w.write(_batch(3), {})
    assert synced == [100.0, 101.1, 102.2]
    w.close()  # fsync of the whole file at the end (not fdatasync)
    rows = sum(b.records.num_rows for b in CaptureFile.open(str(tmp_path / "c.cdig")).batches())
    assert rows == 18


def test_no_sync_when_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(writer_mod.os, "fdatasync", lambda fd: pytest.fail("synced"))
    w = CaptureWriter(str(tmp_path / "c.cdig"), host_info(T, 0), sync=False)
    w.open({})
    w.write(_batch(2), {})
    w.close()
    assert os.path.getsize(tmp_path / "c.cdig") > 0
