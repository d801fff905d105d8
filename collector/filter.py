"""The filter language: a sysdig-compatible subset.

    proc.name = nginx and (evt.type in (open, openat) or evt.failed = true)
    not fd.name pmatch (/proc, /sys) and container.name startswith "web-"

Operators ``= == != < <= > >= contains icontains startswith endswith glob in pmatch
exists``, ``and``/``or``/``not`` (``not`` binds tightest, then ``and``, then ``or``),
parentheses, values bare or quoted with ``"``/``'`` (backslash escapes, including
``\\xNN`` as the output shows undecodable bytes). Fields are the ones of
:mod:`cdig.collector.fields`. A field the event does not have makes every comparison
false (``exists`` is how to test for it), as in sysdig. An empty filter matches all.

The text is parsed once into an AST (:func:`parse`) and compiled once into nested
closures (:func:`compile_expr`): no per-event parsing. Every error is a
:class:`FilterError` with the 0-based column of the problem.

Two optimisations read the same AST: :func:`pushdown` extracts what the kernel can
drop early (:class:`KernelFilter`), and :func:`compile_vectorized` evaluates filters
over raw-record fields on a whole numpy batch at once.
"""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import re
import unicodedata
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from cdig.collector.events import Event, EventKind
from cdig.collector.fields import (
    Field,
    FieldType,
    UnknownFieldError,
    canonical_errno_name,
    errno_name,
    errno_number,
    resolve,
    value_text,
)
from cdig.collector.formatter import escape_text

if TYPE_CHECKING:
    import numpy as np

MAX_DEPTH = 100  # nesting of parentheses and 'not'; keeps recursion far from Python's limit

