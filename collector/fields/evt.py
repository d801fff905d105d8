"""The evt class (and syscall.type): what happened, when, with what result.

Categories, I/O directions and the "waits" flag follow what ``sysdig -r`` prints
for the same syscalls (checked on the sample captures in tests/fixtures/scap).
"""

from __future__ import annotations

import operator
import posixpath
import time
from collections.abc import Callable
from typing import Any

from ...probes.io_calls import IO_READS, IO_WRITES
from ..errnos import errno_name
from ..events import Event, EventKind
from .base import (
    AT_FDCWD,
    B,
    Field,
    FieldType,
    N,
    PerOutput,
    S,
    format_datetime,
    format_time,
    make_field,
    render_args,
)
from .buffer import render as render_buffer

_attr = operator.attrgetter
_SYSCALL_KINDS = (EventKind.SYSCALL, EventKind.SYSCALL_ENTER)

# sysdig's I/O calls (evt.is_io, evt.io_dir): the byte-count ones and the mmsg ones
READS, WRITES = IO_READS, IO_WRITES
# sysdig's EF_WAITS: the calls whose latency is time spent waiting (evt.is_wait)
WAITS = frozenset({"select", "poll", "epoll_wait", "nanosleep"})
OPENS = frozenset({"open", "openat", "openat2"})

_CATEGORY_NAMES: dict[str, str] = {
    "file": "open openat openat2 creat close close_range dup dup2 dup3 fcntl stat lstat fstat "
            "newfstatat statx access faccessat faccessat2 unlink unlinkat rename renameat "
            "renameat2 link linkat symlink symlinkat readlink readlinkat mkdir mkdirat rmdir "
            "chmod fchmod fchmodat chown fchown lchown fchownat lseek ioctl flock fsync "
            "fdatasync truncate ftruncate getdents getdents64 statfs fstatfs chdir fchdir "
            "getcwd utime utimes utimensat futimesat mknod mknodat setxattr lsetxattr "
            "fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr flistxattr "
            "removexattr lremovexattr fremovexattr fallocate sync syncfs sync_file_range "
            "readahead fadvise64 copy_file_range splice tee vmsplice mount umount2 chroot "
            "pivot_root name_to_handle_at open_by_handle_at memfd_create fanotify_init "
            "fanotify_mark umask",
    "net": "socket bind connect listen accept accept4 getsockname getpeername setsockopt "
           "getsockopt shutdown",
    "IPC": "futex futex_waitv pipe pipe2 socketpair inotify_init inotify_init1 "
           "inotify_add_watch inotify_rm_watch eventfd eventfd2 msgget msgsnd msgrcv msgctl "
           "semget semop semtimedop semctl shmget shmat shmdt shmctl mq_open mq_unlink "
           "mq_timedsend mq_timedreceive mq_notify mq_getsetattr epoll_create epoll_create1 "
           "epoll_ctl",
    "memory": "brk mmap munmap mprotect madvise mremap mlock mlock2 munlock mlockall munlockall "
              "msync mincore mbind get_mempolicy set_mempolicy migrate_pages move_pages "
              "remap_file_pages pkey_mprotect pkey_alloc pkey_free process_madvise "
              "memfd_secret userfaultfd",
    "process": "clone clone3 fork vfork execve execveat exit exit_group getpid getppid gettid "
               "arch_prctl set_tid_address set_robust_list get_robust_list getrlimit setrlimit "
               "prlimit64 getrusage setpgid getpgid getpgrp setsid getsid prctl setns unshare "
               "ptrace capget capset seccomp personality getpriority setpriority "
               "sched_setaffinity sched_getaffinity sched_setparam sched_getparam "
               "sched_setscheduler sched_getscheduler sched_setattr sched_getattr "
               "sched_get_priority_max sched_get_priority_min sched_rr_get_interval "
               "set_thread_area get_thread_area pidfd_open pidfd_getfd kcmp rseq "
               "process_vm_readv process_vm_writev ioprio_get ioprio_set",
    "user": "getuid geteuid getgid getegid setuid setgid setreuid setregid setresuid setresgid "
            "getresuid getresgid setgroups getgroups setfsuid setfsgid",
    "signal": "kill tkill tgkill rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending "
              "rt_sigsuspend rt_sigtimedwait rt_sigqueueinfo rt_tgsigqueueinfo sigaltstack "
              "signalfd signalfd4 pidfd_send_signal",
    "time": "alarm clock_gettime clock_settime clock_getres clock_adjtime gettimeofday "
            "settimeofday time times adjtimex timerfd_create timerfd_settime timerfd_gettime "
            "timer_create timer_settime timer_gettime timer_getoverrun timer_delete setitimer "
            "getitimer",
    "wait": "select pselect6 poll ppoll epoll_wait epoll_pwait epoll_pwait2 pause wait4 waitid",
    "sleep": "nanosleep clock_nanosleep",
    "system": "uname sysinfo reboot syslog init_module finit_module delete_module bpf "
              "perf_event_open sethostname setdomainname swapon swapoff quotactl kexec_load "
              "kexec_file_load acct ioperm iopl getcpu getrandom",
}
CATEGORIES: dict[str, str] = {name: cat for cat, names in _CATEGORY_NAMES.items()
                              for name in names.split()}
