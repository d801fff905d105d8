"""The filter language: parsing, errors, evaluation, pushdown, vectorised evaluation."""

from __future__ import annotations

import fnmatch
import ipaddress
import operator

import numpy as np
import pytest
from factories import DEV_NULL, TCP, WEB, make_event, make_process, openat_event
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from cdig.collector.events import HOST, EventKind, FdInfo
from cdig.collector.fields import FieldType, canonical_errno_name, resolve, value_text
from cdig.collector.filter import (
    VECTOR_FIELDS,
    And,
    Compare,
    Filter,
    FilterError,
    KernelFilter,
    Not,
    Or,
    RawColumns,
    compile_expr,
    compile_filter,
    compile_vectorized,
    parse,
    pushdown,
    to_text,
)

SETTINGS = settings(max_examples=250, deadline=None, suppress_health_check=[HealthCheck.too_slow])


def matches(text: str, event) -> bool:
    return compile_filter(text).match(event)


# ----------------------------------------------------------------- evaluation


WRITE = make_event()
OPEN_FAIL = openat_event("/etc/shadow", res=-13)
OPEN_OK = openat_event("/etc/passwd")
CONNECT = make_event(type="connect", args={"fd": 5, "addr": "127.0.0.1:8080"}, res=0, fd=TCP)
IN_WEB = make_event(container=WEB, comm="nginx", pid=77, tid=78, uid=101)


@pytest.mark.parametrize(
    ("text", "event", "expected"),
    [
        ("", WRITE, True),
        ("   ", WRITE, True),
        ("proc.name = bash", WRITE, True),
        ("proc.name == bash", WRITE, True),
        ("proc.name=bash", WRITE, True),
        ("proc.name != bash", WRITE, False),
        ("proc.name = nginx", WRITE, False),
        ("proc.name contains as", WRITE, True),
        ("proc.name icontains AS", WRITE, True),
        ("proc.name startswith ba", WRITE, True),
        ("proc.name endswith sh", WRITE, True),
        ("proc.name endswith ba", WRITE, False),
        ("proc.name glob 'b*h'", WRITE, True),
        ("proc.name glob b?", WRITE, False),
        ("proc.name in (sh, bash, zsh)", WRITE, True),
        ("proc.name in (sh,zsh)", WRITE, False),
        ("proc.name exists", WRITE, True),
        ("proc.pid = 1234", WRITE, True),
        ("proc.pid = 0x4d2", WRITE, True),
        ("proc.pid > 1000 and proc.pid <= 1234", WRITE, True),
        ("proc.pid < 1234", WRITE, False),
        ("proc.pid >= 1235", WRITE, False),
        ("proc.pid in (1, 1234)", WRITE, True),
        ("thread.tid != 1234", WRITE, False),
        ("evt.type = write and evt.dir = <", WRITE, True),
        ("evt.dir = >", WRITE, False),
        ("evt.failed = true", OPEN_FAIL, True),
        ("evt.failed = TRUE", OPEN_FAIL, True),
        ("evt.failed = false", OPEN_FAIL, False),
        ("evt.failed = true", WRITE, False),
        ("evt.res = EACCES", OPEN_FAIL, True),
        ("evt.res = SUCCESS", OPEN_FAIL, False),
        ("evt.res = SUCCESS", OPEN_OK, True),
        ("evt.res != SUCCESS", OPEN_FAIL, True),
        ("evt.res startswith EA", OPEN_FAIL, True),
        ("evt.rawres = -13", OPEN_FAIL, True),
        ("evt.rawres < 0", OPEN_FAIL, True),
        ("evt.res = EWOULDBLOCK", make_event(res=-11), True),  # an alias of EAGAIN
        ("fd.name = /dev/null", WRITE, True),
        ("fd.name pmatch (/dev)", WRITE, True),
        ("fd.name pmatch (/dev/)", WRITE, True),
        ("fd.name pmatch (/de)", WRITE, False),
        ("fd.name pmatch (/usr, /dev/null)", WRITE, True),
        ("fd.name pmatch (/)", WRITE, True),
        ("fs.path.name pmatch (/etc)", OPEN_OK, True),
        ("fs.path.name = /etc/passwd", OPEN_OK, True),
        ("fd.sip = 127.0.0.1", CONNECT, True),
        ("fd.sip = 127.0.0.2", CONNECT, False),
        ("fd.sip != 127.0.0.2", CONNECT, True),
        ("fd.sip in (10.0.0.1, 127.0.0.1)", CONNECT, True),
        ("fd.sport = 8080 and fd.cport = 40000", CONNECT, True),
        ("fd.l4proto = tcp", CONNECT, True),
        ("fd.type = ipv4", CONNECT, True),
        ("container.name = web and container.id = 3f2a9c1b7d4e", IN_WEB, True),
        ("container.id = host", WRITE, True),
        ("container.image contains nginx", IN_WEB, True),
        ("k8s.ns.name = prod", IN_WEB, True),
        ("user.uid = 101", IN_WEB, True),
        ("user.name = root", WRITE, True),
        ("evt.arg.fd = 3", WRITE, True),
        ("evt.arg.fd = 0x3", WRITE, True),
        ("evt.arg.fd > 2", WRITE, True),
        ("evt.arg.fd in (1, 3)", WRITE, True),
        ("evt.arg.fd != 3", WRITE, False),
        ("evt.arg.path = /etc/passwd", OPEN_OK, True),
        ("evt.arg.path > 3", OPEN_OK, False),  # a string argument is not a number
        ("evt.arg.flags contains O_CLOEXEC", OPEN_OK, True),
        ("evt.arg.name = /etc/shadow", OPEN_FAIL, True),  # sysdig's name of open's path
        ("evt.arg.size exists", OPEN_FAIL, False),
        ("evt.info contains '(<f>/dev/null)'", WRITE, True),
        ("evt.latency > 1000", WRITE, True),
        ("not proc.name = bash", WRITE, False),
        ("not not proc.name = bash", WRITE, True),
        ("proc.name = sh or proc.name = bash", WRITE, True),
        ("proc.name = sh or proc.name = zsh", WRITE, False),
        ("proc.name = sh or proc.pid = 1234 and evt.type = write", WRITE, True),
        ("(proc.name = sh or proc.pid = 1234) and evt.type = read", WRITE, False),
        ("not (proc.name = sh or evt.type = read)", WRITE, True),
        ("not(proc.name=sh)and(evt.type=write)", WRITE, True),
        ('proc.name = "bash"', WRITE, True),
        ("proc.name = 'bash'", WRITE, True),
    ],
)
def test_evaluation(text: str, event, expected: bool):
    assert matches(text, event) is expected


