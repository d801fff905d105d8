"""The CLI's user-facing failures: one line, non-zero exit, no traceback (no root needed)."""

import argparse
import inspect
import os

import pytest

from cdig import cli


def run(capsys, *argv):
    code = cli.main(list(argv))
    out, err = capsys.readouterr()
    assert "Traceback" not in err
    return code, out, err


def test_bad_filter_is_positioned_usage_error(capsys):
    code, _, err = run(capsys, "trace", "proc.name", "=")
    assert code == cli.EXIT_USAGE
    lines = err.splitlines()
    assert lines[0].startswith("cdig: bad filter:") and "column" in lines[0]
    assert lines[2].strip() == "^"


def test_unknown_field_in_format_suggests(capsys):
    code, _, err = run(capsys, "trace", "-p", "%proc.nme")
    assert code == cli.EXIT_USAGE
    assert err.strip() == "cdig: bad format: unknown field 'proc.nme'; did you mean 'proc.name'?"


@pytest.mark.parametrize("argv,needle", [
    (("trace", "-n", "0"), "-n needs a positive number"),
    (("trace", "--buffer-mb", "3"), "power of two"),
    (("probe",), "try --dump-bpf"),
])
def test_bad_options(capsys, monkeypatch, argv, needle):
    monkeypatch.setattr(os, "geteuid", lambda: 0)
    code, _, err = run(capsys, *argv)
    assert code != 0 and needle in err and len(err.strip().splitlines()) == 1


def test_live_trace_without_root_says_so(capsys, monkeypatch):
    monkeypatch.setattr(os, "geteuid", lambda: 1000)
    code, _, err = run(capsys, "trace", "evt.type=open")
    assert code == cli.EXIT_ERROR
    assert err.strip() == "cdig: live tracing needs root (BPF); run with sudo"


def test_field_list(capsys):
    code, out, _ = run(capsys, "trace", "-l")
    assert code == 0
    for name in ("evt.type", "proc.name", "container.name", "k8s.pod.name", "fd.sip"):
        assert f"\n{name} " in out


def test_dump_bpf_applies_filter_pushdown(capsys):
    code, out, _ = run(capsys, "probe", "--dump-bpf", "proc.pid=1 and evt.type=write")
    assert code == 0 and "#define FILTER_PID" in out and "#define FILTER_SYSCALL" in out


def test_internal_errors_are_one_line(capsys, monkeypatch):
    def boom(args):
        raise RuntimeError("x")
    monkeypatch.setattr(cli, "cmd_doctor", boom)
    monkeypatch.delenv("CDIG_DEBUG", raising=False)
    parser = cli.build_parser
    monkeypatch.setattr(cli, "build_parser", lambda *a: _with(parser(*a), boom))
    code, _, err = run(capsys, "doctor")
    assert code == cli.EXIT_ERROR and err.startswith("cdig: internal error: RuntimeError: x")


def test_every_lazy_subcommand_resolves():
    # cli.Lazy names its function by a string: a renamed module or function would
    # only fail when that subcommand runs, so every one is imported here
    choices = cli.build_parser()._subparsers._group_actions[0].choices
    lazy = {n: p.get_default("func") for n, p in choices.items()
            if isinstance(p.get_default("func"), cli.Lazy)}
    assert set(lazy) == {"top", "summary", "export", "convert", "exporter", "containers"}
    for f in lazy.values():
        inspect.signature(f.resolve()).bind(argparse.Namespace())  # TypeError if not f(args)


def _with(parser, func):
    parser._subparsers._group_actions[0].choices["doctor"].set_defaults(func=func)
    return parser


def test_no_command_prints_help(capsys):
    code, _, err = run(capsys)
    assert code == cli.EXIT_USAGE and "usage:" in err


_COMMAND_LINES = [
    ["trace", "-r", "x.scap", "-p", "%evt.num %proc.name", "evt.type=openat"],
    ["trace", "-A", "-n", "3", "--container", "web", "-s", "0", "proc.name=summary"],
    ["summary", "-r", "x.scap", "--by", "file", "--top", "5", "-j"],
    ["top", "-d", "250", "-v", "procs", "--paused"], ["export", "-r", "x", "--format", "csv"],
    ["convert", "in.cdig", "out.scap", "--to", "scap"], ["exporter", "--no-latency"],
    ["probe", "--dump-bpf", "proc.pid=1"], ["containers", "-j"], ["doctor"], [],
]


@pytest.mark.parametrize("argv", _COMMAND_LINES, ids=lambda a: " ".join(a[:1]) or "none")
def test_parser_of_the_named_commands_parses_alike(argv):
    # main() builds only the arguments of the commands its words name (argparse's
    # add_argument is ~2 ms of every start): the same namespace as the whole parser's
    def named(ns):
        f = ns.__dict__.pop("func", None)
        return vars(ns), (f.module, f.name) if isinstance(f, cli.Lazy) else f

    assert named(cli.build_parser(set(argv)).parse_args(argv)) == \
        named(cli.build_parser().parse_args(argv))


def test_parser_of_one_command_has_the_others_empty(capsys):
    choices = cli.build_parser({"summary"})._subparsers._group_actions[0].choices
    assert [a.dest for a in choices["trace"]._actions] == ["help"]
    assert "--by" in choices["summary"]._option_string_actions
    # the help of the whole and of a command is the whole parser's
    for argv in (["--help"], ["summary", "--help"], ["trace", "--help"], ["nope"]):
        with pytest.raises(SystemExit):
            cli.main(argv)
        got = capsys.readouterr()
        with pytest.raises(SystemExit):
            cli.build_parser().parse_args(argv)
        assert capsys.readouterr() == got


def test_help_width_is_shutils(monkeypatch):
    # the parsers' formatters take this width (argparse's default would import shutil)
    import fcntl
    import pty
    import shutil
    import struct
    import sys as _sys
    import termios

    for columns in (None, "100", "37", "0", "-5", "x"):
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        assert cli._help_width() == shutil.get_terminal_size().columns - 2, columns
        master, slave = pty.openpty()
        try:
            fcntl.ioctl(slave, termios.TIOCSWINSZ, struct.pack("HHHH", 30, 123, 0, 0))
            with open(slave, "w", closefd=False) as tty:
                monkeypatch.setattr(_sys, "__stdout__", tty)
                assert cli._help_width() == shutil.get_terminal_size().columns - 2, columns
                monkeypatch.setattr(_sys, "__stdout__", None)
                assert cli._help_width() == shutil.get_terminal_size().columns - 2, columns
        finally:
            os.close(master)
            os.close(slave)
    for columns in (None, "60"):  # every help text as argparse's own formatters make it
        if columns is None:
            monkeypatch.delenv("COLUMNS", raising=False)
        else:
            monkeypatch.setenv("COLUMNS", columns)
        p = cli.build_parser()
        for q in (p, *p._subparsers._group_actions[0].choices.values()):
            ours = q.format_help(), q.format_usage()
            q.formatter_class = argparse.RawDescriptionHelpFormatter \
                if issubclass(q.formatter_class, argparse.RawDescriptionHelpFormatter) \
                else argparse.HelpFormatter
            assert (q.format_help(), q.format_usage()) == ours
