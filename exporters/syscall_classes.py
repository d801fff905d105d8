"""Syscall classes: the default grouping of the exporter's latency histograms.

A histogram per (container, syscall) is ~16 series; at 100 containers x 50
syscalls that is 18 MB per scrape (README, exporter section). Per (container,
class) it is at most 5 histograms per container, whatever the syscalls, and
per syscall only for an allow-list. The classes are chosen so that one class
does not mix calls whose durations mean different things: ``wait`` holds
the calls that block *by design* (poll, futex, sleeps, wait4...), whose
seconds would otherwise drown the latency of file or network work. Memory
calls (mmap, brk...) are in ``other``: a sixth class made the 100 x 50
scrape 2.3 MB with the default buckets, over the 2 MB budget.

The kernel keeps its histograms per syscall either way; the classes are
summed at scrape time, so changing them needs no new probe.
"""

from __future__ import annotations

CLASSES = ("file", "net", "process", "wait", "other")

_NET = frozenset("""
socket connect accept accept4 sendto recvfrom sendmsg recvmsg sendmmsg recvmmsg shutdown
bind listen getsockname getpeername socketpair setsockopt getsockopt
""".split())

_MEMORY = frozenset("""
mmap mprotect munmap brk mremap msync mincore madvise mlock munlock mlockall munlockall
mlock2 mbind set_mempolicy get_mempolicy set_mempolicy_home_node migrate_pages
move_pages remap_file_pages pkey_mprotect pkey_alloc pkey_free process_madvise
memfd_secret process_mrelease membarrier userfaultfd shmget shmat shmdt shmctl
""".split())

_PROCESS = frozenset("""
clone clone3 fork vfork execve execveat exit exit_group kill tkill tgkill
rt_sigaction rt_sigprocmask rt_sigreturn rt_sigpending rt_sigqueueinfo
rt_tgsigqueueinfo sigaltstack pidfd_open pidfd_send_signal pidfd_getfd
getpid getppid gettid getuid geteuid getgid getegid setuid setgid setreuid setregid
setresuid getresuid setresgid getresgid setfsuid setfsgid getgroups setgroups
setpgid getpgid getpgrp setsid getsid capget capset prctl arch_prctl personality
set_tid_address set_robust_list get_robust_list rseq seccomp unshare setns
getpriority setpriority sched_setparam sched_getparam sched_setscheduler
sched_getscheduler sched_get_priority_max sched_get_priority_min
sched_rr_get_interval sched_setaffinity sched_getaffinity sched_setattr
sched_getattr getrlimit setrlimit prlimit64 getrusage times ptrace
process_vm_readv process_vm_writev kcmp restart_syscall
""".split())

_WAIT = frozenset("""
poll ppoll select pselect6 epoll_wait epoll_pwait epoll_pwait2 epoll_wait_old
futex futex_waitv nanosleep clock_nanosleep pause rt_sigsuspend rt_sigtimedwait
wait4 waitid sched_yield io_getevents io_pgetevents semop semtimedop msgrcv
mq_timedreceive
""".split())

_FILE = frozenset("""
read write open openat openat2 creat close close_range pread64 pwrite64 readv writev
preadv pwritev preadv2 pwritev2 lseek stat fstat lstat newfstatat statx statfs
fstatfs access faccessat faccessat2 ioctl fcntl flock fsync fdatasync sync syncfs
sync_file_range truncate ftruncate fallocate fadvise64 readahead getdents
getdents64 getcwd chdir fchdir rename renameat renameat2 mkdir mkdirat rmdir link
linkat unlink unlinkat symlink symlinkat readlink readlinkat chmod fchmod fchmodat
chown fchown lchown fchownat umask utime utimes utimensat futimesat mknod mknodat
dup dup2 dup3 pipe pipe2 sendfile splice tee vmsplice copy_file_range
setxattr lsetxattr fsetxattr getxattr lgetxattr fgetxattr listxattr llistxattr
flistxattr removexattr lremovexattr fremovexattr inotify_init inotify_init1
inotify_add_watch inotify_rm_watch fanotify_init fanotify_mark eventfd eventfd2
signalfd signalfd4 timerfd_create timerfd_settime timerfd_gettime epoll_create
epoll_create1 epoll_ctl epoll_ctl_old memfd_create name_to_handle_at
open_by_handle_at io_setup io_destroy io_submit io_cancel io_uring_setup
io_uring_enter io_uring_register mount umount2 pivot_root chroot open_tree
move_mount fsopen fsconfig fsmount fspick mount_setattr
""".split())

_BY_NAME: dict[str, str] = {}
for _cls, _names in (("net", _NET), ("other", _MEMORY), ("process", _PROCESS),
                     ("wait", _WAIT), ("file", _FILE)):
    for _n in _names:
        _BY_NAME.setdefault(_n, _cls)


def syscall_class(name: str) -> str:
    """The class of a syscall name (``other`` for any name not listed)."""
    return _BY_NAME.get(name, "other")