def test_precedence_not_and_or():
    # not > and > or: "a or b and c" is "a or (b and c)".
    assert parse("proc.pid=1 or proc.pid=2 and proc.pid=3") == Or(
        (Compare("proc.pid", "=", ("1",)),
         And((Compare("proc.pid", "=", ("2",)), Compare("proc.pid", "=", ("3",)))))
    )
    assert parse("not proc.pid=1 and proc.pid=2") == And(
        (Not(Compare("proc.pid", "=", ("1",))), Compare("proc.pid", "=", ("2",)))
    )


@pytest.mark.parametrize(
    "text",
    ["fd.name = /dev/null", "fd.name != /x", "fd.num > 1", "fd.sip = 1.2.3.4", "fd.sip != ::1",
     "fd.name contains a", "fd.name pmatch (/)", "proc.ppid in (1)", "proc.cmdline glob *"],
)
def test_missing_fields_never_compare_true(text: str):
    event = make_event(fd=None, args={}, proc=None)
    assert matches(text, event) is False
    assert matches(f"not ({text})", event) is True


def test_exists_on_missing_and_present_fields():
    assert matches("fd.name exists", make_event(fd=None)) is False
    assert matches("not fd.name exists", make_event(fd=None)) is True
    assert matches("fd.name exists", WRITE) is True
    assert matches("container.image exists", WRITE) is False  # the host has no image


def test_ip_comparison_is_by_address_not_text():
    fd = FdInfo(num=5, type="ipv6", name="x", l4proto="tcp", cip="::1", cport=1,
                sip="0:0::1", sport=2)
    e = make_event(fd=fd)
    assert matches("fd.sip = ::1", e)
    assert matches("fd.cip = '0::1'", e)
    assert not matches("fd.sip = 127.0.0.1", e)


def test_quoted_values_and_escapes():
    r"""sysdig 0.29.3's escapes (measured with sysdig -r, tests/unit/test_filter_sysdig.py):
    \\ and \" are the characters, \xHH a byte; any other backslash stays as typed."""
    e = make_event(comm='a "b" \\c')
    assert matches(r'proc.name = "a \"b\" \\c"', e)
    assert matches(r"proc.name = 'a \"b\" \\c'", e)
    assert matches(r"proc.name = 'a \'b\' \\c'", make_event(comm="a \\'b\\' \\c"))
    assert matches(r'proc.name = "\x1b[31mevil"', make_event(comm="\x1b[31mevil"))
    # cdig's output escapes mean their character (sysdig keeps them as typed)
    assert matches(r'proc.name = "tab\there"', make_event(comm="tab\there"))
    assert matches(r'proc.name = "\u00e9t\u00e9"', make_event(comm="été"))
    assert matches(r'proc.name = "a\ b"', make_event(comm="a\\ b"))
    assert matches(r'proc.name = "\xc3\xa9t\xc3\xa9"', make_event(comm="été"))
    # \xNN above 0x7f that is not UTF-8 is a raw byte, as the output shows undecodable bytes.
    assert matches(r'proc.name = "\xff"', make_event(comm="\udcff"))
    # bare values: the same escapes; '=', ',' and quotes after the first character
    assert matches(r"proc.name = a\x20b", make_event(comm="a b"))
    assert matches(r"proc.name = a\\b", make_event(comm="a\\b"))
    assert matches(r"proc.name = a\qb", make_event(comm="a\\qb"))
    assert matches('proc.name = a"b', make_event(comm='a"b'))
    assert matches("proc.name = a=b,c", make_event(comm="a=b,c"))
    assert matches("proc.name in (a,b)", make_event(comm="b"))


def test_bare_values_may_hold_operator_characters():
    assert matches("evt.arg.addr = 127.0.0.1:8080", CONNECT)
    assert matches("fd.name = 127.0.0.1:40000->127.0.0.1:8080", CONNECT)
    assert matches("proc.name = a!b<c", make_event(comm="a!b<c"))


def test_keywords_as_values_and_field_prefixes():
    assert matches("proc.name = and", make_event(comm="and"))
    assert matches("proc.name in (or, not)", make_event(comm="not"))