COMPARE_OPS = ("=", "==", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("contains", "icontains", "startswith", "endswith", "glob")
LIST_OPS = ("in", "pmatch")
WORD_OPS = (*STRING_OPS, *LIST_OPS, "exists")
OPERATORS = (*COMPARE_OPS, *WORD_OPS)
KEYWORDS = ("and", "or", "not")

_WS_RE = re.compile(r"\s*")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
_BARE_RE = re.compile(r"""[^\s(),="']+""")
_INT_RE = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_HEX = frozenset("0123456789abcdefABCDEF")
_SIMPLE_ESCAPES = {"\\": "\\", '"': '"', "'": "'", "n": "\n", "t": "\t", "r": "\r", "0": "\0"}


# --------------------------------------------------------------------------- errors


def _display_width(s: str) -> int:
    """Terminal columns ``s`` takes (wide CJK = 2, combining marks = 0), for the caret."""
    w = 0
    for ch in s:
        if unicodedata.combining(ch):
            continue
        w += 2 if unicodedata.east_asian_width(ch) in ("W", "F") else 1
    return w


class FilterError(ValueError):
    """A filter that cannot be parsed or compiled.

    ``message`` says what is wrong, ``column`` is the 0-based offset into ``text``.
    """

    def __init__(self, message: str, column: int, text: str = "") -> None:
        self.message = message
        self.column = column
        self.text = text
        super().__init__(f"{message} at column {column}")

    def format(self, prog: str = "cdig") -> str:
        """Three lines for the user: the message, the filter, a caret under the column."""
        shown = escape_text(self.text)  # the filter may hold control characters
        pad = _display_width(escape_text(self.text[: self.column]))
        return f"{prog}: bad filter: {self}\n  {shown}\n  {' ' * pad}^"


def _quote(s: str, limit: int = 40) -> str:
    """A piece of user input for an error message: quoted, escaped, shortened."""
    short = s if len(s) <= limit else s[:limit] + "…"
    return "'" + escape_text(short) + "'"


# --------------------------------------------------------------------------- AST


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value`` / ``field in (v, …)`` / ``field exists``. Values are raw text."""

    field: str
    op: str
    values: tuple[str, ...] = ()
    pos: int = field(default=0, compare=False)  # column of the field name
    value_pos: tuple[int, ...] = field(default=(), compare=False)  # column of each value


@dataclass(frozen=True, slots=True)
class And:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    item: Expr


Expr = Compare | And | Or | Not


def walk(expr: Expr | None) -> Iterator[Expr]:
    """Every node of an AST, depth first."""
    if expr is None:
        return
    yield expr
    if isinstance(expr, And | Or):
        for item in expr.items:
            yield from walk(item)
    elif isinstance(expr, Not):
        yield from walk(expr.item)


def fields_used(expr: Expr | None) -> frozenset[str]:
    """The field names an AST reads."""
    return frozenset(n.field for n in walk(expr) if isinstance(n, Compare))


# --------------------------------------------------------------------------- parser


class _Parser:
    """Recursive descent over the text; lexes on demand, so a value's lexing can
    depend on where it is (bare values may hold '<', '!', ':' …)."""

    def __init__(self, text: str) -> None:
        self.text = text
        self.pos = 0
        self.depth = 0
        self.last = ""  # the last keyword/operator consumed, for "expected … after X"

    def error(self, message: str, pos: int | None = None) -> FilterError:
        return FilterError(message, self.pos if pos is None else pos, self.text)

    def skip_ws(self) -> None:
        self.pos = _WS_RE.match(self.text, self.pos).end()  # type: ignore[union-attr]

    def at_end(self) -> bool:
        self.skip_ws()
        return self.pos >= len(self.text)

    def peek_word(self) -> str | None:
        self.skip_ws()
        m = _WORD_RE.match(self.text, self.pos)
        return m.group(0) if m else None

    def accept_keyword(self, kw: str) -> bool:
        if self.peek_word() == kw:
            self.pos += len(kw)
            self.last = kw
            return True
        return False

    def describe_here(self) -> str:
        if self.pos >= len(self.text):
            return "the end of the filter"
        m = _WORD_RE.match(self.text, self.pos) or _BARE_RE.match(self.text, self.pos)
        return _quote(m.group(0) if m else self.text[self.pos])

    # expr := or
    def parse(self) -> Expr | None:
        if self.at_end():
            return None
        expr = self.parse_or()
        if not self.at_end():
            if self.text[self.pos] == ")":
                raise self.error("unexpected ')' without a matching '('")
            raise self.error(
                f"unexpected {self.describe_here()}; expected 'and', 'or' or the end of the filter"
            )
        return expr

    def parse_or(self) -> Expr:
        items = [self.parse_and()]
        while self.accept_keyword("or"):
            items.append(self.parse_and())
        return items[0] if len(items) == 1 else Or(tuple(items))

    def parse_and(self) -> Expr:
        items = [self.parse_not()]
        while self.accept_keyword("and"):
            items.append(self.parse_not())
        return items[0] if len(items) == 1 else And(tuple(items))

    def enter(self) -> None:
        self.depth += 1
        if self.depth > MAX_DEPTH:
            raise self.error(f"filter nested too deeply (more than {MAX_DEPTH} levels)")

    def parse_not(self) -> Expr:
        if self.accept_keyword("not"):
            self.enter()
            item = self.parse_not()
            self.depth -= 1
            return Not(item)
        return self.parse_primary()

    def parse_primary(self) -> Expr:
        self.skip_ws()
        if self.pos < len(self.text) and self.text[self.pos] == "(":
            open_pos = self.pos
            self.pos += 1
            self.enter()
            self.last = "("
            expr = self.parse_or()
            self.depth -= 1
            self.skip_ws()
            if self.pos >= len(self.text) or self.text[self.pos] != ")":
                if self.pos < len(self.text):
                    raise self.error(
                        f"unexpected {self.describe_here()}; expected 'and', 'or' or ')' "
                        f"to close '(' from column {open_pos}"
                    )
                raise self.error(f"expected ')' to close '(' from column {open_pos}")
            self.pos += 1
            return expr
        return self.parse_compare()

    def parse_compare(self) -> Expr:
        start = self.pos
        m = _WORD_RE.match(self.text, self.pos)
        if m is None or m.group(0) in KEYWORDS:
            after = f" after '{self.last}'" if self.last else ""
            raise self.error(f"expected a field name{after}, got {self.describe_here()}")
        name = m.group(0)
        try:
            resolve(name)
        except UnknownFieldError as exc:
            hint = f"; did you mean '{exc.suggestion}'?" if exc.suggestion else ""
            raise self.error(f"unknown field '{name}'{hint}", start) from None
        self.pos = m.end()
        op = self.parse_operator(name)
        self.last = op
        if op == "exists":
            return Compare(name, op, (), start, ())
        if op in LIST_OPS:
            values, positions = self.parse_list(op)
            return Compare(name, op, values, start, positions)
        self.skip_ws()
        value_start = self.pos
        value = self.parse_value(f"expected a value after '{op}'")
        return Compare(name, op, (value,), start, (value_start,))

    def parse_operator(self, name: str) -> str:
        self.skip_ws()
        text, pos = self.text, self.pos
        two = text[pos : pos + 2]
        if two in ("==", "!=", "<=", ">="):
            self.pos += 2
            return two
        if text[pos : pos + 1] in ("=", "<", ">"):
            self.pos += 1
            return text[pos]
        m = _WORD_RE.match(text, pos)
        if m and m.group(0) in WORD_OPS:
            self.pos = m.end()
            return m.group(0)
        raise self.error(f"expected an operator after '{name}', got {self.describe_here()}")

    def parse_list(self, op: str) -> tuple[tuple[str, ...], tuple[int, ...]]:
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] != "(":
            raise self.error(f"expected '(' and a list of values after '{op}'")
        self.pos += 1
        values: list[str] = []
        positions: list[int] = []
        while True:
            self.skip_ws()
            positions.append(self.pos)
            values.append(self.parse_value("expected a value in the list"))
            self.skip_ws()
            c = self.text[self.pos : self.pos + 1]
            if c == ",":
                self.pos += 1
            elif c == ")":
                self.pos += 1
                return tuple(values), tuple(positions)
            else:
                raise self.error(f"expected ',' or ')' in the list, got {self.describe_here()}")

    def parse_value(self, missing: str) -> str:
        text, pos = self.text, self.pos
        c = text[pos : pos + 1]
        if c in ('"', "'"):
            return self.parse_quoted(c)
        m = _BARE_RE.match(text, pos)
        if m is None:
            raise self.error(missing)
        self.pos = m.end()
        return m.group(0)

    def parse_quoted(self, quote: str) -> str:
        text = self.text
        start = self.pos
        i = start + 1
        out: list[str] = []
        while True:
            j = i
            while j < len(text) and text[j] != quote and text[j] != "\\":
                j += 1
            out.append(text[i:j])
            if j >= len(text):
                raise self.error("unterminated string", start)
            if text[j] == quote:
                self.pos = j + 1
                return "".join(out)
            i = self.parse_escape(j, out)

    def parse_escape(self, j: int, out: list[str]) -> int:
        """Decode the backslash escape at ``j`` into ``out``; return the index after it."""
        text = self.text
        c = text[j + 1 : j + 2]
        if c and c in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[c])
            return j + 2
        width = {"x": 2, "u": 4, "U": 8}.get(c)
        if width is not None:
            digits = text[j + 2 : j + 2 + width]
            if len(digits) == width and all(d in _HEX for d in digits):
                cp = int(digits, 16)
                if c == "x" and cp >= 0x80:
                    cp += 0xDC00  # \x80-\xff are bytes, as the output shows undecodable ones
                if cp <= 0x10FFFF:
                    out.append(chr(cp))
                    return j + 2 + width
        raise self.error(f"bad escape {_quote(text[j : j + 2 + (width or 0)])} in string", j)


def parse(text: str) -> Expr | None:
    """Parse a filter into its AST; None for an empty (match-all) filter.

    Checks syntax and field names; types are checked by :func:`compile_expr`.
    Raises FilterError, and nothing else, whatever the text.
    """
    return _Parser(text).parse()


# --------------------------------------------------------------------------- rendering


def _render_char(ch: str) -> str:
    if ch.isprintable():
        return "\\" + ch if ch in ('"', "\\") else ch
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:  # an undecodable byte: \xNN, which parses back to it
        return f"\\x{cp - 0xDC00:02x}"
    return f"\\u{cp:04x}" if cp < 0x10000 else f"\\U{cp:08x}"


def _render_value(v: str) -> str:
    if _BARE_RE.fullmatch(v) and v not in KEYWORDS and v.isprintable():
        return v
    return '"' + "".join(map(_render_char, v)) + '"'


def to_text(expr: Expr | None) -> str:
    """Render an AST back to filter text that parses to the same AST."""
    if expr is None:
        return ""
    if isinstance(expr, Compare):
        if expr.op == "exists":
            return f"{expr.field} exists"
        if expr.op in LIST_OPS:
            return f"{expr.field} {expr.op} ({', '.join(map(_render_value, expr.values))})"
        return f"{expr.field} {expr.op} {_render_value(expr.values[0])}"
    if isinstance(expr, Not):
        return "not " + _wrap(expr.item)
    joiner = " and " if isinstance(expr, And) else " or "
    return joiner.join(_wrap(item) for item in expr.items)


def _wrap(expr: Expr) -> str:
    text = to_text(expr)
    return f"({text})" if isinstance(expr, And | Or) else text


# --------------------------------------------------------------------------- compiling

Predicate = Callable[[Event], bool]


def _type_name(f: Field) -> str:
    return {
        FieldType.STRING: "a string",
        FieldType.INT: "a number",
        FieldType.PORT: "a port number",
        FieldType.BOOL: "a boolean",
        FieldType.IP: "an IP address",
        FieldType.DYNAMIC: "an argument",
    }[f.type]


def _allowed_ops(ftype: FieldType) -> tuple[str, ...]:
    if ftype in (FieldType.INT, FieldType.PORT):
        return (*COMPARE_OPS, "in", "exists")
    if ftype in (FieldType.BOOL, FieldType.IP):
        return ("=", "==", "!=", "in", "exists")
    if ftype == FieldType.STRING:
        return ("=", "==", "!=", *STRING_OPS, *LIST_OPS, "exists")
    return OPERATORS  # DYNAMIC


def parse_int(text: str) -> int | None:
    """A decimal or 0x-hex integer (ASCII digits only), or None."""
    if not _INT_RE.fullmatch(text):
        return None
    try:
        return int(text, 0) if "x" in text.lower() else int(text, 10)
    except ValueError:  # more digits than int() accepts (sys.get_int_max_str_digits)
        return None


def parse_bool(text: str) -> bool | None:
    """``true``/``false`` in any case, or None."""
    return {"true": True, "false": False}.get(text.lower())


@functools.lru_cache(maxsize=4096)
def _ip(text: str) -> ipaddress.IPv4Address | ipaddress.IPv6Address | None:
    try:
        return ipaddress.ip_address(text)
    except ValueError:
        return None


@dataclass(frozen=True, slots=True)
class _Operand:
    """The values of one comparison, converted once to what the field compares as."""

    texts: tuple[str, ...]
    ints: tuple[int | None, ...]
    typed: tuple[Any, ...]  # int / bool / ip / str, per the field type


def _convert(node: Compare, f: Field, text: str) -> _Operand:
    typed: list[Any] = []
    ints: list[int | None] = []
    texts = list(node.values)
    for i, v in enumerate(node.values):
        pos = node.value_pos[i] if i < len(node.value_pos) else node.pos

        def bad(what: str, v: str = v, pos: int = pos) -> FilterError:
            return FilterError(f"expected {what} for {node.field}, got {_quote(v)}", pos, text)

        n = parse_int(v)
        ints.append(n)
        if f.type in (FieldType.INT, FieldType.PORT):
            if n is None:
                raise bad("a number")
            typed.append(n)
        elif f.type == FieldType.BOOL:
            b = parse_bool(v)
            if b is None:
                raise bad("true or false")
            typed.append(b)
        elif f.type == FieldType.IP:
            ip = _ip(v)
            if ip is None:
                raise bad("an IP address")
            typed.append(ip)
        elif f.type == FieldType.DYNAMIC and node.op in ("<", "<=", ">", ">="):
            if n is None:
                raise bad("a number")
            typed.append(n)
        else:
            if f.name == "evt.res" and node.op in ("=", "==", "!=", "in"):
                v = canonical_errno_name(v)  # evt.res = EWOULDBLOCK finds EAGAIN
                texts[i] = v
            typed.append(v)
    return _Operand(tuple(texts), tuple(ints), tuple(typed))


def _glob_matcher(pattern: str) -> Callable[[str], bool]:
    # fnmatch without FNM_PATHNAME, as sysdig: '*' also matches '/'.
    return re.compile(fnmatch.translate(pattern), re.DOTALL).match  # type: ignore[return-value]


def _pmatch_prefixes(values: tuple[str, ...]) -> tuple[str, ...]:
    """Path prefixes with one trailing '/', so /var matches /var and /var/x, not /various."""
    return tuple(v.rstrip("/") + "/" for v in values)


def pmatch(path: str, prefixes: tuple[str, ...]) -> bool:
    """True if ``path`` is one of the prefixes (as from _pmatch_prefixes) or below one."""
    probe = path + "/"
    return any(probe.startswith(p) for p in prefixes)


_REL = {
    "<": lambda a, b: a < b,
    "<=": lambda a, b: a <= b,
    ">": lambda a, b: a > b,
    ">=": lambda a, b: a >= b,
}


def _compile_compare(node: Compare, text: str) -> Predicate:
    try:
        f = resolve(node.field)
    except UnknownFieldError as exc:
        hint = f"; did you mean '{exc.suggestion}'?" if exc.suggestion else ""
        raise FilterError(f"unknown field '{node.field}'{hint}", node.pos, text) from None
    op = node.op
    if op not in _allowed_ops(f.type):
        raise FilterError(
            f"operator '{op}' does not apply to {f.name} ({_type_name(f)})", node.pos, text
        )
    get = f.get
    if op == "exists":
        return lambda e: get(e) is not None
    val = _convert(node, f, text)
    try:
        if f.type == FieldType.DYNAMIC:
            return _compile_dynamic(get, op, val)
        if f.type == FieldType.IP:
            return _compile_ip(get, op, val)
        return _compile_plain(get, op, val)
    except re.error as exc:  # fnmatch.translate escapes everything; kept as a safety net
        pos = node.value_pos[0] if node.value_pos else node.pos
        raise FilterError(f"bad glob pattern: {exc}", pos, text) from None


def _compile_plain(get: Callable[[Event], Any], op: str, val: _Operand) -> Predicate:
    """Strings, ints, ports and booleans: values of the field's own Python type."""
    x = val.typed[0]
    if op in ("=", "=="):
        return lambda e: get(e) == x  # None == x is False: a missing field never matches
    if op == "!=":

        def ne(e: Event) -> bool:
            v = get(e)
            return v is not None and v != x

        return ne
    if op in _REL:
        rel = _REL[op]

        def relational(e: Event) -> bool:
            v = get(e)
            return v is not None and rel(v, x)

        return relational
    if op == "in":
        members = frozenset(val.typed)
        return lambda e: get(e) in members  # None is never a member
    return _compile_string_op(lambda e: get(e), op, val)


def _compile_string_op(
    get_text: Callable[[Event], str | None], op: str, val: _Operand
) -> Predicate:
    x = val.texts[0]
    test: Callable[[str], bool]
    if op == "contains":
        test = lambda v: x in v  # noqa: E731
    elif op == "icontains":
        xl = x.lower()
        test = lambda v: xl in v.lower()  # noqa: E731
    elif op == "startswith":
        test = lambda v: v.startswith(x)  # noqa: E731
    elif op == "endswith":
        test = lambda v: v.endswith(x)  # noqa: E731
    elif op == "glob":
        match = _glob_matcher(x)
        test = lambda v: match(v) is not None  # noqa: E731
    elif op == "pmatch":
        prefixes = _pmatch_prefixes(val.texts)
        test = lambda v: pmatch(v, prefixes)  # noqa: E731
    else:  # pragma: no cover - _allowed_ops keeps other operators out
        raise AssertionError(op)

    def string_op(e: Event) -> bool:
        v = get_text(e)
        return v is not None and test(v)

    return string_op


def _compile_ip(get: Callable[[Event], Any], op: str, val: _Operand) -> Predicate:
    members = frozenset(val.typed)

    def ip_in(e: Event) -> bool:
        v = get(e)
        return v is not None and _ip(v) in members

    if op == "!=":

        def ip_ne(e: Event) -> bool:
            v = get(e)
            return v is not None and _ip(v) not in members

        return ip_ne
    return ip_in  # =, ==, in


def _compile_dynamic(get: Callable[[Event], Any], op: str, val: _Operand) -> Predicate:
    """evt.arg.NAME: ints compare as numbers (when the value is a number), anything
    else compares as its text (lists space-joined, as printed)."""
    if op in _REL:
        rel, x = _REL[op], val.typed[0]

        def relational(e: Event) -> bool:
            v = get(e)
            return type(v) is int and rel(v, x)

        return relational
    if op in ("=", "==", "!=", "in"):
        ints = frozenset(n for n in val.ints if n is not None)
        texts = frozenset(val.texts)

        def member(e: Event) -> bool | None:
            v = get(e)
            if v is None:
                return None
            if type(v) is int:
                return v in ints
            return value_text(v) in texts

        if op == "!=":

            def ne(e: Event) -> bool:
                r = member(e)
                return r is not None and not r

            return ne
        return lambda e: member(e) is True
    return _compile_string_op(lambda e: value_text(get(e)), op, val)


def compile_expr(expr: Expr | None, text: str = "") -> Predicate:
    """Compile an AST into one predicate ``Event -> bool``.

    ``text`` is the filter the AST came from, for error positions. Raises FilterError
    for operators that do not fit a field's type and values that do not convert.
    """
    if expr is None:
        return lambda e: True
    if isinstance(expr, Compare):
        return _compile_compare(expr, text)
    if isinstance(expr, Not):
        inner = compile_expr(expr.item, text)
        return lambda e: not inner(e)
    preds = tuple(compile_expr(item, text) for item in expr.items)
    if len(preds) == 2:  # the common case, without the generator of all()/any()
        a, b = preds
        if isinstance(expr, And):
            return lambda e: a(e) and b(e)
        return lambda e: a(e) or b(e)
    if isinstance(expr, And):
        return lambda e: all(p(e) for p in preds)
    return lambda e: any(p(e) for p in preds)


class Filter:
    """A compiled filter. ``match(event)`` (or calling it) says whether an event passes."""

    __slots__ = ("text", "expr", "match")

    def __init__(self, text: str = "") -> None:
        self.text = text
        self.expr = parse(text)
        self.match: Predicate = compile_expr(self.expr, text)

    def __call__(self, event: Event) -> bool:
        return self.match(event)

    def __repr__(self) -> str:
        return f"Filter({self.text!r})"

    @property
    def fields(self) -> frozenset[str]:
        """The field names the filter reads."""
        return fields_used(self.expr)

    def pushdown(self) -> KernelFilter:
        """What the kernel may drop early; see :func:`pushdown`."""
        return pushdown(self.expr)


def compile_filter(text: str) -> Filter:
    """Parse and compile a filter; raises FilterError (and nothing else) if it is bad."""
    return Filter(text)


# --------------------------------------------------------------------------- pushdown


@dataclass(frozen=True, slots=True)
class KernelFilter:
    """What the kernel may drop before it costs a ring-buffer slot.

    None means "no restriction". An event passes when it passes every restriction
    (:meth:`admits` is the reference semantics). ``syscalls`` holds evt.type names —
    for sched events that is execve/clone/procexit; the caller maps names to numbers.
    ``container_refs`` holds container.id (short), container.full_id and
    container.name values; the caller resolves them to cgroup ids.
    """

    pids: frozenset[int] | None = None
    tids: frozenset[int] | None = None
    syscalls: frozenset[str] | None = None
    failed_only: bool = False
    container_refs: frozenset[str] | None = None

    @property
    def restricts(self) -> bool:
        """True when there is anything to push into the kernel."""
        return self.failed_only or any(
            s is not None for s in (self.pids, self.tids, self.syscalls, self.container_refs)
        )

    def admits(self, event: Event) -> bool:
        """Whether the kernel side would let ``event`` through."""
        if self.pids is not None and event.pid not in self.pids:
            return False
        if self.tids is not None and event.tid not in self.tids:
            return False
        if self.syscalls is not None and event.type not in self.syscalls:
            return False
        if self.failed_only and not event.failed:
            return False
        if self.container_refs is not None:
            c = event.container
            if not {c.id, c.short_id, c.name} & self.container_refs:
                return False
        return True


_PUSH_INT_FIELDS = {"proc.pid": "pids", "thread.tid": "tids"}
_CONTAINER_FIELDS = ("container.id", "container.full_id", "container.name")


def _conjuncts(expr: Expr) -> Iterator[Expr]:
    if isinstance(expr, And):
        for item in expr.items:
            yield from _conjuncts(item)
    else:
        yield expr


def pushdown(expr: Expr | None) -> KernelFilter:
    """Extract the kernel-side restrictions a filter implies.

    Only top-level conjuncts (a chain of ``and``) with ``=``/``==``/``in`` are used;
    anything under ``or``/``not`` is left to userspace, which still evaluates the
    whole filter. So the result never drops an event the filter would accept.
    """
    if expr is None:
        return KernelFilter()
    sets: dict[str, frozenset[Any]] = {}
    failed_only = False

    def narrow(key: str, values: frozenset[Any]) -> None:
        sets[key] = sets[key] & values if key in sets else values

    for node in _conjuncts(expr):
        if not isinstance(node, Compare) or node.op not in ("=", "==", "in"):
            continue
        name, values = node.field, node.values
        if name in _PUSH_INT_FIELDS:
            ints = [parse_int(v) for v in values]
            if all(n is not None for n in ints):
                narrow(_PUSH_INT_FIELDS[name], frozenset(ints))
        elif name == "evt.type":
            narrow("syscalls", frozenset(values))
        elif name in _CONTAINER_FIELDS:
            narrow(name, frozenset(values))
        elif name == "evt.failed":
            if all(parse_bool(v) is True for v in values):
                failed_only = True
        elif name == "evt.res":
            # evt.res is an errno name only when the syscall failed.
            if all(canonical_errno_name(v) != "SUCCESS" for v in values):
                failed_only = True

    # Each container field alone bounds the set of containers; with several
    # (container.id = a and container.name = b), one is enough and stays safe.
    refs = next((sets[k] for k in _CONTAINER_FIELDS if k in sets), None)
    return KernelFilter(
        pids=sets.get("pids"),
        tids=sets.get("tids"),
        syscalls=sets.get("syscalls"),
        failed_only=failed_only,
        container_refs=refs,
    )


# --------------------------------------------------------------------------- vectorised


def _decoder_sched_types() -> dict[int, str]:
    return {
        int(EventKind.EXEC): "procexec",
        int(EventKind.FORK): "procfork",
        int(EventKind.EXIT): "procexit",
    }


@dataclass(frozen=True)
class RawColumns:
    """How filter fields map onto a batch of raw records (``probes.layout.RECORD``).

    The vectorised evaluator agrees with the per-event one as long as the decoder
    keeps this contract: ``Event.type`` is ``syscall_name(nr)`` for kinds SYSCALL and
    SYSCALL_ENTER and ``sched_types[kind]`` for the others; ``Event.comm`` is the comm
    bytes up to the first NUL decoded as UTF-8 with errors=``comm_errors``;
    ``Event.res`` is ``ret`` for SYSCALL records (0 otherwise); ``latency_ns`` is the
    column for syscall kinds (0 otherwise); ``pid``, ``tid``, ``uid`` are the columns.
    """

    syscall_name: Callable[[int], str]  # nr -> evt.type, as the decoder names it
    sched_types: Mapping[int, str] = field(default_factory=_decoder_sched_types)
    comm_errors: str = "backslashreplace"
    nr: str = "nr"
    kind: str = "kind"
    pid: str = "pid"
    tid: str = "tid"
    uid: str = "uid"
    ret: str = "ret"
    latency: str = "latency_ns"
    comm: str = "comm"


VECTOR_FIELDS = frozenset(
    {"evt.type", "proc.pid", "thread.tid", "user.uid", "evt.rawres", "evt.res", "evt.failed",
     "evt.latency", "proc.name"}
)
Mask = Callable[["np.ndarray"], "np.ndarray"]
_SYSCALL_KINDS = (int(EventKind.SYSCALL), int(EventKind.SYSCALL_ENTER))


def compile_vectorized(expr: Expr | None, columns: RawColumns) -> Mask | None:
    """A function ``records -> bool mask`` computing the filter on a raw-record batch.

    Returns None when the filter reads a field that is not in the raw record (anything
    outside :data:`VECTOR_FIELDS`); the caller then decodes and uses the per-event
    predicate. The mask equals the per-event predicate on the decoded events (see
    :class:`RawColumns` for the decoder contract this relies on).
    Raises FilterError like :func:`compile_expr` for ill-typed comparisons.
    """
    import numpy as np  # only the vectorised path needs numpy

    compile_expr(expr)  # the same type checks and errors as the per-event path
    if expr is None:
        return lambda rec: np.ones(len(rec), dtype=bool)
    if not fields_used(expr) <= VECTOR_FIELDS:
        return None
    return _vec(expr, columns, np)


def _vec(expr: Expr, cols: RawColumns, np: Any) -> Mask:
    if isinstance(expr, Not):
        inner = _vec(expr.item, cols, np)
        return lambda rec: ~inner(rec)
    if isinstance(expr, And | Or):
        parts = [_vec(item, cols, np) for item in expr.items]
        combine = np.logical_and if isinstance(expr, And) else np.logical_or

        def combined(rec: Any) -> Any:
            mask = parts[0](rec)
            for p in parts[1:]:
                mask = combine(mask, p(rec))
            return mask

        return combined
    assert isinstance(expr, Compare)
    return _vec_compare(expr, cols, np)


def _vec_int(col: Any, op: str, x: int, np: Any) -> Any:
    """``col op x`` for an integer column, exact even when x is outside the dtype's range."""
    info = np.iinfo(col.dtype)
    if x < info.min or x > info.max:
        below = x < info.min  # then every element is above x; else every one is below
        const = {
            "=": False, "==": False, "!=": True,
            "<": not below, "<=": not below, ">": below, ">=": below,
        }[op]
        return np.full(len(col), const, dtype=bool)
    ufunc = {
        "=": np.equal, "==": np.equal, "!=": np.not_equal,
        "<": np.less, "<=": np.less_equal, ">": np.greater, ">=": np.greater_equal,
    }[op]
    return ufunc(col, col.dtype.type(x))


def _vec_isin(col: Any, values: Any, np: Any) -> Any:
    info = np.iinfo(col.dtype)
    keep = [v for v in values if info.min <= v <= info.max]
    if not keep:
        return np.zeros(len(col), dtype=bool)
    return np.isin(col, np.array(keep, dtype=col.dtype))


class _Probe:
    """Just enough of an Event for the getters of evt.type and proc.name."""

    __slots__ = ("type", "comm")

    def __init__(self, type: str = "", comm: str = "") -> None:  # noqa: A002
        self.type = type
        self.comm = comm


class _LazyLut:
    """A lookup table over a small integer domain (syscall nr, kind), filled on first
    sight of each index with the per-event predicate — exact by construction."""

    def __init__(self, size: int, compute: Callable[[int], bool], np: Any) -> None:
        self.table = np.full(size, -1, dtype=np.int8)
        self.compute = compute
        self.np = np

    def __call__(self, index: Any) -> Any:
        np = self.np
        vals = self.table[index]
        unknown = vals < 0
        if unknown.any():
            for i in np.unique(index[unknown]).tolist():
                self.table[i] = 1 if self.compute(i) else 0
            vals = self.table[index]
        return vals == 1


def _vec_compare(node: Compare, cols: RawColumns, np: Any) -> Mask:
    name, op = node.field, node.op
    f = resolve(name)
    val = _convert(node, f, "")

    def is_syscall(rec: Any) -> Any:
        return rec[cols.kind] == int(EventKind.SYSCALL)

    if name == "evt.type":
        pred = _compile_compare(node, "")
        sys_lut = _LazyLut(65536, lambda nr: pred(_Probe(type=cols.syscall_name(nr))), np)
        kind_lut = _LazyLut(256, lambda k: pred(_Probe(type=cols.sched_types.get(k, ""))), np)

        def evt_type(rec: Any) -> Any:
            kind = rec[cols.kind]
            return np.where(np.isin(kind, _SYSCALL_KINDS), sys_lut(rec[cols.nr]), kind_lut(kind))

        return evt_type
    if name == "proc.name":
        return _vec_comm(node, val, cols, np)
    if op == "exists" and name not in ("evt.rawres", "evt.res"):
        return lambda rec: np.ones(len(rec), dtype=bool)
    if name == "evt.failed":
        return _vec_failed(op, val, cols, np, is_syscall)
    if name == "evt.res":
        return _vec_res(op, val, cols, np, is_syscall)

    column = {
        "proc.pid": cols.pid,
        "thread.tid": cols.tid,
        "user.uid": cols.uid,
        "evt.latency": cols.latency,
        "evt.rawres": cols.ret,
    }[name]

    def values(rec: Any) -> Any:
        c = rec[column]
        if name == "evt.latency":  # the decoder gives sched events a latency of 0
            c = np.where(np.isin(rec[cols.kind], _SYSCALL_KINDS), c, c.dtype.type(0))
        return c

    def int_mask(rec: Any) -> Any:
        if op == "exists":
            m = np.ones(len(rec), dtype=bool)
        elif op == "in":
            m = _vec_isin(values(rec), val.typed, np)
        else:
            m = _vec_int(values(rec), op, val.typed[0], np)
        return m & is_syscall(rec) if name == "evt.rawres" else m  # no rawres: <NA>

    return int_mask


def _vec_failed(op: str, val: _Operand, cols: RawColumns, np: Any, is_syscall: Any) -> Mask:
    def failed(rec: Any) -> Any:
        r = rec[cols.ret]
        return is_syscall(rec) & (r < 0) & (r > -4096)

    wanted = set(val.typed)  # {True}, {False} or both
    if op == "!=":
        wanted = {True, False} - wanted
    if wanted == {True}:
        return failed
    if wanted == {False}:
        return lambda rec: ~failed(rec)
    const = bool(wanted)
    return lambda rec: np.full(len(rec), const, dtype=bool)


def _vec_res(op: str, val: _Operand, cols: RawColumns, np: Any, is_syscall: Any) -> Mask:
    """evt.res is SUCCESS or the errno name, for SYSCALL records only."""
    if op == "exists":
        return is_syscall
    if op not in ("=", "==", "!=", "in"):  # string tests on names: once per distinct ret
        test = _compile_string_op(lambda text: text, op, val)  # "event" = the res text
        cache: dict[int, bool] = {}

        def by_ret(rec: Any) -> Any:
            uniq, inverse = np.unique(rec[cols.ret], return_inverse=True)
            lut = np.empty(len(uniq), dtype=bool)
            for i, r in enumerate(uniq.tolist()):
                hit = cache.get(r)
                if hit is None:
                    if len(cache) > 65536:
                        cache.clear()
                    text = errno_name(-r) if -4096 < r < 0 else "SUCCESS"
                    hit = cache[r] = test(text)  # type: ignore[arg-type]
                lut[i] = hit
            return lut[inverse.reshape(-1)] & is_syscall(rec)

        return by_ret
    rets: set[int] = set()
    success = False
    for v in val.texts:  # already canonical errno names
        if v == "SUCCESS":
            success = True
            continue
        n = errno_number(v)
        if n is not None and 0 < n < 4096:
            rets.add(-n)
    ret_values = sorted(rets)

    def eq(rec: Any) -> Any:
        r = rec[cols.ret]
        m = _vec_isin(r, ret_values, np)
        if success:
            m = m | ~((r < 0) & (r > -4096))
        return m & is_syscall(rec)

    if op == "!=":
        return lambda rec: is_syscall(rec) & ~eq(rec)
    return eq


def _vec_comm(node: Compare, val: _Operand, cols: RawColumns, np: Any) -> Mask:
    op = node.op
    if op == "exists":
        return lambda rec: np.ones(len(rec), dtype=bool)
    pred = _compile_compare(node, "")
    direct = _comm_bytes(val.texts, op, cols.comm_errors)
    if direct is not None and op in ("=", "==", "!=", "in"):
        # numpy compares S16 values ignoring trailing NULs, as the decoder cuts at NUL.

        def eq(rec: Any) -> Any:
            c = rec[cols.comm]
            fits = [b for b in direct if len(b) <= c.dtype.itemsize]
            if not fits:
                return np.zeros(len(rec), dtype=bool)
            return np.isin(c, np.array(fits, dtype=c.dtype))

        if op == "!=":
            return lambda rec: ~eq(rec)
        return eq
    if direct is not None and op in ("contains", "startswith", "endswith"):
        test = {
            "contains": lambda c, b: np.char.find(c, b) >= 0,
            "startswith": np.char.startswith,
            "endswith": np.char.endswith,
        }[op]
        needle = direct[0]
        return lambda rec: np.asarray(test(rec[cols.comm], needle), dtype=bool)

    # Anything else: the per-event comparison once per distinct comm, remembered.
    cache: dict[bytes, bool] = {}
    errors = cols.comm_errors

    def by_name(rec: Any) -> Any:
        uniq, inverse = np.unique(rec[cols.comm], return_inverse=True)
        lut = np.empty(len(uniq), dtype=bool)
        for i, b in enumerate(uniq.tolist()):
            hit = cache.get(b)
            if hit is None:
                if len(cache) > 65536:
                    cache.clear()
                comm = b.split(b"\0", 1)[0].decode("utf-8", errors)
                hit = cache[b] = pred(_Probe(comm=comm))
            lut[i] = hit
        return lut[inverse.reshape(-1)]

    return by_name


def _comm_bytes(texts: tuple[str, ...], op: str, errors: str) -> list[bytes] | None:
    """The byte strings to compare comm with directly, or None when a byte comparison
    would not be exact (the value holds NUL, surrogates, or text that decoding errors
    produce: a backslash for backslashreplace, U+FFFD for replace)."""
    out = []
    for t in texts:
        try:
            b = t.encode("utf-8")  # strict: a value with surrogates is not plain text
        except UnicodeEncodeError:
            return None
        if b"\0" in b:
            return None
        if errors != "surrogateescape":
            if "\\" in t or "\ufffd" in t:
                return None
            if op not in ("=", "==", "!=", "in"):
                return None  # "xff" can be inside the text of an undecodable byte
        out.append(b)
    return out
