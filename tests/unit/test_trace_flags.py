"""sysdig's flags of ``cdig trace`` (-L, -t, -S, -e, -v, -P, --unbuffered) and
``cdig top``'s csysdig flags (-d MS, -v VIEW), each in --help and each doing what
it does in sysdig 0.29.3 (``sysdig -h``)."""

from __future__ import annotations

import argparse
import gzip
import io
import re
import subprocess
from pathlib import Path

import numpy as np
import pytest
from records import record
from test_capture import live_capture
from test_chisels_stream import seconds_workload

from cdig.cli import build_parser, main
from cdig.collector.decode import RawBatch
from cdig.collector.fields import FIELDS
from cdig.probes.syscall_table import table
from cdig.probes.syscalls import layout
from cdig.trace_flags import TraceFlags


@pytest.fixture(scope="module")
def cap(tmp_path_factory):
    p = tmp_path_factory.mktemp("flags") / "s.cdig"
    live_capture(p, seconds_workload(), flush_rows=100, name_late=False)
    return p


def lines(capsys, *argv: str) -> list[str]:
    assert main(["trace", *argv]) == 0
    return capsys.readouterr().out.splitlines()


def test_every_flag_is_in_the_help(capsys):
    with pytest.raises(SystemExit):
        main(["trace", "--help"])
    text = capsys.readouterr().out
    for flag in ("-L, --list-events", "-t h|a|r|d|D", "-S, --summary", "-e N, --events N",
                 "-v, --verbose", "-P, --progress", "--unbuffered"):
        assert flag in text, flag
    with pytest.raises(SystemExit):
        main(["top", "--help"])
    text = capsys.readouterr().out
    assert "-d MS, --delay MS" in text and "milliseconds" in text and "-v VIEW" in text


def test_list_events_has_every_syscall_both_ways(capsys):
    out = lines(capsys, "-L")
    names = {s.name for s in table().by_name.values()}
    assert {ln[2:].split("(")[0] for ln in out if ln.startswith("> ")} >= names
    assert {ln[2:].split("(")[0] for ln in out if ln.startswith("< ")} == names
    assert "> openat(FD dirfd, FSPATH path, FLAGS32 flags, UINT32 mode)" in out or \
        any(ln.startswith("> openat(FD dirfd, FSPATH path") for ln in out)
    assert "< read(ERRNO res)" in out and out[-1].startswith("> procexit(")


def test_timetype_changes_the_default_formats_time(cap, capsys):
    # the second record: a write at 0.2 s, 500 ns long, 0.1 s after the first
    second = [ln.split()[1] for ln in lines(capsys, "-r", str(cap), "-t", "a")][1]
    assert second == "1700000000.200000000"
    assert [ln.split()[1] for ln in lines(capsys, "-r", str(cap), "-t", "r")][:2] == \
        ["0.000000000", "0.100000000"]
    assert [ln.split()[1] for ln in lines(capsys, "-r", str(cap), "-t", "d")][1] == \
        "0.000000500"
    d = [ln.split()[1] for ln in lines(capsys, "-r", str(cap), "-t", "D")]
    assert d[:3] == ["0.000000000", "0.100000000", "0.050000000"]
    h = lines(capsys, "-r", str(cap), "-t", "h")
    assert h == lines(capsys, "-r", str(cap)) and h[0].split()[1].count(":") == 2
    # -pc's time column too; a -p of one's own is left as it is
    assert lines(capsys, "-r", str(cap), "-pc", "-t", "a")[1].split()[1] == second
    assert lines(capsys, "-r", str(cap), "-t", "a", "-p", "%evt.num")[0] == "1"
    with pytest.raises(SystemExit):
        main(["trace", "-r", str(cap), "-t", "x"])


def test_summary_counts_both_directions_of_a_call(cap, capsys):
    out = lines(capsys, "-r", str(cap), "-S", "evt.type=write")
    i = out.index("Event           #Calls")
    assert out[i - 1] == out[i + 1] == "-" * 22
    # four writes: sysdig's enter and exit event each
    assert out[i + 2:] == ["> write           4", "< write           4"]
    assert len(out[:i - 1]) == 4  # the lines themselves first