_SCHED_CATEGORY = "process"  # procexec / procfork / procexit
_IO_FD_CATEGORY = {"file": "file", "directory": "file", "memfd": "file", "ipv4": "net",
                   "ipv6": "net", "netlink": "net", "unix": "IPC", "pipe": "IPC"}


def category(e: Event) -> str:
    """sysdig's evt.category: I/O calls take the category of their fd (file, net, IPC,
    unknown); other syscalls have a fixed one; syscalls sysdig has no name for: other."""
    if e.kind not in _SYSCALL_KINDS:
        return _SCHED_CATEGORY
    t = e.type
    if t in READS or t in WRITES:
        fd = e.fd
        return "unknown" if fd is None else _IO_FD_CATEGORY.get(fd.type, "unknown")
    return CATEGORIES.get(t, "other")


def human_ns(ns: int) -> str:
    """A duration as sysdig's evt.latency.human prints it: 951ns, 1.05us, 29us, 1.09s
    (two decimals below ten units, none above; truncated, not rounded)."""
    for unit, div in (("s", 1_000_000_000), ("ms", 1_000_000), ("us", 1_000)):
        if ns >= div:
            if ns < 10 * div:
                cents = ns * 100 // div
                return f"{cents // 100}.{cents % 100:02d}{unit}"
            return f"{ns // div}{unit}"
    return f"{ns}ns"


def _iso8601(ts_ns: int) -> str:
    sec, ns = divmod(ts_ns, 1_000_000_000)
    return time.strftime("%Y-%m-%dT%H:%M:%S", time.gmtime(sec)) + f".{ns:09d}+0000"


def _is_io(which: frozenset[str] | None) -> Callable[[Event], bool]:
    names = READS | WRITES if which is None else which

    def get(e: Event) -> bool:
        return e.kind in _SYSCALL_KINDS and e.type in names

    return get


def _io_dir(e: Event) -> str | None:
    if e.kind not in _SYSCALL_KINDS:
        return None
    if e.type in READS:
        return "read"
    return "write" if e.type in WRITES else None


def _is_wait(e: Event) -> bool:
    return e.kind in _SYSCALL_KINDS and e.type in WAITS


def _wait_latency(e: Event) -> int | None:
    return e.latency_ns if _is_wait(e) else None


def _is_syslog(e: Event) -> bool:
    fd = e.fd
    return (e.kind in _SYSCALL_KINDS and e.type in WRITES and fd is not None
            and fd.type == "unix" and fd.name == "/dev/log")


def _open_flags(e: Event) -> str | None:
    if e.kind not in _SYSCALL_KINDS or e.type not in OPENS:
        return None
    flags = e.args.get("flags")
    return flags if isinstance(flags, str) else None


def _is_open_read(e: Event) -> bool:
    f = _open_flags(e)
    return f is not None and ("O_RDONLY" in f or "O_RDWR" in f)


def _is_open_write(e: Event) -> bool:
    f = _open_flags(e)
    return f is not None and ("O_WRONLY" in f or "O_RDWR" in f)


def _mode(v: Any) -> int:
    if isinstance(v, int):
        return v
    try:
        return int(str(v), 8)
    except ValueError:
        return 0


def _is_open_exec(e: Event) -> bool:
    """Created with an execute bit: open*(O_CREAT, mode & 0111) or creat(mode & 0111)."""
    if e.kind not in _SYSCALL_KINDS:
        return False
    if e.type == "creat":
        return bool(_mode(e.args.get("mode", 0)) & 0o111)
    f = _open_flags(e)
    return f is not None and "O_CREAT" in f and bool(_mode(e.args.get("mode", 0)) & 0o111)


def _syscall_type(e: Event) -> str | None:
    return e.type if e.kind in _SYSCALL_KINDS else None


