"""Event output: ``-p`` text formats and ``-j`` JSON lines.

Process names, paths and argv are chosen by whoever runs the traced programs, so
every value is treated as data: in text output control characters, terminal escape
bytes (ESC and the rest of C0, DEL, C1) and other invisible/format characters are
shown as visible escapes (``\\x1b``, ``\\n``, ``\\u202e``); JSON is valid UTF-8 and
escapes them as JSON ``\\u`` escapes. Values are only ever concatenated — never used
as a ``%``/``str.format`` template.

A format is compiled once into (literal, getter) parts; see :class:`Formatter`.
"""

from __future__ import annotations

import json
import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from .events import Event
from .fields import (
    NA,
    Field,
    FieldType,
    FilterOnlyFieldError,
    UnknownFieldError,
    resolve,
    value_text,
)
from .fields.base import render_args
from .fields.buffer import render as render_buffer

__all__ = [
    "CONTAINER_FORMAT",
    "DEFAULT_FORMAT",
    "DEFAULT_JSON_FIELDS",
    "Formatter",
    "JsonFormatter",
    "UnknownFieldError",
    "escape_json_string",
    "escape_text",
    "parse_format",
    "resolve_output",
    "text_value",
]

# sysdig's defaults. The leading '*' means "print the event even when some fields are
# missing" (shown as <NA>); without it, events missing a field are skipped, as sysdig does.
DEFAULT_FORMAT = (
    "*%evt.num %evt.outputtime %evt.cpu %proc.name (%thread.tid) %evt.dir %evt.type %evt.info"
)
CONTAINER_FORMAT = (
    "*%evt.num %evt.outputtime %evt.cpu %container.name (%container.id) "
    "%proc.name (%thread.tid:%thread.vtid) %evt.dir %evt.type %evt.info"
)
DEFAULT_JSON_FIELDS: tuple[str, ...] = (
    "evt.num",
    "evt.rawtime",
    "evt.time",
    "evt.cpu",
    "evt.type",
    "evt.dir",
    "evt.res",
    "evt.rawres",
    "evt.failed",
    "evt.latency",
    "evt.info",
    "proc.name",
    "proc.pid",
    "proc.ppid",
    "proc.cmdline",
    "thread.tid",
    "user.uid",
    "user.name",
    "container.id",
    "container.name",
    "container.image",
    "k8s.pod.name",
    "k8s.ns.name",
    "fd.num",
    "fd.type",
    "fd.name",
)

# --------------------------------------------------------------------------- escaping

_SHORT_ESCAPES = {"\n": "\\n", "\t": "\\t", "\r": "\\r", "\\": "\\\\"}


def _escape_char(ch: str) -> str:
    short = _SHORT_ESCAPES.get(ch)
    if short is not None:
        return short
    cp = ord(ch)
    if 0xDC80 <= cp <= 0xDCFF:  # a byte that was not UTF-8 (surrogateescape): show the byte
        return f"\\x{cp - 0xDC00:02x}"
    if cp < 0x80:  # C0 and DEL; C1 gets \u0080.. so it cannot pass for a raw byte
        return f"\\x{cp:02x}"
    if cp < 0x10000:
        return f"\\u{cp:04x}"
    return f"\\U{cp:08x}"


def escape_text(s: str) -> str:
    """Make an untrusted string safe and unambiguous to print on a terminal.

    Everything ``str.isprintable()`` rejects — C0 (incl. ESC), DEL, C1, bidi and
    other format characters, line/paragraph separators, lone surrogates — becomes a
    visible escape; backslash is doubled so an escape cannot be forged.
    """
    if s.isprintable() and "\\" not in s:  # the common case: one C-level scan
        return s
    return "".join(ch if ch.isprintable() and ch != "\\" else _escape_char(ch) for ch in s)


_json_basestring: Callable[[str], str] = json.encoder.encode_basestring


