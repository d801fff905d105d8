"""cdig summary / cdig export on a synthetic capture with known figures."""

from __future__ import annotations

import csv
import json

import duckdb
import numpy as np
import pyarrow.parquet as pq
import pytest
from factories import WEB, make_event, openat_event
from records import ext, record, sockaddr_in
from test_capture import live_capture

from cdig.cli import main
from cdig.collector.aggregate import Aggregator
from cdig.collector.decode import RawBatch
from cdig.collector.export import EXPORT_FIELDS
from cdig.probes.syscalls import layout

N_WRITES, B = 250, 64
N_ENOENT = 7


def workload() -> list[RawBatch]:
    """pid 50 in cgroup 7 (container 'web'): open /data/log, N writes of B bytes, close;
    pid 60 on the host: N_ENOENT failed opens, a connect and 3 sends of 100 bytes,
    an exec by uid 1000."""
    small, big = [], []
    ts = 1000
    big.append(ext("openat", str1=b"/data/log\0", ret=3, args=(2**64 - 100, 0, 0o101),
                   ts=ts, pid=50, cgroup=7, comm=b"server"))
    for i in range(N_WRITES):
        small.append(record("write", ret=B, args=(3, 0, B), ts=ts + 1 + i, pid=50, cgroup=7,
                            comm=b"server", latency=1000))
    small.append(record("close", ret=0, args=(3,), ts=ts + 500, pid=50, cgroup=7,
                        comm=b"server"))
    for i in range(N_ENOENT):
        big.append(ext("openat", str1=b"/nope\0", ret=-2, args=(2**64 - 100,), ts=ts + 600 + i,
                       pid=60, cgroup=3, comm=b"client"))
    small.append(record("socket", ret=4, args=(2, 1, 0), ts=ts + 700, pid=60, cgroup=3,
                        comm=b"client"))
    big.append(ext("connect", str2=sockaddr_in("10.1.2.3", 443), ret=0, args=(4, 0, 16),
                   ts=ts + 701, pid=60, cgroup=3, comm=b"client"))
    for i in range(3):
        small.append(record("write", ret=100, args=(4, 0, 100), ts=ts + 710 + i, pid=60,
                            cgroup=3, comm=b"client"))
    big.append(ext("execve", kind=layout.KIND_SYSCALL_ENTER, str1=b"/bin/ls\0",
                   str2=b"ls\0-l\0", argc=2, ts=ts + 800, pid=61, cgroup=3, comm=b"sh",
                   uid=1000))
    big.append(ext(None, kind=layout.KIND_EXEC, str1=b"/bin/ls\0", ts=ts + 801, pid=61,
                   cgroup=3, comm=b"ls", uid=1000, args=(61,)))
    half = len(small) // 2
    return [RawBatch(np.concatenate(small[:half]), np.concatenate(big[:3])),
            RawBatch(np.concatenate(small[half:]), np.concatenate(big[3:]))]


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    p = tmp_path_factory.mktemp("sum") / "w.cdig"
    live_capture(p, workload(), flush_rows=100, name_late=False)
    return p


def summary_json(capsys, capture, by, *extra):
    assert main(["summary", "-r", str(capture), "--by", by, "--json", "--top", "0", *extra]) == 0
    return json.loads(capsys.readouterr().out)


def test_summary_figures_exact(capture, capsys):
    files = {r["fd.name"]: r for r in summary_json(capsys, capture, "file")["rows"]}
    assert files["/data/log"] == {"bytes": N_WRITES * B, "read": 0, "written": N_WRITES * B,
                                  "ops": N_WRITES, "fd.name": "/data/log"}
    cont = {r["container.name"]: r for r in summary_json(capsys, capture, "container")["rows"]}
    web = cont["web"]
    assert web["events"] == N_WRITES + 2 and web["file.written"] == N_WRITES * B
    assert web["time"] == N_WRITES * 1000 + 2 * 500 and web["procs"] == 1
    assert web["container.id"] == "a" * 12
    assert cont["host"]["net.out"] == 300
    sc = {r["evt.type"]: r for r in summary_json(capsys, capture, "syscall")["rows"]}
    assert sc["write"]["calls"] == N_WRITES + 3 and sc["openat"]["errors"] == N_ENOENT
    assert sc["write"]["mean"] == (N_WRITES * 1000 + 3 * 500) // (N_WRITES + 3)
    errs = summary_json(capsys, capture, "errors")["rows"]
    assert errs == [{"count": N_ENOENT, "evt.res": "ENOENT", "syscalls": f"openat:{N_ENOENT}"}]
    conns = summary_json(capsys, capture, "conn")["rows"]
    assert [(c["fd.name"], c["out"], c["fd.l4proto"]) for c in conns] == \
        [("0.0.0.0:0->10.1.2.3:443", 300, "tcp")] or conns[0]["out"] == 300
    users = {r["user.name"]: r for r in summary_json(capsys, capture, "user")["rows"]}
    uid1000 = [r for name, r in users.items() if r["execs"]]
    assert len(uid1000) == 1 and uid1000[0]["commands"] == "ls -l"
    procs = summary_json(capsys, capture, "proc", "container.name=web")["rows"]
    assert procs == [{"events": N_WRITES + 2, "time": N_WRITES * 1000 + 1000, "errors": 0,
                      "pid": 50, "proc.name": "server", "container.name": "web"}]


