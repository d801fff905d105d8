"""The one field table: every field usable in filters, ``-p`` formats, ``-j`` JSON,
``cdig trace -l``, the TUI and capture columns, and the parametric ones
(``evt.arg.NAME``, ``evt.arg[N]``, ``proc.aname[N]``, ``k8s.pod.label.NAME`` …).

Names and meanings follow sysdig 0.29.3's (``sysdig -l``; the shared names are
checked against it by tests/integration/test_fields_sysdig.py).
"""

from __future__ import annotations

import dataclasses
import functools
import re
import textwrap
from collections.abc import Iterator

from . import container, evt, fd, k8s, proc, user
from .base import Field, FieldClass, UnknownFieldError

# (class, sysdig-style title, description, fields, help entries of parametric fields)
_CLASSES: tuple[tuple[str, str, tuple[Field, ...], tuple[Field, ...]], ...] = (
    ("evt", "Event fields: what happened, when, with what result. Arguments by name or "
     "number: evt.arg.fd, evt.arg[0].", evt.FIELDS, evt.HELP),
    ("process", "Process and thread fields: the process that made the event.",
     tuple(f for f in proc.FIELDS + container.FIELDS if f.name.startswith("proc.")), ()),
    ("thread", "Thread fields.", tuple(f for f in proc.FIELDS if f.name.startswith("thread.")),
     (proc.CGROUP_HELP,)),
    ("user", "User and group fields (the host's passwd and group databases).",
     user.FIELDS, ()),
    ("container", "Container fields (the host is the container 'host'), from the runtime.",
     tuple(f for f in container.FIELDS if f.name.startswith("container.")), container.HELP),
    ("fd", "File descriptor fields: the file or socket the event used.", fd.FIELDS, ()),
    ("fs", "File system fields.", fd.FS_FIELDS, ()),
    ("k8s", "Kubernetes fields, from the container runtime's pod labels.", k8s.FIELDS,
     k8s.HELP),
)

# proc.aname / proc.apid without [N]: filter-only, any ancestor
_ANY_ANCESTOR = tuple(
    dataclasses.replace(proc.ancestor_field(h.name, h.name[5:], None), description=h.description)
    for h in (proc.APID_HELP, proc.ANAME_HELP))

_TABLE: tuple[Field, ...] = tuple(f for _, _, fs, _ in _CLASSES for f in fs) + _ANY_ANCESTOR
FIELDS: dict[str, Field] = {f.name: f for f in _TABLE}
# parametric families, listed but not resolvable by the bare name
HELP_FIELDS: tuple[Field, ...] = tuple(h for _, _, _, hs in _CLASSES for h in hs)

ARG_PREFIX = evt.ARG_PREFIX
ARG_FIELD_HELP = evt.ARG_FIELD_HELP

_INDEXED = re.compile(r"([a-z0-9_.]+)\[([^\[\]]*)\]\Z")
_PREFIXES = (evt.ARG_PREFIX, evt.RAWARG_PREFIX, evt.TYPE_IS_PREFIX, k8s.LABEL_PREFIX,
             "thread.cgroup.")


def base_name(name: str) -> str:
    """The family of a parametric field (``proc.aname[2]`` → ``proc.aname``,
    ``evt.arg.fd`` → ``evt.arg``); other names unchanged. For collector.vector."""
    m = _INDEXED.match(name)
    if m:
        return m.group(1)
    for prefix in _PREFIXES:
        if name.startswith(prefix):
            return prefix[:-1]
    return name