def escape_json_string(s: str) -> str:
    """A JSON string literal (with quotes) that is valid UTF-8 and terminal-safe.

    Non-printable characters become JSON ``\\uXXXX`` escapes, so a JSON parser gets
    the exact original string back. Lone surrogates (bytes that were not UTF-8) are not
    valid in JSON; they are written as the text ``\\xNN``, as in text output.
    """
    if s.isprintable():
        return _json_basestring(s)
    out = ['"']
    for ch in s:
        if ch.isprintable():
            out.append('\\"' if ch == '"' else "\\\\" if ch == "\\" else ch)
            continue
        cp = ord(ch)
        if 0xD800 <= cp <= 0xDFFF:
            out.append(f"\\\\x{cp - 0xDC00:02x}" if cp >= 0xDC80 else f"\\\\u{cp:04x}")
        elif cp < 0x10000:
            out.append(f"\\u{cp:04x}")
        else:  # astral non-printables: a UTF-16 surrogate pair, as JSON requires
            cp -= 0x10000
            out.append(f"\\u{0xD800 + (cp >> 10):04x}\\u{0xDC00 + (cp & 0x3FF):04x}")
    out.append('"')
    return "".join(out)


def _json_value(value: Any) -> str:
    if value is None:
        return "null"
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return escape_json_string(value)
    if isinstance(value, int):
        return str(value)
    if isinstance(value, list | tuple):
        return "[" + ",".join(_json_value(v) for v in value) + "]"
    if isinstance(value, bytes):
        return escape_json_string(value.decode("utf-8", "surrogateescape"))
    if isinstance(value, float):
        return json.dumps(value)  # NaN/inf would be invalid JSON, but no field is a float
    return escape_json_string(str(value))


# --------------------------------------------------------------------------- -p formats

# %field or %{field}. A field name never ends with '.', so "%proc.name." keeps the dot.
_TOKEN_RE = re.compile(
    r"%(?:\{([^{}]*)\}|([A-Za-z_][A-Za-z0-9_]*(?:\.[A-Za-z0-9_]+)*(?:\[[^\[\]\s]*\])?))|%%")

_SAFE_TYPES = (FieldType.INT, FieldType.PORT, FieldType.BOOL)  # digits and letters only


def _part(field: Field) -> Callable[[Event], str | None]:
    """The text getter of a field, escaping values that may hold untrusted text."""
    text = field.text
    if field.type in _SAFE_TYPES:
        return text
    if field.name in ("evt.info", "evt.args"):
        return _with_data(field)
    if field.name == "evt.buffer":
        return text  # rendered by fields.buffer: printable ASCII, tabs and newlines only

    def escaped(e: Event) -> str | None:
        s = text(e)
        return None if s is None else escape_text(s)

    return escaped


def _with_data(field: Field) -> Callable[[Event], str | None]:
    """evt.info / evt.args: the arguments escaped, then an I/O call's ``data=`` in the
    print mode of -A/-x/-X/-b (its rendering is safe as it is, and must keep the
    newlines and tabs of those modes)."""
    text = field.text
    with_res = field.name == "evt.info"

    def get(e: Event) -> str | None:
        if e.buffer is None:
            s = text(e)
            return None if s is None else escape_text(s)
        head = escape_text(render_args(e, with_res, data=False))
        return (head + " " if head else "") + "data=" + render_buffer(e.buffer)

    return get


def resolve_output(name: str) -> Field:
    """The field to print for ``name``: evt.arg.NAME also reads sysdig's argument names
    (what the filter accepts, collector.filter.names)."""
    from .filter.compile import sysdig_named  # the filter package imports this module

    return sysdig_named(resolve(name))


def parse_format(fmt: str) -> tuple[bool, list[str], list[Field]]:
    """Split a ``-p`` format into literals and fields.

    Returns ``(require_all, literals, fields)`` with ``len(literals) == len(fields) + 1``.
    A leading ``*`` clears ``require_all``; ``%%`` is a literal ``%``; a ``%`` not
    followed by a field name is kept as is. Unknown fields raise UnknownFieldError.
    """
    require_all = True
    if fmt.startswith("*"):
        require_all = False
        fmt = fmt[1:]
    literals: list[str] = []
    fields: list[Field] = []
    current: list[str] = []
    pos = 0
    for m in _TOKEN_RE.finditer(fmt):
        current.append(fmt[pos : m.start()])
        pos = m.end()
        if m.group(0) == "%%":
            current.append("%")
            continue
        name = m.group(1) if m.group(1) is not None else m.group(2)
        f = resolve_output(name.strip())
        if f.any_of:  # fd.port, proc.aname …: sysdig's filter-only fields
            raise FilterOnlyFieldError(f.name)
        fields.append(f)
        literals.append("".join(current))
        current = []
    current.append(fmt[pos:])
    literals.append("".join(current))
    return require_all, literals, fields