def test_filter_object():
    f = Filter("proc.name = bash and evt.type in (write, read)")
    assert f(WRITE) and not f(OPEN_OK)
    assert f.fields == frozenset({"proc.name", "evt.type"})
    assert f.pushdown().syscalls == frozenset({"write", "read"})
    assert "proc.name" in repr(f)


# ----------------------------------------------------------------- errors


@pytest.mark.parametrize(
    ("text", "column", "message"),
    [
        ("proc.name = ", 12, "expected a value after '='"),
        ("proc.nme = bash", 0, "unknown field 'proc.nme'; did you mean 'proc.name'?"),
        ("zzz = 1", 0, "unknown field 'zzz'"),
        ("proc.name bash", 10, "expected an operator after 'proc.name', got 'bash'"),
        ("proc.name ! a", 10, "expected an operator after 'proc.name'"),
        ("proc.name", 9, "expected an operator after 'proc.name', got the end of the filter"),
        ("proc.pid = abc", 11, "expected a number for proc.pid, got 'abc'"),
        ("proc.pid in (1, x)", 16, "expected a number for proc.pid, got 'x'"),
        ("proc.pid contains 1", 0, "operator 'contains' does not apply to proc.pid (a number)"),
        ("proc.name < a", 0, "operator '<' does not apply to proc.name (a string)"),
        ("evt.failed = maybe", 13, "expected true or false for evt.failed"),
        ("fd.sip = 1.2.3", 9, "expected an IP address for fd.sip"),
        ("evt.arg.fd > x", 13, "expected a number for evt.arg.fd"),
        ("proc.name in bash", 13, "expected '(' and a list of values after 'in'"),
        ("proc.name in (a b)", 16, "expected ',' or ')' in the list, got 'b'"),
        ("proc.name in (a,)", 16, "expected a value in the list"),
        ("proc.name = a\\", 13, "a value cannot end with a lone backslash"),
        ("proc.name = a\\ b", 13, "a value cannot end with a lone backslash"),
        ('proc.name = "\\xZZ"', 13, "bad escape '\\\\xZZ': \\x takes two hex digits"),
        ("evt.type = nosuchcall", 11, "unknown event type 'nosuchcall'"),
        ("evt.type in (read, opnat)", 19, "unknown event type 'opnat'; did you mean 'openat'?"),
        ("evt.type = OPENAT", 11, "unknown event type 'OPENAT'; did you mean 'openat'?"),
        ("evt.arg.nosuch = 1", 8, "unknown event argument 'nosuch'"),
        ("evt.arg.pth exists", 8, "unknown event argument 'pth'; did you mean 'evt.arg.path'?"),
        ("evt.arg.path bcontains GET", 23, "expected hex bytes"),
        ("proc.name bcontains 474", 20, "expected hex bytes"),
        ("proc.name in (a,", 16, "expected a value in the list"),
        ("(proc.name = a", 14, "expected ')' to close '(' from column 0"),
        ("(proc.name = a b", 15, "unexpected 'b'; expected 'and', 'or' or ')'"),
        ("proc.name = a)", 13, "unexpected ')' without a matching '('"),
        ("proc.name = a b", 14, "unexpected 'b'; expected 'and', 'or' or the end of the filter"),
        ('proc.name = "abc', 12, "unterminated string"),
        ("proc.name = 'abc\\'", 12, "unterminated string"),
        ('proc.name = "\\x4"', 13, "bad escape"),
        ("proc.name = a and", 17, "expected a field name after 'and', got the end of the filter"),
        ("proc.name = a or or", 17, "expected a field name after 'or', got 'or'"),
        ("and proc.name = a", 0, "expected a field name, got 'and'"),
        ("= a", 0, "expected a field name, got '='"),
        ("()", 1, "expected a field name after '(', got ')'"),
        ("not", 3, "expected a field name after 'not'"),
        ("proc.name = (a)", 12, "expected a value after '='"),
        ("proc.pid = " + "9" * 5000, 11, "expected a number for proc.pid"),
    ],
)
def test_errors_have_a_message_and_column(text: str, column: int, message: str):
    with pytest.raises(FilterError) as exc:
        compile_filter(text)
    assert exc.value.column == column
    assert message in exc.value.message
    assert exc.value.text == text


def test_error_format_points_at_the_column():
    with pytest.raises(FilterError) as exc:
        compile_filter("proc.name = ")
    assert exc.value.format() == (
        "cdig: bad filter: expected a value after '=' at column 12\n"
        "  proc.name = \n"
        "              ^"
    )


def test_error_format_escapes_control_characters_and_keeps_the_caret_aligned():
    with pytest.raises(FilterError) as exc:
        compile_filter("proc.name = '\x1b[2J' x")
    lines = exc.value.format().split("\n")
    assert "\x1b" not in exc.value.format()
    assert lines[1] == "  proc.name = '\\x1b[2J' x"
    assert lines[2].index("^") == lines[1].index(" x") + 1


def test_error_format_counts_wide_characters_twice():
    with pytest.raises(FilterError) as exc:
        compile_filter("proc.name = 日本 x")
    lines = exc.value.format().split("\n")
    assert lines[2] == "  " + " " * len("proc.name = ") + "    " + " " + "^"


def test_deep_nesting_is_an_error_not_a_crash():
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter("(" * 5000 + "proc.pid=1" + ")" * 5000)
    with pytest.raises(FilterError, match="nested too deeply"):
        compile_filter("not " * 5000 + "proc.pid=1")
    compile_filter("(" * 50 + "proc.pid=1" + ")" * 50)  # reasonable nesting is fine