@functools.lru_cache(maxsize=1024)
def _parametric(name: str) -> Field | None:
    m = _INDEXED.match(name)
    if m:
        base, arg = m.groups()
        if base in ("proc.aname", "proc.apid") and arg.isdigit() and arg.isascii():
            return proc.ancestor_field(name, base[5:], int(arg))
        if base == "evt.arg" and arg.isdigit() and arg.isascii():
            return evt.arg_index_field(name, int(arg))
        if base == "evt.around" and arg.isdigit() and arg.isascii():
            return evt.around_field(name, int(arg))
        if base == "k8s.pod.label" and arg:
            return k8s.label_field(name, arg)
        return container.mount_field(name, base, arg)
    for prefix, make in ((evt.ARG_PREFIX, evt.arg_field), (evt.RAWARG_PREFIX, evt.arg_field),
                         (evt.TYPE_IS_PREFIX, evt.type_is_field)):
        if name.startswith(prefix):
            rest = name[len(prefix):]
            return make(name, rest) if rest and rest.isidentifier() else None
    if name.startswith(k8s.LABEL_PREFIX) and len(name) > len(k8s.LABEL_PREFIX):
        return k8s.label_field(name, name[len(k8s.LABEL_PREFIX):])
    if name.startswith("thread.cgroup.") and len(name) > len("thread.cgroup."):
        return proc.cgroup_field(name, name[len("thread.cgroup."):])
    return None


def resolve(name: str) -> Field:
    """The field called ``name`` (parametric ones included).

    Raises :class:`UnknownFieldError` with the closest known name as a suggestion.
    """
    field = FIELDS.get(name)
    if field is not None:
        return field
    field = _parametric(name)
    if field is not None:
        return field
    raise UnknownFieldError(name, suggest(name))


def suggest(name: str) -> str | None:
    """The known field name closest to ``name``, or None when nothing is close."""
    import difflib  # here: only an unknown name asks (~0.5 ms of every start)

    names = [*FIELDS, *(h.name + ".NAME" if h.name != "proc.apid" else h.name
                        for h in HELP_FIELDS)]
    close = difflib.get_close_matches(name, names, n=1, cutoff=0.6)
    return close[0] if close else None


def list_fields() -> Iterator[FieldClass]:
    """The fields grouped by class, in sysdig ``-l`` order (for ``cdig trace -l``);
    parametric families appear once by their bare name (``evt.arg``)."""
    for cls, description, fields, helps in _CLASSES:
        listed = list(fields)
        if cls == "process":
            listed += _ANY_ANCESTOR
        yield FieldClass(cls, description, tuple(listed + list(helps)))


def shared_names() -> list[str]:
    """Every name ``cdig trace -l`` lists (what is compared with ``sysdig -l``)."""
    return [f.name for c in list_fields() for f in c.fields]


_NAME_WIDTH = 30  # sysdig's column


def format_field_list(verbose: bool = False) -> str:
    """What ``cdig trace -l`` prints, in sysdig's layout (``-lv``: with each type)."""
    lines: list[str] = []
    indent = " " * _NAME_WIDTH
    for cls in list_fields():
        about = textwrap.wrap(cls.description, 120 - _NAME_WIDTH)
        lines += ["-" * 31, f"{'Field Class:':<{_NAME_WIDTH}}{cls.name}",
                  f"{'Description:':<{_NAME_WIDTH}}{about[0]}", *(indent + a for a in about[1:]),
                  ""]
        for f in cls.fields:
            desc = f"(Type: {f.type.value}) {f.description}" if verbose else f.description
            head = f"{f.name:<{_NAME_WIDTH - 1}} "
            wrapped = textwrap.wrap(desc, 120 - _NAME_WIDTH) or [""]
            lines.append(head + wrapped[0])
            lines += [indent + w for w in wrapped[1:]]
        lines.append("")
    return "\n".join(lines)


def format_field_markdown() -> str:
    """What ``cdig trace --list-markdown`` prints: sysdig's Markdown tables."""
    out: list[str] = []
    for cls in list_fields():
        out += [f"## Field Class: {cls.name}", "", cls.description, "",
                "Name | Type | Description", ":----|:-----|:-----------"]
        for f in cls.fields:
            desc = f.description.replace("|", "\\|")
            out.append(f"`{f.name}` | {f.type.value} | {desc}")
        out.append("")
    return "\n".join(out)
