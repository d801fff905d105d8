"""The one field table: every field usable in filters, ``-p`` formats, ``-j`` JSON,
``cdig trace -l``, the TUI and capture columns.

Names and meanings follow sysdig's (``sysdig -l``) so that what users already know
carries over. Each :class:`Field` has a typed getter ``Event -> value`` that returns
``None`` when the event does not have the field (printed as ``<NA>``, as sysdig
does), and a text getter for output.

Values stay raw here (untrusted strings are *not* escaped): escaping for a terminal
or for JSON is the formatter's job, because filters must compare the real bytes.
"""

from __future__ import annotations

import difflib
import enum
import errno
import functools
import operator
import os
import pwd
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from typing import Any

from cdig.collector.events import Event, EventKind

NA = "<NA>"  # what sysdig prints for a field the event does not have


class FieldType(enum.Enum):
    """How a field's values compare in filters and render in JSON."""

    STRING = "str"
    INT = "int"  # compares numerically
    BOOL = "bool"  # true / false
    IP = "ip"  # an IPv4/IPv6 address, compared as an address ("::1" == "0::1")
    PORT = "port"  # a TCP/UDP port number, compares numerically
    DYNAMIC = "arg"  # evt.arg.NAME: an int, a string or a list, whatever was decoded


@dataclass(frozen=True, slots=True)
class Field:
    """One field: its name, type, a one-line description and how to get it."""

    name: str
    type: FieldType
    description: str
    get: Callable[[Event], Any]  # typed value, None when the event has no such field
    text: Callable[[Event], str | None]  # the value as output text (unescaped), None = <NA>

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


# --------------------------------------------------------------------------- errno


# Python's errno.errorcode picks glibc aliases for a few numbers; the kernel (and
# sysdig) use these names.
_ERRNO_PREFERRED = {
    errno.EAGAIN: "EAGAIN",
    errno.EDEADLK: "EDEADLK",
    errno.EOPNOTSUPP: "EOPNOTSUPP",
}
# Kernel-internal codes that can leak to tracepoints (include/linux/errno.h); not in libc.
_ERRNO_KERNEL = {
    512: "ERESTARTSYS",
    513: "ERESTARTNOINTR",
    514: "ERESTARTNOHAND",
    515: "ENOIOCTLCMD",
    516: "ERESTART_RESTARTBLOCK",
    517: "EPROBE_DEFER",
    518: "EOPENSTALE",
    519: "ENOPARAM",
    521: "EBADHANDLE",
    522: "ENOTSYNC",
    523: "EBADCOOKIE",
    524: "ENOTSUPP",
    525: "ETOOSMALL",
    526: "ESERVERFAULT",
    527: "EBADTYPE",
    528: "EJUKEBOX",
    529: "EIOCBQUEUED",
    530: "ERECALLCONFLICT",
}
_ERRNO_NAMES: dict[int, str] = {**errno.errorcode, **_ERRNO_PREFERRED, **_ERRNO_KERNEL}
# name -> number, aliases (EWOULDBLOCK, EDEADLOCK, ENOTSUP) included.
_ERRNO_NUMBERS: dict[str, int] = {
    **{n: getattr(errno, n) for n in dir(errno) if n.startswith("E") and n.isupper()},
    **{v: k for k, v in _ERRNO_NAMES.items()},
}


def errno_name(number: int) -> str:
    """The errno name of a positive errno number (``2`` → ``"ENOENT"``).

    Unknown numbers come back as ``"E<number>"`` so the result is never empty.
    """
    return _ERRNO_NAMES.get(number) or f"E{number}"


def errno_number(name: str) -> int | None:
    """The number of an errno name (``"ENOENT"`` → 2), aliases included; None if unknown."""
    number = _ERRNO_NUMBERS.get(name)
    if number is None and name.startswith("E") and name[1:].isdigit() and name[1:].isascii():
        return int(name[1:])  # the inverse of errno_name's fallback
    return number


def canonical_errno_name(name: str) -> str:
    """``EWOULDBLOCK`` → ``EAGAIN``: the name ``evt.res`` shows for an alias (else unchanged)."""
    number = errno_number(name)
    return name if number is None else errno_name(number)


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
    return "<" + tag + ">" + fd.name


