"""The field lists and the filter-only rule at the command line (no root, no capture)."""

from __future__ import annotations

import pytest

from cdig import cli
from cdig.collector import fields


def run(capsys, *argv: str) -> tuple[int, str, str]:
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_trace_l_lv_and_markdown(capsys):
    code, out, _ = run(capsys, "trace", "-l")
    assert code == 0
    assert out.startswith("-" * 31 + "\nField Class:                  evt\n")
    assert "\nproc.aname[N]" not in out and "\nproc.aname " in out
    code, verbose, _ = run(capsys, "trace", "-lv")
    assert code == 0 and "\nfd.net                        (Type: ipnet) (filters only)" in verbose
    code, md, _ = run(capsys, "trace", "--list-markdown")
    assert code == 0 and md.count("\n`") == len(fields.shared_names())


def test_trace_l_takes_only_v(capsys):
    with pytest.raises(SystemExit) as exc:
        cli.main(["trace", "-lx"])
    assert exc.value.code == cli.EXIT_USAGE
    assert "invalid choice: 'x'" in capsys.readouterr().err


@pytest.mark.parametrize("argv", [["trace", "-p", "%fd.port"],
                                  ["export", "--fields", "evt.num,proc.aname",
                                   "--list-columns"]])
def test_filter_only_fields_are_one_usage_error(capsys, argv):
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert "is filter only" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize(("argv", "says"), [
    (["export", "--fields", "evt.num,evt.deltatime", "--list-columns"], "value of -p output"),
    (["trace", "-r", "/nonexistent.scap", "evt.deltatime>1000"], "value of the output"),
])
def test_per_output_fields_are_one_usage_error(capsys, argv, says):
    code, _, err = run(capsys, *argv)
    assert code == cli.EXIT_USAGE
    assert says in err and "evt.deltatime" in err, err
