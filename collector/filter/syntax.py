"""The filter language's syntax: the parser with positioned errors (the AST it
builds and the AST back to text are in :mod:`.tree`)."""

from __future__ import annotations

import re
import unicodedata

from ..fields import UnknownFieldError, resolve
from ..formatter import escape_text
from . import names
from .tree import BARE_RE, BYTE_OPS, KEYWORDS, LIST_OPS, WORD_OPS, And, Compare, Expr, Not, Or

MAX_DEPTH = 100  # nesting of parentheses and 'not'; keeps recursion far from Python's limit

_WS_RE = re.compile(r"\s*")
_WORD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*")
# a field name: a word, then sysdig's argument in brackets (proc.aname[2], evt.arg[0])
_FIELD_RE = re.compile(r"[A-Za-z_][A-Za-z0-9_.]*(?:\[[^\[\]\s]*\])?")
# A bare value, as sysdig reads one: up to a space or a parenthesis (and a comma in
# a list); it may hold '=', ',' and quotes after its first character, and escapes.
_BARE_VALUE_RE = re.compile(r"""[^\s()="',][^\s()]*""")
_BARE_ITEM_RE = re.compile(r"""[^\s()="',][^\s(),]*""")
_INT_RE = re.compile(r"[+-]?(?:0[xX][0-9a-fA-F]+|[0-9]+)")
_HEX = frozenset("0123456789abcdefABCDEF")
# sysdig 0.29.3's escapes, measured with sysdig -r: \\ and \" are the characters,
# \xHH a byte; any other backslash stays, with the character after it (\ , \',
# \q …: "a\ b" is the four characters a, \, space, b); a backslash never ends a
# quoted string. Unlike sysdig, the escapes cdig's output shows (\n \t \r \uXXXX
# \UXXXXXXXX, collector.formatter.escape_text) mean their character, so a value
# copied from the output matches.
_SIMPLE_ESCAPES = {"\\": "\\", '"': '"', "n": "\n", "t": "\t", "r": "\r"}
_WIDE_ESCAPES = {"u": 4, "U": 8}


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


_FOLD_OR = 8  # an or-chain this long of equalities on one field becomes one `in`