def render_args(event: Event, with_res: bool) -> str:
    """Render the arguments like sysdig: ``fd=3(<f>/dev/null) size=1 res=1``.

    ``with_res`` appends ``res=`` for completed syscalls (evt.info) — ``res=-2(ENOENT)``
    when it failed. The fd the event refers to (``event.fd``) annotates the first
    argument holding that fd number, or the result when no argument does (openat).
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
    return " ".join(parts)


# --------------------------------------------------------------------------- getters


@functools.lru_cache(maxsize=8192)
def user_name(uid: int) -> str:
    """The host's name for a uid (pwd database, cached); the number when it has none.

    Container processes are looked up in the host's database, as sysdig does.
    """
    try:
        return pwd.getpwuid(uid).pw_name
    except (KeyError, OverflowError, ValueError):
        return str(uid)


def _syscall_only(getter: Callable[[Event], Any]) -> Callable[[Event], Any]:
    """Only completed syscalls have a return value; others give None (<NA>)."""

    def get(e: Event) -> Any:
        return getter(e) if e.kind == EventKind.SYSCALL else None

    return get


def _evt_res(e: Event) -> str | None:
    if e.kind != EventKind.SYSCALL:
        return None
    return errno_name(-e.res) if e.failed else "SUCCESS"


def _proc_attr(attr: str, empty_is_none: bool = False) -> Callable[[Event], Any]:
    def get(e: Event) -> Any:
        p = e.proc
        if p is None:
            return None
        v = getattr(p, attr)
        return None if empty_is_none and not v else v

    return get


def _proc_args(e: Event) -> str | None:
    return None if e.proc is None else " ".join(e.proc.args)


def _thread_vtid(e: Event) -> int | None:
    # The kernel side reads no task_struct, so the namespaced tid is not known. For
    # host processes it equals the tid (host pid namespace); inside containers: <NA>.
    return e.tid if e.container.is_host else None


def _container_attr(attr: str) -> Callable[[Event], Any]:
    def get(e: Event) -> Any:
        return getattr(e.container, attr) or None

    return get


def _fd_attr(attr: str, sockets_only: bool = False) -> Callable[[Event], Any]:
    def get(e: Event) -> Any:
        fd = e.fd
        if fd is None:
            return None
        if sockets_only and fd.type not in ("ipv4", "ipv6"):
            return None
        return getattr(fd, attr) or None

    return get


def _fd_num(e: Event) -> int | None:
    if e.fd is not None:
        return e.fd.num
    v = e.args.get("fd")
    return v if type(v) is int else None


def _fd_directory(e: Event) -> str | None:
    fd = e.fd
    if fd is None or fd.type not in ("file", "directory") or not fd.name:
        return None
    return fd.name if fd.type == "directory" else os.path.dirname(fd.name)


def _fd_filename(e: Event) -> str | None:
    fd = e.fd
    if fd is None or fd.type != "file" or not fd.name:
        return None
    return os.path.basename(fd.name)


_PATH_ARG_NAMES = ("path", "pathname", "filename", "name")


def _fs_path_name(e: Event) -> str | None:
    args = e.args
    for key in _PATH_ARG_NAMES:
        v = args.get(key)
        if isinstance(v, str):
            return v
    fd = e.fd
    if fd is not None and fd.type in ("file", "directory") and fd.name:
        return fd.name
    return None


# --------------------------------------------------------------------------- table


def _generic_text(get: Callable[[Event], Any]) -> Callable[[Event], str | None]:
    def text(e: Event) -> str | None:
        return value_text(get(e))

    return text


def _int_text(get: Callable[[Event], Any]) -> Callable[[Event], str | None]:
    def text(e: Event) -> str | None:
        v = get(e)
        return None if v is None else str(v)

    return text


def _f(
    name: str,
    ftype: FieldType,
    description: str,
    get: Callable[[Event], Any],
    text: Callable[[Event], str | None] | None = None,
) -> Field:
    if text is None:
        if ftype in (FieldType.INT, FieldType.PORT):
            text = _int_text(get)
        elif ftype in (FieldType.STRING, FieldType.IP):
            text = get  # already str or None
        else:
            text = _generic_text(get)
    return Field(name, ftype, description, get, text)


S, N, B, IP, P = FieldType.STRING, FieldType.INT, FieldType.BOOL, FieldType.IP, FieldType.PORT
_attr = operator.attrgetter

_TABLE: tuple[Field, ...] = (
    _f("evt.num", N, "event number, incrementing within this session", _attr("num")),
    _f("evt.time", S, "event timestamp, local time HH:MM:SS.nanoseconds",
       lambda e: format_time(e.ts_ns)),
    _f("evt.outputtime", S, "the time printed by the default output (same as evt.time)",
       lambda e: format_time(e.ts_ns)),
    _f("evt.datetime", S, "event timestamp with the date, YYYY-MM-DD HH:MM:SS.nanoseconds",
       lambda e: format_datetime(e.ts_ns)),
    _f("evt.rawtime", N, "event timestamp, nanoseconds since the Unix epoch", _attr("ts_ns")),
    _f("evt.type", S, "event name: the syscall (open, write …) or execve/clone/procexit",
       _attr("type")),
    _f("evt.dir", S, "event direction: '<' completed syscall, '>' enter-only", _attr("dir")),
    _f("evt.cpu", N, "number of the CPU the event happened on", _attr("cpu")),
    _f("evt.res", S, "result as a string: SUCCESS, or the errno name (ENOENT …) on failure",
       _evt_res),
    _f("evt.rawres", N, "result as a number (negative errno on failure)",
       _syscall_only(_attr("res"))),
    _f("evt.failed", B, "true for syscalls that returned an error", _attr("failed")),
    _f("evt.latency", N, "time between syscall enter and exit, nanoseconds", _attr("latency_ns")),
    _f("evt.args", S, "all arguments as 'name=value name=value'",
       lambda e: render_args(e, with_res=False)),
    _f("evt.info", S, "the arguments then res=… (what the default output shows)",
       lambda e: render_args(e, with_res=True)),
    _f("proc.name", S, "process name: the kernel's comm (at most 15 characters)", _attr("comm")),
    _f("proc.pid", N, "process id (thread group id)", _attr("pid")),
    _f("proc.ppid", N, "parent process id", _proc_attr("ppid")),
    _f("proc.cmdline", S, "full command line: proc.name and proc.args", _proc_attr("cmdline")),
    _f("proc.exe", S, "executable of the process (path or argv[0])",
       _proc_attr("exe", empty_is_none=True)),
    _f("proc.args", S, "command line arguments, space-separated (argv[1:])", _proc_args),
    _f("thread.tid", N, "thread id", _attr("tid")),
    _f("thread.vtid", N, "thread id as seen in its pid namespace (host: tid; containers: <NA>)",
       _thread_vtid),
    _f("user.uid", N, "user id", _attr("uid")),
    _f("user.name", S, "user name (host's passwd; the uid when it has no name)",
       lambda e: user_name(e.uid)),
    _f("container.id", S, "container id, 12 characters as docker shows it; 'host' on the host",
       lambda e: e.container.short_id),
    _f("container.full_id", S, "full container id (64 hex characters for most runtimes)",
       lambda e: e.container.id),
    _f("container.name", S, "container name; 'host' on the host", lambda e: e.container.name),
    _f("container.image", S, "container image", _container_attr("image")),
    _f("container.type", S, "runtime: host, docker, podman, containerd, cri-o, lxc, systemd …",
       lambda e: e.container.runtime),
    _f("k8s.pod.name", S, "Kubernetes pod name", _container_attr("pod_name")),
    _f("k8s.ns.name", S, "Kubernetes namespace name", _container_attr("pod_namespace")),
    _f("fd.num", N, "file descriptor number", _fd_num),
    _f("fd.type", S, "fd type: file, directory, ipv4, ipv6, unix, pipe, event, signalfd, "
       "eventpoll, inotify, timerfd, memfd, netlink, other", _fd_attr("type")),
    _f("fd.name", S, "fd name: path, 'cip:cport->sip:sport', pipe:[inode] …", _fd_attr("name")),
    _f("fd.directory", S, "directory of a file fd (the fd itself for a directory)",
       _fd_directory),
    _f("fd.filename", S, "file name of a file fd, without its directory", _fd_filename),
    # Socket ends with sysdig's meaning: c = client, s = server, l = local, r = remote.
    _f("fd.cip", IP, "client IP address of a socket", _fd_attr("cip", True)),
    _f("fd.cport", P, "client port of a socket", _fd_attr("cport", True)),
    _f("fd.sip", IP, "server IP address of a socket", _fd_attr("sip", True)),
    _f("fd.sport", P, "server port of a socket", _fd_attr("sport", True)),
    _f("fd.lip", IP, "local IP address of a socket", _fd_attr("lip", True)),
    _f("fd.lport", P, "local port of a socket", _fd_attr("lport", True)),
    _f("fd.rip", IP, "remote IP address of a socket", _fd_attr("rip", True)),
    _f("fd.rport", P, "remote port of a socket", _fd_attr("rport", True)),
    _f("fd.l4proto", S, "layer-4 protocol of a socket: tcp, udp, raw",
       _fd_attr("l4proto", True)),
    _f("fs.path.name", S, "path argument of a path syscall, else the file of its fd",
       _fs_path_name),
)

FIELDS: dict[str, Field] = {f.name: f for f in _TABLE}

ARG_PREFIX = "evt.arg."
ARG_FIELD_HELP = Field(
    "evt.arg.NAME",
    FieldType.DYNAMIC,
    "one decoded argument by name, e.g. evt.arg.fd, evt.arg.path, evt.arg.flags",
    lambda e: None,
    lambda e: None,
)

_CLASSES = (
    ("evt", "Event fields: what happened, when, with what result."),
    ("proc", "Process fields: the process that made the event."),
    ("thread", "Thread fields."),
    ("user", "User fields."),
    ("container", "Container fields (the host is the container 'host')."),
    ("k8s", "Kubernetes fields, from the container runtime's pod labels."),
    ("fd", "File descriptor fields: the file or socket the event used."),
    ("fs", "File system fields."),
)


@functools.lru_cache(maxsize=1024)
def _arg_field(arg: str) -> Field:
    def get(e: Event) -> Any:
        return e.args.get(arg)

    return Field(ARG_PREFIX + arg, FieldType.DYNAMIC, f"argument {arg!r}", get, _generic_text(get))


def resolve(name: str) -> Field:
    """The field called ``name`` (``evt.arg.X`` included).

    Raises :class:`UnknownFieldError` with the closest known name as a suggestion.
    """
    field = FIELDS.get(name)
    if field is not None:
        return field
    if name.startswith(ARG_PREFIX):
        arg = name[len(ARG_PREFIX):]
        if arg and arg.isidentifier():
            return _arg_field(arg)
    raise UnknownFieldError(name, suggest(name))


def suggest(name: str) -> str | None:
    """The known field name closest to ``name``, or None when nothing is close."""
    close = difflib.get_close_matches(name, [*FIELDS, ARG_FIELD_HELP.name], n=1, cutoff=0.6)
    return close[0] if close else None


def list_fields() -> Iterator[FieldClass]:
    """The fields grouped by class, in sysdig ``-l`` order (for ``cdig trace -l``)."""
    for cls, description in _CLASSES:
        fields = [f for f in _TABLE if f.field_class == cls]
        if cls == "evt":
            fields.append(ARG_FIELD_HELP)
        yield FieldClass(cls, description, tuple(fields))


def format_field_list() -> str:
    """The text ``cdig trace -l`` prints: each class, then ``name  (type)  description``."""
    width = max(len(f.name) for f in [*_TABLE, ARG_FIELD_HELP]) + 2
    lines: list[str] = []
    for cls in list_fields():
        lines += ["-" * 22, f"Field Class: {cls.name}", cls.description, ""]
        for f in cls.fields:
            lines.append(f"{f.name:<{width}}({f.type.value}) {f.description}")
        lines.append("")
    return "\n".join(lines)