def _res(e: Event) -> str | None:
    if e.kind != EventKind.SYSCALL:
        return None
    return errno_name(-e.res) if e.failed else "SUCCESS"


def _rawres(e: Event) -> int | None:
    return e.res if e.kind == EventKind.SYSCALL else None


def _count_error(cats: frozenset[str] | None, other: bool = False) -> Callable[[Event], Any]:
    def get(e: Event) -> int | None:
        if not e.failed:
            return None
        if cats is None:
            return 1
        c = category(e)
        return 1 if (c not in cats if other else c in cats) else None

    return get


def _count_exit(e: Event) -> int | None:
    return 1 if e.dir == "<" else None


# (dirfd argument, path argument) per *at syscall: the path evt.abspath resolves
_ABSPATH_ARGS = {
    "renameat": ("newdirfd", "newpath"), "renameat2": ("newdirfd", "newpath"),
    "linkat": ("newdirfd", "newpath"), "symlinkat": ("newdirfd", "linkpath"),
}


def _abspath(e: Event) -> str | None:
    """The absolute path of a *at call's path: dirfd AT_FDCWD joins the process's
    working directory; a relative path under another directory fd: <NA>."""
    args = e.args
    dirfd_arg, path_arg = _ABSPATH_ARGS.get(e.type, ("dirfd", "path"))
    if dirfd_arg not in args:
        return None
    path = args.get(path_arg)
    if not isinstance(path, str) or not path:
        return None
    if path.startswith("/"):
        return posixpath.normpath(path)
    if args.get(dirfd_arg) != AT_FDCWD or e.proc is None:
        return None
    from .proc import proc_cwd

    cwd = proc_cwd(e)
    return posixpath.normpath(posixpath.join(cwd, path)) if cwd else None


def _none(e: Event) -> None:
    return None


def _ns_text(get: Callable[[Event], Any]) -> Callable[[Event], str | None]:
    def text(e: Event) -> str | None:
        v = get(e)
        return None if v is None else f"{v:09d}"

    return text


