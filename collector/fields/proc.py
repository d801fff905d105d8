"""The proc and thread classes: the process (and thread) that made the event.

The kernel record carries pid, tid, uid, gid and comm; State adds the command line,
exe, parent and working directory. The rest (session, tty, pid-namespace ids,
environment, login uid, thread count, memory, limits, cgroups) is what /proc said
at the process's first sighting (``Process.info``, a ``procfs.ProcInfo``); a
process first seen at its fork has none and takes what it inherits (session, tty,
login uid, environment, cgroups, fd limit) from its nearest ancestor that has it.
Those values are as of the first sighting, not updated afterwards.
"""

from __future__ import annotations

import operator
from collections.abc import Callable, Iterator
from typing import Any

from ..events import Event, Process
from .base import B, D, Field, N, S, make_field

_attr = operator.attrgetter
MAX_DEPTH = 64  # ancestors walked at most (a cycle in bad data ends here)
# sysdig's list of shells (proc.loginshellid)
SHELLS = frozenset({"sh", "bash", "csh", "tcsh", "ksh", "zsh", "dash", "ash", "fish"})


def ancestors(p: Process | None) -> Iterator[Process]:
    """``p``, its parent, its grandparent … as far as known."""
    seen = 0
    while p is not None and seen < MAX_DEPTH:
        yield p
        seen += 1
        p = p.parent


def ancestor(p: Process | None, n: int) -> Process | None:
    """The n-th ancestor (0: ``p`` itself), None if not known."""
    for i, a in enumerate(ancestors(p)):
        if i == n:
            return a
    return None


def own_info(p: Process | None, attr: str) -> Any:
    """What /proc said about ``p`` itself (not inherited)."""
    info = None if p is None else p.info
    return None if info is None else getattr(info, attr)


def inherited_info(p: Process | None, attr: str) -> Any:
    """``p``'s own /proc value, else its nearest ancestor's (inherited at fork)."""
    for a in ancestors(p):
        info = a.info
        if info is not None:
            v = getattr(info, attr)
            if v is not None:
                return v
            return None  # /proc read, the field absent: do not guess from the parent
    return None


def _in_host_pidns(e: Event, p: Process | None) -> bool:
    """Whether the process is in the host's pid namespace: its own vpid, else the
    nearest ancestor's, equals the pid; with no vpid known, whether its container is
    the host."""
    for a in ancestors(p):
        vpid: int | None = own_info(a, "vpid")
        if vpid is not None:
            return vpid == a.pid
    return e.container.is_host


def vpid(e: Event) -> int | None:
    p = e.proc
    v: int | None = own_info(p, "vpid")
    if v is not None:
        return v
    if _in_host_pidns(e, p.parent if p is not None else None):
        return e.pid  # in the host's namespace: the same number
    return None


def _vtid(e: Event) -> int | None:
    if e.tid == e.pid:
        return vpid(e)
    return e.tid if _in_host_pidns(e, e.proc) else None


def proc_cwd(e: Event) -> str | None:
    p = e.proc
    if p is None:
        return None
    return p.cwd or inherited_info(p, "cwd")


def _proc(get: Callable[[Process], Any]) -> Callable[[Event], Any]:
    def f(e: Event) -> Any:
        p = e.proc
        return None if p is None else get(p)

    return f


def _own(attr: str) -> Callable[[Event], Any]:
    return lambda e: own_info(e.proc, attr)


def _inherited(attr: str) -> Callable[[Event], Any]:
    return lambda e: inherited_info(e.proc, attr)


def _pname(e: Event) -> str | None:
    a = ancestor(e.proc, 1)
    return None if a is None else a.name


def _pcmdline(e: Event) -> str | None:
    a = ancestor(e.proc, 1)
    return None if a is None else a.cmdline


def _loginshellid(e: Event) -> int | None:
    shell = None
    for a in ancestors(e.proc):
        if a.name in SHELLS:
            shell = a.pid  # keep walking: the oldest one counts
    return shell