def test_long_flat_chains_compile_and_evaluate():
    text = " and ".join(["proc.pid = 1234"] * 3000)
    assert matches(text, WRITE)
    text = " or ".join(["proc.pid = 1"] * 3000)
    assert not matches(text, WRITE)


# ----------------------------------------------------------------- properties: robustness

FIELD_NAMES = sorted(
    ["proc.name", "proc.pid", "thread.tid", "evt.type", "evt.failed", "evt.res", "evt.rawres",
     "fd.name", "fd.sip", "fd.sport", "evt.arg.fd", "evt.arg.path", "container.id", "fs.path.name",
     "proc.nam", "evt.arg", "evt.arg.", "x"]
)
TOKENS = [
    *FIELD_NAMES, "=", "==", "!=", "<", "<=", ">", ">=", "!", "contains", "icontains",
    "startswith", "endswith", "glob", "in", "pmatch", "exists", "and", "or", "not", "(", ")", ",",
    "bash", "1", "-1", "0x10", "true", "false", "127.0.0.1", "::1", "ENOENT", "SUCCESS", "/etc",
    '"', "'", '"a b"', "'x'", '"\\', '"\\x"', '"\\u12"', "\\", "\x00", "\x1b[31m", "日本", "%s",
]
EVENTS = [WRITE, OPEN_FAIL, OPEN_OK, CONNECT, IN_WEB,
          make_event(fd=None, args={}, proc=make_process()),
          make_event(kind=EventKind.EXIT, type="procexit", dir=">", res=0, fd=None, args={})]


def _compile_and_run(text: str) -> None:
    try:
        f = compile_filter(text)
    except FilterError as exc:
        assert 0 <= exc.column <= len(text)
        exc.format()  # rendering the error must not fail either
        return
    for e in EVENTS:
        assert f.match(e) in (True, False)
    f.pushdown()


@SETTINGS
@given(st.text(max_size=60))
def test_random_text_raises_only_filter_errors(text: str):
    _compile_and_run(text)


@SETTINGS
@given(
    st.lists(st.sampled_from(TOKENS), max_size=14),
    st.lists(st.sampled_from(["", " ", "  ", "\t"]), min_size=14, max_size=14),
)
def test_random_token_sequences_raise_only_filter_errors(tokens: list[str], gaps: list[str]):
    _compile_and_run("".join(t + g for t, g in zip(tokens, gaps, strict=False)))


# ----------------------------------------------------------------- properties: round trip

# Values per field, chosen to hit the synthetic events often.
STR_VALUES = {
    "proc.name": ["bash", "nginx", "sh", "ba", "a b", "\x1b[31m", "", 'x"y', "and", "o'k",
                  "back\\slash", "é", "(", "b*", "*", "[ab]*", "\udcff", "\u202e"],
    "evt.type": ["write", "openat", "connect", "procexit", "read"],
    "evt.res": ["SUCCESS", "EACCES", "ENOENT", "EWOULDBLOCK", "EAGAIN", "E"],
    "evt.dir": ["<", ">"],
    "fd.name": ["/dev/null", "/dev", "/etc/passwd", "/etc", "/", "127.0.0.1", "/dev/"],
    "fs.path.name": ["/etc/passwd", "/etc/shadow", "/etc", "/dev/null"],
    "container.name": ["web", "host", "db"],
    "container.id": ["host", "3f2a9c1b7d4e"],
    "user.name": ["root", "nobody"],
    "proc.cmdline": ["bash -c echo hi", "bash", "echo"],
    "fd.type": ["file", "ipv4"],
    "fd.l4proto": ["tcp", "udp"],
    "evt.info": ["res=0", "fd=3(<f>/dev/null)", "(", "ENOENT"],
}
INT_VALUES = {
    "proc.pid": ["1234", "77", "1", "0x4d2", "-1", "99999999999999999999"],
    "thread.tid": ["1234", "78"],
    "user.uid": ["0", "101"],
    "evt.rawres": ["-13", "0", "1", "3", "-2"],
    "evt.latency": ["0", "1500", "1499"],
    "fd.num": ["3", "5", "-100"],
    "fd.sport": ["8080", "40000"],
    "proc.ppid": ["1"],
}
BOOL_VALUES = {"evt.failed": ["true", "false", "True"]}
IP_VALUES = {"fd.sip": ["127.0.0.1", "::1", "10.0.0.1"], "fd.cip": ["127.0.0.1", "0::1"]}
ARG_VALUES = {
    "evt.arg.fd": ["3", "5", "0x3", "abc", "-100"],
    "evt.arg.path": ["/etc/passwd", "/etc", "3"],
    "evt.arg.argv": ["ls -l", "ls", "-l"],
    "evt.arg.dirfd": ["-100", "x"],
}
ALL_VALUES = {**STR_VALUES, **INT_VALUES, **BOOL_VALUES, **IP_VALUES, **ARG_VALUES}

REL = ["<", "<=", ">", ">="]
EQ = ["=", "==", "!="]
STR_OPS = ["contains", "icontains", "startswith", "endswith", "glob"]


def ops_for(name: str) -> list[str]:
    t = resolve(name).type
    if t in (FieldType.INT, FieldType.PORT):
        return [*EQ, *REL, "in", "exists"]
    if t in (FieldType.BOOL, FieldType.IP):
        return [*EQ, "in", "exists"]
    if t == FieldType.STRING:
        return [*EQ, *STR_OPS, "in", "pmatch", "exists"]
    return [*EQ, *REL, *STR_OPS, "in", "pmatch", "exists"]