class _Clock:
    """The time of the previous event an output was given: per-output fields
    (evt.deltatime) are the time since it; 0 for the first event."""

    __slots__ = ("prev", "delta")

    def __init__(self) -> None:
        self.prev: int | None = None
        self.delta = 0

    def tick(self, ts_ns: int) -> None:
        self.delta = 0 if self.prev is None else ts_ns - self.prev
        self.prev = ts_ns


def _clock_getter(clock: _Clock, of: Callable[[int], Any]) -> Callable[[Event], Any]:
    return lambda e: of(clock.delta)


class Formatter:
    """A compiled ``-p`` format: ``format(event)`` gives one output line (no newline).

    ``format`` returns None when the format has no leading ``*`` and the event lacks
    one of its fields — sysdig then does not print the event. The literal text of the
    format is the user's own and is kept verbatim; field values are escaped.
    """

    __slots__ = ("fmt", "fields", "require_all", "_first", "_parts", "_json", "_clock")

    def __init__(self, fmt: str = DEFAULT_FORMAT) -> None:
        self.fmt = fmt
        self.require_all, literals, fields = parse_format(fmt)
        self.fields: tuple[Field, ...] = tuple(fields)
        self._first = literals[0]
        # each call of format() is an event shown (or skipped for a missing field)
        self._clock = _Clock() if any(f.per_output for f in fields) else None
        getters = [_part(f) if f.per_output is None or self._clock is None
                   else _clock_getter(self._clock, f.per_output.text) for f in fields]
        # (getter, literal that follows it) pairs, walked in one loop per event.
        self._parts = tuple(zip(getters, literals[1:], strict=True))
        self._json: JsonFormatter | None = None

    def format(self, event: Event) -> str | None:
        """The event as one line of text, or None if it must be skipped (see class doc)."""
        if self._clock is not None:
            self._clock.tick(event.ts_ns)
        out = [self._first]
        append = out.append
        for get, literal in self._parts:
            value = get(event)
            if value is None:
                if self.require_all:
                    return None
                value = NA
            append(value)
            append(literal)
        return "".join(out)

    def json(self, event: Event) -> str | None:
        """``-p`` with ``-j``: a JSON object of the format's fields (skipping rules as format)."""
        if self._json is None:
            self._json = JsonFormatter([f.name for f in self.fields])
        if self.require_all and any(f.get(event) is None for f in self.fields
                                    if f.per_output is None):
            self._json.tick(event)  # the event was given to the output all the same
            return None
        return self._json.format(event)


class JsonFormatter:
    """``-j``: one JSON object per event, keyed by field name, typed values, null for <NA>."""

    __slots__ = ("_items", "_clock")

    def __init__(self, fields: Sequence[str] | Iterable[str] = DEFAULT_JSON_FIELDS) -> None:
        items: list[tuple[str, Callable[[Event], Any], Callable[[Any], str]]] = []
        seen: set[str] = set()
        self._clock: _Clock | None = None
        for name in fields:
            f = resolve_output(name)
            if f.name in seen:
                continue
            seen.add(f.name)
            get = f.get
            if f.per_output is not None:
                self._clock = self._clock or _Clock()
                get = _clock_getter(self._clock, f.per_output.value)
            items.append((escape_json_string(f.name) + ":", get, _JSON_ENCODERS.get(f.type,
                                                                                 _json_value)))
        self._items = tuple(items)

    def tick(self, event: Event) -> None:
        """``event`` was given to the output but not printed (a format's missing field)."""
        if self._clock is not None:
            self._clock.tick(event.ts_ns)

    def format(self, event: Event) -> str:
        """The event as one JSON object on one line (no newline)."""
        self.tick(event)
        out = []
        for key, get, encode in self._items:
            v = get(event)
            out.append(key + ("null" if v is None else encode(v)))
        return "{" + ",".join(out) + "}"


# Per-type encoders for non-None values: skip _json_value's type dispatch.
_JSON_ENCODERS: dict[FieldType, Callable[[Any], str]] = {
    FieldType.INT: str,
    FieldType.PORT: str,
    FieldType.STRING: escape_json_string,
    FieldType.IP: escape_json_string,
}


def text_value(field: Field, event: Event) -> str:
    """One field of an event as safe display text (``<NA>`` when missing), e.g. for the TUI."""
    s = value_text(field.get(event))
    return NA if s is None else escape_text(s)