def _sname(e: Event) -> str | None:
    """The session leader's name: the process whose pid is the session id, else the
    eldest ancestor in the same session."""
    sid = inherited_info(e.proc, "sid")
    if sid is None:
        return None
    eldest = None
    for a in ancestors(e.proc):
        if a.pid == sid:
            return a.name
        a_sid = inherited_info(a, "sid")
        if a_sid != sid:
            break
        eldest = a
    return None if eldest is None else eldest.name


def _duration(e: Event) -> int | None:
    p = e.proc
    if p is None or not p.start_ns:
        return None
    return max(0, e.ts_ns - p.start_ns)


def _exepath(p: Process) -> str | None:
    if p.exe.startswith("/"):
        return p.exe
    exe = own_info(p, "exe")
    return exe or None


def _env(e: Event) -> str | None:
    env = inherited_info(e.proc, "env")
    return None if env is None else " ".join(env)


def _nchilds(e: Event) -> int | None:
    n = own_info(e.proc, "nthreads")
    return None if n is None else n - 1


def _main_thread_only(attr: str, other: int | None = 0) -> Callable[[Event], Any]:
    def get(e: Event) -> Any:
        v = own_info(e.proc, attr)
        if v is None:
            return None
        return v if e.tid == e.pid else other

    return get


def _fdusage(e: Event) -> float | None:
    n: int | None = own_info(e.proc, "nfds")
    limit: int | None = inherited_info(e.proc, "fdlimit")
    if n is None or not limit or limit < 0:
        return None
    return n / limit


def _tty(e: Event) -> int | None:
    tty: int | None = inherited_info(e.proc, "tty")
    return tty


_f = make_field

FIELDS: tuple[Field, ...] = (
    _f("proc.pid", N, "process id (thread group id)", _attr("pid")),
    _f("proc.exe", S, "executable of the process (path or argv[0])",
       _proc(lambda p: p.exe or None)),
    _f("proc.name", S, "process name: the kernel's comm (at most 15 characters)", _attr("comm")),
    _f("proc.args", S, "command line arguments, space-separated (argv[1:])",
       _proc(lambda p: " ".join(p.args))),
    _f("proc.env", S, "environment of the process, space-separated (/proc at its first "
       "sighting, or its ancestor's; the first 4 KB)", _env),
    _f("proc.cmdline", S, "full command line: proc.name and proc.args", _proc(_attr("cmdline"))),
    _f("proc.exeline", S, "full command line with the exe first: proc.exe and proc.args",
       _proc(lambda p: " ".join([p.exe, *p.args]) if p.exe else None)),
    _f("proc.cwd", S, "working directory of the process (kept across chdir/fchdir)", proc_cwd),
    _f("proc.nthreads", N, "threads of the process, main thread included (/proc, at its first "
       "sighting)", _own("nthreads")),
    _f("proc.nchilds", N, "threads of the process, main thread excluded (/proc, at its first "
       "sighting)", _nchilds),
    _f("proc.ppid", N, "parent process id", _proc(_attr("ppid"))),
    _f("proc.pname", S, "name of the parent process", _pname),
    _f("proc.pcmdline", S, "command line of the parent process", _pcmdline),
    _f("proc.loginshellid", N, "pid of the oldest shell among the process and its ancestors",
       _loginshellid),
    _f("proc.duration", N, "nanoseconds since the process started", _duration),
    _f("proc.fdlimit", N, "the most fds the process can open (RLIMIT_NOFILE, /proc)",
       _inherited("fdlimit")),
    _f("proc.fdopencount", N, "open fds of the process (/proc, at its first sighting)",
       _own("nfds")),
    _f("proc.fdusage", D, "proc.fdopencount / proc.fdlimit", _fdusage),
    _f("proc.is_exe_writable", B, "true if the executable is writable by the process's user "
       "(/proc, at its first sighting)", _own("exe_writable")),
    _f("proc.vmsize", N, "virtual memory of the process, kB (/proc, at its first sighting)",
       _own("vmsize")),
    _f("proc.vmrss", N, "resident memory of the process, kB (/proc, at its first sighting)",
       _own("vmrss")),
    _f("proc.vmswap", N, "swapped memory of the process, kB (/proc, at its first sighting)",
       _own("vmswap")),
    _f("proc.vpid", N, "process id as seen in its own pid namespace (/proc NSpid)", vpid),
    _f("proc.sid", N, "session id of the process (/proc)", _inherited("sid")),
    _f("proc.sname", S, "name of the session leader (the process with pid proc.sid, else the "
       "eldest ancestor in the session)", _sname),
    _f("proc.tty", N, "controlling terminal (tty_nr of /proc/PID/stat); 0 for none", _tty),
    _f("proc.exepath", S, "full path of the executable", _proc(_exepath)),
    _f("proc.vpgid", N, "process group id as seen in its own pid namespace (/proc NSpgid)",
       _inherited("vpgid")),
    _f("thread.tid", N, "thread id", _attr("tid")),
    _f("thread.ismain", B, "true for the main thread of the process (tid = pid)",
       lambda e: e.tid == e.pid),
    _f("thread.vtid", N, "thread id as seen in its own pid namespace", _vtid),
    _f("thread.cgroups", S, "all cgroups of the thread, 'subsystem=path' space-separated "
       "(/proc)", _inherited("cgroups")),
    _f("thread.pfmajor", N, "main thread: major page faults of the process (/proc, at its "
       "first sighting); other threads: <NA>", _main_thread_only("pfmajor", None)),
    _f("thread.pfminor", N, "main thread: minor page faults of the process (/proc, at its "
       "first sighting); other threads: <NA>", _main_thread_only("pfminor", None)),
    _f("thread.vmsize", N, "main thread: proc.vmsize; other threads: 0",
       _main_thread_only("vmsize")),
    _f("thread.vmrss", N, "main thread: proc.vmrss; other threads: 0",
       _main_thread_only("vmrss")),
)