@st.composite
def compares(draw, values: dict[str, list[str]] = ALL_VALUES) -> Compare:
    name = draw(st.sampled_from(sorted(values)))
    op = draw(st.sampled_from(ops_for(name)))
    pool = values[name]
    if resolve(name).type == FieldType.DYNAMIC and op in REL:
        pool = [v for v in pool if v.lstrip("-").isdigit()] or ["0", "3"]
    if op == "exists":
        return Compare(name, op)
    if op in ("in", "pmatch"):
        return Compare(name, op, tuple(draw(st.lists(st.sampled_from(pool), min_size=1,
                                                     max_size=3))))
    return Compare(name, op, (draw(st.sampled_from(pool)),))


def exprs(leaves: st.SearchStrategy | None = None) -> st.SearchStrategy:
    return st.recursive(
        compares() if leaves is None else leaves,
        lambda sub: st.one_of(
            st.builds(Not, sub),
            st.builds(And, st.lists(sub, min_size=2, max_size=3).map(tuple)),
            st.builds(Or, st.lists(sub, min_size=2, max_size=3).map(tuple)),
        ),
        max_leaves=8,
    )


FDS = [None, DEV_NULL, TCP, FdInfo(num=6, type="ipv6", name="[::1]:1->[::1]:2", l4proto="udp",
                                   cip="::1", cport=1, sip="::1", sport=2)]
ARGS = [{}, {"fd": 3, "size": 1}, {"fd": 5, "addr": "127.0.0.1:8080"},
        {"dirfd": -100, "path": "/etc/passwd", "flags": "O_RDONLY", "mode": 0},
        {"filename": "/bin/ls", "argv": ["ls", "-l"]}, {"path": 3}]

events = st.builds(
    make_event,
    kind=st.sampled_from(list(EventKind)),
    type=st.sampled_from(["write", "openat", "connect", "procexit", "read"]),
    res=st.sampled_from([-13, -2, -11, 0, 1, 3, -5000]),
    latency_ns=st.sampled_from([0, 1499, 1500]),
    pid=st.sampled_from([1, 77, 1234]),
    tid=st.sampled_from([78, 1234]),
    uid=st.sampled_from([0, 101]),
    comm=st.sampled_from(["bash", "nginx", "sh", "a b", "\x1b[31m", "", "é", "\udcff", "[ab]x"]),
    args=st.sampled_from(ARGS),
    fd=st.sampled_from(FDS),
    container=st.sampled_from([HOST, WEB]),
    proc=st.sampled_from([None, make_process()]),
)


def _int(text: str) -> int:
    return int(text, 16) if text.lower().lstrip("+-").startswith("0x") else int(text)


def _is_int(text: str) -> bool:
    try:
        _int(text)
    except ValueError:
        return False
    return True


_RELOPS = {"<": operator.lt, "<=": operator.le, ">": operator.gt, ">=": operator.ge}


def _string_test(op: str, v: str, xs: tuple[str, ...]) -> bool:
    x = xs[0]
    if op in ("=", "=="):
        return v == x
    if op == "!=":
        return v != x
    if op == "in":
        return v in xs
    if op == "contains":
        return x in v
    if op == "icontains":
        return x.lower() in v.lower()
    if op == "startswith":
        return v.startswith(x)
    if op == "endswith":
        return v.endswith(x)
    if op == "glob":
        return fnmatch.fnmatchcase(v, x)
    assert op == "pmatch"
    return any(v == p.rstrip("/") or v.startswith(p.rstrip("/") + "/") for p in xs)


def reference(expr, e) -> bool:
    """A plain interpreter of the AST: the meaning the compiled closures must have."""
    if isinstance(expr, And):
        return all(reference(i, e) for i in expr.items)
    if isinstance(expr, Or):
        return any(reference(i, e) for i in expr.items)
    if isinstance(expr, Not):
        return not reference(expr.item, e)
    f = resolve(expr.field)
    v = f.get(e)
    op, xs = expr.op, expr.values
    if op == "exists":
        return v is not None
    if v is None:
        return False
    if f.type in (FieldType.INT, FieldType.PORT, FieldType.BOOL, FieldType.IP):
        if f.type == FieldType.BOOL:
            ys = [x.lower() == "true" for x in xs]
        elif f.type == FieldType.IP:
            ys = [ipaddress.ip_address(x) for x in xs]
            v = ipaddress.ip_address(v)
        else:
            ys = [_int(x) for x in xs]
        if op in _RELOPS:
            return _RELOPS[op](v, ys[0])
        if op == "!=":
            return v != ys[0]
        return v in ys
    if f.type == FieldType.DYNAMIC:
        if op in _RELOPS:
            return type(v) is int and _RELOPS[op](v, _int(xs[0]))
        if op in ("=", "==", "!=", "in"):
            if type(v) is int:
                hit = any(_is_int(x) and _int(x) == v for x in xs)
            else:
                hit = value_text(v) in xs
            return not hit if op == "!=" else hit
        return _string_test(op, value_text(v), xs)
    if f.name == "evt.res" and op in ("=", "==", "!=", "in"):
        xs = tuple(canonical_errno_name(x) for x in xs)
    return _string_test(op, v, xs)


