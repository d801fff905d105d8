"""What cdig knows about each syscall: names, argument names and kinds.

One table feeds the BPF side (which argument holds a path or a socket address
to copy at exit, which syscalls keep the fd/process tables current) and the
decoder (how to show each argument). Syscalls not listed are still traced and
named; their first three raw arguments are shown as numbers.

Argument kinds:
  fd     a file descriptor (annotated with what it refers to)
  dirfd  a directory fd for *at() calls (AT_FDCWD shown as such)
  int/uint/hex/oct  plain numbers
  path   a user string copied by the probe (at most two per syscall)
  addr   a struct sockaddr the probe copies; its length is the next argument
  addrp  the same, but the next argument points to the length (accept, recvfrom)
  oflags open(2) flags; signal; cflags (clone flags)
  argv   execve's argv, copied at enter
  -      not shown (buffers, structs)
"""

from __future__ import annotations

import platform
from dataclasses import dataclass
from functools import cache

from .syscall_numbers import AARCH64, X86_64

_SPECS: dict[str, str] = {
    "read": "fd:fd buf:- size:uint",
    "write": "fd:fd buf:- size:uint",
    "pread64": "fd:fd buf:- size:uint pos:int",
    "pwrite64": "fd:fd buf:- size:uint pos:int",
    "readv": "fd:fd iov:- iovcnt:int",
    "writev": "fd:fd iov:- iovcnt:int",
    "preadv": "fd:fd iov:- iovcnt:int",
    "pwritev": "fd:fd iov:- iovcnt:int",
    "open": "path:path flags:oflags mode:oct",
    "openat": "dirfd:dirfd path:path flags:oflags mode:oct",
    "openat2": "dirfd:dirfd path:path how:- size:uint",
    "creat": "path:path mode:oct",
    "close": "fd:fd",
    "close_range": "fd:int max_fd:uint flags:hex",
    "dup": "fd:fd",
    "dup2": "oldfd:fd newfd:int",
    "dup3": "oldfd:fd newfd:int flags:hex",
    "fcntl": "fd:fd cmd:int arg:hex",
    "stat": "path:path buf:-",
    "lstat": "path:path buf:-",
    "fstat": "fd:fd buf:-",
    "newfstatat": "dirfd:dirfd path:path buf:- flags:hex",
    "statx": "dirfd:dirfd path:path flags:hex mask:hex buf:-",
    "access": "path:path mode:oct",
    "faccessat": "dirfd:dirfd path:path mode:oct",
    "faccessat2": "dirfd:dirfd path:path mode:oct flags:hex",
    "unlink": "path:path",
    "unlinkat": "dirfd:dirfd path:path flags:hex",
    "rename": "oldpath:path newpath:path",
    "renameat": "olddirfd:dirfd oldpath:path newdirfd:dirfd newpath:path",
    "renameat2": "olddirfd:dirfd oldpath:path newdirfd:dirfd newpath:path flags:hex",
    "link": "oldpath:path newpath:path",
    "linkat": "olddirfd:dirfd oldpath:path newdirfd:dirfd newpath:path flags:hex",
    "symlink": "target:path linkpath:path",
    "symlinkat": "target:path newdirfd:dirfd linkpath:path",
    "readlink": "path:path buf:- size:uint",
    "readlinkat": "dirfd:dirfd path:path buf:- size:uint",
    "mkdir": "path:path mode:oct",
    "mkdirat": "dirfd:dirfd path:path mode:oct",
    "rmdir": "path:path",
    "chdir": "path:path",
    "fchdir": "fd:fd",
    "chroot": "path:path",
    "chmod": "path:path mode:oct",
    "fchmod": "fd:fd mode:oct",
    "fchmodat": "dirfd:dirfd path:path mode:oct",
    "chown": "path:path uid:int gid:int",
    "lchown": "path:path uid:int gid:int",
    "fchownat": "dirfd:dirfd path:path uid:int gid:int flags:hex",
    "truncate": "path:path length:int",
    "ftruncate": "fd:fd length:int",
    "mknod": "path:path mode:oct dev:hex",
    "mknodat": "dirfd:dirfd path:path mode:oct dev:hex",
    "utimensat": "dirfd:dirfd path:path times:- flags:hex",
    "mount": "source:path target:path fstype:- flags:hex data:-",
    "umount2": "target:path flags:hex",
    "inotify_add_watch": "fd:fd path:path mask:hex",
    "lseek": "fd:fd offset:int whence:int",
    "fsync": "fd:fd",
    "fdatasync": "fd:fd",
    "getdents64": "fd:fd dirp:- count:uint",
    "sendfile": "out_fd:fd in_fd:fd offset:- count:uint",
    "splice": "fd_in:fd off_in:- fd_out:fd off_out:- len:uint flags:hex",
    "pipe": "pipefd:-",
    "pipe2": "pipefd:- flags:hex",
    "socket": "domain:int type:int protocol:int",
    "socketpair": "domain:int type:int protocol:int sv:-",
    "connect": "fd:fd addr:addr addrlen:uint",
    "bind": "fd:fd addr:addr addrlen:uint",
    "listen": "fd:fd backlog:int",
    "accept": "fd:fd addr:addrp addrlen:-",
    "accept4": "fd:fd addr:addrp addrlen:- flags:hex",
    "sendto": "fd:fd buf:- size:uint flags:hex addr:addr addrlen:uint",
    "recvfrom": "fd:fd buf:- size:uint flags:hex addr:addrp addrlen:-",
    "sendmsg": "fd:fd addr:addr flags:hex",  # addr: msg_name of the msghdr (argument 1)
    "recvmsg": "fd:fd addr:addr flags:hex",  # addr: msg_name, filled in by the kernel
    "sendmmsg": "fd:fd msgvec:- vlen:uint flags:hex",
    "recvmmsg": "fd:fd msgvec:- vlen:uint flags:hex",
    "shutdown": "fd:fd how:int",
    "getsockopt": "fd:fd level:int optname:int",
    "setsockopt": "fd:fd level:int optname:int",
    "epoll_create1": "flags:hex",
    "epoll_ctl": "epfd:fd op:int fd:int",
    "epoll_wait": "epfd:fd events:- maxevents:int timeout:int",
    "epoll_pwait": "epfd:fd events:- maxevents:int timeout:int",
    "eventfd2": "initval:uint flags:hex",
    "timerfd_create": "clockid:int flags:hex",
    "signalfd4": "fd:int mask:- size:uint flags:hex",
    "memfd_create": "name:path flags:hex",
    "inotify_init1": "flags:hex",
    "ioctl": "fd:fd request:hex arg:hex",
    "mmap": "addr:hex length:uint prot:hex flags:hex fd:fd offset:hex",
    "munmap": "addr:hex length:uint",
    "mprotect": "addr:hex length:uint prot:hex",
    "brk": "addr:hex",
    "execve": "filename:path argv:argv envp:-",
    "execveat": "dirfd:dirfd filename:path argv:argv envp:- flags:hex",
    "clone": "flags:cflags stack:hex parent_tid:- child_tid:- tls:-",
    "clone3": "args:- size:uint",
    "fork": "",
    "vfork": "",
    "exit": "status:int",
    "exit_group": "status:int",
    "wait4": "pid:int status:- options:hex",
    "kill": "pid:int sig:signal",
    "tkill": "tid:int sig:signal",
    "tgkill": "tgid:int tid:int sig:signal",
    "setuid": "uid:int",
    "setgid": "gid:int",
    "setresuid": "ruid:int euid:int suid:int",
    "setresgid": "rgid:int egid:int sgid:int",
    "setns": "fd:fd nstype:hex",
    "unshare": "flags:cflags",
    "ptrace": "request:int pid:int",
    "bpf": "cmd:int attr:- size:uint",
    "nanosleep": "req:- rem:-",
    "clock_nanosleep": "clockid:int flags:hex req:- rem:-",
    "futex": "uaddr:hex op:int val:int",
    "poll": "fds:- nfds:uint timeout:int",
    "ppoll": "fds:- nfds:uint tsp:- sigmask:-",
    "select": "nfds:int",
    "pselect6": "nfds:int",
    "getpid": "",
    "getppid": "",
    "gettid": "",
}

