"""What every field module shares: the Field type, value rendering, errno names,
time formatting, sysdig's argument rendering.

Values stay raw here (untrusted strings are *not* escaped): escaping for a terminal
or for JSON is the formatter's job, because filters must compare the real bytes.
"""

from __future__ import annotations

import enum
import functools
import pwd
import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from ..errnos import errno_name
from ..events import Event, EventKind
from .buffer import dots

NA = "<NA>"  # what sysdig prints for a field the event does not have


class FieldType(enum.Enum):
    """How a field's values compare in filters and render in JSON."""

    STRING = "str"
    INT = "int"  # compares numerically
    BOOL = "bool"  # true / false
    IP = "ip"  # an IPv4/IPv6 address, compared as an address ("::1" == "0::1")
    PORT = "port"  # a TCP/UDP port number, compares numerically
    IPNET = "ipnet"  # an address compared with networks: fd.net = 10.0.0.0/8
    DOUBLE = "double"  # a ratio (proc.fdusage)
    DYNAMIC = "arg"  # evt.arg.NAME: an int, a string or a list, whatever was decoded
    BYTES = "bytes"  # I/O data (evt.buffer): compared as text, its bytes kept (bcontains)


@dataclass(frozen=True, slots=True)
class PerOutput:
    """How a field that is a value of the output, not of the event, is made from the
    nanoseconds since the previous event that output was given (evt.deltatime: sysdig's
    time since the previous event to pass the filter; the first one's is 0)."""

    value: Callable[[int], int]  # typed value (-j)
    text: Callable[[int], str]  # -p text


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its name, type, a one-line description and how to get it."""

    name: str
    type: FieldType
    description: str
    get: Callable[[Event], Any]  # typed value, None when the event has no such field
    text: Callable[[Event], str | None]  # the value as output text (unescaped), None = <NA>
    # sysdig's "(FILTER ONLY)" fields (fd.port, fd.net, proc.aname …): ``get`` gives a
    # tuple of candidates and a comparison holds when it holds for one of them
    # (``!=``: for none); they cannot be printed
    any_of: bool = False
    # set for evt.deltatime*: the renderers (render.BatchRenderer, formatter.Formatter)
    # keep the previous event's time and compute it; ``get`` gives None, and the filter
    # refuses the field (which rows pass would depend on which rows passed before)
    per_output: PerOutput | None = None

    @property
    def field_class(self) -> str:
        """The class a field is listed under (``evt``, ``proc`` …)."""
        return self.name.split(".", 1)[0]


@dataclass(frozen=True, slots=True)
class FieldClass:
    """A group of fields as ``cdig trace -l`` lists them."""

    name: str
    description: str
    fields: tuple[Field, ...]


class UnknownFieldError(ValueError):
    """A field name that is not in the table. ``suggestion`` is the closest known name."""

    def __init__(self, name: str, suggestion: str | None = None) -> None:
        self.name = name
        self.suggestion = suggestion
        hint = f"; did you mean '{suggestion}'?" if suggestion else ""
        # repr() of the name: it is user input and may hold control characters.
        super().__init__(f"unknown field {name!r}{hint}")


class FilterOnlyFieldError(UnknownFieldError):
    """A filter-only field (fd.port, proc.aname …) used as a display field."""

    def __init__(self, name: str) -> None:
        ValueError.__init__(self, f"{name!r} is filter only and cannot be used as a display "
                                  "field (sysdig's rule); use it in the filter")
        self.name = name
        self.suggestion = None


# --------------------------------------------------------------------------- time


class _SecondCache:
    """Formats the seconds part of a timestamp once per second (strftime is ~1 µs).

    The (second, text) pair is one attribute so that threads never see a mismatch.
    """

    __slots__ = ("_last", "_fmt")

    def __init__(self, fmt: str) -> None:
        self._fmt = fmt
        self._last = (-1, "")

    def clear(self) -> None:
        self._last = (-1, "")

    def __call__(self, ts_ns: int) -> str:
        sec, ns = divmod(ts_ns, 1_000_000_000)
        last = self._last
        if last[0] != sec:
            last = self._last = (sec, time.strftime(self._fmt, time.localtime(sec)))
        return f"{last[1]}.{ns:09d}"


_time_text = _SecondCache("%H:%M:%S")
_datetime_text = _SecondCache("%Y-%m-%d %H:%M:%S")


_SECOND_TEXTS: dict[tuple[str, int], str] = {}


def second_texts(fmt: str, seconds: list[int]) -> list[str]:
    """``strftime(fmt)`` of each epoch second, local time (cached): the part of
    evt.time/evt.datetime before the nanoseconds, for a batch's distinct seconds."""
    out = []
    for s in seconds:
        t = _SECOND_TEXTS.get((fmt, s))
        if t is None:
            if len(_SECOND_TEXTS) > 4096:
                _SECOND_TEXTS.clear()
            t = _SECOND_TEXTS[fmt, s] = time.strftime(fmt, time.localtime(s))
        out.append(t)
    return out


def clear_time_cache() -> None:
    """Forget the cached seconds text (after a time zone change, e.g. in tests)."""
    _time_text.clear()
    _datetime_text.clear()
    _SECOND_TEXTS.clear()


def format_time(ts_ns: int) -> str:
    """Local wall-clock time of an epoch-ns timestamp as ``HH:MM:SS.nnnnnnnnn`` (evt.time)."""
    return _time_text(ts_ns)


