"""The filter AST: its nodes and operators, a walk over it, and the AST back to
filter text (which parses to the same AST: ``syntax.parse(to_text(e)) == e``)."""

from __future__ import annotations

import dataclasses
import re
from collections.abc import Iterator
from dataclasses import dataclass

COMPARE_OPS = ("=", "==", "!=", "<", "<=", ">", ">=")
STRING_OPS = ("contains", "icontains", "startswith", "endswith", "glob")
BYTE_OPS = ("bcontains", "bstartswith")  # the value is hex: bcontains 474554 (GET)
# 'intersects': a value of the field's (several values: evt.arg.argv …) is in the list
LIST_OPS = ("in", "intersects", "pmatch")
WORD_OPS = (*STRING_OPS, *BYTE_OPS, *LIST_OPS, "exists")
OPERATORS = (*COMPARE_OPS, *WORD_OPS)
KEYWORDS = ("and", "or", "not")

# a bare word (no quotes needed); the parser shows one in "unexpected …" errors
BARE_RE = re.compile(r"""[^\s(),="']+""")


@dataclass(frozen=True, slots=True)
class Compare:
    """``field op value`` / ``field in (v, …)`` / ``field exists``. Values are raw text."""

    field: str
    op: str
    values: tuple[str, ...] = ()
    pos: int = dataclasses.field(default=0, compare=False)  # column of the field name
    # column of each value
    value_pos: tuple[int, ...] = dataclasses.field(default=(), compare=False)


@dataclass(frozen=True, slots=True)
class And:
    """``a and b …`` (a docstring: without one, dataclass makes one by inspect.signature)."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Or:
    """``a or b …``."""

    items: tuple[Expr, ...]


@dataclass(frozen=True, slots=True)
class Not:
    """``not a``."""

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


# --------------------------------------------------------------------------- rendering


def _render_char(ch: str) -> str:
    """One character inside "...", as sysdig 0.29.3 reads it back: \\ and \" for
    themselves, a quote ' and anything unprintable as \\xHH bytes (UTF-8)."""
    if ch.isprintable() and ch != "'":
        return "\\" + ch if ch in ('"', "\\") else ch
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:  # an undecodable byte: \xNN, which parses back to it
        return f"\\x{cp - 0xDC00:02x}"
    return "".join(f"\\x{b:02x}" for b in ch.encode("utf-8", "surrogatepass"))


def _render_value(v: str) -> str:
    if BARE_RE.fullmatch(v) and v not in KEYWORDS and v.isprintable() and "\\" not in v:
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
