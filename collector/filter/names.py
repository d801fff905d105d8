"""The event types and argument names a filter may compare against.

``evt.type = NAME`` and ``evt.arg.NAME`` are checked when the filter is parsed, so a
typo is a positioned error instead of a filter that silently matches nothing (as
sysdig rejects them). Known are cdig's own names — the syscalls of both syscall
tables (cdig names events after the kernel's syscalls), the sched events and the
argument names its decoder gives — and sysdig's: the event names and parameter
names of the event table of the sysdig installed here (``collector.scap.eventtable``,
generated from ``sysdig -L`` and its libscap) plus the syscall names its generic
events carry. A sysdig name that differs from cdig's (``pread`` for pread64,
``stat64`` for stat …, ``collector.scap.events.NAME_ALIAS``) is an alias: the parser
stores cdig's name, so every evaluation path (per event, columns, kernel) sees it.
sysdig's argument names of an event (``name`` of open, ``filename`` of chmod) are
read from cdig's argument of that event (``path``), see :func:`arg_alias`.
"""

from __future__ import annotations

import functools

# the sched records' event types (collector.decode) and the arguments they carry
_SCHED_TYPES = ("procexec", "procfork", "procexit")
_EXTRA_ARGS = ("local", "filename", "old_pid", "child_tid", "parent_tid", "argv")


@functools.cache
def _types() -> tuple[frozenset[str], dict[str, str]]:
    """(event types, sysdig name -> cdig name): all ``evt.type = NAME`` asks. Apart from
    the arguments' tables (:func:`_args`): those parse both syscall tables (~2 ms of the
    start of every filter naming an event type)."""
    from ...probes.syscall_numbers import AARCH64, X86_64
    from ..scap.events import NAME_ALIAS
    from ..scap.eventtable import EVENTS, PPM_SC

    cdig_types = set(X86_64.values()) | set(AARCH64.values()) | set(_SCHED_TYPES)
    sysdig_types = {e[0] for e in EVENTS} | {n for n in PPM_SC.values() if n.isidentifier()}
    alias = {s: c for s, c in NAME_ALIAS.items() if s != c and c in cdig_types}
    return frozenset(cdig_types | sysdig_types), alias


@functools.cache
def _args() -> tuple[frozenset[str], dict[tuple[str, str], str]]:
    """(argument names, (type, sysdig arg) -> cdig arg): what ``evt.arg.NAME`` asks."""
    from ...probes.syscall_table import table
    from ..scap.events import PARAM_ALIAS, SCAP_NAME
    from ..scap.eventtable import EVENTS

    cdig_args: dict[str, set[str]] = {}
    for arch in ("x86_64", "aarch64"):
        for spec in table(arch).by_nr.values():
            cdig_args.setdefault(spec.name, set()).update(a.name for a in spec.args)
    sysdig_params: dict[str, set[str]] = {}
    for name, _flags, params in EVENTS:
        sysdig_params.setdefault(name, set()).update(p.split(":")[0] for p in params.split())
    args = set(_EXTRA_ARGS)
    for names in (*cdig_args.values(), *sysdig_params.values()):
        args.update(n for n in names if n.isidentifier())

    # sysdig's parameter -> the cdig arguments it may be (PARAM_ALIAS: cdig -> sysdig)
    maybe: dict[str, list[str]] = {}
    for cdig_name, scap_names in PARAM_ALIAS.items():
        for s in scap_names:
            maybe.setdefault(s, []).append(cdig_name)
    arg_alias: dict[tuple[str, str], str] = {}
    for typ, have in cdig_args.items():
        for param in sysdig_params.get(SCAP_NAME.get(typ, typ), ()):
            if param in have:
                continue
            found = [c for c in maybe.get(param, ()) if c in have]
            if found:
                arg_alias[typ, param] = found[0]
    return frozenset(args), arg_alias


def event_type(name: str) -> str | None:
    """cdig's name for event type ``name`` (itself, or what a sysdig alias means);
    None if neither cdig nor sysdig knows it."""
    types, alias = _types()
    if name in alias:
        return alias[name]
    return name if name in types else None


def arg_known(name: str) -> bool:
    """Whether some event of cdig or of sysdig has an argument called ``name``."""
    return name in _args()[0]


def arg_alias(event_type: str, name: str) -> str | None:
    """cdig's argument of ``event_type`` that sysdig calls ``name`` (open's ``name`` is
    cdig's ``path``), when cdig's event has no argument of that name itself."""
    return _args()[1].get((event_type, name))


def suggest_type(name: str) -> str | None:
    types, alias = _types()
    return _closest(name, types | set(alias))


def suggest_arg(name: str) -> str | None:
    return _closest(name, _args()[0])


def _closest(name: str, known: frozenset[str] | set[str]) -> str | None:
    import difflib  # here: only an unknown name asks (~0.5 ms of every start)

    close = difflib.get_close_matches(name.lower(), sorted(known), n=1, cutoff=0.6)
    return close[0] if close else None