def format_datetime(ts_ns: int) -> str:
    """Local date and time as ``YYYY-MM-DD HH:MM:SS.nnnnnnnnn`` (evt.datetime)."""
    return _datetime_text(ts_ns)


# --------------------------------------------------------------------------- values


def value_text(value: Any) -> str | None:
    """Render a typed field value as output text (unescaped); None stays None (<NA>)."""
    if value is None:
        return None
    if value is True:
        return "true"
    if value is False:
        return "false"
    if isinstance(value, str):
        return value
    if isinstance(value, int):
        return str(value)
    if isinstance(value, bytes):
        # Keep undecodable bytes as lone surrogates: the formatter escapes them as \xNN.
        return value.decode("utf-8", "surrogateescape")
    if isinstance(value, list | tuple):
        return " ".join(NA if v is None else (value_text(v) or "") for v in value)
    return str(value)


# sysdig's one-letter fd type tags, as in "fd=3(<f>/etc/passwd)".
FD_TYPE_CHARS = {
    "file": "f",
    "directory": "d",
    "ipv4": "4",
    "ipv6": "6",
    "unix": "u",
    "pipe": "p",
    "event": "e",
    "signalfd": "s",
    "eventpoll": "l",
    "inotify": "i",
    "timerfd": "t",
    "memfd": "m",
    "netlink": "n",
    "other": "o",
}
_L4_CHARS = {"tcp": "t", "udp": "u", "raw": "r", "icmp": "i"}
# Argument names that hold a file descriptor (annotated with what it refers to).
FD_ARG_NAMES = frozenset(
    {"fd", "dirfd", "olddirfd", "newdirfd", "oldfd", "newfd", "epfd", "in_fd", "out_fd",
     "fd_in", "fd_out"}
)
AT_FDCWD = -100


def _fd_tag(fd: Any) -> str:
    """``<f>/etc/passwd`` / ``<4t>1.2.3.4:5->6.7.8.9:80`` for an FdInfo."""
    tag = FD_TYPE_CHARS.get(fd.type, "o")
    if fd.type in ("ipv4", "ipv6"):
        tag += _L4_CHARS.get(fd.l4proto, "")
    name: str = fd.name
    return "<" + tag + ">" + name


def render_args(event: Event, with_res: bool, data: bool = True) -> str:
    """Render the arguments like sysdig: ``fd=3(<f>/dev/null) size=1 res=1``.

    ``with_res`` appends ``res=`` for completed syscalls (evt.info) — ``res=-2(ENOENT)``
    when it failed. The fd the event refers to (``event.fd``) annotates the first
    argument holding that fd number, or the result when no argument does (openat).
    An I/O call's data comes last, ``data=`` as sysdig's default output shows it
    (``data`` False leaves it out: the formatter renders it in the -A/-x/-X/-b mode).
    """
    fd = event.fd
    annotated = fd is None
    parts = []
    for name, value in event.args.items():
        t = type(value)
        if t is str:  # the common cases first, without value_text's dispatch
            parts.append(name + "=" + value)
            continue
        text = str(value) if t is int else value_text(value)
        if text is None:
            text = NA
        elif t is int and name in FD_ARG_NAMES:
            if not annotated and value == fd.num:  # type: ignore[union-attr]
                text += "(" + _fd_tag(fd) + ")"
                annotated = True
            elif value == AT_FDCWD:
                text += "(AT_FDCWD)"
        parts.append(name + "=" + text)
    if with_res and event.kind == EventKind.SYSCALL:
        res = event.res
        if event.failed:
            parts.append("res=" + str(res) + "(" + errno_name(-res) + ")")
        elif not annotated and res == fd.num:  # type: ignore[union-attr]
            parts.append("res=" + str(res) + "(" + _fd_tag(fd) + ")")
        else:
            parts.append("res=" + str(res))
    if data and event.buffer is not None:
        parts.append("data=" + dots(event.buffer))
    return " ".join(parts)


# --------------------------------------------------------------------------- helpers


@functools.lru_cache(maxsize=8192)
def user_name(uid: int) -> str:
    """The host's name for a uid (pwd database, cached); the number when it has none.

    Container processes are looked up in the host's database, as sysdig does.
    """
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError, ValueError):
        return str(uid)


def _generic_text(get: Callable[[Event], Any]) -> Callable[[Event], str | None]:
    def text(e: Event) -> str | None:
        return value_text(get(e))

    return text


def _int_text(get: Callable[[Event], Any]) -> Callable[[Event], str | None]:
    def text(e: Event) -> str | None:
        v = get(e)
        return None if v is None else str(v)

    return text


def _no_text(e: Event) -> str | None:  # filter-only fields are never printed
    return None


def make_field(
    name: str,
    ftype: FieldType,
    description: str,
    get: Callable[[Event], Any],
    text: Callable[[Event], str | None] | None = None,
    any_of: bool = False,
    per_output: PerOutput | None = None,
) -> Field:
    """A Field with the text getter its type implies (unless given)."""
    if any_of:
        text = _no_text
    elif text is None:
        if ftype in (FieldType.INT, FieldType.PORT):
            text = _int_text(get)
        elif ftype in (FieldType.STRING, FieldType.IP):
            text = get  # already str or None
        else:
            text = _generic_text(get)
    return Field(name, ftype, description, get, text, any_of, per_output)


S, N, B, IP, P = FieldType.STRING, FieldType.INT, FieldType.BOOL, FieldType.IP, FieldType.PORT
NET, D = FieldType.IPNET, FieldType.DOUBLE