def _fold_equalities(items: list[Expr]) -> list[Expr]:
    """``f = a or f = b or f in (c, d) …`` → ``f in (a, b, c, d)``, once per field: the
    same matches, one set lookup instead of a predicate per term (a 10,000-term
    rule took 25 s). Not for evt.arg.* (their values may be lists)."""
    by_field: dict[str, list[Compare]] = {}
    out: list[Expr] = []
    for e in items:
        if isinstance(e, Compare) and e.op in ("=", "==", "in") and \
                not e.field.startswith("evt.arg"):
            group = by_field.get(e.field)
            if group is None:
                group = by_field[e.field] = []
                out.append(e)  # its place: the first term of the field
            group.append(e)
        else:
            out.append(e)
    folded: list[Expr] = []
    for e in out:
        group = by_field.get(e.field) if isinstance(e, Compare) else None
        if group is not None and group[0] is e and len(group) > 1:
            values = tuple(v for c in group for v in c.values)
            value_pos = tuple(p for c in group for p in c.value_pos)
            folded.append(Compare(e.field, "in", values, e.pos, value_pos))
        else:
            folded.append(e)
    return folded


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
        m = _WORD_RE.match(self.text, self.pos) or BARE_RE.match(self.text, self.pos)
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
        if len(items) >= _FOLD_OR:
            items = _fold_equalities(items)
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
        m = _FIELD_RE.match(self.text, self.pos)
        if m is None or m.group(0) in KEYWORDS:
            after = f" after '{self.last}'" if self.last else ""
            raise self.error(f"expected a field name{after}, got {self.describe_here()}")
        name = m.group(0)
        try:
            resolve(name)
        except UnknownFieldError as exc:
            hint = f"; did you mean '{exc.suggestion}'?" if exc.suggestion else ""
            raise self.error(f"unknown field '{name}'{hint}", start) from None
        self.check_argument(name, start)
        self.pos = m.end()
        op = self.parse_operator(name)
        self.last = op
        if op == "exists":
            return Compare(name, op, (), start, ())
        if op in LIST_OPS:
            values, positions = self.parse_list(op)
        else:
            self.skip_ws()
            positions = (self.pos,)
            values = (self.parse_value(f"expected a value after '{op}'"),)
        if op in BYTE_OPS:
            for v, p in zip(values, positions, strict=True):
                if hex_bytes(v) is None:
                    raise self.error(f"expected hex bytes (bcontains 474554: 'GET') after "
                                     f"'{op}', got {_quote(v)}", p)
        if name == "evt.type" and op in ("=", "==", "!=", "in", "intersects"):
            values = tuple(self.event_type(v, p) for v, p in zip(values, positions, strict=True))
        if op == "intersects" and not name.startswith(_ARG_PREFIXES):
            op = "in"  # a field of one value: the same test
        return Compare(name, op, values, start, positions)

    def check_argument(self, name: str, start: int) -> None:
        """evt.arg.NAME / evt.rawarg.NAME: NAME must be an argument of some event."""
        for prefix in _ARG_PREFIXES:
            if name.startswith(prefix):
                arg = name[len(prefix):]
                if not names.arg_known(arg):
                    close = names.suggest_arg(arg)
                    hint = f"; did you mean '{prefix}{close}'?" if close else ""
                    raise self.error(f"unknown event argument '{arg}'{hint}", start + len(prefix))

    def event_type(self, value: str, pos: int) -> str:
        """cdig's name of an event type (sysdig's aliases: pread is pread64), or an error."""
        known = names.event_type(value)
        if known is None:
            close = names.suggest_type(value)
            hint = f"; did you mean '{close}'?" if close else ""
            raise self.error(f"unknown event type {_quote(value)}{hint}", pos)
        return known

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
        self.skip_ws()
        if self.text[self.pos : self.pos + 1] == ")":  # an empty list: matches nothing
            self.pos += 1
            return (), ()
        while True:
            self.skip_ws()
            positions.append(self.pos)
            values.append(self.parse_value("expected a value in the list", _BARE_ITEM_RE))
            self.skip_ws()
            c = self.text[self.pos : self.pos + 1]
            if c == ",":
                self.pos += 1
            elif c == ")":
                self.pos += 1
                return tuple(values), tuple(positions)
            else:
                raise self.error(f"expected ',' or ')' in the list, got {self.describe_here()}")

    def parse_value(self, missing: str, bare: re.Pattern[str] = _BARE_VALUE_RE) -> str:
        text, pos = self.text, self.pos
        c = text[pos : pos + 1]
        if c in ('"', "'"):
            return self.parse_quoted(c)
        m = bare.match(text, pos)
        if m is None:
            raise self.error(missing)
        self.pos = m.end()
        word = m.group(0)
        if "\\" not in word:
            return word
        out: list[str] = []
        i = 0
        while True:
            j = word.find("\\", i)
            if j < 0:
                out.append(word[i:])
                return _bytes_as_text("".join(out))
            out.append(word[i:j])
            if j + 1 >= len(word):
                raise self.error("a value cannot end with a lone backslash (quote it: "
                                 "\"a\\\\\")", pos + j)
            i = self.parse_escape(pos + j, out) - pos

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
            if j < len(text) and text[j] == quote:
                self.pos = j + 1
                return _bytes_as_text("".join(out))
            if j + 1 >= len(text):  # the end, or a backslash before it
                raise self.error("unterminated string", start)
            i = self.parse_escape(j, out)

    def parse_escape(self, j: int, out: list[str]) -> int:
        """Decode the backslash escape at ``j`` into ``out``; return the index after it."""
        text = self.text
        c = text[j + 1 : j + 2]
        if c in _SIMPLE_ESCAPES:
            out.append(_SIMPLE_ESCAPES[c])
            return j + 2
        if c == "x":
            digits = text[j + 2 : j + 4]
            if len(digits) == 2 and all(d in _HEX for d in digits):
                cp = int(digits, 16)
                # a byte: \x80-\xff stand for themselves (undecodable, as the output
                # shows them) until _bytes_as_text joins UTF-8 sequences (\xc3\xa9: é)
                out.append(chr(cp + 0xDC00 if cp >= 0x80 else cp))
                return j + 4
            raise self.error(f"bad escape {_quote(text[j : j + 4])}: \\x takes two hex digits", j)
        width = _WIDE_ESCAPES.get(c)
        if width is not None:
            digits = text[j + 2 : j + 2 + width]
            if len(digits) == width and all(d in _HEX for d in digits) and \
                    int(digits, 16) <= 0x10FFFF:
                out.append(chr(int(digits, 16)))
                return j + 2 + width
            raise self.error(f"bad escape {_quote(text[j : j + 2 + width])}: \\{c} takes "
                             f"{width} hex digits", j)
        out.append(text[j : j + 2])  # sysdig keeps any other escape as it is
        return j + 2


_ARG_PREFIXES = ("evt.arg.", "evt.rawarg.")


def _bytes_as_text(s: str) -> str:
    """Bytes given as \\xHH escapes (surrogates) that form UTF-8 become their characters."""
    if not any("\udc80" <= ch <= "\udcff" for ch in s):
        return s
    return s.encode("utf-8", "surrogateescape").decode("utf-8", "surrogateescape")


def hex_bytes(text: str) -> bytes | None:
    """The bytes of a bcontains/bstartswith value (hex digits, two per byte), or None."""
    if not text or len(text) % 2 or not all(c in _HEX for c in text):
        return None
    return bytes.fromhex(text)


def parse(text: str) -> Expr | None:
    """Parse a filter into its AST; None for an empty (match-all) filter.

    Checks syntax and field names; types are checked by :func:`compile_expr`.
    Raises FilterError, and nothing else, whatever the text.
    """
    return _Parser(text).parse()