@st.composite
def rendered(draw, expr) -> str:
    """Filter text for an AST with random spacing, quoting and '='/'==' choices."""
    sp = lambda: draw(st.sampled_from(["", " ", "  ", "\t"]))  # noqa: E731
    must = lambda: draw(st.sampled_from([" ", "  ", "\t "]))  # noqa: E731

    def value(v: str) -> str:
        bare_ok = v and not any(c.isspace() or c in "(),=\"'\\" for c in v) and v.isprintable()
        if bare_ok and v not in ("and", "or", "not") and draw(st.booleans()):
            return v
        q = draw(st.sampled_from(['"', "'"]))
        out = []
        for c in v:  # sysdig's escapes: \\ \" \xHH (bytes); no other
            if c in ('"', "\\"):
                out.append("\\" + c)
            elif c == q or not c.isprintable():
                out.extend(f"\\x{b:02x}" for b in c.encode("utf-8", "surrogateescape"))
            else:
                out.append(c)
        return q + "".join(out) + q

    def go(node) -> str:
        if isinstance(node, Compare):
            if node.op == "exists":
                return node.field + must() + "exists"
            if node.op in ("in", "pmatch"):
                inner = ("," + sp()).join(value(v) for v in node.values)
                return f"{node.field}{must()}{node.op}{sp()}({sp()}{inner}{sp()})"
            gap = sp() if node.op in EQ + REL else must()
            return f"{node.field}{gap}{node.op}{gap or sp()}{value(node.values[0])}"
        if isinstance(node, Not):
            inner = go(node.item)
            wrap = isinstance(node.item, And | Or)
            return "not" + (sp() + "(" + inner + ")" if wrap else must() + inner)
        joiner = " and " if isinstance(node, And) else " or "
        parts = [f"({sp()}{go(i)}{sp()})" if isinstance(i, And | Or) else go(i)
                 for i in node.items]
        return joiner.join(parts)

    return sp() + go(expr) + sp()


@SETTINGS
@given(exprs(), st.data())
def test_rendered_asts_parse_back_and_evaluate_like_the_reference(expr, data):
    assert parse(to_text(expr)) == expr
    text = data.draw(rendered(expr))
    assert parse(text) == expr, text
    pred = compile_filter(text).match
    for _ in range(4):
        e = data.draw(events)
        assert pred(e) == reference(expr, e), (text, e)


@SETTINGS
@given(exprs(), st.lists(events, min_size=1, max_size=5))
def test_compiled_asts_agree_with_the_reference(expr, evs):
    pred = compile_expr(expr)
    for e in evs:
        assert pred(e) == reference(expr, e)


# ----------------------------------------------------------------- pushdown


def test_pushdown_of_top_level_conjuncts():
    kf = Filter(
        "proc.pid in (1, 2, 3) and evt.type = openat and evt.failed = true "
        "and container.name = web and thread.tid = 7 and proc.pid != 2 and proc.pid in (2, 3, 4)"
    ).pushdown()
    assert kf == KernelFilter(
        pids=frozenset({2, 3}), tids=frozenset({7}), syscalls=frozenset({"openat"}),
        failed_only=True, container_refs=frozenset({"web"}),
    )
    assert kf.restricts


@pytest.mark.parametrize(
    "text",
    ["", "proc.pid = 1 or evt.type = open", "not proc.pid = 1", "proc.pid != 1",
     "proc.pid > 5", "not (proc.pid = 1 and evt.type = open)", "evt.failed = false",
     "evt.res = SUCCESS", "proc.name = bash", "evt.res in (SUCCESS, ENOENT)"],
)
def test_nothing_pushed_from_or_not_and_other_operators(text: str):
    kf = Filter(text).pushdown()
    assert kf == KernelFilter()
    assert not kf.restricts


def test_pushdown_through_parenthesised_conjunctions():
    kf = Filter("(proc.pid = 1 and (evt.type = read)) and (proc.name = x or proc.pid = 2)")
    assert kf.pushdown() == KernelFilter(pids=frozenset({1}), syscalls=frozenset({"read"}))


def test_pushdown_failed_only_from_an_errno():
    assert Filter("evt.res = ENOENT").pushdown().failed_only
    assert Filter("evt.res in (EACCES, EPERM)").pushdown().failed_only


def test_pushdown_failed_only_needs_every_value_true():
    assert not Filter("evt.failed in (true, false)").pushdown().failed_only
    assert Filter("evt.failed in (true, TRUE)").pushdown().failed_only
    assert Filter("evt.failed == true").pushdown().failed_only


def test_pushdown_of_contradictions_is_empty_and_admits_nothing():
    kf = Filter("proc.pid = 1 and proc.pid = 2").pushdown()
    assert kf.pids == frozenset()
    assert not kf.admits(make_event(pid=1))


def test_pushdown_container_refs_use_one_field():
    kf = Filter("container.name = web and container.id = 3f2a9c1b7d4e").pushdown()
    assert kf.container_refs == frozenset({"3f2a9c1b7d4e"})
    assert kf.admits(IN_WEB)


def test_kernel_filter_admits():
    kf = KernelFilter(pids=frozenset({77}), syscalls=frozenset({"write"}),
                      container_refs=frozenset({"web"}))
    assert kf.admits(IN_WEB)
    assert not kf.admits(make_event(pid=77))  # host, not web
    assert not KernelFilter(failed_only=True).admits(WRITE)
    assert KernelFilter(failed_only=True).admits(OPEN_FAIL)
    # the probe's cgroup ids (container refs resolved by the caller)
    by_cgroup = KernelFilter(cgroup_ids=frozenset({5}))
    assert by_cgroup.restricts and by_cgroup.admits(make_event(cgroup_id=5))
    assert not by_cgroup.admits(make_event(cgroup_id=1))


