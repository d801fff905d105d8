"""Filter AST → one predicate ``Event -> bool`` (nested closures, compiled once)."""

from __future__ import annotations

import fnmatch
import functools
import ipaddress
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from ..events import Event
from ..fields import (
    Field,
    FieldType,
    UnknownFieldError,
    canonical_errno_name,
    resolve,
    value_text,
)
from ..fields.base import make_field

if TYPE_CHECKING:
    pass

from . import names
from .syntax import _ARG_PREFIXES, _INT_RE, FilterError, _quote, hex_bytes, parse
from .tree import (
    BYTE_OPS,
    COMPARE_OPS,
    LIST_OPS,
    OPERATORS,
    STRING_OPS,
    And,
    Compare,
    Expr,
    Not,
    fields_used,
)

if TYPE_CHECKING:
    from ...probes.kernel_filter import KernelFilter



# --------------------------------------------------------------------------- compiling

Predicate = Callable[[Event], bool]


def _type_name(f: Field) -> str:
    return {
        FieldType.STRING: "a string",
        FieldType.INT: "a number",
        FieldType.PORT: "a port number",
        FieldType.BOOL: "a boolean",
        FieldType.IP: "an IP address",
        FieldType.IPNET: "an IP network",
        FieldType.DOUBLE: "a number",
        FieldType.DYNAMIC: "an argument",
        FieldType.BYTES: "bytes",
    }[f.type]


def _allowed_ops(ftype: FieldType) -> tuple[str, ...]:
    if ftype in (FieldType.INT, FieldType.PORT, FieldType.DOUBLE):
        return (*COMPARE_OPS, "in", "intersects", "exists")
    if ftype in (FieldType.BOOL, FieldType.IP, FieldType.IPNET):
        return ("=", "==", "!=", "in", "intersects", "exists")
    if ftype in (FieldType.STRING, FieldType.BYTES):
        return ("=", "==", "!=", *STRING_OPS, *BYTE_OPS, *LIST_OPS, "exists")
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


@functools.lru_cache(maxsize=1024)
def _net(text: str) -> ipaddress.IPv4Network | ipaddress.IPv6Network | None:
    try:
        return ipaddress.ip_network(text, strict=False)
    except ValueError:
        return None


class _Operand:
    """The values of one comparison, converted once to what the field compares as
    (a plain class, not a dataclass: ~0.3 ms less of every start; only read)."""

    __slots__ = ("ints", "texts", "typed")

    def __init__(self, texts: tuple[str, ...], ints: tuple[int | None, ...],
                 typed: tuple[Any, ...]) -> None:
        self.texts = texts
        self.ints = ints
        self.typed = typed  # int / bool / ip / str, per the field type


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
        elif f.type == FieldType.DOUBLE:
            try:
                typed.append(float(v) if v.strip().lower() not in ("nan", "inf", "-inf",
                                                                   "infinity") else None)
            except ValueError:
                typed.append(None)
            if typed[-1] is None:
                raise bad("a number")
        elif f.type == FieldType.IPNET:
            net = _net(v)
            if net is None:
                raise bad("an IP network (10.0.0.0/8) or address")
            typed.append(net)
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