def test_verbose_prints_sysdigs_closing_figures(cap, capsys):
    assert main(["trace", "-r", str(cap), "-v", "-n", "2"]) == 0
    err = capsys.readouterr().err.splitlines()
    assert "Driver Events:11" in err and "Driver Drops:3" in err
    assert any(ln.startswith("Elapsed time: ") and ", Captured Events: 11, " in ln and
               ln.endswith(" eps") for ln in err)


def test_events_per_file_rotates(cap, tmp_path, capsys):
    base = tmp_path / "e.cdig"
    assert main(["trace", "-r", str(cap), "-w", str(base), "-e", "1"]) == 0
    capsys.readouterr()
    files = sorted(tmp_path.glob("e.cdig*"))
    assert len(files) >= 2 and files[0].name == "e.cdig0"
    # every record is in one of them, once
    got = [ln for f in files for ln in lines(capsys, "-r", str(f), "-p", "%evt.num")]
    assert sorted(map(int, got)) == list(range(1, 12))
    assert main(["trace", "-r", str(cap), "-e", "5"]) == 2
    assert "-e applies to a capture being written" in capsys.readouterr().err
    assert main(["trace", "-r", str(cap), "-w", str(tmp_path / "x"), "-e", "0"]) == 2


def test_unbuffered_makes_stdout_line_buffered(monkeypatch):
    import sys

    out = io.TextIOWrapper(io.BytesIO(), encoding="utf-8")
    monkeypatch.setattr(sys, "stdout", out)
    TraceFlags(argparse.Namespace(unbuffered=True))
    assert out.line_buffering


def test_top_takes_milliseconds_and_a_view_as_csysdig():
    ns = build_parser().parse_args(["top", "-d", "250", "-v", "procs"])
    assert ns.delay == 250 and ns.view == "procs"
    assert build_parser().parse_args(["top"]).delay == 1000


def test_top_flag_mistakes(capsys):
    assert main(["top", "-d", "0"]) == 2
    assert "milliseconds" in capsys.readouterr().err
    assert main(["top", "-v", "nosuch"]) == 2
    assert "-v/--view: no view 'nosuch'" in capsys.readouterr().err


def test_delta_of_records_out_of_time_order_reads_as_a_negative_decimal():
    """-t D's column is "%evt.deltatime.s.%evt.deltatime.ns": a capture whose records
    go back in time gives -2.826209957 (split toward zero), never -3.173790043."""
    s, ns = (FIELDS[n].per_output for n in ("evt.deltatime.s", "evt.deltatime.ns"))
    assert s is not None and ns is not None
    assert f"{s.text(-2_826_209_957)}.{ns.text(-2_826_209_957)}" == "-2.826209957"
    assert f"{s.text(-5)}.{ns.text(-5)}" == "-0.000000005"
    assert f"{s.text(1_000_000_001)}.{ns.text(1_000_000_001)}" == "1.000000001"
    assert (s.value(-2_826_209_957), ns.value(-2_826_209_957)) == (-2, 826_209_957)


SAMPLE = Path(__file__).resolve().parents[1] / "fixtures" / "scap" / "run_as_user_0_container.scap"


def progress_figures(err: str) -> tuple[list[float], str]:
    """-P's figures in the order printed, and what ends the progress part of stderr
    ("\\n" after a last figure, "" if erased). Between \\r's: figures, or blanks as long
    as the figure before them (each overwrites the last on a terminal)."""
    end = err.find("\n") if "100.00\n" in err else err.rfind("\r")
    tokens = err[:end].split("\r")
    figures, last = [], ""
    for t in tokens:
        if re.fullmatch(r"\d{1,3}\.\d\d", t):
            figures.append(float(t))
            last = t
        else:
            assert t.strip() == "" and len(t) in (0, len(last)), repr(t)
    return figures, "\n" if err[end:end + 1] == "\n" else ""