def test_summary_text_is_aligned(capture, capsys):
    assert main(["summary", "-r", str(capture), "--by", "syscall"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["calls", "errors", "time", "mean", "evt.type"]
    col = out[0].index("evt.type")  # the text column starts at the same place on every line
    assert all(line[col - 2:col] == "  " and line[col] != " " for line in out[1:])
    assert out[2].split()[0] == str(N_WRITES + 3)  # most calls first


def test_summary_bad_sort_is_one_line(capture, capsys):
    assert main(["summary", "-r", str(capture), "--by", "file", "--sort", "nope"]) == 2
    err = capsys.readouterr().err
    assert err.count("\n") == 1 and "no column 'nope'" in err


def test_aggregator_directly():
    agg = Aggregator()
    for _ in range(5):
        agg(make_event(container=WEB, res=10))
    agg(openat_event(path="/x", res=-13, container=WEB))
    t = agg.table("container")
    assert t.rows[0]["events"] == 6 and t.rows[0]["errors"] == 1
    assert t.rows[0]["file.written"] == 50
    assert agg.table("errors").rows[0]["evt.res"] == "EACCES"


@pytest.mark.parametrize("fmt", ["parquet", "csv", "jsonl"])
def test_export_columns(capture, tmp_path, capsys, fmt):
    out = tmp_path / f"e.{fmt}"
    assert main(["export", "-r", str(capture), "--format", fmt, "-o", str(out)]) == 0
    assert (out.stat().st_mode & 0o777) == 0o600
    if fmt == "parquet":
        t = pq.read_table(out)
        assert t.column_names == list(EXPORT_FIELDS)
        rows = t.to_pylist()
    elif fmt == "csv":
        with open(out, newline="") as f:
            rows = list(csv.DictReader(f))
        assert list(rows[0]) == list(EXPORT_FIELDS)
    else:
        rows = [json.loads(line) for line in out.read_text().splitlines()]
        assert list(rows[0]) == list(EXPORT_FIELDS)
    writes = [r for r in rows if r["evt.type"] == "write" and r["fd.name"] == "/data/log"]
    assert len(writes) == N_WRITES
    assert {str(r["evt.rawres"]) for r in writes} == {str(B)}
    assert {r["container.name"] for r in writes} == {"web"}


def test_parquet_in_duckdb_equals_summary(capture, tmp_path, capsys):
    out = tmp_path / "e.parquet"
    assert main(["export", "-r", str(capture), "-o", str(out)]) == 0
    got = dict(duckdb.sql(
        f"SELECT \"container.name\", count(*) FROM '{out}' GROUP BY 1").fetchall())
    summary = {r["container.name"]: r["events"]
               for r in summary_json(capsys, capture, "container")["rows"]}
    assert got == summary
    bytes_by_file = dict(duckdb.sql(
        f"SELECT \"fd.name\", sum(\"evt.rawres\") FROM '{out}' "
        "WHERE \"evt.type\" = 'write' AND \"fd.type\" = 'file' GROUP BY 1").fetchall())
    assert bytes_by_file == {"/data/log": N_WRITES * B}


def test_export_fields_and_filter(capture, tmp_path, capsys):
    out = tmp_path / "o.jsonl"
    assert main(["export", "-r", str(capture), "--format", "jsonl", "-o", str(out),
                 "--fields", "evt.type,evt.arg.path,evt.failed", "evt.failed=true"]) == 0
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert rows == [{"evt.type": "openat", "evt.arg.path": "/nope", "evt.failed": True}] * N_ENOENT
    assert main(["export", "-r", str(capture), "--list-columns"]) == 0
    assert "container.name" in capsys.readouterr().out
    assert main(["export", "-r", str(capture), "-o", str(capture)]) == 2


@pytest.mark.parametrize(("ns", "text"), [
    (None, "-"), (0, "0ns"), (999, "999ns"), (1_000, "1.0us"), (12_345, "12.3us"),
    (999_949, "999.9us"), (4_567_000, "4.57ms"), (1_234_567_890, "1.23s"), (61e9, "61.00s")])
def test_one_duration_format_for_summary_and_top(ns, text):
    from cdig import summary_cmd
    from cdig.collector.durations import human_ns
    from cdig.tui import format as tui_format

    assert human_ns(ns) == text
    assert summary_cmd.human_ns is human_ns and tui_format.human_ns is human_ns
    if text.endswith("s") and text[-2].isdigit():  # seconds: summary keeps 3 decimals
        assert human_ns(ns, second_digits=3) == f"{ns / 1e9:.3f}s"