_REL: dict[str, Callable[[Any, Any], bool]] = {
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
    if f.per_output is not None:  # sysdig compares it with the previous event to pass
        raise FilterError(f"{f.name} is a value of the output (the time since the previous "
                          "event shown), not of the event: print it with -p", node.pos, text)
    op = node.op
    if op not in _allowed_ops(f.type):
        raise FilterError(
            f"operator '{op}' does not apply to {f.name} ({_type_name(f)})", node.pos, text
        )
    if op in LIST_OPS and not node.values:  # 'in ()': an empty list holds nothing
        return lambda e: False
    get = f.get
    if node.field.startswith(_ARG_PREFIXES):
        get = _with_sysdig_names(get, node.field)
    if f.any_of:  # candidates (fd.port: both ends): true for one of them; '!=': for none
        candidates = get
        if op == "exists":
            return lambda e: bool(candidates(e))
        one = _compile_values(f, _identity, op, _convert(node, f, text), node, text)
        if op == "!=":
            return lambda e: (vs := candidates(e)) != () and all(one(v) for v in vs)
        return lambda e: any(one(v) for v in candidates(e))
    if op == "exists":
        return lambda e: get(e) is not None
    return _compile_values(f, get, op, _convert(node, f, text), node, text)


def _identity(v: Any) -> Any:
    return v


def sysdig_named(f: Field) -> Field:
    """``f`` itself, or for evt.arg.NAME / evt.rawarg.NAME one that also reads sysdig's
    name of an argument (for -p/-j: %evt.arg.name of an openat is its path)."""
    if not f.name.startswith(_ARG_PREFIXES):
        return f
    return make_field(f.name, f.type, f.description, _with_sysdig_names(f.get, f.name))


def _with_sysdig_names(get: Callable[[Event], Any], name: str) -> Callable[[Event], Any]:
    """evt.arg.NAME that also reads sysdig's name of an argument: on an event without
    an argument NAME, cdig's argument that sysdig calls NAME for that event type
    (evt.arg.name of an openat is its path, evt.arg.filename of a chmod too)."""
    prefix = next(p for p in _ARG_PREFIXES if name.startswith(p))
    arg = name[len(prefix):]
    getters: dict[str, Callable[[Event], Any]] = {}

    def aliased(e: Event) -> Any:
        v = get(e)
        if v is None:
            alt = names.arg_alias(e.type, arg)
            if alt is not None:
                g = getters.get(alt)
                if g is None:
                    g = getters[alt] = resolve(prefix + alt).get
                v = g(e)
        return v

    return aliased


def _compile_values(f: Field, get: Callable[[Any], Any], op: str, val: _Operand,
                    node: Compare, text: str) -> Predicate:
    """The comparison of the value ``get`` gives (from an event, or a candidate itself)."""
    try:
        if f.type == FieldType.DYNAMIC:
            return _compile_dynamic(get, op, val)
        if f.type == FieldType.IP:
            return _compile_ip(get, op, val)
        if f.type == FieldType.IPNET:
            return _compile_ipnet(get, op, val)
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


def _as_bytes(v: Any) -> bytes:
    """A value as the bytes it was (text from the kernel keeps undecodable bytes as
    surrogates)."""
    if isinstance(v, bytes | bytearray):
        return bytes(v)
    return str(v).encode("utf-8", "surrogateescape")


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
    elif op in BYTE_OPS:
        needle = hex_bytes(x) or b""
        if op == "bcontains":
            test = lambda v: needle in _as_bytes(v)  # noqa: E731
        else:
            test = lambda v: _as_bytes(v).startswith(needle)  # noqa: E731
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


def _compile_ipnet(get: Callable[[Event], Any], op: str, val: _Operand) -> Predicate:
    nets = tuple(val.typed)

    def inside(e: Event) -> bool | None:
        v = get(e)
        if v is None:
            return None
        ip = _ip(v)
        return ip is not None and any(ip.version == n.version and ip in n for n in nets)

    if op == "!=":
        return lambda e: inside(e) is False
    return lambda e: inside(e) is True


def _compile_dynamic(get: Callable[[Event], Any], op: str, val: _Operand) -> Predicate:
    """evt.arg.NAME: ints compare as numbers (when the value is a number), anything
    else compares as its text (lists space-joined, as printed)."""
    if op in _REL:
        rel, x = _REL[op], val.typed[0]

        def relational(e: Event) -> bool:
            v = get(e)
            return type(v) is int and rel(v, x)

        return relational
    if op == "intersects":  # a list (argv …): one of its items is in the values
        ints_i = frozenset(n for n in val.ints if n is not None)
        texts_i = frozenset(val.texts)

        def intersects(e: Event) -> bool:
            v = get(e)
            if v is None:
                return False
            items = v if isinstance(v, list | tuple) else (v,)
            return any(x in ints_i if type(x) is int else value_text(x) in texts_i
                       for x in items)

        return intersects
    if op in BYTE_OPS:
        return _compile_string_op(lambda e: get(e), op, val)
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
        from .pushdown import pushdown

        return pushdown(self.expr)


def compile_filter(text: str) -> Filter:
    """Parse and compile a filter; raises FilterError (and nothing else) if it is bad."""
    return Filter(text)


