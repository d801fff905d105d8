"""Output: -p formats, JSON lines, and untrusted strings kept as data."""

from __future__ import annotations

import json
import time
import unicodedata

import pytest
from factories import TCP, WEB, make_event, make_process, openat_event
from hypothesis import given, settings
from hypothesis import strategies as st

from cdig.collector import fields
from cdig.collector.events import EventKind, FdInfo
from cdig.collector.filter import Compare, parse
from cdig.collector.formatter import (
    CONTAINER_FORMAT,
    DEFAULT_FORMAT,
    DEFAULT_JSON_FIELDS,
    Formatter,
    JsonFormatter,
    UnknownFieldError,
    escape_json_string,
    escape_text,
    parse_format,
    text_value,
)


@pytest.fixture(autouse=True)
def utc(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("TZ", "UTC")
    time.tzset()
    fields.clear_time_cache()
    yield
    monkeypatch.undo()
    time.tzset()
    fields.clear_time_cache()


HOSTILE = ["\x1b[31mevil", "%s%n", "{0}", "[bold]x[/]", "a\nb", "\x9b2J", "x\x7fy", "\u202eabc",
           "bell\x07", "nul\x00", "\udcff", "%(name)s", "{e.__class__}"]


def no_terminal_controls(s: str) -> bool:
    """Nothing a terminal would act on: no C0, DEL, C1, or format/bidi characters."""
    return all(ch.isprintable() for ch in s)


# ----------------------------------------------------------------- -p text


def test_default_format_is_sysdigs():
    line = Formatter().format(make_event(num=7, cpu=1, tid=1235))
    assert line == "7 03:04:05.123456789 1 bash (1235) < write fd=3(<f>/dev/null) size=1 res=1"
    assert DEFAULT_FORMAT.startswith("*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid)")


def test_default_format_of_a_failed_open():
    line = Formatter().format(openat_event("/nope", res=-2))
    assert line.endswith("< openat dirfd=-100(AT_FDCWD) path=/nope flags=O_RDONLY|O_CLOEXEC "
                         "mode=0 res=-2(ENOENT)")


def test_container_format():
    line = Formatter(CONTAINER_FORMAT).format(make_event(container=WEB, comm="nginx", tid=9))
    assert line == ("1 03:04:05.123456789 0 web (3f2a9c1b7d4e) nginx (9:<NA>) < write "
                    "fd=3(<f>/dev/null) size=1 res=1")
    host_line = Formatter(CONTAINER_FORMAT).format(make_event(tid=9))
    assert " host (host) bash (9:9) < write" in host_line


def test_literal_text_percent_and_braces():
    f = Formatter("pid=%proc.pid 100%% %{proc.name}x [%evt.type]. %proc.name.")
    assert f.format(make_event()) == "pid=1234 100% bashx [write]. bash."


def test_lone_percent_is_literal():
    assert Formatter("50% %proc.pid %").format(make_event()) == "50% 1234 %"


def test_dynamic_argument_fields():
    f = Formatter("%evt.arg.fd %evt.arg.size %evt.arg.path")
    assert f.format(make_event()) is None  # no path argument, no leading '*': skipped
    assert Formatter("*" + f.fmt).format(make_event()) == "3 1 <NA>"
    assert Formatter("%evt.arg.path").format(openat_event()) == "/etc/passwd"


def test_events_missing_a_field_are_skipped_unless_star():
    e = make_event(fd=None, args={})
    assert Formatter("%proc.name %fd.name").format(e) is None
    assert Formatter("*%proc.name %fd.name").format(e) == "bash <NA>"
    assert Formatter("%proc.name %fd.name").format(make_event()) == "bash /dev/null"


def test_unknown_field_in_format():
    with pytest.raises(UnknownFieldError, match="did you mean 'proc.name'"):
        Formatter("%proc.nmae")
    with pytest.raises(UnknownFieldError):
        Formatter("%{evt.nope}")


def test_parse_format_parts():
    require_all, literals, flds = parse_format("*a %proc.pid b %evt.type")
    assert require_all is False
    assert literals == ["a ", " b ", ""]
    assert [f.name for f in flds] == ["proc.pid", "evt.type"]


@pytest.mark.parametrize("name", HOSTILE)
def test_hostile_process_names_are_escaped(name: str):
    line = Formatter().format(make_event(comm=name))
    assert no_terminal_controls(line)
    assert escape_text(name) in line


@pytest.mark.parametrize("path", HOSTILE)
def test_hostile_paths_are_escaped_in_evt_info(path: str):
    line = Formatter().format(openat_event(path))
    assert no_terminal_controls(line)
    assert "path=" + escape_text(path) + " " in line


def test_format_strings_in_data_are_not_interpreted():
    for name in ("%s%n", "{0}", "%(name)s", "{e.__class__}", "%proc.pid", "[bold]x[/]"):
        assert Formatter("%proc.name").format(make_event(comm=name)) == name


def test_hostile_argv_and_container_names():
    e = make_event(
        kind=EventKind.SYSCALL_ENTER, type="execve", dir=">", fd=None, res=0,
        args={"filename": "/bin/sh", "argv": ["sh", "-c", "printf '\x1b]0;pwned\x07'"]},
        container=WEB.__class__(id="x" * 64, name="\x1b[2Jweb", runtime="docker"),
        proc=make_process(args=["\x1b[31m"]),
    )
    for fmt in (DEFAULT_FORMAT, CONTAINER_FORMAT, "%proc.cmdline %proc.args %container.name"):
        assert no_terminal_controls(Formatter(fmt).format(e))


@pytest.mark.parametrize(
    ("raw", "shown"),
    [
        ("plain", "plain"),
        ("\x1b[31mevil", "\\x1b[31mevil"),
        ("a\nb\tc\rd", "a\\nb\\tc\\rd"),
        ("x\x7fy\x9bz", "x\\x7fy\\u009bz"),
        ("\x85", "\\u0085"),  # a C1 character ...
        ("\udc85", "\\x85"),  # ... is not the undecodable byte 0x85
        ("\u202eabc", "\\u202eabc"),
        ("\udcff", "\\xff"),
        ("back\\slash", "back\\\\slash"),  # so "\x1b" in a name cannot pass for an escape
        ("été 日本", "été 日本"),
        ("\U000e0001", "\\U000e0001"),
    ],
)
def test_escape_text(raw: str, shown: str):
    assert escape_text(raw) == shown


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_text_is_always_printable(s: str):
    out = escape_text(s)
    assert no_terminal_controls(out)
    assert "\x1b" not in out
    if s.isprintable() and "\\" not in s:
        assert out == s


@settings(max_examples=200, deadline=None)
@given(st.text(), st.text())
def test_escaping_is_unambiguous(a: str, b: str):
    if a != b:
        assert escape_text(a) != escape_text(b)


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_escaped_output_pasted_into_a_filter_matches_the_original(s: str):
    quoted = '"' + escape_text(s).replace('"', '\\"') + '"'
    assert parse("proc.name = " + quoted) == Compare("proc.name", "=", (s,))


def test_text_value_helper():
    assert text_value(fields.resolve("fd.name"), make_event(fd=None)) == "<NA>"
    assert text_value(fields.resolve("proc.name"), make_event(comm="\x1b")) == "\\x1b"


# ----------------------------------------------------------------- JSON


def test_json_default_fields_and_types():
    e = make_event(proc=make_process(), container=WEB)
    obj = json.loads(JsonFormatter().format(e))
    assert list(obj) == list(DEFAULT_JSON_FIELDS)
    assert obj["evt.num"] == 1 and obj["proc.pid"] == 1234 and obj["evt.latency"] == 1500
    assert obj["evt.failed"] is False
    assert obj["evt.res"] == "SUCCESS" and obj["evt.rawres"] == 1
    assert obj["evt.time"] == "03:04:05.123456789"
    assert obj["evt.info"] == "fd=3(<f>/dev/null) size=1 res=1"
    assert obj["container.id"] == "3f2a9c1b7d4e" and obj["container.name"] == "web"
    assert obj["k8s.pod.name"] == "web-7d9f"


def test_json_missing_values_are_null():
    obj = json.loads(JsonFormatter().format(make_event(fd=None, args={}, proc=None)))
    assert obj["fd.name"] is None and obj["proc.ppid"] is None and obj["container.image"] is None


def test_json_with_a_format_uses_the_format_fields():
    f = Formatter("%proc.name %evt.arg.fd %fd.sport %evt.failed")
    e = make_event(fd=TCP, args={"fd": 5})
    assert json.loads(f.json(e)) == {"proc.name": "bash", "evt.arg.fd": 5, "fd.sport": 8080,
                                     "evt.failed": False}
    assert f.json(make_event(fd=None)) is None  # same skipping rule as text
    assert json.loads(Formatter("*%fd.name").json(make_event(fd=None))) == {"fd.name": None}


def test_json_lists_and_ips():
    e = make_event(args={"argv": ["ls", "-l"]}, fd=TCP)
    obj = json.loads(JsonFormatter(["evt.arg.argv", "fd.sip", "fd.sport"]).format(e))
    assert obj == {"evt.arg.argv": ["ls", "-l"], "fd.sip": "127.0.0.1", "fd.sport": 8080}


def test_json_unknown_field():
    with pytest.raises(UnknownFieldError):
        JsonFormatter(["proc.nope"])


@pytest.mark.parametrize("name", HOSTILE)
def test_json_of_hostile_names_is_valid_and_terminal_safe(name: str):
    line = JsonFormatter().format(make_event(comm=name, fd=FdInfo(3, "file", name)))
    line.encode("utf-8")  # valid UTF-8: no lone surrogates
    assert no_terminal_controls(line)
    obj = json.loads(line)
    expected = name if "\udcff" not in name else name.replace("\udcff", "\\xff")
    assert obj["proc.name"] == expected
    assert obj["fd.name"] == expected


def test_json_escapes_c1_and_bidi_as_json_escapes():
    assert escape_json_string("\x9b\u202e\x1b") == '"\\u009b\\u202e\\u001b"'
    assert escape_json_string('q"b\\') == '"q\\"b\\\\"'
    assert escape_json_string("\U000e0001") == '"\\udb40\\udc01"'
    assert json.loads(escape_json_string("\U000e0001")) == "\U000e0001"


@settings(max_examples=300, deadline=None)
@given(st.text())
def test_json_strings_round_trip(s: str):
    out = escape_json_string(s)
    out.encode("utf-8")
    assert no_terminal_controls(out)
    back = json.loads(out)
    if not any(unicodedata.category(c) == "Cs" for c in s):
        assert back == s
    else:
        assert "\\x" in back or "\\u" in back


@settings(max_examples=100, deadline=None)
@given(st.text(max_size=20), st.lists(st.text(max_size=8), max_size=3))
def test_whole_json_lines_are_valid_for_any_strings(name: str, argv: list[str]):
    e = make_event(comm=name, args={"filename": name, "argv": argv},
                   proc=make_process(name=name, args=argv))
    line = JsonFormatter([*DEFAULT_JSON_FIELDS, "evt.arg.argv", "proc.args"]).format(e)
    line.encode("utf-8")
    assert no_terminal_controls(line)
    assert isinstance(json.loads(line), dict)
