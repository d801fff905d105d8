"""The stream and state chisels (``iobytes``, ``fdcount_by``, ``bottlenecks``,
``proc_exec_time``, ``ps``, ``lsof``, ``netstat``, ``lscontainers`` …) on synthetic
captures with known figures; tests/integration/test_chisels_sysdig.py compares the
same chisels with the real sysdig on .scap files.
"""

from __future__ import annotations

import sys
from pathlib import Path

import numpy as np
import pytest
from records import ext, record, sockaddr_in
from test_capture import live_capture
from test_summary import N_WRITES, workload

from cdig.cli import main
from cdig.collector.chisels import CHISELS, describe
from cdig.collector.decode import RawBatch
from cdig.probes.syscalls import layout

S = 1_000_000_000  # the test captures' clock offset is a whole number of seconds


def seconds_workload() -> list[RawBatch]:
    """pid 50 ('server', container web): a file written in second 0, read in second 1,
    written again in second 2; a socket sending 30 bytes in second 1; a child forked
    at 1 s that exits 3.5 s after its first event."""
    kw = {"pid": 50, "cgroup": 7, "comm": b"server"}
    small = [record("write", ret=64, args=(3, 0, 64), ts=S // 5, **kw),
             record("write", ret=64, args=(3, 0, 64), ts=S // 4, **kw),
             record("socket", ret=4, args=(2, 1, 0), ts=S // 3, **kw),
             record(None, kind=layout.KIND_FORK, args=(70, 50), ts=S, **kw),
             record("getpid", ret=70, ts=S + 1, pid=70, cgroup=7, comm=b"worker"),
             record("read", ret=100, args=(3, 0, 100), ts=S + S // 2, **kw),
             record("write", ret=30, args=(4, 0, 30), ts=S + S // 2 + 1, latency=9000, **kw),
             record("write", ret=10, args=(3, 0, 10), ts=2 * S + S // 2, **kw),
             record(None, kind=layout.KIND_EXIT, ts=4 * S + S // 2 + 1, pid=70, cgroup=7,
                    comm=b"worker")]
    big = [ext("openat", str1=b"/data/log\0", ret=3, args=(2**64 - 100, 0, 0o101), ts=S // 10,
               **kw),
           ext("connect", str2=sockaddr_in("10.1.2.3", 443), ret=0, args=(4, 0, 16),
               ts=S // 3 + 1, **kw)]
    return [RawBatch(np.concatenate(small[:4]), np.concatenate(big)),
            RawBatch(np.concatenate(small[4:]), np.zeros(0, dtype=layout.EXT_RECORD))]


@pytest.fixture(scope="module")
def seconds(tmp_path_factory):
    p = tmp_path_factory.mktemp("chisels_stream") / "s.cdig"
    live_capture(p, seconds_workload(), flush_rows=100, name_late=False)
    return p


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    p = tmp_path_factory.mktemp("chisels_stream") / "w.cdig"
    live_capture(p, workload(), flush_rows=100, name_late=False)
    return p


def run(capsys, path, *words: str) -> list[str]:
    assert main(["trace", "-r", str(path), "-c", *words]) == 0
    return capsys.readouterr().out.splitlines()


def test_iobytes_prints_a_second_when_the_next_begins(seconds, capsys):
    # second 0: 128 bytes written; second 1: 100 read, 30 sent; second 2: 10 written,
    # printed at the exit in second 4; second 4 never ends
    out = run(capsys, seconds, "iobytes")
    assert [ln.split(" ", 1)[1] for ln in out] == ["in:0 out:128 tot:128",
                                                   "in:100 out:30 tot:130",
                                                   "in:0 out:10 tot:10"]
    assert out[0].split()[0].count(":") == 2  # evt.time.s of the event that ticked
    assert [ln.split(" ", 1)[1] for ln in run(capsys, seconds, "iobytes_file")] == \
        ["in:0 out:128 tot:128", "in:100 out:0 tot:100", "in:0 out:10 tot:10"]
    assert [ln.split(" ", 1)[1] for ln in run(capsys, seconds, "iobytes_net")] == \
        ["in:0 out:0 tot:0", "in:0 out:30 tot:30", "in:0 out:0 tot:0"]
    # the user's filter picks the events that tick too
    assert run(capsys, seconds, "iobytes", "proc.name=nosuch") == []


def test_proc_exec_time_colours_by_duration(seconds, capsys):
    out = run(capsys, seconds, "proc_exec_time")
    assert out[:2] == ["proc.duration proc.name    proc.args",
                       "------------- ------------ --------------------"]
    # 3.5 s: over the yellow threshold (3 s); the Lua's reset at the end
    assert out[2] == "\x1b[33m3.50s         worker       -p 80" and out[3] == "\x1b[0m"
    out = run(capsys, seconds, "proc_exec_time disable_colors")
    assert out[2] == "3.50s         worker       -p 80" and out[3] == ""
    pc = main(["trace", "-r", str(seconds), "-pc", "-c", "proc_exec_time"])
    out = capsys.readouterr().out.splitlines()
    assert pc == 0 and out[0].split() == ["proc.duration", "container.id", "container.name",
                                          "proc.name", "proc.args"]
    assert out[2].split()[2:4] == ["web", "worker"]


def test_fdcount_by_counts_distinct_fds_per_key(seconds, capture, capsys):
    assert run(capsys, seconds, "fdcount_by", "proc.name") == ["server\t2"]
    assert sorted(run(capsys, capture, "fdcount_by", "proc.name")) == ["client\t1", "server\t1"]
    assert run(capsys, seconds, "fdcount_by", "fd.type") in (["file\t1", "ipv4\t1"],
                                                            ["ipv4\t1", "file\t1"])


def test_bottlenecks_keeps_the_first_of_equals(capture, seconds, capsys):
    out = run(capsys, capture, "bottlenecks")
    # 250 writes of 1,000 ns, the slowest: the first ten, in order (numbers 2..11)
    assert [ln.split(")")[0] for ln in out] == [str(n) for n in range(2, 12)]
    assert out[0] == "2) 0.000001000 server (50) < write fd=3(<f>/data/log) size=64"
    assert len(out) == 10 and N_WRITES > 10
    first = run(capsys, seconds, "bottlenecks")[0]
    assert first.endswith(" 0.000009000 server (50) < write fd=4(<4t>10.1.2.3:443) size=30")


def test_state_chisels_list_what_the_capture_started_with(capture, capsys):
    ps = run(capsys, capture, "ps")
    assert ps[0].split() == ["TID", "PID", "USER", "VIRT", "RES", "FDLIMIT", "CMD"]
    assert [ln.split()[:2] + ln.split()[-1:] for ln in ps[1:]] == [["1", "1", "init"],
                                                                   ["50", "50", "server"]]
    assert run(capsys, capture, "ps proc.name=nosuch") == ps[:1]
    assert run(capsys, capture, "lsof")[0] == \
        "COMMAND             PID     TID     USER    FD      TYPE        NAME"
    assert run(capsys, capture, "netstat")[0].split()[:2] == ["Proto", "Server"]
    assert run(capsys, capture, "lscontainers")[2].split() == ["podman", "nginx:1", "web",
                                                                "aaaaaaaaaaaa"]
    # nothing matched: sysdig's line
    assert run(capsys, capture, "ps", "proc.name=nosuch") == \
        ["empty capture or no event matching the filter"]


def test_around_needs_a_capture_and_a_filter(capture, capsys, tmp_path):
    assert main(["trace", "-r", str(capture), "-c", "around", str(tmp_path / "a")]) == 2
    assert "no filter specified" in capsys.readouterr().err
    dump = tmp_path / "around.cdig"
    out = run(capsys, capture, "around", str(dump), "evt.type=connect")
    assert len(out) == 3 and out[0].endswith(" client(60)")
    assert out[2] == f"Saving events around 1 syslog entries to {dump}"
    assert main(["trace", "-r", str(dump), "-p", "%evt.type %proc.name"]) == 0
    got = capsys.readouterr().out.splitlines()
    # the client's events within a second of its connect; none of the server's
    assert "connect client" in got and all(ln.endswith(" client") for ln in got)


def test_listing_has_the_new_chisels():
    for name in ("iobytes", "iobytes_file", "iobytes_net", "fdcount_by", "bottlenecks",
                 "proc_exec_time", "spy_users", "list_login_shells", "around", "ps", "lsof",
                 "netstat", "lscontainers"):
        assert name in CHISELS
    assert "[string] filter - A sysdig-like filter" in describe("lsof")


def test_cpu_chisels_live_read_proc_stat(tmp_path):
    """Live, topprocs_cpu's source is /proc/PID/stat's utime+stime (what sysdig's
    procinfo events carry), over the time between two tables."""
    import os

    from cdig.collector.chisels.cpu import CpuRun, _proc_key
    from cdig.collector.events import Process
    from cdig.collector.procfs import ProcFS
    from cdig.collector.state import State

    def stat(pid: int, comm: str, utime: int, stime: int) -> None:
        d = tmp_path / str(pid)
        d.mkdir(exist_ok=True)
        fields = ["S", "1"] + ["0"] * 9 + [str(utime), str(stime)] + ["0"] * 30
        (d / "stat").write_text(f"{pid} ({comm}) {' '.join(fields)}\n")

    state = State(procfs=ProcFS(str(tmp_path)))
    for pid, comm in ((10, "busy (x)"), (11, "idle")):
        state.procs[pid] = Process(pid=pid, ppid=1, name=comm)
        stat(pid, comm, 100, 50)
    now = [0.0]
    run = CpuRun(_proc_key(False), ("Process", "PID"))
    run.clock = lambda: now[0]
    run.start(state, None)
    hz = os.sysconf("SC_CLK_TCK")
    stat(10, "busy (x)", 100 + hz // 2, 50 + hz // 4)  # 0.75 s of CPU in 1 s
    now[0] = 1.0
    out = run.table().splitlines()
    assert out[0] == f"{'CPU%':<20}{'Process':<20}{'PID':<20}" and out[1] == "-" * 80
    assert out[2] == f"{'75.00%':<20}{'busy (x)':<20}10"
    assert out[3] == f"{'0.00%':<20}{'idle':<20}11"
    now[0] = 2.0  # nothing since: 0 %
    assert run.table().splitlines()[2].startswith("0.00%")


def test_cpu_chisels_on_a_cdig_capture_say_there_is_nothing(capture, capsys):
    out = run(capsys, capture, "topprocs_cpu")
    assert out == ["cdig: this capture holds no CPU times (a .scap's procinfo events, or a "
                   "live trace, have them)"]


def test_heat_maps_need_a_terminal_and_draw_sysdigs_cells(seconds, capsys, monkeypatch):
    import io
    import sys

    from cdig.collector.chisels.visual import mkcol

    assert main(["trace", "-r", str(seconds), "-c", "spectrogram"]) == 2
    assert "This chisel only works on ANSI terminals. Aborting." in capsys.readouterr().err
    # the Lua's colour ramp: 1 call at 2 rows a second: log10(3)/log10(1.6) = 2.34
    assert mkcol(1, 2.0) == (28, 64, "░") and mkcol(10**6, 2.0)[:2] == (1, 1)

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    out = Tty()
    monkeypatch.setattr(sys, "stdout", out)
    monkeypatch.setenv("COLUMNS", "40")
    assert main(["trace", "-r", str(seconds), "-c", "spectrogram 1000"]) == 0
    rows = out.getvalue().split("\n")
    # a row per second the events crossed (0 -> 1 -> 2 -> 4) and the last one's
    assert rows[0].startswith("\x1b[?25l\x1b[1F") and rows[-1] == "\x1b[?25h"
    axes = [r for r in rows if r.startswith("|1ns")]
    assert len(axes) == 4 and axes[0] == "|1ns|10ns  |1.00us |100us |10ms  |1.00s "
    first = rows[0].split("\x1b[1F")[1]
    # second 0: the openat, two writes, the socket, the connect (500 ns: cell 10 of 40)
    assert first.count("\x1b[38;5;0m\x1b[48;5;0m ") == 39 and first.endswith("\x1b[0m")


def test_buffer_chisels_keep_untrusted_bytes_data(capsys, capture):
    from cdig.collector.chisels.buffers import _net_filter, _spy_file_filter, raw_text

    # sysdig prints stdout's bytes as they are; cdig keeps text, tabs and newlines only
    assert raw_text(b"ok\tgo\n\x1b[2J\rdone\x00") == "ok\tgo\n[2Jdone"
    assert _spy_file_filter(["W", "/etc/x"], False) == \
        "(fd.name=/etc/x) and evt.is_io_write=true and fd.type=file and evt.dir=< and " \
        "evt.failed=false"
    assert _net_filter("fd.port")(["80"], False).endswith(" and fd.port=80")
    assert main(["trace", "-r", str(capture), "-c", "spy_port", "http"]) == 2
    assert "host_port must be a port number, not 'http'" in capsys.readouterr().err
    assert main(["trace", "-r", str(capture), "-c", "spy_ip", "10.1.2"]) == 2
    assert "host_ip must be an IPv4 address" in capsys.readouterr().err
    # the synthetic capture has no I/O data: the chisels print their end alone
    assert run(capsys, capture, "echo_fds") == ["\x1b[0m"]
    assert run(capsys, capture, "stdout") == []


def test_http_parser_pairs_a_request_with_its_response():
    from cdig.collector.chisels.http import HttpParser
    from cdig.collector.events import Event, EventKind, FdInfo

    fd = FdInfo(num=5, type="ipv4", name="1.2.3.4:5->6.7.8.9:80")
    p = HttpParser()

    def ev(ts: int) -> Event:
        return Event(num=1, ts_ns=ts, cpu=0, kind=EventKind.SYSCALL, type="write", dir="<",
                     res=1, latency_ns=0, pid=9, tid=9, uid=0, gid=0, comm="c", cgroup_id=0,
                     fd=fd)

    assert p.feed(ev(1), "POST /a?b=c HTTP/1.1..Host: example.org..Accept: */*....") is None
    assert p.feed(ev(2), "more request body") is None  # not a response: still open
    t = p.feed(ev(3_000_001), "HTTP/1.1 201 Created..Content-Length: 42....")
    assert t is not None and (t["method"], t["url"], t["code"], t["length"]) == \
        ("POST", "example.org/a?b=c", 201, 42)
    assert t["end"] - t["ts"] == 3_000_000 and not p.partial


DOCKER_LOGS = Path(__file__).resolve().parents[1] / "fixtures" / "scap" / \
    "run_as_user_0_container.scap"  # dockerd writes three lines of a container's json.log


def test_spy_logs_prints_each_line_written_to_a_log_file(capsys, monkeypatch, tmp_path):
    from cdig.collector.chisels.logs import SpyLogsRun

    out = run(capsys, DOCKER_LOGS, "spy_logs")
    assert len(out) == 3 and all(ln.startswith("dockerd /var/lib/docker/containers/") for ln in out)
    assert out[0].endswith('-json.log {"log":"root@697956520d89:/# ls\\r\\n","stream":"stdout",'
                           '"time":"2019-07-09T22:31:')
    # -pc: the container's name first (dockerd runs on the host)
    assert run(capsys, DOCKER_LOGS, "spy_logs", "-pc") == ["host " + ln for ln in out]
    # on a terminal: coloured by the text, and reset at the end as sysdig does
    monkeypatch.setattr(sys.stdout, "isatty", lambda: True)
    tty = run(capsys, DOCKER_LOGS, "spy_logs")
    assert [ln[:6] for ln in tty[:3]] == ["\x1b[32m "] * 3 and tty[3] == "\x1b[00m\x1b[0m"
    run_ = SpyLogsRun(pc=False, color=True, tty=True)
    assert run_.colors[:3] == ("\x1b[32m", "\x1b[33m", "\x1b[31m")
    # with a dump file: the capture again, around each write (captures only)
    dump = tmp_path / "around.cdig"
    monkeypatch.setattr(sys.stdout, "isatty", lambda: False)
    lines = run(capsys, DOCKER_LOGS, f"spy_logs {dump} 500")
    assert lines[-1] == "Writing events for 3 log entries" and dump.exists()
    assert main(["trace", "-c", f"spy_logs {dump}"]) == 2
    assert "events export not supported on live captures" in capsys.readouterr().err
    assert main(["trace", "-r", str(DOCKER_LOGS), "-c", f"spy_logs {dump} soon"]) == 2
    assert "dump_range_ms must be a number, not 'soon'" in capsys.readouterr().err


@pytest.fixture(scope="module")
def memcached(tmp_path_factory):
    """A process named memcached reading four commands (as a server does), and an
    unrelated process reading a set: only the first four are memcached's."""
    from test_io_buffers import io_ext

    kw = {"pid": 60, "comm": b"memcached"}
    cmds = [b"get foo\r\n", b"set bar 0 0 5\r\nhello\r\n", b"set num 0 0 42 noreply\r\n",
            b"gets a b\r\n", b"delete foo\r\n", b"get\r\n"]
    xs = [io_ext("read", c, args=(5, 0, 4096), ts=S + i, **kw) for i, c in enumerate(cmds)]
    xs.append(io_ext("read", b"set other 0 0 1\r\n", args=(5, 0, 4096), ts=2 * S,
                     pid=61, comm=b"cat"))
    p = tmp_path_factory.mktemp("memcached") / "m.cdig"
    live_capture(p, [RawBatch(np.zeros(0, dtype=layout.RECORD), np.concatenate(xs))],
                 name_late=False)
    return p


def test_memcachelog_reads_commands_as_sysdigs_lua_does(memcached, capsys):
    from cdig.collector.chisels.memcached import lua_number

    out = [ln.split(" ", 2)[2] for ln in run(capsys, memcached, "memcachelog")]
    # the CR LF of a command render as two dots; a set's data follows its size word
    assert out == ["method=get size=0B key=foo..", "method=set size=0B key=bar",
                   "method=set size=42B key=num", "method=gets size=0B key=a"]
    assert [ln.split(" ", 2)[2] for ln in run(capsys, memcached, "memcachelog set 10")] == \
        ["method=set size=42B key=num"]
    assert [ln.split(" ", 2)[2] for ln in run(capsys, memcached, "memcachelog gets")] == \
        ["method=gets size=0B key=a"]
    assert main(["trace", "-r", str(memcached), "-c", "memcachelog set big"]) == 2
    assert "size must be a number, not 'big'" in capsys.readouterr().err
    assert [lua_number(w) for w in ("42", "4.9", "0x10", "-3", "5..hello..", "", "nan")] == \
        [42, 4, 16, -3, 0, 0, 0]


def test_syslog_messages_decoded_as_sysdigs_decoder():
    from cdig.collector.chisels.logs import syslog_message

    assert syslog_message(b"<13>Dec  2 app: hi") == ("user", "notice", 5, b"Dec  2 app: hi")
    assert syslog_message(b"<191>x") == ("local7", "debug", 7, b"x")
    assert syslog_message(b"<200>x") == ("<NA>", "emerg", 0, b"x")  # facility 25
    assert syslog_message(b"<13>") == ("user", "notice", 5, b"")
    # no digits, not only digits, cut before its '>', and -1 (sysdig's invalid mark)
    for bad in (b"<>x", b"<x>y", b"<1 3>y", b"<13", b"plain text", b"<-1>x", b""):
        assert syslog_message(bad) is None, bad
    assert syslog_message(b"<-2>x") == ("<NA>", "info", 6, b"x")
    # 15 bytes of priority at most, wrapping as a 32-bit integer; the message starts
    # one byte after them
    assert syslog_message(b"<" + b"9" * 20 + b">m") == ("<NA>", "debug", 7, b"9999>m")


def test_spy_syslog_lines_and_colours():
    from test_io_buffers import decoded, io_ext

    from cdig.collector.chisels.logs import SpySyslogRun

    (ev,) = decoded(io_ext("sendto", b"<12>disk \x1b[2J almost full\n", args=(5, 0, 30),
                           pid=70, comm=b"logger"))
    run_ = SpySyslogRun(pc=False, color=True, tty=False)
    assert run_.lines(ev, ev.buffer) == ["user.warn logger[70] disk [2J almost full\n"]
    assert SpySyslogRun(pc=True, color=True, tty=False).lines(ev, b"<13>m") == \
        [f"{'user':<20} {'host':<20} host.notice logger[70] m"]
    tty = SpySyslogRun(pc=False, color=True, tty=True)
    assert [tty.lines(ev, d)[0][:5] for d in (b"<12>w", b"<11>e", b"<14>i", b"x")] == \
        ["\x1b[33m", "\x1b[31m", "\x1b[32m", "\x1b[32m"]