@pytest.fixture(scope="module")
def many(tmp_path_factory):
    """A capture of 40 file batches (1,000 getpid calls, 25 per batch)."""
    p = tmp_path_factory.mktemp("progress") / "many.cdig"
    calls = [record("getpid", ret=50, ts=1_000_000 * (i + 1), pid=50, comm=b"loop")
             for i in range(1000)]
    bs = [RawBatch(np.concatenate(calls[i:i + 25]), np.zeros(0, dtype=layout.EXT_RECORD))
          for i in range(0, 1000, 25)]
    live_capture(p, bs, flush_rows=25, name_late=False)
    return p


def test_progress_counts_up_to_100_over_a_capture_of_many_batches(many, capsys):
    assert main(["trace", "-r", str(many), "-P"]) == 0
    err = capsys.readouterr().err
    figures, rest = progress_figures(err)
    assert len(figures) >= 3 and figures == sorted(figures) and figures[0] < 50
    assert figures[-1] == 100.0 and rest == "\n"
    assert err.split("\n")[1].startswith("cdig: ")  # the closing line on a line of its own


def test_summary_progress_counts_up_to_100_then_the_table(many, capsys):
    """cdig summary -P: the same figures as trace -P, then the table on stdout."""
    assert main(["summary", "-r", str(many), "-P", "--by", "syscall"]) == 0
    out, err = capsys.readouterr()
    figures, rest = progress_figures(err)
    assert len(figures) >= 3 and figures == sorted(figures) and figures[0] < 50
    assert figures[-1] == 100.0 and rest == "\n"
    assert err.split("\n")[1].startswith("cdig: ") and "events summarised" in err
    assert out.splitlines()[0].split() == ["calls", "errors", "time", "mean", "evt.type"]
    assert main(["summary", "-r", str(many), "--by", "syscall"]) == 0
    assert "\r" not in capsys.readouterr().err  # without -P: no figures


def test_progress_stopped_early_is_erased_not_100(many, capsys):
    assert main(["trace", "-r", str(many), "-P", "-n", "1"]) == 0
    err = capsys.readouterr().err
    figures, rest = progress_figures(err)
    assert figures and figures[-1] < 100 and rest == ""
    assert err[err.rfind("\r") + 1:].startswith("cdig: 1 events shown")


def test_progress_of_a_scap_plain_and_gzip_in_small_chunks(tmp_path, capsys, monkeypatch):
    from cdig.collector.scap import blocks

    monkeypatch.setattr(blocks, "CHUNK", 4096)  # a batch per 4 KiB (per 16 KiB inflated)
    plain = tmp_path / "s.scap"  # the samples are gzip-compressed
    plain.write_bytes(gzip.decompress(SAMPLE.read_bytes()))
    for path in (plain, SAMPLE):
        assert main(["trace", "-r", str(path), "-P", "proc.name=nosuchname"]) == 0
        figures, rest = progress_figures(capsys.readouterr().err)
        assert len(figures) >= 3 and figures == sorted(figures), (path, figures)
        assert figures[-1] == 100.0 and rest == "\n"


def test_progress_has_sysdigs_form_on_the_same_sample(capsys):
    # sysdig 0.29.3 on this 3,796-event sample prints its final figure only
    r = subprocess.run(["sysdig", "-r", str(SAMPLE), "-P"], capture_output=True, check=True)
    assert main(["trace", "-r", str(SAMPLE), "-P"]) == 0
    ours = progress_figures(capsys.readouterr().err)
    theirs = progress_figures(r.stderr.decode())  # bytes: text mode would turn \r into \n
    assert theirs == ([100.0], "\n") == ours


def test_progress_is_not_asked_live_or_without_the_flag(cap, capsys):
    assert main(["trace", "-r", str(cap)]) == 0
    assert "\r" not in capsys.readouterr().err
    args = build_parser().parse_args(["trace", "-P"])
    assert TraceFlags(args).progress is None  # live: ignored, as sysdig ignores it