# evt.deltatime*: values of the output (Field.per_output), made from its delta. A delta
# is negative where a capture's records are out of time order: split toward zero, so
# "%evt.deltatime.s.%evt.deltatime.ns" reads -2.826209957, not -3.173790043
_DELTA = PerOutput(lambda d: d, str)
_DELTA_S = PerOutput(lambda d: -(-d // 1_000_000_000) if d < 0 else d // 1_000_000_000,
                     lambda d: f"-{-d // 1_000_000_000}" if d < 0 else str(d // 1_000_000_000))
_DELTA_NS = PerOutput(lambda d: abs(d) % 1_000_000_000,
                      lambda d: f"{abs(d) % 1_000_000_000:09d}")


def _latency_s(e: Event) -> int:
    return e.latency_ns // 1_000_000_000


def _latency_ns(e: Event) -> int:
    return e.latency_ns % 1_000_000_000


def _reltime(e: Event) -> int:
    return max(0, e.ts_ns - e.t0_ns) if e.t0_ns else 0


def _reltime_ns(e: Event) -> int:
    return _reltime(e) % 1_000_000_000


def _rawtime_s(e: Event) -> int:
    return e.ts_ns // 1_000_000_000


def _rawtime_ns(e: Event) -> int:
    return e.ts_ns % 1_000_000_000


def _buffer(e: Event) -> str | None:
    b = e.buffer
    return None if b is None else b.decode("utf-8", "surrogateescape")  # bytes kept


def _buffer_text(e: Event) -> str | None:
    b = e.buffer
    return None if b is None else render_buffer(b)


def _buflen(e: Event) -> int | None:
    """libsinsp's: an I/O call's result, the bytes it transferred (its exit only)."""
    if e.kind != EventKind.SYSCALL or e.res < 0 or (e.type not in READS and
                                                    e.type not in WRITES):
        return None
    return e.res


_f = make_field

FIELDS: tuple[Field, ...] = (
    _f("evt.num", N, "event number, incrementing within this session", _attr("num")),
    _f("evt.time", S, "event timestamp, local time HH:MM:SS.nanoseconds",
       lambda e: format_time(e.ts_ns)),
    _f("evt.time.s", S, "event timestamp, local time HH:MM:SS (no nanoseconds)",
       lambda e: format_time(e.ts_ns)[:8]),
    _f("evt.time.iso8601", S, "event timestamp in ISO 8601, UTC, with nanoseconds and +0000",
       lambda e: _iso8601(e.ts_ns)),
    _f("evt.outputtime", S, "the time printed by the default output (same as evt.time)",
       lambda e: format_time(e.ts_ns)),
    _f("evt.datetime", S, "event timestamp with the date, YYYY-MM-DD HH:MM:SS.nanoseconds",
       lambda e: format_datetime(e.ts_ns)),
    _f("evt.datetime.s", S, "event timestamp with the date, YYYY-MM-DD HH:MM:SS",
       lambda e: format_datetime(e.ts_ns)[:19]),
    _f("evt.rawtime", N, "event timestamp, nanoseconds since the Unix epoch", _attr("ts_ns")),
    _f("evt.rawtime.s", N, "integer part of the event timestamp (seconds since the epoch)",
       _rawtime_s),
    _f("evt.rawtime.ns", N, "fractional part of the event timestamp, nanoseconds",
       _rawtime_ns, _ns_text(_rawtime_ns)),
    _f("evt.reltime", N, "nanoseconds from the first record of the trace or capture",
       _reltime),
    _f("evt.reltime.s", N, "integer part of evt.reltime, seconds",
       lambda e: _reltime(e) // 1_000_000_000),
    _f("evt.reltime.ns", N, "fractional part of evt.reltime, nanoseconds", _reltime_ns,
       _ns_text(_reltime_ns)),
    _f("evt.deltatime", N, "nanoseconds since the previous event shown (that passed the "
       "filter; 0 for the first); output only", _none, per_output=_DELTA),
    _f("evt.deltatime.s", N, "integer part of evt.deltatime, seconds", _none,
       per_output=_DELTA_S),
    _f("evt.deltatime.ns", N, "fractional part of evt.deltatime, nanoseconds", _none,
       per_output=_DELTA_NS),
    _f("evt.pluginname", S, "plugin that generated the event: always <NA> (cdig has no "
       "plugins)", _none),
    _f("evt.plugininfo", S, "the plugin's summary of the event: always <NA> (no plugins)",
       _none),
    _f("evt.latency", N, "time between syscall enter and exit, nanoseconds", _attr("latency_ns")),
    _f("evt.latency.s", N, "integer part of evt.latency, seconds", _latency_s),
    _f("evt.latency.ns", N, "fractional part of evt.latency, nanoseconds", _latency_ns,
       _ns_text(_latency_ns)),
    _f("evt.latency.human", S, "evt.latency as sysdig prints it for humans (1.05us, 29ms)",
       lambda e: human_ns(e.latency_ns)),
    _f("evt.type", S, "event name: the syscall (open, write …) or procexec/procfork/procexit",
       _attr("type")),
    _f("syscall.type", S, "the syscall's name; <NA> for non-syscall events (process "
       "exec/fork/exit)", _syscall_type),
    _f("evt.category", S, "event category: file, net, IPC, memory, process, signal, time, "
       "user, wait, sleep, system, other; I/O calls: the category of their fd", category),
    _f("evt.dir", S, "event direction: '<' completed syscall, '>' enter-only", _attr("dir")),
    _f("evt.cpu", N, "number of the CPU the event happened on", _attr("cpu")),
    _f("evt.res", S, "result as a string: SUCCESS, or the errno name (ENOENT …) on failure",
       _res),
    _f("evt.rawres", N, "result as a number (negative errno on failure)", _rawres),
    _f("evt.failed", B, "true for syscalls that returned an error", _attr("failed")),
    _f("evt.args", S, "all arguments as 'name=value name=value'",
       lambda e: render_args(e, with_res=False)),
    _f("evt.info", S, "the arguments then res=… (what the default output shows)",
       lambda e: render_args(e, with_res=True)),
    _f("evt.buffer", FieldType.BYTES, "the first bytes of the data buffer of an I/O call "
       "(read, write, recvfrom, writev …), at most the snaplen (-s, default 80); in filters "
       "'evt.buffer contains GET' or 'evt.buffer bcontains 474554' search it",
       _buffer, _buffer_text),
    _f("evt.buflen", N, "the length of the data buffer of an I/O call (read, write, "
       "sendfile …): the bytes it transferred", _buflen),
    _f("evt.is_io", B, "true for syscalls that read or write an fd (read, send, recvfrom …)",
       _is_io(None)),
    _f("evt.is_io_read", B, "true for syscalls that read from an fd (read, recv, recvfrom …)",
       _is_io(READS)),
    _f("evt.is_io_write", B, "true for syscalls that write to an fd (write, send …)",
       _is_io(WRITES)),
    _f("evt.io_dir", S, "'read' for syscalls that read from an fd, 'write' for those that "
       "write", _io_dir),
    _f("evt.is_wait", B, "true for syscalls that make the thread wait (select, poll, "
       "epoll_wait, nanosleep)", _is_wait),
    _f("evt.wait_latency", N, "for evt.is_wait syscalls, the time spent waiting, nanoseconds",
       _wait_latency),
    _f("evt.is_syslog", B, "true for writes to /dev/log", _is_syslog),
    _f("evt.count", N, "always 1 (to count events)", lambda e: 1),
    _f("evt.count.error", N, "1 for events that returned an error, else <NA>",
       _count_error(None)),
    _f("evt.count.error.file", N, "1 for failed file events (evt.category file)",
       _count_error(frozenset({"file"}))),
    _f("evt.count.error.net", N, "1 for failed network events (evt.category net)",
       _count_error(frozenset({"net"}))),
    _f("evt.count.error.memory", N, "1 for failed memory events (evt.category memory)",
       _count_error(frozenset({"memory"}))),
    _f("evt.count.error.other", N, "1 for failed events of any other category",
       _count_error(frozenset({"file", "net", "memory"}), other=True)),
    _f("evt.count.exit", N, "1 for exit events ('<'), else <NA>", _count_exit),
    _f("evt.abspath", S, "absolute path of a *at syscall's path (dirfd AT_FDCWD or an "
       "absolute path; renameat/linkat/symlinkat: the new path)", _abspath),
    _f("evt.is_open_read", B, "true for open/openat/openat2 with O_RDONLY or O_RDWR",
       _is_open_read),
    _f("evt.is_open_write", B, "true for open/openat/openat2 with O_WRONLY or O_RDWR",
       _is_open_write),
    _f("evt.is_open_exec", B, "true for open/openat/openat2 (O_CREAT) or creat of a file with "
       "an execute permission bit", _is_open_exec),
)

# --------------------------------------------------------------------------- parametric

ARG_PREFIX = "evt.arg."
RAWARG_PREFIX = "evt.rawarg."
TYPE_IS_PREFIX = "evt.type.is."
D = FieldType.DYNAMIC

ARG_FIELD_HELP = Field("evt.arg", D, "one decoded argument by name or number: evt.arg.fd, "
                       "evt.arg.path, evt.arg[0] (cdig's argument order, as evt.args)",
                       _none, _none)
RAWARG_FIELD_HELP = Field("evt.rawarg", D, "one argument by name, as decoded: evt.rawarg.fd "
                          "(numbers compare as numbers)", _none, _none)
AROUND_FIELD_HELP = Field("evt.around", N, "(filters only) evt.around[T]=D: events within D "
                          "milliseconds of T (an evt.rawtime)", _none, _none, any_of=True)
TYPE_IS_FIELD_HELP = Field("evt.type.is", N, "1 for events of the type named after it "
                           "(evt.type.is.open), else 0", _none, _none)
HELP: tuple[Field, ...] = (TYPE_IS_FIELD_HELP, ARG_FIELD_HELP, RAWARG_FIELD_HELP,
                           AROUND_FIELD_HELP)


def arg_field(name: str, arg: str) -> Field:
    def get(e: Event) -> Any:
        return e.args.get(arg)

    return make_field(name, D, f"argument {arg!r}", get)


def arg_index_field(name: str, index: int) -> Field:
    def get(e: Event) -> Any:
        args = e.args
        if index >= len(args):
            return None
        return list(args.values())[index]

    return make_field(name, D, f"argument number {index}", get)


def type_is_field(name: str, typ: str) -> Field:
    def get(e: Event) -> int:
        return 1 if e.type == typ else 0

    return make_field(name, N, f"1 for {typ} events, else 0", get)


class _Within(int):
    """The milliseconds between an event and evt.around's T, rounded up: it "equals"
    every D it is within (``evt.around[T]=D``), as sysdig's filter-only field reads."""

    __slots__ = ()

    def __eq__(self, other: object) -> bool:
        return isinstance(other, int) and int(self) <= other

    def __ne__(self, other: object) -> bool:
        return not self.__eq__(other)

    __hash__ = int.__hash__


def around_field(name: str, t_ns: int) -> Field:
    def get(e: Event) -> tuple[int, ...]:
        return (_Within(-(-abs(e.ts_ns - t_ns) // 1_000_000)),)

    return make_field(name, N, f"within D ms of {t_ns}", get, any_of=True)
