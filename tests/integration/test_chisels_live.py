"""Chisels on live data and on a capture of the same run give the same tables.

A gated podman container writes to a file and fails to open another; five live
``cdig trace -c CHISEL --container NAME`` and one ``cdig trace -w`` run at once;
after the workload, each live table (stdout is a file: one table at the end) equals
``cdig trace -r CAPTURE -c CHISEL`` of the capture, and the file's bytes are exact.
"""

from __future__ import annotations

import pytest

from .containers import Workload, require
from .test_capture_live import DATA, live_capture, run, start_with_data_file, stop

pytestmark = pytest.mark.integration

N_WRITES = 300
CHISELS = (("topfiles_bytes",), ("topprocs_file",), ("topprocs_errors",), ("topscalls",),
           ("fdbytes_by", "proc.name"))


def rows(text: str) -> list[str]:
    lines = text.splitlines()
    assert len(lines) >= 2 and lines[1] == "-" * 80, text
    return [lines[0], *sorted(lines[2:])]  # equal values may come in either order


def test_live_chisels_equal_the_same_chisels_on_the_capture(podman_container, tmp_path):
    require("root", "bpf", "bcc", "tracefs", "podman")
    w = Workload().write(N_WRITES, DATA).open(2, "/nonexistent")
    c = start_with_data_file(podman_container, w)
    runs = []
    for i, ch in enumerate(CHISELS):
        d = tmp_path / f"c{i}"
        d.mkdir()
        runs.append(live_capture(d, ["-c", *ch, "--container", c.name]))
    cap = tmp_path / "all.cdig"
    d = tmp_path / "w"
    d.mkdir()
    writer = live_capture(d, ["-w", str(cap), f"container.name={c.name}"])
    c.go()
    assert c.wait(30) == 0
    texts = []
    for p, out, err in [*runs, writer]:
        summary = stop(p, err)
        assert " 0 dropped" in summary, summary
        texts.append(out.read_text())
    for ch, live in zip(CHISELS, texts, strict=False):
        r = run("trace", "-r", str(cap), "-c", *ch)
        assert r.returncode == 0, r.stderr
        assert rows(live) == rows(r.stdout), (ch, live, r.stdout)
    files = rows(texts[0])[1:]
    assert f"{f'{N_WRITES}B':<20}{DATA}" in files, files  # 1 byte a write, exactly
    calls = {ln[20:].strip(): int(ln[:20]) for ln in rows(texts[3])[1:]}
    assert calls["write"] >= N_WRITES and calls["openat"] >= 2
    errors = rows(texts[2])[1:]
    assert len(errors) == 1 and int(errors[0][:20]) >= 2, errors
