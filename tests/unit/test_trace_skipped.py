"""``-p`` without a leading '*' skips events a field is missing for (sysdig's rule):
stderr says how many matched, were printed and were skipped, and how to print them."""

from __future__ import annotations

import io
import re
import sys
from pathlib import Path

from cdig.cli import main

CAPTURE = Path(__file__).resolve().parents[1] / "fixtures" / "golden" / "golden.cdig"
SUMMARY = re.compile(r"^cdig: (\d+) events shown, (\d+) seen", re.M)
SKIPPED = re.compile(r"^cdig: (\d+) events matched the filter, (\d+) printed, (\d+) skipped "
                     r"because a field of the format was missing \(begin the format with '\*'",
                     re.M)


def _trace(*argv: str) -> tuple[list[str], str]:
    out, err = io.StringIO(), io.StringIO()
    old = sys.stdout, sys.stderr
    sys.stdout, sys.stderr = out, err
    try:
        assert main(["trace", "-r", str(CAPTURE), *argv]) == 0
    finally:
        sys.stdout, sys.stderr = old
    return out.getvalue().splitlines(), err.getvalue()


def test_skipped_lines_are_counted_apart_from_the_printed_ones():
    everything, err_all = _trace("-p", "*%evt.num %fd.sport")
    assert SKIPPED.search(err_all) is None
    matched = int(SUMMARY.search(err_all).group(1))
    assert matched == len(everything) > 0
    some, err = _trace("-p", "%evt.num %fd.sport")
    shown = int(SUMMARY.search(err).group(1))
    m = SKIPPED.search(err)
    assert m is not None, err
    assert (int(m.group(1)), int(m.group(2))) == (matched, len(some))
    assert shown == len(some) and 0 < len(some) < matched
    assert int(m.group(3)) == matched - len(some)
    # the printed ones are exactly the events that have a server port
    assert [ln for ln in everything if not ln.endswith("<NA>")] == some


def test_json_lines_skip_the_same_way():
    lines, err = _trace("-j", "-p", "%evt.num %fd.sport")
    m = SKIPPED.search(err)
    assert m is not None and int(m.group(2)) == len(lines) == int(SUMMARY.search(err).group(1))


def test_pm_is_sysdigs_mesos_format_and_one_clear_error(capsys):
    """sysdig 0.29.3's -h: -pm/-pmesos is its Mesos format (cdig printed a literal m)."""
    for flag in (["-pm"], ["-p", "mesos"]):
        assert main(["trace", "-r", str(CAPTURE), *flag]) == 2
        out, err = capsys.readouterr()
        assert out == ""
        assert err.strip().splitlines() == [
            "cdig: -pm/-pmesos is sysdig's Mesos format; cdig has no Mesos fields: use -pc "
            "(containers) or -pk (Kubernetes), or -p with a format"], err