# Syscalls whose outcome changes the fd table or the process table: they pass
# every kernel-side filter (syscall set, failed-only) because userspace needs
# them to name fds and processes correctly for the events the user did ask for.
STATE_SYSCALLS = frozenset(
    """open openat openat2 creat close close_range dup dup2 dup3 fcntl socket socketpair
    connect bind accept accept4 pipe pipe2 eventfd2 timerfd_create signalfd4 memfd_create
    inotify_init1 epoll_create1 execve execveat clone clone3 fork vfork exit exit_group
    chdir fchdir""".split()
)

# Syscalls that emit an enter record as well (they may never return).
ENTER_SYSCALLS = frozenset({"execve", "execveat", "exit", "exit_group"})

NO_ARG = 0xFF

# I/O calls whose buffer (argument 1) the probe copies, by how it is reached:
# "buf" a plain buffer, "iov" a struct iovec array (its first iovec), "msg" a
# struct msghdr (the first iovec of msg_iov). sysdig's data parameter.
IO_BUFFERS: dict[str, str] = {
    "read": "buf", "write": "buf", "pread64": "buf", "pwrite64": "buf",
    "sendto": "buf", "recvfrom": "buf",
    "readv": "iov", "writev": "iov", "preadv": "iov", "pwritev": "iov",
    "preadv2": "iov", "pwritev2": "iov",
    "sendmsg": "msg", "recvmsg": "msg",
}