PUSHABLE = {
    "proc.pid": ["1", "77", "1234"],
    "thread.tid": ["78", "1234"],
    "evt.type": ["write", "openat", "procexit"],
    "evt.failed": ["true", "false"],
    "evt.res": ["SUCCESS", "EACCES", "ENOENT"],
    "container.id": ["host", "3f2a9c1b7d4e"],
    "container.name": ["web", "host"],
    "container.full_id": [WEB.id, "host"],
}


@st.composite
def pushable_filters(draw):
    leaves = st.one_of(compares(PUSHABLE), compares())
    items = draw(st.lists(st.one_of(leaves, exprs(leaves)), min_size=1, max_size=5))
    return items[0] if len(items) == 1 else And(tuple(items))


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(pushable_filters(), st.lists(events, min_size=1, max_size=8))
def test_pushdown_never_drops_an_event_the_filter_accepts(expr, evs):
    pred = compile_expr(expr)
    kf = pushdown(expr)
    for e in evs + EVENTS:
        if pred(e):
            assert kf.admits(e), (to_text(expr), kf, e)


# ----------------------------------------------------------------- vectorised

RAW = np.dtype([
    ("ts_ns", "<u8"), ("latency_ns", "<u8"), ("cgroup_id", "<u8"), ("ret", "<i8"),
    ("args", "<u8", (6,)), ("pid", "<u4"), ("tid", "<u4"), ("uid", "<u4"), ("gid", "<u4"),
    ("nr", "<u2"), ("kind", "u1"), ("flags", "u1"), ("cpu", "<u4"), ("comm", "S16"),
])
SYSCALLS = {0: "read", 1: "write", 2: "open", 59: "execve", 257: "openat"}
SCHED = {2: "procexec", 3: "procfork", 4: "procexit"}


def syscall_name(nr: int) -> str:
    return SYSCALLS.get(nr, f"syscall_{nr}")


def decode(rec: np.ndarray, errors: str) -> list:
    """The decoder contract RawColumns documents, record by record."""
    out = []
    for r in rec.tolist():
        ts, lat, cg, ret, _args, pid, tid, uid, gid, nr, kind, _flags, cpu, comm = r
        syscall = kind in (0, 1)
        out.append(make_event(
            kind=EventKind(kind), type=syscall_name(nr) if syscall else SCHED[kind],
            res=ret if kind == 0 else 0, latency_ns=lat if syscall else 0, pid=pid, tid=tid,
            uid=uid, comm=comm.split(b"\0", 1)[0].decode("utf-8", errors), args={}, fd=None,
        ))
    return out


COMMS = [b"bash", b"sh", b"nginx", b"\xff\xfe", b"a\\xffb", b"\xc3\xa9t\xc3\xa9", b"",
         b"systemd-journal", b"x" * 16, b"\xc3", b"\xe2\x82\xe2\x82\xac", b"BaSh"]
records = st.lists(
    st.tuples(
        st.sampled_from([0, 1, 2, 3, 4]),
        st.sampled_from([0, 1, 2, 59, 257, 999, 65535]),
        st.sampled_from([-2, -11, -13, -4095, -4096, -5000, 0, 1, 3, 2**40]),
        st.sampled_from([0, 1, 1234, 2**32 - 1]),
        st.sampled_from([0, 1234]),
        st.sampled_from([0, 1000]),
        st.sampled_from([0, 1500, 2**63 + 5]),
        st.sampled_from(COMMS),
    ),
    min_size=1, max_size=30,
)

VEC_VALUES = {
    "evt.type": ["write", "openat", "procexit", "procexec", "syscall_999", "wr*", "open", "e"],
    "proc.pid": ["0", "1", "1234", "4294967295", "-1", "4294967296"],
    "thread.tid": ["1234", "0"],
    "user.uid": ["1000", "0"],
    "evt.rawres": ["-2", "0", "3", "-4096", "1099511627776", "-9223372036854775809"],
    "evt.res": ["SUCCESS", "ENOENT", "EAGAIN", "EWOULDBLOCK", "E4095", "E5000", "foo", "E"],
    "evt.failed": ["true", "false"],
    "evt.latency": ["0", "1500", "9223372036854775813", "18446744073709551616", "-1"],
    "proc.name": ["bash", "sh", "ba", "\\xff\\xfe", "\udcff\udcfe", "été", "é", "\udcc3",
                  "systemd-journal", "x" * 16, "x" * 17, "", "\x00", "b\\x", "€", "BASH",
                  "b*", "\udcac", "xff", "ff\\"],
}


def test_vectorized_returns_none_for_fields_outside_the_record():
    cols = RawColumns(syscall_name)
    assert compile_vectorized(parse("fd.name = /x"), cols) is None
    assert compile_vectorized(parse("proc.pid = 1 and container.name = web"), cols) is None
    assert compile_vectorized(parse("proc.pid = 1 or evt.type = open"), cols) is not None


def test_vectorized_empty_filter_and_type_errors():
    cols = RawColumns(syscall_name)
    rec = np.zeros(3, dtype=RAW)
    assert compile_vectorized(None, cols)(rec).tolist() == [True] * 3
    with pytest.raises(FilterError):
        compile_vectorized(Compare("proc.pid", "=", ("x",)), cols)


