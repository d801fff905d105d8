"""Chisels (``cdig trace -c``): sysdig's table chisels over a capture with known figures,
their output layout and number formats, and the command line around them.

The same chisels are compared with the real sysdig on .scap files in
tests/integration/test_chisels_sysdig.py.
"""

from __future__ import annotations

import argparse
import io

import pytest
from test_summary import N_ENOENT, N_WRITES, B, live_capture, workload

from cdig.chisel_cmd import ChiselPlan
from cdig.cli import main
from cdig.collector.chisels import CHISELS, ChiselError, describe, list_text, lookup
from cdig.collector.chisels.tables import _extend, format_bytes, format_time


@pytest.fixture(scope="module")
def capture(tmp_path_factory):
    p = tmp_path_factory.mktemp("chisels") / "w.cdig"
    live_capture(p, workload(), flush_rows=100, name_late=False)
    return p


def chisel(capsys, capture, *words: str) -> list[str]:
    assert main(["trace", "-r", str(capture), "-c", *words]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[1] == "-" * 80
    return out


def test_files_processes_errors_and_connections_exact(capture, capsys):
    total = N_WRITES * B  # 16,000 bytes: 15.63KB
    out = chisel(capsys, capture, "topfiles_bytes")
    assert out[0] == "Bytes               Filename            "
    assert out[2:] == [f"{format_bytes(total):<20}/data/log"] and format_bytes(total) == "15.63KB"
    assert chisel(capsys, capture, "topprocs_file")[2:] == [f"{'15.63KB':<20}{'server':<20}50"]
    assert chisel(capsys, capture, "topprocs_errors")[2:] == [f"{N_ENOENT:<20}{'client':<20}60"]
    # sysdig's fd.type=file needs an fd: a failed open has none (as in sysdig)
    assert chisel(capsys, capture, "topfiles_errors")[2:] == []
    conns = chisel(capsys, capture, "topconns")
    assert conns[0].split() == ["Bytes", "Proto", "Conn"] and len(conns) == 3
    assert conns[2].startswith(f"{'300B':<20}{'tcp':<20}") and conns[2].endswith("10.1.2.3:443")
    assert chisel(capsys, capture, "topcontainers_file")[2:] == [f"{'15.63KB':<20}web"]
    # the host is not a container
    assert chisel(capsys, capture, "topcontainers_net")[2:] == []


def test_syscall_tables_count_completed_calls(capture, capsys):
    calls = {ln[20:]: ln[:20].strip() for ln in chisel(capsys, capture, "topscalls")[2:]}
    assert calls["write"] == str(N_WRITES + 3) and calls["openat"] == str(N_ENOENT + 1)
    times = {ln[20:]: ln[:20].strip() for ln in chisel(capsys, capture, "topscalls_time")[2:]}
    assert times["write"] == format_time(N_WRITES * 1000 + 3 * 500) == "251us"


def test_the_user_filter_and_the_chisels_own_both_apply(capture, capsys):
    assert chisel(capsys, capture, "topfiles_bytes", "proc.name=client")[2:] == []
    assert chisel(capsys, capture, "fdbytes_by", "proc.name", "container.name=web")[2:] == \
        [f"{'15.63KB':<20}server"]
    # the quoted form, as sysdig's -c 'NAME ARGS'
    assert chisel(capsys, capture, "fdbytes_by fd.l4proto")[2:] == [f"{'300B':<20}tcp"]


def test_print_container_variant(capture, capsys):
    assert main(["trace", "-r", str(capture), "-pc", "-c", "topfiles_bytes"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["Bytes", "container.name", "Filename"]
    assert out[2] == f"{'15.63KB':<20}{'web':<20}/data/log"


def test_number_formats_are_sysdigs():
    assert [format_bytes(v) for v in (0, 1024, 1025, 1 << 20, (1 << 20) + 1, 5 << 30)] == \
        ["0B", "1024B", "1.00KB", "1024.00KB", "1.00M", "5.00G"]
    assert [format_time(v) for v in (999, 1_000, 9_999, 10_000, 999_999, 1_000_000,
                                     9_999_999, 10_000_000, 999_999_999, 1_000_000_000,
                                     61_234_567_890)] == \
        ["999ns", "1.00us", "9.99us", "10us", "999us", "1.00ms", "9.99ms", "10ms", "999ms",
         "1.00s", "61.23s"]
    assert _extend("abc", 5) == "abc  " and _extend("abcdef", 5) == "abcd " and \
        _extend("x" * 20, 20) == "x" * 19 + " "


def test_listing_describing_and_mistakes(capsys):
    text = list_text()
    assert "Category: I/O" in text and "topfiles_bytes  Top files by R+W bytes" in text
    assert all(name in text for name in CHISELS) and len(CHISELS) >= 15
    assert "[string] key - The filter field used for grouping" in describe("fdbytes_by")
    assert describe("topconns").splitlines()[-1] == "(None)"
    assert main(["trace", "-cl"]) == 0 and "Category: Net" in capsys.readouterr().out
    assert main(["trace", "-i", "fdtime_by"]) == 0 and "fdtime_by" in capsys.readouterr().out
    with pytest.raises(ChiselError, match="did you mean topconns"):
        lookup("topconn")
    ns = argparse.Namespace(chisel="fdbytes_by", filter=[], format=None)
    with pytest.raises(Exception, match="needs 1 argument: missing key"):
        ChiselPlan(ns)
    assert main(["trace", "-r", "x", "-c", "nosuch"]) == 2
    assert "unknown chisel 'nosuch'" in capsys.readouterr().err
    assert main(["trace", "-r", "x", "-c", "fdbytes_by", "no.such.field"]) != 0
    assert "no.such.field" in capsys.readouterr().err


def test_live_table_only_redraws_on_a_terminal():
    ns = argparse.Namespace(chisel="topscalls", filter=["proc.name=x"], format=None)
    plan = ChiselPlan(ns)
    assert ns.filter == ["proc.name=x"] and plan.filter_text("proc.name=x") == "proc.name=x"
    assert plan.live_ticker(io.StringIO()) is None  # a pipe: one table at the end

    class Tty(io.StringIO):
        def isatty(self) -> bool:
            return True

    now = [0.0]
    out = Tty()
    tick = plan.live_ticker(out, clock=lambda: now[0])
    assert tick is not None
    tick()
    assert out.getvalue() == ""  # not a second yet
    now[0] = 1.5
    tick()
    assert out.getvalue().startswith("\x1b[H\x1b[2J# Calls")


def test_slower_chisels_threshold_colour_and_header(capture, capsys):
    # the container's writes took 1,000 ns each, the rest 500 ns: a threshold of
    # 0.0009 ms keeps exactly those writes (latency / 10^6 > min_ms, strictly)
    assert main(["trace", "-r", str(capture), "-c", "scallslower", "0.0009"]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split() == ["evt.datetime", "proc.name", "LATENCY(ms)", "evt.type"]
    body = out[2:]
    assert len(body) == N_WRITES and all(ln.endswith(" write") for ln in body)
    assert all(" server " in ln and ln.startswith("\x1b[34m") for ln in body)  # container
    assert body[0][5 + 24:].split()[1] == "0.001"  # Lua's tostring of 1000 / 10^6
    assert main(["trace", "-r", str(capture), "-c", "scallslower", "0.0004"]) == 0
    host = [ln for ln in capsys.readouterr().out.splitlines()[2:] if " client " in ln]
    assert host and all(ln.startswith("\x1b[32m") and " 0.0005 " in ln for ln in host)
    # the quoted form takes the optional argument; colours off
    assert main(["trace", "-r", str(capture), "-c", "scallslower 0.0009 disable_color"]) == 0
    assert "\x1b[" not in capsys.readouterr().out
    assert main(["trace", "-r", str(capture), "-c", "fileslower", "0"]) == 0
    files = capsys.readouterr().out.splitlines()[2:]
    assert len(files) == N_WRITES and all(ln.rstrip().endswith(" /data/log") for ln in files)
    assert main(["trace", "-r", str(capture), "-c", "netlower", "5"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 2  # nothing that slow: the header
    assert main(["trace", "-r", str(capture), "-c", "netlower", "x"]) == 2
    assert "min_ms must be a number" in capsys.readouterr().err