# --------------------------------------------------------------------------- parametric

APID_HELP = Field("proc.apid", N, "pid of an ancestor: proc.apid[1] the parent, [2] the "
                  "grandparent …, [0] the process; without [N] (filters only) matches any "
                  "ancestor", lambda e: None, lambda e: None)
ANAME_HELP = Field("proc.aname", S, "name of an ancestor: proc.aname[1] the parent … "
                   "[0] the process; without [N] (filters only) matches any ancestor",
                   lambda e: None, lambda e: None)
CGROUP_HELP = Field("thread.cgroup", S, "the thread's cgroup of one subsystem: "
                    "thread.cgroup.cpuacct, thread.cgroup.unified …", lambda e: None,
                    lambda e: None)
HELP: tuple[Field, ...] = (APID_HELP, ANAME_HELP, CGROUP_HELP)


def ancestor_field(name: str, what: str, n: int | None) -> Field:
    """proc.apid[N] / proc.aname[N]; without N a filter-only field over the ancestors."""
    get_one: Callable[[Process], Any] = _attr("pid") if what == "apid" else _attr("name")
    ftype = N if what == "apid" else S
    if n is None:
        def any_of(e: Event) -> tuple[Any, ...]:
            return tuple(get_one(a) for a in list(ancestors(e.proc))[1:])

        return make_field(name, ftype, f"{what} of any ancestor", any_of, any_of=True)

    def get(e: Event) -> Any:
        a = ancestor(e.proc, n)
        return None if a is None else get_one(a)

    return make_field(name, ftype, f"{what} of ancestor {n}", get)


def cgroup_field(name: str, subsys: str) -> Field:
    prefix = subsys + "="

    def get(e: Event) -> str | None:
        cg: str | None = inherited_info(e.proc, "cgroups")
        if cg is None:
            return None
        for item in cg.split(" "):
            if item.startswith(prefix):
                return item[len(prefix):]
        return None

    return make_field(name, S, f"cgroup of subsystem {subsys}", get)