@dataclass(frozen=True, slots=True)
class ArgSpec:
    """One argument: its position, name and kind (see the module docstring)."""

    index: int
    name: str
    kind: str


@dataclass(frozen=True, slots=True)
class SyscallSpec:
    """A syscall's number, name and the arguments cdig decodes."""

    nr: int
    name: str
    args: tuple[ArgSpec, ...]
    state: bool
    enter: bool
    path_args: tuple[int, ...]  # argument indexes copied into str1/str2
    addr_arg: int  # index of a sockaddr, or NO_ARG
    addr_len_ptr: bool  # the length argument is a pointer (accept, recvfrom)
    io: str = ""  # how the probe reaches its I/O buffer (IO_BUFFERS), "" none

    @property
    def argv_arg(self) -> int:
        for a in self.args:
            if a.kind == "argv":
                return a.index
        return NO_ARG


@cache
def _parse_args(text: str | None) -> tuple[tuple[ArgSpec, ...], tuple[int, ...], int, bool]:
    """A spec's arguments, the indexes of its paths, its sockaddr's (or NO_ARG) and
    whether that one's length is a pointer: once per text (x86_64's 362 syscalls have
    93; the table is made at every start)."""
    if text is None:  # unknown to the table: show three raw arguments
        args = tuple(ArgSpec(i, f"arg{i}", "hex") for i in range(3))
    else:
        args = tuple(
            ArgSpec(i, n, k)
            for i, (n, k) in enumerate(tok.split(":") for tok in text.split())
            if k != "-"
        )
    paths = tuple(a.index for a in args if a.kind == "path")
    addr = next((a for a in args if a.kind in ("addr", "addrp")), None)
    return args, paths, addr.index if addr else NO_ARG, bool(addr and addr.kind == "addrp")


def _parse(nr: int, name: str, text: str | None) -> SyscallSpec:
    args, paths, addr_arg, addr_len_ptr = _parse_args(text)
    return SyscallSpec(
        nr=nr,
        name=name,
        args=args,
        state=name in STATE_SYSCALLS,
        enter=name in ENTER_SYSCALLS,
        path_args=paths,
        addr_arg=addr_arg,
        addr_len_ptr=addr_len_ptr,
        io=IO_BUFFERS.get(name, ""),
    )


class SyscallTable:
    """Syscall numbers, names and specs of one architecture."""

    def __init__(self, numbers: dict[int, str], arch: str) -> None:
        self.arch = arch
        self.by_nr: dict[int, SyscallSpec] = {
            nr: _parse(nr, name, _SPECS.get(name)) for nr, name in numbers.items()
        }
        self.by_name: dict[str, SyscallSpec] = {s.name: s for s in self.by_nr.values()}
        self.max_nr = max(numbers) + 1

    def name(self, nr: int) -> str:
        spec = self.by_nr.get(nr)
        return spec.name if spec else f"syscall_{nr}"

    def nr(self, name: str) -> int | None:
        spec = self.by_name.get(name)
        return spec.nr if spec else None


_ARCHES = {"x86_64": X86_64, "aarch64": AARCH64, "arm64": AARCH64}


@cache
def table(arch: str | None = None) -> SyscallTable:
    """The syscall table of ``arch`` (default: this machine's)."""
    arch = arch or platform.machine()
    try:
        numbers = _ARCHES[arch]
    except KeyError:
        raise ValueError(f"unsupported architecture {arch!r} (x86_64 and aarch64 are)") from None
    return SyscallTable(numbers, "aarch64" if arch == "arm64" else arch)
