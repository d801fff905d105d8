"""The user and group classes: who the event ran as (the host's passwd/group
databases, as sysdig reads them; container users are looked up there too)."""

from __future__ import annotations

import functools
import grp
import operator
import pwd

from ..events import Event
from .base import Field, N, S, make_field, user_name
from .proc import inherited_info

_attr = operator.attrgetter
UNSET_LOGINUID = 4294967295  # the kernel's "no audit uid" ((uid_t)-1)


@functools.lru_cache(maxsize=4096)
def _passwd(uid: int) -> pwd.struct_passwd | None:
    try:
        return pwd.getpwuid(uid)
    except (KeyError, OverflowError, ValueError):
        return None


@functools.lru_cache(maxsize=4096)
def group_name(gid: int) -> str | None:
    """The host's name for a gid; None when it has none."""
    try:
        return grp.getgrgid(gid).gr_name
    except (KeyError, OverflowError, ValueError):
        return None


def _homedir(e: Event) -> str | None:
    pw = _passwd(e.uid)
    return None if pw is None else pw.pw_dir


def _shell(e: Event) -> str | None:
    pw = _passwd(e.uid)
    return None if pw is None else pw.pw_shell


def loginuid(e: Event) -> int | None:
    """The audit uid (/proc/PID/loginuid), -1 when unset (sysdig's INT32)."""
    v = inherited_info(e.proc, "loginuid")
    if v is None:
        return None
    return -1 if v == UNSET_LOGINUID else v


def _loginname(e: Event) -> str | None:
    v = loginuid(e)
    if v is None or v < 0:
        return None
    pw = _passwd(v)
    return None if pw is None else pw.pw_name


_f = make_field

FIELDS: tuple[Field, ...] = (
    _f("user.uid", N, "user id", _attr("uid")),
    _f("user.name", S, "user name (host's passwd; the uid when it has no name)",
       lambda e: user_name(e.uid)),
    _f("user.homedir", S, "home directory of the user (host's passwd)", _homedir),
    _f("user.shell", S, "login shell of the user (host's passwd)", _shell),
    _f("user.loginuid", N, "audit user id (/proc/PID/loginuid); -1 when unset", loginuid),
    _f("user.loginname", S, "name of the audit user id (host's passwd)", _loginname),
    _f("group.gid", N, "group id", _attr("gid")),
    _f("group.name", S, "group name (host's group database)", lambda e: group_name(e.gid)),
)