def test_vectorized_simple_batch():
    rec = np.zeros(4, dtype=RAW)
    rec["nr"] = [1, 1, 257, 1]
    rec["pid"] = [10, 11, 10, 10]
    rec["ret"] = [1, -2, -2, 5]
    rec["comm"] = [b"bash", b"bash", b"sh", b"nginx"]
    mask = compile_vectorized(parse("evt.type = write and proc.pid = 10"), RawColumns(
        syscall_name))(rec)
    assert mask.tolist() == [True, False, False, True]
    mask = compile_vectorized(parse("evt.failed = true and proc.name = bash"), RawColumns(
        syscall_name))(rec)
    assert mask.tolist() == [False, True, False, False]


@pytest.mark.parametrize(
    ("errors", "value", "expected"),
    [
        # backslashreplace: both comms decode to the text \xff\xfe
        ("backslashreplace", "\\xff\\xfe", [True, True, False]),
        ("backslashreplace", "\udcff\udcfe", [False, False, False]),
        ("surrogateescape", "\\xff\\xfe", [False, True, False]),
        ("surrogateescape", "\udcff\udcfe", [True, False, False]),
        ("replace", "\ufffd\ufffd", [True, False, False]),
    ],
)
@pytest.mark.parametrize("op", ["=", "in", "contains", "startswith", "endswith", "glob"])
def test_vectorized_comm_follows_the_decoding(errors: str, value: str, expected: list, op: str):
    rec = np.zeros(3, dtype=RAW)
    rec["comm"] = [b"\xff\xfe", b"\\xff\\xfe", b"bash"]
    expr = Compare("proc.name", op, (value,))
    mask = compile_vectorized(expr, RawColumns(syscall_name, comm_errors=errors))(rec)
    assert mask.tolist() == expected
    assert [compile_expr(expr)(e) for e in decode(rec, errors)] == expected


def test_vectorized_substring_of_replaced_bytes():
    # backslashreplace turns b"\xff" into the text \xff, which contains "xff".
    rec = np.zeros(2, dtype=RAW)
    rec["comm"] = [b"a\xffb", b"xff"]
    for op, expected in [("contains", [True, True]), ("endswith", [False, True]),
                         ("startswith", [False, True])]:
        expr = Compare("proc.name", op, ("xff",))
        vec = compile_vectorized(expr, RawColumns(syscall_name))
        assert vec(rec).tolist() == expected, op


def test_raw_record_layout_has_the_columns_the_vectoriser_reads():
    layout = pytest.importorskip("cdig.probes.syscalls.layout")
    cols = RawColumns(syscall_name)
    names = layout.RECORD.names
    for col in (cols.nr, cols.kind, cols.pid, cols.tid, cols.uid, cols.ret, cols.latency,
                cols.comm):
        assert col in names


@settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    exprs(compares(VEC_VALUES)),
    records,
    st.sampled_from(["backslashreplace", "surrogateescape", "replace"]),
)
def test_vectorized_mask_equals_the_per_event_filter(expr, rows, errors):
    rec = np.zeros(len(rows), dtype=RAW)
    for i, (kind, nr, ret, pid, uid, tid, lat, comm) in enumerate(rows):
        rec[i]["kind"], rec[i]["nr"], rec[i]["ret"], rec[i]["pid"] = kind, nr, ret, pid
        rec[i]["uid"], rec[i]["tid"], rec[i]["latency_ns"], rec[i]["comm"] = uid, tid, lat, comm
    assert fields_ok(expr)
    vec = compile_vectorized(expr, RawColumns(syscall_name, comm_errors=errors))
    assert vec is not None
    pred = compile_expr(expr)
    expected = [pred(e) for e in decode(rec, errors)]
    assert vec(rec).tolist() == expected, to_text(expr)
    assert vec(rec).tolist() == expected  # again, with the caches warm


def fields_ok(expr) -> bool:
    from cdig.collector.filter import fields_used

    return fields_used(expr) <= VECTOR_FIELDS


def test_vectorized_on_a_large_batch():
    rec = np.zeros(100_000, dtype=RAW)
    rec["nr"] = np.arange(100_000) % 300
    rec["comm"] = b"bash"
    vec = compile_vectorized(
        parse("evt.type in (write, openat) and proc.name = bash and not evt.failed = true"),
        RawColumns(syscall_name),
    )
    assert vec(rec).sum() == np.isin(rec["nr"], [1, 257]).sum() > 0


def test_long_or_of_equalities_is_one_set_lookup():
    """A rule set's 10,000-term ``or`` of equalities (25 s and 800 MB before) folds into
    one ``in`` per field: the same events match."""
    from cdig.collector.filter import Compare as C
    from cdig.collector.filter import compile_filter as cf

    text = " or ".join(f"proc.pid={i}" for i in range(10_000)) + " or evt.type=write"
    flt = cf(text)
    first = flt.expr.items[0]
    assert isinstance(first, C) and first.op == "in" and len(first.values) == 10_000
    small = cf("proc.pid=3 or proc.pid=9999 or evt.type=write")
    for pid, typ in ((3, "read"), (9999, "read"), (10_000, "read"), (10_000, "write")):
        ev = make_event(type=typ, pid=pid)
        assert flt.match(ev) == small.match(ev)
